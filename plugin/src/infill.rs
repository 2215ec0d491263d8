//! Infill: rebuilds bad frames from their good neighbours with RIFE, or adds in-betweens.
use std::collections::BTreeSet;

use bridge::effect::{ImageEffect, MessageKind};
use bridge::ofx::*;
use safety::watermark::MarkClass;
use tch::Tensor;

use crate::frames::{ColorChoice, SourceFrames};
use crate::infill_plan::{self, FramePlan, RepairPolicy};
use crate::{frame_list, generative, params, runtime, PluginError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Repair,
    Retime,
}

/// The instance's parameters at one time, read once per action.
struct Settings {
    mode: Mode,
    listed: BTreeSet<i64>,
    detect_duplicates: bool,
    detect_black: bool,
    duplicate_threshold: f64,
    black_threshold: f64,
    policy: RepairPolicy,
    inbetweens: i64,
    flow_scale: Option<f64>,
    generative_above: i64,
    color: ColorChoice,
}

impl Settings {
    fn read(fx: &ImageEffect, time: f64) -> Result<Settings, PluginError> {
        let set = fx.params()?;
        let detect = set.param(params::AUTO_DETECT)?.int_at(time)?;
        Ok(Settings {
            mode: if set.param(params::MODE)?.int_at(time)? == 1 { Mode::Retime } else { Mode::Repair },
            listed: frame_list::parse(&set.param(params::FRAMES)?.string_at(time)?)?,
            detect_duplicates: detect == 1 || detect == 3,
            detect_black: detect == 2 || detect == 3,
            duplicate_threshold: set.param(params::DUPLICATE_THRESHOLD)?.double_at(time)?,
            black_threshold: set.param(params::BLACK_THRESHOLD)?.double_at(time)?,
            policy: RepairPolicy {
                max_gap: set.param(params::MAX_GAP)?.int_at(time)?.max(1) as i64,
                hold_at_ends: set.param(params::AT_CLIP_ENDS)?.int_at(time)? == 1,
            },
            inbetweens: set.param(params::INBETWEENS)?.int_at(time)?.max(1) as i64,
            flow_scale: match set.param(params::FLOW_SCALE)?.int_at(time)? {
                1 => Some(1.0),
                2 => Some(0.5),
                3 => Some(0.25),
                _ => None,
            },
            generative_above: set.param(params::GENERATIVE_ABOVE)?.int_at(time)?.max(1) as i64,
            color: ColorChoice::from_index(set.param(params::COLOR_SPACE)?.int_at(time)?),
        })
    }
}

fn source_range(fx: &ImageEffect) -> Result<(i64, i64), PluginError> {
    let src = source_clip(fx)?;
    let (a, b) = src.frame_range()?;
    Ok((a.round() as i64, b.round() as i64))
}

fn source_clip(fx: &ImageEffect) -> Result<bridge::effect::Clip, PluginError> {
    match fx.clip(kOfxImageEffectSimpleSourceClipName)? {
        Some(c) if c.connected() => Ok(c),
        _ => Err(PluginError::Input("connect a clip to Source: Infill rebuilds frames from their neighbours".into())),
    }
}

/// Source frames a render at `time` may fetch (GetFramesNeeded).
pub fn frames_needed(fx: &ImageEffect, time: f64) -> Result<(f64, f64), PluginError> {
    let s = Settings::read(fx, time)?;
    let t = time.round() as i64;
    Ok(match s.mode {
        Mode::Repair => {
            let (a, b) = infill_plan::repair_window(t, &s.policy);
            (a as f64, b as f64)
        }
        Mode::Retime => {
            let first = source_range(fx)?.0;
            let n = s.inbetweens + 1;
            let base = first + (t - first).div_euclid(n);
            (base as f64, (base + 1) as f64)
        }
    })
}

/// General context only: retiming lengthens the clip; repair keeps the source's range.
pub fn time_domain(fx: &ImageEffect) -> Result<Option<(f64, f64)>, PluginError> {
    let s = Settings::read(fx, 0.0)?;
    if s.mode != Mode::Retime {
        return Ok(None);
    }
    let range = source_range(fx)?;
    Ok(Some((range.0 as f64, infill_plan::retime_last(range, s.inbetweens) as f64)))
}

