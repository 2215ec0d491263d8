//! Routes each host action to the code that answers it. Anything not handled here gets
//! kOfxStatReplyDefault, which tells the host to do its default.
use std::ffi::{c_void, CStr};

use bridge::effect::ImageEffect;
use bridge::ofx::*;
use bridge::props::PropertySet;

use crate::generative::{extend, generate};
use crate::{describe, infill, props, runtime, Effect, PluginError};

pub fn dispatch(
    effect: Effect,
    action: &CStr,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    out_args: OfxPropertySetHandle,
) -> Result<OfxStatus, PluginError> {
    if action == kOfxActionLoad {
        runtime::load();
        return Ok(kOfxStatOK);
    }
    if action == kOfxActionUnload {
        runtime::unload();
        return Ok(kOfxStatOK);
    }
    let fx = ImageEffect::new(handle)?;
    if action == kOfxActionDescribe {
        describe::describe(effect, &fx)?;
        Ok(kOfxStatOK)
    } else if action == kOfxImageEffectActionDescribeInContext {
        let context = props(in_args)?.get_string(kOfxImageEffectPropContext, 0)?;
        let context = describe::contexts(effect)
            .iter()
            .find(|c| c.to_bytes() == context.as_bytes())
            .ok_or_else(|| PluginError::Input(format!("context {context} is not supported")))?;
        describe::describe_in_context(effect, &fx, context)?;
        Ok(kOfxStatOK)
    } else if action == kOfxActionCreateInstance || action == kOfxActionDestroyInstance {
        Ok(kOfxStatOK)
    } else if action == kOfxImageEffectActionRender {
        let args = props(in_args)?;
        let time = args.get_double(kOfxPropTime, 0)?;
        let [x1, y1, x2, y2] = args.get_ints::<4>(kOfxImageEffectPropRenderWindow)?;
        let window = OfxRectI { x1, y1, x2, y2 };
        match effect {
            Effect::Infill => infill::render(&fx, time, window)?,
            Effect::Generate => generate::render(&fx, time, window)?,
            Effect::Extend => extend::render(&fx, time, window)?,
        }
        Ok(kOfxStatOK)
    } else if action == kOfxImageEffectActionGetFramesNeeded {
        match effect {
            Effect::Infill | Effect::Extend => {
                let time = props(in_args)?.get_double(kOfxPropTime, 0)?;
                let (a, b) =
                    if effect == Effect::Infill { infill::frames_needed(&fx, time)? } else { extend::frames_needed(&fx, time)? };
                set_clip_range(&props(out_args)?, kOfxImageEffectSimpleSourceClipName, a, b)?;
                Ok(kOfxStatOK)
            }
            Effect::Generate => Ok(kOfxStatReplyDefault),
        }
    } else if action == kOfxImageEffectActionGetTimeDomain {
        match effect {
            Effect::Infill => match infill::time_domain(&fx)? {
                Some((a, b)) => {
                    props(out_args)?.set_doubles(kOfxImageEffectPropFrameRange, &[a, b])?;
                    Ok(kOfxStatOK)
                }
                None => Ok(kOfxStatReplyDefault),
            },
            Effect::Generate | Effect::Extend => {
                let (a, b) = if effect == Effect::Generate { generate::time_domain(&fx)? } else { extend::time_domain(&fx)? };
                props(out_args)?.set_doubles(kOfxImageEffectPropFrameRange, &[a, b])?;
                Ok(kOfxStatOK)
            }
        }
    } else {
        Ok(kOfxStatReplyDefault)
    }
}

fn set_clip_range(out: &PropertySet, clip: &CStr, a: f64, b: f64) -> Result<(), PluginError> {
    let name = PropertySet::clip_prop_name(kOfxImageClipPropFrameRange, clip);
    out.set_doubles(&name, &[a, b])?;
    Ok(())
}
