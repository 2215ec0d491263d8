//! The two training stages and the record they leave behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
use models::checkpoint::{read_config, Checkpoint};
use models::pipeline_ltx::{latent_coords, pack_latents, BertTextEncoder, TextEncoder};
use models::transformer_ltx::{LtxVideoTransformer3DModel, LtxVideoTransformer3DModelConfig};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use toyworld::rng::Rng;
use toyworld::{caption, Scene, Split};

use crate::adam::AdamW;
use crate::{data, init, plot, Args};

/// Working size and length the default model is trained for (model_index.json `_genvideo`); the
/// plugin scales its frames to the host's (256x256 and up). At 128 px the VAE's 16x spatial, 8x
/// temporal compression keeps the transformer at 8x8x7 tokens for 2 s of video, while each
/// latent stands for 192 values, the ratio of the published LTX-Video VAEs; a 32x VAE at 256 px
/// (768 values per latent) did not learn objects within the CPU budget.
pub const SIZE: usize = 128;
pub const FRAMES: usize = 49;
pub const FPS: f64 = 24.0;
/// Crops dense in objects train faster than whole frames of flat background; the autoencoder is
/// convolutional, so it runs on whole frames afterwards.
const VAE_CROP: usize = 64;
const VAE_FRAMES: usize = 17;
/// Extra loss weight per unit of colour distance from the crop's median (its background).
const OBJECT_WEIGHT: f64 = 10.0;
const TRANSFORMER_LR: f64 = 3e-4;
const WARMUP: i64 = 100;
/// Captions per clip in the transformer's data set.
const CAPTIONS_PER_CLIP: u64 = 3;
/// Share of samples trained without text, for classifier-free guidance.
const TEXT_DROPOUT: f64 = 0.1;
/// The pipeline's `image_cond_noise_scale`: pinned tokens see this much noise times t².
const COND_NOISE: f64 = 0.15;
/// model_index.json `_genvideo.max_sequence_length`: the longest prompt the pipeline encodes.
const MAX_SEQUENCE_LENGTH: usize = 64;
/// The weights file of a diffusers model component.
pub const WEIGHTS: &str = "diffusion_pytorch_model.safetensors";

/// When this process started: `--time-limit` counts from here, data preparation included.
static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);
/// Steps of a run timed before its schedule is fitted to `--time-limit`; they fall in the warm-up,
/// whose learning rates do not depend on the schedule's length.
const TIMED_STEPS: i64 = 20;
/// Seconds kept back from `--time-limit` for what follows the last step (weights, record).
const TIME_RESERVE: f64 = 15.0;

/// Starts `--time-limit`'s clock; `main` calls it first.
pub fn start_clock() {
    LazyLock::force(&PROCESS_START);
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The schedule's length for a run at `step` of `total` that takes `per_step` seconds a step and
/// has `left` seconds: `total`, or shorter to end in time, one more step at the least.
fn steps_that_fit(step: i64, total: i64, per_step: f64, left: f64) -> i64 {
    let more = (left / per_step).floor();
    if more.is_nan() || more >= (total - step) as f64 {
        return total;
    }
    step + (more as i64).max(1)
}

/// Linear warm-up, then cosine decay to a tenth.
fn learning_rate(step: i64, total: i64, peak: f64) -> f64 {
    if step < WARMUP {
        return peak * (step + 1) as f64 / WARMUP as f64;
    }
    let progress = (step - WARMUP) as f64 / (total - WARMUP).max(1) as f64;
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos()))
}

/// The learning rate of `opt`'s next step: the schedule at its step, warmed up again while its
/// moments are younger than the schedule (a run continued with `--start-step`).
fn scheduled_rate(opt: &AdamW, total: i64, peak: f64) -> f64 {
    let young = opt.moment_steps < opt.step;
    let rewarm = if young { ((opt.moment_steps + 1) as f64 / WARMUP as f64).min(1.0) } else { 1.0 };
    learning_rate(opt.step, total, peak) * rewarm
}

/// Checkpoint, loss log and progress of one stage.
struct Run {
    dir: PathBuf,
    losses: Vec<(i64, f64)>,
    bar: ProgressBar,
    save_every: i64,
    stop_at: Option<i64>,
    /// The step whose state is on disk (-1: none yet).
    saved_at: i64,
    started: Instant,
    /// `--time-limit` in seconds.
    time_limit: Option<f64>,
    /// The step and time this run's speed is measured from (its first step's end: the first
    /// step on a GPU also loads its kernels).
    timed_from: Option<(i64, Instant)>,
}

