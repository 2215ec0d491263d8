//! Parity of models::bert against transformers' BertModel and fast tokenizer on the real
//! all-MiniLM-L6-v2 weights (weights/all-minilm-l6-v2, from installers/setup): token ids and
//! masks exactly, last_hidden_state and the mean-pooled, normalised sentence embeddings to a
//! relative error of 1e-4 in fp32. Missing weights or venv fail the test.

mod common;

use std::path::PathBuf;

use models::bert::{BertModel, SentenceEncoder};
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

/// Ordinary prompts of several lengths (so the batch pads), punctuation, accents and case the
/// BERT normaliser folds, a CJK character it splits, an empty string, and one text long enough
/// to be truncated at max_seq_length.
fn sentences() -> Vec<String> {
    let mut s: Vec<String> = [
        "A cat sleeping on a sunny windowsill.",
        "Slow dolly shot of a rainy Tokyo street at night, neon reflections, 35mm film grain",
        "Extend the clip: the surfer rides the wave and falls.",
        "Café au lait, naïve FAÇADE — déjà vu!",
        "kill the lights",
        "",
        "東京 timelapse, 4K, HDR",
        "Replace the missing frames between the two shots of the bride walking down the aisle.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    s.push("a very long prompt about a drone flying over mountains and rivers ".repeat(30));
    s
}

fn weights_dir() -> PathBuf {
    let dir = common::repo_root().join("weights/all-minilm-l6-v2");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(dir.join(f).is_file(), "{} is missing: run installers/setup", dir.join(f).display());
    }
    dir
}

#[test]
fn minilm_matches_transformers() {
    let dir = weights_dir();
    let sentences = sentences();
    let scratch = common::scratch("bert");
    let input = scratch.join("sentences.json");
    std::fs::write(&input, serde_json::to_string(&sentences).unwrap()).unwrap();
    let out = scratch.join("reference.safetensors");

    let encoder = SentenceEncoder::load(&dir, Device::Cpu).expect("load all-MiniLM-L6-v2");
    assert_eq!(encoder.max_seq_length(), 256, "sentence_bert_config.json says 256");
    assert_eq!(encoder.dim(), 384);
    let max_len = encoder.max_seq_length().to_string();
    common::run_reference(
        "bert_reference.py",
        &[dir.to_str().unwrap(), input.to_str().unwrap(), out.to_str().unwrap(), &max_len],
    );
    let reference = common::read_tensors(&out);

    // Tokenizer: identical ids and masks (padding to the longest, truncation at 256).
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let (ids, mask) = encoder.tokenize(&texts).unwrap();
    let ref_ids = &reference["input_ids"];
    let ref_mask = &reference["attention_mask"];
    assert_eq!(ids.size(), ref_ids.size(), "token id shapes differ");
    assert_eq!(ids.size()[1], 256, "the long sentence is truncated at max_seq_length");
    for (i, s) in sentences.iter().enumerate() {
        let ours = Vec::<i64>::try_from(ids.get(i as i64)).unwrap();
        let theirs = Vec::<i64>::try_from(ref_ids.get(i as i64)).unwrap();
        assert_eq!(ours, theirs, "token ids differ for {s:?}");
    }
    assert!(mask.equal(ref_mask), "attention masks differ");
    println!("tokenizer: {} sentences, ids and masks identical ({:?})", sentences.len(), ids.size());

    // Encoder on the reference's own inputs (token types included), then the full path.
    let hidden = encoder.model().forward(ref_ids, ref_mask, Some(&reference["token_type_ids"])).unwrap();
    common::assert_close("last_hidden_state", &hidden, &reference["last_hidden_state"], TOLERANCE);
    // Padding positions are computed but meaningless; compare the real tokens on their own too.
    let m = ref_mask.unsqueeze(-1).to_kind(Kind::Float);
    common::assert_close(
        "last_hidden_state (real tokens)",
        &(&hidden * &m),
        &(&reference["last_hidden_state"] * &m),
        TOLERANCE,
    );
    let emb = encoder.encode(&texts).unwrap();
    common::assert_close("sentence embeddings", &emb, &reference["embeddings"], TOLERANCE);
    for i in 0..sentences.len() as i64 {
        common::assert_close(&format!("embedding {i}"), &emb.get(i), &reference["embeddings"].get(i), TOLERANCE);
    }
    let cos = (&emb * &reference["embeddings"]).sum_dim_intlist(1, false, Kind::Double);
    println!("min cosine(ours, reference) = {:.8}", cos.min().double_value(&[]));

    // Batching must not change an embedding: one sentence alone equals its row in the batch.
    let alone = encoder.encode(&[texts[1]]).unwrap();
    common::assert_close("unpadded vs padded", &alone.get(0), &emb.get(1), TOLERANCE);
    assert_eq!(encoder.encode(&[]).unwrap().size(), vec![0, 384]);
}

#[test]
fn half_precision_load_and_missing_folder() {
    let dir = weights_dir();
    let (model, _vs) = BertModel::load(&dir, Device::Cpu, Kind::BFloat16).unwrap();
    let ids = Tensor::from_slice(&[101i64, 7592, 2088, 102]).view([1, 4]);
    let mask = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
    let h = model.forward(&ids, &mask, None).unwrap();
    assert_eq!(h.kind(), Kind::BFloat16);
    assert_eq!(h.size(), vec![1, 4, 384]);
    let err = SentenceEncoder::load(&common::scratch("bert-empty"), Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
}
