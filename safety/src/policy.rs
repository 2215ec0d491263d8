//! The usage policy: every prompt is checked before any generation (Generate, Extend,
//! generative Infill), and a prompt the policy refuses never reaches a model.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use safety::policy::Policy;
//! // None: the built-in default (safety/policy/default.json, embedded in the binary).
//! let policy = Policy::load(None, "weights/all-minilm-l6-v2".as_ref())?;
//! match policy.check("a slow pan across a misty harbour at dawn") {
//!     Ok(()) => { /* generate */ }
//!     Err(refusal) => eprintln!("{refusal}"), // names the category, never the matched word
//! }
//! # Ok(()) }
//! ```
//!
//! # Two checks
//! 1. **Word list.** Each category lists terms (words and phrases) and optional *combinations*
//!    (several groups of terms that must all occur in the prompt, e.g. a word for a minor and a
//!    sexual word). Matching is whole-word on a normalised prompt (below), so `"skill"` never
//!    matches `"kill"` and `"Scunthorpe"` is just a town. Phrases from the allow-list (`"kill the
//!    lights"`, `"shoot a film"`) are masked first: a term that only occurs inside an allowed
//!    phrase does not count.
//! 2. **Semantic.** The prompt, and each of its sentences, is embedded with all-MiniLM-L6-v2
//!    ([`models::bert::SentenceEncoder`]) and compared (cosine) with the embeddings of each
//!    category's natural-language descriptions, computed once at load. A piece triggers a
//!    category when its best similarity reaches the category's threshold *and* beats its best
//!    similarity to the policy's benign descriptions (news, documentaries, cooking, surgery on a
//!    medical show...) by the policy's margin. This catches paraphrases that use no listed word.
//!
//! The first category (in file order) that either check triggers is refused.
//!
//! # Normalisation against trivial evasion
//! Before matching, the prompt is: NFKC-normalised (full-width and mathematical letters, circled
//! letters, ligatures); stripped of default-ignorable characters (zero-width spaces and joiners,
//! soft hyphens, bidi controls, variation selectors); case-folded (`caseless`); mapped through the
//! Unicode confusables skeleton (UTS #39, `unicode-security`) for non-ASCII letters, so Cyrillic
//! and Greek look-alikes become Latin letters; stripped of combining marks (accents, "zalgo").
//! Matching then tolerates: leetspeak (`0→o 1→i/l 3→e 4→a 5→s 7→t 8→b 9→g @→a $→s`, and `! |`
//! for i/l, `+` for t inside a word); letters repeated for emphasis (`kiiiill` matches `kill`,
//! but `ten` does not match `teen`); separators inside a word (`k.i.l.l`, `k-i-l-l`, `k_i_l_l`)
//! and letters spaced out (`k i l l`, found even inside a longer run of single letters); and a
//! multi-word term written as one word (`selfharm` for `self harm`). The semantic check sees the
//! same de-obfuscated text.
//!
//! # The policy file (JSON)
//! ```json
//! {
//!   "version": 1,
//!   "description": "free text",
//!   "allow": ["kill the lights", "shoot a film", "bloody mary"],
//!   "semantic": {
//!     "enabled": true,
//!     "benign": ["a war documentary with archive footage", "a chef chopping vegetables"],
//!     "benign_margin": 0.02
//!   },
//!   "categories": [
//!     {
//!       "id": "graphic_violence",
//!       "name": "graphic violence",
//!       "terms": ["gore", "decapitat*", "severed head"],
//!       "combinations": [[["stab", "stabbing"], ["child", "baby"]]],
//!       "descriptions": ["a person being brutally murdered, blood and gore everywhere"],
//!       "threshold": 0.55
//!     }
//!   ]
//! }
//! ```
//! - `version`: must be 1.
//! - `allow`: benign phrases whose words never count as a term match.
//! - `semantic` (optional; absent means word lists only): `enabled` (default true), `benign`
//!   descriptions of acceptable content that shares vocabulary with a category, `benign_margin`
//!   (default 0.0, in cosine units).
//! - `categories[]`: `id` (unique, `[a-z0-9_]`), `name` (shown to the user in a refusal),
//!   `terms` (words or phrases; a trailing `*` makes the last word a prefix of at least 3
//!   letters: `decapitat*` matches `decapitated`), `combinations` (each a list of at least two
//!   groups of terms; triggers when every group matches somewhere in the prompt), `descriptions`
//!   (natural-language sentences for the semantic check), `threshold` (cosine in (0, 1];
//!   required when `descriptions` is not empty). Unknown keys are errors, so a typo cannot
//!   silently disable a check. A category needs terms, combinations or descriptions.
//!
//! A broken file is a [`PolicyError`] naming the file and the field (`categories[2].threshold`).
//!
//! # Refusals
//! [`Refusal`]'s `Display` names the category and the policy file, never a term or which one
//! matched, so the word lists cannot be probed through the host's messages.
//!
//! Measured on `safety/policy/labelled_prompts.tsv`: `cargo run --release -p safety --example
//! policy_eval`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use models::bert::SentenceEncoder;
use serde::Deserialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The built-in policy, used when no policy file is given.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../policy/default.json");

