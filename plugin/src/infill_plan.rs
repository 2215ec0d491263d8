//! Which source frames make each output frame of Infill: pure logic, no images, so every edge case
//! is unit-tested here and the render code only fetches what the plan names.

/// How an output frame is made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FramePlan {
    /// The source frame is good: pass it through untouched.
    Pass(i64),
    /// Rebuild from the nearest good frames on each side at fractional time `t` in (0, 1).
    Between { before: i64, after: i64, t: f64 },
    /// No good frame on one side (clip start or end) and the user chose to hold the nearest one.
    Hold(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Before,
    After,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error(
        "frame {frame} needs rebuilding but there is no good frame {} it within the clip ({side_end}); \
         set 'At clip ends' to 'Hold nearest good frame' to repeat the nearest one instead",
        if *side == Side::Before { "before" } else { "after" },
        side_end = if *side == Side::Before { "the gap touches the clip start" } else { "the gap touches the clip end" }
    )]
    NoNeighbour { frame: i64, side: Side },
    #[error(
        "frames {first}-{last}{} are a gap of {}{} frames, longer than 'Longest gap' ({max_gap}); \
         raise it, or shorten the list of frames to rebuild",
        if *open { " and beyond" } else { "" },
        if *open { "more than " } else { "" },
        last - first + 1
    )]
    GapTooLong { first: i64, last: i64, max_gap: i64, open: bool },
    #[error("frame {frame} is outside the source clip ({first}-{last})")]
    OutsideSource { frame: i64, first: i64, last: i64 },
    #[error("the source clip has no frames")]
    EmptySource,
}

#[derive(Clone, Copy, Debug)]
pub struct RepairPolicy {
    /// Longest run of bad frames that is rebuilt; longer runs are reported rather than smeared.
    pub max_gap: i64,
    pub hold_at_ends: bool,
}

/// Frames the plan for `t` may look at: neighbours up to `max_gap` away on each side, plus one more
/// before for duplicate detection (a frame is compared with its predecessor).
pub fn repair_window(t: i64, policy: &RepairPolicy) -> (i64, i64) {
    (t - policy.max_gap - 2, t + policy.max_gap + 1)
}

/// Plans output frame `t` of a repair. `is_bad(f)` says whether source frame `f` (always inside
/// `range`) must be rebuilt; it may fail (e.g. a frame with NaN pixels), which aborts the plan.
pub fn plan_repair<E: From<PlanError>>(
    t: i64,
    range: (i64, i64),
    policy: &RepairPolicy,
    mut is_bad: impl FnMut(i64) -> Result<bool, E>,
) -> Result<FramePlan, E> {
    let (first, last) = range;
    if last < first {
        return Err(PlanError::EmptySource.into());
    }
    if t < first || t > last {
        return Err(PlanError::OutsideSource { frame: t, first, last }.into());
    }
    if !is_bad(t)? {
        return Ok(FramePlan::Pass(t));
    }
    let max_gap = policy.max_gap.max(1);
    // Search one step past max_gap on each side so a too-long gap is recognised as such.
    let mut find = |side: Side| -> Result<Neighbour, E> {
        for step in 1..=max_gap + 1 {
            let f = if side == Side::Before { t - step } else { t + step };
            if f < first || f > last {
                return Ok(Neighbour::ClipEdge);
            }
            if !is_bad(f)? {
                return Ok(Neighbour::Found(f));
            }
        }
        Ok(Neighbour::TooFar)
    };
    let before = find(Side::Before)?;
    let after = find(Side::After)?;
    // The extent of the gap, for a message that names it.
    let gap_first = match before {
        Neighbour::Found(a) => a + 1,
        Neighbour::ClipEdge => first,
        Neighbour::TooFar => t - max_gap,
    };
    let gap_last = match after {
        Neighbour::Found(b) => b - 1,
        Neighbour::ClipEdge => last,
        Neighbour::TooFar => t + max_gap,
    };
    // Where the search ran out, the gap may go on further than we looked.
    let open = matches!(before, Neighbour::TooFar) || matches!(after, Neighbour::TooFar);
    if gap_last - gap_first + 1 > max_gap {
        return Err(PlanError::GapTooLong { first: gap_first, last: gap_last, max_gap, open }.into());
    }
    match (before, after) {
        (Neighbour::Found(a), Neighbour::Found(b)) => {
            Ok(FramePlan::Between { before: a, after: b, t: (t - a) as f64 / (b - a) as f64 })
        }
        (Neighbour::Found(a), Neighbour::ClipEdge) if policy.hold_at_ends => Ok(FramePlan::Hold(a)),
        (Neighbour::ClipEdge, Neighbour::Found(b)) if policy.hold_at_ends => Ok(FramePlan::Hold(b)),
        (Neighbour::ClipEdge, _) => Err(PlanError::NoNeighbour { frame: t, side: Side::Before }.into()),
        (_, Neighbour::ClipEdge) => Err(PlanError::NoNeighbour { frame: t, side: Side::After }.into()),
        // Unreachable after the gap-length check above; kept total rather than panicking.
        _ => Err(PlanError::GapTooLong { first: gap_first, last: gap_last, max_gap, open }.into()),
    }
}

