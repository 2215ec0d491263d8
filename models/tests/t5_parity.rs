//! Parity of models::t5 and models::tokenizer against transformers 5.23 (the project venv).
//!
//! `reference/t5_reference.py model` saves small random `T5EncoderModel`s with `save_pretrained`
//! (one sharded with an index; checkpoints storing the token embedding as `shared.weight`, as
//! `encoder.embed_tokens.weight`, or both) and what transformers computes after `from_pretrained`.
//! `reference/t5_reference.py tokenizer` trains a sentencepiece model offline, has transformers
//! convert it to a T5 `tokenizer.json`, builds WordPiece BERT tokenizers, and encodes prompts the
//! way diffusers' LTX pipeline does (`padding="max_length", truncation=True`).

mod common;

use std::path::Path;

use models::t5::T5EncoderModel;
use models::tokenizer::{PaddingSide, PromptTokenizer};
use serde_json::Value;
use tch::{Device, Kind, Tensor};

/// Parity bar (max |diff| / max |ref|), for fp32 and for the fp16/bf16 runs alike: both sides
/// run the same libtorch kernels in the same order, so reduced precision is held to the same bar.
/// (Running `wo` in fp16 instead of transformers' fp32 shows up as ~9e-4 in the fp16 run.)
const TOLERANCE: f64 = 1e-4;

fn kind_of(dtype: &str) -> Kind {
    match dtype {
        "float32" => Kind::Float,
        "float16" => Kind::Half,
        "bfloat16" => Kind::BFloat16,
        other => panic!("unknown dtype {other}"),
    }
}

