//! Self-consistency voting (Wang et al. 2022): majority over the parsed final answers of N
//! paths, and the length-normalised probability-weighted vote where log-probabilities exist.
//!
//! Tie-break (documented, deterministic): among answers with equal votes, the one whose first
//! vote came from the lowest path index wins. Path indices follow sample order (seed + i), not
//! arrival time, so the same samples always give the same winner. The no-answer bucket is
//! listed last and never wins.

use serde::{Deserialize, Serialize};

/// Sum of a path's token log-probabilities and how many tokens it covers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogProb {
    pub sum: f64,
    pub tokens: u32,
}

impl LogProb {
    /// exp(mean token log-probability): Wang et al. 2022, Eq. 1, length-normalised.
    pub fn normalized_prob(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            (self.sum / f64::from(self.tokens)).exp()
        }
    }
}

/// One finished path's vote.
#[derive(Debug, Clone, PartialEq)]
pub struct Ballot {
    pub path: usize,
    pub answer: Option<String>,
    pub logprob: Option<LogProb>,
    /// The path's confidence (`core::confidence`), where known.
    pub confidence: Option<f64>,
    /// Its answer was read by a fallback (`core::extract::Read::is_fallback`).
    pub fallback: bool,
}

/// Share of the most confident paths the filtered vote keeps (DeepConf's filter).
pub const CONFIDENT_SHARE: f64 = 0.5;

/// One answer's share of the vote. `answer: None` is the no-answer bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TallyEntry {
    pub answer: Option<String>,
    pub votes: u32,
    pub share: f64,
    pub paths: Vec<usize>,
    /// Sum of the length-normalised probabilities of its paths (when every voting path has
    /// log-probabilities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Free-form answers: the distinct answers of its cluster, the first path's first (the
    /// entry's `answer` is the cluster's representative).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Of its votes, those whose answer a fallback read (the last number of a reply that
    /// never states its answer); in the no-answer bucket, the paths strict answers set aside.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fallback: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Clustering {
    /// "3 clusters (overlap ≥ 0.7)", for the run table and the lab.
    pub fn describe(&self, clusters: usize) -> String {
        use crate::core::spec::answer::ClusterRule;
        let how = match self.rule {
            ClusterRule::Usc => format!(
                "overlap ≥ {}; the selector picks the winner",
                self.similarity
            ),
            rule => format!("{rule} ≥ {}", self.similarity),
        };
        format!(
            "{clusters} cluster{} ({how})",
            if clusters == 1 { "" } else { "s" }
        )
    }

    /// " · why", when the vote fell back from what its rule asked for.
    pub fn fallback(&self) -> String {
        self.note
            .as_ref()
            .map(|n| format!(" · {n}"))
            .unwrap_or_default()
    }
}

/// How free-form answers were grouped into the tally's entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    pub rule: crate::core::spec::answer::ClusterRule,
    pub similarity: f64,
    /// Entropy (bits) of the cluster sizes: 0 when every answer agrees.
    pub dispersion: f64,
    /// Why the vote is not what the rule asked for (a fallback), when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Parsed answers by votes (tie-break above), then the no-answer bucket if any.
    pub entries: Vec<TallyEntry>,
    /// Paths that voted (finished, with or without a parsed answer).
    pub voted: u32,
    pub winner: Option<String>,
    /// Winner's votes / paths that voted; 0 without a winner.
    pub agreement: f64,
    /// The probability-weighted winner, when every voting path has log-probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_winner: Option<String>,
    /// When every voting path has a confidence (DeepConf): the confidence-weighted winner, and
    /// the majority of the `CONFIDENT_SHARE` most confident paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_winner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filtered_winner: Option<String>,
    /// Free-form answers: how they were clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<Box<Clustering>>,
}

