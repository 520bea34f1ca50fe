//! The demonstrations analysis (issue 27) through the engine, on mock backends whose answers
//! depend on which examples the prompt shows and with which labels, and through the binary.

mod common;

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream;
use promptlab::backend::{
    Backend, BackendInfo, Finish, SampleRequest, SampleStream, ScoreFuture, Scores, StreamEvent,
    Usage,
};
use promptlab::core::demos::{self, Analysis, Control, Kind, Report, Settings, mode_of};
use promptlab::core::render::{Mode, Prompt};
use promptlab::core::results::examples::ExamplesRecord;
use promptlab::core::spec::answer::{AnswerKind, AnswerSpec};
use promptlab::core::stats::Verdict;
use promptlab::core::template::{Example, Strategy, Template};
use promptlab::engine::cache::Cache;
use promptlab::engine::eval::EvalOptions;
use promptlab::engine::examples::{Analysed, ExamplesJob};
use promptlab::engine::jobs::JobEvent;
use promptlab::store::dataset::{Dataset, Item};
use tokio_util::sync::CancellationToken;

/// The demonstrations a completion prompt shows (input, answer) and its query.
fn read_prompt(prompt: &str) -> (Vec<(String, String)>, String) {
    let blocks: Vec<&str> = prompt.split("Q: ").skip(1).collect();
    let (query, demos) = blocks.split_last().expect("a query");
    let demos = demos
        .iter()
        .map(|b| {
            let (input, answer) = b.split_once("\nA: ").expect("an answered example");
            (input.trim().to_string(), answer.trim().to_string())
        })
        .collect();
    (demos, query.trim_end_matches("\nA:").trim().to_string())
}

type Answer = dyn Fn(&[(String, String)], &str) -> String + Send + Sync;

/// A model whose answer is a function of the demonstrations shown and the query.
struct Mock {
    answer: Arc<Answer>,
    prompts: Arc<Mutex<usize>>,
}

impl Mock {
    fn new(f: impl Fn(&[(String, String)], &str) -> String + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Mock {
            answer: Arc::new(f),
            prompts: Arc::default(),
        })
    }
}

impl Backend for Mock {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "demonstrations", Mode::Completion)
    }
    fn stream(&self, r: SampleRequest) -> SampleStream {
        *self.prompts.lock().unwrap() += 1;
        let text = r.prompt.to_string();
        let (demos, query) = read_prompt(&text);
        let said = format!(" {}", (self.answer)(&demos, &query));
        stream::iter([
            Ok(StreamEvent::Text(said)),
            Ok(StreamEvent::Done(Finish {
                reason: "stop".into(),
                usage: Usage {
                    prompt_tokens: text.len() as u32 / 4,
                    completion_tokens: 1,
                },
                reasoning_tokens: 0,
                logprob: None,
                confidence: None,
            })),
        ])
        .boxed()
    }
}

fn example(input: &str, answer: &str) -> Example {
    Example {
        input: input.into(),
        rationale: None,
        answer: answer.into(),
        enabled: true,
        steps: vec![],
    }
}

fn template(examples: Vec<Example>) -> Template {
    let mut t = promptlab::store::template::resolve("sentiment").unwrap().0;
    t.name = "labels".into();
    t.instruction = Some("Answer yes or no.".into());
    t.examples = examples;
    t.strategy = Strategy::Direct;
    t.answer = AnswerSpec::of(AnswerKind::Choice);
    t.answer.choices = vec!["yes".into(), "no".into()];
    t.sampling.n = 1;
    t.sampling.seed = 1;
    t
}

