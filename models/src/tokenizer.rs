//! Prompt tokenization with a Hugging Face `tokenizer.json` (the `tokenizers` crate, the same
//! engine transformers' fast tokenizers run), padded to a fixed length the way
//! `tokenizer(prompt, padding="max_length", max_length=M, truncation=True, add_special_tokens=True)`
//! pads, but refusing to truncate: a prompt longer than the model reads is an error naming both
//! lengths, never a silently shortened prompt.
//!
//! ```no_run
//! # fn main() -> Result<(), models::ModelError> {
//! use models::tokenizer::PromptTokenizer;
//! let tok = PromptTokenizer::load("weights/ltx-video/tokenizer".as_ref())?;
//! let (ids, mask) = tok.encode("a red ball bounces", 128)?; // [1,128] i64 each
//! # let _ = (ids, mask); Ok(()) }
//! ```
//!
//! API:
//! - [`PromptTokenizer::load`]`(dir)`: `dir/tokenizer.json` (or a path to the json file itself).
//!   The pad token and padding side come from `tokenizer_config.json` (`pad_token`,
//!   `padding_side`), then `special_tokens_map.json`, then the `padding` section of
//!   `tokenizer.json`, as transformers resolves them; a folder with only a sentencepiece
//!   `spiece.model` (or a WordPiece `vocab.txt`) is an error that gives the one-line command
//!   that writes `tokenizer.json`.
//! - [`PromptTokenizer::token_count`]`(prompt)`: tokens including the special ones
//!   (T5: `... </s>`; BERT: `[CLS] ... [SEP]`), i.e. what must fit in the model's length.
//! - [`PromptTokenizer::encode`]`(prompt, max_length)`: `(input_ids [1,M] i64, attention_mask [1,M] i64)`,
//!   padded with the pad id (mask 0) on the tokenizer's padding side.
//!   A prompt of more than `max_length` tokens is [`ModelError::InvalidInput`] with the message
//!   "prompt is N tokens; the model reads at most M" (see [`prompt_too_long`]).
//! - [`PromptTokenizer::encode_batch`]`(prompts, max_length)`: [`Encoded`] with `[B,M]` ids, mask
//!   and token type ids (for BERT-style encoders).
//!
//! Any truncation or padding configured inside `tokenizer.json` is switched off: lengths are
//! decided here, per call.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tch::Tensor;
use tokenizers::Tokenizer;

use crate::error::ModelError;

/// Which end of the sequence padding goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaddingSide {
    Right,
    Left,
}

/// A batch of padded prompts, each tensor `[B, max_length]` i64 on the CPU.
#[derive(Debug)]
pub struct Encoded {
    pub input_ids: Tensor,
    /// 1 for real tokens (special tokens included), 0 for padding.
    pub attention_mask: Tensor,
    /// Segment ids (all 0 for a single prompt; BERT-style encoders take them).
    pub token_type_ids: Tensor,
}

/// A `tokenizer.json` with its pad token and padding side.
pub struct PromptTokenizer {
    tokenizer: Tokenizer,
    pad_id: u32,
    pad_token: String,
    pad_type_id: u32,
    side: PaddingSide,
    path: PathBuf,
}

impl std::fmt::Debug for PromptTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptTokenizer")
            .field("path", &self.path)
            .field("pad_token", &self.pad_token)
            .field("pad_id", &self.pad_id)
            .field("side", &self.side)
            .finish()
    }
}

/// The error for a prompt that does not fit: "prompt is N tokens; the model reads at most M".
pub fn prompt_too_long(tokens: usize, max_length: usize) -> ModelError {
    ModelError::InvalidInput(format!("prompt is {tokens} tokens; the model reads at most {max_length}"))
}

