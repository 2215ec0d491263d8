//! The T5 text encoder (`transformers.T5EncoderModel`), the prompt encoder of LTX-Video
//! (T5-v1.1-XXL in the `text_encoder/` folder of the diffusers checkpoint). A port of
//! `transformers/models/t5/modeling_t5.py` (transformers 5.23), encoder stack only, inference only.
//!
//! ```no_run
//! # fn main() -> Result<(), models::ModelError> {
//! use models::t5::T5EncoderModel;
//! use models::tokenizer::PromptTokenizer;
//! let dir = std::path::Path::new("weights/ltx-video");
//! let tokenizer = PromptTokenizer::load(&dir.join("tokenizer"))?;
//! let encoder = T5EncoderModel::load(&dir.join("text_encoder"), tch::Device::Cpu, tch::Kind::BFloat16)?;
//! let (ids, mask) = tokenizer.encode("a red ball bounces", 128)?;
//! // [1, 128, 4096]; diffusers' LTX pipeline calls the encoder without the mask (see below).
//! let embeds = encoder.forward(&ids, None)?;
//! # let _ = (embeds, mask); Ok(()) }
//! ```
//!
//! API:
//! - [`T5Config`]: the `config.json` fields the encoder reads, with transformers' defaults.
//!   `dense_act_fn`/`is_gated_act` are derived from `feed_forward_proj` ("relu", "gated-gelu" =
//!   gated `gelu_new`, "gated-silu", ...) unless the file states them, exactly as transformers does.
//! - [`T5EncoderModel::new`]`(path, config)`: builds the parameters under a VarStore path, named
//!   like the transformers state dict (`shared.weight`, `encoder.block.{i}.layer.0.SelfAttention.q.weight`,
//!   `encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight`,
//!   `encoder.block.{i}.layer.1.DenseReluDense.wi_0.weight`, `encoder.final_layer_norm.weight`, ...),
//!   in the path's VarStore kind.
//! - [`T5EncoderModel::load`]`(dir, device, kind)`: `dir/config.json` plus `model.safetensors` or
//!   shards with `model.safetensors.index.json`, converted to `kind` (Float, Half or BFloat16).
//! - [`T5EncoderModel::forward`]`(input_ids [B,L] i64, attention_mask Option<[B,L]>)`: the
//!   `last_hidden_state`, `[B, L, d_model]`.
//!
//! Weights that transformers ties:
//! `encoder.embed_tokens.weight` is tied to `shared.weight` (`_tied_weights_keys`). The encoder
//! reads `encoder.embed_tokens`, so when a checkpoint stores that key it is the one loaded (when it
//! stores both with different values transformers refuses to tie them and the encoder still reads
//! `encoder.embed_tokens`); otherwise `shared.weight` is. The other key is ignored, as are
//! `decoder.*` and `lm_head.*` of full encoder-decoder checkpoints. Any other extra key, a missing
//! key or a wrong shape is a [`ModelError::CheckpointMismatch`].
//!
//! Precision, as transformers' `from_pretrained(dtype=...)` followed by a forward:
//! - Float/BFloat16: every weight in that kind, every op in that kind except the RMS norms'
//!   variance, accumulated in fp32 (`T5LayerNorm`).
//! - Half: `_keep_in_fp32_modules = ["wo"]` keeps the feed-forward output projections in fp32
//!   (transformers does this for fp16 only, not bf16). The FFN input is cast to `wo`'s dtype, so
//!   `wo` runs in fp32 and, by type promotion, the residual stream is fp32 from the first
//!   feed-forward on; every layer norm casts back to fp16 before the next projection, and the
//!   output (after the final norm) is fp16. Wherever the residual stream is fp16 (after the first
//!   block's attention, or throughout if `wo` was made fp16 afterwards, like `model.half()` in
//!   Python) it is clamped to ±(65504 - 1000 if any value is inf else 65504), as `T5Block` does.
//!   [`T5EncoderModel::new`] follows the same rule from the VarStore kind; the forward itself
//!   always follows the actual dtypes of the weights, as the Python code does.
//!
//! Attention: T5 does not scale the scores. The relative position bias of block 0 is computed
//! once and shared by all blocks; with a mask, padded keys get the dtype's lowest value instead of
//! the bias (`torch.where(mask, bias, finfo.min)`, transformers' SDPA path, its default), and the
//! result goes to `scaled_dot_product_attention` with scale 1.0, as transformers calls it.
//!
//! Note for the pipeline: diffusers' `LTXPipeline._get_t5_prompt_embeds` (0.42) calls
//! `self.text_encoder(text_input_ids)` **without** the attention mask, so padding tokens are
//! attended to; pass `None` to reproduce it. The mask it returns goes to the transformer only.

