// Shared by the build scripts of every crate that links libtorch (included with `include!`).
//
// Rust links with `--as-needed`, which drops libtorch_cuda.so because nothing references its
// symbols directly; CUDA then silently disappears at run time. `rustc-link-arg` only reaches the
// including crate's own binaries (the `-as-needed` link modifier that would propagate is still
// nightly-only), so every crate that produces a torch-linked artifact includes this file.
// The RPATH lets binaries and the `.ofx` find libtorch without LD_LIBRARY_PATH: first a copy
// shipped inside an OFX bundle's Resources, then the project venv it was built against.
#[allow(dead_code)]
fn link_torch() {
    let Some(lib) = torch_rpath() else { return };
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

/// The RPATH alone. Also for crates that never call torch (host-sim, the end-to-end tests) but get
/// libtorch linked in when a workspace-wide build unifies bridge's `tensor` feature.
fn torch_rpath() -> Option<std::path::PathBuf> {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let libtorch = std::env::var("LIBTORCH").ok()?;
    let lib = std::path::Path::new(&libtorch).join("lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../Resources/libtorch/lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    Some(lib)
}
