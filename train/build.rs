include!("../models/torch_link.rs");

fn main() {
    link_torch();
}
