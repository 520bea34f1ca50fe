//! Reading answers and voting over a run's paths: `settle` (the one place answers come
//! from), `Voting` (how answers become ballots) and `tally` (the one tally builder).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::PathRecord;
use crate::core::extract::Extractor;
use crate::core::free;
use crate::core::spec::answer::{AnswerKind, AnswerSpec, ClusterRule};
use crate::core::spec::stage::Stage;
use crate::core::vote::{Ballot, Clustering, Tally};

/// Reads a path's answers from its record: the final answer from the last stage, each
/// least-to-most sub-answer from its own stage. The one place answers come from, for fresh
/// runs, cache hits, replay, re-votes, evaluations and the lab. A failed path has none.
pub fn settle(path: &mut PathRecord, extractor: &Extractor, query: &str) {
    for s in &mut path.stages {
        s.answer = match s.stage {
            Stage::Solve(_) => extractor.extract(&s.text, query),
            _ => None,
        };
    }
    let reading = if path.succeeded() {
        extractor.read(&path.answer_text(), query)
    } else {
        None
    };
    (path.answer, path.read) = match reading {
        Some(r) => (Some(r.answer), Some(r.read)),
        None => (None, None),
    };
}

/// How a run's answers become votes: each answer its own (numbers, choices, text, regex) or,
/// for free-form answers, the clusters of answers alike (`core::free`), named by their
/// representatives. Universal self-consistency's pick, when the run has one, names the
/// winning cluster.
#[derive(Debug, Clone, Copy)]
pub struct Voting<'a> {
    pub spec: &'a AnswerSpec,
    pub selection: Option<&'a Selection>,
    /// The question answered: its words do not make two free-form answers alike.
    pub question: &'a str,
}

/// The answer spec of exact votes, for callers that have none.
static EXACT: AnswerSpec = AnswerSpec {
    kind: AnswerKind::Number,
    pattern: None,
    choices: Vec::new(),
    similarity: None,
    cluster: None,
    strict: false,
};

/// Free-form answers grouped: each answer's cluster label (its representative), each
/// cluster's distinct answers, and why the grouping is not what the rule asked for.
struct Grouped {
    label: HashMap<String, String>,
    members: HashMap<String, Vec<String>>,
    note: Option<String>,
}

impl<'a> Voting<'a> {
    pub fn of(spec: &'a AnswerSpec) -> Self {
        Voting {
            spec,
            selection: None,
            question: "",
        }
    }

    pub fn answering(self, question: &'a str) -> Self {
        Voting { question, ..self }
    }

    /// Votes on answers exactly as written (the answer spec unknown or not free-form).
    pub fn exact() -> Voting<'static> {
        Voting::of(&EXACT)
    }

    pub fn with_selection(self, selection: Option<&'a Selection>) -> Self {
        Voting { selection, ..self }
    }

    fn free(&self) -> bool {
        self.spec.kind == AnswerKind::Free
    }

    /// The answer `path` votes with: none unless it finished and an answer was read, and
    /// with strict answers none when only a fallback read it.
    pub fn answer_of<'p>(&self, path: &'p PathRecord) -> Option<&'p str> {
        path.voted_answer()
            .filter(|_| !(self.spec.strict && path.read_by_fallback()))
    }

    /// `path`'s vote, if it finished: its answer under this voting, and whether a fallback
    /// read it (counted where it lands, the no-answer bucket under strict answers).
    pub fn ballot(&self, path: &PathRecord) -> Option<Ballot> {
        path.succeeded().then(|| Ballot {
            path: path.index,
            answer: self.answer_of(path).map(str::to_string),
            logprob: path.logprob(),
            confidence: path.confidence(),
            fallback: path.read_by_fallback(),
        })
    }

    /// Each path's vote in order (`None`: no answer, or the path did not finish): its answer,
    /// or its cluster's label for free-form answers. What early-stop rules and maj@k read.
    pub fn labels(&self, paths: &[&PathRecord]) -> Vec<Option<String>> {
        let grouped = self.free().then(|| self.group(paths));
        paths
            .iter()
            .map(|p| {
                let a = self.answer_of(p)?;
                Some(match &grouped {
                    Some(g) => g.label.get(a).cloned().unwrap_or_else(|| a.to_string()),
                    None => a.to_string(),
                })
            })
            .collect()
    }

    fn group(&self, paths: &[&PathRecord]) -> Grouped {
        // Distinct answers in order of first path, with their votes and an embedding.
        let mut distinct: Vec<(&str, f64, Option<&[f32]>)> = Vec::new();
        let mut sorted: Vec<&&PathRecord> = paths.iter().collect();
        sorted.sort_by_key(|p| p.index);
        for p in sorted {
            let Some(a) = self.answer_of(p) else { continue };
            match distinct.iter_mut().find(|(x, _, _)| *x == a) {
                Some(d) => {
                    d.1 += 1.0;
                    d.2 = d.2.or(p.embedding.as_deref());
                }
                None => distinct.push((a, 1.0, p.embedding.as_deref())),
            }
        }
        let weights: Vec<f64> = distinct.iter().map(|d| d.1).collect();
        let threshold = self.spec.similarity();
        let embedded = distinct.iter().all(|d| d.2.is_some());
        let question = free::Words::of(self.question);
        let words: Vec<free::Words> = distinct
            .iter()
            .map(|d| free::Words::of(d.0).answering(&question))
            .collect();
        let (groups, note) = if self.spec.cluster() == ClusterRule::Embed && embedded {
            let sim = |i: usize, j: usize| {
                if free::numbers_differ(&words[i], &words[j]) {
                    return 0.0;
                }
                free::cosine(distinct[i].2.unwrap_or(&[]), distinct[j].2.unwrap_or(&[]))
            };
            (free::cluster(&weights, &sim, threshold), None)
        } else {
            let sim = |i: usize, j: usize| free::overlap(&words[i], &words[j]);
            let note = (self.spec.cluster() == ClusterRule::Embed).then(|| {
                "embed: answers without embeddings (no --embed-model); clustered by overlap".into()
            });
            (free::cluster(&weights, &sim, threshold), note)
        };
        let mut label = HashMap::new();
        let mut members = HashMap::new();
        for g in groups {
            let rep = distinct[g.representative].0.to_string();
            for &m in &g.members {
                label.insert(distinct[m].0.to_string(), rep.clone());
            }
            members.insert(
                rep,
                g.members
                    .iter()
                    .map(|&m| distinct[m].0.to_string())
                    .collect(),
            );
        }
        Grouped {
            label,
            members,
            note,
        }
    }
}

