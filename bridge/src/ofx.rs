//! The OpenFX C ABI (1.4 plus the parts of 1.5 hosts use), written by hand from the published
//! headers' documented layout. Only what this project needs on either side of the ABI (plugin or
//! host-sim) is declared; every struct is `#[repr(C)]` and field order follows the headers exactly,
//! because hosts index these suites by offset.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, clippy::upper_case_acronyms)]

use std::ffi::{c_char, c_double, c_int, c_uint, c_void, CStr};

pub type OfxStatus = c_int;
pub type OfxTime = c_double;

#[repr(C)]
pub struct OfxPropertySetStruct {
    _private: [u8; 0],
}
pub type OfxPropertySetHandle = *mut OfxPropertySetStruct;
#[repr(C)]
pub struct OfxImageEffectStruct {
    _private: [u8; 0],
}
pub type OfxImageEffectHandle = *mut OfxImageEffectStruct;
#[repr(C)]
pub struct OfxImageClipStruct {
    _private: [u8; 0],
}
pub type OfxImageClipHandle = *mut OfxImageClipStruct;
#[repr(C)]
pub struct OfxParamSetStruct {
    _private: [u8; 0],
}
pub type OfxParamSetHandle = *mut OfxParamSetStruct;
#[repr(C)]
pub struct OfxParamStruct {
    _private: [u8; 0],
}
pub type OfxParamHandle = *mut OfxParamStruct;
#[repr(C)]
pub struct OfxImageMemoryStruct {
    _private: [u8; 0],
}
pub type OfxImageMemoryHandle = *mut OfxImageMemoryStruct;
#[repr(C)]
pub struct OfxMutex {
    _private: [u8; 0],
}
pub type OfxMutexHandle = *mut OfxMutex;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OfxRectI {
    pub x1: c_int,
    pub y1: c_int,
    pub x2: c_int,
    pub y2: c_int,
}
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OfxRectD {
    pub x1: c_double,
    pub y1: c_double,
    pub x2: c_double,
    pub y2: c_double,
}
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OfxPointD {
    pub x: c_double,
    pub y: c_double,
}
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OfxPointI {
    pub x: c_int,
    pub y: c_int,
}
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OfxRangeD {
    pub min: c_double,
    pub max: c_double,
}

#[repr(C)]
pub struct OfxHost {
    pub host: OfxPropertySetHandle,
    pub fetchSuite: Option<
        unsafe extern "C" fn(host: OfxPropertySetHandle, suiteName: *const c_char, suiteVersion: c_int) -> *const c_void,
    >,
}

pub type OfxPluginEntryPoint = unsafe extern "C" fn(
    action: *const c_char,
    handle: *const c_void,
    inArgs: OfxPropertySetHandle,
    outArgs: OfxPropertySetHandle,
) -> OfxStatus;

#[repr(C)]
pub struct OfxPlugin {
    pub pluginApi: *const c_char,
    pub apiVersion: c_int,
    pub pluginIdentifier: *const c_char,
    pub pluginVersionMajor: c_uint,
    pub pluginVersionMinor: c_uint,
    pub setHost: Option<unsafe extern "C" fn(host: *mut OfxHost)>,
    pub mainEntry: Option<OfxPluginEntryPoint>,
}
// The plugin hands the host pointers to static OfxPlugin records; they only hold 'static strings.
unsafe impl Sync for OfxPlugin {}
unsafe impl Send for OfxPlugin {}

/// Signatures of the bundle's exported symbols.
pub type OfxGetNumberOfPluginsFn = unsafe extern "C" fn() -> c_int;
pub type OfxGetPluginFn = unsafe extern "C" fn(nth: c_int) -> *mut OfxPlugin;
pub type OfxSetHostFn = unsafe extern "C" fn(host: *const OfxHost) -> OfxStatus;

