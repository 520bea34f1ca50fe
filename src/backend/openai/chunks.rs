//! What a reply carries, read leniently: a streamed chunk of either endpoint (chat `delta`s or
//! completions `text`), a whole reply as a batch output holds it, and one choice's progress
//! through a stream (its text and thinking, finish reason, usage, log-probabilities, and how
//! much it has streamed against its token budget).

use serde::Deserialize;
use serde_json::Value;

use crate::backend::{BackendError, Finish, StreamEvent, Usage};
use crate::core::vote::LogProb;

/// What a whole reply (a batch output's, a scoring request's) lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply has no choices")]
    NoChoice,
    #[error("the reply has no finish_reason")]
    NoFinishReason,
    #[error("no choices")]
    NoChoices,
    #[error("no choice for option {0}")]
    NoChoiceFor(usize),
    /// A field missing, named by its path (`logprobs.tokens`).
    #[error("no `{0}`")]
    Missing(&'static str),
    #[error("`tokens` and `token_logprobs` differ in length")]
    LengthsDiffer,
    #[error("a prompt token without a log-probability")]
    NoLogprob,
    #[error("no token of the option was echoed")]
    NotEchoed,
}

/// The faces (and callers not yet given error types) may carry it as text.
impl From<ReplyError> for String {
    fn from(e: ReplyError) -> String {
        e.to_string()
    }
}

/// A streamed chunk of either endpoint; everything optional.
#[derive(Debug, Deserialize)]
pub(super) struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<ChunkUsage>,
    /// Some servers report failures inside the stream.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub index: Option<u32>,
    /// Chat.
    #[serde(default)]
    delta: Option<Delta>,
    /// Completions.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Logprobs>,
}

impl Choice {
    /// The path this choice belongs to (a missing index is the first).
    pub fn path(&self) -> usize {
        self.index.unwrap_or(0) as usize
    }
}

#[derive(Debug, Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// Thinking: vLLM and OpenRouter say `reasoning`, llama.cpp's server, DeepSeek and
    /// older vLLM `reasoning_content`.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Logprobs {
    /// Chat: `{content: [{token, logprob, ...}]}`.
    #[serde(default)]
    content: Option<Vec<TokenLogprob>>,
    /// Completions: `{token_logprobs: [..], top_logprobs: [{token: logprob}, ..]}`.
    #[serde(default)]
    token_logprobs: Option<Vec<Option<f64>>>,
    #[serde(default)]
    top_logprobs: Option<Vec<Option<std::collections::HashMap<String, f64>>>>,
}

#[derive(Debug, Deserialize)]
struct TokenLogprob {
    #[serde(default)]
    logprob: Option<f64>,
    /// The top candidates at this position, the chosen one among them.
    #[serde(default)]
    top_logprobs: Vec<TopLogprob>,
}

#[derive(Debug, Deserialize)]
struct TopLogprob {
    #[serde(default)]
    logprob: Option<f64>,
}

