//! Generated segments, made once per parameter hash and served to every per-frame Render.
//!
//! Hosts render frame by frame, often on several threads at once, while generation is
//! clip-level and takes minutes. The first Render that needs a segment generates it; Renders of
//! other frames of the same segment wait for it (polling their own abort flag) instead of
//! starting a second generation. Finished segments stay in memory, least recently used first
//! out, within a byte budget (`GENVIDEO_CACHE_MB`, default 4096).
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tch::Tensor;

use crate::PluginError;

/// Frames `[3, H, W]` f32 display-referred on the CPU, at the generation's full resolution.
pub struct Segment {
    pub frames: Vec<Tensor>,
}

// SAFETY: the tensors are CPU tensors never mutated after the segment is built; libtorch
// tensors may be read from several threads at once.
unsafe impl Send for Segment {}
unsafe impl Sync for Segment {}

impl Segment {
    fn bytes(&self) -> usize {
        self.frames.iter().map(|f| f.numel() * 4).sum()
    }
}

enum Slot {
    Ready(Arc<Segment>),
    /// Someone is generating it; waiters sleep on the condvar.
    Running,
}

struct Cache {
    slots: HashMap<u64, (Slot, u64)>,
    clock: u64,
    budget: usize,
}

struct Shared {
    cache: Mutex<Cache>,
    changed: Condvar,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let mb = std::env::var("GENVIDEO_CACHE_MB").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(4096);
        Shared {
            cache: Mutex::new(Cache { slots: HashMap::new(), clock: 0, budget: mb << 20 }),
            changed: Condvar::new(),
        }
    })
}

/// Returns the segment for `key`, generating it with `make` unless it is cached or being made.
/// `aborted` is polled while waiting for another thread's generation.
pub fn get_or_make(
    key: u64,
    aborted: &dyn Fn() -> bool,
    make: impl FnOnce() -> Result<Segment, PluginError>,
) -> Result<Arc<Segment>, PluginError> {
    let s = shared();
    {
        let mut cache = s.cache.lock();
        loop {
            cache.clock += 1;
            let now = cache.clock;
            match cache.slots.get_mut(&key) {
                Some((Slot::Ready(seg), used)) => {
                    *used = now;
                    return Ok(seg.clone());
                }
                Some((Slot::Running, _)) => {
                    if aborted() {
                        return Err(PluginError::Aborted);
                    }
                    s.changed.wait_for(&mut cache, Duration::from_millis(200));
                }
                None => {
                    cache.slots.insert(key, (Slot::Running, now));
                    break;
                }
            }
        }
    }
    // Whatever happens in `make` (error, cancel, panic caught at the entry point), the Running
    // mark must go, or every later Render of this segment would wait forever.
    struct Unmark(u64);
    impl Drop for Unmark {
        fn drop(&mut self) {
            let s = shared();
            let mut cache = s.cache.lock();
            if matches!(cache.slots.get(&self.0), Some((Slot::Running, _))) {
                cache.slots.remove(&self.0);
            }
            s.changed.notify_all();
        }
    }
    let unmark = Unmark(key);
    let segment = Arc::new(make()?);
    {
        let mut cache = s.cache.lock();
        cache.clock += 1;
        let now = cache.clock;
        cache.slots.insert(key, (Slot::Ready(segment.clone()), now));
        evict(&mut cache, key);
    }
    drop(unmark);
    Ok(segment)
}

/// Drops least recently used segments beyond the budget, never the one just made.
fn evict(cache: &mut Cache, keep: u64) {
    loop {
        let total: usize = cache
            .slots
            .values()
            .map(|(slot, _)| if let Slot::Ready(seg) = slot { seg.bytes() } else { 0 })
            .sum();
        if total <= cache.budget {
            return;
        }
        let oldest = cache
            .slots
            .iter()
            .filter(|(k, (slot, _))| **k != keep && matches!(slot, Slot::Ready(_)))
            .min_by_key(|(_, (_, used))| *used)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                cache.slots.remove(&k);
            }
            None => return,
        }
    }
}

/// A stable 64-bit hash (FNV-1a) of everything that decides a segment's pixels; stable across
/// runs so a disk cache or log can refer to it.
#[derive(Clone)]
pub struct KeyHasher(u64);

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl KeyHasher {
    pub fn bytes(&mut self, data: &[u8]) -> &mut Self {
        for b in data {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn num(&mut self, v: f64) -> &mut Self {
        self.bytes(&v.to_le_bytes())
    }

    /// Pixels: hashed from a float copy, so the same frame hashes the same at any bit depth path.
    pub fn tensor(&mut self, t: &Tensor) -> Result<&mut Self, PluginError> {
        let flat = t.f_to_kind(tch::Kind::Float)?.f_contiguous()?.f_view([-1])?;
        let values: Vec<f32> = Vec::<f32>::try_from(&flat).map_err(models::ModelError::from)?;
        let mut bytes = Vec::with_capacity(values.len() * 4);
        values.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        Ok(self.bytes(&bytes))
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn seg(n: usize) -> Segment {
        Segment { frames: (0..n).map(|_| Tensor::zeros([3, 4, 4], (tch::Kind::Float, tch::Device::Cpu))).collect() }
    }

    #[test]
    fn concurrent_requests_generate_once() {
        let made = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let made = made.clone();
                std::thread::spawn(move || {
                    get_or_make(0xA11, &|| false, || {
                        made.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(300));
                        Ok(seg(2))
                    })
                    .map(|s| s.frames.len())
                    .unwrap()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 2);
        }
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_generation_is_not_cached_and_waiters_can_abort() {
        let err = get_or_make(0xB22, &|| false, || Err(PluginError::Aborted));
        assert!(err.is_err());
        let ok = get_or_make(0xB22, &|| false, || Ok(seg(1))).unwrap();
        assert_eq!(ok.frames.len(), 1);

        let gate = Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        let maker = std::thread::spawn(move || {
            get_or_make(0xC33, &|| false, || {
                g.wait();
                std::thread::sleep(Duration::from_millis(600));
                Ok(seg(1))
            })
            .is_ok()
        });
        gate.wait();
        let waited = get_or_make(0xC33, &|| true, || Ok(seg(1)));
        assert!(matches!(waited, Err(PluginError::Aborted)));
        assert!(maker.join().unwrap());
    }

    #[test]
    fn key_hash_separates_fields() {
        let a = KeyHasher::default().str("ab").str("c").finish();
        let b = KeyHasher::default().str("a").str("bc").finish();
        assert_ne!(a, b);
        assert_eq!(a, KeyHasher::default().str("ab").str("c").finish());
    }
}
