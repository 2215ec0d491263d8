"""Reference for tests/autoencoder_kl_ltx_parity.rs: diffusers' AutoencoderKLLTXVideo on small random
configurations of each checkpoint generation (0.9.0 blocks; 0.9.1 timestep conditioning, noise injection,
residual upsamplers; 0.9.5 folding downsamplers, explicit compression ratios, causal decoder).

For each configuration NAME it writes OUT/NAME/ (a save_pretrained folder: config.json and
diffusion_pytorch_model.safetensors), OUT/NAME/io.safetensors (inputs and diffusers' outputs) and
OUT/NAME/cases.json (what each output is: operation, input, timestep, tiling settings, noise seed).

Noise injection draws torch.randn from the global generator (decode passes generator=None), once per noisy
resnet and tile in a fixed order. Each decode runs right after torch.manual_seed(seed), so the Rust side,
seeding libtorch's global generator the same way, must reproduce it exactly: parity covers the noise too.

Usage: autoencoder_kl_ltx_reference.py OUT
"""
import json
import os
import sys
import types

import torch
from diffusers import AutoencoderKLLTXVideo, LTXPipeline
from diffusers.models.autoencoders.vae import DecoderOutput

from common import deterministic, randomize_, save

CONFIGS = {
    # 0.9.0: LTXVideoDownBlock3D everywhere, width changes through resnet conv_out/conv_in, no conditioning.
    "v090": dict(
        config=dict(
            latent_channels=8,
            block_out_channels=(8, 16, 16, 24),
            decoder_block_out_channels=(8, 16, 16, 24),
            layers_per_block=(1, 2, 1, 1, 2),
            decoder_layers_per_block=(2, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_spatio_temporal_scaling=(True, True, True, False),
            patch_size=4,
            scaling_factor=0.7,
        ),
        scale=0.08,
        tile=dict(h=64, w=64, sh=32, sw=32, f=16, sf=8),
        video=(2, 9, 64, 96),
        latent=(2, 3, 2, 3),
        temb=None,
        tiled_encode=(1, 9, 96, 128),
        tiled_decode=(1, 2, 3, 4),
        framewise_encode=(1, 33, 64, 64),
        framewise_decode=(1, 5, 2, 2),
        both_encode=(1, 25, 96, 64),
        both_decode=(1, 4, 3, 2),
    ),
    # 0.9.1: timestep-conditioned decoder with noise injection and residual depth-to-space upsamplers
    # (upsample_factor 2), non-causal encoder.
    "v091": dict(
        config=dict(
            latent_channels=16,
            block_out_channels=(8, 16, 32, 32),
            layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, True, False),
            decoder_block_out_channels=(16, 32, 64),
            decoder_layers_per_block=(1, 1, 2, 1),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(True, True, False, True),
            upsample_residual=(True, False, True),
            upsample_factor=(2, 2, 2),
            timestep_conditioning=True,
            encoder_causal=False,
            patch_size=4,
        ),
        scale=0.08,
        tile=dict(h=64, w=64, sh=32, sw=32, f=16, sf=8),
        video=(1, 17, 64, 64),
        latent=(2, 2, 2, 2),
        temb=[0.05, 0.4],
        tiled_encode=(1, 9, 96, 64),
        tiled_decode=(1, 2, 3, 3),
        framewise_encode=(1, 25, 32, 32),
        framewise_decode=(1, 4, 2, 2),
    ),
    # 0.9.5: LTXVideo095DownBlock3D with every downsample_type, explicit compression ratios (the diffusers
    # fallback formula would say 2 * 2**4 = 32), patch_size 2, causal decoder, conditioned without noise.
    "v095": dict(
        config=dict(
            latent_channels=8,
            block_out_channels=(8, 16, 16, 32, 64),
            down_block_types=("LTXVideo095DownBlock3D",) * 4,
            layers_per_block=(1, 1, 2, 1, 1),
            spatio_temporal_scaling=(True, True, True, True),
            downsample_type=("spatial", "conv", "temporal", "spatiotemporal"),
            decoder_block_out_channels=(16, 32, 64),
            decoder_layers_per_block=(1, 1, 1, 2),
            decoder_spatio_temporal_scaling=(True, True, True),
            decoder_inject_noise=(False, False, False, False),
            upsample_residual=(True, True, False),
            upsample_factor=(2, 2, 2),
            timestep_conditioning=True,
            patch_size=2,
            decoder_causal=True,
            spatial_compression_ratio=16,
            temporal_compression_ratio=8,
        ),
        scale=0.08,
        tile=dict(h=32, w=32, sh=16, sw=16, f=16, sf=8),
        video=(1, 17, 48, 32),
        latent=(1, 3, 3, 2),
        temb=[0.2],
        tiled_encode=(1, 9, 64, 48),
        tiled_decode=(1, 2, 4, 3),
        framewise_encode=(1, 25, 32, 32),
        framewise_decode=(1, 4, 2, 2),
    ),
}


