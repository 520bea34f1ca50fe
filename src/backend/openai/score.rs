//! Option scoring over HTTP: the legacy completions endpoint with `echo: true`, `logprobs`
//! and `max_tokens: 0` returns the log-probability of every prompt token (vLLM, OpenAI's
//! older models, servers built on them). One request holds every option (`prompt` as a
//! list); each choice's tokens after the query's prompt are summed. Parsing is lenient (no
//! `text_offset`: offsets from the tokens' lengths; a server that wants `max_tokens` above 0
//! is asked once more with 1, and the token it generates is left out by its offset); a
//! server without prompt log-probabilities says so in one line.

use serde_json::{Value, json};

use crate::backend::{BackendError, Scores};

/// Everything a scoring request needs, owned (the future outlives the backend's borrow).
#[derive(Clone)]
pub(super) struct Scorer {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub host: String,
}

impl Scorer {
    pub async fn score(self, prompt: String, options: Vec<String>) -> Result<Scores, BackendError> {
        let texts: Vec<String> = options.iter().map(|o| format!("{prompt}{o}")).collect();
        let mut body = json!({
            "model": self.model,
            "prompt": texts,
            "echo": true,
            "logprobs": 1,
            "max_tokens": 0,
            "temperature": 0,
        });
        let reply = match self.post(&body).await {
            Err(BackendError::Http {
                status: 400,
                message,
            }) if message.contains("max_tokens") => {
                body["max_tokens"] = json!(1);
                self.post(&body).await?
            }
            other => other?,
        };
        let logprobs = parse(&reply, &prompt, &options).map_err(|e| {
            BackendError::Invalid(format!(
                "the server at {} gives no log-probabilities of the prompt's tokens ({e}); `calibrate:` needs a server that answers `echo: true` with `logprobs` (vLLM does)",
                self.host
            ))
        })?;
        // The server's count: the prompt once per option, each with its option.
        let prompt_tokens = reply["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
        Ok(Scores {
            logprobs,
            prompt_tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
        })
    }

    async fn post(&self, body: &Value) -> Result<Value, BackendError> {
        let url = format!("{}/completions", self.base_url.trim_end_matches('/'));
        let mut req = self.http.post(url).json(body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                BackendError::Connect(self.host.clone())
            } else {
                BackendError::Transport(e.without_url().to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| BackendError::Transport(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| crate::core::display::shorten(&text, 200));
            let message = match &self.api_key {
                Some(k) if k.len() >= 4 => message.replace(k.as_str(), "[redacted]"),
                _ => message,
            };
            return Err(match status {
                401 | 403 => BackendError::Auth { status, message },
                404 => BackendError::NotFound(message),
                _ => BackendError::Http { status, message },
            });
        }
        serde_json::from_str(&text).map_err(|e| {
            BackendError::Malformed(format!(
                "{e}: {}",
                crate::core::display::shorten(&text, 200)
            ))
        })
    }
}

/// Each option's summed log-probability from a reply with one choice per option (by `index`,
/// else in order).
pub fn parse(reply: &Value, prompt: &str, options: &[String]) -> Result<Vec<f64>, String> {
    let choices = reply["choices"].as_array().ok_or("no choices")?;
    let mut out = vec![None; options.len()];
    for (k, c) in choices.iter().enumerate() {
        let i = c["index"].as_u64().map_or(k, |i| i as usize);
        if i < out.len() {
            out[i] = Some(continuation_logprob(c, prompt, &options[i])?);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or(format!("no choice for option {}", i + 1)))
        .collect()
}

/// The summed log-probability of the tokens of one choice that hold text past `prompt` and
/// within the option (a token across the boundary counts: it holds option text).
fn continuation_logprob(choice: &Value, prompt: &str, option: &str) -> Result<f64, String> {
    let lp = &choice["logprobs"];
    let tokens: Vec<&str> = lp["tokens"]
        .as_array()
        .ok_or("no `logprobs.tokens`")?
        .iter()
        .map(|t| t.as_str().unwrap_or(""))
        .collect();
    let values = lp["token_logprobs"]
        .as_array()
        .ok_or("no `logprobs.token_logprobs`")?;
    if values.len() != tokens.len() {
        return Err("`tokens` and `token_logprobs` differ in length".into());
    }
    let offsets: Vec<usize> = match lp["text_offset"].as_array() {
        Some(o) if o.len() == tokens.len() => {
            o.iter().map(|x| x.as_u64().unwrap_or(0) as usize).collect()
        }
        _ => tokens
            .iter()
            .scan(0usize, |at, t| {
                let start = *at;
                *at += t.chars().count();
                Some(start)
            })
            .collect(),
    };
    let (from, to) = (
        prompt.chars().count(),
        prompt.chars().count() + option.chars().count(),
    );
    let mut sum = 0.0;
    let mut counted = 0;
    for (i, v) in values.iter().enumerate() {
        let start = offsets[i];
        let end = offsets
            .get(i + 1)
            .copied()
            .unwrap_or(start + tokens[i].chars().count());
        if end <= from || start >= to {
            continue;
        }
        sum += v
            .as_f64()
            .ok_or("a prompt token without a log-probability")?;
        counted += 1;
    }
    if counted == 0 {
        return Err("no token of the option was echoed".into());
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_tokens_are_summed_by_offset_or_by_length() {
        let prompt = "Q: x\nA:";
        let choice = |i: u64, offsets: bool| {
            let mut lp = json!({
                "tokens": ["Q", ":", " x", "\n", "A", ":", " plaus", "ible", " The"],
                "token_logprobs": [null, -1.0, -2.0, -0.5, -0.1, -0.2, -1.5, -0.25, -3.0],
            });
            if offsets {
                lp["text_offset"] = json!([0, 1, 2, 4, 5, 6, 7, 13, 17]);
            }
            json!({ "index": i, "text": "", "logprobs": lp })
        };
        let reply = json!({ "choices": [choice(1, true), choice(0, false)] });
        let options = vec![" plausible".to_string(), " plausible".to_string()];
        let s = parse(&reply, prompt, &options).unwrap();
        assert_eq!(
            s,
            vec![-1.75, -1.75],
            "the generated \" The\" is not the option's"
        );
        let none = json!({ "choices": [{ "index": 0, "text": "", "logprobs": null }] });
        assert!(parse(&none, prompt, &options[..1]).is_err());
        let missing = json!({ "choices": [choice(0, true)] });
        assert!(
            parse(&missing, prompt, &options)
                .unwrap_err()
                .contains("option 2")
        );
    }
}
