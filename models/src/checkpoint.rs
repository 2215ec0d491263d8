//! Reading diffusers/transformers-format weights: one `.safetensors` file or a folder of shards
//! with an index, memory-mapped, checked key by key against a model's parameters.
//!
//! Models name their parameters through a [`tch::nn::VarStore`] path that mirrors the Python
//! module tree, so `vs.root() / "transformer_blocks" / 0 / "attn1" / "to_q"` holds
//! `transformer_blocks.0.attn1.to_q.weight`, the key diffusers writes. [`Checkpoint::load_into`]
//! then fills every variable, converting dtype and device, and refuses a checkpoint that misses
//! keys, carries unknown ones or disagrees on a shape, naming them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata, TensorInfo};
use safetensors::SafeTensors;
use serde::de::DeserializeOwned;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::error::{ModelError, ShapeMismatch};

/// One or more memory-mapped safetensors files, addressed by tensor name.
pub struct Checkpoint {
    /// What the user pointed at (a file or a folder), for messages.
    path: PathBuf,
    files: Vec<Shard>,
    /// tensor name -> index into `files`
    names: BTreeMap<String, usize>,
}

struct Shard {
    path: PathBuf,
    map: Mmap,
    header_len: usize,
    metadata: Metadata,
}

/// A tensor as stored: dtype, shape and its bytes inside the mapping.
pub struct StoredTensor<'a> {
    pub dtype: Dtype,
    pub shape: Vec<i64>,
    pub data: &'a [u8],
}

impl Checkpoint {
    /// Opens a `.safetensors` file, or a folder holding either one safetensors file, the usual
    /// `diffusion_pytorch_model.safetensors`/`model.safetensors`, or shards listed by a
    /// `*.safetensors.index.json`.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let files = if path.is_dir() { shard_paths(path)? } else { vec![path.to_owned()] };
        let mut shards = Vec::with_capacity(files.len());
        let mut names = BTreeMap::new();
        for (i, file) in files.into_iter().enumerate() {
            let shard = Shard::open(&file)?;
            for name in shard.metadata.tensors().keys() {
                if names.insert(name.clone(), i).is_some() {
                    return Err(invalid(&file, format!("tensor {name} appears in more than one shard")));
                }
            }
            shards.push(shard);
        }
        Ok(Self { path: path.to_owned(), files: shards, names })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    pub fn stored(&self, name: &str) -> Option<StoredTensor<'_>> {
        let shard = &self.files[*self.names.get(name)?];
        let info: &TensorInfo = shard.metadata.info(name)?;
        let (start, end) = info.data_offsets;
        let base = 8 + shard.header_len;
        Some(StoredTensor {
            dtype: info.dtype,
            shape: info.shape.iter().map(|&d| d as i64).collect(),
            data: &shard.map[base + start..base + end],
        })
    }

    /// One tensor on the CPU in its stored dtype (a copy out of the mapping).
    pub fn tensor(&self, name: &str) -> Result<Tensor, ModelError> {
        let stored = self.stored(name).ok_or_else(|| ModelError::CheckpointMismatch {
            path: self.path.clone(),
            missing: vec![name.to_owned()],
            unexpected: vec![],
            wrong_shape: vec![],
        })?;
        let kind = kind_of(stored.dtype).ok_or_else(|| {
            invalid(&self.path, format!("{name} has dtype {:?}; expected a float or integer type", stored.dtype))
        })?;
        Ok(Tensor::f_from_data_size(stored.data, &stored.shape, kind)?)
    }

    /// Fills every variable of `vs` from the tensor of the same name (after stripping
    /// `strip_prefix` from checkpoint names), converting to the variable's dtype and device.
    /// Checkpoint tensors whose name starts with one of `ignore` are skipped silently (buffers
    /// the reference recomputes, heads we do not use). Nothing is copied unless every key fits.
    pub fn load_into(&self, vs: &VarStore, strip_prefix: &str, ignore: &[&str]) -> Result<(), ModelError> {
        let params = vs.variables();
        let stored: HashMap<&str, &str> = self
            .names
            .keys()
            .filter_map(|k| k.strip_prefix(strip_prefix).map(|short| (short, k.as_str())))
            .collect();
        let mut missing = Vec::new();
        let mut wrong_shape = Vec::new();
        let mut loads = Vec::new();
        for (name, param) in &params {
            let Some(&full) = stored.get(name.as_str()) else {
                missing.push(name.clone());
                continue;
            };
            let view = self.stored(full).expect("name comes from the index");
            if view.shape != param.size() {
                wrong_shape.push(ShapeMismatch { name: name.clone(), expected: param.size(), found: view.shape });
                continue;
            }
            let Some(kind) = kind_of(view.dtype) else {
                return Err(invalid(&self.path, format!("{full} has dtype {:?}", view.dtype)));
            };
            loads.push((name, full, kind));
        }
        let known: HashSet<&str> = params.keys().map(String::as_str).collect();
        let mut unexpected: Vec<String> = stored
            .keys()
            .filter(|k| !known.contains(*k) && !ignore.iter().any(|p| k.starts_with(p)))
            .map(|k| k.to_string())
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() || !wrong_shape.is_empty() {
            missing.sort();
            unexpected.sort();
            wrong_shape.sort_by(|a, b| a.name.cmp(&b.name));
            return Err(ModelError::CheckpointMismatch { path: self.path.clone(), missing, unexpected, wrong_shape });
        }
        tch::no_grad(|| -> Result<(), ModelError> {
            for (name, full, kind) in loads {
                let view = self.stored(full).expect("checked above");
                let mut param = params[name].shallow_clone();
                let data = Tensor::f_from_data_size(view.data, &view.shape, kind)?;
                param.f_copy_(&data)?;
            }
            Ok(())
        })
    }
}

