//! One error type for the plugin. Its Display text is what the user reads in the host.
use bridge::ofx::*;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{0}")]
    Host(#[from] bridge::status::HostError),
    #[error("{0}")]
    Pixels(#[from] bridge::pixels::PixelError),
    #[error("{0}")]
    Model(#[from] models::ModelError),
    #[error("{0}")]
    Plan(#[from] crate::infill_plan::PlanError),
    #[error("'Frames to rebuild': {0}")]
    FrameList(#[from] crate::frame_list::FrameListError),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    NotConfigured(String),
    /// The usage policy refused the prompt (or could not check it).
    #[error("{0}")]
    Refused(String),
    #[error("cancelled")]
    Aborted,
}

impl PluginError {
    pub fn status(&self) -> OfxStatus {
        match self {
            PluginError::Pixels(_) => kOfxStatErrImageFormat,
            PluginError::Model(models::ModelError::Cancelled) | PluginError::Aborted => kOfxStatFailed,
            _ => kOfxStatFailed,
        }
    }

    /// A cancelled render is the user's choice, not a failure worth a dialog.
    pub fn is_quiet(&self) -> bool {
        matches!(self, PluginError::Aborted | PluginError::Model(models::ModelError::Cancelled))
    }
}

impl From<tch::TchError> for PluginError {
    fn from(e: tch::TchError) -> Self {
        PluginError::Model(e.into())
    }
}
