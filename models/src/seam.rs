//! Seams between generated frames and the real footage they continue.
//!
//! A generation conditioned on real frames (image-to-video, extension, infill) renders those
//! frames again through the autoencoder: a little off in colour, softer at edges and, at the
//! embedded model's 128 px working size, without the footage's detail. So the first generated
//! frame jumps away from the real one next to it before anything has moved. The difference
//! between a real frame and the model's own rendition of it is what makes that jump; carrying it
//! into the neighbouring generated frames, in full at the real frame and fading with distance,
//! joins the two. Between two real frames (infill) the two differences are interpolated
//! linearly, so the gap meets both ends.

use tch::Tensor;

use crate::ModelError;

/// How far one real frame's residual reaches into the generated frames when there is no second
/// one (extension, image-to-video): a second at 24 fps, so the correction fades unnoticed and an
/// object that moves away leaves no lasting trace of where it was.
pub const REACH: f64 = 24.0;

/// What one real frame tells the generated frames around it.
pub struct Residual {
    /// Position of the real frame on the generated frames' timeline; it may lie outside it (-1 is
    /// the frame just before the first generated one).
    pub at: i64,
    /// `real - made`, `[3, H, W]`.
    pub diff: Tensor,
}

impl Residual {
    /// `real` and `made` (the model's rendition of the same frame) are `[3, H, W]` at the size the
    /// generated frames will have when the residual is carried into them.
    pub fn new(at: i64, real: &Tensor, made: &Tensor) -> Result<Self, ModelError> {
        if real.size() != made.size() || real.dim() != 3 {
            return Err(ModelError::InvalidInput(format!(
                "seam: the real frame {:?} and the model's rendition {:?} must both be [3, H, W]",
                real.size(),
                made.size()
            )));
        }
        let diff = real.f_to_kind(tch::Kind::Float)?.f_sub(&made.f_to_kind(tch::Kind::Float)?)?;
        // A NaN in the footage must not spread into every generated frame.
        let diff = diff.f_nan_to_num(0.0, 0.0, 0.0)?;
        Ok(Self { at, diff })
    }

    /// The share of this residual frame `index` receives: 1 at the real frame, falling linearly to
    /// 0 at `reach` frames away.
    pub fn weight(&self, index: i64, reach: f64) -> f64 {
        (1.0 - (index - self.at).abs() as f64 / reach.max(1.0)).max(0.0)
    }
}

/// Generated frame `index` (`[3, H, W]`) with the residuals carried in. With two residuals
/// `reach` apart (infill) the weights interpolate linearly between them and sum to one across
/// the gap.
pub fn carry(frame: &Tensor, index: i64, residuals: &[Residual], reach: f64) -> Result<Tensor, ModelError> {
    let mut out = frame.f_to_kind(tch::Kind::Float)?;
    for r in residuals {
        if r.diff.size() != out.size() {
            return Err(ModelError::InvalidInput(format!(
                "seam: residual {:?} does not match the generated frame {:?}",
                r.diff.size(),
                out.size()
            )));
        }
        let w = r.weight(index, reach);
        if w > 0.0 {
            out = out.f_add(&r.diff.f_mul_scalar(w)?)?;
        }
    }
    Ok(out)
}

/// [`carry`] over frames `[F, 3, H, W]`, frame `i` at timeline position `i`.
pub fn carry_frames(frames: &Tensor, residuals: &[Residual], reach: f64) -> Result<Tensor, ModelError> {
    let n = frames.size()[0];
    let carried = (0..n).map(|i| carry(&frames.f_get(i)?, i, residuals, reach)).collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::f_stack(&carried, 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    fn flat(v: f64) -> Tensor {
        Tensor::full([3, 4, 5], v, (Kind::Float, tch::Device::Cpu))
    }

    fn value(t: &Tensor) -> f64 {
        t.mean(Kind::Float).double_value(&[])
    }

    #[test]
    fn a_real_frame_before_the_clip_fades_out_over_the_reach() {
        let frames = Tensor::zeros([6, 3, 4, 5], (Kind::Float, tch::Device::Cpu));
        let r = Residual::new(-1, &flat(0.5), &flat(0.3)).unwrap();
        let out = carry_frames(&frames, &[r], 4.0).unwrap();
        let got: Vec<f64> = (0..6).map(|i| value(&out.get(i))).collect();
        let want = [0.15, 0.1, 0.05, 0.0, 0.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn a_real_frame_inside_the_clip_is_matched_exactly_there() {
        let made = crate::rng::rand(&[3, 4, 5]);
        let real = crate::rng::rand(&[3, 4, 5]);
        let r = Residual::new(0, &real, &made).unwrap();
        let out = carry(&made, 0, &[r], 24.0).unwrap();
        assert!(out.allclose(&real, 1e-6, 1e-6, false));
    }

    #[test]
    fn two_ends_interpolate_linearly_and_meet_both() {
        // A gap of 3 frames between real frames at -1 and 3.
        let frames = Tensor::zeros([3, 3, 4, 5], (Kind::Float, tch::Device::Cpu));
        let first = Residual::new(-1, &flat(0.4), &flat(0.0)).unwrap();
        let last = Residual::new(3, &flat(0.0), &flat(0.4)).unwrap();
        let out = carry_frames(&frames, &[first, last], 4.0).unwrap();
        let got: Vec<f64> = (0..3).map(|i| value(&out.get(i))).collect();
        for (g, w) in got.iter().zip([0.2, 0.0, -0.2]) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
        // Equal residuals at both ends reach every frame in full.
        let a = Residual::new(-1, &flat(0.3), &flat(0.1)).unwrap();
        let b = Residual::new(3, &flat(0.3), &flat(0.1)).unwrap();
        let out = carry_frames(&frames, &[a, b], 4.0).unwrap();
        assert!((out - 0.2).abs().max().double_value(&[]) < 1e-6);
    }

    #[test]
    fn mismatched_sizes_and_nan_footage_are_handled() {
        assert!(Residual::new(0, &flat(0.0), &Tensor::zeros([3, 4, 6], (Kind::Float, tch::Device::Cpu))).is_err());
        let r = Residual::new(0, &flat(0.0), &flat(0.0)).unwrap();
        assert!(carry(&Tensor::zeros([3, 2, 2], (Kind::Float, tch::Device::Cpu)), 0, &[r], 4.0).is_err());
        let nan = flat(f64::NAN);
        let r = Residual::new(0, &nan, &flat(0.5)).unwrap();
        let out = carry(&flat(0.5), 0, &[r], 4.0).unwrap();
        assert!((value(&out) - 0.5).abs() < 1e-6);
    }
}
