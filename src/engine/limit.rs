//! How many samples are in flight at once, adapted to what the server takes: additive increase,
//! multiplicative decrease (AIMD). A server that cuts a stream when another request arrives
//! (llama-cpp-python's default), answers 429/503 or times out under load makes the limit drop
//! to half of what was in flight; each run of successes as long as the limit raises it by one,
//! up to the configured concurrency. A sample that met such a failure gives its slot back and
//! waits for one under the new limit before it is sampled again, so every path finishes.
//!
//! A timeout is a sign of load only while the server is answering other samples: when no
//! sample has heard from it for half the time the timed-out one waited, it has stopped
//! answering (`Verdict::Stuck`). Asking again would only wait again, so the sample fails, and
//! so does every sample about to start, without a request, until the server is heard again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::backend::BackendError;

pub struct Limiter {
    slots: Semaphore,
    state: Mutex<State>,
    /// Set the first time the limit was lowered (so it is said once).
    lowered: AtomicBool,
    /// When a sample last heard from the server, in milliseconds since `born`.
    heard: AtomicU64,
    born: Instant,
    /// Why the server seems to have stopped answering (a timeout no sample heard past).
    stuck: Mutex<Option<String>>,
    is_stuck: AtomicBool,
}

struct State {
    limit: usize,
    max: usize,
    in_flight: usize,
    /// Slots to take out of circulation as they come back (a lowered limit).
    debt: usize,
    successes: usize,
}

/// What a failure told the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not a sign of overload: the sample failed on its own.
    Failed,
    /// Overload while other samples were in flight: the server's doing, not the sample's (a
    /// retry is not held against it); `Some(limit)` when the limit dropped to `limit`.
    Crowded(Option<usize>),
    /// A timeout while no sample heard from the server: it stopped answering, and asking
    /// again would only wait again.
    Stuck,
}

/// A sampling slot; given back when dropped.
pub struct Slot<'a> {
    limiter: &'a Limiter,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

impl Limiter {
    pub fn new(max: usize) -> Limiter {
        let max = max.max(1);
        Limiter {
            slots: Semaphore::new(max),
            state: Mutex::new(State {
                limit: max,
                max,
                in_flight: 0,
                debt: 0,
                successes: 0,
            }),
            lowered: AtomicBool::new(false),
            heard: AtomicU64::new(0),
            born: Instant::now(),
            stuck: Mutex::new(None),
            is_stuck: AtomicBool::new(false),
        }
    }