impl Run {
    fn open(work: &Path, name: &str, opt: &mut AdamW, args: &Args, total: i64) -> Result<Run, String> {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir).map_err(err)?;
        let state = dir.join("state.safetensors");
        let mut losses = Vec::new();
        let resumed = state.is_file();
        if resumed {
            opt.load(&state)?;
            losses = read_losses(&dir);
            losses.retain(|&(s, _)| s <= opt.step);
            eprintln!("{name}: resuming at step {} of {total}", opt.step);
        } else if let Some(start) = args.start_step {
            opt.step = start;
            eprintln!("{name}: continuing --init-from's weights at step {start} of {total} with fresh moments");
        }
        let bar = ProgressBar::new(total as u64).with_position(opt.step as u64);
        bar.set_style(
            ProgressStyle::with_template(&format!("{name} {{bar:40}} {{pos}}/{{len}} {{msg}} [{{elapsed}} < {{eta}}]"))
                .map_err(err)?,
        );
        Ok(Run {
            dir,
            losses,
            bar,
            save_every: args.save_every,
            stop_at: args.stop_at,
            saved_at: if resumed { opt.step } else { -1 },
            started: Instant::now(),
            time_limit: args.time_limit.map(|m| m * 60.0),
            timed_from: None,
        })
    }

    /// Whether the stage takes another step: its schedule (or `--stop-at`) not done, and
    /// `--time-limit` not run out.
    fn more(&self, opt: &AdamW, total: i64) -> bool {
        opt.step < total.min(self.stop_at.unwrap_or(total)) && !self.out_of_time()
    }

    /// Logs the step's loss, saves on schedule, and returns the schedule's length from here on
    /// ([`Run::fit`]).
    fn record(&mut self, opt: &AdamW, loss: f64, total: i64) -> Result<i64, String> {
        self.losses.push((opt.step, loss));
        let recent = self.recent_mean(50);
        self.bar.set_position(opt.step as u64);
        self.bar.set_message(format!("loss {recent:.4}"));
        if opt.step % self.save_every == 0 || opt.step >= total {
            self.save(opt)?;
        }
        Ok(self.fit(opt, total))
    }

    /// Parameters, moments and losses, to resume from.
    fn save(&mut self, opt: &AdamW) -> Result<(), String> {
        self.saved_at = opt.step;
        opt.save(&self.dir.join("state.safetensors")).map_err(err)?;
        let mut csv = std::fs::File::create(self.dir.join("losses.csv")).map_err(err)?;
        for (s, l) in &self.losses {
            writeln!(csv, "{s},{l}").map_err(err)?;
        }
        Ok(())
    }

    /// The schedule's length from `opt`'s step on: `total`, or, [`TIMED_STEPS`] into this run
    /// under `--time-limit`, as many steps as fit in the time left at the speed measured.
    fn fit(&mut self, opt: &AdamW, total: i64) -> i64 {
        let Some(limit) = self.time_limit else { return total };
        let Some((from, at)) = self.timed_from else {
            self.timed_from = Some((opt.step, Instant::now()));
            return total;
        };
        if opt.step - from != TIMED_STEPS {
            return total;
        }
        let per_step = at.elapsed().as_secs_f64() / TIMED_STEPS as f64;
        let left = limit - PROCESS_START.elapsed().as_secs_f64() - TIME_RESERVE;
        let fits = steps_that_fit(opt.step, total, per_step, left);
        if fits < total {
            self.bar.set_length(fits as u64);
            // Said outside the bar too: a GPU job's log is no terminal, and the bar draws nothing there.
            eprintln!("schedule shortened from {total} to {fits} steps to end within --time-limit ({per_step:.3} s a step)");
        }
        fits
    }

    /// Whether `--time-limit` has run out: the stage stops where it is.
    fn out_of_time(&self) -> bool {
        self.time_limit.is_some_and(|limit| PROCESS_START.elapsed().as_secs_f64() > limit - TIME_RESERVE)
    }

    fn recent_mean(&self, n: usize) -> f64 {
        let tail = &self.losses[self.losses.len().saturating_sub(n)..];
        tail.iter().map(|p| p.1).sum::<f64>() / tail.len().max(1) as f64
    }

    fn finish(mut self, opt: &AdamW, name: &str, schedule_steps: i64) -> Result<(), String> {
        // A stage stopped between saves (`--stop-at`, `--time-limit`) keeps its last steps too.
        if self.saved_at != opt.step {
            self.save(opt)?;
        }
        self.bar.finish();
        let summary = serde_json::json!({
            "finished_by": std::env::args().collect::<Vec<_>>().join(" "),
            "schedule_steps": schedule_steps,
            "steps": self.losses.last().map_or(0, |p| p.0),
            "final_loss_mean_last_50": self.recent_mean(50),
            "seconds_this_run": self.started.elapsed().as_secs_f64(),
            "time_limit_minutes": self.time_limit.map(|s| s / 60.0),
        });
        std::fs::write(self.dir.join("summary.json"), summary.to_string()).map_err(err)?;
        eprintln!("{name}: final loss (mean of the last 50 steps) {:.5}", self.recent_mean(50));
        Ok(())
    }
}

/// `(step, loss)` rows of a stage's `losses.csv` (none when it does not exist yet).
fn read_losses(dir: &Path) -> Vec<(i64, f64)> {
    std::fs::read_to_string(dir.join("losses.csv"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (s, v) = l.split_once(',')?;
            Some((s.parse().ok()?, v.parse().ok()?))
        })
        .collect()
}

/// Writes every variable in float16 (half the size of the committed files; the loader converts
/// to the compute precision, and these weights lose nothing measurable at 11 bits).
fn save_weights(vs: &VarStore, dir: &Path) -> Result<(), String> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.detach().to_device(Device::Cpu).to_kind(Kind::Half).contiguous()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let path = dir.join(WEIGHTS);
    let tmp = path.with_extension("tmp");
    Tensor::write_safetensors(&named, &tmp).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Loads `--init-from`'s weights for `component` into `vs` (every variable; a resumed checkpoint
/// then overrides the trained ones). False when there is no `--init-from`.
fn init_from(vs: &VarStore, args: &Args, component: &str) -> Result<bool, String> {
    let Some(from) = &args.init_from else { return Ok(false) };
    let path = from.join(component).join(WEIGHTS);
    // Copied into the variables in their own precision (VarStore::load would turn them into the
    // file's float16, and train in it).
    Checkpoint::open(&path).and_then(|c| c.load_into(vs, "", &[])).map_err(err)?;
    eprintln!("{component}: starting from {}", path.display());
    Ok(true)
}

/// Copies `--init-from`'s `component` into `vs` except the variables `fresh` names, which keep
/// their fresh initialisation (their shapes may follow a config other than `--init-from`'s);
/// every other variable must be there with its shape. `source` builds `--init-from`'s module
/// from its config folder.
fn init_all_but(
    vs: &VarStore,
    args: &Args,
    component: &str,
    source: impl FnOnce(&VarStore, &Path) -> Result<(), String>,
    fresh: impl Fn(&str) -> bool,
) -> Result<bool, String> {
    let Some(from) = &args.init_from else { return Ok(false) };
    let dir = from.join(component);
    let store = VarStore::new(vs.device());
    source(&store, &dir)?;
    Checkpoint::open(&dir.join(WEIGHTS)).and_then(|c| c.load_into(&store, "", &[])).map_err(err)?;
    let source = store.variables();
    let (mut copied, mut kept) = (0, 0);
    tch::no_grad(|| -> Result<(), String> {
        for (name, mut t) in vs.variables() {
            if fresh(&name) {
                kept += 1;
                continue;
            }
            let s = source.get(&name).ok_or_else(|| format!("{}: no {name}, which the model folder's config has", dir.display()))?;
            if s.size() != t.size() {
                let (have, want) = (s.size(), t.size());
                return Err(format!("{}: {name} is {have:?}, the model folder's config has {want:?}", dir.display()));
            }
            t.copy_(s);
            copied += 1;
        }
        Ok(())
    })?;
    eprintln!("{component}: {copied} tensors from {}, {kept} initialised afresh", dir.display());
    Ok(true)
}

/// `--init-from`'s encoder and latent statistics under a fresh decoder (the model folder's config,
/// which may be larger than `--init-from`'s): the latents, and so the transformer trained on them,
/// stay valid while the decoder is rebuilt.
fn init_encoder_from(vs: &VarStore, args: &Args) -> Result<bool, String> {
    let build = |store: &VarStore, dir: &Path| -> Result<(), String> {
        AutoencoderKlLtxVideo::new(&store.root(), read_config(dir).map_err(err)?).map(drop).map_err(err)
    };
    init_all_but(vs, args, "vae", build, |name| name.starts_with("decoder."))
}

