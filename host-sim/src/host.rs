//! Loading bundles and driving a plugin through the OpenFX action sequence.
use std::collections::BTreeMap;
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bridge::ofx::*;
use parking_lot::Mutex;

use crate::clip::ClipSource;
use crate::frame::{Format, Frame};
use crate::objects::*;
use crate::props::{cstring, PropSet, Value};
use crate::suites::ofx_host;
use crate::HostError;

/// A plugin record from a loaded binary.
#[derive(Clone)]
struct Entry {
    main: OfxPluginEntryPoint,
    id: String,
}

/// What Describe told us about one effect.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    pub id: String,
    pub label: String,
    pub contexts: Vec<String>,
    pub version: (u32, u32),
}

/// A parameter as described in a context.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    pub name: String,
    pub kind: ParamType,
    pub label: String,
    pub options: Vec<String>,
}

/// Binaries are opened once and never closed: a plugin that links libtorch (or CUDA) must not be
/// torn down while the process runs, and hosts keep plugins mapped until exit for the same reason.
fn open_binary(path: &Path) -> Result<Vec<Entry>, HostError> {
    static OPEN: OnceLock<Mutex<BTreeMap<PathBuf, Vec<Entry>>>> = OnceLock::new();
    let mut open = OPEN.get_or_init(Default::default).lock();
    if let Some(entries) = open.get(path) {
        return Ok(entries.clone());
    }
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| HostError::Load(format!("{}: {e}", path.display())))?;
    let entries = unsafe {
        if let Ok(set_host) = lib.get::<OfxSetHostFn>(b"OfxSetHost\0") {
            let status = set_host(ofx_host());
            if status != kOfxStatOK {
                return Err(HostError::Load(format!("{}: OfxSetHost returned {status}", path.display())));
            }
        }
        let count = lib
            .get::<OfxGetNumberOfPluginsFn>(b"OfxGetNumberOfPlugins\0")
            .map_err(|e| HostError::Load(format!("{}: {e}", path.display())))?;
        let get = lib.get::<OfxGetPluginFn>(b"OfxGetPlugin\0").map_err(|e| HostError::Load(format!("{}: {e}", path.display())))?;
        let mut entries = Vec::new();
        for i in 0..count() {
            let Some(p) = get(i).as_ref() else { continue };
            let api = if p.pluginApi.is_null() { String::new() } else { CStr::from_ptr(p.pluginApi).to_string_lossy().into_owned() };
            if api != "OfxImageEffectPluginAPI" || p.apiVersion != 1 {
                continue;
            }
            let (Some(main), false) = (p.mainEntry, p.pluginIdentifier.is_null()) else { continue };
            if let Some(set_host) = p.setHost {
                set_host(ofx_host());
            }
            entries.push(Entry { main, id: CStr::from_ptr(p.pluginIdentifier).to_string_lossy().into_owned() });
        }
        entries
    };
    std::mem::forget(lib);
    open.insert(path.to_path_buf(), entries.clone());
    Ok(entries)
}

/// `X.ofx.bundle` directory -> its Linux binary; a `.ofx` file is taken as is.
pub fn binary_path(bundle: &Path) -> Result<PathBuf, HostError> {
    if bundle.is_file() {
        return Ok(bundle.to_path_buf());
    }
    let name = bundle
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".ofx.bundle"))
        .ok_or_else(|| HostError::Load(format!("{} is not an .ofx.bundle", bundle.display())))?;
    let bin = bundle.join("Contents").join("Linux-x86-64").join(format!("{name}.ofx"));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(HostError::Load(format!("{} has no Contents/Linux-x86-64/{name}.ofx", bundle.display())))
    }
}

/// Bundles on `OFX_PLUGIN_PATH`, then `/usr/OFX/Plugins`.
pub fn search_bundles() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var("OFX_PLUGIN_PATH")
        .map(|p| p.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from("/usr/OFX/Plugins"));
    let mut found = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        let mut here: Vec<PathBuf> =
            rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.to_string_lossy().ends_with(".ofx.bundle")).collect();
        here.sort();
        found.extend(here);
    }
    found
}