/// How the built-in policy is named in messages.
pub const DEFAULT_POLICY_SOURCE: &str = "safety/policy/default.json (built in)";

/// The only policy file version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// A prompt is embedded whole and sentence by sentence; a prompt with more sentences than this
/// has the rest embedded as one tail piece (the whole prompt is always embedded too).
const MAX_PIECES: usize = 16;

/// Shortest spaced-out run, and shortest term, searched for inside a run of single letters.
const MIN_RUN: usize = 3;
const MIN_RUN_TERM: usize = 4;

// ------------------------------------------------------------------------------------------
// Errors and refusals
// ------------------------------------------------------------------------------------------

/// A policy that cannot be used: unreadable or invalid file, or no sentence encoder.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or does not have the policy's shape; `field` is the path of
    /// the offending value (`categories[2].threshold`), empty for the document itself.
    #[error("policy file {source_name}: {}: {message}", if field.is_empty() { "document" } else { field.as_str() })]
    Invalid { source_name: String, field: String, message: String },
    /// The semantic check needs the sentence encoder that installers/setup provides.
    #[error("usage policy: cannot load the sentence encoder from {} (run installers/setup): {source}", dir.display())]
    Encoder {
        dir: PathBuf,
        #[source]
        source: models::ModelError,
    },
    #[error("usage policy: the semantic check failed: {0}")]
    Semantic(#[source] models::ModelError),
}

/// Why a prompt was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// The prompt falls under this category of the policy.
    Category,
    /// The check itself could not run (the encoder failed); the prompt is refused rather than
    /// let through unchecked. Carries the error message.
    CheckFailed(String),
}

/// A refused prompt. Its `Display` is the message for the host: it names the category and the
/// policy file, never the term that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The category's user-facing name (`"graphic violence"`).
    pub category: String,
    /// The category's id in the policy file (`"graphic_violence"`).
    pub category_id: String,
    /// Where the policy came from: a file path, or [`DEFAULT_POLICY_SOURCE`].
    pub policy: String,
    pub reason: RefusalReason,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            RefusalReason::Category => write!(
                f,
                "This prompt was refused by the usage policy (category: {}). Edit the prompt, or ask your \
                 administrator about the policy file {}.",
                self.category, self.policy
            ),
            RefusalReason::CheckFailed(why) => write!(
                f,
                "This prompt could not be checked against the usage policy ({why}), so nothing was generated. \
                 Ask your administrator about the policy file {}.",
                self.policy
            ),
        }
    }
}

impl std::error::Error for Refusal {}

// ------------------------------------------------------------------------------------------
// File format
// ------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    semantic: Option<SemanticFile>,
    categories: Vec<CategoryFile>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SemanticFile {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    benign: Vec<String>,
    #[serde(default)]
    benign_margin: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    id: String,
    name: String,
    #[serde(default)]
    terms: Vec<String>,
    #[serde(default)]
    combinations: Vec<Vec<Vec<String>>>,
    #[serde(default)]
    descriptions: Vec<String>,
    #[serde(default)]
    threshold: Option<f32>,
}

// ------------------------------------------------------------------------------------------
// Normalisation
// ------------------------------------------------------------------------------------------

/// Default_Ignorable_Code_Point (Unicode DerivedCoreProperties): invisible characters that can
/// be slipped inside a word without changing how it looks.
fn is_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

fn strip_marks(s: &str) -> String {
    s.nfd().filter(|&c| !is_combining_mark(c)).collect()
}

fn ascii_alnum(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// One non-ASCII character, case-folded and mapped to the Latin letters it imitates where it is
/// a confusable of them (Cyrillic `а`, Greek `Κ`, `ı`, `¡`, `ø`...), accents removed.
fn fold_char(c: char, out: &mut String) {
    let s = c.to_string();
    let folded = caseless::default_case_fold_str(&s);
    // Lower case first (Greek capital iota imitates `l` but means `i`), then the original (the
    // lower-case Cyrillic `к` only imitates the small-capital kra, its capital imitates `K`).
    for candidate in [&folded, &s] {
        let skeleton = strip_marks(&unicode_security::skeleton(candidate).collect::<String>());
        let skeleton = skeleton.replace('ĸ', "k");
        if ascii_alnum(&skeleton) {
            out.push_str(&skeleton.to_ascii_lowercase());
            return;
        }
    }
    let plain = strip_marks(&folded).replace('ĸ', "k");
    out.push_str(&plain);
}

/// NFKC, ignorable characters removed, case-folded, confusables mapped to Latin, combining marks
/// removed. Punctuation, digits and leetspeak symbols are kept (matching interprets them).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        if is_ignorable(c) || is_combining_mark(c) {
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            fold_char(c, &mut out);
        }
    }
    out
}

