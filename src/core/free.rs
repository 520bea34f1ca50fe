//! Free-form answers voted by meaning: "It was signed at Westphalia in 1648" and "The treaty
//! was signed in 1648 at Westphalia" are one vote.
//!
//! - **Words** ([`Words`]): an answer's content words, stemmed lightly ("signed" and
//!   "signing" meet, "treaties" and "treaty" too), with stop words and punctuation gone, and
//!   its numbers by value ("1,000", "1000" and "one thousand" are one number).
//! - **Overlap** ([`overlap`]): how much of the shorter answer's content the longer one
//!   holds: `|A ∩ B| / min(|A|, |B|)`. Numbers are kept exact: two answers that both name
//!   numbers and do not name the same ones never match, so "1648" never merges with "1715".
//!   The containment form is measured against Jaccard and Dice (ROUGE-1 F1) on the labelled
//!   pairs in `tests/fixtures/free-pairs.jsonl` by `cargo bench --bench free_vote`: an
//!   answer that only adds context ("Paris" and "the capital of France is Paris") is the
//!   commonest paraphrase in short answers, and only containment sees it as one.
//! - **Clusters** ([`cluster`]): agglomerative, average linkage weighted by votes, merging
//!   while the closest two clusters are at least the threshold alike. Each cluster is named by
//!   its representative, the member closest to all the others.
//!
//! Any similarity can drive the clustering (the `embed` rule gives cosine similarities of
//! sentence embeddings); what is here is pure.

use super::numbers;
pub use super::spec::answer::{ClusterRule, DEFAULT_SIMILARITY, check_similarity};
use super::spec::prompt::Mode;

/// Words that carry no content in a short answer.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "answer", "any", "are", "as", "at",
    "be", "because", "been", "being", "both", "but", "by", "called", "can", "could", "did", "do",
    "does", "each", "either", "final", "for", "from", "had", "has", "have", "he", "her", "here",
    "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "known", "me", "my",
    "of", "on", "one's", "or", "our", "she", "so", "some", "such", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "very", "was", "we", "were",
    "what", "when", "where", "which", "who", "whom", "whose", "why", "will", "with", "would",
    "you", "your",
];

/// An answer's content words and numbers, sorted and without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Words {
    pub words: Vec<String>,
    pub numbers: Vec<String>,
    /// The answer's letters and digits, case-folded: what compares answers that have no
    /// content words ("it is", "the").
    folded: String,
}

impl Words {
    pub fn of(text: &str) -> Words {
        let lower = text.to_lowercase();
        let mut numbers: Vec<String> = Vec::new();
        let mut rest = String::with_capacity(lower.len());
        let mut at = 0;
        for f in numbers::scan(&lower) {
            rest.push_str(&lower[at..f.start]);
            rest.push(' ');
            numbers.push(f.value);
            at = f.end;
        }
        rest.push_str(&lower[at..]);
        let mut words: Vec<String> = Vec::new();
        // "twenty-one" is 21: a tens word followed by a unit word adds up.
        let mut tens: Option<u64> = None;
        for token in rest
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .map(|t| t.trim_matches('\''))
        {
            let value = numbers::word_value(token);
            match (tens.take(), value) {
                (Some(t), Some(u)) if (1..10).contains(&u) => numbers.push((t + u).to_string()),
                (t, value) => {
                    if let Some(t) = t {
                        numbers.push(t.to_string());
                    }
                    match value {
                        Some(v) if v >= 20 => tens = Some(v),
                        Some(v) => numbers.push(v.to_string()),
                        None if token.is_empty() || STOP_WORDS.contains(&token) => {}
                        None => words.push(stem(token.trim_end_matches("'s")).to_string()),
                    }
                }
            }
        }
        if let Some(t) = tens {
            numbers.push(t.to_string());
        }
        words.sort_unstable();
        words.dedup();
        numbers.sort_unstable();
        numbers.dedup();
        let folded = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Words {
            words,
            numbers,
            folded,
        }
    }

