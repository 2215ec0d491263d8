//! What feeds a clip: frames from memory, a video file or a PNG sequence, with the defects a real
//! timeline has (frames the host cannot deliver, NaN pixels) and the host's image format.
use std::collections::BTreeSet;
use std::path::Path;

use crate::frame::{Format, Frame};
use crate::media;
use crate::HostError;

#[derive(Clone, Debug)]
pub struct ClipSource {
    pub first: i64,
    pub frames: Vec<Frame>,
    pub fps: f64,
    /// Frames the host cannot deliver: clipGetImage fails with a NULL image.
    pub missing: BTreeSet<i64>,
    /// Frames whose pixels are poisoned with NaN (a broken upstream node).
    pub nan_frames: BTreeSet<i64>,
    pub format: Format,
    /// Depth and components names reported on images instead of the real ones: how a host (or a
    /// future OpenFX version) with a format the plugin does not know looks to the plugin.
    pub reported_format: Option<(String, String)>,
}

impl ClipSource {
    /// In-memory frames numbered from 0.
    pub fn frames(frames: Vec<Frame>, fps: f64) -> ClipSource {
        ClipSource {
            first: 0,
            frames,
            fps,
            missing: BTreeSet::new(),
            nan_frames: BTreeSet::new(),
            format: Format::default(),
            reported_format: None,
        }
    }

    /// `count` frames of a video (decoded with ffmpeg) from frame `start`, numbered from 0.
    pub fn video(path: &Path, start: usize, count: Option<usize>) -> Result<ClipSource, HostError> {
        let (frames, fps) = media::decode_video(path, start, count)?;
        Ok(ClipSource::frames(frames, fps))
    }

    /// A directory of PNG files, in name order, at `fps`.
    pub fn png_dir(dir: &Path, fps: f64) -> Result<ClipSource, HostError> {
        Ok(ClipSource::frames(media::read_png_dir(dir)?, fps))
    }

    pub fn with_missing(mut self, frames: impl IntoIterator<Item = i64>) -> Self {
        self.missing.extend(frames);
        self
    }

    pub fn with_nan_frames(mut self, frames: impl IntoIterator<Item = i64>) -> Self {
        self.nan_frames.extend(frames);
        self
    }

    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn reporting_format(mut self, depth: &str, components: &str) -> Self {
        self.reported_format = Some((depth.to_string(), components.to_string()));
        self
    }

    pub fn with_first_frame(mut self, first: i64) -> Self {
        self.first = first;
        self
    }

    pub fn range(&self) -> (f64, f64) {
        (self.first as f64, (self.first + self.frames.len() as i64 - 1) as f64)
    }

    pub fn size(&self) -> (usize, usize) {
        self.frames.first().map_or((0, 0), |f| (f.width, f.height))
    }

    /// The frame a plugin gets at `time`, or None when the host has none there.
    pub fn frame_at(&self, time: f64) -> Option<Frame> {
        let t = time.round() as i64;
        if self.missing.contains(&t) || t < self.first {
            return None;
        }
        let mut frame = self.frames.get((t - self.first) as usize)?.clone();
        if self.nan_frames.contains(&t) {
            // A band of NaN across the middle, as a broken node would leave.
            let w = frame.width;
            let y = frame.height / 2;
            frame.rgba[y * w * 4..(y + 1) * w * 4].fill(f32::NAN);
        }
        Some(frame)
    }
}