use std::path::Path;

use serde::Deserialize;
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{read_config, Checkpoint};
use crate::error::ModelError;

/// The `config.json` fields of a T5 encoder, defaults as in `transformers.T5Config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct T5Config {
    pub vocab_size: i64,
    pub d_model: i64,
    pub d_kv: i64,
    pub d_ff: i64,
    pub num_layers: i64,
    pub num_heads: i64,
    pub relative_attention_num_buckets: i64,
    pub relative_attention_max_distance: i64,
    pub layer_norm_epsilon: f64,
    /// "relu", "gated-gelu", "gated-silu", "gelu", ...: `[gated-]ACT`.
    pub feed_forward_proj: String,
    /// Overrides the activation derived from `feed_forward_proj` when the file has it.
    pub dense_act_fn: Option<String>,
    /// Overrides the gating derived from `feed_forward_proj` when the file has it.
    pub is_gated_act: Option<bool>,
}

impl Default for T5Config {
    fn default() -> Self {
        Self {
            vocab_size: 32128,
            d_model: 512,
            d_kv: 64,
            d_ff: 2048,
            num_layers: 6,
            num_heads: 8,
            relative_attention_num_buckets: 32,
            relative_attention_max_distance: 128,
            layer_norm_epsilon: 1e-6,
            feed_forward_proj: "relu".into(),
            dense_act_fn: None,
            is_gated_act: None,
        }
    }
}

impl T5Config {
    fn proj_parts(&self) -> Result<(bool, String), ModelError> {
        let parts: Vec<&str> = self.feed_forward_proj.split('-').collect();
        if (parts.len() > 1 && parts[0] != "gated") || parts.len() > 2 {
            return Err(ModelError::InvalidConfig(format!(
                "T5 feed_forward_proj {:?} is not of the form `gated-ACT` or `ACT` (e.g. \"gated-gelu\", \"relu\")",
                self.feed_forward_proj
            )));
        }
        let act = if self.feed_forward_proj == "gated-gelu" { "gelu_new" } else { parts[parts.len() - 1] };
        Ok((parts[0] == "gated", act.to_owned()))
    }

    /// Whether the feed-forward is gated (`wi_0`, `wi_1`) or plain (`wi`).
    pub fn is_gated(&self) -> Result<bool, ModelError> {
        let (gated, _) = self.proj_parts()?;
        Ok(self.is_gated_act.unwrap_or(gated))
    }

    /// The feed-forward activation.
    pub fn activation(&self) -> Result<Activation, ModelError> {
        let (_, derived) = self.proj_parts()?;
        Activation::from_name(self.dense_act_fn.as_deref().unwrap_or(&derived))
    }

    fn validate(&self) -> Result<(), ModelError> {
        let dims = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_heads", self.num_heads),
            ("relative_attention_num_buckets", self.relative_attention_num_buckets),
        ];
        if let Some((name, v)) = dims.iter().find(|(_, v)| *v <= 0) {
            return Err(ModelError::InvalidConfig(format!("T5 {name} must be positive, not {v}")));
        }
        if self.num_layers < 0 {
            return Err(ModelError::InvalidConfig(format!("T5 num_layers is {}", self.num_layers)));
        }
        let max_exact = self.relative_attention_num_buckets / 2 / 2;
        if self.relative_attention_max_distance <= max_exact || max_exact == 0 {
            return Err(ModelError::InvalidConfig(format!(
                "T5 relative_attention_max_distance {} must exceed num_buckets/4 = {max_exact} (and num_buckets >= 4)",
                self.relative_attention_max_distance
            )));
        }
        self.is_gated()?;
        self.activation()?;
        Ok(())
    }
}