#[repr(C)]
pub struct OfxPropertySuiteV1 {
    pub propSetPointer: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut c_void) -> OfxStatus,
    pub propSetString: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *const c_char) -> OfxStatus,
    pub propSetDouble: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, c_double) -> OfxStatus,
    pub propSetInt: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, c_int) -> OfxStatus,
    pub propSetPointerN:
        unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *const *mut c_void) -> OfxStatus,
    pub propSetStringN:
        unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *const *const c_char) -> OfxStatus,
    pub propSetDoubleN: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *const c_double) -> OfxStatus,
    pub propSetIntN: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *const c_int) -> OfxStatus,
    pub propGetPointer: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut *mut c_void) -> OfxStatus,
    pub propGetString: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut *mut c_char) -> OfxStatus,
    pub propGetDouble: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut c_double) -> OfxStatus,
    pub propGetInt: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut c_int) -> OfxStatus,
    pub propGetPointerN:
        unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut *mut c_void) -> OfxStatus,
    pub propGetStringN:
        unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut *mut c_char) -> OfxStatus,
    pub propGetDoubleN: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut c_double) -> OfxStatus,
    pub propGetIntN: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, c_int, *mut c_int) -> OfxStatus,
    pub propReset: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char) -> OfxStatus,
    pub propGetDimension: unsafe extern "C" fn(OfxPropertySetHandle, *const c_char, *mut c_int) -> OfxStatus,
}

#[repr(C)]
pub struct OfxImageEffectSuiteV1 {
    pub getPropertySet: unsafe extern "C" fn(OfxImageEffectHandle, *mut OfxPropertySetHandle) -> OfxStatus,
    pub getParamSet: unsafe extern "C" fn(OfxImageEffectHandle, *mut OfxParamSetHandle) -> OfxStatus,
    pub clipDefine: unsafe extern "C" fn(OfxImageEffectHandle, *const c_char, *mut OfxPropertySetHandle) -> OfxStatus,
    pub clipGetHandle: unsafe extern "C" fn(
        OfxImageEffectHandle,
        *const c_char,
        *mut OfxImageClipHandle,
        *mut OfxPropertySetHandle,
    ) -> OfxStatus,
    pub clipGetPropertySet: unsafe extern "C" fn(OfxImageClipHandle, *mut OfxPropertySetHandle) -> OfxStatus,
    pub clipGetImage:
        unsafe extern "C" fn(OfxImageClipHandle, OfxTime, *const OfxRectD, *mut OfxPropertySetHandle) -> OfxStatus,
    pub clipReleaseImage: unsafe extern "C" fn(OfxPropertySetHandle) -> OfxStatus,
    pub clipGetRegionOfDefinition: unsafe extern "C" fn(OfxImageClipHandle, OfxTime, *mut OfxRectD) -> OfxStatus,
    pub abort: unsafe extern "C" fn(OfxImageEffectHandle) -> c_int,
    pub imageMemoryAlloc:
        unsafe extern "C" fn(OfxImageEffectHandle, usize, *mut OfxImageMemoryHandle) -> OfxStatus,
    pub imageMemoryFree: unsafe extern "C" fn(OfxImageMemoryHandle) -> OfxStatus,
    pub imageMemoryLock: unsafe extern "C" fn(OfxImageMemoryHandle, *mut *mut c_void) -> OfxStatus,
    pub imageMemoryUnlock: unsafe extern "C" fn(OfxImageMemoryHandle) -> OfxStatus,
}

