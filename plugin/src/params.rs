//! Every effect's parameters: names (stable script names that projects save), labels, ranges.
use bridge::params::{ParamDesc, ParamKind, StringMode};
use std::ffi::CStr;

use crate::Effect;

pub const MODE: &CStr = c"mode";
pub const FRAMES: &CStr = c"frames";
pub const AUTO_DETECT: &CStr = c"autoDetect";
pub const DUPLICATE_THRESHOLD: &CStr = c"duplicateThreshold";
pub const BLACK_THRESHOLD: &CStr = c"blackThreshold";
pub const MAX_GAP: &CStr = c"maxGap";
pub const AT_CLIP_ENDS: &CStr = c"atClipEnds";
pub const INBETWEENS: &CStr = c"inbetweens";
pub const COLOR_SPACE: &CStr = c"colorSpace";
pub const FLOW_SCALE: &CStr = c"flowScale";

pub const PROMPT: &CStr = c"prompt";
pub const NEGATIVE_PROMPT: &CStr = c"negativePrompt";
pub const SEED: &CStr = c"seed";
pub const STEPS: &CStr = c"steps";
pub const GUIDANCE: &CStr = c"guidance";
pub const DURATION: &CStr = c"duration";
pub const DIRECTION: &CStr = c"direction";
pub const EXTEND_FRAMES: &CStr = c"extendFrames";
pub const MODEL_DIR: &CStr = c"modelDir";
pub const MAX_SIDE: &CStr = c"maxSide";
pub const GENERATIVE_ABOVE: &CStr = c"generativeAbove";

pub const MODE_OPTIONS: &[&str] = &["Repair frames", "Retime (add in-betweens)"];
pub const AUTO_DETECT_OPTIONS: &[&str] = &["Off", "Duplicated frames", "Black frames", "Duplicated and black frames"];
pub const AT_CLIP_ENDS_OPTIONS: &[&str] = &["Report an error", "Hold nearest good frame"];
pub const COLOR_SPACE_OPTIONS: &[&str] = &["Auto (by bit depth)", "Scene-linear", "Display (sRGB)"];
pub const FLOW_SCALE_OPTIONS: &[&str] = &["Auto (by resolution)", "Full", "Half", "Quarter"];
pub const DIRECTION_OPTIONS: &[&str] = &["Forward (after the clip)", "Backward (before the clip)"];

fn p(name: &'static CStr, label: &'static str, hint: &'static str, kind: ParamKind) -> ParamDesc {
    ParamDesc { name, label, hint, kind, parent: None, animates: false }
}

fn int(default: i32, min: i32, max: i32) -> ParamKind {
    ParamKind::Int { default, min, max, display_min: min, display_max: max }
}

fn double(default: f64, min: f64, max: f64, display_max: f64) -> ParamKind {
    ParamKind::Double { default, min, max, display_min: min, display_max }
}

fn choice(options: &'static [&'static str]) -> ParamKind {
    ParamKind::Choice { options, default: 0 }
}

fn text(mode: StringMode) -> ParamKind {
    ParamKind::String { default: "", mode }
}

fn color_space() -> ParamDesc {
    p(
        COLOR_SPACE,
        "Colour space",
        "How host pixels map to the model's display-referred range. Auto: 8/16-bit integer images are display \
         (sRGB) encoded, half/float images are scene-linear, as compositors deliver them.",
        choice(COLOR_SPACE_OPTIONS),
    )
}

fn model_dir() -> ParamDesc {
    p(
        MODEL_DIR,
        "Model folder",
        "An LTX-Video checkpoint in diffusers format (the folder holding model_index.json). Empty: the \
         embedded default model (genvideo-mini: a toy world of simple shapes at 128x128, shipped in \
         the bundle).",
        text(StringMode::DirectoryPath),
    )
}

