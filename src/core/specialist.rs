//! What a fine-tuning server learns from: a template's direct or chain-of-thought format
//! without its examples (a specialist needs none), each training row as one chat
//! conversation (the prompt's messages, then the answer as the assistant's reply, written as
//! the template writes its examples' answers), and the seeded split that keeps rows aside to
//! judge the result (the in-process trainer's `train::data::split`, the same shuffle).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::render::{self, Mode, Prompt};
use super::template::{Example, Strategy, Template};

/// Fewest training rows a remote fine-tune is started with (OpenAI's API takes no fewer).
pub const MIN_REMOTE_ROWS: usize = 10;

/// A strategy one reply cannot teach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a specialist learns the direct or cot format, not {0}")]
pub struct NotLearnable(pub &'static str);

impl From<NotLearnable> for String {
    fn from(e: NotLearnable) -> String {
        e.to_string()
    }
}

/// The template a specialist is prompted with: the same instruction and format, no examples.
/// Zero-shot CoT and least-to-most are multi-call strategies one reply cannot teach.
pub fn specialist(template: &Template) -> Result<Template, NotLearnable> {
    match template.strategy {
        Strategy::Direct | Strategy::Cot => {}
        other => return Err(NotLearnable(other.as_str())),
    }
    let mut t = template.clone();
    t.examples.clear();
    Ok(t)
}

/// Shuffles with `seed` and keeps the first `held_out` rows aside: (training, held out).
pub fn split<T>(mut rows: Vec<T>, held_out: usize, seed: u64) -> (Vec<T>, Vec<T>) {
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    let held = held_out.min(rows.len());
    let train = rows.split_off(held);
    (train, rows)
}

/// One training row as a conversation in the fine-tuning API's chat format:
/// `{"messages": [..., {"role": "assistant", "content": ANSWER}]}`. Under cot the answer is
/// "The answer is X." (rows carry no rationale).
pub fn chat_row(template: &Template, input: &str, target: &str) -> serde_json::Value {
    let Prompt::Chat(mut messages) = render::render(template, input, Mode::Chat).prompt else {
        unreachable!("a chat rendering is a list of messages")
    };
    let shot = Example {
        input: input.to_string(),
        rationale: Some(String::new()),
        answer: target.trim().to_string(),
        enabled: true,
        steps: Vec::new(),
    };
    messages.push(super::Message::new(
        super::Role::Assistant,
        render::example_answer(&shot, template.strategy),
    ));
    serde_json::json!({ "messages": messages })
}

/// The training file: one conversation a line.
pub fn chat_jsonl<'a>(
    template: &Template,
    rows: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut out = String::new();
    for (input, target) in rows {
        out.push_str(&chat_row(template, input, target).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums() -> Template {
        serde_json::from_value(serde_json::json!({
            "name": "sums",
            "instruction": "Add the numbers.",
            "examples": [{"input": "What is 4 plus 3?", "rationale": "4 + 3 = 7.", "answer": "7"}],
            "strategy": "cot",
        }))
        .unwrap()
    }

    #[test]
    fn a_row_is_the_prompt_then_the_answer_as_the_template_writes_it() {
        let t = specialist(&sums()).unwrap();
        let row = chat_row(&t, "What is 2 plus 6?", " 8 ");
        let messages = row["messages"].as_array().unwrap();
        let last = messages.last().unwrap();
        assert_eq!(last["role"], "assistant");
        assert_eq!(last["content"], "The answer is 8.");
        let user = &messages[messages.len() - 2];
        assert_eq!(user["role"], "user");
        assert!(
            user["content"]
                .as_str()
                .unwrap()
                .contains("What is 2 plus 6?"),
            "{row}"
        );
        // No example of the template is in the conversation.
        assert!(!row.to_string().contains("4 plus 3"), "{row}");
        let mut direct = t.clone();
        direct.strategy = Strategy::Direct;
        let row = chat_row(&direct, "What is 2 plus 6?", "8");
        assert_eq!(
            row["messages"].as_array().unwrap().last().unwrap()["content"],
            "8"
        );
        let jsonl = chat_jsonl(&direct, [("a", "1"), ("b", "2")]);
        assert_eq!(jsonl.lines().count(), 2);
        assert!(jsonl.ends_with('\n'));
    }

    #[test]
    fn only_single_reply_formats_make_specialists() {
        let mut t = sums();
        t.strategy = Strategy::ZeroShotCot;
        assert!(
            specialist(&t)
                .unwrap_err()
                .to_string()
                .contains("not zero-shot")
        );
        t.strategy = Strategy::Direct;
        assert!(specialist(&t).unwrap().examples.is_empty());
    }

    #[test]
    fn the_split_is_seeded() {
        let rows: Vec<u32> = (0..20).collect();
        let (train, held) = split(rows.clone(), 5, 7);
        assert_eq!((train.len(), held.len()), (15, 5));
        assert_eq!((train.clone(), held.clone()), split(rows.clone(), 5, 7));
        assert_ne!(held, split(rows.clone(), 5, 8).1);
        let mut all: Vec<u32> = train.into_iter().chain(held).collect();
        all.sort();
        assert_eq!(all, rows);
        assert_eq!(split(rows, 50, 1).0.len(), 0);
    }
}
