//! Safety and provenance: the usage policy checked before any generation, the invisible
//! watermark embedded in every generated frame (and its detector), and C2PA manifests.

pub mod policy;
pub mod provenance;
pub mod watermark;
