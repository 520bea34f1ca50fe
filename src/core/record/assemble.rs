//! Where a run's record is put together: `RunRecord::new`, the one constructor both faces use
//! (the CLI's `run --save`, the lab's run on screen), and a result filled in as its paths
//! finish (the lab's live run), its tally kept by the one tally builder.

use super::{BackendInfo, PathRecord, RunRecord, RunResult, Usage, Voting, tally, version};
use crate::core::spec::prompt::Prompt;
use crate::core::spec::template::Template;
use crate::core::vote::Tally;

/// What a run asked: the edits, the query and the first prompt exactly as sent.
#[derive(Debug, Clone)]
pub struct Asked {
    pub timestamp: String,
    pub template: Template,
    pub query: String,
    pub prompt: Prompt,
    pub stop: Vec<String>,
}

impl RunRecord {
    /// The record of a run made by this promptlab: what it asked, of which backend, and what
    /// came back (its mode is its prompt's).
    pub fn new(asked: Asked, backend: BackendInfo, result: RunResult) -> RunRecord {
        RunRecord {
            timestamp: asked.timestamp,
            promptlab: Some(version()),
            template: asked.template,
            query: asked.query,
            mode: asked.prompt.mode(),
            prompt: asked.prompt,
            stop: asked.stop,
            backend,
            result,
        }
    }
}

impl RunResult {
    /// A result before any path finished.
    pub fn empty() -> RunResult {
        RunResult {
            paths: vec![],
            tally: Tally::default(),
            usage: Usage::default(),
            elapsed_ms: 0,
            cancelled: false,
            early_stop: None,
            selection: None,
            scored: None,
        }
    }

    /// A path that finished, taken in (paths stay in index order; a path already there is
    /// replaced), and the tally of the paths so far.
    pub fn add_path(&mut self, p: PathRecord, voting: &Voting) {
        let at = self.paths.partition_point(|q| q.index < p.index);
        match self.paths.get_mut(at) {
            Some(q) if q.index == p.index => *q = p,
            _ => self.paths.insert(at, p),
        }
        self.tally = tally(&self.paths, voting);
    }

    /// The finished path of index `i`, if it finished.
    pub fn path(&self, i: usize) -> Option<&PathRecord> {
        let at = self.paths.partition_point(|q| q.index < i);
        self.paths.get(at).filter(|q| q.index == i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::spec::answer::{AnswerKind, AnswerSpec};

    fn done(index: usize, answer: &str) -> PathRecord {
        let mut p = PathRecord::new(index);
        p.answer = Some(answer.into());
        p
    }

    #[test]
    fn paths_taken_in_out_of_order_stay_in_index_order_and_are_tallied() {
        let spec = AnswerSpec::of(AnswerKind::Number);
        let voting = Voting::of(&spec);
        let mut r = RunResult::empty();
        r.add_path(done(2, "7"), &voting);
        r.add_path(done(0, "7"), &voting);
        r.add_path(done(1, "8"), &voting);
        let order: Vec<usize> = r.paths.iter().map(|p| p.index).collect();
        assert_eq!(order, [0, 1, 2]);
        assert_eq!(r.tally.winner.as_deref(), Some("7"));
        assert_eq!(r.tally.voted, 3);
        assert_eq!(r.path(1).and_then(|p| p.answer.as_deref()), Some("8"));
        assert!(r.path(3).is_none());
        // The same path again replaces it.
        r.add_path(done(1, "7"), &voting);
        assert_eq!(r.paths.len(), 3);
        assert_eq!(r.tally.entry(Some("7")).map(|e| e.votes), Some(3));
    }
}
