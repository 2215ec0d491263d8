//! One error type for talking to a host: a failed suite call, named by what was asked.
#![allow(non_upper_case_globals)] // OFX constant names, matched in patterns
use crate::ofx::*;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("host call {call} failed with {}", status_name(*.status))]
    Status { call: String, status: OfxStatus },
    #[error("the host did not provide the required suite {0}")]
    MissingSuite(&'static str),
    #[error("host returned a null {0}")]
    Null(&'static str),
    #[error("host returned a string that is not UTF-8 for {0}")]
    NotUtf8(String),
}

pub type Result<T, E = HostError> = std::result::Result<T, E>;

/// Turns a status into `Result`, naming the call (and property) so a message can say what failed.
pub fn check(status: OfxStatus, call: impl FnOnce() -> String) -> Result<()> {
    if status == kOfxStatOK {
        Ok(())
    } else {
        Err(HostError::Status { call: call(), status })
    }
}

pub fn status_name(status: OfxStatus) -> &'static str {
    match status {
        kOfxStatOK => "kOfxStatOK",
        kOfxStatFailed => "kOfxStatFailed",
        kOfxStatErrFatal => "kOfxStatErrFatal",
        kOfxStatErrUnknown => "kOfxStatErrUnknown",
        kOfxStatErrMissingHostFeature => "kOfxStatErrMissingHostFeature",
        kOfxStatErrUnsupported => "kOfxStatErrUnsupported",
        kOfxStatErrExists => "kOfxStatErrExists",
        kOfxStatErrFormat => "kOfxStatErrFormat",
        kOfxStatErrMemory => "kOfxStatErrMemory",
        kOfxStatErrBadHandle => "kOfxStatErrBadHandle",
        kOfxStatErrBadIndex => "kOfxStatErrBadIndex",
        kOfxStatErrValue => "kOfxStatErrValue",
        kOfxStatReplyYes => "kOfxStatReplyYes",
        kOfxStatReplyNo => "kOfxStatReplyNo",
        kOfxStatReplyDefault => "kOfxStatReplyDefault",
        kOfxStatErrImageFormat => "kOfxStatErrImageFormat",
        _ => "an unknown status",
    }
}