/// `--init-from`'s transformer with fresh `proj_in` and `proj_out` (their widths follow the model
/// folder's VAE and patch): for new latents whose tokens cover the same pixels as the old ones,
/// so attention, text conditioning and timing carry over and only the way in and out is relearnt.
fn init_transformer_but_projections(vs: &VarStore, args: &Args) -> Result<bool, String> {
    let build = |store: &VarStore, dir: &Path| -> Result<(), String> {
        let config: LtxVideoTransformer3DModelConfig = read_config(dir).map_err(err)?;
        LtxVideoTransformer3DModel::new(&store.root(), config).map(drop).map_err(err)
    };
    init_all_but(vs, args, "transformer", build, |name| name.starts_with("proj_in.") || name.starts_with("proj_out."))
}

pub fn train_vae(args: &Args, device: Device) -> Result<(), String> {
    let config: AutoencoderKlLtxVideoConfig = read_config(&args.model.join("vae")).map_err(err)?;
    let vs = VarStore::new(device);
    let mut vae = AutoencoderKlLtxVideo::new(&vs.root(), config).map_err(err)?;
    tch::manual_seed(args.seed as i64);
    let mut params = init::initialise(&vs, &["latents_mean", "latents_std"]);
    let started_from = if args.fresh_decoder { init_encoder_from(&vs, args)? } else { init_from(&vs, args, "vae")? };
    if started_from {
        if args.decoder_only {
            params.retain(|(name, p)| {
                let train = name.starts_with("decoder.");
                if !train {
                    let _ = p.shallow_clone().set_requires_grad(false);
                }
                train
            });
        }
    } else {
        // Latents ten times larger than torch's init gives keep the decoder's first normalisation
        // from being dominated by its biases, the state in which it learns to ignore its input.
        tch::no_grad(|| {
            for (name, p) in &params {
                if name.starts_with("encoder.conv_out.") {
                    let _ = p.shallow_clone().g_mul_scalar_(10.0);
                }
            }
        });
    }
    let mut opt = AdamW::new(params, 0.0);
    let mut total = args.vae_steps;
    let mut run = Run::open(&args.work, "vae", &mut opt, args, total)?;
    while run.more(&opt, total) {
        let step = opt.step;
        tch::manual_seed((args.seed as i64) << 20 | step);
        let x = data::vae_batch(args.seed, step, args.vae_batch, SIZE, VAE_CROP, VAE_FRAMES, device);
        // A plain autoencoder on the posterior means: sampling with the posterior's spread (unit
        // at the start) drowns a fresh encoder's means, and the decoder settles on the average
        // frame; so does even a little added noise within the few thousand steps a CPU allows.
        let (mean, _logvar) = if args.decoder_only {
            tch::no_grad(|| vae.encode_posterior(&x)).map_err(err)?
        } else {
            vae.encode_posterior(&x).map_err(err)?
        };
        let rec = vae.decode_train(&mean, None).map_err(err)?;
        let weight = background_weights(&x, OBJECT_WEIGHT);
        let diff = &rec - &x;
        let mut loss = ((diff.abs() + diff.square()) * &weight).mean(Kind::Float) / weight.mean(Kind::Float);
        if args.edge_weight > 0.0 {
            loss = loss + difference_error(&rec, &x, &[2, 3, 4]) * args.edge_weight;
        }
        if args.temporal_weight > 0.0 {
            loss = loss + difference_error(&rec, &x, &[2]) * args.temporal_weight;
        }
        opt.zero_grad();
        loss.backward();
        opt.step(scheduled_rate(&opt, total, args.vae_lr), f64::INFINITY);
        total = run.record(&opt, loss.double_value(&[]), total)?;
    }
    run.finish(&opt, "vae", total)?;
    if args.decoder_only {
        // The encoder and its latent statistics stay what the transformer was trained with.
        return save_weights(&vs, &args.model.join("vae"));
    }

    // Latent statistics over whole clips, for the pipeline's normalisation.
    let _guard = tch::no_grad_guard();
    let mut sums = Tensor::zeros([vae.config.latent_channels], (Kind::Double, device));
    let mut squares = sums.zeros_like();
    let mut count = 0i64;
    for i in 0..32u64 {
        let scene = Scene::sample(args.seed.wrapping_mul(7919).wrapping_add(i), Split::Train, 0.15);
        let x = (data::clip(&scene, SIZE, SIZE, FRAMES, FPS, 0.0) * 2.0 - 1.0).unsqueeze(0);
        let z = vae.encode(&x).map_err(err)?.to_kind(Kind::Double);
        let c = z.size()[1];
        let flat = z.transpose(0, 1).reshape([c, -1]);
        sums += flat.sum_dim_intlist(1, false, Kind::Double);
        squares += flat.square().sum_dim_intlist(1, false, Kind::Double);
        count += flat.size()[1];
    }
    let mean = &sums / count as f64;
    let std = (&squares / count as f64 - mean.square()).clamp_min(1e-8).sqrt();
    vae.set_latent_stats(&mean.to_kind(Kind::Float), &std.to_kind(Kind::Float)).map_err(err)?;
    save_weights(&vs, &args.model.join("vae"))
}

/// Error of the reconstruction's differences between neighbours along `dims`, relative to the
/// clip's own. Across pixels and frames (the edge term): a blob in place of a star is a small
/// share of the pixels but most of the outline, so this term sees what the per-pixel loss
/// averages away. Across frames alone (the flicker term): an error that changes from frame to
/// frame is small per pixel but larger than the footage's own motion.
fn difference_error(rec: &Tensor, x: &Tensor, dims: &[i64]) -> Tensor {
    let mut error = Tensor::zeros([], (Kind::Float, x.device()));
    let mut scale = Tensor::zeros([], (Kind::Float, x.device()));
    // `[B, C, F, H, W]`: 2 frames, 3 rows, 4 columns.
    for &dim in dims {
        let n = x.size()[dim as usize];
        let d = |t: &Tensor| t.narrow(dim, 1, n - 1) - t.narrow(dim, 0, n - 1);
        let (dr, dx) = (d(rec), d(x));
        error += (&dr - &dx).abs().sum(Kind::Float);
        scale += dx.abs().sum(Kind::Float);
    }
    error / (scale + 1e-3)
}