/// Symbols that stand for letters inside a word.
fn leet(c: char) -> &'static [char] {
    match c {
        '0' => &['o'],
        '1' => &['i', 'l'],
        '3' => &['e'],
        '4' => &['a'],
        '5' => &['s'],
        '7' => &['t'],
        '8' => &['b'],
        '9' => &['g'],
        '@' => &['a'],
        '$' => &['s'],
        '!' => &['i'],
        '|' => &['l', 'i'],
        '+' => &['t'],
        _ => &[],
    }
}

fn is_leet_symbol(c: char) -> bool {
    matches!(c, '@' | '$' | '!' | '|' | '+')
}

/// A character that can be part of a word: letters and digits of any script, and the leetspeak
/// symbols.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_leet_symbol(c)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    chars: Vec<char>,
    /// Joined from letters written one by one (`k i l l`): terms may match inside it.
    run: bool,
}

/// Trims symbols that are punctuation at a word's edge (`kill!`) but letters inside (`k!ll`).
fn trim_edges(word: &str) -> &str {
    word.trim_matches(|c| matches!(c, '!' | '|' | '+'))
}

/// Joins runs of at least [`MIN_RUN`] one-character tokens into one token (`k i l l`).
fn join_runs(words: Vec<Vec<char>>) -> Vec<Token> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let mut j = i;
        while j < words.len() && words[j].len() == 1 {
            j += 1;
        }
        if j - i >= MIN_RUN {
            out.push(Token { chars: words[i..j].iter().flatten().copied().collect(), run: true });
            i = j;
        } else if j > i {
            out.extend(words[i..j].iter().map(|w| Token { chars: w.clone(), run: false }));
            i = j;
        } else {
            out.push(Token { chars: words[i].clone(), run: false });
            i += 1;
        }
    }
    out
}

/// Two readings of a normalised text, both sequences of words:
/// split at every character that is not a word character (`self-harm` → `self`, `harm`), and
/// split at white space only with the punctuation inside a word dropped (`k.i.l.l` → `kill`).
fn views(normalized: &str) -> [Vec<Token>; 2] {
    let split: Vec<Vec<char>> = normalized
        .split(|c: char| !is_word_char(c))
        .map(trim_edges)
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().collect())
        .collect();
    let joined: Vec<Vec<char>> = normalized
        .split(char::is_whitespace)
        .map(|w| w.chars().filter(|&c| is_word_char(c)).collect::<String>())
        .map(|w| trim_edges(&w).to_owned())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().collect())
        .collect();
    [join_runs(split), join_runs(joined)]
}