def aligned_temporal_tiled_decode(self, z, temb, return_dict=True):
    """diffusers' _temporal_tiled_decode with its one-frame slip fixed: later windows drop their first frame
    (which the previous window already produced), not their last. Mirrors the Rust TemporalSeam::Aligned."""
    batch_size, num_channels, num_frames, height, width = z.shape
    num_sample_frames = (num_frames - 1) * self.temporal_compression_ratio + 1
    tile_latent_min_height = self.tile_sample_min_height // self.spatial_compression_ratio
    tile_latent_min_width = self.tile_sample_min_width // self.spatial_compression_ratio
    tile_latent_min_num_frames = self.tile_sample_min_num_frames // self.temporal_compression_ratio
    tile_latent_stride_num_frames = self.tile_sample_stride_num_frames // self.temporal_compression_ratio
    blend_num_frames = self.tile_sample_min_num_frames - self.tile_sample_stride_num_frames
    row = []
    for i in range(0, num_frames, tile_latent_stride_num_frames):
        tile = z[:, :, i : i + tile_latent_min_num_frames + 1, :, :]
        if self.use_tiling and (tile.shape[-1] > tile_latent_min_width or tile.shape[-2] > tile_latent_min_height):
            decoded = self.tiled_decode(tile, temb, return_dict=True).sample
        else:
            decoded = self.decoder(tile, temb)
        if i > 0:
            decoded = decoded[:, :, 1:, :, :]
        row.append(decoded)
    result_row = []
    for i, tile in enumerate(row):
        if i > 0:
            tile = self.blend_t(row[i - 1], tile, blend_num_frames)
            result_row.append(tile[:, :, : self.tile_sample_stride_num_frames, :, :])
        else:
            result_row.append(tile[:, :, : self.tile_sample_stride_num_frames + 1, :, :])
    dec = torch.cat(result_row, dim=2)[:, :, :num_sample_frames]
    return DecoderOutput(sample=dec) if return_dict else (dec,)


def set_tiling(vae, tile, spatial, framewise, slicing, aligned):
    vae.use_tiling = spatial
    # diffusers' _encode keys temporal windows on use_framewise_decoding, so both follow `framewise`.
    vae.use_framewise_encoding = framewise
    vae.use_framewise_decoding = framewise
    vae.use_slicing = slicing
    vae.tile_sample_min_height, vae.tile_sample_min_width = tile["h"], tile["w"]
    vae.tile_sample_stride_height, vae.tile_sample_stride_width = tile["sh"], tile["sw"]
    vae.tile_sample_min_num_frames, vae.tile_sample_stride_num_frames = tile["f"], tile["sf"]
    if aligned:
        vae._temporal_tiled_decode = types.MethodType(aligned_temporal_tiled_decode, vae)
    elif "_temporal_tiled_decode" in vae.__dict__:
        del vae._temporal_tiled_decode