/// `[B, 1, positions...]` loss weights of `[B, C, positions...]` (pixels of a clip, or its packed
/// tokens transposed): 1 plus `per_unit` times each position's mean absolute distance over C from
/// the clip's per-channel median, which is its background. Objects fill under 1 % of a clip, so
/// an unweighted loss is mostly background, learnt long before the objects are.
fn background_weights(x: &Tensor, per_unit: f64) -> Tensor {
    let (median, _) = x.flatten(2, -1).median_dim(2, true);
    let mut shape = vec![1i64; x.dim()];
    shape[..2].copy_from_slice(&x.size()[..2]);
    ((x - median.view(shape.as_slice())).abs().mean_dim(1, true, Kind::Float) * per_unit + 1.0).detach()
}

/// Which of a caption's `len` token states the transformer sees, padded to `longest`: each is
/// hidden with probability `dropout`, and if that would hide them all, none is.
fn token_mask(len: i64, longest: i64, dropout: f64, rng: &mut Rng) -> Vec<f32> {
    let mut mask: Vec<f32> = (0..longest).map(|j| if j < len { 1.0 } else { 0.0 }).collect();
    if dropout > 0.0 {
        let kept: Vec<bool> = (0..len).map(|_| !rng.chance(dropout)).collect();
        if kept.iter().any(|&k| k) {
            for (m, k) in mask.iter_mut().zip(kept) {
                *m = k as u8 as f32;
            }
        }
    }
    mask
}

/// The transformer's data: normalised latents of fixed clips and MiniLM token states of their
/// captions.
struct Dataset {
    /// `[N, C, F, H, W]`
    latents: Tensor,
    /// `CAPTIONS_PER_CLIP` per clip, each `[L, 384]`.
    captions: Vec<Tensor>,
    /// Each clip's reversed twin (`--reversed-twins`).
    twins: Vec<Option<usize>>,
    empty: Tensor,
}

fn dataset(args: &Args, device: Device) -> Result<Dataset, String> {
    let dir = args.work.join("transformer");
    std::fs::create_dir_all(&dir).map_err(err)?;
    let mix = data::ClipMix { start_spread: args.start_spread, reversed_twins: args.reversed_twins, edge_rate: args.edge_rate };
    let cache = dir.join(format!("latents_{}_{}{}.safetensors", args.clips, args.seed, mix.cache_tag()));
    let clips = data::training_clips(args.seed, args.clips, &mix);
    let _guard = tch::no_grad_guard();
    let latents = match Tensor::read_safetensors(&cache) {
        Ok(mut t) if !t.is_empty() => t.swap_remove(0).1.to_device(device),
        _ => {
            let vae = AutoencoderKlLtxVideo::load(&args.model.join("vae"), device, Kind::Float).map_err(err)?;
            let bar = ProgressBar::new(clips.len() as u64);
            bar.set_style(ProgressStyle::with_template("encoding clips {bar:40} {pos}/{len} [{elapsed} < {eta}]").map_err(err)?);
            let mut parts = Vec::new();
            data::encode_clips(&vae, &clips, |z, n| {
                parts.push(vae.normalize_latents(&z, 1.0)?.to_device(Device::Cpu));
                bar.inc(n as u64);
                Ok(())
            })
            .map_err(err)?;
            bar.finish();
            let all = Tensor::cat(&parts, 0);
            Tensor::write_safetensors(&[("latents", &all)], &cache).map_err(err)?;
            all.to_device(device)
        }
    };
    // The pipeline's own prompt encoder, so training sees exactly the states inference feeds the
    // transformer; only the real tokens are kept (the pipeline masks its padding).
    let encoder = BertTextEncoder::load(&args.text_encoder, device, Kind::Float).map_err(err)?;
    let embed = |text: &str| -> Result<Tensor, String> {
        let (states, mask) = encoder.encode(&[text], MAX_SEQUENCE_LENGTH).map_err(err)?;
        let real = mask.sum(Kind::Int64).int64_value(&[]);
        let states = states.squeeze_dim(0).narrow(0, 0, real);
        // A corrupt encoder, or one packed for a GPU without the rows of words its captions
        // never used (`pack_text_encoder`), gives NaN: refused here, not trained on.
        if !bool::try_from(states.isfinite().all()).map_err(err)? {
            return Err(format!("the text encoder gave non-finite token states for {text:?}"));
        }
        Ok(states)
    };
    let bar = ProgressBar::new(clips.len() as u64);
    bar.set_style(ProgressStyle::with_template("embedding captions {bar:40} {pos}/{len}").map_err(err)?);
    let mut captions = Vec::new();
    for c in &clips {
        for k in 0..CAPTIONS_PER_CLIP {
            captions.push(embed(&caption(&c.scene, args.captions.style(), c.caption_seed * 31 + k))?);
        }
        bar.inc(1);
    }
    bar.finish();
    let twins = clips.iter().map(|c| c.twin).collect();
    Ok(Dataset { latents, captions, twins, empty: embed("")? })
}

