//! Shared by the end-to-end tests and the quality benchmark: image metrics.
pub mod metrics;
