//! Host images <-> tensors. The models see display-referred (sRGB-encoded) RGB in 0..1, top row
//! first, as [3, H, W] f32 on the CPU; the host sees its own depth, components and origin.
//!
//! Sample conversion is done a row at a time into one contiguous buffer (cheap slice work), and
//! the colour curve runs as tensor ops on the whole frame, so a 4K frame costs milliseconds.
use tch::{Kind, Tensor};

use crate::ofx::OfxRectI;
use crate::pixels::{intersect, read_samples, write_samples, BitDepth, Components, ImageView, PixelError};

/// How host pixel values relate to the model's display-referred range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorSpace {
    /// Integer depths are display-encoded, half/float scene-linear (what compositors deliver).
    Auto,
    /// Scene-linear: encoded with the sRGB curve on the way in, decoded on the way out.
    Linear,
    /// Already display-referred: passed through unchanged.
    Srgb,
}

impl ColorSpace {
    pub fn is_linear(self, depth: BitDepth) -> bool {
        match self {
            ColorSpace::Auto => depth.is_float(),
            ColorSpace::Linear => true,
            ColorSpace::Srgb => false,
        }
    }
}

/// A frame as the models take it.
pub struct Planes {
    /// [3, H, W] f32, display-referred; Alpha-only images give grey.
    pub rgb: Tensor,
    /// [1, H, W] f32, when the image has alpha.
    pub alpha: Option<Tensor>,
    /// NaN/inf samples found in the host's pixels; they are replaced by 0 in the tensors, and the
    /// caller decides whether that is acceptable.
    pub non_finite: usize,
}

/// The sRGB transfer curve, extended beyond 0..1 so scene-linear highlights above 1 (and small
/// negatives from grading) survive a round trip instead of being clipped: linear below the
/// threshold (odd-symmetric), the power segment continued above 1.
pub fn srgb_encode(linear: &Tensor) -> Tensor {
    let sign = linear.sign();
    let a = linear.abs();
    let low = &a * 12.92;
    let high = a.clamp_min(1e-12).pow_tensor_scalar(1.0 / 2.4) * 1.055 - 0.055;
    low.where_self(&a.le(0.003_130_8), &high) * sign
}

pub fn srgb_decode(encoded: &Tensor) -> Tensor {
    let sign = encoded.sign();
    let a = encoded.abs();
    let low = &a / 12.92;
    let high = ((a.clamp_min(0.0) + 0.055) / 1.055).pow_tensor_scalar(2.4);
    low.where_self(&a.le(0.040_45), &high) * sign
}

fn window_size(window: OfxRectI) -> Result<(usize, usize), PixelError> {
    if window.x2 < window.x1 || window.y2 < window.y1 {
        return Err(PixelError::BadBounds(window));
    }
    Ok(((window.x2 - window.x1) as usize, (window.y2 - window.y1) as usize))
}

/// Reads `window` of the image (pixels outside the image's bounds are black and transparent, as
/// OpenFX defines them) into display-referred planes.
pub fn image_to_tensor(view: &ImageView, window: OfxRectI, cs: ColorSpace) -> Result<Planes, PixelError> {
    let layout = *view.layout();
    let (w, h) = window_size(window)?;
    let c = layout.components.count();
    let mut buf = vec![0f32; w * h * c];
    let inside = intersect(window, layout.bounds);
    let span = (inside.x2 - inside.x1) as usize * c;
    for y in inside.y1..inside.y2 {
        // Tensor row 0 is the top of the window; OFX y grows upwards.
        let top_row = (window.y2 - 1 - y) as usize;
        let start = (top_row * w + (inside.x1 - window.x1) as usize) * c;
        read_samples(view.row(y, inside.x1, inside.x2), layout.depth, &mut buf[start..start + span]);
    }
    let non_finite = buf.iter().filter(|v| !v.is_finite()).count();
    if non_finite > 0 {
        buf.iter_mut().filter(|v| !v.is_finite()).for_each(|v| *v = 0.0);
    }
    let hwc = Tensor::from_slice(&buf).view([h as i64, w as i64, c as i64]).permute([2, 0, 1]);
    let (rgb, alpha) = match layout.components {
        Components::Rgba => (hwc.narrow(0, 0, 3), Some(hwc.narrow(0, 3, 1).contiguous())),
        Components::Rgb => (hwc, None),
        Components::Alpha => (hwc.expand([3, h as i64, w as i64], false), None),
    };
    let rgb = if cs.is_linear(layout.depth) { srgb_encode(&rgb) } else { rgb.contiguous() };
    Ok(Planes { rgb, alpha, non_finite })
}

