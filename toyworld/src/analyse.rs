//! Pixel-only analysis of a clip: finds the background, segments and tracks the main object, and
//! names its colour, shape and motion, so the prompt adherence of generated videos can be measured
//! against the world's attributes.
//!
//! Method, frame by frame:
//! - background: per-channel median of the border pixels of all frames, nearest palette entry;
//! - a first mask (distance from the background colour above a noise-adapted threshold, largest
//!   8-connected component) gives the object's colour: the median of each frame's most saturated
//!   pixels, nearest palette entry;
//! - a second, sub-pixel mask: each pixel's coverage `alpha` (its projection onto the line from
//!   the background colour to the object colour); the largest component of `alpha > 0.5`, widened
//!   by two pixels of soft edge, gives the centroid, the soft area and the complex moments
//!   `C_k = sum alpha (z - c)^k`;
//! - shape: the scale- and rotation-invariant magnitudes `|C_k| / A^(1 + k/2)` for k = 3, 4, 5. A
//!   shape with k-fold symmetry has `C_j = 0` for every j that is not a multiple of k, so a
//!   triangle has only `C_3`, a square only `C_4`, a five-pointed star only `C_5`, a circle none;
//! - motion: from the track. A vertical rise *and* fall is a bounce; otherwise the largest of
//!   translation speed, log-area rate and rotation rate (the phase of `C_k` turns by k times the
//!   shape's angle), each relative to the world's own rate, wins if it is large enough.

use crate::world::{Background, Colour, Motion, Shape, SPEED};

/// What a clip shows, as far as its pixels tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub background: Option<Background>,
    pub colour: Option<Colour>,
    pub shape: Option<Shape>,
    pub motion: Option<Motion>,
    /// Per frame `(cx, cy, area)` of the main object in pixels, `None` where none was found.
    pub track: Vec<Option<(f64, f64, f64)>>,
}

/// A background's median border colour further than this from every palette background is `None`.
const BACKGROUND_TOLERANCE: f32 = 0.25;
/// An object colour further than this from every palette colour is `None` (the closest palette
/// pair, orange and yellow, is 0.36 apart).
const COLOUR_TOLERANCE: f32 = 0.35;
/// Invariants `|C_k| / A^(1+k/2)` of the exact shapes (triangle, square, star), measured on
/// large clean renders; a frame's invariants are divided by these.
const PROTOTYPE: [f64; 3] = [0.0676, 0.0167, 0.0398];
/// Below this relative invariant (for all k) a mask is a circle.
const CIRCLE_BELOW: f64 = 0.12;
/// World rates a motion is measured against: log-area per second of grow/shrink (0.6..1.5 over a
/// clip, 0.92 on average over 2 s) and radians per second of rotate (`Object::pose`).
const SCALE_RATE: f64 = 0.9;
const ROTATE_RATE: f64 = 1.6;
/// A turn counts only if steady: a straight line explains this share of the orientation's
/// variance (a phase that wanders because the shape is barely visible does not rotate).
const MIN_ROTATE_FIT: f64 = 0.8;
/// A motion is seen when its rate is at least this share of the world's rate.
const MIN_SCORE: f64 = 0.35;
/// Bounce: vertical rise and fall (shorter sides) both above this; the world's bounce is 0.22
/// high.
const BOUNCE_EXCURSION: f64 = 0.05;
/// Short clips that end before a bounce turns: an upward speed (shorter sides per second, over a
/// quarter second) above this is a bounce's launch (0.6 or more) rather than a translation (0.22).
const BOUNCE_LAUNCH_SPEED: f64 = 0.42;

#[derive(Debug, Clone, Copy)]
struct Observation {
    t: f64,
    cx: f64,
    cy: f64,
    area: f64,
    /// Whether the soft mask reaches the frame's edge (area and shape are then cut).
    border: bool,
    /// `C_3`, `C_4`, `C_5` as (re, im).
    moments: [(f64, f64); 3],
}

impl Observation {
    /// `|C_k| / A^(1+k/2)` relative to the prototype, for k = 3, 4, 5.
    fn invariants(&self) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (i, (re, im)) in self.moments.iter().enumerate() {
            let k = (i + 3) as f64;
            out[i] = (re * re + im * im).sqrt() / self.area.powf(1.0 + k / 2.0) / PROTOTYPE[i];
        }
        out
    }
}

/// Analyses `n_frames` frames (`[n_frames][height][width][3]`, values in [0, 1], as
/// [`crate::render`] produces) shown at `fps`.
pub fn analyse(frames: &[f32], width: usize, height: usize, n_frames: usize, fps: f64) -> Analysis {
    analyse_with_observations(frames, width, height, n_frames, fps).0
}

