//! Generate, Extend and long-gap Infill through the real bundle, with a tiny random LTX-Video
//! checkpoint in diffusers format (written by the parity tests' reference script with
//! `save_pretrained`). The pixels are noise-like by construction; what is checked here is the
//! wiring: geometry, caching per parameter hash across host threads, progress, abort, pass-through
//! of source frames, time domains and clear errors.
mod common;
use common::*;
use host_sim::*;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The tiny pipeline folder, made once per test binary.
fn tiny_model() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("genvideo-tiny-ltx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Every test here configures a model first, so the plugin's sidecars land in this run's folder.
        std::env::set_var("GENVIDEO_MANIFEST_DIR", dir.join("manifests"));
        std::env::set_var("GENVIDEO_CACHE_DIR", dir.join("segments"));
        let script = root().join("models/tests/reference/pipeline_ltx_reference.py");
        let status = std::process::Command::new(root().join(".venv/bin/python"))
            .arg(&script)
            .arg(&dir)
            .arg("--save-only")
            .env("OMP_NUM_THREADS", "2")
            .status()
            .expect("run the venv python (installers/setup)");
        assert!(status.success(), "{} failed", script.display());
        dir.join("pipeline")
    })
    .clone()
}

fn configure(inst: &Instance, prompt: &str) {
    inst.set_param("modelDir", tiny_model().to_str().unwrap()).unwrap();
    inst.set_param("prompt", prompt).unwrap();
    inst.set_param("maxSide", "128").unwrap();
    inst.set_param("steps", "2").unwrap();
}

/// Counts progress starts (fraction 0) per label: one per generation.
fn count_generations(inst: &Instance) -> Arc<AtomicUsize> {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    inst.set_progress_sink(Box::new(move |label, fraction| {
        if fraction == 0.0 && label.contains("denoising") {
            c.fetch_add(1, Ordering::SeqCst);
        }
    }));
    n
}

fn finite(f: &Frame) -> bool {
    f.rgba.iter().all(|v| v.is_finite())
}