    /// A sample heard from the server (a chunk, its end): it is answering.
    pub fn heard(&self) {
        let now = self.born.elapsed().as_millis() as u64;
        self.heard.fetch_max(now, Ordering::Relaxed);
        if self.is_stuck.load(Ordering::Relaxed) && self.is_stuck.swap(false, Ordering::Relaxed) {
            *self.stuck.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// How long no sample has heard from the server (since the limiter's start when none
    /// ever did).
    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.heard.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(last)
    }

    /// Why the server seems to have stopped answering, until a sample hears from it again:
    /// samples that have not started yet fail at once instead of each waiting out a timeout.
    pub fn stuck(&self) -> Option<String> {
        if !self.is_stuck.load(Ordering::Relaxed) {
            return None;
        }
        self.stuck.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits for a slot under the current limit.
    pub async fn acquire(&self) -> Slot<'_> {
        if let Ok(p) = self.slots.acquire().await {
            p.forget();
        }
        self.lock().in_flight += 1;
        Slot { limiter: self }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn release(&self) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.debt > 0 {
            s.debt -= 1;
        } else {
            self.slots.add_permits(1);
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// The limit asked for (the most it grows back to).
    pub fn max(&self) -> usize {
        self.lock().max
    }

    /// Whether the limit was ever lowered.
    pub fn was_lowered(&self) -> bool {
        self.lowered.load(Ordering::Relaxed)
    }

    /// A sample finished: after `limit` successes in a row (at least 8, so a server that
    /// took one at a time is not crowded again at once) the limit grows by one.
    pub fn succeeded(&self) {
        let mut s = self.lock();
        s.successes += 1;
        if s.successes >= s.limit.max(8) && s.limit < s.max {
            s.successes = 0;
            s.limit += 1;
            if s.debt > 0 {
                s.debt -= 1;
            } else {
                self.slots.add_permits(1);
            }
        }
    }

    /// A sample failed with `e` after hearing nothing from the server for `quiet`. A timeout
    /// while no sample heard from the server for half that time is `Stuck`. Other signs of
    /// overload while others were in flight lower the limit to half of what was in flight,
    /// when `holds_slot` (a path that shares another's request, server-side `n`, is judged
    /// alike but leaves the lowering to the path whose request it was: one request, one sign).
    pub fn failed(&self, e: &BackendError, quiet: Duration, holds_slot: bool) -> Verdict {
        if matches!(e, BackendError::Timeout(_)) && self.silent_for() >= quiet / 2 {
            *self.stuck.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            self.is_stuck.store(true, Ordering::Relaxed);
            return Verdict::Stuck;
        }
        if !overload(e) {
            return Verdict::Failed;
        }
        let mut s = self.lock();
        if s.in_flight <= 1 {
            return Verdict::Failed; // alone, and still refused: not a matter of load
        }
        if !holds_slot {
            return Verdict::Crowded(None);
        }
        s.successes = 0;
        let target = (s.in_flight.min(s.limit) / 2).max(1);
        if target >= s.limit {
            return Verdict::Crowded(None);
        }
        s.debt += s.limit - target;
        s.limit = target;
        // Slots free right now go out at once; the rest as they come back.
        let free = self.slots.forget_permits(s.debt);
        s.debt -= free;
        self.lowered.store(true, Ordering::Relaxed);
        Verdict::Crowded(Some(target))
    }
}

/// Failures a busy server gives: a stream cut short, a timeout, 429 or 503.
fn overload(e: &BackendError) -> bool {
    matches!(
        e,
        BackendError::StreamCut
            | BackendError::Timeout(_)
            | BackendError::Http {
                status: 429 | 503,
                ..
            }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::ZERO;
    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn overload_halves_what_was_in_flight_and_successes_win_it_back() {
        let l = Limiter::new(8);
        let slots: Vec<_> = futures::future::join_all((0..6).map(|_| l.acquire())).await;
        assert_eq!(
            l.failed(&BackendError::StreamCut, NOW, false),
            Verdict::Crowded(None),
            "a path riding on another's request leaves the lowering to it"
        );
        assert_eq!(l.limit(), 8);
        assert_eq!(
            l.failed(&BackendError::StreamCut, NOW, true),
            Verdict::Crowded(Some(3))
        );
        assert_eq!(
            l.failed(&BackendError::Model("bad".into()), NOW, true),
            Verdict::Failed
        );
        drop(slots);
        // Three slots now, however many come back.
        let held: Vec<_> = futures::future::join_all((0..3).map(|_| l.acquire())).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(20), l.acquire())
                .await
                .is_err(),
            "a fourth waits"
        );
        drop(held);
        for _ in 0..8 {
            l.succeeded();
        }
        assert_eq!(l.limit(), 4);
        assert!(l.was_lowered());
        // Never below one, never above the maximum; alone, a failure is the sample's own.
        let two: Vec<_> = futures::future::join_all((0..2).map(|_| l.acquire())).await;
        for _ in 0..5 {
            // Timeouts while the server answers others (heard just now).
            l.heard();
            let verdict = l.failed(&BackendError::Timeout("t".into()), HOUR, true);
            assert!(matches!(verdict, Verdict::Crowded(_)), "{verdict:?}");
        }
        assert_eq!(l.limit(), 1);
        drop(two);
        let one = l.acquire().await;
        assert_eq!(
            l.failed(&BackendError::StreamCut, NOW, true),
            Verdict::Failed
        );
        drop(one);
        for _ in 0..200 {
            l.succeeded();
        }
        assert_eq!(l.limit(), 8);
    }

    #[tokio::test]
    async fn a_timeout_nobody_heard_past_means_the_server_stopped_answering_until_it_is_heard() {
        let l = Limiter::new(4);
        let timeout = BackendError::Timeout("no response headers within 1 s".into());
        tokio::time::sleep(Duration::from_millis(30)).await;
        // Nothing heard since the start, 30 ms ago: a 40 ms wait is past half of it.
        assert_eq!(
            l.failed(&timeout, Duration::from_millis(40), true),
            Verdict::Stuck
        );
        assert_eq!(
            l.stuck().as_deref(),
            Some("the server stopped answering: no response headers within 1 s")
        );
        assert_eq!(l.limit(), 4, "a stuck server is not a crowded one");
        l.heard();
        assert_eq!(l.stuck(), None, "heard again");
        // Heard 30 ms ago: a wait of an hour saw the server answer others.
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_ne!(l.failed(&timeout, HOUR, true), Verdict::Stuck);
        // Other failures are never a stuck server.
        assert_eq!(
            l.failed(&BackendError::StreamCut, Duration::from_millis(40), true),
            Verdict::Failed
        );
    }
}
