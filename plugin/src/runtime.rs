//! Process-wide state: the Load/Unload reference count, where the bundle's resources are, and the
//! models, loaded on first use and kept for the life of the process.
//!
//! Nothing here is torn down on the last Unload: destroying libtorch (and its CUDA context) while
//! the host is still running, or during its exit, is a known source of crashes. Holding the
//! weights until the process ends costs memory only while the host keeps the plugin loaded.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use models::pipeline_ltx::LtxPipeline;
use safety::policy::Policy;
use models::rife::Rife;

use crate::PluginError;

static LOADS: AtomicUsize = AtomicUsize::new(0);

pub fn load() {
    LOADS.fetch_add(1, Ordering::SeqCst);
}

pub fn unload() {
    // Saturating: an unbalanced Unload from a host must not wrap the count.
    let _ = LOADS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_sub(1)));
}

/// `<bundle>/Contents/Resources`, found from the path of this very binary
/// (`<bundle>/Contents/Linux-x86-64/GenVideo.ofx`). `GENVIDEO_RESOURCES` overrides it.
pub fn resources_dir() -> Result<PathBuf, PluginError> {
    if let Some(dir) = std::env::var_os("GENVIDEO_RESOURCES") {
        return Ok(PathBuf::from(dir));
    }
    let binary = own_path().ok_or_else(|| PluginError::Input("cannot locate the plugin binary on disk".into()))?;
    let dir = binary
        .parent()
        .and_then(|arch| arch.parent())
        .map(|contents| contents.join("Resources"))
        .ok_or_else(|| PluginError::Input(format!("{} is not inside an OFX bundle", binary.display())))?;
    Ok(dir)
}

fn own_path() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let addr = own_path as *const libc::c_void;
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    let path = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(std::ffi::OsStr::new(std::str::from_utf8(path.to_bytes()).ok()?));
    path.canonicalize().ok().or(Some(path))
}

/// RIFE, loaded on first use. A failed load is not remembered, so fixing a damaged weights file
/// works without restarting the host.
pub fn rife() -> Result<Arc<Rife>, PluginError> {
    static RIFE: Mutex<Option<Arc<Rife>>> = Mutex::new(None);
    let mut slot = RIFE.lock();
    if let Some(r) = slot.as_ref() {
        return Ok(r.clone());
    }
    let path = resources_dir()?.join("rife-hdv3").join("flownet.safetensors");
    if !path.exists() {
        return Err(PluginError::NotConfigured(format!(
            "the RIFE weights are missing: expected {} (reinstall the bundle with installers/setup)",
            path.display()
        )));
    }
    let rife = Arc::new(Rife::load(&path, models::select_device()?)?);
    *slot = Some(rife.clone());
    Ok(rife)
}

/// The embedded default model's folder in `Resources` (installers/bundle copies
/// `embedded/genvideo-mini` there) and its text encoder beside it.
pub const EMBEDDED_MODEL: &str = "genvideo-mini";
pub const EMBEDDED_TEXT_ENCODER: &str = "all-minilm-l6-v2";

/// `Resources/genvideo-mini` and `Resources/all-minilm-l6-v2`, or why the embedded model cannot be
/// used (the folder, its weights or its text encoder are missing from the bundle).
fn embedded_model() -> Result<(PathBuf, PathBuf), PluginError> {
    let resources = resources_dir()?;
    let dir = resources.join(EMBEDDED_MODEL);
    let encoder = resources.join(EMBEDDED_TEXT_ENCODER);
    let missing = [
        (dir.join("model_index.json"), dir.join("model_index.json").is_file()),
        (dir.join("transformer"), has_safetensors(&dir.join("transformer"))),
        (dir.join("vae"), has_safetensors(&dir.join("vae"))),
        (encoder.clone(), has_safetensors(&encoder)),
    ]
    .into_iter()
    .find(|(_, ok)| !ok);
    if let Some((what, _)) = missing {
        return Err(PluginError::NotConfigured(format!(
            "the embedded model is missing from the bundle ({} or its weights not found): reinstall the bundle \
             with installers/setup, or set 'Model folder' to an LTX-Video checkpoint in diffusers format \
             (the folder with model_index.json)",
            what.display()
        )));
    }
    Ok((dir, encoder))
}

fn has_safetensors(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
    })
}

/// Whether the bundle carries a usable embedded model (Infill falls back to RIFE without one).
pub fn embedded_model_available() -> bool {
    embedded_model().is_ok()
}

