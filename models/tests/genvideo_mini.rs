//! The embedded default model's layout: `embedded/genvideo-mini`'s configs with random weights
//! (the trained ones are not needed to check the wiring) and all-MiniLM-L6-v2 beside it, as the
//! bundle ships them (`Resources/genvideo-mini` + `Resources/all-minilm-l6-v2`). Loads through
//! `_genvideo.text_encoder_folder` and through `load_with_text_encoder`, generates a 9-frame
//! 64x64 clip, and checks the BERT prompt encoder. Skipped (with a note) only when
//! weights/all-minilm-l6-v2 is absent (installers/setup installs it).

mod common;

use std::path::{Path, PathBuf};

use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
use models::bert::SentenceEncoder;
use models::checkpoint::read_config;
use models::pipeline_ltx::{BertTextEncoder, Condition, LtxPipeline, SeededNoise, TextEncoder};
use models::transformer_ltx::{LtxVideoTransformer3DModel, LtxVideoTransformer3DModelConfig};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn minilm() -> Option<PathBuf> {
    let dir = common::repo_root().join("weights/all-minilm-l6-v2");
    if ["config.json", "model.safetensors", "tokenizer.json"].iter().all(|f| dir.join(f).is_file()) {
        Some(dir)
    } else {
        eprintln!("skipped: {} is missing (installers/setup installs all-MiniLM-L6-v2)", dir.display());
        None
    }
}

/// Held by every test here: while another test runs libtorch on the CPU beside one that
/// generates, the same seed on the same weights did not always give the same clip bit for bit
/// (1 run in 12 with two test threads, none in 25 with one), and the clips are compared exactly.
static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn generating() -> std::sync::MutexGuard<'static, ()> {
    GENERATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Fills every trainable parameter with small normal noise (norm weights around 1).
fn randomize(vs: &VarStore, seed: i64) {
    models::rng::seeded(seed, || tch::no_grad(|| {
        for (name, mut v) in vs.variables() {
            if name.contains("latents_mean") || name.contains("latents_std") {
                continue;
            }
            let noise = Tensor::randn_like(&v) * 0.05;
            let value = if name.contains("norm") && name.ends_with("weight") { noise + 1.0 } else { noise };
            v.copy_(&value);
        }
    }));
}

/// `<tmp>/genvideo-mini` (the committed configs, random weights) and `<tmp>/all-minilm-l6-v2`
/// (a link to the installed encoder): the bundle's Resources layout.
fn random_mini(tag: &str, minilm: &Path) -> PathBuf {
    random_mini_with(tag, minilm, &[])
}

