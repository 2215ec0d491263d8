//! The host's suites, fetched once per host. Function tables live as long as the host, which for a
//! plugin means as long as the process, so they are kept as `&'static`.
use std::ffi::{c_void, CStr};
use std::sync::{Arc, RwLock};

use crate::ofx::*;
use crate::status::{HostError, Result};

pub struct Suites {
    pub host: OfxPropertySetHandle,
    pub property: &'static OfxPropertySuiteV1,
    pub effect: &'static OfxImageEffectSuiteV1,
    pub param: &'static OfxParameterSuiteV1,
    pub memory: Option<&'static OfxMemorySuiteV1>,
    pub thread: Option<&'static OfxMultiThreadSuiteV1>,
    pub message_v2: Option<&'static OfxMessageSuiteV2>,
    pub message_v1: Option<&'static OfxMessageSuiteV1>,
    pub progress_v2: Option<&'static OfxProgressSuiteV2>,
    pub progress_v1: Option<&'static OfxProgressSuiteV1>,
    pub timeline: Option<&'static OfxTimeLineSuiteV1>,
}

// Suite tables are immutable function pointers shared by every thread of the host.
unsafe impl Send for Suites {}
unsafe impl Sync for Suites {}

impl Suites {
    /// # Safety
    /// `host` must be the pointer a host passed to `setHost`, valid for the life of the process.
    pub unsafe fn fetch(host: *const OfxHost) -> Result<Suites> {
        let host = host.as_ref().ok_or(HostError::Null("OfxHost"))?;
        let fetch = host.fetchSuite.ok_or(HostError::Null("OfxHost::fetchSuite"))?;
        let get = |name: &CStr, version: i32| -> *const c_void { fetch(host.host, name.as_ptr(), version) };
        unsafe fn opt<T>(p: *const c_void) -> Option<&'static T> {
            (p as *const T).as_ref()
        }
        Ok(Suites {
            host: host.host,
            property: opt(get(kOfxPropertySuite, 1)).ok_or(HostError::MissingSuite("OfxPropertySuite v1"))?,
            effect: opt(get(kOfxImageEffectSuite, 1)).ok_or(HostError::MissingSuite("OfxImageEffectSuite v1"))?,
            param: opt(get(kOfxParameterSuite, 1)).ok_or(HostError::MissingSuite("OfxParameterSuite v1"))?,
            memory: opt(get(kOfxMemorySuite, 1)),
            thread: opt(get(kOfxMultiThreadSuite, 1)),
            message_v2: opt(get(kOfxMessageSuite, 2)),
            message_v1: opt(get(kOfxMessageSuite, 1)),
            progress_v2: opt(get(kOfxProgressSuite, 2)),
            progress_v1: opt(get(kOfxProgressSuite, 1)),
            timeline: opt(get(kOfxTimeLineSuite, 1)),
        })
    }
}

/// Process-wide: every effect in the binary is given the same host.
static SUITES: RwLock<Option<Arc<Suites>>> = RwLock::new(None);

/// # Safety
/// As for [`Suites::fetch`].
pub unsafe fn set_host(host: *const OfxHost) -> Result<()> {
    let suites = Arc::new(Suites::fetch(host)?);
    *SUITES.write().unwrap_or_else(|e| e.into_inner()) = Some(suites);
    Ok(())
}

pub fn suites() -> Result<Arc<Suites>> {
    SUITES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or(HostError::Null("host (setHost was never called)"))
}
