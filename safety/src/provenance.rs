//! C2PA provenance for generated media: signed manifests embedded in the files host-sim writes
//! (PNG, GIF, JPEG, MP4/MOV and every other format the `c2pa` crate handles), standalone `.c2pa`
//! sidecar manifest stores for renders the plugin does not own (host render caches), and a
//! readable report of any signed file or sidecar.
//!
//! ## What a manifest says
//! * `c2pa.actions.v2`: `c2pa.created` with digitalSourceType `trainedAlgorithmicMedia` and the
//!   model as software agent; for Extend and Infill also `c2pa.edited` (digitalSourceType
//!   `compositeWithTrainedAlgorithmicMedia`) naming the source clips, which are `componentOf`
//!   ingredients (a `created` asset has no `parentOf` ingredient in C2PA 2.x).
//! * `org.genvideo.generation`: effect, watermark class, model name and version, every parameter,
//!   the sources (title, SHA-256) and, for sidecars, the frames covered with a digest of each.
//!
//! ## Credentials
//! Signing needs a certificate chain and key ([`Credentials::load`]): `GENVIDEO_C2PA_DIR` (a
//! directory with `signer.pem`, `signer.key`, optional `ca.pem`), or `GENVIDEO_C2PA_CERT` +
//! `GENVIDEO_C2PA_KEY` (+ `GENVIDEO_C2PA_TRUST`, `GENVIDEO_C2PA_ALG`, `GENVIDEO_C2PA_TSA`), else the
//! project's own chain that `installers/make_signing_cert` writes to `weights/c2pa/`. Readers trust
//! the project CA (and `GENVIDEO_C2PA_TRUST`) as a user trust anchor, so a manifest signed by
//! the project reads as *Trusted* here and as signed-by-an-unknown-CA elsewhere.
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use c2pa::assertions::{BoxHash, BoxMap, C2PA_BOXHASH};
use c2pa::{Builder, Context, Reader, SigningAlg};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::watermark::MarkClass;

/// IPTC digital source type of media made by a trained model.
pub const TRAINED_ALGORITHMIC_MEDIA: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
/// IPTC digital source type of real media combined with model output.
pub const COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";
/// Label of the project's assertion carrying effect, model and parameters.
pub const GENERATION_ASSERTION: &str = "org.genvideo.generation";
/// Name of the watermark scheme recorded in manifests (see [`crate::watermark`]).
pub const WATERMARK_SCHEME: &str = "genvideo-tile-v1";

#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("no C2PA signing credentials: {0} (run installers/make_signing_cert, or set GENVIDEO_C2PA_DIR, or GENVIDEO_C2PA_CERT and GENVIDEO_C2PA_KEY)")]
    NoCredentials(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: C2PA does not support this file type", .0.display())]
    Unsupported(PathBuf),
    #[error("{}: no C2PA manifest", .0.display())]
    NoManifest(PathBuf),
    #[error("unknown signing algorithm '{0}' (es256, es384, es512, ps256, ps384, ps512, ed25519)")]
    Algorithm(String),
    #[error("a pass-through manifest needs the source clip it passes through")]
    NoParent,
    #[error("C2PA: {0}")]
    C2pa(#[from] c2pa::Error),
}

pub type Result<T, E = ProvenanceError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProvenanceError + '_ {
    move |source| ProvenanceError::Io { path: path.to_path_buf(), source }
}

/// A source clip the generated media was made from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceClip {
    /// Human-readable name, usually the file name.
    pub title: String,
    /// The file, when it is at hand: it is hashed, and a C2PA manifest it carries becomes part of
    /// the new manifest's ingredient.
    pub path: Option<PathBuf>,
    /// SHA-256 of the source (hex), when known without the file.
    pub sha256: Option<String>,
    /// MIME type, e.g. `video/mp4`.
    pub format: Option<String>,
}

impl SourceClip {
    pub fn from_path(path: impl Into<PathBuf>) -> SourceClip {
        let path = path.into();
        let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        SourceClip { title, format: c2pa::format_from_path(&path).map(|f| mime_of(&f)), path: Some(path), sha256: None }
    }

    pub fn titled(title: impl Into<String>, sha256: Option<String>) -> SourceClip {
        SourceClip { title: title.into(), sha256, ..Default::default() }
    }
}

