//! What `genvideo-eval` and the diagnostic examples measure clips with: ground truth at the
//! working size, its VAE round trip, PSNR and frame-to-frame change.

use models::pipeline_ltx::{Condition, GenerationRequest, LtxPipeline};
use models::ModelError;
use tch::{Device, Kind, Tensor};
use toyworld::analyse::Analysis;
use toyworld::Scene;

use crate::stages::{FPS, FRAMES, SIZE};

/// Where setup installs all-MiniLM-L6-v2, the embedded model's text encoder.
pub const TEXT_ENCODER: &str = "weights/all-minilm-l6-v2";

/// The model folder `dir` on the CPU with [`TEXT_ENCODER`], for the diagnostic examples.
pub fn cpu_pipeline(dir: &str) -> LtxPipeline {
    LtxPipeline::load_with_text_encoder(dir.as_ref(), TEXT_ENCODER.as_ref(), Device::Cpu, Kind::Float)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
}

/// Ground truth `[F, 3, H, W]` in [0, 1], at the size and length the model is trained for.
pub fn render(scene: &Scene) -> Tensor {
    render_span(scene, FRAMES, 0.0)
}

/// `frames` frames of ground truth `[F, 3, H, W]` at the working size from `start` seconds, such
/// as the footage past a clip's end.
pub fn render_span(scene: &Scene, frames: usize, start: f64) -> Tensor {
    crate::data::clip(scene, SIZE, SIZE, frames, FPS, start).permute([1, 0, 2, 3]).contiguous()
}

/// Whether `a` names `scene`'s background, and its subject's colour, shape and motion.
pub fn attributes_right(scene: &Scene, a: &Analysis) -> [bool; 4] {
    let o = scene.subject();
    [a.background == Some(scene.background), a.colour == Some(o.colour), a.shape == Some(o.shape), a.motion == Some(o.motion)]
}

/// A generation at the size and length the model is trained for.
pub fn working_request(prompt: &str, conditions: Vec<Condition>, steps: usize, guidance: f64) -> GenerationRequest {
    GenerationRequest {
        prompt: prompt.to_string(),
        width: SIZE as i64,
        height: SIZE as i64,
        num_frames: FRAMES as i64,
        frame_rate: FPS,
        num_inference_steps: steps,
        guidance_scale: guidance,
        conditions,
        ..GenerationRequest::default()
    }
}

/// `video` (`[F, 3, H, W]` in [0, 1]) through the VAE and back: what the model could draw at best.
pub fn round_trip(pipe: &LtxPipeline, video: &Tensor) -> Result<Tensor, ModelError> {
    let x = (video.permute([1, 0, 2, 3]).unsqueeze(0) * 2.0 - 1.0).to_device(pipe.device).to_kind(pipe.kind);
    let z = pipe.vae.encode(&x)?;
    let rec = pipe.vae.decode(&z, None)?;
    Ok(((rec.squeeze_dim(0).permute([1, 0, 2, 3]) + 1.0) / 2.0).clamp(0.0, 1.0).to_device(Device::Cpu).to_kind(Kind::Float))
}

/// `[F, 3, H, W]` in [0, 1] -> the analyser's `[F][H][W][3]`.
pub fn pixels(video: &Tensor) -> Vec<f32> {
    let t = video.permute([0, 2, 3, 1]).contiguous().to_kind(Kind::Float);
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap_or_default()
}

pub fn psnr(a: &Tensor, b: &Tensor) -> f64 {
    let mse = (a - b).square().mean(Kind::Float).double_value(&[]);
    10.0 * (1.0 / mse.max(1e-10)).log10()
}

/// Mean absolute change between consecutive frames, per step.
pub fn steps_change(video: &Tensor) -> Vec<f64> {
    let f = video.size()[0];
    (0..f - 1).map(|t| (video.get(t + 1) - video.get(t)).abs().mean(Kind::Float).double_value(&[])).collect()
}
