//! `promptlab model`: which model the local backend uses, where it lives, whether it is there.

use serde_json::json;

use super::{ModelAction, ModelArgs};
use crate::core::display::megabytes;
use crate::store::config::Config;
use crate::store::models::Stores;

/// `promptlab model list`: the GGUFs found, one line each (or JSON).
fn list(json: bool) -> Result<bool, String> {
    let stores = Stores::of_this_user();
    let found = stores.find();
    if json {
        let orphans = stores.orphan_adapters(&found);
        super::out::raw(&format!(
            "{}\n",
            json!({ "models": found, "adapters_without_base": orphans, "fine_tuned": fine_tuned() })
        ))?;
        return Ok(true);
    }
    remote_lines()?;
    if found.is_empty() {
        let mut places: Vec<String> = stores.own.iter().map(|p| p.display().to_string()).collect();
        places.extend(stores.ollama.iter().map(|p| p.display().to_string()));
        places.extend(stores.lm_studio.iter().map(|p| p.display().to_string()));
        crate::say!(
            "no GGUF model found in {}; scripts/fetch-model.sh installs the embedded one",
            places.join(", ")
        )?;
        return Ok(true);
    }
    let w = found
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    crate::say!("{:<w$}  {:<9}  {:>9}  path", "name", "source", "size")?;
    for m in &found {
        crate::say!("{}", model_line(m, w))?;
        for a in &m.adapters {
            crate::say!("{}", adapter_line(a, w))?;
        }
    }
    let orphans = stores.orphan_adapters(&found);
    if !orphans.is_empty() {
        crate::say!("\nadapters whose base is not here:")?;
        for a in &orphans {
            crate::say!("{}", adapter_line(a, w))?;
        }
    }
    crate::say!("\nrun one with --backend local --model-path PATH (an adapter: add --lora PATH)")?;
    Ok(true)
}

/// The models servers fine-tuned for `tune --base-url`.
fn fine_tuned() -> Vec<crate::store::finetunes::Record> {
    crate::store::finetunes::list()
        .into_iter()
        .filter(|r| r.fine_tuned_model.is_some())
        .collect()
}

/// Each server's fine-tuned models under their base, with the line that compares the two.
fn remote_lines() -> Result<(), String> {
    use crate::core::display::visible;
    let mut made = fine_tuned();
    made.sort_by(|a, b| (&a.base_url, &a.base_model).cmp(&(&b.base_url, &b.base_model)));
    let mut shown = std::collections::BTreeSet::new();
    for r in &made {
        if shown.insert((&r.base_url, &r.base_model)) {
            crate::say!(
                "{} at {} (fine-tuned there):",
                visible(&r.base_model),
                r.base_url
            )?;
        }
        let Some(ft) = &r.fine_tuned_model else {
            continue;
        };
        crate::say!(
            "  + {}  ({} on {}, job {}{})\n    compare: --base-url {} --vary model={},{}",
            visible(ft),
            visible(&r.template),
            visible(&r.dataset),
            visible(&r.id),
            r.training_seconds
                .map(|s| format!(", {s:.0} s"))
                .unwrap_or_default(),
            r.base_url,
            visible(&r.base_model),
            visible(ft)
        )?;
    }
    if !made.is_empty() {
        crate::say!()?;
    }
    Ok(())
}

/// A model found here: name, source, size, path.
fn model_line(m: &crate::store::models::FoundModel, w: usize) -> String {
    format!(
        "{:<w$}  {:<9}  {:>9}  {}",
        crate::core::display::visible(&m.name),
        m.source,
        megabytes(m.size_bytes),
        m.path.display()
    )
}

/// An adapter under its base: name, size, path, and what it was trained for.
fn adapter_line(a: &crate::store::adapters::FoundAdapter, w: usize) -> String {
    let about = a.record.as_ref().map_or_else(String::new, |r| {
        format!(
            "  ({} on {}, rank {} on {})",
            r.prompt.template,
            r.data.dataset,
            r.settings.rank,
            r.settings.targets.join(",")
        )
    });
    format!(
        "  + {:<w$}{:>9}  {}{}",
        crate::core::display::visible(&a.name),
        megabytes(a.size_bytes),
        a.path.display(),
        crate::core::display::visible(&about),
        // Its size under the base's: "  + " and the name take the base's name, source and
        // their gaps.
        w = w + 2 + 9 + 2 - 4
    )
}

pub async fn model(args: &ModelArgs) -> Result<bool, String> {
    match &args.action {
        Some(ModelAction::List { json }) => list(*json || args.json),
        Some(ModelAction::Pull { spec, force }) => pull(spec, *force).await,
        None => show(args),
    }
}

