//! A typed OpenFX property store and the property suite over it. A handle is the address of a
//! `PropSet`, which lives (boxed) inside the object it describes.
use std::collections::HashMap;
use std::ffi::{c_char, c_double, c_int, c_void, CStr, CString};

use bridge::ofx::*;
use parking_lot::Mutex;

#[derive(Clone, Debug)]
pub enum Value {
    Int(i32),
    Double(f64),
    // CString so the pointer handed to the plugin stays valid until the property is next set.
    Str(CString),
    Ptr(usize),
}

#[derive(Default)]
pub struct PropSet {
    map: Mutex<HashMap<String, Vec<Value>>>,
}

impl PropSet {
    pub fn new() -> Box<PropSet> {
        Box::default()
    }

    pub fn handle(&self) -> OfxPropertySetHandle {
        self as *const PropSet as OfxPropertySetHandle
    }

    pub fn set(&self, name: &CStr, values: Vec<Value>) {
        self.map.lock().insert(name.to_string_lossy().into_owned(), values);
    }

    pub fn set_str(&self, name: &CStr, v: &str) {
        self.set(name, vec![Value::Str(cstring(v))]);
    }

    pub fn set_strs(&self, name: &CStr, v: &[&str]) {
        self.set(name, v.iter().map(|s| Value::Str(cstring(s))).collect());
    }

    pub fn set_int(&self, name: &CStr, v: i32) {
        self.set(name, vec![Value::Int(v)]);
    }

    pub fn set_ints(&self, name: &CStr, v: &[i32]) {
        self.set(name, v.iter().map(|x| Value::Int(*x)).collect());
    }

    pub fn set_doubles(&self, name: &CStr, v: &[f64]) {
        self.set(name, v.iter().map(|x| Value::Double(*x)).collect());
    }

    pub fn set_ptr(&self, name: &CStr, v: *mut c_void) {
        self.set(name, vec![Value::Ptr(v as usize)]);
    }

    /// Copies every property of `other` (a descriptor's into its instance).
    pub fn copy_from(&self, other: &PropSet) {
        let theirs = other.map.lock().clone();
        self.map.lock().extend(theirs);
    }

    pub fn get(&self, name: &str) -> Option<Vec<Value>> {
        self.map.lock().get(name).cloned()
    }

    pub fn str(&self, name: &CStr, index: usize) -> Option<String> {
        match self.get(&name.to_string_lossy())?.get(index)? {
            Value::Str(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        }
    }

    pub fn strs(&self, name: &CStr) -> Vec<String> {
        self.get(&name.to_string_lossy())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| if let Value::Str(s) = v { Some(s.to_string_lossy().into_owned()) } else { None })
            .collect()
    }

    pub fn int(&self, name: &CStr, index: usize) -> Option<i32> {
        match self.get(&name.to_string_lossy())?.get(index)? {
            Value::Int(v) => Some(*v),
            Value::Double(v) => Some(*v as i32),
            _ => None,
        }
    }

    pub fn doubles(&self, name: &str) -> Vec<f64> {
        self.get(name)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| match v {
                Value::Double(d) => Some(d),
                Value::Int(i) => Some(i as f64),
                _ => None,
            })
            .collect()
    }
}

pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// # Safety
/// Handles come from the plugin; a null handle or name is rejected, anything else must be ours.
unsafe fn with<'a>(h: OfxPropertySetHandle, name: *const c_char) -> Option<(&'a PropSet, String)> {
    if h.is_null() || name.is_null() {
        return None;
    }
    Some((&*(h as *const PropSet), CStr::from_ptr(name).to_string_lossy().into_owned()))
}

/// Setting one index of a property: a new property is created, an existing one grows as needed.
unsafe fn set_at(h: OfxPropertySetHandle, name: *const c_char, index: c_int, v: Value) -> OfxStatus {
    let Some((p, name)) = with(h, name) else { return kOfxStatErrBadHandle };
    if index < 0 {
        return kOfxStatErrBadIndex;
    }
    let mut map = p.map.lock();
    let vals = map.entry(name).or_default();
    let i = index as usize;
    if vals.len() <= i {
        let filler = v.clone();
        vals.resize(i + 1, filler);
    }
    vals[i] = v;
    kOfxStatOK
}

unsafe fn get_at(h: OfxPropertySetHandle, name: *const c_char, index: c_int, f: impl FnOnce(&Value) -> bool) -> OfxStatus {
    let Some((p, name)) = with(h, name) else { return kOfxStatErrBadHandle };
    let map = p.map.lock();
    let Some(vals) = map.get(&name) else { return kOfxStatErrUnknown };
    let Some(v) = (index >= 0).then(|| vals.get(index as usize)).flatten() else { return kOfxStatErrBadIndex };
    if f(v) {
        kOfxStatOK
    } else {
        kOfxStatErrValue
    }
}

macro_rules! guarded {
    ($body:expr) => {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)).unwrap_or(kOfxStatErrFatal)
    };
}

