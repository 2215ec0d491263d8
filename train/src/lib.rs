//! Training and evaluation of the embedded default model, `embedded/genvideo-mini`, on toyworld.
//!
//! Stage 1 trains the causal video VAE (L1 + MSE reconstruction), then measures its latent
//! statistics. Stage 2 encodes a fixed set of clips with it, embeds their captions with
//! all-MiniLM-L6-v2 token states, and trains the LTX transformer by flow matching, with some
//! latent frames pinned clean (timestep 0) so image-to-video, extension and infill work through
//! the same conditioning the pipeline uses. Both stages checkpoint (parameters, optimiser moments,
//! losses) and resume; the loss curve is written as a PNG and every number goes into
//! `training_record.json`.

/// Keeps freed memory in the process instead of returning it to the system. glibc hands every
/// allocation above 32 MB (most of a clip's activations) back with munmap on free, so the next
/// one page-faults its pages in again: on the 2-core CPU half the VAE's time went to the kernel.
/// Without it `genvideo-eval --vae-only` on the 8x VAE ran 2.7x slower (34.4 s against 12.8 s for
/// 12 prompts; sys time 27.5 s against 0.8 s). Only for these tools: the plugin lives in a host's
/// process, whose allocator is not ours to tune.
pub fn keep_freed_memory() {
    // SAFETY: mallopt only changes glibc's thresholds; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

pub mod adam;
pub mod data;
pub mod init;
pub mod measure;
pub mod narrow;
pub mod plot;
pub mod stages;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    Vae,
    Transformer,
    All,
}

impl Stage {
    /// Whether this command trains `stage` ("vae" or "transformer", the work folder's subfolders).
    pub fn trains(self, stage: &str) -> bool {
        matches!((self, stage), (Stage::All, _) | (Stage::Vae, "vae") | (Stage::Transformer, "transformer"))
    }
}

/// The caption vocabulary the transformer stage trains on (toyworld's training styles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Captions {
    /// The words and templates runs 1-3 of the committed model learnt from.
    Train,
    /// Those and as many synonyms again, still none a paraphrase uses.
    TrainWide,
}

impl Captions {
    pub fn style(self) -> toyworld::CaptionStyle {
        match self {
            Captions::Train => toyworld::CaptionStyle::Train,
            Captions::TrainWide => toyworld::CaptionStyle::TrainWide,
        }
    }
}

