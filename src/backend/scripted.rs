//! Canned completions for tests and demos: no model, fully deterministic.
//!
//! A script is a list of responses. A request picks among the responses whose `when` text
//! occurs latest in its prompt (or, if none occurs, among those without `when`) by
//! `seed % count`, so
//! path `i` of a run (seed + i) walks through them in order and the same seed always gives
//! the same text. Each response streams word by word with an optional delay, and may end in
//! an error or a cut stream, for the first `fail_times` uses or always. A response with
//! `thinking` plays a reasoning model: it streams that thinking apart first (`inline: true`:
//! between `<think>` tags in the text), unless the request switches thinking off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use serde::Deserialize;

use super::{
    Backend, BackendError, BackendInfo, Finish, SampleRequest, SampleStream, StreamEvent, Usage,
    cut_at_stop,
};
use crate::core::render::{Mode, Prompt};
use crate::core::vote::LogProb;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub model: Option<String>,
    pub responses: Vec<ScriptedResponse>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedResponse {
    /// Only for prompts containing this text.
    #[serde(default)]
    pub when: Option<String>,
    pub text: String,
    /// A reasoning model's thinking, streamed before the text (not when thinking is off).
    #[serde(default)]
    pub thinking: Option<String>,
    /// Send the thinking inline, between `<think>` tags, as a server without a reasoning
    /// parser does.
    #[serde(default)]
    pub inline: bool,
    /// What this reasoning model says instead when thinking is switched off (default: `text`).
    #[serde(default)]
    pub off_text: Option<String>,
    /// Delay before each streamed word.
    #[serde(default)]
    pub delay_ms: u64,
    /// Fail with this message after the text has streamed.
    #[serde(default)]
    pub error: Option<String>,
    /// Cut the stream after the text (a transient failure) for the first `fail_times` uses
    /// (every use when 0 and `cut` is set).
    #[serde(default)]
    pub cut: bool,
    #[serde(default)]
    pub fail_times: u32,
    /// Log-probability of every token, for the weighted vote.
    #[serde(default)]
    pub token_logprob: Option<f64>,
    /// The path's confidence (DeepConf), for the confidence-weighted vote.
    #[serde(default)]
    pub confidence: Option<f64>,
}

impl ScriptedResponse {
    pub fn text(text: impl Into<String>) -> Self {
        ScriptedResponse {
            text: text.into(),
            ..Default::default()
        }
    }
}

pub struct ScriptedBackend {
    model: String,
    /// sha256 of the responses: an edited script never answers from another's cache.
    fingerprint: String,
    responses: Vec<ScriptedResponse>,
    uses: Vec<Arc<AtomicU32>>,
}

impl ScriptedBackend {
    pub fn new(script: Script) -> Self {
        let uses = script
            .responses
            .iter()
            .map(|_| Arc::new(AtomicU32::new(0)))
            .collect();
        let fingerprint = super::digest(format!("{:?}", script.responses).as_bytes());
        ScriptedBackend {
            fingerprint,
            model: script.model.unwrap_or_else(|| "scripted".into()),
            responses: script.responses,
            uses,
        }
    }

    pub fn from_texts<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        Self::new(Script {
            model: None,
            responses: texts.into_iter().map(ScriptedResponse::text).collect(),
        })
    }

    fn pick(&self, prompt: &str, seed: u64) -> Option<usize> {
        // Responses whose `when` occurs latest in the prompt answer it (the last question
        // asked); without any, those with no `when`.
        let at = |i: usize| {
            self.responses[i]
                .when
                .as_deref()
                .and_then(|w| prompt.rfind(w))
        };
        let latest = (0..self.responses.len()).filter_map(at).max();
        let pool: Vec<usize> = match latest {
            Some(pos) => (0..self.responses.len())
                .filter(|&i| at(i) == Some(pos))
                .collect(),
            None => (0..self.responses.len())
                .filter(|&i| self.responses[i].when.is_none())
                .collect(),
        };
        (!pool.is_empty()).then(|| pool[(seed % pool.len() as u64) as usize])
    }
}

