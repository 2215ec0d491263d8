//! Process-wide state: the Load/Unload reference count, where the bundle's resources are, and the
//! models, loaded on first use and kept for the life of the process.
//!
//! Nothing here is torn down on the last Unload: destroying libtorch (and its CUDA context) while
//! the host is still running, or during its exit, is a known source of crashes. Holding the
//! weights until the process ends costs memory only while the host keeps the plugin loaded.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

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