/// One frame a sidecar manifest covers: host time and a digest of its pixels ([`pixel_digest`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameRecord {
    pub time: f64,
    pub sha256: String,
}

/// How the signed asset relates to the model's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// Made by the model: `c2pa.created` (trainedAlgorithmicMedia); for Extend and Infill also
    /// `c2pa.edited` naming the sources.
    #[default]
    Generated,
    /// Mixes real and generated frames (a preview, a contact sheet, a whole clip):
    /// `c2pa.created` (compositeWithTrainedAlgorithmicMedia) and `c2pa.edited` naming the sources.
    Composite,
    /// A source frame the effect passed through unchanged: `c2pa.opened` with the first source
    /// as `parentOf` ingredient; no generation claim.
    PassThrough,
}

/// What a manifest says about how the media was made.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestInfo {
    /// Effect identifier, e.g. `org.genvideo.Infill`.
    pub effect: String,
    /// How the frames were made (also the watermark class they carry).
    pub class: MarkClass,
    /// Model name, e.g. `RIFE IFNet HDv3` or `LTX-Video`.
    pub model: String,
    pub model_version: String,
    /// Effect parameters, name and value as the host set them.
    pub parameters: Vec<(String, String)>,
    pub sources: Vec<SourceClip>,
    /// Title of the signed asset; defaults to the output file name.
    pub title: Option<String>,
    /// For sidecars: the frames the manifest covers.
    pub frames: Vec<FrameRecord>,
    /// The application that wrote the file (claim generator), e.g. `host-sim`.
    pub generator: String,
    pub origin: Origin,
}

impl ManifestInfo {
    pub fn new(effect: impl Into<String>, class: MarkClass, model: impl Into<String>, model_version: impl Into<String>) -> ManifestInfo {
        ManifestInfo {
            effect: effect.into(),
            class,
            model: model.into(),
            model_version: model_version.into(),
            parameters: Vec::new(),
            sources: Vec::new(),
            title: None,
            frames: Vec::new(),
            generator: "GenVideo".into(),
            origin: Origin::Generated,
        }
    }
}

