//! `promptlab examples`: which examples earn their place, whether the model reads their
//! labels, whether their order matters (`engine::examples` over `core::demos`).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::run::apply_overrides;
use super::{BackendArgs, PromptArgs};
use crate::core::demos::{
    Analysis, Calibration, Contribution, Labels, OrderSpread, Selection, Settings, mode_of,
};
use crate::core::display::visible;
use crate::core::evaluation::cell;
use crate::core::stats::{Estimate, points};
use crate::engine::backends::Backends;
use crate::engine::eval::{EvalOptions, Variant};
use crate::engine::examples::{Analysed, ExamplesJob};
use crate::store::config::Config;

#[derive(Debug, Clone, Args)]
pub struct ExamplesArgs {
    #[command(flatten)]
    pub prompt: PromptArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// JSONL, CSV (with a header) or BIG-bench task.json
    #[arg(long, short = 'd')]
    pub dataset: PathBuf,
    /// Only the first K items
    #[arg(long, value_name = "K")]
    pub limit: Option<usize>,
    /// Random orders of the examples to try (0: no order analysis)
    #[arg(long, value_name = "K", default_value_t = crate::core::demos::DEFAULT_ORDERS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100))]
    pub orders: usize,
    /// Sample afresh instead of using the sample cache
    #[arg(long)]
    pub no_cache: bool,
    /// Stop at the first broken dataset line instead of skipping it
    #[arg(long)]
    pub strict: bool,
    /// Print the plan (sets × items × N, calls, prompt tokens, expected time) and stop
    #[arg(long)]
    pub plan: bool,
    /// Write examples.json and examples.md here
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// One JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

pub async fn examples(args: ExamplesArgs, backends: &dyn Backends) -> Result<bool, String> {
    let config = Config::load()?;
    let (mut template, _) =
        crate::store::template::resolve(&args.prompt.template).map_err(|e| e.to_string())?;
    apply_overrides(&mut template, &args.prompt)?;
    template
        .validate()
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let settings = Settings {
        orders: args.orders,
        seed: template.sampling.seed,
    };
    let sets = crate::core::demos::sets(&template, &settings)
        .map_err(|e| format!("{}: {e}", args.prompt.template))?;
    let dataset = crate::engine::jobs::load(args.dataset.clone(), args.strict, args.limit).await?;
    for p in &dataset.problems {
        crate::tell!("skipped {p}");
    }
    let backend = backends.build("", "").await?;
    // kNN selection by embeddings when an embedding model is given, else by content words.
    let embedder = backends.embedder_or_knn(&template.answer, true)?;
    let mode = template.mode.unwrap_or(backend.info().default_mode);
    let variants: Vec<Variant> = sets
        .iter()
        .map(|s| Variant {
            name: s.name.clone(),
            settings: json!({}),
            template: s.template.clone(),
            mode,
            backend: backend.clone(),
        })
        .collect();
    let speed = crate::store::speed::last(&backend.info().label());
    let plan = crate::engine::plan::eval_plan(&variants, &dataset.items, false, speed);
    crate::tell!("{} example sets: {plan}", sets.len());
    if args.plan {
        return Ok(true);
    }
    let cache = if args.no_cache {
        None
    } else {
        let c = crate::engine::cache::Cache::open_default()?;
        if let Some(w) = c.warning() {
            crate::tell!("{w}");
        }
        Some(c)
    };
    let cancel =
        super::cancel_on_ctrl_c("stopping: what is sampled is cached, so the same command resumes");
    let concurrency = config.concurrency(args.prompt.concurrency);
    let job = ExamplesJob {
        dataset,
        template,
        mode,
        backend,
        opts: EvalOptions {
            embedder,
            ..EvalOptions::new(concurrency, cache.clone(), cancel)
        },
        settings,
    };
    let analysed = job.run(&super::eval::progress()).await?;
    super::run::say_cache_failure(cache.as_deref());
    let provenance = crate::core::results::provenance(&analysed.results);
    let report = json!({
        "partial": analysed.cancelled,
        "provenance": provenance,
        "dataset": job.dataset.name,
        "items": job.dataset.items.len(),
        "template": job.template.name,
        "orders": settings.orders,
        "seed": settings.seed,
        "analysis": analysed,
    });
    let title = format!(
        "{} on {} · {} items · {}",
        job.template.name,
        job.dataset.name,
        job.dataset.items.len(),
        analysed
            .results
            .first()
            .map_or_else(String::new, |r| r.backend.label()),
    );
    if let Some(dir) = &args.out {
        let md = format!("# Examples analysis\n\n{}", text(&title, &analysed, true));
        crate::store::exports::examples(dir, &report, &md)?;
        crate::tell!("wrote {}/examples.json, examples.md", dir.display());
    }
    if args.json {
        super::out::raw(&format!("{report}\n"))?;
    } else {
        super::out::show(&text(&title, &analysed, false))?;
    }
    if analysed.results.iter().all(|r| r.samples.succeeded == 0) {
        return Err("no sample succeeded".into());
    }
    Ok(true)
}

/// The report for people (`markdown`: headings and tables for `examples.md`).
pub fn text(title: &str, a: &Analysed, markdown: bool) -> String {
    let r = &a.report;
    let mut out = format!("{}\n\n", visible(title));
    let given = r.given.map_or("-".into(), |e| cell(&e));
    let _ = writeln!(out, "given set (gold labels, the given order): {given}");
    for analysis in &r.analyses {
        out.push('\n');
        match analysis {
            Analysis::LeaveOneOut { contributions } => {
                leave_one_out(&mut out, contributions, markdown)
            }
            Analysis::Labels(l) => labels(&mut out, l, markdown),
            Analysis::Order(o) => order(&mut out, o, markdown),
            Analysis::Calibration(c) => calibration(&mut out, c, markdown),
            Analysis::Selection(k) => selection(&mut out, k, markdown),
        }
    }
    let t = a.prompt_tokens;
    let _ = writeln!(
        out,
        "\nprompt tokens sent: {} (of {} for every set's samples; the rest came from the sample cache or a set with the same examples) · {:.1}s{}",
        t.sent,
        t.all_sets,
        a.elapsed_ms as f64 / 1000.0,
        if a.cancelled {
            " · stopped before the end"
        } else {
            ""
        }
    );
    out
}

fn heading(out: &mut String, title: &str, markdown: bool) {
    let _ = writeln!(out, "{}{title}", if markdown { "## " } else { "" });
    if markdown {
        out.push('\n');
    }
}

fn row(out: &mut String, cells: &[String], markdown: bool) {
    if markdown {
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    } else {
        let _ = writeln!(out, "  {}", cells.join("  "));
    }
}

fn rule(out: &mut String, columns: usize, markdown: bool) {
    if markdown {
        let _ = writeln!(out, "|{}", "---|".repeat(columns));
    }
}

fn estimate(e: Option<Estimate>) -> String {
    e.map_or("-".into(), |e| cell(&e))
}

fn leave_one_out(out: &mut String, cs: &[Contribution], markdown: bool) {
    heading(
        out,
        "Leave-one-out: each example's contribution (the given set minus the set without it, paired, 95% intervals, Holm across examples)",
        markdown,
    );
    let head = ["#", "example", "contribution", "without it", "note"].map(String::from);
    let width = cs
        .iter()
        .map(|c| c.cell().chars().count())
        .max()
        .unwrap_or(0);
    row(out, &head, markdown);
    rule(out, head.len(), markdown);
    for c in cs {
        let example = format!(
            "{} → {}",
            crate::core::display::shorten(&visible(&c.input), 40),
            crate::core::display::shorten(&visible(&c.answer), 16)
        );
        let note = match (c.removal_helps, &c.verdict) {
            (true, Some(crate::core::stats::Verdict::Worse)) => "removing it helps (detectably)",
            (true, _) => "removing it helps (not detectably)",
            (false, Some(crate::core::stats::Verdict::Better)) => "it helps (detectably)",
            _ => "",
        };
        row(
            out,
            &[
                format!("{:>2}", c.example + 1),
                format!("{example:<60}"),
                format!("{:<width$}", c.cell()),
                estimate(c.without),
                note.into(),
            ],
            markdown,
        );
    }
}

fn labels(out: &mut String, l: &Labels, markdown: bool) {
    heading(out, "Label controls (each against gold, paired)", markdown);
    let head = ["set", "accuracy", "unparsed", "against gold", "in words"].map(String::from);
    row(out, &head, markdown);
    rule(out, head.len(), markdown);
    for r in &l.rows {
        let against = r.versus_gold.map_or(String::new(), |p| {
            format!("{} [{}, {}]", points(p.diff), points(p.low), points(p.high))
        });
        row(
            out,
            &[
                format!("{:<14}", r.control.name()),
                estimate(r.accuracy),
                format!("{:>5.1}%", r.unparsed_rate * 100.0),
                format!("{against:<22}"),
                r.words.clone(),
            ],
            markdown,
        );
    }
    let _ = writeln!(out, "\nverdict: {}", l.verdict);
}

fn order(out: &mut String, o: &OrderSpread, markdown: bool) {
    heading(out, "Order: the same examples in random orders", markdown);
    let head = ["order", "accuracy", ""].map(String::from);
    row(out, &head, markdown);
    rule(out, head.len(), markdown);
    row(
        out,
        &["given".into(), estimate(o.given), String::new()],
        markdown,
    );
    for (i, r) in o.orders.iter().enumerate() {
        let mark = [(o.min, "min"), (o.median, "median"), (o.max, "max")]
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, m)| *m)
            .collect::<Vec<_>>()
            .join(", ");
        row(
            out,
            &[format!("{:<20}", r.name), estimate(r.accuracy), mark],
            markdown,
        );
    }
    let _ = writeln!(out, "\n{}", o.words);
}

