//! A minimal OpenFX plugin for host-sim's own tests, built with no torch: a Filter that writes
//! `1 - source` (float RGBA), and, when its "leak" parameter is on, "forgets" to release the
//! source image so the host's leak accounting can be tested.
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicPtr, Ordering};

use bridge::ofx::*;

static HOST: AtomicPtr<OfxHost> = AtomicPtr::new(std::ptr::null_mut());

unsafe fn suite<T>(name: &CStr, version: c_int) -> &'static T {
    let host = &*HOST.load(Ordering::SeqCst);
    &*(host.fetchSuite.unwrap()(host.host, name.as_ptr(), version) as *const T)
}

unsafe fn props() -> &'static OfxPropertySuiteV1 {
    suite(kOfxPropertySuite, 1)
}
unsafe fn effect() -> &'static OfxImageEffectSuiteV1 {
    suite(kOfxImageEffectSuite, 1)
}
unsafe fn params() -> &'static OfxParameterSuiteV1 {
    suite(kOfxParameterSuite, 1)
}

unsafe fn describe(h: OfxImageEffectHandle) -> OfxStatus {
    let mut p = std::ptr::null_mut();
    (effect().getPropertySet)(h, &mut p);
    (props().propSetString)(p, kOfxPropLabel.as_ptr(), 0, c"Test invert".as_ptr());
    (props().propSetString)(p, kOfxImageEffectPropSupportedContexts.as_ptr(), 0, kOfxImageEffectContextFilter.as_ptr());
    (props().propSetString)(p, kOfxImageEffectPropSupportedPixelDepths.as_ptr(), 0, kOfxBitDepthFloat.as_ptr());
    (props().propSetString)(p, kOfxImageEffectPluginRenderThreadSafety.as_ptr(), 0, kOfxImageEffectRenderFullySafe.as_ptr());
    kOfxStatOK
}

unsafe fn describe_in_context(h: OfxImageEffectHandle) -> OfxStatus {
    let mut p = std::ptr::null_mut();
    (effect().clipDefine)(h, c"Source".as_ptr(), &mut p);
    (effect().clipDefine)(h, c"Output".as_ptr(), &mut p);
    let mut set = std::ptr::null_mut();
    (effect().getParamSet)(h, &mut set);
    (params().paramDefine)(set, kOfxParamTypeBoolean.as_ptr(), c"leak".as_ptr(), &mut p);
    kOfxStatOK
}

unsafe fn image(h: OfxImageEffectHandle, clip: &CStr, time: f64) -> Option<OfxPropertySetHandle> {
    let mut c = std::ptr::null_mut();
    (effect().clipGetHandle)(h, clip.as_ptr(), &mut c, std::ptr::null_mut());
    let mut img = std::ptr::null_mut();
    ((effect().clipGetImage)(c, time, std::ptr::null(), &mut img) == kOfxStatOK && !img.is_null()).then_some(img)
}

unsafe fn render(h: OfxImageEffectHandle, args: OfxPropertySetHandle) -> OfxStatus {
    let mut time = 0.0;
    (props().propGetDouble)(args, kOfxPropTime.as_ptr(), 0, &mut time);
    let mut set = std::ptr::null_mut();
    (effect().getParamSet)(h, &mut set);
    let mut leak_param = std::ptr::null_mut();
    (params().paramGetHandle)(set, c"leak".as_ptr(), &mut leak_param, std::ptr::null_mut());
    let mut leak: c_int = 0;
    (params().paramGetValueAtTime)(leak_param, time, &mut leak as *mut c_int);

    let (Some(src), Some(dst)) = (image(h, c"Source", time), image(h, c"Output", time)) else {
        return kOfxStatFailed;
    };
    let get = |img, name: &CStr, i| {
        let mut v = 0;
        (props().propGetInt)(img, name.as_ptr(), i, &mut v);
        v
    };
    let ptr = |img| {
        let mut v = std::ptr::null_mut();
        (props().propGetPointer)(img, kOfxImagePropData.as_ptr(), 0, &mut v);
        v as *mut u8
    };
    let (x1, y1, x2, y2) = (get(dst, kOfxImagePropBounds, 0), get(dst, kOfxImagePropBounds, 1), get(dst, kOfxImagePropBounds, 2), get(dst, kOfxImagePropBounds, 3));
    let (sr, dr) = (get(src, kOfxImagePropRowBytes, 0) as isize, get(dst, kOfxImagePropRowBytes, 0) as isize);
    let (sp, dp) = (ptr(src), ptr(dst));
    for y in 0..(y2 - y1) as isize {
        let s = sp.offset(y * sr) as *const f32;
        let d = dp.offset(y * dr) as *mut f32;
        for i in 0..((x2 - x1) * 4) as usize {
            let v = s.add(i).read_unaligned();
            d.add(i).write_unaligned(if i % 4 == 3 { v } else { 1.0 - v });
        }
    }
    (effect().clipReleaseImage)(dst);
    if leak == 0 {
        (effect().clipReleaseImage)(src);
    }
    kOfxStatOK
}

unsafe extern "C" fn main_entry(action: *const c_char, handle: *const c_void, in_args: OfxPropertySetHandle, _out: OfxPropertySetHandle) -> OfxStatus {
    let action = CStr::from_ptr(action);
    let h = handle as OfxImageEffectHandle;
    if action == kOfxActionDescribe {
        describe(h)
    } else if action == kOfxImageEffectActionDescribeInContext {
        describe_in_context(h)
    } else if action == kOfxImageEffectActionRender {
        render(h, in_args)
    } else if action == kOfxActionLoad || action == kOfxActionUnload || action == kOfxActionCreateInstance || action == kOfxActionDestroyInstance {
        kOfxStatOK
    } else {
        kOfxStatReplyDefault
    }
}

unsafe extern "C" fn set_host(host: *mut OfxHost) {
    HOST.store(host, Ordering::SeqCst);
}

static mut PLUGIN: OfxPlugin = OfxPlugin {
    pluginApi: kOfxImageEffectPluginApi.as_ptr(),
    apiVersion: 1,
    pluginIdentifier: c"org.hostsim.TestInvert".as_ptr(),
    pluginVersionMajor: 1,
    pluginVersionMinor: 0,
    setHost: Some(set_host),
    mainEntry: Some(main_entry),
};

#[no_mangle]
pub extern "C" fn OfxGetNumberOfPlugins() -> c_int {
    1
}

#[no_mangle]
pub extern "C" fn OfxGetPlugin(nth: c_int) -> *mut OfxPlugin {
    if nth == 0 {
        std::ptr::addr_of_mut!(PLUGIN)
    } else {
        std::ptr::null_mut()
    }
}
