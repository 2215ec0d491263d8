//! Generated segments, made once per parameter hash and served to every per-frame Render.
//!
//! Hosts render frame by frame, often on several threads at once, while generation is
//! clip-level and takes minutes. The first Render that needs a segment generates it; Renders of
//! other frames of the same segment wait for it (polling their own abort flag) instead of
//! starting a second generation. Finished segments stay in memory, least recently used first
//! out, within a byte budget (`GENVIDEO_CACHE_MB`, default 4096), and on disk as 16-bit frames
//! (`GENVIDEO_CACHE_DIR`, default `~/.cache/genvideo/segments`, oldest out beyond
//! `GENVIDEO_DISK_CACHE_MB`, default 20480), so reopening a project does not generate again.
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
    let segment = match disk::load(key) {
        Some(seg) => Arc::new(seg),
        None => {
            let seg = make()?;
            disk::store(key, &seg);
            Arc::new(seg)
        }
    };
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

/// The disk tier. Best effort: an unwritable or damaged cache only costs a regeneration.
mod disk {
    use super::Segment;
    use std::io::{Read, Write};
    use std::path::PathBuf;
    use tch::Tensor;

    const MAGIC: &[u8; 8] = b"GVSEG16\n";

    fn dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("GENVIDEO_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        Some(PathBuf::from(std::env::var_os("HOME")?).join(".cache/genvideo/segments"))
    }

    fn path(key: u64) -> Option<PathBuf> {
        Some(dir()?.join(format!("{key:016x}.seg")))
    }

    pub fn load(key: u64) -> Option<Segment> {
        let mut file = std::fs::File::open(path(key)?).ok()?;
        let mut head = [0u8; 8 + 4 * 8];
        file.read_exact(&mut head).ok()?;
        if &head[..8] != MAGIC {
            return None;
        }
        let dims: Vec<i64> = head[8..].chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as i64).collect();
        let (n, c, h, w) = (dims[0], dims[1], dims[2], dims[3]);
        let per = (c * h * w) as usize;
        if n <= 0 || per == 0 || n > 100_000 || per > 1 << 28 {
            return None;
        }
        let mut bytes = vec![0u8; per * 2];
        let mut frames = Vec::with_capacity(n as usize);
        for _ in 0..n {
            file.read_exact(&mut bytes).ok()?;
            let values: Vec<f32> = bytes.chunks(2).map(|b| u16::from_le_bytes([b[0], b[1]]) as f32 / 65535.0).collect();
            frames.push(Tensor::f_from_slice(&values).ok()?.f_view([c, h, w]).ok()?);
        }
        Some(Segment { frames })
    }

    pub fn store(key: u64, seg: &Segment) {
        let (Some(dir), Some(path)) = (dir(), path(key)) else { return };
        let Some(first) = seg.frames.first() else { return };
        let size = first.size();
        if std::fs::create_dir_all(&dir).is_err() || size.len() != 3 {
            return;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = (|| -> Option<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).ok()?);
            f.write_all(MAGIC).ok()?;
            for d in [seg.frames.len() as i64, size[0], size[1], size[2]] {
                f.write_all(&(d as u64).to_le_bytes()).ok()?;
            }
            for frame in &seg.frames {
                let flat = frame.f_contiguous().ok()?.f_view([-1]).ok()?;
                let values = Vec::<f32>::try_from(&flat).ok()?;
                let bytes: Vec<u8> =
                    values.iter().flat_map(|v| ((v.clamp(0.0, 1.0) * 65535.0).round() as u16).to_le_bytes()).collect();
                f.write_all(&bytes).ok()?;
            }
            f.flush().ok()
        })();
        if written.is_some() && std::fs::rename(&tmp, &path).is_ok() {
            prune(&dir);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Oldest segment files out until the folder fits its budget.
    fn prune(dir: &std::path::Path) {
        let budget = std::env::var("GENVIDEO_DISK_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(20480) << 20;
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let meta = e.metadata().ok()?;
                let p = e.path();
                if p.extension()? != "seg" {
                    return None;
                }
                Some((meta.modified().ok()?, meta.len(), p))
            })
            .collect();
        files.sort();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        for (_, len, p) in files {
            if total <= budget {
                break;
            }
            if std::fs::remove_file(&p).is_ok() {
                total -= len;
            }
        }
    }
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

    /// Unit tests keep their disk tier in a per-process folder: fixed keys must not hit a
    /// previous run's files.
    fn isolated() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("genvideo-segcache-{}", std::process::id()));
        std::env::set_var("GENVIDEO_CACHE_DIR", &dir);
        dir
    }

    fn seg(n: usize) -> Segment {
        Segment { frames: (0..n).map(|_| Tensor::zeros([3, 4, 4], (tch::Kind::Float, tch::Device::Cpu))).collect() }
    }

    #[test]
    fn concurrent_requests_generate_once() {
        isolated();
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
        isolated();
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
    fn segments_survive_on_disk_at_16_bits() {
        let dir = isolated();
        let frame = models::rng::rand(&[3, 5, 7]);
        disk::store(0xD15C, &Segment { frames: vec![frame.shallow_clone(), frame.shallow_clone()] });
        let back = disk::load(0xD15C).expect("stored segment loads");
        assert_eq!(back.frames.len(), 2);
        assert!((&back.frames[1] - &frame).abs().max().double_value(&[]) <= 0.5 / 65535.0 + 1e-7);
        std::fs::write(dir.join(format!("{:016x}.seg", 0xBADu64)), b"GVSEG16\ngarbage").unwrap();
        assert!(disk::load(0xBAD).is_none(), "a damaged file is a miss, not a crash");
    }

    #[test]
    fn key_hash_separates_fields() {
        let a = KeyHasher::default().str("ab").str("c").finish();
        let b = KeyHasher::default().str("a").str("bc").finish();
        assert_ne!(a, b);
        assert_eq!(a, KeyHasher::default().str("ab").str("c").finish());
    }
}