    /// The answer's words less those of the question it answers: "It was painted by
    /// Michelangelo" and "Michelangelo Buonarroti", to "Who painted the ceiling?", share
    /// "michelangelo" and nothing else. Numbers stay (the question's "1648" may be the answer).
    /// An answer made only of the question's words keeps them.
    pub fn answering(self, question: &Words) -> Words {
        let words: Vec<String> = self
            .words
            .iter()
            .filter(|w| question.words.binary_search(w).is_err())
            .cloned()
            .collect();
        if words.is_empty() && self.numbers.is_empty() {
            return self;
        }
        Words { words, ..self }
    }

    fn len(&self) -> usize {
        self.words.len() + self.numbers.len()
    }
}

/// A light suffix stripper: enough for "signed"/"signing"/"signs", "cities"/"city".
fn stem(w: &str) -> &str {
    let n = w.chars().count();
    for (suffix, min) in [("ing", 6), ("ies", 5), ("ed", 5), ("es", 5), ("s", 4)] {
        if n >= min
            && let Some(s) = w.strip_suffix(suffix)
        {
            if suffix == "s" && (s.ends_with('s') || s.ends_with('u') || s.ends_with('i')) {
                return w; // "glass", "virus", "analysis"
            }
            if suffix == "es"
                && !(s.ends_with('s') || s.ends_with('x') || s.ends_with("ch") || s.ends_with("sh"))
            {
                return &w[..w.len() - 1]; // "names" → "name"
            }
            if suffix == "ies" {
                return s; // "cities" → "cit", as "city" → "cit" below
            }
            return s;
        }
    }
    w.strip_suffix('y').filter(|s| s.len() >= 3).unwrap_or(w)
}

/// Whether two answers name numbers and not the same ones: such answers never share a
/// cluster, under any rule (embeddings hold "1648" and "1748" close).
pub fn numbers_differ(a: &Words, b: &Words) -> bool {
    !a.numbers.is_empty() && !b.numbers.is_empty() && a.numbers != b.numbers
}

/// Overlap similarity of two answers in [0, 1] (see the module doc).
pub fn overlap(a: &Words, b: &Words) -> f64 {
    if numbers_differ(a, b) {
        return 0.0;
    }
    let shorter = a.len().min(b.len());
    if shorter == 0 {
        return f64::from(u8::from(a.folded == b.folded && !a.folded.is_empty()));
    }
    (common(&a.words, &b.words) + common(&a.numbers, &b.numbers)) as f64 / shorter as f64
}

/// The measures the benchmark compares overlap's containment form with: Jaccard and Dice
/// (ROUGE-1 F1) on the same words, numbers kept exact alike.
pub fn jaccard(a: &Words, b: &Words) -> f64 {
    let (shared, total) = shared_and_total(a, b);
    if total == 0 {
        0.0
    } else {
        shared / (total as f64 - shared)
    }
}

pub fn dice(a: &Words, b: &Words) -> f64 {
    let (shared, total) = shared_and_total(a, b);
    if total == 0 {
        0.0
    } else {
        2.0 * shared / total as f64
    }
}

fn shared_and_total(a: &Words, b: &Words) -> (f64, usize) {
    if numbers_differ(a, b) {
        return (0.0, a.len() + b.len());
    }
    (
        (common(&a.words, &b.words) + common(&a.numbers, &b.numbers)) as f64,
        a.len() + b.len(),
    )
}

/// How many items two sorted, deduplicated lists share.
fn common(a: &[String], b: &[String]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Cosine similarity of two embeddings (0 for a zero vector or mismatched lengths).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// One cluster of answers: indices into the clustered list, in order, and its representative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub members: Vec<usize>,
    pub representative: usize,
}

