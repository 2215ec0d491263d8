//! Evaluates the usage policy on the labelled prompt set and prints false-positive and
//! false-negative rates, overall, per category and per kind of prompt, then every misclassified
//! prompt with the scores that decided it.
//!
//! ```text
//! cargo run --release -p safety --example policy_eval [-- --policy FILE] [--prompts TSV]
//!                                                     [--encoder DIR] [--scores]
//! ```
//! Defaults: the built-in policy, `safety/policy/labelled_prompts.tsv`,
//! `weights/all-minilm-l6-v2` (from installers/setup). `--scores` prints every prompt's best
//! semantic similarity per category (for choosing thresholds).
//!
//! The TSV has three columns: kind (`benign`, `tricky`: expected allowed; `blocked`, `evasive`,
//! `paraphrase`: expected refused), expected (`allowed` or a category id) and the prompt.
//! Lines starting with `#` are comments.
//!
//! A false positive is an allowed prompt that is refused; a false negative is a prompt to refuse
//! that is allowed. A refused prompt filed under another category than the label counts as
//! caught, and is listed separately.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use safety::policy::{Policy, RefusalReason};

struct Row {
    kind: String,
    expected: String,
    prompt: String,
}

#[derive(Default)]
struct Tally {
    total: usize,
    wrong: usize,
}

