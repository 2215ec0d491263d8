//! The LTX-Video pipeline with conditioning items, mirroring diffusers'
//! `pipelines/ltx/pipeline_ltx_condition.py` (`LTXConditionPipeline`).
//!
//! One mechanism serves every effect: frames given at any index are encoded by the VAE and pinned
//! with their own (lower) timestep, so text-to-video (no items), image-to-video (a still at 0),
//! extension (the clip's end at 0, or its start at the far end), keyframe infill (both sides) and
//! chained long generation are the same denoising loop.
//!
//! Differences from diffusers, on purpose:
//! - conditioning frames are encoded to the posterior's mode, not a sample (diffusers samples;
//!   the parity test patches its `retrieve_latents` to the mode);
//! - noise comes from a [`NoiseSource`] so a render is reproducible per seed on any thread and
//!   device, and tests can replay diffusers' draws;
//! - a prompt longer than `max_sequence_length` is an error (diffusers cuts it with a warning);
//! - with a scheduler that uses dynamic shifting the resolution-dependent shift of `LTXPipeline`
//!   applies (diffusers' condition pipeline refuses such a scheduler).
//!
//! Text encoders: T5 (LTX-Video's own `text_encoder/` + `tokenizer/`) or a BERT such as
//! all-MiniLM-L6-v2 ([`BertTextEncoder`], per-token last hidden states), chosen by the encoder
//! folder's `config.json` `model_type`. A GenVideo model (the embedded `genvideo-mini`) keeps its
//! encoder outside its folder and says where in `model_index.json`'s `_genvideo` object
//! ([`GenvideoMeta`]), with its native sample size, frame rate, frame count, steps and guidance.

use std::path::{Path, PathBuf};

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::autoencoder_kl_ltx::AutoencoderKlLtxVideo;
use crate::bert::BertModel;
use crate::checkpoint::read_json;
use crate::error::ModelError;
use crate::scheduler::{linear_quadratic_schedule, FlowMatchEulerDiscreteScheduler, FlowMatchEulerDiscreteSchedulerConfig};
use crate::t5::T5EncoderModel;
use crate::tokenizer::PromptTokenizer;
use crate::transformer_ltx::{LtxVideoTransformer3DModel, LtxVideoTransformer3DModelConfig};

/// Latent frames of a multi-frame condition placed at a non-zero index that become extra
/// tokens (the rest are pinned in place), as `prepare_latents`' `num_prefix_latent_frames`.
const NUM_PREFIX_LATENT_FRAMES: i64 = 2;

/// Turns prompts into the transformer's `encoder_hidden_states`.
pub trait TextEncoder: Send + Sync {
    /// Embeddings `[B, L, D]` and attention mask `[B, L]` (1 = token, 0 = padding), each prompt
    /// padded to `max_length` tokens. A longer prompt is an error that says so, never a silent cut.
    fn encode(&self, prompts: &[&str], max_length: usize) -> Result<(Tensor, Tensor), ModelError>;
}

/// T5 (`text_encoder/`) with its tokenizer (`tokenizer/`), as LTX-Video ships them.
pub struct T5TextEncoder {
    pub tokenizer: PromptTokenizer,
    pub model: T5EncoderModel,
}

// SAFETY: the weights are read-only after loading; libtorch inference on shared tensors is
// thread-safe (grad mode is thread-local).
unsafe impl Send for T5TextEncoder {}
unsafe impl Sync for T5TextEncoder {}

impl TextEncoder for T5TextEncoder {
    fn encode(&self, prompts: &[&str], max_length: usize) -> Result<(Tensor, Tensor), ModelError> {
        let mut ids = Vec::with_capacity(prompts.len());
        let mut masks = Vec::with_capacity(prompts.len());
        for prompt in prompts {
            let (i, m) = self.tokenizer.encode(prompt, max_length)?;
            ids.push(i);
            masks.push(m);
        }
        let device = self.model.device();
        let ids = Tensor::f_cat(&ids, 0)?.f_to_device(device)?;
        let mask = Tensor::f_cat(&masks, 0)?.f_to_device(device)?;
        let embeds = tch::no_grad(|| self.model.forward(&ids, Some(&mask)))?;
        Ok((embeds, mask))
    }
}

/// A BERT encoder (all-MiniLM-L6-v2 for `genvideo-mini`) as a prompt encoder: the per-token
/// `last_hidden_state` `[B, L, hidden]` of [`BertModel`] (not the sentence-transformers mean-pooled
/// vector), mask 1/0, each prompt `[CLS] ... [SEP]` padded to `max_length` with `[PAD]`. A prompt
/// longer than `max_length` tokens is an error that says so, never a silent cut.
///
/// Public for training code: embeddings computed with [`BertTextEncoder::load`] and
/// [`TextEncoder::encode`] are exactly what [`LtxPipeline`] feeds the transformer at inference
/// (the pipeline loads it in fp32 whatever the pipeline's kind, and casts the states afterwards).
pub struct BertTextEncoder {
    pub tokenizer: PromptTokenizer,
    pub model: BertModel,
    _vs: VarStore,
}

// SAFETY: as for T5TextEncoder: read-only weights, thread-safe libtorch inference.
unsafe impl Send for BertTextEncoder {}
unsafe impl Sync for BertTextEncoder {}

impl BertTextEncoder {
    /// A transformers BERT folder (`config.json`, safetensors weights, `tokenizer.json`), e.g.
    /// `weights/all-minilm-l6-v2`, on `device` in `kind`.
    pub fn load(dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        Self::load_parts(dir, dir, device, kind)
    }

    /// The model from `model_dir` and the tokenizer from `tokenizer_dir` (a diffusers pipeline
    /// keeps them in `text_encoder/` and `tokenizer/`).
    pub fn load_parts(model_dir: &Path, tokenizer_dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        let tokenizer = PromptTokenizer::load(tokenizer_dir)?;
        let (model, vs) = BertModel::load(model_dir, device, kind)?;
        Ok(Self { tokenizer, model, _vs: vs })
    }

    /// Width of the token states (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> i64 {
        self.model.config().hidden_size
    }

    /// The longest `max_length` the position embeddings allow (512).
    pub fn max_positions(&self) -> usize {
        self.model.config().max_position_embeddings as usize
    }
}

impl TextEncoder for BertTextEncoder {
    fn encode(&self, prompts: &[&str], max_length: usize) -> Result<(Tensor, Tensor), ModelError> {
        if max_length > self.max_positions() {
            return Err(ModelError::InvalidInput(format!(
                "max_length {max_length} exceeds the text encoder's {} positions",
                self.max_positions()
            )));
        }
        let e = self.tokenizer.encode_batch(prompts, max_length)?;
        let states = self.model.forward(&e.input_ids, &e.attention_mask, Some(&e.token_type_ids))?;
        Ok((states, e.attention_mask.f_to_device(self.model.device())?))
    }
}