/// Feed-forward activations of `transformers.activations.ACT2FN` that T5 checkpoints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    /// `gelu`: exact (erf) GELU.
    Gelu,
    /// `gelu_new` (T5 v1.1's "gated-gelu"): the tanh approximation, written out op by op as
    /// transformers' `NewGELUActivation` so reduced precision rounds the same way.
    GeluNew,
    /// `gelu_pytorch_tanh`: libtorch's tanh-approximate GELU kernel.
    GeluPytorchTanh,
    /// `gelu_fast`.
    GeluFast,
    QuickGelu,
    /// `silu` / `swish`.
    Silu,
}

impl Activation {
    pub fn from_name(name: &str) -> Result<Self, ModelError> {
        Ok(match name {
            "relu" => Self::Relu,
            "gelu" => Self::Gelu,
            "gelu_new" => Self::GeluNew,
            "gelu_pytorch_tanh" => Self::GeluPytorchTanh,
            "gelu_fast" => Self::GeluFast,
            "quick_gelu" => Self::QuickGelu,
            "silu" | "swish" => Self::Silu,
            other => {
                return Err(ModelError::InvalidConfig(format!(
                    "T5 activation {other:?} is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, \
                     quick_gelu, silu)"
                )))
            }
        })
    }

    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Self::Relu => x.relu(),
            Self::Gelu => x.gelu("none"),
            Self::GeluPytorchTanh => x.gelu("tanh"),
            Self::GeluNew => {
                let inner = (x + x.pow_tensor_scalar(3.0) * 0.044715) * (2.0 / std::f64::consts::PI).sqrt();
                (x * 0.5) * (inner.tanh() + 1.0)
            }
            Self::GeluFast => {
                let inner = x * 0.7978845608 * ((x * 0.044715) * x + 1.0);
                (x * 0.5) * (inner.tanh() + 1.0)
            }
            Self::QuickGelu => x * (x * 1.702).sigmoid(),
            Self::Silu => x.silu(),
        }
    }
}

/// A parameter of `kind` (not trainable), zero until loaded.
fn param(path: &nn::Path, name: &str, dims: &[i64], kind: Kind) -> Tensor {
    path.add(name, Tensor::zeros(dims, (kind, path.device())), false)
}

/// `T5LayerNorm`: RMS norm without mean or bias, variance in fp32.
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn new(path: &nn::Path, dim: i64, eps: f64, kind: Kind) -> Self {
        Self { weight: param(path, "weight", &[dim], kind), eps }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let variance = x.to_kind(Kind::Float).pow_tensor_scalar(2.0).mean_dim(-1, true, None::<Kind>);
        let mut h = x * (variance + self.eps).rsqrt();
        if matches!(self.weight.kind(), Kind::Half | Kind::BFloat16) {
            h = h.to_kind(self.weight.kind());
        }
        &self.weight * h
    }
}

struct SelfAttention {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    o: Tensor,
    d_kv: i64,
}

impl SelfAttention {
    fn new(path: &nn::Path, c: &T5Config, kind: Kind) -> Self {
        let inner = c.num_heads * c.d_kv;
        Self {
            q: param(&(path / "q"), "weight", &[inner, c.d_model], kind),
            k: param(&(path / "k"), "weight", &[inner, c.d_model], kind),
            v: param(&(path / "v"), "weight", &[inner, c.d_model], kind),
            o: param(&(path / "o"), "weight", &[c.d_model, inner], kind),
            d_kv: c.d_kv,
        }
    }

    /// `x` [B,L,d_model] normed; `bias_mask` [1|B,H,L,L] additive, already in `x`'s dtype.
    fn forward(&self, x: &Tensor, bias_mask: &Tensor) -> Tensor {
        let (b, l, _) = x.size3().expect("checked by the caller");
        let heads = |w: &Tensor| x.linear(w, None::<Tensor>).view([b, l, -1, self.d_kv]).transpose(1, 2);
        let (q, k, v) = (heads(&self.q), heads(&self.k), heads(&self.v));
        let out = Tensor::scaled_dot_product_attention(&q, &k, &v, Some(bias_mask), 0.0, false, 1.0, false);
        out.transpose(1, 2).contiguous().reshape([b, l, -1]).linear(&self.o, None::<Tensor>)
    }
}

enum FeedForward {
    Dense { wi: Tensor, wo: Tensor },
    Gated { wi_0: Tensor, wi_1: Tensor, wo: Tensor },
}

