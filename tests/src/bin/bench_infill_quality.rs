//! Infill quality on real footage, as a benchmark command (not a test):
//!   cargo run --release -p e2e-tests --bin bench_infill_quality
//! Drops frames from the sample clips, rebuilds them through host-sim and the built bundle, and
//! prints PSNR and SSIM against the dropped originals, next to linear blending of the same
//! neighbours at the same timesteps.
use std::path::PathBuf;

use e2e_tests::metrics::{psnr, ssim, Plane};
use host_sim::*;

fn plane(f: &Frame) -> Plane<'_> {
    Plane { data: &f.rgba, width: f.width, height: f.height, channels: 4 }
}

fn blend(a: &Frame, b: &Frame, t: f32) -> Frame {
    let rgba = a.rgba.iter().zip(&b.rgba).map(|(x, y)| x * (1.0 - t) + y * t).collect();
    Frame { width: a.width, height: a.height, rgba }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let bundle_path = std::env::var_os("GENVIDEO_BUNDLE").map(PathBuf::from).unwrap_or(root.join("build/GenVideo.ofx.bundle"));
    let bundle = Bundle::load(&bundle_path)?;
    // Gaps of 1, 2 and 3 frames, spread over the clip.
    let holes: Vec<Vec<i64>> = vec![vec![4], vec![9, 10], vec![15], vec![20, 21, 22], vec![27], vec![32, 33]];
    println!("{:<18} {:>5} {:>10} {:>10} {:>10} {:>10}", "clip", "gap", "RIFE dB", "blend dB", "RIFE SSIM", "blend SSIM");
    let mut all = (0.0, 0.0, 0.0, 0.0, 0usize);
    for (clip, start) in [("bikes.mp4", 30), ("bigbuckbunny.mp4", 20)] {
        let source = ClipSource::video(&root.join("media").join(clip), start, Some(40))?
            .with_format(Format { depth: BitDepth::Byte, ..Format::default() });
        let truth = source.frames.clone();
        let inst = bundle.instance("org.genvideo.Infill", Context::Filter)?;
        inst.connect("Source", source.with_missing(holes.iter().flatten().copied()))?;
        let out = inst.render_range((0, 39), &RenderOptions::default())?;
        if !out.failures().is_empty() {
            return Err(format!("{clip}: {:?}", out.failures()).into());
        }
        let mut sums = (0.0, 0.0, 0.0, 0.0, 0usize);
        for gap in &holes {
            let (a, b) = (gap[0] - 1, gap[gap.len() - 1] + 1);
            let mut g = (0.0, 0.0, 0.0, 0.0);
            for &t in gap {
                let want = &truth[t as usize];
                let ours = out.frame(t).ok_or("missing output")?;
                let lin = blend(&truth[a as usize], &truth[b as usize], (t - a) as f32 / (b - a) as f32);
                g.0 += psnr(&plane(ours), &plane(want));
                g.1 += psnr(&plane(&lin), &plane(want));
                g.2 += ssim(&plane(ours), &plane(want));
                g.3 += ssim(&plane(&lin), &plane(want));
            }
            let n = gap.len() as f64;
            println!("{:<18} {:>5} {:>10.2} {:>10.2} {:>10.4} {:>10.4}", clip, gap.len(), g.0 / n, g.1 / n, g.2 / n, g.3 / n);
            sums = (sums.0 + g.0, sums.1 + g.1, sums.2 + g.2, sums.3 + g.3, sums.4 + gap.len());
        }
        let n = sums.4 as f64;
        println!("{:<18} {:>5} {:>10.2} {:>10.2} {:>10.4} {:>10.4}", format!("{clip} mean"), "", sums.0 / n, sums.1 / n, sums.2 / n, sums.3 / n);
        all = (all.0 + sums.0, all.1 + sums.1, all.2 + sums.2, all.3 + sums.3, all.4 + sums.4);
    }
    let n = all.4 as f64;
    println!(
        "\noverall: RIFE {:.2} dB / SSIM {:.4}; linear blend {:.2} dB / SSIM {:.4}; gain {:+.2} dB (goal >= +3 dB)",
        all.0 / n,
        all.2 / n,
        all.1 / n,
        all.3 / n,
        (all.0 - all.1) / n
    );
    Ok(())
}
