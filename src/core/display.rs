//! Text from a model, a dataset or a file, made safe to show on a terminal: control
//! characters (an escape that would set the window title, clear the screen or move the
//! cursor, a carriage return that overwrites a line) are shown as visible escapes such as
//! `\x1b` and `\r`. Line breaks and tabs stay. `--json` output is never passed through this.
//! Also the small formatting both faces (`cli` and `tui`) share.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::record::PathRecord;
use super::vote::Tally;

/// A file's size for people: "4.7 MB" to a tenth under 100 MB (an adapter), "253 MB" above
/// (a model).
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb < 100.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{mb:.0} MB")
    }
}

/// `text` with every control character but `\n` and `\t` written as a visible escape.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if hidden(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The start of a text on one line of at most `width` characters, control characters made
/// visible.
pub fn shorten(text: &str, width: usize) -> String {
    let text = visible(text);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let mut s: String = flat.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A path's answer cell: its answer, "failed", "cancelled" or "—"; "~" marks an answer only a
/// fallback read (no stated answer), "✂" a path with a stage cut at its token limit.
pub fn path_answer(p: &PathRecord) -> String {
    let a = match (&p.error, &p.answer) {
        (Some(_), _) if p.cancelled() => "cancelled".into(),
        (Some(_), _) => "failed".into(),
        (None, Some(a)) if p.read_by_fallback() => format!("~{a}"),
        (None, Some(a)) => a.clone(),
        (None, None) => "—".into(),
    };
    if p.truncated() { format!("{a} ✂") } else { a }
}

/// What the "~" marks of a tally mean: how many of its votes only a fallback read (replies
/// that never state their answer) and what strict answers do with them. `None` when none.
pub fn fallback_note(t: &Tally, strict: bool) -> Option<String> {
    let n: u32 = t.entries.iter().map(|e| e.fallback).sum();
    (n > 0).then(|| {
        if strict {
            format!(
                "~ {n} of {} paths never stated an answer: set aside (strict answers)",
                t.voted
            )
        } else {
            format!(
                "~ {n} of {} votes read by the fallback, not stated (strict answers set them aside)",
                t.voted
            )
        }
    })
}

/// Two tallies in two columns: answer, votes in the first, votes in the second.
pub fn side_by_side(recorded: &Tally, new: &Tally, labels: [&str; 2]) -> String {
    let mut answers: Vec<Option<String>> =
        recorded.entries.iter().map(|e| e.answer.clone()).collect();
    for e in &new.entries {
        if !answers.contains(&e.answer) {
            answers.push(e.answer.clone());
        }
    }
    let w = answers
        .iter()
        .map(|a| a.as_ref().map_or(11, |s| s.chars().count()))
        .max()
        .unwrap_or(6)
        .clamp(6, 24);
    let mut out = format!("  {:<w$}  {:>8}  {:>8}\n", "answer", labels[0], labels[1]);
    for a in &answers {
        let votes = |t: &Tally| t.entry(a.as_deref()).map_or(0, |e| e.votes);
        let label = a
            .as_deref()
            .map_or_else(|| "(no answer)".into(), |a| visible(a).into_owned());
        let _ = writeln!(
            out,
            "  {label:<w$}  {:>8}  {:>8}",
            votes(recorded),
            votes(new)
        );
    }
    out
}

/// Characters a terminal would act on instead of showing: C0 and C1 controls (but line
/// breaks and tabs), DEL, and the bidirectional overrides that reorder what is shown.
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fallback_answers_are_marked_and_explained() {
        use crate::core::extract::{AnswerKind, AnswerSpec, Extractor};
        use crate::core::record::{StageRecord, Voting, settle, tally};
        let e = Extractor::new(&AnswerSpec::of(AnswerKind::Number)).unwrap();
        let paths: Vec<PathRecord> = ["So it costs $2 per egg.", "The answer is 9."]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut p = PathRecord::new(i);
                p.stages = vec![StageRecord::new(crate::core::strategy::Stage::Answer, *t)];
                settle(&mut p, &e, "");
                p
            })
            .collect();
        assert_eq!(path_answer(&paths[0]), "~2");
        assert_eq!(path_answer(&paths[1]), "9");
        let t = tally(&paths, &Voting::exact());
        assert!(
            fallback_note(&t, false)
                .unwrap()
                .starts_with("~ 1 of 2 votes")
        );
        assert!(fallback_note(&t, true).unwrap().contains("set aside"));
        let stated = tally(&paths[1..], &Voting::exact());
        assert_eq!(fallback_note(&stated, false), None);
    }

    #[test]
    fn escapes_are_made_visible() {
        assert_eq!(visible("plain\ntext\t."), "plain\ntext\t.");
        assert_eq!(visible("\x1b]0;pwned\x07title"), "\\x1b]0;pwned\\x07title");
        assert_eq!(visible("\x1b[2Jgone"), "\\x1b[2Jgone");
        assert_eq!(visible("over\rwrite"), "over\\rwrite");
        assert_eq!(visible("c1 \u{9b}31m"), "c1 \\x9b31m");
        assert_eq!(visible("a\u{202e}b"), "a\\u{202e}b");
    }

    proptest! {
        #[test]
        fn nothing_a_terminal_acts_on_survives(text in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f]{0,20}") {
            let shown = visible(&text);
            prop_assert!(!shown.chars().any(hidden));
        }
    }
}
