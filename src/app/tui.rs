//! `promptlab` / `promptlab tui` / `promptlab SESSION.yaml`: opens the lab on a template or a
//! session, building the backend while the first frame is already up.

use std::path::PathBuf;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::oneshot;

use super::backend::{self, BackendKind, Factory};
use super::lab_tune::{LabBase, LabTuner};
use crate::backend::Backend;
use crate::cli::TuiArgs;
use crate::cli::run::apply_overrides;
use crate::store::config::Config;
use crate::store::session::{load_session, now_rfc3339, sessions_dir};
use crate::tui::keymap::Keymap;
use crate::tui::{LabOptions, ModelChoice, run_lab};

pub async fn tui(args: TuiArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let keymap = Keymap::with_overrides(&super::lab_keys(&config.keys)?)
        .map_err(|e| format!("config keys: {e}"))?;
    let session = match &args.session {
        Some(path) => Some((path.clone(), load_session(path).map_err(|e| e.to_string())?)),
        None => None,
    };
    let mut notice = None;
    let mut template = match &session {
        Some((_, s)) => {
            if let Some(origin) = &s.origin
                && crate::store::template::resolve(origin).is_err()
            {
                notice = Some(format!(
                    "template `{origin}` no longer exists; the session carries its own copy"
                ));
            }
            s.lab.clone()
        }
        None => {
            crate::store::template::resolve(&args.prompt.template)
                .map_err(|e| e.to_string())?
                .0
        }
    };
    apply_overrides(&mut template, &args.prompt)
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    if let Some(q) = &args.prompt.query {
        template.query = Some(q.clone());
    }
    let resolved = backend::resolve(&args.backend, &config)?;
    let resolved_for_models = resolved.clone();
    // The embedding model loads with the lab when one is given, whatever the first template.
    let embedder = resolved
        .args
        .embed_model
        .as_deref()
        .map(backend::local_embedder)
        .transpose()?;
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let _ = tx.send(backend::build(&resolved).await);
    });
    let concurrency = config.concurrency(args.prompt.concurrency);
    let dir = sessions_dir().unwrap_or_else(|| PathBuf::from("sessions"));
    let stamp: String = now_rfc3339()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let autosave = dir.join(format!("autosave-{stamp}.yaml"));
    let session = session.map(|(p, mut s)| {
        s.lab = template.clone();
        (p, s)
    });
    // Tunes train on the lab's GGUF when it runs one, else on the embedded model; the picker
    // moves it.
    let base = LabBase::new(match resolved_for_models.kind {
        BackendKind::Local => resolved_for_models.args.model_path.clone(),
        _ => None,
    });
    run_lab(
        LabOptions {
            template,
            keymap,
            concurrency,
            session,
            sessions_dir: dir,
            autosave,
            notice,
            split: config.split.unwrap_or(crate::tui::state::DEFAULT_SPLIT),
            embedder,
            backends: Some(Arc::new(Factory::of(resolved_for_models.clone()))),
            tuner: Some(Arc::new(LabTuner { base: base.clone() })),
            models: Some(Arc::new(LabModels {
                resolved: resolved_for_models,
                base,
            })),
        },
        rx,
    )
    .await?;
    Ok(true)
}

/// The lab's model picker: the GGUFs on this machine for the embedded backend, the server's
/// `/models` for an OpenAI-compatible one; a choice is opened as the first backend was, and
/// an embedded model opened becomes the tunes' base.
struct LabModels {
    resolved: backend::Resolved,
    base: LabBase,
}

impl crate::tui::Models for LabModels {
    fn list(&self) -> BoxFuture<'static, Result<Vec<ModelChoice>, String>> {
        let r = self.resolved.clone();
        async move {
            match r.kind {
                BackendKind::Local => {
                    let found = tokio::task::spawn_blocking(|| {
                        crate::store::models::Stores::of_this_user().find()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    Ok(ModelChoice::local(found))
                }
                BackendKind::Openai => {
                    let base = r.args.base_url.clone().unwrap_or_default();
                    let names = backend::server_models(&base, r.args.api_key.as_deref()).await?;
                    Ok(names
                        .into_iter()
                        .map(|name| ModelChoice {
                            name,
                            source: "server".into(),
                            path: None,
                            size_bytes: 0,
                        })
                        .collect())
                }
                BackendKind::Scripted => {
                    Err("the scripted backend plays one script: there is no model to pick".into())
                }
            }
        }
        .boxed()
    }

    fn open(&self, choice: ModelChoice) -> BoxFuture<'static, Result<Arc<dyn Backend>, String>> {
        let mut r = self.resolved.clone();
        let tunes_on = self.base.clone();
        async move {
            match (&r.kind, choice.path) {
                (BackendKind::Local, Some(path)) if choice.source == ModelChoice::ADAPTER => {
                    let base = tokio::task::spawn_blocking(|| {
                        crate::store::models::Stores::of_this_user().find()
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|m| m.adapters.iter().any(|a| a.path == path))
                    .ok_or_else(|| format!("the base of {} is gone", path.display()))?;
                    r.args.model_path = Some(base.path);
                    r.args.lora = Some(path);
                }
                (BackendKind::Local, Some(path)) => {
                    r.args.model_path = Some(path);
                    r.args.lora = None;
                }
                _ => r.args.model = Some(choice.name),
            }
            let opened = backend::build(&r).await?;
            if r.kind == BackendKind::Local {
                tunes_on.set(r.args.model_path.clone());
            }
            Ok(opened)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::BackendArgs;
    use crate::tui::Models;

    fn choice(path: PathBuf) -> ModelChoice {
        ModelChoice {
            name: "picked".into(),
            source: "promptlab".into(),
            path: Some(path),
            size_bytes: 0,
        }
    }

    #[tokio::test]
    async fn a_tune_trains_on_the_embedded_model_the_picker_opened_last() {
        let base = LabBase::new(None);
        let models = LabModels {
            resolved: backend::Resolved {
                kind: BackendKind::Local,
                args: BackendArgs::default(),
            },
            base: base.clone(),
        };
        // A switch that fails leaves the base as it was.
        let gone = std::env::temp_dir().join("promptlab-no-such-model.gguf");
        assert!(models.open(choice(gone)).await.is_err());
        assert_eq!(base.get(), None);
        let model = crate::store::models::default_model_path()
            .filter(|p| p.is_file())
            .expect("the embedded model (scripts/fetch-model.sh)");
        assert!(models.open(choice(model.clone())).await.is_ok());
        assert_eq!(base.get(), Some(model));
    }
}