#[test]
fn generate_renders_every_frame_from_one_generation_on_several_threads() {
    let b = bundle();
    let gen = b.instance("org.genvideo.Generate", Context::General).unwrap();
    configure(&gen, "a red ball bounces across green grass");
    gen.set_param("duration", "0.4").unwrap(); // 10 frames at 25 fps
    let runs = count_generations(&gen);
    assert_eq!(gen.time_domain((0, 0)).unwrap(), (0, 9));
    let out = gen.render_range((0, 9), &RenderOptions { threads: 3, ..Default::default() }).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "one generation serves all frames");
    // The generated segment has a signed C2PA sidecar that reads back valid and says what made it.
    let manifests: Vec<_> = std::fs::read_dir(tiny_model().parent().unwrap().join("manifests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("generate-"))
        .collect();
    assert!(!manifests.is_empty());
    let report = host_sim::media::provenance::read(&manifests[0]).unwrap();
    assert_ne!(report.validation_state, "Invalid", "{:?}", report.failures);
    let text = report.to_string();
    assert!(text.contains("trainedAlgorithmicMedia") && text.contains("org.genvideo.Generate"), "{text}");
    let f0 = out.frame(0).unwrap();
    assert_eq!((f0.width, f0.height), (640, 360));
    assert!((0..10).all(|t| finite(out.frame(t).unwrap())));
    assert!(max_abs_diff(out.frame(0).unwrap(), out.frame(9).unwrap()) > 0.0, "frames differ over time");
    assert_eq!(gen.images_held(), 0);

    // Same parameters in a new instance: served from the cache, identical.
    let again = b.instance("org.genvideo.Generate", Context::General).unwrap();
    configure(&again, "a red ball bounces across green grass");
    again.set_param("duration", "0.4").unwrap();
    let runs2 = count_generations(&again);
    let out2 = again.render_range((3, 3), &RenderOptions::default()).unwrap();
    assert_eq!(runs2.load(Ordering::SeqCst), 0);
    assert_eq!(max_abs_diff(out2.frame(3).unwrap(), out.frame(3).unwrap()), 0.0);

    // Another seed is another clip.
    again.set_param("seed", "7").unwrap();
    let out3 = again.render_range((3, 3), &RenderOptions::default()).unwrap();
    assert_eq!(runs2.load(Ordering::SeqCst), 1);
    assert!(max_abs_diff(out3.frame(3).unwrap(), out.frame(3).unwrap()) > 1e-3);
}

#[test]
fn generate_animates_a_connected_still() {
    let b = bundle();
    let gen = b.instance("org.genvideo.Generate", Context::General).unwrap();
    configure(&gen, "the camera pans left over calm blue sea");
    gen.set_param("duration", "0.2").unwrap();
    gen.connect("Source", footage()).unwrap();
    let out = gen.render_range((0, 4), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    let f = out.frame(0).unwrap();
    assert_eq!((f.width, f.height), (640, 272), "the output takes the still's frame size");
}

#[test]
fn extend_passes_the_source_through_and_generates_past_its_end_both_ways() {
    let b = bundle();
    let clip = footage(); // frames 0..15
    for (direction, domain, generated) in [("0", (0, 21), (16, 21)), ("1", (-6, 15), (-6, -1))] {
        let ext = b.instance("org.genvideo.Extend", Context::General).unwrap();
        configure(&ext, "a train arrives at the station");
        ext.set_param("direction", direction).unwrap();
        ext.set_param("extendFrames", "6").unwrap();
        ext.connect("Source", clip.clone()).unwrap();
        assert_eq!(ext.time_domain((0, 15)).unwrap(), domain);
        let runs = count_generations(&ext);
        let out = ext.render_range(domain, &RenderOptions { threads: 2, ..Default::default() }).unwrap();
        assert!(out.failures().is_empty(), "direction {direction}: {:?}", out.failures());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        for t in 0..=15 {
            let src = clip.frame_at(t as f64).unwrap();
            assert!(max_abs_diff(out.frame(t).unwrap(), &src) < 1e-5, "source frame {t} passes through");
        }
        for t in generated.0..=generated.1 {
            assert!(finite(out.frame(t).unwrap()));
        }
        // Past the requested count is an error that says how to get more.
        let beyond = if direction == "0" { 22 } else { -7 };
        let out = ext.render_range((beyond, beyond), &RenderOptions::default()).unwrap();
        assert_eq!(out.failures().len(), 1);
        assert!(ext.error_messages().iter().any(|m| m.contains("raise 'Frames'")), "{:?}", ext.error_messages());
        assert_eq!(ext.images_held(), 0);
    }
}

#[test]
fn infill_generates_long_gaps_and_interpolates_short_ones() {
    let (_b, inst) = infill(Context::Filter);
    inst.set_param("modelDir", tiny_model().to_str().unwrap()).unwrap();
    inst.set_param("maxSide", "128").unwrap();
    inst.set_param("steps", "2").unwrap();
    inst.set_param("generativeAbove", "3").unwrap();
    inst.connect("Source", footage().with_missing([2, 3, 8, 9, 10, 11, 12])).unwrap();
    let out = inst.render_range((1, 13), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    let logs: Vec<String> = inst.messages().into_iter().map(|m| m.text).collect();
    assert!(logs.iter().any(|m| m.contains("generated frames 8-12")), "{logs:?}");
    assert!(!logs.iter().any(|m| m.contains("generated frames 2-3")), "short gap stays on RIFE: {logs:?}");
    assert!((1..=13).all(|t| finite(out.frame(t).unwrap())));
    assert_eq!(inst.images_held(), 0);
}

#[test]
fn abort_midway_stops_cleanly_and_the_next_render_works() {
    let b = bundle();
    let gen = b.instance("org.genvideo.Generate", Context::Generator).unwrap();
    configure(&gen, "a red ball bounces slowly");
    gen.set_param("seed", "123").unwrap();
    gen.set_param("steps", "6").unwrap();
    gen.set_param("duration", "0.2").unwrap();
    let out = gen.render_range((0, 4), &RenderOptions { abort_after_progress_updates: Some(2), ..Default::default() }).unwrap();
    assert!(out.aborted);
    assert!(out.frame(0).is_none());
    assert!(gen.error_messages().is_empty(), "a cancel is not an error dialog: {:?}", gen.error_messages());
    assert_eq!(gen.images_held(), 0);
    gen.abort_flag().store(false, Ordering::SeqCst);
    let out = gen.render_range((0, 4), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
}

#[test]
fn bad_model_folders_and_prompts_get_clear_messages() {
    let b = bundle();
    let gen = b.instance("org.genvideo.Generate", Context::Generator).unwrap();
    gen.set_param("prompt", "a red ball").unwrap();
    gen.set_param("duration", "0.1").unwrap();
    // An empty folder is the embedded model (default_model.rs; without it: plugin_lifecycle.rs).
    let cases: Vec<(String, &str)> = vec![
        ("/nonexistent/ltx".into(), "is not a folder"),
        (std::env::temp_dir().to_string_lossy().into_owned(), "model_index.json"),
    ];
    for (dir, expected) in cases {
        gen.set_param("modelDir", &dir).unwrap();
        let out = gen.render_range((0, 0), &RenderOptions::default()).unwrap();
        assert_eq!(out.failures().len(), 1);
        let msgs = gen.error_messages().join("\n");
        assert!(msgs.contains(expected), "{dir:?}: {msgs}");
    }
    configure(&gen, &"a red ball bounces ".repeat(100));
    let out = gen.render_range((0, 0), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().len(), 1);
    let msgs = gen.error_messages().join("\n");
    assert!(msgs.contains("token"), "{msgs}");
    assert_eq!(gen.images_held(), 0);
}

#[test]
fn a_blocked_prompt_is_refused_before_any_generation_on_every_effect() {
    let b = bundle();
    let blocked = "a close-up of a man being beheaded, gore and blood everywhere";
    let gen = b.instance("org.genvideo.Generate", Context::Generator).unwrap();
    configure(&gen, blocked);
    gen.set_param("duration", "0.1").unwrap();
    let runs = count_generations(&gen);
    let out = gen.render_range((0, 0), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().len(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "nothing was generated");
    let msgs = gen.error_messages().join("\n");
    assert!(msgs.contains("usage policy") && msgs.contains("category"), "{msgs}");
    assert!(!msgs.contains("beheaded"), "the refusal never echoes the matched words: {msgs}");

    let ext = b.instance("org.genvideo.Extend", Context::General).unwrap();
    configure(&ext, blocked);
    ext.connect("Source", footage()).unwrap();
    let out = ext.render_range((16, 16), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().len(), 1);
    assert!(ext.error_messages().join("\n").contains("usage policy"));

    let (_b2, inf) = infill(Context::Filter);
    configure(&inf, blocked);
    inf.set_param("generativeAbove", "2").unwrap();
    inf.connect("Source", footage().with_missing([5, 6, 7, 8])).unwrap();
    let out = inf.render_range((6, 6), &RenderOptions::default()).unwrap();
    assert_eq!(out.failures().len(), 1);
    assert!(inf.error_messages().join("\n").contains("usage policy"));
    // Allowed prompts still work in the same process.
    configure(&gen, "a red ball bounces across green grass");
    let out = gen.render_range((0, 0), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
}

#[test]
fn generated_and_interpolated_frames_carry_their_watermark_and_source_frames_do_not() {
    use host_sim::media::{detect_mark, watermark::MarkClass};
    let b = bundle();
    let gen = b.instance("org.genvideo.Generate", Context::Generator).unwrap();
    configure(&gen, "a red ball bounces across green grass");
    gen.set_param("duration", "0.2").unwrap();
    // The mark is embedded at the model's working size; at tiny sizes (128 px) it does not survive
    // the upscale to the frame, at realistic ones it does.
    gen.set_param("maxSide", "640").unwrap();
    let opts = RenderOptions { output_format: byte_format(), ..Default::default() };
    let out = gen.render_range((0, 1), &opts).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    for t in 0..=1 {
        let d = detect_mark(out.frame(t).unwrap());
        assert_eq!(d.class, Some(MarkClass::Generate), "generated frame {t}: score {}", d.score);
    }

    let (_b, inf) = infill(Context::Filter);
    inf.connect("Source", footage().with_format(byte_format()).with_missing([4])).unwrap();
    let out = inf.render_range((3, 5), &RenderOptions::default()).unwrap();
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    assert_eq!(detect_mark(out.frame(4).unwrap()).class, Some(MarkClass::InfillInterpolated));
    assert_eq!(detect_mark(out.frame(3).unwrap()).class, None, "untouched source frames carry no mark");
}
