//! The LTX-Video denoiser, `LTXVideoTransformer3DModel`: a port of
//! `diffusers/models/transformers/transformer_ltx.py` (diffusers 0.42.1) with the pieces it pulls
//! in (`AdaLayerNormSingle`, `PixArtAlphaCombinedTimestepSizeEmbeddings`, `Timesteps`,
//! `TimestepEmbedding`, `PixArtAlphaTextProjection`, `FeedForward`, diffusers' and torch's
//! `RMSNorm`), for inference and training through tch.
//!
//! ```no_run
//! # fn main() -> Result<(), models::ModelError> {
//! use models::transformer_ltx::LtxVideoTransformer3DModel;
//! use tch::{Device, Kind, Tensor};
//! let dir = std::path::Path::new("weights/ltx-video/transformer");
//! let model = LtxVideoTransformer3DModel::load(dir, Device::Cpu, Kind::BFloat16)?;
//! # let (latents, prompt_embeds) = (Tensor::zeros([1, 16 * 16 * 24, 128], tch::kind::FLOAT_CPU), Tensor::zeros([1, 128, 4096], tch::kind::FLOAT_CPU));
//! # let prompt_mask = Tensor::ones([1, 128], tch::kind::FLOAT_CPU);
//! let t = Tensor::from_slice(&[1000.0f32]);
//! let _guard = tch::no_grad_guard();
//! // Packed latents [B, F*H*W, 128] and T5 embeddings [B, L, 4096] -> velocity [B, F*H*W, 128].
//! let v = model.forward(&latents, &prompt_embeds, &t, Some(&prompt_mask), 16, 16, 24, (8.0 / 25.0, 32.0, 32.0), None)?;
//! # let _ = v; Ok(()) }
//! ```
//!
//! API:
//! - [`LtxVideoTransformer3DModelConfig`]: `config.json`, field names and defaults as the Python
//!   `__init__`. Unknown keys are ignored; `_class_name`, when present, must name this model.
//! - [`LtxVideoTransformer3DModel::new`]`(path, config)`: parameters under a VarStore path in the
//!   VarStore's device and kind, named as the diffusers state dict (`proj_in.weight`,
//!   `scale_shift_table`, `time_embed.emb.timestep_embedder.linear_1.weight`,
//!   `time_embed.linear.weight`, `caption_projection.linear_1.weight`,
//!   `transformer_blocks.{i}.attn1.to_q.weight`, `...attn1.norm_q.weight`,
//!   `...attn2.to_out.0.weight`, `...ff.net.0.proj.weight`, `...ff.net.2.weight`,
//!   `transformer_blocks.{i}.scale_shift_table`, `norm1.weight` only with
//!   `norm_elementwise_affine`, `proj_out.weight`, ...). They are trainable variables, zero until
//!   loaded.
//! - [`LtxVideoTransformer3DModel::load`]`(dir, device, kind)`: `dir/config.json` plus the
//!   safetensors weights (one file or shards with an index), converted to `kind`, frozen for
//!   inference; a missing, unexpected or wrong-shaped key is a [`ModelError::CheckpointMismatch`]
//!   naming it, a `config.json` of another `_class_name` an [`ModelError::InvalidConfig`].
//! - [`LtxVideoTransformer3DModel::forward`]: one denoiser evaluation, exactly the Python
//!   `forward` (see its documentation for the arguments). Gradients are the caller's business
//!   (`tch::no_grad` for inference).
//!
//! Precision, as diffusers after `from_pretrained(torch_dtype=...)`: weights and activations in the
//! VarStore kind; the sinusoidal timestep features and the rotary embedding are computed in fp32
//! (cast to the kind before `timestep_embedder`, and back after rotating); RMS/layer norms
//! accumulate in fp32. Inputs of another dtype or device are moved to the model's, which diffusers
//! leaves to the pipeline.
//!
//! Where this differs from the Python code without changing results beyond rounding:
//! - fp32 linear layers on the CPU run on oneDNN (`mkldnn_linear`) unless autograd is recording
//!   (grad mode on and trainable parameters or inputs). libtorch sends fp32 `addmm` to MKL, which
//!   on AMD CPUs runs its AVX2 code and reaches ~40% of what oneDNN's AVX-512 kernels do (measured
//!   170 vs 430 GFLOP/s on 2 Zen cores); on Intel CPUs, where MKL does use AVX-512, the two should
//!   be close (not measured). Every other dtype/device keeps libtorch's `linear`.
//! - `x * (1 + scale) + shift` and `x + y * gate` are single `addcmul`s, the rotation is
//!   `x * cos + swap_pairs(x) * sin_signed` (the sign of `stack([-x_imag, x_real])` folded into
//!   `sin`), the RMS norms are libtorch's fused `rms_norm`, and the rotary table is built once for
//!   all batch entries when it is the same for all of them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init, VarStore};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{read_config, Checkpoint};
use crate::error::ModelError;

