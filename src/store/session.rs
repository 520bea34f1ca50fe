//! Sessions: the lab's editable state plus every run made in it, as versioned YAML.
//!
//! A session never holds an API key: runs record the backend's kind and model name only.
//! Writes are atomic (see `atomic`), so a crash mid-save leaves the previous good file.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::error::StoreError;
pub use crate::core::record::RunRecord;
use crate::core::template::Template;

/// The session format version this build writes; older versions are migrated on load
/// (format 1 kept a path's text whole; format 2 keeps each model call as a stage; format 3
/// adds a stage's thinking and reasoning tokens; format 4 an early-stop rule in the sampling
/// settings and where a run stopped; format 5 how each path's answer was read and strict
/// answers: older runs are read again on load, `RunRecord::reread`).
pub const SESSION_VERSION: u32 = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub version: u32,
    pub created: String,
    /// The template the session started from (informational: `lab` carries everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The editable state: instruction, examples (with on/off), query, strategy, sampling...
    pub lab: Template,
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

impl Session {
    pub fn new(lab: Template) -> Session {
        Session {
            version: SESSION_VERSION,
            created: now_rfc3339(),
            origin: Some(lab.name.clone()),
            lab,
            runs: Vec::new(),
        }
    }

    pub fn to_yaml(&self) -> Result<String, StoreError> {
        let mut s = std::borrow::Cow::Borrowed(self);
        if s.version != SESSION_VERSION {
            // Written in this build's format, whatever it was read from.
            s.to_mut().version = SESSION_VERSION;
        }
        Ok(serde_saphyr::to_string(s.as_ref())?)
    }

    pub fn from_yaml(yaml: &str, source: &str) -> Result<Session, StoreError> {
        Session::from_yaml_checked(yaml, source).map(|(s, _)| s)
    }

    /// The session in `yaml`, each run checked against its own paths (`core::record_check`:
    /// what it derives is recomputed where the file disagrees), and what was found, as
    /// "run K: …".
    pub fn from_yaml_checked(
        yaml: &str,
        source: &str,
    ) -> Result<(Session, Vec<String>), StoreError> {
        // Look at the version first, so a newer file is reported as such rather than as
        // whatever key it added.
        #[derive(Deserialize)]
        struct Probe {
            version: Option<u32>,
        }
        let probe: Result<Probe, _> = super::parse_yaml(yaml, source);
        if let Ok(Probe { version: Some(v) }) = probe
            && v > SESSION_VERSION
        {
            return Err(StoreError::Parse {
                path: source.to_string(),
                message: format!(
                    "session version {v} is newer than this promptlab reads ({SESSION_VERSION}); upgrade promptlab"
                ),
            });
        }
        let mut s: Session = super::parse_yaml(yaml, source)?;
        s.runs.iter_mut().for_each(RunRecord::reread);
        if s.version == 0 {
            return Err(StoreError::Parse {
                path: source.to_string(),
                message: "session version 0 is not a version".into(),
            });
        }
        let mut found = Vec::new();
        for (k, r) in s.runs.iter_mut().enumerate() {
            for problem in crate::core::record_check::check(r) {
                found.push(format!("run {}: {problem}", k + 1));
            }
        }
        Ok((s, found))
    }
}

pub fn load_session(path: &Path) -> Result<Session, StoreError> {
    load_session_checked(path).map(|(s, _)| s)
}

/// The session at `path` and what its runs disagreed with their own paths about (see
/// `Session::from_yaml_checked`).
pub fn load_session_checked(path: &Path) -> Result<(Session, Vec<String>), StoreError> {
    let text = super::read_text(path).map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Session::from_yaml_checked(&text, &path.display().to_string())
}

/// Writes `session` to `path` (atomically, under the file's lock).
pub fn save_session(path: &Path, session: &Session) -> Result<(), StoreError> {
    super::atomic::locked(path, || write_session(path, session)).map_err(|source| {
        StoreError::Io {
            path: path.display().to_string(),
            source,
        }
    })?
}

/// Writes the lab's `session` to `path` without losing runs another process (a `promptlab
/// run --save`, another lab) added to the file since the lab read it: under the file's lock,
/// runs on disk that the session does not hold are appended to it before it is written. A
/// file there that is not a readable session is left alone. Returns the runs taken in.
pub fn save_merged(path: &Path, session: &mut Session) -> Result<Vec<RunRecord>, StoreError> {
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    super::atomic::locked(path, || {
        let added: Vec<RunRecord> = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            _ => load_session(path)?
                .runs
                .into_iter()
                .filter(|r| !session.runs.iter().any(|mine| mine.same_run(r)))
                .collect(),
        };
        session.runs.extend(added.iter().cloned());
        write_session(path, session)?;
        Ok(added)
    })
    .map_err(io)?
}

/// Writes `session` to `path` only if no file is there (checked under the file's lock).
/// `None`: one is, and it was left alone.
pub fn save_new(path: &Path, session: &Session) -> Result<Option<Vec<RunRecord>>, StoreError> {
    super::atomic::locked(path, || {
        if std::fs::symlink_metadata(path).is_ok() {
            return Ok(None);
        }
        write_session(path, session).map(|()| Some(Vec::new()))
    })
    .map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })?
}

