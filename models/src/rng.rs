//! The one way to libtorch's random numbers in this workspace.
//!
//! libtorch has a single process-wide CPU generator and tch 0.24 gives no private `Generator`,
//! so a seeded draw is reproducible only if nothing draws between its seeding and its draw.
//! Every draw in a process that may render or test on several threads at once goes through
//! this lock, unseeded draws included: an unlocked `Tensor::rand` on another thread advances
//! the generator under a seeded one. (The trainer owns its process and seeds directly.)

use parking_lot::{const_reentrant_mutex, ReentrantMutex};
use tch::{Device, Kind, Tensor};

// Reentrant so that a seeded closure may call code that draws (a seeded `vae.decode`).
static GENERATOR: ReentrantMutex<()> = const_reentrant_mutex(());

/// `draw` run right after `tch::manual_seed(seed)`, with no other draw in between.
pub fn seeded<T>(seed: i64, draw: impl FnOnce() -> T) -> T {
    let _guard = GENERATOR.lock();
    tch::manual_seed(seed);
    draw()
}

/// `draw` from wherever the generator stands, without disturbing a seeded draw elsewhere.
pub fn unseeded<T>(draw: impl FnOnce() -> T) -> T {
    let _guard = GENERATOR.lock();
    draw()
}

/// Uniform [0, 1) float32 on the CPU, unseeded (test inputs).
pub fn rand(shape: &[i64]) -> Tensor {
    unseeded(|| Tensor::rand(shape, (Kind::Float, Device::Cpu)))
}

/// Standard normal float32 on the CPU, unseeded (test inputs).
pub fn randn(shape: &[i64]) -> Tensor {
    unseeded(|| Tensor::randn(shape, (Kind::Float, Device::Cpu)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_draw_is_not_disturbed_by_draws_on_other_threads() {
        let want = seeded(11, || randn(&[256]));
        let noisy = std::thread::spawn(|| {
            for _ in 0..2000 {
                let _ = rand(&[64]);
            }
        });
        for _ in 0..200 {
            assert!(seeded(11, || randn(&[256])).equal(&want));
        }
        noisy.join().unwrap();
    }
}
