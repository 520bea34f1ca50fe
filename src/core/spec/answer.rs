//! The `answer:` block of a template: what kind of answer a task has and how free-form
//! answers are judged alike. Plain data and its checks; reading answers is `core::extract`,
//! voting by meaning `core::free`.

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::error::SpecError;

/// What kind of answer a task has, which decides how it is parsed and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerKind {
    /// A number: "1,000", "$18", "18.00" and "18" are one value.
    #[default]
    Number,
    /// An option: letter "(B)" or the option's text; labels if the template lists `choices`.
    Choice,
    /// Free text, trimmed and case-folded.
    Text,
    /// A user pattern; its group 1 is the answer.
    Regex,
    /// A free-form answer (a phrase or a sentence), voted by meaning: answers alike under the
    /// spec's cluster rule and similarity share a vote (`core::free`).
    Free,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Number => "number",
            AnswerKind::Choice => "choice",
            AnswerKind::Text => "text",
            AnswerKind::Regex => "regex",
            AnswerKind::Free => "free",
        }
    }
}

impl std::str::FromStr for AnswerKind {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AnswerKind::Number,
            AnswerKind::Choice,
            AnswerKind::Text,
            AnswerKind::Regex,
            AnswerKind::Free,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| SpecError::unknown("kind", s, "number, choice, text, regex or free"))
    }
}

/// How free-form answers are judged alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterRule {
    /// Content-word overlap (no model needed).
    #[default]
    Overlap,
    /// Cosine similarity of sentence embeddings from an embedding GGUF.
    Embed,
    /// Universal self-consistency: the model picks the most consistent response; clusters
    /// (shown, and for scoring) are overlap's.
    Usc,
}

impl ClusterRule {
    pub const ALL: [ClusterRule; 3] = [ClusterRule::Overlap, ClusterRule::Embed, ClusterRule::Usc];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterRule::Overlap => "overlap",
            ClusterRule::Embed => "embed",
            ClusterRule::Usc => "usc",
        }
    }
}

impl std::fmt::Display for ClusterRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClusterRule {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClusterRule::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| SpecError::unknown("cluster rule", s, "overlap, embed or usc"))
    }
}

/// The similarity two answers need to share a cluster when a template does not say.
pub const DEFAULT_SIMILARITY: f64 = 0.7;

/// Checks a `similarity:` threshold: a number in (0, 1].
pub fn check_similarity(s: f64) -> Result<(), SpecError> {
    if s.is_finite() && s > 0.0 && s <= 1.0 {
        Ok(())
    } else {
        Err(SpecError::Similarity(s))
    }
}

/// The `answer:` block of a template.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    pub kind: AnswerKind,
    /// For `regex`: the pattern (group 1 is the answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// For `choice`: a fixed label set (A = first label, ...). Without it the options are read
    /// from the query, written as "(A) ... (B) ...".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// For `free`: how alike two answers must be to share a vote, in (0, 1] (default 0.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// For `free`: how answers are judged alike (default `overlap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRule>,
    /// Strict answers: an answer read only by a fallback (`extract::Read::is_fallback`) does not
    /// vote; its path joins the no-answer bucket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
}

impl AnswerSpec {
    pub fn of(kind: AnswerKind) -> Self {
        AnswerSpec {
            kind,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        self.check().map(|_| ())
    }

    /// Checks what serde cannot (a pattern that compiles and has a group, similarity and
    /// cluster only on `free`, a similarity in range) and gives the compiled pattern.
    pub fn check(&self) -> Result<Option<Regex>, SpecError> {
        let pattern = match (self.kind, &self.pattern) {
            (AnswerKind::Regex, None) => {
                return Err(SpecError::NoPattern);
            }
            (_, Some(p)) => {
                let re = Regex::new(p).map_err(SpecError::Pattern)?;
                if re.captures_len() < 2 {
                    return Err(SpecError::NoGroup(p.clone()));
                }
                Some(re)
            }
            (_, None) => None,
        };
        if self.kind != AnswerKind::Free && (self.similarity.is_some() || self.cluster.is_some()) {
            return Err(SpecError::NotFree(self.kind.as_str()));
        }
        if let Some(s) = self.similarity {
            check_similarity(s)?;
        }
        Ok(pattern)
    }

    /// The short form the lab shows and reads: `number`, `text`, …, and for free-form answers
    /// `free:RULE:SIMILARITY` (`free:overlap:0.7`).
    pub fn short(&self) -> String {
        match self.kind {
            AnswerKind::Free => format!("free:{}:{}", self.cluster(), self.similarity()),
            k => k.as_str().to_string(),
        }
    }

    /// This spec with its kind (and, for `free`, rule and similarity) read from a short form:
    /// `text`, `free`, `free:usc`, `free:0.6`, `free:embed:0.8`. The pattern and labels stay.
    pub fn with_short(&self, typed: &str) -> Result<AnswerSpec, SpecError> {
        let mut parts = typed.trim().split(':');
        let kind: AnswerKind = parts.next().unwrap_or("").trim().parse()?;
        let mut next = AnswerSpec {
            kind,
            similarity: None,
            cluster: None,
            ..self.clone()
        };
        for part in parts.map(str::trim) {
            if kind != AnswerKind::Free {
                return Err(SpecError::NoSettings(kind.as_str()));
            }
            match part.parse::<f64>() {
                Ok(s) => next.similarity = Some(s),
                Err(_) => next.cluster = Some(part.parse()?),
            }
        }
        next.validate()?;
        Ok(next)
    }

    /// The similarity a free-form vote clusters with.
    pub fn similarity(&self) -> f64 {
        self.similarity.unwrap_or(DEFAULT_SIMILARITY)
    }

    /// The cluster rule of a free-form vote.
    pub fn cluster(&self) -> ClusterRule {
        self.cluster.unwrap_or_default()
    }

    /// Free-form answers clustered by their embeddings.
    pub fn embeds(&self) -> bool {
        self.kind == AnswerKind::Free && self.cluster() == ClusterRule::Embed
    }
}
