//! How much of a paraphrase's meaning all-MiniLM-L6-v2 itself keeps, apart from anything the
//! transformer learnt: each paraphrased caption (words training never uses) is matched by the
//! cosine of its mean-pooled sentence vector, the one the encoder was trained to make, to the
//! nearest of 3584 training-style captions (four per attribute combination), and the matched
//! caption's attributes are compared with the truth. Prints the share right per attribute, once
//! for each training vocabulary: how much closer a paraphrase comes to captions that name each
//! value in more ways.
//!
//! `cargo run --release -p train --example paraphrase_probe [weights/all-minilm-l6-v2] [--dump FILE [STYLE]]`
//!
//! Then each colour name alone ("sapphire") is matched the same way to the seven plain colour
//! words ("blue"): what the encoder knows of a colour word before any caption surrounds it.
//!
//! `--dump FILE` writes the training-style and paraphrased caption sets with their attributes as
//! JSON instead, for `text_encoder_probe.py`, which runs the same match and learnt probes on other
//! encoders' token states; STYLE (`train`, the default, or `train-wide`) picks the training
//! vocabulary.
use models::bert::SentenceEncoder;
use tch::{Device, Tensor};
use toyworld::{caption, colour_names, Background, CaptionStyle, Colour, Motion, Scene, Shape, Size};

type Key = (Shape, Colour, Motion, Background);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--dump") {
        let path = args.get(at + 1).expect("--dump needs a file");
        let style = match args.get(at + 2).map(String::as_str) {
            None | Some("train") => CaptionStyle::Train,
            Some("train-wide") => CaptionStyle::TrainWide,
            Some(other) => panic!("unknown caption style {other:?}"),
        };
        let sets = CaptionSets::new(style);
        let json = serde_json::json!({ "train": rows_json(&sets.refs), "paraphrase": rows_json(&sets.paraphrases) });
        std::fs::write(path, json.to_string()).unwrap();
        println!("wrote {} training-style and {} paraphrased captions to {path}", sets.refs.len(), PARAPHRASES);
        return;
    }
    let dir = args.first().cloned().unwrap_or("weights/all-minilm-l6-v2".into());
    let enc = SentenceEncoder::load(dir.as_ref(), Device::Cpu).unwrap();
    let pooled = |t: &str| -> Tensor { enc.encode(&[t]).unwrap().squeeze_dim(0) };
    for style in [CaptionStyle::Train, CaptionStyle::TrainWide] {
        let hits = CaptionSets::new(style).probe(style == CaptionStyle::Train, &pooled);
        let pct = |h: usize| 100.0 * h as f64 / PARAPHRASES as f64;
        println!(
            "{style:?}: nearest training caption by pooled MiniLM: shape {:.0} colour {:.0} motion {:.0} background {:.0} %",
            pct(hits[0]),
            pct(hits[1]),
            pct(hits[2]),
            pct(hits[3])
        );
    }
    let plain = Tensor::stack(&Colour::ALL.map(|c| pooled(c.name())), 0);
    for style in [CaptionStyle::TrainWide, CaptionStyle::Paraphrase] {
        let (mut right, mut all, mut wrong) = (0, 0, Vec::new());
        for colour in Colour::ALL {
            let names = colour_names(colour, style);
            let own = if style == CaptionStyle::TrainWide { colour_names(colour, CaptionStyle::Train) } else { vec![] };
            for name in names.into_iter().filter(|n| !own.contains(n)) {
                let got = Colour::ALL[plain.mv(&pooled(name)).argmax(0, false).int64_value(&[]) as usize];
                all += 1;
                if got == colour {
                    right += 1;
                } else {
                    wrong.push(format!("{name} -> {}", got.name()));
                }
            }
        }
        let which = if style == CaptionStyle::Paraphrase { "paraphrases'" } else { "wide vocabulary's added" };
        println!("{which} colour names nearest their plain colour word: {right} of {all} (wrong: {})", wrong.join(", "));
    }
}

const PARAPHRASES: usize = 200;

/// Four training-style captions per attribute combination and `PARAPHRASES` paraphrased ones,
/// each with the attributes its scene has.
struct CaptionSets {
    refs: Vec<(String, Key)>,
    paraphrases: Vec<(String, Key)>,
}

impl CaptionSets {
    fn new(style: CaptionStyle) -> Self {
        let mut refs = Vec::new();
        let mut i = 0u64;
        for s in Shape::ALL {
            for c in Colour::ALL {
                for m in Motion::ALL {
                    for b in Background::ALL {
                        for k in 0..4 {
                            i += 1;
                            let scene = Scene::single(i, s, c, Size::Large, m, b);
                            refs.push((caption(&scene, style, i * 7 + k), (s, c, m, b)));
                        }
                    }
                }
            }
        }
        let paraphrases = (0..PARAPHRASES as u64)
            .map(|j| {
                let key = refs[(j as usize * 97) % refs.len()].1;
                let scene = Scene::single(10_000 + j, key.0, key.1, Size::Large, key.2, key.3);
                (caption(&scene, CaptionStyle::Paraphrase, j), key)
            })
            .collect();
        CaptionSets { refs, paraphrases }
    }

    fn probe(&self, show: bool, pooled: &dyn Fn(&str) -> Tensor) -> [usize; 4] {
        let refs = Tensor::stack(&self.refs.iter().map(|(t, _)| pooled(t)).collect::<Vec<_>>(), 0);
        let mut hits = [0usize; 4];
        for (j, (text, key)) in self.paraphrases.iter().enumerate() {
            let best = refs.mv(&pooled(text)).argmax(0, false).int64_value(&[]) as usize;
            let got = self.refs[best].1;
            hits[0] += (got.0 == key.0) as usize;
            hits[1] += (got.1 == key.1) as usize;
            hits[2] += (got.2 == key.2) as usize;
            hits[3] += (got.3 == key.3) as usize;
            if j < 3 && show {
                println!("{text:?} -> {got:?} (truth {key:?})");
            }
        }
        hits
    }
}

fn rows_json(set: &[(String, Key)]) -> serde_json::Value {
    let rows = set.iter().map(|(t, (s, c, m, b))| {
        serde_json::json!({ "caption": t, "shape": format!("{s:?}"), "colour": format!("{c:?}"),
                            "motion": format!("{m:?}"), "background": format!("{b:?}") })
    });
    serde_json::Value::Array(rows.collect())
}
