//! From a template and a dataset to training sequences: the split (training rows and the
//! held-out rows that judge the adapter), each row's prompt rendered as the template's direct
//! or chain-of-thought format with no examples (a specialist needs none), its answer as the
//! backend should produce it, and the rows packed into batches.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::Tokenize;
use super::TrainError;
use super::model::Packed;
use crate::core::render::{self, Mode, Prompt};
use crate::core::template::{Example as Shot, Strategy, Template};
use crate::store::dataset::Item;

/// Fewest training rows `tune` accepts: fewer teach nothing an evaluation could see.
pub const MIN_TRAIN_ROWS: usize = 8;

/// Rows that train, and rows held out to judge the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<Item>,
    pub held_out: Vec<Item>,
}

/// Shuffles with `seed` and keeps the first `held_out` rows aside (at least one row trains
/// less than `MIN_TRAIN_ROWS`: refused).
pub fn split(mut items: Vec<Item>, held_out: usize, seed: u64) -> Result<Split, TrainError> {
    items.shuffle(&mut StdRng::seed_from_u64(seed));
    let held = held_out.min(items.len());
    let train = items.split_off(held);
    if train.len() < MIN_TRAIN_ROWS {
        return Err(TrainError::Data(format!(
            "{} training rows ({} held out of {}); tune needs at least {MIN_TRAIN_ROWS}",
            train.len(),
            held,
            held + train.len()
        )));
    }
    Ok(Split {
        train,
        held_out: items,
    })
}

/// The template a specialist is prompted with: the same instruction and format, no examples.
/// Zero-shot CoT and least-to-most are multi-call strategies a single answer cannot train.
pub fn specialist(template: &Template) -> Result<Template, TrainError> {
    match template.strategy {
        Strategy::Direct | Strategy::Cot => {}
        other => {
            return Err(TrainError::Data(format!(
                "tune trains the direct or cot format, not {}",
                other.as_str()
            )));
        }
    }
    let mut t = template.clone();
    t.examples.clear();
    Ok(t)
}

/// The prompt and the answer text a row teaches: a completion answers " X\n\n" after "A:"
/// (as the template's examples are written, "\n\n" being where sampling stops); a chat reply is
/// the answer alone. Under cot the answer is "The answer is X." (rows carry no rationale).
pub fn prompt_and_answer(template: &Template, item: &Item, mode: Mode) -> (Prompt, String) {
    let rendered = render::render(template, &item.input, mode);
    let target = item.targets.first().map_or("", |t| t.trim());
    let shot = Shot {
        input: item.input.clone(),
        rationale: Some(String::new()),
        answer: target.to_string(),
        enabled: true,
        steps: Vec::new(),
    };
    let answer = render::example_answer(&shot, template.strategy);
    match mode {
        Mode::Completion => (rendered.prompt, format!(" {answer}\n\n")),
        Mode::Chat => (rendered.prompt, answer),
    }
}

/// One training row as tokens; the loss scores `tokens[answer_start..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub id: String,
    pub tokens: Vec<u32>,
    pub answer_start: usize,
}

impl Sequence {
    pub fn answer_tokens(&self) -> usize {
        self.tokens.len() - self.answer_start
    }
}

pub fn sequences(
    tokenizer: &dyn Tokenize,
    template: &Template,
    items: &[Item],
    mode: Mode,
) -> Result<Vec<Sequence>, TrainError> {
    items
        .iter()
        .map(|item| {
            let (prompt, answer) = prompt_and_answer(template, item, mode);
            let (tokens, answer_start) = tokenizer
                .sequence(&prompt, &answer)
                .map_err(TrainError::Reference)?;
            Ok(Sequence {
                id: item.id.clone(),
                tokens,
                answer_start,
            })
        })
        .collect()
}

/// The rows in `order`, packed into batches of at most `max_tokens` tokens (a longer row is a
/// batch of its own).
pub fn pack(rows: &[Sequence], order: &[usize], max_tokens: usize) -> Vec<Packed> {
    let mut out = Vec::new();
    let mut cur = Packed::default();
    for &i in order {
        let row = &rows[i];
        if !cur.tokens.is_empty() && cur.tokens.len() + row.tokens.len() > max_tokens {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(&row.tokens, row.answer_start);
    }
    if !cur.tokens.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(i: usize) -> Item {
        Item {
            id: format!("r{i}"),
            input: format!("{i} + 1"),
            targets: vec![format!("{}", i + 1)],
        }
    }

    #[test]
    fn split_is_seeded_and_refuses_too_few_rows() {
        let items: Vec<Item> = (0..20).map(item).collect();
        let a = split(items.clone(), 5, 7).unwrap();
        assert_eq!((a.train.len(), a.held_out.len()), (15, 5));
        assert_eq!(a, split(items.clone(), 5, 7).unwrap());
        assert_ne!(a, split(items.clone(), 5, 8).unwrap());
        let few = split(items[..10].to_vec(), 5, 7).unwrap_err().to_string();
        assert!(few.contains("5 training rows"), "{few}");
    }

    #[test]
    fn answers_are_written_as_the_template_writes_its_examples() {
        let (mut t, _) = crate::store::template::resolve("gsm8k-direct").unwrap();
        t.instruction = None;
        t.strategy = Strategy::Direct;
        let t = specialist(&t).unwrap();
        let (prompt, answer) = prompt_and_answer(&t, &item(2), Mode::Completion);
        assert_eq!(prompt.to_string(), "Q: 2 + 1\nA:");
        assert_eq!(answer, " 3\n\n");
        let mut cot = t.clone();
        cot.strategy = Strategy::Cot;
        assert_eq!(
            prompt_and_answer(&cot, &item(2), Mode::Chat).1,
            "The answer is 3."
        );
        let mut zs = t;
        zs.strategy = Strategy::ZeroShotCot;
        assert!(specialist(&zs).is_err());
    }

    #[test]
    fn packing_keeps_rows_whole_and_scores_only_answers() {
        let rows = vec![
            Sequence {
                id: "a".into(),
                tokens: vec![1, 2, 3, 4],
                answer_start: 3,
            },
            Sequence {
                id: "b".into(),
                tokens: vec![1, 5, 6],
                answer_start: 1,
            },
        ];
        let batches = pack(&rows, &[0, 1], 8);
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.positions, vec![0, 1, 2, 3, 0, 1, 2]);
        assert_eq!(b.sequence, vec![0, 0, 0, 0, 1, 1, 1]);
        // Row a scores token 4 (after index 2); row b scores 5 and 6.
        assert_eq!(b.scored, vec![(2, 4), (4, 5), (5, 6)]);
        assert_eq!(pack(&rows, &[1, 0], 5).len(), 2);
    }
}
