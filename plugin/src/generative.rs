//! Generate, Extend and long-gap Infill: turn the instance's parameters into one generation
//! request per segment, generate it once (see `segments`), and serve each Render from it.
//!
//! Geometry: the model works at a multiple of its spatial ratio (32) no larger than the
//! user's "Longest side", and 1 + 8k frames; the bridge resizes to the host's frame size and
//! the effect drops the extra frames, so the user never sees these constraints.
//!
//! A model that declares its training geometry in `model_index.json`'s `_genvideo` (the embedded
//! `genvideo-mini`: 128x128, 49 frames at 24 fps) is used the way it was trained: the longest side
//! is also capped at its native `max(sample_width, sample_height)` (a smaller "Longest side" still
//! wins; the host's aspect is kept), chained chunks are at most its `num_frames`, and the time axis
//! of its positions uses its `frame_rate` whatever the host's (the frames are then played at the
//! host's rate). Steps and Guidance stay the user's parameters. Plain LTX-Video checkpoints
//! declare none of this and keep the behaviour above.
use std::sync::Arc;

use bridge::effect::{Clip, ImageEffect, MessageKind};
use bridge::ofx::*;
use models::pipeline_ltx::{ChainDirection, Condition, GenerationRequest, GenvideoMeta, LtxPipeline, Progress, SeededNoise};
use models::seam::{self, Residual};
use safety::provenance;
use safety::watermark::{self, MarkClass};
use tch::Tensor;

use crate::frames::{write_display, ColorChoice, SourceFrames};
use crate::segments::{self, KeyHasher, Segment};
use crate::{params, runtime, Effect, PluginError};

/// Frames the model generates in one go; longer outputs are chained chunks.
const MAX_CHUNK: i64 = 121;
/// Frames shared by neighbouring chunks (and source frames Extend conditions on): 1 + 8 * 2.
const OVERLAP: i64 = 17;

/// The parameters every generative effect shares, read once per action.
pub struct GenSettings {
    pub prompt: String,
    pub negative_prompt: String,
    pub seed: u64,
    pub steps: usize,
    pub guidance: f64,
    pub model_dir: String,
    pub max_side: i64,
    pub color: ColorChoice,
}

impl GenSettings {
    pub fn read(fx: &ImageEffect, time: f64, effect: Effect) -> Result<Self, PluginError> {
        let set = fx.params()?;
        let negative_prompt = match effect {
            Effect::Generate => set.param(params::NEGATIVE_PROMPT)?.string_at(time)?,
            _ => String::new(),
        };
        Ok(Self {
            prompt: set.param(params::PROMPT)?.string_at(time)?,
            negative_prompt,
            seed: set.param(params::SEED)?.int_at(time)?.max(0) as u64,
            steps: set.param(params::STEPS)?.int_at(time)?.max(1) as usize,
            guidance: set.param(params::GUIDANCE)?.double_at(time)?,
            model_dir: set.param(params::MODEL_DIR)?.string_at(time)?.trim().to_owned(),
            max_side: set.param(params::MAX_SIDE)?.int_at(time)?.max(64) as i64,
            color: ColorChoice::from_index(set.param(params::COLOR_SPACE)?.int_at(time)?),
        })
    }

    /// The settings and the loaded model's identity (folder and weights files).
    fn hash_into(&self, h: &mut KeyHasher, pipe: &runtime::SharedPipeline) {
        h.str(&self.prompt).str(&self.negative_prompt).num(self.seed as f64).num(self.steps as f64);
        h.num(self.guidance).str(&self.model_dir).num(self.max_side as f64).str(&pipe.identity);
    }
}

/// The longest side the model works at: the user's "Longest side", capped at the model's native
/// sample size when it declares one (`_genvideo.sample_width/height`).
pub fn working_side(meta: &GenvideoMeta, max_side: i64) -> i64 {
    match meta.sample_longest_side() {
        Some(native) => max_side.min(native),
        None => max_side,
    }
}

/// The frame rate the model's positions are computed for: its training rate when it declares one,
/// else the clip's.
pub fn model_rate(meta: &GenvideoMeta, clip_rate: f64) -> f64 {
    meta.frame_rate.unwrap_or(clip_rate)
}

/// Frames per chained chunk: [`MAX_CHUNK`], or the model's training clip length if shorter (and
/// still longer than the overlap).
pub fn max_chunk(meta: &GenvideoMeta) -> i64 {
    meta.num_frames.filter(|&n| n > OVERLAP).map_or(MAX_CHUNK, |n| n.min(MAX_CHUNK))
}