impl FeedForward {
    fn new(path: &nn::Path, c: &T5Config, kind: Kind, wo_kind: Kind) -> Result<Self, ModelError> {
        let wo = param(&(path / "wo"), "weight", &[c.d_model, c.d_ff], wo_kind);
        Ok(if c.is_gated()? {
            Self::Gated {
                wi_0: param(&(path / "wi_0"), "weight", &[c.d_ff, c.d_model], kind),
                wi_1: param(&(path / "wi_1"), "weight", &[c.d_ff, c.d_model], kind),
                wo,
            }
        } else {
            Self::Dense { wi: param(&(path / "wi"), "weight", &[c.d_ff, c.d_model], kind), wo }
        })
    }

    fn forward(&self, x: &Tensor, act: Activation) -> Tensor {
        let (h, wo) = match self {
            Self::Dense { wi, wo } => (act.apply(&x.linear(wi, None::<Tensor>)), wo),
            Self::Gated { wi_0, wi_1, wo } => {
                (act.apply(&x.linear(wi_0, None::<Tensor>)) * x.linear(wi_1, None::<Tensor>), wo)
            }
        };
        // transformers casts the FFN input to `wo`'s dtype (fp32 when loaded as fp16).
        let h = if h.kind() != wo.kind() { h.to_kind(wo.kind()) } else { h };
        h.linear(wo, None::<Tensor>)
    }
}

struct Block {
    attn_norm: RmsNorm,
    attn: SelfAttention,
    ff_norm: RmsNorm,
    ff: FeedForward,
}

/// `T5Block`'s fp16 overflow guard: clamp to the largest finite fp16 (less 1000 if any value is
/// already inf). A no-op for other dtypes.
fn clamp_fp16(h: Tensor) -> Tensor {
    if h.kind() != Kind::Half {
        return h;
    }
    let max = f64::from(half::f16::MAX);
    let limit = Tensor::where_scalar(&h.isinf().any(), max - 1000.0, max);
    let neg = -&limit;
    h.clamp_tensor(Some(&neg), Some(&limit))
}

/// `transformers.T5EncoderModel`: token embeddings, `num_layers` pre-norm blocks of self-attention
/// with a shared relative position bias and a (gated) feed-forward, a final RMS norm.
pub struct T5EncoderModel {
    config: T5Config,
    activation: Activation,
    embed: Tensor,
    /// `[num_buckets, num_heads]`, owned by block 0.
    relative_attention_bias: Option<Tensor>,
    blocks: Vec<Block>,
    final_norm: RmsNorm,
    device: Device,
}

impl std::fmt::Debug for T5EncoderModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("T5EncoderModel")
            .field("config", &self.config)
            .field("kind", &self.embed.kind())
            .field("device", &self.device)
            .finish()
    }
}

const EMBED_SHARED: &str = "shared.weight";
const EMBED_ENCODER: &str = "encoder.embed_tokens.weight";

impl T5EncoderModel {
    /// Builds the model's parameters (zeros) under `path`, in the VarStore's kind; with Half,
    /// the `wo` projections are fp32 as transformers keeps them. The embedding is `shared.weight`.
    pub fn new(path: &nn::Path, config: &T5Config) -> Result<Self, ModelError> {
        Self::build(path, config, EMBED_SHARED, path.kind())
    }

    fn build(path: &nn::Path, config: &T5Config, embed_key: &str, kind: Kind) -> Result<Self, ModelError> {
        config.validate()?;
        let wo_kind = if kind == Kind::Half { Kind::Float } else { kind };
        let c = config;
        let embed = match embed_key {
            EMBED_ENCODER => param(&(path / "encoder" / "embed_tokens"), "weight", &[c.vocab_size, c.d_model], kind),
            _ => param(&(path / "shared"), "weight", &[c.vocab_size, c.d_model], kind),
        };
        let enc = path / "encoder";
        let mut blocks = Vec::with_capacity(c.num_layers as usize);
        let mut relative_attention_bias = None;
        for i in 0..c.num_layers {
            let layer = &enc / "block" / i / "layer";
            let sa = &layer / 0;
            if i == 0 {
                let p = &sa / "SelfAttention" / "relative_attention_bias";
                relative_attention_bias =
                    Some(param(&p, "weight", &[c.relative_attention_num_buckets, c.num_heads], kind));
            }
            blocks.push(Block {
                attn_norm: RmsNorm::new(&(&sa / "layer_norm"), c.d_model, c.layer_norm_epsilon, kind),
                attn: SelfAttention::new(&(&sa / "SelfAttention"), c, kind),
                ff_norm: RmsNorm::new(&(&layer / 1 / "layer_norm"), c.d_model, c.layer_norm_epsilon, kind),
                ff: FeedForward::new(&(&layer / 1 / "DenseReluDense"), c, kind, wo_kind)?,
            });
        }
        let final_norm = RmsNorm::new(&(&enc / "final_layer_norm"), c.d_model, c.layer_norm_epsilon, kind);
        Ok(Self {
            config: config.clone(),
            activation: config.activation()?,
            embed,
            relative_attention_bias,
            blocks,
            final_norm,
            device: path.device(),
        })
    }