/// Universal self-consistency (Chen et al. 2023): the model's pick of the most consistent of a
/// run's responses, as it replied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// The paths shown to the selector, in order: "Response 1" is the first.
    pub responses: Vec<usize>,
    /// The selector's reply, exactly as the model wrote it.
    #[serde(default)]
    pub reply: String,
    /// The path its reply named, when it named one of the responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<usize>,
    /// Why there is no reply (the call failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The tally of finished paths under `voting`: the one tally builder.
pub fn tally<'a>(paths: impl IntoIterator<Item = &'a PathRecord>, voting: &Voting) -> Tally {
    let paths: Vec<&PathRecord> = paths.into_iter().collect();
    let mut ballots: Vec<Ballot> = paths.iter().filter_map(|p| voting.ballot(p)).collect();
    if !voting.free() {
        return Tally::from_ballots(&ballots);
    }
    let grouped = voting.group(&paths);
    for b in &mut ballots {
        if let Some(a) = b.answer.as_mut()
            && let Some(l) = grouped.label.get(a.as_str())
        {
            *a = l.clone();
        }
    }
    let mut t = Tally::from_ballots(&ballots);
    for e in &mut t.entries {
        if let Some(m) = e.answer.as_ref().and_then(|a| grouped.members.get(a)) {
            e.members = m.clone();
        }
    }
    let mut note = grouped.note;
    if voting.spec.cluster() == ClusterRule::Usc {
        let chosen = voting.selection.and_then(|s| s.chosen);
        let pick = chosen.and_then(|c| t.entries.iter().position(|e| e.paths.contains(&c)));
        match pick.filter(|&i| t.entries[i].answer.is_some()) {
            Some(i) => {
                let e = t.entries.remove(i);
                t.agreement = f64::from(e.votes) / f64::from(t.voted.max(1));
                t.winner = e.answer.clone();
                t.entries.insert(0, e);
            }
            None if t.entries.iter().filter(|e| e.answer.is_some()).count() > 1 => {
                note = Some(match voting.selection {
                    None => "usc: no selector reply recorded (it needs the model); voted by overlap".into(),
                    Some(s) if s.error.is_some() => "usc: the selector call failed; voted by overlap".into(),
                    Some(_) => "usc: the selector's reply named no response with an answer; voted by overlap".into(),
                });
            }
            None => {}
        }
    }
    let sizes = t
        .entries
        .iter()
        .filter(|e| e.answer.is_some())
        .map(|e| e.votes);
    t.clustering = Some(Box::new(Clustering {
        rule: voting.spec.cluster(),
        similarity: voting.spec.similarity(),
        dispersion: free::dispersion(sizes),
        note,
    }));
    t
}
