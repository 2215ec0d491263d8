//! The LTX-Video causal video VAE: a port of diffusers' `AutoencoderKLLTXVideo`
//! (`diffusers/models/autoencoders/autoencoder_kl_ltx.py`, diffusers 0.42.1), encoder and decoder,
//! for every checkpoint generation its config can describe:
//!
//! - 0.9.0: `LTXVideoDownBlock3D` encoder blocks (stride-2 causal conv downsampling, a resnet
//!   `conv_out` when the width changes), plain decoder.
//! - 0.9.1: a timestep-conditioned decoder (`timestep_conditioning`: sinusoidal embedding, a
//!   `scale_shift_table` per resnet), spatial noise injection (`decoder_inject_noise`), residual
//!   depth-to-space upsamplers (`upsample_residual`, `upsample_factor`).
//! - 0.9.5+: `LTXVideo095DownBlock3D` with `downsample_type` `conv`, `spatial`, `temporal` or
//!   `spatiotemporal` (space-to-depth with an averaged residual), `encoder_causal` /
//!   `decoder_causal`, explicit `spatial_compression_ratio` / `temporal_compression_ratio`.
//!
//! Parameter names are the diffusers state-dict keys (`encoder.down_blocks.0.resnets.0.conv1.conv.weight`,
//! `decoder.up_blocks.1.upsamplers.0.conv.conv.bias`, `decoder.scale_shift_table`, `latents_mean`, ...),
//! so `save_pretrained` folders load unchanged.
//!
//! ```no_run
//! # fn main() -> Result<(), models::ModelError> {
//! use models::autoencoder_kl_ltx::AutoencoderKlLtxVideo;
//! let vae = AutoencoderKlLtxVideo::load("weights/ltx/vae".as_ref(), tch::Device::Cpu, tch::Kind::BFloat16)?;
//! # let video = tch::Tensor::zeros([1, 3, 9, 64, 64], tch::kind::FLOAT_CPU);
//! // [B,3,1+8k,H,W] in [-1,1], H and W multiples of 32 -> [B,128,1+k,H/32,W/32]
//! let latents = vae.encode(&video)?;
//! let normalized = vae.normalize_latents(&latents, vae.config.scaling_factor)?;
//! let latents = vae.denormalize_latents(&normalized, vae.config.scaling_factor)?;
//! let temb = tch::Tensor::from_slice(&[0.05f32]); // only for timestep-conditioned decoders
//! let video = vae.decode(&latents, Some(&temb))?;
//! # Ok(()) }
//! ```
//!
//! API:
//! - [`AutoencoderKlLtxVideo::load`]`(dir, device, kind)`: a diffusers `vae/` folder
//!   (`config.json` + safetensors); `kind` (fp32, bf16, fp16) is the compute precision.
//!   [`AutoencoderKlLtxVideo::new`] builds the same modules under any [`nn::Path`].
//! - [`AutoencoderKlLtxVideo::encode`]: `vae.encode(x).latent_dist.mode()`, the posterior mean,
//!   not normalised. [`AutoencoderKlLtxVideo::decode`]: `vae.decode(z, temb).sample`.
//! - [`AutoencoderKlLtxVideo::normalize_latents`] / [`AutoencoderKlLtxVideo::denormalize_latents`]:
//!   `LTXPipeline._normalize_latents` / `_denormalize_latents` with this VAE's buffers.
//! - [`LtxVaeTiling`] ([`AutoencoderKlLtxVideo::set_tiling`]): diffusers' `enable_tiling`,
//!   `use_framewise_encoding/decoding` and `use_slicing`, on by default above 512 px and 128
//!   frames so that memory stays bounded (see [`LtxVaeTiling::default`]).
//!
//! Inputs are cast to the model's device and dtype; results stay there. Noise injection draws
//! from libtorch's global generator exactly as diffusers does (`generator=None`), so
//! `rng::seeded(s, || vae.decode(..))` reproduces `torch.manual_seed(s)` before `vae.decode`
//! bit for bit on the same device.

use std::path::Path;

use serde::Deserialize;
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{read_config, Checkpoint};
use crate::error::ModelError;

/// The `_class_name` diffusers writes into this model's `config.json`.
pub const CLASS_NAME: &str = "AutoencoderKLLTXVideo";

type Result<T> = std::result::Result<T, ModelError>;

/// diffusers' RMSNorm epsilon inside the VAE (hard-coded there, not `resnet_norm_eps`).
const RMS_EPS: f64 = 1e-8;

/// Sinusoidal channels of `PixArtAlphaCombinedTimestepSizeEmbeddings.time_proj`.
const TIME_PROJ_DIM: i64 = 256;

/// `config.json` of an `AutoencoderKLLTXVideo` folder. Field names are the JSON keys; missing
/// keys take diffusers' `__init__` defaults (the 0.9.0 architecture); unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AutoencoderKlLtxVideoConfig {
    #[serde(rename = "_class_name")]
    pub class_name: Option<String>,
    pub in_channels: i64,
    pub out_channels: i64,
    pub latent_channels: i64,
    pub block_out_channels: Vec<i64>,
    pub down_block_types: Vec<String>,
    pub decoder_block_out_channels: Vec<i64>,
    pub layers_per_block: Vec<i64>,
    pub decoder_layers_per_block: Vec<i64>,
    pub spatio_temporal_scaling: Vec<bool>,
    pub decoder_spatio_temporal_scaling: Vec<bool>,
    pub decoder_inject_noise: Vec<bool>,
    pub downsample_type: Vec<String>,
    pub upsample_residual: Vec<bool>,
    pub upsample_factor: Vec<i64>,
    pub timestep_conditioning: bool,
    pub patch_size: i64,
    pub patch_size_t: i64,
    pub resnet_norm_eps: f64,
    pub scaling_factor: f64,
    pub encoder_causal: bool,
    pub decoder_causal: bool,
    pub spatial_compression_ratio: Option<i64>,
    pub temporal_compression_ratio: Option<i64>,
}

impl Default for AutoencoderKlLtxVideoConfig {
    fn default() -> Self {
        Self {
            class_name: None,
            in_channels: 3,
            out_channels: 3,
            latent_channels: 128,
            block_out_channels: vec![128, 256, 512, 512],
            down_block_types: vec!["LTXVideoDownBlock3D".into(); 4],
            decoder_block_out_channels: vec![128, 256, 512, 512],
            layers_per_block: vec![4, 3, 3, 3, 4],
            decoder_layers_per_block: vec![4, 3, 3, 3, 4],
            spatio_temporal_scaling: vec![true, true, true, false],
            decoder_spatio_temporal_scaling: vec![true, true, true, false],
            decoder_inject_noise: vec![false; 5],
            downsample_type: vec!["conv".into(); 4],
            upsample_residual: vec![false; 4],
            upsample_factor: vec![1; 4],
            timestep_conditioning: false,
            patch_size: 4,
            patch_size_t: 1,
            resnet_norm_eps: 1e-6,
            scaling_factor: 1.0,
            encoder_causal: true,
            decoder_causal: false,
            spatial_compression_ratio: None,
            temporal_compression_ratio: None,
        }
    }
}

/// Which frame of every temporal decode window after the first is thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalSeam {
    /// diffusers 0.42's `_temporal_tiled_decode`: drops each later window's *last* frame. A
    /// window decoded from latent `a` starts at output frame `8a`, which the previous window
    /// already produced, so every later window lands one frame late: frame `8a` appears twice,
    /// the blend mixes frames one apart, and the clip's last frame is lost. Kept for parity.
    Diffusers,
    /// Drops each later window's *first* frame (the one the previous window already covers), as
    /// diffusers' own `_temporal_tiled_encode` does on the encoder side: interiors of the windows
    /// equal the untiled decode and the blend mixes the same frames.
    Aligned,
}

/// Memory controls, named after the diffusers attributes they mirror. Sizes are in video
/// pixels/frames; the latent tile is the size divided by the compression ratio.
///
/// Spatial tiling (`use_tiling`): when the video (or the latent times the spatial ratio) is
/// larger than `tile_sample_min_*` in either direction, it is processed in tiles of that size
/// started every `tile_sample_stride_*`, and overlapping borders are blended linearly. Temporal
/// windows (`use_framewise_*`): clips longer than `tile_sample_min_num_frames` run in windows of
/// that many frames (+1) started every `tile_sample_stride_num_frames` and cross-faded over the
/// overlap. Slicing (`use_slicing`): batches run one video at a time (with noise injection each
/// video then gets its own draws, where an unsliced batch shares one). Tiled results differ from
/// the untiled ones near tile borders (that is what the blending hides), exactly as in diffusers.
#[derive(Debug, Clone, PartialEq)]
pub struct LtxVaeTiling {
    pub use_tiling: bool,
    /// diffusers keys its temporal *encode* windows on `use_framewise_decoding` (a slip in
    /// `_encode`); here each direction has its own switch.
    pub use_framewise_encoding: bool,
    pub use_framewise_decoding: bool,
    pub use_slicing: bool,
    pub tile_sample_min_height: i64,
    pub tile_sample_min_width: i64,
    pub tile_sample_min_num_frames: i64,
    pub tile_sample_stride_height: i64,
    pub tile_sample_stride_width: i64,
    pub tile_sample_stride_num_frames: i64,
    pub temporal_decode_seam: TemporalSeam,
}

