//! Parameters: declaring them on a descriptor and reading an instance's values.
//!
//! Values are read with the C-variadic `paramGetValueAtTime`, one out-pointer per component, which
//! is how every host implements it; Rust can call (not define) variadic functions.
use std::ffi::{c_char, c_int, CStr};
use std::sync::Arc;

use crate::ofx::*;
use crate::props::PropertySet;
use crate::status::{check, HostError, Result};
use crate::suites::{suites, Suites};

/// What kind of parameter, with its type-specific defaults and ranges.
#[derive(Clone, Debug)]
pub enum ParamKind {
    Int { default: i32, min: i32, max: i32, display_min: i32, display_max: i32 },
    Double { default: f64, min: f64, max: f64, display_min: f64, display_max: f64 },
    Bool { default: bool },
    Choice { options: &'static [&'static str], default: i32 },
    String { default: &'static str, mode: StringMode },
    Group,
}

#[derive(Clone, Copy, Debug)]
pub enum StringMode {
    SingleLine,
    MultiLine,
    DirectoryPath,
}

/// A parameter as declared in Describe / DescribeInContext.
#[derive(Clone, Debug)]
pub struct ParamDesc {
    pub name: &'static CStr,
    pub label: &'static str,
    pub hint: &'static str,
    pub kind: ParamKind,
    pub parent: Option<&'static CStr>,
    /// Most of ours change a whole generated segment, so animating them makes no sense.
    pub animates: bool,
}

pub struct ParamSet {
    handle: OfxParamSetHandle,
    suites: Arc<Suites>,
}

impl ParamSet {
    pub fn new(handle: OfxParamSetHandle) -> Result<Self> {
        if handle.is_null() {
            return Err(HostError::Null("parameter set"));
        }
        Ok(ParamSet { handle, suites: suites()? })
    }

    pub fn define(&self, desc: &ParamDesc) -> Result<()> {
        let kind = match desc.kind {
            ParamKind::Int { .. } => kOfxParamTypeInteger,
            ParamKind::Double { .. } => kOfxParamTypeDouble,
            ParamKind::Bool { .. } => kOfxParamTypeBoolean,
            ParamKind::Choice { .. } => kOfxParamTypeChoice,
            ParamKind::String { .. } => kOfxParamTypeString,
            ParamKind::Group => kOfxParamTypeGroup,
        };
        let mut props: OfxPropertySetHandle = std::ptr::null_mut();
        let s = unsafe { (self.suites.param.paramDefine)(self.handle, kind.as_ptr(), desc.name.as_ptr(), &mut props) };
        check(s, || format!("paramDefine({})", desc.name.to_string_lossy()))?;
        let p = PropertySet::new(props)?;
        p.set_string(kOfxPropLabel, 0, desc.label)?;
        p.set_string(kOfxParamPropHint, 0, desc.hint)?;
        p.set_cstr(kOfxParamPropScriptName, 0, desc.name)?;
        if let Some(parent) = desc.parent {
            p.set_cstr(kOfxParamPropParent, 0, parent)?;
        }
        if !matches!(desc.kind, ParamKind::Group) {
            p.set_int(kOfxParamPropAnimates, 0, desc.animates as i32)?;
        }
        match &desc.kind {
            ParamKind::Int { default, min, max, display_min, display_max } => {
                p.set_int(kOfxParamPropDefault, 0, *default)?;
                p.set_int(kOfxParamPropMin, 0, *min)?;
                p.set_int(kOfxParamPropMax, 0, *max)?;
                p.set_int(kOfxParamPropDisplayMin, 0, *display_min)?;
                p.set_int(kOfxParamPropDisplayMax, 0, *display_max)?;
            }
            ParamKind::Double { default, min, max, display_min, display_max } => {
                p.set_double(kOfxParamPropDefault, 0, *default)?;
                p.set_double(kOfxParamPropMin, 0, *min)?;
                p.set_double(kOfxParamPropMax, 0, *max)?;
                p.set_double(kOfxParamPropDisplayMin, 0, *display_min)?;
                p.set_double(kOfxParamPropDisplayMax, 0, *display_max)?;
            }
            ParamKind::Bool { default } => p.set_int(kOfxParamPropDefault, 0, *default as i32)?,
            ParamKind::Choice { options, default } => {
                p.set_strings(kOfxParamPropChoiceOption, options)?;
                p.set_int(kOfxParamPropDefault, 0, *default)?;
            }
            ParamKind::String { default, mode } => {
                p.set_string(kOfxParamPropDefault, 0, default)?;
                let mode = match mode {
                    StringMode::SingleLine => kOfxParamStringIsSingleLine,
                    StringMode::MultiLine => kOfxParamStringIsMultiLine,
                    StringMode::DirectoryPath => kOfxParamStringIsDirectoryPath,
                };
                p.set_cstr(kOfxParamPropStringMode, 0, mode)?;
            }
            ParamKind::Group => {}
        }
        Ok(())
    }

    pub fn param(&self, name: &'static CStr) -> Result<Param> {
        let mut handle: OfxParamHandle = std::ptr::null_mut();
        let s = unsafe {
            (self.suites.param.paramGetHandle)(self.handle, name.as_ptr(), &mut handle, std::ptr::null_mut())
        };
        check(s, || format!("paramGetHandle({})", name.to_string_lossy()))?;
        if handle.is_null() {
            return Err(HostError::Null("parameter handle"));
        }
        Ok(Param { handle, name, suites: self.suites.clone() })
    }
}

pub struct Param {
    handle: OfxParamHandle,
    name: &'static CStr,
    suites: Arc<Suites>,
}

impl Param {
    fn check(&self, s: OfxStatus) -> Result<()> {
        check(s, || format!("paramGetValueAtTime({})", self.name.to_string_lossy()))
    }

    pub fn int_at(&self, time: f64) -> Result<i32> {
        let mut v: c_int = 0;
        let s = unsafe { (self.suites.param.paramGetValueAtTime)(self.handle, time, &mut v as *mut c_int) };
        self.check(s).map(|_| v)
    }

    pub fn double_at(&self, time: f64) -> Result<f64> {
        let mut v: f64 = 0.0;
        let s = unsafe { (self.suites.param.paramGetValueAtTime)(self.handle, time, &mut v as *mut f64) };
        self.check(s).map(|_| v)
    }

    pub fn bool_at(&self, time: f64) -> Result<bool> {
        self.int_at(time).map(|v| v != 0)
    }

    pub fn string_at(&self, time: f64) -> Result<String> {
        let mut v: *mut c_char = std::ptr::null_mut();
        let s = unsafe { (self.suites.param.paramGetValueAtTime)(self.handle, time, &mut v as *mut *mut c_char) };
        self.check(s)?;
        if v.is_null() {
            return Ok(String::new());
        }
        // Copied at once: the host owns this memory only until its next call.
        Ok(unsafe { CStr::from_ptr(v) }.to_string_lossy().into_owned())
    }
}