/// SHA-256 (hex) of f32 pixel data as little-endian bytes: what a sidecar records per frame.
pub fn pixel_digest(pixels: &[f32]) -> String {
    let mut h = Sha256::new();
    for chunk in pixels.chunks(4096) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        h.update(&bytes);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// The MIME type of a file C2PA can carry a manifest in, judged by its extension.
pub fn supported_format(path: &Path) -> Option<String> {
    let mime = c2pa::format_from_path(path)?;
    Reader::supported_mime_types().contains(&mime).then_some(mime)
}

fn mime_of(format: &str) -> String {
    match format {
        "png" => "image/png",
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "c2pa" => "application/c2pa",
        other if other.contains('/') => other,
        _ => "application/octet-stream",
    }
    .to_string()
}

/// A signing certificate chain and key, and the trust anchors readers should accept.
#[derive(Clone)]
pub struct Credentials {
    /// PEM: the signing certificate first, then any intermediates (not the root).
    pub cert_chain_pem: Vec<u8>,
    /// PEM, PKCS#8.
    pub private_key_pem: Vec<u8>,
    pub alg: SigningAlg,
    /// PEM bundle of roots to trust when reading (the project CA).
    pub trust_anchors_pem: Option<String>,
    /// RFC 3161 timestamp authority; none by default (no network).
    pub tsa_url: Option<String>,
    /// Where the credentials came from, for messages.
    pub origin: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("alg", &self.alg).field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl Credentials {
    /// From the environment (`GENVIDEO_C2PA_CERT`/`_KEY`, or `GENVIDEO_C2PA_DIR`), else the
    /// project's `weights/c2pa/` ([`Credentials::default_dir`]).
    pub fn load() -> Result<Credentials> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let alg = match std::env::var("GENVIDEO_C2PA_ALG") {
            Ok(a) if !a.is_empty() => parse_alg(&a)?,
            _ => SigningAlg::Es256,
        };
        let tsa_url = std::env::var("GENVIDEO_C2PA_TSA").ok().filter(|v| !v.is_empty());
        let mut creds = match (env("GENVIDEO_C2PA_CERT"), env("GENVIDEO_C2PA_KEY")) {
            (Some(cert), Some(key)) => Credentials {
                cert_chain_pem: std::fs::read(&cert).map_err(io_err(&cert))?,
                private_key_pem: std::fs::read(&key).map_err(io_err(&key))?,
                alg,
                trust_anchors_pem: None,
                tsa_url: None,
                origin: format!("{} (GENVIDEO_C2PA_CERT)", cert.display()),
            },
            (Some(_), None) | (None, Some(_)) => {
                return Err(ProvenanceError::NoCredentials("GENVIDEO_C2PA_CERT and GENVIDEO_C2PA_KEY must be set together".into()))
            }
            (None, None) => {
                let mut c = Credentials::from_dir(&Credentials::default_dir())?;
                c.alg = alg;
                c
            }
        };
        creds.tsa_url = tsa_url;
        if let Some(extra) = trust_from_env()? {
            creds.trust_anchors_pem = Some(creds.trust_anchors_pem.take().unwrap_or_default() + &extra);
        }
        Ok(creds)
    }

    /// `signer.pem`, `signer.key` and optionally `ca.pem` (trust anchor) in `dir`; ES256 unless
    /// `signing.json` in the directory names another `alg`.
    pub fn from_dir(dir: &Path) -> Result<Credentials> {
        let (cert, key) = (dir.join("signer.pem"), dir.join("signer.key"));
        if !cert.is_file() || !key.is_file() {
            return Err(ProvenanceError::NoCredentials(format!("{} has no signer.pem and signer.key", dir.display())));
        }
        let alg = match std::fs::read_to_string(dir.join("signing.json")).ok().and_then(|s| serde_json::from_str::<Value>(&s).ok()) {
            Some(v) => match v.get("alg").and_then(Value::as_str) {
                Some(a) => parse_alg(a)?,
                None => SigningAlg::Es256,
            },
            None => SigningAlg::Es256,
        };
        let ca = dir.join("ca.pem");
        Ok(Credentials {
            cert_chain_pem: std::fs::read(&cert).map_err(io_err(&cert))?,
            private_key_pem: std::fs::read(&key).map_err(io_err(&key))?,
            alg,
            trust_anchors_pem: if ca.is_file() { Some(std::fs::read_to_string(&ca).map_err(io_err(&ca))?) } else { None },
            tsa_url: None,
            origin: dir.display().to_string(),
        })
    }

    /// `GENVIDEO_C2PA_DIR`, else `weights/c2pa` in the first ancestor of the running executable
    /// that has one (a build tree: `target/release/host-sim`), else in this source tree.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("GENVIDEO_C2PA_DIR").filter(|v| !v.is_empty()) {
            return PathBuf::from(d);
        }
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1) {
                let c = dir.join("weights/c2pa");
                if c.join("signer.pem").is_file() {
                    return c;
                }
            }
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../weights/c2pa")
    }

    fn signer(&self) -> Result<c2pa::BoxedSigner> {
        Ok(c2pa::create_signer::from_keys(&self.cert_chain_pem, &self.private_key_pem, self.alg, self.tsa_url.clone())?)
    }
}

fn parse_alg(a: &str) -> Result<SigningAlg> {
    Ok(match a.to_ascii_lowercase().as_str() {
        "es256" => SigningAlg::Es256,
        "es384" => SigningAlg::Es384,
        "es512" => SigningAlg::Es512,
        "ps256" => SigningAlg::Ps256,
        "ps384" => SigningAlg::Ps384,
        "ps512" => SigningAlg::Ps512,
        "ed25519" => SigningAlg::Ed25519,
        _ => return Err(ProvenanceError::Algorithm(a.to_string())),
    })
}

fn trust_from_env() -> Result<Option<String>> {
    match std::env::var_os("GENVIDEO_C2PA_TRUST").filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(p) => Ok(Some(std::fs::read_to_string(&p).map_err(io_err(&p))?)),
        None => Ok(None),
    }
}

