//! One path of a run: its model calls in order (a strategy's stages), each streamed into its
//! stage record, sampled afresh when a stream breaks (up to the plan's resamples for failures of
//! its own, as often as it takes for a crowded server's), under a concurrency slot of the run's
//! `Limiter`, and never sent to a server that stopped answering.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::limit::{Limiter, Slot, Verdict};
use super::{EngineEvent, Events, RunPlan, emit};
use crate::backend::{Backend, BackendError, Finish, SampleRequest, SampleStream, StreamEvent};
use crate::core::record::{CANCELLED, PathRecord, StageRecord, settle};
use crate::core::strategy::Step;
use crate::core::thinking::{Piece, Splitter};

fn cancelled_path(mut path: PathRecord) -> PathRecord {
    path.error = Some(CANCELLED.into());
    path
}

/// A path's first stream, opened with others of its prompt (`Backend::stream_batch`).
pub(super) struct Opened {
    pub stream: SampleStream,
    /// The first path of an HTTP batch: it takes the concurrency slot the whole request
    /// holds (the others share it).
    pub takes_slot: bool,
}

/// How one sample ended (`Done` with the number of thinking chunks streamed).
enum SampleEnd {
    Done(Finish, u32),
    /// With how long nothing had arrived from the server by then.
    Failed(BackendError, Duration),
    /// Not sent: the server stopped answering other samples (`Limiter::stuck`, the reason).
    NotSent(String),
    Cancelled,
}

pub(super) async fn run_path(
    i: usize,
    backend: &dyn Backend,
    plan: &RunPlan,
    opened: Option<Opened>,
    events: &Option<Events>,
    cancel: &CancellationToken,
    limiter: &Limiter,
) -> PathRecord {
    // Paths of a batch other than its first share its slot; the others wait for one.
    let needs_slot = opened.as_ref().is_none_or(|o| o.takes_slot);
    let mut path = PathRecord::new(i);
    // A later path of an HTTP batch sends no request of its own for its first call.
    path.shared_request = !needs_slot && !backend.decodes_in_lockstep();
    let mut run = PathRun {
        i,
        backend,
        plan,
        events,
        cancel,
        limiter,
        held: None,
        opened: opened.map(|o| o.stream),
        own_failures: 0,
    };
    if needs_slot && !run.take_slot().await {
        return cancelled_path(path);
    }
    let started = Instant::now();
    emit(events, EngineEvent::PathStarted { path: i });
    let mut machine = plan.machine();
    let mut step = machine.start();
    loop {
        let spec = match step {
            Step::Done => {
                path.latency_ms = started.elapsed().as_millis() as u64;
                settle(&mut path, &plan.extractor, &plan.query);
                return path;
            }
            Step::Sample(spec) => spec,
        };
        if !spec.preface.is_empty() {
            emit(
                events,
                EngineEvent::Chunk {
                    path: i,
                    text: spec.preface.clone(),
                },
            );
        }
        let mut stage = StageRecord {
            preface: spec.preface.clone(),
            question: spec.question.clone(),
            ..StageRecord::new(spec.stage, "")
        };
        let request = plan.request(spec, i);
        // A later stage of a batched path is a request of its own: it takes a slot.
        if run.opened.is_none() && !backend.decodes_in_lockstep() && !run.take_slot().await {
            return cancelled_path(path);
        }
        let end = run.sample_stage(&mut path, &mut stage, &request).await;
        path.latency_ms = started.elapsed().as_millis() as u64;
        match end {
            SampleEnd::Done(finish, thinking_chunks) => {
                limiter.succeeded();
                stage.finish_reason = Some(finish.reason);
                stage.prompt_tokens = finish.usage.prompt_tokens;
                stage.completion_tokens = finish.usage.completion_tokens;
                // The server's count when it gives one, else the thinking's chunks.
                stage.reasoning_tokens = match finish.reasoning_tokens {
                    0 if !stage.thinking.is_empty() => thinking_chunks.min(stage.completion_tokens),
                    n => n,
                };
                stage.logprob = finish.logprob;
                stage.confidence = finish.confidence;
                path.stages.push(stage);
                step = machine.on_completion(&path.stages[path.stages.len() - 1].text);
            }
            SampleEnd::Failed(e, _) => {
                path.stages.push(stage);
                path.error = Some(e.to_string());
                return path;
            }
            // No call was made: the path records no stage for it.
            SampleEnd::NotSent(reason) => {
                path.shared_request &= !path.stages.is_empty();
                path.error = Some(format!("not sent: {reason}"));
                return path;
            }
            SampleEnd::Cancelled => {
                path.stages.push(stage);
                return cancelled_path(path);
            }
        }
    }
}

