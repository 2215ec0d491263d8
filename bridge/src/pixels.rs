//! The memory of a host image as OpenFX describes it: a pointer to the lower-left pixel of
//! `bounds`, rows `row_bytes` apart going *up* the picture (negative when the host stores the
//! picture top-down), samples of one depth, packed components. Shared by the plugin and host-sim,
//! so it knows nothing of tensors.
use std::ffi::CStr;

use half::f16;

use crate::ofx::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitDepth {
    Byte,
    Short,
    Half,
    Float,
}

impl BitDepth {
    pub fn from_ofx(s: &str) -> Option<Self> {
        [BitDepth::Byte, BitDepth::Short, BitDepth::Half, BitDepth::Float]
            .into_iter()
            .find(|d| d.as_ofx().to_bytes() == s.as_bytes())
    }

    pub fn as_ofx(self) -> &'static CStr {
        match self {
            BitDepth::Byte => kOfxBitDepthByte,
            BitDepth::Short => kOfxBitDepthShort,
            BitDepth::Half => kOfxBitDepthHalf,
            BitDepth::Float => kOfxBitDepthFloat,
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            BitDepth::Byte => 1,
            BitDepth::Short | BitDepth::Half => 2,
            BitDepth::Float => 4,
        }
    }

    /// Integer depths carry display-encoded code values; half and float usually scene-linear.
    pub fn is_float(self) -> bool {
        matches!(self, BitDepth::Half | BitDepth::Float)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Components {
    Rgba,
    Rgb,
    Alpha,
}

impl Components {
    pub fn from_ofx(s: &str) -> Option<Self> {
        [Components::Rgba, Components::Rgb, Components::Alpha]
            .into_iter()
            .find(|c| c.as_ofx().to_bytes() == s.as_bytes())
    }

    pub fn as_ofx(self) -> &'static CStr {
        match self {
            Components::Rgba => kOfxImageComponentRGBA,
            Components::Rgb => kOfxImageComponentRGB,
            Components::Alpha => kOfxImageComponentAlpha,
        }
    }

    pub fn count(self) -> usize {
        match self {
            Components::Rgba => 4,
            Components::Rgb => 3,
            Components::Alpha => 1,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PixelError {
    #[error("unsupported pixel depth '{0}' (GenVideo takes 8-bit, 16-bit, half and float images)")]
    UnsupportedDepth(String),
    #[error("unsupported pixel components '{0}' (GenVideo takes RGBA, RGB and Alpha images)")]
    UnsupportedComponents(String),
    #[error("the host gave an image with no pixel data")]
    NullData,
    #[error("image bounds {0:?} are inverted")]
    BadBounds(OfxRectI),
    #[error("row bytes {row_bytes} too small for {width} pixels of {components:?} {depth:?}")]
    RowBytes { row_bytes: isize, width: usize, depth: BitDepth, components: Components },
    #[error("image is {width}x{height}, over the {limit}-pixel side limit")]
    TooLarge { width: usize, height: usize, limit: usize },
    #[error("pixel buffer of shape {got:?} does not match the {want:?} window")]
    Shape { got: Vec<i64>, want: Vec<i64> },
}

/// Host samples of one row (or part) to f32: integers scale to 0..1, half/float pass through.
pub fn read_samples(row: &[u8], depth: BitDepth, out: &mut [f32]) {
    match depth {
        BitDepth::Byte => out.iter_mut().zip(row).for_each(|(o, v)| *o = *v as f32 / 255.0),
        BitDepth::Short => out
            .iter_mut()
            .zip(row.chunks_exact(2))
            .for_each(|(o, v)| *o = u16::from_ne_bytes([v[0], v[1]]) as f32 / 65535.0),
        BitDepth::Half => out
            .iter_mut()
            .zip(row.chunks_exact(2))
            .for_each(|(o, v)| *o = f16::from_ne_bytes([v[0], v[1]]).to_f32()),
        BitDepth::Float => out
            .iter_mut()
            .zip(row.chunks_exact(4))
            .for_each(|(o, v)| *o = f32::from_ne_bytes([v[0], v[1], v[2], v[3]])),
    }
}

/// The inverse of [`read_samples`]; integers are clamped to 0..1 and rounded.
pub fn write_samples(values: &[f32], depth: BitDepth, row: &mut [u8]) {
    match depth {
        BitDepth::Byte => row.iter_mut().zip(values).for_each(|(o, v)| *o = (v.clamp(0.0, 1.0) * 255.0).round() as u8),
        BitDepth::Short => row.chunks_exact_mut(2).zip(values).for_each(|(o, v)| {
            o.copy_from_slice(&((v.clamp(0.0, 1.0) * 65535.0).round() as u16).to_ne_bytes())
        }),
        BitDepth::Half => {
            row.chunks_exact_mut(2).zip(values).for_each(|(o, v)| o.copy_from_slice(&f16::from_f32(*v).to_ne_bytes()))
        }
        BitDepth::Float => row.chunks_exact_mut(4).zip(values).for_each(|(o, v)| o.copy_from_slice(&v.to_ne_bytes())),
    }
}

/// Largest image side accepted: past 32K pixels a host's bounds are far more likely garbage than
/// footage, and trusting them would mean reading or allocating wildly.
pub const MAX_SIDE: usize = 1 << 15;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelLayout {
    pub bounds: OfxRectI,
    pub row_bytes: isize,
    pub depth: BitDepth,
    pub components: Components,
}

impl PixelLayout {
    pub fn width(&self) -> usize {
        (self.bounds.x2 - self.bounds.x1).max(0) as usize
    }

    pub fn height(&self) -> usize {
        (self.bounds.y2 - self.bounds.y1).max(0) as usize
    }

    pub fn pixel_bytes(&self) -> usize {
        self.depth.bytes() * self.components.count()
    }

    pub fn validate(&self) -> Result<(), PixelError> {
        let b = self.bounds;
        if b.x2 < b.x1 || b.y2 < b.y1 {
            return Err(PixelError::BadBounds(b));
        }
        let (width, height) = (self.width(), self.height());
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(PixelError::TooLarge { width, height, limit: MAX_SIDE });
        }
        if self.row_bytes.unsigned_abs() < width * self.pixel_bytes() {
            return Err(PixelError::RowBytes {
                row_bytes: self.row_bytes,
                width,
                depth: self.depth,
                components: self.components,
            });
        }
        Ok(())
    }
}

/// A validated, borrowed view of a host image's pixels.
pub struct ImageView {
    data: *mut u8,
    layout: PixelLayout,
}

impl ImageView {
    /// # Safety
    /// `data` must point at the pixel (bounds.x1, bounds.y1) of a buffer holding `height` rows of
    /// at least `width * pixel_bytes` bytes, row `y` starting at `data + (y - y1) * row_bytes`,
    /// valid (and not written by anyone else) for as long as the view is used.
    pub unsafe fn new(data: *mut u8, layout: PixelLayout) -> Result<ImageView, PixelError> {
        layout.validate()?;
        if data.is_null() && layout.width() > 0 && layout.height() > 0 {
            return Err(PixelError::NullData);
        }
        Ok(ImageView { data, layout })
    }

    pub fn layout(&self) -> &PixelLayout {
        &self.layout
    }

    /// Bytes of pixels `x0..x1` (image coordinates, inside bounds) of row `y`.
    pub fn row(&self, y: i32, x0: i32, x1: i32) -> &[u8] {
        let (ptr, len) = self.row_span(y, x0, x1);
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    pub fn row_mut(&mut self, y: i32, x0: i32, x1: i32) -> &mut [u8] {
        let (ptr, len) = self.row_span(y, x0, x1);
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }

    fn row_span(&self, y: i32, x0: i32, x1: i32) -> (*mut u8, usize) {
        let b = self.layout.bounds;
        assert!(y >= b.y1 && y < b.y2 && x0 >= b.x1 && x1 <= b.x2 && x0 <= x1, "row span outside bounds");
        let px = self.layout.pixel_bytes();
        let offset = (y - b.y1) as isize * self.layout.row_bytes + ((x0 - b.x1) as usize * px) as isize;
        (unsafe { self.data.offset(offset) }, (x1 - x0) as usize * px)
    }
}

/// The part of `window` that lies inside `bounds` (possibly empty).
pub fn intersect(window: OfxRectI, bounds: OfxRectI) -> OfxRectI {
    let r = OfxRectI {
        x1: window.x1.max(bounds.x1),
        y1: window.y1.max(bounds.y1),
        x2: window.x2.min(bounds.x2),
        y2: window.y2.min(bounds.y2),
    };
    OfxRectI { x2: r.x2.max(r.x1), y2: r.y2.max(r.y1), ..r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(w: i32, h: i32, row_bytes: isize) -> PixelLayout {
        PixelLayout {
            bounds: OfxRectI { x1: -2, y1: 3, x2: w - 2, y2: h + 3 },
            row_bytes,
            depth: BitDepth::Float,
            components: Components::Rgba,
        }
    }

    #[test]
    fn names_round_trip() {
        for d in [BitDepth::Byte, BitDepth::Short, BitDepth::Half, BitDepth::Float] {
            assert_eq!(BitDepth::from_ofx(d.as_ofx().to_str().unwrap()), Some(d));
        }
        for c in [Components::Rgba, Components::Rgb, Components::Alpha] {
            assert_eq!(Components::from_ofx(c.as_ofx().to_str().unwrap()), Some(c));
        }
        assert_eq!(BitDepth::from_ofx("OfxBitDepthFoo"), None);
    }

    #[test]
    fn invalid_layouts_are_rejected() {
        let mut buf = vec![0u8; 4 * 16 * 4];
        assert!(matches!(unsafe { ImageView::new(buf.as_mut_ptr(), layout(4, 4, 32)) }, Err(PixelError::RowBytes { .. })));
        assert_eq!(unsafe { ImageView::new(std::ptr::null_mut(), layout(4, 4, 64)) }.err(), Some(PixelError::NullData));
        let mut inverted = layout(4, 4, 64);
        inverted.bounds.x2 = -5;
        assert!(matches!(unsafe { ImageView::new(buf.as_mut_ptr(), inverted) }, Err(PixelError::BadBounds(_))));
        assert!(matches!(layout(1 << 16, 1, 1 << 22).validate(), Err(PixelError::TooLarge { .. })));
        assert!(unsafe { ImageView::new(buf.as_mut_ptr(), layout(4, 4, 64)) }.is_ok());
    }

    #[test]
    fn negative_row_bytes_walk_up_from_the_last_row_in_memory() {
        // Top-down storage: memory row 0 is the top of the picture (OFX y = y2-1).
        let mut buf: Vec<u8> = (0..3 * 8).map(|i| i as u8).collect();
        let l = PixelLayout {
            bounds: OfxRectI { x1: 0, y1: 0, x2: 2, y2: 3 },
            row_bytes: -8,
            depth: BitDepth::Float,
            components: Components::Alpha,
        };
        let view = unsafe { ImageView::new(buf.as_mut_ptr().add(16), l) }.unwrap();
        assert_eq!(view.row(0, 0, 2), &[16, 17, 18, 19, 20, 21, 22, 23]);
        assert_eq!(view.row(2, 1, 2), &[4, 5, 6, 7]);
    }

    #[test]
    fn intersection_clips_and_never_inverts() {
        let b = OfxRectI { x1: 0, y1: 0, x2: 10, y2: 10 };
        assert_eq!(intersect(OfxRectI { x1: -5, y1: 2, x2: 4, y2: 20 }, b), OfxRectI { x1: 0, y1: 2, x2: 4, y2: 10 });
        let empty = intersect(OfxRectI { x1: 20, y1: 20, x2: 30, y2: 30 }, b);
        assert_eq!((empty.x2 - empty.x1, empty.y2 - empty.y1), (0, 0));
    }
}