/// Trust anchors a reader accepts: `GENVIDEO_C2PA_TRUST` and the project CA (`ca.pem` in
/// [`Credentials::default_dir`]), when present.
pub fn reader_trust_anchors() -> Option<String> {
    let mut pem = String::new();
    if let Ok(Some(extra)) = trust_from_env() {
        pem.push_str(&extra);
    }
    if let Ok(ca) = std::fs::read_to_string(Credentials::default_dir().join("ca.pem")) {
        pem.push('\n');
        pem.push_str(&ca);
    }
    (!pem.trim().is_empty()).then_some(pem)
}

fn context(trust_anchors: Option<&str>) -> Result<Context> {
    let mut settings = json!({
        "verify": { "ocsp_fetch": false, "remote_manifest_fetch": false },
        "builder": { "claim_generator_info": { "name": "GenVideo", "version": env!("CARGO_PKG_VERSION") } }
    });
    if let Some(pem) = trust_anchors {
        settings["trust"] = json!({ "user_anchors": pem });
    }
    Ok(Context::new().with_settings(settings)?)
}

fn builder(info: &ManifestInfo, title: &str, ctx: Context) -> Result<Builder> {
    let mut params = serde_json::Map::new();
    for (k, v) in &info.parameters {
        params.insert(k.clone(), Value::String(v.clone()));
    }
    let mut sources = Vec::new();
    let mut ingredients = Vec::new();
    for (i, s) in info.sources.iter().enumerate() {
        let label = format!("source-{i}");
        let sha = match (&s.sha256, &s.path) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(p)) if p.is_file() => Some(file_sha256(p)?),
            _ => None,
        };
        sources.push(json!({ "title": s.title, "sha256": sha, "format": s.format, "label": label }));
        let parent = info.origin == Origin::PassThrough && i == 0;
        let mut ing = json!({
            "title": s.title,
            "relationship": if parent { "parentOf" } else { "componentOf" },
            "label": label,
            "format": s.format.clone().unwrap_or_else(|| "application/octet-stream".into()),
            "description": format!("source clip of the {} effect", info.effect),
        });
        if let Some(h) = &sha {
            ing["hash"] = json!(format!("sha256:{h}"));
        }
        ingredients.push((ing, s.path.clone().filter(|p| p.is_file() && supported_format(p).is_some())));
    }
    let agent = json!({ "name": info.model, "version": info.model_version });
    let ids: Vec<String> = (0..info.sources.len()).map(|i| format!("source-{i}")).collect();
    let mut actions = Vec::new();
    match info.origin {
        Origin::PassThrough => {
            if info.sources.is_empty() {
                return Err(ProvenanceError::NoParent);
            }
            actions.push(json!({
                "action": "c2pa.opened",
                "description": format!("source frame passed through the {} effect unchanged", info.effect),
                "parameters": { "ingredientIds": [ids[0]] },
            }));
        }
        Origin::Generated | Origin::Composite => actions.push(json!({
            "action": "c2pa.created",
            "digitalSourceType": if info.origin == Origin::Generated { TRAINED_ALGORITHMIC_MEDIA } else { COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA },
            "softwareAgent": agent,
            "description": if info.origin == Origin::Generated {
                format!("{} by {} ({})", info.class.name(), info.model, info.effect)
            } else {
                format!("real frames and frames made by {} ({}, {})", info.model, info.effect, info.class.name())
            },
        })),
    }
    let edits = match info.origin {
        Origin::Generated => info.class != MarkClass::Generate,
        Origin::Composite => true,
        Origin::PassThrough => false,
    };
    if edits && !info.sources.is_empty() {
        actions.push(json!({
            "action": "c2pa.edited",
            "digitalSourceType": COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": agent,
            "description": match info.class {
                MarkClass::Extend => "clip extended with generated frames",
                MarkClass::InfillInterpolated => "missing frames rebuilt by interpolation between source frames",
                _ => "missing frames rebuilt by a generative model",
            },
            "parameters": { "ingredientIds": ids },
        }));
    }
    let frames: Vec<Value> = info.frames.iter().map(|f| json!({ "time": f.time, "sha256": f.sha256 })).collect();
    let generation = json!({
        "effect": info.effect,
        "class": info.class.name(),
        "origin": format!("{:?}", info.origin).to_lowercase(),
        "model": { "name": info.model, "version": info.model_version },
        "parameters": params,
        "sources": sources,
        "frames": frames,
        "watermark": if info.origin == Origin::PassThrough { Value::Null } else { json!({ "scheme": WATERMARK_SCHEME, "class": info.class.name() }) },
    });
    let definition = json!({
        "claim_generator_info": [{ "name": info.generator, "version": env!("CARGO_PKG_VERSION") }],
        "title": info.title.clone().unwrap_or_else(|| title.to_string()),
        "assertions": [
            { "label": "c2pa.actions.v2", "data": { "actions": actions } },
            { "label": GENERATION_ASSERTION, "data": generation },
        ],
    });
    let mut b = Builder::from_context(ctx).with_definition(definition)?;
    // In source order; a file at hand is read, so a manifest it carries joins the provenance chain.
    for (ing, path) in ingredients {
        match path {
            Some(path) => {
                let format = supported_format(&path).ok_or_else(|| ProvenanceError::Unsupported(path.clone()))?;
                let mut f = File::open(&path).map_err(io_err(&path))?;
                b.add_ingredient_from_stream(ing.to_string(), &format, &mut f)?;
            }
            None => {
                b.add_ingredient(serde_json::from_value::<c2pa::Ingredient>(ing).map_err(c2pa::Error::JsonError)?);
            }
        }
    }
    Ok(b)
}

