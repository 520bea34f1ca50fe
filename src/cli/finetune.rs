//! `promptlab tune --base-url URL --model M` and `promptlab tune status|resume|cancel ID`: a
//! specialist fine-tuned by a server that speaks OpenAI's fine-tuning API. The training split
//! goes up in chat format (the template's direct or cot format, no examples, the answer as the
//! assistant's reply), the job is followed with a progress bar and its events, and a job
//! started is remembered in the data folder (`store::finetunes`), so Ctrl-C loses nothing:
//! `promptlab tune resume ID` follows it again. A job that succeeds leaves its model's name in
//! that record (`model list` shows it under its base) and the held-out rows beside it, with
//! the `eval --vary model=BASE,FT` line that compares the two on them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::{ServerArgs, TuneAction, TuneArgs};
use crate::backend::finetune::{FineTunes, Job, JobSpec};
use crate::core::display::visible;
use crate::core::record::host_of;
use crate::core::specialist::{MIN_REMOTE_ROWS, chat_jsonl, specialist, split};
use crate::store::dataset::Item;
use crate::store::finetunes::{self, Record};

fn poll_every() -> Duration {
    std::env::var("PROMPTLAB_TUNE_POLL")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(10))
}

/// The key given, else the environment's.
fn key(given: Option<String>) -> Option<String> {
    given.or_else(|| {
        std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
    })
}

/// Flags of a tune in process that a server's job has no use for.
fn refuse_local_flags(args: &TuneArgs) -> Result<(), String> {
    let local = [
        ("--model-path", args.model_path.is_some()),
        ("--rank", args.rank.is_some()),
        ("--alpha", args.alpha.is_some()),
        ("--targets", args.targets.is_some()),
        ("--batch-tokens", args.batch_tokens.is_some()),
        ("--learning-rate", args.learning_rate.is_some()),
        ("--out", args.out.is_some()),
        ("--mode", args.mode.is_some()),
    ];
    match local.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(format!(
            "{flag} is for a tune in process; a server's fine-tuning job chooses its own"
        )),
        None => Ok(()),
    }
}

/// `promptlab tune -t T -d D --base-url URL --model M`.
pub async fn remote(args: &TuneArgs) -> Result<bool, String> {
    let (template_name, dataset_name) = args.inputs()?;
    let (Some(base_url), Some(model)) = (&args.base_url, &args.model) else {
        return Err("--base-url needs --model: the server's model to fine-tune".into());
    };
    refuse_local_flags(args)?;
    let (mut template, _) =
        crate::store::template::resolve(template_name).map_err(|e| e.to_string())?;
    if let Some(s) = args.strategy {
        template.strategy = s;
    }
    let prompt = specialist(&template)?;
    let dataset = crate::engine::jobs::load(dataset_name.to_path_buf(), false, None).await?;
    for p in &dataset.problems {
        crate::tell!("skipped {p}");
    }
    let rows = dataset.items.len();
    let seed = args.seed.unwrap_or(1);
    let (train, held) = split(
        dataset.items,
        args.held_out.unwrap_or((rows / 5).min(100)),
        seed,
    );
    if train.len() < MIN_REMOTE_ROWS {
        return Err(format!(
            "{} training rows ({} held out of {rows}); a fine-tuning job needs at least {MIN_REMOTE_ROWS}",
            train.len(),
            held.len()
        ));
    }
    let jsonl = chat_jsonl(
        &prompt,
        train.iter().map(|i| {
            (
                i.input.as_str(),
                i.targets.first().map_or("", String::as_str),
            )
        }),
    );
    let api = FineTunes::new(base_url, key(args.api_key.clone()))?;
    let file = api.upload("promptlab-training.jsonl", &jsonl).await?;
    let job = api
        .create(&JobSpec {
            model: model.clone(),
            training_file: file.clone(),
            suffix: args.name.clone(),
            seed: Some(seed),
            epochs: args.epochs,
            learning_rate_multiplier: None,
        })
        .await?;
    let record = Record {
        promptlab: env!("CARGO_PKG_VERSION").into(),
        id: job.id.clone(),
        base_url: host_of(base_url),
        base_model: model.clone(),
        template: template_name.to_string(),
        strategy: prompt.strategy.as_str().into(),
        dataset: dataset.name.clone(),
        data_fingerprint: std::fs::read(crate::store::dataset::locate(dataset_name))
            .ok()
            .map(|b| crate::core::digest::digest(&b)),
        train_rows: train.len(),
        held_out: held.iter().map(|i| i.id.clone()).collect(),
        split_seed: seed,
        training_file: file,
        submitted: crate::store::session::now_rfc3339(),
        status: job.status.clone(),
        fine_tuned_model: None,
        trained_tokens: None,
        training_seconds: None,
        error: None,
    };
    finetunes::write(&record).map_err(|e| {
        format!(
            "{e} (the server started job {}; promptlab keeps no record of it)",
            job.id
        )
    })?;
    write_held_out(&record.id, &held)?;
    crate::tell!(
        "started fine-tuning job {} of {} at {} ({} training rows, {} held out); Ctrl-C leaves it running: `promptlab tune resume {}`",
        visible(&job.id),
        visible(model),
        host_of(base_url),
        train.len(),
        held.len(),
        visible(&job.id)
    );
    follow(&api, record, args.json).await
}

