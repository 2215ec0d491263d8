//! all-MiniLM-L6-v2 packed for a lent GPU (`train/device/pack`): the device takes 64 MiB of files
//! in all and the fp32 weights alone are 91 MB, 47 of them the word embeddings of 30 522 tokens,
//! of which toyworld's captions use a few hundred. This writes the weights in fp16, with every
//! word-embedding row that no caption uses set to NaN: those rows compress to nothing, and a
//! caption that did use one would come out NaN and be refused (`genvideo-train` checks its
//! caption states), never silently misread. It then measures what fp16 costs against the fp32
//! original on captions it did not collect from.
//! `cargo run --release -p train --example pack_text_encoder [source folder] [output folder]`
use std::collections::BTreeSet;
use std::path::PathBuf;

use models::pipeline_ltx::{BertTextEncoder, TextEncoder};
use models::tokenizer::PromptTokenizer;
use tch::{Device, Kind, Tensor};
use toyworld::{caption, CaptionStyle, Scene, Split};

const EMBEDDINGS: &str = "embeddings.word_embeddings.weight";
/// Scenes whose captions, in every style and split, decide which rows are kept.
const COLLECTED: u64 = 40_000;
/// Further scenes whose captions must need no other row: evidence that none is missing.
const CHECKED: u64 = 10_000;
const MAX_LENGTH: usize = 64;

fn captions(seeds: std::ops::Range<u64>) -> impl Iterator<Item = String> {
    seeds.flat_map(|seed| {
        let scenes = [
            Scene::sample_with_edges(seed, Split::Train, 0.12, 0.5),
            Scene::sample(seed, Split::Train, 0.12),
            Scene::sample(seed, Split::HeldOut, 0.0),
        ];
        let styles = [CaptionStyle::Train, CaptionStyle::TrainWide, CaptionStyle::Paraphrase];
        scenes.into_iter().flat_map(move |scene| styles.map(|style| caption(&scene, style, seed)))
    })
}

fn ids(tokenizer: &PromptTokenizer, text: &str) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    let (ids, mask) = tokenizer.encode(text, MAX_LENGTH)?;
    let n = mask.sum(Kind::Int64).int64_value(&[]);
    Ok(Vec::<i64>::try_from(ids.squeeze_dim(0).narrow(0, 0, n))?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let source = PathBuf::from(args.get(1).map_or("weights/all-minilm-l6-v2", String::as_str));
    let out = PathBuf::from(args.get(2).map_or("out/device-pack/all-minilm-l6-v2", String::as_str));
    let tokenizer = PromptTokenizer::load(&source)?;

    // Padding is embedded too (then masked): a NaN there would reach every state through the
    // attention's zero weights.
    let mut kept = BTreeSet::from([tokenizer.pad_id()]);
    for text in captions(0..COLLECTED).chain([String::new()]) {
        kept.extend(ids(&tokenizer, &text)?);
    }
    let mut unseen = BTreeSet::new();
    for text in captions(COLLECTED..COLLECTED + CHECKED) {
        unseen.extend(ids(&tokenizer, &text)?.into_iter().filter(|i| !kept.contains(i)));
    }
    if !unseen.is_empty() {
        return Err(format!("{} tokens appear only in the checking scenes' captions: collect from more scenes", unseen.len()).into());
    }
    println!("{} of the vocabulary's rows kept; {CHECKED} more scenes' captions need no other", kept.len());

    std::fs::create_dir_all(&out)?;
    let weights = Tensor::read_safetensors(source.join("model.safetensors"))?;
    let packed: Vec<(String, Tensor)> = weights
        .into_iter()
        .map(|(name, t)| {
            let mut t = t.to_kind(Kind::Half);
            if name == EMBEDDINGS {
                let drop: Vec<i64> = (0..t.size()[0]).filter(|i| !kept.contains(i)).collect();
                let _ = t.index_fill_(0, &Tensor::from_slice(&drop), f64::NAN);
            }
            (name, t)
        })
        .collect();
    Tensor::write_safetensors(&packed, out.join("model.safetensors"))?;
    for entry in std::fs::read_dir(&source)? {
        let path = entry?.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "model.safetensors") {
            std::fs::copy(&path, out.join(path.file_name().expect("a file has a name")))?;
        }
    }

    // What fp16 weights change in the token states the transformer reads, on captions of scenes
    // beyond both sets above.
    let full = BertTextEncoder::load(&source, Device::Cpu, Kind::Float)?;
    let small = BertTextEncoder::load(&out, Device::Cpu, Kind::Float)?;
    let (mut worst, mut sum, mut count, mut scale, mut texts) = (0f64, 0f64, 0i64, 0f64, 0);
    let start = COLLECTED + CHECKED;
    for text in captions(start..start + 40) {
        let (a, mask) = full.encode(&[&text], MAX_LENGTH)?;
        let (b, _) = small.encode(&[&text], MAX_LENGTH)?;
        let n = mask.sum(Kind::Int64).int64_value(&[]);
        let (a, b) = (a.narrow(1, 0, n), b.narrow(1, 0, n));
        if !bool::try_from(b.isfinite().all())? {
            return Err(format!("the packed encoder gave NaN states for {text:?}").into());
        }
        let d = (&a - &b).abs();
        worst = worst.max(d.max().double_value(&[]));
        sum += d.sum(Kind::Double).double_value(&[]);
        count += d.numel() as i64;
        scale += a.abs().sum(Kind::Double).double_value(&[]);
        texts += 1;
    }
    println!(
        "fp16 against fp32 token states, {texts} captions: largest difference {worst:.2e}, mean {:.2e} ({:.3} % of the mean magnitude)",
        sum / count as f64,
        100.0 * sum / scale
    );
    println!("wrote {}", out.display());
    Ok(())
}
