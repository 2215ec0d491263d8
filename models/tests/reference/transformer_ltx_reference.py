"""LTXVideoTransformer3DModel reference for models/tests/transformer_ltx_parity.rs.

Usage: transformer_ltx_reference.py OUT

For each small configuration below: a model with every parameter randomised (the zero-initialised
proj_out and the scale-shift tables would otherwise hide wiring mistakes), saved with
save_pretrained to OUT/config<i>/, and forward passes on seeded inputs written to
OUT/config<i>.safetensors as <case>.<input|output>. OUT/cases.json lists the cases and the scalar
arguments. Cases: per-sample timesteps with a padded prompt mask and a non-default
rope_interpolation_scale; per-token timesteps without a mask; explicit video_coords (the
LTXConditionPipeline path) with per-token timesteps and a mask. The first two configurations
(plain and affine block norms) also run their first case in bfloat16 and float16
(<case>.output_bf16 / .output_f16), to hold the reduced-precision paths to what diffusers itself
does in them.
"""
import copy
import json
import os
import sys

import torch
from diffusers import LTXVideoTransformer3DModel

from common import deterministic, randomize_, save

out = sys.argv[1]
deterministic(0)

CONFIGS = [
    # inner_dim 16: 16 % 6 = 4 channels of rotary padding; defaults elsewhere.
    dict(in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
         num_layers=2, caption_channels=12),
    # Patched rotary grid, affine block norms, no q/k/v bias, out != in.
    dict(in_channels=16, out_channels=12, patch_size=2, patch_size_t=2, num_attention_heads=3,
         attention_head_dim=12, cross_attention_dim=36, num_layers=3, caption_channels=20,
         norm_elementwise_affine=True, attention_bias=False, norm_eps=1e-5),
    # Exact GELU, out_channels from in_channels, no out bias, 20 % 6 = 2 channels of padding.
    dict(in_channels=6, out_channels=None, num_attention_heads=4, attention_head_dim=5, cross_attention_dim=20,
         num_layers=1, caption_channels=7, activation_fn="gelu", attention_out_bias=False),
    # Wider heads, odd grid.
    dict(in_channels=4, out_channels=4, patch_size=1, patch_size_t=3, num_attention_heads=1, attention_head_dim=24,
         cross_attention_dim=24, num_layers=2, caption_channels=9, norm_elementwise_affine=True),
]
GRIDS = [(3, 4, 5), (2, 3, 3), (4, 2, 3), (1, 5, 7)]
BATCH = 2
PROMPT_LEN = 7


def run(model, inputs, case, dtype):
    kwargs = dict(
        hidden_states=inputs["hidden_states"].to(dtype),
        encoder_hidden_states=inputs["encoder_hidden_states"].to(dtype),
        timestep=inputs["timestep"],
        encoder_attention_mask=inputs.get("encoder_attention_mask"),
        num_frames=case["num_frames"],
        height=case["height"],
        width=case["width"],
        rope_interpolation_scale=tuple(case["rope_interpolation_scale"]),
        video_coords=inputs.get("video_coords"),
        return_dict=False,
    )
    with torch.no_grad():
        return model(**kwargs)[0]


manifest = []
for i, (cfg, (f, h, w)) in enumerate(zip(CONFIGS, GRIDS)):
    torch.manual_seed(i)
    model = LTXVideoTransformer3DModel(**cfg).eval()
    randomize_(model, seed=100 + i)
    folder = os.path.join(out, f"config{i}")
    model.save_pretrained(folder)

    g = torch.Generator().manual_seed(1000 + i)
    n = f * h * w
    caption = cfg["caption_channels"]
    hidden = torch.randn(BATCH, n, cfg["in_channels"], generator=g)
    prompt = torch.randn(BATCH, PROMPT_LEN, caption, generator=g)
    mask = torch.ones(BATCH, PROMPT_LEN)
    mask[0, PROMPT_LEN - 1:] = 0
    mask[1, PROMPT_LEN - 3:] = 0
    coords = torch.rand(BATCH, 3, n, generator=g) * torch.tensor([40.0, 512.0, 768.0])[None, :, None]
    cases = {
        "grid": dict(inputs=dict(hidden_states=hidden, encoder_hidden_states=prompt,
                                 timestep=torch.tensor([937.5, 250.0]), encoder_attention_mask=mask),
                     rope_interpolation_scale=[0.4, 20.0, 24.0]),
        "per_token": dict(inputs=dict(hidden_states=hidden, encoder_hidden_states=prompt,
                                      timestep=torch.rand(BATCH, n, generator=g) * 1000.0),
                          rope_interpolation_scale=[8.0 / 25.0, 32.0, 32.0]),
        "coords": dict(inputs=dict(hidden_states=hidden, encoder_hidden_states=prompt,
                                   timestep=torch.rand(BATCH, n, generator=g) * 1000.0,
                                   encoder_attention_mask=mask, video_coords=coords),
                       rope_interpolation_scale=[1.0, 1.0, 1.0]),
    }
    tensors = {}
    for name, case in cases.items():
        case.update(num_frames=f, height=h, width=w)
        inputs = case.pop("inputs")
        for k, v in inputs.items():
            tensors[f"{name}.{k}"] = v.clone()
        tensors[f"{name}.output"] = run(model, inputs, case, torch.float32)
        if i in (0, 1) and name == "grid":
            for dtype, suffix in [(torch.bfloat16, "bf16"), (torch.float16, "f16")]:
                low = copy.deepcopy(model).to(dtype)
                tensors[f"{name}.output_{suffix}"] = run(low, inputs, case, dtype)
        manifest.append(dict(config=i, case=name, **case))
    save(os.path.join(out, f"config{i}.safetensors"), tensors)

with open(os.path.join(out, "cases.json"), "w") as fh:
    json.dump(manifest, fh, indent=1)