impl Tally {
    fn rate(&self) -> String {
        if self.total == 0 {
            return "   -".into();
        }
        format!("{:5.1}% ({}/{})", 100.0 * self.wrong as f64 / self.total as f64, self.wrong, self.total)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policy_eval: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut policy_file: Option<PathBuf> = None;
    let mut prompts = root.join("safety/policy/labelled_prompts.tsv");
    let mut encoder = root.join("weights/all-minilm-l6-v2");
    let mut show_scores = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--policy" => policy_file = Some(args.next().ok_or("--policy needs a file")?.into()),
            "--prompts" => prompts = args.next().ok_or("--prompts needs a file")?.into(),
            "--encoder" => encoder = args.next().ok_or("--encoder needs a folder")?.into(),
            "--scores" => show_scores = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    let text = std::fs::read_to_string(&prompts).map_err(|e| format!("{}: {e}", prompts.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.splitn(3, '\t').collect();
        let [kind, expected, prompt] = cols[..] else {
            return Err(format!("{}:{}: expected 3 tab-separated columns", prompts.display(), n + 1).into());
        };
        rows.push(Row { kind: kind.into(), expected: expected.into(), prompt: prompt.into() });
    }

    let started = std::time::Instant::now();
    let policy = Policy::load(policy_file.as_deref(), &encoder)?;
    println!("policy: {} (semantic check: {}), loaded in {:.2?}", policy.source(), policy.has_semantic(), started.elapsed());
    let ids: Vec<String> = policy.categories().iter().map(|(id, _)| id.to_string()).collect();
    for r in &rows {
        if r.expected != "allowed" && !ids.contains(&r.expected) {
            return Err(format!("prompt {:?} is labelled with unknown category {:?}", r.prompt, r.expected).into());
        }
    }

    let mut overall_fp = Tally::default();
    let mut overall_fn = Tally::default();
    let mut by_kind: BTreeMap<&str, Tally> = BTreeMap::new();
    // per category: false negatives among its prompts; false positives it caused on allowed prompts
    let mut cat_fn: BTreeMap<&str, Tally> = ids.iter().map(|i| (i.as_str(), Tally::default())).collect();
    let mut cat_fp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut misclassified = Vec::new();
    let mut wrong_category = Vec::new();
    let mut words_only = 0usize;
    let check_started = std::time::Instant::now();
    for r in &rows {
        let verdict = policy.check(&r.prompt);
        if let Err(refusal) = &verdict {
            if let RefusalReason::CheckFailed(why) = &refusal.reason {
                return Err(format!("the check failed on {:?}: {why}", r.prompt).into());
            }
        }
        let refused = verdict.as_ref().err().map(|x| x.category_id.clone());
        let scores = policy.scores(&r.prompt)?;
        let fired: Vec<String> = scores
            .iter()
            .filter(|s| s.triggered())
            .map(|s| {
                let how = match (s.word_match, s.semantic_match) {
                    (true, true) => "words+semantic",
                    (true, false) => "words",
                    _ => "semantic",
                };
                format!("{} by {how}", s.id)
            })
            .collect();
        if scores.iter().any(|s| s.word_match) && !scores.iter().any(|s| s.semantic_match) {
            words_only += 1;
        }
        let best: Vec<String> = scores
            .iter()
            .filter_map(|s| s.similarity.map(|v| (v, s)))
            .filter(|(v, s)| *v > s.threshold - 0.15 || s.id == r.expected)
            .map(|(v, s)| format!("{}={v:.3}/{:.2} (benign {:.3})", s.id, s.threshold, s.benign.unwrap_or(0.0)))
            .collect();
        let should_allow = r.expected == "allowed";
        let kind = by_kind.entry(r.kind.as_str()).or_default();
        kind.total += 1;
        if should_allow {
            overall_fp.total += 1;
            if let Some(cat) = &refused {
                overall_fp.wrong += 1;
                kind.wrong += 1;
                *cat_fp.entry(ids.iter().find(|i| *i == cat).map(String::as_str).unwrap_or("?")).or_default() += 1;
                misclassified.push(format!("FP [{}] {:?}\n      refused as {cat}; fired: {}; {}", r.kind, r.prompt, fired.join(", "), best.join(", ")));
            }
        } else {
            overall_fn.total += 1;
            let t = cat_fn.get_mut(r.expected.as_str()).expect("checked above");
            t.total += 1;
            match &refused {
                None => {
                    overall_fn.wrong += 1;
                    kind.wrong += 1;
                    t.wrong += 1;
                    misclassified.push(format!("FN [{}] {:?}\n      expected {}; {}", r.kind, r.prompt, r.expected, best.join(", ")));
                }
                Some(cat) if *cat != r.expected => {
                    wrong_category.push(format!("[{}] {:?}: labelled {}, refused as {cat}", r.kind, r.prompt, r.expected));
                }
                Some(_) => {}
            }
        }
        if show_scores {
            println!("{:<10} {:<16} {:<16} {:?}\n           {}", r.kind, r.expected, refused.as_deref().unwrap_or("allowed"), r.prompt, best.join(", "));
        }
    }
    let per_prompt = check_started.elapsed() / (2 * rows.len().max(1)) as u32;

    println!("\n{} prompts ({} to allow, {} to refuse); check() takes about {per_prompt:.1?} per prompt", rows.len(), overall_fp.total, overall_fn.total);
    println!("false-positive rate (allowed prompts refused): {}", overall_fp.rate());
    println!("false-negative rate (prompts to refuse allowed): {}", overall_fn.rate());
    println!("\nper kind (error rate):");
    for (k, t) in &by_kind {
        println!("  {k:<11} {}", t.rate());
    }
    println!("\nper category: false negatives among its labelled prompts | false positives it caused on allowed prompts");
    for id in &ids {
        let fn_ = &cat_fn[id.as_str()];
        let fp = cat_fp.get(id.as_str()).copied().unwrap_or(0);
        let fp_rate = 100.0 * fp as f64 / overall_fp.total.max(1) as f64;
        println!("  {id:<16} FN {:<16} | FP {fp_rate:4.1}% ({fp}/{})", fn_.rate(), overall_fp.total);
    }
    println!("\nrefused by the word list with no semantic support: {words_only} prompts");
    println!("\nmisclassified ({}):", misclassified.len());
    for m in &misclassified {
        println!("  {m}");
    }
    println!("\nrefused under another category than labelled ({}):", wrong_category.len());
    for w in &wrong_category {
        println!("  {w}");
    }
    Ok(())
}
