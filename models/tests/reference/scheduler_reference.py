"""FlowMatchEulerDiscreteScheduler reference: schedules and steps for several configurations.

Writes <out>/cases.json (configs and set_timesteps arguments) and <out>/case<i>.safetensors
(timesteps, sigmas, inputs and the result of stepping through the whole schedule, with and
without per-token timesteps)."""
import json
import sys

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.ltx.pipeline_ltx_condition import linear_quadratic_schedule

from common import deterministic, save

out = sys.argv[1]
deterministic(0)

cases = [
    ({}, {"num_inference_steps": 5}),
    ({"shift": 3.0}, {"num_inference_steps": 7}),
    # The LTX-Video 0.9.x scheduler: resolution-dependent shift and a terminal sigma.
    ({"use_dynamic_shifting": True, "base_shift": 0.95, "max_shift": 2.05, "base_image_seq_len": 1024,
      "max_image_seq_len": 4096, "shift_terminal": 0.1},
     {"num_inference_steps": 8, "sigmas": [1.0 - i / 8 for i in range(8)], "mu_seq_len": 3000}),
    ({"use_dynamic_shifting": True, "time_shift_type": "linear"}, {"num_inference_steps": 4, "sigmas": [1.0, 0.7, 0.4, 0.1], "mu_seq_len": 512}),
    ({"use_karras_sigmas": True, "shift": 2.0}, {"num_inference_steps": 6}),
    ({"use_exponential_sigmas": True}, {"num_inference_steps": 6}),
    ({"invert_sigmas": True}, {"num_inference_steps": 4}),
    # LTXConditionPipeline: explicit timesteps from the linear-quadratic schedule.
    ({}, {"timesteps": (linear_quadratic_schedule(6) * 1000).tolist()}),
]

manifest = []
for i, (cfg, args) in enumerate(cases):
    sched = FlowMatchEulerDiscreteScheduler(**cfg)
    kwargs = {k: v for k, v in args.items() if k != "mu_seq_len"}
    if "mu_seq_len" in args:
        from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift
        c = sched.config
        kwargs["mu"] = calculate_shift(args["mu_seq_len"], c.base_image_seq_len, c.max_image_seq_len, c.base_shift, c.max_shift)
    if "timesteps" in kwargs:
        kwargs["num_inference_steps"] = None
    sched.set_timesteps(**kwargs)
    g = torch.Generator().manual_seed(i)
    sample = torch.randn(2, 6, 4, generator=g)
    outputs = [torch.randn(2, 6, 4, generator=g) for _ in sched.timesteps]
    tensors = {"timesteps": sched.timesteps.clone(), "sigmas": sched.sigmas.clone(), "sample": sample}
    x = sample
    for j, t in enumerate(sched.timesteps):
        tensors[f"model_output{j}"] = outputs[j]
        x = sched.step(outputs[j], t, x, return_dict=False)[0]
    tensors["result"] = x
    # Per-token: the first tokens sit at lower noise (conditioning), as LTXConditionPipeline does.
    if not cfg.get("invert_sigmas"):
        sched2 = FlowMatchEulerDiscreteScheduler(**cfg)
        sched2.set_timesteps(**kwargs)
        mask = torch.tensor([[1.0, 0.5, 0.0, 0.0, 0.0, 0.0]] * 2)
        x = sample
        for j, t in enumerate(sched2.timesteps):
            ptt = torch.min(t.expand(2).unsqueeze(-1).float(), (1 - mask) * 1000.0)
            tensors[f"per_token{j}"] = ptt
            x = sched2.step(outputs[j], t, x, per_token_timesteps=ptt, return_dict=False)[0]
        tensors["result_per_token"] = x
    save(f"{out}/case{i}.safetensors", tensors)
    manifest.append({"config": cfg, "steps": kwargs.get("num_inference_steps"), "sigmas": kwargs.get("sigmas"),
                     "timesteps": kwargs.get("timesteps"), "mu": kwargs.get("mu")})
json.dump(manifest, open(f"{out}/cases.json", "w"))
