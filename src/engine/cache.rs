//! The sample cache: every finished path stored under a content address of everything that
//! can change it — the backend's identity (kind; a server's host and model; the embedded
//! model's GGUF and LoRA fingerprint; a script's content; whether log-probabilities are asked
//! for), the strategy and every prompt it can send (the first prompt and stops, zero-shot
//! CoT's extraction phrase, least-to-most's instruction, solving exemplars and
//! decompositions), all sampling settings, the path's index and its seed, and the cache
//! format. Re-running an evaluation or raising N from 5 to 10 only samples what is missing,
//! while the N samples of one prompt stay independent (index and seed are part of the key).
//!
//! A scored run (`calibrate:`) is stored as its path and its option scores under a key of its
//! own (`scored_key`): the scoring mode, the options and every prompt scored.
//!
//! An append-only JSONL file: a killed run keeps every line it wrote. A line that does not
//! parse (torn by a kill, from another program, invalid UTF-8) or that an older format wrote
//! is skipped and counted, never read as a sample; appends always start on a fresh line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::RunPlan;
use crate::backend::BackendInfo;
use crate::core::calibrate::{ScoredOptions, Setup};
use crate::core::record::PathRecord;

/// The format of cache lines and keys; lines of any other format are skipped (format 5: the
/// embedded model seeds a path by its seed and its prompt, so its earlier samples are not what
/// it samples now; format 4: stages carry a confidence, asked for with each token's top
/// candidates).
pub const CACHE_FORMAT: u32 = 5;

pub struct Cache {
    path: PathBuf,
    skipped: usize,
    entries: Mutex<HashMap<String, PathRecord>>,
    /// Scored runs' option scores, by the same keys as their paths.
    scored: Mutex<HashMap<String, ScoredOptions>>,
    file: Mutex<File>,
    /// The first failed write (a full disk) and how many samples were not stored since.
    failed: Mutex<Option<(String, usize)>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cache({})", self.path.display())
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    format: u32,
    key: String,
    path: PathRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scored: Option<ScoredOptions>,
}

impl Cache {
    /// Opens (or creates) the cache file `dir/samples.jsonl`.
    pub fn open(dir: &Path) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("samples.jsonl");
        // A device or FIFO in its place (/dev/null, /dev/full) would swallow every sample or
        // never end a read: only a regular file is a cache.
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        let mut entries = HashMap::new();
        let mut scored = HashMap::new();
        let mut skipped = 0;
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut bytes)?;
        }
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<Line>(line) {
                Ok(l) if l.format == CACHE_FORMAT => {
                    if let Some(s) = l.scored {
                        scored.insert(l.key.clone(), s);
                    }
                    entries.insert(l.key, l.path);
                }
                _ => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::warn!(
                "{}: skipped {skipped} line(s) that are broken or of another format",
                path.display()
            );
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        if bytes.last().is_some_and(|b| *b != b'\n') {
            // A torn last line: the next entry starts on a line of its own.
            file.write_all(b"\n")?;
        }
        Ok(Cache {
            path,
            skipped,
            entries: Mutex::new(entries),
            scored: Mutex::new(scored),
            file: Mutex::new(file),
            failed: Mutex::new(None),
        })
    }

    /// The shared sample cache, `~/.cache/promptlab/samples/`.
    pub fn open_default() -> Result<std::sync::Arc<Cache>, super::error::JobError> {
        let dir = crate::store::cache_dir()
            .ok_or(super::error::JobError::NoCacheDir)?
            .join("samples");
        Cache::open(&dir)
            .map(std::sync::Arc::new)
            .map_err(|source| super::error::JobError::Cache { path: dir, source })
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines skipped when the file was read (broken, foreign or of an older format).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// A warning for people when lines were skipped.
    pub fn warning(&self) -> Option<String> {
        (self.skipped > 0).then(|| {
            format!(
                "warning: {}: skipped {} line(s) that are broken or of another cache format",
                self.path.display(),
                self.skipped
            )
        })
    }

    /// Whether writes failed (a full disk): one warning for people, naming the first error
    /// and how many samples were not stored, for the end of a command.
    pub fn write_failure(&self) -> Option<String> {
        let failed = self.failed.lock().ok()?;
        let (e, n) = failed.as_ref()?;
        Some(format!(
            "warning: {}: {n} sample(s) could not be stored in the sample cache ({e}); they will be sampled again next time",
            self.path.display()
        ))
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &str) -> Option<PathRecord> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// A scored run's option scores and the prompt tokens its scoring sent.
    pub fn get_scored(&self, key: &str) -> Option<(ScoredOptions, u32)> {
        let scored = self.scored.lock().ok()?.get(key).cloned()?;
        let path = self.get(key)?;
        let tokens = path.stages.first().map_or(0, |s| s.prompt_tokens);
        Some((scored, tokens))
    }

    /// Stores a scored run: its path and its option scores.
    pub fn put_scored(&self, key: &str, path: &PathRecord, scored: &ScoredOptions) {
        if let Ok(mut m) = self.scored.lock() {
            m.insert(key.to_string(), scored.clone());
        }
        self.write(key, path, Some(scored));
    }

    /// Stores a finished path; one `write` per line, so what was written survives a kill.
    pub fn put(&self, key: &str, path: &PathRecord) {
        self.write(key, path, None);
    }

    fn write(&self, key: &str, path: &PathRecord, scored: Option<&ScoredOptions>) {
        let mut stored = path.clone();
        stored.cached = false;
        let Ok(mut line) = serde_json::to_string(&Line {
            format: CACHE_FORMAT,
            key: key.to_string(),
            path: stored,
            scored: scored.cloned(),
        }) else {
            return;
        };
        line.push('\n');
        if let Ok(mut f) = self.file.lock()
            && let Err(e) = f.write_all(line.as_bytes())
            && let Ok(mut failed) = self.failed.lock()
        {
            match &mut *failed {
                Some((_, n)) => *n += 1,
                None => {
                    tracing::warn!("{}: cache write failed: {e}", self.path.display());
                    *failed = Some((e.to_string(), 1));
                }
            }
        }
        if let Ok(mut m) = self.entries.lock() {
            m.insert(key.to_string(), path.clone());
        }
    }
}