/// Clusters `weights.len()` answers (in order of first appearance, each weighted by its votes)
/// by average linkage: the two clusters whose vote-weighted mean similarity is highest merge
/// while it is at least `threshold`; ties go to the earliest pair. Groups come out ordered by
/// their first member. A representative is the member with the most vote-weighted similarity
/// to its cluster; between equals, the most voted, then the first.
pub fn cluster(weights: &[f64], sim: &dyn Fn(usize, usize) -> f64, threshold: f64) -> Vec<Group> {
    let n = weights.len();
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        s[i * n + i] = 1.0;
        for j in i + 1..n {
            let v = sim(i, j);
            s[i * n + j] = v;
            s[j * n + i] = v;
        }
    }
    // Between clusters (by the index of their first answer): the sums of w_a * w_b * sim(a, b)
    // and of w_a * w_b over member pairs, kept up to date as clusters merge.
    let mut link: Vec<(f64, f64)> = (0..n * n)
        .map(|ij| {
            let w = weights[ij / n] * weights[ij % n];
            (w * s[ij], w)
        })
        .collect();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut alive: Vec<usize> = (0..n).collect();
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for (x, &i) in alive.iter().enumerate() {
            for &j in &alive[x + 1..] {
                let (num, den) = link[i * n + j];
                let avg = if den > 0.0 { num / den } else { 0.0 };
                if avg >= threshold && best.is_none_or(|(b, _, _)| avg > b) {
                    best = Some((avg, i, j));
                }
            }
        }
        let Some((_, i, j)) = best else { break };
        for &k in alive.iter().filter(|&&k| k != i && k != j) {
            let (num, den) = link[j * n + k];
            link[i * n + k].0 += num;
            link[i * n + k].1 += den;
            link[k * n + i] = link[i * n + k];
        }
        alive.retain(|&k| k != j);
        let merged = std::mem::take(&mut members[j]);
        members[i].extend(merged);
        members[i].sort_unstable();
    }
    let mut clusters: Vec<Vec<usize>> = alive
        .into_iter()
        .map(|i| std::mem::take(&mut members[i]))
        .collect();
    clusters.sort_by_key(|c| c[0]);
    clusters
        .into_iter()
        .map(|members| {
            let closeness = |a: usize| -> f64 {
                members
                    .iter()
                    .filter(|&&b| b != a)
                    .map(|&b| weights[b] * s[a * n + b])
                    .sum::<f64>()
                    + weights[a]
            };
            let mut representative = members[0];
            for &m in &members[1..] {
                let (c, best) = (closeness(m), closeness(representative));
                if c > best + 1e-12 || (c > best - 1e-12 && weights[m] > weights[representative]) {
                    representative = m;
                }
            }
            Group {
                members,
                representative,
            }
        })
        .collect()
}

/// Universal self-consistency's selector prompt (Chen et al. 2023): every response, then the
/// request to name the most consistent one.
#[derive(Debug, Clone, PartialEq)]
pub struct UscPrompt {
    pub prompt: String,
    pub stop: Vec<String>,
    /// In completion mode the prompt ends with the start of the expected answer ("The most
    /// consistent response is Response"), so a base model only writes the number.
    pub lead_in: bool,
}

/// Longest response shown to the selector, in characters (its end is kept: the answer).
pub const USC_RESPONSE_CHARS: usize = 1500;

pub fn usc_prompt(question: &str, responses: &[String], mode: Mode) -> UscPrompt {
    use std::fmt::Write;
    let mut p = format!(
        "I have generated the following responses to the question: {}\n\n",
        question.trim()
    );
    for (k, r) in responses.iter().enumerate() {
        let r = r.trim();
        let shown = match r.char_indices().rev().nth(USC_RESPONSE_CHARS) {
            Some((cut, _)) => format!("…{}", &r[cut..]),
            None => r.to_string(),
        };
        let _ = writeln!(p, "Response {}: {}\n", k + 1, shown);
    }
    p.push_str("Evaluate these responses.\nSelect the most consistent response based on majority consensus.\n");
    match mode {
        Mode::Chat => UscPrompt {
            prompt: p
                + "Start your answer with \"The most consistent response is Response X\" (without quotes).\n",
            stop: Vec::new(),
            lead_in: false,
        },
        // A base model copies an instruction's "Response X"; it is given the answer's start.
        Mode::Completion => {
            p.push_str("\nThe most consistent response is Response");
            UscPrompt {
                prompt: p,
                stop: vec!["\n".into()],
                lead_in: true,
            }
        }
    }
}