/// `_class_name` of the checkpoints this module reads.
pub const CLASS_NAME: &str = "LTXVideoTransformer3DModel";

/// The rotary embedding's reference grid (`LTXVideoRotaryPosEmbed` as the model builds it).
const ROPE_BASE_NUM_FRAMES: f64 = 20.0;
const ROPE_BASE_HEIGHT: f64 = 2048.0;
const ROPE_BASE_WIDTH: f64 = 2048.0;
const ROPE_THETA: f64 = 10000.0;
/// `Timesteps(num_channels=256, flip_sin_to_cos=True, downscale_freq_shift=0)`.
const TIMESTEP_CHANNELS: i64 = 256;
const TIMESTEP_MAX_PERIOD: f64 = 10000.0;
/// `LTXAttention` hard-codes the eps of its `torch.nn.RMSNorm` q/k norms.
const QK_NORM_EPS: f64 = 1e-5;
/// `nn.LayerNorm(inner_dim, eps=1e-6, elementwise_affine=False)` before `proj_out`.
const NORM_OUT_EPS: f64 = 1e-6;
/// Additive bias the model gives padded prompt tokens (`(1 - mask) * -10000.0`).
const MASKED_BIAS: f64 = -10000.0;

/// `config.json` of a `LTXVideoTransformer3DModel`, defaults as diffusers' `__init__`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LtxVideoTransformer3DModelConfig {
    /// The architecture the file was written for; checked by [`LtxVideoTransformer3DModel::load`].
    #[serde(rename = "_class_name", skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    pub in_channels: i64,
    /// `null` (or 0) means `in_channels`, as `out_channels or in_channels` in Python.
    pub out_channels: Option<i64>,
    /// Only scales the rotary grid: the pipeline patchifies, `proj_in` sees packed tokens.
    pub patch_size: i64,
    pub patch_size_t: i64,
    pub num_attention_heads: i64,
    pub attention_head_dim: i64,
    /// Input width of the cross-attention keys/values; the caption projection outputs
    /// `num_attention_heads * attention_head_dim`, so the two must agree.
    pub cross_attention_dim: i64,
    pub num_layers: i64,
    /// "gelu-approximate" (tanh) or "gelu" (erf).
    pub activation_fn: String,
    /// Only "rms_norm_across_heads" exists in diffusers.
    pub qk_norm: String,
    /// Whether the blocks' `norm1`/`norm2` RMS norms carry a weight.
    pub norm_elementwise_affine: bool,
    pub norm_eps: f64,
    pub caption_channels: i64,
    pub attention_bias: bool,
    pub attention_out_bias: bool,
}

impl Default for LtxVideoTransformer3DModelConfig {
    fn default() -> Self {
        Self {
            class_name: None,
            in_channels: 128,
            out_channels: Some(128),
            patch_size: 1,
            patch_size_t: 1,
            num_attention_heads: 32,
            attention_head_dim: 64,
            cross_attention_dim: 2048,
            num_layers: 28,
            activation_fn: "gelu-approximate".into(),
            qk_norm: "rms_norm_across_heads".into(),
            norm_elementwise_affine: false,
            norm_eps: 1e-6,
            caption_channels: 4096,
            attention_bias: true,
            attention_out_bias: true,
        }
    }
}

impl LtxVideoTransformer3DModelConfig {
    /// Width of the residual stream, `num_attention_heads * attention_head_dim`.
    pub fn inner_dim(&self) -> i64 {
        self.num_attention_heads * self.attention_head_dim
    }

    pub fn out_channels(&self) -> i64 {
        match self.out_channels {
            Some(c) if c != 0 => c,
            _ => self.in_channels,
        }
    }