fn dataset(items: impl IntoIterator<Item = (String, &'static str)>) -> Dataset {
    Dataset {
        name: "mock".into(),
        items: items
            .into_iter()
            .enumerate()
            .map(|(i, (input, target))| Item {
                id: i.to_string(),
                input,
                targets: vec![target.into()],
            })
            .collect(),
        problems: vec![],
    }
}

async fn analyse(
    t: Template,
    data: Dataset,
    backend: Arc<dyn Backend>,
    orders: usize,
    cache: Option<Arc<Cache>>,
) -> (Analysed, Vec<JobEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let job = ExamplesJob {
        dataset: data,
        settings: Settings {
            orders,
            seed: t.sampling.seed,
            ..Settings::default()
        },
        template: t,
        mode: Mode::Completion,
        backend,
        opts: EvalOptions::new(4, cache, CancellationToken::new()),
    };
    let a = job
        .run(&(Arc::new(move |e| seen.lock().unwrap().push(e)) as _))
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    (a, events)
}

fn loo(r: &Report) -> &[demos::Contribution] {
    r.analyses
        .iter()
        .find_map(|a| match a {
            Analysis::LeaveOneOut { contributions } => Some(contributions.as_slice()),
            _ => None,
        })
        .expect("leave-one-out")
}

fn labels(r: &Report) -> &demos::Labels {
    r.analyses
        .iter()
        .find_map(|a| match a {
            Analysis::Labels(l) => Some(l),
            _ => None,
        })
        .expect("label controls")
}

fn order(r: &Report) -> &demos::OrderSpread {
    r.analyses
        .iter()
        .find_map(|a| match a {
            Analysis::Order(o) => Some(o),
            _ => None,
        })
        .expect("orders")
}

fn shows(demos: &[(String, String)], input: &str) -> bool {
    demos.iter().any(|(i, _)| i == input)
}

#[tokio::test]
async fn leave_one_out_finds_the_example_that_matters_and_the_one_that_hurts() {
    // Questions of kind A are answered right only when the key example is shown; questions
    // of kind B are answered wrong whenever the bad example is shown.
    let mock = Mock::new(|demos, query| {
        let right = if query.contains("kind A") {
            shows(demos, "the key example")
        } else {
            !shows(demos, "the bad example")
        };
        if right { "yes" } else { "no" }.into()
    });
    let t = template(vec![
        example("a plain example", "yes"),
        example("the key example", "yes"),
        example("the bad example", "no"),
        example("another plain one", "no"),
    ]);
    let data = dataset((0..40).map(|i| {
        let kind = if i < 20 { "A" } else { "B" };
        (format!("question {i} of kind {kind}"), "yes")
    }));
    let (a, events) = analyse(t, data, mock, 0, None).await;
    let c = loo(&a.report);
    assert_eq!(
        c.iter().map(|c| c.example).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    let key = c[1].paired.unwrap();
    assert_eq!((key.a, key.b, key.diff), (0.0, 0.5, 0.5));
    assert!(key.low > 0.0);
    assert_eq!(c[1].verdict, Some(Verdict::Better));
    let bad = c[2].paired.unwrap();
    assert_eq!(bad.diff, -0.5);
    assert!(c[2].removal_helps && bad.high < 0.0);
    assert_eq!(c[2].verdict, Some(Verdict::Worse));
    for plain in [&c[0], &c[3]] {
        assert_eq!(plain.paired.unwrap().diff, 0.0);
        assert!(!plain.removal_helps);
    }
    // Both faces see it as an evaluation of its sets, then the analysis.
    assert!(
        matches!(&events[0], JobEvent::EvalStarted { variants, .. } if variants.len() == a.sets.len())
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, JobEvent::ItemDone { .. }))
    );
    assert!(matches!(events.last(), Some(JobEvent::Analysed(_))));
}

/// Items keyed to the examples' topics; the right label is the gold label of the example on
/// the same topic.
fn topics() -> (Template, Dataset) {
    let gold = ["yes", "no", "yes", "no", "yes", "no"];
    let t = template(
        gold.iter()
            .enumerate()
            .map(|(k, l)| example(&format!("about topic{k}"), l))
            .collect(),
    );
    let data =
        dataset((0..42).map(move |i| (format!("again topic{}, case {i}", i % 6), gold[i % 6])));
    (t, data)
}

