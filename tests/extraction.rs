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
