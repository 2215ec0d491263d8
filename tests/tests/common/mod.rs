//! Shared set-up for the end-to-end tests: the built bundle and real footage.
#![allow(dead_code)]
use std::path::PathBuf;
use std::sync::OnceLock;

use host_sim::*;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The bundle installers/setup assembled (GENVIDEO_BUNDLE overrides). Missing is a failure, not a
/// skip: these tests are the product's proof.
pub fn bundle_path() -> PathBuf {
    let p = std::env::var_os("GENVIDEO_BUNDLE").map(PathBuf::from).unwrap_or_else(|| root().join("build/GenVideo.ofx.bundle"));
    assert!(p.is_dir(), "{} missing: run installers/setup (or installers/test)", p.display());
    p
}

pub fn bundle() -> Bundle {
    Bundle::load(&bundle_path()).expect("bundle loads")
}

/// 16 frames of real footage (bikes.mp4, 640x272), decoded once per test binary.
pub fn footage() -> ClipSource {
    static CLIP: OnceLock<ClipSource> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = root().join("media/bikes.mp4");
        assert!(path.is_file(), "{} missing: run installers/setup", path.display());
        ClipSource::video(&path, 40, Some(16)).expect("decode footage")
    })
    .clone()
}

pub fn infill(context: Context) -> (Bundle, Instance) {
    let b = bundle();
    let i = b.instance("org.genvideo.Infill", context).expect("Infill instance");
    (b, i)
}

pub fn max_abs_diff(a: &Frame, b: &Frame) -> f32 {
    a.rgba.iter().zip(&b.rgba).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    use e2e_tests::metrics::{psnr, Plane};
    fn plane(f: &Frame) -> Plane<'_> {
        Plane { data: &f.rgba, width: f.width, height: f.height, channels: 4 }
    }
    psnr(&plane(a), &plane(b))
}

pub fn byte_format() -> Format {
    Format { depth: BitDepth::Byte, ..Format::default() }
}