/// Where the held-out rows of job `id` are kept (a dataset `eval -d` reads).
fn held_out_path(id: &str) -> Result<PathBuf, String> {
    Ok(finetunes::held_out_path(id)?)
}

fn write_held_out(id: &str, held: &[Item]) -> Result<(), String> {
    finetunes::write_held_out(id, held)?;
    Ok(())
}

/// Polls the job until it ends, with a progress bar (its steps and loss from the metrics
/// events) and its other events as lines; Ctrl-C stops following (the job goes on).
async fn follow(api: &FineTunes, mut record: Record, json: bool) -> Result<bool, String> {
    let cancel = super::cancel_on_ctrl_c("stopping: the fine-tuning job goes on at the server");
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("fine-tune {msg} {bar:30} step {pos}/{len}")
            .map_err(|e| e.to_string())?,
    );
    let mut shown = HashSet::new();
    let mut loss = None;
    loop {
        let job = api.get(&record.id).await?;
        for e in api.events(&record.id).await? {
            if !shown.insert(e.id.clone()) {
                continue;
            }
            match e.progress() {
                Some((step, total, l)) => {
                    bar.set_length(total);
                    bar.set_position(step);
                    loss = l.or(loss);
                }
                None if !json => bar.suspend(|| crate::tell!("{}", visible(&e.message))),
                None => {}
            }
        }
        let loss = loss.map(|l| format!(" · loss {l:.3}")).unwrap_or_default();
        bar.set_message(visible(&format!("{} {}{loss}", job.id, job.status)).into_owned());
        if job.ended() {
            bar.finish_and_clear();
            return finish(api, &mut record, &job, json).await;
        }
        if record.status != job.status {
            seen(&mut record, &job)?;
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                bar.abandon();
                return Err(format!(
                    "stopped following fine-tuning job {0}; it goes on at the server: `promptlab tune resume {0}` follows it again, `promptlab tune cancel {0}` stops it",
                    visible(&record.id)
                ));
            }
            _ = tokio::time::sleep(poll_every()) => {}
        }
    }
}

/// The record brought up to what the server says of the job, and kept.
fn seen(record: &mut Record, job: &Job) -> Result<(), String> {
    record.status = job.status.clone();
    record.fine_tuned_model = job
        .fine_tuned_model
        .clone()
        .or(record.fine_tuned_model.take());
    record.trained_tokens = job.trained_tokens.or(record.trained_tokens);
    record.training_seconds = job.training_seconds().or(record.training_seconds);
    record.error = job.error_line();
    finetunes::write(record)?;
    Ok(())
}

