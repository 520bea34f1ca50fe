//! Reading one request's streamed reply into its paths: each choice's chunks go to the path of
//! its `index` (one path for a plain request, N for a request with `n`). A path ends with
//! `Done` once the server said why it finished, or with `length` once it has streamed well past
//! its token budget (a server that ignores `max_tokens`). Silence longer than the read timeout
//! is a `Timeout`; a stream that ends or breaks off before a path finished is a cut for that
//! path, unless the reply never was one: no choices at all, or choices at indexes nobody asked
//! for, is a malformed reply and says so.

use std::future::Future;

use futures::{StreamExt, stream};
use serde_json::Value;
use tokio::sync::mpsc;

use super::chunks::{Budget, Chunk, Progress};
use super::open::Opener;
use crate::backend::{BackendError, SampleStream, StreamEvent, Usage};

pub(super) type PathSender = mpsc::UnboundedSender<Result<StreamEvent, BackendError>>;

/// `n` paths' streams and the senders that feed them.
pub(super) fn channels(n: usize) -> (Vec<PathSender>, Vec<SampleStream>) {
    (0..n)
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            let rx = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
            (tx, rx.boxed())
        })
        .unzip()
}

/// The streams, the first of which starts `drive` (which sends the request) when it is first
/// read: nothing is sent before a path is sampled.
pub(super) fn started_by_first(
    mut streams: Vec<SampleStream>,
    drive: impl Future<Output = ()> + Send + 'static,
) -> Vec<SampleStream> {
    let first = streams.remove(0);
    let started = stream::once(async move {
        tokio::spawn(drive);
        first
    })
    .flatten()
    .boxed();
    streams.insert(0, started);
    streams
}

/// Sends `body` and reads its reply into `txs`, one per choice asked for. Paths the server
/// left out (it returned fewer choices) end with `NotInBatch`; returns whether that happened
/// (the server ignores `n`). Stops when every path has ended or its reader has gone.
pub(super) async fn demux(
    opener: &Opener,
    body: Value,
    txs: Vec<PathSender>,
    budget: Budget,
) -> bool {
    let mut reply = Reply::new(opener, txs, budget);
    let mut chunks = match opener.chunks(body).await {
        Ok(c) => c,
        Err(e) => {
            reply.fail(e);
            return false;
        }
    };
    let watched = reply.txs.clone();
    let gone = futures::future::join_all(watched.iter().map(|t| t.closed()));
    tokio::pin!(gone);
    loop {
        let next = tokio::select! {
            _ = &mut gone => return false,
            next = tokio::time::timeout(opener.timeouts.read, chunks.next()) => next,
        };
        match next {
            Err(_) => reply.fail(BackendError::Timeout(opener.timeouts.silent())),
            Ok(Some(Err(e))) => reply.fail(opener.error(e)),
            Ok(None) => return reply.end(),
            Ok(Some(Ok(chunk))) => reply.absorb(chunk),
        }
        if reply.ended.iter().all(|e| *e) {
            return false;
        }
    }
}

/// What one reply has delivered so far, path by path.
struct Reply<'a> {
    opener: &'a Opener,
    txs: Vec<PathSender>,
    paths: Vec<Progress>,
    /// Paths already given their end.
    ended: Vec<bool>,
    budget: Budget,
    /// One usage for the whole request, shared out at the end (OpenAI, vLLM).
    usage: Option<(Usage, u32)>,
    /// Chunks received, and choices in them.
    chunks: u32,
    choices: u32,
    /// The first choice index at or past the number of paths.
    stray: Option<usize>,
}