/// paramGetValue & co. are C-variadic: the plugin calls them with one out-pointer per component
/// (`int*`, `double*`, `char**`), the host defines them in C (host-sim's shim).
#[repr(C)]
pub struct OfxParameterSuiteV1 {
    pub paramDefine:
        unsafe extern "C" fn(OfxParamSetHandle, *const c_char, *const c_char, *mut OfxPropertySetHandle) -> OfxStatus,
    pub paramGetHandle: unsafe extern "C" fn(
        OfxParamSetHandle,
        *const c_char,
        *mut OfxParamHandle,
        *mut OfxPropertySetHandle,
    ) -> OfxStatus,
    pub paramSetGetPropertySet: unsafe extern "C" fn(OfxParamSetHandle, *mut OfxPropertySetHandle) -> OfxStatus,
    pub paramGetPropertySet: unsafe extern "C" fn(OfxParamHandle, *mut OfxPropertySetHandle) -> OfxStatus,
    pub paramGetValue: unsafe extern "C" fn(OfxParamHandle, ...) -> OfxStatus,
    pub paramGetValueAtTime: unsafe extern "C" fn(OfxParamHandle, OfxTime, ...) -> OfxStatus,
    pub paramGetDerivative: unsafe extern "C" fn(OfxParamHandle, OfxTime, ...) -> OfxStatus,
    pub paramGetIntegral: unsafe extern "C" fn(OfxParamHandle, OfxTime, OfxTime, ...) -> OfxStatus,
    pub paramSetValue: unsafe extern "C" fn(OfxParamHandle, ...) -> OfxStatus,
    pub paramSetValueAtTime: unsafe extern "C" fn(OfxParamHandle, OfxTime, ...) -> OfxStatus,
    pub paramGetNumKeys: unsafe extern "C" fn(OfxParamHandle, *mut c_uint) -> OfxStatus,
    pub paramGetKeyTime: unsafe extern "C" fn(OfxParamHandle, c_uint, *mut OfxTime) -> OfxStatus,
    pub paramGetKeyIndex: unsafe extern "C" fn(OfxParamHandle, OfxTime, c_int, *mut c_int) -> OfxStatus,
    pub paramDeleteKey: unsafe extern "C" fn(OfxParamHandle, OfxTime) -> OfxStatus,
    pub paramDeleteAllKeys: unsafe extern "C" fn(OfxParamHandle) -> OfxStatus,
    pub paramCopy: unsafe extern "C" fn(OfxParamHandle, OfxParamHandle, OfxTime, *const OfxRangeD) -> OfxStatus,
    pub paramEditBegin: unsafe extern "C" fn(OfxParamSetHandle, *const c_char) -> OfxStatus,
    pub paramEditEnd: unsafe extern "C" fn(OfxParamSetHandle) -> OfxStatus,
}

#[repr(C)]
pub struct OfxMemorySuiteV1 {
    pub memoryAlloc: unsafe extern "C" fn(*mut c_void, usize, *mut *mut c_void) -> OfxStatus,
    pub memoryFree: unsafe extern "C" fn(*mut c_void) -> OfxStatus,
}

pub type OfxThreadFunctionV1 = unsafe extern "C" fn(threadIndex: c_uint, threadMax: c_uint, customArg: *mut c_void);

#[repr(C)]
pub struct OfxMultiThreadSuiteV1 {
    pub multiThread: unsafe extern "C" fn(OfxThreadFunctionV1, c_uint, *mut c_void) -> OfxStatus,
    pub multiThreadNumCPUs: unsafe extern "C" fn(*mut c_uint) -> OfxStatus,
    pub multiThreadIndex: unsafe extern "C" fn(*mut c_uint) -> OfxStatus,
    pub multiThreadIsSpawnedThread: unsafe extern "C" fn() -> c_int,
    pub mutexCreate: unsafe extern "C" fn(*mut OfxMutexHandle, c_int) -> OfxStatus,
    pub mutexDestroy: unsafe extern "C" fn(OfxMutexHandle) -> OfxStatus,
    pub mutexLock: unsafe extern "C" fn(OfxMutexHandle) -> OfxStatus,
    pub mutexUnLock: unsafe extern "C" fn(OfxMutexHandle) -> OfxStatus,
    pub mutexTryLock: unsafe extern "C" fn(OfxMutexHandle) -> OfxStatus,
}

/// `message` is C-variadic (printf-style format); plugins pass "%s" and one string.
#[repr(C)]
pub struct OfxMessageSuiteV1 {
    pub message: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char, ...) -> OfxStatus,
}

