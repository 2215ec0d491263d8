//! The host-side objects behind every OpenFX handle: effects (descriptors and instances), clips,
//! parameters and images. A handle is the address of a boxed object; boxes never move, and
//! registries of live addresses let the suites reject handles that are not (or no longer) ours.
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bridge::ofx::*;
use parking_lot::Mutex;

use crate::clip::ClipSource;
use crate::frame::{Format, Frame, HostBuffer};
use crate::props::{PropSet, Value};

/// A message the plugin showed the user.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// "OfxMessageError", "OfxMessageWarning", ...
    pub kind: String,
    pub id: String,
    pub text: String,
    pub persistent: bool,
}

impl Message {
    pub fn is_error(&self) -> bool {
        self.kind == "OfxMessageError" || self.kind == "OfxMessageFatal"
    }
}

/// Callback the CLI uses to show the plugin's progress.
pub type ProgressSink = Box<dyn Fn(&str, f64) + Send + Sync>;

/// What an instance shares with every callback made on its behalf, from any thread.
#[derive(Default)]
pub struct Shared {
    pub abort: Arc<AtomicBool>,
    pub messages: Mutex<Vec<Message>>,
    pub warnings: Mutex<Vec<String>>,
    /// Images handed out and not yet released, by the action that fetched them.
    pub held: AtomicUsize,
    pub fetched: AtomicUsize,
    pub released: AtomicUsize,
    pub progress_updates: AtomicUsize,
    pub abort_after_progress_updates: Mutex<Option<usize>>,
    pub progress_label: Mutex<String>,
    pub progress_sink: Mutex<Option<ProgressSink>>,
    /// Output frames, captured when the plugin releases the output image.
    pub outputs: Mutex<HashMap<i64, Frame>>,
    /// GetFramesNeeded answers, per output frame.
    pub frames_needed: Mutex<HashMap<i64, Vec<(f64, f64)>>>,
    pub current_time: Mutex<f64>,
    pub time_bounds: Mutex<(f64, f64)>,
}

impl Shared {
    pub fn warn(&self, text: String) {
        self.warnings.lock().push(text);
    }
}

pub struct EffectObj {
    pub props: Box<PropSet>,
    pub params: Box<ParamSetObj>,
    // Boxed throughout: a handle is the object's address, which must not move as the Vec grows.
    #[allow(clippy::vec_box)]
    pub clips: Mutex<Vec<Box<ClipObj>>>,
    pub shared: Arc<Shared>,
}

impl EffectObj {
    pub fn new(shared: Arc<Shared>) -> Box<EffectObj> {
        let fx = Box::new(EffectObj { props: PropSet::new(), params: ParamSetObj::new(), clips: Mutex::default(), shared });
        live_effects().lock().insert(fx.handle() as usize);
        fx
    }

    pub fn handle(&self) -> OfxImageEffectHandle {
        self as *const EffectObj as OfxImageEffectHandle
    }

    pub fn clip(&self, name: &str) -> Option<*const ClipObj> {
        self.clips.lock().iter().find(|c| c.name == name).map(|c| &**c as *const ClipObj)
    }
}

impl Drop for EffectObj {
    fn drop(&mut self) {
        live_effects().lock().remove(&(self.handle() as usize));
    }
}

pub fn live_effects() -> &'static Mutex<HashSet<usize>> {
    static LIVE: std::sync::OnceLock<Mutex<HashSet<usize>>> = std::sync::OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// The effect behind a handle, if it is one of ours and still alive.
///
/// # Safety
/// The caller must not keep the reference past the life of the effect (i.e. past the action).
pub unsafe fn effect<'a>(h: *const std::ffi::c_void) -> Option<&'a EffectObj> {
    if live_effects().lock().contains(&(h as usize)) {
        Some(&*(h as *const EffectObj))
    } else {
        None
    }
}

pub struct ClipObj {
    pub name: String,
    pub props: Box<PropSet>,
    pub is_output: bool,
    pub source: Mutex<Option<Arc<ClipSource>>>,
    /// Output images: size and format the host allocates.
    pub output: Mutex<(usize, usize, Format)>,
    pub shared: Arc<Shared>,
}

impl ClipObj {
    pub fn handle(&self) -> OfxImageClipHandle {
        self as *const ClipObj as OfxImageClipHandle
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    Int,
    Double,
    Bool,
    Choice,
    String,
    Double2D,
    Int2D,
    Double3D,
    Int3D,
    Rgb,
    Rgba,
    Group,
    Page,
    PushButton,
    Custom,
}

impl ParamType {
    pub fn from_ofx(s: &str) -> Option<ParamType> {
        Some(match s {
            "OfxParamTypeInteger" => ParamType::Int,
            "OfxParamTypeDouble" => ParamType::Double,
            "OfxParamTypeBoolean" => ParamType::Bool,
            "OfxParamTypeChoice" => ParamType::Choice,
            "OfxParamTypeString" => ParamType::String,
            "OfxParamTypeDouble2D" => ParamType::Double2D,
            "OfxParamTypeInteger2D" => ParamType::Int2D,
            "OfxParamTypeDouble3D" => ParamType::Double3D,
            "OfxParamTypeInteger3D" => ParamType::Int3D,
            "OfxParamTypeRGB" => ParamType::Rgb,
            "OfxParamTypeRGBA" => ParamType::Rgba,
            "OfxParamTypeGroup" => ParamType::Group,
            "OfxParamTypePage" => ParamType::Page,
            "OfxParamTypePushButton" => ParamType::PushButton,
            "OfxParamTypeCustom" => ParamType::Custom,
            _ => return None,
        })
    }