pub fn train_transformer(args: &Args, device: Device) -> Result<(), String> {
    let config: LtxVideoTransformer3DModelConfig = read_config(&args.model.join("transformer")).map_err(err)?;
    narrow_enough(&config)?;
    let data = dataset(args, device)?;
    let vs = VarStore::new(device);
    let (p, pt) = (config.patch_size, config.patch_size_t);
    let model = LtxVideoTransformer3DModel::new(&vs.root(), config).map_err(err)?;
    tch::manual_seed(args.seed as i64 + 1);
    let params = init::initialise(&vs, &[]);
    if args.fresh_projections {
        init_transformer_but_projections(&vs, args)?;
    } else {
        init_from(&vs, args, "transformer")?;
    }
    let mut opt = AdamW::new(params, 0.01);
    let mut total = args.transformer_steps;
    let mut run = Run::open(&args.work, "transformer", &mut opt, args, total)?;

    let size = data.latents.size();
    let (n_clips, channels, lf, lh, lw) = (size[0], size[1], size[2], size[3], size[4]);
    if pt != 1 || lh % p != 0 || lw % p != 0 {
        return Err(format!("patch {p}x{p}x{pt} does not tile the {lf}x{lh}x{lw} latents by whole frames (patch_size_t 1)"));
    }
    let tokens_per_frame = (lh / p) * (lw / p);
    let tokens = lf * tokens_per_frame;
    let width = channels * p * p;
    let (spatial, temporal) = (SIZE as i64 / lh, (FRAMES as i64 - 1) / (lf - 1).max(1));
    let coords = latent_coords((lf, lh, lw), (p, pt), spatial, temporal, FPS, device).map_err(err)?;
    let b = args.transformer_batch;
    while run.more(&opt, total) {
        let step = opt.step;
        tch::manual_seed((args.seed as i64 + 1) << 20 | step);
        let mut rng = Rng::new(data::sample_seed(args.seed + 1, step, 0));
        let mut x0 = Vec::with_capacity(b);
        let mut texts = Vec::with_capacity(b);
        let mut captioned = Vec::with_capacity(b);
        let mut pinned = vec![0f32; b * lf as usize];
        // The batch row each row takes its noise and timestep from: its own, or its reversed
        // twin's.
        let mut source: Vec<i64> = (0..b as i64).collect();
        let lfu = lf as usize;
        let mut i = 0;
        while i < b {
            let clip = rng.below(n_clips as usize);
            let unconditional = rng.chance(TEXT_DROPOUT);
            let k = if unconditional { 0 } else { rng.below(CAPTIONS_PER_CLIP as usize) };
            // Which latent frames are given clean, as the pipeline's conditions give them:
            // a still at 0 (image-to-video), a clip's start or end (extension), both (infill).
            let mut row = vec![0f32; lfu];
            match rng.f64() {
                p if p < 0.45 => {}
                p if p < 0.70 => row[0] = 1.0,
                p if p < 0.82 => row[..3.min(lfu)].fill(1.0),
                p if p < 0.90 => row[lfu.saturating_sub(3)..].fill(1.0),
                _ => {
                    row[..2.min(lfu)].fill(1.0);
                    row[lfu.saturating_sub(2)..].fill(1.0);
                }
            }
            let twin = data.twins[clip].filter(|_| i + 1 < b);
            for (j, c) in std::iter::once(clip).chain(twin).enumerate() {
                x0.push(data.latents.get(c as i64));
                texts.push(if unconditional {
                    data.empty.shallow_clone()
                } else {
                    data.captions[c * CAPTIONS_PER_CLIP as usize + k].shallow_clone()
                });
                captioned.push(!unconditional);
                pinned[(i + j) * lfu..(i + j + 1) * lfu].copy_from_slice(&row);
                source[i + j] = i as i64;
            }
            i += 1 + twin.is_some() as usize;
        }
        let source = Tensor::from_slice(&source).to_device(device);
        let x0 = pack_latents(&Tensor::stack(&x0, 0), p, pt).map_err(err)?; // [B, N, C p p]
        let frame_of_token =
            Tensor::from_slice(&(0..tokens).map(|t| t / tokens_per_frame).collect::<Vec<i64>>()).to_device(device);
        let pinned = Tensor::from_slice(&pinned).view([b as i64, lf]).to_device(device);
        let token_pinned = pinned.index_select(1, &frame_of_token).unsqueeze(-1); // [B, N, 1]
        let u = Tensor::randn([b as i64, 1, 1], (Kind::Float, device)).index_select(0, &source);
        let s = u.sigmoid();
        let shift = args.time_shift;
        let sigma = &s * shift / (&s * (shift - 1.0) + 1.0);
        let noise = x0.randn_like().index_select(0, &source);
        let noisy = &x0 * (1.0 - &sigma) + &noise * &sigma;
        let cond = &x0 + x0.randn_like().index_select(0, &source) * (sigma.square() * COND_NOISE);
        let xt = (&token_pinned * &cond) + (1.0 - &token_pinned) * &noisy;
        let free: Tensor = 1.0 - &token_pinned;
        let timestep = (&sigma * 1000.0 * &free).view([b as i64, tokens]);
        // Captions padded to the longest in the batch; the mask hides the padding exactly as the
        // pipeline's longer padding is hidden.
        let longest = texts.iter().map(|t| t.size()[0]).max().unwrap_or(1);
        let mut mask = Vec::with_capacity(b * longest as usize);
        let padded: Vec<Tensor> = texts
            .iter()
            .zip(&captioned)
            .map(|(t, &captioned)| {
                let l = t.size()[0];
                let dropout = if captioned { args.token_dropout } else { 0.0 };
                mask.extend(token_mask(l, longest, dropout, &mut rng));
                t.pad([0, 0, 0, longest - l], "constant", Some(0.0))
            })
            .collect();
        let enc = Tensor::stack(&padded, 0);
        let mask = Tensor::from_slice(&mask).view([b as i64, longest]).to_device(device);
        let coords_b = coords.expand([b as i64, 3, tokens], false);
        let pred = model
            .forward(&xt, &enc, &timestep, Some(&mask), lf, lh, lw, (1.0, 1.0, 1.0), Some(&coords_b))
            .map_err(err)?;
        let target = &noise - &x0;
        let weight = &free * background_weights(&x0.transpose(1, 2), args.token_weight).transpose(1, 2);
        let loss = ((pred - target).square() * &weight).sum(Kind::Float) / (weight.sum(Kind::Float) * width as f64);
        opt.zero_grad();
        loss.backward();
        opt.step(scheduled_rate(&opt, total, TRANSFORMER_LR), 1.0);
        total = run.record(&opt, loss.double_value(&[]), total)?;
        drop(xt);
    }
    run.finish(&opt, "transformer", total)?;
    save_weights(&vs, &args.model.join("transformer"))
}

/// Refuses a transformer whose tokens are wider than itself: it reads a token only through
/// `proj_in` and answers only through `proj_out`, so its velocity has no component outside their
/// `inner_dim`-wide span, the sampler never removes the starting noise there and the loss cannot
/// fall below that share of it (run 6 of genvideo-mini-4x: 512-value tokens, 192 wide, loss flat
/// at 0.745 for thousands of steps). `genvideo-narrow-latents` makes the latents narrow enough.
fn narrow_enough(config: &LtxVideoTransformer3DModelConfig) -> Result<(), String> {
    let (token, inner) = (config.in_channels, config.inner_dim());
    if token > inner {
        return Err(format!(
            "the transformer's tokens ({token} values: latent channels x patch) are wider than the transformer \
             ({inner}); the noise outside its {inner} dimensions would never be removed. Use fewer latent \
             channels (genvideo-narrow-latents), a smaller patch or a wider transformer"
        ));
    }
    Ok(())
}

