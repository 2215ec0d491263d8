//! Shared plumbing for the parity tests: run a reference script from `tests/reference/` in the
//! project venv (pinned diffusers/transformers, see installers/setup), read back what it wrote,
//! and compare tensors with a stated relative tolerance.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tch::{Kind, Tensor};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("models/ sits in the repo root").to_owned()
}

/// A fresh scratch folder for one test, removed first if a previous run left it.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("models-parity-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `models/tests/reference/<script>` with the venv python and `args`; panics with the
/// script's stderr when it fails, so a broken reference is loud, never a silent pass.
pub fn run_reference(script: &str, args: &[&str]) {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run installers/setup", python.display());
    let path = root.join("models/tests/reference").join(script);
    let out = Command::new(&python)
        .arg(&path)
        .args(args)
        .env("PYTHONHASHSEED", "0")
        .env("HF_HUB_OFFLINE", "1")
        .env("OMP_NUM_THREADS", "2")
        .output()
        .expect("cannot run the venv python: run installers/setup");
    assert!(
        out.status.success(),
        "{} failed:\n{}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn read_tensors(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().collect()
}

/// max |ours - theirs| / max |theirs|: one number per comparison, printed and bounded.
pub fn relative_error(ours: &Tensor, theirs: &Tensor) -> f64 {
    assert_eq!(ours.size(), theirs.size(), "shapes differ");
    let ours = ours.to_kind(Kind::Double).to_device(tch::Device::Cpu);
    let theirs = theirs.to_kind(Kind::Double).to_device(tch::Device::Cpu);
    let diff = (&ours - &theirs).abs().max().double_value(&[]);
    let scale = theirs.abs().max().double_value(&[]).max(1e-12);
    diff / scale
}

pub fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor, tolerance: f64) {
    assert_eq!(ours.size(), theirs.size(), "{what}: shape {:?} vs reference {:?}", ours.size(), theirs.size());
    assert!(ours.isfinite().all().int64_value(&[]) == 1, "{what}: our output has non-finite values");
    let rel = relative_error(ours, theirs);
    println!("{what}: relative error {rel:.2e} (tolerance {tolerance:.0e}, shape {:?})", ours.size());
    assert!(rel <= tolerance, "{what}: relative error {rel:.3e} exceeds {tolerance:.0e}");
}