fn analyse_with_observations(
    frames: &[f32],
    width: usize,
    height: usize,
    n_frames: usize,
    fps: f64,
) -> (Analysis, Vec<Observation>) {
    let frame_len = width * height * 3;
    assert!(frames.len() >= n_frames * frame_len, "{} values for {n_frames} frames of {width}x{height}", frames.len());
    let mut analysis =
        Analysis { background: None, colour: None, shape: None, motion: None, track: vec![None; n_frames] };
    if n_frames == 0 || width < 3 || height < 3 {
        return (analysis, Vec::new());
    }
    let unit = width.min(height) as f64;
    let (bg, noise) = estimate_background(frames, width, height, n_frames);
    analysis.background =
        nearest(bg, &Background::ALL.map(|b| b.rgb()), BACKGROUND_TOLERANCE).map(|i| Background::ALL[i]);
    let threshold = (3.5 * noise).clamp(0.10, 0.25);
    let min_area = (0.0004 * unit * unit).max(4.0);

    // Pass 1: the object's colour from each frame's most saturated object pixels.
    let mut cc = Components::new(width * height);
    let mut value = vec![0f32; width * height];
    let mut samples: [Vec<f32>; 3] = Default::default();
    let mut top: Vec<(f32, u32)> = Vec::new();
    for f in 0..n_frames {
        let frame = &frames[f * frame_len..(f + 1) * frame_len];
        for (v, p) in value.iter_mut().zip(frame.chunks_exact(3)) {
            *v = dist(&[p[0], p[1], p[2]], &bg);
        }
        let comp = cc.largest(&value, threshold, width, height);
        if (comp.len() as f64) < min_area {
            continue;
        }
        top.clear();
        top.extend(comp.iter().map(|&i| (value[i as usize], i)));
        let keep = (top.len() * 3 / 10).max(1);
        top.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
        let step = (keep / 200).max(1);
        for &(_, i) in top[..keep].iter().step_by(step) {
            for c in 0..3 {
                samples[c].push(frame[i as usize * 3 + c]);
            }
        }
    }
    if samples[0].is_empty() {
        return (analysis, Vec::new());
    }
    let object = [median(&mut samples[0]), median(&mut samples[1]), median(&mut samples[2])];
    analysis.colour = nearest(object, &Colour::ALL.map(|c| c.rgb()), COLOUR_TOLERANCE).map(|i| Colour::ALL[i]);

    // Pass 2: coverage masks, soft areas, centroids and moments.
    let axis = [object[0] - bg[0], object[1] - bg[1], object[2] - bg[2]];
    let norm2 = axis.iter().map(|a| a * a).sum::<f32>().max(1e-6);
    let mut stamp = vec![u32::MAX; width * height];
    let mut soft: Vec<(u32, f32)> = Vec::new();
    let mut ring: Vec<u32> = Vec::new();
    let mut observations = Vec::new();
    for f in 0..n_frames {
        let frame = &frames[f * frame_len..(f + 1) * frame_len];
        for (v, p) in value.iter_mut().zip(frame.chunks_exact(3)) {
            *v = ((p[0] - bg[0]) * axis[0] + (p[1] - bg[1]) * axis[1] + (p[2] - bg[2]) * axis[2]) / norm2;
        }
        let comp = cc.largest(&value, 0.5, width, height);
        if (comp.len() as f64) < min_area {
            continue;
        }
        // The component plus two rings of soft edge.
        let tag = f as u32;
        soft.clear();
        for &i in comp {
            stamp[i as usize] = tag;
            soft.push((i, value[i as usize].clamp(0.0, 1.0)));
        }
        let mut border = false;
        let mut from = 0;
        for _ in 0..2 {
            let to = soft.len();
            ring.clear();
            for &(i, _) in &soft[from..to] {
                let (x, y) = (i as usize % width, i as usize / width);
                if x == 0 || y == 0 || x + 1 == width || y + 1 == height {
                    border = true;
                }
                for ny in y.saturating_sub(1)..(y + 2).min(height) {
                    for nx in x.saturating_sub(1)..(x + 2).min(width) {
                        let j = ny * width + nx;
                        if stamp[j] != tag {
                            stamp[j] = tag;
                            ring.push(j as u32);
                        }
                    }
                }
            }
            for &j in &ring {
                let a = value[j as usize].clamp(0.0, 1.0);
                if a > 0.0 {
                    soft.push((j, a));
                }
            }
            from = to;
        }
        let (mut a, mut sx, mut sy) = (0f64, 0f64, 0f64);
        for &(i, w) in &soft {
            let w = w as f64;
            a += w;
            sx += w * ((i as usize % width) as f64 + 0.5);
            sy += w * ((i as usize / width) as f64 + 0.5);
        }
        let (cx, cy) = (sx / a, sy / a);
        let mut moments = [(0f64, 0f64); 3];
        for &(i, w) in &soft {
            let w = w as f64;
            let (x, y) = ((i as usize % width) as f64 + 0.5 - cx, (i as usize / width) as f64 + 0.5 - cy);
            let z2 = (x * x - y * y, 2.0 * x * y);
            let z3 = (z2.0 * x - z2.1 * y, z2.0 * y + z2.1 * x);
            let z4 = (z3.0 * x - z3.1 * y, z3.0 * y + z3.1 * x);
            let z5 = (z4.0 * x - z4.1 * y, z4.0 * y + z4.1 * x);
            for (m, z) in moments.iter_mut().zip([z3, z4, z5]) {
                m.0 += w * z.0;
                m.1 += w * z.1;
            }
        }
        analysis.track[f] = Some((cx, cy, a));
        observations.push(Observation { t: f as f64 / fps, cx, cy, area: a, border, moments });
    }

    // Shape from the larger half of the frames in which the object is whole.
    let mut whole: Vec<&Observation> = observations.iter().filter(|o| !o.border).collect();
    if whole.is_empty() {
        whole = observations.iter().collect();
    }
    let mut symmetry = None;
    if !whole.is_empty() {
        let mut areas: Vec<f64> = whole.iter().map(|o| o.area).collect();
        let cut = median_f64(&mut areas);
        let big: Vec<&Observation> = whole.iter().copied().filter(|o| o.area >= cut).collect();
        let inv: Vec<[f64; 3]> = big.iter().map(|o| o.invariants()).collect();
        let med: Vec<f64> = (0..3).map(|k| median_f64(&mut inv.iter().map(|v| v[k]).collect::<Vec<_>>())).collect();
        let best = (0..3).max_by(|&a, &b| med[a].total_cmp(&med[b])).unwrap();
        analysis.shape = Some(if med[best] < CIRCLE_BELOW {
            Shape::Circle
        } else {
            symmetry = Some(best);
            [Shape::Triangle, Shape::Square, Shape::Star][best]
        });
    }
    analysis.motion = classify_motion(&observations, symmetry, unit);
    (analysis, observations)
}

