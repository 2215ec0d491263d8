"""A tiny random LTX-Video pipeline, saved in diffusers format, run by LTXConditionPipeline.

usage: pipeline_ltx_reference.py OUT_DIR [--save-only]

Writes OUT_DIR/pipeline (save_pretrained: model_index.json, transformer/, vae/, text_encoder/,
tokenizer/, scheduler/) and, unless --save-only, for each case OUT_DIR/case<i>.safetensors with
the conditioning frames, every random draw the pipeline made (in order) and the output video,
plus OUT_DIR/cases.json with the request parameters.

Two deliberate adjustments, mirrored by the Rust pipeline: conditioning frames are encoded to the
VAE posterior's mode (diffusers samples), and random draws are recorded so ours can replay them.
"""
import json
import sys

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

import diffusers.pipelines.ltx.pipeline_ltx_condition as cond_module
from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline,
                       LTXVideoTransformer3DModel)
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

from common import deterministic, randomize_, save

out = sys.argv[1]
save_only = "--save-only" in sys.argv
deterministic(0)

WORDS = ("a red ball bounces across green grass slowly the camera pans left over calm blue sea at sunset "
         "train arrives station night rain city lights").split()


def tokenizer():
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for w in WORDS:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # T5 appends </s> to every sequence.
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=512), len(vocab)


tok, vocab_size = tokenizer()
text_encoder = T5EncoderModel(T5Config(vocab_size=vocab_size, d_model=24, d_kv=8, d_ff=40, num_layers=2, num_heads=3,
                                       relative_attention_num_buckets=8, feed_forward_proj="gated-gelu"))
randomize_(text_encoder, 1, 0.3)
vae = AutoencoderKLLTXVideo(
    latent_channels=8,
    block_out_channels=(8, 8, 16, 16),
    decoder_block_out_channels=(16, 16, 16, 16),
    layers_per_block=(1, 1, 1, 1, 1),
    decoder_layers_per_block=(1, 1, 1, 1, 1),
    timestep_conditioning=True,
    decoder_inject_noise=(False, False, False, False, False),
)
randomize_(vae, 2, 0.1)
with torch.no_grad():
    vae.latents_mean.copy_(torch.randn(8) * 0.1)
    vae.latents_std.copy_(torch.rand(8) + 0.5)
transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8,
                                         cross_attention_dim=16, num_layers=2, caption_channels=24)
randomize_(transformer, 3, 0.1)
scheduler = FlowMatchEulerDiscreteScheduler(shift_terminal=0.1, base_shift=0.95, max_shift=2.05,
                                            base_image_seq_len=1024, max_image_seq_len=4096)
pipe = LTXConditionPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tok,
                            transformer=transformer)
pipe.set_progress_bar_config(disable=True)
pipe.save_pretrained(f"{out}/pipeline")
if save_only:
    sys.exit(0)
# Run what diffusers loads back from the folder (the saved tokenizer is what both sides read).
pipe = LTXConditionPipeline.from_pretrained(f"{out}/pipeline")
pipe.set_progress_bar_config(disable=True)

# Record every random draw, in order.
draws = []
original_randn = cond_module.randn_tensor


def recording_randn(shape, generator=None, device=None, dtype=None, layout=None):
    t = original_randn(shape, generator=generator, device=device, dtype=dtype)
    draws.append(t.clone())
    return t


cond_module.randn_tensor = recording_randn
cond_module.retrieve_latents = lambda output, generator=None, sample_mode="sample": output.latent_dist.mode()

g = torch.Generator().manual_seed(11)
H = W = 64
cases = [
    # image-to-video: a still pinned at frame 0
    dict(prompt="a red ball bounces across green grass", negative_prompt="", num_frames=9, steps=2, guidance=3.0,
         conditions=[dict(frames=1, frame_index=0, strength=1.0)], image_cond_noise_scale=0.15,
         decode_timestep=0.05, decode_noise_scale=0.025),
    # keyframes on both sides (generative infill) and a clip placed mid-way, text guidance off
    dict(prompt="the camera pans left over calm blue sea", negative_prompt="night rain", num_frames=25, steps=2,
         guidance=1.0, conditions=[dict(frames=1, frame_index=0, strength=1.0),
                                   dict(frames=17, frame_index=8, strength=0.8)],
         image_cond_noise_scale=0.15, decode_timestep=0.0, decode_noise_scale=None),
    # text-to-video, no conditions, guidance on
    dict(prompt="train arrives station at night", negative_prompt="city lights", num_frames=17, steps=3,
         guidance=4.0, conditions=[], image_cond_noise_scale=0.15, decode_timestep=0.05, decode_noise_scale=0.025),
]
for i, case in enumerate(cases):
    draws.clear()
    tensors = {}
    conditions = []
    for j, c in enumerate(case["conditions"]):
        frames = torch.rand(c["frames"], 3, H, W, generator=g)
        tensors[f"condition{j}"] = frames  # [F, 3, H, W] in [0, 1]
        if c["frames"] == 1:
            conditions.append(LTXVideoCondition(image=frames, frame_index=c["frame_index"], strength=c["strength"]))
        else:
            conditions.append(LTXVideoCondition(video=frames, frame_index=c["frame_index"], strength=c["strength"]))
    video = pipe(conditions=conditions or None, prompt=case["prompt"], negative_prompt=case["negative_prompt"],
                 height=H, width=W, num_frames=case["num_frames"], frame_rate=25, num_inference_steps=case["steps"],
                 guidance_scale=case["guidance"], image_cond_noise_scale=case["image_cond_noise_scale"],
                 decode_timestep=case["decode_timestep"], decode_noise_scale=case["decode_noise_scale"],
                 generator=torch.Generator().manual_seed(100 + i), output_type="pt", max_sequence_length=32).frames
    tensors["video"] = video[0]  # [F, 3, H, W] in [0, 1]
    for k, d in enumerate(draws):
        tensors[f"draw{k}"] = d
    save(f"{out}/case{i}.safetensors", tensors)
    case["draws"] = len(draws)
json.dump(cases, open(f"{out}/cases.json", "w"))