#[derive(Debug, Clone, Parser)]
#[command(about = "Train the embedded default model (genvideo-mini) on toyworld")]
pub struct Args {
    /// Which stage(s) to run.
    #[arg(value_enum, default_value = "all")]
    pub stage: Stage,
    /// The model folder: its configs are read from here and the weights written here.
    #[arg(long, default_value = "embedded/genvideo-mini")]
    pub model: PathBuf,
    /// all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json).
    #[arg(long, default_value = measure::TEXT_ENCODER)]
    pub text_encoder: PathBuf,
    /// Checkpoints, cached latents, loss CSVs; a run resumes from here.
    #[arg(long, default_value = "out/train")]
    pub work: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1500)]
    pub vae_steps: i64,
    #[arg(long, default_value_t = 4)]
    pub vae_batch: usize,
    /// Weight of the VAE's edge term: the error of the differences between neighbouring pixels and
    /// frames, relative to the clip's own. 0 (per-pixel loss only) is how the committed VAE was
    /// trained; fine-tuning it 1550 steps at 0.1 left the shapes it blurs as blurred.
    #[arg(long, default_value_t = 0.0)]
    pub edge_weight: f64,
    /// Weight of the VAE's flicker term: the error of the differences between neighbouring
    /// frames alone, relative to the clip's own. Each frame's reconstruction error differs a
    /// little from the next one's, so a decoded clip changes more from frame to frame than the
    /// footage (1.8x on 12 held-out clips with run 4's decoder; run 5 was fine-tuned at 0.2), and an
    /// extension's first new frame steps away from the real one by as much.
    #[arg(long, default_value_t = 0.0)]
    pub temporal_weight: f64,
    /// Peak learning rate of the VAE. From scratch, above about 2e-4 Adam destabilises its
    /// norm-heavy blocks within a hundred steps and the decoder falls back to the mean frame
    /// (reproduced with diffusers' own module in PyTorch); a trained VAE's loss climbs at 2e-4,
    /// so fine-tune lower.
    #[arg(long, default_value_t = 2e-4)]
    pub vae_lr: f64,
    #[arg(long, default_value_t = 3000)]
    pub transformer_steps: i64,
    #[arg(long, default_value_t = 8)]
    pub transformer_batch: usize,
    /// Noise levels for the transformer are logit-normal, shifted towards noise by this factor
    /// (`shift * s / (1 + (shift - 1) * s)`, as LTX-Video trains). Each latent stands for 192
    /// values, so a token's content survives noise that would erase a pixel's: unshifted, only 8 %
    /// of samples have sigma above 0.8, where the sampler decides what is drawn and text has to
    /// steer it.
    #[arg(long, default_value_t = 3.0)]
    pub time_shift: f64,
    /// Extra transformer loss weight per unit of a token's distance from its clip's median token
    /// (mean absolute difference of the normalised latents). Objects fill under 1 % of the pixels,
    /// so an unweighted loss is mostly flat background, which the model learnt long ago, while
    /// the shapes it draws stay broken. 0 (every token alike) is how runs up to 6g were trained.
    #[arg(long, default_value_t = 0.0)]
    pub token_weight: f64,
    /// Probability that each token of a caption is hidden from the transformer in a training
    /// step (at least one stays), so it learns to read a caption's meaning from every word's
    /// state, which MiniLM mixes with its neighbours', not from the one word it was taught: it
    /// keyed on those, and reached paraphrases one time in three where an attention probe on the
    /// same states reads them two times in three. Runs 1-5 were trained at 0, run 7 at 0.2
    /// (paraphrased adherence 34 -> 42 %); 0.4 (run 10) did no better than 0.2.
    #[arg(long, default_value_t = 0.0)]
    pub token_dropout: f64,
    /// Seconds over which the transformer's clips may start late: half of them start at 0, the
    /// rest at a time drawn uniformly from [0, this]. Clips that all start at 0 never show a
    /// motion already under way, as Extend's source frames show it, and run 7 (trained that way)
    /// grows a growing source's object faster than the source did. Runs 1-8 used 0; run 9 tried
    /// 1.5 and grew them faster still (seam 1.89x against 1.60x on seed 100), so it was not kept.
    #[arg(long, default_value_t = 0.0)]
    pub start_spread: f64,
    /// Adds the reversal of every single left/right (up/down) clip: the same object from the
    /// same start moving the other way, so it leaves the frame, with the direction word swapped
    /// in its captions. Each drawn clip that has one is trained beside it in the batch, under
    /// the same noise, timestep, caption template and conditioning. Every left-mover otherwise
    /// starts right of centre, and run 7 learnt that place instead of the word: under the same
    /// noise, "left" and "right" moved its objects the same way (`direction_probe`). Runs 12-13
    /// (3000 steps) moved the probe's pairs the same way 8 times in 12 instead of 12, but
    /// held-out left/right objects more often the wrong way: not kept.
    #[arg(long)]
    pub reversed_twins: bool,
    /// The share of single left/right/up/down clips whose object enters the frame across the
    /// edge behind it or leaves it across the edge ahead (half each), captioned so ("enters from
    /// the left", "exits through the top"). A leaving object starts on the side it moves to,
    /// where every other translation starts on the side it moves away from. Runs 1-13 used 0;
    /// runs 14-15 used 0.5 for 3000 steps and drew no object entering or leaving (`edge_probe`:
    /// 1 and 0 of 16), with paraphrased adherence lower: not kept.
    #[arg(long, default_value_t = 0.0)]
    pub edge_rate: f64,
    /// Caption vocabulary for the transformer stage; the captions are embedded when a run starts.
    #[arg(long, value_enum, default_value = "train")]
    pub captions: Captions,
    /// Clips encoded once for the transformer stage.
    #[arg(long, default_value_t = 2000)]
    pub clips: usize,
    #[arg(long, default_value_t = 100)]
    pub save_every: i64,
    /// CPU threads (default: every core). Fewer when sharing the machine: libtorch's threads
    /// spin at barriers, so an oversubscribed CPU runs many times slower, not just 2x.
    #[arg(long)]
    pub threads: Option<i32>,
    /// Finish the stage(s) at this step although the learning-rate schedules run to
    /// --vae-steps / --transformer-steps (to end a run early, reproducibly).
    #[arg(long)]
    pub stop_at: Option<i64>,
    /// Minutes this command may run, data preparation included (a lent GPU's session is short):
    /// 20 steps into a stage its schedule is shortened, if need be, to the steps that fit at the
    /// speed measured, so it still ends on its decayed learning rate; `summary.json` records the
    /// schedule it ran, which `--vae-steps` / `--transformer-steps` reproduce. Should a stage
    /// slow down past the limit anyway, it stops there and keeps what it learnt. One stage at a
    /// time; resuming such a run, give it the schedule its record names.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Start over instead of resuming from the work folder.
    #[arg(long)]
    pub restart: bool,
    /// Start from this model folder's weights (its `vae/` and `transformer/`) instead of a fresh
    /// initialisation: continues training a committed model whose optimiser state is gone, with
    /// fresh AdamW moments and its own schedule (a checkpoint in the work folder still resumes).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// With --init-from holding weights an earlier run left at this step of the same schedule (a
    /// checkpoint committed between sessions without its optimiser state, 3x the weights' size):
    /// continue that schedule at this step, its learning rate and batches, with fresh AdamW moments
    /// warmed up again over 100 steps. A checkpoint in the work folder still resumes as it was.
    #[arg(long, requires = "init_from")]
    pub start_step: Option<i64>,
    /// Train only the VAE's decoder; the encoder, and so the latents the transformer learnt, stay
    /// as --init-from has them.
    #[arg(long, requires = "init_from")]
    pub decoder_only: bool,
    /// With --decoder-only: initialise the decoder afresh from the model folder's `vae/config.json`
    /// (its `decoder_*` entries may differ from --init-from's) instead of continuing --init-from's.
    #[arg(long, requires = "decoder_only")]
    pub fresh_decoder: bool,
    /// With --init-from: the transformer's proj_in and proj_out initialised afresh from the model
    /// folder's `transformer/config.json`, every other weight from --init-from's. For a new VAE
    /// whose tokens (latents x patch) cover the same pixels: 8x latents in 2x2 patches where
    /// --init-from has 16x latents in 1x1.
    #[arg(long, requires = "init_from")]
    pub fresh_projections: bool,
}