fn call(main: OfxPluginEntryPoint, action: &CStr, handle: *const c_void, in_args: Option<&PropSet>, out_args: Option<&PropSet>) -> OfxStatus {
    let i = in_args.map_or(std::ptr::null_mut(), |p| p.handle());
    let o = out_args.map_or(std::ptr::null_mut(), |p| p.handle());
    unsafe { main(action.as_ptr(), handle, i, o) }
}

fn ok(status: OfxStatus, action: &CStr, shared: &Shared) -> Result<(), HostError> {
    if status == kOfxStatOK || status == kOfxStatReplyDefault {
        Ok(())
    } else {
        Err(HostError::Action { action: action.to_string_lossy().into_owned(), status, messages: error_text(shared) })
    }
}

fn error_text(shared: &Shared) -> String {
    shared.messages.lock().iter().filter(|m| m.is_error()).map(|m| m.text.clone()).collect::<Vec<_>>().join("; ")
}

/// A loaded bundle. Creating it sends Load (and Describe) to every plugin; dropping it sends Unload.
pub struct Bundle {
    path: PathBuf,
    entries: Vec<Entry>,
    infos: Vec<PluginInfo>,
    /// What each plugin set in Describe; instances start from it. Boxed: handles are addresses.
    #[allow(clippy::vec_box)]
    descriptors: Vec<Box<EffectObj>>,
    shared: Arc<Shared>,
}

impl Bundle {
    pub fn load(bundle: &Path) -> Result<Bundle, HostError> {
        let path = binary_path(bundle)?;
        let entries = open_binary(&path)?;
        let shared = Arc::new(Shared::default());
        let mut infos = Vec::new();
        for e in &entries {
            ok(call(e.main, kOfxActionLoad, std::ptr::null(), None, None), kOfxActionLoad, &shared)?;
        }
        let mut bundle = Bundle { path, entries, infos: Vec::new(), descriptors: Vec::new(), shared };
        for e in bundle.entries.clone() {
            let fx = EffectObj::new(bundle.shared.clone());
            ok(call(e.main, kOfxActionDescribe, fx.handle() as _, None, None), kOfxActionDescribe, &bundle.shared)?;
            infos.push(PluginInfo {
                id: e.id.clone(),
                label: fx.props.str(kOfxPropLabel, 0).unwrap_or_else(|| e.id.clone()),
                contexts: fx.props.strs(kOfxImageEffectPropSupportedContexts),
                version: (0, 0),
            });
            bundle.descriptors.push(fx);
        }
        bundle.infos = infos;
        Ok(bundle)
    }

