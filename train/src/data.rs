//! toyworld clips as tensors.

use models::autoencoder_kl_ltx::AutoencoderKlLtxVideo;
use models::ModelError;
use tch::{Device, Kind, Tensor};
use toyworld::rng::Rng;
use toyworld::{render, Scene, Split};

use crate::stages::{FPS, FRAMES, SIZE};

/// Frames of `scene` as `[3, F, H, W]` in [0, 1] on the CPU.
pub fn clip(scene: &Scene, width: usize, height: usize, frames: usize, fps: f64, start: f64) -> Tensor {
    frames_tensor(&render(scene, width, height, frames, fps, start), width, height, frames)
}

/// [`render`]'s interleaved RGB frames as `[3, F, H, W]`.
fn frames_tensor(pixels: &[f32], width: usize, height: usize, frames: usize) -> Tensor {
    Tensor::from_slice(pixels).view([frames as i64, height as i64, width as i64, 3]).permute([3, 0, 1, 2]).contiguous()
}

/// One training clip: a scene and the second of it the clip starts at.
pub struct TrainingClip {
    pub scene: Scene,
    pub start: f64,
    /// Seeds the clip's captions; a reversed twin shares its original's, so their captions differ
    /// only in the direction words.
    pub caption_seed: u64,
    /// The index of the clip's reversal ([`Scene::reversed`]), if it has one in the set.
    pub twin: Option<usize>,
}

/// How the transformer stage's clips are drawn beyond their seed; the default draws runs 1-8's.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClipMix {
    /// Half the clips start at 0, the other half at a time drawn uniformly from
    /// `[0, start_spread]` seconds, so the model also sees motions already under way, as an
    /// extension's source frames show them. The scenes do not depend on it.
    pub start_spread: f64,
    /// Every single translation whose reversal is a training combination also gets it after the
    /// drawn clips: the same object from the same start, moving the other way, so only the
    /// direction word tells the two apart.
    pub reversed_twins: bool,
    /// The share of single translations that enter or leave the frame
    /// ([`Scene::sample_with_edges`]).
    pub edge_rate: f64,
}

impl ClipMix {
    /// What tells this mix's cached latents apart from the default's (empty for it), so a
    /// cache is never read for clips drawn another way.
    pub fn cache_tag(&self) -> String {
        let mut tag = String::new();
        if self.start_spread > 0.0 {
            tag += &format!("_start{}", self.start_spread);
        }
        if self.reversed_twins {
            tag += "_reversed";
        }
        if self.edge_rate > 0.0 {
            tag += &format!("_edges{}", self.edge_rate);
        }
        tag
    }
}

/// The transformer stage's clips: `n` training-split scenes drawn from `seed` as `mix` says.
pub fn training_clips(seed: u64, n: usize, mix: &ClipMix) -> Vec<TrainingClip> {
    let mut clips: Vec<TrainingClip> = (0..n as u64)
        .map(|i| {
            let scene_seed = seed.wrapping_mul(1_000_003).wrapping_add(i);
            let mut rng = Rng::new(scene_seed ^ 0x5DEE_CE66_D1CE_5EED);
            let spread = mix.start_spread;
            let start = if spread > 0.0 && rng.chance(0.5) { rng.range(0.0, spread) } else { 0.0 };
            let scene = Scene::sample_with_edges(scene_seed, Split::Train, 0.12, mix.edge_rate);
            TrainingClip { scene, start, caption_seed: i, twin: None }
        })
        .collect();
    if mix.reversed_twins {
        for i in 0..n {
            if let Some(reversed) = clips[i].scene.reversed() {
                let twin = clips.len();
                clips[i].twin = Some(twin);
                clips.push(TrainingClip { scene: reversed, start: clips[i].start, caption_seed: i as u64, twin: Some(i) });
            }
        }
    }
    clips
}

/// `clips` rendered at the working size and encoded by `vae` four at a time; `each` gets every
/// batch's posterior means (`[B, C, F', H', W']`, on the VAE's device) and how many clips it holds.
/// The clips are rendered on every core, ahead of the encoder: on a GPU the encoder takes a few
/// milliseconds a batch, and rendering them one by one would take most of the time (2000 clips).
pub fn encode_clips(
    vae: &AutoencoderKlLtxVideo,
    clips: &[TrainingClip],
    mut each: impl FnMut(Tensor, usize) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    for rendered in clips.chunks(4 * workers) {
        let pixels = render_all(rendered, workers);
        for chunk in pixels.chunks(4) {
            let x = Tensor::stack(chunk, 0) * 2.0 - 1.0;
            each(vae.encode(&x)?, chunk.len())?;
        }
    }
    Ok(())
}