/// Pipelines by model folder, loaded on first use and kept (switching folders back and forth in
/// a session should not reload multi-GB weights). An empty `model_dir` is the embedded default
/// model (`Resources/genvideo-mini`, with all-MiniLM-L6-v2 from `Resources`). A failed load is not
/// remembered.
pub fn pipeline(model_dir: &str) -> Result<Arc<SharedPipeline>, PluginError> {
    let (dir, text_encoder) = if model_dir.is_empty() {
        let (dir, encoder) = embedded_model()?;
        (dir, Some(encoder))
    } else {
        let dir = PathBuf::from(model_dir);
        if !dir.is_dir() {
            return Err(PluginError::Input(format!("'Model folder' {} is not a folder", dir.display())));
        }
        (dir, None)
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    static PIPELINES: Mutex<Vec<(PathBuf, Arc<SharedPipeline>)>> = Mutex::new(Vec::new());
    let mut loaded = PIPELINES.lock();
    if let Some((_, p)) = loaded.iter().find(|(d, _)| *d == dir) {
        return Ok(p.clone());
    }
    let device = models::select_device()?;
    // bf16 where tensor cores make it the fast path; fp32 on the CPU, where bf16 matmuls are slow.
    let kind = if device.is_cuda() { tch::Kind::BFloat16 } else { tch::Kind::Float };
    let pipe = match &text_encoder {
        Some(encoder) => LtxPipeline::load_with_text_encoder(&dir, encoder, device, kind)?,
        None => LtxPipeline::load(&dir, device, kind)?,
    };
    let (model, version) = match (&text_encoder, pipe.meta.name.clone()) {
        (Some(_), name) => (name.unwrap_or_else(|| EMBEDDED_MODEL.to_owned()), "embedded".to_owned()),
        (None, Some(name)) => (name, dir.display().to_string()),
        (None, None) => ("LTX-Video".to_owned(), dir.display().to_string()),
    };
    let identity = identity(&dir);
    let pipe = Arc::new(SharedPipeline { pipe, model, version, identity });
    loaded.push((dir, pipe.clone()));
    Ok(pipe)
}

/// The folder and the size and modification time of every weights file under it: part of each
/// segment's cache key, so new weights in the same folder (a retrained embedded model) never
/// serve segments cached from the old ones.
fn identity(dir: &Path) -> String {
    let mut parts = vec![dir.display().to_string()];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "safetensors") {
                let meta = std::fs::metadata(&p).ok();
                let size = meta.as_ref().map_or(0, |m| m.len());
                let modified = meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                parts.push(format!("{}:{size}:{modified}", p.display()));
            }
        }
    }
    parts.join("|")
}

/// A loaded pipeline shared by every render thread.
pub struct SharedPipeline {
    pipe: LtxPipeline,
    /// What manifests name: the model ("genvideo-mini", "LTX-Video") and its version or folder.
    pub model: String,
    pub version: String,
    /// Folder and weights files (see [`identity`]), for cache keys.
    pub identity: String,
}

// SAFETY: the weights are never mutated after loading; libtorch inference on shared read-only
// tensors is thread-safe (grad mode is thread-local), and `generation_lock` serialises runs.
unsafe impl Send for SharedPipeline {}
unsafe impl Sync for SharedPipeline {}

impl std::ops::Deref for SharedPipeline {
    type Target = LtxPipeline;
    fn deref(&self) -> &LtxPipeline {
        &self.pipe
    }
}

/// One generation at a time per process: two at once would only split the device and double the
/// peak memory. Waiting polls the host's abort flag.
pub fn generation_lock(aborted: &dyn Fn() -> bool) -> Result<parking_lot::MutexGuard<'static, ()>, PluginError> {
    static LOCK: Mutex<()> = Mutex::new(());
    loop {
        if let Some(guard) = LOCK.try_lock_for(std::time::Duration::from_millis(200)) {
            return Ok(guard);
        }
        if aborted() {
            return Err(PluginError::Aborted);
        }
    }
}

/// The usage policy, checked before every generation. A studio's own policy file replaces the
/// built-in one through `GENVIDEO_POLICY`; the semantic check reads the sentence encoder shipped
/// in the bundle. If the policy cannot be loaded nothing is generated (fail closed).
pub fn check_prompt(prompt: &str) -> Result<(), PluginError> {
    static POLICY: Mutex<Option<Arc<Policy>>> = Mutex::new(None);
    let policy = {
        let mut slot = POLICY.lock();
        match slot.as_ref() {
            Some(p) => p.clone(),
            None => {
                let file = std::env::var_os("GENVIDEO_POLICY").map(PathBuf::from);
                let encoder = resources_dir()?.join("all-minilm-l6-v2");
                let p = Arc::new(Policy::load(file.as_deref(), &encoder).map_err(|e| PluginError::Refused(e.to_string()))?);
                *slot = Some(p.clone());
                p
            }
        }
    };
    policy.check(prompt).map_err(|refusal| PluginError::Refused(refusal.to_string()))
}