    fn activation(&self) -> Result<&'static str, ModelError> {
        match self.activation_fn.as_str() {
            "gelu-approximate" => Ok("tanh"),
            "gelu" => Ok("none"),
            other => Err(ModelError::InvalidConfig(format!(
                "LTX transformer activation_fn {other:?} is not supported (\"gelu-approximate\", \"gelu\")"
            ))),
        }
    }

    /// Refuses what diffusers would refuse at construction or fail on in the first forward.
    pub fn validate(&self) -> Result<(), ModelError> {
        let dims = [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels()),
            ("patch_size", self.patch_size),
            ("patch_size_t", self.patch_size_t),
            ("num_attention_heads", self.num_attention_heads),
            ("attention_head_dim", self.attention_head_dim),
            ("cross_attention_dim", self.cross_attention_dim),
            ("caption_channels", self.caption_channels),
        ];
        if let Some((name, v)) = dims.iter().find(|(_, v)| *v <= 0) {
            return Err(ModelError::InvalidConfig(format!("LTX transformer {name} must be positive, not {v}")));
        }
        if self.num_layers < 0 {
            return Err(ModelError::InvalidConfig(format!("LTX transformer num_layers is {}", self.num_layers)));
        }
        if self.qk_norm != "rms_norm_across_heads" {
            return Err(ModelError::InvalidConfig(format!(
                "LTX transformer qk_norm {:?} is not supported: diffusers implements only \"rms_norm_across_heads\"",
                self.qk_norm
            )));
        }
        self.activation()?;
        let inner = self.inner_dim();
        if self.cross_attention_dim != inner {
            return Err(ModelError::InvalidConfig(format!(
                "LTX transformer cross_attention_dim {} differs from num_attention_heads * attention_head_dim = {inner}, \
                 the width the caption projection gives the cross-attention",
                self.cross_attention_dim
            )));
        }
        // The rotation pairs neighbouring channels of the full query/key width.
        if inner % 2 != 0 {
            return Err(ModelError::InvalidConfig(format!(
                "LTX transformer num_attention_heads * attention_head_dim = {inner} must be even for the rotary embedding"
            )));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps >= 0.0) {
            return Err(ModelError::InvalidConfig(format!("LTX transformer norm_eps is {}", self.norm_eps)));
        }
        Ok(())
    }
}

/// How linear layers multiply (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Gemm {
    Aten,
    OneDnn,
}

impl Gemm {
    /// oneDNN has no autograd here, so it is taken only when nothing could be recorded: autograd
    /// off, or neither the parameters nor the inputs asking for gradients.
    fn choose(device: Device, kind: Kind, needs_grad: bool) -> Self {
        if device == Device::Cpu && kind == Kind::Float && !(needs_grad && grad_enabled()) {
            Gemm::OneDnn
        } else {
            Gemm::Aten
        }
    }
}

/// Whether autograd records ops on this thread. tch does not expose `GradMode::is_enabled`; an op
/// on a leaf that requires grad answers it. Any failure answers "enabled", the path that is right
/// either way.
fn grad_enabled() -> bool {
    let probe = || -> Result<bool, tch::TchError> {
        let leaf = Tensor::f_zeros([1], (Kind::Float, Device::Cpu))?.f_set_requires_grad(true)?;
        Ok(leaf.f_mul_scalar(1.0)?.requires_grad())
    };
    probe().unwrap_or(true)
}

/// A trainable parameter in the VarStore's device and kind, zero until loaded.
fn param(path: &nn::Path, name: &str, dims: &[i64]) -> Result<Tensor, ModelError> {
    Ok(path.f_var(name, dims, Init::Const(0.0))?)
}

/// `nn.Linear`.
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    fn new(path: &nn::Path, in_dim: i64, out_dim: i64, bias: bool) -> Result<Self, ModelError> {
        let weight = param(path, "weight", &[out_dim, in_dim])?;
        let bias = if bias { Some(param(path, "bias", &[out_dim])?) } else { None };
        Ok(Self { weight, bias })
    }

    fn forward(&self, x: &Tensor, gemm: Gemm) -> Result<Tensor, ModelError> {
        match gemm {
            Gemm::Aten => Ok(x.f_linear(&self.weight, self.bias.as_ref())?),
            Gemm::OneDnn => {
                let mut size = x.size();
                let in_dim = size.pop().unwrap_or(1);
                let rows = x.f_reshape([-1, in_dim])?.f_to_mkldnn(None)?;
                let out = rows.f_mkldnn_linear(&self.weight, self.bias.as_ref())?.f_to_dense(None, false)?;
                size.push(self.weight.size()[0]);
                Ok(out.f_reshape(size)?)
            }
        }
    }
}

/// diffusers' `RMSNorm` (the blocks' `norm1`/`norm2`), optionally with a weight.
struct RmsNorm {
    dim: i64,
    weight: Option<Tensor>,
    eps: f64,
}

impl RmsNorm {
    fn new(path: &nn::Path, dim: i64, eps: f64, affine: bool) -> Result<Self, ModelError> {
        let weight = if affine { Some(param(path, "weight", &[dim])?) } else { None };
        Ok(Self { dim, weight, eps })
    }