/// Features of a clip's motion, in shorter sides, seconds and radians.
#[derive(Debug, Clone, Copy, Default)]
struct MotionFeatures {
    /// Translation velocity (least squares).
    vx: f64,
    vy: f64,
    /// Time span of the track.
    span: f64,
    /// Largest rise (y decreasing) and fall after an earlier point of the smoothed track.
    rise: f64,
    fall: f64,
    /// Fastest upward speed over a quarter second.
    launch: f64,
    /// Log-area per second over whole-object frames, and its span.
    scale_rate: f64,
    scale_span: f64,
    /// Radians per second of the k-fold moment's phase, and its span.
    rotate_rate: f64,
    rotate_span: f64,
    /// Share of the orientation's variance the steady turn explains (R^2 of the fit).
    rotate_fit: f64,
}

fn motion_features(obs: &[Observation], symmetry: Option<usize>, unit: f64) -> Option<MotionFeatures> {
    if obs.len() < 3 {
        return None;
    }
    let mut m = MotionFeatures::default();
    let ts: Vec<f64> = obs.iter().map(|o| o.t).collect();
    let xs: Vec<f64> = obs.iter().map(|o| o.cx / unit).collect();
    let ys: Vec<f64> = obs.iter().map(|o| o.cy / unit).collect();
    m.vx = slope(&ts, &xs);
    m.vy = slope(&ts, &ys);
    m.span = ts[ts.len() - 1] - ts[0];

    // Smoothed heights (median of three) for rise and fall.
    let smooth: Vec<f64> = (0..ys.len())
        .map(|i| {
            if i == 0 || i + 1 == ys.len() {
                ys[i]
            } else {
                let mut w = [ys[i - 1], ys[i], ys[i + 1]];
                w.sort_by(f64::total_cmp);
                w[1]
            }
        })
        .collect();
    let (mut hi, mut lo) = (smooth[0], smooth[0]);
    for &y in &smooth[1..] {
        m.rise = m.rise.max(hi - y);
        m.fall = m.fall.max(y - lo);
        hi = hi.max(y);
        lo = lo.min(y);
    }
    let mut j = 0;
    for i in 0..obs.len() {
        while j < obs.len() && ts[j] - ts[i] < 0.25 - 1e-9 {
            j += 1;
        }
        if j == obs.len() {
            // A clip shorter than a quarter second: its whole span.
            if i == 0 && m.span > 0.0 {
                m.launch = (ys[0] - ys[obs.len() - 1]) / m.span;
            }
            break;
        }
        m.launch = m.launch.max((ys[i] - ys[j]) / (ts[j] - ts[i]));
    }

    let whole: Vec<&Observation> = obs.iter().filter(|o| !o.border).collect();
    if whole.len() >= 3 {
        let ts: Vec<f64> = whole.iter().map(|o| o.t).collect();
        let la: Vec<f64> = whole.iter().map(|o| o.area.ln()).collect();
        m.scale_rate = slope(&ts, &la);
        m.scale_span = ts[ts.len() - 1] - ts[0];
    }
    if let Some(k) = symmetry {
        // Unwrapped orientation from the phase of C_k over frames where the shape is clear.
        let clear: Vec<&Observation> =
            whole.iter().copied().filter(|o| o.invariants()[k] > 0.5 * CIRCLE_BELOW).collect();
        if clear.len() >= 3 {
            let order = (k + 3) as f64;
            let mut angle = 0.0;
            let (mut ts, mut angles) = (vec![clear[0].t], vec![0.0]);
            let phase = |o: &Observation| o.moments[k].1.atan2(o.moments[k].0);
            for w in clear.windows(2) {
                let mut d = phase(w[1]) - phase(w[0]);
                d -= std::f64::consts::TAU * (d / std::f64::consts::TAU).round();
                angle += d / order;
                ts.push(w[1].t);
                angles.push(angle);
            }
            m.rotate_rate = slope(&ts, &angles);
            m.rotate_span = ts[ts.len() - 1] - ts[0];
            let n = ts.len() as f64;
            let (mt, ma) = (ts.iter().sum::<f64>() / n, angles.iter().sum::<f64>() / n);
            let total: f64 = angles.iter().map(|a| (a - ma).powi(2)).sum();
            let residual: f64 = ts.iter().zip(&angles).map(|(t, a)| (a - ma - m.rotate_rate * (t - mt)).powi(2)).sum();
            m.rotate_fit = if total > 0.0 { 1.0 - residual / total } else { 0.0 };
        }
    }
    Some(m)
}

