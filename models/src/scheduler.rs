//! The flow-matching Euler scheduler, mirroring diffusers'
//! `schedulers/scheduling_flow_match_euler_discrete.py` (`FlowMatchEulerDiscreteScheduler`).
//!
//! Sigmas run from 1 (pure noise) to 0 (clean); the model predicts the velocity `noise - x0`
//! (LTX pipelines pass its negation) and a step is `x + (sigma_next - sigma) * v`. Per-token
//! timesteps let conditioning tokens sit at a lower noise level than the rest of the sequence:
//! each token steps from its own sigma to the next lower sigma of the schedule.

use serde::Deserialize;
use tch::{Kind, Tensor};

use crate::error::ModelError;

/// `scheduler/scheduler_config.json`; defaults are diffusers' `__init__` defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FlowMatchEulerDiscreteSchedulerConfig {
    pub num_train_timesteps: i64,
    pub shift: f64,
    pub use_dynamic_shifting: bool,
    pub base_shift: Option<f64>,
    pub max_shift: Option<f64>,
    pub base_image_seq_len: i64,
    pub max_image_seq_len: i64,
    pub invert_sigmas: bool,
    pub shift_terminal: Option<f64>,
    pub use_karras_sigmas: bool,
    pub use_exponential_sigmas: bool,
    pub use_beta_sigmas: bool,
    pub time_shift_type: String,
    pub stochastic_sampling: bool,
}

