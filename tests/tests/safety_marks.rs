//! The watermark and C2PA manifests seen from the outside, through the host-sim CLI: `host-sim
//! detect` on PNG sequences and H.264 video made from marked real footage, `host-sim manifest` on
//! signed files and sidecars, and `host-sim render` signing what a generating effect wrote.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

use common::*;
use host_sim::media::{self, provenance, watermark::MarkClass};

/// The host-sim binary next to this test binary (target/<profile>/host-sim).
fn host_sim() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let p = exe.parent().and_then(Path::parent).expect("target dir").join("host-sim");
    assert!(p.is_file(), "{} missing: build it (cargo build --release -p host-sim, or installers/test)", p.display());
    p
}

fn run(args: &[&str]) -> Output {
    Command::new(host_sim()).args(args).output().expect("run host-sim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genvideo-safety-marks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// The project signing chain (installers/setup makes it; this is a no-op when it is there).
fn signing_cert() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let st = Command::new(root().join("installers/make_signing_cert")).status().expect("installers/make_signing_cert");
        assert!(st.success());
    });
}

/// Frames of real footage; which ones carry which mark.
const MARKS: [(usize, MarkClass); 5] = [
    (3, MarkClass::InfillInterpolated),
    (4, MarkClass::InfillInterpolated),
    (5, MarkClass::InfillInterpolated),
    (8, MarkClass::Generate),
    (10, MarkClass::Extend),
];

fn expected(i: usize) -> Option<MarkClass> {
    MARKS.iter().find(|(j, _)| *j == i).map(|(_, c)| *c)
}

/// Checks `host-sim detect` lines ("<name>  generated  <class>  score ..." or "<name>  not marked ...").
fn check_detect_output(text: &str, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        let line = text.lines().find(|l| l.starts_with(name.as_str())).unwrap_or_else(|| panic!("no line for {name} in:\n{text}"));
        match expected(i) {
            Some(c) => assert!(line.contains("generated") && line.contains(c.name()), "{name}: expected {c}: {line}"),
            None => assert!(line.contains("not marked"), "{name}: expected unmarked: {line}"),
        }
    }
    let summary = format!("{} of {} frames carry a GenVideo mark", MARKS.len(), names.len());
    assert!(text.contains(&summary), "no '{summary}' in:\n{text}");
}