/// `promptlab model pull OWNER/NAME[:QUANT]`: the file chosen, downloaded with a progress bar
/// into promptlab's models folder (where `model list` finds it).
async fn pull(spec: &str, force: bool) -> Result<bool, String> {
    use crate::store::hub::{Hub, choose, parse_spec};
    let (repo, quant) = parse_spec(spec)?;
    let hub = Hub::from_env()?;
    let files = hub.files(&repo).await?;
    let file = choose(&files, quant.as_deref())?;
    let dir = crate::store::cache_dir()
        .map(|d| d.join("models"))
        .ok_or("cannot find a cache directory for models")?;
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .map_err(|e| e.to_string())?,
    );
    bar.set_message(crate::core::display::visible(&file.path).into_owned());
    let shown = bar.clone();
    let path = hub
        .download(&repo, file, &dir, force, &move |done, total| {
            shown.set_length(total);
            shown.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    let path = path?;
    crate::tell!(
        "{} from {repo} is at {}{}",
        file.path,
        path.display(),
        if file.sha256().is_some() {
            " (sha256 checked)"
        } else {
            " (the hub gave no sha256 to check; kept under a name of its own)"
        }
    );
    crate::say!("{}", path.display())?;
    crate::tell!(
        "run it with --backend local --model-path {}",
        path.display()
    );
    Ok(true)
}

#[cfg(feature = "local")]
fn show(args: &ModelArgs) -> Result<bool, String> {
    use crate::backend::local::model::{
        DEFAULT_MODEL_NAME, DEFAULT_MODEL_SHA256, FETCH_HINT, check_gguf, looks_instruction_tuned,
    };
    use crate::backend::local::{LoadStatus, LocalBackend, LocalSettings};
    use crate::store::models as m;

    let config = Config::load()?;
    let path = match args.backend.model_path.clone().or(config.model_path) {
        Some(p) => p,
        None => {
            m::default_model_path().ok_or("cannot find a cache directory; give --model-path")?
        }
    };
    let default = m::is_default_model(&path);
    let name = if default {
        DEFAULT_MODEL_NAME.to_string()
    } else {
        path.display().to_string()
    };
    let check = check_gguf(&path, default);
    let status = match &check {
        Ok(_) => {
            let backend =
                LocalBackend::spawn(LocalSettings::new(path.clone())).map_err(|e| e.to_string())?;
            loop {
                match backend.status() {
                    LoadStatus::Loading => std::thread::sleep(std::time::Duration::from_millis(20)),
                    s => break s,
                }
            }
        }
        Err(e) => LoadStatus::Failed(e.to_string()),
    };
    let (present, facts, problem) = match &status {
        LoadStatus::Ready(f) => (true, Some(f.clone()), None),
        LoadStatus::Failed(e) => (path.is_file(), None, Some(e.clone())),
        LoadStatus::Loading => (true, None, None),
    };
    if args.json {
        let v = json!({
            "model": name,
            "path": path,
            "present": present,
            "usable": facts.is_some(),
            "size_bytes": check.as_ref().ok(),
            "context_length": facts.as_ref().map(|f| f.n_ctx_train),
            "parameters": facts.as_ref().map(|f| f.n_params),
            "chat_template": facts.as_ref().map(|f| f.has_chat_template),
            "sha256": default.then_some(DEFAULT_MODEL_SHA256),
            "problem": problem,
            "get_it": (!present).then_some(FETCH_HINT),
        });
        super::out::raw(&format!("{v}\n"))?;
    } else {
        crate::say!("model:    {name}")?;
        crate::say!("path:     {}", path.display())?;
        match (&facts, &problem) {
            (Some(f), _) => {
                crate::say!(
                    "present:  yes, {:.1} MB",
                    check.as_ref().map_or(0, |s| *s) as f64 / 1e6
                )?;
                crate::say!("context:  {} tokens", f.n_ctx_train)?;
                crate::say!(
                    "params:   {:.0}M ({})",
                    f.n_params as f64 / 1e6,
                    f.description
                )?;
                crate::say!(
                    "prompts:  {}",
                    if looks_instruction_tuned(&path) {
                        "chat (instruction-tuned)"
                    } else {
                        "completion (base model)"
                    }
                )?;
            }
            (None, Some(p)) => crate::say!(
                "present:  {}\nproblem:  {p}",
                if present { "yes, but unusable" } else { "no" }
            )?,
            (None, None) => {}
        }
        if !present {
            crate::say!("get it:   {FETCH_HINT}")?;
        }
    }
    Ok(facts.is_some())
}

#[cfg(not(feature = "local"))]
fn show(_: &ModelArgs) -> Result<bool, String> {
    let _ = (Config::load, json!(null));
    Err("this promptlab was built without the `local` feature".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::adapters::FoundAdapter;
    use crate::store::models::FoundModel;

    #[test]
    fn an_adapters_size_lines_up_under_its_bases() {
        let base = FoundModel {
            name: "gemma-3-270m-q4_k_m.gguf".into(),
            source: "promptlab",
            path: "/m/gemma-3-270m-q4_k_m.gguf".into(),
            size_bytes: 253_113_024,
            adapters: Vec::new(),
        };
        let adapter = FoundAdapter {
            name: "tickets-mlp".into(),
            path: "/m/adapters/tickets-mlp.gguf".into(),
            size_bytes: 4_718_592,
            record: None,
        };
        let w = base.name.len();
        let (b, a) = (model_line(&base, w), adapter_line(&adapter, w));
        assert!(a.contains("4.7 MB"), "{a}");
        assert_eq!(b.find(" MB"), a.find(" MB"), "\n{b}\n{a}");
    }
}
