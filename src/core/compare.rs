//! Reading paths side by side: which paths to put next to each other, the opening they all
//! share, and where each one's words depart from the winner's.

use similar::{ChangeTag, TextDiff};

use super::vote::Tally;

/// A word of a compared text, marked when it is not in the text it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub differs: bool,
}

/// Up to `max` paths to compare: the first path of each of the largest answer clusters, the
/// winner's first; when there are fewer clusters than that, more paths of the first ones.
pub fn representatives(tally: &Tally, paths: usize, max: usize) -> Vec<usize> {
    let mut out: Vec<usize> = tally
        .entries
        .iter()
        .filter_map(|e| e.paths.first().copied())
        .take(max)
        .collect();
    for e in &tally.entries {
        for p in &e.paths {
            if out.len() >= max {
                return out;
            }
            if !out.contains(p) {
                out.push(*p);
            }
        }
    }
    // Paths that never voted (failed, still running) fill any room left.
    for p in 0..paths {
        if out.len() >= max {
            break;
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The sentences of `text`, each with the whitespace that follows it (joined back they give
/// the text).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let end_mark = matches!(bytes[i], b'.' | b'!' | b'?') || bytes[i] == b'\n';
        let next_is_space = bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
        if end_mark && next_is_space {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            out.push(&text[start..j]);
            start = j;
            i = j;
            continue;
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// How many leading sentences every text shares (compared trimmed), never all of any text:
/// what is folded into one line when paths are read side by side.
pub fn shared_opening(texts: &[&str]) -> usize {
    let split: Vec<Vec<&str>> = texts.iter().map(|t| sentences(t)).collect();
    let Some(shortest) = split.iter().map(Vec::len).min() else {
        return 0;
    };
    if texts.len() < 2 {
        return 0;
    }
    (0..shortest.saturating_sub(1))
        .take_while(|&i| split.iter().all(|s| s[i].trim() == split[0][i].trim()))
        .count()
}

/// `text` as unmarked words (runs of non-space and of space).
pub fn words(text: &str) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    for c in text.chars() {
        match out.last_mut() {
            Some(w) if w.text.ends_with(char::is_whitespace) == c.is_whitespace() => w.text.push(c),
            _ => out.push(Word {
                text: c.to_string(),
                differs: false,
            }),
        }
    }
    out
}

/// `text` as words, each marked when the winner's text does not have it there.
pub fn against(winner: &str, text: &str) -> Vec<Word> {
    TextDiff::from_words(winner, text)
        .iter_all_changes()
        .filter(|c| c.tag() != ChangeTag::Delete)
        .map(|c| Word {
            text: c.value().to_string(),
            differs: c.tag() == ChangeTag::Insert,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::vote::Tally;

    #[test]
    fn the_winner_comes_first_then_one_path_per_cluster() {
        let t = Tally::of_answers(&[Some("18"), Some("22"), Some("18"), None, Some("18")]);
        assert_eq!(representatives(&t, 5, 4), vec![0, 1, 3, 2]);
        assert_eq!(representatives(&t, 5, 2), vec![0, 1]);
        assert_eq!(representatives(&t, 7, 7), vec![0, 1, 3, 2, 4, 5, 6]);
    }

    #[test]
    fn the_shared_opening_is_whole_sentences_and_never_everything() {
        let a = "Janet's ducks lay 16 eggs. She eats 3. So 9 are sold. The answer is 18.";
        let b = "Janet's ducks lay 16 eggs.  She eats 3. She sells 17. The answer is 22.";
        assert_eq!(shared_opening(&[a, b]), 2);
        assert_eq!(shared_opening(&[a, a]), 3, "the last sentence always shows");
        assert_eq!(shared_opening(&[a]), 0);
        assert_eq!(sentences(a).concat(), a);
        assert_eq!(
            sentences("3.5 eggs. Done").len(),
            2,
            "a decimal point ends nothing"
        );
    }

    #[test]
    fn words_that_depart_from_the_winner_are_marked() {
        let w = against("so 9 eggs are sold", "so 17 eggs are sold");
        let marked: Vec<&str> = w
            .iter()
            .filter(|w| w.differs)
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(marked, vec!["17"]);
        let all: String = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(all, "so 17 eggs are sold");
    }
}