fn write_session(path: &Path, session: &Session) -> Result<(), StoreError> {
    let yaml = session.to_yaml().map_err(|e| StoreError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    write_atomic(path, yaml.as_bytes()).map_err(|source| StoreError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Appends a run to the session at `path`, creating it (from `lab`) if there is none. The
/// read, the append and the write hold the file's lock: eight processes appending at once
/// keep eight runs.
pub fn append_run(path: &Path, lab: &Template, record: RunRecord) -> Result<usize, StoreError> {
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    super::atomic::locked(path, || {
        let mut session = if path.exists() {
            load_session(path)?
        } else {
            Session::new(lab.clone())
        };
        session.lab = lab.clone();
        session.runs.push(record);
        write_session(path, &session)?;
        Ok(session.runs.len())
    })
    .map_err(io)?
}

/// Where the lab keeps sessions: `~/.local/share/promptlab/sessions`.
pub fn sessions_dir() -> Option<PathBuf> {
    super::data_dir().map(|d| d.join("sessions"))
}

/// A session as listed in the picker.
#[derive(Debug, Clone)]
pub struct ListedSession {
    pub path: PathBuf,
    pub created: String,
    pub template: String,
    pub runs: usize,
    pub modified: SystemTime,
    pub error: Option<String>,
}

/// Sessions in `./sessions` and the data dir, most recently changed first.
pub fn list_sessions() -> Vec<ListedSession> {
    let mut dirs = vec![PathBuf::from("sessions")];
    dirs.extend(sessions_dir());
    let mut out: Vec<ListedSession> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.extension().is_none_or(|x| x != "yaml" && x != "yml") {
                continue;
            }
            let modified = p
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH);
            let listed = match load_session(&p) {
                Ok(s) => ListedSession {
                    created: s.created,
                    template: s.origin.unwrap_or(s.lab.name),
                    runs: s.runs.len(),
                    path: p,
                    modified,
                    error: None,
                },
                Err(e) => ListedSession {
                    created: String::new(),
                    template: String::new(),
                    runs: 0,
                    path: p,
                    modified,
                    error: Some(e.to_string()),
                },
            };
            out.push(listed);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.modified));
    out
}

