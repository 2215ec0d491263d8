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

/// A bundle like the built one but without the `Resources` entries in `without` (e.g.
/// "genvideo-mini"), in a fresh temp folder named by `tag`: the `.ofx` is copied (so the process
/// loads it as a separate plugin, with its own Resources), the other resources are linked.
pub fn bundle_without(tag: &str, without: &[&str]) -> PathBuf {
    let src = bundle_path();
    let dir = std::env::temp_dir().join(format!("genvideo-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let copy = dir.join("GenVideo.ofx.bundle");
    let arch = copy.join("Contents/Linux-x86-64");
    std::fs::create_dir_all(&arch).unwrap();
    std::fs::create_dir_all(copy.join("Contents/Resources")).unwrap();
    std::fs::copy(src.join("Contents/Info.plist"), copy.join("Contents/Info.plist")).unwrap();
    std::fs::copy(src.join("Contents/Linux-x86-64/GenVideo.ofx"), arch.join("GenVideo.ofx")).unwrap();
    for e in std::fs::read_dir(src.join("Contents/Resources")).unwrap() {
        let e = e.unwrap();
        if !without.iter().any(|w| e.file_name() == *w) {
            std::os::unix::fs::symlink(e.path(), copy.join("Contents/Resources").join(e.file_name())).unwrap();
        }
    }
    copy
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

/// Mean absolute difference over RGB.
pub fn mean_abs_diff(a: &Frame, b: &Frame) -> f64 {
    let pairs = a.rgba.chunks(4).zip(b.rgba.chunks(4));
    let sum: f64 = pairs.map(|(x, y)| (0..3).map(|c| (x[c] - y[c]).abs() as f64).sum::<f64>()).sum();
    sum / (3 * a.width * a.height).max(1) as f64
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