impl Logprobs {
    /// The chosen tokens' log-probabilities, and each token's top candidates' (largest
    /// first; empty where the server sent none).
    fn read(self) -> (Vec<f64>, Vec<Vec<f64>>) {
        let sorted = |mut v: Vec<f64>| {
            v.sort_by(|a, b| b.total_cmp(a));
            v
        };
        match self.content {
            Some(c) => c
                .into_iter()
                .map(|t| {
                    let top = t.top_logprobs.into_iter().filter_map(|x| x.logprob);
                    (t.logprob, sorted(top.collect()))
                })
                .filter_map(|(lp, top)| lp.map(|lp| (lp, top)))
                .unzip(),
            None => {
                let chosen: Vec<f64> = self
                    .token_logprobs
                    .unwrap_or_default()
                    .into_iter()
                    .flatten()
                    .collect();
                let top = self
                    .top_logprobs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| sorted(m.map(|m| m.into_values().collect()).unwrap_or_default()))
                    .collect();
                (chosen, top)
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens: Option<u32>,
    #[serde(default)]
    completion_tokens_details: Option<TokenDetails>,
}

#[derive(Debug, Deserialize)]
struct TokenDetails {
    #[serde(default)]
    reasoning_tokens: Option<u32>,
}

impl ChunkUsage {
    /// The tokens counted, and of the completion's those spent thinking.
    pub fn read(self) -> (Usage, u32) {
        let usage = Usage {
            prompt_tokens: self.prompt_tokens.unwrap_or(0),
            completion_tokens: self.completion_tokens.unwrap_or(0),
        };
        let thought = self
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0);
        (usage, thought)
    }
}

/// How much one completion may stream before it is taken for endless: a server that ignores
/// `max_tokens` is cut once it has sent more than twice the budget in chunks (16 more for the
/// role, finish and usage chunks), or 16 characters per token of it (64 more). A server that
/// keeps to the budget stays well under both: it streams at least one token a chunk, and a
/// token is about 4 characters of English and 1 or 2 of Chinese or Japanese; only runs of
/// spaces or dashes make single tokens of 16 characters, never a whole completion of them.
/// Chunks catch a flood of small or empty chunks, characters a flood of large ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Budget {
    chunks: u64,
    chars: u64,
}

impl Budget {
    pub fn for_tokens(max_tokens: u32) -> Budget {
        let tokens = u64::from(max_tokens);
        Budget {
            chunks: 2 * tokens + 16,
            chars: 16 * tokens + 64,
        }
    }
}

/// One choice's progress through a stream.
#[derive(Default)]
pub(super) struct Progress {
    finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub reasoning_tokens: u32,
    logprob: Option<LogProb>,
    confidence: crate::core::confidence::Confidence,
    /// Events handed on (text or thinking): the completion tokens when the server gives no
    /// usage, and this path's share of a usage the request reports as a whole.
    pub events: u32,
    /// Chunks and characters received, against the budget.
    received: u64,
    chars: u64,
    /// Ended early: cut at its budget.
    cut: bool,
}

impl Progress {
    /// One choice's piece of a chunk: its thinking and text, as events to hand on; its finish
    /// reason and log-probabilities are kept.
    pub fn absorb(&mut self, c: Choice) -> impl Iterator<Item = StreamEvent> + use<> {
        let mut thinking = None;
        let mut text = String::new();
        if let Some(d) = c.delta {
            thinking = d
                .reasoning
                .or(d.reasoning_content)
                .filter(|t| !t.is_empty());
            if let Some(t) = d.content {
                text.push_str(&t);
            }
        }
        if let Some(t) = c.text {
            text.push_str(&t);
        }
        if let Some(r) = c.finish_reason {
            self.finish_reason = Some(r);
        }
        if let Some(lp) = c.logprobs {
            self.add_logprobs(lp);
        }
        let text = (!text.is_empty()).then_some(text);
        for t in thinking.iter().chain(&text) {
            self.chars += t.chars().count() as u64;
            self.events += 1;
        }
        self.received += 1;
        let thinking = thinking.map(StreamEvent::Thinking);
        thinking.into_iter().chain(text.map(StreamEvent::Text))
    }

    fn add_logprobs(&mut self, lp: Logprobs) {
        let (values, tops) = lp.read();
        for top in tops {
            if let Some(conf) = crate::core::confidence::token_confidence(&top) {
                self.confidence.push(conf);
            }
        }
        let acc = self.logprob.get_or_insert(LogProb {
            sum: 0.0,
            tokens: 0,
        });
        acc.sum += values.iter().sum::<f64>();
        acc.tokens += values.len() as u32;
    }

    /// A chunk that carried nothing for this choice in particular (usage, an empty list of
    /// choices) still counts against its budget.
    pub fn charge(&mut self) {
        self.received += 1;
    }

    /// Whether the server has sent this choice well past its budget; it is then cut there
    /// (with its own finish reason when it had one: a stream that went on after it).
    pub fn over(&mut self, budget: Budget) -> bool {
        self.cut = self.received > budget.chunks || self.chars > budget.chars;
        self.cut
    }

