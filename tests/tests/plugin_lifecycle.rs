//! Loading, unloading, generative effects in a bundle without the embedded model, and a damaged bundle.
mod common;
use common::*;
use host_sim::*;

#[test]
fn load_and_unload_a_hundred_times() {
    for _ in 0..100 {
        let b = bundle();
        let inst = b.instance("org.genvideo.Infill", Context::Filter).unwrap();
        drop(inst);
        drop(b);
    }
    // Still fully working afterwards.
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().with_missing([2])).unwrap();
    let out = inst.render_range((1, 3), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
}

/// With 'Model folder' empty the effects use the embedded model (Resources/genvideo-mini); a
/// bundle without it says so on Generate and Extend, and Infill keeps long gaps on RIFE.
#[test]
fn without_the_embedded_model_generate_and_extend_say_so_and_infill_stays_on_rife() {
    let copy = bundle_without("no-embedded", &["genvideo-mini"]);
    let b = Bundle::load(&copy).unwrap();
    let missing = |msgs: &[String]| msgs.iter().any(|m| m.contains("embedded model is missing") && m.contains("Model folder"));
    let gen = b.instance("org.genvideo.Generate", Context::Generator).unwrap();
    gen.set_param("prompt", "a red ball bouncing").unwrap();
    let out = gen.render_range((0, 1), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().len(), 2);
    assert!(missing(&gen.error_messages()), "{:?}", gen.error_messages());

    let ext = b.instance("org.genvideo.Extend", Context::General).unwrap();
    ext.connect("Source", footage()).unwrap();
    let out = ext.render_range((16, 16), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().len(), 1);
    assert!(missing(&ext.error_messages()), "{:?}", ext.error_messages());
    assert_eq!(ext.images_held(), 0);

    // A 5-frame gap is above 'Generate gaps longer than' (4): interpolated, with a note why.
    let inf = b.instance("org.genvideo.Infill", Context::Filter).unwrap();
    inf.connect("Source", footage().with_missing(5..=9)).unwrap();
    let out = inf.render_range((4, 10), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    let logs: Vec<String> = inf.messages().into_iter().map(|m| m.text).collect();
    assert!(logs.iter().any(|m| m.contains("no embedded model") && m.contains("5-9")), "{logs:?}");
    assert_eq!(inf.images_held(), 0);
    drop((gen, ext, inf, b));
    let _ = std::fs::remove_dir_all(copy.parent().unwrap());
}

/// A copy of the bundle whose RIFE weights are truncated: every Infill render fails with a message
/// naming the file, and the host stays up.
#[test]
fn corrupt_weights_give_a_clear_message() {
    let src = bundle_path();
    let dir = std::env::temp_dir().join(format!("genvideo-corrupt-{}", std::process::id()));
    let copy = dir.join("GenVideo.ofx.bundle");
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&src, &copy);
    let weights = copy.join("Contents/Resources/rife-hdv3/flownet.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 3]).unwrap();

    let b = Bundle::load(&copy).unwrap();
    let inst = b.instance("org.genvideo.Infill", Context::Filter).unwrap();
    inst.connect("Source", footage().with_missing([2])).unwrap();
    let out = inst.render_range((1, 3), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().iter().map(|(t, _)| *t).collect::<Vec<_>>(), [2]);
    assert!(out.frame(1).is_some() && out.frame(3).is_some(), "good frames still pass through");
    let msgs = inst.error_messages().join("\n");
    assert!(msgs.contains("flownet.safetensors"), "{msgs}");
    assert_eq!(inst.images_held(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// installers/install puts the bundle on OFX_PLUGIN_PATH, where a host finds it by name, and the
/// installed .ofx resolves libtorch by RPATH alone.
#[test]
fn the_installed_bundle_is_found_on_the_plugin_path_and_links_without_ld_library_path() {
    let dir = std::env::temp_dir().join(format!("genvideo-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = std::process::Command::new(root().join("installers/install"))
        .env("OFX_PLUGIN_PATH", &dir)
        .status()
        .expect("run installers/install");
    assert!(status.success());
    let ofx = dir.join("GenVideo.ofx.bundle/Contents/Linux-x86-64/GenVideo.ofx");
    let ldd = std::process::Command::new("ldd").arg(&ofx).env_remove("LD_LIBRARY_PATH").output().expect("ldd");
    let text = String::from_utf8_lossy(&ldd.stdout);
    assert!(ldd.status.success() && !text.contains("not found"), "{text}");
    assert!(text.contains("libtorch_cpu.so"), "{text}");
    // Linked although nothing references it directly, so CUDA works wherever it exists.
    assert!(text.contains("libtorch_cuda.so"), "{text}");

    std::env::set_var("OFX_PLUGIN_PATH", &dir);
    let found = host_sim::search_bundles();
    assert_eq!(found.first(), Some(&dir.join("GenVideo.ofx.bundle")));
    let b = Bundle::find("GenVideo").expect("found by name");
    assert_eq!(b.plugins().len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}
