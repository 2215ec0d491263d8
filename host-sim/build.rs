include!("../models/torch_link.rs");

fn main() {
    // Stable Rust cannot define C-variadic functions; the OpenFX parameter and message suites need
    // them, so a small C file defines those and forwards to ordinary Rust callbacks.
    println!("cargo:rerun-if-changed=src/shim.c");
    cc::Build::new().file("src/shim.c").warnings(true).compile("hostsim_shim");

    // host-sim uses bridge without its tensor feature, but a workspace-wide build unifies features
    // and then links libtorch into it too.
    torch_rpath();
}
