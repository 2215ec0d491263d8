//! BERT encoder (transformers `BertModel`, absolute positions, post-LayerNorm) and the
//! sentence-transformers wrapper that turns it into a sentence embedder. Shipped for
//! `sentence-transformers/all-MiniLM-L6-v2` (6 layers, 384 dims, 12 heads), which the usage policy
//! in the `safety` crate uses for its semantic check; any BERT checkpoint of the same architecture
//! loads.
//!
//! ```no_run
//! # fn main() -> Result<(), models::ModelError> {
//! use models::bert::SentenceEncoder;
//! let encoder = SentenceEncoder::load("weights/all-minilm-l6-v2".as_ref(), tch::Device::Cpu)?;
//! let emb = encoder.encode(&["a cat on a sofa", "a dog in the park"])?; // [2, 384], unit rows
//! # Ok(()) }
//! ```
//!
//! API:
//! - [`BertConfig`]: the keys of transformers' `config.json` that the forward pass reads.
//! - [`BertModel::new`]`(vs.root(), &config)` builds the parameters under the transformers names
//!   (`embeddings.word_embeddings.weight`, `encoder.layer.{i}.attention.self.query.weight`,
//!   `encoder.layer.{i}.attention.output.LayerNorm.weight`, ...).
//!   [`BertModel::load`]`(dir, device, kind)` reads `dir/config.json` and `dir`'s safetensors
//!   weights. The checkpoint's `pooler.*` (not used by sentence embeddings) and the
//!   `embeddings.position_ids` buffer are ignored; a `bert.` prefix (task-head checkpoints) is
//!   stripped. Any other extra key, missing key or wrong shape is a
//!   [`ModelError::CheckpointMismatch`] naming them.
//! - [`BertModel::forward`]`(input_ids, attention_mask, token_type_ids)`: `[N,S]` integer ids and
//!   mask (1 = token, 0 = padding; any integer, bool or float kind), optional token types (zeros
//!   when `None`); returns transformers' `last_hidden_state`, `[N,S,hidden]` in the model's kind.
//! - [`SentenceEncoder::load`]`(dir, device)`: the model in fp32 plus `dir/tokenizer.json`, with
//!   the sentence-transformers settings of the folder (`sentence_bert_config.json`'s
//!   `max_seq_length`, 256 for all-MiniLM-L6-v2; `1_Pooling/config.json` must ask for mean
//!   pooling). [`SentenceEncoder::encode`]`(&texts)` tokenizes (pad to the longest, truncate to
//!   `max_seq_length`), runs the encoder, averages the token states over the attention mask and
//!   L2-normalises each row, as sentence-transformers' `Transformer -> Pooling(mean) -> Normalize`
//!   does: `[N,hidden]` f32 on the encoder's device, so a dot product is the cosine similarity.
//!
//! Parity with transformers on the real weights: `tests/bert_parity.rs`.

use std::path::Path;

use serde::Deserialize;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};
use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::checkpoint::{read_config, read_json, Checkpoint};
use crate::error::ModelError;

/// Checkpoint entries the forward pass does not use.
const IGNORED: [&str; 2] = ["pooler.", "embeddings.position_ids"];

fn default_act() -> String {
    "gelu".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_type_vocab() -> i64 {
    2
}
fn default_positions() -> i64 {
    512
}
fn default_position_type() -> String {
    "absolute".into()
}

/// transformers `BertConfig`, the keys that shape the network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_positions")]
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: i64,
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
}

impl BertConfig {
    /// all-MiniLM-L6-v2's configuration.
    pub fn minilm_l6() -> Self {
        Self {
            vocab_size: 30522,
            hidden_size: 384,
            num_hidden_layers: 6,
            num_attention_heads: 12,
            intermediate_size: 1536,
            hidden_act: default_act(),
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            position_embedding_type: default_position_type(),
        }
    }

    fn validate(&self) -> Result<Activation, ModelError> {
        let bad = |what: String| Err(ModelError::InvalidConfig(format!("BERT config: {what}")));
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v <= 0 {
                return bad(format!("{name} must be positive, got {v}"));
            }
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.position_embedding_type != "absolute" {
            return bad(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                self.position_embedding_type
            ));
        }
        match self.hidden_act.as_str() {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => bad(format!("hidden_act {other:?} is not supported (gelu, gelu_new, relu)")),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Activation {
    Gelu,
    GeluTanh,
    Relu,
}

impl Activation {
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
            Activation::Relu => x.relu(),
        }
    }
}

