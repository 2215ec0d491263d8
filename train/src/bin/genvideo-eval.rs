//! `genvideo-eval`: measures the embedded default model from its pixels.
//!
//! - Prompt adherence: clips generated from captions of held-out attribute combinations (never
//!   sampled in training), with training-style wording and with paraphrases from a disjoint
//!   vocabulary. `toyworld::analyse` segments and tracks the object and names its background,
//!   colour, shape and motion; the same analyser on ground-truth renders of the same scenes is
//!   printed as its ceiling, and on the same renders passed through the VAE (encode, decode) as
//!   the ceiling of anything the transformer draws.
//! - Image-to-video: a rendered first frame pinned at 0; PSNR of the generated first frame, and
//!   the first step's change against the clip's median frame-to-frame change.
//! - Extension: the last 17 frames of a rendered clip pinned; the seam (first new frame against
//!   the source's last) against the source's median frame-to-frame change.
//! - Infill: 15 frames between two 17-frame keyframe runs of a rendered clip; PSNR against the
//!   ground truth, next to a linear cross-fade of the frames either side.
//!
//! Extension and infill are measured twice: the model's raw frames, and the frames as the plugin
//! delivers them, with the real frames' residuals carried across the seams (`models::seam`).
//!
//! Writes `metrics.json` and a PNG report (prompts with their frames) into `--out`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use image::{imageops, Rgb, RgbImage};
use models::pipeline_ltx::{Condition, GenerationRequest, LtxPipeline, SeededNoise};
use models::seam::{self, Residual};
use tch::{Device, Kind, Tensor};
use toyworld::analyse::{analyse, Analysis};
use toyworld::{caption, CaptionStyle, Scene, Shape, Split};
use train::measure::{attributes_right, pixels, psnr, render, render_span, round_trip, steps_change, working_request};
// The embedded model's working size (model_index.json `_genvideo.sample_width/height`).
use train::stages::{FPS, FRAMES, SIZE};

#[derive(Parser)]
#[command(about = "Evaluate the embedded default model (prompt adherence, i2v, extension, infill)")]
struct Args {
    #[arg(long, default_value = "embedded/genvideo-mini")]
    model: PathBuf,
    #[arg(long, default_value = train::measure::TEXT_ENCODER)]
    text_encoder: PathBuf,
    #[arg(long, default_value = "out/eval")]
    out: PathBuf,
    /// Prompts per adherence set (held-out wording, paraphrases).
    #[arg(long, default_value_t = 32)]
    prompts: usize,
    /// Clips per conditioning task (image-to-video, extension, infill).
    #[arg(long, default_value_t = 8)]
    clips: usize,
    #[arg(long)]
    steps: Option<usize>,
    #[arg(long)]
    guidance: Option<f64>,
    /// diffusers' `guidance_rescale`: the guided prediction's spread pulled back towards the
    /// text-conditioned one's by this share (0 = plain classifier-free guidance).
    #[arg(long, default_value_t = 0.0)]
    guidance_rescale: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Source frames an extension is conditioned on (1 + 8k); the plugin's Extend uses 17.
    #[arg(long, default_value_t = 17)]
    extend_context: i64,
    /// Only the ceilings: the analyser on the held-out ground truth and on its VAE round trip.
    #[arg(long)]
    vae_only: bool,
    /// Draw the adherence prompts from combinations training did see: what the model failed to
    /// learn at all, told apart from what it fails to generalise.
    #[arg(long)]
    training_combinations: bool,
}

/// Blur of the softened ground-truth row: about the edge width the VAE decodes.
const SOFTEN_SIGMA: f64 = 1.0;

struct Eval {
    pipe: LtxPipeline,
    steps: usize,
    guidance: f64,
    guidance_rescale: f64,
    seconds: Vec<f64>,
}

impl Eval {
    fn generate(&mut self, prompt: &str, conditions: Vec<Condition>, seed: u64) -> Result<Tensor, String> {
        let req = GenerationRequest {
            guidance_rescale: self.guidance_rescale,
            ..working_request(prompt, conditions, self.steps, self.guidance)
        };
        let start = Instant::now();
        let video = self.pipe.generate(&req, &mut SeededNoise::new(seed), &mut |_| true).map_err(|e| e.to_string())?;
        self.seconds.push(start.elapsed().as_secs_f64());
        Ok(video.to_device(Device::Cpu))
    }
}

