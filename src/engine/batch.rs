//! Batch files for evaluations too big or too costly to run live: every sample an evaluation
//! needs and the cache does not hold, as one OpenAI batch request line (`custom_id` = the
//! sample's cache key), and the batch output read back into the sample cache, so the same
//! evaluation then scores with no live request.
//!
//! The files run offline on vLLM's batch runner or through OpenAI's Batch API. Only one-call
//! strategies (direct, chain of thought) fit: a later call's prompt depends on the first's
//! reply, which a batch file cannot know.

use serde_json::{Value, json};
use std::collections::HashMap;

use super::RunPlan;
use super::cache::{self, Cache};
use super::error::JobError;
use super::eval::Variant;
use crate::core::record::{PathRecord, StageRecord};
use crate::core::strategy::Step;
use crate::core::template::Strategy;
use crate::store::dataset::Item;

/// One sample an evaluation needs.
struct Wanted {
    key: String,
    url: String,
    body: Value,
    stage: crate::core::strategy::Stage,
}

/// Every sample of `variants` over `items`, and how many of them the cache holds already.
fn wanted(
    variants: &[Variant],
    items: &[Item],
    cache: Option<&Cache>,
) -> Result<(Vec<Wanted>, usize), JobError> {
    let mut out = Vec::new();
    let mut cached = 0;
    for v in variants {
        if !matches!(v.template.strategy, Strategy::Direct | Strategy::Cot) {
            return Err(JobError::NotOneCall(v.template.strategy.as_str()));
        }
        let info = v.backend.info();
        for item in items {
            let plan = RunPlan::new(&v.template, &item.input, v.mode).map_err(|source| {
                JobError::Item {
                    id: item.id.clone(),
                    source,
                }
            })?;
            for i in 0..plan.sampling.n as usize {
                let key = cache::key(&info, &plan, i);
                if cache.is_some_and(|c| c.get(&key).is_some()) {
                    cached += 1;
                    continue;
                }
                let Step::Sample(spec) = plan.machine().start() else {
                    continue;
                };
                let stage = spec.stage;
                let (url, body) = v
                    .backend
                    .batch_request(&plan.request(spec, i))
                    .ok_or(JobError::NotOpenAi)?;
                out.push(Wanted {
                    key,
                    url,
                    body,
                    stage,
                });
            }
        }
    }
    Ok((out, cached))
}

/// The batch input file of an evaluation: one request line per sample the cache does not
/// hold. Returns the file's text, its line count and the samples already cached.
pub fn requests(
    variants: &[Variant],
    items: &[Item],
    cache: Option<&Cache>,
) -> Result<(String, usize, usize), JobError> {
    let (wanted, cached) = wanted(variants, items, cache)?;
    let mut text = String::new();
    let mut seen = std::collections::HashSet::new();
    for w in &wanted {
        // Two variants that differ only in what the model is not told share samples.
        if seen.insert(&w.key) {
            let line = json!({"custom_id": w.key, "method": "POST", "url": w.url, "body": w.body});
            text.push_str(&line.to_string());
            text.push('\n');
        }
    }
    Ok((text, seen.len(), cached))
}

/// What reading a batch output did.
#[derive(Debug, Default, PartialEq)]
pub struct Absorbed {
    /// Samples stored in the cache.
    pub stored: usize,
    /// One line per output line that was not stored, and why.
    pub problems: Vec<String>,
}

/// Reads a batch output (`custom_id`, `response.status_code`, `response.body`, `error`) into
/// the sample cache. A line with an unknown `custom_id`, a repeated one, an error or a reply
/// that cannot be read is reported and stored nowhere.
pub fn absorb(
    output: &str,
    variants: &[Variant],
    items: &[Item],
    cache: &Cache,
) -> Result<Absorbed, JobError> {
    let (wanted, _) = wanted(variants, items, None)?;
    let by_key: HashMap<&str, &Wanted> = wanted.iter().map(|w| (w.key.as_str(), w)).collect();
    let mut done: HashMap<String, usize> = HashMap::new();
    let mut report = Absorbed::default();
    for (n, line) in output.lines().enumerate().map(|(n, l)| (n + 1, l)) {
        if line.trim().is_empty() {
            continue;
        }
        let mut problem = |why: String| report.problems.push(format!("line {n}: {why}"));
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                problem(format!("not JSON ({e})"));
                continue;
            }
        };
        let Some(id) = v["custom_id"].as_str() else {
            problem("no custom_id".into());
            continue;
        };
        let Some(w) = by_key.get(id) else {
            problem(format!("custom_id {id} is no sample of this evaluation"));
            continue;
        };
        if let Some(first) = done.get(id) {
            problem(format!(
                "custom_id {id} again (first on line {first}); kept the first"
            ));
            continue;
        }
        if !v["error"].is_null() {
            let why = v["error"]["message"]
                .as_str()
                .map_or_else(|| v["error"].to_string(), str::to_string);
            problem(format!("failed: {why}"));
            continue;
        }
        let code = &v["response"]["status_code"];
        let Some(status) = code
            .as_u64()
            .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
        else {
            problem(match code {
                Value::Null => "no response.status_code".into(),
                other => format!("response.status_code {other} is not a number"),
            });
            continue;
        };
        if status != 200 {
            let body = &v["response"]["body"];
            let why = body["error"]["message"]
                .as_str()
                .map_or_else(|| body.to_string(), str::to_string);
            problem(format!("HTTP {status}: {why}"));
            continue;
        }
        let (text, thinking, finish) =
            match crate::backend::openai::parse_reply(&v["response"]["body"]) {
                Ok(r) => r,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
        // Inline <think> blocks are thinking, as in a live stream.
        let (inline, text) = crate::core::thinking::split(&text);
        let mut stage = StageRecord::new(w.stage, text);
        stage.thinking = thinking + &inline;
        stage.finish_reason = Some(finish.reason);
        stage.prompt_tokens = finish.usage.prompt_tokens;
        stage.completion_tokens = finish.usage.completion_tokens;
        stage.reasoning_tokens = finish.reasoning_tokens;
        stage.logprob = finish.logprob;
        stage.confidence = finish.confidence;
        let mut path = PathRecord::new(0);
        path.stages = vec![stage];
        cache.put(id, &path);
        done.insert(id.to_string(), n);
        report.stored += 1;
    }
    Ok(report)
}