#[derive(Debug)]
struct Layer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    attn_out: nn::Linear,
    attn_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    out: nn::Linear,
    out_norm: nn::LayerNorm,
}

impl Layer {
    fn new(p: nn::Path, c: &BertConfig) -> Self {
        let h = c.hidden_size;
        let ln = nn::LayerNormConfig { eps: c.layer_norm_eps, ..Default::default() };
        let att = &p / "attention";
        let sa = &att / "self";
        let ao = &att / "output";
        Self {
            query: nn::linear(&sa / "query", h, h, Default::default()),
            key: nn::linear(&sa / "key", h, h, Default::default()),
            value: nn::linear(&sa / "value", h, h, Default::default()),
            attn_out: nn::linear(&ao / "dense", h, h, Default::default()),
            attn_norm: nn::layer_norm(&ao / "LayerNorm", vec![h], ln),
            intermediate: nn::linear(&p / "intermediate" / "dense", h, c.intermediate_size, Default::default()),
            out: nn::linear(&p / "output" / "dense", c.intermediate_size, h, Default::default()),
            out_norm: nn::layer_norm(&p / "output" / "LayerNorm", vec![h], ln),
        }
    }

    /// `x` [N,S,H]; `mask` [N,1,1,S] bool, true where a key may be attended to.
    fn forward(&self, x: &Tensor, mask: &Tensor, heads: i64, act: Activation) -> Tensor {
        let (n, s, h) = x.size3().expect("checked by BertModel::forward");
        let split = |t: Tensor| t.view([n, s, heads, h / heads]).transpose(1, 2);
        let q = split(self.query.forward(x));
        let k = split(self.key.forward(x));
        let v = split(self.value.forward(x));
        let ctx = Tensor::scaled_dot_product_attention(&q, &k, &v, Some(mask), 0.0, false, None, false);
        let ctx = ctx.transpose(1, 2).contiguous().view([n, s, h]);
        let x = self.attn_norm.forward(&(self.attn_out.forward(&ctx) + x));
        let y = self.out.forward(&act.apply(&self.intermediate.forward(&x)));
        self.out_norm.forward(&(y + x))
    }
}

/// transformers `BertModel` without the pooler: embeddings then the encoder stack.
#[derive(Debug)]
pub struct BertModel {
    config: BertConfig,
    act: Activation,
    word: nn::Embedding,
    position: nn::Embedding,
    token_type: nn::Embedding,
    emb_norm: nn::LayerNorm,
    layers: Vec<Layer>,
    device: Device,
    kind: Kind,
}

impl BertModel {
    /// Builds the parameters under `vs` (usually `vs.root()`), named as transformers names them.
    pub fn new(vs: nn::Path, config: &BertConfig) -> Result<Self, ModelError> {
        let act = config.validate()?;
        let e = &vs / "embeddings";
        let h = config.hidden_size;
        let emb = Default::default();
        let ln = nn::LayerNormConfig { eps: config.layer_norm_eps, ..Default::default() };
        let enc = &vs / "encoder" / "layer";
        Ok(Self {
            config: config.clone(),
            act,
            word: nn::embedding(&e / "word_embeddings", config.vocab_size, h, emb),
            position: nn::embedding(&e / "position_embeddings", config.max_position_embeddings, h, emb),
            token_type: nn::embedding(&e / "token_type_embeddings", config.type_vocab_size, h, emb),
            emb_norm: nn::layer_norm(&e / "LayerNorm", vec![h], ln),
            layers: (0..config.num_hidden_layers).map(|i| Layer::new(&enc / i, config)).collect(),
            device: vs.device(),
            kind: vs.kind(),
        })
    }