/// `training_record.json` and `loss.png` in the model folder, from what the work folder holds.
pub fn write_record(args: &Args, device: Device) -> Result<(), String> {
    let (vae, transformer) = (read_losses(&args.work.join("vae")), read_losses(&args.work.join("transformer")));
    // One panel per stage this work folder trained (a decoder fine-tune has no transformer curve).
    let stages: Vec<(&str, &[(i64, f64)])> =
        [("vae", &vae[..]), ("transformer", &transformer[..])].into_iter().filter(|s| !s.1.is_empty()).collect();
    plot::plot(&stages, &args.model.join("loss.png"))?;
    let path = args.model.join("training_record.json");
    // The committed weights may come from several runs in different work folders (a transformer
    // continued from a committed model): what this work folder does not hold, the previous
    // record's result and its hand-written history, stays.
    let previous: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    let summary = |stage: &str| -> serde_json::Value {
        std::fs::read_to_string(args.work.join(stage).join("summary.json"))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| previous[stage]["result"].clone())
    };
    let history = previous["history"].clone();
    // Only a stage this command trained, to the end of its run, takes this command's settings; any
    // other keeps what the record says it was trained with (null when nothing trained it yet: a
    // VAE-only run into a fresh model folder must not describe a transformer nobody trained).
    let ran = |stage: &str| args.stage.trains(stage) && args.work.join(stage).join("summary.json").is_file();
    let (clips, caption_style) = if ran("transformer") {
        (serde_json::json!(args.clips), serde_json::json!(format!("{:?}", args.captions.style())))
    } else {
        (previous["data"]["transformer_clips"].clone(), previous["data"]["caption_style"].clone())
    };
    let record = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "seed": args.seed,
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
        "data": {
            "generator": "toyworld (Split::Train; held-out combinations never sampled)",
            "size": [SIZE, SIZE],
            "frames": FRAMES,
            "fps": FPS,
            "vae_crop": VAE_CROP,
            "vae_frames": VAE_FRAMES,
            "transformer_clips": clips,
            "captions_per_clip": CAPTIONS_PER_CLIP,
            "caption_style": caption_style,
        },
        "vae": if ran("vae") {
            serde_json::json!({ "batch": args.vae_batch, "lr": args.vae_lr, "decoder_only": args.decoder_only, "fresh_decoder": args.fresh_decoder, "loss": "L1 + MSE on the posterior means, pixels weighted by 1 + 10 x distance from the crop median, + edge_weight x relative error of neighbouring-pixel and -frame differences + temporal_weight x the same of neighbouring frames alone", "object_weight": OBJECT_WEIGHT, "edge_weight": args.edge_weight, "temporal_weight": args.temporal_weight, "result": summary("vae") })
        } else {
            previous["vae"].clone()
        },
        "transformer": if ran("transformer") {
            serde_json::json!({
                "batch": args.transformer_batch,
                "lr": TRANSFORMER_LR,
                "text_dropout": TEXT_DROPOUT,
                "noise_levels": format!("logit-normal(0, 1), shifted by --time-shift ({} in the last run)", args.time_shift),
                "loss": "flow-matching MSE on the unpinned tokens, each weighted by 1 + token_weight x its mean absolute distance from the clip's median token",
                "token_weight": args.token_weight,
                "token_dropout": args.token_dropout,
                "start_spread": args.start_spread,
                "reversed_twins": args.reversed_twins,
                "edge_rate": args.edge_rate,
                "init_from": args.init_from.as_ref().map(|p| p.display().to_string()),
                "fresh_projections": args.fresh_projections,
                "result": summary("transformer"),
            })
        } else {
            previous["transformer"].clone()
        },
        "loss_curve": format!(
            "loss.png ({}; log scale, grid lines at powers of ten)",
            stages.iter().map(|s| s.0).collect::<Vec<_>>().join(", then ")
        ),
        "history": history,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&record).map_err(err)?).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn init_from_keeps_the_training_precision_and_reads_every_weight() {
        let dir = std::env::temp_dir().join(format!("genvideo-init-from-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("transformer")).unwrap();
        let saved = VarStore::new(Device::Cpu);
        let w = (saved.root() / "proj").var("weight", &[3, 2], tch::nn::Init::Randn { mean: 0.0, stdev: 1.0 });
        save_weights(&saved, &dir.join("transformer")).unwrap();

        let vs = VarStore::new(Device::Cpu);
        let fresh = (vs.root() / "proj").zeros("weight", &[3, 2]);
        let args = Args::parse_from(["genvideo-train", "--init-from", dir.to_str().unwrap()]);
        assert!(init_from(&vs, &args, "transformer").unwrap());
        assert_eq!(fresh.kind(), Kind::Float, "committed float16 must not become the training precision");
        let expected = w.to_kind(Kind::Half).to_kind(Kind::Float);
        assert!(fresh.allclose(&expected, 0.0, 0.0, false));

        // A checkpoint that lacks a variable the model has is refused by name.
        let other = VarStore::new(Device::Cpu);
        let _ = (other.root() / "proj").zeros("bias", &[3]);
        let e = init_from(&other, &args, "transformer").unwrap_err();
        assert!(e.contains("missing keys: proj.bias"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An `--init-from` folder in scratch space holding `component`: `json` as its config and the
    /// module `build` makes of it, initialised from seed 1 and saved. Returns the folder, the
    /// config and the saved variables.
    fn saved_component<C: serde::de::DeserializeOwned + Clone>(
        tag: &str,
        component: &str,
        json: &str,
        build: impl FnOnce(&VarStore, C),
    ) -> (PathBuf, C, VarStore) {
        let dir = std::env::temp_dir().join(format!("genvideo-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(component)).unwrap();
        std::fs::write(dir.join(component).join("config.json"), json).unwrap();
        let config: C = serde_json::from_str(json).unwrap();
        let saved = VarStore::new(Device::Cpu);
        build(&saved, config.clone());
        tch::manual_seed(1);
        init::initialise(&saved, &[]);
        save_weights(&saved, &dir.join(component)).unwrap();
        (dir, config, saved)
    }

    #[test]
    fn fresh_decoder_takes_the_encoder_and_leaves_a_wider_decoder_as_initialised() {
        let json = r#"{"latent_channels": 8, "block_out_channels": [8, 16, 32, 32], "decoder_block_out_channels": [8, 16, 32, 32]}"#;
        let (dir, small, saved) = saved_component("fresh-decoder", "vae", json, |vs, c: AutoencoderKlLtxVideoConfig| {
            AutoencoderKlLtxVideo::new(&vs.root(), c).unwrap();
        });

        let wide = AutoencoderKlLtxVideoConfig { decoder_block_out_channels: vec![16, 32, 48, 48], ..small.clone() };
        let vs = VarStore::new(Device::Cpu);
        AutoencoderKlLtxVideo::new(&vs.root(), wide).unwrap();
        tch::manual_seed(2);
        init::initialise(&vs, &[]);
        let before = vs.variables()["decoder.conv_in.conv.weight"].copy();
        let args = Args::parse_from(["genvideo-train", "--init-from", dir.to_str().unwrap(), "--decoder-only", "--fresh-decoder"]);
        assert!(init_encoder_from(&vs, &args).unwrap());
        let (got, want) = (vs.variables(), saved.variables());
        for name in ["encoder.conv_in.conv.weight", "encoder.conv_out.conv.weight", "latents_std"] {
            let expected = want[name].to_kind(Kind::Half).to_kind(Kind::Float);
            assert!(got[name].allclose(&expected, 0.0, 0.0, false), "{name}");
        }
        assert!(got["decoder.conv_in.conv.weight"].equal(&before), "the decoder keeps its fresh initialisation");

        // An encoder of another size is refused by name.
        let other = AutoencoderKlLtxVideoConfig { block_out_channels: vec![8, 16, 32, 64], ..small };
        let vs = VarStore::new(Device::Cpu);
        AutoencoderKlLtxVideo::new(&vs.root(), other).unwrap();
        let e = init_encoder_from(&vs, &args).unwrap_err();
        assert!(e.contains(" encoder."), "{e}");
        assert!(e.contains("model folder's config has"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn fresh_projections_take_every_other_transformer_weight() {
        let json = r#"{"in_channels": 4, "out_channels": 4, "num_attention_heads": 1, "attention_head_dim": 8,
                       "cross_attention_dim": 8, "num_layers": 1, "caption_channels": 6}"#;
        let build = |vs: &VarStore, c: LtxVideoTransformer3DModelConfig| {
            LtxVideoTransformer3DModel::new(&vs.root(), c).unwrap();
        };
        let (dir, small, saved) = saved_component("fresh-projections", "transformer", json, build);

        // Latents of a quarter the channels in 2x2 patches: tokens four times as wide.
        let patched = LtxVideoTransformer3DModelConfig { in_channels: 16, out_channels: Some(16), patch_size: 2, ..small };
        let vs = VarStore::new(Device::Cpu);
        LtxVideoTransformer3DModel::new(&vs.root(), patched).unwrap();
        tch::manual_seed(2);
        init::initialise(&vs, &[]);
        let before = vs.variables()["proj_in.weight"].copy();
        let args = Args::parse_from(["genvideo-train", "--init-from", dir.to_str().unwrap(), "--fresh-projections"]);
        assert!(init_transformer_but_projections(&vs, &args).unwrap());
        let (got, want) = (vs.variables(), saved.variables());
        let mut copied = 0;
        for (name, t) in &got {
            if name.starts_with("proj_") {
                continue;
            }
            let expected = want[name].to_kind(Kind::Half).to_kind(Kind::Float);
            assert!(t.allclose(&expected, 0.0, 0.0, false), "{name}");
            copied += 1;
        }
        assert!(copied > 10, "only {copied} tensors compared");
        assert_eq!(got["proj_in.weight"].size(), [8, 16]);
        assert!(got["proj_in.weight"].equal(&before), "proj_in keeps its fresh initialisation");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_transformer_narrower_than_its_tokens_is_refused_before_any_work() {
        let dir = std::env::temp_dir().join(format!("genvideo-too-wide-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("transformer")).unwrap();
        let config = |width: i64| {
            format!(r#"{{"in_channels": {width}, "out_channels": {width}, "patch_size": 4, "num_attention_heads": 6,
                         "attention_head_dim": 32, "cross_attention_dim": 192, "num_layers": 1, "caption_channels": 384}}"#)
        };
        std::fs::write(dir.join("transformer/config.json"), config(512)).unwrap();
        // No VAE, text encoder or work folder: the refusal has to come first.
        let args = Args::parse_from(["genvideo-train", "transformer", "--model", dir.to_str().unwrap(), "--work", "/nonexistent"]);
        let e = train_transformer(&args, Device::Cpu).unwrap_err();
        assert!(e.contains("(512 values") && e.contains("(192)"), "{e}");
        let narrowed: LtxVideoTransformer3DModelConfig = serde_json::from_str(&config(192)).unwrap();
        assert!(narrow_enough(&narrowed).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_decoder_run_keeps_the_recorded_transformer_and_its_captions() {
        let dir = std::env::temp_dir().join(format!("genvideo-record-{}", std::process::id()));
        let (model, work) = (dir.join("model"), dir.join("work"));
        std::fs::create_dir_all(work.join("vae")).unwrap();
        std::fs::create_dir_all(&model).unwrap();
        let previous = serde_json::json!({
            "data": { "transformer_clips": 2000, "caption_style": "TrainWide" },
            "vae": { "result": { "steps": 1 } },
            "transformer": { "batch": 8, "result": { "steps": 3200 } },
            "history": ["run 4"],
        });
        std::fs::write(model.join("training_record.json"), previous.to_string()).unwrap();
        std::fs::write(work.join("vae").join("losses.csv"), "1,0.5\n2,0.25\n").unwrap();
        std::fs::write(work.join("vae").join("summary.json"), r#"{"steps": 2}"#).unwrap();
        let (m, w) = (model.to_str().unwrap(), work.to_str().unwrap());
        let args = Args::parse_from(["genvideo-train", "vae", "--model", m, "--work", w, "--clips", "5"]);
        write_record(&args, Device::Cpu).unwrap();
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(model.join("training_record.json")).unwrap()).unwrap();
        assert_eq!(record["vae"]["result"]["steps"], 2, "this run's VAE");
        assert_eq!(record["transformer"], previous["transformer"]);
        assert_eq!(record["data"]["caption_style"], "TrainWide");
        assert_eq!(record["data"]["transformer_clips"], 2000);
        assert_eq!(record["history"], previous["history"]);
        assert!(record["loss_curve"].as_str().unwrap().starts_with("loss.png (vae;"), "{}", record["loss_curve"]);
        // One panel: the VAE's.
        let png = image::open(model.join("loss.png")).unwrap();
        assert_eq!(png.width(), 480);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_vae_run_into_a_fresh_model_folder_records_no_transformer() {
        let dir = std::env::temp_dir().join(format!("genvideo-fresh-record-{}", std::process::id()));
        let (model, work) = (dir.join("model"), dir.join("work"));
        for stage in ["vae", "transformer"] {
            std::fs::create_dir_all(work.join(stage)).unwrap();
            std::fs::write(work.join(stage).join("losses.csv"), "1,0.5\n").unwrap();
            std::fs::write(work.join(stage).join("summary.json"), r#"{"steps": 1}"#).unwrap();
        }
        std::fs::create_dir_all(&model).unwrap();
        let (m, w) = (model.to_str().unwrap(), work.to_str().unwrap());
        // The work folder also holds an earlier transformer run: this command did not train it.
        let args = Args::parse_from(["genvideo-train", "vae", "--model", m, "--work", w, "--vae-lr", "3e-4"]);
        write_record(&args, Device::Cpu).unwrap();
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(model.join("training_record.json")).unwrap()).unwrap();
        assert_eq!(record["vae"]["lr"], 3e-4);
        assert_eq!(record["vae"]["result"]["steps"], 1);
        assert!(record["transformer"].is_null(), "{}", record["transformer"]);
        assert!(record["data"]["transformer_clips"].is_null());
        assert!(record["data"]["caption_style"].is_null());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_continued_schedule_warms_its_fresh_moments_up_again() {
        let w = Tensor::zeros([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut opt = AdamW::new(vec![("w".into(), w)], 0.0);
        (opt.step, opt.moment_steps) = (1000, 1000);
        assert_eq!(scheduled_rate(&opt, 3000, 1e-3), learning_rate(1000, 3000, 1e-3));
        opt.moment_steps = 0;
        let first = scheduled_rate(&opt, 3000, 1e-3) * WARMUP as f64 / learning_rate(1000, 3000, 1e-3);
        assert!((first - 1.0).abs() < 1e-12, "{first}");
        opt.moment_steps = WARMUP;
        assert_eq!(scheduled_rate(&opt, 3000, 1e-3), learning_rate(1000, 3000, 1e-3));
        // A run from scratch warms up once, not twice.
        (opt.step, opt.moment_steps) = (10, 10);
        assert_eq!(scheduled_rate(&opt, 3000, 1e-3), 1e-3 * 11.0 / WARMUP as f64);
    }

    #[test]
    fn edge_error_sees_outlines_not_offsets() {
        tch::manual_seed(0);
        let x = Tensor::rand([1, 3, 4, 8, 8], (Kind::Float, Device::Cpu));
        let e = |rec: &Tensor| difference_error(rec, &x, &[2, 3, 4]).double_value(&[]);
        assert!(e(&x) < 1e-9);
        // A colour offset leaves every outline where it was (the per-pixel loss sees it).
        assert!(e(&(&x + 0.1)) < 1e-6);
        // A flat reconstruction misses every difference the clip has: error 1, relative.
        assert!((e(&x.mean(Kind::Float).expand_as(&x)) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn flicker_error_sees_errors_that_change_between_frames() {
        let x = models::rng::seeded(0, || models::rng::rand(&[1, 3, 4, 8, 8]));
        let e = |rec: &Tensor| difference_error(rec, &x, &[2]).double_value(&[]);
        // The same error in every frame (a blurred outline that stays put) does not flicker...
        let steady = &x + models::rng::seeded(1, || models::rng::rand(&[1, 3, 1, 8, 8])) * 0.1;
        assert!(e(&steady) < 1e-6);
        // ...one drawn afresh per frame does, though per pixel it is as large.
        let flicker = &x + models::rng::seeded(1, || models::rng::rand(&[1, 3, 4, 8, 8])) * 0.1;
        assert!(e(&flicker) > 0.05, "{}", e(&flicker));
        // A still frame in place of the clip misses all of its motion: error 1, relative.
        assert!((e(&x.narrow(2, 0, 1).expand_as(&x)) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn background_weights_single_out_what_differs_from_the_background() {
        // Two clips of five 4-wide tokens: flat backgrounds (0 and 2), one object token each.
        let mut v = vec![0f32; 5 * 4];
        v.extend(vec![2f32; 5 * 4]);
        let x0 = Tensor::from_slice(&v).view([2, 5, 4]);
        let _ = x0.get(0).get(3).fill_(1.0);
        let _ = x0.get(1).get(1).narrow(0, 0, 2).fill_(4.0);
        let token_weights = |per_unit| background_weights(&x0.transpose(1, 2), per_unit).transpose(1, 2);
        let w = token_weights(10.0);
        assert_eq!(w.size(), [2, 5, 1]);
        let got = Vec::<f32>::try_from(w.flatten(0, -1)).unwrap();
        assert_eq!(got, [1.0, 1.0, 1.0, 11.0, 1.0, 1.0, 11.0, 1.0, 1.0, 1.0]);
        // Off, every token counts alike.
        assert!(token_weights(0.0).equal(&Tensor::ones([2, 5, 1], (Kind::Float, Device::Cpu))));
        // Pixels `[B, C, F, H, W]`, as the VAE weighs them: the same tokens laid out as 5 x 1 x 1.
        let pixels = background_weights(&x0.transpose(1, 2).reshape([2, 4, 5, 1, 1]), 10.0);
        assert_eq!(pixels.size(), [2, 1, 5, 1, 1]);
        assert!(pixels.flatten(0, -1).equal(&w.flatten(0, -1)));
    }

    #[test]
    fn a_time_limit_shortens_the_schedule_to_the_steps_that_fit_and_never_lengthens_it() {
        // 20 steps done, 0.5 s a step, 100 s left: 200 more steps fit.
        assert_eq!(steps_that_fit(20, 3000, 0.5, 100.0), 220);
        assert_eq!(steps_that_fit(20, 100, 0.5, 100.0), 100);
        // Out of time already: one step more, so the stage still ends on a saved step.
        assert_eq!(steps_that_fit(20, 3000, 0.5, -5.0), 21);
        assert_eq!(steps_that_fit(20, 3000, 0.0, 100.0), 3000);
    }

    #[test]
    fn token_dropout_hides_only_real_tokens_and_never_all_of_them() {
        let mut rng = Rng::new(7);
        // Off: the padding mask the pipeline gives, and no draw from the batch's generator.
        assert_eq!(token_mask(3, 5, 0.0, &mut rng), [1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(rng.below(1000), Rng::new(7).below(1000));
        // Every token drawn hidden: all stay, since a caption must say something.
        assert_eq!(token_mask(3, 5, 1.0, &mut rng), [1.0, 1.0, 1.0, 0.0, 0.0]);
        let (mut hidden, mut kept) = (0, 0);
        for _ in 0..200 {
            let m = token_mask(6, 8, 0.3, &mut rng);
            assert_eq!(&m[6..], [0.0, 0.0]);
            assert!(m[..6].contains(&1.0));
            hidden += m[..6].iter().filter(|&&v| v == 0.0).count();
            kept += m[..6].iter().filter(|&&v| v == 1.0).count();
        }
        let rate = hidden as f64 / (hidden + kept) as f64;
        assert!((0.25..0.35).contains(&rate), "{rate}");
    }
}
