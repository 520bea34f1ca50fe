//! A `calibrate:` run: the options scored by their log-probabilities after the query's prompt
//! (and, for `content-free`, after each content-free prompt), one path whose text is the
//! option picked, and the scores kept in the result (`RunResult.scored`): the record says the
//! answer came from scored options, not sampled paths. The path records the prompt tokens the
//! scoring sent (the content-free prompts' by the item that scored them), and the sample cache
//! keeps the scores under a key of their own (`cache::scored_key`: the scoring mode, the
//! options and every prompt scored), so a repeat is served without scoring.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use super::limit::Limiter;
use super::{EngineEvent, Events, NOT_CACHED, RunPlan, emit};
use crate::backend::{Backend, BackendError, Scores};
use crate::core::calibrate::{CalibrateError, ScoredOptions, Setup, decide};
use crate::core::extract::Extractor;
use crate::core::record::{CANCELLED, PathRecord, RunResult, StageRecord, settle};
use crate::core::render::Prompt;
use crate::core::spec::stage::Stage;
use crate::core::vote::LogProb;

/// What the finished path's stage says ended it: scored, not sampled.
pub const SCORED: &str = "scored";

/// Content-free scores already known, by backend, prompt and options: an evaluation's items
/// share one prompt's worth (the examples do not change from item to item), each scored once
/// even when items ask for it at the same time.
#[derive(Debug, Default)]
pub struct ScoreMemo(Mutex<HashMap<String, Arc<OnceCell<Vec<f64>>>>>);

impl ScoreMemo {
    fn cell(
        &self,
        backend: &dyn Backend,
        prompt: &Prompt,
        options: &[String],
    ) -> Arc<OnceCell<Vec<f64>>> {
        let info = serde_json::to_string(&backend.info()).unwrap_or_default();
        let prompt = serde_json::to_string(prompt).unwrap_or_default();
        let key = crate::core::digest::digest(format!("{info}\n{prompt}\n{options:?}").as_bytes());
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= 4096 {
            m.clear();
        }
        m.entry(key).or_default().clone()
    }
}

async fn score(
    backend: &dyn Backend,
    prompt: &Prompt,
    options: &[String],
) -> Result<Scores, BackendError> {
    let pending = backend.score(prompt, options).ok_or_else(|| {
        BackendError::Invalid(format!(
            "the {} backend cannot score options by log-probability; `calibrate:` needs one that can (the embedded model, a server with prompt log-probabilities)",
            backend.info().kind
        ))
    })?;
    pending.await
}

/// Scores the query's prompt and the content-free ones (remembered in `memo`), and decides;
/// with the prompt tokens this run's scoring sent.
/// Why a scored path has no answer: kept as the path's error text.
#[derive(Debug, thiserror::Error)]
enum ScoreError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("content-free input: {0}")]
    ContentFree(BackendError),
    #[error(transparent)]
    Decide(#[from] CalibrateError),
    #[error("{}", NOT_CACHED)]
    NotCached,
}

async fn scores(
    backend: &dyn Backend,
    plan: &RunPlan,
    setup: &Setup,
    memo: Option<&ScoreMemo>,
) -> Result<(ScoredOptions, u32), ScoreError> {
    let options = &setup.continuations;
    let main = score(backend, &plan.first.prompt, options).await?;
    let spent = AtomicU32::new(main.prompt_tokens);
    let mut content_free = Vec::new();
    for r in &setup.content_free {
        let fresh = || async {
            let s = score(backend, &r.prompt, options).await?;
            spent.fetch_add(s.prompt_tokens, Ordering::Relaxed);
            Ok::<_, BackendError>(s.logprobs)
        };
        let s = match memo {
            Some(m) => m
                .cell(backend, &r.prompt, options)
                .get_or_try_init(fresh)
                .await
                .cloned(),
            None => fresh().await,
        };
        content_free.push(s.map_err(ScoreError::ContentFree)?);
    }
    let decided = decide(setup, main.logprobs, &content_free)?;
    Ok((decided, spent.load(Ordering::Relaxed)))
}

/// The answer `option` (a scored continuation) reads as.
pub fn answer_of(option: &str, extractor: &Extractor, query: &str) -> Option<String> {
    let mut path = PathRecord::new(0);
    let mut stage = StageRecord::new(Stage::Answer, option.trim());
    stage.finish_reason = Some(SCORED.into());
    path.stages.push(stage);
    settle(&mut path, extractor, query);
    path.answer
}

/// Whether the options' plain argmax, before calibration, was right (calibrated runs only).
pub fn uncalibrated_correct(
    result: &RunResult,
    extractor: &Extractor,
    query: &str,
    accepted: &[String],
) -> Option<bool> {
    let s = result
        .scored
        .as_deref()
        .filter(|s| !s.calibrated.is_empty())?;
    let answer = answer_of(&s.options[s.uncalibrated_pick], extractor, query);
    Some(answer.is_some_and(|a| accepted.contains(&a)))
}

pub(super) async fn run(
    backend: Arc<dyn Backend>,
    plan: Arc<RunPlan>,
    events: Option<Events>,
    cancel: CancellationToken,
    permits: Arc<Limiter>,
) -> RunResult {
    let started = Instant::now();
    let Some(setup) = plan.scoring.as_ref() else {
        return RunResult::from_paths(vec![], 0, false, &plan.voting());
    };
    emit(&events, EngineEvent::PathStarted { path: 0 });
    let mut path = PathRecord::new(0);
    let key = plan
        .cache
        .as_ref()
        .map(|c| (c, super::cache::scored_key(&backend.info(), &plan, setup)));
    let hit = key
        .as_ref()
        .filter(|_| !plan.fresh)
        .and_then(|(c, k)| c.get_scored(k));
    let outcome = match hit {
        Some(hit) => {
            path.cached = true;
            Some(Ok(hit))
        }
        None if plan.cache_only => Some(Err(ScoreError::NotCached)),
        None => {
            let _slot = permits.acquire().await;
            tokio::select! {
                r = scores(backend.as_ref(), &plan, setup, plan.score_memo.as_deref()) => Some(r),
                _ = cancel.cancelled() => None,
            }
        }
    };
    let mut scored = None;
    match outcome {
        None => path.error = Some(CANCELLED.into()),
        Some(Err(e)) => path.error = Some(e.to_string()),
        Some(Ok((s, prompt_tokens))) => {
            let text = s.options[s.pick].trim().to_string();
            emit(
                &events,
                EngineEvent::Chunk {
                    path: 0,
                    text: text.clone(),
                },
            );
            let mut stage = StageRecord::new(Stage::Answer, text);
            stage.finish_reason = Some(SCORED.into());
            stage.logprob = Some(LogProb {
                sum: s.logprobs[s.pick],
                tokens: 1,
            });
            stage.prompt_tokens = prompt_tokens;
            path.stages.push(stage);
            settle(&mut path, &plan.extractor, &plan.query);
            if let Some((c, k)) = key.as_ref().filter(|_| !path.cached) {
                c.put_scored(k, &path, &s);
            }
            scored = Some(Box::new(s));
        }
    }
    path.latency_ms = started.elapsed().as_millis() as u64;
    emit(&events, EngineEvent::PathDone(path.clone()));
    let mut result = RunResult::from_paths(
        vec![path],
        started.elapsed().as_millis() as u64,
        cancel.is_cancelled(),
        &plan.voting(),
    );
    result.scored = scored;
    emit(&events, EngineEvent::RunDone(result.clone()));
    result
}
