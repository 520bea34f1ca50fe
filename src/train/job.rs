//! One `promptlab tune`: the base checked and read, the data split and tokenized, the adapter
//! trained with a checkpoint per epoch, written with its record, and checked through
//! llama.cpp (it loads the file, and its logits move as candle's forward pass predicted).
//! Synchronous and CPU-bound: the engine runs it on a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::check::{argmax, compare, max_abs_diff};
use super::data::{self, Sequence};
use super::model::Model;
use super::trainer::{self, Outcome, Settings, Step};
use super::weights::Gguf;
use super::{Reference, TrainError, adapter};
use crate::core::render::Mode;
use crate::core::template::Template;
use crate::store::adapters::{
    Base, DataRecord, LogitsCheck, PromptFormat, Record, Tuning, write_record,
};
use crate::store::dataset::Dataset;

/// Everything a tune needs, decided by the caller.
#[derive(Debug, Clone)]
pub struct TuneSpec {
    pub model_path: PathBuf,
    /// The template as named (its name goes in the record) and the mode it renders in.
    pub template: Template,
    pub mode: Mode,
    pub dataset: Dataset,
    pub dataset_path: PathBuf,
    /// Rows kept out of training.
    pub held_out: usize,
    pub settings: Settings,
    /// Where the adapter goes (its record beside it).
    pub out: PathBuf,
}

/// What a tune reports, in order.
#[derive(Debug, Clone)]
pub enum TuneEvent {
    /// The data are ready: rows that train and rows held out, answer tokens per epoch, and
    /// optimiser steps in all.
    Prepared {
        train_rows: usize,
        held_out: usize,
        tokens: usize,
        answer_tokens: usize,
    },
    Step(Step),
    /// An epoch ended and its adapter was written.
    Checkpoint {
        epoch: usize,
        path: PathBuf,
    },
    Checking,
}

/// A finished (or stopped) tune: the adapter and its record.
#[derive(Debug, Clone)]
pub struct Tuned {
    pub path: PathBuf,
    pub record: Record,
    /// The rows held out, for an evaluation of the adapter.
    pub held_out: Vec<crate::store::dataset::Item>,
}

pub fn run(
    spec: &TuneSpec,
    reference: &dyn Reference,
    stop: &AtomicBool,
    on: &mut dyn FnMut(TuneEvent),
) -> Result<Tuned, TrainError> {
    spec.settings.validate()?;
    let mut gguf = Gguf::open(&spec.model_path)?;
    let base = base_of(&spec.model_path)?;
    let split = data::split(
        spec.dataset.items.clone(),
        spec.held_out,
        spec.settings.seed,
    )?;
    let template = data::specialist(&spec.template)?;
    let tokenizer = reference
        .tokenizer(&spec.model_path)
        .map_err(TrainError::Reference)?;
    let rows = data::sequences(tokenizer.as_ref(), &template, &split.train, spec.mode)?;
    on(TuneEvent::Prepared {
        train_rows: rows.len(),
        held_out: split.held_out.len(),
        tokens: rows.iter().map(|r| r.tokens.len()).sum(),
        answer_tokens: rows.iter().map(Sequence::answer_tokens).sum(),
    });
    let config = gguf.config.clone();
    let model = Model::build(config, |n| gguf.tensor(n), Some(&spec.settings.adapter()))?;
    let mut record = Record {
        promptlab: env!("CARGO_PKG_VERSION").into(),
        base,
        data: DataRecord {
            dataset: spec.dataset.name.clone(),
            fingerprint: file_digest(&spec.dataset_path)?,
            rows: spec.dataset.items.len(),
            train_rows: rows.len(),
            held_out: split.held_out.iter().map(|i| i.id.clone()).collect(),
            split_seed: spec.settings.seed,
        },
        prompt: PromptFormat {
            template: spec.template.name.clone(),
            strategy: template.strategy.as_str().into(),
            mode: spec.mode,
            shots: 0,
        },
        settings: tuning(&spec.settings),
        losses: Vec::new(),
        tokens: 0,
        training_seconds: 0.0,
        epochs_done: 0,
        complete: false,
        size_bytes: 0,
        check: None,
    };
    let save = |model: &Model, o: &Outcome, record: &mut Record| -> Result<(), TrainError> {
        record.losses = o.losses.clone();
        record.tokens = o.tokens;
        record.training_seconds = o.elapsed.as_secs_f64();
        record.epochs_done = o.epochs_done;
        record.size_bytes = adapter::write(
            &spec.out,
            model,
            spec.settings.alpha,
            &record.base.fingerprint,
        )?;
        write_record(&spec.out, record).map_err(|e| TrainError::io(&spec.out, e))
    };
    let on = std::cell::RefCell::new(on);
    let outcome = trainer::train(
        &model,
        &rows,
        &spec.settings,
        stop,
        &mut |s| (on.borrow_mut())(TuneEvent::Step(s.clone())),
        &mut |m, o| {
            save(m, o, &mut record)?;
            (on.borrow_mut())(TuneEvent::Checkpoint {
                epoch: o.epochs_done,
                path: spec.out.clone(),
            });
            Ok(())
        },
    )?;
    let on = on.into_inner();
    if outcome.epochs_done == 0 {
        return Err(TrainError::Data(
            "stopped before the first epoch ended: no adapter written".into(),
        ));
    }
    record.complete = !outcome.stopped;
    if record.complete {
        on(TuneEvent::Checking);
        let probe = rows
            .first()
            .map_or(&[][..], |r| &r.tokens[..r.answer_start]);
        record.check = Some(check(
            &model,
            reference,
            &spec.model_path,
            &spec.out,
            probe,
        )?);
    }
    if outcome.stopped {
        // The file on disk is the last epoch's; the record says so.
        write_record(&spec.out, &record).map_err(|e| TrainError::io(&spec.out, e))?;
    } else {
        save(&model, &outcome, &mut record)?;
    }
    Ok(Tuned {
        path: spec.out.clone(),
        record,
        held_out: split.held_out,
    })
}

