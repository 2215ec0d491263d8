//! Source frames as the models see them: fetched from the host once per render action, converted
//! to display-referred RGB tensors (plus alpha), and remembered for the rest of the action so that
//! planning and interpolation never fetch a frame twice. Host images are released as soon as they
//! are converted.
use std::collections::HashMap;
use std::rc::Rc;

use bridge::convert::{image_to_tensor, tensor_to_image, ColorSpace};
use bridge::effect::{Clip, Image};
use bridge::ofx::OfxRectI;
use bridge::pixels::{BitDepth, Components, ImageView, PixelLayout};
use tch::{Kind, Tensor};

use crate::PluginError;

/// The user's colour-space parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Linear,
    Display,
}

impl ColorChoice {
    pub fn from_index(i: i32) -> Self {
        match i {
            1 => ColorChoice::Linear,
            2 => ColorChoice::Display,
            _ => ColorChoice::Auto,
        }
    }

    fn space(self) -> ColorSpace {
        match self {
            ColorChoice::Auto => ColorSpace::Auto,
            ColorChoice::Linear => ColorSpace::Linear,
            ColorChoice::Display => ColorSpace::Srgb,
        }
    }
}

pub struct Frame {
    /// [3, H, W] f32, display-referred (sRGB-encoded), top row first.
    pub display: Tensor,
    pub alpha: Option<Tensor>,
    /// NaN or infinite values in the host's pixels (they are zeroed in `display`).
    pub non_finite: usize,
}

impl Frame {
    pub fn mean_luma(&self) -> f64 {
        let w = Tensor::from_slice(&[0.2126f32, 0.7152, 0.0722]).view([3, 1, 1]);
        (&self.display * w).sum_dim_intlist(0, false, Kind::Float).mean(Kind::Float).double_value(&[])
    }

    pub fn mean_abs_diff(&self, other: &Frame) -> f64 {
        if self.display.size() != other.display.size() {
            return f64::INFINITY;
        }
        (&self.display - &other.display).abs().mean(Kind::Float).double_value(&[])
    }
}

pub struct SourceFrames<'a> {
    clip: &'a Clip,
    window: OfxRectI,
    color: ColorChoice,
    memo: HashMap<i64, Option<Rc<Frame>>>,
}

impl<'a> SourceFrames<'a> {
    pub fn new(clip: &'a Clip, window: OfxRectI, color: ColorChoice) -> Self {
        SourceFrames { clip, window, color, memo: HashMap::new() }
    }

    /// `None` when the host cannot deliver the frame (dropped, missing, outside the clip).
    pub fn get(&mut self, f: i64) -> Result<Option<Rc<Frame>>, PluginError> {
        if let Some(frame) = self.memo.get(&f) {
            return Ok(frame.clone());
        }
        let frame = match self.clip.image(f as f64, None)? {
            Some(image) => Some(Rc::new(self.convert(&image)?)),
            None => None,
        };
        self.memo.insert(f, frame.clone());
        Ok(frame)
    }

    /// A frame the plan relies on: its absence is an error naming the frame.
    pub fn require(&mut self, f: i64) -> Result<Rc<Frame>, PluginError> {
        self.get(f)?.ok_or_else(|| PluginError::Input(format!("the host could not deliver source frame {f}")))
    }

    fn convert(&self, image: &Image) -> Result<Frame, PluginError> {
        let view = view_of(image)?;
        let planes = image_to_tensor(&view, self.window, self.color.space())?;
        Ok(Frame { display: planes.rgb, alpha: planes.alpha, non_finite: planes.non_finite })
    }

    /// Writes display-referred `rgb` (and `alpha`) into the host's output image, converting back to
    /// the colour space the source came in.
    pub fn write(&self, rgb: &Tensor, alpha: Option<&Tensor>, out: &mut Image) -> Result<(), PluginError> {
        write_display(rgb, alpha, out, self.window, self.color)
    }
}

/// Writes display-referred `rgb` `[3, H, W]` (and `alpha`) covering `window` into a host image,
/// converting to the colour space the user chose for it.
pub fn write_display(
    rgb: &Tensor,
    alpha: Option<&Tensor>,
    out: &mut Image,
    window: OfxRectI,
    color: ColorChoice,
) -> Result<(), PluginError> {
    let mut view = view_of(out)?;
    tensor_to_image(rgb, alpha, &mut view, window, color.space())?;
    Ok(())
}

/// The raw view of a host image's memory, validated.
fn view_of(image: &Image) -> Result<ImageView, PluginError> {
    let depth = image.depth()?;
    let components = image.components()?;
    let layout = PixelLayout {
        bounds: image.bounds()?,
        row_bytes: image.row_bytes()?,
        depth: BitDepth::from_ofx(&depth)
            .ok_or_else(|| PluginError::Input(format!("unsupported pixel depth '{depth}'")))?,
        components: Components::from_ofx(&components)
            .ok_or_else(|| PluginError::Input(format!("unsupported pixel components '{components}'")))?,
    };
    // The host keeps the pixels alive until the image is released, which happens after this view
    // is last used (the view never outlives the `Image` borrowed here).
    Ok(unsafe { ImageView::new(image.data()?, layout)? })
}