fn generative_common() -> Vec<ParamDesc> {
    vec![
        p(PROMPT, "Prompt", "What the generated video shows.", text(StringMode::MultiLine)),
        p(SEED, "Seed", "Same seed and settings give the same clip.", int(0, 0, i32::MAX)),
        p(STEPS, "Steps", "Denoising steps: more is slower and finer.", int(30, 1, 200)),
        p(GUIDANCE, "Guidance", "How strongly the prompt steers the result.", double(3.0, 1.0, 20.0, 10.0)),
        model_dir(),
        p(MAX_SIDE, "Longest side", "The model works at this many pixels on the frame's longest side (or less) and the result is scaled to the frame: larger is sharper and slower. A model with a native size (the embedded one: 256) works at that size at most.", int(768, 64, 4096)),
    ]
}

pub fn describe(effect: Effect) -> Vec<ParamDesc> {
    match effect {
        Effect::Infill => vec![
            p(MODE, "Mode", "Repair rebuilds bad frames in place; Retime adds in-between frames for slow motion.", choice(MODE_OPTIONS)),
            p(FRAMES, "Frames to rebuild", "Frames to replace, e.g. \"12-15, 40\". Frames the host cannot deliver are always rebuilt.", text(StringMode::SingleLine)),
            p(AUTO_DETECT, "Auto-detect", "Also rebuild frames that repeat their predecessor or are black.", choice(AUTO_DETECT_OPTIONS)),
            p(DUPLICATE_THRESHOLD, "Duplicate threshold", "Mean difference to the previous frame, in 8-bit code values, below which a frame counts as a duplicate.", double(0.5, 0.0, 20.0, 5.0)),
            p(BLACK_THRESHOLD, "Black threshold", "Mean brightness (0-1, display) below which a frame counts as black.", double(0.02, 0.0, 0.5, 0.1)),
            p(MAX_GAP, "Longest gap", "Longest run of bad frames to rebuild; longer gaps are reported, not smeared.", int(8, 1, 480)),
            p(AT_CLIP_ENDS, "At clip ends", "What to do when a gap touches the start or end of the clip.", choice(AT_CLIP_ENDS_OPTIONS)),
            p(INBETWEENS, "In-betweens", "Retime: new frames between each pair of source frames (1 doubles the frame count).", int(1, 1, 31)),
            p(FLOW_SCALE, "Flow resolution", "Resolution of motion estimation: Auto uses half above 2K.", choice(FLOW_SCALE_OPTIONS)),
            p(GENERATIVE_ABOVE, "Generate gaps longer than", "Gaps of more frames than this are generated by the video model (the Model folder's, or the embedded one) from the frames on both sides; shorter gaps are interpolated with RIFE.", int(4, 1, 64)),
            p(PROMPT, "Prompt", "Generated gaps: what the missing frames show (optional).", text(StringMode::MultiLine)),
            p(SEED, "Seed", "Generated gaps: same seed and settings give the same frames.", int(0, 0, i32::MAX)),
            p(STEPS, "Steps", "Generated gaps: denoising steps.", int(30, 1, 200)),
            p(GUIDANCE, "Guidance", "Generated gaps: how strongly the prompt steers the result.", double(3.0, 1.0, 20.0, 10.0)),
            model_dir(),
            p(MAX_SIDE, "Longest side", "Generated gaps: the model's working size on the longest side (at most the native size of a model that has one, 256 for the embedded one).", int(768, 64, 4096)),
            color_space(),
        ],
        Effect::Generate => {
            let mut v = generative_common();
            v.insert(1, p(NEGATIVE_PROMPT, "Negative prompt", "What to avoid.", text(StringMode::MultiLine)));
            v.push(p(DURATION, "Duration (s)", "Length of the generated clip in seconds.", double(5.0, 0.1, 60.0, 20.0)));
            v.push(color_space());
            v
        }
        Effect::Extend => {
            let mut v = generative_common();
            v.insert(0, p(DIRECTION, "Direction", "Continue the clip after its last frame or before its first.", choice(DIRECTION_OPTIONS)));
            v.insert(1, p(EXTEND_FRAMES, "Frames", "How many frames to add.", int(48, 1, 1440)));
            v.push(color_space());
            v
        }
    }
}
