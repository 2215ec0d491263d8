//! AdamW with its state in safetensors, so a stopped run resumes exactly where it was (tch's
//! optimiser keeps its moments inside libtorch, out of reach of a checkpoint).

use std::path::Path;

use tch::{Kind, Tensor};

pub struct AdamW {
    pub params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    pub step: i64,
    /// Steps since the moments were zeroed. Bias correction counts these, not `step`: a run
    /// continued at step N of its schedule from saved weights (see `--start-step`) has fresh
    /// moments, and correcting them as if N steps old would multiply its first updates by ~3.
    pub moment_steps: i64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    pub fn new(params: Vec<(String, Tensor)>, weight_decay: f64) -> Self {
        let zeros = |p: &Tensor| Tensor::zeros(p.size(), (Kind::Float, p.device()));
        let m = params.iter().map(|(_, p)| zeros(p)).collect();
        let v = params.iter().map(|(_, p)| zeros(p)).collect();
        Self { params, m, v, step: 0, moment_steps: 0, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Clips the global gradient norm to `max_norm`, then steps with learning rate `lr`. Returns
    /// the norm before clipping.
    pub fn step(&mut self, lr: f64, max_norm: f64) -> f64 {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).collect();
            let defined: Vec<&Tensor> = grads.iter().filter(|g| g.defined()).collect();
            let norm = defined
                .iter()
                .map(|g| g.pow_tensor_scalar(2).sum(Kind::Float))
                .fold(Tensor::zeros([], (Kind::Float, self.params[0].1.device())), |a, b| a + b)
                .sqrt()
                .double_value(&[]);
            let clip = if norm.is_finite() && norm > max_norm { max_norm / norm } else { 1.0 };
            if !norm.is_finite() {
                // A non-finite gradient would poison the moments; skip the update.
                return norm;
            }
            self.step += 1;
            self.moment_steps += 1;
            let (b1, b2) = (self.beta1, self.beta2);
            let c1 = 1.0 - b1.powi(self.moment_steps.min(i32::MAX as i64) as i32);
            let c2 = 1.0 - b2.powi(self.moment_steps.min(i32::MAX as i64) as i32);
            for (((_, p), m), (v, g)) in self.params.iter_mut().zip(&mut self.m).zip(self.v.iter_mut().zip(&grads)) {
                if !g.defined() {
                    continue;
                }
                let g = g * clip;
                let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
                let update = (&*m / c1) / ((&*v / c2).sqrt() + self.eps);
                if self.weight_decay > 0.0 && p.dim() > 1 {
                    let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = p.g_sub_(&(update * lr));
            }
            norm
        })
    }

    /// Parameters, moments and step in one safetensors file.
    pub fn save(&self, path: &Path) -> Result<(), tch::TchError> {
        let mut named: Vec<(String, Tensor)> = Vec::new();
        for (i, (name, p)) in self.params.iter().enumerate() {
            named.push((format!("param.{name}"), p.detach()));
            named.push((format!("m.{name}"), self.m[i].shallow_clone()));
            named.push((format!("v.{name}"), self.v[i].shallow_clone()));
        }
        named.push(("step".into(), Tensor::from_slice(&[self.step])));
        named.push(("moment_steps".into(), Tensor::from_slice(&[self.moment_steps])));
        let tmp = path.with_extension("tmp");
        Tensor::write_safetensors(&named, &tmp)?;
        std::fs::rename(&tmp, path).map_err(|e| tch::TchError::FileFormat(e.to_string()))
    }

    /// Restores what `save` wrote; every parameter must be present with its shape.
    pub fn load(&mut self, path: &Path) -> Result<(), String> {
        let saved: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(path).map_err(|e| e.to_string())?.into_iter().collect();
        let get = |key: &str, like: &Tensor| -> Result<Tensor, String> {
            let t = saved.get(key).ok_or_else(|| format!("{}: {key} is missing", path.display()))?;
            if t.size() != like.size() {
                return Err(format!("{}: {key} is {:?}, expected {:?}", path.display(), t.size(), like.size()));
            }
            Ok(t.to_device(like.device()))
        };
        tch::no_grad(|| -> Result<(), String> {
            for (i, (name, p)) in self.params.iter_mut().enumerate() {
                p.copy_(&get(&format!("param.{name}"), p)?);
                let m = get(&format!("m.{name}"), &self.m[i])?;
                self.m[i].copy_(&m);
                let v = get(&format!("v.{name}"), &self.v[i])?;
                self.v[i].copy_(&v);
            }
            Ok(())
        })?;
        self.step = saved.get("step").map(|t| t.int64_value(&[0])).ok_or("step is missing")?;
        // States written before moment_steps existed were never continued from saved weights.
        self.moment_steps = saved.get("moment_steps").map_or(self.step, |t| t.int64_value(&[0]));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem() -> (Tensor, Tensor) {
        tch::manual_seed(3);
        (Tensor::randn([16, 4], (Kind::Float, tch::Device::Cpu)), Tensor::randn([16, 1], (Kind::Float, tch::Device::Cpu)))
    }

    fn fresh() -> AdamW {
        let w = Tensor::zeros([4, 1], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        AdamW::new(vec![("w".into(), w)], 0.01)
    }

    fn train(opt: &mut AdamW, steps: usize, x: &Tensor, y: &Tensor) -> f64 {
        let mut loss = 0.0;
        for _ in 0..steps {
            let l = (x.matmul(&opt.params[0].1) - y).square().mean(Kind::Float);
            opt.zero_grad();
            l.backward();
            opt.step(0.05, 10.0);
            loss = l.double_value(&[]);
        }
        loss
    }

    #[test]
    fn a_resumed_run_continues_exactly() {
        let (x, y) = problem();
        let mut straight = fresh();
        let first = train(&mut straight, 1, &x, &y);
        let last = train(&mut straight, 7, &x, &y);
        assert!(last < first, "loss did not fall: {first} -> {last}");

        let dir = std::env::temp_dir().join(format!("adam-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.safetensors");
        let mut interrupted = fresh();
        train(&mut interrupted, 3, &x, &y);
        interrupted.save(&path).unwrap();
        let mut resumed = fresh();
        resumed.load(&path).unwrap();
        assert_eq!((resumed.step, resumed.moment_steps), (3, 3));
        train(&mut resumed, 5, &x, &y);
        let diff = (&resumed.params[0].1 - &straight.params[0].1).abs().max().double_value(&[]);
        assert_eq!(diff, 0.0, "resumed parameters differ by {diff}");
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Continuing a schedule at step N from saved weights starts the moments afresh: the first
    /// updates must be a fresh optimiser's, whatever N.
    #[test]
    fn fresh_moments_are_corrected_as_fresh_at_any_step() {
        let (x, y) = problem();
        let mut fresh_start = fresh();
        let mut continued = fresh();
        continued.step = 500;
        train(&mut fresh_start, 3, &x, &y);
        train(&mut continued, 3, &x, &y);
        assert_eq!((continued.step, continued.moment_steps), (503, 3));
        let diff = (&continued.params[0].1 - &fresh_start.params[0].1).abs().max().double_value(&[]);
        assert_eq!(diff, 0.0, "continued parameters differ by {diff}");
    }

    #[test]
    fn a_checkpoint_of_another_model_is_refused() {
        let dir = std::env::temp_dir().join(format!("adam-mismatch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.safetensors");
        fresh().save(&path).unwrap();
        let other = Tensor::zeros([5, 1], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
        let mut opt = AdamW::new(vec![("w".into(), other)], 0.0);
        let e = opt.load(&path).unwrap_err();
        assert!(e.contains("w") && e.contains("[4, 1]"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
