//! The loss curve as a PNG: one panel per stage, log-scaled loss (grid lines at each power of
//! ten), raw values in grey and a moving average in colour. No text: the record file and the CSV
//! next to it carry the numbers.

use std::path::Path;

use image::{Rgb, RgbImage};

const PANEL_W: u32 = 480;
const H: u32 = 320;
const MARGIN: u32 = 16;

pub fn plot(stages: &[(&str, &[(i64, f64)])], path: &Path) -> Result<(), String> {
    let mut img = RgbImage::from_pixel(PANEL_W * stages.len().max(1) as u32, H, Rgb([255, 255, 255]));
    let colours = [Rgb([200, 60, 30]), Rgb([30, 90, 200])];
    for (i, (_, losses)) in stages.iter().enumerate() {
        let x0 = i as u32 * PANEL_W;
        panel(&mut img, x0, losses, colours[i % colours.len()]);
    }
    img.save(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn panel(img: &mut RgbImage, x0: u32, losses: &[(i64, f64)], colour: Rgb<u8>) {
    let (left, right, top, bottom) = (x0 + MARGIN, x0 + PANEL_W - MARGIN, MARGIN, H - MARGIN);
    let points: Vec<(i64, f64)> = losses.iter().copied().filter(|(_, l)| l.is_finite() && *l > 0.0).collect();
    if points.is_empty() {
        return;
    }
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, l)| (lo.min(l), hi.max(l)));
    let (ylo, yhi) = (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0));
    let last = points.last().map_or(1, |p| p.0).max(1) as f64;
    let px = |step: i64| left as f64 + (right - left) as f64 * step as f64 / last;
    let py = |loss: f64| bottom as f64 - (bottom - top) as f64 * (loss.log10() - ylo) / (yhi - ylo);
    for decade in ylo as i32..=yhi as i32 {
        let y = py(10f64.powi(decade)).round() as u32;
        for x in left..right {
            img.put_pixel(x, y.min(H - 1), Rgb([220, 220, 220]));
        }
    }
    for y in top..=bottom {
        img.put_pixel(left, y, Rgb([0, 0, 0]));
    }
    for x in left..=right {
        img.put_pixel(x, bottom, Rgb([0, 0, 0]));
    }
    let grey = Rgb([170, 170, 170]);
    let mut ema = points[0].1;
    let mut prev: Option<((f64, f64), (f64, f64))> = None;
    for &(step, loss) in &points {
        ema = 0.95 * ema + 0.05 * loss;
        let raw = (px(step), py(loss));
        let avg = (px(step), py(ema));
        if let Some((pr, pa)) = prev {
            line(img, pr, raw, grey);
            line(img, pa, avg, colour);
        }
        prev = Some((raw, avg));
    }
}

fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), c: Rgb<u8>) {
    let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, c);
        }
    }
}
