//! An image effect handle (descriptor or instance) and what hangs off it: clips, images, the abort
//! flag, messages and progress.
use std::ffi::{c_void, CStr};
use std::sync::Arc;

use crate::ofx::*;
use crate::params::ParamSet;
use crate::props::PropertySet;
use crate::status::{check, HostError, Result};
use crate::suites::{suites, Suites};

#[derive(Clone)]
pub struct ImageEffect {
    handle: OfxImageEffectHandle,
    suites: Arc<Suites>,
}

// The handle is an opaque token the host hands to any of its render threads.
unsafe impl Send for ImageEffect {}
unsafe impl Sync for ImageEffect {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Error,
    Warning,
    Message,
    Log,
}

impl ImageEffect {
    pub fn new(handle: *const c_void) -> Result<Self> {
        if handle.is_null() {
            return Err(HostError::Null("image effect handle"));
        }
        Ok(ImageEffect { handle: handle as OfxImageEffectHandle, suites: suites()? })
    }

    pub fn handle(&self) -> OfxImageEffectHandle {
        self.handle
    }

    pub fn props(&self) -> Result<PropertySet> {
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        let s = unsafe { (self.suites.effect.getPropertySet)(self.handle, &mut p) };
        check(s, || "getPropertySet".into())?;
        PropertySet::new(p)
    }

    pub fn params(&self) -> Result<ParamSet> {
        let mut p: OfxParamSetHandle = std::ptr::null_mut();
        let s = unsafe { (self.suites.effect.getParamSet)(self.handle, &mut p) };
        check(s, || "getParamSet".into())?;
        ParamSet::new(p)
    }

    pub fn define_clip(&self, name: &CStr) -> Result<PropertySet> {
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        let s = unsafe { (self.suites.effect.clipDefine)(self.handle, name.as_ptr(), &mut p) };
        check(s, || format!("clipDefine({})", name.to_string_lossy()))?;
        PropertySet::new(p)
    }

    /// `Ok(None)` when the effect has no such clip in this context.
    pub fn clip(&self, name: &'static CStr) -> Result<Option<Clip>> {
        let mut c: OfxImageClipHandle = std::ptr::null_mut();
        let mut p: OfxPropertySetHandle = std::ptr::null_mut();
        let s = unsafe { (self.suites.effect.clipGetHandle)(self.handle, name.as_ptr(), &mut c, &mut p) };
        if s == kOfxStatErrBadHandle || s == kOfxStatErrUnknown || c.is_null() {
            return Ok(None);
        }
        check(s, || format!("clipGetHandle({})", name.to_string_lossy()))?;
        Ok(Some(Clip { handle: c, props: PropertySet::new(p)?, name, suites: self.suites.clone() }))
    }

    /// The user asked to stop: poll between units of work.
    pub fn aborted(&self) -> bool {
        unsafe { (self.suites.effect.abort)(self.handle) != 0 }
    }

    /// Shows a message in the host; falls back to V1 of the suite, and to stderr without either.
    pub fn message(&self, kind: MessageKind, text: &str) {
        let kind_c = match kind {
            MessageKind::Error => kOfxMessageError,
            MessageKind::Warning => kOfxMessageWarning,
            MessageKind::Message => kOfxMessageMessage,
            MessageKind::Log => kOfxMessageLog,
        };
        let text_c = std::ffi::CString::new(text.replace('\0', "")).unwrap_or_default();
        let id = c"org.genvideo";
        let h = self.handle as *mut c_void;
        // "%s" so that a '%' in user text is never read as a format directive.
        let sent = unsafe {
            if let Some(m) = self.suites.message_v2 {
                (m.message)(h, kind_c.as_ptr(), id.as_ptr(), c"%s".as_ptr(), text_c.as_ptr()) == kOfxStatOK
            } else if let Some(m) = self.suites.message_v1 {
                (m.message)(h, kind_c.as_ptr(), id.as_ptr(), c"%s".as_ptr(), text_c.as_ptr()) == kOfxStatOK
            } else {
                false
            }
        };
        if !sent {
            eprintln!("GenVideo: {text}");
        }
    }

    /// Starts host progress for long work; ended when the returned guard drops.
    pub fn progress(&self, label: &str) -> Progress {
        let label_c = std::ffi::CString::new(label.replace('\0', "")).unwrap_or_default();
        let h = self.handle as *mut c_void;
        let started = unsafe {
            if let Some(p) = self.suites.progress_v2 {
                (p.progressStart)(h, label_c.as_ptr(), c"org.genvideo.progress".as_ptr()) == kOfxStatOK
            } else if let Some(p) = self.suites.progress_v1 {
                (p.progressStart)(h, label_c.as_ptr()) == kOfxStatOK
            } else {
                false
            }
        };
        Progress { effect: self.clone(), started }
    }
}