/// The written adapter through llama.cpp: it loads with the base, and it moves llama.cpp's
/// logits after `tokens` as it moves candle's. The two engines differ by a few tenths on the
/// base already (llama.cpp multiplies 4-bit weights by 8-bit activations, candle in f32), so
/// what is compared is each engine's move, adapter minus base, where that difference cancels.
pub fn check(
    model: &Model,
    reference: &dyn Reference,
    base: &Path,
    adapter: &Path,
    tokens: &[u32],
) -> Result<LogitsCheck, TrainError> {
    let ours = model.last_logits(tokens)?;
    let ours_base = model.base().last_logits(tokens)?;
    let with = reference
        .last_logits(base, Some(adapter), tokens)
        .map_err(TrainError::Reference)?;
    let without = reference
        .last_logits(base, None, tokens)
        .map_err(TrainError::Reference)?;
    let delta =
        |a: &[f32], b: &[f32]| -> Vec<f32> { a.iter().zip(b).map(|(x, y)| x - y).collect() };
    let moves = compare(&delta(&ours, &ours_base), &delta(&with, &without));
    Ok(LogitsCheck {
        max_abs_diff: moves.max_abs_diff,
        correlation: moves.correlation,
        argmax_agrees: argmax(&ours) == argmax(&with),
        shift: max_abs_diff(&with, &without),
        predicted_shift: max_abs_diff(&ours, &ours_base),
    })
}

fn base_of(path: &Path) -> Result<Base, TrainError> {
    Ok(Base {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        size_bytes: std::fs::metadata(path)
            .map_err(|e| TrainError::io(path, e))?
            .len(),
        fingerprint: std::fs::File::open(path)
            .and_then(|f| {
                let len = f.metadata()?.len();
                crate::core::digest::fingerprint(f, len)
            })
            .map_err(|e| TrainError::io(path, e))?,
    })
}

fn file_digest(path: &Path) -> Result<String, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    Ok(crate::core::digest::digest(&bytes))
}

fn tuning(s: &Settings) -> Tuning {
    Tuning {
        rank: s.rank,
        alpha: s.alpha,
        targets: s.targets.iter().map(|t| t.to_string()).collect(),
        epochs: s.epochs,
        learning_rate: s.learning_rate,
        seed: s.seed,
        batch_tokens: s.batch_tokens,
    }
}