/// The prompt as the semantic check sees it: normalised, leetspeak read as letters, letters
/// repeated three or more times collapsed, spaced-out letters joined, split into sentences.
fn semantic_pieces(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut sentences = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = normalized.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_is_space = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let ends = matches!(c, '\n' | ';') || (matches!(c, '.' | '!' | '?') && next_is_space);
        if ends {
            sentences.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    sentences.push(current);
    let clean: Vec<String> = sentences.iter().map(|s| clean_sentence(s)).filter(|s| !s.is_empty()).collect();
    let mut pieces = Vec::new();
    if clean.is_empty() {
        return pieces;
    }
    pieces.push(clean.join(". "));
    if clean.len() > 1 {
        if clean.len() <= MAX_PIECES {
            pieces.extend(clean.iter().cloned());
        } else {
            pieces.extend(clean[..MAX_PIECES - 1].iter().cloned());
            pieces.push(clean[MAX_PIECES - 1..].join(". "));
        }
    }
    pieces
}

fn clean_sentence(sentence: &str) -> String {
    let words: Vec<Vec<char>> = sentence
        .split(|c: char| !is_word_char(c))
        .map(trim_edges)
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().collect())
        .collect();
    let tokens = join_runs(words);
    let mut out = String::new();
    for t in tokens {
        let has_letter = t.chars.iter().any(|c| c.is_alphabetic());
        let mut word = String::new();
        let mut last: Option<char> = None;
        let mut repeat = 0;
        for &c in &t.chars {
            let c = if has_letter { leet(c).first().copied().unwrap_or(c) } else { c };
            if Some(c) == last {
                repeat += 1;
            } else {
                repeat = 1;
                last = Some(c);
            }
            if repeat <= 2 {
                word.push(c);
            } else if repeat == 3 {
                // three or more of a letter: emphasis, keep one
                word.pop();
            }
        }
        if !word.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&word);
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Term matching
// ------------------------------------------------------------------------------------------

/// One word of a term as runs of equal letters (`kill` → k×1 i×1 l×2).
#[derive(Debug, Clone)]
struct PatternWord {
    runs: Vec<(char, usize)>,
    /// Trailing `*`: the text word may continue.
    prefix: bool,
}

impl PatternWord {
    fn new(word: &[char], prefix: bool) -> Self {
        let mut runs: Vec<(char, usize)> = Vec::new();
        for &c in word {
            match runs.last_mut() {
                Some((last, n)) if *last == c => *n += 1,
                _ => runs.push((c, 1)),
            }
        }
        Self { runs, prefix }
    }

    fn len(&self) -> usize {
        self.runs.iter().map(|r| r.1).sum()
    }
}

/// A term: one or more words, plus the same words run together (`self harm` → `selfharm`).
#[derive(Debug, Clone)]
struct Term {
    words: Vec<PatternWord>,
    joined: Option<PatternWord>,
}

impl Term {
    /// `None` when the term normalises to nothing.
    fn parse(term: &str) -> Option<Self> {
        let trimmed = term.trim();
        let (body, prefix) = match trimmed.strip_suffix('*') {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        let normalized = normalize(body);
        let words: Vec<Vec<char>> = normalized
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.chars().collect())
            .collect();
        let n = words.len();
        if n == 0 {
            return None;
        }
        let joined = (n > 1).then(|| PatternWord::new(&words.concat(), prefix));
        let words = words.iter().enumerate().map(|(i, w)| PatternWord::new(w, prefix && i + 1 == n)).collect();
        Some(Self { words, joined })
    }
}

fn char_matches(pattern: char, text: char) -> bool {
    pattern == text || leet(text).contains(&pattern)
}

/// Does `text[start..]` match `word` (each run of the pattern matched by at least as many text
/// characters, leetspeak allowed)? With `open_end`, text may continue after the match.
fn match_word(word: &PatternWord, text: &[char], open_end: bool) -> bool {
    // failed[r * (len + 1) + t]: run r cannot match from text position t.
    let len = text.len();
    match (word.runs.first(), text.first()) {
        (Some(&(c, _)), Some(&t)) if char_matches(c, t) => {}
        _ => return false,
    }
    let mut failed = vec![false; (word.runs.len() + 1) * (len + 1)];
    fn go(word: &PatternWord, r: usize, text: &[char], t: usize, open_end: bool, failed: &mut [bool]) -> bool {
        let len = text.len();
        if r == word.runs.len() {
            return t == len || open_end;
        }
        let key = r * (len + 1) + t;
        if failed[key] {
            return false;
        }
        let (c, need) = word.runs[r];
        let mut have = 0;
        while t + have < len && char_matches(c, text[t + have]) {
            have += 1;
        }
        if have >= need {
            for take in (need..=have).rev() {
                if go(word, r + 1, text, t + take, open_end, failed) {
                    return true;
                }
            }
        }
        failed[key] = true;
        false
    }
    go(word, 0, text, 0, open_end, &mut failed)
}

/// Is the term anywhere in `tokens`, avoiding tokens in `masked`?
fn find_term(term: &Term, tokens: &[Token], masked: &[bool]) -> bool {
    let n = term.words.len();
    for start in 0..tokens.len() {
        // as consecutive words
        if start + n <= tokens.len()
            && (start..start + n).all(|i| !masked[i])
            && term.words.iter().enumerate().all(|(j, w)| match_word(w, &tokens[start + j].chars, w.prefix))
        {
            return true;
        }
        if masked[start] {
            continue;
        }
        let token = &tokens[start];
        // run together as one word
        if let Some(joined) = &term.joined {
            if match_word(joined, &token.chars, joined.prefix) {
                return true;
            }
        }
        // inside a run of spaced-out letters
        if token.run {
            let whole = term.joined.as_ref().unwrap_or(&term.words[0]);
            if whole.len() >= MIN_RUN_TERM && (0..token.chars.len()).any(|s| match_word(whole, &token.chars[s..], true)) {
                return true;
            }
        }
    }
    false
}

/// Marks the tokens covered by an allowed phrase.
fn mask_allowed(allow: &[Term], tokens: &[Token]) -> Vec<bool> {
    let mut masked = vec![false; tokens.len()];
    for term in allow {
        let n = term.words.len();
        for start in 0..tokens.len() {
            if start + n <= tokens.len()
                && term.words.iter().enumerate().all(|(j, w)| match_word(w, &tokens[start + j].chars, w.prefix))
            {
                masked[start..start + n].iter_mut().for_each(|m| *m = true);
            }
            if let Some(joined) = &term.joined {
                if match_word(joined, &tokens[start].chars, joined.prefix) {
                    masked[start] = true;
                }
            }
        }
    }
    masked
}

// ------------------------------------------------------------------------------------------
// The policy
// ------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Category {
    id: String,
    name: String,
    terms: Vec<Term>,
    combinations: Vec<Vec<Vec<Term>>>,
    threshold: f32,
    /// Indices into `Semantic::descriptions`.
    descriptions: std::ops::Range<usize>,
}

