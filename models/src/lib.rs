//! Everything torch: model definitions, weight loading and pipelines. Usable without OpenFX.

pub mod device;
pub mod checkpoint;
pub mod error;
pub mod autoencoder_kl_ltx;
pub mod bert;
pub mod pipeline_ltx;
pub mod rife;
pub mod rng;
pub mod scheduler;
pub mod seam;
pub mod t5;
pub mod tokenizer;
pub mod transformer_ltx;

pub use device::{select_device, DEVICE_ENV};
pub use error::{ModelError, ShapeMismatch};
pub use rife::Rife;
