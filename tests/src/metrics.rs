//! Image quality against ground truth: PSNR and SSIM as the literature computes them
//! (SSIM: Wang et al. 2004, 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, on luma).

/// A frame as interleaved RGB(A) f32 in 0..1, top row first.
pub struct Plane<'a> {
    pub data: &'a [f32],
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl Plane<'_> {
    fn luma(&self) -> Vec<f64> {
        let c = self.channels;
        self.data
            .chunks_exact(c)
            .map(|p| {
                if c >= 3 {
                    0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64
                } else {
                    p[0] as f64
                }
            })
            .collect()
    }
}

/// PSNR in dB over the RGB channels, values clamped to 0..1 first (as an 8-bit file would be).
pub fn psnr(a: &Plane, b: &Plane) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "PSNR of frames with different sizes");
    let (ca, cb) = (a.channels, b.channels);
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for (pa, pb) in a.data.chunks_exact(ca).zip(b.data.chunks_exact(cb)) {
        for ch in 0..3.min(ca).min(cb) {
            let d = pa[ch].clamp(0.0, 1.0) as f64 - pb[ch].clamp(0.0, 1.0) as f64;
            sum += d * d;
            n += 1;
        }
    }
    let mse = sum / n.max(1) as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (1.0 / mse).log10()
    }
}

fn gaussian_kernel() -> [f64; 11] {
    let mut k = [0.0; 11];
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f64 - 5.0;
        *v = (-(x * x) / (2.0 * 1.5 * 1.5)).exp();
    }
    let s: f64 = k.iter().sum();
    k.map(|v| v / s)
}

/// Separable Gaussian filter, "valid" region only (as the reference implementation).
fn blur(img: &[f64], w: usize, h: usize) -> (Vec<f64>, usize, usize) {
    let k = gaussian_kernel();
    let (ow, oh) = (w.saturating_sub(10), h.saturating_sub(10));
    let mut tmp = vec![0.0; ow * h];
    for y in 0..h {
        for x in 0..ow {
            tmp[y * ow + x] = (0..11).map(|i| k[i] * img[y * w + x + i]).sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = (0..11).map(|i| k[i] * tmp[(y + i) * ow + x]).sum();
        }
    }
    (out, ow, oh)
}

/// Mean SSIM on luma, with dynamic range 1.
pub fn ssim(a: &Plane, b: &Plane) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height), "SSIM of frames with different sizes");
    let (w, h) = (a.width, a.height);
    let x: Vec<f64> = a.luma().into_iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let y: Vec<f64> = b.luma().into_iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    let (mx, ow, oh) = blur(&x, w, h);
    let (my, _, _) = blur(&y, w, h);
    let (sxx, _, _) = blur(&xx, w, h);
    let (syy, _, _) = blur(&yy, w, h);
    let (sxy, _, _) = blur(&xy, w, h);
    let (c1, c2) = ((0.01f64).powi(2), (0.03f64).powi(2));
    let n = ow * oh;
    if n == 0 {
        return f64::NAN;
    }
    (0..n)
        .map(|i| {
            let (mx, my) = (mx[i], my[i]);
            let vx = sxx[i] - mx * mx;
            let vy = syy[i] - my * my;
            let cov = sxy[i] - mx * my;
            ((2.0 * mx * my + c1) * (2.0 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        })
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[f32], w: usize, h: usize) -> Plane<'_> {
        Plane { data, width: w, height: h, channels: 3 }
    }

    fn noise(w: usize, h: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..w * h * 3)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect()
    }

    #[test]
    fn identical_frames_are_perfect() {
        let a = noise(32, 24, 1);
        assert_eq!(psnr(&plane(&a, 32, 24), &plane(&a, 32, 24)), f64::INFINITY);
        assert!((ssim(&plane(&a, 32, 24), &plane(&a, 32, 24)) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn psnr_of_a_known_offset() {
        let a = vec![0.5f32; 16 * 16 * 3];
        let b = vec![0.6f32; 16 * 16 * 3];
        // MSE = 0.01 -> 20 dB.
        assert!((psnr(&plane(&a, 16, 16), &plane(&b, 16, 16)) - 20.0).abs() < 1e-4);
    }

    #[test]
    fn ssim_falls_with_noise_and_is_symmetric() {
        let a = noise(40, 40, 1);
        let b: Vec<f32> = a.iter().zip(noise(40, 40, 2)).map(|(x, n)| 0.8 * x + 0.2 * n).collect();
        let c = noise(40, 40, 3);
        let s_ab = ssim(&plane(&a, 40, 40), &plane(&b, 40, 40));
        let s_ba = ssim(&plane(&b, 40, 40), &plane(&a, 40, 40));
        let s_ac = ssim(&plane(&a, 40, 40), &plane(&c, 40, 40));
        assert!((s_ab - s_ba).abs() < 1e-12);
        assert!(s_ab > s_ac && s_ab < 1.0 && s_ac < 0.2, "{s_ab} {s_ac}");
    }
}
