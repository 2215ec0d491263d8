//! Whether a model draws objects entering and leaving the frame when asked ("a red ball enters
//! from the left", "exits through the top"): scenes that enter or leave (`Scene::sample_with_edges`),
//! half each, are generated from their training-style captions, and each generation's track says
//! whether the object was in view at the start and at the end, and which way it moved. The
//! ground-truth renders go through the same analysis first, as a check on the measure.
//! With `held-out` last, the combinations are ones training never saw.
//! `cargo run --release -p train --example edge_probe [model folder] [scenes] [seed] [held-out]`
use models::pipeline_ltx::SeededNoise;
use toyworld::analyse::{analyse, Analysis};
use toyworld::world::Kind;
use toyworld::{caption, CaptionStyle, Scene, Split};
use train::measure::{cpu_pipeline, pixels, render, working_request};
use train::stages::{FPS, FRAMES, SIZE};

/// Frames at each end that decide whether the object is in view there: a quarter second.
const END: usize = 6;

/// Whether the object is in view over most of the first and of the last `END` frames.
fn in_view(a: &Analysis) -> (bool, bool) {
    let shown = |frames: &[Option<(f64, f64, f64)>]| frames.iter().filter(|t| t.is_some()).count() * 2 > frames.len();
    (shown(&a.track[..END]), shown(&a.track[a.track.len() - END..]))
}

#[derive(Default)]
struct Tally {
    n: usize,
    edge: usize,
    direction: usize,
    both: usize,
}

impl Tally {
    fn add(&mut self, scene: &Scene, a: &Analysis) {
        let (start, end) = in_view(a);
        let edge = match scene.kind {
            Kind::Enters => !start && end,
            _ => start && !end,
        };
        let direction = a.motion == Some(scene.subject().motion);
        self.n += 1;
        self.edge += edge as usize;
        self.direction += direction as usize;
        self.both += (edge && direction) as usize;
    }

    fn print(&self, what: &str) {
        let pc = |k: usize| 100.0 * k as f64 / self.n.max(1) as f64;
        println!(
            "{what:<28} in and out of view as asked {:>3} of {} ({:>3.0} %), direction {:>3} ({:>3.0} %), both {:>3} ({:>3.0} %)",
            self.edge,
            self.n,
            pc(self.edge),
            self.direction,
            pc(self.direction),
            self.both,
            pc(self.both)
        );
    }
}

fn main() {
    train::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or("embedded/genvideo-mini".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let split = if args.next().as_deref() == Some("held-out") { Split::HeldOut } else { Split::Train };
    let pipe = cpu_pipeline(&dir);
    let (mut truth, mut enters, mut leaves) = (Tally::default(), Tally::default(), Tally::default());
    let mut s = seed;
    let mut count = 0;
    println!("{:<66} {:>5} {:>5} {:>7}", "prompt", "start", "end", "seen");
    while count < n {
        s += 1;
        let scene = Scene::sample_with_edges(s, split, 0.0, 1.0);
        // Alternate, so the two kinds are as many.
        let want = if count % 2 == 0 { Kind::Enters } else { Kind::Leaves };
        if scene.kind != want {
            continue;
        }
        count += 1;
        truth.add(&scene, &analyse(&pixels(&render(&scene)), SIZE, SIZE, FRAMES, FPS));
        let prompt = caption(&scene, CaptionStyle::Train, s);
        let request = working_request(&prompt, Vec::new(), 20, 3.0);
        let video = pipe.generate(&request, &mut SeededNoise::new(s), &mut |_| true).unwrap();
        let a = analyse(&pixels(&video), SIZE, SIZE, FRAMES, FPS);
        let (start, end) = in_view(&a);
        let yes_no = |b: bool| if b { "in" } else { "out" };
        println!("{prompt:<66} {:>5} {:>5} {:>7}", yes_no(start), yes_no(end), a.motion.map_or("none", |m| m.name()));
        if want == Kind::Enters { &mut enters } else { &mut leaves }.add(&scene, &a);
    }
    truth.print("ground truth");
    enters.print("generated, entering");
    leaves.print("generated, leaving");
}