impl Tally {
    pub fn from_ballots(ballots: &[Ballot]) -> Tally {
        let mut sorted: Vec<&Ballot> = ballots.iter().collect();
        sorted.sort_by_key(|b| b.path);
        let weighted = !sorted.is_empty() && sorted.iter().all(|b| b.logprob.is_some());

        let mut parsed: Vec<TallyEntry> = Vec::new();
        let mut none: Option<TallyEntry> = None;
        for b in &sorted {
            let w = b.logprob.map(|l| l.normalized_prob());
            let entry = match &b.answer {
                Some(a) => match parsed.iter_mut().position(|e| e.answer.as_ref() == Some(a)) {
                    Some(i) => &mut parsed[i],
                    None => {
                        parsed.push(empty_entry(Some(a.clone()), weighted));
                        parsed.last_mut().expect("just pushed")
                    }
                },
                None => none.get_or_insert_with(|| empty_entry(None, weighted)),
            };
            entry.votes += 1;
            entry.fallback += u32::from(b.fallback);
            entry.paths.push(b.path);
            if let (Some(total), Some(w)) = (entry.weight.as_mut(), w) {
                *total += w;
            }
        }
        let voted = sorted.len() as u32;
        // Entries were created in order of first path, so a stable sort keeps the tie-break.
        parsed.sort_by_key(|e| std::cmp::Reverse(e.votes));
        let winner = parsed.first().and_then(|e| e.answer.clone());
        let agreement = parsed
            .first()
            .map_or(0.0, |e| f64::from(e.votes) / f64::from(voted));
        let weighted_winner = if weighted {
            heaviest(&sorted, |b| b.logprob.map_or(0.0, |l| l.normalized_prob()))
        } else {
            None
        };
        let confident = !sorted.is_empty() && sorted.iter().all(|b| b.confidence.is_some());
        let confidence_of = |b: &Ballot| b.confidence.unwrap_or(0.0);
        let (confidence_winner, filtered_winner) = if confident {
            let mut by_confidence = sorted.clone();
            by_confidence.sort_by(|a, b| confidence_of(b).total_cmp(&confidence_of(a)));
            let keep = ((sorted.len() as f64 * CONFIDENT_SHARE).ceil() as usize).max(1);
            let mut kept = by_confidence[..keep].to_vec();
            kept.sort_by_key(|b| b.path);
            (heaviest(&sorted, confidence_of), heaviest(&kept, |_| 1.0))
        } else {
            (None, None)
        };
        let mut entries = parsed;
        entries.extend(none);
        for e in &mut entries {
            e.share = f64::from(e.votes) / f64::from(voted.max(1));
        }
        Tally {
            entries,
            voted,
            winner,
            agreement,
            weighted_winner,
            confidence_winner,
            filtered_winner,
            clustering: None,
        }
    }

    /// The tally of plain answers in path order (`None`: no answer), none read by a fallback.
    pub fn of_answers(answers: &[Option<&str>]) -> Tally {
        let ballots: Vec<Ballot> = answers
            .iter()
            .enumerate()
            .map(|(i, a)| Ballot {
                path: i,
                answer: a.map(String::from),
                logprob: None,
                confidence: None,
                fallback: false,
            })
            .collect();
        Tally::from_ballots(&ballots)
    }

    /// The entry of one answer (`None` for the no-answer bucket).
    pub fn entry(&self, answer: Option<&str>) -> Option<&TallyEntry> {
        self.entries.iter().find(|e| e.answer.as_deref() == answer)
    }
}

/// The parsed answer with the most `weight` over `ballots` (in path order); ties go to the
/// answer whose first ballot came first.
fn heaviest(ballots: &[&Ballot], weight: impl Fn(&Ballot) -> f64) -> Option<String> {
    let mut totals: Vec<(&str, f64)> = Vec::new();
    for b in ballots {
        let Some(a) = b.answer.as_deref() else {
            continue;
        };
        match totals.iter_mut().find(|(x, _)| *x == a) {
            Some((_, w)) => *w += weight(b),
            None => totals.push((a, weight(b))),
        }
    }
    let mut best: Option<(&str, f64)> = None;
    for (a, w) in totals {
        if best.is_none_or(|(_, bw)| w > bw) {
            best = Some((a, w));
        }
    }
    best.map(|(a, _)| a.to_string())
}

