//! `promptlab` / `promptlab tui` / `promptlab SESSION.yaml`: opens the lab on a template or a
//! session, building the backend while the first frame is already up.

use std::path::PathBuf;

use tokio::sync::oneshot;

use super::config::Config;
use super::run::apply_overrides;
use super::{TuiArgs, backend};
use crate::store::session::{load_session, now_rfc3339, sessions_dir};
use crate::tui::keymap::Keymap;
use crate::tui::{LabOptions, run_lab};

pub async fn tui(args: TuiArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let keymap = Keymap::with_overrides(&config.keys).map_err(|e| format!("config keys: {e}"))?;
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
    apply_overrides(&mut template, &args.prompt);
    if let Some(q) = &args.prompt.query {
        template.query = Some(q.clone());
    }
    let resolved = backend::resolve(&args.backend, &config)?;
    // The embedding model loads with the lab when one is given, whatever the first template.
    let embedder = match &resolved.args.embed_model {
        Some(_) => backend::embedder(
            &resolved,
            &crate::core::AnswerSpec {
                cluster: Some(crate::core::free::ClusterRule::Embed),
                ..crate::core::AnswerSpec::of(crate::core::AnswerKind::Free)
            },
        )?,
        None => None,
    };
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
        },
        rx,
    )
    .await?;
    Ok(true)
}
