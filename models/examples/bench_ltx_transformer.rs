//! One denoising step of the full-size LTX-Video transformer (the 2B of LTX-Video 0.9.x: 28
//! layers, 32 heads x 64, T5-XXL prompt width 4096) in models::transformer_ltx and in diffusers,
//! same weights, same inputs, same device and thread count, in one run:
//!
//!     cargo run --release -p models --example bench_ltx_transformer -- [--device cpu|cuda[:N]]
//!         [--dtype f32|bf16|f16] [--grid FxHxW] [--text-len 128] [--batch 1] [--layers 28]
//!         [--warmup 1] [--iters 3] [--threads N] [--seed 0]
//!
//! Defaults: CPU, fp32, latent grid 2x8x8 (128 tokens), 128 prompt tokens (the last 32 padded),
//! timestep 850. `--device cuda` switches the defaults to bf16 and the latent grid of a 121-frame
//! 768x512 clip, 16x16x24 (6144 tokens). Any flag can also be given as an environment variable,
//! `LTX_BENCH_<FLAG>` (e.g. `LTX_BENCH_GRID=4x8x8`); flags win.
//!
//! Weights are random: both sides fill every parameter, in sorted name order, with normal(0, 0.02)
//! from the same seed, in place, so the same libtorch draws the same numbers and the outputs can be
//! compared at full size without materialising the weights twice or writing 8 GB to disk. The
//! reference runs first, in its own process (tests/reference/bench_ltx_transformer.py), and has
//! exited before ours is built: the two never share cores or memory.
//!
//! Printed: per-forward times (median over `--iters` after `--warmup`), the ratio ours/reference,
//! each process's peak resident memory (VmHWM here, getrusage there; on CUDA also the device
//! memory), and FLOP utilisation: the forward's matmul and attention FLOPs, counted analytically
//! (elementwise work is not counted), per second, over the FLOP/s of a plain large fp32 matmul
//! measured in this run (and over the best matmul of the run's dtype when that differs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use models::transformer_ltx::{LtxVideoTransformer3DModel, LtxVideoTransformer3DModelConfig, CLASS_NAME};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const WEIGHT_STD: f64 = 0.02;
const TIMESTEP: f64 = 850.0;

struct Options {
    device: Device,
    kind: Kind,
    grid: (i64, i64, i64),
    text_len: i64,
    batch: i64,
    layers: i64,
    warmup: usize,
    iters: usize,
    threads: i32,
    seed: u64,
}

const FLAGS: [&str; 10] =
    ["device", "dtype", "grid", "text-len", "batch", "layers", "warmup", "iters", "threads", "seed"];

fn parse_args() -> Result<Options, String> {
    let mut given: Vec<(String, String)> = Vec::new();
    for flag in FLAGS {
        let env = format!("LTX_BENCH_{}", flag.to_uppercase().replace('-', "_"));
        if let Ok(v) = std::env::var(&env) {
            given.push((flag.to_owned(), v));
        }
    }
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let name =
            flag.strip_prefix("--").filter(|n| FLAGS.contains(n)).ok_or_else(|| format!("unknown option {flag}"))?;
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        given.push((name.to_owned(), value));
    }
    let get = |name: &str| given.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let num = |name: &str, default: i64| -> Result<i64, String> {
        match get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("--{name} {v}: {e}")),
        }
    };
    let device = match get("device").unwrap_or("cpu") {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(i)) => Device::Cuda(i),
            _ => return Err(format!("--device {other}: expected cpu, cuda or cuda:N")),
        },
    };
    let gpu = device != Device::Cpu;
    let kind = match get("dtype").unwrap_or(if gpu { "bf16" } else { "f32" }) {
        "f32" | "float32" => Kind::Float,
        "bf16" | "bfloat16" => Kind::BFloat16,
        "f16" | "float16" => Kind::Half,
        other => return Err(format!("--dtype {other}: expected f32, bf16 or f16")),
    };
    let grid = match get("grid") {
        None if gpu => (16, 16, 24),
        None => (2, 8, 8),
        Some(v) => {
            let parts: Vec<i64> =
                v.split('x').map(str::parse).collect::<Result<_, _>>().map_err(|e| format!("--grid {v}: {e}"))?;
            match parts[..] {
                [f, h, w] if f > 0 && h > 0 && w > 0 => (f, h, w),
                _ => return Err(format!("--grid {v}: expected FxHxW, e.g. 2x8x8")),
            }
        }
    };
    let o = Options {
        device,
        kind,
        grid,
        text_len: num("text-len", 128)?,
        batch: num("batch", 1)?,
        layers: num("layers", 28)?,
        warmup: num("warmup", 1)? as usize,
        iters: num("iters", 3)? as usize,
        threads: num("threads", tch::get_num_threads() as i64)? as i32,
        seed: num("seed", 0)? as u64,
    };
    if o.iters == 0 || o.threads < 1 || o.text_len < 1 || o.batch < 1 || o.layers < 0 {
        return Err("--iters, --threads, --text-len and --batch must be at least 1".into());
    }
    if gpu && !tch::Cuda::is_available() {
        return Err("--device cuda, but libtorch sees no CUDA device".into());
    }
    Ok(o)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::BFloat16 => "bfloat16",
        Kind::Half => "float16",
        _ => "float32",
    }
}

fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".into(),
    }
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// This process's resident-set high-water mark in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Device memory this process holds now (libtorch's caching allocator keeps its peak), from
/// nvidia-smi; tch exposes no allocator statistics.
fn cuda_used_mib() -> Option<f64> {
    let out = Command::new("nvidia-smi")
        .args(["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    let me = std::process::id().to_string();
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let (pid, mib) = l.split_once(',')?;
        (pid.trim() == me).then(|| mib.trim().parse().ok()).flatten()
    })
}

/// FLOP/s of `n x n x n` matmuls of `kind` (libtorch's default `matmul`), best of `reps`.
fn matmul_flops(n: i64, kind: Kind, device: Device, reps: usize) -> Result<f64, String> {
    let a = Tensor::f_randn([n, n], (kind, device)).map_err(|e| e.to_string())?;
    let b = Tensor::f_randn([n, n], (kind, device)).map_err(|e| e.to_string())?;
    best_rate(2.0 * (n as f64).powi(3), device, reps, || a.f_matmul(&b).map(drop).map_err(|e| e.to_string()))
}

/// FLOP/s of the oneDNN fp32 matmul our CPU linears use.
fn onednn_flops(n: i64, reps: usize) -> Result<f64, String> {
    let x = Tensor::f_randn([n, n], (Kind::Float, Device::Cpu))
        .and_then(|t| t.f_to_mkldnn(None))
        .map_err(|e| e.to_string())?;
    let w = Tensor::f_randn([n, n], (Kind::Float, Device::Cpu)).map_err(|e| e.to_string())?;
    best_rate(2.0 * (n as f64).powi(3), Device::Cpu, reps, || {
        x.f_mkldnn_linear(&w, None::<&Tensor>).map(drop).map_err(|e| e.to_string())
    })
}