#[repr(C)]
pub struct OfxMessageSuiteV2 {
    pub message: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char, ...) -> OfxStatus,
    pub setPersistentMessage:
        unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char, ...) -> OfxStatus,
    pub clearPersistentMessage: unsafe extern "C" fn(*mut c_void) -> OfxStatus,
}

#[repr(C)]
pub struct OfxProgressSuiteV1 {
    pub progressStart: unsafe extern "C" fn(*mut c_void, *const c_char) -> OfxStatus,
    /// Returns kOfxStatReplyNo when the user cancelled.
    pub progressUpdate: unsafe extern "C" fn(*mut c_void, c_double) -> OfxStatus,
    pub progressEnd: unsafe extern "C" fn(*mut c_void) -> OfxStatus,
}

#[repr(C)]
pub struct OfxProgressSuiteV2 {
    pub progressStart: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> OfxStatus,
    pub progressUpdate: unsafe extern "C" fn(*mut c_void, c_double) -> OfxStatus,
    pub progressEnd: unsafe extern "C" fn(*mut c_void) -> OfxStatus,
}

#[repr(C)]
pub struct OfxTimeLineSuiteV1 {
    pub getTime: unsafe extern "C" fn(*mut c_void, *mut c_double) -> OfxStatus,
    pub gotoTime: unsafe extern "C" fn(*mut c_void, c_double) -> OfxStatus,
    pub getTimeBounds: unsafe extern "C" fn(*mut c_void, *mut c_double, *mut c_double) -> OfxStatus,
}