fn classify_motion(obs: &[Observation], symmetry: Option<usize>, unit: f64) -> Option<Motion> {
    let m = motion_features(obs, symmetry, unit)?;
    // Up then down (or down then up) without dominant sideways travel.
    let (rise, fall) = (m.rise, m.fall);
    if rise.min(fall) > BOUNCE_EXCURSION
        && rise.min(fall) > 0.3 * rise.max(fall)
        && (m.vx * m.span).abs() < rise.max(fall)
    {
        return Some(Motion::Bounce);
    }
    let speed = m.vx.hypot(m.vy);
    let min_travel = (2.0 / unit).max(0.02);
    let mut best: Option<(f64, Motion)> = None;
    let mut consider = |score: f64, ok: bool, motion: Motion| {
        if ok && score >= MIN_SCORE && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, motion));
        }
    };
    let direction = if m.vx.abs() >= m.vy.abs() {
        if m.vx < 0.0 {
            Motion::Left
        } else {
            Motion::Right
        }
    } else if m.vy < 0.0 {
        Motion::Up
    } else {
        Motion::Down
    };
    consider(speed / SPEED, speed * m.span >= min_travel, direction);
    let grow = if m.scale_rate > 0.0 { Motion::Grow } else { Motion::Shrink };
    consider(m.scale_rate.abs() / SCALE_RATE, m.scale_rate.abs() * m.scale_span >= 0.08, grow);
    let steady = m.rotate_fit >= MIN_ROTATE_FIT;
    consider(m.rotate_rate.abs() / ROTATE_RATE, steady && m.rotate_rate.abs() * m.rotate_span >= 0.15, Motion::Rotate);
    let motion = best.map(|(_, motion)| motion)?;
    // A clip too short to see a bounce come down: a bounce's fast launch, not a slide up.
    if motion == Motion::Up && m.span < 1.0 && m.launch > BOUNCE_LAUNCH_SPEED {
        return Some(Motion::Bounce);
    }
    Some(motion)
}

/// Median border colour of all frames, and the median distance of border pixels from it (a noise
/// scale).
fn estimate_background(frames: &[f32], width: usize, height: usize, n_frames: usize) -> ([f32; 3], f32) {
    let mut border: Vec<usize> = (0..width).chain((0..width).map(|x| (height - 1) * width + x)).collect();
    border.extend((1..height - 1).flat_map(|y| [y * width, y * width + width - 1]));
    let per_frame = (60_000 / n_frames).clamp(64, border.len());
    let step = (border.len() / per_frame).max(1);
    let mut px: Vec<[f32; 3]> = Vec::new();
    for f in 0..n_frames {
        let frame = &frames[f * width * height * 3..];
        for &i in border.iter().skip(f % step).step_by(step) {
            px.push([frame[i * 3], frame[i * 3 + 1], frame[i * 3 + 2]]);
        }
    }
    let mut channel: Vec<f32> = Vec::with_capacity(px.len());
    let mut bg = [0f32; 3];
    for c in 0..3 {
        channel.clear();
        channel.extend(px.iter().map(|p| p[c]));
        bg[c] = median(&mut channel);
    }
    let mut d: Vec<f32> = px.iter().map(|p| dist(p, &bg)).collect();
    (bg, median(&mut d))
}