/// [`random_mini`] with `edits` (file, key, value) made to the committed configs first.
fn random_mini_with(tag: &str, minilm: &Path, edits: &[(&str, &str, i64)]) -> PathBuf {
    let root = common::scratch(tag);
    let src = common::repo_root().join("embedded/genvideo-mini");
    let dir = root.join("genvideo-mini");
    for f in ["model_index.json", "transformer/config.json", "vae/config.json", "scheduler/scheduler_config.json"] {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(src.join(f)).unwrap_or_else(|e| panic!("{}: {e}", src.join(f).display()));
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (_, key, value) in edits.iter().filter(|e| e.0 == f) {
            json[*key] = (*value).into();
        }
        std::fs::write(&to, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    }
    let config: LtxVideoTransformer3DModelConfig = read_config(&dir.join("transformer")).unwrap();
    let vs = VarStore::new(Device::Cpu);
    LtxVideoTransformer3DModel::new(&vs.root(), config).unwrap();
    randomize(&vs, 1);
    vs.save(dir.join("transformer/diffusion_pytorch_model.safetensors")).unwrap();
    let config: AutoencoderKlLtxVideoConfig = read_config(&dir.join("vae")).unwrap();
    let vs = VarStore::new(Device::Cpu);
    AutoencoderKlLtxVideo::new(&vs.root(), config).unwrap();
    randomize(&vs, 2);
    vs.save(dir.join("vae/diffusion_pytorch_model.safetensors")).unwrap();
    std::os::unix::fs::symlink(minilm, root.join("all-minilm-l6-v2")).unwrap();
    dir
}

#[test]
fn genvideo_mini_loads_beside_minilm_and_generates() {
    let _serial = generating();
    let Some(minilm) = minilm() else { return };
    let dir = random_mini("mini-generate", &minilm);
    let pipe = LtxPipeline::load(&dir, Device::Cpu, Kind::Float).unwrap();
    assert_eq!(pipe.max_sequence_length, 64);
    assert_eq!(pipe.meta.sample_width, Some(128));
    assert_eq!(pipe.meta.sample_longest_side(), Some(128));
    assert_eq!(pipe.meta.num_frames, Some(49));
    assert_eq!((pipe.spatial_ratio(), pipe.temporal_ratio()), (16, 8));
    let defaults = pipe.default_request("x");
    assert_eq!((defaults.width, defaults.height, defaults.num_frames), (128, 128, 49));
    assert_eq!((defaults.frame_rate, defaults.num_inference_steps, defaults.guidance_scale), (24.0, 20, 3.0));

    let mut req = pipe.default_request("a red circle moves to the right on a black background");
    req.width = 64;
    req.height = 64;
    req.num_frames = 9;
    req.num_inference_steps = 2;
    let video = pipe.generate(&req, &mut SeededNoise::new(3), &mut |_| true).unwrap();
    assert_eq!(video.size(), [9, 3, 64, 64]);
    assert_eq!(video.isfinite().all().int64_value(&[]), 1);
    assert!(video.std(true).double_value(&[]) > 1e-4, "the clip is not constant");
    let again = pipe.generate(&req, &mut SeededNoise::new(3), &mut |_| true).unwrap();
    assert!(again.equal(&video), "same seed, same clip");

    // The same folder with the encoder named explicitly (the plugin's bundle path).
    let explicit = LtxPipeline::load_with_text_encoder(&dir, &minilm, Device::Cpu, Kind::Float).unwrap();
    let other = explicit.generate(&req, &mut SeededNoise::new(3), &mut |_| true).unwrap();
    assert!(other.equal(&video));
}

/// The committed layout at 8x spatial compression with the transformer over 2x2 latent patches:
/// a token still covers 16x16 pixels, so sizes stay multiples of 16; generation, a first-frame
/// condition and a mid-clip one (extra tokens) all run through the patched path.
#[test]
fn a_transformer_over_latent_patches_generates() {
    let _serial = generating();
    let Some(minilm) = minilm() else { return };
    let edits = [
        ("vae/config.json", "patch_size", 1),
        ("transformer/config.json", "patch_size", 2),
        ("transformer/config.json", "in_channels", 128),
        ("transformer/config.json", "out_channels", 128),
    ];
    let dir = random_mini_with("mini-patched", &minilm, &edits);
    let pipe = LtxPipeline::load(&dir, Device::Cpu, Kind::Float).unwrap();
    assert_eq!((pipe.spatial_ratio(), pipe.temporal_ratio()), (16, 8));
    let mut req = pipe.default_request("a red circle moves to the right on a black background");
    (req.width, req.height, req.num_frames, req.num_inference_steps) = (64, 48, 17, 2);
    let still = models::rng::rand(&[3, 1, 48, 64]);
    let middle = models::rng::rand(&[3, 9, 48, 64]);
    req.conditions = vec![
        Condition { frames: still, frame_index: 0, strength: 1.0 },
        Condition { frames: middle, frame_index: 8, strength: 1.0 },
    ];
    let video = pipe.generate(&req, &mut SeededNoise::new(3), &mut |_| true).unwrap();
    assert_eq!(video.size(), [17, 3, 48, 64]);
    assert_eq!(video.isfinite().all().int64_value(&[]), 1);
    req.width = 56;
    let msg = pipe.generate(&req, &mut SeededNoise::new(3), &mut |_| true).unwrap_err().to_string();
    assert!(msg.contains("multiple of 16"), "{msg}");

    // Token width that is not the VAE's channels times the patch is refused at load, by name.
    let dir = random_mini_with("mini-mispatched", &minilm, &edits[..3]);
    let msg = LtxPipeline::load(&dir, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(msg.contains("out_channels 32 must both be the VAE's latent_channels 32 times patch_size 2"), "{msg}");
}

#[test]
fn bert_prompt_encoder_gives_padded_token_states() {
    let _serial = generating();
    let Some(minilm) = minilm() else { return };
    let enc = BertTextEncoder::load(&minilm, Device::Cpu, Kind::Float).unwrap();
    assert_eq!(enc.dim(), 384);
    let prompts = ["a red circle moves to the right", ""];
    let (states, mask) = enc.encode(&prompts, 64).unwrap();
    assert_eq!(states.size(), [2, 64, 384]);
    assert_eq!(mask.size(), [2, 64]);
    let counts: Vec<i64> = Vec::try_from(mask.sum_dim_intlist(1, false, Kind::Int64)).unwrap();
    assert_eq!(counts[1], 2, "[CLS] [SEP] for an empty prompt");
    assert!(counts[0] > 2 && counts[0] < 64);
    // Token states, not a pooled vector: mean-pooling them over the mask gives the sentence
    // embedding the usage policy computes with the same weights.
    let pooled = models::bert::mean_pool_normalize(&states, &mask);
    let sentence = SentenceEncoder::load(&minilm, Device::Cpu).unwrap().encode(&prompts).unwrap();
    let diff = (pooled - sentence).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "pooled token states differ from the sentence embedding by {diff}");
    // Padding does not change the real tokens' states.
    let (short, _) = enc.encode(&prompts[..1], counts[0] as usize).unwrap();
    let d = (short - states.narrow(0, 0, 1).narrow(1, 0, counts[0])).abs().max().double_value(&[]);
    assert!(d < 1e-4, "{d}");
    // Too long is an error that says so.
    let long = "a red circle moves to the right ".repeat(20);
    let msg = enc.encode(&[long.as_str()], 64).unwrap_err().to_string();
    assert!(msg.contains("tokens") && msg.contains("at most 64"), "{msg}");
}

#[test]
fn text_encoder_problems_name_the_path() {
    let _serial = generating();
    let Some(minilm) = minilm() else { return };
    let dir = random_mini("mini-errors", &minilm);
    let root = dir.parent().unwrap().to_owned();
    // The encoder beside the model is gone.
    std::fs::remove_file(root.join("all-minilm-l6-v2")).unwrap();
    let msg = LtxPipeline::load(&dir, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(msg.contains("all-minilm-l6-v2") && msg.contains("does not exist"), "{msg}");
    let missing = root.join("nowhere");
    let msg = LtxPipeline::load_with_text_encoder(&dir, &missing, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    // An encoder of another kind.
    let odd = root.join("odd-encoder");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("config.json"), r#"{"model_type": "clip_text_model"}"#).unwrap();
    let msg = LtxPipeline::load_with_text_encoder(&dir, &odd, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(msg.contains("clip_text_model") && msg.contains("odd-encoder"), "{msg}");
    // No encoder named at all.
    let index = dir.join("model_index.json");
    let text = std::fs::read_to_string(&index).unwrap().replace("\"text_encoder_folder\"", "\"unused\"");
    std::fs::write(&index, text).unwrap();
    let msg = LtxPipeline::load(&dir, Device::Cpu, Kind::Float).err().unwrap().to_string();
    assert!(msg.contains("text_encoder") && msg.contains(&dir.display().to_string()), "{msg}");
}
