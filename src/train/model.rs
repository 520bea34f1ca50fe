//! Gemma 3 as llama.cpp computes it (`models/gemma3.cpp`), in candle, with LoRA on chosen
//! linear layers: embeddings scaled by √hidden; per block RMSNorm, Q/K/V, RMSNorm of each
//! query and key head, NEOX RoPE (base 10 000 on sliding-window layers, the global base on
//! every sixth), queries scaled by 1/√head_dim, causal attention (a window on sliding
//! layers), post-attention norm and residual, then a GELU(tanh)-gated MLP with its own pre
//! and post norms; a final norm and the tied embedding as the vocabulary projection.
//!
//! Several sequences are packed into one row of tokens (positions restart, attention stays
//! inside each sequence: `attention`), and the vocabulary projection runs only where the loss
//! needs it.

use candle_core::{D, DType, Device, Result, Tensor, Var};

use super::attention::Blocks;
use super::frozen::Frozen;
use super::lora::{Linear, Pair, Target, rng};
use super::weights::Config;

/// What an adapter trains: rank, alpha, the layers, and the seed of `A`'s start.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterShape {
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<Target>,
    pub seed: u64,
}

#[derive(Clone)]
struct Block {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: Tensor,
    k_norm: Tensor,
    post_attn_norm: Tensor,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
    post_ffn_norm: Tensor,
}

#[derive(Clone)]
pub struct Model {
    pub config: Config,
    embed: Tensor,
    head: Frozen,
    blocks: Vec<Block>,
    final_norm: Tensor,
}

/// Sequences packed into one row: token ids, each token's position in its own sequence and
/// which sequence it belongs to, and the positions whose next token the loss scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    pub tokens: Vec<u32>,
    pub positions: Vec<usize>,
    pub sequence: Vec<usize>,
    /// (index in `tokens`, the token that should follow it).
    pub scored: Vec<(usize, u32)>,
}

impl Packed {
    /// Appends a sequence whose tokens from `answer_start` on are scored.
    pub fn push(&mut self, tokens: &[u32], answer_start: usize) {
        let offset = self.tokens.len();
        let id = self.sequence.last().map_or(0, |s| s + 1);
        for (i, &t) in tokens.iter().enumerate() {
            self.tokens.push(t);
            self.positions.push(i);
            self.sequence.push(id);
            if i + 1 >= answer_start.max(1) && i + 1 < tokens.len() {
                self.scored.push((offset + i, tokens[i + 1]));
            }
        }
    }
}

