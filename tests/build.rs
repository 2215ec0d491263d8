include!("../models/torch_link.rs");

fn main() {
    // See torch_rpath: a workspace-wide build links libtorch into these tests through feature unification.
    torch_rpath();
}