/// `video` (`[F, 3, H, W]`) blurred with a Gaussian of `sigma` pixels: outlines as soft as a
/// decoder's, to tell the analyser's strictness apart from what a VAE loses.
fn soften(video: &Tensor, sigma: f64) -> Tensor {
    let r = (3.0 * sigma).ceil() as i64;
    let taps: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32).collect();
    let k = Tensor::from_slice(&taps);
    let k = &k / k.sum(Kind::Float);
    let kernel = k.outer(&k).expand([3, 1, 2 * r + 1, 2 * r + 1], false).contiguous();
    let padded = video.pad([r, r, r, r], "replicate", None);
    padded.conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], 3)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    background: usize,
    colour: usize,
    shape: usize,
    motion: usize,
    all: usize,
    /// `[true shape][seen shape, or none found]`, in `Shape::ALL` order.
    shapes: [[usize; 5]; 4],
}

impl Tally {
    fn add(&mut self, scene: &Scene, a: &Analysis) {
        let o = scene.subject();
        let hits = attributes_right(scene, a);
        self.n += 1;
        self.background += hits[0] as usize;
        self.colour += hits[1] as usize;
        self.shape += hits[2] as usize;
        self.motion += hits[3] as usize;
        self.all += hits.iter().all(|&h| h) as usize;
        let index = |s: Shape| Shape::ALL.iter().position(|&x| x == s).unwrap_or(0);
        self.shapes[index(o.shape)][a.shape.map_or(4, index)] += 1;
    }