def build(name, spec, out):
    deterministic(0)
    vae = AutoencoderKLLTXVideo(**spec["config"]).eval()
    randomize_(vae, seed=len(name) * 7 + sum(map(ord, name)), scale=spec["scale"])
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        if vae.decoder.timestep_scale_multiplier is not None:
            vae.decoder.timestep_scale_multiplier.fill_(1000.0)
        c = vae.latents_mean.shape[0]
        vae.latents_mean.copy_(torch.randn(c, generator=g) * 0.5)
        vae.latents_std.copy_(torch.rand(c, generator=g) + 0.5)
    folder = os.path.join(out, name)
    vae.save_pretrained(folder)

    c_lat = spec["config"]["latent_channels"]
    tensors, cases = {}, []
    gen = torch.Generator().manual_seed(1234)

    def video(shape):
        b, f, h, w = shape
        return torch.rand((b, 3, f, h, w), generator=gen) * 2 - 1

    def latent(shape):
        b, f, h, w = shape
        return torch.randn((b, c_lat, f, h, w), generator=gen)

    def temb_for(batch):
        if spec["temb"] is None:
            return None
        values = spec["temb"] if len(spec["temb"]) == batch else spec["temb"][:1] * batch
        return torch.tensor(values, dtype=torch.float32)

    def case(label, op, x, spatial=False, framewise=False, slicing=False, aligned=False):
        set_tiling(vae, spec["tile"], spatial, framewise, slicing, aligned)
        key_in = f"{label}.input"
        tensors[key_in] = x.clone()
        entry = dict(name=label, op=op, input=key_in, output=f"{label}.output", temb=None, seed=None,
                     spatial=spatial, framewise=framewise, slicing=slicing, aligned=aligned, tile=spec["tile"])
        with torch.no_grad():
            if op == "encode":
                y = vae.encode(x).latent_dist.mode()
            else:
                t = temb_for(x.shape[0])
                if t is not None:
                    entry["temb"] = f"{label}.temb"
                    tensors[entry["temb"]] = t
                # Seeded only where noise is drawn, so that other tests running beside it in the Rust test
                # binary never reseed the global generator under the one that needs it.
                if any(spec["config"].get("decoder_inject_noise", ())):
                    entry["seed"] = 1000 + len(cases)
                    torch.manual_seed(entry["seed"])
                y = vae.decode(x, t).sample
        tensors[entry["output"]] = y
        cases.append(entry)
        return y

    latents = case("encode", "encode", video(spec["video"]))
    case("decode", "decode", latent(spec["latent"]))
    case("tiled_encode", "encode", video(spec["tiled_encode"]), spatial=True)
    case("tiled_decode", "decode", latent(spec["tiled_decode"]), spatial=True)
    case("framewise_encode", "encode", video(spec["framewise_encode"]), framewise=True)
    z = latent(spec["framewise_decode"])
    case("framewise_decode", "decode", z, framewise=True)
    case("framewise_decode_aligned", "decode", z, framewise=True, aligned=True)
    if "both_encode" in spec:
        case("both_encode", "encode", video(spec["both_encode"]), spatial=True, framewise=True)
        case("both_decode_aligned", "decode", latent(spec["both_decode"]), spatial=True, framewise=True,
             aligned=True)
    if spec["video"][0] > 1:
        case("sliced_encode", "encode", tensors["encode.input"], slicing=True)
    set_tiling(vae, spec["tile"], False, False, False, False)

    sf = spec["config"].get("scaling_factor", 1.0)
    tensors["normalized"] = LTXPipeline._normalize_latents(latents, vae.latents_mean, vae.latents_std, sf)
    tensors["denormalized"] = LTXPipeline._denormalize_latents(latents, vae.latents_mean, vae.latents_std, sf)
    save(os.path.join(folder, "io.safetensors"), tensors)
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(dict(scaling_factor=sf, cases=cases), f, indent=1)
    scale = {k: round(v.abs().max().item(), 3) for k, v in tensors.items() if k.endswith(".output")}
    print(name, scale)


def main():
    out = sys.argv[1]
    only = sys.argv[2:] or list(CONFIGS)
    for name in only:
        build(name, CONFIGS[name], out)


if __name__ == "__main__":
    main()
