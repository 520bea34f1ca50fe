//! Keeping the sessions folder tidy: autosave files (one per lab launch that changed
//! something) are removed when they are old or when every run in them is already kept in a
//! named session. `stale` decides, over plain data; `tidy_autosaves` is the I/O around it.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::error::StoreError;
use crate::core::record::RunRecord;

/// Autosaves older than this are removed at lab start.
pub const MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// The prefix of an unnamed session's file.
pub const AUTOSAVE_PREFIX: &str = "autosave-";

/// Whether `path` names an autosave file (`autosave-….yaml`).
pub fn is_autosave(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(AUTOSAVE_PREFIX))
}

/// One autosave file as `stale` sees it.
#[derive(Debug, Clone)]
pub struct Autosave<Id> {
    pub path: PathBuf,
    pub modified: SystemTime,
    /// The ids of its runs (`run_id`).
    pub runs: Vec<Id>,
}

/// The autosaves to remove: those modified more than `max_age` before `now`, and those
/// with at least one run whose runs are all in `named` (the ids of the named sessions'
/// runs). An autosave with no runs holds only edits: it goes only with age.
pub fn stale<Id: Eq + Hash>(
    autosaves: &[Autosave<Id>],
    named: &HashSet<Id>,
    now: SystemTime,
    max_age: Duration,
) -> Vec<PathBuf> {
    autosaves
        .iter()
        .filter(|a| {
            let old = now
                .duration_since(a.modified)
                .is_ok_and(|age| age > max_age);
            let kept = !a.runs.is_empty() && a.runs.iter().all(|r| named.contains(r));
            old || kept
        })
        .map(|a| a.path.clone())
        .collect()
}

/// A run's identity across files: the same run saved in two sessions has the same id (what
/// `RunRecord::same_run` compares).
pub fn run_id(r: &RunRecord) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    r.timestamp.hash(&mut h);
    r.query.hash(&mut h);
    format!("{:?}", r.prompt).hash(&mut h);
    r.backend.label().hash(&mut h);
    r.result.elapsed_ms.hash(&mut h);
    r.result.paths.len().hash(&mut h);
    for p in &r.result.paths {
        p.text().hash(&mut h);
    }
    h.finish()
}

/// Removes the stale autosaves among the sessions in `dirs` (never `keep`, the running lab's
/// own file) and returns the files removed. A file that cannot be read is left alone.
pub fn tidy_autosaves(dirs: &[PathBuf], keep: &Path, now: SystemTime) -> Vec<PathBuf> {
    let mut autosaves = Vec::new();
    let mut named = HashSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.extension().is_none_or(|x| x != "yaml" && x != "yml") || p == keep {
                continue;
            }
            let Ok(modified) = p.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            let Ok(session) = super::session::load_session(&p) else {
                continue;
            };
            let ids = session.runs.iter().map(run_id);
            if is_autosave(&p) {
                autosaves.push(Autosave {
                    path: p,
                    modified,
                    runs: ids.collect(),
                });
            } else {
                named.extend(ids);
            }
        }
    }
    stale(&autosaves, &named, now, MAX_AGE)
        .into_iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .collect()
}

/// Renames the session file `from` to `to`, never replacing a file already at `to`.
pub fn rename_session(from: &Path, to: &Path) -> Result<(), StoreError> {
    let exists = || StoreError::Exists(to.to_path_buf());
    let failed = |source| StoreError::Rename {
        path: from.to_path_buf(),
        source,
    };
    // A hard link cannot replace a file, so no other process's file is lost in a race.
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from).map_err(failed),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if to.exists() => Err(exists()),
        // A folder without hard links: a rename, after the check.
        Err(_) => std::fs::rename(from, to).map_err(failed),
    }
}

/// Deletes the session file at `path`.
pub fn delete_session(path: &Path) -> Result<(), StoreError> {
    std::fs::remove_file(path).map_err(|source| StoreError::Delete {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn autosave(name: &str, age_days: u64, runs: &[u32], now: SystemTime) -> Autosave<u32> {
        Autosave {
            path: PathBuf::from(format!("autosave-{name}.yaml")),
            modified: now - DAY * age_days as u32,
            runs: runs.to_vec(),
        }
    }

    #[test]
    fn old_autosaves_and_those_kept_in_a_named_session_go() {
        let now = SystemTime::UNIX_EPOCH + DAY * 1000;
        let named: HashSet<u32> = [1, 2, 3].into();
        let all = [
            autosave("old", 15, &[9], now),
            autosave("old-empty", 20, &[], now),
            autosave("merged", 1, &[1, 3], now),
            autosave("partly", 1, &[1, 7], now),
            autosave("recent", 13, &[8], now),
            autosave("edits-only", 2, &[], now),
            autosave("future", 0, &[5], now + DAY),
        ];
        let gone = stale(&all, &named, now, MAX_AGE);
        let names: Vec<String> = gone.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "autosave-old.yaml",
                "autosave-old-empty.yaml",
                "autosave-merged.yaml"
            ]
        );
    }

    #[test]
    fn autosaves_are_told_by_their_name() {
        assert!(is_autosave(Path::new("/d/autosave-20261202T1.yaml")));
        assert!(!is_autosave(Path::new("/d/mine.yaml")));
    }

    #[test]
    fn lab_start_removes_merged_autosaves_and_keeps_the_rest() {
        use crate::store::session::{append_run, tests::record};
        let (t, _) = crate::store::template::resolve("gsm8k-cot").unwrap();
        let (dir, here) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (record(&["The answer is 1."]), record(&["The answer is 2."]));
        append_run(&dir.path().join("named.yaml"), &t, a.clone()).unwrap();
        let merged = dir.path().join("autosave-1.yaml");
        append_run(&merged, &t, a.clone()).unwrap();
        // Its run is kept in a named session of the other folder (./sessions).
        let merged_elsewhere = here.path().join("autosave-2.yaml");
        append_run(&merged_elsewhere, &t, a.clone()).unwrap();
        let own = dir.path().join("autosave-3.yaml");
        append_run(&own, &t, b.clone()).unwrap();
        let partly = dir.path().join("autosave-4.yaml");
        append_run(&partly, &t, a).unwrap();
        append_run(&partly, &t, b).unwrap();
        let dirs = [here.path().to_path_buf(), dir.path().to_path_buf()];
        let now = SystemTime::now();
        let mut gone = tidy_autosaves(&dirs, &own, now);
        gone.sort();
        let mut want = [merged_elsewhere.clone(), merged.clone()];
        want.sort();
        assert_eq!(gone, want);
        assert!(!merged.exists() && !merged_elsewhere.exists());
        assert!(own.exists() && partly.exists() && dir.path().join("named.yaml").exists());
        // A fortnight later every autosave but the running lab's own goes.
        let gone = tidy_autosaves(&dirs, &own, now + MAX_AGE + DAY);
        assert_eq!(gone, [partly]);
        assert!(own.exists());
    }

    #[test]
    fn a_rename_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("autosave-1.yaml"),
            dir.path().join("b.yaml"),
        );
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let e = rename_session(&a, &b).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "b");
        let c = dir.path().join("c.yaml");
        rename_session(&a, &c).unwrap();
        assert!(!a.exists());
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "a");
        delete_session(&c).unwrap();
        assert!(!c.exists() && delete_session(&c).is_err());
    }
}
