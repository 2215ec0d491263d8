//! Training needs the backward pass to be right, which the forward parity tests do not show: the
//! gradients of the autoencoder's loss with our freshly initialised genvideo-mini VAE must equal
//! those diffusers computes with the same parameters on the same toyworld batch.

use std::path::Path;
use std::process::Command;

use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
use models::checkpoint::read_config;
use tch::{nn::VarStore, Device, Kind, Tensor};

#[test]
fn autoencoder_gradients_match_diffusers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned();
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run installers/setup", python.display());
    let config_path = root.join("embedded/genvideo-mini/vae/config.json");
    let config: AutoencoderKlLtxVideoConfig = read_config(config_path.parent().unwrap()).unwrap();
    let latent = config.latent_channels;
    let vs = VarStore::new(Device::Cpu);
    let vae = AutoencoderKlLtxVideo::new(&vs.root(), config).unwrap();
    tch::manual_seed(7);
    let params = train::init::initialise(&vs, &["latents_mean", "latents_std"]);
    let x = train::data::vae_batch(3, 0, 2, 256, 64, 9, Device::Cpu);

    let scratch = std::env::temp_dir().join(format!("vae-gradients-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let inputs = scratch.join("inputs.safetensors");
    let mut named: Vec<(String, Tensor)> =
        params.iter().map(|(n, p)| (format!("param.{n}"), p.detach().copy())).collect();
    named.push(("x".into(), x.copy()));
    Tensor::write_safetensors(&named, &inputs).unwrap();

    let (mean, _) = vae.encode_posterior(&x).unwrap();
    assert_eq!(mean.size()[1], latent);
    let diff = vae.decode_train(&mean, None).unwrap() - &x;
    let loss = diff.abs().mean(Kind::Float) + diff.square().mean(Kind::Float);
    loss.backward();

    let reference = scratch.join("reference.safetensors");
    let out = Command::new(&python)
        .arg(root.join("train/tests/reference/vae_gradients_reference.py"))
        .args([&inputs, &reference, &config_path])
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("cannot run the venv python");
    assert!(out.status.success(), "reference failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let theirs: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(&reference).unwrap().into_iter().collect();

    let loss_error = (loss.double_value(&[]) - theirs["loss"].double_value(&[0])).abs();
    let mut worst = (String::new(), 0f64);
    for (name, p) in &params {
        let g = theirs.get(&format!("grad.{name}")).unwrap_or_else(|| panic!("diffusers has no gradient for {name}"));
        let ours = p.grad();
        assert!(ours.defined(), "no gradient reached {name}");
        let scale = g.abs().max().double_value(&[]).max(1e-12);
        let rel = (&ours - g).abs().max().double_value(&[]) / scale;
        if rel > worst.1 {
            worst = (name.clone(), rel);
        }
    }
    println!("loss |diff| {loss_error:.2e}; worst gradient relative error {:.2e} ({})", worst.1, worst.0);
    std::fs::remove_dir_all(&scratch).ok();
    assert!(loss_error < 1e-5, "loss differs by {loss_error}");
    assert!(worst.1 < 1e-4, "gradient of {} differs by {:.2e} relative", worst.0, worst.1);
}
