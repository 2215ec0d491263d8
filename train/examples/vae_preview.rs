//! Watching the autoencoder learn: reconstructs four held-out rendered clips (17 frames, 128x128,
//! or a CROP-pixel square around the object) with a VAE training checkpoint
//! (`out/train/vae/state.safetensors` or the path given; its `vae/config.json` from the model folder
//! given second, embedded/genvideo-mini by default) or a model folder's committed VAE, prints PSNR
//! and writes frames 0, 8, 16 of each clip over their reconstruction to out/train/vae_preview.png.
use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
use models::checkpoint::read_config;
use tch::{nn::VarStore, Device, Kind, Tensor};
use toyworld::{Scene, Split};

fn main() {
    let state = std::env::args().nth(1).unwrap_or("out/train/vae/state.safetensors".into());
    let vae = if std::path::Path::new(&state).is_dir() {
        // A model folder: its committed VAE.
        AutoencoderKlLtxVideo::load(&std::path::Path::new(&state).join("vae"), Device::Cpu, Kind::Float).unwrap()
    } else {
        let model = std::env::args().nth(2).unwrap_or("embedded/genvideo-mini".into());
        let config: AutoencoderKlLtxVideoConfig = read_config(&std::path::Path::new(&model).join("vae")).unwrap();
        let mut vs = VarStore::new(Device::Cpu);
        let vae = AutoencoderKlLtxVideo::new(&vs.root(), config).unwrap();
        let saved = Tensor::read_safetensors(&state).unwrap();
        tch::no_grad(|| {
            for (name, t) in saved {
                if let Some(key) = name.strip_prefix("param.") {
                    vs.variables_.lock().unwrap().named_variables.get_mut(key).unwrap().copy_(&t);
                }
            }
        });
        let _ = &mut vs;
        vae
    };
    let _g = tch::no_grad_guard();
    let mut rows = Vec::new();
    for i in 0..4u64 {
        let scene = Scene::sample(900 + i, Split::HeldOut, 0.0);
        let crop: i64 = std::env::var("CROP").ok().and_then(|c| c.parse().ok()).unwrap_or(128);
        let x = train::data::clip(&scene, 128, 128, 17, 24.0, 0.0).unsqueeze(0) * 2.0 - 1.0;
        let o = scene.subject().pose(0.0);
        let cy = ((64.0 + o.y * 128.0) as i64 - crop / 2).clamp(0, 128 - crop);
        let cx = ((64.0 + o.x * 128.0) as i64 - crop / 2).clamp(0, 128 - crop);
        let x = x.narrow(3, cy, crop).narrow(4, cx, crop);
        let z = vae.encode(&x).unwrap();
        let y = vae.decode(&z, None).unwrap().clamp(-1.0, 1.0);
        let mse = (&y - &x).square().mean(Kind::Float).double_value(&[]) / 4.0;
        println!("clip {i}: PSNR {:.2} dB", 10.0 * (1.0 / mse).log10());
        let pick = |v: &Tensor| Tensor::cat(&[0i64, 8, 16].map(|f| v.get(0).select(1, f)), 2);
        rows.push(Tensor::cat(&[pick(&x), pick(&y)], 1));
    }
    let img = ((Tensor::cat(&rows, 1) + 1.0) * 127.5).clamp(0.0, 255.0).to_kind(Kind::Uint8);
    std::fs::create_dir_all("out/train").unwrap();
    tch::vision::image::save(&img, "out/train/vae_preview.png").unwrap();
}