pub fn render(fx: &ImageEffect, time: f64, window: OfxRectI) -> Result<(), PluginError> {
    let s = Settings::read(fx, time)?;
    let src = source_clip(fx)?;
    let range = source_range(fx)?;
    let t = time.round() as i64;
    let mut frames = SourceFrames::new(&src, window, s.color);

    let plan = match s.mode {
        Mode::Repair => infill_plan::plan_repair(t, range, &s.policy, |f| is_bad(&mut frames, &s, f))?,
        Mode::Retime => infill_plan::plan_retime(t, range, s.inbetweens)?,
    };
    if fx.aborted() {
        return Err(PluginError::Aborted);
    }

    let output = fx
        .clip(kOfxImageEffectOutputClipName)?
        .ok_or_else(|| PluginError::Input("the host has no Output clip".into()))?;
    let mut out = output
        .image(time, None)?
        .ok_or_else(|| PluginError::Input(format!("the host gave no output image for frame {t}")))?;

    match plan {
        FramePlan::Pass(f) | FramePlan::Hold(f) => {
            let frame = frames.require(f)?;
            if f != t {
                fx.message(MessageKind::Log, &format!("Infill: frame {t} holds frame {f} (at clip end)"));
            }
            frames.write(&frame.display, frame.alpha.as_ref(), &mut out)?;
        }
        FramePlan::Between { before, after, .. } if s.mode == Mode::Repair && after - before - 1 > s.generative_above => {
            match generative::infill_gap(fx, time, window, &mut frames, before, after)? {
                Some(segment) => {
                    let frame = &segment.frames[(t - before - 1) as usize];
                    let a = frames.require(before)?;
                    let b = frames.require(after)?;
                    let step = (t - before) as f64 / (after - before) as f64;
                    let alpha: Option<Tensor> = match (&a.alpha, &b.alpha) {
                        (Some(x), Some(y)) => Some(x * (1.0 - step) + y * step),
                        _ => None,
                    };
                    frames.write(frame, alpha.as_ref(), &mut out)?;
                }
                None => interpolate(fx, &s, &mut frames, &mut out, t, plan)?,
            }
        }
        FramePlan::Between { .. } => interpolate(fx, &s, &mut frames, &mut out, t, plan)?,
    }
    Ok(())
}

/// A short gap (or any gap without a model): RIFE at the frame's fractional position.
fn interpolate(
    fx: &ImageEffect,
    s: &Settings,
    frames: &mut SourceFrames,
    out: &mut bridge::effect::Image,
    t: i64,
    plan: FramePlan,
) -> Result<(), PluginError> {
    match plan {
        FramePlan::Between { before, after, t: step } => {
            let a = frames.require(before)?;
            let b = frames.require(after)?;
            let progress = fx.progress(&format!("Infill: rebuilding frame {t} from {before} and {after}"));
            if !progress.update(0.0) {
                return Err(PluginError::Aborted);
            }
            let rife = runtime::rife()?;
            let (h, w) = (a.display.size()[1], a.display.size()[2]);
            let scale = s.flow_scale.unwrap_or(if h.max(w) > 2048 { 0.5 } else { 1.0 });
            let rgb = rife
                .interpolate(&a.display.unsqueeze(0), &b.display.unsqueeze(0), step, scale)?
                .squeeze_dim(0);
            // Alpha is not moved by the flow: a straight blend keeps mattes stable and bounded.
            let alpha: Option<Tensor> = match (&a.alpha, &b.alpha) {
                (Some(x), Some(y)) => Some(x * (1.0 - step) + y * step),
                _ => None,
            };
            if !progress.update(1.0) {
                return Err(PluginError::Aborted);
            }
            let rgb = generative::mark(&rgb, MarkClass::InfillInterpolated)?;
            frames.write(&rgb, alpha.as_ref(), out)
        }
        _ => Ok(()),
    }
}

/// Whether source frame `f` must be rebuilt: listed by the user, not delivered by the host, or
/// (with auto-detect) black or a repeat of its predecessor.
fn is_bad(frames: &mut SourceFrames, s: &Settings, f: i64) -> Result<bool, PluginError> {
    if s.listed.contains(&f) {
        return Ok(true);
    }
    let Some(frame) = frames.get(f)? else {
        return Ok(true);
    };
    if frame.non_finite > 0 {
        return Err(PluginError::Input(format!(
            "source frame {f} has {} NaN or infinite pixel values; fix the node upstream, or list frame {f} in \
             'Frames to rebuild' to replace it",
            frame.non_finite
        )));
    }
    if s.detect_black && frame.mean_luma() < s.black_threshold {
        return Ok(true);
    }
    if s.detect_duplicates {
        if let Some(prev) = frames.get(f - 1)? {
            if prev.non_finite == 0 && frame.mean_abs_diff(&prev) * 255.0 < s.duplicate_threshold {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
