//! host-sim against its own torch-free test plugin: the pixel plumbing in every layout, and the
//! leak accounting that must fail loudly.
use std::path::PathBuf;

use host_sim::*;

fn plugin() -> PathBuf {
    // Integration tests live in target/<profile>/deps; `cargo test` builds examples beside them.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("examples/libtest_plugin.so");
    assert!(path.is_file(), "{} not built (cargo test builds examples)", path.display());
    path
}

fn clip(format: Format) -> ClipSource {
    let frames = (0..3)
        .map(|t| {
            let mut f = Frame::new(7, 5);
            for (i, v) in f.rgba.iter_mut().enumerate() {
                *v = if i % 4 == 3 { 1.0 } else { ((i + t) % 11) as f32 / 10.0 };
            }
            f
        })
        .collect();
    ClipSource::frames(frames, 24.0).with_format(format)
}

#[test]
fn pixels_cross_the_abi_in_every_row_order_and_origin() {
    let b = Bundle::load(&plugin()).unwrap();
    assert_eq!(b.plugins()[0].id, "org.hostsim.TestInvert");
    let inst = b.instance("org.hostsim.TestInvert", Context::Filter).unwrap();
    for (negative, origin) in [(false, (0, 0)), (true, (0, 0)), (true, (-8, 4))] {
        let source = clip(Format { negative_row_bytes: negative, origin, ..Format::default() });
        inst.connect("Source", source.clone()).unwrap();
        let out = inst.render_range((0, 2), &RenderOptions::default()).unwrap();
        for t in 0..3 {
            let (got, src) = (out.frame(t).unwrap(), &source.frames[t as usize]);
            for (i, (g, s)) in got.rgba.iter().zip(&src.rgba).enumerate() {
                let want = if i % 4 == 3 { *s } else { 1.0 - s };
                assert!((g - want).abs() < 1e-6, "negative={negative} origin={origin:?} t={t} i={i}");
            }
        }
    }
    assert_eq!(inst.images_held(), 0);
}

#[test]
fn an_unreleased_image_fails_the_render_loudly() {
    let b = Bundle::load(&plugin()).unwrap();
    let inst = b.instance("org.hostsim.TestInvert", Context::Filter).unwrap();
    inst.connect("Source", clip(Format::default())).unwrap();
    inst.set_param("leak", "true").unwrap();
    match inst.render_range((0, 1), &RenderOptions::default()) {
        Err(HostError::Leak { count, .. }) => assert_eq!(count, 2),
        other => panic!("expected a leak error, got {:?}", other.map(|o| o.frames.len())),
    }
    let (fetched, released) = inst.image_counts();
    assert_eq!(fetched - released, 2);
}

#[test]
fn unknown_parameters_and_values_are_errors() {
    let b = Bundle::load(&plugin()).unwrap();
    let inst = b.instance("org.hostsim.TestInvert", Context::Filter).unwrap();
    assert!(matches!(inst.set_param("nope", "1"), Err(HostError::NoParam(_))));
    assert!(matches!(inst.set_param("leak", "maybe"), Err(HostError::ParamValue { .. })));
    assert!(matches!(b.instance("org.hostsim.TestInvert", Context::Generator), Err(HostError::Context { .. })));
}