/// The model's working size for a `w` x `h` frame: the same aspect, longest side at most
/// `max_side`, both sides multiples of `ratio`.
pub fn model_size(w: i64, h: i64, max_side: i64, ratio: i64) -> (i64, i64) {
    let scale = (max_side as f64 / w.max(h) as f64).min(1.0);
    let round = |v: i64| (((v as f64 * scale) / ratio as f64).round() as i64).max(1) * ratio;
    (round(w), round(h))
}

/// The smallest 1 + 8k frame count that holds `n` frames.
pub fn model_frames(n: i64, ratio: i64) -> i64 {
    (n.max(1) - 1 + ratio - 1) / ratio * ratio + 1
}

/// `[3, H, W]` (or `[F, 3, H, W]`) resized to `h` x `w`; antialiased when shrinking.
pub fn resize(frame: &Tensor, h: i64, w: i64) -> Result<Tensor, PluginError> {
    let size = frame.size();
    let (fh, fw) = (size[size.len() - 2], size[size.len() - 1]);
    if (fh, fw) == (h, w) {
        return Ok(frame.shallow_clone());
    }
    let batched = if size.len() == 3 { frame.f_unsqueeze(0)? } else { frame.shallow_clone() };
    let out = if h < fh || w < fw {
        batched.f_internal_upsample_bilinear2d_aa([h, w], false, None, None)?
    } else {
        batched.f_upsample_bilinear2d([h, w], false, None, None)?
    };
    Ok(if size.len() == 3 { out.f_squeeze_dim(0)? } else { out }.f_clamp(0.0, 1.0)?)
}

fn full_size(clip: &Clip, time: f64) -> Result<(i64, i64), PluginError> {
    let rod = clip.region_of_definition(time)?;
    let (w, h) = ((rod.x2 - rod.x1).round() as i64, (rod.y2 - rod.y1).round() as i64);
    if w < 1 || h < 1 {
        return Err(PluginError::Input(format!("the {} clip has an empty frame ({w}x{h})", clip.name().to_string_lossy())));
    }
    Ok((w, h))
}

fn output_clip(fx: &ImageEffect) -> Result<Clip, PluginError> {
    fx.clip(kOfxImageEffectOutputClipName)?.ok_or_else(|| PluginError::Input("the host has no Output clip".into()))
}

fn connected_source(fx: &ImageEffect) -> Result<Option<Clip>, PluginError> {
    Ok(match fx.clip(kOfxImageEffectSimpleSourceClipName) {
        Ok(Some(c)) if c.connected() => Some(c),
        _ => None,
    })
}

/// Shorter side below which generated frames are upscaled before the watermark goes in.
const MARK_MIN_SIDE: i64 = 256;

/// `rgb` `[3, H, W]` (display-referred) with the invisible watermark of `class` embedded, so any
/// frame the model made or interpolated can be recognised later (`host-sim detect`). Frames
/// smaller than the mark's minimum side (thumbnails) are returned unmarked.
pub fn mark(rgb: &Tensor, class: MarkClass) -> Result<Tensor, PluginError> {
    let (h, w) = (rgb.size()[1] as usize, rgb.size()[2] as usize);
    if h < watermark::MIN_SIDE || w < watermark::MIN_SIDE {
        return Ok(rgb.shallow_clone());
    }
    let interleaved = rgb.f_permute([1, 2, 0])?.f_contiguous()?.f_to_kind(tch::Kind::Float)?.f_view([-1])?;
    let mut pixels = Vec::<f32>::try_from(&interleaved).map_err(models::ModelError::from)?;
    watermark::embed(&mut pixels, w, h, 3, class).map_err(|e| PluginError::Input(format!("watermark: {e}")))?;
    Ok(Tensor::f_from_slice(&pixels)?.f_view([h as i64, w as i64, 3])?.f_permute([2, 0, 1])?.f_contiguous()?)
}

