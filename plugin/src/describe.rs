//! Describe and DescribeInContext: what each effect tells the host about itself.
use std::ffi::CStr;

use bridge::effect::ImageEffect;
use bridge::ofx::*;

use crate::{params, Effect, PluginError};

pub fn contexts(effect: Effect) -> &'static [&'static CStr] {
    match effect {
        // General: an optional Source still to animate. Resolve's Generator context cannot read clips.
        Effect::Generate => &[kOfxImageEffectContextGenerator, kOfxImageEffectContextGeneral],
        // Only General gets GetTimeDomain, which Extend needs to lengthen the clip.
        Effect::Extend => &[kOfxImageEffectContextGeneral],
        Effect::Infill => &[kOfxImageEffectContextFilter, kOfxImageEffectContextGeneral],
    }
}

fn description(effect: Effect) -> &'static str {
    match effect {
        Effect::Generate => "Generates a video clip from a text prompt, or animates a connected still image.",
        Effect::Extend => "Continues a clip forward or backward by generated frames.",
        Effect::Infill => {
            "Rebuilds missing, dropped, duplicated or damaged frames from their neighbours with RIFE motion \
             interpolation, or adds in-between frames for retiming."
        }
    }
}

pub fn describe(effect: Effect, fx: &ImageEffect) -> Result<(), PluginError> {
    let p = fx.props()?;
    p.set_string(kOfxPropLabel, 0, &format!("GenVideo {}", effect.label()))?;
    p.set_string(kOfxPropShortLabel, 0, effect.label())?;
    p.set_string(kOfxPropLongLabel, 0, &format!("GenVideo {}", effect.label()))?;
    p.set_string(kOfxImageEffectPluginPropGrouping, 0, "GenVideo")?;
    p.set_string(kOfxPropPluginDescription, 0, description(effect))?;
    p.set_cstrs(kOfxImageEffectPropSupportedContexts, contexts(effect))?;
    p.set_cstrs(
        kOfxImageEffectPropSupportedPixelDepths,
        &[kOfxBitDepthByte, kOfxBitDepthShort, kOfxBitDepthHalf, kOfxBitDepthFloat],
    )?;
    p.set_int(kOfxImageEffectPropSupportsTiles, 0, 0)?;
    p.set_int(kOfxImageEffectPropSupportsMultiResolution, 0, 0)?;
    p.set_int(kOfxImageEffectPropTemporalClipAccess, 0, 1)?;
    p.set_int(kOfxImageEffectPropSupportsMultipleClipDepths, 0, 0)?;
    p.set_int(kOfxImageEffectPluginPropSingleInstance, 0, 0)?;
    p.set_int(kOfxImageEffectPluginPropHostFrameThreading, 0, 0)?;
    // Renders only read the host's images and shared, immutable model weights; per-instance caches
    // are behind locks. So any number of host threads may render any frames at once.
    p.set_cstr(kOfxImageEffectPluginRenderThreadSafety, 0, kOfxImageEffectRenderFullySafe)?;
    Ok(())
}

pub fn describe_in_context(effect: Effect, fx: &ImageEffect, context: &CStr) -> Result<(), PluginError> {
    let components = [kOfxImageComponentRGBA, kOfxImageComponentRGB, kOfxImageComponentAlpha];
    let out = fx.define_clip(kOfxImageEffectOutputClipName)?;
    out.set_cstrs(kOfxImageEffectPropSupportedComponents, &components)?;
    out.set_int(kOfxImageClipPropFieldExtraction, 0, 0).ok();

    if context != kOfxImageEffectContextGenerator {
        let src = fx.define_clip(kOfxImageEffectSimpleSourceClipName)?;
        src.set_cstrs(kOfxImageEffectPropSupportedComponents, &components)?;
        src.set_int(kOfxImageEffectPropTemporalClipAccess, 0, 1)?;
        src.set_int(kOfxImageClipPropOptional, 0, (effect == Effect::Generate) as i32)?;
        src.set_int(kOfxImageEffectPropSupportsTiles, 0, 0)?;
    }

    let set = fx.params()?;
    for desc in params::describe(effect) {
        set.define(&desc)?;
    }
    Ok(())
}
