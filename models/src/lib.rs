//! Everything torch: model definitions, weight loading and pipelines. Usable without OpenFX.

pub mod device;
pub mod checkpoint;
pub mod error;
pub mod rife;

pub use device::{select_device, DEVICE_ENV};
pub use error::{ModelError, ShapeMismatch};
pub use rife::Rife;
