//! Parity of models::transformer_ltx against diffusers' `LTXVideoTransformer3DModel` on small
//! random configurations (tests/reference/transformer_ltx_reference.py writes the checkpoints and
//! the reference outputs at test time), plus the errors a wrong folder must produce.

mod common;

use std::collections::HashMap;
use std::path::Path;

use models::transformer_ltx::{LtxVideoTransformer3DModel, LtxVideoTransformer3DModelConfig, CLASS_NAME};
use models::ModelError;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

#[derive(serde::Deserialize)]
struct Case {
    config: usize,
    case: String,
    num_frames: i64,
    height: i64,
    width: i64,
    rope_interpolation_scale: [f64; 3],
}

fn run_case(model: &LtxVideoTransformer3DModel, tensors: &HashMap<String, Tensor>, case: &Case) -> Tensor {
    let get = |k: &str| tensors.get(&format!("{}.{k}", case.case));
    let input = |k: &str| get(k).unwrap_or_else(|| panic!("reference wrote no {}.{k}", case.case));
    let [f, h, w] = case.rope_interpolation_scale;
    tch::no_grad(|| {
        model.forward(
            input("hidden_states"),
            input("encoder_hidden_states"),
            input("timestep"),
            get("encoder_attention_mask"),
            case.num_frames,
            case.height,
            case.width,
            (f, h, w),
            get("video_coords"),
        )
    })
    .unwrap_or_else(|e| panic!("config{} {}: {e}", case.config, case.case))
}

#[test]
fn matches_diffusers_on_random_configs() {
    let dir = common::scratch("transformer-ltx");
    common::run_reference("transformer_ltx_reference.py", &[dir.to_str().expect("utf-8 temp dir")]);
    let manifest = std::fs::read_to_string(dir.join("cases.json")).expect("cases.json");
    let cases: Vec<Case> = serde_json::from_str(&manifest).expect("cases.json");
    assert!(cases.len() >= 9, "the reference wrote only {} cases", cases.len());

    let mut worst = 0.0f64;
    let mut loaded: Option<(usize, LtxVideoTransformer3DModel, HashMap<String, Tensor>)> = None;
    for case in &cases {
        if loaded.as_ref().map(|(i, _, _)| *i) != Some(case.config) {
            let folder = dir.join(format!("config{}", case.config));
            let model = LtxVideoTransformer3DModel::load(&folder, Device::Cpu, Kind::Float).unwrap();
            let tensors = common::read_tensors(&dir.join(format!("config{}.safetensors", case.config)));
            loaded = Some((case.config, model, tensors));
        }
        let (_, model, tensors) = loaded.as_ref().expect("loaded above");
        let ours = run_case(model, tensors, case);
        let theirs = &tensors[&format!("{}.output", case.case)];
        let what = format!("config{} {} fp32", case.config, case.case);
        common::assert_close(&what, &ours, theirs, TOLERANCE);
        worst = worst.max(common::relative_error(&ours, theirs));

        // Reduced precision: diffusers itself drifts from fp32; ours must not drift more.
        for (kind, suffix, slack) in [(Kind::BFloat16, "bf16", 1.5), (Kind::Half, "f16", 1.5)] {
            let Some(theirs_low) = tensors.get(&format!("{}.output_{suffix}", case.case)) else { continue };
            let folder = dir.join(format!("config{}", case.config));
            let low = LtxVideoTransformer3DModel::load(&folder, Device::Cpu, kind).unwrap();
            let ours_low = run_case(&low, tensors, case);
            assert_eq!(ours_low.kind(), kind);
            assert!(ours_low.isfinite().all().int64_value(&[]) == 1, "{suffix}: non-finite output");
            let ours_drift = common::relative_error(&ours_low, theirs);
            let their_drift = common::relative_error(theirs_low, theirs);
            let between = common::relative_error(&ours_low, theirs_low);
            println!(
                "config{} {} {suffix}: vs fp32 reference ours {ours_drift:.2e}, diffusers {their_drift:.2e}; \
                 ours vs diffusers {suffix} {between:.2e}",
                case.config, case.case
            );
            assert!(
                ours_drift <= slack * their_drift + 1e-3,
                "{suffix}: our drift from fp32 {ours_drift:.3e} exceeds {slack} x diffusers' {their_drift:.3e}"
            );
        }
    }
    println!("worst fp32 relative error: {worst:.2e} over {} cases (tolerance {TOLERANCE:.0e})", cases.len());
    let _ = std::fs::remove_dir_all(&dir);
}