/// The response a selector's reply names (0-based), if it names one of `count`: "The most
/// consistent response is Response 3", or after a lead-in just "3".
pub fn parse_usc(reply: &str, lead_in: bool, count: usize) -> Option<usize> {
    static NAMED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)most\s+consistent\s+response\s+is\s*:?\s*\**\s*response\s*#?\s*(\d+)|\bresponse\s*#?\s*(\d+)")
            .expect("static regex")
    });
    static LEADING: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^[\s#*:]*(\d+)\b").expect("static regex"));
    let k: usize = match (lead_in, LEADING.captures(reply)) {
        (true, Some(c)) => c[1].parse().ok()?,
        _ => {
            let c = NAMED.captures(reply)?;
            c.get(1).or_else(|| c.get(2))?.as_str().parse().ok()?
        }
    };
    (1..=count).contains(&k).then(|| k - 1)
}

/// Shannon entropy (bits) of cluster sizes: 0 when every path agrees.
pub fn dispersion(sizes: impl IntoIterator<Item = u32>) -> f64 {
    let sizes: Vec<f64> = sizes.into_iter().map(f64::from).collect();
    let total: f64 = sizes.iter().sum();
    if total == 0.0 {
        return 0.0;
    }
    -sizes
        .iter()
        .filter(|&&s| s > 0.0)
        .map(|s| {
            let p = s / total;
            p * p.log2()
        })
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(a: &str, b: &str) -> f64 {
        overlap(&Words::of(a), &Words::of(b))
    }

    #[test]
    fn words_drop_stop_words_and_read_numbers_by_value() {
        let w = Words::of("The treaty was signed in 1,648 at Westphalia's town.");
        assert_eq!(w.words, vec!["sign", "town", "treat", "westphalia"]);
        assert_eq!(w.numbers, vec!["1648"]);
        assert_eq!(Words::of("twenty-one cities").numbers, vec!["21"]);
        assert_eq!(
            Words::of("twenty-one cities").words,
            Words::of("city").words
        );
        assert_eq!(Words::of("seven").numbers, Words::of("7").numbers);
    }

    #[test]
    fn paraphrases_match_and_numbers_never_merge() {
        assert_eq!(
            sim(
                "It was signed at Westphalia in 1648",
                "The treaty was signed in 1648 at Westphalia"
            ),
            1.0
        );
        assert_eq!(sim("Paris", "The capital of France is Paris."), 1.0);
        assert_eq!(sim("in 1648", "in 1715"), 0.0);
        assert_eq!(sim("Westphalia, 1648", "Westphalia, 1715"), 0.0);
        assert!(sim("Pacific Ocean", "Atlantic Ocean") < DEFAULT_SIMILARITY);
        assert_eq!(sim("Isaac Newton", "Albert Einstein"), 0.0);
        // Nothing but stop words: alike only when written alike.
        assert_eq!(sim("the", "the"), 1.0);
        assert_eq!(sim("it is", "the"), 0.0);
    }

    #[test]
    fn words_of_the_question_do_not_make_answers_alike() {
        let q = Words::of("Who painted the ceiling of the Sistine Chapel?");
        let a = Words::of("It was painted by Michelangelo.").answering(&q);
        let b = Words::of("Michelangelo Buonarroti").answering(&q);
        let c = Words::of("Raphael painted it").answering(&q);
        assert_eq!(overlap(&a, &b), 1.0);
        assert_eq!(overlap(&a, &c), 0.0);
        // An answer that only repeats the question keeps its words.
        assert_eq!(
            Words::of("the Sistine Chapel").answering(&q).words,
            vec!["chapel", "sistine"]
        );
    }

    #[test]
    fn jaccard_and_dice_are_symmetric_and_bounded() {
        let (a, b) = (Words::of("George Washington"), Words::of("Washington"));
        assert_eq!(jaccard(&a, &b), 0.5);
        assert!((dice(&a, &b) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(jaccard(&a, &b), jaccard(&b, &a));
        assert_eq!(overlap(&a, &b), 1.0);
    }

    #[test]
    fn clusters_merge_paraphrases_and_name_the_most_central_member() {
        let answers = [
            "signed at Westphalia in 1648",
            "1715",
            "the treaty was signed in 1648 at Westphalia",
            "Westphalia, 1648",
            "Utrecht in 1715",
        ];
        let words: Vec<Words> = answers.iter().map(|a| Words::of(a)).collect();
        let groups = cluster(
            &[1.0, 1.0, 2.0, 1.0, 1.0],
            &|i, j| overlap(&words[i], &words[j]),
            0.6,
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members, vec![0, 2, 3]);
        assert_eq!(groups[1].members, vec![1, 4]);
        // The twice-voted member is the closest to all: it represents its cluster.
        assert_eq!(groups[0].representative, 2);
    }

    #[test]
    fn a_threshold_of_one_keeps_only_equal_answers_together() {
        let words: Vec<Words> = ["Paris", "paris!", "Paris, France"]
            .iter()
            .map(|a| Words::of(a))
            .collect();
        let groups = cluster(&[1.0; 3], &|i, j| overlap(&words[i], &words[j]), 1.0);
        // "Paris, France" holds all of "Paris": containment is 1 even so.
        assert_eq!(groups.len(), 1);
        let groups = cluster(&[1.0; 3], &|_, _| 0.99, 1.0);
        assert_eq!(groups.len(), 3);
        assert!(cluster(&[], &|_, _| 1.0, 0.5).is_empty());
    }

    #[test]
    fn the_selector_prompt_lists_every_response_and_its_reply_is_read() {
        let responses = vec!["It is Paris.".to_string(), "x".repeat(2000)];
        let chat = usc_prompt(
            "Capital of France?",
            &responses,
            crate::core::render::Mode::Chat,
        );
        assert!(chat.prompt.contains("Response 1: It is Paris."));
        assert!(chat.prompt.contains("Response 2: …"));
        assert!(chat.prompt.contains("Capital of France?"));
        assert!(!chat.lead_in);
        let base = usc_prompt("q", &responses, crate::core::render::Mode::Completion);
        assert!(
            base.prompt
                .ends_with("The most consistent response is Response")
        );
        assert_eq!(parse_usc(" 2\n", true, 2), Some(1));
        assert_eq!(
            parse_usc("The most consistent response is Response 1.", false, 2),
            Some(0)
        );
        assert_eq!(
            parse_usc("**The most consistent response is Response #2**", false, 2),
            Some(1)
        );
        assert_eq!(parse_usc("Response 7", false, 2), None);
        assert_eq!(parse_usc("I cannot tell.", false, 2), None);
    }

    #[test]
    fn dispersion_is_zero_when_all_agree_and_one_bit_for_an_even_split() {
        assert_eq!(dispersion([5]), 0.0);
        assert!((dispersion([3, 3]) - 1.0).abs() < 1e-12);
        assert_eq!(dispersion([]), 0.0);
    }

    #[test]
    fn similarity_thresholds_are_checked() {
        assert!(check_similarity(0.6).is_ok());
        assert!(check_similarity(1.0).is_ok());
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(
                check_similarity(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("above 0 and at most 1")
            );
        }
        assert_eq!("usc".parse::<ClusterRule>(), Ok(ClusterRule::Usc));
        assert!(
            "bert"
                .parse::<ClusterRule>()
                .unwrap_err()
                .to_string()
                .contains("overlap, embed or usc")
        );
    }
}
