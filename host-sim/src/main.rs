//! host-sim CLI: list the effects of a bundle, or render one through the OpenFX C ABI.
//!
//! Exit codes: 0 success, 1 usage or setup error, 2 a frame failed to render, 3 image leak,
//! 4 aborted (Ctrl-C or --abort-after-frames).
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{Parser, Subcommand};
use host_sim::*;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "host-sim", about = "An OpenFX host for the command line and CI", after_help = "Exit codes: 0 ok, 1 error, 2 a frame failed, 3 image leak, 4 aborted")]
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
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("expected name=value, got '{s}'"))
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
    if let Some(input) = &a.input {
        let source = if input.is_dir() { ClipSource::png_dir(input, 25.0)? } else { ClipSource::video(input, a.start, a.frames)? };
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
    let opts = RenderOptions { threads: a.threads, abort_after_frames: a.abort_after_frames, output_format: format, ..Default::default() };
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
        media::write_preview(&frames, 25.0, &a.out.join("preview.gif"))?;
    }
    if a.contact_sheet && !written.is_empty() {
        let marked: Vec<i64> = dropped.iter().copied().collect();
        media::write_contact_sheet(&written, &marked, &a.out.join("contact_sheet.png"))?;
    }
    println!("{} of {} frames written to {}", written.len(), out.frames.len(), a.out.display());
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
