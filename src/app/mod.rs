//! The composition root: the one place the program is assembled. `main.rs` hands it the parsed
//! command line; it runs a `cli` command, starts the lab (`tui`: the backend built while the
//! first frame is up, the config's key bindings read into the lab's actions) or runs a tune
//! (`tune`, on a thread of its own: `training`). `cli` and `tui` are two faces that import
//! neither each other nor `app`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;

use crate::cli::{Cli, Command, TuiArgs};
use crate::tui::keymap::Action;

#[cfg(feature = "train")]
pub mod training;
pub mod tui;
pub mod tune;

/// Runs what the command line asks for: `Ok(false)` when it ran and failed its own check.
pub async fn run(cli: Cli) -> Result<bool, String> {
    match cli.command {
        Some(Command::Run(args)) => crate::cli::run::run(args).await,
        Some(Command::Tui(args)) => tui::tui(args).await,
        Some(Command::Replay(args)) => crate::cli::replay::replay(args).await,
        Some(Command::Eval(args)) => crate::cli::eval::eval(args).await,
        Some(Command::Examples(args)) => crate::cli::examples::examples(args).await,
        Some(Command::Optimize(args)) => crate::cli::optimize::optimize(args).await,
        Some(Command::Templates(args)) => crate::cli::templates::print(&args),
        Some(Command::Model(args)) => crate::cli::model::model(&args).await,
        Some(Command::Batch(args)) => match crate::cli::batch::batch(args).await? {
            crate::cli::batch::Next::Done(ok) => Ok(ok),
            crate::cli::batch::Next::Eval(eval) => Box::pin(crate::cli::eval::eval(*eval)).await,
        },
        Some(Command::Tune(args)) => tune::tune(args).await,
        None => {
            let mut args = default_tui();
            args.session = cli.file;
            tui::tui(args).await
        }
    }
}

/// `promptlab` alone is `promptlab tui` with its defaults.
fn default_tui() -> TuiArgs {
    use clap::Parser;
    match Cli::try_parse_from(["promptlab", "tui"]).map(|c| c.command) {
        Ok(Some(Command::Tui(a))) => a,
        _ => unreachable!("`promptlab tui` parses"),
    }
}

/// The config file's `keys:` (action name -> keys) as the lab's actions.
pub fn lab_keys(
    keys: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<Action, Vec<String>>, String> {
    keys.iter()
        .map(|(name, keys)| {
            let action: Action = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| format!("unknown action `{name}`"))?;
            Ok((action, keys.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_become_lab_actions() {
        let keys = BTreeMap::from([("run".to_string(), vec!["ctrl-g".to_string()])]);
        let actions = lab_keys(&keys).unwrap();
        assert_eq!(actions.get(&Action::Run), Some(&vec!["ctrl-g".to_string()]));
        let wrong = BTreeMap::from([("fly".to_string(), vec!["f9".to_string()])]);
        assert!(
            lab_keys(&wrong)
                .unwrap_err()
                .contains("unknown action `fly`")
        );
    }
}
