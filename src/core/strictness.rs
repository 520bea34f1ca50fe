//! Strict and flexible answers side by side, as lm-evaluation-harness reports strict-match and
//! flexible-extract: each item's majority read both ways (strict sets aside the answers only a
//! fallback read), and the two accuracies of an evaluation paired on its items, so what the
//! fallback adds (or costs) is told apart from the noise by McNemar's exact test. Runs recorded
//! before promptlab kept how each answer was read are read again when a session loads
//! (`RunRecord::reread`).

use serde::Serialize;

use super::extract::Extractor;
use super::metrics::majority_correct;
use super::record::{PathRecord, RunRecord, Voting, settle, tally};
use super::spec::answer::{AnswerKind, AnswerSpec};
use super::stats::{self, Estimate, Paired};

impl RunRecord {
    /// Reads again the answers of a run recorded before promptlab kept how each answer was
    /// read (`PathRecord::read`), so fallback votes are marked and counted in old sessions
    /// too. Its tally is counted again when an answer changed; otherwise it only gains its
    /// fallback counts.
    pub fn reread(&mut self) {
        let paths = &mut self.result.paths;
        if !paths.iter().any(|p| p.answer.is_some() && p.read.is_none()) {
            return;
        }
        let Ok(extractor) = Extractor::new(&self.template.answer) else {
            return;
        };
        let before: Vec<Option<String>> = paths.iter().map(|p| p.answer.clone()).collect();
        for p in paths.iter_mut() {
            settle(p, &extractor, &self.query);
        }
        if paths.iter().map(|p| &p.answer).ne(before.iter()) {
            let voting = self.result.voting(&self.template.answer, &self.query);
            self.result.tally = tally(&self.result.paths, &voting);
            return;
        }
        for e in &mut self.result.tally.entries {
            e.fallback = e
                .paths
                .iter()
                .filter(|&&i| paths.iter().any(|p| p.index == i && p.read_by_fallback()))
                .count() as u32;
        }
    }
}

/// An item's majority, right or not, read strictly and read flexibly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Readings {
    pub strict: bool,
    pub flexible: bool,
}

/// Whether the majority of `paths` is right (an answer in `accepted`) under strict and under
/// flexible answers. `None` for free-form answers, whose votes are clusters scored by likeness.
pub fn item(paths: &[&PathRecord], spec: &AnswerSpec, accepted: &[String]) -> Option<Readings> {
    if spec.kind == AnswerKind::Free {
        return None;
    }
    let right = |strict: bool| {
        let spec = AnswerSpec {
            strict,
            ..spec.clone()
        };
        let labels = Voting::of(&spec).labels(paths);
        let refs: Vec<Option<&str>> = labels.iter().map(Option::as_deref).collect();
        majority_correct(&refs, accepted)
    };
    Some(Readings {
        strict: right(true),
        flexible: right(false),
    })
}

/// An evaluation's accuracy under strict and under flexible answers, on the same items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StrictFlexible {
    pub strict: Estimate,
    pub flexible: Estimate,
    /// Flexible against strict (the baseline): `diff` is what the fallback adds, McNemar's
    /// discordant counts the items only one reading got right.
    pub paired: Paired,
}

impl StrictFlexible {
    /// The comparison over every item that has both readings (`None` without any).
    pub fn of(items: impl IntoIterator<Item = Readings>) -> Option<StrictFlexible> {
        let (strict, flexible): (Vec<bool>, Vec<bool>) =
            items.into_iter().map(|r| (r.strict, r.flexible)).unzip();
        let right = |v: &[bool]| v.iter().filter(|r| **r).count() as u64;
        let n = strict.len() as u64;
        Some(StrictFlexible {
            strict: stats::proportion(right(&strict), n, stats::LEVEL)?,
            flexible: stats::proportion(right(&flexible), n, stats::LEVEL)?,
            paired: stats::paired_binary(&strict, &flexible, stats::LEVEL)?,
        })
    }