struct Semantic {
    encoder: Mutex<SentenceEncoder>,
    /// Unit-length description embeddings, all categories in file order.
    descriptions: Vec<Vec<f32>>,
    benign: Vec<Vec<f32>>,
    benign_margin: f32,
}

/// A loaded usage policy. `Send + Sync`: hold one in a `OnceLock` and check from any thread
/// (the semantic check serialises on its encoder).
pub struct Policy {
    source: String,
    allow: Vec<Term>,
    categories: Vec<Category>,
    semantic: Option<Semantic>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("source", &self.source)
            .field("categories", &self.categories.iter().map(|c| &c.id).collect::<Vec<_>>())
            .field("semantic", &self.semantic.is_some())
            .finish()
    }
}

/// Per-category result of [`Policy::scores`], for evaluation and tuning.
#[derive(Debug, Clone)]
pub struct CategoryScore {
    pub id: String,
    pub name: String,
    /// Whether a term or combination of the word list matched (which one is not reported).
    pub word_match: bool,
    /// Best cosine similarity of a prompt piece to one of the category's descriptions
    /// (None without a semantic check or descriptions).
    pub similarity: Option<f32>,
    /// The best benign similarity of the same piece.
    pub benign: Option<f32>,
    pub threshold: f32,
    /// Whether the semantic check triggers this category.
    pub semantic_match: bool,
}

impl CategoryScore {
    pub fn triggered(&self) -> bool {
        self.word_match || self.semantic_match
    }
}

fn invalid(source: &str, field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid { source_name: source.to_owned(), field: field.into(), message: message.into() }
}

