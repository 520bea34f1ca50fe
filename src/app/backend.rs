//! Picks and builds the backend from flags, environment and config: `Factory` is what `cli`'s
//! commands and the lab are handed (`engine::backends::Backends`), so neither face knows how a
//! backend is built.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::ValueEnum;
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::backend::openai::{OpenAiBackend, OpenAiSettings, ServerN};
use crate::backend::scripted::{Script, ScriptedBackend};
use crate::backend::{Backend, Embedder};
use crate::core::extract::{AnswerKind, AnswerSpec};
use crate::core::free::ClusterRule;
use crate::core::record::host_of;
use crate::core::render::Mode;
use crate::engine::backends::{Backends, BackendsError, Built, Server};
use crate::store::config::Config;

pub use crate::cli::{BackendArgs, BackendKind};

/// The backends of one command: its flags, merged with the config file the first time a
/// backend is asked for (a command that needs none never reads it).
pub struct Factory {
    given: BackendArgs,
    resolved: OnceLock<Result<Resolved, String>>,
}

impl Factory {
    pub fn new(given: &BackendArgs) -> Factory {
        Factory {
            given: given.clone(),
            resolved: OnceLock::new(),
        }
    }

    /// A factory for flags already merged with the config.
    pub fn of(resolved: Resolved) -> Factory {
        Factory {
            given: resolved.args.clone(),
            resolved: OnceLock::from(Ok(resolved)),
        }
    }

    pub fn resolved(&self) -> Result<&Resolved, String> {
        self.resolved
            .get_or_init(|| resolve(&self.given, &Config::load()?))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl Backends for Factory {
    fn build(&self, model: &str, lora: &str) -> BoxFuture<'static, Built> {
        let r = self.resolved().cloned().and_then(|r| r.with(model, lora));
        async move { Ok(build(&r?).await?) }.boxed()
    }

    fn has_models(&self) -> Result<bool, BackendsError> {
        Ok(self.resolved()?.kind != BackendKind::Scripted)
    }

    fn embedder(&self, spec: &AnswerSpec) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        Ok(embedder(self.resolved()?, spec)?)
    }

    fn knn_embedder(&self) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        Ok(knn_embedder(self.resolved()?)?)
    }

    fn server(&self) -> Result<Server, BackendsError> {
        let a = &self.resolved()?.args;
        Ok(Server {
            base_url: a.base_url.clone(),
            api_key: a.api_key.clone(),
        })
    }
}

/// Flags merged with the config file.
#[derive(Clone)]
pub struct Resolved {
    pub kind: BackendKind,
    pub args: BackendArgs,
}

impl Resolved {
    /// These flags with another model (a server's model, or the local backend's GGUF file) and
    /// another adapter (`none`: without); `""` keeps each as it is.
    pub fn with(mut self, model: &str, lora: &str) -> Result<Resolved, String> {
        if !model.is_empty() {
            match self.kind {
                BackendKind::Local => self.args.model_path = Some(model.into()),
                _ => self.args.model = Some(model.to_string()),
            }
        }
        if !lora.is_empty() {
            if self.kind != BackendKind::Local {
                return Err(
                    "--vary lora needs the local backend (a server names its adapters as models)"
                        .into(),
                );
            }
            self.args.lora = (lora != "none").then(|| lora.into());
        }
        Ok(self)
    }
}

pub fn resolve(given: &BackendArgs, config: &Config) -> Result<Resolved, String> {
    let mut args = given.clone();
    args.base_url = args
        .base_url
        .or_else(|| config.base_url.clone())
        .filter(|s| !s.is_empty());
    args.model = args.model.or_else(|| config.model.clone());
    args.api_key = args
        .api_key
        .or_else(|| config.api_key.clone())
        .filter(|s| !s.is_empty());
    if let Some(k) = &args.api_key {
        crate::backend::keep_secret(k);
    }
    args.model_path = args.model_path.or_else(|| config.model_path.clone());
    args.embed_model = args.embed_model.or_else(|| config.embed_model.clone());
    args.server_n = match (args.server_n, config.server_n.as_deref()) {
        (Some(n), _) => Some(n),
        (None, Some(n)) => Some(
            ServerN::from_str(n, true).map_err(|_| format!("config: unknown server_n `{n}`"))?,
        ),
        (None, None) => None,
    };
    args.logprobs |= config.logprobs.unwrap_or(false);
    let kind = match (args.backend, backend_kind(config)?) {
        (Some(k), _) => k,
        (None, _) if args.script.is_some() => BackendKind::Scripted,
        (None, _) if args.base_url.is_some() && args.model_path.is_none() => BackendKind::Openai,
        (None, Some(k)) => k,
        (None, None) => BackendKind::Local,
    };
    refuse_foreign_flags(kind, given)?;
    Ok(Resolved { kind, args })
}

