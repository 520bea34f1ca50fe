//! A tune off the async runtime: `train::job::run` on a blocking thread of its own with
//! llama.cpp as its reference (`Llama`: the tokenizer and the logits check of
//! `backend::local::reference`), its events forwarded as they come, and cancellation turned
//! into "stop after this step" (the last epoch's adapter stays on disk).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backend::local::reference;
use crate::core::render::Prompt;
use crate::train::job::{TuneEvent, TuneSpec, Tuned, run};
use crate::train::{Reference, ReferenceError, Tokenize};

/// llama.cpp, as a tune's reference.
pub struct Llama;

impl Reference for Llama {
    fn tokenizer(&self, model_path: &Path) -> Result<Box<dyn Tokenize>, ReferenceError> {
        Ok(Box::new(reference::Tokenizer::open(model_path)?))
    }

    fn last_logits(
        &self,
        model_path: &Path,
        lora: Option<&Path>,
        tokens: &[u32],
    ) -> Result<Vec<f32>, ReferenceError> {
        Ok(reference::last_logits(model_path, lora, tokens)?)
    }
}

impl Tokenize for reference::Tokenizer {
    fn sequence(&self, prompt: &Prompt, answer: &str) -> Result<(Vec<u32>, usize), ReferenceError> {
        Ok(reference::Tokenizer::sequence(self, prompt, answer)?)
    }
}

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
        run(&spec, &Llama, &flag, &mut |e| {
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