fn best_rate(
    flops: f64,
    device: Device,
    reps: usize,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<f64, String> {
    let _guard = tch::no_grad_guard();
    f()?;
    sync(device);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let start = Instant::now();
        f()?;
        sync(device);
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(flops / best)
}

/// Matmul and attention FLOPs of one forward (2 per multiply-add; elementwise work not counted).
fn forward_flops(c: &LtxVideoTransformer3DModelConfig, b: i64, n: i64, l: i64, timestep_tokens: i64) -> f64 {
    let (b, n, l, t) = (b as f64, n as f64, l as f64, timestep_tokens as f64);
    let d = c.inner_dim() as f64;
    let mm = |rows: f64, k: f64, out: f64| 2.0 * rows * k * out;
    let embed = mm(b * n, c.in_channels as f64, d)
        + mm(b * t, 256.0, d)
        + mm(b * t, d, d)
        + mm(b * t, d, 6.0 * d)
        + mm(b * l, c.caption_channels as f64, d)
        + mm(b * l, d, d)
        + mm(b * n, d, c.out_channels() as f64);
    let self_attention = 4.0 * mm(b * n, d, d) + 2.0 * mm(b * n, d, n);
    let cross_attention = 2.0 * mm(b * n, d, d) + 2.0 * mm(b * l, d, d) + 2.0 * mm(b * n, d, l);
    let feed_forward = mm(b * n, d, 4.0 * d) + mm(b * n, 4.0 * d, d);
    let block = self_attention + cross_attention + feed_forward;
    embed + c.num_layers as f64 * block
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    let m = times.len() / 2;
    if times.len() % 2 == 1 {
        times[m]
    } else {
        (times[m - 1] + times[m]) / 2.0
    }
}

fn json_number(v: &serde_json::Value, key: &str) -> f64 {
    v.get(key).and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_ltx_transformer: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().map_err(|e| format!("{}: {e}", root.display()))?;
    let python = root.join(".venv/bin/python");
    let script = root.join("models/tests/reference/bench_ltx_transformer.py");
    for p in [&python, &script] {
        if !p.exists() {
            return Err(format!("{} not found: run installers/setup", p.display()));
        }
    }
    tch::set_num_threads(o.threads);

    let config = LtxVideoTransformer3DModelConfig {
        class_name: Some(CLASS_NAME.into()),
        num_layers: o.layers,
        ..Default::default()
    };
    let (f, h, w) = o.grid;
    let (b, n, l) = (o.batch, f * h * w, o.text_len);
    let flops = forward_flops(&config, b, n, l, 1);
    let params = {
        let d = config.inner_dim();
        let block = 2 * (4 * d * d + 4 * d + 2 * d) + 8 * d * d + 5 * d + 6 * d;
        let outside = (config.in_channels + 1) * d
            + 2 * d
            + (256 + 1) * d
            + (d + 1) * d
            + (d + 1) * 6 * d
            + (config.caption_channels + 1) * d
            + (d + 1) * d
            + (d + 1) * config.out_channels();
        (config.num_layers * block + outside) as f64
    };
    let bytes = params * o.kind.elt_size_in_bytes() as f64;
    println!(
        "LTX-Video transformer: {} layers, {} heads x {}, batch {b}, latent grid {f}x{h}x{w} = {n} tokens, {l} prompt \
         tokens ({} padded), {} on {}, {} threads; {} warm-up + {} timed forwards per side",
        config.num_layers,
        config.num_attention_heads,
        config.attention_head_dim,
        l / 4,
        kind_name(o.kind),
        device_name(o.device),
        o.threads,
        o.warmup,
        o.iters
    );
    println!(
        "parameters: {:.3e} ({:.1} GiB); FLOPs per forward (matmuls + attention): {:.3e}",
        params,
        bytes / 2f64.powi(30),
        flops
    );

    // Matmul peaks first, while nothing else holds memory or cores.
    let (mm_n, reps) = if o.device == Device::Cpu { (4096, 2) } else { (8192, 10) };
    let plain_fp32 = matmul_flops(mm_n, Kind::Float, o.device, reps)?;
    let mut peaks = vec![(format!("plain fp32 matmul {mm_n}^3 (libtorch default)"), plain_fp32)];
    if o.kind != Kind::Float {
        peaks.push((format!("{} matmul {mm_n}^3", kind_name(o.kind)), matmul_flops(mm_n, o.kind, o.device, reps)?));
    } else if o.device == Device::Cpu {
        peaks.push((format!("oneDNN fp32 matmul {mm_n}^3"), onednn_flops(mm_n, reps)?));
    }
    for (name, rate) in &peaks {
        println!("{name}: {:.3} TFLOP/s", rate / 1e12);
    }

    // Inputs, shared with the reference through a file.
    let scratch = std::env::temp_dir().join(format!("bench-ltx-transformer-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let result = bench(&o, &config, &python, &script, &scratch, flops, &peaks);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn bench(
    o: &Options,
    config: &LtxVideoTransformer3DModelConfig,
    python: &Path,
    script: &Path,
    scratch: &Path,
    flops: f64,
    peaks: &[(String, f64)],
) -> Result<(), String> {
    let (f, h, w) = o.grid;
    let (b, n, l) = (o.batch, f * h * w, o.text_len);
    let rope_scale = (8.0 / 25.0, 32.0, 32.0);
    let err = |e: tch::TchError| e.to_string();
    tch::manual_seed(o.seed as i64 + 1);
    let cpu = (Kind::Float, Device::Cpu);
    let hidden = Tensor::f_randn([b, n, config.in_channels], cpu).map_err(err)?;
    let prompt = Tensor::f_randn([b, l, config.caption_channels], cpu).map_err(err)?;
    let timestep = Tensor::f_full([b], TIMESTEP, cpu).map_err(err)?;
    let mask = Tensor::f_ones([b, l], cpu).map_err(err)?;
    let _ = mask.f_narrow(1, l - l / 4, l / 4).and_then(|mut pad| pad.f_fill_(0.0)).map_err(err)?;
    let grid = Tensor::from_slice(&[f, h, w]);
    let scale = Tensor::from_slice(&[rope_scale.0, rope_scale.1, rope_scale.2]);
    Tensor::write_safetensors(
        &[
            ("hidden_states", &hidden),
            ("encoder_hidden_states", &prompt),
            ("timestep", &timestep),
            ("encoder_attention_mask", &mask),
            ("grid", &grid),
            ("rope_interpolation_scale", &scale),
        ],
        scratch.join("inputs.safetensors"),
    )
    .map_err(err)?;
    let json = serde_json::to_string_pretty(config).map_err(|e| e.to_string())?;
    std::fs::write(scratch.join("config.json"), json).map_err(|e| e.to_string())?;

    let reference = Command::new(python)
        .arg(script)
        .arg(scratch)
        .args(["--device", &device_name(o.device), "--dtype", kind_name(o.kind)])
        .args(["--threads", &o.threads.to_string(), "--warmup", &o.warmup.to_string()])
        .args(["--iters", &o.iters.to_string(), "--seed", &o.seed.to_string(), "--std", &WEIGHT_STD.to_string()])
        .env("OMP_NUM_THREADS", o.threads.to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !reference.status.success() {
        return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&reference.stderr)));
    }
    let stdout = String::from_utf8_lossy(&reference.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| format!("unexpected reference report: {stdout}"))?;
    let theirs = Tensor::read_safetensors(scratch.join("reference.safetensors"))
        .map_err(err)?
        .pop()
        .map(|(_, t)| t)
        .ok_or("the reference wrote no output")?;

    // Ours: the same parameters, filled in place in the same order from the same seed.
    let mut vs = VarStore::new(o.device);
    vs.set_kind(o.kind);
    let model = LtxVideoTransformer3DModel::new(&vs.root(), config.clone()).map_err(|e| e.to_string())?;
    tch::manual_seed(o.seed as i64);
    tch::no_grad(|| -> Result<(), tch::TchError> {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, mut v) in vars {
            let _ = v.f_normal_(0.0, WEIGHT_STD)?;
        }
        Ok(())
    })
    .map_err(err)?;
    let to_dev = |t: &Tensor, kind: Kind| t.f_to_device(o.device).and_then(|t| t.f_to_kind(kind));
    let hidden = to_dev(&hidden, o.kind).map_err(err)?;
    let prompt = to_dev(&prompt, o.kind).map_err(err)?;
    let timestep = to_dev(&timestep, Kind::Float).map_err(err)?;
    let mask = to_dev(&mask, Kind::Float).map_err(err)?;
    let _guard = tch::no_grad_guard();
    let mut times = Vec::with_capacity(o.iters);
    let mut ours = None;
    for i in 0..o.warmup + o.iters {
        sync(o.device);
        let start = Instant::now();
        let out = model
            .forward(&hidden, &prompt, &timestep, Some(&mask), f, h, w, rope_scale, None)
            .map_err(|e| e.to_string())?;
        sync(o.device);
        if i >= o.warmup {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        ours = Some(out);
    }
    let ours = ours.ok_or("no forward ran")?;
    let (mean, min) =
        (times.iter().sum::<f64>() / times.len() as f64, times.iter().copied().fold(f64::INFINITY, f64::min));
    let ours_median = median(&mut times);
    let ours_rss = peak_rss_mib().unwrap_or(f64::NAN);
    let ours_cuda = if o.device == Device::Cpu { None } else { cuda_used_mib() };

    let (ref_median, ref_mean, ref_min) =
        (json_number(&report, "median_ms"), json_number(&report, "mean_ms"), json_number(&report, "min_ms"));
    let ref_rss = json_number(&report, "maxrss_mib");
    let plain = peaks[0].1;
    let best = peaks.iter().map(|p| p.1).fold(0.0, f64::max);
    println!();
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>13} {:>9} {:>14} {:>14}",
        "", "median ms", "mean ms", "min ms", "peak RSS MiB", "TFLOP/s", "% plain fp32", "% best matmul"
    );
    for (name, med, mean, min, rss) in [
        ("models (tch)", ours_median, mean, min, ours_rss),
        ("diffusers (PyTorch)", ref_median, ref_mean, ref_min, ref_rss),
    ] {
        let rate = flops / (med / 1e3);
        println!(
            "{name:<22} {med:>10.1} {mean:>10.1} {min:>10.1} {rss:>13.0} {:>9.3} {:>13.1}% {:>13.1}%",
            rate / 1e12,
            100.0 * rate / plain,
            100.0 * rate / best
        );
    }
    if o.device != Device::Cpu {
        println!(
            "device memory: ours {} MiB held (nvidia-smi); diffusers peak {:.0} MiB allocated, {:.0} MiB reserved",
            ours_cuda.map_or("n/a".into(), |m| format!("{m:.0}")),
            json_number(&report, "cuda_peak_allocated_mib"),
            json_number(&report, "cuda_peak_reserved_mib")
        );
    }
    println!("ratio ours/reference: {:.3} (median), {:.3} (min); goal <= 0.8", ours_median / ref_median, min / ref_min);
    let ours = ours.f_to_kind(Kind::Double).and_then(|t| t.f_to_device(Device::Cpu)).map_err(err)?;
    let theirs = theirs.f_to_kind(Kind::Double).map_err(err)?;
    let diff = (&ours - &theirs).abs().max().double_value(&[]);
    let scale = theirs.abs().max().double_value(&[]);
    println!("same weights and inputs: max |ours - reference| / max |reference| = {:.2e}", diff / scale.max(1e-30));
    Ok(())
}
