use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
use models::checkpoint::read_config;
use tch::{nn::VarStore, Device, Kind, Tensor};

fn main() {
    tch::set_num_threads(1);
    let a: Vec<String> = std::env::args().collect();
    let crop: usize = a[1].parse().unwrap();
    let frames: usize = a[2].parse().unwrap();
    let extras = a[3] == "1";
    let torch_adam = a[4] == "1";
    let config: AutoencoderKlLtxVideoConfig = read_config("embedded/genvideo-mini/vae".as_ref()).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let vae = AutoencoderKlLtxVideo::new(&vs.root(), config).unwrap();
    tch::manual_seed(1);
    let params = train::init::initialise(&vs, &["latents_mean", "latents_std"], train::init::Weights::Torch);
    if let Ok(gain) = std::env::var("GAIN") {
        let g: f64 = gain.parse().unwrap();
        tch::no_grad(|| {
            for (n, p) in &params {
                if n.starts_with("encoder.conv_out") {
                    let mut p = p.shallow_clone();
                    let _ = p.g_mul_scalar_(g);
                }
            }
        });
    }
    let mut opt = train::adam::AdamW::new(params.iter().map(|(n, p)| (n.clone(), p.shallow_clone())).collect(), 0.0);
    let mut copt = tch::COptimizer::adam(1e-4, 0.9, 0.99, 0.0, 1e-8, false).unwrap();
    for (_, p) in &params {
        copt.add_parameters(p, 0).unwrap();
    }
    for step in 0..150i64 {
        let x = train::data::vae_batch(1, step, 4, 256, crop, frames, Device::Cpu);
        let (mean, _) = vae.encode_posterior(&x).unwrap();
        let z = if extras { &mean + mean.randn_like() * (mean.square().mean(Kind::Float).sqrt().detach() * 0.05) } else { mean.shallow_clone() };
        let y = vae.decode_train(&z, None).unwrap();
        let d = &y - &x;
        let mut loss = d.abs().mean(Kind::Float) + d.square().mean(Kind::Float);
        if extras {
            let g = |t: &Tensor, dim: i64| { let n = t.size()[dim as usize]; t.narrow(dim, 1, n - 1) - t.narrow(dim, 0, n - 1) };
            loss = loss + ((g(&y, 3) - g(&x, 3)).abs().mean(Kind::Float) + (g(&y, 4) - g(&x, 4)).abs().mean(Kind::Float)) * 0.5;
        }
        let lr = 1e-4 * ((step + 1) as f64 / 100.0).min(1.0);
        if torch_adam {
            copt.zero_grad().unwrap();
            loss.backward();
            copt.set_learning_rate(lr).unwrap();
            copt.step().unwrap();
        } else {
            opt.zero_grad();
            loss.backward();
            opt.step(lr, 1e9);
        }
        if step % 25 == 24 {
            let g = params.iter().find(|(n, _)| n == "decoder.conv_in.conv.weight").unwrap().1.grad();
            println!("{} {:.3} {:.2e}", step + 1, loss.double_value(&[]), g.abs().mean(Kind::Float).double_value(&[]));
        }
    }
}