    /// Loads a transformers T5 encoder folder (`config.json` + safetensors, single or sharded)
    /// onto `device`, converting the weights to `kind` (Float, Half or BFloat16; see the module
    /// docs for what Half keeps in fp32). Full encoder-decoder checkpoints load too; the decoder
    /// and LM head are ignored.
    pub fn load(dir: &Path, device: Device, kind: Kind) -> Result<Self, ModelError> {
        if !matches!(kind, Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double) {
            return Err(ModelError::InvalidInput(format!("T5 runs in Float, Half or BFloat16, not {kind:?}")));
        }
        let config: T5Config = read_config(dir)?;
        let ckpt = Checkpoint::open(dir)?;
        let embed_key = if ckpt.contains(EMBED_ENCODER) { EMBED_ENCODER } else { EMBED_SHARED };
        let vs = VarStore::new(device);
        let model = Self::build(&vs.root(), &config, embed_key, kind)?;
        let other_embed = if embed_key == EMBED_ENCODER { EMBED_SHARED } else { EMBED_ENCODER };
        ckpt.load_into(&vs, "", &[other_embed, "decoder.", "lm_head."])?;
        Ok(model)
    }

    pub fn config(&self) -> &T5Config {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The dtype of the embeddings and of the output.
    pub fn kind(&self) -> Kind {
        self.embed.kind()
    }

    /// `last_hidden_state` [B,L,d_model] for `input_ids` [B,L] (integer token ids); `attention_mask`
    /// [B,L] (nonzero/true = attend) hides padded keys. Inputs may be on any device; the result
    /// is on the model's device, in the model's kind.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: Option<&Tensor>) -> Result<Tensor, ModelError> {
        let _guard = tch::no_grad_guard();
        let size = input_ids.size();
        if size.len() != 2 || size[1] == 0 {
            return Err(ModelError::InvalidInput(format!("T5 input_ids must be [batch, length], got {size:?}")));
        }
        if !matches!(input_ids.kind(), Kind::Int64 | Kind::Int | Kind::Int16 | Kind::Int8 | Kind::Uint8) {
            return Err(ModelError::InvalidInput(format!("T5 input_ids must be integers, got {:?}", input_ids.kind())));
        }
        let ids = input_ids.to_device(self.device).to_kind(Kind::Int64);
        let (lo, hi) = (ids.min().int64_value(&[]), ids.max().int64_value(&[]));
        if lo < 0 || hi >= self.config.vocab_size {
            return Err(ModelError::InvalidInput(format!(
                "T5 token ids must lie in 0..{}, got {lo}..={hi}",
                self.config.vocab_size
            )));
        }
        let mask = match attention_mask {
            Some(m) if m.size() != size => {
                return Err(ModelError::InvalidInput(format!(
                    "T5 attention_mask is {:?}, input_ids {size:?}",
                    m.size()
                )))
            }
            Some(m) => Some(m.to_device(self.device).ne(0)),
            None => None,
        };
        let (b, l) = (size[0], size[1]);

        let mut h = Tensor::embedding(&self.embed, &ids, -1, false, false);
        if let Some(rel) = &self.relative_attention_bias {
            let bias = self.position_bias(rel, l);
            // transformers' SDPA path: masked keys get the dtype's lowest value instead of the bias.
            let bias_mask = match &mask {
                Some(m) => bias.where_scalarother(&m.view([b, 1, 1, l]), lowest(bias.kind())).contiguous(),
                None => bias,
            };
            for block in &self.blocks {
                let attn = block.attn.forward(&block.attn_norm.forward(&h), &bias_mask);
                h = clamp_fp16(h + attn);
                let ff = block.ff.forward(&block.ff_norm.forward(&h), self.activation);
                h = clamp_fp16(h + ff);
            }
        }
        Ok(self.final_norm.forward(&h))
    }