    /// Reads `dir/config.json` and the safetensors weights in `dir`, on `device` in `kind`
    /// (the checkpoint is converted on load). Returns the model and the store that owns its
    /// parameters (frozen: no gradients).
    pub fn load(dir: &Path, device: Device, kind: Kind) -> Result<(Self, VarStore), ModelError> {
        let config: BertConfig = read_config(dir)?;
        let mut vs = VarStore::new(device);
        let mut model = Self::new(vs.root(), &config)?;
        if kind != Kind::Float {
            vs.set_kind(kind);
            model.kind = kind;
        }
        let ckpt = Checkpoint::open(dir)?;
        let prefix = if ckpt.contains("bert.embeddings.word_embeddings.weight") { "bert." } else { "" };
        let ignored: Vec<String> = IGNORED.iter().map(|i| format!("{prefix}{i}")).collect();
        // Entries outside the prefix (task heads such as `cls.`) are not seen by load_into.
        let ignored: Vec<&str> = IGNORED.iter().copied().chain(ignored.iter().map(String::as_str)).collect();
        ckpt.load_into(&vs, prefix, &ignored)?;
        vs.freeze();
        Ok((model, vs))
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// `last_hidden_state` [N,S,hidden] for `input_ids` [N,S] (int), `attention_mask` [N,S]
    /// (1 = token, 0 = padding) and optional `token_type_ids` [N,S] (zeros when None). Inputs may
    /// live on any device; the result is on the model's device in the model's kind.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        token_type_ids: Option<&Tensor>,
    ) -> Result<Tensor, ModelError> {
        let size = input_ids.size();
        let [n, s] = size[..] else {
            return Err(ModelError::InvalidInput(format!("input_ids must be [batch, seq], got {size:?}")));
        };
        if attention_mask.size() != size {
            return Err(ModelError::InvalidInput(format!(
                "attention_mask {:?} does not match input_ids {size:?}",
                attention_mask.size()
            )));
        }
        if s > self.config.max_position_embeddings {
            return Err(ModelError::InvalidInput(format!(
                "sequence of {s} tokens exceeds max_position_embeddings {}",
                self.config.max_position_embeddings
            )));
        }
        check_ids("input_ids", input_ids, self.config.vocab_size)?;
        let _guard = tch::no_grad_guard();
        let ids = input_ids.to_device(self.device).to_kind(Kind::Int64);
        let types = match token_type_ids {
            Some(t) => {
                if t.size() != size {
                    return Err(ModelError::InvalidInput(format!(
                        "token_type_ids {:?} does not match input_ids {size:?}",
                        t.size()
                    )));
                }
                check_ids("token_type_ids", t, self.config.type_vocab_size)?;
                t.to_device(self.device).to_kind(Kind::Int64)
            }
            None => Tensor::zeros([n, s], (Kind::Int64, self.device)),
        };
        if n == 0 || s == 0 {
            return Ok(Tensor::zeros([n, s, self.config.hidden_size], (self.kind, self.device)));
        }
        let positions = Tensor::arange(s, (Kind::Int64, self.device)).unsqueeze(0);
        let x = self.word.forward(&ids) + self.position.forward(&positions) + self.token_type.forward(&types);
        let mut x = self.emb_norm.forward(&x);
        let mask = attention_mask.to_device(self.device).ne(0).view([n, 1, 1, s]);
        for layer in &self.layers {
            x = layer.forward(&x, &mask, self.config.num_attention_heads, self.act);
        }
        Ok(x)
    }
}

/// Refuses ids outside `0..limit`, which the embedding lookup would turn into a libtorch panic.
fn check_ids(what: &str, ids: &Tensor, limit: i64) -> Result<(), ModelError> {
    if ids.is_floating_point() || ids.kind() == Kind::Bool {
        return Err(ModelError::InvalidInput(format!("{what} must be integers, got {:?}", ids.kind())));
    }
    if ids.numel() == 0 {
        return Ok(());
    }
    let (lo, hi) = (ids.min().int64_value(&[]), ids.max().int64_value(&[]));
    if lo < 0 || hi >= limit {
        return Err(ModelError::InvalidInput(format!("{what} must lie in 0..{limit}, found {lo}..={hi}")));
    }
    Ok(())
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

/// sentence-transformers' default when a folder has no `sentence_bert_config.json`, and
/// all-MiniLM-L6-v2's setting.
pub const DEFAULT_MAX_SEQ_LENGTH: usize = 256;

/// A sentence-transformers model of the `Transformer -> Pooling(mean) -> Normalize` form.
pub struct SentenceEncoder {
    model: BertModel,
    _vs: VarStore,
    tokenizer: Tokenizer,
    max_seq_length: usize,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("config", &self.model.config)
            .field("device", &self.model.device)
            .field("max_seq_length", &self.max_seq_length)
            .finish()
    }
}

