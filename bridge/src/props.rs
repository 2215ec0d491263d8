//! Typed access to a host property set. Strings are copied out at once: the host may reuse their
//! memory on the next call.
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Arc;

use crate::ofx::*;
use crate::status::{check, HostError, Result};
use crate::suites::{suites, Suites};

#[derive(Clone)]
pub struct PropertySet {
    handle: OfxPropertySetHandle,
    suites: Arc<Suites>,
}

fn cstring(s: &str) -> CString {
    // Interior NULs cannot be represented in C; they are dropped rather than failing the call.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

impl PropertySet {
    pub fn new(handle: OfxPropertySetHandle) -> Result<Self> {
        if handle.is_null() {
            return Err(HostError::Null("property set"));
        }
        Ok(PropertySet { handle, suites: suites()? })
    }

    pub fn handle(&self) -> OfxPropertySetHandle {
        self.handle
    }

    fn call(&self, what: &str, name: &CStr, status: OfxStatus) -> Result<()> {
        check(status, || format!("{what}({})", name.to_string_lossy()))
    }

    pub fn dimension(&self, name: &CStr) -> Result<usize> {
        let mut n: c_int = 0;
        let s = unsafe { (self.suites.property.propGetDimension)(self.handle, name.as_ptr(), &mut n) };
        self.call("propGetDimension", name, s)?;
        Ok(n.max(0) as usize)
    }

    pub fn get_int(&self, name: &CStr, index: usize) -> Result<i32> {
        let mut v: c_int = 0;
        let s = unsafe { (self.suites.property.propGetInt)(self.handle, name.as_ptr(), index as c_int, &mut v) };
        self.call("propGetInt", name, s)?;
        Ok(v)
    }

    pub fn get_double(&self, name: &CStr, index: usize) -> Result<f64> {
        let mut v = 0.0;
        let s = unsafe { (self.suites.property.propGetDouble)(self.handle, name.as_ptr(), index as c_int, &mut v) };
        self.call("propGetDouble", name, s)?;
        Ok(v)
    }

    pub fn get_pointer(&self, name: &CStr, index: usize) -> Result<*mut c_void> {
        let mut v: *mut c_void = std::ptr::null_mut();
        let s = unsafe { (self.suites.property.propGetPointer)(self.handle, name.as_ptr(), index as c_int, &mut v) };
        self.call("propGetPointer", name, s)?;
        Ok(v)
    }

    pub fn get_string(&self, name: &CStr, index: usize) -> Result<String> {
        let mut v: *mut c_char = std::ptr::null_mut();
        let s = unsafe { (self.suites.property.propGetString)(self.handle, name.as_ptr(), index as c_int, &mut v) };
        self.call("propGetString", name, s)?;
        if v.is_null() {
            return Ok(String::new());
        }
        unsafe { CStr::from_ptr(v) }
            .to_str()
            .map(str::to_owned)
            .map_err(|_| HostError::NotUtf8(name.to_string_lossy().into_owned()))
    }

    pub fn get_strings(&self, name: &CStr) -> Result<Vec<String>> {
        (0..self.dimension(name)?).map(|i| self.get_string(name, i)).collect()
    }

    pub fn get_doubles<const N: usize>(&self, name: &CStr) -> Result<[f64; N]> {
        let mut out = [0.0; N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.get_double(name, i)?;
        }
        Ok(out)
    }

    pub fn get_ints<const N: usize>(&self, name: &CStr) -> Result<[i32; N]> {
        let mut out = [0; N];
        for (i, v) in out.iter_mut().enumerate() {
            *v = self.get_int(name, i)?;
        }
        Ok(out)
    }

    pub fn set_int(&self, name: &CStr, index: usize, v: i32) -> Result<()> {
        let s = unsafe { (self.suites.property.propSetInt)(self.handle, name.as_ptr(), index as c_int, v) };
        self.call("propSetInt", name, s)
    }

    pub fn set_double(&self, name: &CStr, index: usize, v: f64) -> Result<()> {
        let s = unsafe { (self.suites.property.propSetDouble)(self.handle, name.as_ptr(), index as c_int, v) };
        self.call("propSetDouble", name, s)
    }

    pub fn set_string(&self, name: &CStr, index: usize, v: &str) -> Result<()> {
        let v = cstring(v);
        let s = unsafe { (self.suites.property.propSetString)(self.handle, name.as_ptr(), index as c_int, v.as_ptr()) };
        self.call("propSetString", name, s)
    }

    pub fn set_cstr(&self, name: &CStr, index: usize, v: &CStr) -> Result<()> {
        let s = unsafe { (self.suites.property.propSetString)(self.handle, name.as_ptr(), index as c_int, v.as_ptr()) };
        self.call("propSetString", name, s)
    }

    pub fn set_cstrs(&self, name: &CStr, values: &[&CStr]) -> Result<()> {
        values.iter().enumerate().try_for_each(|(i, v)| self.set_cstr(name, i, v))
    }

    pub fn set_strings(&self, name: &CStr, values: &[&str]) -> Result<()> {
        values.iter().enumerate().try_for_each(|(i, v)| self.set_string(name, i, v))
    }

    pub fn set_doubles(&self, name: &CStr, values: &[f64]) -> Result<()> {
        values.iter().enumerate().try_for_each(|(i, v)| self.set_double(name, i, *v))
    }

    pub fn set_ints(&self, name: &CStr, values: &[i32]) -> Result<()> {
        values.iter().enumerate().try_for_each(|(i, v)| self.set_int(name, i, *v))
    }

    /// Property names built at run time, e.g. "OfxImageClipPropFrameRange_Source".
    pub fn clip_prop_name(prefix: &CStr, clip: &CStr) -> CString {
        let mut s = prefix.to_bytes().to_vec();
        s.push(b'_');
        s.extend_from_slice(clip.to_bytes());
        CString::new(s).unwrap_or_default()
    }
}