#[test]
fn encoder_matches_transformers() {
    let dir = common::scratch("t5-model");
    common::run_reference("t5_reference.py", &["model", dir.to_str().unwrap()]);
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.len() >= 3, "expected at least 3 configurations, got {}", manifest.len());
    let mut sharded = false;
    let mut compared = 0;
    for case in &manifest {
        let name = case["name"].as_str().unwrap();
        let folder = dir.join(name);
        let files = case["files"].as_array().unwrap().len();
        sharded |= files > 1 && folder.join("model.safetensors.index.json").is_file();
        let reference = common::read_tensors(&folder.join("reference.safetensors"));
        let ids = &reference["input_ids"];
        let mask = &reference["attention_mask"];
        println!(
            "{name}: {} layers, {} heads x d_kv {}, d_model {}, d_ff {}, {}, buckets {}/{}, {} file(s), embedding {}",
            case["num_layers"],
            case["num_heads"],
            case["d_kv"],
            case["d_model"],
            case["d_ff"],
            case["feed_forward_proj"],
            case["relative_attention_num_buckets"],
            case["relative_attention_max_distance"],
            files,
            case["embedding"]
        );
        for dtype in case["dtypes"].as_array().unwrap() {
            let dtype = dtype.as_str().unwrap();
            let kind = kind_of(dtype);
            let model = T5EncoderModel::load(&folder, Device::Cpu, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
            let masked = model.forward(ids, Some(mask)).unwrap();
            let unmasked = model.forward(ids, None).unwrap();
            let expected_kind = reference
                .keys()
                .find_map(|k| k.strip_prefix(&format!("{dtype}.output_is_")))
                .map(kind_of)
                .expect("reference names its output dtype");
            assert_eq!(masked.kind(), expected_kind, "{name} {dtype}: output dtype");
            common::assert_close(
                &format!("{name} {dtype} masked"),
                &masked,
                &reference[&format!("{dtype}.masked")],
                TOLERANCE,
            );
            common::assert_close(
                &format!("{name} {dtype} no mask"),
                &unmasked,
                &reference[&format!("{dtype}.unmasked")],
                TOLERANCE,
            );
            compared += 2;
        }
    }
    assert!(sharded, "no configuration was saved sharded with an index");
    println!("{compared} comparisons");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn encoder_rejects_bad_inputs_and_checkpoints() {
    let dir = common::scratch("t5-bad");
    std::fs::write(
        dir.join("config.json"),
        r#"{"vocab_size": 10, "d_model": 8, "d_kv": 4, "d_ff": 16, "num_layers": 1, "num_heads": 2}"#,
    )
    .unwrap();
    let w = |shape: &[i64]| Tensor::ones(shape, (Kind::Float, Device::Cpu));
    let tensors = [
        ("shared.weight", w(&[10, 8])),
        ("encoder.block.0.layer.0.SelfAttention.q.weight", w(&[8, 8])),
        ("encoder.block.0.layer.0.SelfAttention.k.weight", w(&[8, 8])),
        ("encoder.block.0.layer.0.SelfAttention.v.weight", w(&[8, 8])),
        ("encoder.block.0.layer.0.SelfAttention.o.weight", w(&[8, 8])),
        ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", w(&[32, 2])),
        ("encoder.block.0.layer.0.layer_norm.weight", w(&[8])),
        ("encoder.block.0.layer.1.DenseReluDense.wi.weight", w(&[16, 8])),
        ("encoder.block.0.layer.1.DenseReluDense.wo.weight", w(&[8, 16])),
        ("encoder.block.0.layer.1.layer_norm.weight", w(&[8])),
        ("encoder.final_layer_norm.weight", w(&[8])),
        // A full encoder-decoder checkpoint's extras are ignored.
        ("decoder.final_layer_norm.weight", w(&[8])),
        ("lm_head.weight", w(&[10, 8])),
    ];
    let refs: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    Tensor::write_safetensors(&refs, dir.join("model.safetensors")).unwrap();
    let model = T5EncoderModel::load(&dir, Device::Cpu, Kind::Float).unwrap();
    let ids = Tensor::from_slice(&[3i64, 4, 1]).view([1, 3]);
    assert_eq!(model.forward(&ids, None).unwrap().size(), [1, 3, 8]);
    let msg = model.forward(&Tensor::from_slice(&[3i64, 10]).view([1, 2]), None).unwrap_err().to_string();
    assert!(msg.contains("0..10"), "{msg}");
    let msg = model.forward(&ids, Some(&Tensor::ones([1, 4], (Kind::Int64, Device::Cpu)))).unwrap_err().to_string();
    assert!(msg.contains("attention_mask"), "{msg}");
    assert!(model.forward(&ids.to_kind(Kind::Float), None).is_err());
    assert!(T5EncoderModel::load(&dir, Device::Cpu, Kind::Int64).is_err());

    // A gated config does not fit this plain checkpoint: the gated keys are missing, wi unexpected.
    std::fs::write(
        dir.join("config.json"),
        r#"{"vocab_size": 10, "d_model": 8, "d_kv": 4, "d_ff": 16, "num_layers": 1, "num_heads": 2,
            "feed_forward_proj": "gated-gelu"}"#,
    )
    .unwrap();
    let msg = T5EncoderModel::load(&dir, Device::Cpu, Kind::Float).unwrap_err().to_string();
    assert!(msg.contains("missing keys: encoder.block.0.layer.1.DenseReluDense.wi_0.weight"), "{msg}");
    assert!(msg.contains("unexpected keys: encoder.block.0.layer.1.DenseReluDense.wi.weight"), "{msg}");
}