/// Signs `input` into `output` (the same path signs in place) with the default credentials.
pub fn sign_file(input: &Path, output: &Path, info: &ManifestInfo) -> Result<()> {
    sign_file_with(input, output, info, &Credentials::load()?)
}

pub fn sign_file_with(input: &Path, output: &Path, info: &ManifestInfo, creds: &Credentials) -> Result<()> {
    if supported_format(output).is_none() {
        return Err(ProvenanceError::Unsupported(output.to_path_buf()));
    }
    let title = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut b = builder(info, &title, context(creds.trust_anchors_pem.as_deref())?)?;
    let signer = creds.signer()?;
    let same = match (input.canonicalize(), output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        // Sign into a sibling temporary (same extension) and move it over the input.
        let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = output.with_file_name(format!(".c2pa-{}-{name}", std::process::id()));
        let r = b.sign_file(&*signer, input, &tmp);
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        std::fs::rename(&tmp, output).map_err(io_err(output))?;
    } else {
        b.sign_file(&*signer, input, output)?;
    }
    Ok(())
}

/// Writes a standalone `.c2pa` manifest store describing generated frames the plugin does not
/// own the file of (a host's render cache): the manifest binds to itself only, so list the frames
/// and their digests in `info.frames`.
pub fn write_sidecar(path: &Path, info: &ManifestInfo) -> Result<()> {
    write_sidecar_with(path, info, &Credentials::load()?)
}