/// Where the random numbers come from. Every draw is a standard normal tensor on the CPU in
/// float32 (moved to the device by the caller), in a fixed order per request.
pub trait NoiseSource {
    fn randn(&mut self, shape: &[i64]) -> Result<Tensor, ModelError>;
}

/// The production source: draw `i` of a request with seed `s` is libtorch's normal generator
/// seeded from `(s, i)`, so results do not depend on which thread renders or on other
/// concurrent generations (the libtorch generator is process-wide; `rng::seeded` serialises
/// the seed-and-draw pair against every other draw).
pub struct SeededNoise {
    seed: u64,
    draws: u64,
}

impl SeededNoise {
    pub fn new(seed: u64) -> Self {
        Self { seed, draws: 0 }
    }
}

impl NoiseSource for SeededNoise {
    fn randn(&mut self, shape: &[i64]) -> Result<Tensor, ModelError> {
        // splitmix64 of (seed, draw) keeps neighbouring seeds' streams unrelated.
        let mut z = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(self.draws + 1));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        self.draws += 1;
        Ok(crate::rng::seeded((z >> 1) as i64, || Tensor::f_randn(shape, (Kind::Float, Device::Cpu)))?)
    }
}

/// Frames pinned at `frame_index` of the output with `strength` (1 = keep exactly).
pub struct Condition {
    /// `[3, F, H, W]` in [0, 1], at the output resolution; F = 1 + 8k (trimmed otherwise).
    pub frames: Tensor,
    pub frame_index: i64,
    pub strength: f64,
}

/// Everything one generation needs besides the models. Defaults are diffusers'.
pub struct GenerationRequest {
    pub prompt: String,
    pub negative_prompt: String,
    pub width: i64,
    pub height: i64,
    pub num_frames: i64,
    pub frame_rate: f64,
    pub num_inference_steps: usize,
    pub guidance_scale: f64,
    pub guidance_rescale: f64,
    pub image_cond_noise_scale: f64,
    pub decode_timestep: f64,
    pub decode_noise_scale: Option<f64>,
    pub conditions: Vec<Condition>,
}

impl Default for GenerationRequest {
    fn default() -> Self {
        Self {
            prompt: String::new(),
            negative_prompt: String::new(),
            width: 704,
            height: 512,
            num_frames: 161,
            frame_rate: 25.0,
            num_inference_steps: 50,
            guidance_scale: 3.0,
            guidance_rescale: 0.0,
            image_cond_noise_scale: 0.15,
            decode_timestep: 0.0,
            decode_noise_scale: None,
            conditions: Vec::new(),
        }
    }
}

/// What a progress callback sees; returning `false` cancels between steps.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
}

#[derive(serde::Deserialize)]
struct ModelIndex {
    #[serde(rename = "_class_name")]
    class_name: Option<String>,
    #[serde(rename = "_genvideo", default)]
    genvideo: Option<GenvideoMeta>,
}

/// `model_index.json`'s optional `_genvideo` object: what a GenVideo-trained model (the embedded
/// `genvideo-mini`) declares beyond diffusers' layout. Every field is optional; a plain LTX-Video
/// checkpoint has none of them.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct GenvideoMeta {
    /// Display name (manifests, messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text encoder folder, relative to the model folder (or absolute), used when the model
    /// folder has no `text_encoder/`; e.g. `"../all-minilm-l6-v2"` (beside it in the bundle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_encoder_folder: Option<String>,
    /// Prompt length in tokens (default 256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sequence_length: Option<usize>,
    /// The size the model was trained at, in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_height: Option<i64>,
    /// The frame rate of its training clips (the `video_coords` time scale).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    /// Frames per training clip (1 + 8k).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_frames: Option<i64>,
    /// Recommended denoising steps and guidance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_inference_steps: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance_scale: Option<f64>,
}

impl GenvideoMeta {
    /// The longest side of the native sample size, when the model declares one.
    pub fn sample_longest_side(&self) -> Option<i64> {
        match (self.sample_width, self.sample_height) {
            (Some(w), Some(h)) => Some(w.max(h)),
            (Some(s), None) | (None, Some(s)) => Some(s),
            (None, None) => None,
        }
    }
}

pub struct LtxPipeline {
    pub transformer: LtxVideoTransformer3DModel,
    pub vae: AutoencoderKlLtxVideo,
    pub text_encoder: Box<dyn TextEncoder>,
    pub scheduler_config: FlowMatchEulerDiscreteSchedulerConfig,
    /// Prompt length in tokens (LTXConditionPipeline's default is 256; `_genvideo` may set it).
    pub max_sequence_length: usize,
    /// `model_index.json`'s `_genvideo` object (all `None` for a plain LTX-Video checkpoint).
    pub meta: GenvideoMeta,
    pub device: Device,
    pub kind: Kind,
}

const PIPELINES: [&str; 3] = ["LTXPipeline", "LTXConditionPipeline", "LTXImageToVideoPipeline"];

impl LtxPipeline {
    /// Loads a diffusers LTX-Video folder (`model_index.json` with `transformer/`, `vae/`,
    /// `scheduler/` and a text encoder). The text encoder is `text_encoder/` (with `tokenizer/`)
    /// when the folder has one, else the folder that `model_index.json`'s
    /// `_genvideo.text_encoder_folder` names (relative to `dir`); T5 or BERT by its `config.json`'s
    /// `model_type`.
    pub fn load(dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        let meta = read_index(dir)?;
        let own = dir.join("text_encoder");
        let text_encoder_dir = if own.is_dir() {
            own
        } else if let Some(folder) = meta.text_encoder_folder.as_deref() {
            let p = dir.join(folder);
            if !p.is_dir() {
                return Err(ModelError::InvalidConfig(format!(
                    "{}: the text encoder folder {} (model_index.json's _genvideo.text_encoder_folder {folder:?}) \
                     does not exist",
                    dir.display(),
                    p.display()
                )));
            }
            p.canonicalize().unwrap_or(p)
        } else {
            return Err(ModelError::InvalidConfig(format!(
                "{}: the text_encoder/ folder is missing (and model_index.json names no _genvideo.text_encoder_folder)",
                dir.display()
            )));
        };
        Self::assemble(dir, meta, &text_encoder_dir, device, kind)
    }

