//! OpenFX on the plugin side: the raw C ABI, safe wrappers over the host's suites, and conversion
//! between host images and tensors. Knows nothing about models.
pub mod ofx;
pub mod status;
pub mod suites;
pub mod props;
pub mod params;
pub mod effect;
pub mod pixels;
#[cfg(feature = "tensor")]
pub mod convert;
