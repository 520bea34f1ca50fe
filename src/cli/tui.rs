//! `promptlab` / `promptlab tui`: opens the lab on a template, building the backend while the
//! first frame is already up.

use tokio::sync::oneshot;

use super::config::Config;
use super::run::apply_overrides;
use super::{TuiArgs, backend};
use crate::tui::keymap::Keymap;
use crate::tui::{LabOptions, run_lab};

pub async fn tui(args: TuiArgs) -> Result<bool, String> {
    let config = Config::load()?;
    let keymap = Keymap::with_overrides(&config.keys).map_err(|e| format!("config keys: {e}"))?;
    let (mut template, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut template, &args.prompt);
    if let Some(q) = &args.prompt.query {
        template.query = Some(q.clone());
    }
    let resolved = backend::resolve(&args.backend, &config)?;
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let _ = tx.send(backend::build(&resolved).await);
    });
    let concurrency = args
        .prompt
        .concurrency
        .or(config.concurrency)
        .unwrap_or(16)
        .max(1);
    run_lab(
        LabOptions {
            template,
            keymap,
            concurrency,
        },
        rx,
    )
    .await?;
    Ok(true)
}
