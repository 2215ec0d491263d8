//! Fresh parameters for a model built with zeros (the model crates build modules for loading,
//! not training): PyTorch's defaults, so training starts where diffusers' would.

use tch::{nn::VarStore, Tensor};

/// Every variable whose name is not in `frozen` becomes trainable and is initialised by its role:
/// matrices and convolution kernels U(±1/√fan_in) (torch's `kaiming_uniform_(a=√5)` default, where
/// diffusers' models start), biases zero, 1-D norm weights one, AdaLN `scale_shift_table`s
/// N(0, 1/dim) as in diffusers.
pub fn initialise(vs: &VarStore, frozen: &[&str]) -> Vec<(String, Tensor)> {
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
                let bound = 1.0 / fan_in.sqrt();
                let _ = t.uniform_(-bound, bound);
            }
            let t = t.set_requires_grad(true);
            trainable.push((name, t));
        }
    });
    trainable
}