fn load_reference(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn as_i64s(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

/// Compares every prompt of `rows` through `tok`: ids, mask (and type ids when given) where the
/// prompt fits, the length error where it does not. Returns (fitting, too long).
fn check_prompts(what: &str, tok: &PromptTokenizer, rows: &[Value], max_length: usize) -> (usize, usize) {
    let (mut fits, mut too_long) = (0, 0);
    for row in rows {
        let prompt = row["prompt"].as_str().unwrap();
        let count = row["count"].as_u64().unwrap() as usize;
        assert_eq!(tok.token_count(prompt).unwrap(), count, "{what}: token count of {prompt:?}");
        if count > max_length {
            let msg = tok.encode(prompt, max_length).unwrap_err().to_string();
            let want = format!("prompt is {count} tokens; the model reads at most {max_length}");
            assert!(msg.contains(&want), "{what}: {prompt:?}: {msg}");
            too_long += 1;
            continue;
        }
        let e = tok.encode_batch(&[prompt], max_length).unwrap();
        let ids = Vec::<i64>::try_from(e.input_ids.view([-1])).unwrap();
        let mask = Vec::<i64>::try_from(e.attention_mask.view([-1])).unwrap();
        assert_eq!(ids, as_i64s(&row["ids"]), "{what}: ids of {prompt:?}");
        assert_eq!(mask, as_i64s(&row["mask"]), "{what}: mask of {prompt:?}");
        if !row["types"].is_null() {
            let types = Vec::<i64>::try_from(e.token_type_ids.view([-1])).unwrap();
            assert_eq!(types, as_i64s(&row["types"]), "{what}: token type ids of {prompt:?}");
        }
        let (ids2, mask2) = tok.encode(prompt, max_length).unwrap();
        assert_eq!(ids2.size(), [1, max_length as i64]);
        assert!(ids2.equal(&e.input_ids) && mask2.equal(&e.attention_mask));
        fits += 1;
    }
    println!("{what}: {fits} prompts identical to transformers (ids and mask), {too_long} too long rejected with their count");
    (fits, too_long)
}

#[test]
fn tokenizers_match_transformers() {
    let dir = common::scratch("t5-tokenizer");
    common::run_reference("t5_reference.py", &["tokenizer", dir.to_str().unwrap()]);
    let reference = load_reference(&dir.join("tokenizer_reference.json"));
    let max_length = reference["max_length"].as_u64().unwrap() as usize;
    if reference["protobuf_patched"].as_bool().unwrap() {
        println!("note: the venv has no protobuf; the reference decoded spiece.model by hand for transformers");
    }

    let t5 = PromptTokenizer::load(&dir.join("t5")).unwrap();
    assert_eq!((t5.pad_token(), t5.pad_id(), t5.padding_side()), ("<pad>", 0, PaddingSide::Right));
    let rows = reference["t5"].as_array().unwrap();
    let (fits, too_long) = check_prompts("T5 (sentencepiece unigram)", &t5, rows, max_length);
    assert!(fits >= 8 && too_long >= 2, "{fits} fitting, {too_long} too long");
    assert!(rows.iter().any(|r| r["count"].as_u64() == Some(max_length as u64)), "no prompt at exactly max_length");
    let spm_same = rows.iter().filter(|r| r["sentencepiece"] == r["untruncated"]).count();
    println!("  (sentencepiece itself gives the same ids + </s> for {spm_same} of {} prompts)", rows.len());

    // The json file itself is accepted too.
    let from_file = PromptTokenizer::load(&dir.join("t5/tokenizer.json")).unwrap();
    let first = rows[0]["prompt"].as_str().unwrap();
    assert_eq!(from_file.token_count(first).unwrap(), rows[0]["count"].as_u64().unwrap() as usize);

    // Batches pad each row independently.
    let batch = t5.encode_batch(&["a red ball", ""], max_length).unwrap();
    assert_eq!(batch.input_ids.size(), [2, max_length as i64]);
    assert_eq!(
        batch.attention_mask.sum(Kind::Int64).int64_value(&[]),
        (t5.token_count("a red ball").unwrap() + 1) as i64
    );

    for side in ["right", "left"] {
        let bert = PromptTokenizer::load(&dir.join(format!("bert_{side}"))).unwrap();
        assert_eq!(bert.pad_token(), "[PAD]");
        let want = if side == "left" { PaddingSide::Left } else { PaddingSide::Right };
        assert_eq!(bert.padding_side(), want);
        let rows = reference[format!("bert_{side}")].as_array().unwrap();
        check_prompts(&format!("BERT WordPiece, {side} padding"), &bert, rows, max_length);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn spiece_only_folder_says_how_to_write_tokenizer_json() {
    let dir = common::scratch("t5-spiece-only");
    std::fs::write(dir.join("spiece.model"), b"not read").unwrap();
    let msg = PromptTokenizer::load(&dir).unwrap_err().to_string();
    println!("{msg}");
    for part in [
        "spiece.model",
        "no tokenizer.json",
        ".venv/bin/python -c 'from transformers import T5TokenizerFast; T5TokenizerFast.from_pretrained(",
        ".save_pretrained(",
        "protobuf",
        dir.to_str().unwrap(),
    ] {
        assert!(msg.contains(part), "missing {part:?} in: {msg}");
    }
    let empty = common::scratch("t5-no-tokenizer");
    let msg = PromptTokenizer::load(&empty).unwrap_err().to_string();
    assert!(msg.contains("no tokenizer.json"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}
