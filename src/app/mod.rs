//! The composition root: the one place the program is assembled. `main.rs` hands it the parsed
//! command line; it runs a `cli` command, starts the lab (`tui`: the backend built while the
//! first frame is up, the config's key bindings read into the lab's actions) or runs a tune
//! (`tune`, on a thread of its own: `training`). `cli` and `tui` are two faces that import
//! neither each other nor `app`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;

use crate::cli::{Cli, Command, TuiArgs};
use crate::tui::keymap::Action;
use backend::Factory;

pub mod backend;
pub mod lab_tune;
#[cfg(feature = "train")]
pub mod training;
pub mod tui;
pub mod tune;

/// Runs what the command line asks for: `Ok(false)` when it ran and failed its own check.
pub async fn run(cli: Cli) -> Result<bool, String> {
    // Each command gets the backends its flags name, built only when it asks.
    let backends = |a: &crate::cli::BackendArgs| Factory::new(a);
    match cli.command {
        Some(Command::Run(args)) => {
            let b = backends(&args.backend);
            crate::cli::run::run(args, &b).await
        }
        Some(Command::Tui(args)) => tui::tui(args).await,
        Some(Command::Replay(args)) => {
            let b = backends(&args.backend);
            crate::cli::replay::replay(args, &b).await
        }
        Some(Command::Eval(args)) => {
            let b = backends(&args.backend);
            crate::cli::eval::eval(args, &b).await
        }
        Some(Command::Optimize(args)) => {
            let b = backends(&args.backend);
            crate::cli::optimize::optimize(args, &b).await
        }
        Some(Command::Examples(args)) => {
            let b = backends(&args.backend);
            crate::cli::examples::examples(args, &b).await
        }
        Some(Command::Templates(args)) => crate::cli::templates::print(&args),
        Some(Command::Model(args)) => crate::cli::model::model(&args).await,
        Some(Command::Batch(args)) => {
            let b = backends(&args.backend);
            match crate::cli::batch::batch(args, &b).await? {
                crate::cli::batch::Next::Done(ok) => Ok(ok),
                crate::cli::batch::Next::Eval(eval) => {
                    let b = backends(&eval.backend);
                    Box::pin(crate::cli::eval::eval(*eval, &b)).await
                }
            }
        }
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