/// Splits text into words that keep their leading whitespace, like tokens do.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Backend for ScriptedBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            fingerprint: Some(self.fingerprint.clone()),
            // Scripts carry log-probabilities when they set `token_logprob`.
            logprobs: true,
            ..BackendInfo::new("scripted", self.model.clone(), Mode::Completion)
        }
    }

    fn stream(&self, req: SampleRequest) -> SampleStream {
        let prompt_text = req.prompt.to_string();
        let Some(i) = self.pick(&prompt_text, req.seed) else {
            return stream::iter([Err(BackendError::Invalid(
                "the script has no response for this prompt".into(),
            ))])
            .boxed();
        };
        let r = self.responses[i].clone();
        let use_no = self.uses[i].fetch_add(1, Ordering::Relaxed);
        let off = req.thinking == crate::core::template::Thinking::Off && r.thinking.is_some();
        let said = match (&r.off_text, off) {
            (Some(t), true) => t.as_str(),
            _ => r.text.as_str(),
        };
        let (kept, _) = cut_at_stop(said, &req.stop);
        let thinking = r.thinking.clone().filter(|_| !off);
        // Thinking first (apart, or inline in tags), then the text; all within max_tokens.
        let mut pieces: Vec<StreamEvent> = Vec::new();
        if let Some(t) = &thinking {
            if r.inline {
                pieces.extend(
                    words(&format!("<think>{t}</think>\n"))
                        .into_iter()
                        .map(StreamEvent::Text),
                );
            } else {
                pieces.extend(words(t).into_iter().map(StreamEvent::Thinking));
            }
        }
        let thought = pieces.len();
        pieces.extend(words(kept).into_iter().map(StreamEvent::Text));
        let max = req.max_tokens as usize;
        let truncated = pieces.len() > max;
        pieces.truncate(max);
        let tokens = pieces.len() as u32;
        let reasoning_tokens = if r.inline { 0 } else { thought.min(max) as u32 };
        let delay = Duration::from_millis(r.delay_ms);
        let prompt_tokens = match &req.prompt {
            Prompt::Completion(p) => p.len() as u32 / 4,
            Prompt::Chat(m) => m.iter().map(|m| m.content.len() as u32 / 4).sum(),
        };
        let end: Result<StreamEvent, BackendError> =
            if r.cut && (r.fail_times == 0 || use_no < r.fail_times) {
                Err(BackendError::StreamCut)
            } else if let Some(message) = r.error.clone() {
                Err(BackendError::Model(message))
            } else {
                Ok(StreamEvent::Done(Finish {
                    reason: if truncated { "length" } else { "stop" }.into(),
                    usage: Usage {
                        prompt_tokens,
                        completion_tokens: tokens,
                    },
                    reasoning_tokens,
                    logprob: r.token_logprob.map(|lp| LogProb {
                        sum: lp * f64::from(tokens),
                        tokens,
                    }),
                    confidence: r.confidence,
                }))
            };
        let text_events = stream::iter(pieces).then(move |p| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(p)
        });
        text_events.chain(stream::iter([end])).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(prompt: &str, seed: u64) -> SampleRequest {
        SampleRequest {
            prompt: Prompt::Completion(prompt.into()),
            stop: vec!["\nQ:".into()],
            max_tokens: 100,
            temperature: 0.7,
            top_p: 1.0,
            top_k: 40,
            seed,
            thinking: crate::core::template::Thinking::Auto,
            reasoning_effort: None,
        }
    }

    async fn collect(s: SampleStream) -> (String, Option<Result<Finish, BackendError>>) {
        let mut text = String::new();
        let mut end = None;
        let items: Vec<_> = s.collect().await;
        for it in items {
            match it {
                Ok(StreamEvent::Text(t)) => text.push_str(&t),
                Ok(StreamEvent::Thinking(t)) => text.push_str(&format!("[{t}]")),
                Ok(StreamEvent::Done(f)) => end = Some(Ok(f)),
                Err(e) => end = Some(Err(e)),
            }
        }
        (text, end)
    }

    #[tokio::test]
    async fn seed_walks_responses_and_stops_cut() {
        let b = ScriptedBackend::from_texts(["one two\nQ: more", "three"]);
        let (t0, end) = collect(b.stream(req("p", 0))).await;
        assert_eq!(t0, "one two");
        assert!(matches!(end, Some(Ok(Finish { ref reason, .. })) if reason == "stop"));
        assert_eq!(collect(b.stream(req("p", 1))).await.0, "three");
        assert_eq!(collect(b.stream(req("p", 2))).await.0, "one two");
    }

    #[tokio::test]
    async fn when_selects_and_failures_end_streams() {
        let b = ScriptedBackend::new(Script {
            model: None,
            responses: vec![
                ScriptedResponse::text("reasoning"),
                ScriptedResponse {
                    when: Some("Therefore".into()),
                    text: " 5.".into(),
                    ..Default::default()
                },
                ScriptedResponse {
                    when: Some("boom".into()),
                    text: "x".into(),
                    cut: true,
                    fail_times: 1,
                    ..Default::default()
                },
            ],
        });
        assert_eq!(
            collect(b.stream(req("Q\nTherefore, the answer is", 0)))
                .await
                .0,
            " 5."
        );
        let (_, end) = collect(b.stream(req("boom", 0))).await;
        assert_eq!(end, Some(Err(BackendError::StreamCut)));
        let (_, end) = collect(b.stream(req("boom", 0))).await;
        assert!(matches!(end, Some(Ok(_))), "fails only the first time");
    }
}