/// The config file's `backend:`.
fn backend_kind(config: &Config) -> Result<Option<BackendKind>, String> {
    match config.backend.as_deref() {
        None => Ok(None),
        Some("local") => Ok(Some(BackendKind::Local)),
        Some("openai") => Ok(Some(BackendKind::Openai)),
        Some("scripted") => Ok(Some(BackendKind::Scripted)),
        Some(other) => Err(format!(
            "config: unknown backend `{other}` (local, openai or scripted)"
        )),
    }
}

/// A flag given on the command line that the chosen backend would ignore is refused: a run
/// must never look as if it used a server, a model file or a script it did not. (Settings
/// from the config file or the environment are defaults for whichever backend runs.)
fn refuse_foreign_flags(kind: BackendKind, given: &BackendArgs) -> Result<(), String> {
    let from_env = std::env::var("OPENAI_BASE_URL").ok();
    let base_url = given.base_url.is_some() && given.base_url != from_env;
    let flags = [
        ("--base-url", base_url, kind != BackendKind::Openai),
        (
            "--model-path",
            given.model_path.is_some(),
            kind != BackendKind::Local,
        ),
        ("--lora", given.lora.is_some(), kind != BackendKind::Local),
        (
            "--script",
            given.script.is_some(),
            kind != BackendKind::Scripted,
        ),
    ];
    match flags.iter().find(|(_, set, foreign)| *set && *foreign) {
        Some((flag, ..)) => Err(format!(
            "{flag} does not apply to the {} backend; drop it or choose the backend it is for",
            kind.to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        )),
        None => Ok(()),
    }
}

pub async fn build(r: &Resolved) -> Result<Arc<dyn Backend>, String> {
    let a = &r.args;
    match r.kind {
        BackendKind::Scripted => {
            let path = a
                .script
                .as_ref()
                .ok_or("the scripted backend needs --script FILE")?;
            let text =
                crate::store::read_text(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let script: Script = crate::store::parse_yaml(&text, &path.display().to_string())
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(ScriptedBackend::new(script)))
        }
        BackendKind::Openai => Ok(Arc::new(openai(a).await?)),
        BackendKind::Local => local(a),
    }
}

pub async fn openai(a: &BackendArgs) -> Result<OpenAiBackend, String> {
    let base_url = a.base_url.clone().ok_or(
        "the openai backend needs --base-url (or OPENAI_BASE_URL, or base_url in the config file)",
    )?;
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(format!(
            "--base-url must start with http:// or https://, got `{}`",
            host_of(&base_url)
        ));
    }
    let model = match &a.model {
        Some(m) => m.clone(),
        None => first_model(&base_url, a.api_key.as_deref()).await?,
    };
    let llama_cpp = is_llama_cpp(&base_url, a.api_key.as_deref()).await;
    let mut s = OpenAiSettings::new(base_url, model);
    s.llama_cpp = llama_cpp;
    s.api_key = a.api_key.clone();
    s.logprobs = a.logprobs;
    s.mode = Mode::Chat;
    let t = &mut s.timeouts;
    t.connect = a.connect_timeout.unwrap_or(t.connect);
    t.first_byte = a.first_byte_timeout.unwrap_or(t.first_byte);
    t.read = a.read_timeout.unwrap_or(t.read);
    if let Some(r) = a.retries {
        s.retry.max_retries = r;
    }
    s.server_n = a.server_n.unwrap_or_default();
    s.server_n_memory = crate::store::cache_dir().map(|d| d.join("server-n.json"));
    OpenAiBackend::new(s).map_err(|e| e.to_string())
}

/// The first model the server lists, for servers that host one model (llama.cpp, vLLM).
/// Whether the server is llama.cpp's: its `/props` (at the server's root, beside `/v1`)
/// describes its build and generation settings. Asked once, with a short timeout; any other
/// answer means no.
async fn is_llama_cpp(base_url: &str, api_key: Option<&str>) -> bool {
    let root = base_url.trim_end_matches('/');
    let root = root.strip_suffix("/v1").unwrap_or(root);
    let Ok(client) = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(3))
        .build()
    else {
        return false;
    };
    let mut req = client.get(format!("{root}/props"));
    if let Some(k) = api_key {
        req = req.bearer_auth(k);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.is_ok_and(|v| {
            v.get("default_generation_settings").is_some() || v.get("build_info").is_some()
        }),
        _ => false,
    }
}

/// Why a server's model list could not be read.
enum ListError {
    /// Naming the model would not help: no connection, authentication failed.
    Fatal(String),
    /// The server gives no usable list: naming the model does.
    NoList(String),
}

impl ListError {
    fn message(self) -> String {
        match self {
            ListError::Fatal(m) | ListError::NoList(m) => m,
        }
    }
}

/// The models a server lists at `/models`.
pub async fn server_models(base_url: &str, api_key: Option<&str>) -> Result<Vec<String>, String> {
    list_models(base_url, api_key)
        .await
        .map_err(ListError::message)
}