fn topic_of(query: &str) -> String {
    query
        .split([' ', ','])
        .find(|w| w.starts_with("topic"))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_model_that_copies_the_labels_is_found_to_read_them() {
    let mock = Mock::new(|demos, query| {
        let topic = topic_of(query);
        demos
            .iter()
            .find(|(i, _)| i.ends_with(&topic))
            .map_or("maybe".into(), |(_, l)| l.clone())
    });
    let (t, data) = topics();
    let sets = demos::sets(
        &t,
        &Settings {
            orders: 0,
            ..Settings::default()
        },
        false,
    )
    .unwrap();
    let random = sets.iter().find(|s| s.name == "random labels").unwrap();
    let kept: Vec<bool> = t
        .examples
        .iter()
        .zip(&random.template.examples)
        .map(|(g, r)| g.answer == r.answer)
        .collect();
    let (a, _) = analyse(t, data, mock, 0, None).await;
    let l = labels(&a.report);
    let row = |c| l.rows.iter().find(|r| r.control == c).unwrap();
    assert_eq!(row(Control::Gold).accuracy.unwrap().value, 1.0);
    // Random labels score exactly the items whose example kept its label.
    let expected = kept.iter().filter(|k| **k).count() as f64 / 6.0;
    assert!((row(Control::Random).accuracy.unwrap().value - expected).abs() < 1e-9);
    assert_eq!(row(Control::Flipped).accuracy.unwrap().value, 0.0);
    assert!(
        row(Control::Flipped)
            .words
            .starts_with("this model reads your labels: flipped labels score 100 points lower"),
        "{}",
        row(Control::Flipped).words
    );
    assert_eq!(row(Control::None).unparsed_rate, 1.0);
    assert!(row(Control::None).words.starts_with("your examples help"));
    assert_eq!(l.reads_labels, Some(true));
    assert!(
        l.verdict.starts_with("this model reads your labels"),
        "{}",
        l.verdict
    );
}

#[tokio::test]
async fn a_model_that_only_learns_the_format_is_found_not_to_read_labels() {
    // It knows every answer, but writes one only when it has seen the format.
    let (t, data) = topics();
    let truth: Vec<(String, String)> = data
        .items
        .iter()
        .map(|i| (i.input.clone(), i.targets[0].clone()))
        .collect();
    let mock = Mock::new(move |demos, query| {
        if demos.is_empty() {
            return "it depends".into();
        }
        truth.iter().find(|(q, _)| q == query).unwrap().1.clone()
    });
    let (a, _) = analyse(t, data, mock, 0, None).await;
    let l = labels(&a.report);
    assert_eq!(l.reads_labels, Some(false));
    assert!(
        l.verdict.starts_with(
            "this model does not read your labels: random labels score within 0 points [",
        ),
        "{}",
        l.verdict
    );
    let flipped = l
        .rows
        .iter()
        .find(|r| r.control == Control::Flipped)
        .unwrap();
    assert!(
        flipped
            .words
            .starts_with("this model does not follow flipped labels")
    );
    let none = l.rows.iter().find(|r| r.control == Control::None).unwrap();
    assert!(
        none.words
            .starts_with("your examples help: without them the model scores 100 points lower")
    );
}

#[tokio::test]
async fn orders_spread_and_the_best_one_is_confirmed_on_other_items() {
    // Right only when the key example comes first.
    let mock = Mock::new(|demos, _| {
        if demos.first().is_some_and(|(i, _)| i == "the key example") {
            "yes"
        } else {
            "no"
        }
        .into()
    });
    let t = template(vec![
        example("one", "yes"),
        example("the key example", "yes"),
        example("three", "no"),
        example("four", "no"),
    ]);
    let data = dataset((0..30).map(|i| (format!("question {i}"), "yes")));
    let (a, _) = analyse(t, data, mock, 8, None).await;
    let o = order(&a.report);
    assert_eq!(o.orders.len(), 8);
    assert_eq!(o.given.unwrap().value, 0.0);
    for r in &o.orders {
        let first = r.order[0] == 1;
        assert_eq!(
            r.accuracy.unwrap().value,
            if first { 1.0 } else { 0.0 },
            "{}",
            r.name
        );
    }
    assert!(
        o.orders.iter().any(|r| r.order[0] == 1),
        "the seed draws an order with the key first"
    );
    assert_eq!(o.orders[o.max].accuracy.unwrap().value, 1.0);
    assert_eq!(o.orders[o.min].accuracy.unwrap().value, 0.0);
    let best = o.best.as_ref().unwrap();
    assert_eq!(best.order[0], 1);
    assert!(best.confirmed, "{}", best.words);
    assert_eq!(best.chosen_on, 15);
}

#[tokio::test]
async fn a_second_analysis_comes_from_the_cache_and_repeated_sets_are_sampled_once() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(Cache::open(dir.path()).unwrap());
    let mock = Mock::new(|demos, _| if demos.len() > 1 { "yes" } else { "no" }.into());
    // One label only: no random or flipped labels; two examples: one other order.
    let mut t = template(vec![example("first", "yes"), example("second", "yes")]);
    t.answer = AnswerSpec::of(AnswerKind::Text);
    let data = dataset((0..10).map(|i| (format!("question {i}"), "yes")));
    let (a, _) = analyse(
        t.clone(),
        data.clone(),
        mock.clone(),
        8,
        Some(cache.clone()),
    )
    .await;
    let names: Vec<&str> = a.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "given",
            "without #1",
            "without #2",
            "no examples",
            "order 2 1",
            "kNN k=1"
        ]
    );
    assert!(a.sets.iter().all(|s| matches!(
        s.kind,
        Kind::Given
            | Kind::Without { .. }
            | Kind::Labels { .. }
            | Kind::Order { .. }
            | Kind::Selected { .. }
    )));
    let first = *mock.prompts.lock().unwrap();
    // kNN with k=1 shows one example, a prompt leave-one-out already sent: served by the cache.
    assert_eq!(first, 50);
    let knn = a.sets.iter().find(|s| s.name == "kNN k=1").unwrap();
    assert_eq!((knn.fresh, knn.cached), (0, 10));
    let knn_tokens: u64 = a
        .results
        .last()
        .unwrap()
        .per_item
        .iter()
        .flat_map(|i| i.all_paths())
        .map(|p| u64::from(p.usage().prompt_tokens))
        .sum();
    assert!(
        a.prompt_tokens.sent > 0 && a.prompt_tokens.sent + knn_tokens == a.prompt_tokens.all_sets
    );
    let (b, _) = analyse(t, data, mock.clone(), 8, Some(cache)).await;
    assert_eq!(
        *mock.prompts.lock().unwrap(),
        first,
        "nothing sent the second time"
    );
    assert_eq!(b.prompt_tokens.sent, 0);
    assert_eq!(b.prompt_tokens.all_sets, a.prompt_tokens.all_sets);
    assert_eq!(
        serde_json::to_value(&b.report).unwrap(),
        serde_json::to_value(&a.report).unwrap()
    );
}