fn empty_entry(answer: Option<String>, weighted: bool) -> TallyEntry {
    TallyEntry {
        answer,
        votes: 0,
        share: 0.0,
        paths: Vec::new(),
        weight: weighted.then_some(0.0),
        members: Vec::new(),
        fallback: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b(path: usize, a: Option<&str>) -> Ballot {
        Ballot {
            path,
            answer: a.map(String::from),
            logprob: None,
            confidence: None,
            fallback: false,
        }
    }

    #[test]
    fn majority_wins_with_full_tally() {
        let t = Tally::from_ballots(&[
            b(0, Some("18")),
            b(1, Some("20")),
            b(2, Some("18")),
            b(3, None),
        ]);
        assert_eq!(t.winner.as_deref(), Some("18"));
        assert_eq!(t.voted, 4);
        assert_eq!(t.agreement, 0.5);
        assert_eq!(t.entries[0].paths, vec![0, 2]);
        assert_eq!(t.entries[0].share, 0.5);
        assert_eq!(t.entries.last().unwrap().answer, None);
    }

    #[test]
    fn tie_goes_to_lowest_first_path_regardless_of_order() {
        let a = Tally::from_ballots(&[
            b(3, Some("x")),
            b(1, Some("y")),
            b(0, Some("x")),
            b(2, Some("y")),
        ]);
        assert_eq!(a.winner.as_deref(), Some("x"));
        let c = Tally::from_ballots(&[
            b(2, Some("y")),
            b(0, Some("x")),
            b(1, Some("y")),
            b(3, Some("x")),
        ]);
        assert_eq!(a, c);
    }

    #[test]
    fn no_answer_never_wins() {
        let t = Tally::from_ballots(&[b(0, None), b(1, None), b(2, Some("7"))]);
        assert_eq!(t.winner.as_deref(), Some("7"));
        assert_eq!(t.entries[0].answer.as_deref(), Some("7"));
        let t = Tally::from_ballots(&[b(0, None)]);
        assert_eq!((t.winner, t.agreement), (None, 0.0));
    }

    #[test]
    fn weighted_vote_can_differ_from_majority() {
        let lp = |sum: f64| Some(LogProb { sum, tokens: 10 });
        let ballots = [
            Ballot {
                path: 0,
                answer: Some("a".into()),
                logprob: lp(-30.0),
                confidence: None,
                fallback: false,
            },
            Ballot {
                path: 1,
                answer: Some("a".into()),
                logprob: lp(-30.0),
                confidence: None,
                fallback: false,
            },
            Ballot {
                path: 2,
                answer: Some("b".into()),
                logprob: lp(-1.0),
                confidence: None,
                fallback: false,
            },
        ];
        let t = Tally::from_ballots(&ballots);
        assert_eq!(t.winner.as_deref(), Some("a"));
        assert_eq!(t.weighted_winner.as_deref(), Some("b"));
        let w = t.entry(Some("b")).unwrap().weight.unwrap();
        assert!((w - (-0.1f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn weighted_vote_needs_every_logprob() {
        let ballots = [
            Ballot {
                path: 0,
                answer: Some("a".into()),
                logprob: Some(LogProb {
                    sum: -1.0,
                    tokens: 1,
                }),
                confidence: None,
                fallback: false,
            },
            b(1, Some("a")),
        ];
        let t = Tally::from_ballots(&ballots);
        assert_eq!(t.weighted_winner, None);
        assert_eq!(t.entries[0].weight, None);
    }

    proptest! {
        #[test]
        fn votes_add_up(answers in proptest::collection::vec(proptest::option::of("[a-c]"), 0..40)) {
            let ballots: Vec<Ballot> = answers.iter().enumerate().map(|(i, a)| Ballot { path: i, answer: a.clone(), logprob: None, confidence: None, fallback: false }).collect();
            let t = Tally::from_ballots(&ballots);
            prop_assert_eq!(t.entries.iter().map(|e| e.votes).sum::<u32>(), answers.len() as u32);
            if let Some(w) = &t.winner {
                let top = t.entry(Some(w)).unwrap().votes;
                prop_assert!(t.entries.iter().filter(|e| e.answer.is_some()).all(|e| e.votes <= top));
            }
        }
    }

    #[test]
    fn confidence_weighs_the_vote_and_filters_the_least_sure_half() {
        let c = |path: usize, a: &str, conf: f64| Ballot {
            path,
            answer: Some(a.into()),
            logprob: None,
            confidence: Some(conf),
            fallback: false,
        };
        // Three unsure paths say 7; two sure ones say 8.
        let ballots = [
            c(0, "7", 1.0),
            c(1, "8", 9.0),
            c(2, "7", 1.5),
            c(3, "8", 8.0),
            c(4, "7", 1.2),
        ];
        let t = Tally::from_ballots(&ballots);
        assert_eq!(t.winner.as_deref(), Some("7"));
        assert_eq!(t.confidence_winner.as_deref(), Some("8"));
        // The most confident half (3 of 5): 9.0, 8.0, 1.5 -> 8, 8, 7.
        assert_eq!(t.filtered_winner.as_deref(), Some("8"));
        // One path without a confidence: no confidence votes at all.
        let mut partial = ballots.to_vec();
        partial[0].confidence = None;
        let t = Tally::from_ballots(&partial);
        assert_eq!((t.confidence_winner, t.filtered_winner), (None, None));
    }
}