pub fn write_sidecar_with(path: &Path, info: &ManifestInfo, creds: &Credentials) -> Result<()> {
    let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ctx = context(creds.trust_anchors_pem.as_deref())?.with_signer(creds.signer()?);
    let mut b = builder(info, &title, ctx)?;
    // The store is the whole file: its hard binding is a box hash over the C2PA box alone, which
    // is excluded from hashing by definition (what the crate's own .c2pa handler maps).
    let boxes = BoxHash { boxes: vec![BoxMap { names: vec![C2PA_BOXHASH.to_string()], alg: Some("sha256".into()), ..Default::default() }] };
    b.add_assertion(BoxHash::LABEL, &boxes)?;
    let store = b.sign_embeddable("application/c2pa")?;
    let tmp = path.with_file_name(format!(".{title}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &store).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// What a reader found: validation outcome and the manifest's content.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub path: PathBuf,
    /// `Trusted` (valid, signer chains to a trusted anchor), `Valid` (signature and hashes good,
    /// signer not trusted here) or `Invalid`.
    pub validation_state: String,
    /// Failure codes with explanations (empty for Trusted/Valid manifests).
    pub failures: Vec<String>,
    /// Informational codes (e.g. the signer's CA is not on a trust list).
    pub informational: Vec<String>,
    pub signer: Option<String>,
    pub issuer: Option<String>,
    pub alg: Option<String>,
    pub signed_at: Option<String>,
    pub claim_generator: Option<String>,
    pub title: Option<String>,
    /// `action [digitalSourceType] — description`.
    pub actions: Vec<String>,
    /// The `org.genvideo.generation` assertion, when present.
    pub generation: Option<Value>,
    /// `title (format, relationship)`.
    pub ingredients: Vec<String>,
    pub manifests: usize,
    pub embedded: bool,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.validation_state == "Trusted" || self.validation_state == "Valid"
    }
    pub fn is_trusted(&self) -> bool {
        self.validation_state == "Trusted"
    }
    /// The digitalSourceType URIs of the active manifest's actions.
    pub fn source_types(&self) -> Vec<&str> {
        self.actions.iter().filter_map(|a| a.split_once('[').and_then(|(_, r)| r.split_once(']')).map(|(t, _)| t)).collect()
    }
}

/// Reads and validates the manifest of a signed file or a `.c2pa` sidecar, trusting
/// [`reader_trust_anchors`].
pub fn read(path: &Path) -> Result<Report> {
    read_with_trust(path, reader_trust_anchors().as_deref())
}

pub fn read_with_trust(path: &Path, trust_anchors: Option<&str>) -> Result<Report> {
    if !path.is_file() {
        return Err(ProvenanceError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    if supported_format(path).is_none() {
        return Err(ProvenanceError::Unsupported(path.to_path_buf()));
    }
    let reader = match Reader::from_context(context(trust_anchors)?).with_file(path) {
        Ok(r) => r,
        Err(c2pa::Error::JumbfNotFound) | Err(c2pa::Error::ProvenanceMissing) => {
            return Err(ProvenanceError::NoManifest(path.to_path_buf()))
        }
        Err(e) => return Err(e.into()),
    };
    let store: Value = serde_json::from_str(&reader.json()).unwrap_or(Value::Null);
    let mut r = Report {
        path: path.to_path_buf(),
        validation_state: format!("{:?}", reader.validation_state()),
        embedded: reader.is_embedded(),
        manifests: store.get("manifests").and_then(Value::as_object).map_or(0, |m| m.len()),
        ..Default::default()
    };
    let describe = |v: &Value| -> String {
        let code = v.get("code").and_then(Value::as_str).unwrap_or("?");
        match v.get("explanation").and_then(Value::as_str) {
            Some(e) => format!("{code}: {e}"),
            None => code.to_string(),
        }
    };
    if let Some(active) = store.pointer("/validation_results/activeManifest") {
        let list = |k: &str| active.get(k).and_then(Value::as_array).map(|a| a.iter().map(describe).collect()).unwrap_or_default();
        r.failures = list("failure");
        r.informational = list("informational");
    } else if let Some(st) = store.get("validation_status").and_then(Value::as_array) {
        r.failures = st.iter().map(describe).collect();
    }
    let Some(m) = reader.active_manifest() else { return Err(ProvenanceError::NoManifest(path.to_path_buf())) };
    let label = reader.active_label().unwrap_or_default().to_string();
    let mv = store.pointer(&format!("/manifests/{}", label.replace('~', "~0").replace('/', "~1"))).cloned().unwrap_or(Value::Null);
    r.title = m.title().map(str::to_string);
    if let Some(si) = m.signature_info() {
        r.signer = si.common_name.clone();
        r.issuer = si.issuer.clone();
        r.alg = si.alg.map(|a| a.to_string());
        r.signed_at = si.time.clone();
    }
    r.claim_generator = mv.pointer("/claim_generator_info/0").map(|g| {
        let name = g.get("name").and_then(Value::as_str).unwrap_or("?");
        match g.get("version").and_then(Value::as_str) {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        }
    });
    for a in mv.get("assertions").and_then(Value::as_array).into_iter().flatten() {
        let label = a.get("label").and_then(Value::as_str).unwrap_or_default();
        if label.starts_with("c2pa.actions") {
            for act in a.pointer("/data/actions").and_then(Value::as_array).into_iter().flatten() {
                let mut s = act.get("action").and_then(Value::as_str).unwrap_or("?").to_string();
                if let Some(t) = act.get("digitalSourceType").and_then(Value::as_str) {
                    let _ = write!(s, " [{t}]");
                }
                if let Some(agent) = act.get("softwareAgent") {
                    let name = agent.get("name").and_then(Value::as_str).or(agent.as_str()).unwrap_or("?");
                    let _ = write!(s, " by {name}");
                    if let Some(v) = agent.get("version").and_then(Value::as_str) {
                        let _ = write!(s, " {v}");
                    }
                }
                if let Some(d) = act.get("description").and_then(Value::as_str) {
                    let _ = write!(s, " — {d}");
                }
                r.actions.push(s);
            }
        } else if label == GENERATION_ASSERTION {
            r.generation = a.get("data").cloned();
        }
    }
    for i in m.ingredients() {
        let rel = format!("{:?}", i.relationship());
        r.ingredients.push(format!("{} ({}, {})", i.title().unwrap_or("untitled"), i.format().unwrap_or("?"), rel));
    }
    Ok(r)
}

/// A readable report of a signed file or sidecar: validation, signer, actions, effect, model,
/// parameters and ingredients.
pub fn read_report(path: &Path) -> Result<String> {
    Ok(read(path)?.to_string())
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.path.display())?;
        let standalone = self.path.extension().is_some_and(|e| e.eq_ignore_ascii_case("c2pa"));
        let how = if standalone {
            "standalone .c2pa"
        } else if self.embedded {
            "embedded"
        } else {
            "external"
        };
        writeln!(f, "  C2PA manifest store: {} manifest(s), {how}", self.manifests)?;
        let meaning = match self.validation_state.as_str() {
            "Trusted" => "signature, hashes and certificate chain good; signer trusted",
            "Valid" => "signature and hashes good; signer not on this reader's trust list",
            _ => "INVALID",
        };
        writeln!(f, "  validation: {} ({meaning})", self.validation_state)?;
        for e in &self.failures {
            writeln!(f, "    failure: {e}")?;
        }
        for e in &self.informational {
            writeln!(f, "    note: {e}")?;
        }
        let or = |o: &Option<String>| o.clone().unwrap_or_else(|| "?".into());
        writeln!(f, "  signer: {} (issued by {}, {})", or(&self.signer), or(&self.issuer), or(&self.alg))?;
        if let Some(t) = &self.signed_at {
            writeln!(f, "  signed at: {t}")?;
        }
        writeln!(f, "  claim generator: {}", or(&self.claim_generator))?;
        writeln!(f, "  title: {}", or(&self.title))?;
        writeln!(f, "  actions:")?;
        for a in &self.actions {
            writeln!(f, "    {a}")?;
        }
        if let Some(g) = &self.generation {
            let s = |p: &str| g.pointer(p).and_then(Value::as_str).unwrap_or("?").to_string();
            writeln!(f, "  generation ({GENERATION_ASSERTION}):")?;
            writeln!(f, "    effect: {}", s("/effect"))?;
            let mark = match g.pointer("/watermark/scheme").and_then(Value::as_str) {
                Some(scheme) => format!("watermark {scheme}"),
                None => "no watermark".into(),
            };
            writeln!(f, "    class: {}, origin: {} ({mark})", s("/class"), s("/origin"))?;
            writeln!(f, "    model: {} {}", s("/model/name"), s("/model/version"))?;
            if let Some(p) = g.get("parameters").and_then(Value::as_object) {
                writeln!(f, "    parameters:{}", if p.is_empty() { " (none)" } else { "" })?;
                for (k, v) in p {
                    writeln!(f, "      {k} = {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))?;
                }
            }
            for src in g.get("sources").and_then(Value::as_array).into_iter().flatten() {
                let t = src.get("title").and_then(Value::as_str).unwrap_or("?");
                match src.get("sha256").and_then(Value::as_str) {
                    Some(h) => writeln!(f, "    source: {t} (sha256 {h})")?,
                    None => writeln!(f, "    source: {t}")?,
                }
            }
            if let Some(fr) = g.get("frames").and_then(Value::as_array).filter(|a| !a.is_empty()) {
                let times: Vec<String> = fr.iter().filter_map(|x| x.get("time").and_then(Value::as_f64)).map(|t| format!("{t}")).collect();
                writeln!(f, "    frames covered: {} ({})", fr.len(), times.join(", "))?;
            }
        }
        writeln!(f, "  ingredients:{}", if self.ingredients.is_empty() { " (none)" } else { "" })?;
        for i in &self.ingredients {
            writeln!(f, "    {i}")?;
        }
        Ok(())
    }
}