#[test]
fn the_binary_reports_the_analysis_as_json_and_writes_its_report() {
    let dirs = tempfile::tempdir().unwrap();
    let out_dir = dirs.path().join("report");
    let out = common::key_example_analysis(&dirs, 12, &out_dir);
    let v = common::ok_json(&out);
    assert_eq!(v["items"], 12);
    assert_eq!(v["partial"], false);
    assert!(v["provenance"]["promptlab"].is_string());
    let analyses = v["analysis"]["report"]["analyses"].as_array().unwrap();
    assert_eq!(analyses[0]["analysis"], "leave_one_out");
    let diffs: Vec<f64> = analyses[0]["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["paired"]["diff"].as_f64().unwrap())
        .collect();
    assert_eq!(diffs, [0.0, 1.0, 0.0]);
    assert_eq!(analyses[1]["analysis"], "labels");
    assert_eq!(analyses[1]["reads_labels"], false);
    assert_eq!(analyses[2]["analysis"], "order");
    assert_eq!(analyses[2]["orders"].as_array().unwrap().len(), 2);
    // A script cannot score options: calibration says so; kNN (k=2 of 3) is measured.
    assert_eq!(analyses[3]["analysis"], "calibration");
    assert!(
        analyses[3]["unavailable"]
            .as_str()
            .unwrap()
            .contains("cannot score options"),
        "{}",
        analyses[3]
    );
    assert_eq!(analyses[4]["analysis"], "selection");
    assert_eq!(analyses[4]["k"], 2);
    assert_eq!(analyses[4]["by"], "content words");
    let sets = v["analysis"]["sets"].as_array().unwrap();
    assert_eq!(sets[0]["set"], "given");
    assert!(v["analysis"]["prompt_tokens"]["sent"].as_u64().unwrap() > 0);
    let md = std::fs::read_to_string(out_dir.join("examples.md")).unwrap();
    assert!(
        md.contains("## Leave-one-out") && md.contains("the key example → yes"),
        "{md}"
    );
    assert!(
        md.contains("## Calibration") && md.contains("## Selection: each query's 2 nearest"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("examples.json")).unwrap())
            .unwrap();
    assert_eq!(json["analysis"]["report"], v["analysis"]["report"]);
}

/// Samples "yes" whatever it reads; scores the options 6 to 1 towards "yes" whatever it reads,
/// and 3 to 1 towards the label the query's words call for: a known option bias.
struct Biased;

fn biased(prompt: &str, option: &str) -> f64 {
    let query = prompt.rsplit("Q: ").next().unwrap_or("");
    let weight = |o: &str| {
        let bias: f64 = if o == "yes" { 6.0 } else { 1.0 };
        let fits =
            (o == "yes" && query.contains("loved")) || (o == "no" && query.contains("hated"));
        bias * if fits { 3.0 } else { 1.0 }
    };
    let total = weight("yes") + weight("no");
    (weight(option.trim()) / total).ln()
}

impl Backend for Biased {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "biased", Mode::Completion)
    }
    fn stream(&self, r: SampleRequest) -> SampleStream {
        Mock::new(|_, _| "yes".into()).stream(r)
    }
    fn score(&self, prompt: &Prompt, options: &[String]) -> Option<ScoreFuture> {
        let Prompt::Completion(p) = prompt else {
            return None;
        };
        let scores = Scores {
            logprobs: options.iter().map(|o| biased(p, o)).collect(),
            prompt_tokens: p.len() as u32 / 4,
        };
        Some(Box::pin(async move { Ok(scores) }))
    }
}

