//! Latents narrowed to their principal components, with the VAE and the transformer rewritten to
//! match (`genvideo-narrow-latents`).
//!
//! A transformer sees a token only through `proj_in` and answers only through `proj_out`, both of
//! rank `inner_dim` at most. Where a token is wider than that (the 4x spatial / 4x temporal VAE's
//! 32 channels in 4x4 patches: 512 values into 192), the velocity it predicts has no component in
//! the rest of the token's space: the sampler never removes the starting noise there, and the
//! flow-matching loss cannot fall below that share of the noise. Keeping the latents' top
//! principal components makes the token as narrow as the transformer. With `P` (`[K, C]`,
//! orthonormal rows) the components of `z / s` (uncentred, `s` the per-channel std):
//! - encoder `conv_out`: the mean rows become `P diag(1/s) W` (the shared log-variance row stays);
//! - decoder `conv_in`: `W diag(s) Pᵀ`, so it reads the components as it read the channels (exactly
//!   where `m / s` lies in the kept span, which the uncentred components nearly hold; the share
//!   left out is printed by the tool);
//! - `latents_mean` = `P (m / s)`, `latents_std` = 1: the normalised latents are `P (z - m) / s`,
//!   the old normalised latents projected;
//! - transformer `proj_in` = `W_in (Pᵀ ⊗ I)`, `proj_out` = `(P ⊗ I) W_out`: attention, text and
//!   timing see what they saw, restricted to the kept subspace.

use tch::{Kind, Tensor};

/// Principal directions of `y` (`[C, n]`, uncentred): eigenvalues of `y yᵀ / n`, largest first,
/// and the directions as the rows of a `[C, C]` matrix.
pub fn principal_components(y: &Tensor) -> (Tensor, Tensor) {
    let y = y.to_kind(Kind::Double);
    let n = y.size()[1] as f64;
    let (values, vectors) = y.matmul(&y.tr()).divide_scalar(n).linalg_eigh("L");
    let order = values.argsort(0, true);
    (values.index_select(0, &order), vectors.index_select(1, &order).tr())
}

/// What of `x` (`[C, ...]`) lies outside the span of `p`'s rows (`[K, C]`, orthonormal).
pub fn outside(p: &Tensor, x: &Tensor) -> Tensor {
    x - p.tr().matmul(&p.matmul(x))
}

/// `f` applied to tensor `name` in double precision, stored back in its own kind.
fn rewrite(tensors: &mut [(String, Tensor)], name: &str, f: impl FnOnce(&Tensor) -> Tensor) -> Result<(), String> {
    let (_, t) = tensors.iter_mut().find(|(n, _)| n == name).ok_or_else(|| format!("no {name} in the weights"))?;
    let kind = t.kind();
    *t = f(&t.to_kind(Kind::Double)).to_kind(kind).contiguous();
    Ok(())
}

/// The VAE's weights for latents `P z / s` instead of `z` (`s`, `m`: its latents_std and _mean).
pub fn narrow_vae(tensors: &mut [(String, Tensor)], p: &Tensor, s: &Tensor, m: &Tensor) -> Result<(), String> {
    let (p, s, m) = (p.to_kind(Kind::Double), s.to_kind(Kind::Double), m.to_kind(Kind::Double));
    let (k, c) = (p.size()[0], p.size()[1]);
    let to_components = &p / s.unsqueeze(0); // P diag(1/s)
    rewrite(tensors, "encoder.conv_out.conv.weight", |w| {
        let mut shape = w.size(); // [C + 1, in, kt, kh, kw]
        shape[0] = k;
        let means = to_components.matmul(&w.narrow(0, 0, c).reshape([c, -1])).reshape(shape.as_slice());
        Tensor::cat(&[means, w.narrow(0, c, 1)], 0)
    })?;
    rewrite(tensors, "encoder.conv_out.conv.bias", |b| Tensor::cat(&[to_components.matmul(&b.narrow(0, 0, c)), b.narrow(0, c, 1)], 0))?;
    rewrite(tensors, "decoder.conv_in.conv.weight", |w| {
        let mut shape = w.size(); // [out, C, kt, kh, kw]
        shape.swap(0, 1);
        shape[0] = k;
        let per_channel = w.transpose(0, 1).reshape([c, -1]);
        (&p * s.unsqueeze(0)).matmul(&per_channel).reshape(shape.as_slice()).transpose(0, 1)
    })?;
    rewrite(tensors, "latents_mean", |_| p.matmul(&(&m / &s)))?;
    rewrite(tensors, "latents_std", |t| t.ones_like().narrow(0, 0, k))
}