/// Writes display-referred `rgb` ([3, H, W] matching `window`) and optional `alpha` ([1, H, W])
/// into the part of `window` inside the image's bounds, in the image's depth and components.
/// Missing alpha is written as opaque; an Alpha-only image receives the mean of the colour planes.
pub fn tensor_to_image(
    rgb: &Tensor,
    alpha: Option<&Tensor>,
    view: &mut ImageView,
    window: OfxRectI,
    cs: ColorSpace,
) -> Result<(), PixelError> {
    let layout = *view.layout();
    let (w, h) = window_size(window)?;
    let want = vec![3, h as i64, w as i64];
    if rgb.size() != want {
        return Err(PixelError::Shape { got: rgb.size(), want });
    }
    if let Some(a) = alpha {
        if a.size() != [1, h as i64, w as i64] {
            return Err(PixelError::Shape { got: a.size(), want: vec![1, h as i64, w as i64] });
        }
    }
    let rgb = rgb.to_device(tch::Device::Cpu).to_kind(Kind::Float);
    let rgb = if cs.is_linear(layout.depth) { srgb_decode(&rgb) } else { rgb };
    let chw = match layout.components {
        Components::Rgba => {
            let a = match alpha {
                Some(a) => a.to_device(tch::Device::Cpu).to_kind(Kind::Float),
                None => Tensor::ones([1, h as i64, w as i64], (Kind::Float, tch::Device::Cpu)),
            };
            Tensor::cat(&[rgb, a], 0)
        }
        Components::Rgb => rgb,
        Components::Alpha => match alpha {
            Some(a) => a.to_device(tch::Device::Cpu).to_kind(Kind::Float),
            None => rgb.mean_dim(0, true, Kind::Float),
        },
    };
    let c = layout.components.count();
    let hwc = chw.permute([1, 2, 0]).contiguous();
    let buf: Vec<f32> = Vec::try_from(hwc.view([-1])).map_err(|_| PixelError::Shape { got: chw.size(), want })?;
    let inside = intersect(window, layout.bounds);
    let span = (inside.x2 - inside.x1) as usize * c;
    for y in inside.y1..inside.y2 {
        let top_row = (window.y2 - 1 - y) as usize;
        let start = (top_row * w + (inside.x1 - window.x1) as usize) * c;
        write_samples(&buf[start..start + span], layout.depth, view.row_mut(y, inside.x1, inside.x2));
    }
    Ok(())
}

/// Pads [C, H, W] or [N, C, H, W] at the right and bottom up to multiples of `multiple` by
/// replicating the edge (no hard black border for convolutions or flow to latch onto). Returns
/// the padded tensor and the original (H, W) for [`crop_to`].
pub fn pad_to_multiple(t: &Tensor, multiple: i64) -> (Tensor, (i64, i64)) {
    let size = t.size();
    let (h, w) = (size[size.len() - 2], size[size.len() - 1]);
    let m = multiple.max(1);
    let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
    if ph == 0 && pw == 0 {
        return (t.shallow_clone(), (h, w));
    }
    let batched = if size.len() == 3 { t.unsqueeze(0) } else { t.shallow_clone() };
    let padded = batched.replication_pad2d([0, pw, 0, ph]);
    (if size.len() == 3 { padded.squeeze_dim(0) } else { padded }, (h, w))
}