/// One path's sampling: its slot, its first stream when it was opened with others of its
/// prompt, and the failures held against it.
struct PathRun<'a> {
    i: usize,
    backend: &'a dyn Backend,
    plan: &'a RunPlan,
    events: &'a Option<Events>,
    cancel: &'a CancellationToken,
    limiter: &'a Limiter,
    held: Option<Slot<'a>>,
    opened: Option<SampleStream>,
    /// Failures of the path itself (a crowded server's cuts are not counted).
    own_failures: u32,
}

impl PathRun<'_> {
    /// Holds a slot (waiting for one unless it does); `false` when the run is cancelled first.
    async fn take_slot(&mut self) -> bool {
        if self.held.is_none() {
            self.held = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => None,
                s = self.limiter.acquire() => Some(s),
            };
        }
        self.held.is_some()
    }

    /// Samples one stage into `stage`, afresh after a transient failure: up to the plan's
    /// resamples for failures of its own, as often as it takes for a crowded server's (after
    /// waiting for a slot under the lowered limit), never for a server that stopped answering.
    async fn sample_stage(
        &mut self,
        path: &mut PathRecord,
        stage: &mut StageRecord,
        request: &SampleRequest,
    ) -> SampleEnd {
        let mut again = false;
        loop {
            if let Some(reason) = self.limiter.stuck() {
                return SampleEnd::NotSent(reason);
            }
            path.resamples += u32::from(again);
            let stream = self
                .opened
                .take()
                .unwrap_or_else(|| self.backend.stream(request.clone()));
            stage.text.clear();
            stage.thinking.clear();
            let sampled = sample(
                self.i,
                stream,
                self.events,
                self.cancel,
                self.limiter,
                stage,
            );
            let (e, quiet) = match sampled.await {
                SampleEnd::Failed(e, quiet) => (e, quiet),
                end => return end,
            };
            // The server took the batch's `n` as 1: this path is sampled alone, under a slot
            // of its own, as if it had never been batched.
            if e == BackendError::NotInBatch {
                path.shared_request = false;
                if !self.take_slot().await {
                    return SampleEnd::Cancelled;
                }
                again = false;
                continue;
            }
            if !e.is_transient() {
                return SampleEnd::Failed(e, quiet);
            }
            match self.limiter.failed(&e, quiet, self.held.is_some()) {
                Verdict::Stuck => return SampleEnd::Failed(e, quiet),
                Verdict::Failed if self.own_failures >= self.plan.max_resamples => {
                    return SampleEnd::Failed(e, quiet);
                }
                Verdict::Failed => self.own_failures += 1,
                Verdict::Crowded(Some(limit)) => emit(
                    self.events,
                    EngineEvent::Throttled {
                        limit,
                        reason: e.to_string(),
                    },
                ),
                Verdict::Crowded(None) => {}
            }
            // This one waits for a slot under the (perhaps lowered) limit before it asks
            // again.
            drop(self.held.take());
            if !self.take_slot().await {
                return SampleEnd::Cancelled;
            }
            let before = format!("{}{}", path.text(), stage.preface);
            emit(
                self.events,
                EngineEvent::PathRestarted {
                    path: self.i,
                    text: before,
                    reason: e.to_string(),
                },
            );
            again = true;
        }
    }
}

/// Streams one sample into `stage` (so what arrived is kept when it fails or is
/// cancelled): thinking, sent apart or inline between `<think>` tags, into its `thinking`,
/// the rest into its `text`. Whatever arrives tells the limiter the server is answering.
async fn sample(
    i: usize,
    mut stream: SampleStream,
    events: &Option<Events>,
    cancel: &CancellationToken,
    limiter: &Limiter,
    stage: &mut StageRecord,
) -> SampleEnd {
    let mut inline = Splitter::default();
    let mut thinking_chunks = 0;
    let mut last = Instant::now();
    let end = loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => break SampleEnd::Cancelled,
            next = stream.next() => next,
        };
        if let Some(Ok(_)) = next {
            limiter.heard();
            last = Instant::now();
        }
        let pieces = match next {
            Some(Ok(StreamEvent::Text(t))) => inline.push(&t),
            Some(Ok(StreamEvent::Thinking(t))) => vec![Piece::Thinking(t)],
            Some(Ok(StreamEvent::Done(f))) => break SampleEnd::Done(f, thinking_chunks),
            Some(Err(e)) => break SampleEnd::Failed(e, last.elapsed()),
            None => break SampleEnd::Failed(BackendError::StreamCut, last.elapsed()),
        };
        for piece in pieces {
            match piece {
                Piece::Thinking(t) => {
                    thinking_chunks += 1;
                    stage.thinking.push_str(&t);
                    emit(events, EngineEvent::Thinking { path: i, text: t });
                }
                Piece::Answer(t) => {
                    stage.text.push_str(&t);
                    emit(events, EngineEvent::Chunk { path: i, text: t });
                }
            }
        }
    };
    inline.finish(&mut stage.thinking, &mut stage.text);
    end
}
