//! FlowMatchEulerDiscreteScheduler against diffusers: schedules (plain, shifted, dynamic
//! resolution-dependent shift with a terminal sigma, Karras, exponential, inverted, explicit
//! timesteps) and whole denoising loops with and without per-token timesteps.

mod common;

use models::scheduler::{FlowMatchEulerDiscreteScheduler, FlowMatchEulerDiscreteSchedulerConfig};
use tch::Tensor;

#[derive(serde::Deserialize)]
struct Case {
    config: serde_json::Value,
    steps: Option<usize>,
    sigmas: Option<Vec<f64>>,
    timesteps: Option<Vec<f64>>,
    mu: Option<f64>,
}

#[test]
fn matches_diffusers() {
    let dir = common::scratch("scheduler");
    common::run_reference("scheduler_reference.py", &[dir.to_str().unwrap()]);
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert_eq!(cases.len(), 8);
    for (i, case) in cases.iter().enumerate() {
        let reference = common::read_tensors(&dir.join(format!("case{i}.safetensors")));
        let config: FlowMatchEulerDiscreteSchedulerConfig = serde_json::from_value(case.config.clone()).unwrap();
        let mut ours = FlowMatchEulerDiscreteScheduler::new(config.clone()).unwrap();
        ours.set_timesteps(case.steps, case.sigmas.as_deref(), case.mu, case.timesteps.as_deref()).unwrap();
        let what = format!("case {i} {}", case.config);
        common::assert_close(&format!("{what} timesteps"), &Tensor::from_slice(&ours.timesteps), &reference["timesteps"], 1e-6);
        common::assert_close(&format!("{what} sigmas"), &Tensor::from_slice(&ours.sigmas), &reference["sigmas"], 1e-6);

        let mut x = reference["sample"].shallow_clone();
        for (j, t) in ours.timesteps.clone().into_iter().enumerate() {
            x = ours.step(&reference[&format!("model_output{j}")], t, &x, None, None).unwrap();
        }
        common::assert_close(&format!("{what} loop"), &x, &reference["result"], 1e-5);

        if let Some(expected) = reference.get("result_per_token") {
            let mut ours = FlowMatchEulerDiscreteScheduler::new(config).unwrap();
            ours.set_timesteps(case.steps, case.sigmas.as_deref(), case.mu, case.timesteps.as_deref()).unwrap();
            let mut x = reference["sample"].shallow_clone();
            for (j, t) in ours.timesteps.clone().into_iter().enumerate() {
                let ptt = &reference[&format!("per_token{j}")];
                x = ours.step(&reference[&format!("model_output{j}")], t, &x, Some(ptt), None).unwrap();
            }
            common::assert_close(&format!("{what} per-token loop"), &x, expected, 1e-5);
        }
    }
}

#[test]
fn linear_quadratic_schedule_matches_the_original_sampler() {
    // Values from LTX-Video's rf.py for 4 steps: linear to threshold 0.025, then quadratic.
    let s = models::scheduler::linear_quadratic_schedule(4, 0.025, None);
    assert_eq!(s.len(), 4);
    assert!((s[0] - 1.0).abs() < 1e-12);
    assert!((s[1] - 0.9875).abs() < 1e-12);
    assert!(s.windows(2).all(|w| w[0] > w[1]));
}
