//! LoRA: a frozen weight `W` [out, in] plus a trained low-rank update,
//! `y = x·Wᵀ + (alpha / rank) · (x·Aᵀ)·Bᵀ` with `A` [rank, in] and `B` [out, rank], exactly as
//! llama.cpp's `build_lora_mm` applies an adapter (`scale = alpha / rank`, rank read from B).
//! `B` starts at zero, so a fresh adapter leaves the model unchanged; `A` starts small and
//! random (Kaiming-uniform, as PEFT does).

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use super::frozen::Frozen;

/// A linear layer of a Gemma 3 block that an adapter can train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl Target {
    pub const ALL: [Target; 7] = [
        Target::Q,
        Target::K,
        Target::V,
        Target::O,
        Target::Gate,
        Target::Up,
        Target::Down,
    ];

    /// The attention's projections (`attention`).
    pub const ATTENTION: [Target; 4] = [Target::Q, Target::K, Target::V, Target::O];

    /// The feed-forward block's projections (`mlp`), the default: on the tickets example
    /// they learn what every layer does (99% against 97% held out, no detectable difference)
    /// at 54 adapted matrices instead of 126, so llama.cpp samples faster with them
    /// (`cargo bench --bench adapter`; README, "Specialists").
    pub const MLP: [Target; 3] = [Target::Gate, Target::Up, Target::Down];

    /// The name on the command line and in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Q => "q",
            Target::K => "k",
            Target::V => "v",
            Target::O => "o",
            Target::Gate => "gate",
            Target::Up => "up",
            Target::Down => "down",
        }
    }

    /// The tensor's name in the GGUF (llama.cpp's), without `blk.N.` and `.weight`.
    pub fn gguf_name(self) -> &'static str {
        match self {
            Target::Q => "attn_q",
            Target::K => "attn_k",
            Target::V => "attn_v",
            Target::O => "attn_output",
            Target::Gate => "ffn_gate",
            Target::Up => "ffn_up",
            Target::Down => "ffn_down",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--targets` list that names no layer an adapter can train.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    #[error("unknown target module {0:?} (q, k, v, o, gate, up, down, attention, mlp or all)")]
    Unknown(String),
    #[error("no target module given")]
    Empty,
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.trim_end_matches("_proj");
        Target::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.gguf_name() == s)
            .ok_or_else(|| TargetError::Unknown(s.to_string()))
    }
}

/// Parses "q,v", "all" or "attention" / "mlp" into a sorted list without repeats.
pub fn parse_targets(s: &str) -> std::result::Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "all" => out.extend(Target::ALL),
            "attention" | "attn" => out.extend(Target::ATTENTION),
            "mlp" | "ffn" => out.extend(Target::MLP),
            one => out.push(one.parse()?),
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(TargetError::Empty);
    }
    Ok(out)
}

/// The trained pair of one layer.
#[derive(Debug, Clone)]
pub struct Pair {
    pub a: Var,
    pub b: Var,
}

impl Pair {
    /// A fresh pair: `A` Kaiming-uniform (bound 1/sqrt(in)), `B` zero.
    pub fn new(
        rank: usize,
        d_in: usize,
        d_out: usize,
        dtype: DType,
        rng: &mut StdRng,
    ) -> Result<Pair> {
        let bound = 1.0 / (d_in as f32).sqrt();
        let a: Vec<f32> = (0..rank * d_in)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        let a = Tensor::from_vec(a, (rank, d_in), &Device::Cpu)?.to_dtype(dtype)?;
        let b = Tensor::zeros((d_out, rank), dtype, &Device::Cpu)?;
        Ok(Pair {
            a: Var::from_tensor(&a)?,
            b: Var::from_tensor(&b)?,
        })
    }
}

/// A frozen linear layer with an optional trained update.
#[derive(Debug, Clone)]
pub struct Linear {
    pub base: Frozen,
    pub lora: Option<Pair>,
    pub scale: f64,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.base.forward(x)?;
        match &self.lora {
            None => Ok(y),
            // Scaled at rank width ([tokens, rank]), not at the output's: one full-size
            // tensor less per layer kept for the backward pass.
            Some(p) => {
                y + (x.matmul(&p.a.as_tensor().t()?)? * self.scale)?
                    .matmul(&p.b.as_tensor().t()?)?
            }
        }
    }
}

/// A seeded generator for a layer's initial `A`.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_by_short_name_group_or_gguf_name() {
        assert_eq!(parse_targets("v, q").unwrap(), vec![Target::Q, Target::V]);
        assert_eq!(parse_targets("all").unwrap(), Target::ALL.to_vec());
        assert_eq!(
            parse_targets("attention,ffn_down").unwrap(),
            vec![Target::Q, Target::K, Target::V, Target::O, Target::Down]
        );
        assert_eq!(parse_targets("q_proj").unwrap(), vec![Target::Q]);
        assert_eq!(
            parse_targets("qq").unwrap_err().to_string(),
            "unknown target module \"qq\" (q, k, v, o, gate, up, down, attention, mlp or all)"
        );
        assert_eq!(parse_targets(" , ").unwrap_err(), TargetError::Empty);
    }

    #[test]
    fn a_fresh_pair_changes_nothing() -> Result<()> {
        let w = Tensor::randn(0f32, 1.0, (6, 4), &Device::Cpu)?;
        let plain = Linear {
            base: Frozen::new(w.clone())?,
            lora: None,
            scale: 2.0,
        };
        let adapted = Linear {
            lora: Some(Pair::new(2, 4, 6, DType::F32, &mut rng(1))?),
            ..plain.clone()
        };
        let x = Tensor::randn(0f32, 1.0, (3, 4), &Device::Cpu)?;
        let d = (plain.forward(&x)? - adapted.forward(&x)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert_eq!(d, 0.0);
        Ok(())
    }
}