    /// `T5Attention.compute_bias` for a bidirectional encoder: [1, H, L, L] in the weight's dtype.
    fn position_bias(&self, weight: &Tensor, len: i64) -> Tensor {
        let c = &self.config;
        let positions = Tensor::arange(len, (Kind::Int64, self.device));
        let relative = positions.unsqueeze(0) - positions.unsqueeze(1); // memory - context
        let num_buckets = c.relative_attention_num_buckets / 2;
        let base = relative.gt(0).to_kind(Kind::Int64) * num_buckets;
        let distance = relative.abs();
        let max_exact = num_buckets / 2;
        let is_small = distance.lt(max_exact);
        let large = (distance.to_kind(Kind::Float) / max_exact as f64).log()
            / (c.relative_attention_max_distance as f64 / max_exact as f64).ln()
            * (num_buckets - max_exact) as f64;
        let large = (large.to_kind(Kind::Int64) + max_exact).clamp_max(num_buckets - 1);
        let buckets = base + distance.where_self(&is_small, &large);
        Tensor::embedding(weight, &buckets, -1, false, false).permute([2, 0, 1]).unsqueeze(0)
    }
}

/// `torch.finfo(kind).min`.
fn lowest(kind: Kind) -> f64 {
    match kind {
        Kind::Half => f64::from(half::f16::MIN),
        Kind::BFloat16 => f64::from(half::bf16::MIN),
        Kind::Double => f64::MIN,
        _ => f64::from(f32::MIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(proj: &str) -> T5Config {
        T5Config { feed_forward_proj: proj.into(), ..T5Config::default() }
    }

    #[test]
    fn activation_follows_feed_forward_proj_unless_stated() {
        assert_eq!(config("relu").activation().unwrap(), Activation::Relu);
        assert!(!config("relu").is_gated().unwrap());
        assert_eq!(config("gated-gelu").activation().unwrap(), Activation::GeluNew);
        assert!(config("gated-gelu").is_gated().unwrap());
        assert_eq!(config("gated-silu").activation().unwrap(), Activation::Silu);
        let stated = T5Config { dense_act_fn: Some("relu".into()), is_gated_act: Some(false), ..config("gated-gelu") };
        assert_eq!(stated.activation().unwrap(), Activation::Relu);
        assert!(!stated.is_gated().unwrap());
        assert!(config("fancy-gelu").activation().is_err());
        assert!(config("gated-gelu-x").is_gated().is_err());
        assert!(config("mystery").activation().unwrap_err().to_string().contains("mystery"));
    }

    #[test]
    fn config_json_defaults() {
        let c: T5Config =
            serde_json::from_str(r#"{"d_model": 64, "feed_forward_proj": "gated-gelu", "foo": 1}"#).unwrap();
        assert_eq!(c.d_model, 64);
        assert_eq!(c.vocab_size, 32128);
        assert_eq!(c.layer_norm_epsilon, 1e-6);
    }

    #[test]
    fn buckets_match_the_reference_formula() {
        // Buckets for num_buckets=32, max_distance=128 at a few distances, from transformers.
        let c = T5Config { num_layers: 1, num_heads: 1, ..T5Config::default() };
        let vs = VarStore::new(Device::Cpu);
        let m = T5EncoderModel::new(&vs.root(), &c).unwrap();
        let weight = Tensor::arange(32, (Kind::Float, Device::Cpu)).view([32, 1]);
        let b = m.position_bias(&weight, 200).squeeze();
        let row0: Vec<f32> = Vec::try_from(b.get(0)).unwrap();
        // relative position = key - query: positive -> upper half of the buckets.
        assert_eq!(&row0[..10], &[0., 17., 18., 19., 20., 21., 22., 23., 24., 24.]);
        assert_eq!(row0[16], 26.);
        assert_eq!(row0[199], 31.);
        let last: Vec<f32> = Vec::try_from(b.get(199)).unwrap();
        assert_eq!(&last[190..], &[8., 8., 7., 6., 5., 4., 3., 2., 1., 0.]);
        assert_eq!(last[0], 15.);
    }
}