    /// libtorch's fused kernel without a weight is bit-identical to the Python module's
    /// `(x * rsqrt(mean(x.float()^2) + eps)).to(x.dtype)`; the weight then multiplies the rounded
    /// result, as in Python (the fused kernel with the weight would round once instead of twice).
    fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let normed = x.f_rms_norm([self.dim], None::<&Tensor>, self.eps)?;
        Ok(match &self.weight {
            Some(weight) => normed.f_mul(weight)?,
            None => normed,
        })
    }
}

/// cos and sign-folded sin of `LTXVideoRotaryPosEmbed`, fp32, `[B or 1, N, inner_dim]`.
struct Rotary {
    cos: Tensor,
    sin_signed: Tensor,
}

impl Rotary {
    /// `apply_rotary_emb`: pairs `(x[2i], x[2i+1])` rotate as complex numbers, in fp32.
    fn apply(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let kind = x.kind();
        let size = x.size();
        let (&channels, lead) = size.split_last().ok_or_else(|| ModelError::InvalidInput("empty shape".into()))?;
        let xf = x.f_to_kind(Kind::Float)?;
        let mut pairs = lead.to_vec();
        pairs.extend([channels / 2, 2]);
        let swapped = xf.f_reshape(&pairs)?.f_flip([-1])?.f_reshape(&size)?;
        let out = xf.f_mul(&self.cos)?.f_addcmul(&swapped, &self.sin_signed)?;
        Ok(out.f_to_kind(kind)?)
    }
}

/// `LTXAttention` with `LTXVideoAttnProcessor`.
struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    norm_q: Tensor,
    norm_k: Tensor,
    heads: i64,
    inner: i64,
}

impl Attention {
    fn new(path: &nn::Path, c: &LtxVideoTransformer3DModelConfig, kv_dim: i64) -> Result<Self, ModelError> {
        let dim = c.inner_dim();
        let inner = c.num_attention_heads * c.attention_head_dim;
        Ok(Self {
            norm_q: param(&(path / "norm_q"), "weight", &[inner])?,
            norm_k: param(&(path / "norm_k"), "weight", &[inner])?,
            to_q: Linear::new(&(path / "to_q"), dim, inner, c.attention_bias)?,
            to_k: Linear::new(&(path / "to_k"), kv_dim, inner, c.attention_bias)?,
            to_v: Linear::new(&(path / "to_v"), kv_dim, inner, c.attention_bias)?,
            to_out: Linear::new(&(path / "to_out" / 0), inner, dim, c.attention_out_bias)?,
            heads: c.num_attention_heads,
            inner,
        })
    }

    /// Self-attention when `context` is None, else cross-attention on it; `bias` is additive,
    /// broadcastable to `[B, heads, N, L]`.
    fn forward(
        &self,
        x: &Tensor,
        context: Option<&Tensor>,
        bias: Option<&Tensor>,
        rotary: Option<&Rotary>,
        gemm: Gemm,
    ) -> Result<Tensor, ModelError> {
        let context = context.unwrap_or(x);
        let mut q = self.to_q.forward(x, gemm)?.f_rms_norm([self.inner], Some(&self.norm_q), QK_NORM_EPS)?;
        let mut k = self.to_k.forward(context, gemm)?.f_rms_norm([self.inner], Some(&self.norm_k), QK_NORM_EPS)?;
        let v = self.to_v.forward(context, gemm)?;
        if let Some(rotary) = rotary {
            q = rotary.apply(&q)?;
            k = rotary.apply(&k)?;
        }
        let heads = |t: &Tensor| -> Result<Tensor, ModelError> {
            let (b, n) = (t.size()[0], t.size()[1]);
            Ok(t.f_view([b, n, self.heads, -1])?.f_permute([0, 2, 1, 3])?)
        };
        let (b, n) = (q.size()[0], q.size()[1]);
        let out = Tensor::f_scaled_dot_product_attention(
            &heads(&q)?,
            &heads(&k)?,
            &heads(&v)?,
            bias,
            0.0,
            false,
            None::<f64>,
            false,
        )?;
        let out = out.f_permute([0, 2, 1, 3])?.f_reshape([b, n, self.inner])?;
        self.to_out.forward(&out, gemm)
    }
}

/// `FeedForward(dim, activation_fn=...)`: `net.0.proj`, GELU, `net.2`.
struct FeedForward {
    proj: Linear,
    out: Linear,
    approximate: &'static str,
}

impl FeedForward {
    fn new(path: &nn::Path, dim: i64, approximate: &'static str) -> Result<Self, ModelError> {
        let inner = dim * 4;
        Ok(Self {
            proj: Linear::new(&(path / "net" / 0 / "proj"), dim, inner, true)?,
            out: Linear::new(&(path / "net" / 2), inner, dim, true)?,
            approximate,
        })
    }