fn calibration(r: &Report) -> &demos::Calibration {
    r.analyses
        .iter()
        .find_map(|a| match a {
            Analysis::Calibration(c) => Some(c.as_ref()),
            _ => None,
        })
        .expect("calibration")
}

fn selection(r: &Report) -> &demos::Selection {
    r.analyses
        .iter()
        .find_map(|a| match a {
            Analysis::Selection(s) => Some(s.as_ref()),
            _ => None,
        })
        .expect("selection")
}

#[tokio::test]
async fn calibration_against_a_known_option_bias_raises_accuracy() {
    let t = template(vec![
        example("I loved the soup.", "yes"),
        example("I hated the bread.", "no"),
    ]);
    let data = dataset((0..30).map(|i| {
        let (word, label) = if i % 2 == 0 {
            ("loved", "yes")
        } else {
            ("hated", "no")
        };
        (format!("Review {i}: I {word} this film."), label)
    }));
    let (a, _) = analyse(t, data, Arc::new(Biased), 0, None).await;
    let c = calibration(&a.report);
    assert_eq!(c.given_mode, "sampled", "the given set samples");
    assert_eq!(c.given.unwrap().value, 0.5, "sampled: always yes");
    assert_eq!(
        c.scored.unwrap().value,
        0.5,
        "the plain option scores: always yes"
    );
    assert_eq!(c.calibrated.unwrap().value, 1.0, "the bias divided out");
    let p = c.versus_scored.unwrap();
    assert!(p.diff == 0.5 && p.low > 0.0, "{p:?}");
    assert_eq!(c.verdict, Some(Verdict::Better));
    assert!(
        c.words
            .starts_with("calibration helps: calibrated options score 50 points higher"),
        "{}",
        c.words
    );
    let set = a.sets.iter().find(|s| s.kind == Kind::Calibrated).unwrap();
    assert_eq!(set.accuracy, 1.0);
}