impl Model {
    /// Builds the model from named tensors (llama.cpp's names, f32, row-major), with fresh
    /// LoRA pairs on `adapter`'s targets.
    pub fn build(
        config: Config,
        mut weight: impl FnMut(&str) -> std::result::Result<Tensor, super::TrainError>,
        adapter: Option<&AdapterShape>,
    ) -> std::result::Result<Model, super::TrainError> {
        let embed = weight("token_embd.weight")?;
        let mut config = config;
        config.vocab = embed.dim(0)?;
        let mut init = rng(adapter.map_or(0, |a| a.seed));
        let mut blocks = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let mut w = |name: &str| weight(&format!("blk.{i}.{name}.weight"));
            let mut linear = |t: Target| -> std::result::Result<Linear, super::TrainError> {
                let w = w(t.gguf_name())?;
                let (d_out, d_in) = w.dims2()?;
                let lora = match adapter {
                    Some(a) if a.targets.contains(&t) => {
                        Some(Pair::new(a.rank, d_in, d_out, w.dtype(), &mut init)?)
                    }
                    _ => None,
                };
                Ok(Linear {
                    base: Frozen::new(w)?,
                    lora,
                    scale: adapter.map_or(1.0, |a| a.alpha / a.rank as f64),
                })
            };
            let (q, k, v, o) = (
                linear(Target::Q)?,
                linear(Target::K)?,
                linear(Target::V)?,
                linear(Target::O)?,
            );
            let (gate, up, down) = (
                linear(Target::Gate)?,
                linear(Target::Up)?,
                linear(Target::Down)?,
            );
            blocks.push(Block {
                attn_norm: w("attn_norm")?,
                q,
                k,
                v,
                o,
                q_norm: w("attn_q_norm")?,
                k_norm: w("attn_k_norm")?,
                post_attn_norm: w("post_attention_norm")?,
                ffn_norm: w("ffn_norm")?,
                gate,
                up,
                down,
                post_ffn_norm: w("post_ffw_norm")?,
            });
        }
        Ok(Model {
            head: Frozen::new(embed.clone())?,
            embed,
            blocks,
            final_norm: weight("output_norm.weight")?,
            config,
        })
    }

    /// Every trained pair with its GGUF tensor name (`blk.N.attn_q.weight`), in layer order.
    pub fn lora_pairs(&self) -> Vec<(String, &Pair)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            for (t, l) in [
                (Target::Q, &b.q),
                (Target::K, &b.k),
                (Target::V, &b.v),
                (Target::O, &b.o),
                (Target::Gate, &b.gate),
                (Target::Up, &b.up),
                (Target::Down, &b.down),
            ] {
                if let Some(p) = &l.lora {
                    out.push((format!("blk.{i}.{}.weight", t.gguf_name()), p));
                }
            }
        }
        out
    }

    /// The same model without its adapter (the weights are shared, not copied).
    pub fn base(&self) -> Model {
        let mut m = self.clone();
        for b in &mut m.blocks {
            for l in [
                &mut b.q,
                &mut b.k,
                &mut b.v,
                &mut b.o,
                &mut b.gate,
                &mut b.up,
                &mut b.down,
            ] {
                l.lora = None;
            }
        }
        m
    }

    /// The trained variables, for the optimiser.
    pub fn vars(&self) -> Vec<Var> {
        self.lora_pairs()
            .into_iter()
            .flat_map(|(_, p)| [p.a.clone(), p.b.clone()])
            .collect()
    }

    /// The final hidden state (before the last norm) of every packed token: [tokens, hidden].
    fn hidden(&self, batch: &Packed) -> Result<Tensor> {
        let cfg = &self.config;
        let n = batch.tokens.len();
        let ids = Tensor::from_slice(&batch.tokens, n, &Device::Cpu)?;
        let mut x = (self.embed.index_select(&ids, 0)? * (cfg.hidden as f64).sqrt())?;
        let dt = self.embed.dtype();
        let global = Rope::new(batch, cfg.head_dim, cfg.rope_base, cfg.rope_scale, dt)?;
        let local = Rope::new(batch, cfg.head_dim, cfg.rope_base_local, 1.0, dt)?;
        let blocks = Blocks::new(&batch.sequence, &batch.positions, cfg.sliding_window, dt)?;
        for (i, block) in self.blocks.iter().enumerate() {
            let sliding = cfg.is_sliding(i);
            let rope = if sliding { &local } else { &global };
            x = block.forward(&x, rope, &blocks, sliding, cfg)?;
        }
        Ok(x)
    }

    /// Logits at the given rows of the final hidden state: [rows, vocab].
    fn logits_at(&self, hidden: &Tensor, rows: &[u32]) -> Result<Tensor> {
        let rows = Tensor::from_slice(rows, rows.len(), &Device::Cpu)?;
        let h = rms_norm(
            &hidden.index_select(&rows, 0)?,
            &self.final_norm,
            self.config.rms_eps,
        )?;
        let logits = self.head.forward(&h)?;
        let cap = self.config.final_softcap;
        if cap > 0.0 {
            (logits / cap)?.tanh()? * cap
        } else {
            Ok(logits)
        }
    }

    /// Mean cross-entropy of the scored tokens (the answers), and how many there are.
    pub fn loss(&self, batch: &Packed) -> Result<(Tensor, usize)> {
        if batch.scored.is_empty() {
            candle_core::bail!("nothing to score in this batch");
        }
        let hidden = self.hidden(batch)?;
        let rows: Vec<u32> = batch.scored.iter().map(|&(i, _)| i as u32).collect();
        let next: Vec<u32> = batch.scored.iter().map(|&(_, t)| t).collect();
        let logp = candle_nn::ops::log_softmax(&self.logits_at(&hidden, &rows)?, D::Minus1)?;
        let next = Tensor::from_vec(next, (rows.len(), 1), &Device::Cpu)?;
        let picked = logp.gather(&next, 1)?;
        Ok((picked.mean_all()?.neg()?, rows.len()))
    }

    /// The logits after the last of `tokens` (one sequence): what llama.cpp samples from.
    pub fn last_logits(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let mut batch = Packed::default();
        batch.push(tokens, tokens.len());
        let hidden = self.hidden(&batch)?;
        let last = tokens.len().saturating_sub(1) as u32;
        self.logits_at(&hidden, &[last])?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1()
    }
}