    fn forward(&self, x: &Tensor, gemm: Gemm) -> Result<Tensor, ModelError> {
        let h = self.proj.forward(x, gemm)?.f_gelu(self.approximate)?;
        self.out.forward(&h, gemm)
    }
}

/// `LTXVideoTransformerBlock`.
struct Block {
    norm1: RmsNorm,
    attn1: Attention,
    norm2: RmsNorm,
    attn2: Attention,
    ff: FeedForward,
    scale_shift_table: Tensor,
}

impl Block {
    fn new(path: &nn::Path, c: &LtxVideoTransformer3DModelConfig) -> Result<Self, ModelError> {
        let dim = c.inner_dim();
        Ok(Self {
            norm1: RmsNorm::new(&(path / "norm1"), dim, c.norm_eps, c.norm_elementwise_affine)?,
            attn1: Attention::new(&(path / "attn1"), c, dim)?,
            norm2: RmsNorm::new(&(path / "norm2"), dim, c.norm_eps, c.norm_elementwise_affine)?,
            attn2: Attention::new(&(path / "attn2"), c, c.cross_attention_dim)?,
            ff: FeedForward::new(&(path / "ff"), dim, c.activation()?)?,
            scale_shift_table: param(path, "scale_shift_table", &[6, dim])?,
        })
    }

    /// `temb` is `[B, T, 6, D]` with T = 1 or N.
    fn forward(
        &self,
        x: &Tensor,
        context: &Tensor,
        temb: &Tensor,
        rotary: &Rotary,
        bias: Option<&Tensor>,
        gemm: Gemm,
    ) -> Result<Tensor, ModelError> {
        let ada = temb.f_add(&self.scale_shift_table)?.f_unbind(2)?;
        let [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp] = <[Tensor; 6]>::try_from(ada)
            .map_err(|v| ModelError::InvalidInput(format!("modulation has {} parts, not 6", v.len())))?;

        let h = shift_msa.f_addcmul(&self.norm1.forward(x)?, &scale_msa.f_add_scalar(1.0)?)?;
        let attn = self.attn1.forward(&h, None, None, Some(rotary), gemm)?;
        let x = x.f_addcmul(&attn, &gate_msa)?;

        // The Python block feeds the un-normalised stream to the cross-attention.
        let attn = self.attn2.forward(&x, Some(context), bias, None, gemm)?;
        let x = x.f_add(&attn)?;

        let h = shift_mlp.f_addcmul(&self.norm2.forward(&x)?, &scale_mlp.f_add_scalar(1.0)?)?;
        let ff = self.ff.forward(&h, gemm)?;
        Ok(x.f_addcmul(&ff, &gate_mlp)?)
    }
}

/// `AdaLayerNormSingle(inner_dim, use_additional_conditions=False)`.
struct TimeEmbed {
    linear_1: Linear,
    linear_2: Linear,
    linear: Linear,
}

impl TimeEmbed {
    fn new(path: &nn::Path, dim: i64) -> Result<Self, ModelError> {
        let embedder = path / "emb" / "timestep_embedder";
        Ok(Self {
            linear_1: Linear::new(&(&embedder / "linear_1"), TIMESTEP_CHANNELS, dim, true)?,
            linear_2: Linear::new(&(&embedder / "linear_2"), dim, dim, true)?,
            linear: Linear::new(&(path / "linear"), dim, 6 * dim, true)?,
        })
    }

    /// `(temb [M, 6D], embedded_timestep [M, D])` for timesteps `[M]`.
    fn forward(&self, timestep: &Tensor, kind: Kind, gemm: Gemm) -> Result<(Tensor, Tensor), ModelError> {
        let proj = timestep_features(timestep)?.f_to_kind(kind)?;
        let embedded = self.linear_2.forward(&self.linear_1.forward(&proj, gemm)?.f_silu()?, gemm)?;
        let temb = self.linear.forward(&embedded.f_silu()?, gemm)?;
        Ok((temb, embedded))
    }
}

/// `get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0)`: `[M, 256]`
/// fp32, cos half first. Same op sequence as Python, so the fp32 rounding matches.
fn timestep_features(timestep: &Tensor) -> Result<Tensor, ModelError> {
    let half = TIMESTEP_CHANNELS / 2;
    let exponent = Tensor::f_arange(half, (Kind::Float, timestep.device()))?
        .f_mul_scalar(-TIMESTEP_MAX_PERIOD.ln())?
        .f_div_scalar(half as f64)?;
    let freqs = exponent.f_exp()?.f_unsqueeze(0)?;
    let args = timestep.f_to_kind(Kind::Float)?.f_unsqueeze(1)?.f_mul(&freqs)?;
    Ok(Tensor::f_cat(&[args.f_cos()?, args.f_sin()?], -1)?)
}

