"""diffusers' LTXVideoTransformer3DModel side of models/examples/bench_ltx_transformer.rs.

Usage: bench_ltx_transformer.py DIR --device cpu|cuda --dtype float32|bfloat16|float16
           --threads N --warmup W --iters I --seed S --std STD

DIR holds config.json and inputs.safetensors (written by the Rust example). The model is built on
the meta device and materialised once, uninitialised, in the target dtype, then every parameter,
in sorted name order, is filled in place with normal(0, STD) from a generator seeded with S: the
same libtorch draws the same numbers in the Rust example, so both sides run identical weights
without either reading the other's. Writes DIR/reference.safetensors (the output) and prints one
JSON line: per-forward times, RSS high-water mark, CUDA peak memory.
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
from diffusers import LTXVideoTransformer3DModel
from safetensors.torch import load_file, save_file

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--device", default="cpu")
p.add_argument("--dtype", default="float32")
p.add_argument("--threads", type=int, default=torch.get_num_threads())
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--iters", type=int, default=3)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--std", type=float, default=0.02)
a = p.parse_args()

torch.set_num_threads(a.threads)
device = torch.device(a.device)
dtype = getattr(torch, a.dtype)

with open(os.path.join(a.dir, "config.json")) as fh:
    config = {k: v for k, v in json.load(fh).items() if not k.startswith("_")}
with torch.device("meta"):
    model = LTXVideoTransformer3DModel(**config).to(dtype)
model = model.to_empty(device=device).eval()
torch.manual_seed(a.seed)
with torch.no_grad():
    for _, param in sorted(model.named_parameters()):
        param.normal_(0.0, a.std)

inputs = load_file(os.path.join(a.dir, "inputs.safetensors"))
grid = inputs.pop("grid").tolist()
scale = tuple(inputs.pop("rope_interpolation_scale").tolist())
kwargs = dict(
    hidden_states=inputs["hidden_states"].to(device, dtype),
    encoder_hidden_states=inputs["encoder_hidden_states"].to(device, dtype),
    timestep=inputs["timestep"].to(device),
    encoder_attention_mask=inputs["encoder_attention_mask"].to(device),
    num_frames=int(grid[0]),
    height=int(grid[1]),
    width=int(grid[2]),
    rope_interpolation_scale=scale,
    return_dict=False,
)


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


times = []
with torch.no_grad():
    for i in range(a.warmup + a.iters):
        sync()
        start = time.perf_counter()
        out = model(**kwargs)[0]
        sync()
        if i >= a.warmup:
            times.append((time.perf_counter() - start) * 1e3)

save_file({"output": out.float().cpu().contiguous()}, os.path.join(a.dir, "reference.safetensors"))
report = dict(
    median_ms=statistics.median(times),
    mean_ms=statistics.fmean(times),
    min_ms=min(times),
    maxrss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
)
if device.type == "cuda":
    report["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    report["cuda_peak_reserved_mib"] = torch.cuda.max_memory_reserved() / 2**20
print(json.dumps(report))
