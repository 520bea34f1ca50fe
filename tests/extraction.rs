//! The extraction corpus: replies as models write them (the shipped sessions' real replies,
//! base-model few-shot continuations, chat-model styles) with the answer that must be read
//! from each. Every extraction bug found adds a row to `fixtures/extraction-corpus.yaml`.

use promptlab::core::extract::{AnswerKind, AnswerSpec, Extractor, Read};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    rows: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    kind: AnswerKind,
    reply: String,
    want: Option<String>,
    #[serde(default)]
    query: String,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    /// How the answer must be read, where the row says.
    #[serde(default)]
    read: Option<Read>,
}

#[test]
fn every_row_of_the_corpus_reads_its_answer() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/extraction-corpus.yaml"
    ))
    .unwrap();
    let corpus: Corpus = serde_saphyr::from_str(&text).unwrap();
    assert!(corpus.rows.len() >= 300, "{} rows", corpus.rows.len());
    let mut wrong = Vec::new();
    for (i, r) in corpus.rows.iter().enumerate() {
        let spec = AnswerSpec {
            kind: r.kind,
            choices: r.choices.clone(),
            ..Default::default()
        };
        let reading = Extractor::new(&spec).unwrap().read(&r.reply, &r.query);
        let got = reading.as_ref().map(|g| g.answer.clone());
        let how = reading.map(|g| g.read);
        if got != r.want || r.read.is_some_and(|want| how != Some(want)) {
            wrong.push(format!(
                "row {}: {:?} read {got:?} as {how:?}, want {:?}{} ({})",
                i + 1,
                r.reply,
                r.want,
                r.read.map(|w| format!(" as {w:?}")).unwrap_or_default(),
                r.note.as_deref().unwrap_or("")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows:\n{}",
        wrong.len(),
        corpus.rows.len(),
        wrong.join("\n")
    );
}

#[test]
fn targets_are_read_like_answers() {
    let number = Extractor::new(&AnswerSpec::of(AnswerKind::Number)).unwrap();
    for (target, value) in [
        (".5", "0.5"),
        ("$1,000.00", "1000"),
        ("3/4", "0.75"),
        ("-5", "-5"),
    ] {
        assert_eq!(number.normalize_target(target, "").as_deref(), Some(value));
    }
    // A wrong 5 never scores against a target of .5.
    assert_ne!(
        number.extract("The answer is 5.", ""),
        number.normalize_target(".5", "")
    );
}

#[test]
fn every_answer_says_how_it_was_read() {
    let read = |kind, text: &str, query: &str| {
        Extractor::new(&AnswerSpec::of(kind))
            .unwrap()
            .read(text, query)
            .map(|r| (r.answer, r.read))
            .unwrap()
    };
    let n = AnswerKind::Number;
    let r = |a: &str, how| (a.to_string(), how);
    assert_eq!(read(n, "So $\\boxed{18}$.", ""), r("18", Read::Boxed));
    assert_eq!(
        read(n, "9 * 2 = 18. The answer is 18.", ""),
        r("18", Read::Trigger)
    );
    assert_eq!(read(n, "#### 18", ""), r("18", Read::Trigger));
    assert_eq!(
        read(n, "The answer is 20 - 3 = 17.", ""),
        r("17", Read::Equation)
    );
    assert_eq!(read(n, " $12", ""), r("12", Read::Reply));
    assert_eq!(read(n, "42.", ""), r("42", Read::Reply));
    // The issue's case: a path that restates the question is read by the fallback.
    let restated = " Janet's ducks lay 16 eggs per day. She sells the remainder at the \
                    farmers' market daily for $2 per fresh duck egg.";
    assert_eq!(read(n, restated, ""), r("2", Read::LastNumber));
    assert!(Read::LastNumber.is_fallback() && !Read::Reply.is_fallback());
    let q = "(A) 12/14/2026 (B) 12/13/2026";
    let c = AnswerKind::Choice;
    assert_eq!(read(c, "The answer is (B).", q), r("B", Read::Trigger));
    assert_eq!(read(c, "B", q), r("B", Read::Reply));
    assert_eq!(
        read(c, "B) 12/13/2026, because\nthe day before.", q),
        r("B", Read::Option)
    );
    assert_eq!(read(AnswerKind::Text, " Yes", ""), r("yes", Read::Reply));
    let long = format!("{} So it was Westphalia.", "Talks went on. ".repeat(12));
    assert_eq!(
        read(AnswerKind::Free, &long, ""),
        r("so it was westphalia", Read::LastSentence)
    );
    let spec = AnswerSpec {
        kind: AnswerKind::Regex,
        pattern: Some(r"ANSWER: (\w+)".into()),
        ..Default::default()
    };
    let e = Extractor::new(&spec).unwrap();
    assert_eq!(e.read("ANSWER: Paris", "").unwrap().read, Read::Pattern);
}

#[test]
fn strict_is_an_answer_setting_that_round_trips() {
    let spec: AnswerSpec = serde_json::from_str(r#"{"kind":"number","strict":true}"#).unwrap();
    assert!(spec.strict);
    assert_eq!(
        serde_json::to_string(&AnswerSpec::of(AnswerKind::Number)).unwrap(),
        r#"{"kind":"number"}"#,
        "flexible specs are written as before"
    );
    assert!(
        spec.with_short("text").unwrap().strict,
        "the kind changes, strict stays"
    );
}