    /// "strict 40.0% [21.9, 61.3] · flexible 55.0% [34.2, 74.2] · Δ +15.0 [−4.1, +33.9],
    /// McNemar p 0.25 (flexible alone right on 4 items, strict alone on 1)".
    pub fn describe(&self) -> String {
        let share = |e: &Estimate| {
            format!(
                "{:.1}% [{:.1}, {:.1}]",
                e.value * 100.0,
                e.low * 100.0,
                e.high * 100.0
            )
        };
        let (flexible_only, strict_only) = match self.paired.test {
            stats::Test::McNemar { b_only, a_only } => (b_only, a_only),
            stats::Test::Bootstrap { .. } => (0, 0),
        };
        format!(
            "strict {} · flexible {} · Δ {} [{}, {}], McNemar p {:.2} (flexible alone right on {flexible_only} item{}, strict alone on {strict_only})",
            share(&self.strict),
            share(&self.flexible),
            stats::points(self.paired.diff),
            stats::points(self.paired.low),
            stats::points(self.paired.high),
            self.paired.p,
            if flexible_only == 1 { "" } else { "s" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::extract::Read;
    use crate::core::record::{BackendInfo, RunResult, StageRecord};
    use crate::core::render::{Mode, Prompt};
    use crate::core::strategy::Stage;
    use crate::core::template::Template;

    fn paths(texts: &[&str]) -> Vec<PathRecord> {
        let e = Extractor::new(&AnswerSpec::of(AnswerKind::Number)).unwrap();
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut p = PathRecord::new(i);
                p.stages = vec![StageRecord::new(Stage::Answer, *t)];
                settle(&mut p, &e, "");
                p
            })
            .collect()
    }

    /// The run: 7 of 8 paths never state their answer; three restate the question
    /// and their last number, 2, wins; the one path that answered says 9.
    fn restating_paths() -> Vec<PathRecord> {
        let restated = "Janet's ducks lay 16 eggs per day. She sells the remainder at the \
                        farmers' market daily for $2 per fresh duck egg.";
        paths(&[
            restated,
            "She eats 3 and bakes with 4, so 16 - 7 = 9 are left.",
            restated,
            "9 eggs at $2 each. The answer is 9.",
            restated,
            "She bakes muffins with 4.",
            "3 + 4 = 7 eggs are used.",
            "She sells 10.",
        ])
    }

    #[test]
    fn fallback_votes_are_counted_and_strict_answers_set_them_aside() {
        let flexible = AnswerSpec::of(AnswerKind::Number);
        let paths = restating_paths();
        assert_eq!(paths[0].read, Some(Read::LastNumber));
        assert_eq!(paths[3].read, Some(Read::Trigger));
        let t = tally(&paths, &Voting::of(&flexible));
        assert_eq!(t.winner.as_deref(), Some("2"));
        assert_eq!((t.entries[0].votes, t.entries[0].fallback), (3, 3));
        assert_eq!(
            t.entry(Some("9")).map(|e| (e.votes, e.fallback)),
            Some((2, 1))
        );
        let strict = AnswerSpec {
            strict: true,
            ..flexible.clone()
        };
        let t = tally(&paths, &Voting::of(&strict));
        assert_eq!(t.winner.as_deref(), Some("9"));
        assert_eq!(t.agreement, 1.0 / 8.0);
        let none = t.entry(None).unwrap();
        assert_eq!(
            (none.votes, none.fallback),
            (7, 7),
            "set aside, and said so"
        );
        // The same labels reach early-stop rules and evaluation scoring.
        let refs: Vec<&PathRecord> = paths.iter().collect();
        let labels = Voting::of(&strict).labels(&refs);
        assert_eq!(labels.iter().flatten().collect::<Vec<_>>(), ["9"]);
    }

    #[test]
    fn runs_recorded_before_reads_were_kept_are_read_again() {
        let spec = AnswerSpec::of(AnswerKind::Number);
        let mut paths = restating_paths();
        for p in &mut paths {
            p.read = None;
        }
        let old_tally = tally(&paths, &Voting::of(&spec));
        let mut old = RunRecord {
            timestamp: "t".into(),
            promptlab: None,
            template: Template {
                answer: spec.clone(),
                ..crate::store::template::resolve("gsm8k-cot").unwrap().0
            },
            query: "q".into(),
            mode: Mode::Completion,
            prompt: Prompt::Completion("p".into()),
            stop: vec![],
            backend: BackendInfo::new("scripted", "s", Mode::Completion),
            result: RunResult {
                tally: old_tally,
                ..RunResult::from_paths(paths, 1, false, &Voting::of(&spec))
            },
        };
        old.result.tally.entries[0].fallback = 0;
        old.reread();
        assert_eq!(old.result.paths[0].read, Some(Read::LastNumber));
        assert_eq!(old.result.tally.entries[0].fallback, 3);
    }

    #[test]
    fn an_item_is_read_both_ways() {
        let spec = AnswerSpec::of(AnswerKind::Number);
        let accepted = vec!["18".to_string()];
        // Right only because of the fallback: two unstated 18s outvote a stated 20.
        let p = paths(&["so 18 dollars", "The answer is 20.", "that makes 18"]);
        let refs: Vec<&PathRecord> = p.iter().collect();
        assert_eq!(
            item(&refs, &spec, &accepted),
            Some(Readings {
                strict: false,
                flexible: true
            })
        );
        let free = AnswerSpec::of(AnswerKind::Free);
        assert_eq!(item(&refs, &free, &accepted), None);
    }

    #[test]
    fn the_two_accuracies_are_paired_on_the_items() {
        let r = |strict, flexible| Readings { strict, flexible };
        // 20 items: 8 right both ways, 4 only flexibly, 0 only strictly.
        let items: Vec<Readings> = (0..20)
            .map(|i| match i {
                0..8 => r(true, true),
                8..12 => r(false, true),
                _ => r(false, false),
            })
            .collect();
        let c = StrictFlexible::of(items).unwrap();
        assert_eq!((c.strict.value, c.flexible.value), (0.4, 0.6));
        assert!((c.paired.diff - 0.2).abs() < 1e-12);
        assert_eq!(
            c.paired.test,
            stats::Test::McNemar {
                b_only: 4,
                a_only: 0
            }
        );
        assert!((c.paired.p - 0.125).abs() < 1e-12, "exact: 2 · 0.5^4");
        let line = c.describe();
        assert!(line.contains("Δ +20.0"), "{line}");
        assert!(line.contains("McNemar p 0.1"), "{line}");
        assert_eq!(StrictFlexible::of(Vec::new()), None);
    }
}
