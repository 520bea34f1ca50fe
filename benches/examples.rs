//! The demonstrations analysis against its time budget (issue 27): on the embedded model, one
//! plain evaluation of a label template (sampled, as the template says), one plain scored
//! evaluation of the same items (`calibrate: scored`), then the whole default analysis of the
//! same items and settings (leave-one-out over every example, the label controls, 8 orders,
//! calibration, kNN selection), then both plain evaluations again, in one process, no sample
//! cache, a fresh backend each. The analysis runs in its default mode (a label template's sets
//! scored by their options' log-probabilities) or, with SAMPLED=1, sampled. It prints the wall
//! times and the analysis's ratio to each plain evaluation (the budget: at most 8), each set's
//! mode (sampled or scored options), time, paths and scoring passes, the prompt tokens sent and
//! evaluated, the mean sequences per decode step, the scoring passes and their llama.cpp calls,
//! and where the model thread's time went.
//! Run: `cargo bench --bench examples` (TEMPLATE=sports, DATA=assets/sports.jsonl, ITEMS=24,
//! ORDERS=8, SAMPLED=1 in the environment).

use std::sync::Arc;
use std::time::Instant;

use promptlab::backend::Backend;
use promptlab::backend::local::{Decoding, LoadStatus, LocalBackend, LocalSettings};
use promptlab::core::demos::{Settings, mode_of};
use promptlab::engine::eval::{EvalOptions, VariantResult, eval_variant, variants};
use promptlab::engine::examples::ExamplesJob;
use promptlab::engine::jobs::load;
use promptlab::store::models::default_model_path;
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ready_backend() -> Arc<LocalBackend> {
    let path = default_model_path().expect("cache dir");
    assert!(path.is_file(), "run scripts/fetch-model.sh first");
    let b = LocalBackend::spawn(LocalSettings::new(path)).expect("model");
    while b.status() == LoadStatus::Loading {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Arc::new(b)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A run's figures: the model thread's counters since `before`, and the prompt tokens.
fn thread_line(b: &LocalBackend, before: Decoding, secs: f64) -> String {
    let d = b.decoding();
    let steps = d.steps - before.steps;
    let mean = (d.tokens - before.tokens) as f64 / steps.max(1) as f64;
    let ms = |now: u64, then: u64| (now - then) as f64 / 1000.0;
    format!(
        "{steps} decode steps, {mean:.1} sequences a step (max {}) · {} scoring passes in {} calls · model thread: prompts {:.1}s, decode {:.1}s, scoring {:.1}s, idle {:.1}s of {secs:.1}s",
        d.widest,
        d.scores - before.scores,
        d.score_calls - before.score_calls,
        ms(d.prompt_ms, before.prompt_ms),
        ms(d.decode_ms, before.decode_ms),
        ms(d.score_ms, before.score_ms),
        ms(d.idle_ms, before.idle_ms),
    )
}

fn mode(r: &VariantResult) -> &'static str {
    mode_of(r.answers_from.unwrap_or_default())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let name = std::env::var("TEMPLATE").unwrap_or_else(|_| "sports".into());
    let data = std::env::var("DATA").unwrap_or_else(|_| "assets/sports.jsonl".into());
    let dataset = rt
        .block_on(load(data.clone().into(), false, Some(env("ITEMS", 24))))
        .expect("dataset");
    let (template, _) = resolve(&name).expect("template");
    let s = &template.sampling;
    println!(
        "{name} on {} items of {data}: N {}, temperature {}, max tokens {}; no sample cache; load average {}",
        dataset.items.len(),
        s.n,
        s.temperature,
        s.max_tokens,
        load_average()
    );

    // One plain evaluation, as `promptlab eval` runs it, before and after the analysis (the
    // machine is shared: its load moves).
    let before_secs = plain(&rt, &template, &dataset.items, "before");
    let scored_template = scored(&template);
    let scored_before = plain(&rt, &scored_template, &dataset.items, "before");
    let mode_used = template.mode.unwrap_or(ready_backend().info().default_mode);

    // The whole default analysis on a fresh backend.
    let b = ready_backend();
    let settings = Settings {
        orders: env("ORDERS", promptlab::core::demos::DEFAULT_ORDERS),
        seed: template.sampling.seed,
        sampled: std::env::var("SAMPLED").is_ok_and(|v| v == "1"),
    };
    let job = ExamplesJob {
        dataset: dataset.clone(),
        template: template.clone(),
        mode: mode_used,
        backend: b.clone(),
        opts: EvalOptions::new(16, None, CancellationToken::new()),
        settings,
    };
    let before = b.decoding();
    let tokens_before = b.prompt_tokens().unwrap_or_default();
    let started = Instant::now();
    let quiet: promptlab::engine::report::Report = Arc::new(|_| {});
    let analysed = rt.block_on(job.run(&quiet)).expect("the analysis");
    let secs = started.elapsed().as_secs_f64();
    let spent = b.prompt_tokens().unwrap_or_default().since(tokens_before);
    println!(
        "\nthe analysis: {} sets, {}; load average {}",
        analysed.sets.len(),
        job.reading().words(),
        load_average()
    );
    println!(
        "  {:<24}  {:<26}  {:>8}  {:>7}  {:>6}  {:>7}",
        "set", "mode", "accuracy", "seconds", "paths", "scored"
    );
    for r in &analysed.results {
        let scored = r.answers_from.is_some();
        println!(
            "  {:<24}  {:<26}  {:>7.1}%  {:>7.1}  {:>6}  {:>7}",
            r.name,
            mode(r),
            r.accuracy_majority * 100.0,
            r.elapsed_ms as f64 / 1000.0,
            if scored { 0 } else { r.samples.fresh },
            if scored { r.samples.fresh } else { 0 },
        );
    }
    let (mut sampled, mut scored) = (0, 0);
    for r in &analysed.results {
        match r.answers_from {
            Some(_) => scored += r.samples.fresh,
            None => sampled += r.samples.fresh,
        }
    }
    println!(
        "  {sampled} sampled paths, {scored} scored items; prompt tokens {} evaluated of {} sent ({:.0}%)",
        spent.evaluated,
        spent.sent,
        100.0 * spent.evaluated as f64 / spent.sent.max(1) as f64
    );
    println!("  {}", thread_line(&b, before, secs));
    drop(job);
    let after_secs = plain(&rt, &template, &dataset.items, "after");
    let scored_after = plain(&rt, &scored_template, &dataset.items, "after");
    let plain_secs = (before_secs + after_secs) / 2.0;
    let scored_secs = (scored_before + scored_after) / 2.0;
    println!(
        "\nthe analysis ({}) {secs:.1}s: {:.2}x one plain sampled eval ({plain_secs:.1}s), {:.2}x one plain scored eval ({scored_secs:.1}s), each the mean of before and after (budget 8x) · load average {}",
        analysed
            .report
            .reading
            .as_ref()
            .map_or("?", |r| promptlab::core::demos::mode_of(r.answers)),
        secs / plain_secs,
        secs / scored_secs,
        load_average()
    );
}

/// `template` with its answers read by scoring the options (`calibrate: scored`), text labels
/// as the options of the examples' label space.
fn scored(template: &promptlab::core::template::Template) -> promptlab::core::template::Template {
    use promptlab::core::spec::answer::AnswerKind;
    let mut t = template.clone();
    t.calibrate = promptlab::core::template::Calibrate::Scored;
    if t.answer.kind != AnswerKind::Choice {
        t.answer.choices = promptlab::core::demos::label_space(template);
        t.answer.kind = AnswerKind::Choice;
    }
    t
}

/// One plain evaluation of `template` on a fresh backend, printed; its wall time.
fn plain(
    rt: &tokio::runtime::Runtime,
    template: &promptlab::core::template::Template,
    items: &[promptlab::store::dataset::Item],
    when: &str,
) -> f64 {
    let b = ready_backend();
    let dyn_b: Arc<dyn Backend> = b.clone();
    let v = variants(template, &[], |_, _| Some(dyn_b.clone()))
        .expect("variant")
        .remove(0);
    let before = b.decoding();
    let started = Instant::now();
    let opts = EvalOptions::new(16, None, CancellationToken::new());
    let plain = rt.block_on(eval_variant(&v, items, &opts, Arc::new(|_, _| {})));
    let secs = started.elapsed().as_secs_f64();
    let p = plain.prompt_tokens.unwrap_or_default();
    println!(
        "\nplain eval {when} ({}): {secs:.1}s, accuracy {:.1}%, {} paths, prompt tokens {} evaluated of {} sent, load average {}",
        mode(&plain),
        plain.accuracy_majority * 100.0,
        plain.samples.fresh,
        p.evaluated,
        p.sent,
        load_average()
    );
    println!("  {}", thread_line(&b, before, secs));
    secs
}
