//! Infill end to end: the built bundle, driven through the OpenFX C ABI by host-sim.
mod common;
use common::*;
use host_sim::*;

fn render(inst: &Instance, range: (i64, i64)) -> RenderOutput {
    let out = inst.render_range(range, &RenderOptions::default()).expect("render sequence");
    assert_eq!(inst.images_held(), 0, "images leaked");
    out
}

#[test]
fn the_bundle_registers_three_effects_with_their_contexts() {
    let b = bundle();
    let ids: Vec<&str> = b.plugins().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["org.genvideo.Generate", "org.genvideo.Extend", "org.genvideo.Infill"]);
    let ctx = |id: &str| b.plugins().iter().find(|p| p.id == id).unwrap().contexts.clone();
    assert_eq!(ctx("org.genvideo.Infill"), ["OfxImageEffectContextFilter", "OfxImageEffectContextGeneral"]);
    assert_eq!(ctx("org.genvideo.Generate"), ["OfxImageEffectContextGenerator", "OfxImageEffectContextGeneral"]);
    assert_eq!(ctx("org.genvideo.Extend"), ["OfxImageEffectContextGeneral"]);
}

#[test]
fn dropped_frames_are_rebuilt_between_their_neighbours() {
    let (_b, inst) = infill(Context::Filter);
    let truth = footage().with_format(byte_format());
    inst.connect("Source", truth.clone().with_missing([6, 7, 8])).unwrap();
    let out = render(&inst, (0, 15));
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    for t in 0..16 {
        let got = out.frame(t).unwrap();
        let want = &truth.frames[t as usize];
        if (6..=8).contains(&t) {
            // Rebuilt frames are close to the frames that were dropped, and no copy of a neighbour.
            let p = psnr(got, want);
            assert!(p > 24.0, "frame {t}: PSNR {p:.1} dB against the dropped original");
            assert!(max_abs_diff(got, &truth.frames[5]) > 0.0 && max_abs_diff(got, &truth.frames[9]) > 0.0);
        } else {
            assert_eq!(max_abs_diff(got, want), 0.0, "good frame {t} must pass through untouched");
        }
    }
    let needed = inst.frames_needed(7).expect("GetFramesNeeded answered");
    assert!(needed.iter().any(|(a, b)| *a <= 5.0 && *b >= 9.0), "{needed:?}");
}

#[test]
fn listed_frames_are_replaced_even_when_the_host_has_them() {
    let (_b, inst) = infill(Context::Filter);
    let truth = footage().with_format(byte_format());
    inst.connect("Source", truth.clone()).unwrap();
    inst.set_param("frames", "4, 10-11").unwrap();
    let out = render(&inst, (0, 15));
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    for t in [4, 10, 11] {
        assert!(max_abs_diff(out.frame(t).unwrap(), &truth.frames[t as usize]) > 0.0, "frame {t} was not rebuilt");
    }
    assert_eq!(max_abs_diff(out.frame(3).unwrap(), &truth.frames[3]), 0.0);
}

#[test]
fn bad_frame_lists_get_a_clear_message() {
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage()).unwrap();
    inst.set_param("frames", "12-x").unwrap();
    let out = render(&inst, (0, 1));
    assert_eq!(out.failures().len(), 2);
    assert!(inst.error_messages().iter().any(|m| m.contains("Frames to rebuild") && m.contains("12-x")), "{:?}", inst.error_messages());
}

#[test]
fn duplicated_frames_are_detected_and_rebuilt() {
    let (_b, inst) = infill(Context::Filter);
    let mut clip = footage().with_format(byte_format());
    let truth = clip.clone();
    // A capture that froze: frames 6 and 7 repeat frame 5.
    clip.frames[6] = clip.frames[5].clone();
    clip.frames[7] = clip.frames[5].clone();
    inst.connect("Source", clip).unwrap();
    inst.set_param("autoDetect", "Duplicated frames").unwrap();
    let out = render(&inst, (4, 9));
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    for t in [6, 7] {
        let p = psnr(out.frame(t).unwrap(), &truth.frames[t as usize]);
        let held = psnr(&truth.frames[5], &truth.frames[t as usize]);
        assert!(p > held, "frame {t}: rebuilt {p:.1} dB is no better than the frozen copy {held:.1} dB");
    }
}

#[test]
fn every_pixel_format_and_layout_works() {
    let (_b, inst) = infill(Context::Filter);
    for depth in [BitDepth::Byte, BitDepth::Short, BitDepth::Half, BitDepth::Float] {
        for components in [Components::Rgba, Components::Rgb, Components::Alpha] {
            for (negative, origin) in [(false, (0, 0)), (true, (-8, 4))] {
                let format = Format { depth, components, negative_row_bytes: negative, origin };
                let mut clip = footage().with_format(format);
                clip.frames.truncate(5);
                inst.connect("Source", clip.with_missing([2])).unwrap();
                let out = render(&inst, (0, 4));
                assert!(out.failures().is_empty(), "{format:?}: {:?}", out.failures());
                let (a, b) = (out.frame(1).unwrap(), out.frame(2).unwrap());
                assert_eq!((b.width, b.height), (a.width, a.height));
                assert!(max_abs_diff(a, b) > 0.0, "{format:?}: frame 2 not rebuilt");
            }
        }
    }
}

