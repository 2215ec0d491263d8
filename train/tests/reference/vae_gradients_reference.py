"""Gradients of the autoencoder's training loss in diffusers, for train/tests/vae_gradients.rs.

Reads the parameters and batch the Rust side wrote (argv[1]), runs diffusers'
AutoencoderKLLTXVideo built from embedded/genvideo-mini/vae/config.json on them, takes the same
loss (L1 + MSE of decode(encoder means) against the batch) and writes every parameter's gradient
to argv[2].
"""
import json
import sys

import torch
from diffusers import AutoencoderKLLTXVideo
from safetensors.torch import load_file, save_file

torch.set_num_threads(2)
config = json.load(open(sys.argv[3]))
vae = AutoencoderKLLTXVideo(**{k: v for k, v in config.items() if not k.startswith("_")})
saved = load_file(sys.argv[1])
result = vae.load_state_dict({k[len("param."):]: v for k, v in saved.items() if k.startswith("param.")}, strict=False)
assert set(result.missing_keys) <= {"latents_mean", "latents_std"} and not result.unexpected_keys, result
x = saved["x"]
mean = vae.encoder(x)[:, : config["latent_channels"]]
diff = vae.decoder(mean) - x
loss = diff.abs().mean() + diff.square().mean()
loss.backward()
out = {"loss": loss.detach().reshape(1)}
out.update({f"grad.{n}": p.grad.contiguous() for n, p in vae.named_parameters() if p.grad is not None})
save_file(out, sys.argv[2])
