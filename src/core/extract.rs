//! Final-answer extraction from a model's text, by answer kind: one pure function of a text
//! (and the query, for multiple-choice options) that survives how real models write.
//!
//! Where the answer is read:
//! 1. the last `\boxed{…}` when there is one (math-tuned chat models);
//! 2. else after the last answer trigger that is not negated: "The answer is", "the answer
//!    (arabic numerals) is", "among A through E, the answer is" (zero-shot CoT's second stage),
//!    "The final/correct answer/option/choice is", "Final answer:", and "Answer:" at the start
//!    of a line, with Markdown emphasis around them, and GSM8K's "#### 18"; "the answer is not
//!    12" is no trigger;
//! 3. else, for numbers, the last number in the text; for text and choices, a one-line reply
//!    (what direct few-shot prompts produce) or a line that starts with an option letter.
//!
//! A path whose answer cannot be parsed gets `None`: the no-answer bucket.
//!
//! Every answer says how it was read ([`Read`]). The last number of a reply that never
//! states its answer, and the last sentence of a long free-form reply, are guesses: with
//! `strict: true` in the answer spec they are set aside (the no-answer bucket), as
//! lm-evaluation-harness's strict-match sets aside what only its flexible-extract reads.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::escapes;
use super::numbers;
pub use super::options::parse_options;
pub use super::spec::answer::{AnswerKind, AnswerSpec};

/// How an answer was read from a reply, from the surest to the guesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Read {
    /// The last `\boxed{…}`.
    Boxed,
    /// After an answer trigger ("The answer is", "Final answer:", "####").
    Trigger,
    /// The result of an equation right after the trigger ("The answer is 20 - 3 = 17").
    Equation,
    /// A choice: the option letter a reply opens with ("B) 12/13/2026, because …").
    Option,
    /// The template's pattern.
    Pattern,
    /// A reply that is only its answer ("42", "positive", a one-line free-form answer).
    Reply,
    /// Fallback: the last sentence of a long free-form reply that never states its answer.
    LastSentence,
    /// Fallback: the last number of a reply that never states its answer.
    LastNumber,
}

impl Read {
    /// A guess rather than a stated answer: strict answers set it aside.
    pub fn is_fallback(self) -> bool {
        matches!(self, Read::LastNumber | Read::LastSentence)
    }

    /// "last number (fallback)", for tables and the lab.
    pub fn describe(self) -> &'static str {
        match self {
            Read::Boxed => "boxed",
            Read::Trigger => "after the answer trigger",
            Read::Equation => "an equation's result after the trigger",
            Read::Option => "the option letter the reply opens with",
            Read::Pattern => "the template's pattern",
            Read::Reply => "the whole reply",
            Read::LastSentence => "last sentence (fallback)",
            Read::LastNumber => "last number (fallback)",
        }
    }
}

/// An answer and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub answer: String,
    pub read: Read,
}

impl Reading {
    /// `answer` read as `read`, unless it is empty.
    fn of(answer: String, read: Read) -> Option<Reading> {
        (!answer.is_empty()).then_some(Reading { answer, read })
    }
}

static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)(?:(?:\b(?:the\s+)?(?:final|correct|right|best)\s+(?:answer|option|choice)\b|\bthe\s+answer\b|^[\s>#*_]*answer\b)[*_]*(?:\s*\([^)\n]*\))?[*_]*\s*(?:\bis\b|\bwould\s+be\b|[:=])|(?:^|[ \t>])####)[\s*_:]*",
    )
    .expect("static regex")
});
static NEGATED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:not|never)\b").expect("static regex"));
static BOXED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\boxed\s*\{").expect("static regex"));
static FRAC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\d?frac\s*\{\s*([^{}]*)\}\s*\{\s*([^{}]*)\}").expect("static regex")
});
static LETTER_PAREN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([A-Za-z])\)").expect("static regex"));
static LEAD_LETTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i:(?:option|choice|letter)\s*)?(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])(?:[).:,;!\]*_]|\s|$))")
        .expect("static regex")
});

/// A ready-to-use extractor for one answer spec (the regex compiled once).
#[derive(Debug, Clone)]
pub struct Extractor {
    spec: AnswerSpec,
    kind: AnswerKind,
    pattern: Option<Regex>,
    labels: Vec<String>,
}