/// Each clip's frames ([`clip`]), rendered on `workers` threads, in order.
fn render_all(clips: &[TrainingClip], workers: usize) -> Vec<Tensor> {
    let per = clips.len().div_ceil(workers.max(1)).max(1);
    let parts: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = clips
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(|c| render(&c.scene, SIZE, SIZE, FRAMES, FPS, c.start)).collect()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("rendering a toyworld clip does not panic")).collect()
    });
    parts.into_iter().flatten().map(|p| frames_tensor(&p, SIZE, SIZE, FRAMES)).collect()
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
    fn clips_rendered_on_several_threads_are_the_clips_in_order() {
        let clips = training_clips(4, 7, &ClipMix::default());
        let alone: Vec<Tensor> = clips.iter().map(|c| clip(&c.scene, SIZE, SIZE, FRAMES, FPS, c.start)).collect();
        for workers in [1, 3, 16] {
            let together = render_all(&clips, workers);
            assert_eq!(together.len(), clips.len());
            assert!(alone.iter().zip(&together).all(|(a, b)| a.equal(b)), "{workers} workers");
        }
    }

    #[test]
    fn batches_depend_only_on_seed_and_step() {
        let a = vae_batch(5, 7, 2, 64, 32, 9, Device::Cpu);
        let b = vae_batch(5, 7, 2, 64, 32, 9, Device::Cpu);
        assert_eq!(a.size(), [2, 3, 9, 32, 32]);
        assert!(a.equal(&b));
        assert!(!a.equal(&vae_batch(5, 8, 2, 64, 32, 9, Device::Cpu)));
        assert!(a.min().double_value(&[]) >= -1.0 && a.max().double_value(&[]) <= 1.0);
    }

    #[test]
    fn reversed_twins_pair_up_after_the_unchanged_clips() {
        let plain = training_clips(9, 200, &ClipMix { start_spread: 1.5, ..Default::default() });
        let twinned = training_clips(9, 200, &ClipMix { start_spread: 1.5, reversed_twins: true, ..Default::default() });
        assert!(plain.iter().zip(&twinned).all(|(a, b)| a.scene == b.scene && a.start == b.start));
        assert!(plain.iter().enumerate().all(|(i, c)| c.twin.is_none() && c.caption_seed == i as u64));
        let twins = twinned.len() - plain.len();
        assert!((60..110).contains(&twins), "{twins} twins of 200");
        for (i, c) in twinned.iter().enumerate() {
            let Some(j) = c.twin else { continue };
            let t = &twinned[j];
            assert_eq!(t.twin, Some(i));
            assert_eq!((t.caption_seed, t.start), (c.caption_seed, c.start));
            assert_ne!(t.scene.subject().motion, c.scene.subject().motion);
        }
    }

    #[test]
    fn a_start_spread_moves_only_the_starts_of_the_same_scenes() {
        let still = training_clips(9, 200, &ClipMix::default());
        let spread = training_clips(9, 200, &ClipMix { start_spread: 1.5, ..Default::default() });
        assert!(still.iter().all(|c| c.start == 0.0));
        assert!(still.iter().zip(&spread).all(|(a, b)| a.scene == b.scene));
        let late = spread.iter().filter(|c| c.start > 0.0).count();
        assert!((70..130).contains(&late), "{late} of 200 start late");
        assert!(spread.iter().all(|c| (0.0..=1.5).contains(&c.start)));
    }

    #[test]
    fn cache_tags_keep_the_names_earlier_runs_cached_under() {
        assert_eq!(ClipMix::default().cache_tag(), "");
        assert_eq!(ClipMix { start_spread: 1.5, ..Default::default() }.cache_tag(), "_start1.5");
        assert_eq!(ClipMix { reversed_twins: true, ..Default::default() }.cache_tag(), "_reversed");
        assert_eq!(ClipMix { start_spread: 1.5, reversed_twins: true, edge_rate: 0.5 }.cache_tag(), "_start1.5_reversed_edges0.5");
    }

    #[test]
    fn an_edge_rate_moves_only_some_translations_to_the_edges() {
        let plain = training_clips(9, 300, &ClipMix::default());
        let edges = training_clips(9, 300, &ClipMix { edge_rate: 0.3, ..Default::default() });
        let mut moved = 0;
        for (a, b) in plain.iter().zip(&edges) {
            if a.scene != b.scene {
                moved += 1;
                assert!(matches!(b.scene.kind, toyworld::world::Kind::Enters | toyworld::world::Kind::Leaves));
                assert_eq!(a.scene.subject().motion, b.scene.subject().motion);
            }
        }
        // Half the single-object scenes translate; 30 % of those.
        assert!((25..70).contains(&moved), "{moved} of 300 moved to the edges");
    }
}