/// Flood fill scratch space: the largest 8-connected component of `value > threshold`.
struct Components {
    state: Vec<u8>,
    best: Vec<u32>,
    current: Vec<u32>,
    stack: Vec<u32>,
}

impl Components {
    fn new(n: usize) -> Self {
        Self { state: vec![0; n], best: Vec::new(), current: Vec::new(), stack: Vec::new() }
    }

    fn largest(&mut self, value: &[f32], threshold: f32, width: usize, height: usize) -> &[u32] {
        for (s, &v) in self.state.iter_mut().zip(value) {
            *s = (v > threshold) as u8;
        }
        self.best.clear();
        for start in 0..width * height {
            if self.state[start] != 1 {
                continue;
            }
            self.current.clear();
            self.stack.clear();
            self.state[start] = 2;
            self.stack.push(start as u32);
            while let Some(i) = self.stack.pop() {
                self.current.push(i);
                let (x, y) = (i as usize % width, i as usize / width);
                for ny in y.saturating_sub(1)..(y + 2).min(height) {
                    for nx in x.saturating_sub(1)..(x + 2).min(width) {
                        let j = ny * width + nx;
                        if self.state[j] == 1 {
                            self.state[j] = 2;
                            self.stack.push(j as u32);
                        }
                    }
                }
            }
            if self.current.len() > self.best.len() {
                std::mem::swap(&mut self.current, &mut self.best);
            }
        }
        &self.best
    }
}