/// What an entry holds, which decides what of the backend its key names.
#[derive(Clone, Copy, PartialEq)]
enum Holds {
    /// Sampled paths: whether log-probabilities are asked for changes what a sample carries.
    Samples,
    /// Options' scores: log-probabilities whatever that setting says, so it is no part of the key.
    Scores,
}

/// The backend's identity in a key: its kind, a server's host and model, the embedded model's
/// or a script's fingerprint, and for samples whether log-probabilities are asked for.
fn identity(backend: &BackendInfo, holds: Holds) -> serde_json::Value {
    let mut id = serde_json::json!({
        "kind": backend.kind,
        "model": backend.model,
        "host": backend.host,
        "fingerprint": backend.fingerprint,
    });
    if holds == Holds::Samples {
        id["logprobs"] = backend.logprobs.into();
    }
    id
}

/// The content address of path `index` of `plan` on `backend`.
pub fn key(backend: &BackendInfo, plan: &RunPlan, index: usize) -> String {
    let s = &plan.sampling;
    let what = serde_json::json!({
        "format": CACHE_FORMAT,
        "backend": identity(backend, Holds::Samples),
        "strategy": plan.strategy,
        "prompt": plan.first.prompt,
        "stop": plan.first.stop,
        "answer_trigger": plan.answer_trigger,
        "extract_max_tokens": crate::core::strategy::EXTRACT_MAX_TOKENS,
        "later_prompts": plan.later_prompts(),
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "max_tokens": s.max_tokens,
        "thinking": s.thinking,
        "reasoning_effort": s.reasoning_effort,
        "index": index,
        "seed": s.seed.wrapping_add(index as u64),
    });
    crate::backend::digest(what.to_string().as_bytes())
}

/// The content address of a scored run of `plan` on `backend`: the backend's identity (what
/// the sampled paths' key holds of it but log-probabilities), the scoring mode, the options and
/// every prompt scored.
pub fn scored_key(backend: &BackendInfo, plan: &RunPlan, setup: &Setup) -> String {
    let content_free: Vec<_> = setup.content_free.iter().map(|r| &r.prompt).collect();
    let what = serde_json::json!({
        "format": CACHE_FORMAT,
        "backend": identity(backend, Holds::Scores),
        "scoring": setup.calibrate,
        "prompt": plan.first.prompt,
        "options": setup.continuations,
        "content_free": content_free,
    });
    crate::backend::digest(what.to_string().as_bytes())
}

#[cfg(test)]
mod tests;