/// A NUL-terminated static string usable as `*const c_char`.
macro_rules! cstrs {
    ($($(#[$meta:meta])* $name:ident = $val:literal;)*) => {
        $($(#[$meta])* pub const $name: &CStr = $val;)*
    };
}

// ---- status codes
pub const kOfxStatOK: OfxStatus = 0;
pub const kOfxStatFailed: OfxStatus = 1;
pub const kOfxStatErrFatal: OfxStatus = 2;
pub const kOfxStatErrUnknown: OfxStatus = 3;
pub const kOfxStatErrMissingHostFeature: OfxStatus = 4;
pub const kOfxStatErrUnsupported: OfxStatus = 5;
pub const kOfxStatErrExists: OfxStatus = 6;
pub const kOfxStatErrFormat: OfxStatus = 7;
pub const kOfxStatErrMemory: OfxStatus = 8;
pub const kOfxStatErrBadHandle: OfxStatus = 9;
pub const kOfxStatErrBadIndex: OfxStatus = 10;
pub const kOfxStatErrValue: OfxStatus = 11;
pub const kOfxStatReplyYes: OfxStatus = 12;
pub const kOfxStatReplyNo: OfxStatus = 13;
pub const kOfxStatReplyDefault: OfxStatus = 14;
pub const kOfxStatErrImageFormat: OfxStatus = 1000;

pub const kOfxImageEffectPluginApiVersion: c_int = 1;

cstrs! {
    kOfxImageEffectPluginApi = c"OfxImageEffectPluginAPI";

    // ---- suites
    kOfxPropertySuite = c"OfxPropertySuite";
    kOfxImageEffectSuite = c"OfxImageEffectSuite";
    kOfxParameterSuite = c"OfxParameterSuite";
    kOfxMemorySuite = c"OfxMemorySuite";
    kOfxMultiThreadSuite = c"OfxMultiThreadSuite";
    kOfxMessageSuite = c"OfxMessageSuite";
    kOfxProgressSuite = c"OfxProgressSuite";
    kOfxTimeLineSuite = c"OfxTimeLineSuite";

    // ---- actions
    kOfxActionLoad = c"OfxActionLoad";
    kOfxActionUnload = c"OfxActionUnload";
    kOfxActionDescribe = c"OfxActionDescribe";
    kOfxActionCreateInstance = c"OfxActionCreateInstance";
    kOfxActionDestroyInstance = c"OfxActionDestroyInstance";
    kOfxActionInstanceChanged = c"OfxActionInstanceChanged";
    kOfxActionBeginInstanceChanged = c"OfxActionBeginInstanceChanged";
    kOfxActionEndInstanceChanged = c"OfxActionEndInstanceChanged";
    kOfxActionPurgeCaches = c"OfxActionPurgeCaches";
    kOfxActionSyncPrivateData = c"OfxActionSyncPrivateData";
    kOfxActionBeginInstanceEdit = c"OfxActionBeginInstanceEdit";
    kOfxActionEndInstanceEdit = c"OfxActionEndInstanceEdit";
    kOfxImageEffectActionDescribeInContext = c"OfxImageEffectActionDescribeInContext";
    kOfxImageEffectActionGetRegionOfDefinition = c"OfxImageEffectActionGetRegionOfDefinition";
    kOfxImageEffectActionGetRegionsOfInterest = c"OfxImageEffectActionGetRegionsOfInterest";
    kOfxImageEffectActionGetTimeDomain = c"OfxImageEffectActionGetTimeDomain";
    kOfxImageEffectActionGetFramesNeeded = c"OfxImageEffectActionGetFramesNeeded";
    kOfxImageEffectActionGetClipPreferences = c"OfxImageEffectActionGetClipPreferences";
    kOfxImageEffectActionIsIdentity = c"OfxImageEffectActionIsIdentity";
    kOfxImageEffectActionRender = c"OfxImageEffectActionRender";
    kOfxImageEffectActionBeginSequenceRender = c"OfxImageEffectActionBeginSequenceRender";
    kOfxImageEffectActionEndSequenceRender = c"OfxImageEffectActionEndSequenceRender";

    // ---- object types (kOfxPropType values)
    kOfxTypeImageEffectHost = c"OfxTypeImageEffectHost";
    kOfxTypeImageEffect = c"OfxTypeImageEffect";
    kOfxTypeImageEffectInstance = c"OfxTypeImageEffectInstance";
    kOfxTypeParameter = c"OfxTypeParameter";
    kOfxTypeParameterInstance = c"OfxTypeParameterInstance";
    kOfxTypeClip = c"OfxTypeClip";
    kOfxTypeImage = c"OfxTypeImage";

    // ---- general properties
    kOfxPropType = c"OfxPropType";
    kOfxPropName = c"OfxPropName";
    kOfxPropLabel = c"OfxPropLabel";
    kOfxPropShortLabel = c"OfxPropShortLabel";
    kOfxPropLongLabel = c"OfxPropLongLabel";
    kOfxPropTime = c"OfxPropTime";
    kOfxPropInstanceData = c"OfxPropInstanceData";
    kOfxPropPluginDescription = c"OfxPropPluginDescription";
    kOfxPropAPIVersion = c"OfxPropAPIVersion";
    kOfxPropVersion = c"OfxPropVersion";
    kOfxPropVersionLabel = c"OfxPropVersionLabel";
    kOfxPropIsInteractive = c"OfxPropIsInteractive";
    kOfxPropChangeReason = c"OfxPropChangeReason";
    kOfxPropEffectInstance = c"OfxPropEffectInstance";
    kOfxChangeUserEdited = c"OfxChangeUserEdited";
    kOfxChangePluginEdited = c"OfxChangePluginEdited";
    kOfxChangeTime = c"OfxChangeTime";

    // ---- image effect (descriptor, instance, host) properties
    kOfxImageEffectPropContext = c"OfxImageEffectPropContext";
    kOfxImageEffectPluginPropGrouping = c"OfxImageEffectPluginPropGrouping";
    kOfxImageEffectPropSupportedContexts = c"OfxImageEffectPropSupportedContexts";
    kOfxImageEffectPropSupportedPixelDepths = c"OfxImageEffectPropSupportedPixelDepths";
    kOfxImageEffectPropSupportedComponents = c"OfxImageEffectPropSupportedComponents";
    kOfxImageEffectPluginPropSingleInstance = c"OfxImageEffectPluginPropSingleInstance";
    kOfxImageEffectPluginRenderThreadSafety = c"OfxImageEffectPluginRenderThreadSafety";
    kOfxImageEffectRenderUnsafe = c"OfxImageEffectRenderUnsafe";
    kOfxImageEffectRenderInstanceSafe = c"OfxImageEffectRenderInstanceSafe";
    kOfxImageEffectRenderFullySafe = c"OfxImageEffectRenderFullySafe";
    kOfxImageEffectPluginPropHostFrameThreading = c"OfxImageEffectPluginPropHostFrameThreading";
    kOfxImageEffectPropSupportsMultiResolution = c"OfxImageEffectPropSupportsMultiResolution";
    kOfxImageEffectPropSupportsTiles = c"OfxImageEffectPropSupportsTiles";
    kOfxImageEffectPropTemporalClipAccess = c"OfxImageEffectPropTemporalClipAccess";
    kOfxImageEffectPropSupportsMultipleClipDepths = c"OfxImageEffectPropSupportsMultipleClipDepths";
    kOfxImageEffectPropSupportsMultipleClipPARs = c"OfxImageEffectPropSupportsMultipleClipPARs";
    kOfxImageEffectPluginPropFieldRenderTwiceAlways = c"OfxImageEffectPluginPropFieldRenderTwiceAlways";
    kOfxImageEffectPropSetableFrameRate = c"OfxImageEffectPropSetableFrameRate";
    kOfxImageEffectPropSetableFielding = c"OfxImageEffectPropSetableFielding";
    kOfxImageEffectHostPropIsBackground = c"OfxImageEffectHostPropIsBackground";
    kOfxImageEffectPropSupportsOverlays = c"OfxImageEffectPropSupportsOverlays";
    kOfxImageEffectInstancePropEffectDuration = c"OfxImageEffectInstancePropEffectDuration";
    kOfxImageEffectPropProjectSize = c"OfxImageEffectPropProjectSize";
    kOfxImageEffectPropProjectExtent = c"OfxImageEffectPropProjectExtent";
    kOfxImageEffectPropProjectOffset = c"OfxImageEffectPropProjectOffset";
    kOfxImageEffectPropProjectPixelAspectRatio = c"OfxImageEffectPropProjectPixelAspectRatio";
    kOfxImageEffectPropFrameRate = c"OfxImageEffectPropFrameRate";
    kOfxImageEffectPropFrameRange = c"OfxImageEffectPropFrameRange";
    kOfxImageEffectPropUnmappedFrameRange = c"OfxImageEffectPropUnmappedFrameRange";
    kOfxImageEffectPropUnmappedFrameRate = c"OfxImageEffectPropUnmappedFrameRate";
    kOfxImageEffectPropFrameStep = c"OfxImageEffectPropFrameStep";
    kOfxImageEffectPropFieldToRender = c"OfxImageEffectPropFieldToRender";
    kOfxImageEffectPropRenderWindow = c"OfxImageEffectPropRenderWindow";
    kOfxImageEffectPropRenderScale = c"OfxImageEffectPropRenderScale";
    kOfxImageEffectPropSequentialRenderStatus = c"OfxImageEffectPropSequentialRenderStatus";
    kOfxImageEffectPropInteractiveRenderStatus = c"OfxImageEffectPropInteractiveRenderStatus";
    kOfxImageEffectPropRegionOfDefinition = c"OfxImageEffectPropRegionOfDefinition";
    kOfxImageEffectPropRegionOfInterest = c"OfxImageEffectPropRegionOfInterest";
    kOfxImageEffectPropPixelDepth = c"OfxImageEffectPropPixelDepth";
    kOfxImageEffectPropComponents = c"OfxImageEffectPropComponents";
    kOfxImageEffectPropPreMultiplication = c"OfxImageEffectPropPreMultiplication";
    kOfxImageEffectFrameVarying = c"OfxImageEffectFrameVarying";
    kOfxImageEffectPropCudaRenderSupported = c"OfxImageEffectPropCudaRenderSupported";
    kOfxImageEffectPropCudaEnabled = c"OfxImageEffectPropCudaEnabled";
    kOfxImageEffectPropCudaStream = c"OfxImageEffectPropCudaStream";

    // ---- contexts
    kOfxImageEffectContextGenerator = c"OfxImageEffectContextGenerator";
    kOfxImageEffectContextFilter = c"OfxImageEffectContextFilter";
    kOfxImageEffectContextGeneral = c"OfxImageEffectContextGeneral";
    kOfxImageEffectContextTransition = c"OfxImageEffectContextTransition";
    kOfxImageEffectContextPaint = c"OfxImageEffectContextPaint";
    kOfxImageEffectContextRetimer = c"OfxImageEffectContextRetimer";

    // ---- clips
    kOfxImageEffectOutputClipName = c"Output";
    kOfxImageEffectSimpleSourceClipName = c"Source";
    kOfxImageClipPropOptional = c"OfxImageClipPropOptional";
    kOfxImageClipPropIsMask = c"OfxImageClipPropIsMask";
    kOfxImageClipPropConnected = c"OfxImageClipPropConnected";
    kOfxImageClipPropUnmappedPixelDepth = c"OfxImageClipPropUnmappedPixelDepth";
    kOfxImageClipPropUnmappedComponents = c"OfxImageClipPropUnmappedComponents";
    kOfxImageClipPropFieldOrder = c"OfxImageClipPropFieldOrder";
    kOfxImageClipPropFieldExtraction = c"OfxImageClipPropFieldExtraction";
    kOfxImageClipPropContinuousSamples = c"OfxImageClipPropContinuousSamples";
    /// GetFramesNeeded out-arg prefix: "OfxImageClipPropFrameRange_" + clip name.
    kOfxImageClipPropFrameRange = c"OfxImageClipPropFrameRange";
    /// GetRegionsOfInterest out-arg prefix: "OfxImageClipPropRoI_" + clip name.
    kOfxImageClipPropRoI = c"OfxImageClipPropRoI";
    /// GetClipPreferences out-arg prefixes, + "_" + clip name.
    kOfxImageClipPropComponents = c"OfxImageClipPropComponents";
    kOfxImageClipPropDepth = c"OfxImageClipPropDepth";
    kOfxImageClipPropPAR = c"OfxImageClipPropPAR";

    // ---- images
    kOfxImagePropData = c"OfxImagePropData";
    kOfxImagePropBounds = c"OfxImagePropBounds";
    kOfxImagePropRegionOfDefinition = c"OfxImagePropRegionOfDefinition";
    kOfxImagePropRowBytes = c"OfxImagePropRowBytes";
    kOfxImagePropField = c"OfxImagePropField";
    kOfxImagePropUniqueIdentifier = c"OfxImagePropUniqueIdentifier";
    kOfxImagePropPixelAspectRatio = c"OfxImagePropPixelAspectRatio";
    kOfxImageFieldNone = c"OfxFieldNone";
    kOfxImageFieldBoth = c"OfxFieldBoth";
    kOfxImageFieldLower = c"OfxFieldLower";
    kOfxImageFieldUpper = c"OfxFieldUpper";
    kOfxBitDepthNone = c"OfxBitDepthNone";
    kOfxBitDepthByte = c"OfxBitDepthByte";
    kOfxBitDepthShort = c"OfxBitDepthShort";
    kOfxBitDepthHalf = c"OfxBitDepthHalf";
    kOfxBitDepthFloat = c"OfxBitDepthFloat";
    kOfxImageComponentNone = c"OfxImageComponentNone";
    kOfxImageComponentRGBA = c"OfxImageComponentRGBA";
    kOfxImageComponentRGB = c"OfxImageComponentRGB";
    kOfxImageComponentAlpha = c"OfxImageComponentAlpha";
    kOfxImageOpaque = c"OfxImageOpaque";
    kOfxImagePreMultiplied = c"OfxImageAlphaPremultiplied";
    kOfxImageUnPreMultiplied = c"OfxImageAlphaUnPremultiplied";

    // ---- parameters
    kOfxParamTypeInteger = c"OfxParamTypeInteger";
    kOfxParamTypeDouble = c"OfxParamTypeDouble";
    kOfxParamTypeBoolean = c"OfxParamTypeBoolean";
    kOfxParamTypeChoice = c"OfxParamTypeChoice";
    kOfxParamTypeString = c"OfxParamTypeString";
    kOfxParamTypeRGBA = c"OfxParamTypeRGBA";
    kOfxParamTypeRGB = c"OfxParamTypeRGB";
    kOfxParamTypeDouble2D = c"OfxParamTypeDouble2D";
    kOfxParamTypeInteger2D = c"OfxParamTypeInteger2D";
    kOfxParamTypeDouble3D = c"OfxParamTypeDouble3D";
    kOfxParamTypeInteger3D = c"OfxParamTypeInteger3D";
    kOfxParamTypeCustom = c"OfxParamTypeCustom";
    kOfxParamTypeGroup = c"OfxParamTypeGroup";
    kOfxParamTypePage = c"OfxParamTypePage";
    kOfxParamTypePushButton = c"OfxParamTypePushButton";
    kOfxParamPropType = c"OfxParamPropType";
    kOfxParamPropDefault = c"OfxParamPropDefault";
    kOfxParamPropMin = c"OfxParamPropMin";
    kOfxParamPropMax = c"OfxParamPropMax";
    kOfxParamPropDisplayMin = c"OfxParamPropDisplayMin";
    kOfxParamPropDisplayMax = c"OfxParamPropDisplayMax";
    kOfxParamPropIncrement = c"OfxParamPropIncrement";
    kOfxParamPropDigits = c"OfxParamPropDigits";
    kOfxParamPropHint = c"OfxParamPropHint";
    kOfxParamPropScriptName = c"OfxParamPropScriptName";
    kOfxParamPropParent = c"OfxParamPropParent";
    kOfxParamPropEnabled = c"OfxParamPropEnabled";
    kOfxParamPropSecret = c"OfxParamPropSecret";
    kOfxParamPropAnimates = c"OfxParamPropAnimates";
    kOfxParamPropEvaluateOnChange = c"OfxParamPropEvaluateOnChange";
    kOfxParamPropPersistant = c"OfxParamPropPersistant";
    kOfxParamPropCanUndo = c"OfxParamPropCanUndo";
    kOfxParamPropChoiceOption = c"OfxParamPropChoiceOption";
    kOfxParamPropStringMode = c"OfxParamPropStringMode";
    kOfxParamPropStringFilePathExists = c"OfxParamPropStringFilePathExists";
    kOfxParamPropPageChild = c"OfxParamPropPageChild";
    kOfxParamPropDoubleType = c"OfxParamPropDoubleType";
    kOfxParamStringIsSingleLine = c"OfxParamStringIsSingleLine";
    kOfxParamStringIsMultiLine = c"OfxParamStringIsMultiLine";
    kOfxParamStringIsFilePath = c"OfxParamStringIsFilePath";
    kOfxParamStringIsDirectoryPath = c"OfxParamStringIsDirectoryPath";
    kOfxParamStringIsLabel = c"OfxParamStringIsLabel";
    kOfxParamHostPropSupportsStringAnimation = c"OfxParamHostPropSupportsStringAnimation";
    kOfxParamHostPropMaxParameters = c"OfxParamHostPropMaxParameters";

    // ---- messages
    kOfxMessageFatal = c"OfxMessageFatal";
    kOfxMessageError = c"OfxMessageError";
    kOfxMessageWarning = c"OfxMessageWarning";
    kOfxMessageMessage = c"OfxMessageMessage";
    kOfxMessageLog = c"OfxMessageLog";
    kOfxMessageQuestion = c"OfxMessageQuestion";
}
