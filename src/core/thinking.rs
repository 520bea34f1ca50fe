//! A reasoning model's thinking, told apart from its answer when it arrives inline.
//!
//! Servers with a reasoning parser send thinking in its own field (`reasoning`,
//! `reasoning_content`); without one it comes inline: `<think>…</think>` before the answer
//! (Qwen3 and others), or only the closing `</think>` when the chat template already opened
//! the block (DeepSeek-R1 style). `Splitter` separates a stream of chunks as they arrive, tags
//! split across chunks included; `Splitter::finish` settles the R1 case, which can only be
//! known once `</think>` shows up.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A piece of streamed output, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Thinking(String),
    Answer(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace yet: an opening tag may still come.
    Start,
    Thinking,
    /// Just after `</think>`: whitespace before the answer is dropped.
    Closed,
    Answer,
}

/// Separates inline thinking from the answer, chunk by chunk.
#[derive(Debug, Clone)]
pub struct Splitter {
    state: State,
    /// Text held back because it may be the start of a tag.
    held: String,
    /// Whether an opening tag was seen (else a closing tag alone means R1 style).
    opened: bool,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            state: State::Start,
            held: String::new(),
            opened: false,
        }
    }
}

/// The longest suffix of `text` that is a proper prefix of `tag` (it may continue in the
/// next chunk).
fn partial_tag(text: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| {
            text.len() >= n
                && text.is_char_boundary(text.len() - n)
                && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

impl Splitter {
    /// Classifies `chunk`; may hold back a few characters that could start a tag.
    pub fn push(&mut self, chunk: &str) -> Vec<Piece> {
        let mut text = std::mem::take(&mut self.held);
        text.push_str(chunk);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Start => {
                    let trimmed = text.trim_start();
                    if trimmed.is_empty() {
                        self.held = text;
                        return out;
                    }
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.state = State::Thinking;
                        self.opened = true;
                        text = rest.to_string();
                    } else if OPEN.starts_with(trimmed) {
                        self.held = text; // "<thi" so far
                        return out;
                    } else {
                        self.state = State::Answer;
                    }
                }
                State::Thinking => match text.find(CLOSE) {
                    Some(at) => {
                        push(&mut out, Piece::Thinking(text[..at].to_string()));
                        text = text[at + CLOSE.len()..].to_string();
                        self.state = State::Closed;
                    }
                    None => {
                        let keep = partial_tag(&text, CLOSE);
                        self.held = text.split_off(text.len() - keep);
                        push(&mut out, Piece::Thinking(text));
                        return out;
                    }
                },
                State::Closed => {
                    text = text.trim_start().to_string();
                    if text.is_empty() {
                        return out;
                    }
                    self.state = State::Answer;
                }
                State::Answer => {
                    // A closing tag in the answer is settled by `finish` (R1 style); keep a
                    // possible partial one back so the tag never reaches the screen in halves.
                    let keep = partial_tag(&text, CLOSE);
                    self.held = text.split_off(text.len() - keep);
                    push(&mut out, Piece::Answer(text));
                    return out;
                }
            }
        }
    }

    /// Settles a finished output: what `push` returned, as `(thinking, answer)` to record.
    /// `thinking` and `answer` are everything the pieces carried; an R1-style reply (a
    /// closing tag with no opening one) moves everything before the tag into the thinking.
    pub fn finish(&mut self, thinking: &mut String, answer: &mut String) {
        let held = std::mem::take(&mut self.held);
        match self.state {
            State::Thinking => thinking.push_str(&held),
            State::Start | State::Closed | State::Answer => answer.push_str(&held),
        }
        if !self.opened
            && thinking.is_empty()
            && let Some(at) = answer.find(CLOSE)
        {
            *thinking = answer[..at].to_string();
            *answer = answer[at + CLOSE.len()..].trim_start().to_string();
        }
    }
}

fn push(out: &mut Vec<Piece>, p: Piece) {
    let empty = match &p {
        Piece::Thinking(t) | Piece::Answer(t) => t.is_empty(),
    };
    if !empty {
        out.push(p);
    }
}

/// A whole reply split at once: `(thinking, answer)`.
pub fn split(text: &str) -> (String, String) {
    split_chunks([text])
}

/// A reply that arrived in `chunks`, split: `(thinking, answer)`.
pub fn split_chunks<'a>(chunks: impl IntoIterator<Item = &'a str>) -> (String, String) {
    let mut s = Splitter::default();
    let (mut thinking, mut answer) = (String::new(), String::new());
    for c in chunks {
        for p in s.push(c) {
            match p {
                Piece::Thinking(t) => thinking.push_str(&t),
                Piece::Answer(t) => answer.push_str(&t),
            }
        }
    }
    s.finish(&mut thinking, &mut answer);
    (thinking, answer)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn run(chunks: &[&str]) -> (String, String) {
        split_chunks(chunks.iter().copied())
    }

    #[test]
    fn inline_thinking_is_split_from_the_answer() {
        let (t, a) = split(
            "<think>\nMaybe 41. No: the answer is 41? 6*7=42.\n</think>\n\nThe answer is 42.",
        );
        assert_eq!(t, "\nMaybe 41. No: the answer is 41? 6*7=42.\n");
        assert_eq!(a, "The answer is 42.");
    }

    #[test]
    fn tags_split_across_chunks_never_leak() {
        let (t, a) = run(&["  <th", "ink>abc</", "thi", "nk>The", " answer is 7."]);
        assert_eq!((t.as_str(), a.as_str()), ("abc", "The answer is 7."));
    }

    #[test]
    fn an_unclosed_block_is_all_thinking() {
        assert_eq!(
            split("<think>still going when max_tokens ran out"),
            ("still going when max_tokens ran out".into(), String::new())
        );
    }

    #[test]
    fn a_closing_tag_alone_is_r1_style() {
        assert_eq!(
            run(&["Let me see, 2+2", "=4.</think>\n", "4"]),
            ("Let me see, 2+2=4.".into(), "4".into())
        );
    }

    #[test]
    fn plain_replies_pass_through() {
        assert_eq!(
            split("The answer is 5. I <think> not."),
            (String::new(), "The answer is 5. I <think> not.".into())
        );
        assert_eq!(split(""), (String::new(), String::new()));
    }

    proptest! {
        /// However a reply is cut into chunks, it splits the same as whole.
        #[test]
        fn chunking_never_changes_the_split(
            think in "[a-z <>/]{0,30}",
            answer in "[a-z .<>/]{0,30}",
            tagged in any::<bool>(),
            cuts in proptest::collection::vec(0usize..80, 0..6),
        ) {
            let text = if tagged { format!("<think>{think}</think>{answer}") } else { answer.clone() };
            let mut cuts = cuts.into_iter().map(|c| c % (text.len() + 1)).collect::<Vec<_>>();
            cuts.push(0);
            cuts.push(text.len());
            cuts.sort_unstable();
            cuts.dedup();
            let chunks: Vec<&str> = cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect();
            prop_assert_eq!(run(&chunks), split(&text));
        }
    }
}