#[derive(Clone, Copy, Debug)]
enum Neighbour {
    Found(i64),
    ClipEdge,
    TooFar,
}

/// Retiming with `inbetweens` new frames between each pair of source frames: output frame `t`
/// (counted from the source's first frame) sits at source time first + (t-first)/(inbetweens+1).
pub fn plan_retime(t: i64, range: (i64, i64), inbetweens: i64) -> Result<FramePlan, PlanError> {
    let (first, last) = range;
    if last < first {
        return Err(PlanError::EmptySource);
    }
    let n = inbetweens.max(0) + 1;
    let k = t - first;
    let (q, r) = (k.div_euclid(n), k.rem_euclid(n));
    let base = first + q;
    let plan = if r == 0 {
        FramePlan::Pass(base)
    } else {
        FramePlan::Between { before: base, after: base + 1, t: r as f64 / n as f64 }
    };
    let needed_last = match plan {
        FramePlan::Between { after, .. } => after,
        _ => base,
    };
    if base < first || needed_last > last {
        return Err(PlanError::OutsideSource { frame: t, first, last: retime_last(range, inbetweens) });
    }
    Ok(plan)
}

/// Last output frame of a retimed clip: every source interval gains `inbetweens` frames.
pub fn retime_last(range: (i64, i64), inbetweens: i64) -> i64 {
    range.0 + (range.1 - range.0) * (inbetweens.max(0) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(t: i64, bad: &[i64], range: (i64, i64), max_gap: i64, hold: bool) -> Result<FramePlan, PlanError> {
        let policy = RepairPolicy { max_gap, hold_at_ends: hold };
        plan_repair(t, range, &policy, |f| Ok::<_, PlanError>(bad.contains(&f)))
    }

    #[test]
    fn good_frames_pass_through() {
        assert_eq!(plan(5, &[6], (0, 10), 4, false), Ok(FramePlan::Pass(5)));
    }

    #[test]
    fn a_four_frame_hole_gets_fifths() {
        let bad = [12, 13, 14, 15];
        for (i, t) in bad.iter().enumerate() {
            let p = plan(*t, &bad, (0, 40), 8, false).unwrap();
            assert_eq!(p, FramePlan::Between { before: 11, after: 16, t: (i + 1) as f64 / 5.0 });
        }
    }

    #[test]
    fn gaps_longer_than_the_limit_are_named() {
        let bad: Vec<i64> = (10..=15).collect();
        assert_eq!(
            plan(12, &bad, (0, 40), 4, false),
            Err(PlanError::GapTooLong { first: 10, last: 15, max_gap: 4, open: false })
        );
        assert!(plan(12, &bad, (0, 40), 6, false).is_ok());
        // A gap longer than the search reach is reported as open-ended.
        let long: Vec<i64> = (10..=30).collect();
        assert_eq!(
            plan(12, &long, (0, 40), 4, false),
            Err(PlanError::GapTooLong { first: 10, last: 16, max_gap: 4, open: true })
        );
    }

    #[test]
    fn holes_at_the_clip_ends_need_consent_to_hold() {
        assert_eq!(plan(0, &[0, 1], (0, 9), 4, false), Err(PlanError::NoNeighbour { frame: 0, side: Side::Before }));
        assert_eq!(plan(9, &[9], (0, 9), 4, false), Err(PlanError::NoNeighbour { frame: 9, side: Side::After }));
        assert_eq!(plan(1, &[0, 1], (0, 9), 4, true), Ok(FramePlan::Hold(2)));
        assert_eq!(plan(9, &[9], (0, 9), 4, true), Ok(FramePlan::Hold(8)));
    }

    #[test]
    fn errors_from_the_oracle_propagate() {
        let policy = RepairPolicy { max_gap: 4, hold_at_ends: false };
        let r = plan_repair(3, (0, 9), &policy, |f| if f == 2 { Err(PlanError::EmptySource) } else { Ok(f == 3) });
        assert_eq!(r, Err(PlanError::EmptySource));
    }

    #[test]
    fn outside_and_empty_sources_are_reported() {
        assert_eq!(plan(20, &[], (0, 9), 4, false), Err(PlanError::OutsideSource { frame: 20, first: 0, last: 9 }));
        assert_eq!(plan(0, &[], (0, -1), 4, false), Err(PlanError::EmptySource));
    }

    #[test]
    fn retime_places_inbetweens() {
        assert_eq!(plan_retime(10, (10, 20), 3), Ok(FramePlan::Pass(10)));
        assert_eq!(plan_retime(11, (10, 20), 3), Ok(FramePlan::Between { before: 10, after: 11, t: 0.25 }));
        assert_eq!(plan_retime(14, (10, 20), 3), Ok(FramePlan::Pass(11)));
        assert_eq!(retime_last((10, 20), 3), 50);
        assert_eq!(plan_retime(50, (10, 20), 3), Ok(FramePlan::Pass(20)));
        assert!(plan_retime(51, (10, 20), 3).is_err());
    }
}