impl Default for LtxVaeTiling {
    /// Everything on, sized so that only large or long clips pay for it:
    /// - 512 px tiles every 448 px (diffusers' geometry): videos up to 512x512 run untiled; a
    ///   768x512 clip runs as 2x2 tiles, ~1.2x the pixels.
    /// - 128-frame windows every 112 frames: clips up to 128 frames (16 latent frames, LTX's usual
    ///   121) run whole; a 257-frame clip runs as 3 windows, ~1.2x the frames.
    /// - one video of a batch at a time; aligned temporal seams.
    ///
    /// At LTX's published widths the decoder's largest activation (128 channels at a quarter of
    /// the tile's resolution) then stays near 1 GB in fp32 (0.5 GB in bf16) whatever the clip.
    fn default() -> Self {
        Self {
            use_tiling: true,
            use_framewise_encoding: true,
            use_framewise_decoding: true,
            use_slicing: true,
            tile_sample_min_num_frames: 128,
            tile_sample_stride_num_frames: 112,
            temporal_decode_seam: TemporalSeam::Aligned,
            ..Self::diffusers()
        }
    }
}

impl LtxVaeTiling {
    /// diffusers' state after construction: everything off, its default tile geometry
    /// (512/448 px, 16/8 frames) for when a switch is turned on, its temporal seam.
    pub fn diffusers() -> Self {
        Self {
            use_tiling: false,
            use_framewise_encoding: false,
            use_framewise_decoding: false,
            use_slicing: false,
            tile_sample_min_height: 512,
            tile_sample_min_width: 512,
            tile_sample_min_num_frames: 16,
            tile_sample_stride_height: 448,
            tile_sample_stride_width: 448,
            tile_sample_stride_num_frames: 8,
            temporal_decode_seam: TemporalSeam::Diffusers,
        }
    }

    /// No tiling, no windows, no slicing: the whole batch in one pass.
    pub fn disabled() -> Self {
        Self { temporal_decode_seam: TemporalSeam::Aligned, ..Self::diffusers() }
    }