fn dist(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Index of the palette entry nearest `c`, if within `tolerance`.
fn nearest(c: [f32; 3], palette: &[[f32; 3]], tolerance: f32) -> Option<usize> {
    let (i, d) = palette.iter().map(|p| dist(&c, p)).enumerate().min_by(|a, b| a.1.total_cmp(&b.1))?;
    (d <= tolerance).then_some(i)
}

fn median(v: &mut [f32]) -> f32 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

fn median_f64(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Least-squares slope of `ys` over `ts`.
fn slope(ts: &[f64], ys: &[f64]) -> f64 {
    let n = ts.len() as f64;
    let (mt, my) = (ts.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut num, mut den) = (0.0, 0.0);
    for (t, y) in ts.iter().zip(ys) {
        num += (t - mt) * (y - my);
        den += (t - mt) * (t - mt);
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::rng::Rng;
    use crate::world::{Kind, Scene, Split};

    const FPS: f64 = 24.0;

    /// 200 training and 150 held-out single-object scenes.
    fn scenes() -> Vec<(String, Scene)> {
        let train = (0..200).map(|s| (format!("train {s}"), Scene::sample(s, Split::Train, 0.0)));
        let held = (0..150).map(|s| (format!("held-out {s}"), Scene::sample(s, Split::HeldOut, 0.0)));
        train.chain(held).collect()
    }

    /// Box blur of side `2 * radius + 1` per frame and channel (running sums, edges clamped).
    fn box_blur(frames: &mut [f32], width: usize, height: usize, n: usize, radius: usize) {
        let side = (2 * radius + 1) as f32;
        let mut line = Vec::new();
        // Blurs `len` values at `base + i * stride` (each of 3 channels) in place.
        let mut blur_line = |frame: &mut [f32], base: usize, stride: usize, len: usize| {
            for c in 0..3 {
                line.clear();
                line.extend((0..len).map(|i| frame[(base + i * stride) * 3 + c]));
                let at = |i: isize| line[i.clamp(0, len as isize - 1) as usize];
                let r = radius as isize;
                let mut sum: f32 = (-r..=r).map(at).sum();
                for i in 0..len as isize {
                    frame[(base + i as usize * stride) * 3 + c] = sum / side;
                    sum += at(i + r + 1) - at(i - r);
                }
            }
        };
        for frame in frames.chunks_exact_mut(width * height * 3).take(n) {
            for y in 0..height {
                blur_line(frame, y * width, 1, width);
            }
            for x in 0..width {
                blur_line(frame, x, width, height);
            }
        }
    }

    /// Gaussian-ish noise of standard deviation `sigma` (a sum of four uniforms), clamped to [0, 1].
    fn add_noise(frames: &mut [f32], sigma: f64, seed: u64) {
        let mut rng = Rng::new(seed);
        let scale = (sigma * 3f64.sqrt() / 65536.0) as f32;
        for v in frames.iter_mut() {
            let r = rng.next_u64();
            let sum = (r & 0xFFFF) + (r >> 16 & 0xFFFF) + (r >> 32 & 0xFFFF) + (r >> 48);
            *v = (*v + (sum as f32 - 2.0 * 65536.0) * scale).clamp(0.0, 1.0);
        }
    }

    #[test]
    fn helpers_blur_and_noise_as_intended() {
        let mut f = vec![0f32; 8 * 8 * 3];
        f[(3 * 8 + 3) * 3] = 25.0;
        box_blur(&mut f, 8, 8, 1, 2);
        assert!((f[(8 + 5) * 3] - 1.0).abs() < 1e-6 && f[3 * 3] == 0.0);
        assert!((f.iter().sum::<f32>() - 25.0).abs() < 1e-4);
        let mut g = vec![0.5f32; 100_000];
        add_noise(&mut g, 0.03, 1);
        let var = g.iter().map(|v| ((v - 0.5) as f64).powi(2)).sum::<f64>() / g.len() as f64;
        assert!((var.sqrt() - 0.03).abs() < 0.001, "{}", var.sqrt());
    }

    #[test]
    fn is_fast() {
        let scene = Scene::sample(3, Split::Train, 0.0);
        let frames = render(&scene, 256, 256, 49, FPS, 0.0);
        let start = std::time::Instant::now();
        let runs = 5;
        for _ in 0..runs {
            std::hint::black_box(analyse(&frames, 256, 256, 49, FPS));
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!("analyse 256x256x49: {ms:.1} ms");
        if !cfg!(debug_assertions) {
            assert!(ms < 100.0, "{ms:.1} ms");
        }
    }

    #[derive(Default)]
    struct Tally {
        n: usize,
        correct: [usize; 4],
        errors: Vec<String>,
    }

    impl Tally {
        fn accuracy(&self, i: usize) -> f64 {
            self.correct[i] as f64 / self.n as f64
        }
        fn report(&self, label: &str) -> String {
            let names = ["background", "colour", "shape", "motion"];
            let acc: Vec<String> = (0..4).map(|i| format!("{} {:.1}%", names[i], 100.0 * self.accuracy(i))).collect();
            format!("{label}: {} scenes: {}", self.n, acc.join(", "))
        }
        fn check(&self, label: &str, bar: f64) {
            let report = self.report(label);
            println!("{report}");
            let ok = (0..4).all(|i| self.accuracy(i) >= bar);
            if !ok {
                // Confusion summary: (attribute, truth -> got) counts, then the scenes.
                let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
                for e in &self.errors {
                    *counts.entry(e.split(": ").nth(1).unwrap_or(e).to_string()).or_default() += 1;
                }
                for (k, v) in &counts {
                    println!("  {v:3} x {k}");
                }
                for e in &self.errors {
                    println!("  {e}");
                }
            }
            assert!(ok, "{report} (bar {:.0}%)", bar * 100.0);
        }
    }

    fn evaluate(size: usize, n: usize, distort: &dyn Fn(&mut [f32], u64)) -> Tally {
        evaluate_at(size, size, n, distort)
    }

    fn evaluate_at(width: usize, height: usize, n: usize, distort: &dyn Fn(&mut [f32], u64)) -> Tally {
        evaluate_scenes(&scenes(), width, height, n, distort)
    }

    fn evaluate_scenes(
        scenes: &[(String, Scene)],
        width: usize,
        height: usize,
        n: usize,
        distort: &dyn Fn(&mut [f32], u64),
    ) -> Tally {
        let mut tally = Tally::default();
        for (i, (name, scene)) in scenes.iter().enumerate() {
            let mut frames = render(scene, width, height, n, FPS, 0.0);
            distort(&mut frames, i as u64);
            let a = analyse(&frames, width, height, n, FPS);
            let o = scene.subject();
            tally.n += 1;
            let checks = [
                (
                    "background",
                    a.background == Some(scene.background),
                    format!("{:?} -> {:?}", scene.background, a.background),
                ),
                ("colour", a.colour == Some(o.colour), format!("{:?} -> {:?}", o.colour, a.colour)),
                ("shape", a.shape == Some(o.shape), format!("{:?} -> {:?}", o.shape, a.shape)),
                ("motion", a.motion == Some(o.motion), format!("{:?} -> {:?}", o.motion, a.motion)),
            ];
            for (k, (attr, ok, what)) in checks.into_iter().enumerate() {
                if ok {
                    tally.correct[k] += 1;
                } else {
                    tally.errors.push(format!(
                        "{name} ({:?} {:?} {:?} {:?} on {:?}): {attr} {what}",
                        o.size, o.colour, o.shape, o.motion, scene.background
                    ));
                }
            }
        }
        tally
    }

    #[test]
    fn recovers_attributes_of_clean_renders() {
        evaluate(256, 49, &|_, _| {}).check("clean 256x256x49", 0.98);
    }

    #[test]
    fn recovers_attributes_of_clean_renders_at_128() {
        evaluate(128, 49, &|_, _| {}).check("clean 128x128x49", 0.98);
    }

    #[test]
    fn recovers_attributes_of_blurred_noisy_renders() {
        evaluate(256, 49, &|f, seed| {
            box_blur(f, 256, 256, 49, 2);
            add_noise(f, 0.03, seed);
        })
        .check("5x5 blur + noise 0.03, 256x256x49", 0.95);
    }

    #[test]
    fn recovers_attributes_of_blurred_noisy_renders_at_128() {
        evaluate(128, 49, &|f, seed| {
            box_blur(f, 128, 128, 49, 1);
            add_noise(f, 0.03, seed);
        })
        .check("3x3 blur + noise 0.03, 128x128x49", 0.95);
    }

    #[test]
    fn recovers_attributes_at_other_sizes_and_lengths() {
        for (w, h, n) in [(64, 64, 49), (128, 128, 9), (320, 192, 17)] {
            evaluate_at(w, h, n, &|_, _| {}).check(&format!("clean {w}x{h}x{n}"), 0.98);
        }
    }

    /// Objects that are out of view for part of the clip: the track covers only the frames that
    /// show them, and the analyser still names them and their direction.
    #[test]
    fn recovers_attributes_of_objects_entering_and_leaving() {
        let scenes: Vec<(String, Scene)> = (0..400)
            .map(|s| (format!("train {s}"), Scene::sample_with_edges(s, Split::Train, 0.0, 1.0)))
            .filter(|(_, scene)| matches!(scene.kind, Kind::Enters | Kind::Leaves))
            .take(80)
            .collect();
        assert_eq!(scenes.len(), 80);
        evaluate_scenes(&scenes, 128, 128, 49, &|_, _| {}).check("entering and leaving, clean 128x128x49", 0.95);
    }

    #[test]
    fn track_follows_the_object() {
        for seed in 0..40 {
            let scene = Scene::sample(seed, Split::Train, 0.0);
            let (w, h, n) = (160, 128, 25);
            let frames = render(&scene, w, h, n, FPS, 0.0);
            let a = analyse(&frames, w, h, n, FPS);
            let o = scene.subject();
            let bg = scene.background.rgb();
            let c = o.colour.rgb();
            let k = (0..3).max_by(|&i, &j| (c[i] - bg[i]).abs().total_cmp(&(c[j] - bg[j]).abs())).unwrap();
            for (f, t) in a.track.iter().enumerate() {
                let (cx, cy, area) = t.unwrap_or_else(|| panic!("seed {seed} frame {f}: no object"));
                let pose = o.pose(f as f64 / FPS);
                let (px, py) = (w as f64 / 2.0 + pose.x * h as f64, h as f64 / 2.0 + pose.y * h as f64);
                assert!((cx - px).hypot(cy - py) < 0.5, "seed {seed} frame {f}: ({cx}, {cy}) vs ({px}, {py})");
                let frame = &frames[f * w * h * 3..(f + 1) * w * h * 3];
                let coverage: f64 = frame.chunks_exact(3).map(|p| ((p[k] - bg[k]) / (c[k] - bg[k])) as f64).sum();
                assert!((area / coverage - 1.0).abs() < 0.02, "seed {seed} frame {f}: area {area} vs {coverage}");
            }
        }
    }

    #[test]
    fn empty_clip_has_no_object() {
        for bg in Background::ALL {
            let (w, h, n) = (96, 64, 12);
            let mut frames: Vec<f32> = (0..w * h * n).flat_map(|_| bg.rgb()).collect();
            add_noise(&mut frames, 0.03, bg as u64);
            let a = analyse(&frames, w, h, n, FPS);
            assert_eq!(a.background, Some(bg));
            assert_eq!((a.colour, a.shape, a.motion), (None, None, None), "{bg:?}: {a:?}");
            assert!(a.track.iter().all(|t| t.is_none()));
        }
    }

    #[test]
    #[ignore]
    fn calibrate() {
        use crate::world::{Colour, Motion, Size};
        for shape in Shape::ALL {
            for size in [128usize, 256, 512] {
                let mut raw = Vec::new();
                for seed in 0..8 {
                    let scene = Scene::single(seed, shape, Colour::White, Size::Large, Motion::Left, Background::Black);
                    let frames = render(&scene, size, size, 1, FPS, 1.0);
                    let (_, obs) = analyse_with_observations(&frames, size, size, 1, FPS);
                    let inv: Vec<String> =
                        obs[0].invariants().iter().zip(PROTOTYPE).map(|(v, p)| format!("{:.4}", v * p)).collect();
                    raw.push(inv.join("/"));
                }
                println!("{shape:?} {size}: {}", raw.join("  "));
            }
        }
    }

    #[test]
    #[ignore]
    fn survey() {
        let lengths = [9, 13, 17, 21, 25, 33].map(|n| (128, 128, n));
        for (w, h, n) in [(64, 64, 49), (512, 512, 49), (320, 192, 49), (192, 320, 49), (256, 256, 97), (64, 64, 9)]
            .into_iter()
            .chain(lengths)
        {
            let t = evaluate_at(w, h, n, &|_, _| {});
            println!("{}", t.report(&format!("clean {w}x{h}x{n}")));
            for e in &t.errors {
                println!("    {e}");
            }
        }
        // Shifted colours, dimmer frames and a brightness gradient across the frame.
        let t = evaluate(128, 49, &|f, seed| {
            for (i, v) in f.iter_mut().enumerate() {
                let x = (i / 3 % 128) as f32 / 128.0;
                *v = (*v * 0.9 + [0.06, -0.04, 0.05][i % 3] + 0.06 * (x - 0.5)).clamp(0.0, 1.0);
            }
            box_blur(f, 128, 128, 49, 1);
            add_noise(f, 0.03, seed);
        });
        println!("{}", t.report("colour shift, 0.9 gain, gradient, 3x3 blur, noise 128"));
        for e in t.errors.iter().take(20) {
            println!("    {e}");
        }
        for (size, r, sigma) in
            [(256, 3, 0.05), (256, 5, 0.03), (256, 7, 0.03), (128, 3, 0.03), (128, 4, 0.03), (64, 1, 0.03)]
        {
            let t = evaluate(size, 49, &|f, seed| {
                box_blur(f, size, size, 49, r);
                add_noise(f, sigma, seed);
            });
            println!("{}", t.report(&format!("blur {} noise {sigma} {size}", 2 * r + 1)));
            for e in t.errors.iter().take(20) {
                println!("    {e}");
            }
        }
    }

    /// Margins: per true shape the range of the relative invariants; per true motion the range
    /// of each motion feature (5x5 blur + noise at 256, and clean at 128).
    #[test]
    #[ignore]
    fn dump_features() {
        use std::collections::BTreeMap;
        for (size, r) in [(256usize, 2usize), (128, 0), (256, 7)] {
            let mut shapes: BTreeMap<String, [(f64, f64); 3]> = BTreeMap::new();
            let mut motions: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            for (i, (_, scene)) in scenes().iter().enumerate() {
                let mut frames = render(scene, size, size, 49, FPS, 0.0);
                if r > 0 {
                    box_blur(&mut frames, size, size, 49, r);
                    add_noise(&mut frames, 0.03, i as u64);
                }
                let (a, obs) = analyse_with_observations(&frames, size, size, 49, FPS);
                let o = scene.subject();
                let mut inv: Vec<[f64; 3]> = obs.iter().filter(|o| !o.border).map(|o| o.invariants()).collect();
                let med: Vec<f64> =
                    (0..3).map(|k| median_f64(&mut inv.iter_mut().map(|v| v[k]).collect::<Vec<_>>())).collect();
                let e = shapes.entry(format!("{:?}", o.shape)).or_insert([(f64::MAX, f64::MIN); 3]);
                for k in 0..3 {
                    e[k] = (e[k].0.min(med[k]), e[k].1.max(med[k]));
                }
                let sym = match a.shape {
                    Some(Shape::Triangle) => Some(0),
                    Some(Shape::Square) => Some(1),
                    Some(Shape::Star) => Some(2),
                    _ => None,
                };
                let m = motion_features(&obs, sym, size as f64).unwrap();
                let f = [
                    m.vx.hypot(m.vy) / SPEED,
                    m.scale_rate.abs() / SCALE_RATE,
                    m.rotate_rate.abs() / ROTATE_RATE,
                    m.rise,
                    m.fall,
                    (m.vx * m.span).abs(),
                    m.rotate_fit,
                ];
                let e = motions.entry(format!("{:?}", o.motion)).or_insert(vec![(f64::MAX, f64::MIN); 7]);
                for k in 0..7 {
                    e[k] = (e[k].0.min(f[k]), e[k].1.max(f[k]));
                }
            }
            println!("size {size} blur {r}: relative invariants (tri/sq/star) median-over-frames range");
            for (k, v) in &shapes {
                println!("  {k:9} {}", v.iter().map(|(a, b)| format!("{a:.3}..{b:.3}")).collect::<Vec<_>>().join("  "));
            }
            println!("  motion: trans score, scale score, rot score, rise, fall, |dx|, rotate fit");
            for (k, v) in &motions {
                println!("  {k:7} {}", v.iter().map(|(a, b)| format!("{a:.3}..{b:.3}")).collect::<Vec<_>>().join("  "));
            }
        }
    }
}
