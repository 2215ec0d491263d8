//! Fresh parameters for a model built with zeros (the model crates build modules for loading,
//! not training): PyTorch's defaults, so training starts where diffusers' would.

use tch::{nn::VarStore, Tensor};

/// How matrices and convolution kernels start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// U(±1/√fan_in), torch's `kaiming_uniform_(a=√5)` default, as diffusers' transformers start.
    Torch,
    /// N(0, 2/fan_in) (He): deep convolution stacks without it shrink the signal by 3x per
    /// layer, and the decoder of a fresh autoencoder learns to ignore its latents.
    He,
}

/// Every variable whose name is not in `frozen` becomes trainable and is initialised by its role:
/// matrices and convolution kernels by `weights`, biases zero, 1-D norm weights one, AdaLN
/// `scale_shift_table`s N(0, 1/dim) as in diffusers.
pub fn initialise(vs: &VarStore, frozen: &[&str], weights: Weights) -> Vec<(String, Tensor)> {
    let mut trainable = Vec::new();
    tch::no_grad(|| {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, mut t) in vars {
            if frozen.iter().any(|f| name.ends_with(f)) {
                continue;
            }
            let size = t.size();
            if name.ends_with("scale_shift_table") {
                let dim = *size.last().unwrap_or(&1) as f64;
                t.copy_(&(Tensor::randn(&size, (t.kind(), t.device())) / dim.sqrt()));
            } else if name.ends_with("bias") {
                let _ = t.zero_();
            } else if size.len() == 1 {
                let _ = t.fill_(1.0);
            } else {
                let fan_in = size[1..].iter().product::<i64>() as f64;
                match weights {
                    Weights::Torch => {
                        let bound = 1.0 / fan_in.sqrt();
                        let _ = t.uniform_(-bound, bound);
                    }
                    Weights::He => {
                        let _ = t.normal_(0.0, (2.0 / fan_in).sqrt());
                    }
                }
            }
            let t = t.set_requires_grad(true);
            trainable.push((name, t));
        }
    });
    trainable
}