/// Writes segment frame `index` into the output image at `time`, resized to the image.
fn write_frame(
    fx: &ImageEffect,
    segment: &Segment,
    index: usize,
    time: f64,
    window: OfxRectI,
    color: ColorChoice,
) -> Result<(), PluginError> {
    let frame = segment
        .frames
        .get(index)
        .ok_or_else(|| PluginError::Input(format!("frame {index} is outside the generated segment")))?;
    let mut out = output_clip(fx)?
        .image(time, None)?
        .ok_or_else(|| PluginError::Input(format!("the host gave no output image for frame {time}")))?;
    let b = out.bounds()?;
    let full = resize(frame, (b.y2 - b.y1) as i64, (b.x2 - b.x1) as i64)?;
    // The window is in the image's pixel coordinates (y up); the tensor's row 0 is the top.
    let (x0, x1) = ((window.x1 - b.x1) as i64, (window.x2 - b.x1) as i64);
    let (top, bottom) = ((b.y2 - window.y2) as i64, (b.y2 - window.y1) as i64);
    let cropped = full.f_narrow(2, x0, x1 - x0)?.f_narrow(1, top, bottom - top)?;
    write_display(&cropped, None, &mut out, window, color)?;
    Ok(())
}

/// Runs a generation with host progress and abort, through the safety policy.
fn run(
    fx: &ImageEffect,
    label: &str,
    pipe: &LtxPipeline,
    req: &GenerationRequest,
    seed: u64,
    direction: ChainDirection,
) -> Result<Tensor, PluginError> {
    let progress = fx.progress(label);
    let mut on_step = |p: Progress| p.total == 0 || progress.update(p.step as f64 / p.total as f64);
    let mut noise = SeededNoise::new(seed);
    let _serial = runtime::generation_lock(&|| fx.aborted())?;
    let frames = pipe.generate_chained(req, max_chunk(&pipe.meta), OVERLAP, direction, &mut noise, &mut on_step)?;
    Ok(frames.f_to_device(tch::Device::Cpu)?)
}

/// Writes the C2PA sidecar for a generated segment: `<effect>-<key>.c2pa` in
/// `GENVIDEO_MANIFEST_DIR` (default `~/.cache/genvideo/manifests`), signed with the studio's
/// credentials (`GENVIDEO_C2PA_*`) or the bundle's project certificate. Hosts own their render
/// caches, so the sidecar records each frame's pixel digest to tie it to the content. A failure
/// is reported as a warning; it does not fail the render.
fn write_manifest(
    fx: &ImageEffect,
    effect: Effect,
    key: u64,
    s: &GenSettings,
    pipe: &runtime::SharedPipeline,
    segment: &Segment,
    class: MarkClass,
) {
    let result = (|| -> Result<std::path::PathBuf, String> {
        let dir = match std::env::var_os("GENVIDEO_MANIFEST_DIR") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::path::PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?).join(".cache/genvideo/manifests"),
        };
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut info = provenance::ManifestInfo::new(effect.identifier().to_string_lossy(), class, &pipe.model, &pipe.version);
        info.parameters = vec![
            ("prompt".into(), s.prompt.clone()),
            ("negativePrompt".into(), s.negative_prompt.clone()),
            ("seed".into(), s.seed.to_string()),
            ("steps".into(), s.steps.to_string()),
            ("guidance".into(), s.guidance.to_string()),
            ("modelDir".into(), s.model_dir.clone()),
            ("maxSide".into(), s.max_side.to_string()),
        ];
        info.generator = format!("GenVideo OpenFX plugin {}", env!("CARGO_PKG_VERSION"));
        for (i, frame) in segment.frames.iter().enumerate() {
            let flat = frame.f_contiguous().and_then(|f| f.f_view([-1])).map_err(|e| e.to_string())?;
            let pixels = Vec::<f32>::try_from(&flat).map_err(|e| e.to_string())?;
            info.frames.push(provenance::FrameRecord { time: i as f64, sha256: provenance::pixel_digest(&pixels) });
        }
        let creds = if std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("GENVIDEO_C2PA_")) {
            provenance::Credentials::load()
        } else {
            let bundled = runtime::resources_dir().map_err(|e| e.to_string())?.join("c2pa");
            provenance::Credentials::from_dir(&bundled)
        }
        .map_err(|e| e.to_string())?;
        let path = dir.join(format!("{}-{key:016x}.c2pa", effect.label().to_lowercase()));
        provenance::write_sidecar_with(&path, &info, &creds).map_err(|e| e.to_string())?;
        Ok(path)
    })();
    match result {
        Ok(path) => fx.message(MessageKind::Log, &format!("GenVideo: provenance manifest {}", path.display())),
        Err(e) => fx.message(MessageKind::Warning, &format!("GenVideo: could not write the provenance manifest: {e}")),
    }
}

