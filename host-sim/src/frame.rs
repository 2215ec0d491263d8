//! Frames as host-sim keeps them (f32 RGBA, top row first) and as it lends them to a plugin
//! (any OpenFX depth and components, lower-left origin, either row order, any bounds).
use bridge::ofx::OfxRectI;
use bridge::pixels::{read_samples, write_samples, BitDepth, Components};

#[derive(Clone, Debug)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    /// RGBA, row 0 = top of the picture.
    pub rgba: Vec<f32>,
}

impl Frame {
    pub fn new(width: usize, height: usize) -> Frame {
        Frame { width, height, rgba: vec![0.0; width * height * 4] }
    }

    pub fn pixel(&self, x: usize, y: usize) -> [f32; 4] {
        let i = (y * self.width + x) * 4;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2], self.rgba[i + 3]]
    }
}

/// How a host presents images to the plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub depth: BitDepth,
    pub components: Components,
    /// Top-down storage: the data pointer is at the last row in memory and row bytes are negative.
    pub negative_row_bytes: bool,
    /// Where the image's lower-left pixel sits (hosts with a non-zero data window).
    pub origin: (i32, i32),
}

impl Default for Format {
    fn default() -> Self {
        Format { depth: BitDepth::Float, components: Components::Rgba, negative_row_bytes: false, origin: (0, 0) }
    }
}

/// Pixel memory lent to the plugin, with the values of its image properties.
pub struct HostBuffer {
    pub bytes: Vec<u8>,
    /// Byte offset of the lower-left pixel (kOfxImagePropData).
    pub data_offset: usize,
    pub row_bytes: isize,
    pub bounds: OfxRectI,
    pub format: Format,
}

impl HostBuffer {
    pub fn blank(width: usize, height: usize, format: Format) -> HostBuffer {
        let px = format.depth.bytes() * format.components.count();
        // Rows padded to 16 bytes, as real hosts align them: plugins must honour row bytes.
        let stride = (width * px).div_ceil(16) * 16 + 16;
        let bytes = vec![0u8; stride * height.max(1)];
        let data_offset = if format.negative_row_bytes { stride * height.saturating_sub(1) } else { 0 };
        let (x, y) = format.origin;
        HostBuffer {
            bytes,
            data_offset,
            row_bytes: if format.negative_row_bytes { -(stride as isize) } else { stride as isize },
            bounds: OfxRectI { x1: x, y1: y, x2: x + width as i32, y2: y + height as i32 },
            format,
        }
    }

    /// Byte range of OFX row `r` (0 = bottom).
    fn row_range(&self, r: usize) -> std::ops::Range<usize> {
        let start = (self.data_offset as isize + r as isize * self.row_bytes) as usize;
        let width = (self.bounds.x2 - self.bounds.x1) as usize;
        start..start + width * self.format.depth.bytes() * self.format.components.count()
    }

    pub fn from_frame(frame: &Frame, format: Format) -> HostBuffer {
        let mut buf = HostBuffer::blank(frame.width, frame.height, format);
        let c = format.components.count();
        let mut samples = vec![0f32; frame.width * c];
        for r in 0..frame.height {
            let top = frame.height - 1 - r;
            let src = &frame.rgba[top * frame.width * 4..(top + 1) * frame.width * 4];
            for (px, out) in src.chunks_exact(4).zip(samples.chunks_exact_mut(c)) {
                match format.components {
                    Components::Rgba => out.copy_from_slice(px),
                    Components::Rgb => out.copy_from_slice(&px[..3]),
                    Components::Alpha => out[0] = px[3],
                }
            }
            let range = buf.row_range(r);
            write_samples(&samples, format.depth, &mut buf.bytes[range]);
        }
        buf
    }

    pub fn to_frame(&self) -> Frame {
        let (w, h) = ((self.bounds.x2 - self.bounds.x1) as usize, (self.bounds.y2 - self.bounds.y1) as usize);
        let mut frame = Frame::new(w, h);
        let c = self.format.components.count();
        let mut samples = vec![0f32; w * c];
        for r in 0..h {
            read_samples(&self.bytes[self.row_range(r)], self.format.depth, &mut samples);
            let top = h - 1 - r;
            let dst = &mut frame.rgba[top * w * 4..(top + 1) * w * 4];
            for (px, s) in dst.chunks_exact_mut(4).zip(samples.chunks_exact(c)) {
                match self.format.components {
                    Components::Rgba => px.copy_from_slice(s),
                    Components::Rgb => px.copy_from_slice(&[s[0], s[1], s[2], 1.0]),
                    Components::Alpha => px.copy_from_slice(&[s[0], s[0], s[0], s[0]]),
                }
            }
        }
        frame
    }

    pub fn data_ptr(&mut self) -> *mut u8 {
        unsafe { self.bytes.as_mut_ptr().add(self.data_offset) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips() {
        let mut f = Frame::new(5, 3);
        for (i, v) in f.rgba.iter_mut().enumerate() {
            *v = (i % 17) as f32 / 16.0;
        }
        for depth in [BitDepth::Byte, BitDepth::Short, BitDepth::Half, BitDepth::Float] {
            for negative in [false, true] {
                let fmt = Format { depth, components: Components::Rgba, negative_row_bytes: negative, origin: (-8, 4) };
                let back = HostBuffer::from_frame(&f, fmt).to_frame();
                let err = f.rgba.iter().zip(&back.rgba).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                assert!(err < 2.5e-3, "{depth:?} {negative}: {err}");
            }
        }
    }
}