impl Policy {
    /// Loads the policy in `policy_file` (None: the built-in default) and the sentence encoder
    /// in `encoder_dir` (`weights/all-minilm-l6-v2`), and embeds the category descriptions.
    pub fn load(policy_file: Option<&Path>, encoder_dir: &Path) -> Result<Self, PolicyError> {
        match policy_file {
            None => Self::from_json(DEFAULT_POLICY_JSON, DEFAULT_POLICY_SOURCE, Some(encoder_dir)),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| PolicyError::Io { path: path.to_owned(), source })?;
                Self::from_json(&text, &path.display().to_string(), Some(encoder_dir))
            }
        }
    }

    /// A policy from JSON text; `source` names it in messages. With `encoder_dir` None the
    /// semantic check is off and only the word lists apply (tests, or a deliberately word-only
    /// deployment).
    pub fn from_json(json: &str, source: &str, encoder_dir: Option<&Path>) -> Result<Self, PolicyError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let file: PolicyFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            invalid(source, field, e.into_inner().to_string())
        })?;
        if file.version != POLICY_VERSION {
            return Err(invalid(source, "version", format!("must be {POLICY_VERSION}, found {}", file.version)));
        }
        let allow = parse_terms(&file.allow, source, "allow")?;
        if file.categories.is_empty() {
            return Err(invalid(source, "categories", "no categories: a policy must refuse something"));
        }
        let semantic_on = file.semantic.as_ref().is_some_and(|s| s.enabled);
        let mut categories = Vec::with_capacity(file.categories.len());
        let mut description_texts: Vec<&str> = Vec::new();
        for (i, c) in file.categories.iter().enumerate() {
            let at = |f: &str| format!("categories[{i}].{f}");
            if c.id.is_empty() || !c.id.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_') {
                return Err(invalid(source, at("id"), format!("{:?} must be non-empty [a-z0-9_]", c.id)));
            }
            if file.categories[..i].iter().any(|o| o.id == c.id) {
                return Err(invalid(source, at("id"), format!("{:?} is used by another category", c.id)));
            }
            if c.name.trim().is_empty() {
                return Err(invalid(source, at("name"), "must not be empty (it is shown to users)"));
            }
            let terms = parse_terms(&c.terms, source, &at("terms"))?;
            let mut combinations = Vec::with_capacity(c.combinations.len());
            for (k, combo) in c.combinations.iter().enumerate() {
                if combo.len() < 2 {
                    return Err(invalid(source, at(&format!("combinations[{k}]")), "needs at least two groups"));
                }
                let mut groups = Vec::with_capacity(combo.len());
                for (g, group) in combo.iter().enumerate() {
                    let field = at(&format!("combinations[{k}][{g}]"));
                    if group.is_empty() {
                        return Err(invalid(source, field, "empty group"));
                    }
                    groups.push(parse_terms(group, source, &field)?);
                }
                combinations.push(groups);
            }
            if let Some((d, _)) = c.descriptions.iter().enumerate().find(|(_, d)| d.trim().is_empty()) {
                return Err(invalid(source, at(&format!("descriptions[{d}]")), "empty description"));
            }
            let threshold = match (c.threshold, c.descriptions.is_empty()) {
                (Some(t), _) if !(t > 0.0 && t <= 1.0) => {
                    return Err(invalid(source, at("threshold"), format!("{t} must be in (0, 1]")))
                }
                (Some(t), _) => t,
                (None, false) => {
                    return Err(invalid(source, at("threshold"), "required when the category has descriptions"))
                }
                (None, true) => 1.0,
            };
            if terms.is_empty() && combinations.is_empty() && c.descriptions.is_empty() {
                return Err(invalid(source, format!("categories[{i}]"), "needs terms, combinations or descriptions"));
            }
            let start = description_texts.len();
            if semantic_on {
                description_texts.extend(c.descriptions.iter().map(String::as_str));
            }
            categories.push(Category {
                id: c.id.clone(),
                name: c.name.trim().to_owned(),
                terms,
                combinations,
                threshold,
                descriptions: start..description_texts.len(),
            });
        }
        let semantic = match (&file.semantic, encoder_dir) {
            (Some(s), Some(dir)) if s.enabled => {
                if !(-1.0..=1.0).contains(&s.benign_margin) {
                    return Err(invalid(source, "semantic.benign_margin", "must be in [-1, 1]"));
                }
                if let Some((b, _)) = s.benign.iter().enumerate().find(|(_, b)| b.trim().is_empty()) {
                    return Err(invalid(source, format!("semantic.benign[{b}]"), "empty description"));
                }
                let encoder = SentenceEncoder::load(dir, tch::Device::Cpu)
                    .map_err(|source| PolicyError::Encoder { dir: dir.to_owned(), source })?;
                let descriptions = embed(&encoder, &description_texts).map_err(PolicyError::Semantic)?;
                let benign_texts: Vec<&str> = s.benign.iter().map(String::as_str).collect();
                let benign = embed(&encoder, &benign_texts).map_err(PolicyError::Semantic)?;
                Some(Semantic { encoder: Mutex::new(encoder), descriptions, benign, benign_margin: s.benign_margin })
            }
            _ => None,
        };
        Ok(Self { source: source.to_owned(), allow, categories, semantic })
    }

    /// Where the policy came from (a path, or [`DEFAULT_POLICY_SOURCE`]).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `(id, user-facing name)` of every category, in file order.
    pub fn categories(&self) -> Vec<(&str, &str)> {
        self.categories.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect()
    }

    /// Whether the semantic check is on.
    pub fn has_semantic(&self) -> bool {
        self.semantic.is_some()
    }

    /// `Ok(())` when the prompt may be generated; otherwise the first category it falls under.
    pub fn check(&self, prompt: &str) -> Result<(), Refusal> {
        let refuse = |c: &Category| Refusal {
            category: c.name.clone(),
            category_id: c.id.clone(),
            policy: self.source.clone(),
            reason: RefusalReason::Category,
        };
        let words = self.word_matches(prompt);
        if let Some(i) = words.iter().position(|&m| m) {
            return Err(refuse(&self.categories[i]));
        }
        match self.semantic_scores(prompt) {
            Ok(scores) => {
                if let Some(i) = scores.iter().position(|s| s.2) {
                    return Err(refuse(&self.categories[i]));
                }
                Ok(())
            }
            Err(e) => Err(Refusal {
                category: "policy check failed".into(),
                category_id: String::new(),
                policy: self.source.clone(),
                reason: RefusalReason::CheckFailed(e.to_string()),
            }),
        }
    }

    /// Every category's word-list and semantic result, for evaluation and tuning.
    pub fn scores(&self, prompt: &str) -> Result<Vec<CategoryScore>, PolicyError> {
        let words = self.word_matches(prompt);
        let semantic = self.semantic_scores(prompt)?;
        Ok(self
            .categories
            .iter()
            .zip(words)
            .zip(semantic)
            .map(|((c, word_match), (similarity, benign, semantic_match))| CategoryScore {
                id: c.id.clone(),
                name: c.name.clone(),
                word_match,
                similarity,
                benign,
                threshold: c.threshold,
                semantic_match,
            })
            .collect())
    }

    /// For each category: does its word list match?
    fn word_matches(&self, prompt: &str) -> Vec<bool> {
        let normalized = normalize(prompt);
        let views = views(&normalized);
        let masks: Vec<Vec<bool>> = views.iter().map(|v| mask_allowed(&self.allow, v)).collect();
        let found = |term: &Term| views.iter().zip(&masks).any(|(v, m)| find_term(term, v, m));
        self.categories
            .iter()
            .map(|c| {
                c.terms.iter().any(found)
                    || c.combinations.iter().any(|groups| groups.iter().all(|g| g.iter().any(found)))
            })
            .collect()
    }

    /// For each category: (best similarity, benign similarity of that piece, triggered).
    fn semantic_scores(&self, prompt: &str) -> Result<Vec<(Option<f32>, Option<f32>, bool)>, PolicyError> {
        let none = || vec![(None, None, false); self.categories.len()];
        let Some(sem) = &self.semantic else { return Ok(none()) };
        let pieces = semantic_pieces(prompt);
        if pieces.is_empty() {
            return Ok(none());
        }
        let texts: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let embedded = {
            let encoder = sem.encoder.lock().unwrap_or_else(PoisonError::into_inner);
            embed(&encoder, &texts).map_err(PolicyError::Semantic)?
        };
        let benign: Vec<Option<f32>> = embedded
            .iter()
            .map(|p| sem.benign.iter().map(|b| dot(p, b)).reduce(f32::max))
            .collect();
        Ok(self
            .categories
            .iter()
            .map(|c| {
                if c.descriptions.is_empty() {
                    return (None, None, false);
                }
                let mut best: Option<(f32, Option<f32>)> = None;
                let mut triggered = false;
                for (p, b) in embedded.iter().zip(&benign) {
                    let s = sem.descriptions[c.descriptions.clone()].iter().map(|d| dot(p, d)).fold(f32::MIN, f32::max);
                    let beats_benign = b.is_none_or(|b| s >= b + sem.benign_margin);
                    triggered |= s >= c.threshold && beats_benign;
                    if best.is_none_or(|(bs, _)| s > bs) {
                        best = Some((s, *b));
                    }
                }
                (best.map(|b| b.0), best.and_then(|b| b.1), triggered)
            })
            .collect())
    }
}

