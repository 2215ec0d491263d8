include!("../models/torch_link.rs");

fn main() {
    // Only the tensor feature links libtorch (for this crate's own test binaries).
    if std::env::var_os("CARGO_FEATURE_TENSOR").is_some() {
        link_torch();
    }
}
