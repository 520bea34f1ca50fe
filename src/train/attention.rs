//! Attention over packed sequences, one sequence at a time.
//!
//! A batch packs several sequences into one row of tokens, and a token attends only to the
//! earlier tokens of its own sequence. Scoring the whole row against itself with a mask would
//! cost (tokens)² per head, most of it masked: for 512 tokens of 40-token rows, twelve times
//! the work that counts. Instead the queries, keys and values are gathered into one padded
//! block per sequence ([sequences, longest, …]), attention runs on those blocks (causal, within
//! the window on sliding layers, padding never a key), and the outputs are gathered back into
//! the packed order; a gather's backward pass is a scatter, so the gradient flows back the
//! same way.

use candle_core::{D, DType, Device, Result, Tensor};

/// Where each packed token sits in the padded blocks, and back.
pub struct Blocks {
    sequences: usize,
    longest: usize,
    /// [sequences * longest]: the packed index each padded slot reads (a padding slot reads
    /// its sequence's last token; its output is never gathered back).
    pad: Tensor,
    /// [tokens]: each packed token's padded slot.
    unpad: Tensor,
    /// [sequences, 1, longest, longest] additive masks, without and with the window.
    global: Tensor,
    local: Tensor,
}

impl Blocks {
    /// `sequence` and `positions`: each packed token's sequence and its position in it
    /// (`model::Packed`'s), a sequence's tokens side by side.
    pub fn new(
        sequence: &[usize],
        positions: &[usize],
        window: usize,
        dtype: DType,
    ) -> Result<Blocks> {
        let n = sequence.len();
        // (start, length) of each sequence, in packed order.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for i in 0..n {
            match spans.last_mut() {
                Some((start, len)) if sequence[*start] == sequence[i] => *len += 1,
                _ => spans.push((i, 1)),
            }
        }
        let longest = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let mut pad = Vec::with_capacity(spans.len() * longest);
        let mut unpad = vec![0u32; n];
        for (s, &(start, len)) in spans.iter().enumerate() {
            for p in 0..longest {
                let at = start + p.min(len - 1);
                pad.push(at as u32);
                if p < len {
                    unpad[at] = (s * longest + p) as u32;
                }
            }
        }
        let mask = |window: Option<usize>| -> Result<Tensor> {
            let mut m = vec![-1e9f32; spans.len() * longest * longest];
            for (s, &(start, len)) in spans.iter().enumerate() {
                for i in 0..longest {
                    for j in 0..=i.min(len - 1) {
                        let (pi, pj) = (positions[start + i.min(len - 1)], positions[start + j]);
                        if window.is_none_or(|w| pi.saturating_sub(pj) < w) {
                            m[(s * longest + i) * longest + j] = 0.0;
                        }
                    }
                }
            }
            Tensor::from_vec(m, (spans.len(), 1, longest, longest), &Device::Cpu)?.to_dtype(dtype)
        };
        let sequences = spans.len();
        Ok(Blocks {
            sequences,
            longest,
            pad: Tensor::from_vec(pad, sequences * longest, &Device::Cpu)?,
            unpad: Tensor::from_vec(unpad, n, &Device::Cpu)?,
            global: mask(None)?,
            local: if window > 0 {
                mask(Some(window))?
            } else {
                mask(None)?
            },
        })
    }

    /// Attention of `q` [tokens, heads, d] (roped, scaled) over `k`, `v` [tokens, kv, d]:
    /// [tokens, heads * d]. Query head h reads key/value head h / (heads / kv), as ggml does.
    pub fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, sliding: bool) -> Result<Tensor> {
        let (n, heads, d) = q.dims3()?;
        let kv = k.dim(1)?;
        let (b, l, group) = (self.sequences, self.longest, heads / kv);
        // [tokens, h, d] -> [b, h, l, d], padded.
        let block = |x: &Tensor, h: usize| -> Result<Tensor> {
            x.index_select(&self.pad, 0)?
                .reshape((b, l, h, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = block(q, heads)?.reshape((b * kv, group * l, d))?;
        let k = block(k, kv)?.reshape((b * kv, l, d))?;
        let v = block(v, kv)?.reshape((b * kv, l, d))?;
        let mask = if sliding { &self.local } else { &self.global };
        let scores = q
            .matmul(&k.t()?)?
            .reshape((b, heads, l, l))?
            .broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        probs
            .reshape((b * kv, group * l, l))?
            .matmul(&v)?
            .reshape((b, heads, l, d))?
            .transpose(1, 2)?
            .reshape((b * l, heads * d))?
            .index_select(&self.unpad, 0)?
            .reshape((n, heads * d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::model::Packed;

    /// Attention as written down, token by token: query token i of head h against the keys of
    /// its own sequence at positions p(i) - window < p(j) <= p(i).
    fn naive(
        batch: &Packed,
        q: &[f64],
        k: &[f64],
        v: &[f64],
        dims: (usize, usize, usize),
        window: Option<usize>,
    ) -> Vec<f64> {
        let (heads, kv, d) = dims;
        let n = batch.tokens.len();
        let mut out = vec![0.0; n * heads * d];
        for i in 0..n {
            for h in 0..heads {
                let g = h / (heads / kv);
                let seen: Vec<usize> = (0..=i)
                    .filter(|&j| batch.sequence[j] == batch.sequence[i])
                    .filter(|&j| window.is_none_or(|w| batch.positions[i] - batch.positions[j] < w))
                    .collect();
                let scores: Vec<f64> = seen
                    .iter()
                    .map(|&j| {
                        (0..d)
                            .map(|e| q[(i * heads + h) * d + e] * k[(j * kv + g) * d + e])
                            .sum()
                    })
                    .collect();
                let max = scores.iter().copied().fold(f64::MIN, f64::max);
                let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                for (s, &j) in scores.iter().zip(&seen) {
                    let p = (s - max).exp() / total;
                    for e in 0..d {
                        out[(i * heads + h) * d + e] += p * v[(j * kv + g) * d + e];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn blocks_attend_as_written_down() -> Result<()> {
        let mut batch = Packed::default();
        batch.push(&[1, 2, 3, 4, 5, 6], 3);
        batch.push(&[7, 8], 1);
        batch.push(&[9, 10, 11, 12], 1);
        let (n, heads, kv, d) = (12, 4, 2, 3);
        let dev = Device::Cpu;
        let q = Tensor::randn(0f64, 1.0, (n, heads, d), &dev)?;
        let k = Tensor::randn(0f64, 1.0, (n, kv, d), &dev)?;
        let v = Tensor::randn(0f64, 1.0, (n, kv, d), &dev)?;
        let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f64>();
        let blocks = Blocks::new(&batch.sequence, &batch.positions, 3, DType::F64)?;
        for (sliding, window) in [(false, None), (true, Some(3))] {
            let ours = flat(&blocks.attend(&q, &k, &v, sliding)?)?;
            let want = naive(
                &batch,
                &flat(&q)?,
                &flat(&k)?,
                &flat(&v)?,
                (heads, kv, d),
                window,
            );
            assert_eq!(ours.len(), want.len());
            for (i, (a, b)) in ours.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() < 1e-9,
                    "sliding {sliding}, element {i}: {a} vs {b}"
                );
            }
        }
        Ok(())
    }
}
