//! A seeded world of simple moving objects with captions in varied natural language: the
//! training data of the embedded default model (`embedded/genvideo-mini`) and the ground truth
//! its evaluation measures against.
//!
//! - [`world`]: scenes (shapes, colours, sizes, motions, backgrounds, two-object encounters),
//!   sampled deterministically from a seed, with a held-out set of attribute combinations that
//!   training never sees.
//! - [`render`]: anti-aliased frames at any size and frame rate (motion is defined in seconds,
//!   so a longer clip continues the same motion).
//! - [`caption`]: training captions from many templates, and paraphrases from a disjoint
//!   vocabulary for testing whether the text encoder generalises.

pub mod analyse;
pub mod caption;
pub mod render;
pub mod rng;
pub mod world;

pub use caption::{caption, colour_names, CaptionStyle};
pub use render::render;
pub use world::{Background, Colour, Motion, Object, Scene, Shape, Size, Split};