    /// Whether anything of this choice arrived.
    pub fn answered(&self) -> bool {
        self.events > 0 || self.finish_reason.is_some()
    }

    /// The end of a completion: `Done` if the server said why it finished (`length` when it
    /// did not, but was cut at its budget), else `Err(unfinished)`.
    pub fn finish(&mut self, unfinished: BackendError) -> Result<StreamEvent, BackendError> {
        let reason = match self.finish_reason.take() {
            Some(reason) => reason,
            None if self.cut => crate::core::record::LENGTH.to_string(),
            None => return Err(unfinished),
        };
        Ok(StreamEvent::Done(Finish {
            reason,
            usage: self.usage.unwrap_or(Usage {
                prompt_tokens: 0,
                completion_tokens: self.events,
            }),
            reasoning_tokens: self.reasoning_tokens,
            logprob: self.logprob.filter(|l| l.tokens > 0),
            confidence: self.confidence.finish(),
        }))
    }
}

/// A whole (not streamed) reply of either endpoint, as a batch output holds it: the first
/// choice's answer text and thinking, and how it finished.
pub fn parse_reply(body: &Value) -> Result<(String, String, Finish), ReplyError> {
    let choice = body["choices"].get(0).ok_or(ReplyError::NoChoice)?;
    let message = &choice["message"];
    let text = message["content"]
        .as_str()
        .or_else(|| choice["text"].as_str())
        .unwrap_or_default()
        .to_string();
    let thinking = message["reasoning_content"]
        .as_str()
        .or_else(|| message["reasoning"].as_str())
        .unwrap_or_default()
        .to_string();
    let reason = choice["finish_reason"]
        .as_str()
        .ok_or(ReplyError::NoFinishReason)?
        .to_string();
    let (usage, reasoning_tokens) = serde_json::from_value::<ChunkUsage>(body["usage"].clone())
        .map(ChunkUsage::read)
        .unwrap_or_default();
    let mut p = Progress::default();
    if let Ok(lp) = serde_json::from_value::<Logprobs>(choice["logprobs"].clone()) {
        p.add_logprobs(lp);
    }
    let finish = Finish {
        reason,
        usage,
        reasoning_tokens,
        logprob: p.logprob.filter(|l| l.tokens > 0),
        confidence: p.confidence.finish(),
    };
    Ok((text, thinking, finish))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_choice(text: &str) -> Choice {
        serde_json::from_value(serde_json::json!({"index": 0, "delta": {"content": text}})).unwrap()
    }

    #[test]
    fn a_choice_is_over_its_budget_by_chunks_or_by_characters() {
        let budget = Budget::for_tokens(16);
        let mut p = Progress::default();
        for _ in 0..48 {
            let _ = p.absorb(text_choice("a"));
            assert!(!p.over(budget));
        }
        let _ = p.absorb(text_choice("a"));
        assert!(p.over(budget), "49 chunks for 16 tokens");
        assert_eq!(
            p.finish(BackendError::StreamCut)
                .map(|e| matches!(e, StreamEvent::Done(f) if f.reason == "length")),
            Ok(true)
        );

        let mut big = Progress::default();
        let _ = big.absorb(text_choice(&"word ".repeat(64)));
        assert!(
            !big.over(budget),
            "320 characters are within 16 tokens' 320"
        );
        let _ = big.absorb(text_choice("x"));
        assert!(big.over(budget));

        let mut empty = Progress::default();
        for _ in 0..49 {
            empty.charge();
        }
        assert!(empty.over(budget), "empty chunks count too");
    }

    #[test]
    fn an_unfinished_choice_ends_with_the_error_it_is_given() {
        let mut p = Progress::default();
        let _ = p.absorb(text_choice("The ans"));
        assert_eq!(
            p.finish(BackendError::StreamCut),
            Err(BackendError::StreamCut)
        );
    }
}