    /// As [`Self::load`], with the text encoder taken from `text_encoder_dir` whatever the model
    /// folder says (the plugin's bundle, evaluation tools that know where all-MiniLM-L6-v2 is).
    /// Its tokenizer is `text_encoder_dir/tokenizer.json`, else `dir/tokenizer/`.
    pub fn load_with_text_encoder(dir: &Path, text_encoder_dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        let meta = read_index(dir)?;
        if !text_encoder_dir.is_dir() {
            return Err(ModelError::InvalidConfig(format!(
                "the text encoder folder {} does not exist",
                text_encoder_dir.display()
            )));
        }
        Self::assemble(dir, meta, text_encoder_dir, device, kind)
    }

    fn assemble(dir: &Path, meta: GenvideoMeta, text_encoder_dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        let sub = |name: &str| -> Result<PathBuf, ModelError> {
            let p = dir.join(name);
            if p.is_dir() {
                Ok(p)
            } else {
                Err(ModelError::InvalidConfig(format!("{}: the {name}/ folder is missing", dir.display())))
            }
        };
        let max_sequence_length = meta.max_sequence_length.unwrap_or(256);
        if max_sequence_length == 0 {
            return Err(ModelError::InvalidConfig(format!(
                "{}: _genvideo.max_sequence_length must be at least 1",
                dir.join("model_index.json").display()
            )));
        }
        let scheduler_config: FlowMatchEulerDiscreteSchedulerConfig =
            read_json(&sub("scheduler")?.join("scheduler_config.json"))?;
        FlowMatchEulerDiscreteScheduler::new(scheduler_config.clone())?;
        let transformer = LtxVideoTransformer3DModel::load(&sub("transformer")?, device, kind)?;
        let vae = AutoencoderKlLtxVideo::load(&sub("vae")?, device, kind)?;
        let (text_encoder, width) = load_text_encoder(dir, text_encoder_dir, max_sequence_length, device, kind)?;
        let caption = transformer.config.caption_channels;
        if width != caption {
            return Err(ModelError::InvalidConfig(format!(
                "the text encoder {} gives {width}-wide token states but the transformer in {} expects \
                 caption_channels {caption}",
                text_encoder_dir.display(),
                dir.display()
            )));
        }
        check_patching(dir, &transformer.config, vae.config.latent_channels)?;
        let pipe = Self { transformer, vae, text_encoder, scheduler_config, max_sequence_length, meta, device, kind };
        pipe.check_meta(dir)?;
        Ok(pipe)
    }