impl SentenceEncoder {
    /// Loads a sentence-transformers folder (config.json, safetensors weights, tokenizer.json,
    /// optional sentence_bert_config.json and 1_Pooling/config.json) in fp32 on `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, ModelError> {
        let st_config = dir.join("sentence_bert_config.json");
        let max_seq_length = if st_config.is_file() {
            read_json::<SentenceBertConfig>(&st_config)?.max_seq_length.unwrap_or(DEFAULT_MAX_SEQ_LENGTH)
        } else {
            DEFAULT_MAX_SEQ_LENGTH
        };
        let pooling = dir.join("1_Pooling/config.json");
        if pooling.is_file() {
            let p: PoolingConfig = read_json(&pooling)?;
            if !p.pooling_mode_mean_tokens
                || p.pooling_mode_cls_token
                || p.pooling_mode_max_tokens
                || p.pooling_mode_mean_sqrt_len_tokens
            {
                return Err(ModelError::InvalidConfig(format!(
                    "{}: only mean pooling (pooling_mode_mean_tokens alone) is supported",
                    pooling.display()
                )));
            }
        }
        let (model, vs) = BertModel::load(dir, device, Kind::Float)?;
        let max_positions = model.config.max_position_embeddings as usize;
        if max_seq_length == 0 || max_seq_length > max_positions {
            return Err(ModelError::InvalidConfig(format!(
                "{}: max_seq_length {max_seq_length} must be in 1..={max_positions}",
                st_config.display()
            )));
        }
        let tokenizer_path = dir.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            return Err(ModelError::Io {
                path: tokenizer_path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "tokenizer.json not found"),
            });
        }
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| ModelError::InvalidConfig(format!("{}: {e}", tokenizer_path.display())))?;
        // tokenizer.json carries the training-time fixed padding to 128; sentence-transformers
        // pads to the longest text of the batch and truncates at max_seq_length.
        let (pad_id, pad_token) = match tokenizer.get_padding() {
            Some(p) => (p.pad_id, p.pad_token.clone()),
            None => (model.config.pad_token_id as u32, "[PAD]".to_owned()),
        };
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id,
            pad_type_id: 0,
            pad_token,
        }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_seq_length, ..Default::default() }))
            .map_err(|e| ModelError::InvalidConfig(format!("{}: {e}", tokenizer_path.display())))?;
        Ok(Self { model, _vs: vs, tokenizer, max_seq_length })
    }

    pub fn model(&self) -> &BertModel {
        &self.model
    }

    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// The embedding width (384 for all-MiniLM-L6-v2).
    pub fn dim(&self) -> i64 {
        self.model.config.hidden_size
    }

    /// `(input_ids, attention_mask)`, both `[N,S]` int64 on the CPU, padded to the longest text
    /// and truncated at `max_seq_length`, with `[CLS]`/`[SEP]` as the model was trained.
    pub fn tokenize(&self, texts: &[&str]) -> Result<(Tensor, Tensor), ModelError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::InvalidInput(format!("tokenizer: {e}")))?;
        let n = encodings.len() as i64;
        let s = encodings.first().map_or(0, |e| e.get_ids().len()) as i64;
        let mut ids = Vec::with_capacity((n * s) as usize);
        let mut mask = Vec::with_capacity((n * s) as usize);
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&i| i as i64));
            mask.extend(e.get_attention_mask().iter().map(|&m| m as i64));
        }
        Ok((Tensor::from_slice(&ids).view([n, s]), Tensor::from_slice(&mask).view([n, s])))
    }

    /// Mean-pooled, L2-normalised sentence embeddings: `[N, dim]` f32 on the encoder's device.
    pub fn encode(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        if texts.is_empty() {
            return Ok(Tensor::zeros([0, self.dim()], (Kind::Float, self.model.device)));
        }
        let (ids, mask) = self.tokenize(texts)?;
        let hidden = self.model.forward(&ids, &mask, None)?;
        let _guard = tch::no_grad_guard();
        Ok(mean_pool_normalize(&hidden, &mask.to_device(self.model.device)))
    }
}