/// Host progress. `update` returns false once the user cancelled (in the progress dialog or by
/// the effect's abort flag), so loops can stop promptly.
pub struct Progress {
    effect: ImageEffect,
    started: bool,
}

impl Progress {
    pub fn update(&self, fraction: f64) -> bool {
        let h = self.effect.handle as *mut c_void;
        let s = &self.effect.suites;
        let status = if !self.started {
            kOfxStatOK
        } else if let Some(p) = s.progress_v2 {
            unsafe { (p.progressUpdate)(h, fraction.clamp(0.0, 1.0)) }
        } else if let Some(p) = s.progress_v1 {
            unsafe { (p.progressUpdate)(h, fraction.clamp(0.0, 1.0)) }
        } else {
            kOfxStatOK
        };
        status != kOfxStatReplyNo && !self.effect.aborted()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        let h = self.effect.handle as *mut c_void;
        let s = &self.effect.suites;
        unsafe {
            if let Some(p) = s.progress_v2 {
                (p.progressEnd)(h);
            } else if let Some(p) = s.progress_v1 {
                (p.progressEnd)(h);
            }
        }
    }
}

pub struct Clip {
    handle: OfxImageClipHandle,
    props: PropertySet,
    name: &'static CStr,
    suites: Arc<Suites>,
}

unsafe impl Send for Clip {}
unsafe impl Sync for Clip {}

impl Clip {
    pub fn name(&self) -> &'static CStr {
        self.name
    }

    pub fn props(&self) -> &PropertySet {
        &self.props
    }

    pub fn connected(&self) -> bool {
        self.props.get_int(kOfxImageClipPropConnected, 0).map(|v| v != 0).unwrap_or(false)
    }

    pub fn frame_range(&self) -> Result<(f64, f64)> {
        let [a, b] = self.props.get_doubles::<2>(kOfxImageEffectPropFrameRange)?;
        Ok((a, b))
    }

    pub fn frame_rate(&self) -> Result<f64> {
        self.props.get_double(kOfxImageEffectPropFrameRate, 0)
    }

    pub fn region_of_definition(&self, time: f64) -> Result<OfxRectD> {
        let mut r = OfxRectD::default();
        let s = unsafe { (self.suites.effect.clipGetRegionOfDefinition)(self.handle, time, &mut r) };
        check(s, || format!("clipGetRegionOfDefinition({})", self.name.to_string_lossy()))?;
        Ok(r)
    }

    /// `Ok(None)` when the host has no image at `time` (dropped frame, unconnected clip, out of
    /// range): for Infill that is information, not an error.
    pub fn image(&self, time: f64, region: Option<OfxRectD>) -> Result<Option<Image>> {
        let mut img: OfxPropertySetHandle = std::ptr::null_mut();
        let region_ptr = region.as_ref().map_or(std::ptr::null(), |r| r as *const OfxRectD);
        let s = unsafe { (self.suites.effect.clipGetImage)(self.handle, time, region_ptr, &mut img) };
        if img.is_null() {
            return Ok(None);
        }
        let image = Image { props: PropertySet::new(img)?, suites: self.suites.clone() };
        if s != kOfxStatOK {
            // A host that returned both an error and an image still expects it back.
            return Ok(None);
        }
        Ok(Some(image))
    }
}

/// A fetched image, released back to the host when dropped, on every path out of an action.
pub struct Image {
    props: PropertySet,
    suites: Arc<Suites>,
}

unsafe impl Send for Image {}

impl Image {
    pub fn props(&self) -> &PropertySet {
        &self.props
    }

    pub fn data(&self) -> Result<*mut u8> {
        self.props.get_pointer(kOfxImagePropData, 0).map(|p| p as *mut u8)
    }

    pub fn bounds(&self) -> Result<OfxRectI> {
        let [x1, y1, x2, y2] = self.props.get_ints::<4>(kOfxImagePropBounds)?;
        Ok(OfxRectI { x1, y1, x2, y2 })
    }

    pub fn row_bytes(&self) -> Result<isize> {
        self.props.get_int(kOfxImagePropRowBytes, 0).map(|v| v as isize)
    }

    pub fn depth(&self) -> Result<String> {
        self.props.get_string(kOfxImageEffectPropPixelDepth, 0)
    }

    pub fn components(&self) -> Result<String> {
        self.props.get_string(kOfxImageEffectPropComponents, 0)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        unsafe {
            (self.suites.effect.clipReleaseImage)(self.props.handle());
        }
    }
}
