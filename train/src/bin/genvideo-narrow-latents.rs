//! `genvideo-narrow-latents`: a model folder whose latents keep only their `--channels` principal
//! components, with the VAE and the transformer rewritten to match in the same diffusers format
//! (`train::narrow` says why and how). Prints the share of the normalised latents' energy each
//! number of components keeps.

use std::path::{Path, PathBuf};

use clap::Parser;
use models::autoencoder_kl_ltx::AutoencoderKlLtxVideo;
use models::transformer_ltx::LtxVideoTransformer3DModelConfig;
use tch::{Device, Kind, Tensor};
use train::stages::WEIGHTS;
use train::{data, narrow};

#[derive(Parser)]
#[command(about = "Narrow a model folder's latents to their principal components (VAE and transformer rewritten)")]
struct Args {
    /// The model folder to narrow (its `vae/` and `transformer/`).
    #[arg(long)]
    model: PathBuf,
    /// The new model folder.
    #[arg(long)]
    out: PathBuf,
    /// Latent channels to keep; the transformer's token is this times patch_size² wide.
    #[arg(long, default_value_t = 12)]
    channels: i64,
    /// Training-split clips whose latents give the components.
    #[arg(long, default_value_t = 64)]
    clips: usize,
    #[arg(long, default_value_t = 11)]
    seed: u64,
    #[arg(long)]
    threads: Option<i32>,
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn main() {
    train::keep_freed_memory();
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("genvideo-narrow-latents: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    let _guard = tch::no_grad_guard();
    let vae = AutoencoderKlLtxVideo::load(&args.model.join("vae"), Device::Cpu, Kind::Float).map_err(err)?;
    let c = vae.latents_std().size()[0];
    if args.channels < 1 || args.channels > c {
        return Err(format!("--channels must be 1..={c}, the VAE's latent channels"));
    }
    let mut parts = Vec::new();
    data::encode_clips(&vae, &data::training_clips(args.seed, args.clips, &data::ClipMix::default()), |z, _| {
        parts.push(z);
        Ok(())
    })
    .map_err(err)?;
    let z = Tensor::cat(&parts, 0).to_kind(Kind::Double); // [N, C, F, H, W]
    let s = vae.latents_std().to_kind(Kind::Double);
    let m = vae.latents_mean().to_kind(Kind::Double);
    let y = z.transpose(0, 1).reshape([c, -1]) / s.unsqueeze(1); // [C, n]: z / s
    let (values, p_all) = narrow::principal_components(&y);
    let p = p_all.narrow(0, 0, args.channels); // [K, C]

    // What the transformer saw, the normalised latents (z - m) / s, and how much of it each
    // number of components keeps.
    let centred = &y - (&m / &s).unsqueeze(1);
    let total = centred.square().sum(Kind::Double).double_value(&[]);
    println!("components  share of (z - m)/s kept  eigenvalue");
    for k in 1..=c {
        let rest = narrow::outside(&p_all.narrow(0, 0, k), &centred);
        let kept = 1.0 - rest.square().sum(Kind::Double).double_value(&[]) / total;
        let mark = if k == args.channels { "  <- kept" } else { "" };
        println!("{k:>10}  {:>22.5}  {:>10.4}{mark}", kept, values.double_value(&[k - 1]));
    }

    let mean = &m / &s;
    let outside = narrow::outside(&p, &mean).norm().double_value(&[]) / mean.norm().double_value(&[]).max(1e-12);
    println!("share of the latent mean m / s outside the kept components (read by the decoder as zero): {outside:.5}");
    copy_folder(&args.model, &args.out, &["vae", "transformer"])?;
    narrow_vae(args, &p, &s, &m)?;
    narrow_transformer(args, &p)?;
    let note = serde_json::json!({
        "narrowed_from": args.model.display().to_string(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "channels": args.channels,
        "clips": args.clips,
        "seed": args.seed,
    });
    std::fs::write(args.out.join("narrowed.json"), serde_json::to_string_pretty(&note).map_err(err)?).map_err(err)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// `src` into `dst` (created), except the component folders named in `skip` (written afresh).
fn copy_folder(src: &Path, dst: &Path, skip: &[&str]) -> Result<(), String> {
    std::fs::create_dir_all(dst).map_err(err)?;
    for entry in std::fs::read_dir(src).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name();
        let to = dst.join(&name);
        if entry.file_type().map_err(err)?.is_dir() {
            if skip.iter().any(|s| name == *s) {
                std::fs::create_dir_all(&to).map_err(err)?;
            } else {
                copy_folder(&entry.path(), &to, &[])?;
            }
        } else {
            std::fs::copy(entry.path(), &to).map_err(err)?;
        }
    }
    Ok(())
}

fn read(dir: &Path) -> Result<Vec<(String, Tensor)>, String> {
    Tensor::read_safetensors(dir.join(WEIGHTS)).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Writes `tensors` in the kind each had, and `config` with `set` applied.
fn write(dir: &Path, tensors: &[(String, Tensor)], config: &Path, set: &[(&str, i64)]) -> Result<(), String> {
    Tensor::write_safetensors(tensors, dir.join(WEIGHTS)).map_err(err)?;
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(config).map_err(err)?).map_err(err)?;
    for (key, value) in set {
        json[*key] = serde_json::json!(value);
    }
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&json).map_err(err)?).map_err(err)
}

fn narrow_vae(args: &Args, p: &Tensor, s: &Tensor, m: &Tensor) -> Result<(), String> {
    let (src, dst) = (args.model.join("vae"), args.out.join("vae"));
    let mut t = read(&src)?;
    narrow::narrow_vae(&mut t, p, s, m)?;
    write(&dst, &t, &src.join("config.json"), &[("latent_channels", args.channels)])
}

fn narrow_transformer(args: &Args, p: &Tensor) -> Result<(), String> {
    let (src, dst) = (args.model.join("transformer"), args.out.join("transformer"));
    let config: LtxVideoTransformer3DModelConfig = models::checkpoint::read_config(&src).map_err(err)?;
    let per_token = config.patch_size * config.patch_size * config.patch_size_t;
    let c = p.size()[1];
    let out_channels = config.out_channels.unwrap_or(config.in_channels);
    if config.in_channels != c * per_token || out_channels != c * per_token {
        return Err(format!(
            "{}: in/out_channels {}/{out_channels} are not the VAE's {c} latent channels x {per_token} per patch",
            src.display(),
            config.in_channels,
        ));
    }
    let mut t = read(&src)?;
    narrow::narrow_transformer(&mut t, p, per_token)?;
    let width = args.channels * per_token;
    write(&dst, &t, &src.join("config.json"), &[("in_channels", width), ("out_channels", width)])
}
