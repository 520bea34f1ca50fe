//! The sample cache: every finished path stored under a content address of everything that
//! decides it — backend, model, strategy, the exact prompt and stops, sampling settings, the
//! path's index and its seed. Re-running an evaluation or raising N from 5 to 10 only samples
//! what is missing, while the N samples of one prompt stay independent (index and seed are part
//! of the key). An append-only JSONL file: a killed run keeps every line it wrote, and a torn
//! last line is skipped.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{PathResult, RunPlan};
use crate::backend::BackendInfo;

pub struct Cache {
    path: PathBuf,
    entries: Mutex<HashMap<String, PathResult>>,
    file: Mutex<File>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cache({})", self.path.display())
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    path: PathResult,
}

impl Cache {
    /// Opens (or creates) the cache file `dir/samples.jsonl`.
    pub fn open(dir: &Path) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("samples.jsonl");
        let mut entries = HashMap::new();
        if let Ok(f) = File::open(&path) {
            for line in BufReader::new(f).lines() {
                // A line torn by a kill does not parse and is skipped.
                if let Ok(l) = serde_json::from_str::<Line>(&line?) {
                    entries.insert(l.key, l.path);
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Cache {
            path,
            entries: Mutex::new(entries),
            file: Mutex::new(file),
        })
    }

    /// The shared sample cache, `~/.cache/promptlab/samples/`.
    pub fn open_default() -> Result<std::sync::Arc<Cache>, String> {
        let dir = crate::store::cache_dir()
            .ok_or("no cache directory; use --no-cache")?
            .join("samples");
        Cache::open(&dir)
            .map(std::sync::Arc::new)
            .map_err(|e| format!("{}: {e}", dir.display()))
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &str) -> Option<PathResult> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Stores a finished path; one `write` per line, so what was written survives a kill.
    pub fn put(&self, key: &str, path: &PathResult) {
        let Ok(mut line) = serde_json::to_string(&Line {
            key: key.to_string(),
            path: path.clone(),
        }) else {
            return;
        };
        line.push('\n');
        if let Ok(mut f) = self.file.lock()
            && let Err(e) = f.write_all(line.as_bytes())
        {
            tracing::warn!("cache write failed: {e}");
        }
        if let Ok(mut m) = self.entries.lock() {
            m.insert(key.to_string(), path.clone());
        }
    }
}

/// The content address of path `index` of `plan` on `backend`.
pub fn key(backend: &BackendInfo, plan: &RunPlan, index: usize) -> String {
    let s = &plan.sampling;
    let what = serde_json::json!({
        "backend": backend.kind,
        "model": backend.model,
        "strategy": plan.strategy,
        "prompt": plan.first.prompt,
        "stop": plan.first.stop,
        "answer_trigger": plan.answer_trigger,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "max_tokens": s.max_tokens,
        "index": index,
        "seed": s.seed.wrapping_add(index as u64),
    });
    let digest = Sha256::digest(what.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
