//! Whether a model reads the direction word or the object's place: training-split left/right
//! scenes and their reversals (`Scene::reversed`) are generated from captions that differ only in
//! that word, under the same noise, and each generation's track is analysed. In toyworld a left-mover starts
//! right of centre and a right-mover left of it, so "moves away from the side it starts on"
//! explains every training clip as well as the word does; a model that learnt that instead of the
//! word moves the object whichever way the place its noise put it in says.
//! With `held-out` last, the scenes come from held-out combinations (their reversals from training).
//! `cargo run --release -p train --example direction_probe [model folder] [pairs] [seed] [horizontal|vertical] [held-out]`
use models::pipeline_ltx::SeededNoise;
use toyworld::analyse::analyse;
use toyworld::{caption, CaptionStyle, Motion, Scene, Split};
use train::measure::{cpu_pipeline, pixels, working_request};
use train::stages::{FPS, FRAMES, SIZE};

fn main() {
    train::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or("embedded/genvideo-mini".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(12);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let horizontal = args.next().as_deref() != Some("vertical");
    let split = if args.next().as_deref() == Some("held-out") { Split::HeldOut } else { Split::Train };
    let axis = if horizontal { [Motion::Left, Motion::Right] } else { [Motion::Up, Motion::Down] };
    let pipe = cpu_pipeline(&dir);
    let (mut word, mut place, mut moved, mut same) = (0, 0, 0, 0);
    let mut pairs = 0;
    let mut s = seed;
    println!("{:<60} {:>8} {:>8} {:>7}", "prompt", "start", "travel", "seen");
    while pairs < n {
        s += 1;
        let scene = Scene::sample(s, split, 0.0);
        if !axis.contains(&scene.subject().motion) {
            continue;
        }
        let Some(twin) = scene.reversed() else { continue };
        pairs += 1;
        let mut seen_pair = Vec::new();
        for sc in [&scene, &twin] {
            let prompt = caption(sc, CaptionStyle::Train, s);
            let video = pipe.generate(&working_request(&prompt, Vec::new(), 20, 3.0), &mut SeededNoise::new(s), &mut |_| true).unwrap();
            let a = analyse(&pixels(&video), SIZE, SIZE, FRAMES, FPS);
            let found: Vec<(f64, f64)> = a.track.iter().flatten().map(|&(x, y, _)| (x, y)).collect();
            // Signed along the axis: + is right (down), measured from the frame's centre.
            let along = |p: &(f64, f64)| if horizontal { p.0 } else { p.1 } - SIZE as f64 / 2.0;
            let (start, travel) = match (found.first(), found.last()) {
                (Some(a), Some(b)) => (along(a), along(b) - along(a)),
                _ => (f64::NAN, f64::NAN),
            };
            let seen = a.motion.filter(|m| axis.contains(m));
            println!("{prompt:<60} {start:>8.1} {travel:>8.1} {:>7}", a.motion.map_or("none", |m| m.name()));
            if let Some(m) = seen {
                moved += 1;
                word += (m == sc.subject().motion) as usize;
                // The place rule: away from the side of the centre it starts on.
                let away = if start > 0.0 { axis[0] } else { axis[1] };
                place += (m == away) as usize;
            }
            seen_pair.push(seen);
        }
        same += (seen_pair[0].is_some() && seen_pair[0] == seen_pair[1]) as usize;
    }
    let pc = |k: usize, of: usize| 100.0 * k as f64 / of.max(1) as f64;
    println!("{} generations ({pairs} twin pairs) moved along the axis {moved} times", 2 * pairs);
    println!("  direction the word names: {word} of {moved} ({:.0} %)", pc(word, moved));
    println!("  away from the side it starts on: {place} of {moved} ({:.0} %)", pc(place, moved));
    println!("  twins (same noise, the other word) moved the same way: {same} of {pairs} ({:.0} %)", pc(same, pairs));
}