/// sentence-transformers' `Pooling(mean)` then `Normalize`: the average of the token states
/// where `mask` is 1, divided by its L2 norm (clamped as torch's `F.normalize` does).
pub fn mean_pool_normalize(hidden: &Tensor, mask: &Tensor) -> Tensor {
    let hidden = hidden.to_kind(Kind::Float);
    let m = mask.to_kind(Kind::Float).unsqueeze(-1);
    let sum = (&hidden * &m).sum_dim_intlist(1, false, Kind::Float);
    let count = m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1e-9);
    let mean = sum / count;
    let norm = mean.norm_scalaropt_dim(2, 1, true).clamp_min(1e-12);
    mean / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BertConfig {
        BertConfig {
            vocab_size: 50,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 32,
            max_position_embeddings: 20,
            ..BertConfig::minilm_l6()
        }
    }

    #[test]
    fn parameter_names_follow_transformers() {
        let vs = VarStore::new(Device::Cpu);
        let _m = BertModel::new(vs.root(), &tiny()).unwrap();
        let vars = vs.variables();
        for k in [
            "embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight",
            "embeddings.LayerNorm.weight",
            "encoder.layer.1.attention.self.query.weight",
            "encoder.layer.1.attention.self.value.bias",
            "encoder.layer.0.attention.output.dense.weight",
            "encoder.layer.0.attention.output.LayerNorm.bias",
            "encoder.layer.0.intermediate.dense.weight",
            "encoder.layer.0.output.dense.weight",
            "encoder.layer.0.output.LayerNorm.weight",
        ] {
            assert!(vars.contains_key(k), "{k} missing from {:?}", vars.keys());
        }
        assert_eq!(vars.len(), 5 + 2 * 16);
    }

    #[test]
    fn padding_does_not_change_the_real_tokens() {
        let vs = VarStore::new(Device::Cpu);
        let m = BertModel::new(vs.root(), &tiny()).unwrap();
        let ids = Tensor::from_slice(&[3i64, 7, 9, 4]).view([1, 4]);
        let mask = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
        let a = m.forward(&ids, &mask, None).unwrap();
        let ids2 = Tensor::from_slice(&[3i64, 7, 9, 4, 0, 0]).view([1, 6]);
        let mask2 = Tensor::from_slice(&[1i64, 1, 1, 1, 0, 0]).view([1, 6]);
        let b = m.forward(&ids2, &mask2, None).unwrap().narrow(1, 0, 4);
        assert!((a - b).abs().max().double_value(&[]) < 1e-5);
        let pooled = mean_pool_normalize(&m.forward(&ids2, &mask2, None).unwrap(), &mask2);
        assert!((pooled.norm().double_value(&[]) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn bad_inputs_and_configs_are_errors() {
        let vs = VarStore::new(Device::Cpu);
        let m = BertModel::new(vs.root(), &tiny()).unwrap();
        let mask = Tensor::ones([1, 2], (Kind::Int64, Device::Cpu));
        let big = Tensor::from_slice(&[1i64, 50]).view([1, 2]);
        assert!(m.forward(&big, &mask, None).unwrap_err().to_string().contains("0..50"));
        let flat = Tensor::from_slice(&[1i64, 2]);
        assert!(m.forward(&flat, &mask, None).is_err());
        let long = Tensor::zeros([1, 21], (Kind::Int64, Device::Cpu));
        let long_mask = Tensor::ones([1, 21], (Kind::Int64, Device::Cpu));
        assert!(m.forward(&long, &long_mask, None).unwrap_err().to_string().contains("max_position"));
        let bad = BertConfig { num_attention_heads: 5, ..tiny() };
        assert!(BertModel::new(VarStore::new(Device::Cpu).root(), &bad).is_err());
        let bad = BertConfig { position_embedding_type: "relative_key".into(), ..tiny() };
        assert!(BertModel::new(VarStore::new(Device::Cpu).root(), &bad).is_err());
    }
}
