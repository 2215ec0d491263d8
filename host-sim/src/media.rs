//! Files in and out: video decoding through ffmpeg, PNG sequences, the animated preview and the
//! contact sheet.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::{imageops, Rgba, RgbaImage};

use crate::frame::Frame;
use crate::HostError;

fn probe(path: &Path) -> Result<(usize, usize, f64), HostError> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,r_frame_rate", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .map_err(|e| HostError::Media(format!("cannot run ffprobe (install ffmpeg): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.trim().split(',').collect();
    if !out.status.success() || fields.len() < 3 {
        return Err(HostError::Media(format!("{}: not a readable video ({})", path.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    let parse = |s: &str| s.parse::<usize>().map_err(|_| HostError::Media(format!("{}: bad size {s}", path.display())));
    let fps = match fields[2].split_once('/') {
        Some((a, b)) => a.parse::<f64>().unwrap_or(25.0) / b.parse::<f64>().unwrap_or(1.0).max(1.0),
        None => fields[2].parse().unwrap_or(25.0),
    };
    Ok((parse(fields[0])?, parse(fields[1])?, fps))
}

/// Decodes frames `start..start+count` of a video to f32 RGBA (16-bit decode, so nothing is lost).
pub fn decode_video(path: &Path, start: usize, count: Option<usize>) -> Result<(Vec<Frame>, f64), HostError> {
    let (w, h, fps) = probe(path)?;
    let mut filter = format!("select=gte(n\\,{start})");
    if let Some(n) = count {
        filter = format!("select=between(n\\,{start}\\,{})", start + n.max(1) - 1);
    }
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &filter, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb48le", "-"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HostError::Media(format!("cannot run ffmpeg: {e}")))?;
    if !out.status.success() {
        return Err(HostError::Media(format!("ffmpeg failed on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    let frame_bytes = w * h * 6;
    let frames: Vec<Frame> = out
        .stdout
        .chunks_exact(frame_bytes)
        .map(|raw| {
            let mut f = Frame::new(w, h);
            for (px, rgb) in f.rgba.chunks_exact_mut(4).zip(raw.chunks_exact(6)) {
                for c in 0..3 {
                    px[c] = u16::from_le_bytes([rgb[2 * c], rgb[2 * c + 1]]) as f32 / 65535.0;
                }
                px[3] = 1.0;
            }
            f
        })
        .collect();
    if frames.is_empty() {
        return Err(HostError::Media(format!("{}: no frames decoded from frame {start}", path.display())));
    }
    Ok((frames, fps))
}

/// Calls `f` with every frame of a video in order, decoded by ffmpeg to 16-bit RGB, holding one
/// frame in memory at a time (for long or large clips). Returns the number of frames.
pub fn for_each_video_frame(path: &Path, mut f: impl FnMut(usize, Frame) -> Result<(), HostError>) -> Result<usize, HostError> {
    use std::io::Read;
    let (w, h, _) = probe(path)?;
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb48le", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HostError::Media(format!("cannot run ffmpeg: {e}")))?;
    let mut stdout = child.stdout.take().ok_or_else(|| HostError::Media("ffmpeg: no output pipe".into()))?;
    let mut raw = vec![0u8; w * h * 6];
    let mut n = 0;
    let mut result = Ok(());
    loop {
        match stdout.read_exact(&mut raw) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                result = Err(HostError::Media(format!("{}: reading decoded frames: {e}", path.display())));
                break;
            }
        }
        let mut frame = Frame::new(w, h);
        for (px, rgb) in frame.rgba.chunks_exact_mut(4).zip(raw.chunks_exact(6)) {
            for c in 0..3 {
                px[c] = u16::from_le_bytes([rgb[2 * c], rgb[2 * c + 1]]) as f32 / 65535.0;
            }
            px[3] = 1.0;
        }
        if let Err(e) = f(n, frame) {
            result = Err(e);
            break;
        }
        n += 1;
    }
    drop(stdout);
    if result.is_err() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().map_err(|e| HostError::Media(format!("ffmpeg: {e}")))?;
    result?;
    if !out.status.success() {
        return Err(HostError::Media(format!("ffmpeg failed on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    if n == 0 {
        return Err(HostError::Media(format!("{}: no frames decoded", path.display())));
    }
    Ok(n)
}

/// The PNG files of a directory, in name order.
pub fn png_files(dir: &Path) -> Result<Vec<PathBuf>, HostError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HostError::Media(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    Ok(files)
}

/// One image file (PNG, JPEG, GIF's first frame) as an f32 RGBA frame.
pub fn read_image(path: &Path) -> Result<Frame, HostError> {
    let img = image::open(path).map_err(|e| HostError::Media(format!("{}: {e}", path.display())))?.into_rgba16();
    let mut f = Frame::new(img.width() as usize, img.height() as usize);
    for (px, s) in f.rgba.chunks_exact_mut(4).zip(img.pixels()) {
        for (v, c) in px.iter_mut().zip(s.0) {
            *v = c as f32 / 65535.0;
        }
    }
    Ok(f)
}

pub fn read_png_dir(dir: &Path) -> Result<Vec<Frame>, HostError> {
    let files = png_files(dir)?;
    if files.is_empty() {
        return Err(HostError::Media(format!("{}: no PNG files", dir.display())));
    }
    files.iter().map(|p| read_image(p)).collect()
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

pub fn to_rgba8(f: &Frame) -> RgbaImage {
    RgbaImage::from_fn(f.width as u32, f.height as u32, |x, y| {
        let p = f.pixel(x as usize, y as usize);
        Rgba([to_u8(p[0]), to_u8(p[1]), to_u8(p[2]), to_u8(p[3])])
    })
}

pub fn write_png(f: &Frame, path: &Path, sixteen_bit: bool) -> Result<(), HostError> {
    let err = |e: image::ImageError| HostError::Media(format!("{}: {e}", path.display()));
    if sixteen_bit {
        let img = image::ImageBuffer::<Rgba<u16>, Vec<u16>>::from_fn(f.width as u32, f.height as u32, |x, y| {
            let p = f.pixel(x as usize, y as usize);
            Rgba(p.map(|v| (v.clamp(0.0, 1.0) * 65535.0).round() as u16))
        });
        img.save(path).map_err(err)
    } else {
        to_rgba8(f).save(path).map_err(err)
    }
}

fn thumbnail(f: &Frame, max_width: u32) -> RgbaImage {
    let img = to_rgba8(f);
    if img.width() <= max_width {
        return img;
    }
    let h = (img.height() as u64 * max_width as u64 / img.width() as u64).max(1) as u32;
    imageops::resize(&img, max_width, h, imageops::FilterType::Triangle)
}

/// An animated GIF at the clip's frame rate, at most 480 pixels wide.
pub fn write_preview(frames: &[&Frame], fps: f64, path: &Path) -> Result<(), HostError> {
    let file = std::fs::File::create(path).map_err(|e| HostError::Media(format!("{}: {e}", path.display())))?;
    let mut enc = image::codecs::gif::GifEncoder::new_with_speed(file, 10);
    enc.set_repeat(image::codecs::gif::Repeat::Infinite).map_err(|e| HostError::Media(e.to_string()))?;
    let delay = image::Delay::from_numer_denom_ms(1000, fps.max(1.0).round() as u32);
    for f in frames {
        let mut thumb = thumbnail(f, 480);
        thumb.pixels_mut().for_each(|p| p.0[3] = 255);
        enc.encode_frame(image::Frame::from_parts(thumb, 0, 0, delay)).map_err(|e| HostError::Media(e.to_string()))?;
    }
    Ok(())
}

/// A grid of thumbnails in frame order; `marked` frames get a red border (e.g. frames the host
/// could not deliver, which the effect had to rebuild).
pub fn write_contact_sheet(frames: &[(i64, &Frame)], marked: &[i64], path: &Path) -> Result<(), HostError> {
    let Some((_, first)) = frames.first() else { return Err(HostError::Media("contact sheet of no frames".into())) };
    let tw = 160.min(first.width as u32).max(1);
    let th = (first.height as u64 * tw as u64 / first.width.max(1) as u64).max(1) as u32;
    let cols = 8u32.min(frames.len() as u32);
    let rows = (frames.len() as u32).div_ceil(cols);
    let pad = 4;
    let mut sheet = RgbaImage::from_pixel(cols * (tw + pad) + pad, rows * (th + pad) + pad, Rgba([24, 24, 24, 255]));
    for (i, (t, f)) in frames.iter().enumerate() {
        let (x, y) = (pad + (i as u32 % cols) * (tw + pad), pad + (i as u32 / cols) * (th + pad));
        let mut thumb = imageops::resize(&to_rgba8(f), tw, th, imageops::FilterType::Triangle);
        thumb.pixels_mut().for_each(|p| p.0[3] = 255);
        if marked.contains(t) {
            for (px, py, p) in thumb.enumerate_pixels_mut() {
                if px < 3 || py < 3 || px + 3 >= tw || py + 3 >= th {
                    *p = Rgba([230, 40, 40, 255]);
                }
            }
        }
        imageops::overlay(&mut sheet, &thumb, x as i64, y as i64);
    }
    sheet.save(path).map_err(|e| HostError::Media(format!("{}: {e}", path.display())))
}

// --- Provenance of what host-sim writes: the GenVideo watermark and C2PA manifests (the `safety`
// crate, re-exported so that users of host-sim's library, such as the end-to-end tests, have it).
pub use safety::{provenance, watermark};

/// Embeds the GenVideo watermark of `class` in a frame, as a generating plugin does to its output.
pub fn embed_mark(f: &mut Frame, class: watermark::MarkClass) -> Result<(), HostError> {
    watermark::embed(&mut f.rgba, f.width, f.height, 4, class).map_err(|e| HostError::Media(e.to_string()))
}

/// Looks for the GenVideo watermark in a frame.
pub fn detect_mark(f: &Frame) -> watermark::Detection {
    watermark::detect(&f.rgba, f.width, f.height, 4)
}

/// Signs a written file in place with a C2PA manifest, with the default credentials
/// (`installers/make_signing_cert`, or `GENVIDEO_C2PA_*`).
pub fn sign(path: &Path, info: &provenance::ManifestInfo) -> Result<(), HostError> {
    provenance::sign_file(path, path, info).map_err(|e| HostError::Media(format!("provenance: {e}")))
}