/// UTC now as RFC 3339 ("2026-11-28T13:04:05Z").
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 UTC (civil-from-days, Howard Hinnant's algorithm).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::{BackendInfo, Usage};
    use crate::core::extract::{AnswerKind, AnswerSpec, Extractor};
    use crate::core::record::{PathRecord, RunResult, StageRecord, settle};
    use crate::core::render::{Mode, Prompt};
    use crate::core::strategy::Stage;
    use crate::store::template::resolve;

    pub(crate) fn record(texts: &[&str]) -> RunRecord {
        let (t, _) = resolve("gsm8k-cot").unwrap();
        let extractor = Extractor::new(&t.answer).unwrap();
        let paths: Vec<PathRecord> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut p = PathRecord::new(i);
                p.stages = vec![StageRecord {
                    finish_reason: Some("stop".into()),
                    prompt_tokens: 900,
                    completion_tokens: 20 + i as u32,
                    ..StageRecord::new(Stage::Answer, *text)
                }];
                p.latency_ms = 1000 + i as u64;
                settle(&mut p, &extractor, "");
                p
            })
            .collect();
        RunRecord {
            timestamp: rfc3339(1_795_000_000),
            promptlab: Some(crate::core::record::version()),
            query: t.query.clone().unwrap(),
            mode: Mode::Completion,
            prompt: Prompt::Completion("Q: x\nA:".into()),
            stop: vec!["\n\n".into(), "\nQ:".into()],
            backend: BackendInfo::new("local", "gemma", Mode::Completion),
            result: RunResult::from_paths(
                paths,
                1234,
                false,
                &crate::core::record::Voting::exact(),
            ),
            template: t,
        }
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let (t, _) = resolve("date-understanding").unwrap();
        let mut s = Session::new(t);
        s.runs.push(record(&[
            "The answer is 18.",
            "So 9 * 2 = 18.\nThe answer is 20.",
            "  weird \"quotes\" and: colons\n\n  indented\ttab ",
        ]));
        s.runs
            .push(record(&["", "The answer is 1/3 = 0.3333333333333333."]));
        let yaml = s.to_yaml().unwrap();
        let back = Session::from_yaml(&yaml, "s.yaml").unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_yaml().unwrap(), yaml);
    }

    #[test]
    fn newer_version_and_broken_files_are_clear() {
        let (t, _) = resolve("gsm8k-cot").unwrap();
        let mut yaml = Session::new(t).to_yaml().unwrap();
        yaml = yaml.replacen(&format!("version: {SESSION_VERSION}"), "version: 77", 1);
        let err = Session::from_yaml(&yaml, "s.yaml").unwrap_err().to_string();
        assert!(err.contains("version 77 is newer"), "{err}");
        let err = Session::from_yaml("version: 1\ncreated: x\nlab: [\n", "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.yaml:"), "{err}");
        let err = Session::from_yaml("version: 1\ncreated: x\nsurprise: 1\n", "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("surprise"), "{err}");
    }

    #[test]
    fn version_1_fixture_still_loads() {
        let s = load_session(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/session-v1.yaml"
        )))
        .unwrap();
        assert_eq!(s.runs.len(), 1);
        assert_eq!(s.runs[0].result.tally.winner.as_deref(), Some("18"));
    }

    #[test]
    fn revote_recomputes_from_texts() {
        let r = record(&[
            "The answer is Paris.",
            "the answer is paris",
            "The answer is Rome.",
        ]);
        assert_eq!(r.result.tally.winner, None, "numbers: nothing parses");
        let again = r.revote(&AnswerSpec::of(AnswerKind::Text)).unwrap();
        assert_eq!(again.result.tally.winner.as_deref(), Some("paris"));
        assert_eq!(again.result.tally.entries[0].votes, 2);
        let bad = AnswerSpec {
            kind: AnswerKind::Regex,
            pattern: Some("(".into()),
            ..Default::default()
        };
        assert!(r.revote(&bad).is_err());
    }

    #[test]
    fn append_creates_then_grows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.yaml");
        let (t, _) = resolve("gsm8k-cot").unwrap();
        assert_eq!(
            append_run(&p, &t, record(&["The answer is 1."])).unwrap(),
            1
        );
        assert_eq!(
            append_run(&p, &t, record(&["The answer is 2."])).unwrap(),
            2
        );
        assert_eq!(load_session(&p).unwrap().runs.len(), 2);
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn usage_is_kept() {
        let r = record(&["The answer is 3."]);
        assert_eq!(
            r.result.usage,
            Usage {
                prompt_tokens: 900,
                completion_tokens: 20
            }
        );
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::tests::record;
    use super::*;
    use crate::core::extract::{AnswerKind, AnswerSpec, Extractor};
    use crate::core::record::{PathRecord, RunResult, StageRecord, settle};
    use crate::core::strategy::Stage;
    use crate::store::template::resolve;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn any_recorded_text_round_trips(texts in proptest::collection::vec("\\PC{0,60}|[ \\t\\n\"':#>|-]{0,12}", 1..4), query in "\\PC{0,40}") {
            let (t, _) = resolve("gsm8k-cot").unwrap();
            let mut s = Session::new(t);
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut r = record(&refs);
            r.query = query;
            s.runs.push(r);
            let yaml = s.to_yaml().unwrap();
            let back = Session::from_yaml(&yaml, "s.yaml").unwrap();
            prop_assert_eq!(&back, &s);
            prop_assert_eq!(back.to_yaml().unwrap(), yaml);
        }

        /// A run saved, loaded and re-voted under its own answer spec has the answers and
        /// tally it had fresh, for one- and two-stage paths alike.
        #[test]
        fn saved_loaded_and_revoted_is_as_fresh(
            paths in proptest::collection::vec(("\\PC{0,40}", proptest::option::of("[ 0-9a-e.,-]{0,8}"), any::<bool>()), 1..6),
            kind in prop_oneof![Just(AnswerKind::Number), Just(AnswerKind::Text), Just(AnswerKind::Choice)],
        ) {
            let (mut t, _) = resolve("gsm8k-cot").unwrap();
            t.answer = AnswerSpec::of(kind);
            let query = "Which? (A) one (B) two";
            let extractor = Extractor::new(&t.answer).unwrap();
            let records: Vec<PathRecord> = paths.iter().enumerate().map(|(i, (first, second, cut))| {
                let mut p = PathRecord::new(i);
                let finish = if *cut { "length" } else { "stop" };
                p.stages.push(StageRecord { finish_reason: Some(finish.into()), ..StageRecord::new(Stage::Reason, first.as_str()) });
                if let Some(second) = second {
                    p.stages.push(StageRecord {
                        preface: "\nTherefore, the answer is".into(),
                        finish_reason: Some("stop".into()),
                        ..StageRecord::new(Stage::Extract, second.as_str())
                    });
                }
                settle(&mut p, &extractor, query);
                p
            }).collect();
            let mut r = record(&["x"]);
            r.query = query.into();
            r.template = t.clone();
            r.result = RunResult::from_paths(records, 10, false, &crate::core::record::Voting::of(&t.answer));
            let mut s = Session::new(t.clone());
            s.runs.push(r.clone());
            let back = Session::from_yaml(&s.to_yaml().unwrap(), "s.yaml").unwrap();
            let loaded = &back.runs[0];
            prop_assert_eq!(&loaded.result, &r.result);
            let again = loaded.revote(&t.answer).unwrap();
            prop_assert_eq!(&again.result.tally, &r.result.tally);
            let answers = |x: &RunRecord| x.result.paths.iter().map(|p| p.answer.clone()).collect::<Vec<_>>();
            prop_assert_eq!(answers(&again), answers(&r));
            prop_assert_eq!(again.result.truncated(), r.result.truncated());
        }
    }
}