impl Default for FlowMatchEulerDiscreteSchedulerConfig {
    fn default() -> Self {
        Self {
            num_train_timesteps: 1000,
            shift: 1.0,
            use_dynamic_shifting: false,
            base_shift: Some(0.5),
            max_shift: Some(1.15),
            base_image_seq_len: 256,
            max_image_seq_len: 4096,
            invert_sigmas: false,
            shift_terminal: None,
            use_karras_sigmas: false,
            use_exponential_sigmas: false,
            use_beta_sigmas: false,
            time_shift_type: "exponential".into(),
            stochastic_sampling: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FlowMatchEulerDiscreteScheduler {
    pub config: FlowMatchEulerDiscreteSchedulerConfig,
    /// The inference timesteps (`sigma * num_train_timesteps` unless given explicitly).
    pub timesteps: Vec<f64>,
    /// One more than `timesteps`: the schedule's sigmas followed by the terminal 0 (or 1 inverted).
    pub sigmas: Vec<f64>,
    step_index: Option<usize>,
}

impl FlowMatchEulerDiscreteScheduler {
    pub fn new(config: FlowMatchEulerDiscreteSchedulerConfig) -> Result<Self, ModelError> {
        let picked = [config.use_beta_sigmas, config.use_exponential_sigmas, config.use_karras_sigmas];
        if picked.iter().filter(|b| **b).count() > 1 {
            return Err(ModelError::InvalidConfig(
                "scheduler: only one of use_beta_sigmas, use_exponential_sigmas, use_karras_sigmas can be set".into(),
            ));
        }
        if config.use_beta_sigmas {
            // diffusers draws these from scipy's beta quantile function; no checkpoint we load uses it.
            return Err(ModelError::InvalidConfig("scheduler: use_beta_sigmas is not supported".into()));
        }
        if !matches!(config.time_shift_type.as_str(), "exponential" | "linear") {
            return Err(ModelError::InvalidConfig(format!(
                "scheduler: time_shift_type must be \"exponential\" or \"linear\", not {:?}",
                config.time_shift_type
            )));
        }
        if config.num_train_timesteps < 1 {
            return Err(ModelError::InvalidConfig("scheduler: num_train_timesteps must be positive".into()));
        }
        let n = config.num_train_timesteps;
        let mut sigmas: Vec<f64> = (0..n).map(|i| (n - i) as f32 as f64 / n as f64).collect();
        if !config.use_dynamic_shifting {
            sigmas.iter_mut().for_each(|s| *s = config.shift * *s / (1.0 + (config.shift - 1.0) * *s));
        }
        let timesteps = sigmas.iter().map(|s| s * n as f64).collect();
        Ok(Self { config, timesteps, sigmas, step_index: None })
    }

    fn sigma_min_max(&self) -> (f64, f64) {
        // Before set_timesteps these are the training schedule's ends, as diffusers reads them in __init__.
        let n = self.config.num_train_timesteps;
        let train = |s: f64| {
            if self.config.use_dynamic_shifting {
                s
            } else {
                self.config.shift * s / (1.0 + (self.config.shift - 1.0) * s)
            }
        };
        (train(1.0 / n as f64), train(1.0))
    }

    /// The resolution-dependent shift `mu` for a sequence of `image_seq_len` tokens
    /// (diffusers `calculate_shift`, shared by the Flux and LTX pipelines).
    pub fn calculate_shift(&self, image_seq_len: i64) -> f64 {
        let base = self.config.base_shift.unwrap_or(0.5);
        let max = self.config.max_shift.unwrap_or(1.15);
        let m = (max - base) / (self.config.max_image_seq_len - self.config.base_image_seq_len) as f64;
        let b = base - m * self.config.base_image_seq_len as f64;
        image_seq_len as f64 * m + b
    }

    fn time_shift(&self, mu: f64, t: f64) -> f64 {
        match self.config.time_shift_type.as_str() {
            "linear" => mu / (mu + (1.0 / t - 1.0)),
            _ => mu.exp() / (mu.exp() + (1.0 / t - 1.0)),
        }
    }

    /// Sets the inference schedule. Exactly one of `num_inference_steps`, `sigmas`, `timesteps`
    /// decides its length, as in diffusers; `mu` is required with dynamic shifting.
    pub fn set_timesteps(
        &mut self,
        num_inference_steps: Option<usize>,
        sigmas: Option<&[f64]>,
        mu: Option<f64>,
        timesteps: Option<&[f64]>,
    ) -> Result<(), ModelError> {
        let cfg = &self.config;
        if cfg.use_dynamic_shifting && mu.is_none() {
            return Err(ModelError::InvalidConfig("scheduler: mu is required with use_dynamic_shifting".into()));
        }
        if let (Some(s), Some(t)) = (sigmas, timesteps) {
            if s.len() != t.len() {
                return Err(ModelError::InvalidInput("sigmas and timesteps differ in length".into()));
            }
        }
        let steps = match (num_inference_steps, sigmas, timesteps) {
            (Some(n), s, t) => {
                if s.is_some_and(|s| s.len() != n) || t.is_some_and(|t| t.len() != n) {
                    return Err(ModelError::InvalidInput("sigmas/timesteps length differs from the step count".into()));
                }
                n
            }
            (None, Some(s), _) => s.len(),
            (None, None, Some(t)) => t.len(),
            (None, None, None) => return Err(ModelError::InvalidInput("no step count, sigmas or timesteps".into())),
        };
        if steps == 0 {
            return Err(ModelError::InvalidInput("at least one inference step is needed".into()));
        }
        let n_train = cfg.num_train_timesteps as f64;
        // diffusers casts explicit timesteps to float32 before dividing.
        let given_timesteps: Option<Vec<f64>> = timesteps.map(|t| t.iter().map(|&v| v as f32 as f64).collect());
        let mut s: Vec<f64> = match (sigmas, &given_timesteps) {
            (Some(s), _) => s.iter().map(|&v| v as f32 as f64).collect(),
            (None, Some(t)) => t.iter().map(|v| v / n_train).collect(),
            (None, None) => {
                let (smin, smax) = self.sigma_min_max();
                linspace(smax * n_train, smin * n_train, steps).into_iter().map(|t| t / n_train).collect()
            }
        };
        if cfg.use_dynamic_shifting {
            let mu = mu.unwrap_or_default();
            s.iter_mut().for_each(|v| *v = self.time_shift(mu, *v));
        } else {
            s.iter_mut().for_each(|v| *v = cfg.shift * *v / (1.0 + (cfg.shift - 1.0) * *v));
        }
        if let Some(terminal) = cfg.shift_terminal.filter(|t| *t != 0.0) {
            let last = 1.0 - s[s.len() - 1];
            let scale = last / (1.0 - terminal);
            s.iter_mut().for_each(|v| *v = 1.0 - (1.0 - *v) / scale);
        }
        if cfg.use_karras_sigmas || cfg.use_exponential_sigmas {
            let (lo, hi) = (s[s.len() - 1], s[0]);
            s = if cfg.use_karras_sigmas {
                let rho = 7.0;
                let (min_inv, max_inv) = (lo.powf(1.0 / rho), hi.powf(1.0 / rho));
                linspace(0.0, 1.0, steps).into_iter().map(|r| (max_inv + r * (min_inv - max_inv)).powf(rho)).collect()
            } else {
                linspace(hi.ln(), lo.ln(), steps).into_iter().map(f64::exp).collect()
            };
        }
        // The schedule is float32 in diffusers from here on.
        let mut s: Vec<f64> = s.into_iter().map(|v| v as f32 as f64).collect();
        let mut t: Vec<f64> = match given_timesteps {
            Some(t) => t,
            None => s.iter().map(|v| (*v as f32 * n_train as f32) as f64).collect(),
        };
        if cfg.invert_sigmas {
            s.iter_mut().for_each(|v| *v = (1.0f32 - *v as f32) as f64);
            t = s.iter().map(|v| (*v as f32 * n_train as f32) as f64).collect();
            s.push(1.0);
        } else {
            s.push(0.0);
        }
        self.timesteps = t;
        self.sigmas = s;
        self.step_index = None;
        Ok(())
    }

    pub fn step_index(&self) -> Option<usize> {
        self.step_index
    }

    /// diffusers `index_for_timestep`: the first match, or the second when the value repeats
    /// (so a schedule restarted midway does not skip a sigma).
    fn index_for_timestep(&self, timestep: f64) -> Result<usize, ModelError> {
        let hits: Vec<usize> =
            self.timesteps.iter().enumerate().filter(|(_, t)| **t as f32 == timestep as f32).map(|(i, _)| i).collect();
        match hits.len() {
            0 => Err(ModelError::InvalidInput(format!("timestep {timestep} is not in the schedule"))),
            1 => Ok(hits[0]),
            _ => Ok(hits[1]),
        }
    }

    /// Forward process: `sigma * noise + (1 - sigma) * sample` at the sigma of `timestep`.
    pub fn scale_noise(&self, sample: &Tensor, timestep: f64, noise: &Tensor) -> Result<Tensor, ModelError> {
        let sigma = self.sigmas[self.index_for_timestep(timestep)?];
        Ok(noise.f_mul_scalar(sigma)?.f_add(&sample.f_mul_scalar(1.0 - sigma)?)?)
    }

    /// One Euler step from `timestep` (a value of `self.timesteps`). With `per_token_timesteps`
    /// (shape `[B, N]`, same 0..num_train scale) each token of `sample` (`[B, N, C]`) moves from
    /// its own sigma to the largest schedule sigma below it. `noise` is needed only with
    /// `stochastic_sampling`. Computed in float32 like diffusers; the result is cast back to the
    /// model output's dtype unless per-token timesteps were given (as diffusers does).
    pub fn step(
        &mut self,
        model_output: &Tensor,
        timestep: f64,
        sample: &Tensor,
        per_token_timesteps: Option<&Tensor>,
        noise: Option<&Tensor>,
    ) -> Result<Tensor, ModelError> {
        let index = match self.step_index {
            Some(i) => i,
            None => self.index_for_timestep(timestep)?,
        };
        if index + 1 >= self.sigmas.len() {
            return Err(ModelError::InvalidInput("the schedule has no steps left".into()));
        }
        let sample = sample.f_to_kind(Kind::Float)?;
        let out_f = model_output.f_to_kind(Kind::Float)?;
        let device = sample.device();
        let (current, next): (Tensor, Tensor) = match per_token_timesteps {
            Some(ptt) => {
                let per_token = ptt.f_to_kind(Kind::Float)?.f_div_scalar(self.config.num_train_timesteps as f64)?;
                let sig = Tensor::f_from_slice(&self.sigmas.iter().map(|&s| s as f32).collect::<Vec<f32>>())?
                    .f_to_device(device)?
                    .f_view([-1, 1, 1])?;
                let lower_mask = sig.f_lt_tensor(&per_token.f_unsqueeze(0)?.f_sub_scalar(1e-6)?)?;
                let lower = lower_mask.f_to_kind(Kind::Float)?.f_mul(&sig)?.f_amax([0i64].as_slice(), false)?;
                (per_token.f_unsqueeze(-1)?, lower.f_unsqueeze(-1)?)
            }
            None => (
                Tensor::f_from_slice(&[self.sigmas[index] as f32])?.f_to_device(device)?,
                Tensor::f_from_slice(&[self.sigmas[index + 1] as f32])?.f_to_device(device)?,
            ),
        };
        let prev = if self.config.stochastic_sampling {
            let noise = noise.ok_or_else(|| ModelError::InvalidInput("stochastic sampling needs noise".into()))?;
            let x0 = sample.f_sub(&current.f_mul(&out_f)?)?;
            let one_minus = next.f_neg()?.f_add_scalar(1.0)?;
            x0.f_mul(&one_minus)?.f_add(&next.f_mul(&noise.f_to_kind(Kind::Float)?)?)?
        } else {
            // diffusers' per-token branch steps by `current - next` (positive), the plain
            // branch by `next - current`; LTX pipelines therefore pass the negated velocity.
            let dt = if per_token_timesteps.is_some() { current.f_sub(&next)? } else { next.f_sub(&current)? };
            sample.f_add(&dt.f_mul(&out_f)?)?
        };
        self.step_index = Some(index + 1);
        Ok(if per_token_timesteps.is_none() { prev.f_to_kind(model_output.kind())? } else { prev })
    }
}

fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f64;
    (0..n).map(|i| if i == n - 1 { end } else { start + step * i as f64 }).collect()
}

/// The sigma schedule of the original LTX-Video sampler (`ltx_video/schedulers/rf.py`), which
/// diffusers' LTXConditionPipeline uses when no timesteps are given: linear in the low-noise
/// first half, quadratic after. Returned without the terminal value.
pub fn linear_quadratic_schedule(num_steps: usize, threshold_noise: f64, linear_steps: Option<usize>) -> Vec<f64> {
    if num_steps < 2 {
        return vec![1.0];
    }
    let linear_steps = linear_steps.unwrap_or(num_steps / 2);
    let ls = linear_steps as f64;
    let mut schedule: Vec<f64> = (0..linear_steps).map(|i| i as f64 * threshold_noise / ls).collect();
    let diff = ls - threshold_noise * num_steps as f64;
    let quadratic_steps = (num_steps - linear_steps) as f64;
    let quadratic_coef = diff / (ls * quadratic_steps * quadratic_steps);
    let linear_coef = threshold_noise / ls - 2.0 * diff / (quadratic_steps * quadratic_steps);
    let constant = quadratic_coef * ls * ls;
    schedule.extend((linear_steps..num_steps).map(|i| {
        let i = i as f64;
        quadratic_coef * i * i + linear_coef * i + constant
    }));
    schedule.into_iter().map(|x| 1.0 - x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_schedule_runs_from_one_to_zero() {
        let mut s = FlowMatchEulerDiscreteScheduler::new(Default::default()).unwrap();
        s.set_timesteps(Some(4), None, None, None).unwrap();
        assert_eq!(s.sigmas.len(), 5);
        assert!((s.sigmas[0] - 1.0).abs() < 1e-6 && s.sigmas[4] == 0.0);
        assert!(s.sigmas.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn dynamic_shifting_needs_mu_and_bad_configs_are_named() {
        let cfg = FlowMatchEulerDiscreteSchedulerConfig { use_dynamic_shifting: true, ..Default::default() };
        let mut s = FlowMatchEulerDiscreteScheduler::new(cfg).unwrap();
        assert!(s.set_timesteps(Some(4), None, None, None).unwrap_err().to_string().contains("mu"));
        let cfg = FlowMatchEulerDiscreteSchedulerConfig { time_shift_type: "cubic".into(), ..Default::default() };
        assert!(FlowMatchEulerDiscreteScheduler::new(cfg).unwrap_err().to_string().contains("cubic"));
        let mut s = FlowMatchEulerDiscreteScheduler::new(Default::default()).unwrap();
        assert!(s.set_timesteps(Some(0), None, None, None).is_err());
    }

    #[test]
    fn euler_step_on_a_straight_path_lands_on_the_target() {
        // With the exact velocity noise - x0, one Euler step per sigma interval is exact.
        let mut s = FlowMatchEulerDiscreteScheduler::new(Default::default()).unwrap();
        s.set_timesteps(Some(3), None, None, None).unwrap();
        let x0 = Tensor::from_slice(&[0.5f32, -1.0, 2.0]);
        let noise = Tensor::from_slice(&[1.0f32, 0.3, -0.7]);
        let mut x = s.scale_noise(&x0, s.timesteps[0], &noise).unwrap();
        for t in s.timesteps.clone() {
            x = s.step(&(&noise - &x0), t, &x, None, None).unwrap();
        }
        assert!((x - x0).abs().max().double_value(&[]) < 1e-6);
    }
}