    /// `_genvideo`'s geometry must be something this pipeline can generate.
    fn check_meta(&self, dir: &Path) -> Result<(), ModelError> {
        let (s, t) = (self.spatial_ratio(), self.temporal_ratio());
        let bad = |what: String| {
            Err(ModelError::InvalidConfig(format!("{}: _genvideo.{what}", dir.join("model_index.json").display())))
        };
        for (name, v) in [("sample_width", self.meta.sample_width), ("sample_height", self.meta.sample_height)] {
            if let Some(v) = v.filter(|&v| v < s || v % s != 0) {
                return bad(format!("{name} {v} is not a positive multiple of {s}"));
            }
        }
        if let Some(n) = self.meta.num_frames.filter(|&n| n < 1 || (n - 1) % t != 0) {
            return bad(format!("num_frames {n} is not 1 + {t}k"));
        }
        if let Some(r) = self.meta.frame_rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return bad(format!("frame_rate {r} is not a positive number"));
        }
        Ok(())
    }

    /// A request at the model's own defaults: `_genvideo`'s sample size, frame count, frame rate,
    /// steps and guidance where it gives them, diffusers' otherwise.
    pub fn default_request(&self, prompt: &str) -> GenerationRequest {
        let d = GenerationRequest::default();
        let m = &self.meta;
        GenerationRequest {
            prompt: prompt.to_owned(),
            width: m.sample_width.unwrap_or(d.width),
            height: m.sample_height.unwrap_or(d.height),
            num_frames: m.num_frames.unwrap_or(d.num_frames),
            frame_rate: m.frame_rate.unwrap_or(d.frame_rate),
            num_inference_steps: m.num_inference_steps.unwrap_or(d.num_inference_steps),
            guidance_scale: m.guidance_scale.unwrap_or(d.guidance_scale),
            ..d
        }
    }

    /// Pixels per token side (the VAE's compression times the transformer's patch): widths and
    /// heights are multiples of it.
    pub fn spatial_ratio(&self) -> i64 {
        self.vae.spatial_compression_ratio() * self.transformer.config.patch_size
    }

    pub fn temporal_ratio(&self) -> i64 {
        self.vae.temporal_compression_ratio()
    }

    fn patch(&self) -> (i64, i64) {
        (self.transformer.config.patch_size, self.transformer.config.patch_size_t)
    }

    /// Checks a request's geometry and conditions before any work, with messages that say what
    /// would be valid.
    pub fn validate(&self, req: &GenerationRequest) -> Result<(), ModelError> {
        let (s, t) = (self.spatial_ratio(), self.temporal_ratio());
        if req.width < s || req.height < s || req.width % s != 0 || req.height % s != 0 {
            return Err(ModelError::InvalidInput(format!(
                "{}x{} is not a multiple of {s} in both directions (try {}x{})",
                req.width,
                req.height,
                (req.width / s).max(1) * s,
                (req.height / s).max(1) * s
            )));
        }
        if req.num_frames < 1 || (req.num_frames - 1) % t != 0 {
            let k = ((req.num_frames - 1).max(0) + t / 2) / t;
            return Err(ModelError::InvalidInput(format!(
                "{} frames: the model generates 1 + {t}k frames (try {})",
                req.num_frames,
                k * t + 1
            )));
        }
        if req.num_inference_steps == 0 {
            return Err(ModelError::InvalidInput("at least one denoising step is needed".into()));
        }
        for (i, c) in req.conditions.iter().enumerate() {
            let size = c.frames.size();
            if size.len() != 4 || size[0] != 3 || size[2] != req.height || size[3] != req.width {
                return Err(ModelError::InvalidInput(format!(
                    "condition {i}: frames are {size:?}; expected [3, F, {}, {}]",
                    req.height, req.width
                )));
            }
            if c.frame_index < 0 || c.frame_index >= req.num_frames {
                return Err(ModelError::InvalidInput(format!(
                    "condition {i}: frame index {} is outside the {} generated frames",
                    c.frame_index, req.num_frames
                )));
            }
            if !(0.0..=1.0).contains(&c.strength) {
                return Err(ModelError::InvalidInput(format!("condition {i}: strength {} is not in [0, 1]", c.strength)));
            }
            let usable = trimmed_frames(size[1], c.frame_index, req.num_frames, t);
            if usable < 1 {
                return Err(ModelError::InvalidInput(format!("condition {i}: no frames to condition on")));
            }
            if c.frame_index != 0 && size[1] > 1 && (usable - 1) / t + 1 < NUM_PREFIX_LATENT_FRAMES {
                return Err(ModelError::InvalidInput(format!(
                    "condition {i}: a clip placed at frame {} needs at least {} frames (it has {})",
                    c.frame_index,
                    (NUM_PREFIX_LATENT_FRAMES - 1) * t + 1,
                    size[1]
                )));
            }
            if c.frames.f_isnan()?.f_any()?.int64_value(&[]) != 0 {
                return Err(ModelError::InvalidInput(format!("condition {i}: frames contain NaN")));
            }
        }
        Ok(())
    }

    /// Runs the whole pipeline: frames `[F, 3, H, W]` in [0, 1] on the pipeline's device.
    pub fn generate(
        &self,
        req: &GenerationRequest,
        noise: &mut dyn NoiseSource,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Tensor, ModelError> {
        self.validate(req)?;
        tch::no_grad(|| self.generate_inner(req, noise, progress)).map_err(|e| {
            if e.is_out_of_memory() {
                let (w, h) = fitting_size(req.width, req.height, self.spatial_ratio());
                ModelError::OutOfMemory {
                    what: format!("generating {} frames at {}x{} on {:?}", req.num_frames, req.width, req.height, self.device),
                    advice: format!(
                        "about half the pixels would fit: try {w}x{h} (a smaller longest side), or fewer frames, \
                         or close other programs using the device"
                    ),
                }
            } else {
                e
            }
        })
    }

    fn generate_inner(
        &self,
        req: &GenerationRequest,
        noise: &mut dyn NoiseSource,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Tensor, ModelError> {
        let dev = self.device;
        let (s, t) = (self.vae.spatial_compression_ratio(), self.temporal_ratio());
        let (p, pt) = self.patch();
        let cfg = req.guidance_scale > 1.0;

        // Text.
        let max_len = self.max_sequence_length;
        let (mut embeds, mut mask) = self.text_encoder.encode(&[req.prompt.as_str()], max_len)?;
        if cfg {
            let (neg, neg_mask) = self.text_encoder.encode(&[req.negative_prompt.as_str()], max_len)?;
            embeds = Tensor::f_cat(&[neg, embeds], 0)?;
            mask = Tensor::f_cat(&[neg_mask, mask], 0)?;
        }
        let embeds = embeds.f_to_kind(self.kind)?;

        // Schedule.
        let (lf, lh, lw) = ((req.num_frames - 1) / t + 1, req.height / s, req.width / s);
        let mut scheduler = FlowMatchEulerDiscreteScheduler::new(self.scheduler_config.clone())?;
        if self.scheduler_config.use_dynamic_shifting {
            let n = req.num_inference_steps;
            let sigmas: Vec<f64> =
                (0..n).map(|i| 1.0 - i as f64 * (1.0 - 1.0 / n as f64) / (n.max(2) - 1) as f64).collect();
            let mu = scheduler.calculate_shift(lf * lh * lw);
            scheduler.set_timesteps(Some(n), Some(&sigmas), Some(mu), None)?;
        } else {
            let timesteps: Vec<f64> = linear_quadratic_schedule(req.num_inference_steps, 0.025, None)
                .into_iter()
                .map(|s| (s as f32 * 1000.0) as f64)
                .collect();
            scheduler.set_timesteps(None, None, None, Some(&timesteps))?;
        }

        // Latents and conditioning (prepare_latents).
        // The VAE's channels, not the transformer's in_channels as diffusers has it: the two differ
        // by the patch (diffusers' pipelines run only patch_size 1).
        let shape = [1, self.vae.config.latent_channels, lf, lh, lw];
        let mut latents = noise.randn(&shape)?.f_to_device(dev)?;
        let conditioning = !req.conditions.is_empty();
        let frame_mask = Tensor::f_zeros([1, lf], (Kind::Float, dev))?;
        let mut extra_latents = Vec::new();
        let mut extra_coords = Vec::new();
        let mut extra_masks = Vec::new();
        for c in &req.conditions {
            let usable = trimmed_frames(c.frames.size()[1], c.frame_index, req.num_frames, t);
            let video = c
                .frames
                .f_narrow(1, 0, usable)?
                .f_unsqueeze(0)?
                .f_to_device(dev)?
                .f_to_kind(self.kind)?
                .f_mul_scalar(2.0)?
                .f_sub_scalar(1.0)?;
            let encoded = self.vae.encode(&video)?;
            let mut cond = self.vae.normalize_latents(&encoded, 1.0)?.f_to_kind(Kind::Float)?;
            let n_cond = cond.size()[2];
            if c.frame_index == 0 {
                let head = latents.f_narrow(2, 0, n_cond)?;
                let mixed = head.f_lerp(&cond, c.strength)?;
                latents = Tensor::f_cat(&[mixed, latents.f_narrow(2, n_cond, lf - n_cond)?], 2)?;
                let _ = frame_mask.f_narrow(1, 0, n_cond)?.f_fill_(c.strength)?;
                continue;
            }
            if usable > 1 && n_cond > NUM_PREFIX_LATENT_FRAMES {
                let start = c.frame_index / t + NUM_PREFIX_LATENT_FRAMES;
                let count = (n_cond - NUM_PREFIX_LATENT_FRAMES).min(lf - start);
                if count > 0 {
                    let pinned = cond.f_narrow(2, NUM_PREFIX_LATENT_FRAMES, count)?;
                    let mixed = latents.f_narrow(2, start, count)?.f_lerp(&pinned, c.strength)?;
                    latents = Tensor::f_cat(
                        &[latents.f_narrow(2, 0, start)?, mixed, latents.f_narrow(2, start + count, lf - start - count)?],
                        2,
                    )?;
                    let _ = frame_mask.f_narrow(1, start, count)?.f_fill_(c.strength)?;
                }
                cond = cond.f_narrow(2, 0, NUM_PREFIX_LATENT_FRAMES)?;
            }
            let n = noise.randn(&cond.size())?.f_to_device(dev)?;
            let cond = n.f_lerp(&cond, c.strength)?;
            let coords = scale_video_ids(&video_ids(cond.size()[2], lh, lw, p, pt, dev)?, s, t, c.frame_index)?;
            let packed = pack_latents(&cond, p, pt)?;
            extra_masks.push(Tensor::f_full([1, packed.size()[1]], c.strength, (Kind::Float, dev))?);
            extra_latents.push(packed);
            extra_coords.push(coords);
        }
        let ids = video_ids(lf, lh, lw, p, pt, dev)?;
        let mut cond_mask =
            if conditioning { Some(frame_mask.f_gather(1, &ids.f_select(1, 0)?, false)?) } else { None };
        let mut coords = scale_video_ids(&ids, s, t, 0)?;
        let mut latents = pack_latents(&latents, p, pt)?;
        let extra_tokens: i64 = extra_latents.iter().map(|l| l.size()[1]).sum();
        if !extra_latents.is_empty() {
            extra_latents.push(latents);
            latents = Tensor::f_cat(&extra_latents, 1)?;
            extra_coords.push(coords);
            coords = Tensor::f_cat(&extra_coords, 2)?;
            if let Some(m) = cond_mask.take() {
                extra_masks.push(m);
                cond_mask = Some(Tensor::f_cat(&extra_masks, 1)?);
            }
        }
        let coords = coords.f_to_kind(Kind::Float)?;
        let time = coords.f_select(1, 0)?.f_mul_scalar(1.0 / req.frame_rate)?;
        coords.f_select(1, 0)?.f_copy_(&time)?;
        let init_latents = if conditioning { Some(latents.f_detach_copy()?) } else { None };
        let batch = if cfg { 2 } else { 1 };
        let coords = if cfg { Tensor::f_cat(&[&coords, &coords], 0)? } else { coords };

        // Denoising.
        let timesteps = scheduler.timesteps.clone();
        let total = timesteps.len();
        if !progress(Progress { step: 0, total }) {
            return Err(ModelError::Cancelled);
        }
        for (i, &tv) in timesteps.iter().enumerate() {
            if let (Some(init), Some(m)) = (&init_latents, &cond_mask) {
                if req.image_cond_noise_scale > 0.0 {
                    // Timestep-dependent noise on hard-pinned tokens helps motion continuity.
                    let n = noise.randn(&latents.size())?.f_to_device(dev)?;
                    let tt = tv / 1000.0;
                    let noised = init.f_add(&n.f_mul_scalar(req.image_cond_noise_scale * tt * tt)?)?;
                    let hard = m.f_gt(1.0 - 1e-6)?.f_unsqueeze(-1)?;
                    latents = noised.f_where_self(&hard, &latents)?;
                }
            }
            let input = if cfg { Tensor::f_cat(&[&latents, &latents], 0)? } else { latents.shallow_clone() };
            let input = input.f_to_kind(self.kind)?;
            let t_tensor = Tensor::f_full([batch, 1], tv as f32 as f64, (Kind::Float, dev))?;
            let timestep = match &cond_mask {
                Some(m) => {
                    let m = if cfg { Tensor::f_cat(&[m, m], 0)? } else { m.shallow_clone() };
                    t_tensor.f_minimum(&m.f_neg()?.f_add_scalar(1.0)?.f_mul_scalar(1000.0)?)?
                }
                None => t_tensor,
            };
            let pred = self.transformer.forward(
                &input,
                &embeds,
                &timestep,
                Some(&mask),
                lf,
                lh,
                lw,
                (1.0, 1.0, 1.0),
                Some(&coords),
            )?;
            let pred = pred.f_to_kind(Kind::Float)?;
            let (pred, timestep) = if cfg {
                let parts = pred.f_chunk(2, 0)?;
                let (uncond, text) = (&parts[0], &parts[1]);
                let mut guided = uncond.f_add(&text.f_sub(uncond)?.f_mul_scalar(req.guidance_scale)?)?;
                if req.guidance_rescale > 0.0 {
                    guided = rescale_noise_cfg(&guided, text, req.guidance_rescale)?;
                }
                (guided, timestep.f_chunk(2, 0)?.swap_remove(0))
            } else {
                (pred, timestep)
            };
            let denoised = sampler_step(&mut scheduler, &pred, tv, &latents, &timestep, noise)?;
            latents = match &cond_mask {
                Some(m) => {
                    let threshold = Tensor::from((tv / 1000.0 - 1e-6) as f32).f_to_device(dev)?;
                    let active = m.f_neg()?.f_add_scalar(1.0)?.f_gt_tensor(&threshold)?;
                    denoised.f_where_self(&active.f_unsqueeze(-1)?, &latents)?
                }
                None => denoised,
            };
            if !progress(Progress { step: i + 1, total }) {
                return Err(ModelError::Cancelled);
            }
        }

        // Decode.
        let latents = latents.f_narrow(1, extra_tokens, latents.size()[1] - extra_tokens)?;
        let latents = unpack_latents(&latents, lf / pt, lh / p, lw / p, p, pt)?;
        let scaling = self.vae.config.scaling_factor;
        let mut latents = self.vae.denormalize_latents(&latents, scaling)?.f_to_kind(self.kind)?;
        let temb = if self.vae.config.timestep_conditioning {
            let n = noise.randn(&latents.size())?.f_to_device(dev)?.f_to_kind(self.kind)?;
            let scale = req.decode_noise_scale.unwrap_or(req.decode_timestep);
            latents = latents.f_mul_scalar(1.0 - scale)?.f_add(&n.f_mul_scalar(scale)?)?;
            Some(Tensor::f_full([1], req.decode_timestep, (self.kind, dev))?)
        } else {
            None
        };
        let video = self.vae.decode(&latents, temb.as_ref())?;
        // [1, 3, F, H, W] in [-1, 1] -> [F, 3, H, W] in [0, 1]
        Ok(video
            .f_squeeze_dim(0)?
            .f_permute([1, 0, 2, 3])?
            .f_to_kind(Kind::Float)?
            .f_mul_scalar(0.5)?
            .f_add_scalar(0.5)?
            .f_clamp(0.0, 1.0)?)
    }
}

/// Reads `dir/model_index.json`: checks the pipeline class and returns its `_genvideo` object.
fn read_index(dir: &Path) -> Result<GenvideoMeta, ModelError> {
    let index_path = dir.join("model_index.json");
    if !index_path.is_file() {
        return Err(ModelError::InvalidConfig(format!(
            "{} is not a diffusers pipeline folder (no model_index.json)",
            dir.display()
        )));
    }
    let index: ModelIndex = read_json(&index_path)?;
    let class = index.class_name.unwrap_or_default();
    if !PIPELINES.contains(&class.as_str()) {
        return Err(ModelError::InvalidConfig(format!(
            "{} holds a {class:?} pipeline; expected one of {}",
            dir.display(),
            PIPELINES.join(", ")
        )));
    }
    Ok(index.genvideo.unwrap_or_default())
}

#[derive(serde::Deserialize)]
struct EncoderConfig {
    model_type: Option<String>,
}

/// The text encoder in `encoder_dir` by its `config.json`'s `model_type` ("t5" or "bert"), with
/// its token-state width. The tokenizer is `encoder_dir/tokenizer.json` when there is one, else
/// the pipeline's `tokenizer/` folder (diffusers' layout). BERT runs in fp32 whatever `kind`
/// (it is small, and its states then match the ones a trainer computes with [`BertTextEncoder`]).
fn load_text_encoder(
    dir: &Path,
    encoder_dir: &Path,
    max_sequence_length: usize,
    device: Device,
    kind: Kind,
) -> Result<(Box<dyn TextEncoder>, i64), ModelError> {
    let config_path = encoder_dir.join("config.json");
    if !config_path.is_file() {
        return Err(ModelError::InvalidConfig(format!(
            "the text encoder folder {} has no config.json",
            encoder_dir.display()
        )));
    }
    let config: EncoderConfig = read_json(&config_path)?;
    let tokenizer_dir = if encoder_dir.join("tokenizer.json").is_file() || !dir.join("tokenizer").is_dir() {
        encoder_dir.to_owned()
    } else {
        dir.join("tokenizer")
    };
    match config.model_type.as_deref() {
        Some("t5") => {
            let tokenizer = PromptTokenizer::load(&tokenizer_dir)?;
            let model = T5EncoderModel::load(encoder_dir, device, kind)?;
            let width = model.config().d_model;
            Ok((Box::new(T5TextEncoder { tokenizer, model }), width))
        }
        Some("bert") => {
            let encoder = BertTextEncoder::load_parts(encoder_dir, &tokenizer_dir, device, Kind::Float)?;
            if max_sequence_length > encoder.max_positions() {
                return Err(ModelError::InvalidConfig(format!(
                    "{}: max_sequence_length {max_sequence_length} exceeds the BERT text encoder's {} positions",
                    dir.display(),
                    encoder.max_positions()
                )));
            }
            let width = encoder.dim();
            Ok((Box::new(encoder), width))
        }
        other => Err(ModelError::InvalidConfig(format!(
            "{}: text encoder model_type {} is not supported (\"t5\" or \"bert\")",
            config_path.display(),
            other.map_or_else(|| "(none)".to_owned(), |t| format!("{t:?}"))
        ))),
    }
}

/// Which end of a chained generation is generated first (and so anchors the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainDirection {
    /// Chunk by chunk from frame 0, each conditioned on the tail of the previous one.
    Forward,
    /// From the last frame back, each chunk conditioned on the head of the one after it
    /// (Extend backward: the anchor is the clip that follows).
    Backward,
}