/// The transformer's weights for tokens of `P`'s components: `per_token` values per channel
/// (patch_size² x patch_size_t), channel-major as `pack_latents` lays them out.
pub fn narrow_transformer(tensors: &mut [(String, Tensor)], p: &Tensor, per_token: i64) -> Result<(), String> {
    let p = p.to_kind(Kind::Double);
    let (k, c) = (p.size()[0], p.size()[1]);
    rewrite(tensors, "proj_in.weight", |w| {
        let d = w.size()[0];
        Tensor::einsum("dcj,kc->dkj", &[w.reshape([d, c, per_token]), p.shallow_clone()], None::<&[i64]>).reshape([d, k * per_token])
    })?;
    rewrite(tensors, "proj_out.weight", |w| {
        let d = w.size()[1];
        Tensor::einsum("kc,cjd->kjd", &[p.shallow_clone(), w.reshape([c, per_token, d])], None::<&[i64]>).reshape([k * per_token, d])
    })?;
    rewrite(tensors, "proj_out.bias", |b| p.matmul(&b.reshape([c, per_token])).reshape([k * per_token]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::autoencoder_kl_ltx::{AutoencoderKlLtxVideo, AutoencoderKlLtxVideoConfig};
    use models::pipeline_ltx::{pack_latents, unpack_latents};
    use models::transformer_ltx::{LtxVideoTransformer3DModel, LtxVideoTransformer3DModelConfig};
    use tch::nn::VarStore;
    use tch::Device;

    fn variables(vs: &VarStore) -> Vec<(String, Tensor)> {
        vs.variables().into_iter().map(|(n, t)| (n, t.detach().copy())).collect()
    }

    fn load(vs: &VarStore, tensors: &[(String, Tensor)]) {
        let mut vars = vs.variables();
        tch::no_grad(|| {
            for (name, t) in tensors {
                vars.get_mut(name).unwrap_or_else(|| panic!("{name}")).copy_(t);
            }
        });
    }

    /// `[K, C]` with orthonormal rows, the first along `along` (`[C]`).
    fn orthonormal_rows(k: i64, along: &Tensor) -> Tensor {
        let c = along.size()[0];
        let a = Tensor::randn([c, c], (Kind::Double, Device::Cpu));
        a.narrow(1, 0, 1).copy_(&along.to_kind(Kind::Double).unsqueeze(1));
        let (q, _) = Tensor::linalg_qr(&a, "reduced");
        q.narrow(1, 0, k).tr().contiguous()
    }

    fn rel(a: &Tensor, b: &Tensor) -> f64 {
        let d = (a - b).abs().max().double_value(&[]);
        d / b.abs().max().double_value(&[]).max(1e-12)
    }

    #[test]
    fn narrowed_vae_gives_the_projected_latents_and_decodes_them_as_before() {
        tch::manual_seed(3);
        let (c, k) = (8, 5);
        let cfg = AutoencoderKlLtxVideoConfig {
            latent_channels: c,
            block_out_channels: vec![8, 16, 16, 16],
            decoder_block_out_channels: vec![8, 16, 16, 16],
            layers_per_block: vec![1; 5],
            decoder_layers_per_block: vec![1; 5],
            spatio_temporal_scaling: vec![true, true, false, false],
            decoder_spatio_temporal_scaling: vec![true, true, false, false],
            patch_size: 1,
            ..Default::default()
        };
        let vs = VarStore::new(Device::Cpu);
        let old = AutoencoderKlLtxVideo::new(&vs.root(), cfg.clone()).unwrap();
        crate::init::initialise(&vs, &[]);
        let mut tensors = variables(&vs);
        let (m, s) = (Tensor::randn([c], (Kind::Float, Device::Cpu)), Tensor::rand([c], (Kind::Float, Device::Cpu)) + 0.5);
        for (name, t) in tensors.iter_mut() {
            match name.as_str() {
                "latents_mean" => *t = m.copy(),
                "latents_std" => *t = s.copy(),
                _ => {}
            }
        }
        load(&vs, &tensors);
        // The uncentred components of z / s hold the mean's direction m / s, as the tool's do.
        let p = orthonormal_rows(k, &(&m / &s));
        narrow_vae(&mut tensors, &p, &s, &m).unwrap();
        let vs2 = VarStore::new(Device::Cpu);
        let new = AutoencoderKlLtxVideo::new(&vs2.root(), AutoencoderKlLtxVideoConfig { latent_channels: k, ..cfg }).unwrap();
        load(&vs2, &tensors);

        let _g = tch::no_grad_guard();
        let video = Tensor::rand([1, 3, 9, 16, 16], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
        let z_old = old.normalize_latents(&old.encode(&video).unwrap(), 1.0).unwrap();
        let z_new = new.normalize_latents(&new.encode(&video).unwrap(), 1.0).unwrap();
        let projected = Tensor::einsum("kc,bcfhw->bkfhw", &[p.to_kind(Kind::Float), z_old], None::<&[i64]>);
        assert_eq!(z_new.size(), projected.size());
        let e = rel(&z_new, &projected);
        println!("encoder: relative error {e:.2e}");
        assert!(e < 1e-5, "encoder {e}");

        // Latents inside the kept subspace decode exactly as the old VAE decodes them.
        let u = Tensor::randn(z_new.size(), (Kind::Float, Device::Cpu));
        let lifted = Tensor::einsum("kc,bkfhw->bcfhw", &[p.to_kind(Kind::Float), u.shallow_clone()], None::<&[i64]>);
        let x_new = new.decode(&new.denormalize_latents(&u, 1.0).unwrap(), None).unwrap();
        let x_old = old.decode(&old.denormalize_latents(&lifted, 1.0).unwrap(), None).unwrap();
        let e = rel(&x_new, &x_old);
        println!("decoder: relative error {e:.2e}");
        assert!(e < 1e-5, "decoder {e}");
    }

    #[test]
    fn narrowed_transformer_answers_with_the_projected_velocity() {
        tch::manual_seed(4);
        let (c, k, p) = (8, 5, 2);
        let json = r#"{"in_channels": 32, "out_channels": 32, "patch_size": 2, "num_attention_heads": 2,
                       "attention_head_dim": 8, "cross_attention_dim": 16, "num_layers": 1, "caption_channels": 6}"#;
        let cfg: LtxVideoTransformer3DModelConfig = serde_json::from_str(json).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let old = LtxVideoTransformer3DModel::new(&vs.root(), cfg.clone()).unwrap();
        crate::init::initialise(&vs, &[]);
        let mut tensors = variables(&vs);
        let pc = orthonormal_rows(k, &Tensor::randn([c], (Kind::Double, Device::Cpu)));
        narrow_transformer(&mut tensors, &pc, p * p).unwrap();
        let narrowed = LtxVideoTransformer3DModelConfig { in_channels: k * p * p, out_channels: Some(k * p * p), ..cfg };
        let vs2 = VarStore::new(Device::Cpu);
        let new = LtxVideoTransformer3DModel::new(&vs2.root(), narrowed).unwrap();
        load(&vs2, &tensors);

        let _g = tch::no_grad_guard();
        let (lf, lh, lw) = (3, 4, 4);
        let u = Tensor::randn([1, k, lf, lh, lw], (Kind::Float, Device::Cpu));
        let pf = pc.to_kind(Kind::Float);
        let lifted = Tensor::einsum("kc,bkfhw->bcfhw", &[pf.shallow_clone(), u.shallow_clone()], None::<&[i64]>);
        let text = Tensor::randn([1, 5, 6], (Kind::Float, Device::Cpu));
        let t = Tensor::from_slice(&[700f32]);
        let run = |model: &LtxVideoTransformer3DModel, x: &Tensor| {
            let tokens = pack_latents(x, p, 1).unwrap();
            let v = model.forward(&tokens, &text, &t, None, lf, lh / p, lw / p, (1.0, 1.0, 1.0), None).unwrap();
            unpack_latents(&v, lf, lh / p, lw / p, p, 1).unwrap()
        };
        let v_new = run(&new, &u);
        let v_old = Tensor::einsum("kc,bcfhw->bkfhw", &[pf, run(&old, &lifted)], None::<&[i64]>);
        let e = rel(&v_new, &v_old);
        println!("transformer: relative error {e:.2e}");
        assert!(e < 1e-5, "transformer {e}");
    }
}
