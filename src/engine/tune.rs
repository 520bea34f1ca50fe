//! A tune off the async runtime: `train::job::run` on a blocking thread of its own, its
//! events forwarded as they come, and cancellation turned into "stop after this step" (the
//! last epoch's adapter stays on disk).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::train::job::{TuneEvent, TuneSpec, Tuned, run};

/// Trains as `spec` says, reporting each event to `on`; `cancel` stops it between two steps.
pub async fn tune(
    spec: TuneSpec,
    cancel: CancellationToken,
    on: impl Fn(TuneEvent),
) -> Result<Tuned, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let flag = stop.clone();
    let worker = tokio::task::spawn_blocking(move || {
        run(&spec, &flag, &mut |e| {
            let _ = tx.send(e);
        })
    });
    let mut worker = std::pin::pin!(worker);
    loop {
        tokio::select! {
            Some(e) = rx.recv() => on(e),
            () = cancel.cancelled(), if !stop.load(Ordering::Relaxed) => {
                stop.store(true, Ordering::Relaxed);
            }
            done = &mut worker => {
                while let Ok(e) = rx.try_recv() {
                    on(e);
                }
                return done
                    .map_err(|e| format!("the training thread failed: {e}"))?
                    .map_err(|e| e.to_string());
            }
        }
    }
}