impl Extractor {
    pub fn new(spec: &AnswerSpec) -> Result<Self, crate::core::spec::SpecError> {
        let pattern = spec.check()?;
        Ok(Extractor {
            spec: spec.clone(),
            kind: spec.kind,
            pattern,
            labels: spec.choices.iter().map(|c| fold(c)).collect(),
        })
    }

    pub fn kind(&self) -> AnswerKind {
        self.kind
    }

    /// The spec it reads answers by.
    pub fn spec(&self) -> &AnswerSpec {
        &self.spec
    }

    /// The canonical answer in `text`, or `None` (the no-answer bucket). `query` supplies the
    /// options of a multiple-choice question. Fallback readings count: this is the flexible
    /// reading, whatever the spec's `strict`.
    pub fn extract(&self, text: &str, query: &str) -> Option<String> {
        self.read(text, query).map(|r| r.answer)
    }

    /// The answer in `text` and how it was read, or `None` (the no-answer bucket).
    pub fn read(&self, text: &str, query: &str) -> Option<Reading> {
        // The answer is what a terminal would show: escape sequences never vote.
        let text = &*escapes::strip(text);
        let query = &*escapes::strip(query);
        if self.kind == AnswerKind::Regex {
            let re = self.pattern.as_ref()?;
            let caps = re.captures(text)?;
            let m = caps.get(1).or_else(|| caps.get(0))?;
            return Reading::of(fold(m.as_str()), Read::Pattern);
        }
        let answer = locate(text);
        match self.kind {
            AnswerKind::Number => number(answer),
            AnswerKind::Text => Reading::of(fold(segment(&answer, text)?), answer.read()),
            AnswerKind::Choice => self.choice(&answer, text, query),
            AnswerKind::Free => {
                let (segment, read) = free_segment(&answer)?;
                let t = fold(&segment.split_whitespace().collect::<Vec<_>>().join(" "));
                Reading::of(t, read)
            }
            AnswerKind::Regex => None,
        }
    }

    /// Normalises a gold answer the same way model answers are, so scoring compares like
    /// with like. Gold answers are bare ("18", "(B)", "positive"), so no trigger is needed.
    pub fn normalize_target(&self, target: &str, query: &str) -> Option<String> {
        match self.kind {
            AnswerKind::Regex | AnswerKind::Free => Some(fold(target)).filter(|t| !t.is_empty()),
            _ => self.extract(&format!("The answer is {target}"), query),
        }
    }

    fn choice(&self, answer: &Located<'_>, text: &str, query: &str) -> Option<Reading> {
        let labelled = !self.labels.is_empty();
        let options: Vec<(char, String)> = if labelled {
            self.labels
                .iter()
                .enumerate()
                .map(|(i, l)| ((b'A' + i as u8) as char, l.clone()))
                .collect()
        } else {
            parse_options(query)
        };
        let by_letter = |letter: char| -> Option<String> {
            let letter = letter.to_ascii_uppercase();
            (options.is_empty() || options.iter().any(|(l, _)| *l == letter))
                .then(|| letter.to_string())
        };
        let seg = match segment(answer, text) {
            Some(seg) => seg,
            // A reply that opens with its option ("B) 12/13/2026, because …").
            None if !labelled => {
                let first = text.lines().find(|l| !l.trim().is_empty())?;
                let letter = lead_letter(first).and_then(by_letter)?;
                return Reading::of(letter, Read::Option);
            }
            None => return None,
        };
        // Label sets ("positive", "negative") are read by their text only: a reply
        // "A: negative" is negative, never option A.
        if !labelled {
            let letter = lead_letter(seg)
                .or_else(|| LETTER_PAREN.captures(seg).and_then(|c| c[1].chars().next()));
            if let Some(letter) = letter.and_then(by_letter) {
                return Reading::of(letter, answer.read());
            }
        }
        // Option text: the earliest mention wins; at one position the longest text wins.
        let folded = fold(seg);
        let found = options
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .filter_map(|(l, t)| {
                find_word(&folded, &fold(t)).map(|pos| (pos, std::cmp::Reverse(t.len()), *l))
            })
            .min()?;
        let letter = found.2;
        let picked = if labelled {
            options
                .iter()
                .find(|(l, _)| *l == letter)
                .map(|(_, t)| t.clone())
        } else {
            by_letter(letter)
        };
        Reading::of(picked?, answer.read())
    }
}

