//! The one error type of the `models` crate.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in `models`. Callers (the plugin) turn these into host messages,
/// so every variant carries enough context to be shown to a user as is.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not a readable checkpoint at all (corrupt, truncated, unsupported dtype).
    #[error("{}: unreadable checkpoint: {reason}", path.display())]
    InvalidCheckpoint { path: PathBuf, reason: String },

    /// The checkpoint is readable but its tensors do not fit the model.
    #[error("{}: checkpoint does not match the model: {}", path.display(), summary(missing, unexpected, wrong_shape))]
    CheckpointMismatch { path: PathBuf, missing: Vec<String>, unexpected: Vec<String>, wrong_shape: Vec<ShapeMismatch> },

    /// The caller passed something the model cannot work with (shapes, dtypes, NaN, parameters).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A setting (environment variable, option) has a value we cannot honour.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    #[error(transparent)]
    Torch(#[from] tch::TchError),

    #[error("cancelled")]
    Cancelled,

    /// The device ran out of memory; `what` says what was attempted and `advice` what would fit.
    #[error("out of memory {what}; {advice}")]
    OutOfMemory { what: String, advice: String },
}

impl ModelError {
    /// Whether this is libtorch failing to allocate (CUDA or host memory).
    pub fn is_out_of_memory(&self) -> bool {
        match self {
            ModelError::OutOfMemory { .. } => true,
            ModelError::Torch(e) => {
                let text = e.to_string();
                text.contains("out of memory") || text.contains("can't allocate memory") || text.contains("OutOfMemoryError")
            }
            _ => false,
        }
    }
}

/// One checkpoint tensor whose shape differs from the model's parameter of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    pub name: String,
    pub expected: Vec<i64>,
    pub found: Vec<i64>,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} expected {:?} found {:?}", self.name, self.expected, self.found)
    }
}

// A wrong file can mismatch in every one of hundreds of keys; a handful is enough to diagnose it.
const LISTED: usize = 8;

fn list<T: fmt::Display>(items: &[T]) -> String {
    let mut s = items.iter().take(LISTED).map(T::to_string).collect::<Vec<_>>().join(", ");
    if items.len() > LISTED {
        s.push_str(&format!(" (+{} more)", items.len() - LISTED));
    }
    s
}

fn summary(missing: &[String], unexpected: &[String], wrong_shape: &[ShapeMismatch]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing keys: {}", list(missing)));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected keys: {}", list(unexpected)));
    }
    if !wrong_shape.is_empty() {
        parts.push(format!("wrong shapes: {}", list(wrong_shape)));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_message_names_keys_and_truncates() {
        let err = ModelError::CheckpointMismatch {
            path: "w.safetensors".into(),
            missing: (0..10).map(|i| format!("k{i}")).collect(),
            unexpected: vec![],
            wrong_shape: vec![ShapeMismatch { name: "a.weight".into(), expected: vec![2, 3], found: vec![3, 2] }],
        };
        let msg = err.to_string();
        assert!(msg.starts_with("w.safetensors: checkpoint does not match the model"), "{msg}");
        assert!(msg.contains("missing keys: k0, k1"), "{msg}");
        assert!(msg.contains("(+2 more)"), "{msg}");
        assert!(msg.contains("a.weight expected [2, 3] found [3, 2]"), "{msg}");
        assert!(!msg.contains("unexpected"), "{msg}");
    }
}