    /// (kind for the C shim: 0 int, 1 double, 2 string, -1 no value; component count)
    pub fn layout(self) -> (i32, usize) {
        match self {
            ParamType::Int | ParamType::Bool | ParamType::Choice => (0, 1),
            ParamType::Int2D => (0, 2),
            ParamType::Int3D => (0, 3),
            ParamType::Double => (1, 1),
            ParamType::Double2D => (1, 2),
            ParamType::Double3D | ParamType::Rgb => (1, 3),
            ParamType::Rgba => (1, 4),
            ParamType::String | ParamType::Custom => (2, 1),
            ParamType::Group | ParamType::Page | ParamType::PushButton => (-1, 0),
        }
    }
}

pub struct ParamObj {
    pub name: String,
    pub kind: ParamType,
    pub props: Box<PropSet>,
    /// None until set: the value is then the descriptor's kOfxParamPropDefault.
    pub value: Mutex<Option<Vec<Value>>>,
    /// Keeps the last string handed to the plugin alive until the next get.
    pub string_out: Mutex<CString>,
}

impl ParamObj {
    pub fn handle(&self) -> OfxParamHandle {
        self as *const ParamObj as OfxParamHandle
    }

    pub fn values(&self) -> Vec<Value> {
        if let Some(v) = self.value.lock().clone() {
            return v;
        }
        self.props.get("OfxParamPropDefault").unwrap_or_default()
    }
}

#[derive(Default)]
pub struct ParamSetObj {
    pub props: Box<PropSet>,
    #[allow(clippy::vec_box)]
    pub params: Mutex<Vec<Box<ParamObj>>>,
}

impl ParamSetObj {
    fn new() -> Box<ParamSetObj> {
        Box::default()
    }

    pub fn handle(&self) -> OfxParamSetHandle {
        self as *const ParamSetObj as OfxParamSetHandle
    }

    pub fn find(&self, name: &str) -> Option<*const ParamObj> {
        self.params.lock().iter().find(|p| p.name == name).map(|p| &**p as *const ParamObj)
    }
}

pub fn live_params() -> &'static Mutex<HashSet<usize>> {
    static LIVE: std::sync::OnceLock<Mutex<HashSet<usize>>> = std::sync::OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// An image lent to the plugin: its property set (whose address is the handle) and its pixels.
pub struct ImageObj {
    /// Owned here so the handle (its address) stays valid until release.
    _props: Box<PropSet>,
    pub buffer: HostBuffer,
    pub output_time: Option<i64>,
    pub shared: Arc<Shared>,
}

pub fn live_images() -> &'static Mutex<HashMap<usize, Box<ImageObj>>> {
    static LIVE: std::sync::OnceLock<Mutex<HashMap<usize, Box<ImageObj>>>> = std::sync::OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// Registers an image and returns its handle.
pub fn lend_image(mut buffer: HostBuffer, output_time: Option<i64>, shared: Arc<Shared>, time: f64) -> OfxPropertySetHandle {
    let props = PropSet::new();
    props.set_str(kOfxPropType, "OfxTypeImage");
    props.set_ptr(kOfxImagePropData, buffer.data_ptr() as *mut _);
    let b = buffer.bounds;
    props.set_ints(kOfxImagePropBounds, &[b.x1, b.y1, b.x2, b.y2]);
    props.set_ints(kOfxImagePropRegionOfDefinition, &[b.x1, b.y1, b.x2, b.y2]);
    props.set_int(kOfxImagePropRowBytes, buffer.row_bytes as i32);
    props.set_str(kOfxImageEffectPropPixelDepth, &buffer.format.depth.as_ofx().to_string_lossy());
    props.set_str(kOfxImageEffectPropComponents, &buffer.format.components.as_ofx().to_string_lossy());
    props.set_str(kOfxImageEffectPropPreMultiplication, "OfxImageOpaque");
    props.set_doubles(kOfxImageEffectPropRenderScale, &[1.0, 1.0]);
    props.set_doubles(kOfxImagePropPixelAspectRatio, &[1.0]);
    props.set_str(kOfxImagePropField, "OfxFieldNone");
    props.set_str(kOfxImagePropUniqueIdentifier, &format!("t{time}"));
    props.set_doubles(kOfxPropTime, &[time]);
    let handle = props.handle();
    shared.fetched.fetch_add(1, Ordering::SeqCst);
    shared.held.fetch_add(1, Ordering::SeqCst);
    live_images().lock().insert(handle as usize, Box::new(ImageObj { _props: props, buffer, output_time, shared }));
    handle
}

/// Takes an image back; output images are captured as the rendered frame.
pub fn release_image(handle: OfxPropertySetHandle) -> OfxStatus {
    let Some(img) = live_images().lock().remove(&(handle as usize)) else {
        return kOfxStatErrBadHandle;
    };
    img.shared.released.fetch_add(1, Ordering::SeqCst);
    img.shared.held.fetch_sub(1, Ordering::SeqCst);
    if let Some(t) = img.output_time {
        img.shared.outputs.lock().insert(t, img.buffer.to_frame());
    }
    kOfxStatOK
}