/// `PixArtAlphaTextProjection(caption_channels, inner_dim)` (GELU tanh).
struct CaptionProjection {
    linear_1: Linear,
    linear_2: Linear,
}

impl CaptionProjection {
    fn new(path: &nn::Path, in_dim: i64, dim: i64) -> Result<Self, ModelError> {
        Ok(Self {
            linear_1: Linear::new(&(path / "linear_1"), in_dim, dim, true)?,
            linear_2: Linear::new(&(path / "linear_2"), dim, dim, true)?,
        })
    }

    fn forward(&self, x: &Tensor, gemm: Gemm) -> Result<Tensor, ModelError> {
        let h = self.linear_1.forward(x, gemm)?.f_gelu("tanh")?;
        self.linear_2.forward(&h, gemm)
    }
}

/// The LTX-Video transformer (`LTXVideoTransformer3DModel`).
pub struct LtxVideoTransformer3DModel {
    pub config: LtxVideoTransformer3DModelConfig,
    proj_in: Linear,
    scale_shift_table: Tensor,
    time_embed: TimeEmbed,
    caption_projection: CaptionProjection,
    transformer_blocks: Vec<Block>,
    proj_out: Linear,
    device: Device,
    kind: Kind,
}

impl std::fmt::Debug for LtxVideoTransformer3DModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LtxVideoTransformer3DModel")
            .field("config", &self.config)
            .field("device", &self.device)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl LtxVideoTransformer3DModel {
    /// Declares every parameter under `vs` (its device and kind), zero-initialised.
    pub fn new(vs: &nn::Path, config: LtxVideoTransformer3DModelConfig) -> Result<Self, ModelError> {
        config.validate()?;
        let kind = vs.kind();
        if !matches!(kind, Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double) {
            return Err(ModelError::InvalidConfig(format!(
                "the LTX transformer needs a floating point VarStore kind, not {kind:?}"
            )));
        }
        let c = &config;
        let dim = c.inner_dim();
        let transformer_blocks =
            (0..c.num_layers).map(|i| Block::new(&(vs / "transformer_blocks" / i), c)).collect::<Result<_, _>>()?;
        Ok(Self {
            proj_in: Linear::new(&(vs / "proj_in"), c.in_channels, dim, true)?,
            scale_shift_table: param(vs, "scale_shift_table", &[2, dim])?,
            time_embed: TimeEmbed::new(&(vs / "time_embed"), dim)?,
            caption_projection: CaptionProjection::new(&(vs / "caption_projection"), c.caption_channels, dim)?,
            transformer_blocks,
            proj_out: Linear::new(&(vs / "proj_out"), dim, c.out_channels(), true)?,
            device: vs.device(),
            kind,
            config,
        })
    }

    /// A diffusers `transformer/` folder: `config.json` and its safetensors, as `kind` on `device`,
    /// frozen (no parameter requires grad). To fine-tune, build with [`Self::new`] on your own
    /// VarStore and fill it with [`Checkpoint::load_into`].
    pub fn load(dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        let config: LtxVideoTransformer3DModelConfig = read_config(dir)?;
        if let Some(name) = config.class_name.as_deref().filter(|n| *n != CLASS_NAME) {
            return Err(ModelError::InvalidConfig(format!(
                "{}: config.json is for a {name} model, not {CLASS_NAME} (the LTX-Video transformer); \
                 point at the transformer/ folder of the checkpoint",
                dir.display()
            )));
        }
        // Before touching the weights: a config diffusers could not build is the clearer error.
        config.validate()?;
        let checkpoint = Checkpoint::open(dir)?;
        let mut vs = VarStore::new(device);
        vs.set_kind(kind);
        let model = Self::new(&vs.root(), config)?;
        checkpoint.load_into(&vs, "", &[])?;
        // An inference model: a forward outside `no_grad` must not keep every activation alive.
        vs.freeze();
        Ok(model)
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// One evaluation of the denoiser, diffusers' `forward(..., return_dict=False)[0]`.
    ///
    /// - `hidden_states`: packed latents `[B, N, in_channels]`.
    /// - `encoder_hidden_states`: prompt embeddings `[B, L, caption_channels]`.
    /// - `timestep`: `[B]` (one per sample) or `[B, N]` (one per token), in the scheduler's
    ///   0..1000 scale, as the pipelines pass it; any shape with B or B*N elements, as Python
    ///   flattens it.
    /// - `encoder_attention_mask`: `[B, L]`, 1 = attend, 0 = padding (bias -10000).
    /// - `num_frames`, `height`, `width`: the latent grid, N = F*H*W (ignored with `video_coords`).
    /// - `rope_interpolation_scale`: (frames, height, width) scale of the rotary grid, e.g.
    ///   (temporal compression / frame rate, 32, 32) in `LTXPipeline`.
    /// - `video_coords`: `[B, 3, N]` explicit (frame, y, x) coordinates of every token, as
    ///   `LTXConditionPipeline` passes them; they replace the grid and its scale.
    ///
    /// Returns `[B, N, out_channels]` in the model kind, on the model device. Inputs are moved to
    /// the model's device and kind first.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        hidden_states: &Tensor,
        encoder_hidden_states: &Tensor,
        timestep: &Tensor,
        encoder_attention_mask: Option<&Tensor>,
        num_frames: i64,
        height: i64,
        width: i64,
        rope_interpolation_scale: (f64, f64, f64),
        video_coords: Option<&Tensor>,
    ) -> Result<Tensor, ModelError> {
        let c = &self.config;
        let dim = c.inner_dim();
        let [b, n, channels] = dims3("hidden_states", hidden_states)?;
        let [eb, l, caption] = dims3("encoder_hidden_states", encoder_hidden_states)?;
        if channels != c.in_channels || eb != b || caption != c.caption_channels {
            return Err(ModelError::InvalidInput(format!(
                "LTX transformer expects hidden_states [B, N, {}] and encoder_hidden_states [B, L, {}], got {:?} and {:?}",
                c.in_channels,
                c.caption_channels,
                hidden_states.size(),
                encoder_hidden_states.size()
            )));
        }
        if n == 0 || l == 0 || b == 0 {
            return Err(ModelError::InvalidInput(
                "LTX transformer needs at least one sample, token and prompt token".into(),
            ));
        }
        for (name, t) in [("hidden_states", hidden_states), ("encoder_hidden_states", encoder_hidden_states)] {
            if !t.is_floating_point() {
                return Err(ModelError::InvalidInput(format!("{name} must be floating point, not {:?}", t.kind())));
            }
        }
        let steps = timestep.numel() as i64;
        if steps != b && steps != b * n {
            return Err(ModelError::InvalidInput(format!(
                "timestep {:?} must hold B = {b} or B*N = {} values",
                timestep.size(),
                b * n
            )));
        }
        let needs_grad = self.proj_in.weight.requires_grad()
            || hidden_states.requires_grad()
            || encoder_hidden_states.requires_grad();
        let gemm = Gemm::choose(self.device, self.kind, needs_grad);

        let rotary = self.rotary(b, n, num_frames, height, width, rope_interpolation_scale, video_coords)?;
        let bias = match encoder_attention_mask {
            None => None,
            Some(mask) => {
                if mask.size() != [b, l] {
                    return Err(ModelError::InvalidInput(format!(
                        "encoder_attention_mask {:?} must be [B, L] = [{b}, {l}]",
                        mask.size()
                    )));
                }
                let mask = mask.f_to_device(self.device)?.f_to_kind(self.kind)?;
                Some(mask.f_neg()?.f_add_scalar(1.0)?.f_mul_scalar(MASKED_BIAS)?.f_view([b, 1, 1, l])?)
            }
        };

        let x = self.proj_in.forward(&self.input(hidden_states)?, gemm)?;
        let timestep = timestep.f_to_device(self.device)?.f_reshape([-1])?;
        let (temb, embedded) = self.time_embed.forward(&timestep, self.kind, gemm)?;
        let temb = temb.f_view([b, -1, 6, dim])?;
        let embedded = embedded.f_view([b, -1, dim])?;
        let context = self.caption_projection.forward(&self.input(encoder_hidden_states)?, gemm)?;

        let mut x = x;
        for block in &self.transformer_blocks {
            x = block.forward(&x, &context, &temb, &rotary, bias.as_ref(), gemm)?;
        }

        let mods = embedded.f_unsqueeze(2)?.f_add(&self.scale_shift_table)?;
        let (shift, scale) = (mods.f_select(2, 0)?, mods.f_select(2, 1)?);
        let x = x.f_layer_norm([dim], None::<&Tensor>, None::<&Tensor>, NORM_OUT_EPS, true)?;
        let x = shift.f_addcmul(&x, &scale.f_add_scalar(1.0)?)?;
        self.proj_out.forward(&x, gemm)
    }

    fn input(&self, t: &Tensor) -> Result<Tensor, ModelError> {
        Ok(t.f_to_device(self.device)?.f_to_kind(self.kind)?)
    }

    /// `LTXVideoRotaryPosEmbed.forward`, in fp32 as in Python.
    #[allow(clippy::too_many_arguments)]
    fn rotary(
        &self,
        b: i64,
        n: i64,
        num_frames: i64,
        height: i64,
        width: i64,
        (scale_f, scale_h, scale_w): (f64, f64, f64),
        video_coords: Option<&Tensor>,
    ) -> Result<Rotary, ModelError> {
        let c = &self.config;
        let dim = c.inner_dim();
        let options = (Kind::Float, self.device);
        // [B or 1, N, 3] positions in units of the reference grid.
        let grid = match video_coords {
            None => {
                if num_frames <= 0 || height <= 0 || width <= 0 || num_frames * height * width != n {
                    return Err(ModelError::InvalidInput(format!(
                        "latent grid {num_frames}x{height}x{width} does not hold the N = {n} tokens of hidden_states"
                    )));
                }
                for s in [scale_f, scale_h, scale_w] {
                    if !s.is_finite() {
                        return Err(ModelError::InvalidInput(format!("rope_interpolation_scale {s} is not finite")));
                    }
                }
                let axes = [
                    Tensor::f_arange(num_frames, options)?,
                    Tensor::f_arange(height, options)?,
                    Tensor::f_arange(width, options)?,
                ];
                let mesh = Tensor::f_meshgrid_indexing(&axes, "ij")?;
                let scaled = [
                    mesh[0]
                        .f_mul_scalar(scale_f)?
                        .f_mul_scalar(c.patch_size_t as f64)?
                        .f_div_scalar(ROPE_BASE_NUM_FRAMES)?,
                    mesh[1].f_mul_scalar(scale_h)?.f_mul_scalar(c.patch_size as f64)?.f_div_scalar(ROPE_BASE_HEIGHT)?,
                    mesh[2].f_mul_scalar(scale_w)?.f_mul_scalar(c.patch_size as f64)?.f_div_scalar(ROPE_BASE_WIDTH)?,
                ];
                Tensor::f_stack(&scaled, -1)?.f_reshape([1, n, 3])?
            }
            Some(coords) => {
                if coords.size() != [b, 3, n] {
                    return Err(ModelError::InvalidInput(format!(
                        "video_coords {:?} must be [B, 3, N] = [{b}, 3, {n}]",
                        coords.size()
                    )));
                }
                let coords = coords.f_to_device(self.device)?.f_to_kind(Kind::Float)?;
                let scaled = [
                    coords.f_select(1, 0)?.f_div_scalar(ROPE_BASE_NUM_FRAMES)?,
                    coords.f_select(1, 1)?.f_div_scalar(ROPE_BASE_HEIGHT)?,
                    coords.f_select(1, 2)?.f_div_scalar(ROPE_BASE_WIDTH)?,
                ];
                Tensor::f_stack(&scaled, -1)?
            }
        };
        let rows = grid.size()[0];

        let steps = dim / 6;
        let freqs = Tensor::f_pow_scalar(ROPE_THETA, &Tensor::f_linspace(0.0, 1.0, steps, options)?)?
            .f_mul_scalar(std::f64::consts::PI)?
            .f_div_scalar(2.0)?;
        // [rows, N, 3, steps] -> [rows, N, steps, 3] -> [rows, N, 3*steps]: frequency-major.
        let angles = grid
            .f_unsqueeze(-1)?
            .f_mul_scalar(2.0)?
            .f_sub_scalar(1.0)?
            .f_mul(&freqs)?
            .f_transpose(-1, -2)?
            .f_reshape([rows, n, 3 * steps])?;
        let mut cos = angles.f_cos()?.f_repeat_interleave_self_int(2, -1, None::<i64>)?;
        let mut sin = angles.f_sin()?.f_repeat_interleave_self_int(2, -1, None::<i64>)?;
        let pad = dim % 6;
        if pad != 0 {
            cos = Tensor::f_cat(&[Tensor::f_ones([rows, n, pad], options)?, cos], -1)?;
            sin = Tensor::f_cat(&[Tensor::f_zeros([rows, n, pad], options)?, sin], -1)?;
        }
        // stack([-x_imag, x_real]) * sin == swap_pairs(x) * (sin with even channels negated).
        let sign = Tensor::f_from_slice(&[-1.0f32, 1.0])?.f_to_device(self.device)?;
        let sin_signed = sin.f_reshape([rows, n, dim / 2, 2])?.f_mul(&sign)?.f_reshape([rows, n, dim])?;
        Ok(Rotary { cos, sin_signed })
    }
}

fn dims3(name: &str, t: &Tensor) -> Result<[i64; 3], ModelError> {
    <[i64; 3]>::try_from(t.size())
        .map_err(|s| ModelError::InvalidInput(format!("{name} must be 3-d [B, N, C], got {s:?}")))
}
