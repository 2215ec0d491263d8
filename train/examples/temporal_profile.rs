//! How much a model's frames change from one to the next against the footage's own change: the
//! mean frame-to-frame change at each step position modulo the VAE's temporal ratio (a peak at 0
//! would be a seam at every latent frame), for ground truth, its VAE round trip and text-to-video
//! generations of the same held-out captions, and the round trip's PSNR. Flicker the decoder adds
//! is what an extension's first new frame steps by.
//! `cargo run --release -p train --example temporal_profile [model folder] [clips]`; `PER_CLIP=1`
//! also prints each clip's object travel.
use models::pipeline_ltx::SeededNoise;
use tch::Tensor;
use toyworld::analyse::analyse;
use toyworld::{caption, CaptionStyle, Scene, Split};
use train::measure::{cpu_pipeline, pixels, psnr, render, round_trip, steps_change, working_request};
use train::stages::{FPS, FRAMES, SIZE};

/// How far the object gets from its first sighting to its last, and the length of the path it
/// takes there, in pixels, from the evaluation's own tracker. A smoother clip gets as far by a
/// shorter path (less jitter).
fn travel(video: &Tensor) -> (f64, f64) {
    let seen: Vec<(f64, f64)> =
        analyse(&pixels(video), SIZE, SIZE, FRAMES, FPS).track.into_iter().flatten().map(|(x, y, _)| (x, y)).collect();
    let step = |a: &(f64, f64), b: &(f64, f64)| (b.0 - a.0).hypot(b.1 - a.1);
    let path = seen.windows(2).map(|w| step(&w[0], &w[1])).sum();
    (seen.first().zip(seen.last()).map_or(0.0, |(a, b)| step(a, b)), path)
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("embedded/genvideo-mini".into());
    let n: u64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(6);
    let pipe = cpu_pipeline(&dir);
    let r = pipe.temporal_ratio() as usize;
    let mut sums = vec![vec![0.0; r]; 3];
    let mut counts = vec![0usize; r];
    let mut mean_psnr = 0.0;
    let mut tracks = [(0.0, 0.0); 3];
    for k in 0..n {
        let scene = Scene::sample(500 + k, Split::HeldOut, 0.0);
        let gt = render(&scene);
        let rec = round_trip(&pipe, &gt).unwrap();
        let req = working_request(&caption(&scene, CaptionStyle::Train, k), Vec::new(), 20, 3.0);
        mean_psnr += psnr(&rec, &gt) / n as f64;
        let gen = pipe.generate(&req, &mut SeededNoise::new(k), &mut |_| true).unwrap();
        for (i, v) in [&gt, &rec, &gen].into_iter().enumerate() {
            let (net, path) = travel(v);
            if std::env::var_os("PER_CLIP").is_some() {
                eprintln!("clip {k} {:?} #{i}: moves {net:.1} px by a {path:.1} px path", scene.subject().motion);
            }
            tracks[i].0 += net / n as f64;
            tracks[i].1 += path / n as f64;
            for (t, s) in steps_change(v).into_iter().enumerate() {
                sums[i][t % r] += s;
                if i == 0 {
                    counts[t % r] += 1;
                }
            }
        }
    }
    println!("mean change of step t -> t+1 by t mod {r} (t mod {r} = 0: across a latent frame boundary)");
    for ((name, s), (net, path)) in ["ground truth", "through the VAE", "generated"].iter().zip(&sums).zip(tracks) {
        let row: Vec<String> = s.iter().zip(&counts).map(|(s, c)| format!("{:.4}", s / *c as f64)).collect();
        println!("{name:<16} {}   object moves {net:.1} px by a {path:.1} px path", row.join(" "));
    }
    println!("round trip PSNR {mean_psnr:.2} dB over {n} clips");
}