impl PromptTokenizer {
    /// Loads `dir/tokenizer.json` (or `dir` itself when it is a `.json` file) and the pad token and
    /// side from the files beside it.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let (dir, file) = if dir.is_file() {
            (dir.parent().unwrap_or(Path::new(".")).to_owned(), dir.to_owned())
        } else {
            (dir.to_owned(), dir.join("tokenizer.json"))
        };
        if !file.is_file() {
            return Err(missing_tokenizer_json(&dir));
        }
        let mut tokenizer = Tokenizer::from_file(&file)
            .map_err(|e| ModelError::InvalidConfig(format!("{}: cannot read tokenizer: {e}", file.display())))?;
        let json_padding = tokenizer.get_padding().cloned();
        tokenizer.with_truncation(None).map_err(|e| ModelError::InvalidConfig(format!("{}: {e}", file.display())))?;
        tokenizer.with_padding(None);

        let config = read_optional_json(&dir.join("tokenizer_config.json"))?;
        let special = read_optional_json(&dir.join("special_tokens_map.json"))?;
        let pad_token = [&config, &special]
            .iter()
            .find_map(|j| j.as_ref().and_then(|j| token_content(j.get("pad_token")?)))
            .or_else(|| json_padding.as_ref().map(|p| p.pad_token.clone()))
            .ok_or_else(|| {
                ModelError::InvalidConfig(format!(
                    "{}: no pad token (tokenizer_config.json, special_tokens_map.json and tokenizer.json name none)",
                    dir.display()
                ))
            })?;
        let pad_id = tokenizer.token_to_id(&pad_token).ok_or_else(|| {
            ModelError::InvalidConfig(format!("{}: pad token {pad_token:?} is not in the vocabulary", file.display()))
        })?;
        let side = match config.as_ref().and_then(|c| c.get("padding_side")).and_then(Value::as_str) {
            Some("left") => PaddingSide::Left,
            Some("right") => PaddingSide::Right,
            Some(other) => {
                return Err(ModelError::InvalidConfig(format!(
                    "{}: padding_side {other:?} is neither \"left\" nor \"right\"",
                    dir.join("tokenizer_config.json").display()
                )))
            }
            None => match json_padding.as_ref().map(|p| p.direction) {
                Some(tokenizers::PaddingDirection::Left) => PaddingSide::Left,
                _ => PaddingSide::Right,
            },
        };
        let pad_type_id = json_padding.map_or(0, |p| p.pad_type_id);
        Ok(Self { tokenizer, pad_id, pad_token, pad_type_id, side, path: file })
    }

    pub fn pad_id(&self) -> i64 {
        i64::from(self.pad_id)
    }

    pub fn pad_token(&self) -> &str {
        &self.pad_token
    }

    pub fn padding_side(&self) -> PaddingSide {
        self.side
    }

    /// The underlying `tokenizers::Tokenizer` (truncation and padding off).
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }

    fn tokens(&self, prompt: &str) -> Result<tokenizers::Encoding, ModelError> {
        self.tokenizer
            .encode(prompt, true)
            .map_err(|e| ModelError::InvalidInput(format!("cannot tokenize the prompt: {e}")))
    }

    /// Tokens `prompt` becomes, special tokens included.
    pub fn token_count(&self, prompt: &str) -> Result<usize, ModelError> {
        Ok(self.tokens(prompt)?.len())
    }

    /// `prompt` as `(input_ids, attention_mask)`, each `[1, max_length]` i64 on the CPU.
    pub fn encode(&self, prompt: &str, max_length: usize) -> Result<(Tensor, Tensor), ModelError> {
        let e = self.encode_batch(&[prompt], max_length)?;
        Ok((e.input_ids, e.attention_mask))
    }

    /// Several prompts, each padded to `max_length`.
    pub fn encode_batch(&self, prompts: &[&str], max_length: usize) -> Result<Encoded, ModelError> {
        let n = prompts.len();
        let mut ids = Vec::with_capacity(n * max_length);
        let mut mask = Vec::with_capacity(n * max_length);
        let mut types = Vec::with_capacity(n * max_length);
        for prompt in prompts {
            let e = self.tokens(prompt)?;
            let len = e.len();
            if len > max_length {
                return Err(prompt_too_long(len, max_length));
            }
            let pad = max_length - len;
            let padding = |ids: &mut Vec<i64>, mask: &mut Vec<i64>, types: &mut Vec<i64>| {
                ids.extend(std::iter::repeat_n(i64::from(self.pad_id), pad));
                mask.extend(std::iter::repeat_n(0, pad));
                types.extend(std::iter::repeat_n(i64::from(self.pad_type_id), pad));
            };
            if self.side == PaddingSide::Left {
                padding(&mut ids, &mut mask, &mut types);
            }
            ids.extend(e.get_ids().iter().map(|&i| i64::from(i)));
            mask.extend(std::iter::repeat_n(1, len));
            types.extend(e.get_type_ids().iter().map(|&i| i64::from(i)));
            if self.side == PaddingSide::Right {
                padding(&mut ids, &mut mask, &mut types);
            }
        }
        let shape = [n as i64, max_length as i64];
        Ok(Encoded {
            input_ids: Tensor::from_slice(&ids).view(shape),
            attention_mask: Tensor::from_slice(&mask).view(shape),
            token_type_ids: Tensor::from_slice(&types).view(shape),
        })
    }
}

fn read_optional_json(path: &Path) -> Result<Option<Value>, ModelError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ModelError::InvalidConfig(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ModelError::Io { path: path.to_owned(), source }),
    }
}

/// A special token as transformers writes it: `"<pad>"` or `{"content": "<pad>", ...}`.
fn token_content(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// What to tell a user whose folder has no `tokenizer.json`: how to write one from the slow
/// tokenizer files it has.
fn missing_tokenizer_json(dir: &Path) -> ModelError {
    let class = if dir.join("spiece.model").is_file() {
        Some(("spiece.model", "T5TokenizerFast"))
    } else if dir.join("vocab.txt").is_file() {
        Some(("vocab.txt", "BertTokenizerFast"))
    } else {
        None
    };
    let shown = dir.display();
    match class {
        Some((file, class)) => {
            // A Python string literal inside a single-quoted shell argument.
            let literal = format!("\"{}\"", dir.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\""))
                .replace('\'', "'\\''");
            ModelError::InvalidConfig(format!(
                "{shown} has {file} but no tokenizer.json, which this program reads; write it once with the \
                 project venv (needs transformers, sentencepiece and protobuf): \
                 .venv/bin/python -c 'from transformers import {class}; {class}.from_pretrained({literal}).save_pretrained({literal})'"
            ))
        }
        None => ModelError::InvalidConfig(format!("{shown}: no tokenizer.json")),
    }
}