fn paired_cell(p: Option<crate::core::stats::Paired>) -> String {
    p.map_or("-".into(), |p| {
        format!("{} [{}, {}]", points(p.diff), points(p.low), points(p.high))
    })
}

fn calibration(out: &mut String, c: &Calibration, markdown: bool) {
    heading(
        out,
        "Calibration: options scored by log-probability, before and after the content-free correction (paired, Holm across the two comparisons)",
        markdown,
    );
    if c.unavailable.is_some() {
        let _ = writeln!(out, "{}", c.words);
        return;
    }
    let head = ["answers", "mode", "accuracy", "calibrated minus it"].map(String::from);
    row(out, &head, markdown);
    rule(out, head.len(), markdown);
    let given_mode = c.given_mode.as_str();
    let rows = [
        (
            "given set",
            given_mode,
            c.given,
            paired_cell(c.versus_given),
        ),
        (
            "plain",
            mode_of(crate::core::template::Calibrate::Scored),
            c.scored,
            paired_cell(c.versus_scored),
        ),
        (
            "calibrated",
            mode_of(crate::core::template::Calibrate::ContentFree),
            c.calibrated,
            String::new(),
        ),
    ];
    for (name, mode, acc, diff) in rows {
        row(
            out,
            &[
                format!("{name:<10}"),
                format!("{mode:<26}"),
                estimate(acc),
                diff,
            ],
            markdown,
        );
    }
    let _ = writeln!(out, "\n{}", c.words);
}

fn selection(out: &mut String, k: &Selection, markdown: bool) {
    heading(
        out,
        &format!(
            "Selection: each query's {} nearest examples (by {}) against your fixed set (paired)",
            k.k, k.by
        ),
        markdown,
    );
    let head = ["examples", "accuracy", "kNN minus fixed"].map(String::from);
    row(out, &head, markdown);
    rule(out, head.len(), markdown);
    row(
        out,
        &[format!("{:<10}", "fixed"), estimate(k.fixed), String::new()],
        markdown,
    );
    row(
        out,
        &[
            format!("{:<10}", format!("kNN k={}", k.k)),
            estimate(k.selected),
            paired_cell(k.paired),
        ],
        markdown,
    );
    let _ = writeln!(out, "\n{}", k.words);
}