    /// "circle -> circle 3, square 1; ..." per true shape.
    fn shape_confusion(&self) -> String {
        let names = Shape::ALL.map(|s| s.name());
        let seen = |j: usize| names.get(j).copied().unwrap_or("none");
        (0..4)
            .filter(|&i| self.shapes[i].iter().sum::<usize>() > 0)
            .map(|i| {
                let row: Vec<String> =
                    (0..5).filter(|&j| self.shapes[i][j] > 0).map(|j| format!("{} {}", seen(j), self.shapes[i][j])).collect();
                format!("{} -> {}", names[i], row.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn rates(&self) -> [f64; 5] {
        let n = self.n.max(1) as f64;
        [self.background, self.colour, self.shape, self.motion, self.all].map(|c| 100.0 * c as f64 / n)
    }

    fn mean_attribute(&self) -> f64 {
        let r = self.rates();
        (r[0] + r[1] + r[2] + r[3]) / 4.0
    }

    fn json(&self) -> serde_json::Value {
        let r = self.rates();
        serde_json::json!({
            "n": self.n, "background": r[0], "colour": r[1], "shape": r[2], "motion": r[3],
            "all_four": r[4], "mean_attribute": self.mean_attribute(), "shape_confusion": self.shape_confusion(),
        })
    }

    fn print(&self, name: &str) {
        let r = self.rates();
        println!(
            "{name:<34} {:>4} {:>9.1} {:>7.1} {:>7.1} {:>7.1} {:>9.1} {:>9.1}",
            self.n,
            r[0],
            r[1],
            r[2],
            r[3],
            self.mean_attribute(),
            r[4]
        );
    }
}

/// The adherence table's head and its ground-truth rows (the analyser's own accuracy and the VAE's
/// ceiling), with their shape confusions.
fn print_ground_truth(truth: &Tally, softened: &Tally, vae_ceiling: &Tally) {
    println!();
    println!("{:<34} {:>4} {:>9} {:>7} {:>7} {:>7} {:>9} {:>9}", "prompt adherence (%)", "n", "backgr.", "colour", "shape", "motion", "mean", "all four");
    truth.print("analyser on ground truth");
    softened.print("ground truth softened (σ 1 px)");
    vae_ceiling.print("ground truth through the VAE");
    println!("shapes softened: {}", softened.shape_confusion());
    println!("shapes through the VAE: {}", vae_ceiling.shape_confusion());
}

/// One row of the PNG report.
struct Row {
    label: String,
    video: Tensor,
}

fn main() {
    train::keep_freed_memory();
    if let Err(e) = run() {
        eprintln!("genvideo-eval: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse();
    if args.extend_context < 9 || args.extend_context >= FRAMES as i64 || (args.extend_context - 1) % 8 != 0 {
        return Err(format!("--extend-context must be 1 + 8k frames, 9 to {}", FRAMES - 8));
    }
    let device = models::select_device().map_err(|e| e.to_string())?;
    if device == Device::Cpu {
        tch::set_num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()) as i32);
    }
    std::fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    let pipe = LtxPipeline::load_with_text_encoder(&args.model, &args.text_encoder, device, Kind::Float)
        .map_err(|e| e.to_string())?;
    let steps = args.steps.or(pipe.meta.num_inference_steps).unwrap_or(20);
    let guidance = args.guidance.or(pipe.meta.guidance_scale).unwrap_or(3.0);
    let mut eval = Eval { pipe, steps, guidance, guidance_rescale: args.guidance_rescale, seconds: Vec::new() };
    let mut rows = Vec::new();
    println!(
        "genvideo-eval: {} on {device:?}, {steps} steps, guidance {guidance} (rescale {})",
        args.model.display(),
        args.guidance_rescale
    );

    // Prompt adherence.
    let (split, set) = if args.training_combinations { (Split::Train, "training") } else { (Split::HeldOut, "held-out") };
    let scenes: Vec<Scene> = (0..args.prompts as u64).map(|i| Scene::sample(args.seed + i, split, 0.0)).collect();
    let mut truth = Tally::default();
    let mut vae_ceiling = Tally::default();
    let mut softened = Tally::default();
    let mut heldout = Tally::default();
    let mut paraphrase = Tally::default();
    let mut examples = Vec::new();
    for (i, scene) in scenes.iter().enumerate() {
        let gt = render(scene);
        truth.add(scene, &analyse(&pixels(&gt), SIZE, SIZE, FRAMES, FPS));
        softened.add(scene, &analyse(&pixels(&soften(&gt, SOFTEN_SIGMA)), SIZE, SIZE, FRAMES, FPS));
        vae_ceiling.add(scene, &analyse(&pixels(&round_trip(&eval.pipe, &gt).map_err(err)?), SIZE, SIZE, FRAMES, FPS));
        if args.vae_only {
            continue;
        }
        for (style, tally) in [(CaptionStyle::Train, &mut heldout), (CaptionStyle::Paraphrase, &mut paraphrase)] {
            let prompt = caption(scene, style, i as u64);
            let video = eval.generate(&prompt, Vec::new(), args.seed + i as u64)?;
            let a = analyse(&pixels(&video), SIZE, SIZE, FRAMES, FPS);
            tally.add(scene, &a);
            examples.push(serde_json::json!({
                "prompt": prompt,
                "truth": [scene.background.name(), scene.subject().colour.name(), scene.subject().shape.name(), scene.subject().motion.name()],
                "seen": [a.background.map(|b| b.name()), a.colour.map(|c| c.name()), a.shape.map(|s| s.name()), a.motion.map(|m| m.name())],
            }));
            if i < 4 && (style == CaptionStyle::Train || i < 2) {
                rows.push(Row { label: format!("\"{prompt}\""), video });
            }
        }
        eprint!("\radherence {}/{}", i + 1, scenes.len());
    }
    eprintln!();
    if args.vae_only {
        print_ground_truth(&truth, &softened, &vae_ceiling);
        return Ok(());
    }

    // Image-to-video, extension and infill on rendered clips.
    let mut i2v_psnr = Vec::new();
    let mut i2v_jump = Vec::new();
    let mut i2v_tally = Tally::default();
    let mut seam_ratio = Vec::new();
    let mut seams = Vec::new();
    let mut seam_ratio_carried = Vec::new();
    let mut seam_truth = Vec::new();
    let mut pace = Vec::new();
    let mut seam_clips = Vec::new();
    let mut infill = Vec::new();
    let mut infill_carried = Vec::new();
    let mut blend = Vec::new();
    for k in 0..args.clips as u64 {
        let scene = Scene::sample(args.seed + 10_000 + k, Split::HeldOut, 0.0);
        let prompt = caption(&scene, CaptionStyle::Train, k);
        let gt = render(&scene);
        let as_condition = |frames: Tensor, index: i64| Condition {
            frames: frames.permute([1, 0, 2, 3]).contiguous(),
            frame_index: index,
            strength: 1.0,
        };

        let video = eval.generate(&prompt, vec![as_condition(gt.narrow(0, 0, 1), 0)], args.seed + k)?;
        i2v_psnr.push(psnr(&video.get(0), &gt.get(0)));
        let change = steps_change(&video);
        i2v_jump.push(change[0] / median(change.clone()).max(1e-6));
        i2v_tally.add(&scene, &analyse(&pixels(&video), SIZE, SIZE, FRAMES, FPS));
        if k == 0 {
            rows.push(Row { label: format!("image-to-video from a rendered first frame: \"{prompt}\""), video });
        }

        // Extension: the clip's last `n` frames become the first `n` of the generation.
        let n = args.extend_context;
        let tail = gt.narrow(0, FRAMES as i64 - n, n);
        let video = eval.generate(&prompt, vec![as_condition(tail.shallow_clone(), 0)], args.seed + k + 1)?;
        let last = gt.get(FRAMES as i64 - 1);
        let seam = (video.get(n) - &last).abs().mean(Kind::Float).double_value(&[]);
        let ordinary = median(steps_change(&gt));
        // The footage rendered on (frames 48..80, the new ones the generation stands in for) scores
        // what a perfect extension would: a growing object's steps lengthen as it grows, so its
        // true next frame steps further than the source's median.
        let future = render_span(&scene, 33, (FRAMES - 1) as f64 / FPS);
        let future_steps = steps_change(&future);
        let truth = future_steps[0] / ordinary.max(1e-6);
        seam_truth.push(truth);
        seams.push(seam);
        seam_ratio.push(seam / ordinary.max(1e-6));
        let carried = seam::carry(&video.get(n), 0, &[Residual::new(-1, &last, &video.get(n - 1)).map_err(err)?], seam::REACH)
            .map_err(err)?;
        let delivered = (carried - &last).abs().mean(Kind::Float).double_value(&[]) / ordinary.max(1e-6);
        seam_ratio_carried.push(delivered);
        // A mean over clips hides which ones break the seam; the generated clip's own step across
        // the seam is what the carried residual cannot remove.
        let made = steps_change(&video);
        // A continuation that slows to a stop scores a fine seam, so how fast the new frames
        // change against the footage rendered on is reported beside it.
        let made_after = median(made[n as usize..].to_vec());
        let true_after = median(future_steps[1..FRAMES - n as usize].to_vec());
        pace.push(made_after / true_after.max(1e-6));
        seam_clips.push(serde_json::json!({
            "prompt": prompt,
            "motion": scene.subject().motion.name(),
            "source_median_step": ordinary,
            "generated_step_at_seam": made[n as usize - 1],
            "generated_median_step": made_after,
            "delivered_over_median_step": delivered,
            "ground_truth_over_median_step": truth,
            "ground_truth_median_step_after": true_after,
        }));
        if k == 0 {
            let carry = [Residual::new(-1, &last, &video.get(n - 1)).map_err(err)?];
            let new = seam::carry_frames(&video.narrow(0, n, FRAMES as i64 - n), &carry, seam::REACH).map_err(err)?;
            let joined = Tensor::cat(&[gt.narrow(0, 24, 25), new], 0);
            rows.push(Row { label: format!("extension (source to frame 24, generated after): \"{prompt}\""), video: joined });
        }

        // Infill: frames 17..32 generated between the first and last 17.
        let conditions = vec![as_condition(gt.narrow(0, 0, 17), 0), as_condition(gt.narrow(0, 32, 17), 32)];
        let video = eval.generate(&prompt, conditions, args.seed + k + 2)?;
        let (a, b) = (gt.get(16), gt.get(32));
        let gap: Vec<i64> = (17..32).collect();
        let ends = [
            Residual::new(-1, &a, &video.get(16)).map_err(err)?,
            Residual::new(gap.len() as i64, &b, &video.get(32)).map_err(err)?,
        ];
        let mut p_gen = 0.0;
        let mut p_carried = 0.0;
        let mut p_blend = 0.0;
        for (i, &f) in gap.iter().enumerate() {
            let w = (f - 16) as f64 / 16.0;
            p_gen += psnr(&video.get(f), &gt.get(f));
            let carried = seam::carry(&video.get(f), i as i64, &ends, (gap.len() + 1) as f64).map_err(err)?;
            p_carried += psnr(&carried, &gt.get(f));
            p_blend += psnr(&(&a * (1.0 - w) + &b * w), &gt.get(f));
        }
        infill.push(p_gen / gap.len() as f64);
        infill_carried.push(p_carried / gap.len() as f64);
        blend.push(p_blend / gap.len() as f64);
        if k == 0 {
            let filled = seam::carry_frames(&video.narrow(0, 17, 15), &ends, 16.0).map_err(err)?;
            let video = Tensor::cat(&[gt.narrow(0, 0, 17), filled, gt.narrow(0, 32, 17)], 0);
            rows.push(Row { label: format!("infill of frames 17-31 (ground truth around): \"{prompt}\""), video });
        }
        eprint!("\rconditioning {}/{}", k + 1, args.clips);
    }
    eprintln!();

    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let pace = median(pace);
    print_ground_truth(&truth, &softened, &vae_ceiling);
    heldout.print(&format!("{set} combinations"));
    paraphrase.print(&format!("{set} + paraphrased"));
    i2v_tally.print("image-to-video (same prompts)");
    println!("shapes generated ({set}): {}", heldout.shape_confusion());
    println!();
    println!("image-to-video: first frame PSNR {:.2} dB; first step / median step change {:.2}", mean(&i2v_psnr), mean(&i2v_jump));
    println!(
        "extension seam: {:.4} mean abs; {:.2}x the source's median frame-to-frame change raw, {:.2}x as delivered (goal <= 1; the footage's own next frame: {:.2}x)",
        mean(&seams),
        mean(&seam_ratio),
        mean(&seam_ratio_carried),
        mean(&seam_truth)
    );
    println!(
        "extension pace: the new frames change {:.2}x as much per frame as the footage rendered on (median over clips; 1 = its pace)",
        pace
    );
    println!(
        "infill (15 frames): {:.2} dB PSNR raw, {:.2} dB as delivered, vs linear blend {:.2} dB",
        mean(&infill),
        mean(&infill_carried),
        mean(&blend)
    );
    println!("generation: {:.2} s mean over {} clips ({SIZE}x{SIZE}, {FRAMES} frames, {steps} steps)", mean(&eval.seconds), eval.seconds.len());

    let metrics = serde_json::json!({
        "model": args.model.display().to_string(),
        "steps": steps, "guidance": guidance, "guidance_rescale": args.guidance_rescale, "seed": args.seed, "device": format!("{device:?}"),
        "analyser_on_ground_truth": truth.json(),
        "analyser_on_softened_ground_truth": softened.json(),
        "analyser_on_vae_round_trip": vae_ceiling.json(),
        "held_out": heldout.json(),
        "adherence_split": format!("{split:?}"),
        "paraphrase": paraphrase.json(),
        "image_to_video": { "attributes": i2v_tally.json(), "first_frame_psnr_db": mean(&i2v_psnr), "first_step_over_median_step": mean(&i2v_jump) },
        "extension": { "seam_mean_abs": mean(&seams), "seam_over_median_step": mean(&seam_ratio), "seam_over_median_step_delivered": mean(&seam_ratio_carried), "seam_over_median_step_ground_truth": mean(&seam_truth), "pace_median": pace, "clips": seam_clips },
        "infill": { "psnr_db": mean(&infill), "psnr_db_delivered": mean(&infill_carried), "linear_blend_psnr_db": mean(&blend) },
        "seconds_per_generation": mean(&eval.seconds),
        "examples": examples,
    });
    let json_path = args.out.join("metrics.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&metrics).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let png = args.out.join("report.png");
    report(&rows, &png)?;
    println!("wrote {} and {}", json_path.display(), png.display());
    Ok(())
}

const THUMB: u32 = 128;
const SHOWN: [i64; 7] = [0, 8, 16, 24, 32, 40, 48];

fn report(rows: &[Row], path: &std::path::Path) -> Result<(), String> {
    let text_h = 14;
    let row_h = text_h + THUMB + 10;
    let mut img = RgbImage::from_pixel(SHOWN.len() as u32 * (THUMB + 4) + 8, row_h * rows.len() as u32 + 4, Rgb([255, 255, 255]));
    for (r, row) in rows.iter().enumerate() {
        let y0 = r as u32 * row_h + 4;
        text(&mut img, 6, y0 + 2, &row.label);
        for (c, &f) in SHOWN.iter().enumerate() {
            let f = f.min(row.video.size()[0] - 1);
            let frame = (row.video.get(f).permute([1, 2, 0]) * 255.0).round().clamp(0.0, 255.0).to_kind(Kind::Uint8).contiguous();
            let (h, w) = (frame.size()[0] as u32, frame.size()[1] as u32);
            let data = Vec::<u8>::try_from(frame.flatten(0, -1)).map_err(|e| e.to_string())?;
            let full = RgbImage::from_raw(w, h, data).ok_or("frame size")?;
            let thumb = imageops::resize(&full, THUMB, THUMB, imageops::FilterType::Triangle);
            imageops::overlay(&mut img, &thumb, (6 + c as u32 * (THUMB + 4)) as i64, (y0 + text_h) as i64);
        }
    }
    img.save(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// 8x8 bitmap text (font8x8), cut to the image width.
fn text(img: &mut RgbImage, x0: u32, y0: u32, s: &str) {
    use font8x8::UnicodeFonts;
    for (i, ch) in s.chars().enumerate() {
        let x = x0 + i as u32 * 8;
        if x + 8 > img.width() {
            break;
        }
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else { continue };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    img.put_pixel(x + col, y0 + row as u32, Rgb([0, 0, 0]));
                }
            }
        }
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}
