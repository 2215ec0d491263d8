//! The GenVideo OpenFX plugin: one binary, three effects (Generate, Extend, Infill).
//!
//! Every entry point from the host goes through [`entry`], which catches panics so that a bug in
//! here can never unwind into the host's C frames and take the user's edit down with it.
use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use bridge::effect::{ImageEffect, MessageKind};
use bridge::ofx::*;
use bridge::props::PropertySet;

mod actions;
mod describe;
mod error;
mod frame_list;
mod frames;
mod generative;
mod infill;
mod infill_plan;
mod params;
mod runtime;
mod segments;

pub use error::PluginError;

/// The three effects in this binary, in the order the host enumerates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Generate,
    Extend,
    Infill,
}

impl Effect {
    pub const ALL: [Effect; 3] = [Effect::Generate, Effect::Extend, Effect::Infill];

    pub const fn identifier(self) -> &'static CStr {
        match self {
            Effect::Generate => c"org.genvideo.Generate",
            Effect::Extend => c"org.genvideo.Extend",
            Effect::Infill => c"org.genvideo.Infill",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Effect::Generate => "Generate",
            Effect::Extend => "Extend",
            Effect::Infill => "Infill",
        }
    }
}

macro_rules! plugin_record {
    ($effect:expr, $main:ident) => {
        OfxPlugin {
            pluginApi: kOfxImageEffectPluginApi.as_ptr(),
            apiVersion: kOfxImageEffectPluginApiVersion,
            pluginIdentifier: $effect.identifier().as_ptr(),
            pluginVersionMajor: 0,
            pluginVersionMinor: 1,
            setHost: Some(set_host),
            mainEntry: Some($main),
        }
    };
}

// The host keeps `*mut OfxPlugin` pointers; they are never written through by conforming hosts.
static mut PLUGINS: [OfxPlugin; 3] = [
    plugin_record!(Effect::Generate, main_generate),
    plugin_record!(Effect::Extend, main_extend),
    plugin_record!(Effect::Infill, main_infill),
];

#[no_mangle]
pub extern "C" fn OfxGetNumberOfPlugins() -> c_int {
    Effect::ALL.len() as c_int
}

#[no_mangle]
pub extern "C" fn OfxGetPlugin(nth: c_int) -> *mut OfxPlugin {
    if !(0..Effect::ALL.len() as c_int).contains(&nth) {
        return std::ptr::null_mut();
    }
    unsafe { std::ptr::addr_of_mut!(PLUGINS[nth as usize]) }
}

/// OpenFX 1.4's optional early host handshake; the same host arrives again through `setHost`.
/// # Safety
/// `host` must be null or point at the host's OfxHost, valid for the life of the process.
#[no_mangle]
pub unsafe extern "C" fn OfxSetHost(host: *const OfxHost) -> OfxStatus {
    catch_unwind(|| match unsafe { bridge::suites::set_host(host) } {
        Ok(()) => kOfxStatOK,
        Err(e) => {
            eprintln!("GenVideo: {e}");
            kOfxStatErrMissingHostFeature
        }
    })
    .unwrap_or(kOfxStatErrFatal)
}

unsafe extern "C" fn set_host(host: *mut OfxHost) {
    OfxSetHost(host);
}

unsafe extern "C" fn main_generate(a: *const c_char, h: *const c_void, i: OfxPropertySetHandle, o: OfxPropertySetHandle) -> OfxStatus {
    entry(Effect::Generate, a, h, i, o)
}
unsafe extern "C" fn main_extend(a: *const c_char, h: *const c_void, i: OfxPropertySetHandle, o: OfxPropertySetHandle) -> OfxStatus {
    entry(Effect::Extend, a, h, i, o)
}
unsafe extern "C" fn main_infill(a: *const c_char, h: *const c_void, i: OfxPropertySetHandle, o: OfxPropertySetHandle) -> OfxStatus {
    entry(Effect::Infill, a, h, i, o)
}

/// Dispatches one action. Errors become a host message plus a failing status; panics are caught
/// and reported the same way.
fn entry(
    effect: Effect,
    action: *const c_char,
    handle: *const c_void,
    in_args: OfxPropertySetHandle,
    out_args: OfxPropertySetHandle,
) -> OfxStatus {
    if action.is_null() {
        return kOfxStatErrBadHandle;
    }
    let action = unsafe { CStr::from_ptr(action) };
    let result = catch_unwind(AssertUnwindSafe(|| actions::dispatch(effect, action, handle, in_args, out_args)));
    match result {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => {
            report(handle, &format!("{}: {e}", effect.label()), e.is_quiet());
            e.status()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            report(handle, &format!("{}: internal error in {}: {what}", effect.label(), action.to_string_lossy()), false);
            kOfxStatFailed
        }
    }
}

fn report(handle: *const c_void, text: &str, quiet: bool) {
    match ImageEffect::new(handle) {
        Ok(fx) => fx.message(if quiet { MessageKind::Log } else { MessageKind::Error }, text),
        Err(_) => eprintln!("GenVideo: {text}"),
    }
}

/// Property-set handles the host passes in are only valid for the call; wrap them on demand.
pub(crate) fn props(handle: OfxPropertySetHandle) -> Result<PropertySet, PluginError> {
    Ok(PropertySet::new(handle)?)
}
