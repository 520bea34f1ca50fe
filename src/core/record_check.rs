//! A run read from a file, checked against its own paths: what a file stores but a run
//! derives (path numbers, the tally, its winner and shares) is recomputed when it does not
//! agree, so a hand-edited or damaged session never shows a winner that is not in its
//! tally, a share of NaN or −300 %, or a path 4294967295.

use super::extract::AnswerKind;
use super::record::{RunRecord, tally};
use super::vote::Tally;

/// Puts `r` right where it disagrees with its own paths; what was wrong, in words (empty:
/// the run was consistent).
pub fn check(r: &mut RunRecord) -> Vec<String> {
    let mut found = Vec::new();
    let paths = &mut r.result.paths;
    let misnumbered: Vec<String> = paths
        .iter()
        .enumerate()
        .filter(|(i, p)| p.index != *i)
        .map(|(_, p)| p.index.to_string())
        .collect();
    if !misnumbered.is_empty() {
        found.push(format!(
            "path numbers {} renumbered by their place",
            shortened(&misnumbered)
        ));
        for (i, p) in paths.iter_mut().enumerate() {
            p.index = i;
        }
    }
    let stored = &r.result.tally;
    // Free-form tallies clustered by embeddings cannot be recomputed (embeddings are not
    // saved): those are only checked for what no tally can hold.
    let recomputed = tally(
        &r.result.paths,
        &r.result.voting(&r.template.answer, &r.query),
    );
    let differs = if r.template.answer.kind == AnswerKind::Free {
        impossible(stored, r.result.paths.len())
    } else {
        !same_figures(stored, &recomputed)
    };
    if differs {
        found.push(format!(
            "its tally did not match its paths (recorded winner {}, {} votes of {}): recomputed",
            stored.winner.as_deref().unwrap_or("none"),
            stored
                .entries
                .iter()
                .map(|e| u64::from(e.votes))
                .sum::<u64>(),
            stored.voted
        ));
        r.result.tally = recomputed;
    }
    found
}

/// Whether two tallies agree on what is shown: voters, winner, agreement, and each entry's
/// answer, votes and paths.
fn same_figures(a: &Tally, b: &Tally) -> bool {
    a.voted == b.voted
        && a.winner == b.winner
        && (a.agreement - b.agreement).abs() < 1e-9
        && a.entries.len() == b.entries.len()
        && a.entries.iter().zip(&b.entries).all(|(x, y)| {
            x.answer == y.answer
                && x.votes == y.votes
                && x.paths == y.paths
                && (x.share - y.share).abs() < 1e-9
        })
}

/// What no tally of `paths` paths can hold: a winner without an entry, a share or agreement
/// outside [0, 1] (or NaN), more votes than voters or voters than paths, a path that is not
/// there.
fn impossible(t: &Tally, paths: usize) -> bool {
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    let votes: u64 = t.entries.iter().map(|e| u64::from(e.votes)).sum();
    t.winner
        .as_deref()
        .is_some_and(|w| t.entry(Some(w)).is_none())
        || !unit(t.agreement)
        || t.entries.iter().any(|e| {
            !unit(e.share)
                || e.paths.iter().any(|&p| p >= paths)
                || e.paths.len() != e.votes as usize
        })
        || votes != u64::from(t.voted)
        || t.voted as usize > paths
}

fn shortened(list: &[String]) -> String {
    match list.len() {
        0..=3 => list.join(", "),
        n => format!("{}, … ({n} in all)", list[..3].join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::extract::{AnswerKind, AnswerSpec, Extractor};
    use crate::core::record::{PathRecord, RunResult, StageRecord, Voting, settle};

    fn run(texts: &[&str]) -> RunRecord {
        let e = Extractor::new(&AnswerSpec::of(AnswerKind::Number)).unwrap();
        let paths: Vec<PathRecord> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut p = PathRecord::new(i);
                p.stages = vec![StageRecord::new(crate::core::strategy::Stage::Answer, *t)];
                settle(&mut p, &e, "");
                p
            })
            .collect();
        let template: crate::core::template::Template = serde_json::from_value(serde_json::json!({
            "version": 1, "name": "t", "description": "", "examples": [],
            "strategy": "cot", "answer": {"kind": "number"},
        }))
        .unwrap();
        RunRecord {
            timestamp: "2026-12-02T12:00:00Z".into(),
            promptlab: None,
            query: "Eggs?".into(),
            mode: crate::core::render::Mode::Chat,
            prompt: crate::core::render::Prompt::Completion("Q: x\nA:".into()),
            stop: vec![],
            backend: crate::core::record::BackendInfo::new(
                "scripted",
                "m",
                crate::core::render::Mode::Chat,
            ),
            result: RunResult::from_paths(paths, 10, false, &Voting::exact()),
            template,
        }
    }

    #[test]
    fn a_consistent_run_is_left_alone() {
        let mut r = run(&["The answer is 18.", "The answer is 18.", "The answer is 3."]);
        let before = r.clone();
        assert_eq!(check(&mut r), Vec::<String>::new());
        assert_eq!(r, before);
    }

    #[test]
    fn impossible_figures_are_recomputed() {
        let fine = run(&["The answer is 18.", "The answer is 18.", "The answer is 3."]);
        type Edit = fn(&mut RunRecord);
        let edits: [(&str, Edit); 5] = [
            ("a winner not in the tally", |r| {
                r.result.tally.winner = Some("99".into())
            }),
            ("NaN", |r| r.result.tally.agreement = f64::NAN),
            ("-300%", |r| r.result.tally.entries[0].share = -3.0),
            ("a path that is not there", |r| {
                r.result.tally.entries[0].paths[0] = 4294967295
            }),
            ("a path number", |r| r.result.paths[2].index = 4294967295),
        ];
        for (what, edit) in edits {
            let mut r = fine.clone();
            edit(&mut r);
            let found = check(&mut r);
            assert!(!found.is_empty(), "{what}: not noticed");
            assert_eq!(r, fine, "{what}: not recomputed ({found:?})");
        }
    }
}
