//! Frames of a scene: flat backgrounds and filled shapes with one-pixel anti-aliased edges (a
//! signed distance per pixel), so the autoencoder learns edges rather than staircase aliasing.

use crate::world::{Pose, Scene, Shape};

/// Renders `frames` frames at `fps` starting at `start_seconds`: `[frames][height][width][3]`
/// floats in [0, 1], row-major, sRGB.
pub fn render(scene: &Scene, width: usize, height: usize, frames: usize, fps: f64, start_seconds: f64) -> Vec<f32> {
    let mut out = vec![0f32; frames * height * width * 3];
    let frame_len = height * width * 3;
    for f in 0..frames {
        let t = start_seconds + f as f64 / fps;
        let frame = &mut out[f * frame_len..(f + 1) * frame_len];
        draw_frame(scene, width, height, t, frame);
    }
    out
}

/// One frame at time `t` into `frame` (`[height][width][3]`).
pub fn draw_frame(scene: &Scene, width: usize, height: usize, t: f64, frame: &mut [f32]) {
    let bg = scene.background.rgb();
    for px in frame.chunks_exact_mut(3) {
        px.copy_from_slice(&bg);
    }
    let unit = width.min(height) as f64;
    for object in &scene.objects {
        let pose = object.pose(t);
        let colour = object.colour.rgb();
        // Pixel coordinates of the centre and radius.
        let cx = width as f64 / 2.0 + pose.x * unit;
        let cy = height as f64 / 2.0 + pose.y * unit;
        let r = pose.radius * unit;
        let outline = outline(object.shape, pose);
        let x_lo = ((cx - r - 2.0).floor().max(0.0)) as usize;
        let x_hi = ((cx + r + 2.0).ceil().min(width as f64)) as usize;
        let y_lo = ((cy - r - 2.0).floor().max(0.0)) as usize;
        let y_hi = ((cy + r + 2.0).ceil().min(height as f64)) as usize;
        for y in y_lo..y_hi {
            for x in x_lo..x_hi {
                // Shape-local coordinates in radii.
                let u = (x as f64 + 0.5 - cx) / r;
                let v = (y as f64 + 0.5 - cy) / r;
                let d = match &outline {
                    None => (u * u + v * v).sqrt() - 1.0,
                    Some(poly) => polygon_distance(poly, u, v),
                };
                let coverage = (0.5 - d * r).clamp(0.0, 1.0) as f32;
                if coverage > 0.0 {
                    let px = &mut frame[(y * width + x) * 3..(y * width + x) * 3 + 3];
                    for c in 0..3 {
                        px[c] += (colour[c] - px[c]) * coverage;
                    }
                }
            }
        }
    }
}

/// Vertices on the unit circumcircle (y down), rotated by the pose; `None` for a circle.
fn outline(shape: Shape, pose: Pose) -> Option<Vec<(f64, f64)>> {
    let ring = |n: usize, radii: &[f64], phase: f64| -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                let a = pose.angle + phase + i as f64 * std::f64::consts::TAU / n as f64;
                let rr = radii[i % radii.len()];
                (rr * a.cos(), rr * a.sin())
            })
            .collect()
    };
    match shape {
        Shape::Circle => None,
        // Squares and triangles are drawn a little inside the circumcircle so all shapes of one
        // size have similar area.
        Shape::Square => Some(ring(4, &[0.92], std::f64::consts::FRAC_PI_4)),
        Shape::Triangle => Some(ring(3, &[1.05], -std::f64::consts::FRAC_PI_2)),
        Shape::Star => Some(ring(10, &[1.1, 0.45], -std::f64::consts::FRAC_PI_2)),
    }
}

/// Signed distance (negative inside) from (u, v) to a simple polygon.
fn polygon_distance(poly: &[(f64, f64)], u: f64, v: f64) -> f64 {
    let mut best = f64::INFINITY;
    let mut inside = false;
    let n = poly.len();
    for i in 0..n {
        let (ax, ay) = poly[i];
        let (bx, by) = poly[(i + 1) % n];
        let (ex, ey) = (bx - ax, by - ay);
        let (wx, wy) = (u - ax, v - ay);
        let h = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0);
        let (dx, dy) = (wx - ex * h, wy - ey * h);
        best = best.min(dx * dx + dy * dy);
        if (ay > v) != (by > v) && u < ax + (v - ay) * ex / ey {
            inside = !inside;
        }
    }
    if inside {
        -best.sqrt()
    } else {
        best.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Background, Colour, Motion, Scene, Size, Split};

    fn coverage_of(shape: Shape) -> f64 {
        let scene = Scene::single(1, shape, Colour::White, Size::Large, Motion::Grow, Background::Black);
        let frame = render(&scene, 128, 128, 1, 24.0, 1.0);
        frame.chunks_exact(3).map(|p| ((p[0] - 0.03) / 0.94) as f64).sum::<f64>()
    }

    #[test]
    fn shapes_have_their_expected_areas() {
        let r = Size::Large.radius() * (0.6 + 0.45) * 128.0;
        let circle = coverage_of(Shape::Circle) / (std::f64::consts::PI * r * r);
        assert!((circle - 1.0).abs() < 0.03, "circle {circle}");
        let square = coverage_of(Shape::Square) / (2.0 * (0.92 * r).powi(2));
        assert!((square - 1.0).abs() < 0.04, "square {square}");
        let square = coverage_of(Shape::Square);
        for other in [Shape::Star, Shape::Triangle] {
            let area = coverage_of(other);
            assert!(area > 0.6 * square && area < 0.95 * square, "{other:?} {area} vs square {square}");
        }
    }

    #[test]
    fn motion_moves_the_object_and_frames_are_deterministic() {
        let scene = Scene::sample(7, Split::Train, 0.0);
        let a = render(&scene, 64, 64, 3, 24.0, 0.0);
        assert_eq!(a, render(&scene, 64, 64, 3, 24.0, 0.0));
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        let later = render(&scene, 64, 64, 1, 24.0, 1.5);
        assert_ne!(&a[..64 * 64 * 3], &later[..]);
    }
}
