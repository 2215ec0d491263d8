//! toyworld clips as tensors.

use models::autoencoder_kl_ltx::AutoencoderKlLtxVideo;
use models::ModelError;
use tch::{Device, Kind, Tensor};
use toyworld::rng::Rng;
use toyworld::{render, Scene, Split};

use crate::stages::{FPS, FRAMES, SIZE};

/// Frames of `scene` as `[3, F, H, W]` in [0, 1] on the CPU.
pub fn clip(scene: &Scene, width: usize, height: usize, frames: usize, fps: f64, start: f64) -> Tensor {
    let pixels = render(scene, width, height, frames, fps, start);
    Tensor::from_slice(&pixels).view([frames as i64, height as i64, width as i64, 3]).permute([3, 0, 1, 2]).contiguous()
}

/// The transformer stage's clips: `n` training-split scenes drawn from `seed`.
pub fn training_scenes(seed: u64, n: usize) -> Vec<Scene> {
    (0..n as u64).map(|i| Scene::sample(seed.wrapping_mul(1_000_003).wrapping_add(i), Split::Train, 0.12)).collect()
}

/// `scenes` rendered at the working size and encoded by `vae` four at a time; `each` gets every
/// batch's posterior means (`[B, C, F', H', W']`, on the VAE's device) and how many clips it holds.
pub fn encode_scenes(
    vae: &AutoencoderKlLtxVideo,
    scenes: &[Scene],
    mut each: impl FnMut(Tensor, usize) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    for chunk in scenes.chunks(4) {
        let x = Tensor::stack(&chunk.iter().map(|s| clip(s, SIZE, SIZE, FRAMES, FPS, 0.0)).collect::<Vec<_>>(), 0) * 2.0 - 1.0;
        each(vae.encode(&x)?, chunk.len())?;
    }
    Ok(())
}

/// A seed for sample `i` of step `step`, so a resumed run sees the same data.
pub fn sample_seed(base: u64, step: i64, i: usize) -> u64 {
    let mut rng = Rng::new(base ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64) << 48);
    rng.next_u64()
}

/// Autoencoder batch: `[B, 3, frames, crop, crop]` in [-1, 1], random windows in time and space
/// of full-size renders (edges and objects entering or leaving included).
pub fn vae_batch(base: u64, step: i64, batch: usize, size: usize, crop: usize, frames: usize, device: Device) -> Tensor {
    let clips: Vec<Tensor> = (0..batch)
        .map(|i| {
            let seed = sample_seed(base, step, i);
            let mut rng = Rng::new(seed);
            let scene = Scene::sample(seed, toyworld::Split::Train, 0.15);
            let start = rng.range(0.0, 2.5);
            let full = clip(&scene, size, size, frames, 24.0, start);
            let (y, x) = (rng.below(size - crop + 1) as i64, rng.below(size - crop + 1) as i64);
            full.narrow(2, y, crop as i64).narrow(3, x, crop as i64)
        })
        .collect();
    (Tensor::stack(&clips, 0) * 2.0 - 1.0).to_device(device).to_kind(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_depend_only_on_seed_and_step() {
        let a = vae_batch(5, 7, 2, 64, 32, 9, Device::Cpu);
        let b = vae_batch(5, 7, 2, 64, 32, 9, Device::Cpu);
        assert_eq!(a.size(), [2, 3, 9, 32, 32]);
        assert!(a.equal(&b));
        assert!(!a.equal(&vae_batch(5, 8, 2, 64, 32, 9, Device::Cpu)));
        assert!(a.min().double_value(&[]) >= -1.0 && a.max().double_value(&[]) <= 1.0);
    }
}