    /// The bundle named `name` on the search path (e.g. "GenVideo").
    pub fn find(name: &str) -> Result<Bundle, HostError> {
        let want = format!("{name}.ofx.bundle");
        let path = search_bundles()
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == want))
            .ok_or_else(|| HostError::Load(format!("{want} not found on OFX_PLUGIN_PATH or /usr/OFX/Plugins")))?;
        Bundle::load(&path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn plugins(&self) -> &[PluginInfo] {
        &self.infos
    }

    /// Messages sent during Load/Describe.
    pub fn messages(&self) -> Vec<Message> {
        self.shared.messages.lock().clone()
    }

    /// Describes `id` in `context` and creates an instance of it.
    pub fn instance(&self, id: &str, context: Context) -> Result<Instance, HostError> {
        let entry = self.entries.iter().find(|e| e.id == id).ok_or_else(|| HostError::NoPlugin(id.to_string()))?;
        let info = self.infos.iter().find(|i| i.id == id).ok_or_else(|| HostError::NoPlugin(id.to_string()))?;
        if !info.contexts.iter().any(|c| c == context.ofx()) {
            return Err(HostError::Context { id: id.into(), context: context.ofx().into(), supported: info.contexts.clone() });
        }
        let shared = Arc::new(Shared::default());
        let desc = EffectObj::new(shared.clone());
        let args = PropSet::new();
        args.set_str(kOfxImageEffectPropContext, context.ofx());
        ok(call(entry.main, kOfxImageEffectActionDescribeInContext, desc.handle() as _, Some(&args), None), kOfxImageEffectActionDescribeInContext, &shared)?;

        // The instance starts as a copy of the descriptor's clips and parameters.
        let fx = EffectObj::new(shared.clone());
        if let Some(d) = self.entries.iter().position(|e| e.id == id).and_then(|i| self.descriptors.get(i)) {
            fx.props.copy_from(&d.props);
        }
        fx.props.copy_from(&desc.props);
        fx.props.set_str(kOfxPropType, "OfxTypeImageEffectInstance");
        fx.props.set_str(kOfxImageEffectPropContext, context.ofx());
        fx.props.set_int(kOfxPropIsInteractive, 0);
        fx.props.set_doubles(kOfxImageEffectPropProjectSize, &[1920.0, 1080.0]);
        fx.props.set_doubles(kOfxImageEffectPropProjectExtent, &[1920.0, 1080.0]);
        fx.props.set_doubles(kOfxImageEffectPropProjectOffset, &[0.0, 0.0]);
        fx.props.set_doubles(kOfxImageEffectPropProjectPixelAspectRatio, &[1.0]);
        fx.props.set_doubles(kOfxImageEffectInstancePropEffectDuration, &[1.0]);
        fx.props.set_doubles(kOfxImageEffectPropFrameRate, &[25.0]);
        for c in desc.clips.lock().iter() {
            let props = PropSet::new();
            for key in ["OfxImageEffectPropSupportedComponents", "OfxImageEffectPropTemporalClipAccess", "OfxImageClipPropOptional", "OfxImageClipPropIsMask"] {
                if let Some(v) = c.props.get(key) {
                    props.set(&cstring(key), v);
                }
            }
            props.set_str(kOfxPropType, "OfxTypeClip");
            props.set_str(kOfxPropName, &c.name);
            props.set_int(kOfxImageClipPropConnected, 0);
            props.set_str(kOfxImageEffectPropPixelDepth, "OfxBitDepthFloat");
            props.set_str(kOfxImageEffectPropComponents, "OfxImageComponentRGBA");
            props.set_str(kOfxImageClipPropUnmappedPixelDepth, "OfxBitDepthFloat");
            props.set_str(kOfxImageClipPropUnmappedComponents, "OfxImageComponentRGBA");
            props.set_str(kOfxImageEffectPropPreMultiplication, "OfxImageOpaque");
            props.set_doubles(kOfxImagePropPixelAspectRatio, &[1.0]);
            props.set_doubles(kOfxImageEffectPropFrameRate, &[25.0]);
            props.set_doubles(kOfxImageEffectPropFrameRange, &[0.0, 0.0]);
            props.set_doubles(kOfxImageEffectPropUnmappedFrameRange, &[0.0, 0.0]);
            props.set_str(kOfxImageClipPropFieldOrder, "OfxFieldNone");
            props.set_int(kOfxImageClipPropContinuousSamples, 0);
            fx.clips.lock().push(Box::new(ClipObj {
                name: c.name.clone(),
                is_output: c.is_output,
                props,
                source: Default::default(),
                output: Default::default(),
                shared: shared.clone(),
            }));
        }
        let mut params = Vec::new();
        for p in desc.params.params.lock().iter() {
            let props = PropSet::new();
            for key in ["OfxPropType", "OfxParamPropType", "OfxPropName", "OfxPropLabel", "OfxParamPropDefault", "OfxParamPropChoiceOption", "OfxParamPropMin", "OfxParamPropMax", "OfxParamPropHint", "OfxParamPropStringMode", "OfxParamPropParent", "OfxParamPropAnimates"] {
                if let Some(v) = p.props.get(key) {
                    props.set(&cstring(key), v);
                }
            }
            props.set_str(kOfxPropType, "OfxTypeParameterInstance");
            params.push(ParamInfo {
                name: p.name.clone(),
                kind: p.kind,
                label: p.props.str(kOfxPropLabel, 0).unwrap_or_else(|| p.name.clone()),
                options: p.props.strs(kOfxParamPropChoiceOption),
            });
            let obj = Box::new(ParamObj { name: p.name.clone(), kind: p.kind, props, value: Default::default(), string_out: Default::default() });
            live_params().lock().insert(obj.handle() as usize);
            fx.params.params.lock().push(obj);
        }
        drop(desc);
        ok(call(entry.main, kOfxActionCreateInstance, fx.handle() as _, None, None), kOfxActionCreateInstance, &shared)?;
        Ok(Instance { main: entry.main, fx, shared, params, context, created: true })
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for e in &self.entries {
            call(e.main, kOfxActionUnload, std::ptr::null(), None, None);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Generator,
    Filter,
    General,
}

impl Context {
    pub fn ofx(self) -> &'static str {
        match self {
            Context::Generator => "OfxImageEffectContextGenerator",
            Context::Filter => "OfxImageEffectContextFilter",
            Context::General => "OfxImageEffectContextGeneral",
        }
    }

    pub fn parse(s: &str) -> Option<Context> {
        match s.to_ascii_lowercase().as_str() {
            "generator" => Some(Context::Generator),
            "filter" => Some(Context::Filter),
            "general" => Some(Context::General),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Host threads calling Render at once (only if the plugin declares itself thread safe).
    pub threads: usize,
    /// Set the abort flag once this many frames have rendered.
    pub abort_after_frames: Option<usize>,
    /// Set the abort flag at the n-th progress update.
    pub abort_after_progress_updates: Option<usize>,
    pub output_format: Format,
    /// Output frame size (width, height) when no Source is connected (generators); 640x360 if None.
    pub output_size: Option<(usize, usize)>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            threads: 1,
            abort_after_frames: None,
            abort_after_progress_updates: None,
            output_format: Format::default(),
            output_size: None,
        }
    }
}

/// One rendered frame, or why it failed.
pub type FrameResult = Result<Frame, HostError>;

pub struct RenderOutput {
    pub frames: BTreeMap<i64, FrameResult>,
    pub range: (i64, i64),
    pub aborted: bool,
}

impl RenderOutput {
    pub fn frame(&self, t: i64) -> Option<&Frame> {
        self.frames.get(&t).and_then(|r| r.as_ref().ok())
    }

    pub fn failures(&self) -> Vec<(i64, String)> {
        self.frames.iter().filter_map(|(t, r)| r.as_ref().err().map(|e| (*t, e.to_string()))).collect()
    }
}

pub struct Instance {
    main: OfxPluginEntryPoint,
    fx: Box<EffectObj>,
    shared: Arc<Shared>,
    params: Vec<ParamInfo>,
    context: Context,
    created: bool,
}

// Render may be called from several host threads; the objects it touches are behind locks.
unsafe impl Send for Instance {}
unsafe impl Sync for Instance {}

impl Instance {
    pub fn params(&self) -> &[ParamInfo] {
        &self.params
    }

    pub fn context(&self) -> Context {
        self.context
    }

    pub fn messages(&self) -> Vec<Message> {
        self.shared.messages.lock().clone()
    }

    pub fn error_messages(&self) -> Vec<String> {
        self.messages().into_iter().filter(|m| m.is_error()).map(|m| m.text).collect()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.shared.warnings.lock().clone()
    }

    /// (fetched, released) images over the instance's life.
    pub fn image_counts(&self) -> (usize, usize) {
        (self.shared.fetched.load(Ordering::SeqCst), self.shared.released.load(Ordering::SeqCst))
    }

    pub fn abort_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.shared.abort.clone()
    }

    pub fn frames_needed(&self, t: i64) -> Option<Vec<(f64, f64)>> {
        self.shared.frames_needed.lock().get(&t).cloned()
    }

    pub fn set_progress_sink(&self, sink: ProgressSink) {
        *self.shared.progress_sink.lock() = Some(sink);
    }

    /// Sets a parameter from text, parsed by its type (choices by index or label), and sends the
    /// InstanceChanged sequence as a host does after a user edit.
    pub fn set_param(&self, name: &str, text: &str) -> Result<(), HostError> {
        let info = self.params.iter().find(|p| p.name == name).ok_or_else(|| HostError::NoParam(name.into()))?;
        let bad = || HostError::ParamValue { name: name.into(), value: text.into() };
        let values = match info.kind {
            ParamType::Int => vec![Value::Int(text.trim().parse().map_err(|_| bad())?)],
            ParamType::Double => vec![Value::Double(text.trim().parse().map_err(|_| bad())?)],
            ParamType::Bool => vec![Value::Int(match text.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => 1,
                "0" | "false" | "no" | "off" => 0,
                _ => return Err(bad()),
            })],
            ParamType::Choice => {
                let i = match text.trim().parse::<usize>() {
                    Ok(i) if i < info.options.len() => i,
                    _ => info.options.iter().position(|o| o.eq_ignore_ascii_case(text.trim())).ok_or_else(bad)?,
                };
                vec![Value::Int(i as i32)]
            }
            ParamType::String | ParamType::Custom => vec![Value::Str(cstring(text))],
            ParamType::Int2D | ParamType::Int3D => text
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map(Value::Int).map_err(|_| bad()))
                .collect::<Result<_, _>>()?,
            ParamType::Double2D | ParamType::Double3D | ParamType::Rgb | ParamType::Rgba => text
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map(Value::Double).map_err(|_| bad()))
                .collect::<Result<_, _>>()?,
            ParamType::Group | ParamType::Page | ParamType::PushButton => vec![],
        };
        if values.len() != info.kind.layout().1 {
            return Err(bad());
        }
        let p = self.fx.params.find(name).ok_or_else(|| HostError::NoParam(name.into()))?;
        unsafe { *(*p).value.lock() = Some(values) };
        let args = PropSet::new();
        args.set_str(kOfxPropChangeReason, "OfxChangeUserEdited");
        self.action(kOfxActionBeginInstanceChanged, Some(&args), None)?;
        args.set_str(kOfxPropType, "OfxTypeParameter");
        args.set_str(kOfxPropName, name);
        args.set_doubles(kOfxPropTime, &[0.0]);
        args.set_doubles(kOfxImageEffectPropRenderScale, &[1.0, 1.0]);
        self.action(kOfxActionInstanceChanged, Some(&args), None)?;
        self.action(kOfxActionEndInstanceChanged, Some(&args), None)
    }

    fn action(&self, action: &CStr, in_args: Option<&PropSet>, out_args: Option<&PropSet>) -> Result<(), HostError> {
        ok(call(self.main, action, self.fx.handle() as _, in_args, out_args), action, &self.shared)
    }

    fn action_status(&self, action: &CStr, in_args: Option<&PropSet>, out_args: Option<&PropSet>) -> OfxStatus {
        call(self.main, action, self.fx.handle() as _, in_args, out_args)
    }

    /// The project's frame rate (the effect's and every clip's; 25 until set). Connecting a Source
    /// sets it to the source's rate; call this for generators.
    pub fn set_frame_rate(&self, fps: f64) {
        self.fx.props.set_doubles(kOfxImageEffectPropFrameRate, &[fps]);
        for c in self.fx.clips.lock().iter() {
            c.props.set_doubles(kOfxImageEffectPropFrameRate, &[fps]);
        }
    }

    /// The effect's frame rate (the project's, or the connected source's).
    pub fn frame_rate(&self) -> f64 {
        self.fx.props.doubles("OfxImageEffectPropFrameRate").first().copied().unwrap_or(25.0)
    }

    /// Connects a clip ("Source") to frames.
    pub fn connect(&self, clip: &str, source: ClipSource) -> Result<(), HostError> {
        let c = self.fx.clip(clip).ok_or_else(|| HostError::NoClip(clip.into()))?;
        let c = unsafe { &*c };
        let (a, b) = source.range();
        c.props.set_int(kOfxImageClipPropConnected, 1);
        c.props.set_doubles(kOfxImageEffectPropFrameRange, &[a, b]);
        c.props.set_doubles(kOfxImageEffectPropUnmappedFrameRange, &[a, b]);
        c.props.set_doubles(kOfxImageEffectPropFrameRate, &[source.fps]);
        c.props.set_str(kOfxImageEffectPropPixelDepth, &source.format.depth.as_ofx().to_string_lossy());
        c.props.set_str(kOfxImageEffectPropComponents, &source.format.components.as_ofx().to_string_lossy());
        c.props.set_str(kOfxImageClipPropUnmappedPixelDepth, &source.format.depth.as_ofx().to_string_lossy());
        c.props.set_str(kOfxImageClipPropUnmappedComponents, &source.format.components.as_ofx().to_string_lossy());
        self.fx.props.set_doubles(kOfxImageEffectPropFrameRate, &[source.fps]);
        self.fx.props.set_doubles(kOfxImageEffectInstancePropEffectDuration, &[b - a + 1.0]);
        *c.source.lock() = Some(Arc::new(source));
        Ok(())
    }

    fn source(&self) -> Option<Arc<ClipSource>> {
        let c = self.fx.clip("Source")?;
        unsafe { (*c).source.lock().clone() }
    }

    /// The output frame range: GetTimeDomain in the General context, else the source's range, else
    /// `fallback` (generators).
    pub fn time_domain(&self, fallback: (i64, i64)) -> Result<(i64, i64), HostError> {
        let src = self.source().map(|s| s.range());
        if self.context == Context::General {
            let out = PropSet::new();
            let status = self.action_status(kOfxImageEffectActionGetTimeDomain, None, Some(&out));
            if status == kOfxStatOK {
                let r = out.doubles("OfxImageEffectPropFrameRange");
                if r.len() == 2 {
                    return Ok((r[0].round() as i64, r[1].round() as i64));
                }
            } else if status != kOfxStatReplyDefault {
                ok(status, kOfxImageEffectActionGetTimeDomain, &self.shared)?;
            }
        }
        Ok(src.map_or(fallback, |(a, b)| (a.round() as i64, b.round() as i64)))
    }

    /// Renders frames `range` (inclusive) as a host does: clip preferences, the sequence render
    /// bracket, GetFramesNeeded and Render per frame, with leak checks after every action.
    pub fn render_range(&self, range: (i64, i64), opts: &RenderOptions) -> Result<RenderOutput, HostError> {
        let (w, h) = self.source().map(|s| s.size()).unwrap_or((0, 0));
        let (w, h) = if w == 0 { opts.output_size.unwrap_or((640, 360)) } else { (w, h) };
        let out_clip = unsafe { &*self.fx.clip("Output").ok_or_else(|| HostError::NoClip("Output".into()))? };
        let mut format = opts.output_format;
        if let Some(src) = self.source() {
            // Hosts without multiple-clip-depth support give the output the source's format.
            format.depth = src.format.depth;
            format.components = src.format.components;
            format.origin = src.format.origin;
        }
        *out_clip.output.lock() = (w, h, format);
        out_clip.props.set_str(kOfxImageEffectPropPixelDepth, &format.depth.as_ofx().to_string_lossy());
        out_clip.props.set_str(kOfxImageEffectPropComponents, &format.components.as_ofx().to_string_lossy());
        // The output clip spans the effect's time domain (a generator starts at 0), not just the
        // frames asked for now: effects index their output from its first frame.
        let domain = self.time_domain((range.0.min(0), range.1)).unwrap_or(range);
        out_clip.props.set_doubles(kOfxImageEffectPropFrameRange, &[domain.0 as f64, domain.1 as f64]);
        *self.shared.time_bounds.lock() = (range.0 as f64, range.1 as f64);
        *self.shared.abort_after_progress_updates.lock() = opts.abort_after_progress_updates;

        let prefs = PropSet::new();
        self.checked(kOfxImageEffectActionGetClipPreferences, None, Some(&prefs))?;

        let seq = PropSet::new();
        seq.set_doubles(kOfxImageEffectPropFrameRange, &[range.0 as f64, range.1 as f64]);
        seq.set_doubles(kOfxImageEffectPropFrameStep, &[1.0]);
        seq.set_int(kOfxPropIsInteractive, 0);
        seq.set_doubles(kOfxImageEffectPropRenderScale, &[1.0, 1.0]);
        seq.set_int(kOfxImageEffectPropSequentialRenderStatus, 0);
        self.checked(kOfxImageEffectActionBeginSequenceRender, Some(&seq), None)?;

        let thread_safe = self.fx.props.str(kOfxImageEffectPluginRenderThreadSafety, 0).unwrap_or_default();
        let threads = if thread_safe == "OfxImageEffectRenderUnsafe" { 1 } else { opts.threads.max(1) };
        let frames: Vec<i64> = (range.0..=range.1).collect();
        let results = Mutex::new(BTreeMap::new());
        let done = std::sync::atomic::AtomicUsize::new(0);
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&t) = frames.get(i) else { break };
                    let r = if self.shared.abort.load(Ordering::SeqCst) { Err(HostError::Aborted) } else { self.render_frame(t, w, h) };
                    results.lock().insert(t, r);
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if matches!(opts.abort_after_frames, Some(k) if n >= k) {
                        self.shared.abort.store(true, Ordering::SeqCst);
                    }
                });
            }
        });
        let end = self.checked(kOfxImageEffectActionEndSequenceRender, Some(&seq), None);
        let aborted = self.shared.abort.load(Ordering::SeqCst);
        let frames = results.into_inner();
        // Every Render has returned: anything still held was leaked by one of them.
        self.leak_check(kOfxImageEffectActionRender, 0)?;
        end?;
        Ok(RenderOutput { frames, range, aborted })
    }

    /// Runs an action and fails if it returned an error or left images unreleased.
    fn checked(&self, action: &CStr, in_args: Option<&PropSet>, out_args: Option<&PropSet>) -> Result<(), HostError> {
        let before = self.shared.held.load(Ordering::SeqCst);
        let r = self.action(action, in_args, out_args);
        self.leak_check(action, before)?;
        r
    }

    fn leak_check(&self, action: &CStr, before: usize) -> Result<(), HostError> {
        let held = self.shared.held.load(Ordering::SeqCst);
        if held > before {
            return Err(HostError::Leak { action: action.to_string_lossy().into_owned(), count: held - before });
        }
        Ok(())
    }

    fn render_frame(&self, t: i64, w: usize, h: usize) -> FrameResult {
        let time = t as f64;
        *self.shared.current_time.lock() = time;
        let temporal = self.fx.props.int(kOfxImageEffectPropTemporalClipAccess, 0).unwrap_or(0) != 0;
        if temporal && self.source().is_some() {
            let args = PropSet::new();
            args.set_doubles(kOfxPropTime, &[time]);
            let out = PropSet::new();
            let status = self.action_status(kOfxImageEffectActionGetFramesNeeded, Some(&args), Some(&out));
            if status == kOfxStatOK {
                let r = out.doubles("OfxImageClipPropFrameRange_Source");
                let ranges = r.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                self.shared.frames_needed.lock().insert(t, ranges);
            } else if status != kOfxStatReplyDefault {
                ok(status, kOfxImageEffectActionGetFramesNeeded, &self.shared)?;
            }
        }
        let args = PropSet::new();
        args.set_doubles(kOfxPropTime, &[time]);
        args.set_str(kOfxImageEffectPropFieldToRender, "OfxFieldNone");
        args.set_ints(kOfxImageEffectPropRenderWindow, &[0, 0, w as i32, h as i32]);
        if let Some(src) = self.source() {
            let (x, y) = src.format.origin;
            args.set_ints(kOfxImageEffectPropRenderWindow, &[x, y, x + w as i32, y + h as i32]);
        }
        args.set_doubles(kOfxImageEffectPropRenderScale, &[1.0, 1.0]);
        args.set_int(kOfxImageEffectPropSequentialRenderStatus, 0);
        args.set_int(kOfxImageEffectPropInteractiveRenderStatus, 0);
        let status = self.action_status(kOfxImageEffectActionRender, Some(&args), None);
        let output = self.shared.outputs.lock().remove(&t);
        if status != kOfxStatOK {
            return Err(HostError::Action {
                action: format!("OfxImageEffectActionRender at frame {t}"),
                status,
                messages: error_text(&self.shared),
            });
        }
        output.ok_or(HostError::NoOutput(t))
    }

    /// Images still held by the plugin after all actions returned.
    pub fn images_held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.created {
            call(self.main, kOfxActionDestroyInstance, self.fx.handle() as _, None, None);
        }
        let mut live = live_params().lock();
        for p in self.fx.params.params.lock().iter() {
            live.remove(&(p.handle() as usize));
        }
    }
}
