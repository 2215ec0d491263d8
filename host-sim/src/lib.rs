//! host-sim: a real OpenFX host, as a library and a CLI. It loads `.ofx` bundles through the C ABI
//! (libloading), implements the property, image effect, parameter (variadic functions via a C
//! shim), memory, multithread, message, progress and timeline suites, and runs the action sequence
//! an editor runs. CI uses it to drive the built GenVideo bundle exactly as Resolve or Nuke would.
//!
//! ```no_run
//! use host_sim::*;
//! let bundle = Bundle::load("build/GenVideo.ofx.bundle".as_ref())?;
//! let inst = bundle.instance("org.genvideo.Infill", Context::Filter)?;
//! inst.set_param("frames", "12-15")?;
//! inst.connect("Source", ClipSource::video("media/bikes.mp4".as_ref(), 0, Some(24))?.with_missing([12, 13]))?;
//! let out = inst.render_range((0, 23), &RenderOptions::default())?;
//! assert!(out.failures().is_empty() && inst.images_held() == 0);
//! # Ok::<(), HostError>(())
//! ```
mod clip;
mod frame;
mod host;
pub mod media;
mod objects;
mod props;
mod suites;

pub use bridge::pixels::{BitDepth, Components};
pub use clip::ClipSource;
pub use frame::{Format, Frame};
pub use host::{search_bundles, Bundle, Context, FrameResult, Instance, ParamInfo, PluginInfo, RenderOptions, RenderOutput};
pub use objects::{Message, ParamType};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot load plugin: {0}")]
    Load(String),
    #[error("no plugin {0} in the bundle")]
    NoPlugin(String),
    #[error("{id} does not support context {context} (supports {supported:?})")]
    Context { id: String, context: String, supported: Vec<String> },
    #[error("no parameter {0}")]
    NoParam(String),
    #[error("'{value}' is not a valid value for parameter {name}")]
    ParamValue { name: String, value: String },
    #[error("no clip {0}")]
    NoClip(String),
    #[error("{action} failed (status {status}){}", if messages.is_empty() { String::new() } else { format!(": {messages}") })]
    Action { action: String, status: i32, messages: String },
    #[error("image leak: {action} returned with {count} image(s) not released")]
    Leak { action: String, count: usize },
    #[error("the plugin rendered no output image for frame {0}")]
    NoOutput(i64),
    #[error("aborted")]
    Aborted,
    #[error("{0}")]
    Media(String),
}