/// Where in a text its answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Located<'a> {
    /// The content of the last `\boxed{…}`.
    Boxed(&'a str),
    /// What follows the last answer trigger that is not negated.
    After(&'a str),
    /// No trigger: the text to search as a whole (after any negated trigger).
    Nowhere(&'a str),
}

impl Located<'_> {
    /// How an answer found at this place is read.
    fn read(&self) -> Read {
        match self {
            Located::Boxed(_) => Read::Boxed,
            Located::After(_) => Read::Trigger,
            Located::Nowhere(_) => Read::Reply,
        }
    }
}

/// A number answer at its place: the boxed value; after a trigger, an equation's result or
/// the first number; with neither, the reply when it is only a number, else its last number.
fn number(answer: Located<'_>) -> Option<Reading> {
    let (found, read) = match answer {
        Located::Boxed(inner) => {
            let inner = FRAC.replace_all(inner, "($1)/($2)");
            let inner = inner.replace(['(', ')', '{', '}'], "");
            (numbers::first(&inner)?, Read::Boxed)
        }
        Located::After(rest) => {
            let line = rest.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            // "The answer is 20 - 3 = 17.": an equation right after the trigger gives its
            // result.
            let sentence = &line[..sentence_end(line)];
            let chain = sentence
                .find(|c: char| !(c.is_ascii_digit() || " .,$+-*/×÷()%=\u{2212}".contains(c)))
                .map_or(sentence, |end| &sentence[..end]);
            match chain
                .rfind('=')
                .and_then(|i| numbers::first(&chain[i + 1..]))
            {
                Some(result) => (result, Read::Equation),
                None => (
                    numbers::first(line).or_else(|| numbers::scan(rest).into_iter().next())?,
                    Read::Trigger,
                ),
            }
        }
        Located::Nowhere(searched) => {
            let last = numbers::scan(searched).pop()?;
            // " $12", "42.": a reply that is only its number states it; a number picked from
            // prose ("… daily for $2 per fresh duck egg.") is a guess.
            let rest = format!("{}{}", &searched[..last.start], &searched[last.end..]);
            let bare = !rest.chars().any(char::is_alphanumeric);
            (last, if bare { Read::Reply } else { Read::LastNumber })
        }
    };
    Some(Reading {
        answer: found.value,
        read,
    })
}

/// Finds the answer's place: the last `\boxed{}`, else the last trigger that is not negated.
fn locate(text: &str) -> Located<'_> {
    if let Some(span) = last_boxed(text) {
        return Located::Boxed(&text[span.0..span.1]);
    }
    let mut after_negated = 0;
    let mut last = None;
    for m in triggers(text) {
        if NEGATED.is_match(&text[m.end()..]) {
            after_negated = m.end();
        } else {
            last = Some(m);
        }
    }
    match last {
        Some(m) if m.end() >= after_negated => Located::After(&text[m.end()..]),
        None if after_negated == 0 => Located::Nowhere(text),
        _ => {
            // "… the answer is not 5. It is 6.": past the value the negation rejects, a value
            // that follows is the answer; without one, an earlier trigger still stands.
            let rest = &text[after_negated..];
            let past = numbers::scan(rest).first().map_or(rest, |f| &rest[f.end..]);
            match last {
                Some(m) if numbers::scan(past).is_empty() => Located::After(&text[m.end()..]),
                _ => Located::Nowhere(past),
            }
        }
    }
}

/// The answer triggers in `text`, in order. GSM8K's `####` marks an answer only when a
/// number follows it (a Markdown heading "#### Step 2" is no trigger).
fn triggers(text: &str) -> impl Iterator<Item = regex::Match<'_>> {
    TRIGGER.find_iter(text).filter(|m| {
        let marker = m
            .as_str()
            .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '*' | '_' | ':'));
        !marker.ends_with("####")
            || text[m.end()..]
                .trim_start_matches(['$', '-', '\u{2212}', '.'])
                .starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The byte span of the content of the last `\boxed{…}` (braces balanced).
fn last_boxed(text: &str) -> Option<(usize, usize)> {
    let m = BOXED.find_iter(text).last()?;
    let mut depth = 1;
    for (i, c) in text[m.end()..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((m.end(), m.end() + i));
                }
            }
            _ => {}
        }
    }
    None
}