fn parse_terms(list: &[String], source: &str, field: &str) -> Result<Vec<Term>, PolicyError> {
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("{field}[{i}]");
            let term = Term::parse(t).ok_or_else(|| invalid(source, &at, format!("{t:?} has no letters or digits")))?;
            if t.trim().ends_with('*') && term.words.last().is_some_and(|w| w.len() < 3) {
                return Err(invalid(source, at, format!("{t:?}: a prefix needs at least 3 letters")));
            }
            Ok(term)
        })
        .collect()
}

fn embed(encoder: &SentenceEncoder, texts: &[&str]) -> Result<Vec<Vec<f32>>, models::ModelError> {
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    let emb = encoder.encode(texts)?.to_device(tch::Device::Cpu).to_kind(tch::Kind::Float).contiguous();
    let dim = emb.size()[1] as usize;
    let flat = Vec::<f32>::try_from(emb.view([-1]))?;
    Ok(flat.chunks(dim).map(<[f32]>::to_vec).collect())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{
        "version": 1,
        "allow": ["kill the lights", "shoot a film", "bloody mary"],
        "categories": [
            {"id": "violence", "name": "graphic violence", "terms": ["kill", "gore", "decapitat*", "self harm"]},
            {"id": "minors", "name": "sexual content involving minors",
             "combinations": [[["child", "kid*"], ["nude", "naked"]]]}
        ]
    }"#;

    fn small() -> Policy {
        Policy::from_json(SMALL, "test.json", None).unwrap()
    }

    fn refused(p: &Policy, prompt: &str) -> Option<String> {
        p.check(prompt).err().map(|r| r.category_id)
    }

    #[test]
    fn normalisation_undoes_unicode_tricks() {
        assert_eq!(normalize("ＫＩＬＬ"), "kill");
        assert_eq!(normalize("kіll"), "kill"); // Cyrillic і
        assert_eq!(normalize("ΚΙΛΛ").chars().take(2).collect::<String>(), "ki"); // Greek capitals
        assert_eq!(normalize("k\u{200B}i\u{200D}l\u{00AD}l"), "kill");
        assert_eq!(normalize("k̷i̶l̵l̴"), "kill");
        assert_eq!(normalize("𝐤𝐢𝐥𝐥 Ⓚⓘⓛⓛ"), "kill kill");
        assert_eq!(normalize("Straße café"), "strasse cafe");
        assert_eq!(normalize("東京"), "東京");
    }

    #[test]
    fn whole_words_only() {
        let p = small();
        assert_eq!(refused(&p, "kill him"), Some("violence".into()));
        for ok in ["a skilled painter", "Kilkenny castle at dusk", "gorecki symphony", "killer whale"] {
            assert_eq!(refused(&p, ok), None, "{ok}");
        }
        assert_eq!(refused(&p, "the king was decapitated"), Some("violence".into()));
        assert_eq!(refused(&p, "selfharm"), Some("violence".into()));
        assert_eq!(refused(&p, "self-harm"), Some("violence".into()));
    }

    #[test]
    fn evasions_are_caught() {
        let p = small();
        for bad in [
            "k1ll him", "k!ll him", "K I L L him", "k.i.l.l", "k-i-l-l", "k_i_l_l", "kiiiilllll", "kіll",
            "g0r3", "ＧＯＲＥ", "k\u{200B}ill", "please ikill", "a k i l l e r",
        ] {
            let hit = refused(&p, bad);
            if bad == "please ikill" {
                assert_eq!(hit, None, "{bad}: no word boundary, no match");
            } else {
                assert_eq!(hit, Some("violence".into()), "{bad}");
            }
        }
        // stretching only adds letters: "ten" is not "teen", "kil" is not "kill"
        let p2 = Policy::from_json(
            r#"{"version":1,"categories":[{"id":"a","name":"a","terms":["teen","kill"]}]}"#,
            "t",
            None,
        )
        .unwrap();
        assert!(p2.check("ten apples, a kiln").is_ok());
        assert!(p2.check("teeeen").is_err());
    }

    #[test]
    fn allow_list_masks_only_its_own_words() {
        let p = small();
        assert!(p.check("kill the lights and start the music").is_ok());
        assert!(p.check("Kill the lights, then kill him").is_err());
        assert!(p.check("a bloody mary on the bar").is_ok());
    }

    #[test]
    fn combinations_need_every_group() {
        let p = small();
        assert_eq!(refused(&p, "a child playing in the park"), None);
        assert_eq!(refused(&p, "a nude figure drawing class"), None);
        assert_eq!(refused(&p, "n a k e d kids"), Some("minors".into()));
        assert_eq!(refused(&p, "a kid, n4ked"), Some("minors".into()));
    }

    #[test]
    fn refusal_names_category_not_word() {
        let p = small();
        let r = p.check("g0re everywhere").unwrap_err();
        let msg = r.to_string();
        assert!(msg.contains("category: graphic violence"), "{msg}");
        assert!(msg.contains("test.json"), "{msg}");
        assert!(!msg.to_lowercase().contains("gore") && !msg.contains("g0re"), "{msg}");
        assert!(!format!("{r:?}").to_lowercase().contains("gore"));
    }

    #[test]
    fn broken_files_name_the_field() {
        let cases = [
            (r#"{"version":1,"categories":[{"id":"a","name":"a","terms":["x"],"threshold":"high"}]}"#, "categories[0].threshold"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a","trems":["x"]}]}"#, "categories[0]"),
            (r#"{"version":2,"categories":[]}"#, "version"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a","descriptions":["x"]}]}"#, "categories[0].threshold"),
            (r#"{"version":1,"categories":[{"id":"a","name":"","terms":["x"]}]}"#, "categories[0].name"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a","terms":["ab*"]}]}"#, "categories[0].terms[0]"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a","combinations":[[["x"]]]}]}"#, "categories[0].combinations[0]"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a","terms":["x"]},{"id":"a","name":"b","terms":["y"]}]}"#, "categories[1].id"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a"}]}"#, "categories[0]"),
            (r#"{"version":1,"categories":[{"id":"a","name":"a","terms":["x"],"threshold":1.5}]}"#, "categories[0].threshold"),
            (r#"{"version":1, "categories": ["#, ""),
        ];
        for (json, field) in cases {
            let err = Policy::from_json(json, "studio.json", None).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("policy file studio.json"), "{msg}");
            match &err {
                PolicyError::Invalid { field: f, .. } => assert!(f.starts_with(field), "{json}: field {f:?}, want {field:?} ({msg})"),
                other => panic!("{json}: {other}"),
            }
        }
    }

    #[test]
    fn default_policy_parses() {
        let p = Policy::from_json(DEFAULT_POLICY_JSON, DEFAULT_POLICY_SOURCE, None).unwrap();
        assert!(p.categories().len() >= 8);
        assert!(p.check("a timelapse of clouds over the mountains").is_ok());
        assert!(p.check("Kill the lights and shoot a film about a bloody mary cocktail").is_ok());
    }

    #[test]
    fn policy_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
        assert_send_sync::<Refusal>();
        assert_send_sync::<PolicyError>();
    }

    #[test]
    fn semantic_pieces_are_de_obfuscated() {
        let pieces = semantic_pieces("A man k1lls his neighbour. Bl00d everywhere!!! k.i.l.l");
        assert_eq!(pieces[0], "a man kills his neighbour. blood everywhere. kill");
        assert_eq!(pieces.len(), 4);
        assert_eq!(semantic_pieces("   "), Vec::<String>::new());
        assert_eq!(semantic_pieces("aaaaargh"), vec!["argh".to_string()]);
    }
}