pub fn crop_to(t: &Tensor, h: i64, w: i64) -> Tensor {
    let n = t.dim();
    t.narrow((n - 2) as i64, 0, h).narrow((n - 1) as i64, 0, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixels::PixelLayout;

    const DEPTHS: [BitDepth; 4] = [BitDepth::Byte, BitDepth::Short, BitDepth::Half, BitDepth::Float];
    const COMPS: [Components; 3] = [Components::Rgba, Components::Rgb, Components::Alpha];

    /// A host-style buffer: `negative` stores rows top-down with the data pointer at the last row.
    struct HostImage {
        buf: Vec<u8>,
        layout: PixelLayout,
        negative: bool,
    }

    impl HostImage {
        fn new(bounds: OfxRectI, depth: BitDepth, components: Components, negative: bool) -> Self {
            let px = depth.bytes() * components.count();
            let stride = (bounds.x2 - bounds.x1) as usize * px + 8; // hosts pad rows
            let rows = (bounds.y2 - bounds.y1) as usize;
            let layout = PixelLayout {
                bounds,
                row_bytes: if negative { -(stride as isize) } else { stride as isize },
                depth,
                components,
            };
            let buf = (0..stride * rows).map(|i| (i * 7 % 251) as u8).collect();
            HostImage { buf, layout, negative }
        }

        fn view(&mut self) -> ImageView {
            let rows = (self.layout.bounds.y2 - self.layout.bounds.y1) as usize;
            let offset = if self.negative { (rows - 1) * self.layout.row_bytes.unsigned_abs() } else { 0 };
            unsafe { ImageView::new(self.buf.as_mut_ptr().add(offset), self.layout) }.unwrap()
        }
    }

    fn pattern(h: i64, w: i64) -> Tensor {
        Tensor::rand([3, h, w], (Kind::Float, tch::Device::Cpu))
    }

    #[test]
    fn every_depth_and_component_round_trips() {
        let bounds = OfxRectI { x1: -16, y1: 100, x2: 5, y2: 113 };
        for depth in DEPTHS {
            for comps in COMPS {
                for negative in [false, true] {
                    let mut img = HostImage::new(bounds, depth, comps, negative);
                    let (h, w) = (13, 21);
                    let rgb = pattern(h, w);
                    let rgb = if comps == Components::Alpha { rgb.mean_dim(0, true, Kind::Float).expand([3, h, w], false) } else { rgb };
                    let alpha = Tensor::rand([1, h, w], (Kind::Float, tch::Device::Cpu));
                    tensor_to_image(&rgb, Some(&alpha), &mut img.view(), bounds, ColorSpace::Srgb).unwrap();
                    let back = image_to_tensor(&img.view(), bounds, ColorSpace::Srgb).unwrap();
                    let tol = match depth {
                        BitDepth::Byte => 0.5 / 255.0 + 1e-6,
                        BitDepth::Short => 0.5 / 65535.0 + 1e-7,
                        BitDepth::Half => 1e-3,
                        BitDepth::Float => 0.0,
                    };
                    let want = if comps == Components::Alpha { alpha.expand([3, h, w], false) } else { rgb.shallow_clone() };
                    let err = (&back.rgb - &want).abs().max().double_value(&[]);
                    assert!(err <= tol, "{depth:?} {comps:?} negative={negative}: {err}");
                    assert_eq!(back.alpha.is_some(), comps == Components::Rgba);
                    if let Some(a) = back.alpha {
                        assert!((a - &alpha).abs().max().double_value(&[]) <= tol.max(1e-3));
                    }
                }
            }
        }
    }

    #[test]
    fn byte_images_round_trip_exactly() {
        let bounds = OfxRectI { x1: 0, y1: 0, x2: 9, y2: 4 };
        let mut img = HostImage::new(bounds, BitDepth::Byte, Components::Rgba, false);
        let before = img.buf.clone();
        let p = image_to_tensor(&img.view(), bounds, ColorSpace::Auto).unwrap();
        tensor_to_image(&p.rgb, p.alpha.as_ref(), &mut img.view(), bounds, ColorSpace::Auto).unwrap();
        let stride = img.layout.row_bytes as usize;
        for r in 0..4 {
            assert_eq!(img.buf[r * stride..r * stride + 36], before[r * stride..r * stride + 36]);
        }
    }

    #[test]
    fn lower_left_origin_becomes_top_row_first() {
        let bounds = OfxRectI { x1: 0, y1: 0, x2: 1, y2: 2 };
        let mut img = HostImage::new(bounds, BitDepth::Float, Components::Alpha, false);
        img.buf[0..4].copy_from_slice(&0.25f32.to_ne_bytes()); // y = 0: bottom
        let stride = img.layout.row_bytes as usize;
        img.buf[stride..stride + 4].copy_from_slice(&0.75f32.to_ne_bytes()); // y = 1: top
        let p = image_to_tensor(&img.view(), bounds, ColorSpace::Srgb).unwrap();
        assert_eq!(p.rgb.double_value(&[0, 0, 0]), 0.75);
        assert_eq!(p.rgb.double_value(&[0, 1, 0]), 0.25);
    }

    #[test]
    fn window_outside_bounds_reads_black_and_writes_nothing() {
        let bounds = OfxRectI { x1: 0, y1: 0, x2: 4, y2: 4 };
        let window = OfxRectI { x1: 2, y1: 2, x2: 6, y2: 6 };
        let mut img = HostImage::new(bounds, BitDepth::Float, Components::Rgb, false);
        let p = image_to_tensor(&img.view(), window, ColorSpace::Srgb).unwrap();
        assert_eq!(p.rgb.size(), [3, 4, 4]);
        // Top-right 2x2 of the window lies outside the image.
        assert_eq!(p.rgb.narrow(1, 0, 2).narrow(2, 2, 2).abs().sum(Kind::Float).double_value(&[]), 0.0);
        let before = img.buf.clone();
        let ones = Tensor::ones([3, 4, 4], (Kind::Float, tch::Device::Cpu));
        tensor_to_image(&ones, None, &mut img.view(), window, ColorSpace::Srgb).unwrap();
        let stride = img.layout.row_bytes as usize;
        // Row y=0 is outside the window: untouched. Row y=2, x=2..4 written with 1.0.
        assert_eq!(img.buf[..stride], before[..stride]);
        assert_eq!(f32::from_ne_bytes(img.buf[2 * stride + 24..2 * stride + 28].try_into().unwrap()), 1.0);
    }

    #[test]
    fn linear_round_trip_keeps_highlights() {
        let v = Tensor::from_slice(&[-0.01f32, 0.0, 0.002, 0.18, 1.0, 4.0, 16.0]);
        let enc = srgb_encode(&v);
        assert!((enc.double_value(&[4]) - 1.0).abs() < 1e-6);
        assert!((enc.double_value(&[3]) - 0.4614).abs() < 1e-3);
        let back = srgb_decode(&enc);
        let rel = ((&back - &v).abs() / (v.abs() + 1e-6)).max().double_value(&[]);
        assert!(rel < 1e-4, "{rel}");
    }

    #[test]
    fn non_finite_samples_are_counted_and_zeroed() {
        let bounds = OfxRectI { x1: 0, y1: 0, x2: 3, y2: 1 };
        let mut img = HostImage::new(bounds, BitDepth::Float, Components::Rgb, false);
        for (i, v) in [f32::NAN, 0.5, f32::INFINITY].iter().enumerate() {
            img.buf[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        let p = image_to_tensor(&img.view(), bounds, ColorSpace::Srgb).unwrap();
        assert_eq!(p.non_finite, 2);
        assert!(p.rgb.isfinite().all().int64_value(&[]) == 1);
    }

    #[test]
    fn wrong_tensor_shapes_are_errors() {
        let bounds = OfxRectI { x1: 0, y1: 0, x2: 3, y2: 2 };
        let mut img = HostImage::new(bounds, BitDepth::Float, Components::Rgb, false);
        let bad = Tensor::zeros([3, 3, 2], (Kind::Float, tch::Device::Cpu));
        assert!(matches!(
            tensor_to_image(&bad, None, &mut img.view(), bounds, ColorSpace::Srgb),
            Err(PixelError::Shape { .. })
        ));
    }

    #[test]
    fn padding_and_cropping() {
        let t = pattern(5, 7);
        let (p, (h, w)) = pad_to_multiple(&t, 4);
        assert_eq!(p.size(), [3, 8, 8]);
        assert_eq!((h, w), (5, 7));
        // Replicated edge.
        assert_eq!(p.double_value(&[1, 7, 7]), t.double_value(&[1, 4, 6]));
        assert!(crop_to(&p, h, w).equal(&t));
        let (b, _) = pad_to_multiple(&t.unsqueeze(0), 32);
        assert_eq!(b.size(), [1, 3, 32, 32]);
    }
}