/// An option letter at the start of `seg` ("B", "(b)", "B) …", "Option C", "B because …").
fn lead_letter(seg: &str) -> Option<char> {
    let seg = seg.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '*' | '_' | '"' | '\'' | '`')
    });
    let c = LEAD_LETTER.captures(seg)?;
    c.get(1)
        .or_else(|| c.get(2))
        .or_else(|| c.get(3))
        .and_then(|m| m.as_str().chars().next())
}

/// The byte position of `needle` in `hay` as whole words ("no" is not found in "not").
fn find_word(hay: &str, needle: &str) -> Option<usize> {
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    hay.match_indices(needle).map(|(i, _)| i).find(|&i| {
        !is_word(hay[..i].chars().next_back()) && !is_word(hay[i + needle.len()..].chars().next())
    })
}

/// The byte range of the final-answer sentence ("The answer is 18.", "\boxed{18}") in `text`,
/// for highlighting: from the trigger the answer is read after to the end of its line or
/// sentence.
pub fn answer_sentence(text: &str) -> Option<(usize, usize)> {
    if let Some((a, b)) = last_boxed(text) {
        let start = text[..a].rfind("\\boxed").unwrap_or(a);
        return Some((start, b + 1));
    }
    let m = triggers(text)
        .filter(|m| !NEGATED.is_match(&text[m.end()..]))
        .last()?;
    let rest = &text[m.end()..];
    let end = sentence_end(rest);
    let end = m.end() + end + rest[end..].chars().next().map_or(0, char::len_utf8);
    Some((m.start(), end.min(text.len())))
}