#[test]
fn detect_finds_marks_in_png_sequences_and_h264_video() {
    let dir = scratch("detect");
    let pngs = dir.join("frames");
    std::fs::create_dir_all(&pngs).unwrap();
    let clip = footage();
    let n = 12;
    for (i, f) in clip.frames.iter().take(n).enumerate() {
        let mut f = f.clone();
        if let Some(c) = expected(i) {
            media::embed_mark(&mut f, c).expect("embed");
        }
        media::write_png(&f, &pngs.join(format!("frame_{i:06}.png")), false).expect("png");
    }

    let o = run(&["detect", pngs.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    let names: Vec<String> = (0..n).map(|i| format!("frame_{i:06}.png")).collect();
    check_detect_output(&stdout(&o), &names);

    // The same frames through libx264 at its default quality.
    let mp4 = dir.join("marked.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-framerate", "25", "-i"])
        .arg(pngs.join("frame_%06d.png"))
        .args(["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"])
        .arg(&mp4)
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let o = run(&["detect", mp4.to_str().unwrap(), "--threads", "2"]);
    assert!(o.status.success(), "{o:?}");
    let names: Vec<String> = (0..n).map(|i| format!("frame {i:06}")).collect();
    check_detect_output(&stdout(&o), &names);

    // One image file.
    let o = run(&["detect", pngs.join("frame_000008.png").to_str().unwrap()]);
    assert!(stdout(&o).contains("generated  generate"), "{}", stdout(&o));
}

fn ltx_info() -> provenance::ManifestInfo {
    let mut info = provenance::ManifestInfo::new("org.genvideo.Generate", MarkClass::Generate, "LTX-Video", "0.9.7");
    info.parameters = vec![("prompt".into(), "a red bicycle in the rain".into()), ("seed".into(), "42".into())];
    info
}

#[test]
fn manifest_reports_signed_files_sidecars_and_tampering() {
    signing_cert();
    let dir = scratch("manifest");
    let mut f = footage().frames[0].clone();
    media::embed_mark(&mut f, MarkClass::Generate).unwrap();
    let png = dir.join("generated.png");
    media::write_png(&f, &png, false).unwrap();
    media::sign(&png, &ltx_info()).expect("sign");

    let o = run(&["manifest", png.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(o.status.success(), "{o:?}");
    for want in [
        "validation: Trusted",
        "c2pa.created",
        provenance::TRAINED_ALGORITHMIC_MEDIA,
        "LTX-Video 0.9.7",
        "seed = 42",
        "org.genvideo.Generate",
    ] {
        assert!(text.contains(want), "manifest report lacks '{want}':\n{text}");
    }
    // Signing left the picture (and its mark) intact.
    let o = run(&["detect", png.to_str().unwrap()]);
    assert!(stdout(&o).contains("generated  generate"), "{}", stdout(&o));

    // A sidecar for frames the plugin does not own the file of.
    let sidecar = dir.join("segment_0000.c2pa");
    let mut info = ltx_info();
    info.frames = vec![provenance::FrameRecord { time: 0.0, sha256: provenance::pixel_digest(&f.rgba) }];
    provenance::write_sidecar(&sidecar, &info).expect("sidecar");
    let o = run(&["manifest", sidecar.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(o.status.success(), "{o:?}");
    assert!(text.contains("standalone .c2pa") && text.contains("frames covered: 1") && text.contains("Trusted"), "{text}");

    // Tampered pixels: the hash binding breaks, exit code 2.
    let mut bytes = std::fs::read(&png).unwrap();
    let idat = bytes.windows(4).position(|w| w == b"IDAT").expect("IDAT") + 8;
    bytes[idat + 10] ^= 0x0f;
    let bad = dir.join("tampered.png");
    std::fs::write(&bad, &bytes).unwrap();
    let o = run(&["manifest", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stdout(&o).contains("Invalid"), "{}", stdout(&o));

    // No manifest at all: an error, exit code 1.
    let plain = dir.join("plain.png");
    media::write_png(&footage().frames[1], &plain, false).unwrap();
    let o = run(&["manifest", plain.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no C2PA manifest"), "{o:?}");
}

#[test]
fn render_signs_what_a_generating_effect_wrote() {
    signing_cert();
    let dir = scratch("render");
    let out = dir.join("out");
    let bundle = bundle_path();
    let input = root().join("media/bikes.mp4");
    let o = run(&[
        "render",
        "--effect",
        "org.genvideo.Infill",
        "--bundle",
        bundle.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--start",
        "40",
        "--frames",
        "8",
        "--drop",
        "3-4",
        "--preview",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert!(o.status.success(), "{o:?}");
    assert!(text.contains("C2PA: signed 8 frames (2 generated, 6 passed through), preview.gif"), "{text}");

    // Rebuilt frames are declared generated from the source clip; the others passed through.
    let report = |name: &str| provenance::read(&out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let rebuilt = report("frame_000003.png");
    assert!(rebuilt.is_trusted(), "{rebuilt}");
    assert_eq!(rebuilt.source_types()[0], provenance::TRAINED_ALGORITHMIC_MEDIA, "{rebuilt}");
    assert!(rebuilt.actions[1].starts_with("c2pa.edited"), "{rebuilt}");
    assert!(rebuilt.ingredients[0].starts_with("bikes.mp4"), "{rebuilt}");
    let kept = report("frame_000000.png");
    assert!(kept.is_trusted() && kept.actions[0].starts_with("c2pa.opened") && kept.source_types().is_empty(), "{kept}");
    let preview = report("preview.gif");
    assert_eq!(preview.source_types()[0], provenance::COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, "{preview}");

    // --provenance never writes plain files.
    let plain = dir.join("plain");
    let o = run(&[
        "render",
        "--effect",
        "org.genvideo.Infill",
        "--bundle",
        bundle.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--start",
        "40",
        "--frames",
        "3",
        "--provenance",
        "never",
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert!(matches!(provenance::read(&plain.join("frame_000000.png")), Err(provenance::ProvenanceError::NoManifest(_))));
}