fn tiny_config() -> LtxVideoTransformer3DModelConfig {
    LtxVideoTransformer3DModelConfig {
        class_name: Some(CLASS_NAME.into()),
        in_channels: 4,
        out_channels: Some(4),
        num_attention_heads: 2,
        attention_head_dim: 6,
        cross_attention_dim: 12,
        num_layers: 2,
        caption_channels: 5,
        ..Default::default()
    }
}

fn write_config(dir: &Path, config: &LtxVideoTransformer3DModelConfig) {
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(config).unwrap()).unwrap();
}

/// The tensors of a freshly built model, by name.
fn fresh_weights(config: &LtxVideoTransformer3DModelConfig) -> Vec<(String, Tensor)> {
    let vs = VarStore::new(Device::Cpu);
    let _model = LtxVideoTransformer3DModel::new(&vs.root(), config.clone()).unwrap();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

#[test]
fn parameter_names_are_the_diffusers_keys() {
    let names: Vec<String> = fresh_weights(&tiny_config()).into_iter().map(|(n, _)| n).collect();
    for key in [
        "proj_in.weight",
        "proj_in.bias",
        "scale_shift_table",
        "time_embed.emb.timestep_embedder.linear_1.weight",
        "time_embed.emb.timestep_embedder.linear_2.bias",
        "time_embed.linear.weight",
        "caption_projection.linear_1.weight",
        "caption_projection.linear_2.bias",
        "transformer_blocks.0.attn1.to_q.weight",
        "transformer_blocks.0.attn1.norm_q.weight",
        "transformer_blocks.0.attn1.norm_k.weight",
        "transformer_blocks.1.attn2.to_k.bias",
        "transformer_blocks.1.attn2.to_out.0.weight",
        "transformer_blocks.0.ff.net.0.proj.weight",
        "transformer_blocks.0.ff.net.2.bias",
        "transformer_blocks.1.scale_shift_table",
        "proj_out.weight",
        "proj_out.bias",
    ] {
        assert!(names.iter().any(|n| n == key), "no parameter {key}");
    }
    // 2 blocks x (2 attentions x 10 + ff 4 + table 1) + 15 outside.
    assert_eq!(names.len(), 2 * 25 + 15, "{names:?}");
}

#[test]
fn a_folder_of_another_architecture_is_refused_by_name() {
    let dir = common::scratch("transformer-ltx-vae");
    std::fs::write(
        dir.join("config.json"),
        r#"{"_class_name": "AutoencoderKLLTXVideo", "_diffusers_version": "0.42.1", "in_channels": 3,
            "latent_channels": 128, "block_out_channels": [128, 256, 512, 512]}"#,
    )
    .unwrap();
    let err = LtxVideoTransformer3DModel::load(&dir, Device::Cpu, Kind::Float).unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ModelError::InvalidConfig(_)), "{err:?}");
    assert!(msg.contains("AutoencoderKLLTXVideo") && msg.contains(CLASS_NAME), "{msg}");

    // A config diffusers cannot build either.
    let mut config = tiny_config();
    config.qk_norm = "rms_norm".into();
    write_config(&dir, &config);
    let msg = LtxVideoTransformer3DModel::load(&dir, Device::Cpu, Kind::Float).unwrap_err().to_string();
    assert!(msg.contains("qk_norm") && msg.contains("rms_norm_across_heads"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_and_misshaped_keys_are_named() {
    let dir = common::scratch("transformer-ltx-keys");
    let config = tiny_config();
    write_config(&dir, &config);
    let mut weights = fresh_weights(&config);
    weights.retain(|(n, _)| n != "transformer_blocks.1.attn1.norm_k.weight");
    for (name, t) in weights.iter_mut() {
        if name == "proj_out.weight" {
            *t = Tensor::zeros([5, 12], (Kind::Float, Device::Cpu));
        }
    }
    weights
        .push(("transformer_blocks.2.attn1.to_q.weight".into(), Tensor::zeros([12, 12], (Kind::Float, Device::Cpu))));
    Tensor::write_safetensors(&weights, dir.join("diffusion_pytorch_model.safetensors")).unwrap();
    let err = LtxVideoTransformer3DModel::load(&dir, Device::Cpu, Kind::Float).unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ModelError::CheckpointMismatch { .. }), "{err:?}");
    assert!(msg.contains("missing keys: transformer_blocks.1.attn1.norm_k.weight"), "{msg}");
    assert!(msg.contains("unexpected keys: transformer_blocks.2.attn1.to_q.weight"), "{msg}");
    assert!(msg.contains("proj_out.weight expected [4, 12] found [5, 12]"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_are_errors() {
    let vs = VarStore::new(Device::Cpu);
    let model = LtxVideoTransformer3DModel::new(&vs.root(), tiny_config()).unwrap();
    let opts = (Kind::Float, Device::Cpu);
    let x = Tensor::randn([2, 12, 4], opts);
    let text = Tensor::randn([2, 3, 5], opts);
    let t = Tensor::ones([2], opts);
    let fwd = |x: &Tensor,
               text: &Tensor,
               t: &Tensor,
               mask: Option<&Tensor>,
               grid: (i64, i64, i64),
               coords: Option<&Tensor>| {
        tch::no_grad(|| model.forward(x, text, t, mask, grid.0, grid.1, grid.2, (1.0, 32.0, 32.0), coords))
    };
    let ok = fwd(&x, &text, &t, None, (3, 2, 2), None).unwrap();
    assert_eq!(ok.size(), [2, 12, 4]);
    let per_token = Tensor::ones([2, 12], opts);
    assert_eq!(fwd(&x, &text, &per_token, None, (1, 3, 4), None).unwrap().size(), [2, 12, 4]);
    let bad = |r: Result<Tensor, ModelError>, needle: &str| {
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains(needle), "{needle:?} not in {msg:?}");
    };
    bad(fwd(&x, &text, &t, None, (3, 2, 3), None), "latent grid");
    bad(fwd(&Tensor::randn([2, 12, 5], opts), &text, &t, None, (3, 2, 2), None), "hidden_states");
    bad(fwd(&x, &Tensor::randn([1, 3, 5], opts), &t, None, (3, 2, 2), None), "encoder_hidden_states");
    bad(fwd(&x, &text, &Tensor::ones([3], opts), None, (3, 2, 2), None), "timestep");
    bad(fwd(&x, &text, &t, Some(&Tensor::ones([2, 4], opts)), (3, 2, 2), None), "encoder_attention_mask");
    bad(fwd(&x, &text, &t, None, (3, 2, 2), Some(&Tensor::ones([2, 2, 12], opts))), "video_coords");
    bad(fwd(&x.view([24, 4]), &text, &t, None, (3, 2, 2), None), "3-d");
}

#[test]
fn gradients_flow_when_training() {
    let vs = VarStore::new(Device::Cpu);
    let model = LtxVideoTransformer3DModel::new(&vs.root(), tiny_config()).unwrap();
    let (x, text) = models::rng::seeded(0, || {
        tch::no_grad(|| {
            for (_, mut v) in vs.variables() {
                let _ = v.normal_(0.0, 0.2);
            }
        });
        (models::rng::randn(&[2, 12, 4]), models::rng::randn(&[2, 3, 5]))
    });
    let t = Tensor::from_slice(&[100.0f32, 900.0]);
    let mask = Tensor::from_slice(&[1.0f32, 1.0, 1.0, 1.0, 1.0, 0.0]).view([2, 3]);
    let out = model.forward(&x, &text, &t, Some(&mask), 3, 2, 2, (0.32, 32.0, 32.0), None).unwrap();
    out.pow_tensor_scalar(2.0).mean(Kind::Float).backward();
    for (name, v) in vs.variables() {
        let grad = v.grad();
        assert!(grad.defined(), "{name} got no gradient");
        assert!(grad.isfinite().all().int64_value(&[]) == 1, "{name}: non-finite gradient");
    }
    let g = vs.variables()["transformer_blocks.0.attn1.to_q.weight"].grad();
    assert!(g.abs().sum(Kind::Float).double_value(&[]) > 0.0, "attention got a zero gradient");
}