/// The cached form of a generation: one marked frame per entry. The mark goes in at the model's
/// resolution, where the detail that hides it is the model's own, before any upscaling smooths it.
/// A real frame next to (or inside) a generated segment, and the model's rendition of it from the
/// same generation, at any size: the seam between footage and segment is joined through it.
struct Anchor {
    /// Position on the segment's timeline (-1: just before its first frame).
    at: i64,
    real: Tensor,
    made: Tensor,
}

/// The segment the user sees from generated frames `[F, 3, H, W]`: joined to the real frames
/// around it (`models::seam`; `reach` frames for a lone anchor, the distance between two),
/// upscaled for the watermark, and marked.
fn segment_from(
    fx: &ImageEffect,
    frames: Tensor,
    anchors: &[Anchor],
    reach: f64,
    class: MarkClass,
    description: String,
) -> Result<Segment, PluginError> {
    fx.message(MessageKind::Log, &format!("GenVideo: {description}"));
    let n = frames.size()[0];
    // A mark embedded at a small working size (the embedded model's 128 px) does not survive the
    // upscale to the frame: small segments are upscaled first, so the mark goes in at a size it
    // survives from, whatever the host then asks for.
    let (h, w) = (frames.size()[2], frames.size()[3]);
    let grow = (MARK_MIN_SIDE as f64 / h.min(w) as f64).max(1.0);
    let (mh, mw) = ((h as f64 * grow).round() as i64, (w as f64 * grow).round() as i64);
    // Residuals at the marking size, so the footage's detail up to it is carried across the seam
    // (and into the mark), not just the working size's.
    let residuals = anchors
        .iter()
        .map(|a| Ok(Residual::new(a.at, &resize(&a.real, mh, mw)?, &resize(&a.made, mh, mw)?)?))
        .collect::<Result<Vec<_>, PluginError>>()?;
    let frames = (0..n)
        .map(|i| {
            let joined = seam::carry(&resize(&frames.f_get(i)?, mh, mw)?, i, &residuals, reach)?.f_clamp(0.0, 1.0)?;
            mark(&joined, class)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Segment { frames })
}

fn frame_rate(clip: &Clip) -> f64 {
    clip.frame_rate().ok().filter(|r| r.is_finite() && *r > 0.0).unwrap_or(24.0)
}

/// Generate: a clip from the prompt, or the connected Source still brought to life.
pub mod generate {
    use super::*;

    pub fn duration_frames(fx: &ImageEffect, time: f64) -> Result<i64, PluginError> {
        let seconds = fx.params()?.param(params::DURATION)?.double_at(time)?;
        let fps = frame_rate(&output_clip(fx)?);
        Ok(((seconds * fps).round() as i64).max(1))
    }

    /// General context: the clip is as long as the duration asks.
    pub fn time_domain(fx: &ImageEffect) -> Result<(f64, f64), PluginError> {
        Ok((0.0, (duration_frames(fx, 0.0)? - 1) as f64))
    }

    pub fn render(fx: &ImageEffect, time: f64, window: OfxRectI) -> Result<(), PluginError> {
        let s = GenSettings::read(fx, time, Effect::Generate)?;
        let out_clip = output_clip(fx)?;
        let first = out_clip.frame_range().map(|r| r.0).unwrap_or(0.0);
        let n = duration_frames(fx, time)?;
        let index = ((time - first).round() as i64).clamp(0, n - 1);
        let (w, h) = full_size(&out_clip, first)?;
        let fps = frame_rate(&out_clip);
        let pipe = runtime::pipeline(&s.model_dir)?;
        runtime::check_prompt(&s.prompt)?;
        let (gw, gh) = model_size(w, h, working_side(&pipe.meta, s.max_side), pipe.spatial_ratio());
        let source = connected_source(fx)?;

        let mut key = KeyHasher::default();
        key.str("generate").num(n as f64).num(gw as f64).num(gh as f64).num(fps);
        s.hash_into(&mut key, &pipe);
        let still = match &source {
            Some(src) => {
                let at = src.frame_range().map(|r| r.0).unwrap_or(first);
                let window = src_window(src, at)?;
                let mut frames = SourceFrames::new(src, window, s.color);
                let frame = frames.require(at.round() as i64)?;
                let still = resize(&frame.display, gh, gw)?;
                key.tensor(&still)?;
                key.tensor(&frame.display)?;
                Some((still, frame.display.shallow_clone()))
            }
            None => None,
        };
        let segment = segments::get_or_make(key.finish(), &|| fx.aborted(), || {
            let id = key.finish();
            let conditions = still
                .iter()
                .map(|(f, _)| Condition { frames: f.unsqueeze(1), frame_index: 0, strength: 1.0 })
                .collect();
            let req = GenerationRequest {
                prompt: s.prompt.clone(),
                negative_prompt: s.negative_prompt.clone(),
                width: gw,
                height: gh,
                num_frames: model_frames(n, pipe.temporal_ratio()),
                frame_rate: model_rate(&pipe.meta, fps),
                num_inference_steps: s.steps,
                guidance_scale: s.guidance,
                conditions,
                ..Default::default()
            };
            let frames = run(fx, "Generate: denoising", &pipe, &req, s.seed, ChainDirection::Forward)?;
            // Animating a still: its first frame is the still itself, and the next ones follow on.
            let anchors: Vec<Anchor> =
                still.iter().map(|(_, full)| Ok(Anchor { at: 0, real: full.shallow_clone(), made: frames.f_get(0)? })).collect::<Result<_, PluginError>>()?;
            let what = format!("Generate {n} frames at {gw}x{gh}");
            let seg = segment_from(fx, frames.f_narrow(0, 0, n)?, &anchors, seam::REACH, MarkClass::Generate, what)?;
            write_manifest(fx, Effect::Generate, id, &s, &pipe, &seg, MarkClass::Generate);
            Ok(seg)
        })?;
        write_frame(fx, &segment, index as usize, time, window, s.color)
    }
}

/// The full frame of a source clip at `time`, in pixels.
fn src_window(src: &Clip, time: f64) -> Result<OfxRectI, PluginError> {
    let rod = src.region_of_definition(time)?;
    Ok(OfxRectI { x1: rod.x1.floor() as i32, y1: rod.y1.floor() as i32, x2: rod.x2.ceil() as i32, y2: rod.y2.ceil() as i32 })
}

/// Extend: the clip continued forward or backward by generated frames, in place.
pub mod extend {
    use super::*;

    struct Plan {
        forward: bool,
        count: i64,
        range: (i64, i64),
    }

    fn plan(fx: &ImageEffect, time: f64) -> Result<(Plan, Clip), PluginError> {
        let set = fx.params()?;
        let forward = set.param(params::DIRECTION)?.int_at(time)? == 0;
        let count = set.param(params::EXTEND_FRAMES)?.int_at(time)?.max(1) as i64;
        let src = connected_source(fx)?
            .ok_or_else(|| PluginError::Input("connect the clip to continue to Source".into()))?;
        let (a, b) = src.frame_range()?;
        Ok((Plan { forward, count, range: (a.round() as i64, b.round() as i64) }, src))
    }

    pub fn time_domain(fx: &ImageEffect) -> Result<(f64, f64), PluginError> {
        let (p, _) = plan(fx, 0.0)?;
        let (a, b) = p.range;
        Ok(if p.forward { (a as f64, (b + p.count) as f64) } else { ((a - p.count) as f64, b as f64) })
    }

    pub fn frames_needed(fx: &ImageEffect, time: f64) -> Result<(f64, f64), PluginError> {
        let (p, _) = plan(fx, time)?;
        let (a, b) = p.range;
        let t = time.round() as i64;
        Ok(if (a..=b).contains(&t) {
            (t as f64, t as f64)
        } else if p.forward {
            ((b - OVERLAP + 1).max(a) as f64, b as f64)
        } else {
            (a as f64, (a + OVERLAP - 1).min(b) as f64)
        })
    }

    pub fn render(fx: &ImageEffect, time: f64, window: OfxRectI) -> Result<(), PluginError> {
        let s = GenSettings::read(fx, time, Effect::Extend)?;
        let (p, src) = plan(fx, time)?;
        let (a, b) = p.range;
        let t = time.round() as i64;
        if (a..=b).contains(&t) {
            // Inside the source: pass it through untouched.
            let mut frames = SourceFrames::new(&src, window, s.color);
            let f = frames.require(t)?;
            let mut out = output_clip(fx)?
                .image(time, None)?
                .ok_or_else(|| PluginError::Input(format!("the host gave no output image for frame {t}")))?;
            return frames.write(&f.display, f.alpha.as_ref(), &mut out);
        }
        // Hosts that ignore GetTimeDomain: the user lengthens the clip and every frame past the
        // source's end (or before its start) up to the requested count is generated.
        let offset = if p.forward { t - b } else { a - t };
        if offset < 1 || offset > p.count {
            return Err(PluginError::Input(format!(
                "frame {t} is more than {} frames {} the source; raise 'Frames' to extend further",
                p.count,
                if p.forward { "after" } else { "before" }
            )));
        }
        let pipe = runtime::pipeline(&s.model_dir)?;
        runtime::check_prompt(&s.prompt)?;
        let (w, h) = full_size(&src, a as f64)?;
        let (gw, gh) = model_size(w, h, working_side(&pipe.meta, s.max_side), pipe.spatial_ratio());
        let ratio = pipe.temporal_ratio();
        let available = b - a + 1;
        let k = (available.min(OVERLAP) - 1) / ratio * ratio + 1;
        let context_frames: Vec<i64> = if p.forward { (b - k + 1..=b).collect() } else { (a..a + k).collect() };
        let full = src_window(&src, a as f64)?;
        let mut frames = SourceFrames::new(&src, full, s.color);
        let mut context = Vec::with_capacity(k as usize);
        // The source frame the new ones continue from, at full size, to join the seam.
        let mut nearest = None;
        for f in &context_frames {
            let display = &frames.require(*f)?.display;
            context.push(resize(display, gh, gw)?);
            if *f == if p.forward { b } else { a } {
                nearest = Some(display.shallow_clone());
            }
        }
        let nearest = nearest.ok_or_else(|| PluginError::Input("Extend: no source frame to continue from".into()))?;
        let context = Tensor::f_stack(&context, 1)?; // [3, K, H, W]
        let total = model_frames(k + p.count, ratio);
        let mut key = KeyHasher::default();
        key.str("extend").num(p.forward as u8 as f64).num(p.count as f64).num(gw as f64).num(gh as f64);
        key.tensor(&context)?.tensor(&nearest)?;
        s.hash_into(&mut key, &pipe);
        let fps = frame_rate(&src);
        let segment = segments::get_or_make(key.finish(), &|| fx.aborted(), || {
            let id = key.finish();
            let req = GenerationRequest {
                prompt: s.prompt.clone(),
                negative_prompt: String::new(),
                width: gw,
                height: gh,
                num_frames: total,
                frame_rate: model_rate(&pipe.meta, fps),
                num_inference_steps: s.steps,
                guidance_scale: s.guidance,
                conditions: vec![Condition {
                    frames: context.shallow_clone(),
                    frame_index: if p.forward { 0 } else { total - k },
                    strength: 1.0,
                }],
                ..Default::default()
            };
            let direction = if p.forward { ChainDirection::Forward } else { ChainDirection::Backward };
            let out = run(fx, "Extend: denoising", &pipe, &req, s.seed, direction)?;
            // Keep only the new frames, nearest the source first.
            let (new, made) = if p.forward {
                (out.f_narrow(0, k, p.count)?, out.f_get(k - 1)?)
            } else {
                (out.f_narrow(0, total - k - p.count, p.count)?.f_flip([0])?, out.f_get(total - k)?)
            };
            let what = format!("Extend {} {} frames at {gw}x{gh}", if p.forward { "forward" } else { "backward" }, p.count);
            let anchor = Anchor { at: -1, real: nearest.shallow_clone(), made };
            let seg = segment_from(fx, new, &[anchor], seam::REACH, MarkClass::Extend, what)?;
            write_manifest(fx, Effect::Extend, id, &s, &pipe, &seg, MarkClass::Extend);
            Ok(seg)
        })?;
        write_frame(fx, &segment, (offset - 1) as usize, time, window, s.color)
    }
}

/// Long-gap Infill: the frames between two good keyframes, generated with both pinned.
pub fn infill_gap(
    fx: &ImageEffect,
    time: f64,
    window: OfxRectI,
    frames: &mut SourceFrames,
    before: i64,
    after: i64,
) -> Result<Option<Arc<Segment>>, PluginError> {
    let s = GenSettings::read(fx, time, Effect::Infill)?;
    if s.model_dir.is_empty() && !runtime::embedded_model_available() {
        // A bundle without the embedded model (or with it removed): long gaps stay on RIFE.
        fx.message(
            MessageKind::Log,
            &format!("Infill: no embedded model in this bundle; frames {}-{} are interpolated", before + 1, after - 1),
        );
        return Ok(None);
    }
    let pipe = runtime::pipeline(&s.model_dir)?;
    runtime::check_prompt(&s.prompt)?;
    let first = frames.require(before)?;
    let last = frames.require(after)?;
    let (h, w) = (first.display.size()[1], first.display.size()[2]);
    let (gw, gh) = model_size(w, h, working_side(&pipe.meta, s.max_side), pipe.spatial_ratio());
    let a = resize(&first.display, gh, gw)?;
    let b = resize(&last.display, gh, gw)?;
    let gap = after - before - 1;
    let total = model_frames(gap + 2, pipe.temporal_ratio());
    let mut key = KeyHasher::default();
    key.str("infill").num(gap as f64).num(gw as f64).num(gh as f64).num(window.x1 as f64).num(window.y1 as f64);
    key.tensor(&a)?.tensor(&b)?.tensor(&first.display)?.tensor(&last.display)?;
    s.hash_into(&mut key, &pipe);
    let segment = segments::get_or_make(key.finish(), &|| fx.aborted(), || {
        let id = key.finish();
        let req = GenerationRequest {
            prompt: s.prompt.clone(),
            width: gw,
            height: gh,
            num_frames: total,
            frame_rate: model_rate(&pipe.meta, GenerationRequest::default().frame_rate),
            num_inference_steps: s.steps,
            guidance_scale: s.guidance,
            conditions: vec![
                Condition { frames: a.unsqueeze(1), frame_index: 0, strength: 1.0 },
                Condition { frames: b.unsqueeze(1), frame_index: gap + 1, strength: 1.0 },
            ],
            ..Default::default()
        };
        let out = run(fx, "Infill: generating the gap", &pipe, &req, s.seed, ChainDirection::Forward)?;
        let filled = resize(&out.f_narrow(0, 1, gap)?, h, w)?;
        fx.message(MessageKind::Log, &format!("Infill: generated frames {}-{}", before + 1, after - 1));
        // Both keyframes' residuals, interpolated across the gap, so it meets each of them.
        let anchors = [
            Anchor { at: -1, real: first.display.shallow_clone(), made: out.f_get(0)? },
            Anchor { at: gap, real: last.display.shallow_clone(), made: out.f_get(gap + 1)? },
        ];
        let what = format!("Infill {gap} frames between {before} and {after}");
        let seg = segment_from(fx, filled, &anchors, (gap + 1) as f64, MarkClass::InfillGenerative, what)?;
        write_manifest(fx, Effect::Infill, id, &s, &pipe, &seg, MarkClass::InfillGenerative);
        Ok(seg)
    })?;
    Ok(Some(segment))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mini() -> GenvideoMeta {
        GenvideoMeta {
            sample_width: Some(256),
            sample_height: Some(256),
            frame_rate: Some(24.0),
            num_frames: Some(49),
            ..Default::default()
        }
    }

    #[test]
    fn a_model_with_a_native_size_works_at_most_at_it_and_keeps_the_aspect() {
        let meta = mini();
        // Default 'Longest side' (768): capped at 256, the host's aspect kept.
        assert_eq!(model_size(1920, 1080, working_side(&meta, 768), 32), (256, 160));
        assert_eq!(model_size(640, 272, working_side(&meta, 768), 32), (256, 96));
        assert_eq!(model_size(256, 256, working_side(&meta, 768), 32), (256, 256));
        // A smaller 'Longest side' still wins.
        assert_eq!(model_size(1920, 1080, working_side(&meta, 128), 32), (128, 64));
        // A plain LTX-Video checkpoint declares nothing: the user's size, the clip's rate, 121-frame chunks.
        let plain = GenvideoMeta::default();
        assert_eq!(model_size(1920, 1080, working_side(&plain, 768), 32), (768, 448));
        assert_eq!(model_rate(&plain, 25.0), 25.0);
        assert_eq!(max_chunk(&plain), MAX_CHUNK);
        assert_eq!(model_rate(&meta, 25.0), 24.0);
        assert_eq!(max_chunk(&meta), 49);
        assert_eq!(max_chunk(&GenvideoMeta { num_frames: Some(9), ..Default::default() }), MAX_CHUNK);
    }
}