impl Block {
    fn forward(
        &self,
        x: &Tensor,
        rope: &Rope,
        blocks: &Blocks,
        sliding: bool,
        cfg: &Config,
    ) -> Result<Tensor> {
        let n = x.dim(0)?;
        let (heads, kv, d) = (cfg.heads, cfg.kv_heads, cfg.head_dim);
        let h = rms_norm(x, &self.attn_norm, cfg.rms_eps)?;
        let q = rms_norm(
            &self.q.forward(&h)?.reshape((n, heads, d))?,
            &self.q_norm,
            cfg.rms_eps,
        )?;
        let k = rms_norm(
            &self.k.forward(&h)?.reshape((n, kv, d))?,
            &self.k_norm,
            cfg.rms_eps,
        )?;
        let v = self.v.forward(&h)?.reshape((n, kv, d))?;
        let q = (rope.apply(&q)? * (1.0 / (d as f64).sqrt()))?;
        let out = blocks.attend(&q, &rope.apply(&k)?, &v, sliding)?;
        let attn = self.o.forward(&out)?;
        let x = (x + rms_norm(&attn, &self.post_attn_norm, cfg.rms_eps)?)?;
        let h = rms_norm(&x, &self.ffn_norm, cfg.rms_eps)?;
        let f = self
            .down
            .forward(&(self.gate.forward(&h)?.gelu()? * self.up.forward(&h)?)?)?;
        x + rms_norm(&f, &self.post_ffn_norm, cfg.rms_eps)?
    }
}

/// RMSNorm over the last dimension with llama.cpp's stored weight (1.0 already added).
fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
    let scale = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&scale)?.broadcast_mul(w)
}

/// NEOX rotary embedding (the two halves of a head rotate together), per packed position.
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(batch: &Packed, head_dim: usize, base: f64, scale: f64, dt: DType) -> Result<Rope> {
        let half = head_dim / 2;
        let n = batch.positions.len();
        let mut cos = Vec::with_capacity(n * half);
        let mut sin = Vec::with_capacity(n * half);
        for &p in &batch.positions {
            for i in 0..half {
                let theta = p as f64 * scale * base.powf(-2.0 * i as f64 / head_dim as f64);
                cos.push(theta.cos());
                sin.push(theta.sin());
            }
        }
        Ok(Rope {
            cos: Tensor::from_vec(cos, (n, 1, half), &Device::Cpu)?.to_dtype(dt)?,
            sin: Tensor::from_vec(sin, (n, 1, half), &Device::Cpu)?.to_dtype(dt)?,
        })
    }

    /// `x`: [tokens, heads, head_dim].
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let half = x.dim(2)? / 2;
        let (x1, x2) = (x.narrow(2, 0, half)?, x.narrow(2, half, half)?);
        let r1 = (x1.broadcast_mul(&self.cos)? - x2.broadcast_mul(&self.sin)?)?;
        let r2 = (x2.broadcast_mul(&self.cos)? + x1.broadcast_mul(&self.sin)?)?;
        Tensor::cat(&[r1, r2], 2)
    }
}