#[tokio::test]
async fn knn_selection_beats_the_fixed_set_where_the_right_neighbours_are_known() {
    // Pure recency: the answer is the last demonstration's. The fixed set always ends on
    // hockey; each query's nearest example (by content words) is its own sport's.
    let mock = Mock::new(|demos, _| demos.last().map_or(String::new(), |(_, a)| a.clone()));
    let mut t = template(vec![
        example("Which sport has goalies and penalty kicks?", "football"),
        example("Which sport has rackets, nets and a serve?", "tennis"),
        example("Which sport has hoops, dribbling and dunks?", "basketball"),
        example("Which sport has pucks, sticks and ice?", "hockey"),
    ]);
    t.answer = AnswerSpec::of(AnswerKind::Text);
    let asks = [
        ("the puck on the ice", "hockey"),
        ("a goalie facing penalty kicks", "football"),
        ("a racket and a serve", "tennis"),
        ("the dunks through the hoops", "basketball"),
    ];
    let data = dataset((0..24).map(|i| {
        let (q, a) = asks[i % 4];
        (format!("Name the sport of {q} (case {i})."), a)
    }));
    let (a, _) = analyse(t, data, mock, 0, None).await;
    let s = selection(&a.report);
    assert_eq!((s.k, s.by.as_str()), (3, "content words"));
    assert_eq!(s.fixed.unwrap().value, 0.25);
    assert_eq!(s.selected.unwrap().value, 1.0);
    let p = s.paired.unwrap();
    assert!(p.diff == 0.75 && p.low > 0.0, "{p:?}");
    assert_eq!(s.verdict, Some(Verdict::Better));
    assert!(
        s.words
            .contains("choose each query's examples by similarity"),
        "{}",
        s.words
    );
    // Text answers that are not labels: no calibration set.
    assert!(a.sets.iter().all(|s| s.kind != Kind::Calibrated));
}

/// A model that takes a while to answer and notes how many example sets it is answering at
/// once.
struct Slow {
    in_flight: Arc<Mutex<std::collections::HashMap<String, usize>>>,
    most: Arc<Mutex<usize>>,
}

impl Backend for Slow {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "slow", Mode::Completion)
    }
    fn stream(&self, r: SampleRequest) -> SampleStream {
        let (demos, _) = read_prompt(&r.prompt.to_string());
        let key = format!("{demos:?}");
        let (flight, most) = (self.in_flight.clone(), self.most.clone());
        stream::once(async move {
            {
                let mut f = flight.lock().unwrap();
                *f.entry(key.clone()).or_default() += 1;
                let sets = f.values().filter(|n| **n > 0).count();
                let mut m = most.lock().unwrap();
                *m = (*m).max(sets);
            }
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            *flight.lock().unwrap().get_mut(&key).unwrap() -= 1;
            stream::iter([
                Ok(StreamEvent::Text(" yes".into())),
                Ok(StreamEvent::Done(Finish {
                    reason: "stop".into(),
                    usage: Usage {
                        prompt_tokens: 10,
                        completion_tokens: 1,
                    },
                    reasoning_tokens: 0,
                    logprob: None,
                    confidence: None,
                })),
            ])
        })
        .flatten()
        .boxed()
    }
}

#[tokio::test]
async fn the_next_sets_items_are_sent_while_a_set_finishes_and_results_keep_their_order() {
    let t = template(vec![
        example("alpha", "yes"),
        example("beta", "no"),
        example("gamma", "yes"),
    ]);
    let data = dataset([("one".to_string(), "yes"), ("two".to_string(), "no")]);
    let slow = Arc::new(Slow {
        in_flight: Arc::default(),
        most: Arc::default(),
    });
    let settings = Settings {
        orders: 2,
        seed: t.sampling.seed,
        ..Settings::default()
    };
    let want: Vec<String> = demos::sets(&t, &settings, false)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let (a, _) = analyse(t, data, slow.clone(), 2, None).await;
    let most = *slow.most.lock().unwrap();
    assert!(
        most >= 2,
        "two items a set and four samples at once: the next set's items go out with the last ones of a set ({most} at most)"
    );
    let got: Vec<String> = a.sets.iter().map(|s| s.name.clone()).collect();
    assert_eq!(got, want);
    assert!(!a.cancelled);
    let sampled = a.sets.iter().filter(|s| s.kind != Kind::Calibrated);
    assert!(sampled.clone().all(|s| s.fresh == 2 || s.same_as.is_some()));
}

/// `Biased`, saying that it scores options: an analysis then scores its label sets.
struct Scoring;

impl Backend for Scoring {
    fn info(&self) -> BackendInfo {
        BackendInfo::new("mock", "scoring", Mode::Completion)
    }
    fn stream(&self, r: SampleRequest) -> SampleStream {
        Biased.stream(r)
    }
    fn score(&self, prompt: &Prompt, options: &[String]) -> Option<ScoreFuture> {
        Biased.score(prompt, options)
    }
    fn scores_options(&self, _mode: Mode) -> bool {
        true
    }
}

