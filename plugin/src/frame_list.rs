//! The "frames to rebuild" parameter: a list such as "12-15, 40" as an editor types it.
use std::collections::BTreeSet;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameListError {
    #[error("'{0}' is not a frame number or range (write e.g. \"12-15, 40\")")]
    Syntax(String),
    #[error("range '{0}' runs backwards")]
    Backwards(String),
    #[error("range '{0}' lists more than {1} frames")]
    TooLong(String, i64),
}

/// Longest single range accepted: guards against "0-999999999" exhausting memory.
const MAX_RANGE: i64 = 1_000_000;

/// Parses comma/space/semicolon separated frames and inclusive ranges ("a-b", "a..b", "a:b").
/// Negative frame numbers are allowed in the "a - b" forms only when unambiguous ("-5--2").
pub fn parse(text: &str) -> Result<BTreeSet<i64>, FrameListError> {
    let mut out = BTreeSet::new();
    for item in text.split([',', ';', ' ', '\t', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
        let (a, b) = split_range(item).ok_or_else(|| FrameListError::Syntax(item.to_string()))?;
        if b < a {
            return Err(FrameListError::Backwards(item.to_string()));
        }
        if b - a >= MAX_RANGE {
            return Err(FrameListError::TooLong(item.to_string(), MAX_RANGE));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn split_range(item: &str) -> Option<(i64, i64)> {
    if let Ok(v) = item.parse::<i64>() {
        return Some((v, v));
    }
    for sep in ["..", ":"] {
        if let Some((a, b)) = item.split_once(sep) {
            return Some((a.trim().parse().ok()?, b.trim().parse().ok()?));
        }
    }
    // "a-b": the separating '-' is the first one after the first character (which may be a sign).
    let pos = item.char_indices().skip(1).find(|&(_, c)| c == '-')?.0;
    Some((item[..pos].trim().parse().ok()?, item[pos + 1..].trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[i64]) -> BTreeSet<i64> {
        v.iter().copied().collect()
    }

    #[test]
    fn parses_frames_and_ranges() {
        assert_eq!(parse("12-15, 40").unwrap(), set(&[12, 13, 14, 15, 40]));
        assert_eq!(parse(" 3 ;5..6 8:8").unwrap(), set(&[3, 5, 6, 8]));
        assert_eq!(parse("").unwrap(), set(&[]));
        assert_eq!(parse("-3--1").unwrap(), set(&[-3, -2, -1]));
        assert_eq!(parse("-2").unwrap(), set(&[-2]));
    }

    #[test]
    fn rejects_nonsense() {
        assert_eq!(parse("12-x"), Err(FrameListError::Syntax("12-x".into())));
        assert_eq!(parse("abc"), Err(FrameListError::Syntax("abc".into())));
        assert_eq!(parse("9-3"), Err(FrameListError::Backwards("9-3".into())));
        assert!(matches!(parse("0-99999999999"), Err(FrameListError::TooLong(..))));
    }
}
