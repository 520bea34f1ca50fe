//! A frozen linear layer: `x · Wᵀ` whose backward pass gives the input's gradient only.
//!
//! candle's `matmul` backward computes both operands' gradients, so a plain `x.matmul(&w.t())`
//! would compute a gradient for every frozen weight (the vocabulary projection alone is
//! 262k x 640) and throw it away. Here the weight lives inside the op, not in the graph: the
//! backward pass is one matmul, `dy · W`.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

/// `W` of shape [out, in], f32, contiguous.
#[derive(Clone)]
pub struct Frozen {
    w: Tensor,
    op: Arc<Box<dyn CustomOp1 + Send + Sync>>,
}

impl std::fmt::Debug for Frozen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frozen{:?}", self.w.shape())
    }
}

#[derive(Debug)]
struct FrozenOp {
    w: Tensor,
}

impl Frozen {
    pub fn new(w: Tensor) -> Result<Frozen> {
        let w = w.contiguous()?;
        if w.rank() != 2 {
            candle_core::bail!("a linear weight is 2-D, not {:?}", w.shape());
        }
        Ok(Frozen {
            op: Arc::new(Box::new(FrozenOp { w: w.clone() })),
            w,
        })
    }

    pub fn weight(&self) -> &Tensor {
        &self.w
    }

    /// [in] -> [out] on the last dimension of a 2-D `x` ([tokens, in]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_arc(self.op.clone())
    }
}

impl CustomOp1 for FrozenOp {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, x: &CpuStorage, x_layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (m, k) = x_layout.shape().dims2()?;
        let (n, k_w) = self.w.dims2()?;
        if k != k_w {
            candle_core::bail!("frozen linear: input has {k} features, the weight takes {k_w}");
        }
        let (storage, w_layout) = self.w.storage_and_layout();
        let Storage::Cpu(w) = &*storage else {
            candle_core::bail!("frozen linear runs on the CPU");
        };
        let wt = w_layout.transpose(0, 1)?;
        let y = x.matmul(w, (1, m, n, k), x_layout, &wt)?;
        Ok((y, Shape::from((m, n))))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(dy.matmul(&self.w)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn forward_and_input_gradient_match_a_plain_matmul() -> Result<()> {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (5, 3), &dev)?;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3), &dev)?)?;
        let frozen = Frozen::new(w.clone())?;
        let y = frozen.forward(x.as_tensor())?;
        let plain = x.as_tensor().matmul(&w.t()?)?;
        let diff = (&y - &plain)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "forward differs by {diff}");
        let g1 = y.sqr()?.sum_all()?.backward()?;
        let g2 = plain.sqr()?.sum_all()?.backward()?;
        let (a, b) = (g1.get(&x).expect("grad"), g2.get(&x).expect("grad"));
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-4, "gradient differs by {diff}");
        Ok(())
    }
}