/// `/models`, every message naming the server without credentials.
async fn list_models(base_url: &str, api_key: Option<&str>) -> Result<Vec<String>, ListError> {
    let url = format!("{}/models", base_url.trim_end_matches('/'));
    let shown = host_of(&url);
    let mut req = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ListError::Fatal(e.to_string()))?
        .get(&url);
    if let Some(k) = api_key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.map_err(|e| {
        ListError::Fatal(if e.is_connect() {
            format!("cannot connect to the server at {}", host_of(base_url))
        } else {
            format!("{shown}: {}", e.without_url())
        })
    })?;
    match resp.status().as_u16() {
        200..=299 => {}
        status @ (401 | 403) => {
            return Err(ListError::Fatal(format!(
                "authentication failed (HTTP {status}) at {shown}: check the API key (--api-key or OPENAI_API_KEY)"
            )));
        }
        status => return Err(ListError::NoList(format!("{shown} answered HTTP {status}"))),
    }
    let v: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| ListError::NoList(format!("{shown}: {}", e.without_url())))?;
    Ok(v["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// The server's first model, for runs that name none.
async fn first_model(base_url: &str, api_key: Option<&str>) -> Result<String, String> {
    let hint = "give the model with --model";
    let models = list_models(base_url, api_key).await.map_err(|e| match e {
        ListError::Fatal(m) => m,
        ListError::NoList(m) => format!("{m}; {hint}"),
    })?;
    models
        .into_iter()
        .next()
        .ok_or_else(|| format!("{}/models lists no models; {hint}", host_of(base_url)))
}

/// The embedder free-form answers need when `spec` clusters them by `embed`; `None` for any
/// other answer spec. Without an embedding model that is an error, not a silent fallback.
pub fn embedder(r: &Resolved, spec: &AnswerSpec) -> Result<Option<Arc<dyn Embedder>>, String> {
    if spec.kind != AnswerKind::Free || spec.cluster() != ClusterRule::Embed {
        return Ok(None);
    }
    let path = r.args.embed_model.as_ref().ok_or(
        "answer cluster `embed` needs an embedding model: give --embed-model FILE.gguf (or `embed_model:` in the config), or use `cluster: overlap`",
    )?;
    local_embedder(path).map(Some)
}

/// The embedder kNN example selection compares queries and examples with: the one
/// `--embed-model` names, if any (`None`: selection compares content words).
pub fn knn_embedder(r: &Resolved) -> Result<Option<Arc<dyn Embedder>>, String> {
    r.args
        .embed_model
        .as_deref()
        .map(local_embedder)
        .transpose()
}

#[cfg(feature = "local")]
/// The embedding model at `path`, run in process.
pub fn local_embedder(path: &std::path::Path) -> Result<Arc<dyn Embedder>, String> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get() as i32);
    crate::backend::local::embed::LocalEmbedder::spawn(path, threads)
        .map(|e| Arc::new(e) as Arc<dyn Embedder>)
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "local"))]
pub fn local_embedder(_: &std::path::Path) -> Result<Arc<dyn Embedder>, String> {
    Err("this promptlab was built without the `local` feature: no embedding model can run".into())
}

#[cfg(feature = "local")]
fn local(a: &BackendArgs) -> Result<Arc<dyn Backend>, String> {
    use crate::backend::local::LocalBackend;
    let path = match &a.model_path {
        Some(p) => p.clone(),
        None => crate::store::models::default_model_path()
            .ok_or("cannot find a cache directory for the embedded model; give --model-path")?,
    };
    let backend =
        LocalBackend::spawn(local_settings(path, a.lora.clone())?).map_err(|e| e.to_string())?;
    Ok(Arc::new(backend))
}

/// The embedded backend's settings for a model file and a LoRA adapter, with what the store
/// knows of them: whether the file is where the embedded model belongs, and the model an
/// adapter promptlab trained belongs to.
#[cfg(feature = "local")]
pub fn local_settings(
    path: std::path::PathBuf,
    lora: Option<std::path::PathBuf>,
) -> Result<crate::backend::local::LocalSettings, String> {
    use crate::backend::local::{AdapterBase, LocalSettings};
    let adapters = crate::store::adapters::adapters_dir();
    let lora = lora.map(|l| crate::store::adapters::resolve_in(&l, adapters.as_deref()));
    let lora_base = match &lora {
        Some(l) => crate::store::adapters::read_record(l)?.map(|r| AdapterBase {
            file: r.base.file,
            fingerprint: r.base.fingerprint,
        }),
        None => None,
    };
    Ok(LocalSettings {
        embedded: crate::store::models::is_default_model(&path),
        lora,
        lora_base,
        ..LocalSettings::new(path)
    })
}

#[cfg(not(feature = "local"))]
fn local(_: &BackendArgs) -> Result<Arc<dyn Backend>, String> {
    Err("this promptlab was built without the `local` feature; use --base-url for a server".into())
}
