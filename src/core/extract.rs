//! Final-answer extraction from a model's text, by answer kind.
//!
//! Every kind first looks for the answer trigger ("The answer is", also "the answer (arabic
//! numerals) is" and "among A through E, the answer is" from zero-shot CoT's second stage) and
//! reads what follows it. Without a trigger: `number` takes the last number in the text; `text`
//! and `choice` accept a one-line completion (what direct few-shot prompts produce) and give up
//! on anything longer. A path whose answer cannot be parsed gets `None`: the no-answer bucket.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

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
    /// A user pattern; group 1 (or the whole match) is the answer.
    Regex,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Number => "number",
            AnswerKind::Choice => "choice",
            AnswerKind::Text => "text",
            AnswerKind::Regex => "regex",
        }
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
}

impl AnswerSpec {
    pub fn of(kind: AnswerKind) -> Self {
        AnswerSpec {
            kind,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        Extractor::new(self).map(|_| ())
    }
}

static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bthe (?:final )?answer\b(?:\s*\([^)]*\))?\s*(?:is|:)\s*:?")
        .expect("static regex")
});
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(-)?(?:\$\s?)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?").expect("static regex")
});
static LETTER_PAREN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([A-Za-z])\)").expect("static regex"));
static LONE_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\(?([A-Za-z])(?:\)|\.|:|\s*$)").expect("static regex"));
static OPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([A-Z])\)\s*([^\n(]+)").expect("static regex"));

/// A ready-to-use extractor for one answer spec (the regex compiled once).
#[derive(Debug, Clone)]
pub struct Extractor {
    kind: AnswerKind,
    pattern: Option<Regex>,
    labels: Vec<String>,
}

impl Extractor {
    pub fn new(spec: &AnswerSpec) -> Result<Self, String> {
        let pattern = match (spec.kind, &spec.pattern) {
            (AnswerKind::Regex, None) => {
                return Err("answer kind `regex` needs a `pattern`".into());
            }
            (_, Some(p)) => {
                Some(Regex::new(p).map_err(|e| format!("answer pattern does not compile: {e}"))?)
            }
            (_, None) => None,
        };
        Ok(Extractor {
            kind: spec.kind,
            pattern,
            labels: spec.choices.iter().map(|c| fold(c)).collect(),
        })
    }

    pub fn kind(&self) -> AnswerKind {
        self.kind
    }

    /// The canonical answer in `text`, or `None` (the no-answer bucket). `query` supplies the
    /// options of a multiple-choice question.
    pub fn extract(&self, text: &str, query: &str) -> Option<String> {
        let after = TRIGGER.find(text).map(|m| &text[m.end()..]);
        match self.kind {
            AnswerKind::Number => match after {
                Some(rest) => NUMBER.captures(rest).map(|c| number_of(rest, &c)),
                None => NUMBER
                    .captures_iter(text)
                    .last()
                    .map(|c| number_of(text, &c)),
            },
            AnswerKind::Text => {
                let seg = segment(after, text)?;
                let t = fold(seg);
                (!t.is_empty()).then_some(t)
            }
            AnswerKind::Choice => self.choice(segment(after, text)?, query),
            AnswerKind::Regex => {
                let re = self.pattern.as_ref()?;
                let caps = re.captures(text)?;
                let m = caps.get(1).or_else(|| caps.get(0))?;
                let t = fold(m.as_str());
                (!t.is_empty()).then_some(t)
            }
        }
    }

    /// Normalises a gold answer the same way model answers are, so scoring compares like
    /// with like. Gold answers are bare ("18", "(B)", "positive"), so no trigger is needed.
    pub fn normalize_target(&self, target: &str, query: &str) -> Option<String> {
        match self.kind {
            AnswerKind::Regex => Some(fold(target)).filter(|t| !t.is_empty()),
            _ => self.extract(&format!("The answer is {target}"), query),
        }
    }

    fn choice(&self, seg: &str, query: &str) -> Option<String> {
        let options: Vec<(char, String)> = if self.labels.is_empty() {
            parse_options(query)
        } else {
            self.labels
                .iter()
                .enumerate()
                .map(|(i, l)| ((b'A' + i as u8) as char, l.clone()))
                .collect()
        };
        let canonical = |letter: char| -> Option<String> {
            let letter = letter.to_ascii_uppercase();
            if self.labels.is_empty() {
                (options.is_empty() || options.iter().any(|(l, _)| *l == letter))
                    .then(|| letter.to_string())
            } else {
                options
                    .iter()
                    .find(|(l, _)| *l == letter)
                    .map(|(_, t)| t.clone())
            }
        };
        let letter = LETTER_PAREN
            .captures(seg)
            .or_else(|| LONE_LETTER.captures(seg))
            .and_then(|c| c[1].chars().next());
        if let Some(answer) = letter.and_then(canonical) {
            return Some(answer);
        }
        // Option text: the earliest mention wins; at one position the longest text wins.
        let folded = fold(seg);
        options
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .filter_map(|(l, t)| {
                folded
                    .find(&fold(t))
                    .map(|pos| (pos, std::cmp::Reverse(t.len()), *l))
            })
            .min()
            .and_then(|(_, _, l)| canonical(l))
    }
}

/// The byte range of the final-answer sentence ("The answer is 18.") in `text`, for
/// highlighting: from the trigger to the end of its line or sentence.
pub fn answer_sentence(text: &str) -> Option<(usize, usize)> {
    let m = TRIGGER.find(text)?;
    let rest = &text[m.end()..];
    let end = rest
        .char_indices()
        .find(|&(i, c)| {
            c == '\n' || (c == '.' && !rest[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        })
        .map_or(text.len(), |(i, c)| m.end() + i + c.len_utf8());
    Some((m.start(), end))
}

/// The options of a multiple-choice query: "(A) first (B) second" -> [('A', "first"), ...].
pub fn parse_options(query: &str) -> Vec<(char, String)> {
    OPTION
        .captures_iter(query)
        .filter_map(|c| Some((c[1].chars().next()?, c[2].trim().to_string())))
        .collect()
}

/// The text an answer is read from: the first line after the trigger, or a one-line completion.
fn segment<'a>(after_trigger: Option<&'a str>, text: &'a str) -> Option<&'a str> {
    match after_trigger {
        Some(rest) => rest.trim_start().lines().next(),
        None => {
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next()?;
            lines.next().is_none().then_some(first)
        }
    }
}

/// Trim, drop surrounding quotes and a final full stop, case-fold.
fn fold(s: &str) -> String {
    let t = s.trim().trim_end_matches(['.', '!']).trim();
    let t = t
        .trim_matches(|c| c == '"' || c == '\'' || c == '`' || c == '*')
        .trim();
    t.to_lowercase()
}

/// The canonical form of a matched number: no sign for zero, no thousands separators, no
/// trailing zeros after the decimal point. A minus right after a digit or a word ("16-3",
/// "16 - 3") is subtraction, not a sign.
fn number_of(haystack: &str, c: &regex::Captures<'_>) -> String {
    let negative = c.get(1).is_some_and(|m| {
        let before = haystack[..m.start()].trim_end();
        !before.ends_with(|ch: char| ch.is_alphanumeric() || ch == ')')
    });
    let int = c[2].replace(',', "");
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = c
        .get(3)
        .map(|m| m.as_str().trim_end_matches('0'))
        .unwrap_or("");
    let body = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    if negative && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ex(kind: AnswerKind) -> Extractor {
        Extractor::new(&AnswerSpec::of(kind)).unwrap()
    }

    #[test]
    fn number_forms_are_one_value() {
        let e = ex(AnswerKind::Number);
        for s in [
            "The answer is 1,000.",
            "The answer is $1000",
            "The answer is 1000.00",
        ] {
            assert_eq!(e.extract(s, "").as_deref(), Some("1000"), "{s}");
        }
        assert_eq!(e.extract("The answer is $18.", "").as_deref(), Some("18"));
        assert_eq!(
            e.extract("The answer is 18.50", "").as_deref(),
            Some("18.5")
        );
        assert_eq!(e.extract("The answer is -3.", "").as_deref(), Some("-3"));
        assert_eq!(e.extract("The answer is 0.0", "").as_deref(), Some("0"));
    }

    #[test]
    fn number_prefers_trigger_then_last_number() {
        let e = ex(AnswerKind::Number);
        let t = "She sells 16 - 3 - 4 = 9 eggs. 9 * 2 = 18. The answer is 18. Q: 5 apples";
        assert_eq!(e.extract(t, "").as_deref(), Some("18"));
        assert_eq!(
            e.extract("16 - 3 - 4 = 9, 9 * 2 = 18", "").as_deref(),
            Some("18")
        );
        assert_eq!(e.extract("no digits here", ""), None);
        assert_eq!(e.extract("20 - 3", "").as_deref(), Some("3"));
        assert_eq!(e.extract("20-3", "").as_deref(), Some("3"));
        assert_eq!(e.extract("x = -3", "").as_deref(), Some("-3"));
    }

    #[test]
    fn zero_shot_cot_extraction_phrase_is_a_trigger() {
        let e = ex(AnswerKind::Number);
        let t = "5 + 6 = 11.\nTherefore, the answer (arabic numerals) is 11.";
        assert_eq!(e.extract(t, "").as_deref(), Some("11"));
        let c = ex(AnswerKind::Choice);
        let t = "...\nTherefore, among A through E, the answer is (C).";
        assert_eq!(c.extract(t, "(A) x (B) y (C) z").as_deref(), Some("C"));
    }

    #[test]
    fn text_is_trimmed_and_case_folded() {
        let e = ex(AnswerKind::Text);
        assert_eq!(
            e.extract("So the answer is \"NK\".", "").as_deref(),
            Some("nk")
        );
        assert_eq!(e.extract("  Yes \n", "").as_deref(), Some("yes"));
        assert_eq!(e.extract("line one\nline two", ""), None);
    }

    #[test]
    fn choice_by_letter_or_option_text() {
        let e = ex(AnswerKind::Choice);
        let q = "What is the date? Options: (A) 12/14/2026 (B) 12/13/2026 (C) 01/01/2027";
        assert_eq!(e.extract("The answer is (B).", q).as_deref(), Some("B"));
        assert_eq!(e.extract("B", q).as_deref(), Some("B"));
        assert_eq!(
            e.extract("The answer is 01/01/2027.", q).as_deref(),
            Some("C")
        );
        assert_eq!(e.extract("The answer is (F).", q), None, "not an option");
    }

    #[test]
    fn choice_with_labels_returns_label() {
        let spec = AnswerSpec {
            kind: AnswerKind::Choice,
            choices: vec!["positive".into(), "negative".into()],
            ..Default::default()
        };
        let e = Extractor::new(&spec).unwrap();
        assert_eq!(e.extract("Negative", "").as_deref(), Some("negative"));
        assert_eq!(
            e.extract("The answer is (A).", "").as_deref(),
            Some("positive")
        );
        assert_eq!(e.extract("meh", ""), None);
    }

    #[test]
    fn regex_takes_group_one() {
        let spec = AnswerSpec {
            kind: AnswerKind::Regex,
            pattern: Some(r"ANSWER:\s*(\w+)".into()),
            ..Default::default()
        };
        let e = Extractor::new(&spec).unwrap();
        assert_eq!(
            e.extract("blah ANSWER: Paris", "").as_deref(),
            Some("paris")
        );
        assert_eq!(e.extract("nothing", ""), None);
        let bad = AnswerSpec {
            kind: AnswerKind::Regex,
            pattern: Some("(".into()),
            ..Default::default()
        };
        assert!(Extractor::new(&bad).is_err());
        assert!(Extractor::new(&AnswerSpec::of(AnswerKind::Regex)).is_err());
    }

    #[test]
    fn answer_sentence_spans_trigger_to_full_stop() {
        let t = "9 * 2 = 18. The answer is 18.50 dollars. More.";
        let (a, b) = answer_sentence(t).unwrap();
        assert_eq!(&t[a..b], "The answer is 18.50 dollars.");
        assert_eq!(answer_sentence("no trigger"), None);
    }

    #[test]
    fn targets_normalise_like_answers() {
        let e = ex(AnswerKind::Number);
        assert_eq!(e.normalize_target("$1,000.00", "").as_deref(), Some("1000"));
        let c = ex(AnswerKind::Choice);
        assert_eq!(
            c.normalize_target("(b)", "(A) x (B) y").as_deref(),
            Some("B")
        );
    }

    proptest! {
        #[test]
        fn extraction_never_panics(text in ".{0,300}", query in ".{0,100}") {
            for kind in [AnswerKind::Number, AnswerKind::Choice, AnswerKind::Text] {
                let _ = ex(kind).extract(&text, &query);
            }
        }

        #[test]
        fn extracted_numbers_are_canonical(n in -1_000_000i64..1_000_000) {
            let e = ex(AnswerKind::Number);
            let got = e.extract(&format!("The answer is {n}."), "");
            prop_assert_eq!(got, Some(n.to_string()));
        }
    }
}