impl Shard {
    fn open(path: &Path) -> Result<Self, ModelError> {
        let file = File::open(path).map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
        // SAFETY: the mapping is read-only and private to this process; a file truncated under
        // us by another process would fault, which is the same contract every safetensors
        // reader (including the Python one) accepts.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
        let (header_len, metadata) = SafeTensors::read_metadata(&map).map_err(|e| invalid(path, e.to_string()))?;
        // read_metadata checks the offsets are contiguous but not that the file holds them all.
        let end = metadata.tensors().values().map(|t| t.data_offsets.1).max().unwrap_or(0);
        if 8 + header_len + end > map.len() {
            return Err(invalid(
                path,
                format!("file is truncated: {} bytes, tensors need {}", map.len(), 8 + header_len + end),
            ));
        }
        Ok(Self { path: path.to_owned(), map, header_len, metadata })
    }
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files: Vec<_> = self.files.iter().map(|s| s.path.display().to_string()).collect();
        f.debug_struct("Checkpoint").field("files", &files).field("tensors", &self.names.len()).finish()
    }
}

fn invalid(path: &Path, reason: String) -> ModelError {
    ModelError::InvalidCheckpoint { path: path.to_owned(), reason }
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

#[derive(serde::Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

/// The safetensors files that make up the weights in `dir`.
fn shard_paths(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ModelError::Io { path: dir.to_owned(), source })?;
    let mut singles = Vec::new();
    let mut indexes = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| ModelError::Io { path: dir.to_owned(), source })?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.ends_with(".safetensors.index.json") {
            indexes.push(path);
        } else if name.ends_with(".safetensors") {
            singles.push(path);
        }
    }
    indexes.sort();
    singles.sort();
    // Prefer the plain (full precision) weights when a folder also holds variants such as
    // `diffusion_pytorch_model.fp16.safetensors`.
    let preferred = ["diffusion_pytorch_model.safetensors", "model.safetensors"];
    let plain_index = indexes.iter().find(|p| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        preferred.iter().any(|w| n == format!("{w}.index.json"))
    });
    if let Some(index) = plain_index.or(indexes.first()) {
        let text = std::fs::read_to_string(index).map_err(|source| ModelError::Io { path: index.clone(), source })?;
        let parsed: ShardIndex = serde_json::from_str(&text).map_err(|e| invalid(index, e.to_string()))?;
        let mut files: Vec<PathBuf> = parsed.weight_map.values().map(|f| dir.join(f)).collect();
        files.sort();
        files.dedup();
        if let Some(absent) = files.iter().find(|f| !f.is_file()) {
            return Err(invalid(index, format!("lists shard {} which is not there", absent.display())));
        }
        return Ok(files);
    }
    if let Some(p) = singles.iter().find(|p| preferred.iter().any(|w| p.ends_with(w))) {
        return Ok(vec![p.clone()]);
    }
    match singles.len() {
        1 => Ok(singles),
        0 => Err(invalid(dir, "no .safetensors weights in this folder".into())),
        _ => Err(invalid(
            dir,
            format!(
                "several .safetensors files and no index to say which belong together: {}",
                singles.iter().filter_map(|p| p.file_name()?.to_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Reads `dir/config.json` into a config struct, naming the file and the field on failure.
pub fn read_config<T: DeserializeOwned>(dir: &Path) -> Result<T, ModelError> {
    read_json(&dir.join("config.json"))
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
    serde_json::from_str(&text)
        .map_err(|e| ModelError::InvalidConfig(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("models-ckpt-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn store() -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let _ = (&root / "a").zeros("weight", &[2, 3]);
        let _ = (&root / "b" / 0).zeros("bias", &[4]);
        vs
    }

    #[test]
    fn loads_sharded_folder_with_index_and_converts_dtype() {
        let dir = scratch("sharded");
        let a = Tensor::arange(6, (Kind::Float, Device::Cpu)).view([2, 3]).to_kind(Kind::BFloat16);
        let b = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]);
        Tensor::write_safetensors(&[("a.weight", &a)], dir.join("m-00001-of-00002.safetensors")).unwrap();
        Tensor::write_safetensors(&[("b.0.bias", &b)], dir.join("m-00002-of-00002.safetensors")).unwrap();
        std::fs::write(
            dir.join("diffusion_pytorch_model.safetensors.index.json"),
            r#"{"metadata":{},"weight_map":{"a.weight":"m-00001-of-00002.safetensors","b.0.bias":"m-00002-of-00002.safetensors"}}"#,
        )
        .unwrap();
        let vs = store();
        Checkpoint::open(&dir).unwrap().load_into(&vs, "", &[]).unwrap();
        let vars = vs.variables();
        assert_eq!(Vec::<f32>::try_from(vars["a.weight"].view([-1])).unwrap(), vec![0., 1., 2., 3., 4., 5.]);
        assert_eq!(Vec::<f32>::try_from(&vars["b.0.bias"]).unwrap(), vec![1., 2., 3., 4.]);
    }

    #[test]
    fn mismatches_are_named_and_nothing_is_loaded() {
        let dir = scratch("mismatch");
        let a = Tensor::ones([3, 2], (Kind::Float, Device::Cpu));
        let extra = Tensor::ones([1], (Kind::Float, Device::Cpu));
        Tensor::write_safetensors(&[("a.weight", &a), ("zzz", &extra)], dir.join("model.safetensors")).unwrap();
        let vs = store();
        let err = Checkpoint::open(&dir).unwrap().load_into(&vs, "", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("missing keys: b.0.bias"), "{msg}");
        assert!(msg.contains("unexpected keys: zzz"), "{msg}");
        assert!(msg.contains("a.weight expected [2, 3] found [3, 2]"), "{msg}");
        assert_eq!(vs.variables()["a.weight"].sum(Kind::Float).double_value(&[]), 0.0);
        // An ignored prefix silences the unexpected key but not the rest.
        let msg = Checkpoint::open(&dir).unwrap().load_into(&vs, "", &["zz"]).unwrap_err().to_string();
        assert!(!msg.contains("zzz"), "{msg}");
    }

    #[test]
    fn truncated_empty_and_ambiguous_folders_are_errors() {
        let dir = scratch("bad");
        assert!(Checkpoint::open(&dir).unwrap_err().to_string().contains("no .safetensors"));
        let a = Tensor::ones([64], (Kind::Float, Device::Cpu));
        let file = dir.join("x.safetensors");
        Tensor::write_safetensors(&[("a", &a)], &file).unwrap();
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
        let msg = Checkpoint::open(&file).unwrap_err().to_string();
        assert!(msg.contains("unreadable checkpoint"), "{msg}");
        std::fs::write(&file, &bytes).unwrap();
        std::fs::write(dir.join("y.safetensors"), &bytes).unwrap();
        assert!(Checkpoint::open(&dir).unwrap_err().to_string().contains("several .safetensors"));
        std::fs::write(dir.join("garbage.safetensors"), b"not a checkpoint").unwrap();
        assert!(Checkpoint::open(&dir.join("garbage.safetensors")).is_err());
    }
}
