"""Helpers shared by the reference scripts the Rust parity tests run (fp32, CPU, deterministic)."""
import os
import random

import numpy as np
import torch
from safetensors.torch import save_file


def deterministic(seed: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.use_deterministic_algorithms(True, warn_only=True)


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.2) -> None:
    """Overwrite every parameter with seeded noise so no weight sits at an init value
    (zeros, ones) that would hide a wiring mistake in the port."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(module.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * scale)


def save(path: str, tensors: dict) -> None:
    save_file({k: v.detach().contiguous().to(torch.float32) if v.is_floating_point() else v.contiguous()
               for k, v in tensors.items()}, path)