/// Where the first sentence of `s` ends: at a line break or a full stop that is not a
/// decimal point (the byte index of that character, or the length of `s`).
fn sentence_end(s: &str) -> usize {
    s.char_indices()
        .find(|&(i, c)| {
            c == '\n' || (c == '.' && !s[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i)
}

/// The text a text or choice answer is read from: the first line after the trigger (or the
/// boxed content), or a one-line reply.
fn segment<'a>(answer: &Located<'a>, text: &'a str) -> Option<&'a str> {
    match answer {
        Located::Boxed(inner) => Some(inner),
        Located::After(rest) => rest.lines().map(str::trim).find(|l| !l.is_empty()),
        Located::Nowhere(_) => {
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next()?;
            lines.next().is_none().then_some(first)
        }
    }
}

/// Replies up to this long, on one line, are a free-form answer whole.
const SHORT_REPLY: usize = 160;

/// Where a free-form answer is: the boxed content, the first line after the trigger, a short
/// one-line reply whole, else the reply's last sentence (a fallback).
fn free_segment<'a>(answer: &Located<'a>) -> Option<(&'a str, Read)> {
    match answer {
        Located::Boxed(inner) => Some((inner, Read::Boxed)),
        Located::After(rest) => rest
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| (l, Read::Trigger)),
        Located::Nowhere(text) => {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            if text.len() <= SHORT_REPLY && !text.contains('\n') {
                return Some((text, Read::Reply));
            }
            let last = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
            let body = last.trim_end_matches(['.', '!', '?']);
            let start = body
                .char_indices()
                .rev()
                .find(|&(i, c)| {
                    matches!(c, '.' | '!' | '?') && body[i + 1..].starts_with(char::is_whitespace)
                })
                .map_or(0, |(i, _)| i + 1);
            Some((last[start..].trim(), Read::LastSentence))
        }
    }
}

/// Trim, drop surrounding quotes and Markdown emphasis and trailing punctuation, case-fold:
/// `"NK."`, `**nk**` and `nk!` are all "nk".
fn fold(s: &str) -> String {
    let mut t = s.trim();
    loop {
        let before = t;
        t = t
            .trim_end_matches(['.', '!', '?', ',', ';', ':'])
            .trim_matches(|c: char| {
                matches!(
                    c,
                    '"' | '\''
                        | '`'
                        | '*'
                        | '_'
                        | '\u{201c}'
                        | '\u{201d}'
                        | '\u{2018}'
                        | '\u{2019}'
                )
            })
            .trim();
        if t == before {
            break;
        }
    }
    t.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::spec::answer::ClusterRule;
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
    fn choice_reads_options_however_the_query_writes_them() {
        let e = ex(AnswerKind::Choice);
        let q = "How many? Options: A) 367 B) 375 C) 730 D) 365 E) 356";
        assert_eq!(e.extract("The answer is 730.", q).as_deref(), Some("C"));
        assert_eq!(e.extract("The answer is (E).", q).as_deref(), Some("E"));
        let lines = "How many?\nA. 367\nB. 375\nC. 730";
        assert_eq!(
            e.extract("So the answer is B.", lines).as_deref(),
            Some("B")
        );
        assert_eq!(e.extract("The answer is 730", lines).as_deref(), Some("C"));
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
        assert_eq!(e.extract("A: negative", "").as_deref(), Some("negative"));
        assert_eq!(
            e.extract("The answer is (A).", ""),
            None,
            "labels never read letters"
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
    fn escape_sequences_do_not_change_the_answer() {
        let n = ex(AnswerKind::Number);
        for text in [
            "The answer is \x1b[31m18\x1b[0m.",
            "\x1b]0;The answer is 31\x07The answer is 18.",
            "The answer is \u{9b}1;31m18\u{9b}0m",
            "The answer is 1\u{202e}8",
        ] {
            assert_eq!(n.extract(text, "").as_deref(), Some("18"), "{text:?}");
        }
        let c = ex(AnswerKind::Choice);
        assert_eq!(
            c.extract("The answer is \x1b[1m(B)\x1b[0m.", "(A) 3 (B) 4")
                .as_deref(),
            Some("B")
        );
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

    #[test]
    fn free_answers_are_read_after_the_trigger_else_whole_or_the_last_sentence() {
        let e = ex(AnswerKind::Free);
        assert_eq!(
            e.extract(
                "Let me think.\nThe answer is: It was signed at  Westphalia in 1648.\nQ: next",
                ""
            )
            .as_deref(),
            Some("it was signed at westphalia in 1648")
        );
        assert_eq!(e.extract("  **Paris**  ", "").as_deref(), Some("paris"));
        let long = format!(
            "{} In the end, the treaty was signed in 1648.",
            "Many talks took place. ".repeat(8)
        );
        assert_eq!(
            e.extract(&long, "").as_deref(),
            Some("in the end, the treaty was signed in 1648")
        );
        assert_eq!(e.extract("  \n ", ""), None);
        assert_eq!(
            e.normalize_target("Westphalia.", "").as_deref(),
            Some("westphalia")
        );
    }

    #[test]
    fn short_forms_name_and_set_free_form_votes() {
        let spec = AnswerSpec::of(AnswerKind::Number);
        let free = spec.with_short("free:embed:0.8").unwrap();
        assert_eq!(
            (free.cluster(), free.similarity()),
            (ClusterRule::Embed, 0.8)
        );
        assert_eq!(free.short(), "free:embed:0.8");
        assert_eq!(spec.with_short("free").unwrap().short(), "free:overlap:0.7");
        assert_eq!(
            free.with_short("text").unwrap(),
            AnswerSpec::of(AnswerKind::Text)
        );
        assert!(
            spec.with_short("free:bert")
                .unwrap_err()
                .to_string()
                .contains("overlap, embed or usc")
        );
        assert!(
            spec.with_short("free:1.5")
                .unwrap_err()
                .to_string()
                .contains("at most 1")
        );
        assert!(
            spec.with_short("number:0.5")
                .unwrap_err()
                .to_string()
                .contains("no settings")
        );
    }

    #[test]
    fn similarity_and_cluster_belong_to_free_answers_and_are_checked() {
        let spec = |kind, similarity| AnswerSpec {
            kind,
            similarity,
            ..Default::default()
        };
        assert!(spec(AnswerKind::Free, Some(0.7)).validate().is_ok());
        assert!(
            spec(AnswerKind::Free, Some(1.2))
                .validate()
                .unwrap_err()
                .to_string()
                .contains("above 0 and at most 1")
        );
        assert!(
            spec(AnswerKind::Number, Some(0.7))
                .validate()
                .unwrap_err()
                .to_string()
                .contains("apply to kind `free`")
        );
        assert_eq!(spec(AnswerKind::Free, None).similarity(), 0.7);
    }
}