#[test]
fn holes_at_the_clip_ends_are_reported_unless_holding_is_chosen() {
    let (_b, inst) = infill(Context::Filter);
    let clip = footage().with_format(byte_format());
    inst.connect("Source", clip.clone().with_missing([0, 1, 15])).unwrap();
    let out = render(&inst, (0, 15));
    let failed: Vec<i64> = out.failures().into_iter().map(|(t, _)| t).collect();
    assert_eq!(failed, [0, 1, 15]);
    let msgs = inst.error_messages().join("\n");
    assert!(msgs.contains("clip start") && msgs.contains("clip end"), "{msgs}");

    inst.set_param("atClipEnds", "Hold nearest good frame").unwrap();
    let out = render(&inst, (0, 15));
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    assert_eq!(max_abs_diff(out.frame(0).unwrap(), &clip.frames[2]), 0.0);
    assert_eq!(max_abs_diff(out.frame(15).unwrap(), &clip.frames[14]), 0.0);
}

#[test]
fn gaps_longer_than_the_limit_are_refused() {
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().with_missing(3..=12)).unwrap();
    inst.set_param("maxGap", "4").unwrap();
    let out = render(&inst, (5, 5));
    assert_eq!(out.failures().len(), 1);
    assert!(inst.error_messages().iter().any(|m| m.contains("frames 3-") && m.contains("more than") && m.contains("Longest gap")), "{:?}", inst.error_messages());
}

#[test]
fn nan_pixels_are_refused_with_a_message_unless_the_frame_is_listed() {
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().with_nan_frames([5])).unwrap();
    let out = render(&inst, (4, 6));
    assert_eq!(out.failures().iter().map(|(t, _)| *t).collect::<Vec<_>>(), [5]);
    assert!(inst.error_messages().iter().any(|m| m.contains("frame 5") && m.contains("NaN")), "{:?}", inst.error_messages());

    inst.set_param("frames", "5").unwrap();
    let out = render(&inst, (4, 6));
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    assert!(out.frame(5).unwrap().rgba.iter().all(|v| v.is_finite()));
}

#[test]
fn an_empty_or_missing_source_is_a_clear_error() {
    let (_b, inst) = infill(Context::Filter);
    let out = render(&inst, (0, 0));
    assert_eq!(out.failures().len(), 1);
    assert!(inst.error_messages().iter().any(|m| m.contains("connect a clip to Source")), "{:?}", inst.error_messages());

    let (_b, inst) = infill(Context::Filter);
    let mut empty = footage();
    empty.frames.clear();
    inst.connect("Source", empty).unwrap();
    let out = render(&inst, (0, 0));
    assert_eq!(out.failures().len(), 1);
    assert!(inst.error_messages().iter().any(|m| m.contains("no frames") || m.contains("outside the source")), "{:?}", inst.error_messages());
}

#[test]
fn abort_midway_stops_promptly_without_leaks() {
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().with_missing([3, 4, 9, 10, 13])).unwrap();
    let opts = RenderOptions { abort_after_progress_updates: Some(3), ..Default::default() };
    let out = inst.render_range((0, 15), &opts).unwrap();
    assert!(out.aborted);
    assert_eq!(inst.images_held(), 0);
    let done = out.frames.values().filter(|r| r.is_ok()).count();
    assert!(done < 16, "abort did not stop the render");
    let (fetched, released) = inst.image_counts();
    assert_eq!(fetched, released);
}

#[test]
fn retime_adds_inbetweens_and_lengthens_the_clip_in_the_general_context() {
    let (_b, inst) = infill(Context::General);
    let mut clip = footage().with_format(byte_format());
    clip.frames.truncate(4);
    inst.connect("Source", clip.clone()).unwrap();
    inst.set_param("mode", "Retime (add in-betweens)").unwrap();
    inst.set_param("inbetweens", "1").unwrap();
    let range = inst.time_domain((0, 0)).unwrap();
    assert_eq!(range, (0, 6));
    let out = render(&inst, range);
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    for k in 0..4 {
        assert_eq!(max_abs_diff(out.frame(2 * k).unwrap(), &clip.frames[k as usize]), 0.0);
    }
    let mid = out.frame(1).unwrap();
    assert!(max_abs_diff(mid, &clip.frames[0]) > 0.0 && max_abs_diff(mid, &clip.frames[1]) > 0.0);
}

#[test]
fn concurrent_host_threads_give_the_same_frames() {
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().with_missing([5, 6])).unwrap();
    let one = render(&inst, (3, 8));
    let opts = RenderOptions { threads: 3, ..Default::default() };
    let many = inst.render_range((3, 8), &opts).unwrap();
    assert_eq!(inst.images_held(), 0);
    for t in 3..=8 {
        let d = max_abs_diff(one.frame(t).unwrap(), many.frame(t).unwrap());
        assert!(d < 1e-5, "frame {t} differs by {d} across threads");
    }
}

#[test]
fn unknown_pixel_formats_are_refused_by_name() {
    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().with_missing([3]).reporting_format("OfxBitDepthDouble", "OfxImageComponentRGBA")).unwrap();
    let out = render(&inst, (2, 4));
    assert_eq!(out.failures().len(), 3);
    assert!(inst.error_messages().iter().any(|m| m.contains("unsupported pixel depth 'OfxBitDepthDouble'")), "{:?}", inst.error_messages());

    let (_b, inst) = infill(Context::Filter);
    inst.connect("Source", footage().reporting_format("OfxBitDepthFloat", "OfxImageComponentYUVA")).unwrap();
    let out = render(&inst, (2, 2));
    assert_eq!(out.failures().len(), 1);
    assert!(inst.error_messages().iter().any(|m| m.contains("OfxImageComponentYUVA")), "{:?}", inst.error_messages());
}