    /// Tiles must map to whole latent pixels/frames and overlap rather than leave gaps.
    fn validate(&self, spatial_ratio: i64, temporal_ratio: i64) -> Result<()> {
        let axes = [
            ("height", self.tile_sample_min_height, self.tile_sample_stride_height, spatial_ratio),
            ("width", self.tile_sample_min_width, self.tile_sample_stride_width, spatial_ratio),
            ("num_frames", self.tile_sample_min_num_frames, self.tile_sample_stride_num_frames, temporal_ratio),
        ];
        for (axis, min, stride, ratio) in axes {
            if stride <= 0 || min < stride || min % ratio != 0 || stride % ratio != 0 {
                return Err(ModelError::InvalidConfig(format!(
                    "VAE tiling: tile_sample_min_{axis} = {min} and tile_sample_stride_{axis} = {stride} must be \
                     positive multiples of the compression ratio {ratio} with stride <= min (e.g. {} and {})",
                    4 * ratio,
                    3 * ratio
                )));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Layers

/// `LTXVideoCausalConv3d`: a Conv3d padded in time by repeating the first frame (causal) or the
/// first and last frames (non-causal), zero-padded in space.
struct CausalConv3d {
    weight: Tensor,
    bias: Tensor,
    kernel: i64,
    stride: [i64; 3],
    is_causal: bool,
}

impl CausalConv3d {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, kernel: i64, stride: [i64; 3], is_causal: bool) -> Result<Self> {
        let conv = p / "conv";
        Ok(Self {
            weight: conv.f_zeros_no_train("weight", &[c_out, c_in, kernel, kernel, kernel])?,
            bias: conv.f_zeros_no_train("bias", &[c_out])?,
            kernel,
            stride,
            is_causal,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.kernel;
        let padded;
        let x = if k <= 1 {
            x
        } else if self.is_causal {
            let first = x.f_narrow(2, 0, 1)?.f_repeat([1, 1, k - 1, 1, 1])?;
            padded = Tensor::f_cat(&[&first, x], 2)?;
            &padded
        } else {
            let side = (k - 1) / 2;
            let frames = x.size()[2];
            let first = x.f_narrow(2, 0, 1)?.f_repeat([1, 1, side, 1, 1])?;
            let last = x.f_narrow(2, frames - 1, 1)?.f_repeat([1, 1, side, 1, 1])?;
            padded = Tensor::f_cat(&[&first, x, &last], 2)?;
            &padded
        };
        Ok(x.f_conv3d(&self.weight, Some(&self.bias), self.stride, [0, k / 2, k / 2], [1, 1, 1], 1)?)
    }
}

/// diffusers' `RMSNorm(eps=1e-8, elementwise_affine=False)` over the channel axis: statistics in
/// fp32, result in the input's dtype.
fn rms_norm_channels(x: &Tensor) -> Result<Tensor> {
    let variance = x.f_to_kind(Kind::Float)?.f_square()?.f_mean_dim(1, true, None::<Kind>)?;
    Ok(x.f_mul(&variance.f_add_scalar(RMS_EPS)?.f_rsqrt()?)?.f_to_kind(x.kind())?)
}

/// `(spatial_noise[None] * scale)[None, :, None, ...]` with one `randn([H, W])` draw from the
/// global generator, shared by every batch entry, frame and channel as in diffusers.
fn add_spatial_noise(h: &Tensor, scale: &Tensor) -> Result<Tensor> {
    let size = h.size();
    let noise = crate::rng::unseeded(|| Tensor::f_randn([size[3], size[4]], (h.kind(), h.device())))?;
    let noise = noise.f_unsqueeze(0)?.f_mul(scale)?.f_unsqueeze(0)?.f_unsqueeze(2)?;
    Ok(h.f_add(&noise)?)
}

/// `x * (1 + scale) + shift`.
fn modulate(x: &Tensor, shift: &Tensor, scale: &Tensor) -> Result<Tensor> {
    Ok(x.f_mul(&scale.f_add_scalar(1.0)?)?.f_add(shift)?)
}

/// `LTXVideoResnetBlock3d`.
struct ResnetBlock3d {
    in_channels: i64,
    conv1: CausalConv3d,
    conv2: CausalConv3d,
    /// LayerNorm (weight, bias) over channels ahead of the 1x1x1 shortcut when widths differ.
    norm3: Option<(Tensor, Tensor)>,
    eps: f64,
    conv_shortcut: Option<CausalConv3d>,
    per_channel_scale1: Option<Tensor>,
    per_channel_scale2: Option<Tensor>,
    scale_shift_table: Option<Tensor>,
}

impl ResnetBlock3d {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        in_channels: i64,
        out_channels: i64,
        eps: f64,
        is_causal: bool,
        inject_noise: bool,
        timestep_conditioning: bool,
    ) -> Result<Self> {
        let (norm3, conv_shortcut) = if in_channels != out_channels {
            let norm = p / "norm3";
            (
                Some((norm.f_ones_no_train("weight", &[in_channels])?, norm.f_zeros_no_train("bias", &[in_channels])?)),
                Some(CausalConv3d::new(&(p / "conv_shortcut"), in_channels, out_channels, 1, [1, 1, 1], is_causal)?),
            )
        } else {
            (None, None)
        };
        let (per_channel_scale1, per_channel_scale2) = if inject_noise {
            (
                Some(p.f_zeros_no_train("per_channel_scale1", &[in_channels, 1, 1])?),
                Some(p.f_zeros_no_train("per_channel_scale2", &[in_channels, 1, 1])?),
            )
        } else {
            (None, None)
        };
        let scale_shift_table = if timestep_conditioning {
            Some(p.f_zeros_no_train("scale_shift_table", &[4, in_channels])?)
        } else {
            None
        };
        Ok(Self {
            in_channels,
            conv1: CausalConv3d::new(&(p / "conv1"), in_channels, out_channels, 3, [1, 1, 1], is_causal)?,
            conv2: CausalConv3d::new(&(p / "conv2"), out_channels, out_channels, 3, [1, 1, 1], is_causal)?,
            norm3,
            eps,
            conv_shortcut,
            per_channel_scale1,
            per_channel_scale2,
            scale_shift_table,
        })
    }

    /// `temb`: the enclosing block's embedded timestep, [B, 4*C, 1, 1, 1].
    fn forward(&self, inputs: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let modulation = match (&self.scale_shift_table, temb) {
            (Some(table), Some(temb)) => {
                let c = self.in_channels;
                let ada = temb.f_view([-1, 4, c, 1, 1, 1])?.f_add(&table.f_view([1, 4, c, 1, 1, 1])?)?;
                Some((0..4).map(|i| ada.f_select(1, i)).collect::<std::result::Result<Vec<_>, _>>()?)
            }
            (Some(_), None) => {
                return Err(ModelError::InvalidInput("timestep-conditioned resnet called without temb".into()))
            }
            (None, _) => None,
        };
        let mut h = rms_norm_channels(inputs)?;
        if let Some(m) = &modulation {
            h = modulate(&h, &m[0], &m[1])?;
        }
        h = self.conv1.forward(&h.f_silu()?)?;
        if let Some(scale) = &self.per_channel_scale1 {
            h = add_spatial_noise(&h, scale)?;
        }
        h = rms_norm_channels(&h)?;
        if let Some(m) = &modulation {
            h = modulate(&h, &m[2], &m[3])?;
        }
        h = self.conv2.forward(&h.f_silu()?)?;
        if let Some(scale) = &self.per_channel_scale2 {
            h = add_spatial_noise(&h, scale)?;
        }
        let shortcut = match (&self.norm3, &self.conv_shortcut) {
            (Some((weight, bias)), Some(conv)) => {
                let normed = inputs.f_permute([0, 2, 3, 4, 1])?.f_layer_norm(
                    [self.in_channels],
                    Some(weight),
                    Some(bias),
                    self.eps,
                    true,
                )?;
                conv.forward(&normed.f_permute([0, 4, 1, 2, 3])?)?
            }
            _ => inputs.shallow_clone(),
        };
        Ok(h.f_add(&shortcut)?)
    }
}

/// `[B, C, F*s0, H*s1, W*s2] -> [B, C*s0*s1*s2, F, H, W]` in diffusers' channel order
/// (channel, then time, height, width phase).
fn space_to_depth(x: &Tensor, [s0, s1, s2]: [i64; 3]) -> Result<Tensor> {
    let [b, c, f, h, w] = dims5(x)?;
    Ok(x.f_view(&[b, c, f / s0, s0, h / s1, s1, w / s2, s2][..])?.f_permute([0, 1, 3, 5, 7, 2, 4, 6])?.f_reshape([
        b,
        c * s0 * s1 * s2,
        f / s0,
        h / s1,
        w / s2,
    ])?)
}

/// The inverse layout of the upsamplers: `[B, C*s0*s1*s2, F, H, W] -> [B, C, F*s0, H*s1, W*s2]`.
fn depth_to_space(x: &Tensor, [s0, s1, s2]: [i64; 3]) -> Result<Tensor> {
    let [b, c, f, h, w] = dims5(x)?;
    let c_out = c / (s0 * s1 * s2);
    Ok(x.f_reshape(&[b, c_out, s0, s1, s2, f, h, w][..])?.f_permute([0, 1, 5, 2, 6, 3, 7, 4])?.f_reshape([
        b,
        c_out,
        f * s0,
        h * s1,
        w * s2,
    ])?)
}

/// `LTXVideoDownsampler3d`: a conv to `out/prod(stride)` channels folded into space-to-depth,
/// plus the input folded the same way and averaged over groups of channels.
struct Downsampler3d {
    stride: [i64; 3],
    group_size: i64,
    conv: CausalConv3d,
}

impl Downsampler3d {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, stride: [i64; 3], is_causal: bool) -> Result<Self> {
        let s: i64 = stride.iter().product();
        Ok(Self {
            stride,
            group_size: c_in * s / c_out,
            conv: CausalConv3d::new(&(p / "conv"), c_in, c_out / s, 3, [1, 1, 1], is_causal)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = Tensor::f_cat(&[&x.f_narrow(2, 0, self.stride[0] - 1)?, x], 2)?;
        let residual = space_to_depth(&x, self.stride)?;
        let [b, c, f, h, w] = dims5(&residual)?;
        let residual =
            residual.f_view([b, c / self.group_size, self.group_size, f, h, w])?.f_mean_dim(2, false, None::<Kind>)?;
        Ok(space_to_depth(&self.conv.forward(&x)?, self.stride)?.f_add(&residual)?)
    }
}

/// `LTXVideoUpsampler3d` with stride (2, 2, 2): a conv to `8*C/upscale_factor` channels unfolded
/// by depth-to-space, first frame dropped; optionally plus the input unfolded and repeated.
struct Upsampler3d {
    residual: bool,
    upscale_factor: i64,
    conv: CausalConv3d,
}

const UP_STRIDE: [i64; 3] = [2, 2, 2];

impl Upsampler3d {
    fn new(p: &nn::Path, c_in: i64, is_causal: bool, residual: bool, upscale_factor: i64) -> Result<Self> {
        let c_out = c_in * 8 / upscale_factor;
        Ok(Self {
            residual,
            upscale_factor,
            conv: CausalConv3d::new(&(p / "conv"), c_in, c_out, 3, [1, 1, 1], is_causal)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let drop = UP_STRIDE[0] - 1;
        let h = depth_to_space(&self.conv.forward(x)?, UP_STRIDE)?;
        let frames = h.size()[2];
        let h = h.f_narrow(2, drop, frames - drop)?;
        if !self.residual {
            return Ok(h);
        }
        let repeats = 8 / self.upscale_factor;
        let residual = depth_to_space(x, UP_STRIDE)?.f_repeat([1, repeats, 1, 1, 1])?;
        Ok(h.f_add(&residual.f_narrow(2, drop, frames - drop)?)?)
    }
}

/// `PixArtAlphaCombinedTimestepSizeEmbeddings(dim, 0)`: 256 sinusoidal channels (cos first)
/// through Linear-SiLU-Linear.
struct TimeEmbedder {
    linear_1: (Tensor, Tensor),
    linear_2: (Tensor, Tensor),
}

impl TimeEmbedder {
    fn new(p: &nn::Path, dim: i64) -> Result<Self> {
        let p = p / "timestep_embedder";
        let (l1, l2) = (&p / "linear_1", &p / "linear_2");
        Ok(Self {
            linear_1: (l1.f_zeros_no_train("weight", &[dim, TIME_PROJ_DIM])?, l1.f_zeros_no_train("bias", &[dim])?),
            linear_2: (l2.f_zeros_no_train("weight", &[dim, dim])?, l2.f_zeros_no_train("bias", &[dim])?),
        })
    }

    /// `t`: [N] timesteps -> [N, dim] in the weights' dtype.
    fn forward(&self, t: &Tensor) -> Result<Tensor> {
        let half = TIME_PROJ_DIM / 2;
        // get_timestep_embedding(flip_sin_to_cos=True, downscale_freq_shift=0), computed in fp32
        // with the same operation order.
        let exponent = Tensor::f_arange(half, (Kind::Float, t.device()))?
            .f_mul_scalar(-(10000f64.ln()))?
            .f_div_scalar(half as f64)?;
        let args = t.f_to_kind(Kind::Float)?.f_unsqueeze(1)?.f_mul(&exponent.f_exp()?.f_unsqueeze(0)?)?;
        let emb = Tensor::f_cat(&[args.f_cos()?, args.f_sin()?], -1)?.f_to_kind(self.linear_1.0.kind())?;
        let h = emb.f_linear(&self.linear_1.0, Some(&self.linear_1.1))?.f_silu()?;
        Ok(h.f_linear(&self.linear_2.0, Some(&self.linear_2.1))?)
    }

    /// The per-block conditioning the resnets read: [B, dim, 1, 1, 1].
    fn embed_for_blocks(&self, temb: &Tensor, batch: i64) -> Result<Tensor> {
        Ok(self.forward(&temb.f_flatten(0, -1)?)?.f_view([batch, -1, 1, 1, 1])?)
    }
}

fn resnets(
    p: &nn::Path,
    count: i64,
    channels: i64,
    eps: f64,
    is_causal: bool,
    inject_noise: bool,
    timestep_conditioning: bool,
) -> Result<Vec<ResnetBlock3d>> {
    let p = p / "resnets";
    (0..count)
        .map(|i| ResnetBlock3d::new(&(&p / i), channels, channels, eps, is_causal, inject_noise, timestep_conditioning))
        .collect()
}

fn run_resnets(resnets: &[ResnetBlock3d], mut h: Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
    for resnet in resnets {
        h = resnet.forward(&h, temb)?;
    }
    Ok(h)
}

/// The encoder's spatio-temporal downsampling layer.
enum Downsampler {
    /// A stride-2 causal conv (`LTXVideoDownBlock3D`, or `downsample_type = "conv"`).
    Conv(CausalConv3d),
    Fold(Downsampler3d),
}

/// `LTXVideoDownBlock3D` (with `conv_out` when the width changes) or `LTXVideo095DownBlock3D`
/// (the width changes inside its downsampler).
struct DownBlock {
    resnets: Vec<ResnetBlock3d>,
    downsampler: Option<Downsampler>,
    conv_out: Option<ResnetBlock3d>,
}

impl DownBlock {
    fn forward(&self, x: Tensor) -> Result<Tensor> {
        let mut h = run_resnets(&self.resnets, x, None)?;
        h = match &self.downsampler {
            Some(Downsampler::Conv(conv)) => conv.forward(&h)?,
            Some(Downsampler::Fold(down)) => down.forward(&h)?,
            None => h,
        };
        match &self.conv_out {
            Some(resnet) => resnet.forward(&h, None),
            None => Ok(h),
        }
    }
}

/// `LTXVideoMidBlock3d`.
struct MidBlock3d {
    time_embedder: Option<TimeEmbedder>,
    resnets: Vec<ResnetBlock3d>,
}

impl MidBlock3d {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        channels: i64,
        layers: i64,
        eps: f64,
        is_causal: bool,
        inject_noise: bool,
        timestep_conditioning: bool,
    ) -> Result<Self> {
        Ok(Self {
            time_embedder: if timestep_conditioning {
                Some(TimeEmbedder::new(&(p / "time_embedder"), channels * 4)?)
            } else {
                None
            },
            resnets: resnets(p, layers, channels, eps, is_causal, inject_noise, timestep_conditioning)?,
        })
    }

    fn forward(&self, x: Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let batch = x.size()[0];
        let emb = match (&self.time_embedder, temb) {
            (Some(embedder), Some(t)) => Some(embedder.embed_for_blocks(t, batch)?),
            _ => None,
        };
        run_resnets(&self.resnets, x, emb.as_ref())
    }
}

/// `LTXVideoUpBlock3d`.
struct UpBlock3d {
    time_embedder: Option<TimeEmbedder>,
    conv_in: Option<ResnetBlock3d>,
    upsampler: Option<Upsampler3d>,
    resnets: Vec<ResnetBlock3d>,
}

impl UpBlock3d {
    fn forward(&self, x: Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        // `conv_in` runs before the block embeds the timestep; construction refuses configs
        // where it would need one (diffusers would fail at run time there).
        let mut h = match &self.conv_in {
            Some(resnet) => resnet.forward(&x, None)?,
            None => x,
        };
        let batch = h.size()[0];
        let emb = match (&self.time_embedder, temb) {
            (Some(embedder), Some(t)) => Some(embedder.embed_for_blocks(t, batch)?),
            _ => None,
        };
        if let Some(up) = &self.upsampler {
            h = up.forward(&h)?;
        }
        run_resnets(&self.resnets, h, emb.as_ref())
    }
}

/// The (time, height, width) stride of a folding `downsample_type`.
fn fold_stride(downsample_type: &str) -> Option<[i64; 3]> {
    match downsample_type {
        "spatial" => Some([1, 2, 2]),
        "temporal" => Some([2, 1, 1]),
        "spatiotemporal" => Some([2, 2, 2]),
        _ => None,
    }
}

fn invalid_config(message: String) -> ModelError {
    ModelError::InvalidConfig(format!("{CLASS_NAME} config: {message}"))
}

fn at<T: Clone>(values: &[T], index: usize, key: &str) -> Result<T> {
    values.get(index).cloned().ok_or_else(|| {
        invalid_config(format!("{key} has {} entries; the block layout needs at least {}", values.len(), index + 1))
    })
}

/// `LTXVideoEncoder3d`, returning only the posterior mean.
struct Encoder3d {
    patch_size: i64,
    patch_size_t: i64,
    latent_channels: i64,
    conv_in: CausalConv3d,
    down_blocks: Vec<DownBlock>,
    mid_block: MidBlock3d,
    conv_out: CausalConv3d,
    /// What the layers actually divide height/width and frames by (patching included).
    spatial_downsample: i64,
    temporal_downsample: i64,
}

impl Encoder3d {
    fn new(p: &nn::Path, cfg: &AutoencoderKlLtxVideoConfig) -> Result<Self> {
        let boc = &cfg.block_out_channels;
        let eps = cfg.resnet_norm_eps;
        let causal = cfg.encoder_causal;
        let is_095 = cfg.down_block_types.last().map(String::as_str) == Some("LTXVideo095DownBlock3D");
        let blocks = boc.len().saturating_sub(usize::from(is_095));
        if boc.is_empty() || blocks == 0 {
            return Err(invalid_config(format!("block_out_channels {boc:?} leaves no encoder block")));
        }
        if cfg.layers_per_block.is_empty() {
            return Err(invalid_config("layers_per_block is empty".into()));
        }
        let conv_in = CausalConv3d::new(
            &(p / "conv_in"),
            cfg.in_channels * cfg.patch_size * cfg.patch_size,
            boc[0],
            3,
            [1, 1, 1],
            causal,
        )?;
        let (mut spatial, mut temporal) = (cfg.patch_size, cfg.patch_size_t);
        let mut output = boc[0];
        // Channels the previous block really produces: a 0.9.5 block only changes width inside
        // a folding downsampler, so a mis-sized config would feed the next block the wrong width.
        let mut actual = boc[0];
        let mut down_blocks = Vec::with_capacity(blocks);
        let bp = p / "down_blocks";
        for i in 0..blocks {
            let input = output;
            output = if is_095 || i + 1 < blocks { boc[i + 1] } else { boc[i] };
            if actual != input {
                return Err(invalid_config(format!(
                    "encoder block {} produces {actual} channels but block {i} expects {input}",
                    i.saturating_sub(1)
                )));
            }
            let block_type = at(&cfg.down_block_types, i, "down_block_types")?;
            let layers = at(&cfg.layers_per_block, i, "layers_per_block")?;
            let scale = at(&cfg.spatio_temporal_scaling, i, "spatio_temporal_scaling")?;
            let p = &bp / i;
            let res = resnets(&p, layers, input, eps, causal, false, false)?;
            let dp = &p / "downsamplers" / 0;
            let block = match block_type.as_str() {
                "LTXVideoDownBlock3D" => {
                    let downsampler = if scale {
                        (spatial, temporal) = (spatial * 2, temporal * 2);
                        Some(Downsampler::Conv(CausalConv3d::new(&dp, input, input, 3, [2, 2, 2], causal)?))
                    } else {
                        None
                    };
                    let conv_out = if input != output {
                        Some(ResnetBlock3d::new(&(&p / "conv_out"), input, output, eps, causal, false, false)?)
                    } else {
                        None
                    };
                    actual = output;
                    DownBlock { resnets: res, downsampler, conv_out }
                }
                "LTXVideo095DownBlock3D" => {
                    let kind = at(&cfg.downsample_type, i, "downsample_type")?;
                    actual = input;
                    let downsampler = if !scale {
                        None
                    } else if kind == "conv" {
                        (spatial, temporal) = (spatial * 2, temporal * 2);
                        Some(Downsampler::Conv(CausalConv3d::new(&dp, input, input, 3, [2, 2, 2], causal)?))
                    } else {
                        let stride = fold_stride(&kind).ok_or_else(|| {
                            invalid_config(format!(
                                "downsample_type[{i}] = {kind:?}; expected conv, spatial, temporal or spatiotemporal"
                            ))
                        })?;
                        let s: i64 = stride.iter().product();
                        if output % s != 0 || (input * s) % output != 0 {
                            return Err(invalid_config(format!(
                                "encoder block {i} folds {input} channels by {s} into {output}: {output} must divide \
                                 {input}x{s} and be a multiple of {s}"
                            )));
                        }
                        (temporal, spatial) = (temporal * stride[0], spatial * stride[1]);
                        actual = output;
                        Some(Downsampler::Fold(Downsampler3d::new(&dp, input, output, stride, causal)?))
                    };
                    DownBlock { resnets: res, downsampler, conv_out: None }
                }
                other => {
                    return Err(invalid_config(format!(
                        "down_block_types[{i}] = {other:?}; expected LTXVideoDownBlock3D or LTXVideo095DownBlock3D"
                    )))
                }
            };
            down_blocks.push(block);
        }
        if actual != output {
            return Err(invalid_config(format!(
                "the last encoder block produces {actual} channels but the mid block expects {output}"
            )));
        }
        let mid_layers = *cfg.layers_per_block.last().unwrap_or(&0);
        Ok(Self {
            patch_size: cfg.patch_size,
            patch_size_t: cfg.patch_size_t,
            latent_channels: cfg.latent_channels,
            conv_in,
            down_blocks,
            mid_block: MidBlock3d::new(&(p / "mid_block"), output, mid_layers, eps, causal, false, false)?,
            conv_out: CausalConv3d::new(&(p / "conv_out"), output, cfg.latent_channels + 1, 3, [1, 1, 1], causal)?,
            spatial_downsample: spatial,
            temporal_downsample: temporal,
        })
    }

    /// [B, C, F, H, W] video -> [B, latent_channels, F', H', W'] posterior mean. The encoder's
    /// last conv gives latent+1 channels (mean, then one shared log-variance channel that diffusers
    /// repeats); `mode()` is the first `latent_channels`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.moments(x)?.f_narrow(1, 0, self.latent_channels)?)
    }

    /// The encoder's raw output: `latent_channels` means then one shared log-variance channel.
    fn moments(&self, x: &Tensor) -> Result<Tensor> {
        let (p, pt) = (self.patch_size, self.patch_size_t);
        let [b, c, f, h, w] = dims5(x)?;
        let x = x
            .f_reshape(&[b, c, f / pt, pt, h / p, p, w / p, p][..])?
            .f_permute([0, 1, 3, 7, 5, 2, 4, 6])?
            .f_reshape([b, c * pt * p * p, f / pt, h / p, w / p])?;
        let mut h = self.conv_in.forward(&x)?;
        for block in &self.down_blocks {
            h = block.forward(h)?;
        }
        h = self.mid_block.forward(h, None)?;
        self.conv_out.forward(&rms_norm_channels(&h)?.f_silu()?)
    }
}

/// `LTXVideoDecoder3d`.
struct Decoder3d {
    patch_size: i64,
    patch_size_t: i64,
    conv_in: CausalConv3d,
    mid_block: MidBlock3d,
    up_blocks: Vec<UpBlock3d>,
    conv_out: CausalConv3d,
    /// Present with `timestep_conditioning`.
    time_embedder: Option<TimeEmbedder>,
    scale_shift_table: Option<Tensor>,
    timestep_scale_multiplier: Option<Tensor>,
    out_block_channels: i64,
}

impl Decoder3d {
    fn new(p: &nn::Path, cfg: &AutoencoderKlLtxVideoConfig) -> Result<Self> {
        let rev = |v: &[i64]| v.iter().rev().copied().collect::<Vec<_>>();
        let revb = |v: &[bool]| v.iter().rev().copied().collect::<Vec<_>>();
        let boc = rev(&cfg.decoder_block_out_channels);
        let scaling = revb(&cfg.decoder_spatio_temporal_scaling);
        let layers = rev(&cfg.decoder_layers_per_block);
        let inject = revb(&cfg.decoder_inject_noise);
        let residual = revb(&cfg.upsample_residual);
        let factor = rev(&cfg.upsample_factor);
        let (eps, causal, tc) = (cfg.resnet_norm_eps, cfg.decoder_causal, cfg.timestep_conditioning);
        if boc.is_empty() {
            return Err(invalid_config("decoder_block_out_channels is empty".into()));
        }
        let (pp, pt) = (cfg.patch_size * cfg.patch_size, cfg.patch_size_t);
        if (cfg.out_channels * pp) % (pt * pp) != 0 {
            return Err(invalid_config(format!(
                "out_channels {} cannot be unpatched by patch_size_t {pt}",
                cfg.out_channels
            )));
        }
        let mut output = boc[0];
        let conv_in = CausalConv3d::new(&(p / "conv_in"), cfg.latent_channels, output, 3, [1, 1, 1], causal)?;
        let mid_block = MidBlock3d::new(
            &(p / "mid_block"),
            output,
            at(&layers, 0, "decoder_layers_per_block")?,
            eps,
            causal,
            at(&inject, 0, "decoder_inject_noise")?,
            tc,
        )?;
        let mut actual = output;
        let mut up_blocks = Vec::with_capacity(boc.len());
        let bp = p / "up_blocks";
        for (i, &width) in boc.iter().enumerate() {
            let uf = at(&factor, i, "upsample_factor")?;
            if uf < 1 {
                return Err(invalid_config(format!("upsample_factor entries must be >= 1, got {uf}")));
            }
            let input = output / uf;
            output = width / uf;
            let num_layers = at(&layers, i + 1, "decoder_layers_per_block")?;
            let noise = at(&inject, i + 1, "decoder_inject_noise")?;
            let scale = at(&scaling, i, "decoder_spatio_temporal_scaling")?;
            let res = at(&residual, i, "upsample_residual")?;
            let p = &bp / i;
            let mismatch = |have: i64, want: i64| {
                invalid_config(format!("decoder up block {i} receives {have} channels where it expects {want}"))
            };
            let conv_in = if input != output {
                // diffusers hands this resnet the raw timestep and sizes its noise scales for the
                // input width: it cannot run with either feature, so refuse the config up front.
                if tc || noise {
                    return Err(invalid_config(format!(
                        "decoder up block {i} changes width {input} -> {output} in a resnet, which diffusers \
                         cannot run with timestep_conditioning or decoder_inject_noise"
                    )));
                }
                if actual != input {
                    return Err(mismatch(actual, input));
                }
                actual = output;
                Some(ResnetBlock3d::new(&(&p / "conv_in"), input, output, eps, causal, false, false)?)
            } else {
                None
            };
            let upsampler = if scale {
                let c_in = output * uf;
                if actual != c_in {
                    return Err(mismatch(actual, c_in));
                }
                if res && (c_in % 8 != 0 || 8 % uf != 0) {
                    return Err(invalid_config(format!(
                        "decoder up block {i}: a residual upsampler needs channels ({c_in}) divisible by 8 and an \
                         upsample_factor ({uf}) dividing 8"
                    )));
                }
                actual = output;
                Some(Upsampler3d::new(&(&p / "upsamplers" / 0), c_in, causal, res, uf)?)
            } else {
                None
            };
            if num_layers > 0 && actual != output {
                return Err(mismatch(actual, output));
            }
            up_blocks.push(UpBlock3d {
                time_embedder: if tc { Some(TimeEmbedder::new(&(&p / "time_embedder"), input * 4)?) } else { None },
                conv_in,
                upsampler,
                resnets: resnets(&p, num_layers, output, eps, causal, noise, tc)?,
            });
        }
        if actual != output {
            return Err(invalid_config(format!(
                "the last decoder block produces {actual} channels but conv_out expects {output}"
            )));
        }
        let conv_out = CausalConv3d::new(&(p / "conv_out"), output, cfg.out_channels * pp, 3, [1, 1, 1], causal)?;
        let (time_embedder, scale_shift_table, timestep_scale_multiplier) = if tc {
            (
                Some(TimeEmbedder::new(&(p / "time_embedder"), output * 2)?),
                Some(p.f_zeros_no_train("scale_shift_table", &[2, output])?),
                Some(p.f_ones_no_train("timestep_scale_multiplier", &[])?),
            )
        } else {
            (None, None, None)
        };
        Ok(Self {
            patch_size: cfg.patch_size,
            patch_size_t: cfg.patch_size_t,
            conv_in,
            mid_block,
            up_blocks,
            conv_out,
            time_embedder,
            scale_shift_table,
            timestep_scale_multiplier,
            out_block_channels: output,
        })
    }

    /// `temb`: [B] timesteps in the model's dtype (required exactly when conditioned).
    fn forward(&self, z: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let mut h = self.conv_in.forward(z)?;
        let temb = match (&self.timestep_scale_multiplier, temb) {
            (Some(m), Some(t)) => Some(t.f_mul(m)?),
            (Some(_), None) => {
                return Err(ModelError::InvalidInput("timestep-conditioned decoder called without temb".into()))
            }
            (None, _) => None,
        };
        h = self.mid_block.forward(h, temb.as_ref())?;
        for block in &self.up_blocks {
            h = block.forward(h, temb.as_ref())?;
        }
        h = rms_norm_channels(&h)?;
        if let (Some(embedder), Some(table), Some(t)) = (&self.time_embedder, &self.scale_shift_table, &temb) {
            let c = self.out_block_channels;
            let ada = embedder
                .embed_for_blocks(t, h.size()[0])?
                .f_view([-1, 2, c, 1, 1, 1])?
                .f_add(&table.f_view([1, 2, c, 1, 1, 1])?)?;
            h = modulate(&h, &ada.f_select(1, 0)?, &ada.f_select(1, 1)?)?;
        }
        h = self.conv_out.forward(&h.f_silu()?)?;
        let (p, pt) = (self.patch_size, self.patch_size_t);
        let [b, c, f, hh, ww] = dims5(&h)?;
        let c_out = c / (pt * p * p);
        Ok(h.f_reshape(&[b, c_out, pt, p, p, f, hh, ww][..])?.f_permute([0, 1, 5, 2, 6, 4, 7, 3])?.f_reshape([
            b,
            c_out,
            f * pt,
            hh * p,
            ww * p,
        ])?)
    }
}

// ---------------------------------------------------------------------------------------------
// Tiling

/// `blend_v/blend_h/blend_t` along `dim`, in place on `b` (whose later use as the next tile's
/// neighbour must see the blended values, as in diffusers): b's first `extent` slices become
/// `a_tail * (1 - y/e) + b * (y/e)`.
fn blend_into(a: &Tensor, b: &Tensor, dim: usize, extent: i64) -> Result<()> {
    let (la, lb) = (a.size()[dim], b.size()[dim]);
    let e = extent.min(la).min(lb);
    if e <= 0 {
        return Ok(());
    }
    // The weights are rounded from f64 to f32 exactly as diffusers' Python-float scalars are.
    let wb: Vec<f32> = (0..e).map(|y| (y as f64 / e as f64) as f32).collect();
    let wa: Vec<f32> = (0..e).map(|y| (1.0 - y as f64 / e as f64) as f32).collect();
    let mut shape = vec![1i64; 5];
    shape[dim] = e;
    let weights =
        |w: &[f32]| -> Result<Tensor> { Ok(Tensor::f_from_slice(w)?.f_to(b.device())?.f_view(shape.as_slice())?) };
    let d = dim as i64;
    let mixed = a.f_narrow(d, la - e, e)?.f_mul(&weights(&wa)?)?.f_add(&b.f_narrow(d, 0, e)?.f_mul(&weights(&wb)?)?)?;
    b.f_narrow(d, 0, e)?.f_copy_(&mixed)?;
    Ok(())
}

/// Copies `piece` into `out` starting at `start` along dims 2, 3, 4, cropping what falls outside.
fn paste(out: &Tensor, piece: &Tensor, start: [i64; 3]) -> Result<()> {
    let (mut dst, mut src) = (out.shallow_clone(), piece.shallow_clone());
    for (axis, &s) in start.iter().enumerate() {
        let d = axis as i64 + 2;
        let len = src.size()[d as usize].min(dst.size()[d as usize] - s).max(0);
        dst = dst.f_narrow(d, s, len)?;
        src = src.f_narrow(d, 0, len)?;
    }
    dst.f_copy_(&src)?;
    Ok(())
}

/// One tiled pass over height and width (`tiled_encode` / `tiled_decode`): tiles of `tile`
/// input pixels every `stride`, each run through `run`, blended with the tile above and to the
/// left over `blend` output pixels, cropped to `keep` and assembled into `out_hw`. Only the
/// previous row of tiles is kept alive.
fn tiled_2d(
    input: &Tensor,
    [tile_h, tile_w]: [i64; 2],
    [stride_h, stride_w]: [i64; 2],
    [blend_h, blend_w]: [i64; 2],
    [keep_h, keep_w]: [i64; 2],
    out_hw: [i64; 2],
    run: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let [_, _, _, h, w] = dims5(input)?;
    let mut out: Option<Tensor> = None;
    let mut prev_row: Vec<Tensor> = Vec::new();
    let (mut y0, mut total_w) = (0, 0);
    for i in (0..h).step_by(stride_h as usize) {
        let mut row: Vec<Tensor> = Vec::new();
        let (mut x0, mut row_h) = (0, 0);
        for (jn, j) in (0..w).step_by(stride_w as usize).enumerate() {
            let part = input.f_narrow(3, i, tile_h.min(h - i))?.f_narrow(4, j, tile_w.min(w - j))?;
            let tile = run(&part)?;
            if let Some(above) = prev_row.get(jn) {
                blend_into(above, &tile, 3, blend_h)?;
            }
            if let Some(left) = row.last() {
                blend_into(left, &tile, 4, blend_w)?;
            }
            let [b, c, f, th, tw] = dims5(&tile)?;
            let out = match &out {
                Some(o) => o,
                None => out.insert(Tensor::f_zeros([b, c, f, out_hw[0], out_hw[1]], (tile.kind(), tile.device()))?),
            };
            let (ph, pw) = (keep_h.min(th), keep_w.min(tw));
            paste(out, &tile.f_narrow(3, 0, ph)?.f_narrow(4, 0, pw)?, [0, y0, x0])?;
            x0 += pw;
            row_h = ph;
            row.push(tile);
        }
        y0 += row_h;
        total_w = x0;
        prev_row = row;
    }
    let out = out.ok_or_else(|| ModelError::InvalidInput("empty input to a tiled pass".into()))?;
    Ok(out.f_narrow(3, 0, y0.min(out_hw[0]))?.f_narrow(4, 0, total_w.min(out_hw[1]))?)
}

/// Which end of a later temporal window overlaps the previous one and is discarded.
#[derive(Clone, Copy)]
enum Drop {
    First,
    Last,
}

/// One windowed pass over time (`_temporal_tiled_encode` / `_temporal_tiled_decode`): windows
/// of `window` input frames every `stride`, each run through `run`, later windows minus one
/// frame (`drop`), cross-faded with the previous window over `blend` output frames, the first
/// window cropped to `keep + 1` frames and the rest to `keep`, assembled up to `out_frames`.
#[allow(clippy::too_many_arguments)]
fn windowed(
    input: &Tensor,
    window: i64,
    stride: i64,
    drop: Drop,
    blend: i64,
    keep: i64,
    out_frames: i64,
    run: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let frames = input.size()[2];
    let mut out: Option<Tensor> = None;
    let mut prev: Option<Tensor> = None;
    let mut t0 = 0;
    for i in (0..frames).step_by(stride as usize) {
        let mut tile = run(&input.f_narrow(2, i, window.min(frames - i))?)?;
        let [b, c, f, h, w] = dims5(&tile)?;
        if i > 0 {
            let len = (f - 1).max(0);
            tile = match drop {
                Drop::First => tile.f_narrow(2, 1.min(f), len)?,
                Drop::Last => tile.f_narrow(2, 0, len)?,
            };
        }
        let count = match &prev {
            Some(p) => {
                blend_into(p, &tile, 2, blend)?;
                keep
            }
            None => keep + 1,
        };
        let out = match &out {
            Some(o) => o,
            None => out.insert(Tensor::f_zeros([b, c, out_frames, h, w], (tile.kind(), tile.device()))?),
        };
        let n = count.min(tile.size()[2]);
        paste(out, &tile.f_narrow(2, 0, n)?, [t0, 0, 0])?;
        t0 += n;
        prev = Some(tile);
    }
    let out = out.ok_or_else(|| ModelError::InvalidInput("empty input to a windowed pass".into()))?;
    Ok(out.f_narrow(2, 0, t0.min(out_frames))?)
}

// ---------------------------------------------------------------------------------------------
// The model

/// The LTX-Video VAE; see the module documentation.
pub struct AutoencoderKlLtxVideo {
    pub config: AutoencoderKlLtxVideoConfig,
    encoder: Encoder3d,
    decoder: Decoder3d,
    latents_mean: Tensor,
    latents_std: Tensor,
    tiling: LtxVaeTiling,
    spatial_ratio: i64,
    temporal_ratio: i64,
}

// SAFETY: `tch::Tensor` is not `Sync` only because a shared handle could mutate it in place. The
// parameters are never mutated after construction/loading (inference only reads them; grad mode
// is thread-local), and the tiling settings change only through `&mut self`. Noise injection
// draws from libtorch's global generator, which locks internally. Concurrent `encode`/`decode`
// calls from several render threads are therefore sound.
unsafe impl Sync for AutoencoderKlLtxVideo {}

impl AutoencoderKlLtxVideo {
    /// Builds the modules under `vs` (parameters named like the diffusers state dict), with
    /// zero weights and diffusers' initial `latents_mean` (0) and `latents_std` (1). Refuses
    /// configs whose block layout diffusers could construct but not run, naming the problem.
    pub fn new(vs: &nn::Path, config: AutoencoderKlLtxVideoConfig) -> Result<Self> {
        let cfg = &config;
        for (key, value) in [
            ("in_channels", cfg.in_channels),
            ("out_channels", cfg.out_channels),
            ("latent_channels", cfg.latent_channels),
            ("patch_size", cfg.patch_size),
            ("patch_size_t", cfg.patch_size_t),
        ] {
            if value < 1 {
                return Err(invalid_config(format!("{key} must be >= 1, got {value}")));
            }
        }
        if let Some(b) = cfg.block_out_channels.iter().chain(&cfg.decoder_block_out_channels).find(|&&b| b < 1) {
            return Err(invalid_config(format!("block widths must be >= 1, got {b}")));
        }
        if let Some(l) = cfg.layers_per_block.iter().chain(&cfg.decoder_layers_per_block).find(|&&l| l < 0) {
            return Err(invalid_config(format!("layer counts must be >= 0, got {l}")));
        }
        let encoder = Encoder3d::new(&(vs / "encoder"), cfg)?;
        let decoder = Decoder3d::new(&(vs / "decoder"), cfg)?;
        // diffusers falls back to patch*2^(scaling blocks), which only counts right for
        // stride-2x2x2 blocks; the layers themselves are the truth, and an explicit ratio that
        // disagrees with them would mis-size every tile.
        let spatial_ratio = cfg.spatial_compression_ratio.unwrap_or(encoder.spatial_downsample);
        let temporal_ratio = cfg.temporal_compression_ratio.unwrap_or(encoder.temporal_downsample);
        if spatial_ratio != encoder.spatial_downsample || temporal_ratio != encoder.temporal_downsample {
            return Err(invalid_config(format!(
                "spatial/temporal_compression_ratio {spatial_ratio}/{temporal_ratio} disagree with the encoder blocks, \
                 which compress {}x spatially and {}x in time",
                encoder.spatial_downsample, encoder.temporal_downsample
            )));
        }
        let mut tiling = LtxVaeTiling::default();
        if tiling.validate(spatial_ratio, temporal_ratio).is_err() {
            // An unusual ratio the default geometry does not divide: run untiled rather than
            // with tiles that straddle latent pixels.
            tiling = LtxVaeTiling::disabled();
        }
        Ok(Self {
            encoder,
            decoder,
            latents_mean: vs.f_zeros_no_train("latents_mean", &[cfg.latent_channels])?,
            latents_std: vs.f_ones_no_train("latents_std", &[cfg.latent_channels])?,
            tiling,
            spatial_ratio,
            temporal_ratio,
            config,
        })
    }

    /// Loads a diffusers `AutoencoderKLLTXVideo` folder (`config.json` and safetensors weights,
    /// any float dtype) onto `device`, computing in `kind` (Float, BFloat16 or Half).
    pub fn load(dir: &Path, device: Device, kind: Kind) -> Result<Self> {
        if !matches!(kind, Kind::Float | Kind::BFloat16 | Kind::Half | Kind::Double) {
            return Err(ModelError::InvalidConfig(format!("the VAE runs in Float, BFloat16 or Half, not {kind:?}")));
        }
        if !dir.join("config.json").is_file() && dir.join("vae").join("config.json").is_file() {
            return Err(ModelError::InvalidConfig(format!(
                "{} is a pipeline folder; point at its vae/ subfolder",
                dir.display()
            )));
        }
        let config: AutoencoderKlLtxVideoConfig = read_config(dir)?;
        if let Some(name) = config.class_name.as_deref().filter(|n| *n != CLASS_NAME) {
            return Err(ModelError::InvalidConfig(format!(
                "{}: config.json describes a {name}, not an {CLASS_NAME} (LTX-Video VAE)",
                dir.display()
            )));
        }
        let checkpoint = Checkpoint::open(dir)?;
        let mut vs = VarStore::new(device);
        let model = Self::new(&vs.root(), config)?;
        vs.set_kind(kind);
        checkpoint.load_into(&vs, "", &[])?;
        Ok(model)
    }

    pub fn device(&self) -> Device {
        self.decoder.conv_in.weight.device()
    }

    pub fn kind(&self) -> Kind {
        self.decoder.conv_in.weight.kind()
    }

    /// Video pixels per latent pixel (32 for every published LTX VAE).
    pub fn spatial_compression_ratio(&self) -> i64 {
        self.spatial_ratio
    }

    /// Video frames per latent frame after the first (8 for every published LTX VAE).
    pub fn temporal_compression_ratio(&self) -> i64 {
        self.temporal_ratio
    }

    /// [latent_channels], in the model's dtype and device.
    pub fn latents_mean(&self) -> &Tensor {
        &self.latents_mean
    }

    pub fn latents_std(&self) -> &Tensor {
        &self.latents_std
    }

    pub fn tiling(&self) -> &LtxVaeTiling {
        &self.tiling
    }

    /// Replaces the tiling settings after checking that the tiles map to whole latent pixels
    /// and frames and overlap.
    pub fn set_tiling(&mut self, tiling: LtxVaeTiling) -> Result<()> {
        tiling.validate(self.spatial_ratio, self.temporal_ratio)?;
        self.tiling = tiling;
        Ok(())
    }

    /// `LTXPipeline._normalize_latents`: `(latents - mean) * scaling_factor / std` per channel.
    pub fn normalize_latents(&self, latents: &Tensor, scaling_factor: f64) -> Result<Tensor> {
        let (mean, std) = self.stats_like(latents)?;
        Ok(latents.f_sub(&mean)?.f_mul_scalar(scaling_factor)?.f_div(&std)?)
    }

    /// `LTXPipeline._denormalize_latents`: `latents * std / scaling_factor + mean` per channel.
    pub fn denormalize_latents(&self, latents: &Tensor, scaling_factor: f64) -> Result<Tensor> {
        let (mean, std) = self.stats_like(latents)?;
        Ok(latents.f_mul(&std)?.f_div_scalar(scaling_factor)?.f_add(&mean)?)
    }

    fn stats_like(&self, latents: &Tensor) -> Result<(Tensor, Tensor)> {
        let c = self.config.latent_channels;
        let size = latents.size();
        if size.len() != 5 || size[1] != c {
            return Err(ModelError::InvalidInput(format!(
                "latents must be [batch, {c}, frames, height, width]; got {size:?}"
            )));
        }
        let like = |t: &Tensor| -> Result<Tensor> {
            Ok(t.f_view([1, c, 1, 1, 1])?.f_to_device(latents.device())?.f_to_kind(latents.kind())?)
        };
        Ok((like(&self.latents_mean)?, like(&self.latents_std)?))
    }

    /// `vae.encode(video).latent_dist.mode()`: [B, 3, 1+8k, H, W] in [-1, 1] with H and W
    /// multiples of 32 (the ratios of this VAE in general) -> [B, latent_channels, 1+k, H/32, W/32],
    /// un-normalised, in the model's dtype on the model's device.
    pub fn encode(&self, video: &Tensor) -> Result<Tensor> {
        self.check_video(video)?;
        if self.config.patch_size_t != 1 {
            return Err(ModelError::InvalidInput(format!(
                "this VAE's encoder cannot run: patch_size_t = {} gives conv_in {} channels where it has {} \
                 (diffusers fails the same way)",
                self.config.patch_size_t,
                self.config.in_channels * self.config.patch_size_t * self.config.patch_size.pow(2),
                self.config.in_channels * self.config.patch_size.pow(2)
            )));
        }
        let x = video.f_to_device(self.device())?.f_to_kind(self.kind())?;
        tch::no_grad(|| {
            let batch = x.size()[0];
            if self.tiling.use_slicing && batch > 1 {
                let parts = (0..batch).map(|b| self.encode_one(&x.f_narrow(0, b, 1)?)).collect::<Result<Vec<_>>>()?;
                Ok(Tensor::f_cat(&parts, 0)?)
            } else {
                self.encode_one(&x)
            }
        })
    }

    /// `vae.decode(z, temb).sample`: [B, latent_channels, F, h, w] -> [B, 3, 1+8(F-1), 32h, 32w]
    /// in the model's dtype, roughly [-1, 1]. `temb` (the decode timestep, e.g. 0.05) is required
    /// by timestep-conditioned VAEs, one value per batch entry or one for all; it is ignored by
    /// the others, as in diffusers.
    pub fn decode(&self, z: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let c = self.config.latent_channels;
        let size = z.size();
        if size.len() != 5 || size[1] != c || size[2..].iter().any(|&d| d < 1) || size[0] < 1 {
            return Err(ModelError::InvalidInput(format!(
                "latents must be [batch, {c}, frames, height, width] with every size >= 1; got {size:?}"
            )));
        }
        check_finite(z, "latents")?;
        let batch = size[0];
        let temb = if self.config.timestep_conditioning {
            let t = temb.ok_or_else(|| {
                ModelError::InvalidInput(
                    "this VAE is timestep-conditioned: pass the decode timestep as temb (e.g. 0.05), one per batch \
                     entry or one for all"
                        .into(),
                )
            })?;
            let n = t.numel() as i64;
            if n != batch && n != 1 {
                return Err(ModelError::InvalidInput(format!(
                    "temb holds {n} values; expected one per batch entry ({batch}) or one for all"
                )));
            }
            check_finite(t, "temb")?;
            let t = t.f_flatten(0, -1)?.f_to_device(self.device())?.f_to_kind(self.kind())?;
            Some(if n == 1 { t.f_expand([batch], false)?.f_contiguous()? } else { t })
        } else {
            None
        };
        let z = z.f_to_device(self.device())?.f_to_kind(self.kind())?;
        tch::no_grad(|| {
            if self.tiling.use_slicing && batch > 1 {
                let parts = (0..batch)
                    .map(|b| {
                        let tb = temb.as_ref().map(|t| t.f_narrow(0, b, 1)).transpose()?;
                        self.decode_one(&z.f_narrow(0, b, 1)?, tb.as_ref())
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Tensor::f_cat(&parts, 0)?)
            } else {
                self.decode_one(&z, temb.as_ref())
            }
        })
    }

    /// Training entry point: the posterior `(mean, logvar)` of `video` ([B, 3, 1+8k, H, W] in
    /// [-1, 1]), untiled and recording autograd, with the shared log-variance channel broadcast to
    /// every latent channel as diffusers' `DiagonalGaussianDistribution` does.
    pub fn encode_posterior(&self, video: &Tensor) -> Result<(Tensor, Tensor)> {
        self.check_video(video)?;
        let h = self.encoder.moments(&video.f_to_device(self.device())?.f_to_kind(self.kind())?)?;
        let c = self.config.latent_channels;
        let mean = h.f_narrow(1, 0, c)?;
        let logvar = h.f_narrow(1, c, 1)?.f_clamp(-30.0, 20.0)?.f_expand_as(&mean)?;
        Ok((mean, logvar))
    }

    /// Training entry point: `decode` without tiling and recording autograd.
    pub fn decode_train(&self, z: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        self.decoder.forward(z, temb)
    }

    /// Replaces the latent statistics used by `normalize_latents` / `denormalize_latents` (a
    /// trainer measures them on its data after training the autoencoder).
    pub fn set_latent_stats(&mut self, mean: &Tensor, std: &Tensor) -> Result<()> {
        let c = self.config.latent_channels;
        if mean.size() != [c] || std.size() != [c] {
            return Err(ModelError::InvalidInput(format!("latent statistics must be [{c}]")));
        }
        tch::no_grad(|| -> Result<()> {
            self.latents_mean.f_copy_(mean)?;
            self.latents_std.f_copy_(std)?;
            Ok(())
        })
    }

    fn check_video(&self, video: &Tensor) -> Result<()> {
        let cin = self.config.in_channels;
        let size = video.size();
        if size.len() != 5 {
            return Err(ModelError::InvalidInput(format!(
                "video must be [batch, {cin}, frames, height, width] (a still image is frames = 1); got shape {size:?}"
            )));
        }
        let [b, c, f, h, w] = [size[0], size[1], size[2], size[3], size[4]];
        if c != cin {
            return Err(ModelError::InvalidInput(format!(
                "video has {c} channels; this VAE encodes {cin} (RGB in [-1, 1], channels second)"
            )));
        }
        if b < 1 {
            return Err(ModelError::InvalidInput("video batch is empty".into()));
        }
        let tr = self.encoder.temporal_downsample;
        if f < 1 || (f - 1) % tr != 0 {
            let below = 1 + (f.max(1) - 1) / tr * tr;
            return Err(ModelError::InvalidInput(format!(
                "video has {f} frames; the encoder needs 1 + {tr}k frames (1, {}, {}, ...), e.g. {below} or {}",
                1 + tr,
                1 + 2 * tr,
                below + tr
            )));
        }
        let sr = self.encoder.spatial_downsample;
        if h < sr || w < sr || h % sr != 0 || w % sr != 0 {
            let round = |v: i64| (v.max(sr) + sr / 2) / sr * sr;
            return Err(ModelError::InvalidInput(format!(
                "video is {w}x{h} (width x height); both must be multiples of {sr}, e.g. {}x{}",
                round(w),
                round(h)
            )));
        }
        check_finite(video, "video")
    }

    /// diffusers `_encode` for one slice.
    fn encode_one(&self, x: &Tensor) -> Result<Tensor> {
        let t = &self.tiling;
        let [_, _, frames, h, w] = dims5(x)?;
        if t.use_framewise_encoding && frames > t.tile_sample_min_num_frames {
            return self.temporal_tiled_encode(x);
        }
        if t.use_tiling && (w > t.tile_sample_min_width || h > t.tile_sample_min_height) {
            return self.tiled_encode(x);
        }
        self.encoder.forward(x)
    }

    /// diffusers `_decode` for one slice.
    fn decode_one(&self, z: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let t = &self.tiling;
        let [_, _, frames, h, w] = dims5(z)?;
        let (sr, tr) = (self.spatial_ratio, self.temporal_ratio);
        if t.use_framewise_decoding && frames > t.tile_sample_min_num_frames / tr {
            return self.temporal_tiled_decode(z, temb);
        }
        if t.use_tiling && (w > t.tile_sample_min_width / sr || h > t.tile_sample_min_height / sr) {
            return self.tiled_decode(z, temb);
        }
        self.decoder.forward(z, temb)
    }

    fn tiled_encode(&self, x: &Tensor) -> Result<Tensor> {
        let t = &self.tiling;
        let sr = self.spatial_ratio;
        let [_, _, _, h, w] = dims5(x)?;
        let (min_h, min_w) = (t.tile_sample_min_height / sr, t.tile_sample_min_width / sr);
        let (stride_h, stride_w) = (t.tile_sample_stride_height / sr, t.tile_sample_stride_width / sr);
        tiled_2d(
            x,
            [t.tile_sample_min_height, t.tile_sample_min_width],
            [t.tile_sample_stride_height, t.tile_sample_stride_width],
            [min_h - stride_h, min_w - stride_w],
            [stride_h, stride_w],
            [h / sr, w / sr],
            &mut |tile| self.encoder.forward(tile),
        )
    }

    fn tiled_decode(&self, z: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let t = &self.tiling;
        let sr = self.spatial_ratio;
        let [_, _, _, h, w] = dims5(z)?;
        tiled_2d(
            z,
            [t.tile_sample_min_height / sr, t.tile_sample_min_width / sr],
            [t.tile_sample_stride_height / sr, t.tile_sample_stride_width / sr],
            [
                t.tile_sample_min_height - t.tile_sample_stride_height,
                t.tile_sample_min_width - t.tile_sample_stride_width,
            ],
            [t.tile_sample_stride_height, t.tile_sample_stride_width],
            [h * sr, w * sr],
            &mut |tile| self.decoder.forward(tile, temb),
        )
    }

    fn temporal_tiled_encode(&self, x: &Tensor) -> Result<Tensor> {
        let t = &self.tiling;
        let tr = self.temporal_ratio;
        let [_, _, frames, h, w] = dims5(x)?;
        let (min_lat, stride_lat) = (t.tile_sample_min_num_frames / tr, t.tile_sample_stride_num_frames / tr);
        let spatial = t.use_tiling && (h > t.tile_sample_min_height || w > t.tile_sample_min_width);
        windowed(
            x,
            t.tile_sample_min_num_frames + 1,
            t.tile_sample_stride_num_frames,
            Drop::First,
            min_lat - stride_lat,
            stride_lat,
            (frames - 1) / tr + 1,
            &mut |window| if spatial { self.tiled_encode(window) } else { self.encoder.forward(window) },
        )
    }

    fn temporal_tiled_decode(&self, z: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let t = &self.tiling;
        let (sr, tr) = (self.spatial_ratio, self.temporal_ratio);
        let [_, _, frames, h, w] = dims5(z)?;
        let min_lat = t.tile_sample_min_num_frames / tr;
        let spatial = t.use_tiling && (w > t.tile_sample_min_width / sr || h > t.tile_sample_min_height / sr);
        let drop = match t.temporal_decode_seam {
            TemporalSeam::Diffusers => Drop::Last,
            TemporalSeam::Aligned => Drop::First,
        };
        windowed(
            z,
            min_lat + 1,
            t.tile_sample_stride_num_frames / tr,
            drop,
            t.tile_sample_min_num_frames - t.tile_sample_stride_num_frames,
            t.tile_sample_stride_num_frames,
            (frames - 1) * tr + 1,
            &mut |window| if spatial { self.tiled_decode(window, temb) } else { self.decoder.forward(window, temb) },
        )
    }
}

fn dims5(x: &Tensor) -> Result<[i64; 5]> {
    let size = x.size();
    <[i64; 5]>::try_from(size.as_slice())
        .map_err(|_| ModelError::InvalidInput(format!("expected a 5-d [B, C, F, H, W] tensor, got {size:?}")))
}

fn check_finite(x: &Tensor, what: &str) -> Result<()> {
    if x.f_isfinite()?.f_all()?.f_int64_value(&[])? == 0 {
        return Err(ModelError::InvalidInput(format!("{what} contains NaN or infinite values")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_matches_diffusers_init_and_ignores_unknown_keys() {
        let cfg: AutoencoderKlLtxVideoConfig =
            serde_json::from_str(r#"{"_class_name": "AutoencoderKLLTXVideo", "_diffusers_version": "0.32.0"}"#)
                .unwrap();
        assert_eq!(cfg, AutoencoderKlLtxVideoConfig { class_name: Some(CLASS_NAME.into()), ..Default::default() });
        // The default layout at narrow widths (the full one is 419M parameters); key count,
        // parameter count and shapes come from diffusers' state dict for the same config.
        let narrow = AutoencoderKlLtxVideoConfig {
            latent_channels: 8,
            block_out_channels: vec![8, 16, 32, 32],
            decoder_block_out_channels: vec![8, 16, 32, 32],
            ..cfg
        };
        let vs = VarStore::new(Device::Cpu);
        let vae = AutoencoderKlLtxVideo::new(&vs.root(), narrow).unwrap();
        assert_eq!((vae.spatial_compression_ratio(), vae.temporal_compression_ratio()), (32, 8));
        let vars = vs.variables();
        assert_eq!(vars.values().map(Tensor::numel).sum::<usize>(), 1_660_145);
        assert_eq!(vars["encoder.conv_in.conv.weight"].size(), [8, 48, 3, 3, 3]);
        assert_eq!(vars["encoder.down_blocks.0.conv_out.norm3.weight"].size(), [8]);
        assert_eq!(vars["encoder.conv_out.conv.weight"].size(), [9, 32, 3, 3, 3]);
        assert_eq!(vars["decoder.up_blocks.2.conv_in.conv_shortcut.conv.weight"].size(), [16, 32, 1, 1, 1]);
        assert_eq!(vars["decoder.up_blocks.2.upsamplers.0.conv.conv.weight"].size(), [128, 16, 3, 3, 3]);
        assert_eq!(vars["decoder.conv_out.conv.weight"].size(), [48, 8, 3, 3, 3]);
        assert!(vars.contains_key("latents_std"));
        // diffusers' state dict for this config has 190 entries.
        assert_eq!(vars.len(), 190);
    }

    #[test]
    fn ltx_095_layout_has_the_published_compression_and_keys() {
        // The 0.9.5 block layout at 1/16 of its widths (to stay small); the expected key count,
        // parameter count and shapes come from diffusers' state dict for the same config.
        let cfg = AutoencoderKlLtxVideoConfig {
            latent_channels: 16,
            block_out_channels: vec![8, 16, 32, 64, 128],
            down_block_types: vec!["LTXVideo095DownBlock3D".into(); 4],
            decoder_block_out_channels: vec![16, 32, 64],
            layers_per_block: vec![4, 6, 6, 2, 2],
            decoder_layers_per_block: vec![5, 5, 5, 5],
            spatio_temporal_scaling: vec![true; 4],
            decoder_spatio_temporal_scaling: vec![true; 3],
            decoder_inject_noise: vec![false; 4],
            downsample_type: ["spatial", "temporal", "spatiotemporal", "spatiotemporal"].map(String::from).to_vec(),
            upsample_residual: vec![true; 3],
            upsample_factor: vec![2; 3],
            timestep_conditioning: true,
            spatial_compression_ratio: Some(32),
            temporal_compression_ratio: Some(8),
            ..Default::default()
        };
        let vs = VarStore::new(Device::Cpu);
        let vae = AutoencoderKlLtxVideo::new(&vs.root(), cfg.clone()).unwrap();
        assert_eq!((vae.spatial_compression_ratio(), vae.temporal_compression_ratio()), (32, 8));
        let vars = vs.variables();
        assert_eq!(vars.len(), 226);
        assert_eq!(vars.values().map(Tensor::numel).sum::<usize>(), 5_060_214);
        assert_eq!(vars["encoder.down_blocks.3.downsamplers.0.conv.conv.weight"].size(), [16, 64, 3, 3, 3]);
        assert_eq!(vars["decoder.up_blocks.0.upsamplers.0.conv.conv.weight"].size(), [256, 64, 3, 3, 3]);
        assert_eq!(vars["decoder.up_blocks.0.time_embedder.timestep_embedder.linear_1.weight"].size(), [128, 256]);
        assert_eq!(vars["decoder.scale_shift_table"].size(), [2, 8]);
        assert_eq!(vars["decoder.timestep_scale_multiplier"].size(), Vec::<i64>::new());
        // diffusers' fallback ratio formula would say 4 * 2^4 = 64 here.
        let wrong = AutoencoderKlLtxVideoConfig { spatial_compression_ratio: Some(64), ..cfg };
        let err = AutoencoderKlLtxVideo::new(&VarStore::new(Device::Cpu).root(), wrong).err().unwrap();
        assert!(err.to_string().contains("disagree"), "{err}");
    }

    #[test]
    fn configs_diffusers_cannot_run_are_refused_by_name() {
        // A width change inside a timestep-conditioned up block.
        let cfg = AutoencoderKlLtxVideoConfig {
            timestep_conditioning: true,
            block_out_channels: vec![8, 16, 32, 32],
            decoder_block_out_channels: vec![8, 16, 32, 32],
            ..Default::default()
        };
        let err = AutoencoderKlLtxVideo::new(&VarStore::new(Device::Cpu).root(), cfg).err().unwrap();
        assert!(err.to_string().contains("up block 2 changes width 32 -> 16"), "{err}");
        let cfg = AutoencoderKlLtxVideoConfig {
            down_block_types: vec!["LTXVideoDownBlock3D".into(), "Nope".into()],
            block_out_channels: vec![8, 8],
            ..Default::default()
        };
        let err = AutoencoderKlLtxVideo::new(&VarStore::new(Device::Cpu).root(), cfg).err().unwrap();
        assert!(err.to_string().contains("\"Nope\""), "{err}");
    }

    #[test]
    fn tiling_settings_are_checked() {
        let vs = VarStore::new(Device::Cpu);
        let cfg = AutoencoderKlLtxVideoConfig {
            block_out_channels: vec![8; 4],
            decoder_block_out_channels: vec![8; 4],
            ..Default::default()
        };
        let mut vae = AutoencoderKlLtxVideo::new(&vs.root(), cfg).unwrap();
        let bad = LtxVaeTiling { tile_sample_stride_height: 100, ..LtxVaeTiling::default() };
        assert!(vae.set_tiling(bad).unwrap_err().to_string().contains("tile_sample_stride_height = 100"));
        let bad =
            LtxVaeTiling { tile_sample_min_num_frames: 8, tile_sample_stride_num_frames: 16, ..Default::default() };
        assert!(vae.set_tiling(bad).is_err());
        vae.set_tiling(LtxVaeTiling::diffusers()).unwrap();
    }

    #[test]
    fn blend_matches_the_reference_loop() {
        let a = Tensor::arange(2 * 6, (Kind::Float, Device::Cpu)).view([1, 1, 1, 2, 6]);
        let b = Tensor::ones([1, 1, 1, 2, 5], (Kind::Float, Device::Cpu)) * 100.0;
        blend_into(&a, &b, 4, 4).unwrap();
        // b[x] = a[-4 + x] * (1 - x/4) + b[x] * x/4 for x < 4
        let row: Vec<f32> = Vec::try_from(b.get(0).get(0).get(0).get(0)).unwrap();
        assert_eq!(row, vec![2.0, 3.0 * 0.75 + 25.0, 4.0 * 0.5 + 50.0, 5.0 * 0.25 + 75.0, 100.0]);
    }
}
