//! The options a multiple-choice query lists, however it writes them: `(A) x (B) y`,
//! `A) x B) y`, `A. x`, `A: x`, one per line or inline (AQuA's
//! `Options: A) 367 B) 375 C) 730 D) 365 E) 356`).

use std::sync::LazyLock;

use regex::Regex;

/// `(A) text`: read as it always was, every such option wherever it stands.
static PARENS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([A-Z])\)\s*([^\n(]+)").expect("static regex"));
/// `A) text`, `A. text`, `A: text`: a capital letter at the start of a line or after a space
/// or a separator, then its mark.
static MARKED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)(?:^|[\s:;,\[])([A-Z])(?:(\))[ \t]*|([.:])[ \t]+)").expect("static regex")
});

/// The options of a multiple-choice query, `[('A', "367"), ('B', "375"), …]`; empty when it
/// lists none. `(A) …` options are taken as they come; the other forms count only as a run
/// of at least two options lettered A, B, C… with one mark (the longest such run, the last
/// of equals), so "Plan A: wait." alone is no option.
pub fn parse_options(query: &str) -> Vec<(char, String)> {
    let parens: Vec<(char, String)> = PARENS
        .captures_iter(query)
        .filter_map(|c| Some((c[1].chars().next()?, c[2].trim().to_string())))
        .collect();
    if !parens.is_empty() {
        return parens;
    }
    // Each marker: its letter, its mark, where its letter starts and where its text starts.
    let markers: Vec<(char, char, usize, usize)> = MARKED
        .captures_iter(query)
        .filter_map(|c| {
            let letter = c.get(1)?;
            let mark = c.get(2).or_else(|| c.get(3))?;
            Some((
                letter.as_str().chars().next()?,
                mark.as_str().chars().next()?,
                letter.start(),
                c.get(0)?.end(),
            ))
        })
        .collect();
    let mut best: &[(char, char, usize, usize)] = &[];
    let mut i = 0;
    while i < markers.len() {
        if markers[i].0 != 'A' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < markers.len()
            && markers[j].1 == markers[i].1
            && markers[j].0 as u32 == markers[j - 1].0 as u32 + 1
        {
            j += 1;
        }
        if j - i >= 2 && j - i >= best.len() {
            best = &markers[i..j];
        }
        i = j;
    }
    best.iter()
        .enumerate()
        .map(|(k, &(letter, _, _, from))| {
            let to = best.get(k + 1).map_or(query.len(), |next| next.2);
            let text = query[from..to].lines().next().unwrap_or("");
            (
                letter,
                text.trim().trim_end_matches([',', ';']).trim().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn letters_and_texts(query: &str) -> Vec<String> {
        parse_options(query)
            .into_iter()
            .map(|(l, t)| format!("{l}={t}"))
            .collect()
    }

    #[test]
    fn the_common_ways_of_writing_options_are_read() {
        let aqua = ["A=367", "B=375", "C=730", "D=365", "E=356"];
        let cases: &[(&str, &[&str])] = &[
            ("Options: (A) 12 (B) 13 (C) 14", &["A=12", "B=13", "C=14"]),
            ("Options: A) 367 B) 375 C) 730 D) 365 E) 356", &aqua),
            ("Options:\nA) 367\nB) 375\nC) 730\nD) 365\nE) 356\n", &aqua),
            (
                "Pick one.\nA. red\nB. green\nC. blue",
                &["A=red", "B=green", "C=blue"],
            ),
            (
                "Choices: A. red, B. green, C. blue",
                &["A=red", "B=green", "C=blue"],
            ),
            ("A: yes\nB: no", &["A=yes", "B=no"]),
            ("Which? A:yes B:no", &[]),
            ("(A)\tfirst\n(B)\tsecond", &["A=first", "B=second"]),
            (
                "A train leaves at 3. A) 2 hours B) 3 hours",
                &["A=2 hours", "B=3 hours"],
            ),
            ("Plan A: wait. Then what?", &[]),
            (
                "He got an A. Then a B. Options: A) 1 B) 2 C) 3",
                &["A=1", "B=2", "C=3"],
            ),
            ("No options here at all.", &[]),
            ("", &[]),
        ];
        for (query, want) in cases {
            assert_eq!(letters_and_texts(query), *want, "{query:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(query in "\\PC{0,200}|([A-F][).:]? ?[a-z0-9 ]{0,6}\n?){0,8}") {
            let options = parse_options(&query);
            prop_assert!(options.iter().all(|(l, _)| l.is_ascii_uppercase()));
        }
    }
}
