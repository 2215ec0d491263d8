//! The suites host-sim offers a plugin, and the OfxHost that hands them out. Every callback
//! catches panics: a host bug must not unwind into the plugin's frames.
use std::ffi::{c_char, c_double, c_int, c_uint, c_void, CStr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bridge::ofx::*;

use crate::frame::HostBuffer;
use crate::objects::*;
use crate::props::{cstring, PropSet, Value, PROPERTY_SUITE};

macro_rules! guarded {
    ($body:expr) => {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)).unwrap_or(kOfxStatErrFatal)
    };
}

unsafe fn name_of(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

// ---------------------------------------------------------------- image effect suite

unsafe extern "C" fn get_property_set(h: OfxImageEffectHandle, out: *mut OfxPropertySetHandle) -> OfxStatus {
    guarded!(match (effect(h as _), out.is_null()) {
        (Some(fx), false) => {
            *out = fx.props.handle();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn get_param_set(h: OfxImageEffectHandle, out: *mut OfxParamSetHandle) -> OfxStatus {
    guarded!(match (effect(h as _), out.is_null()) {
        (Some(fx), false) => {
            *out = fx.params.handle();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn clip_define(h: OfxImageEffectHandle, name: *const c_char, out: *mut OfxPropertySetHandle) -> OfxStatus {
    guarded!({
        let (Some(fx), Some(name)) = (effect(h as _), name_of(name)) else { return kOfxStatErrBadHandle };
        if fx.clip(&name).is_some() {
            return kOfxStatErrExists;
        }
        let props = PropSet::new();
        props.set_str(kOfxPropType, "OfxTypeClip");
        props.set_str(kOfxPropName, &name);
        props.set_strs(kOfxImageEffectPropSupportedComponents, &["OfxImageComponentRGBA"]);
        props.set_int(kOfxImageEffectPropTemporalClipAccess, 0);
        props.set_int(kOfxImageClipPropOptional, 0);
        props.set_int(kOfxImageClipPropIsMask, 0);
        props.set_int(kOfxImageEffectPropSupportsTiles, 1);
        let clip = Box::new(ClipObj {
            is_output: name == "Output",
            name,
            props,
            source: Default::default(),
            output: Default::default(),
            shared: fx.shared.clone(),
        });
        if !out.is_null() {
            *out = clip.props.handle();
        }
        fx.clips.lock().push(clip);
        kOfxStatOK
    })
}

unsafe extern "C" fn clip_get_handle(
    h: OfxImageEffectHandle,
    name: *const c_char,
    clip: *mut OfxImageClipHandle,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    guarded!({
        let (Some(fx), Some(name)) = (effect(h as _), name_of(name)) else { return kOfxStatErrBadHandle };
        let Some(c) = fx.clip(&name) else { return kOfxStatErrUnknown };
        if !clip.is_null() {
            *clip = (*c).handle();
        }
        if !props.is_null() {
            *props = (*c).props.handle();
        }
        kOfxStatOK
    })
}

/// Clip handles are only valid inside their effect; find the effect that owns one.
unsafe fn clip<'a>(h: OfxImageClipHandle) -> Option<&'a ClipObj> {
    if h.is_null() {
        return None;
    }
    let live = live_effects().lock().clone();
    live.into_iter().find_map(|fx| {
        let fx = &*(fx as *const EffectObj);
        fx.clips.lock().iter().find(|c| c.handle() == h).map(|c| &*(&**c as *const ClipObj))
    })
}

unsafe extern "C" fn clip_get_property_set(h: OfxImageClipHandle, out: *mut OfxPropertySetHandle) -> OfxStatus {
    guarded!(match (clip(h), out.is_null()) {
        (Some(c), false) => {
            *out = c.props.handle();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn clip_get_image(
    h: OfxImageClipHandle,
    time: OfxTime,
    _region: *const OfxRectD,
    out: *mut OfxPropertySetHandle,
) -> OfxStatus {
    guarded!({
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        *out = std::ptr::null_mut();
        let Some(c) = clip(h) else { return kOfxStatErrBadHandle };
        if c.is_output {
            let (w, hgt, format) = *c.output.lock();
            let buffer = HostBuffer::blank(w, hgt, format);
            *out = lend_image(buffer, Some(time.round() as i64), c.shared.clone(), time);
            return kOfxStatOK;
        }
        let Some(source) = c.source.lock().clone() else {
            // Unconnected clips give NULL images, as in Resolve.
            return kOfxStatFailed;
        };
        let now = *c.shared.current_time.lock();
        if let Some(ranges) = c.shared.frames_needed.lock().get(&(now.round() as i64)) {
            if !ranges.iter().any(|(a, b)| time >= *a - 1e-6 && time <= *b + 1e-6) {
                c.shared.warn(format!("frame {now}: fetched {} at {time} outside GetFramesNeeded {ranges:?}", c.name));
            }
        }
        match source.frame_at(time) {
            Some(frame) => {
                *out = lend_image(HostBuffer::from_frame(&frame, source.format), None, c.shared.clone(), time);
                if let Some((depth, components)) = &source.reported_format {
                    let props = &*(*out as *const PropSet);
                    props.set_str(kOfxImageEffectPropPixelDepth, depth);
                    props.set_str(kOfxImageEffectPropComponents, components);
                }
                kOfxStatOK
            }
            None => kOfxStatFailed,
        }
    })
}

unsafe extern "C" fn clip_release_image(h: OfxPropertySetHandle) -> OfxStatus {
    guarded!(release_image(h))
}

unsafe extern "C" fn clip_get_rod(h: OfxImageClipHandle, _time: OfxTime, out: *mut OfxRectD) -> OfxStatus {
    guarded!({
        let Some(c) = clip(h) else { return kOfxStatErrBadHandle };
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let (w, hgt, origin) = if c.is_output {
            let (w, h, f) = *c.output.lock();
            (w, h, f.origin)
        } else {
            match c.source.lock().as_ref() {
                Some(s) => (s.size().0, s.size().1, s.format.origin),
                None => (0, 0, (0, 0)),
            }
        };
        let (x, y) = (origin.0 as f64, origin.1 as f64);
        *out = OfxRectD { x1: x, y1: y, x2: x + w as f64, y2: y + hgt as f64 };
        kOfxStatOK
    })
}

unsafe extern "C" fn abort(h: OfxImageEffectHandle) -> c_int {
    std::panic::catch_unwind(|| effect(h as _).map_or(0, |fx| fx.shared.abort.load(Ordering::SeqCst) as c_int))
        .unwrap_or(1)
}

/// Image memory: the handle is a boxed byte buffer.
unsafe extern "C" fn image_memory_alloc(_h: OfxImageEffectHandle, n: usize, out: *mut OfxImageMemoryHandle) -> OfxStatus {
    guarded!({
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let mut v = Vec::new();
        if v.try_reserve_exact(n).is_err() {
            return kOfxStatErrMemory;
        }
        v.resize(n, 0u8);
        *out = Box::into_raw(Box::new(v)) as OfxImageMemoryHandle;
        kOfxStatOK
    })
}
unsafe extern "C" fn image_memory_free(h: OfxImageMemoryHandle) -> OfxStatus {
    guarded!({
        if h.is_null() {
            return kOfxStatErrBadHandle;
        }
        drop(Box::from_raw(h as *mut Vec<u8>));
        kOfxStatOK
    })
}
unsafe extern "C" fn image_memory_lock(h: OfxImageMemoryHandle, out: *mut *mut c_void) -> OfxStatus {
    guarded!({
        if h.is_null() || out.is_null() {
            return kOfxStatErrBadHandle;
        }
        *out = (*(h as *mut Vec<u8>)).as_mut_ptr() as *mut c_void;
        kOfxStatOK
    })
}
unsafe extern "C" fn image_memory_unlock(h: OfxImageMemoryHandle) -> OfxStatus {
    if h.is_null() {
        kOfxStatErrBadHandle
    } else {
        kOfxStatOK
    }
}

pub static IMAGE_EFFECT_SUITE: OfxImageEffectSuiteV1 = OfxImageEffectSuiteV1 {
    getPropertySet: get_property_set,
    getParamSet: get_param_set,
    clipDefine: clip_define,
    clipGetHandle: clip_get_handle,
    clipGetPropertySet: clip_get_property_set,
    clipGetImage: clip_get_image,
    clipReleaseImage: clip_release_image,
    clipGetRegionOfDefinition: clip_get_rod,
    abort,
    imageMemoryAlloc: image_memory_alloc,
    imageMemoryFree: image_memory_free,
    imageMemoryLock: image_memory_lock,
    imageMemoryUnlock: image_memory_unlock,
};

// ---------------------------------------------------------------- parameter suite

unsafe fn param_set<'a>(h: OfxParamSetHandle) -> Option<&'a ParamSetObj> {
    let live = live_effects().lock().clone();
    live.into_iter()
        .map(|fx| &*(fx as *const EffectObj))
        .find(|fx| fx.params.handle() == h)
        .map(|fx| &*(&*fx.params as *const ParamSetObj))
}

unsafe fn param<'a>(h: *mut c_void) -> Option<&'a ParamObj> {
    live_params().lock().contains(&(h as usize)).then(|| &*(h as *const ParamObj))
}

unsafe extern "C" fn param_define(
    set: OfxParamSetHandle,
    kind: *const c_char,
    name: *const c_char,
    out: *mut OfxPropertySetHandle,
) -> OfxStatus {
    guarded!({
        let (Some(set), Some(kind), Some(name)) = (param_set(set), name_of(kind), name_of(name)) else {
            return kOfxStatErrBadHandle;
        };
        let Some(ty) = ParamType::from_ofx(&kind) else { return kOfxStatErrUnknown };
        if set.find(&name).is_some() {
            return kOfxStatErrExists;
        }
        let props = PropSet::new();
        props.set_str(kOfxPropType, "OfxTypeParameter");
        props.set_str(kOfxParamPropType, &kind);
        props.set_str(kOfxPropName, &name);
        props.set_str(kOfxPropLabel, &name);
        let (k, n) = ty.layout();
        let default = match k {
            0 => vec![Value::Int(0); n],
            1 => vec![Value::Double(0.0); n],
            2 => vec![Value::Str(Default::default())],
            _ => vec![],
        };
        if !default.is_empty() {
            props.set(kOfxParamPropDefault, default);
        }
        let p = Box::new(ParamObj { name, kind: ty, props, value: Default::default(), string_out: Default::default() });
        if !out.is_null() {
            *out = p.props.handle();
        }
        live_params().lock().insert(p.handle() as usize);
        set.params.lock().push(p);
        kOfxStatOK
    })
}

unsafe extern "C" fn param_get_handle(
    set: OfxParamSetHandle,
    name: *const c_char,
    out: *mut OfxParamHandle,
    props: *mut OfxPropertySetHandle,
) -> OfxStatus {
    guarded!({
        let (Some(set), Some(name)) = (param_set(set), name_of(name)) else { return kOfxStatErrBadHandle };
        let Some(p) = set.find(&name) else { return kOfxStatErrUnknown };
        if !out.is_null() {
            *out = (*p).handle();
        }
        if !props.is_null() {
            *props = (*p).props.handle();
        }
        kOfxStatOK
    })
}

unsafe extern "C" fn param_set_get_property_set(set: OfxParamSetHandle, out: *mut OfxPropertySetHandle) -> OfxStatus {
    guarded!(match (param_set(set), out.is_null()) {
        (Some(s), false) => {
            *out = s.props.handle();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}

unsafe extern "C" fn param_get_property_set(p: OfxParamHandle, out: *mut OfxPropertySetHandle) -> OfxStatus {
    guarded!(match (param(p as _), out.is_null()) {
        (Some(p), false) => {
            *out = p.props.handle();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}

// Non-variadic halves of the C shim's variadic functions.
#[no_mangle]
unsafe extern "C" fn hs_param_layout(p: *mut c_void, components: *mut c_int) -> c_int {
    std::panic::catch_unwind(|| match param(p) {
        Some(p) => {
            let (k, n) = p.kind.layout();
            if !components.is_null() {
                *components = n as c_int;
            }
            k
        }
        None => -1,
    })
    .unwrap_or(-1)
}

#[no_mangle]
unsafe extern "C" fn hs_param_get_int(p: *mut c_void, _t: c_double, _has: c_int, i: c_int, out: *mut c_int) -> OfxStatus {
    guarded!({
        let Some(p) = param(p) else { return kOfxStatErrBadHandle };
        match (p.values().get(i as usize), out.is_null()) {
            (Some(Value::Int(v)), false) => {
                *out = *v;
                kOfxStatOK
            }
            (Some(Value::Double(v)), false) => {
                *out = *v as c_int;
                kOfxStatOK
            }
            _ => kOfxStatErrBadIndex,
        }
    })
}

#[no_mangle]
unsafe extern "C" fn hs_param_get_double(p: *mut c_void, _t: c_double, _has: c_int, i: c_int, out: *mut c_double) -> OfxStatus {
    guarded!({
        let Some(p) = param(p) else { return kOfxStatErrBadHandle };
        match (p.values().get(i as usize), out.is_null()) {
            (Some(Value::Double(v)), false) => {
                *out = *v;
                kOfxStatOK
            }
            (Some(Value::Int(v)), false) => {
                *out = *v as f64;
                kOfxStatOK
            }
            _ => kOfxStatErrBadIndex,
        }
    })
}

#[no_mangle]
unsafe extern "C" fn hs_param_get_string(p: *mut c_void, _t: c_double, _has: c_int, out: *mut *mut c_char) -> OfxStatus {
    guarded!({
        let Some(p) = param(p) else { return kOfxStatErrBadHandle };
        let s = match p.values().first() {
            Some(Value::Str(s)) => s.clone(),
            _ => Default::default(),
        };
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let mut keep = p.string_out.lock();
        *keep = s;
        *out = keep.as_ptr() as *mut c_char;
        kOfxStatOK
    })
}

unsafe fn set_component(p: &ParamObj, i: usize, v: Value) -> OfxStatus {
    let mut values = p.values();
    if i >= values.len() {
        return kOfxStatErrBadIndex;
    }
    values[i] = v;
    *p.value.lock() = Some(values);
    kOfxStatOK
}

#[no_mangle]
unsafe extern "C" fn hs_param_set_int(p: *mut c_void, i: c_int, v: c_int) -> OfxStatus {
    guarded!(param(p).map_or(kOfxStatErrBadHandle, |p| set_component(p, i as usize, Value::Int(v))))
}

#[no_mangle]
unsafe extern "C" fn hs_param_set_double(p: *mut c_void, i: c_int, v: c_double) -> OfxStatus {
    guarded!(param(p).map_or(kOfxStatErrBadHandle, |p| set_component(p, i as usize, Value::Double(v))))
}

#[no_mangle]
unsafe extern "C" fn hs_param_set_string(p: *mut c_void, v: *const c_char) -> OfxStatus {
    guarded!(match param(p) {
        Some(p) => {
            *p.value.lock() = Some(vec![Value::Str(name_of(v).map(|s| cstring(&s)).unwrap_or_default())]);
            kOfxStatOK
        }
        None => kOfxStatErrBadHandle,
    })
}

#[no_mangle]
unsafe extern "C" fn hs_param_changed(_p: *mut c_void, _time: c_double) -> OfxStatus {
    kOfxStatOK
}

extern "C" {
    fn hs_paramGetValue(p: OfxParamHandle, ...) -> OfxStatus;
    fn hs_paramGetValueAtTime(p: OfxParamHandle, t: OfxTime, ...) -> OfxStatus;
    fn hs_paramGetDerivative(p: OfxParamHandle, t: OfxTime, ...) -> OfxStatus;
    fn hs_paramGetIntegral(p: OfxParamHandle, t1: OfxTime, t2: OfxTime, ...) -> OfxStatus;
    fn hs_paramSetValue(p: OfxParamHandle, ...) -> OfxStatus;
    fn hs_paramSetValueAtTime(p: OfxParamHandle, t: OfxTime, ...) -> OfxStatus;
    fn hs_message_v(h: *mut c_void, kind: *const c_char, id: *const c_char, format: *const c_char, ...) -> OfxStatus;
    fn hs_persistent_message_v(h: *mut c_void, kind: *const c_char, id: *const c_char, format: *const c_char, ...) -> OfxStatus;
}

// Parameters are not animated in host-sim: no keys.
unsafe extern "C" fn get_num_keys(_p: OfxParamHandle, n: *mut c_uint) -> OfxStatus {
    if !n.is_null() {
        *n = 0;
    }
    kOfxStatOK
}
unsafe extern "C" fn get_key_time(_p: OfxParamHandle, _k: c_uint, _t: *mut OfxTime) -> OfxStatus {
    kOfxStatErrBadIndex
}
unsafe extern "C" fn get_key_index(_p: OfxParamHandle, _t: OfxTime, _d: c_int, _i: *mut c_int) -> OfxStatus {
    kOfxStatFailed
}
unsafe extern "C" fn delete_key(_p: OfxParamHandle, _t: OfxTime) -> OfxStatus {
    kOfxStatErrBadIndex
}
unsafe extern "C" fn delete_all_keys(_p: OfxParamHandle) -> OfxStatus {
    kOfxStatOK
}
unsafe extern "C" fn param_copy(to: OfxParamHandle, from: OfxParamHandle, _o: OfxTime, _r: *const OfxRangeD) -> OfxStatus {
    guarded!(match (param(to as _), param(from as _)) {
        (Some(to), Some(from)) if to.kind == from.kind => {
            *to.value.lock() = Some(from.values());
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}
unsafe extern "C" fn edit_begin(_s: OfxParamSetHandle, _n: *const c_char) -> OfxStatus {
    kOfxStatOK
}
unsafe extern "C" fn edit_end(_s: OfxParamSetHandle) -> OfxStatus {
    kOfxStatOK
}

pub static PARAMETER_SUITE: OfxParameterSuiteV1 = OfxParameterSuiteV1 {
    paramDefine: param_define,
    paramGetHandle: param_get_handle,
    paramSetGetPropertySet: param_set_get_property_set,
    paramGetPropertySet: param_get_property_set,
    paramGetValue: hs_paramGetValue,
    paramGetValueAtTime: hs_paramGetValueAtTime,
    paramGetDerivative: hs_paramGetDerivative,
    paramGetIntegral: hs_paramGetIntegral,
    paramSetValue: hs_paramSetValue,
    paramSetValueAtTime: hs_paramSetValueAtTime,
    paramGetNumKeys: get_num_keys,
    paramGetKeyTime: get_key_time,
    paramGetKeyIndex: get_key_index,
    paramDeleteKey: delete_key,
    paramDeleteAllKeys: delete_all_keys,
    paramCopy: param_copy,
    paramEditBegin: edit_begin,
    paramEditEnd: edit_end,
};

// ---------------------------------------------------------------- messages and progress

/// Messages with no (or a foreign) effect handle land here.
pub fn host_messages() -> &'static Arc<Shared> {
    static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();
    SHARED.get_or_init(Default::default)
}

#[no_mangle]
unsafe extern "C" fn hs_message(h: *mut c_void, kind: *const c_char, id: *const c_char, text: *const c_char, persistent: c_int) -> OfxStatus {
    guarded!({
        let shared = effect(h).map_or_else(|| host_messages().clone(), |fx| fx.shared.clone());
        let m = Message {
            kind: name_of(kind).unwrap_or_default(),
            id: name_of(id).unwrap_or_default(),
            text: name_of(text).unwrap_or_default(),
            persistent: persistent != 0,
        };
        let question = m.kind == "OfxMessageQuestion";
        shared.messages.lock().push(m);
        // A non-interactive host answers questions with "no".
        if question {
            kOfxStatReplyNo
        } else {
            kOfxStatOK
        }
    })
}

unsafe extern "C" fn clear_persistent(h: *mut c_void) -> OfxStatus {
    guarded!({
        if let Some(fx) = effect(h) {
            fx.shared.messages.lock().retain(|m| !m.persistent);
        }
        kOfxStatOK
    })
}

pub static MESSAGE_SUITE_V1: OfxMessageSuiteV1 = OfxMessageSuiteV1 { message: hs_message_v };
pub static MESSAGE_SUITE_V2: OfxMessageSuiteV2 = OfxMessageSuiteV2 {
    message: hs_message_v,
    setPersistentMessage: hs_persistent_message_v,
    clearPersistentMessage: clear_persistent,
};

unsafe fn progress_start(h: *mut c_void, label: *const c_char) -> OfxStatus {
    if let Some(fx) = effect(h) {
        *fx.shared.progress_label.lock() = name_of(label).unwrap_or_default();
    }
    kOfxStatOK
}
unsafe extern "C" fn progress_start_v1(h: *mut c_void, label: *const c_char) -> OfxStatus {
    guarded!(progress_start(h, label))
}
unsafe extern "C" fn progress_start_v2(h: *mut c_void, label: *const c_char, _id: *const c_char) -> OfxStatus {
    guarded!(progress_start(h, label))
}
unsafe extern "C" fn progress_update(h: *mut c_void, fraction: c_double) -> OfxStatus {
    guarded!({
        let Some(fx) = effect(h) else { return kOfxStatErrBadHandle };
        let s = &fx.shared;
        let n = s.progress_updates.fetch_add(1, Ordering::SeqCst) + 1;
        if matches!(*s.abort_after_progress_updates.lock(), Some(limit) if n >= limit) {
            s.abort.store(true, Ordering::SeqCst);
        }
        if let Some(sink) = s.progress_sink.lock().as_ref() {
            sink(&s.progress_label.lock(), fraction);
        }
        if s.abort.load(Ordering::SeqCst) {
            kOfxStatReplyNo
        } else {
            kOfxStatOK
        }
    })
}
unsafe extern "C" fn progress_end(_h: *mut c_void) -> OfxStatus {
    kOfxStatOK
}

pub static PROGRESS_SUITE_V1: OfxProgressSuiteV1 =
    OfxProgressSuiteV1 { progressStart: progress_start_v1, progressUpdate: progress_update, progressEnd: progress_end };
pub static PROGRESS_SUITE_V2: OfxProgressSuiteV2 =
    OfxProgressSuiteV2 { progressStart: progress_start_v2, progressUpdate: progress_update, progressEnd: progress_end };

// ---------------------------------------------------------------- timeline, memory, threads

unsafe extern "C" fn get_time(h: *mut c_void, out: *mut c_double) -> OfxStatus {
    guarded!(match (effect(h), out.is_null()) {
        (Some(fx), false) => {
            *out = *fx.shared.current_time.lock();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}
unsafe extern "C" fn goto_time(h: *mut c_void, t: c_double) -> OfxStatus {
    guarded!(match effect(h) {
        Some(fx) => {
            *fx.shared.current_time.lock() = t;
            kOfxStatOK
        }
        None => kOfxStatErrBadHandle,
    })
}
unsafe extern "C" fn get_time_bounds(h: *mut c_void, a: *mut c_double, b: *mut c_double) -> OfxStatus {
    guarded!(match (effect(h), a.is_null() || b.is_null()) {
        (Some(fx), false) => {
            (*a, *b) = *fx.shared.time_bounds.lock();
            kOfxStatOK
        }
        _ => kOfxStatErrBadHandle,
    })
}
pub static TIMELINE_SUITE: OfxTimeLineSuiteV1 =
    OfxTimeLineSuiteV1 { getTime: get_time, gotoTime: goto_time, getTimeBounds: get_time_bounds };

unsafe extern "C" fn memory_alloc(_h: *mut c_void, n: usize, out: *mut *mut c_void) -> OfxStatus {
    guarded!({
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let p = libc::malloc(n.max(1));
        *out = p;
        if p.is_null() {
            kOfxStatErrMemory
        } else {
            kOfxStatOK
        }
    })
}
unsafe extern "C" fn memory_free(p: *mut c_void) -> OfxStatus {
    libc::free(p);
    kOfxStatOK
}
pub static MEMORY_SUITE: OfxMemorySuiteV1 = OfxMemorySuiteV1 { memoryAlloc: memory_alloc, memoryFree: memory_free };

thread_local! {
    static THREAD_INDEX: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

unsafe extern "C" fn multi_thread(f: OfxThreadFunctionV1, n: c_uint, arg: *mut c_void) -> OfxStatus {
    guarded!({
        let n = n.max(1);
        let arg = arg as usize;
        std::thread::scope(|s| {
            for i in 0..n {
                s.spawn(move || {
                    THREAD_INDEX.with(|c| c.set(Some(i)));
                    f(i, n, arg as *mut c_void);
                });
            }
        });
        kOfxStatOK
    })
}
unsafe extern "C" fn num_cpus(out: *mut c_uint) -> OfxStatus {
    if out.is_null() {
        return kOfxStatErrBadHandle;
    }
    *out = std::thread::available_parallelism().map_or(1, |n| n.get()) as c_uint;
    kOfxStatOK
}
unsafe extern "C" fn thread_index(out: *mut c_uint) -> OfxStatus {
    if out.is_null() {
        return kOfxStatErrBadHandle;
    }
    *out = THREAD_INDEX.with(|c| c.get()).unwrap_or(0);
    kOfxStatOK
}
unsafe extern "C" fn is_spawned() -> c_int {
    THREAD_INDEX.with(|c| c.get()).is_some() as c_int
}

/// A recursive mutex, as the suite requires.
#[derive(Default)]
struct RecursiveMutex {
    state: std::sync::Mutex<(Option<std::thread::ThreadId>, usize)>,
    cv: std::sync::Condvar,
}

unsafe extern "C" fn mutex_create(out: *mut OfxMutexHandle, lock_count: c_int) -> OfxStatus {
    guarded!({
        if out.is_null() {
            return kOfxStatErrBadHandle;
        }
        let m = Box::new(RecursiveMutex::default());
        if lock_count > 0 {
            *m.state.lock().unwrap_or_else(|e| e.into_inner()) = (Some(std::thread::current().id()), lock_count as usize);
        }
        *out = Box::into_raw(m) as OfxMutexHandle;
        kOfxStatOK
    })
}
unsafe extern "C" fn mutex_destroy(m: OfxMutexHandle) -> OfxStatus {
    if m.is_null() {
        return kOfxStatErrBadHandle;
    }
    drop(Box::from_raw(m as *mut RecursiveMutex));
    kOfxStatOK
}
unsafe extern "C" fn mutex_lock(m: OfxMutexHandle) -> OfxStatus {
    guarded!({
        let Some(m) = (m as *const RecursiveMutex).as_ref() else { return kOfxStatErrBadHandle };
        let me = std::thread::current().id();
        let mut s = m.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.0.is_some() && s.0 != Some(me) {
            s = m.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        *s = (Some(me), s.1 + 1);
        kOfxStatOK
    })
}
unsafe extern "C" fn mutex_unlock(m: OfxMutexHandle) -> OfxStatus {
    guarded!({
        let Some(m) = (m as *const RecursiveMutex).as_ref() else { return kOfxStatErrBadHandle };
        let mut s = m.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.0 != Some(std::thread::current().id()) || s.1 == 0 {
            return kOfxStatErrValue;
        }
        s.1 -= 1;
        if s.1 == 0 {
            s.0 = None;
            m.cv.notify_one();
        }
        kOfxStatOK
    })
}
unsafe extern "C" fn mutex_try_lock(m: OfxMutexHandle) -> OfxStatus {
    guarded!({
        let Some(mx) = (m as *const RecursiveMutex).as_ref() else { return kOfxStatErrBadHandle };
        let me = std::thread::current().id();
        let mut s = mx.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.0.is_some() && s.0 != Some(me) {
            return kOfxStatFailed;
        }
        *s = (Some(me), s.1 + 1);
        kOfxStatOK
    })
}

pub static MULTI_THREAD_SUITE: OfxMultiThreadSuiteV1 = OfxMultiThreadSuiteV1 {
    multiThread: multi_thread,
    multiThreadNumCPUs: num_cpus,
    multiThreadIndex: thread_index,
    multiThreadIsSpawnedThread: is_spawned,
    mutexCreate: mutex_create,
    mutexDestroy: mutex_destroy,
    mutexLock: mutex_lock,
    mutexUnLock: mutex_unlock,
    mutexTryLock: mutex_try_lock,
};

// ---------------------------------------------------------------- the host

unsafe extern "C" fn fetch_suite(_host: OfxPropertySetHandle, name: *const c_char, version: c_int) -> *const c_void {
    std::panic::catch_unwind(|| {
        let Some(name) = name_of(name) else { return std::ptr::null() };
        fn p<T>(s: &'static T) -> *const c_void {
            s as *const T as *const c_void
        }
        match (name.as_str(), version) {
            ("OfxPropertySuite", 1) => p(&PROPERTY_SUITE),
            ("OfxImageEffectSuite", 1) => p(&IMAGE_EFFECT_SUITE),
            ("OfxParameterSuite", 1) => p(&PARAMETER_SUITE),
            ("OfxMemorySuite", 1) => p(&MEMORY_SUITE),
            ("OfxMultiThreadSuite", 1) => p(&MULTI_THREAD_SUITE),
            ("OfxMessageSuite", 1) => p(&MESSAGE_SUITE_V1),
            ("OfxMessageSuite", 2) => p(&MESSAGE_SUITE_V2),
            ("OfxProgressSuite", 1) => p(&PROGRESS_SUITE_V1),
            ("OfxProgressSuite", 2) => p(&PROGRESS_SUITE_V2),
            ("OfxTimeLineSuite", 1) => p(&TIMELINE_SUITE),
            _ => std::ptr::null(),
        }
    })
    .unwrap_or(std::ptr::null())
}

struct HostPtr(*mut OfxHost);
unsafe impl Send for HostPtr {}
unsafe impl Sync for HostPtr {}

/// The one OfxHost of the process (plugins keep the pointer for their lifetime).
pub fn ofx_host() -> *mut OfxHost {
    static HOST: OnceLock<HostPtr> = OnceLock::new();
    HOST.get_or_init(|| {
        let props = Box::leak(PropSet::new());
        props.set_str(kOfxPropType, "OfxTypeImageEffectHost");
        props.set_str(kOfxPropName, "org.genvideo.hostsim");
        props.set_str(kOfxPropLabel, "GenVideo host simulator");
        props.set_ints(kOfxPropAPIVersion, &[1, 4]);
        props.set_ints(kOfxPropVersion, &[0, 1, 0]);
        props.set_str(kOfxPropVersionLabel, env!("CARGO_PKG_VERSION"));
        props.set_int(kOfxImageEffectHostPropIsBackground, 1);
        props.set_int(kOfxImageEffectPropSupportsOverlays, 0);
        props.set_int(kOfxImageEffectPropSupportsMultiResolution, 0);
        props.set_int(kOfxImageEffectPropSupportsTiles, 0);
        props.set_int(kOfxImageEffectPropTemporalClipAccess, 1);
        props.set_int(kOfxImageEffectPropSupportsMultipleClipDepths, 0);
        props.set_int(kOfxImageEffectPropSupportsMultipleClipPARs, 0);
        props.set_int(kOfxImageEffectPropSetableFrameRate, 0);
        props.set_int(kOfxImageEffectPropSetableFielding, 0);
        props.set_int(kOfxParamHostPropSupportsStringAnimation, 0);
        props.set_int(kOfxParamHostPropMaxParameters, -1);
        props.set_strs(
            kOfxImageEffectPropSupportedComponents,
            &["OfxImageComponentRGBA", "OfxImageComponentRGB", "OfxImageComponentAlpha"],
        );
        props.set_strs(
            kOfxImageEffectPropSupportedContexts,
            &["OfxImageEffectContextGenerator", "OfxImageEffectContextFilter", "OfxImageEffectContextGeneral"],
        );
        props.set_strs(
            kOfxImageEffectPropSupportedPixelDepths,
            &["OfxBitDepthByte", "OfxBitDepthShort", "OfxBitDepthHalf", "OfxBitDepthFloat"],
        );
        HostPtr(Box::into_raw(Box::new(OfxHost { host: props.handle(), fetchSuite: Some(fetch_suite) })))
    })
    .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    #[test]
    fn property_suite_round_trips_every_type_and_reports_errors() {
        let p = PropSet::new();
        let h = p.handle();
        let s = &PROPERTY_SUITE;
        unsafe {
            assert_eq!((s.propSetInt)(h, c("i").as_ptr(), 2, 7), kOfxStatOK);
            let mut n = 0;
            assert_eq!((s.propGetDimension)(h, c("i").as_ptr(), &mut n), kOfxStatOK);
            assert_eq!(n, 3, "setting index 2 grows the property");
            let mut v = 0;
            (s.propGetInt)(h, c("i").as_ptr(), 2, &mut v);
            assert_eq!(v, 7);
            assert_eq!((s.propGetInt)(h, c("i").as_ptr(), 5, &mut v), kOfxStatErrBadIndex);
            assert_eq!((s.propGetInt)(h, c("nope").as_ptr(), 0, &mut v), kOfxStatErrUnknown);
            let mut d = 0.0;
            assert_eq!((s.propGetDouble)(h, c("i").as_ptr(), 0, &mut d), kOfxStatErrValue, "wrong type");
            (s.propSetString)(h, c("s").as_ptr(), 0, c("hello").as_ptr());
            let mut out: *mut c_char = std::ptr::null_mut();
            assert_eq!((s.propGetString)(h, c("s").as_ptr(), 0, &mut out), kOfxStatOK);
            assert_eq!(CStr::from_ptr(out).to_str().unwrap(), "hello");
            let ds = [1.5, 2.5];
            (s.propSetDoubleN)(h, c("d").as_ptr(), 2, ds.as_ptr());
            let mut back = [0.0; 2];
            (s.propGetDoubleN)(h, c("d").as_ptr(), 2, back.as_mut_ptr());
            assert_eq!(back, ds);
            assert_eq!((s.propReset)(h, c("d").as_ptr()), kOfxStatOK);
            assert_eq!((s.propGetDimension)(h, c("d").as_ptr(), &mut n), kOfxStatErrUnknown);
            assert_eq!((s.propGetInt)(std::ptr::null_mut(), c("i").as_ptr(), 0, &mut v), kOfxStatErrBadHandle);
        }
    }

    /// The variadic functions go through the C shim: one out-pointer per component.
    #[test]
    fn parameter_values_cross_the_variadic_shim() {
        let fx = EffectObj::new(Default::default());
        let set = fx.params.handle();
        let ps = &PARAMETER_SUITE;
        unsafe {
            for (ty, name) in [("OfxParamTypeInteger", "n"), ("OfxParamTypeDouble2D", "xy"), ("OfxParamTypeString", "s"), ("OfxParamTypeBoolean", "b")] {
                assert_eq!((ps.paramDefine)(set, c(ty).as_ptr(), c(name).as_ptr(), std::ptr::null_mut()), kOfxStatOK);
            }
            assert_eq!((ps.paramDefine)(set, c("OfxParamTypeInteger").as_ptr(), c("n").as_ptr(), std::ptr::null_mut()), kOfxStatErrExists);
            let handle = |name: &str| {
                let mut h: OfxParamHandle = std::ptr::null_mut();
                assert_eq!((ps.paramGetHandle)(set, c(name).as_ptr(), &mut h, std::ptr::null_mut()), kOfxStatOK);
                h
            };
            let (n, xy, s, b) = (handle("n"), handle("xy"), handle("s"), handle("b"));
            assert_eq!((ps.paramSetValue)(n, 42 as c_int), kOfxStatOK);
            assert_eq!((ps.paramSetValueAtTime)(xy, 3.0, 0.25f64, -4.5f64), kOfxStatOK);
            assert_eq!((ps.paramSetValue)(s, c("12-15, 40").as_ptr()), kOfxStatOK);
            assert_eq!((ps.paramSetValue)(b, 1 as c_int), kOfxStatOK);
            let mut i: c_int = 0;
            assert_eq!((ps.paramGetValueAtTime)(n, 7.0, &mut i as *mut c_int), kOfxStatOK);
            assert_eq!(i, 42);
            let (mut x, mut y) = (0.0f64, 0.0f64);
            assert_eq!((ps.paramGetValue)(xy, &mut x as *mut f64, &mut y as *mut f64), kOfxStatOK);
            assert_eq!((x, y), (0.25, -4.5));
            let mut text: *mut c_char = std::ptr::null_mut();
            assert_eq!((ps.paramGetValue)(s, &mut text as *mut *mut c_char), kOfxStatOK);
            assert_eq!(CStr::from_ptr(text).to_str().unwrap(), "12-15, 40");
            (ps.paramGetValue)(b, &mut i as *mut c_int);
            assert_eq!(i, 1);
            let mut junk = 0u8;
            assert_eq!((ps.paramGetValue)(&mut junk as *mut u8 as OfxParamHandle, &mut i as *mut c_int), kOfxStatErrBadHandle);
        }
        for p in fx.params.params.lock().iter() {
            live_params().lock().remove(&(p.handle() as usize));
        }
    }

    #[test]
    fn messages_are_formatted_and_recorded() {
        let fx = EffectObj::new(Default::default());
        unsafe {
            let h = fx.handle() as *mut c_void;
            (MESSAGE_SUITE_V2.message)(h, c("OfxMessageError").as_ptr(), c("id").as_ptr(), c("%s: %d%%").as_ptr(), c("frame").as_ptr(), 5 as c_int);
        }
        let m = fx.shared.messages.lock().clone();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].text, "frame: 5%");
        assert!(m[0].is_error());
    }
}
