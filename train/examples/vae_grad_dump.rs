//! Writes initial VAE parameters, one batch and the gradients of one L1 loss to /tmp/vae_grad_rust.safetensors.
use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
use models::checkpoint::read_config;
use tch::{nn::VarStore, Device, Kind, Tensor};

fn main() {
    tch::set_num_threads(1);
    let config: AutoencoderKlLtxVideoConfig = read_config("embedded/genvideo-mini/vae".as_ref()).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let vae = AutoencoderKlLtxVideo::new(&vs.root(), config).unwrap();
    tch::manual_seed(1);
    let params = train::init::initialise(&vs, &["latents_mean", "latents_std"]);
    let x = train::data::vae_batch(1, 0, 2, 256, 64, 9, Device::Cpu);
    let mut out: Vec<(String, Tensor)> = params.iter().map(|(n, p)| (format!("param.{n}"), p.detach().copy())).collect();
    let (mean, _) = vae.encode_posterior(&x).unwrap();
    let y = vae.decode_train(&mean, None).unwrap();
    let loss = (&y - &x).abs().mean(Kind::Float);
    loss.backward();
    for (n, p) in &params {
        out.push((format!("grad.{n}"), p.grad().copy()));
    }
    out.push(("x".into(), x));
    out.push(("loss".into(), loss.detach()));
    Tensor::write_safetensors(&out, "/tmp/vae_grad_rust.safetensors").unwrap();
}