async fn analyse_in(
    t: Template,
    data: Dataset,
    backend: Arc<dyn Backend>,
    sampled: bool,
) -> Analysed {
    let job = ExamplesJob {
        dataset: data,
        settings: Settings {
            orders: 2,
            seed: t.sampling.seed,
            sampled,
        },
        template: t,
        mode: Mode::Completion,
        backend,
        opts: EvalOptions::new(4, None, CancellationToken::new()),
    };
    job.run(&(Arc::new(|_| {}) as _)).await.unwrap()
}

fn reviews() -> (Template, Dataset) {
    let t = template(vec![
        example("I loved the soup.", "yes"),
        example("I hated the bread.", "no"),
        example("I loved the wine.", "yes"),
    ]);
    let data = dataset((0..12).map(|i| {
        let (word, label) = if i % 2 == 0 {
            ("loved", "yes")
        } else {
            ("hated", "no")
        };
        (format!("Review {i}: I {word} this film."), label)
    }));
    (t, data)
}

#[tokio::test]
async fn a_label_template_on_a_backend_that_scores_is_analysed_by_scored_options() {
    let (t, data) = reviews();
    let a = analyse_in(t, data, Arc::new(Scoring), false).await;
    let reading = a.report.reading.clone().unwrap();
    assert_eq!(
        (mode_of(reading.answers), reading.why),
        ("scored options", None)
    );
    for (set, r) in a.sets.iter().zip(&a.results) {
        let want = match set.kind {
            Kind::Calibrated => "scored options, calibrated",
            _ => "scored options",
        };
        assert_eq!(set.mode, want, "{}", set.name);
        assert!(r.answers_from.is_some(), "{}: nothing sampled", set.name);
        assert_eq!(
            r.per_item[0].paths[0].stages[0].finish_reason.as_deref(),
            Some("scored")
        );
    }
    // The no-examples set is scored over the label space too.
    let none = a.sets.iter().find(|s| s.name == "no examples").unwrap();
    assert_eq!(none.unparsed_rate, 0.0);
    // The plain option scores lean to "yes": the given set scores 50%, as scored.
    assert_eq!(a.report.given.unwrap().value, 0.5);
    assert_eq!(calibration(&a.report).given_mode, "scored options");
    let record = ExamplesRecord {
        analysed: &a,
        dataset: "mock",
        items: 12,
        template: "t",
        orders: 2,
        seed: 1,
    };
    assert!(
        record
            .text(false)
            .contains("answers: scored options (each set's options")
    );
    let json = record.json();
    assert_eq!(
        json["analysis"]["report"]["reading"]["mode"],
        "scored options"
    );
    assert_eq!(json["analysis"]["sets"][0]["mode"], "scored options");
}

#[tokio::test]
async fn sampled_when_asked_or_when_the_backend_or_template_cannot_be_scored_and_says_why() {
    let (t, data) = reviews();
    let asked = analyse_in(t.clone(), data.clone(), Arc::new(Scoring), true).await;
    let unable = analyse_in(t.clone(), data.clone(), Arc::new(Biased), false).await;
    let mut numbers = t.clone();
    numbers.answer = AnswerSpec::of(AnswerKind::Number);
    let not_labels = analyse_in(numbers, data, Arc::new(Scoring), false).await;
    for (a, why) in [
        (&asked, "asked for: --sampled"),
        (&unable, "this backend cannot score options"),
        (
            &not_labels,
            "only a `direct` template whose answers are labels",
        ),
    ] {
        let reading = a.report.reading.clone().unwrap();
        assert_eq!(mode_of(reading.answers), "sampled");
        assert!(
            reading.why.as_deref().unwrap().starts_with(why),
            "{reading:?}"
        );
        assert!(
            reading.words().starts_with("answers: sampled ("),
            "{reading:?}"
        );
        for (set, r) in a.sets.iter().zip(&a.results) {
            if set.kind != Kind::Calibrated {
                assert_eq!(set.mode, "sampled", "{}", set.name);
                assert!(r.answers_from.is_none(), "{}", set.name);
            }
        }
    }
    // Sampled, the label template's calibration set is still scored.
    let c = asked
        .sets
        .iter()
        .find(|s| s.kind == Kind::Calibrated)
        .unwrap();
    assert_eq!(c.mode, "scored options, calibrated");
}
