//! The whole LTX-Video pipeline against diffusers' LTXConditionPipeline on a tiny random
//! checkpoint saved with `save_pretrained`: text encoding, conditioning items (a still at frame
//! 0, a clip placed mid-way with strength < 1, none), guidance, per-token timesteps, the
//! denoising loop, timestep-conditioned decoding. Random draws are replayed from diffusers'
//! run, so the outputs must agree to float32 round-off.

mod common;

use std::collections::VecDeque;

use models::pipeline_ltx::{ChainDirection, Condition, GenerationRequest, LtxPipeline, NoiseSource, Progress, SeededNoise};
use models::ModelError;
use tch::{Device, Kind, Tensor};

struct Replay(VecDeque<Tensor>);

impl NoiseSource for Replay {
    fn randn(&mut self, shape: &[i64]) -> Result<Tensor, ModelError> {
        let t = self.0.pop_front().expect("the pipeline drew more random tensors than diffusers did");
        assert_eq!(t.size(), shape, "random draw shapes differ from diffusers' order");
        Ok(t)
    }
}

#[derive(serde::Deserialize)]
struct CaseCondition {
    frame_index: i64,
    strength: f64,
}

#[derive(serde::Deserialize)]
struct Case {
    prompt: String,
    negative_prompt: String,
    num_frames: i64,
    steps: usize,
    guidance: f64,
    conditions: Vec<CaseCondition>,
    image_cond_noise_scale: f64,
    decode_timestep: f64,
    decode_noise_scale: Option<f64>,
    draws: usize,
}

#[test]
fn matches_diffusers_condition_pipeline() {
    let dir = common::scratch("pipeline");
    common::run_reference("pipeline_ltx_reference.py", &[dir.to_str().unwrap()]);
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let mut pipe = LtxPipeline::load(&dir.join("pipeline"), Device::Cpu, Kind::Float).unwrap();
    pipe.max_sequence_length = 32;
    for (i, case) in cases.iter().enumerate() {
        let reference = common::read_tensors(&dir.join(format!("case{i}.safetensors")));
        let conditions = case
            .conditions
            .iter()
            .enumerate()
            .map(|(j, c)| Condition {
                frames: reference[&format!("condition{j}")].permute([1, 0, 2, 3]),
                frame_index: c.frame_index,
                strength: c.strength,
            })
            .collect();
        let req = GenerationRequest {
            prompt: case.prompt.clone(),
            negative_prompt: case.negative_prompt.clone(),
            width: 64,
            height: 64,
            num_frames: case.num_frames,
            frame_rate: 25.0,
            num_inference_steps: case.steps,
            guidance_scale: case.guidance,
            image_cond_noise_scale: case.image_cond_noise_scale,
            decode_timestep: case.decode_timestep,
            decode_noise_scale: case.decode_noise_scale,
            conditions,
            ..Default::default()
        };
        let mut noise = Replay((0..case.draws).map(|k| reference[&format!("draw{k}")].shallow_clone()).collect());
        let mut seen = Vec::new();
        let video = pipe
            .generate(&req, &mut noise, &mut |p: Progress| {
                seen.push(p.step);
                true
            })
            .unwrap();
        assert!(noise.0.is_empty(), "case {i}: diffusers drew {} more random tensors", noise.0.len());
        assert_eq!(seen, (0..=case.steps).collect::<Vec<_>>(), "progress reports every step");
        common::assert_close(&format!("case {i} video"), &video, &reference["video"], 1e-4);
    }
}

#[test]
fn cancellation_stops_between_steps_and_bad_requests_are_named() {
    let dir = common::scratch("pipeline-errors");
    common::run_reference("pipeline_ltx_reference.py", &[dir.to_str().unwrap(), "--save-only"]);
    let pipe = LtxPipeline::load(&dir.join("pipeline"), Device::Cpu, Kind::Float).unwrap();
    let base = || GenerationRequest {
        prompt: "a red ball".into(),
        width: 64,
        height: 64,
        num_frames: 9,
        num_inference_steps: 3,
        ..Default::default()
    };

    let mut calls = 0;
    let err = pipe
        .generate(&base(), &mut SeededNoise::new(1), &mut |_| {
            calls += 1;
            calls < 2
        })
        .unwrap_err();
    assert!(matches!(err, ModelError::Cancelled), "{err}");
    assert_eq!(calls, 2, "stops at the first step boundary after the callback says no");

    let msg = |req: GenerationRequest| pipe.generate(&req, &mut SeededNoise::new(1), &mut |_| true).unwrap_err().to_string();
    assert!(msg(GenerationRequest { width: 70, ..base() }).contains("multiple of 32"));
    assert!(msg(GenerationRequest { num_frames: 10, ..base() }).contains("1 + 8k"));
    let m = msg(GenerationRequest { prompt: "a red ball ".repeat(200), ..base() });
    assert!(m.contains("token"), "{m}");
    let short_clip =
        Condition { frames: models::rng::rand(&[3, 5, 64, 64]), frame_index: 4, strength: 1.0 };
    let m = msg(GenerationRequest { num_frames: 17, conditions: vec![short_clip], ..base() });
    assert!(m.contains("condition 0"), "{m}");
    let nan =
        Condition { frames: Tensor::full([3, 1, 64, 64], f64::NAN, (Kind::Float, Device::Cpu)), frame_index: 0, strength: 1.0 };
    assert!(msg(GenerationRequest { conditions: vec![nan], ..base() }).contains("NaN"));

    // Not a checkpoint, and a checkpoint of another pipeline.
    let m = LtxPipeline::load(&dir, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(m.contains("model_index.json"), "{m}");
    let other = common::scratch("pipeline-other");
    std::fs::write(other.join("model_index.json"), r#"{"_class_name": "StableDiffusionPipeline"}"#).unwrap();
    let m = LtxPipeline::load(&other, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(m.contains("StableDiffusionPipeline"), "{m}");
}

#[test]
fn chained_generation_covers_the_exact_length_in_both_directions() {
    let dir = common::scratch("pipeline-chain");
    common::run_reference("pipeline_ltx_reference.py", &[dir.to_str().unwrap(), "--save-only"]);
    let pipe = LtxPipeline::load(&dir.join("pipeline"), Device::Cpu, Kind::Float).unwrap();
    let req = GenerationRequest {
        prompt: "a red ball".into(),
        width: 64,
        height: 64,
        num_frames: 41,
        num_inference_steps: 2,
        guidance_scale: 1.0,
        ..Default::default()
    };
    for direction in [ChainDirection::Forward, ChainDirection::Backward] {
        let mut last = (0, 0);
        let video = pipe
            .generate_chained(&req, 17, 9, direction, &mut SeededNoise::new(3), &mut |p| {
                last = (p.step, p.total);
                true
            })
            .unwrap();
        assert_eq!(video.size(), [41, 3, 64, 64]);
        assert_eq!(last.0, last.1, "progress reaches its total");
        assert!(video.isfinite().all().int64_value(&[]) == 1);
    }
}