impl<'a> Reply<'a> {
    fn new(opener: &'a Opener, txs: Vec<PathSender>, budget: Budget) -> Reply<'a> {
        let n = txs.len();
        Reply {
            opener,
            txs,
            paths: (0..n).map(|_| Progress::default()).collect(),
            ended: vec![false; n],
            budget,
            usage: None,
            chunks: 0,
            choices: 0,
            stray: None,
        }
    }

    fn send(&mut self, i: usize, ev: Result<StreamEvent, BackendError>) {
        let ev = ev.map_err(|e| self.opener.redact(e));
        let _ = self.txs[i].send(ev);
    }

    /// Ends path `i` (once): `Done` when it finished, else `unfinished`.
    fn end_path(&mut self, i: usize, unfinished: BackendError) {
        if !std::mem::replace(&mut self.ended[i], true) {
            let end = self.paths[i].finish(unfinished);
            self.send(i, end);
        }
    }

    /// The stream broke with `e`: paths that finished end as such, the others with `e`.
    fn fail(&mut self, e: BackendError) {
        for i in 0..self.paths.len() {
            self.end_path(i, e.clone());
        }
    }

    fn absorb(&mut self, chunk: Chunk) {
        if let Some(err) = chunk.error {
            let message = err.get("message").and_then(Value::as_str);
            let message = message.map_or_else(|| err.to_string(), str::to_string);
            return self.fail(BackendError::Malformed(message));
        }
        self.chunks += 1;
        let n = self.paths.len();
        if let Some(u) = chunk.usage {
            // llama.cpp's server gives each choice its own usage, on its last chunk; OpenAI
            // and vLLM one usage for the request, on a chunk of its own.
            let (usage, thought) = u.read();
            match chunk.choices.as_slice() {
                [only] if only.path() < n => {
                    let p = &mut self.paths[only.path()];
                    p.usage = Some(usage);
                    p.reasoning_tokens = thought;
                }
                _ => self.usage = Some((usage, thought)),
            }
        }
        if chunk.choices.is_empty() {
            // Nothing for any path in particular: it counts against every budget.
            self.paths.iter_mut().for_each(Progress::charge);
        }
        for c in chunk.choices {
            self.choices += 1;
            let i = c.path();
            if i >= n {
                self.stray.get_or_insert(i);
                continue;
            }
            if self.ended[i] {
                continue;
            }
            for ev in self.paths[i].absorb(c).collect::<Vec<_>>() {
                self.send(i, Ok(ev));
            }
        }
        for i in 0..n {
            if !self.ended[i] && self.paths[i].over(self.budget) {
                tracing::warn!(
                    path = i,
                    "the server went on well past max_tokens; the stream was cut there"
                );
                self.end_path(i, BackendError::StreamCut);
            }
        }
    }

    /// The stream ended: each path gets its end. Returns whether the server left paths out.
    fn end(mut self) -> bool {
        let answered: Vec<bool> = self.paths.iter().map(Progress::answered).collect();
        let ignored = answered[0] && answered.iter().any(|a| !a);
        // The prompt was billed once: on the first path. Completion (and thinking) tokens
        // are shared out by the events each path streamed.
        let streamed: u32 = self.paths.iter().map(|p| p.events).sum();
        let share = |total: u32, events: u32| match streamed {
            0 => 0,
            _ => (u64::from(total) * u64::from(events) / u64::from(streamed)) as u32,
        };
        let malformed = self.unfinished();
        for (i, answered) in answered.into_iter().enumerate() {
            if !answered && ignored {
                self.ended[i] = true;
                self.send(i, Err(BackendError::NotInBatch));
                continue;
            }
            let p = &mut self.paths[i];
            if let (None, Some((u, thought))) = (p.usage, self.usage) {
                p.usage = Some(Usage {
                    prompt_tokens: if i == 0 { u.prompt_tokens } else { 0 },
                    completion_tokens: share(u.completion_tokens, p.events),
                });
                p.reasoning_tokens = share(thought, p.events);
            }
            let unfinished = match &malformed {
                Some(m) if !answered => m.clone(),
                _ => BackendError::StreamCut,
            };
            self.end_path(i, unfinished);
        }
        ignored
    }

    /// What a path that got nothing tells of the reply: none of its choices were for a path
    /// asked for, or it had none at all. `None`: the stream was just cut.
    fn unfinished(&self) -> Option<BackendError> {
        let asked = match self.paths.len() {
            1 => "1 was".to_string(),
            n => format!("{n} were"),
        };
        match self.stray {
            Some(i) => Some(format!("choice index {i} when {asked} asked for")),
            None if self.chunks > 0 && self.choices == 0 => {
                Some("the reply had no choices".to_string())
            }
            None => None,
        }
        .map(BackendError::Malformed)
    }
}