impl LtxPipeline {
    /// Generates `req.num_frames` frames in chunks of at most `max_chunk` frames (1 + 8k), each
    /// chunk after the first conditioned on the `overlap` frames it shares with its neighbour, so
    /// outputs far longer than the model's window (a minute) stay continuous. `req.conditions`
    /// are placed in whichever chunks they fall into. Progress counts steps over all chunks.
    pub fn generate_chained(
        &self,
        req: &GenerationRequest,
        max_chunk: i64,
        overlap: i64,
        direction: ChainDirection,
        noise: &mut dyn NoiseSource,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<Tensor, ModelError> {
        let t = self.temporal_ratio();
        let max_chunk = (max_chunk.max(t + 1) - 1) / t * t + 1;
        let total = req.num_frames;
        if total <= max_chunk {
            return self.generate(req, noise, progress);
        }
        if overlap < 1 || (overlap - 1) % t != 0 || overlap >= max_chunk {
            return Err(ModelError::InvalidInput(format!(
                "chain overlap must be 1 + {t}k frames and shorter than a chunk ({max_chunk}); got {overlap}"
            )));
        }
        let step = max_chunk - overlap;
        let chunks = 1 + ((total - max_chunk) + step - 1) / step;
        let steps_total = chunks as usize * req.num_inference_steps;
        let mut frames: Option<Tensor> = None;
        // Output frames generated so far: [covered.0, covered.1).
        let mut covered = (0i64, 0i64);
        for c in 0..chunks {
            let len = if c == 0 { max_chunk } else { (total - (covered.1 - covered.0) + overlap).min(max_chunk) };
            let len = (len - 1 + t - 1) / t * t + 1;
            let start = match direction {
                ChainDirection::Forward => {
                    if c == 0 {
                        0
                    } else {
                        covered.1 - overlap
                    }
                }
                ChainDirection::Backward => {
                    if c == 0 {
                        total - len
                    } else {
                        covered.0 + overlap - len
                    }
                }
            };
            let mut conditions = Vec::new();
            if let Some(done) = &frames {
                let (context, index) = match direction {
                    ChainDirection::Forward => (done.f_narrow(0, done.size()[0] - overlap, overlap)?, 0),
                    ChainDirection::Backward => (done.f_narrow(0, 0, overlap)?, len - overlap),
                };
                conditions.push(Condition { frames: context.f_permute([1, 0, 2, 3])?, frame_index: index, strength: 1.0 });
            }
            for cond in &req.conditions {
                let at = cond.frame_index - start;
                if (0..len).contains(&at) {
                    conditions.push(Condition { frames: cond.frames.shallow_clone(), frame_index: at, strength: cond.strength });
                }
            }
            let chunk_req = GenerationRequest {
                prompt: req.prompt.clone(),
                negative_prompt: req.negative_prompt.clone(),
                num_frames: len,
                conditions,
                ..*req
            };
            let offset = c as usize * req.num_inference_steps;
            let mut chunk_progress = |p: Progress| progress(Progress { step: offset + p.step, total: steps_total });
            let out = self.generate(&chunk_req, noise, &mut chunk_progress)?;
            frames = Some(match (frames, direction) {
                (None, _) => out,
                (Some(done), ChainDirection::Forward) => Tensor::f_cat(&[done, out.f_narrow(0, overlap, len - overlap)?], 0)?,
                (Some(done), ChainDirection::Backward) => Tensor::f_cat(&[out.f_narrow(0, 0, len - overlap)?, done], 0)?,
            });
            covered = match direction {
                ChainDirection::Forward => (0, start + len),
                ChainDirection::Backward => (start, total),
            };
            if covered.1 - covered.0 >= total {
                break;
            }
        }
        let frames = frames.ok_or_else(|| ModelError::InvalidInput("nothing to generate".into()))?;
        let n = frames.size()[0];
        Ok(match direction {
            ChainDirection::Forward => frames.f_narrow(0, 0, total)?,
            ChainDirection::Backward => frames.f_narrow(0, n - total, total)?,
        })
    }
}

/// One sampler step of tokens `latents` (`[B, N, C]`) at their own noise levels `timestep`
/// (`[B, N]`, 0..num_train_timesteps) from the transformer's velocity `pred` (noise - x0):
/// Euler along the velocity, or with the scheduler's `stochastic_sampling` the clean estimate
/// noised afresh to the next level.
fn sampler_step(
    scheduler: &mut FlowMatchEulerDiscreteScheduler,
    pred: &Tensor,
    tv: f64,
    latents: &Tensor,
    timestep: &Tensor,
    noise: &mut dyn NoiseSource,
) -> Result<Tensor, ModelError> {
    // diffusers' per-token Euler branch steps by `current - next` and so takes the negated
    // velocity, as its LTX pipelines pass it; its stochastic branch reads the output as the
    // velocity itself (`x0 = sample - sigma * output`), so the negated one would step away from x0.
    if scheduler.config.stochastic_sampling {
        let fresh = noise.randn(&latents.size())?.f_to_device(latents.device())?;
        scheduler.step(pred, tv, latents, Some(timestep), Some(&fresh))
    } else {
        scheduler.step(&pred.f_neg()?, tv, latents, Some(timestep), None)
    }
}

/// A size with about half the pixels of `w` x `h`, same aspect, multiples of `ratio`: attention
/// memory grows faster than linearly in tokens, so half the pixels is a safe next try.
pub fn fitting_size(w: i64, h: i64, ratio: i64) -> (i64, i64) {
    let scale = std::f64::consts::FRAC_1_SQRT_2;
    let round = |v: i64| (((v as f64 * scale) / ratio as f64).floor() as i64).max(1) * ratio;
    (round(w), round(h))
}

/// Frames of a condition that the pipeline uses: no more than fit after `start`, cut down to
/// 1 + k * ratio (`trim_conditioning_sequence`).
fn trimmed_frames(frames: i64, start: i64, target: i64, ratio: i64) -> i64 {
    let n = frames.min(target - start);
    if n < 1 {
        return 0;
    }
    (n - 1) / ratio * ratio + 1
}

/// A transformer token is a `patch_size_t x patch_size x patch_size` patch of VAE latents, so its
/// width is the VAE's channels times the patch. Conditions are pinned per latent frame, so a token
/// spans one (`patch_size_t` 1).
fn check_patching(dir: &Path, c: &LtxVideoTransformer3DModelConfig, latent_channels: i64) -> Result<(), ModelError> {
    let config = dir.join("transformer").join("config.json");
    if c.patch_size_t != 1 {
        return Err(ModelError::InvalidConfig(format!(
            "{}: patch_size_t {} is not supported (conditions are pinned per latent frame; use 1)",
            config.display(),
            c.patch_size_t
        )));
    }
    let token = latent_channels * c.patch_size * c.patch_size;
    if c.in_channels != token || c.out_channels() != token {
        return Err(ModelError::InvalidConfig(format!(
            "{}: in_channels {} and out_channels {} must both be the VAE's latent_channels {latent_channels} times \
             patch_size {} squared ({token})",
            config.display(),
            c.in_channels,
            c.out_channels(),
            c.patch_size
        )));
    }
    Ok(())
}

/// `[B, C, F, H, W]` -> `[B, F/pt * H/p * W/p, C * pt * p * p]` (`_pack_latents`).
pub fn pack_latents(latents: &Tensor, p: i64, pt: i64) -> Result<Tensor, ModelError> {
    let [b, _, f, h, w] = dims5(latents)?;
    Ok(latents
        .f_reshape([b, -1, f / pt, pt, h / p, p, w / p, p])?
        .f_permute([0, 2, 4, 6, 1, 3, 5, 7])?
        .f_flatten(4, 7)?
        .f_flatten(1, 3)?)
}

/// Inverse of [`pack_latents`] (`_unpack_latents`).
pub fn unpack_latents(latents: &Tensor, f: i64, h: i64, w: i64, p: i64, pt: i64) -> Result<Tensor, ModelError> {
    let b = latents.size()[0];
    Ok(latents
        .f_reshape([b, f, h, w, -1, pt, p, p])?
        .f_permute([0, 4, 1, 5, 2, 6, 3, 7])?
        .f_flatten(6, 7)?
        .f_flatten(4, 5)?
        .f_flatten(2, 3)?)
}

fn dims5(t: &Tensor) -> Result<[i64; 5], ModelError> {
    t.size()
        .try_into()
        .map_err(|_| ModelError::InvalidInput(format!("expected a 5-d latent tensor, got {:?}", t.size())))
}

/// Latent-grid coordinates `[1, 3, N]` (frame, row, column) of each token (`_prepare_video_ids`).
/// The `video_coords` the pipeline gives the transformer for an unconditioned `[lf, lh, lw]`
/// latent grid cut into `(p, pt)` patches: `[1, 3, N]` float (seconds, pixels, pixels), so
/// training sees exactly the coordinates inference will use.
pub fn latent_coords(
    (lf, lh, lw): (i64, i64, i64),
    (p, pt): (i64, i64),
    spatial_ratio: i64,
    temporal_ratio: i64,
    frame_rate: f64,
    device: Device,
) -> Result<Tensor, ModelError> {
    let coords = scale_video_ids(&video_ids(lf, lh, lw, p, pt, device)?, spatial_ratio, temporal_ratio, 0)?
        .f_to_kind(Kind::Float)?;
    let time = coords.f_select(1, 0)?.f_mul_scalar(1.0 / frame_rate)?;
    coords.f_select(1, 0)?.f_copy_(&time)?;
    Ok(coords)
}

fn video_ids(f: i64, h: i64, w: i64, p: i64, pt: i64, dev: Device) -> Result<Tensor, ModelError> {
    let opts = (Kind::Int64, dev);
    let grid = Tensor::f_meshgrid_indexing(
        &[
            Tensor::f_arange_start_step(0, f, pt, opts)?,
            Tensor::f_arange_start_step(0, h, p, opts)?,
            Tensor::f_arange_start_step(0, w, p, opts)?,
        ],
        "ij",
    )?;
    Ok(Tensor::f_stack(&grid, 0)?.f_unsqueeze(0)?.f_reshape([1, 3, -1])?)
}

/// Latent coordinates to pixel coordinates; the causal first latent frame covers pixel frame 0
/// (`_scale_video_ids`).
fn scale_video_ids(ids: &Tensor, s: i64, t: i64, frame_index: i64) -> Result<Tensor, ModelError> {
    let scale = Tensor::f_from_slice(&[t, s, s])?.f_to_device(ids.device())?.f_view([1, 3, 1])?;
    let scaled = ids.f_mul(&scale)?;
    let frames = scaled.f_select(1, 0)?.f_add_scalar(1 - t)?.f_clamp_min(0)?.f_add_scalar(frame_index)?;
    scaled.f_select(1, 0)?.f_copy_(&frames)?;
    Ok(scaled)
}

/// Guidance rescale (Lin et al. 2023, section 3.4), as diffusers' `rescale_noise_cfg`.
fn rescale_noise_cfg(cfg: &Tensor, text: &Tensor, rescale: f64) -> Result<Tensor, ModelError> {
    let dims: Vec<i64> = (1..text.dim() as i64).collect();
    let std_text = text.f_std_dim(dims.as_slice(), true, true)?;
    let std_cfg = cfg.f_std_dim(dims.as_slice(), true, true)?;
    let rescaled = cfg.f_mul(&std_text.f_div(&std_cfg)?)?;
    Ok(rescaled.f_mul_scalar(rescale)?.f_add(&cfg.f_mul_scalar(1.0 - rescale)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out the given tensors in turn, whatever shape is asked (the test asks for theirs).
    struct Fixed(Vec<Tensor>);

    impl NoiseSource for Fixed {
        fn randn(&mut self, _shape: &[i64]) -> Result<Tensor, ModelError> {
            Ok(self.0.remove(0))
        }
    }

    /// Given the exact velocity of a straight path from x0 to the noise, an Euler step lands on
    /// that path at the next level, and a stochastic step on the path from x0 to the fresh noise.
    #[test]
    fn sampler_steps_follow_the_exact_velocity() {
        for stochastic in [false, true] {
            let config = FlowMatchEulerDiscreteSchedulerConfig { stochastic_sampling: stochastic, ..Default::default() };
            let mut scheduler = FlowMatchEulerDiscreteScheduler::new(config).unwrap();
            scheduler.set_timesteps(Some(4), None, None, None).unwrap();
            let (tv, sigma, next) = (scheduler.timesteps[1], scheduler.sigmas[1], scheduler.sigmas[2]);
            let (x0, eps, fresh) = (crate::rng::randn(&[1, 6, 4]), crate::rng::randn(&[1, 6, 4]), crate::rng::randn(&[1, 6, 4]));
            let latents = &x0 * (1.0 - sigma) + &eps * sigma;
            let timestep = Tensor::full([1, 6], tv, (Kind::Float, Device::Cpu));
            let mut noise = Fixed(vec![fresh.shallow_clone()]);
            let stepped = sampler_step(&mut scheduler, &(&eps - &x0), tv, &latents, &timestep, &mut noise).unwrap();
            let target = if stochastic { &fresh } else { &eps };
            let want = &x0 * (1.0 - next) + target * next;
            assert!(stepped.allclose(&want, 1e-5, 1e-5, false), "stochastic {stochastic}");
        }
    }

    #[test]
    fn pack_and_unpack_are_inverse() {
        let x = crate::rng::randn(&[1, 4, 3, 4, 6]);
        for (p, pt) in [(1, 1), (2, 1), (2, 3)] {
            let packed = pack_latents(&x, p, pt).unwrap();
            assert_eq!(packed.size(), [1, 3 / pt * 4 / p * 6 / p, 4 * p * p * pt]);
            let back = unpack_latents(&packed, 3 / pt, 4 / p, 6 / p, p, pt).unwrap();
            assert!(back.equal(&x));
        }
    }

    #[test]
    fn video_ids_place_the_causal_first_frame_at_zero() {
        let ids = video_ids(3, 2, 2, 1, 1, Device::Cpu).unwrap();
        let scaled = scale_video_ids(&ids, 32, 8, 0).unwrap();
        let frames: Vec<i64> = Vec::try_from(scaled.select(1, 0).reshape([-1])).unwrap();
        assert_eq!(frames, vec![0, 0, 0, 0, 1, 1, 1, 1, 9, 9, 9, 9]);
        let shifted: Vec<i64> =
            Vec::try_from(scale_video_ids(&ids, 32, 8, 40).unwrap().select(1, 0).reshape([-1])).unwrap();
        assert_eq!(shifted[0], 40);
        let cols: Vec<i64> = Vec::try_from(scaled.select(1, 2).reshape([-1])).unwrap();
        assert_eq!(&cols[..4], &[0, 32, 0, 32]);
    }

    #[test]
    fn out_of_memory_advice_halves_the_pixels() {
        assert_eq!(fitting_size(1280, 704, 32), (896, 480));
        assert_eq!(fitting_size(64, 64, 32), (32, 32));
        let oom = ModelError::Torch(tch::TchError::Torch("CUDA out of memory. Tried to allocate 2.00 GiB".into()));
        assert!(oom.is_out_of_memory());
        assert!(!ModelError::Cancelled.is_out_of_memory());
    }

    #[test]
    fn conditions_are_trimmed_to_one_plus_8k() {
        assert_eq!(trimmed_frames(20, 0, 121, 8), 17);
        assert_eq!(trimmed_frames(20, 110, 121, 8), 9);
        assert_eq!(trimmed_frames(5, 121, 121, 8), 0);
        assert_eq!(trimmed_frames(1, 60, 121, 8), 1);
    }

    #[test]
    fn tokens_are_the_vae_latents_times_the_patch() {
        let c = LtxVideoTransformer3DModelConfig { in_channels: 128, out_channels: Some(128), patch_size: 2, ..Default::default() };
        assert!(check_patching(Path::new("m"), &c, 32).is_ok());
        let e = check_patching(Path::new("m"), &c, 128).unwrap_err().to_string();
        assert!(e.contains("latent_channels 128 times patch_size 2 squared (512)"), "{e}");
        let e = check_patching(Path::new("m"), &LtxVideoTransformer3DModelConfig { patch_size_t: 2, ..c }, 32).unwrap_err();
        assert!(e.to_string().contains("patch_size_t 2 is not supported"), "{e}");
    }

    #[test]
    fn seeded_noise_is_reproducible_and_differs_per_draw() {
        let a1 = SeededNoise::new(7).randn(&[64]).unwrap();
        let mut b = SeededNoise::new(7);
        let b1 = b.randn(&[64]).unwrap();
        let b2 = b.randn(&[64]).unwrap();
        assert!(a1.equal(&b1));
        assert!(!b1.equal(&b2));
        assert!(!SeededNoise::new(8).randn(&[64]).unwrap().equal(&a1));
    }
}