/// An ended job: its record updated; a fine-tuned model is named with the line that
/// compares it with its base on the held-out rows.
async fn finish(
    api: &FineTunes,
    record: &mut Record,
    job: &Job,
    json: bool,
) -> Result<bool, String> {
    seen(record, job)?;
    let id = visible(&record.id).into_owned();
    let model = match (job.status.as_str(), &job.fine_tuned_model) {
        ("succeeded", Some(m)) => m.clone(),
        ("succeeded", None) => {
            return Err(format!(
                "fine-tuning job {id} succeeded but the server named no model"
            ));
        }
        ("cancelled", _) => return Err(format!("fine-tuning job {id} was cancelled")),
        _ => {
            return Err(format!(
                "fine-tuning job {id} {}: {}",
                visible(&job.status),
                visible(
                    record
                        .error
                        .as_deref()
                        .unwrap_or("the server gave no reason")
                )
            ));
        }
    };
    let checkpoints = api.checkpoints(&record.id).await.unwrap_or_else(|e| {
        crate::tell!("{e}");
        Vec::new()
    });
    let compare = compare_line(record, &model)?;
    if json {
        super::out::raw(&format!(
            "{}\n",
            json!({"job": job, "record": record, "checkpoints": checkpoints, "compare": compare})
        ))?;
        return Ok(true);
    }
    let took = record
        .training_seconds
        .map(|s| format!(" in {:.0} s", s))
        .unwrap_or_default();
    let tokens = record
        .trained_tokens
        .map(|t| format!(", {t} tokens trained"))
        .unwrap_or_default();
    crate::say!(
        "fine-tuned {} into {}{took}{tokens}",
        visible(&record.base_model),
        visible(&model)
    )?;
    for c in &checkpoints {
        crate::say!(
            "  checkpoint at step {}: {}",
            c.step_number,
            visible(&c.fine_tuned_model_checkpoint)
        )?;
    }
    crate::say!("compare it with its base on the held-out rows:\n  {compare}")?;
    Ok(true)
}

/// `promptlab eval` of base and fine-tuned model on the held-out rows.
fn compare_line(record: &Record, model: &str) -> Result<String, String> {
    Ok(format!(
        "promptlab eval -t {} -d {} --base-url {} --model {} --vary model={},{}",
        visible(&record.template),
        held_out_path(&record.id)?.display(),
        record.base_url,
        visible(&record.base_model),
        visible(&record.base_model),
        visible(model)
    ))
}

/// The client for a kept job: the base URL this command was given (it may carry credentials
/// the record does not) when it names the same server, else the record's.
fn client(record: &Record, server: ServerArgs) -> Result<FineTunes, String> {
    let url = crate::store::batches::server_of(&record.base_url, server.base_url.as_deref());
    Ok(FineTunes::new(&url, key(server.api_key))?)
}

/// `promptlab tune status|resume|cancel ID`.
pub async fn action(action: TuneAction) -> Result<bool, String> {
    match action {
        TuneAction::Status { id, server } => {
            let mut record = finetunes::read(&id)?;
            let api = client(&record, server)?;
            let job = api.get(&id).await?;
            seen(&mut record, &job)?;
            crate::say!(
                "fine-tuning job {} at {}: {} · {} on {} ({} training rows) · submitted {}{}",
                visible(&id),
                record.base_url,
                visible(&job.status),
                visible(&record.base_model),
                visible(&record.dataset),
                record.train_rows,
                record.submitted,
                job.fine_tuned_model
                    .map(|m| format!(" · model {}", visible(&m)))
                    .unwrap_or_default()
            )?;
            for e in api.events(&id).await?.iter().rev().take(5).rev() {
                crate::say!("  {}", visible(&e.message))?;
            }
            Ok(true)
        }
        TuneAction::Resume { id, server } => {
            let record = finetunes::read(&id)?;
            let api = client(&record, server)?;
            follow(&api, record, false).await
        }
        TuneAction::Cancel { id, server } => {
            let mut record = finetunes::read(&id)?;
            let api = client(&record, server)?;
            let job = api.cancel(&id).await?;
            seen(&mut record, &job)?;
            crate::say!("fine-tuning job {}: {}", visible(&id), visible(&job.status))?;
            Ok(true)
        }
    }
}