unsafe extern "C" fn set_pointer(h: OfxPropertySetHandle, n: *const c_char, i: c_int, v: *mut c_void) -> OfxStatus {
    guarded!(set_at(h, n, i, Value::Ptr(v as usize)))
}
unsafe extern "C" fn set_string(h: OfxPropertySetHandle, n: *const c_char, i: c_int, v: *const c_char) -> OfxStatus {
    guarded!({
        let s = if v.is_null() { CString::default() } else { CStr::from_ptr(v).to_owned() };
        set_at(h, n, i, Value::Str(s))
    })
}
unsafe extern "C" fn set_double(h: OfxPropertySetHandle, n: *const c_char, i: c_int, v: c_double) -> OfxStatus {
    guarded!(set_at(h, n, i, Value::Double(v)))
}
unsafe extern "C" fn set_int(h: OfxPropertySetHandle, n: *const c_char, i: c_int, v: c_int) -> OfxStatus {
    guarded!(set_at(h, n, i, Value::Int(v)))
}
unsafe extern "C" fn set_pointer_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, v: *const *mut c_void) -> OfxStatus {
    guarded!((0..c).map(|i| set_at(h, n, i, Value::Ptr(*v.add(i as usize) as usize))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn set_string_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, v: *const *const c_char) -> OfxStatus {
    guarded!((0..c).map(|i| set_string(h, n, i, *v.add(i as usize))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn set_double_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, v: *const c_double) -> OfxStatus {
    guarded!((0..c).map(|i| set_at(h, n, i, Value::Double(*v.add(i as usize)))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn set_int_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, v: *const c_int) -> OfxStatus {
    guarded!((0..c).map(|i| set_at(h, n, i, Value::Int(*v.add(i as usize)))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn get_pointer(h: OfxPropertySetHandle, n: *const c_char, i: c_int, out: *mut *mut c_void) -> OfxStatus {
    guarded!(get_at(h, n, i, |v| match v {
        Value::Ptr(p) if !out.is_null() => {
            *out = *p as *mut c_void;
            true
        }
        _ => false,
    }))
}
unsafe extern "C" fn get_string(h: OfxPropertySetHandle, n: *const c_char, i: c_int, out: *mut *mut c_char) -> OfxStatus {
    guarded!(get_at(h, n, i, |v| match v {
        Value::Str(s) if !out.is_null() => {
            *out = s.as_ptr() as *mut c_char;
            true
        }
        _ => false,
    }))
}
unsafe extern "C" fn get_double(h: OfxPropertySetHandle, n: *const c_char, i: c_int, out: *mut c_double) -> OfxStatus {
    guarded!(get_at(h, n, i, |v| match v {
        Value::Double(d) if !out.is_null() => {
            *out = *d;
            true
        }
        _ => false,
    }))
}
unsafe extern "C" fn get_int(h: OfxPropertySetHandle, n: *const c_char, i: c_int, out: *mut c_int) -> OfxStatus {
    guarded!(get_at(h, n, i, |v| match v {
        Value::Int(d) if !out.is_null() => {
            *out = *d;
            true
        }
        _ => false,
    }))
}
unsafe extern "C" fn get_pointer_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, out: *mut *mut c_void) -> OfxStatus {
    guarded!((0..c).map(|i| get_pointer(h, n, i, out.add(i as usize))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn get_string_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, out: *mut *mut c_char) -> OfxStatus {
    guarded!((0..c).map(|i| get_string(h, n, i, out.add(i as usize))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn get_double_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, out: *mut c_double) -> OfxStatus {
    guarded!((0..c).map(|i| get_double(h, n, i, out.add(i as usize))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn get_int_n(h: OfxPropertySetHandle, n: *const c_char, c: c_int, out: *mut c_int) -> OfxStatus {
    guarded!((0..c).map(|i| get_int(h, n, i, out.add(i as usize))).find(|s| *s != 0).unwrap_or(0))
}
unsafe extern "C" fn reset(h: OfxPropertySetHandle, n: *const c_char) -> OfxStatus {
    guarded!(match with(h, n) {
        Some((p, name)) => {
            if p.map.lock().remove(&name).is_some() {
                kOfxStatOK
            } else {
                kOfxStatErrUnknown
            }
        }
        None => kOfxStatErrBadHandle,
    })
}
unsafe extern "C" fn dimension(h: OfxPropertySetHandle, n: *const c_char, out: *mut c_int) -> OfxStatus {
    guarded!(match with(h, n) {
        Some((p, name)) => match p.map.lock().get(&name) {
            Some(v) if !out.is_null() => {
                *out = v.len() as c_int;
                kOfxStatOK
            }
            Some(_) => kOfxStatErrBadHandle,
            None => kOfxStatErrUnknown,
        },
        None => kOfxStatErrBadHandle,
    })
}

pub static PROPERTY_SUITE: OfxPropertySuiteV1 = OfxPropertySuiteV1 {
    propSetPointer: set_pointer,
    propSetString: set_string,
    propSetDouble: set_double,
    propSetInt: set_int,
    propSetPointerN: set_pointer_n,
    propSetStringN: set_string_n,
    propSetDoubleN: set_double_n,
    propSetIntN: set_int_n,
    propGetPointer: get_pointer,
    propGetString: get_string,
    propGetDouble: get_double,
    propGetInt: get_int,
    propGetPointerN: get_pointer_n,
    propGetStringN: get_string_n,
    propGetDoubleN: get_double_n,
    propGetIntN: get_int_n,
    propReset: reset,
    propGetDimension: dimension,
};
