//! How much of a paraphrase's meaning all-MiniLM-L6-v2 itself keeps, apart from anything the
//! transformer learnt: each paraphrased caption (words training never uses) is matched by the
//! cosine of its mean-pooled sentence vector, the one the encoder was trained to make, to the
//! nearest of 3584 training-style captions (four per attribute combination), and the matched
//! caption's attributes are compared with the truth. Prints the share right per attribute, once
//! for each training vocabulary: how much closer a paraphrase comes to captions that name each
//! value in more ways.
//!
//! `cargo run --release -p train --example paraphrase_probe [weights/all-minilm-l6-v2]`
use models::bert::SentenceEncoder;
use tch::{Device, Tensor};
use toyworld::{caption, Background, CaptionStyle, Colour, Motion, Scene, Shape, Size};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("weights/all-minilm-l6-v2".into());
    let enc = SentenceEncoder::load(dir.as_ref(), Device::Cpu).unwrap();
    let pooled = |t: &str| -> Tensor { enc.encode(&[t]).unwrap().squeeze_dim(0) };
    for style in [CaptionStyle::Train, CaptionStyle::TrainWide] {
        let hits = probe(style, &pooled);
        let pct = |h: usize| 100.0 * h as f64 / PARAPHRASES as f64;
        println!(
            "{style:?}: nearest training caption by pooled MiniLM: shape {:.0} colour {:.0} motion {:.0} background {:.0} %",
            pct(hits[0]),
            pct(hits[1]),
            pct(hits[2]),
            pct(hits[3])
        );
    }
}

const PARAPHRASES: usize = 200;

fn probe(style: CaptionStyle, pooled: &dyn Fn(&str) -> Tensor) -> [usize; 4] {
    let mut refs = Vec::new();
    let mut keys = Vec::new();
    let mut i = 0u64;
    for s in Shape::ALL {
        for c in Colour::ALL {
            for m in Motion::ALL {
                for b in Background::ALL {
                    for k in 0..4 {
                        i += 1;
                        let scene = Scene::single(i, s, c, Size::Large, m, b);
                        refs.push(pooled(&caption(&scene, style, i * 7 + k)));
                        keys.push((s, c, m, b));
                    }
                }
            }
        }
    }
    let refs = Tensor::stack(&refs, 0);
    let mut hits = [0usize; 4];
    for j in 0..PARAPHRASES as u64 {
        let key = keys[(j as usize * 97) % keys.len()];
        let scene = Scene::single(10_000 + j, key.0, key.1, Size::Large, key.2, key.3);
        let text = caption(&scene, CaptionStyle::Paraphrase, j);
        let best = refs.mv(&pooled(&text)).argmax(0, false).int64_value(&[]) as usize;
        let got = keys[best];
        hits[0] += (got.0 == key.0) as usize;
        hits[1] += (got.1 == key.1) as usize;
        hits[2] += (got.2 == key.2) as usize;
        hits[3] += (got.3 == key.3) as usize;
        if j < 3 && style == CaptionStyle::Train {
            println!("{text:?} -> {got:?} (truth {key:?})");
        }
    }
    hits
}
