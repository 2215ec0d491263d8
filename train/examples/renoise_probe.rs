//! At which noise level a model decides what it draws: held-out ground-truth clips are encoded,
//! noised to level `t` (flow matching's `(1 - t) x0 + t noise`) and denoised from there with
//! their training-style caption (the pipeline's whole-clip condition at strength `1 - t`, the way
//! diffusers' video-to-video starts part-way), then analysed like `genvideo-eval`'s generations.
//! t = 0 is the VAE round trip, t = 1 a generation from pure noise. Where an attribute's accuracy
//! falls from the round trip's to the generation's tells which part of the noise schedule the
//! transformer gets it wrong in: low levels are detail, high levels layout.
//! With a source model folder, the clips noised are that model's generations from the same
//! captions instead of the ground truth: whether one model's layout is a better start for the
//! other than its own (a cascade).
//! `cargo run --release -p train --example renoise_probe [model folder] [clips] [seed] [source model folder]`
use models::pipeline_ltx::{Condition, SeededNoise};
use toyworld::analyse::analyse;
use toyworld::{caption, CaptionStyle, Scene, Split};
use train::measure::{attributes_right, cpu_pipeline, pixels, render, working_request};
use train::stages::{FPS, FRAMES, SIZE};

const LEVELS: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

fn main() {
    train::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or("embedded/genvideo-mini".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(12);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let pipe = cpu_pipeline(&dir);
    let source_dir = args.next();
    let source = source_dir.as_deref().map(cpu_pipeline);
    // [level][background, colour, shape, motion]
    let mut hits = [[0usize; 4]; LEVELS.len()];
    for k in 0..n {
        let scene = Scene::sample(seed + k, Split::HeldOut, 0.0);
        let prompt = caption(&scene, CaptionStyle::Train, k);
        let gt = match &source {
            Some(p) => p.generate(&working_request(&prompt, Vec::new(), 20, 3.0), &mut SeededNoise::new(seed + k), &mut |_| true).unwrap(),
            None => render(&scene),
        };
        let frames = gt.permute([1, 0, 2, 3]).contiguous(); // [C, F, H, W], as conditions take them
        for (l, &t) in LEVELS.iter().enumerate() {
            let conditions = if t < 1.0 {
                vec![Condition { frames: frames.shallow_clone(), frame_index: 0, strength: 1.0 - t }]
            } else {
                Vec::new()
            };
            let req = working_request(&prompt, conditions, 20, 3.0);
            let video = pipe.generate(&req, &mut SeededNoise::new(seed + k), &mut |_| true).unwrap();
            let a = analyse(&pixels(&video), SIZE, SIZE, FRAMES, FPS);
            for (h, r) in hits[l].iter_mut().zip(attributes_right(&scene, &a)) {
                *h += r as usize;
            }
        }
        eprint!("\r{}/{n}", k + 1);
    }
    eprintln!();
    let start = source_dir.map_or("ground truth".to_string(), |s| format!("{s}'s generations"));
    println!("{dir}: {n} held-out clips (seed {seed}) from {start}, % right after denoising from noise level t");
    println!("{:>5} {:>9} {:>7} {:>7} {:>7}", "t", "backgr.", "colour", "shape", "motion");
    for (l, t) in LEVELS.iter().enumerate() {
        let p = hits[l].map(|h| 100.0 * h as f64 / n as f64);
        println!("{t:>5.1} {:>9.1} {:>7.1} {:>7.1} {:>7.1}", p[0], p[1], p[2], p[3]);
    }
}
