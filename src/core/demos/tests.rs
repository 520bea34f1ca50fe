use super::*;
use crate::core::spec::answer::AnswerSpec;
use crate::core::stats::Verdict;

fn example(input: &str, answer: &str) -> Example {
    Example {
        input: input.into(),
        rationale: None,
        answer: answer.into(),
        enabled: true,
        steps: vec![],
    }
}

fn template(labels: &[&str], choices: &[&str]) -> Template {
    let mut t: Template = crate::core::spec::template::Template {
        version: 1,
        name: "t".into(),
        description: String::new(),
        instruction: Some("Label it.".into()),
        examples: labels
            .iter()
            .enumerate()
            .map(|(i, l)| example(&format!("input {i}"), l))
            .collect(),
        decomposition: vec![],
        strategy: Strategy::Direct,
        answer: AnswerSpec::of(AnswerKind::Choice),
        sampling: Default::default(),
        mode: None,
        query: None,
        queries: vec![],
        calibrate: Default::default(),
        select: None,
    };
    t.answer.choices = choices.iter().map(|c| c.to_string()).collect();
    t
}

fn answers(t: &Template) -> Vec<&str> {
    t.examples.iter().map(|e| e.answer.as_str()).collect()
}

fn find<'a>(sets: &'a [DemoSet], name: &str) -> &'a DemoSet {
    sets.iter().find(|s| s.name == name).expect(name)
}

#[test]
fn sets_are_given_leave_one_out_controls_and_orders() {
    let mut t = template(&["yes", "no", "yes", "no", "yes"], &["yes", "no"]);
    t.examples[4].enabled = false;
    let sets = sets(&t, &Settings::default(), false).unwrap();
    assert_eq!(sets[0].kind, Kind::Given);
    assert_eq!(sets[0].template.examples.len(), 4, "only the active ones");
    let without: Vec<&DemoSet> = sets
        .iter()
        .filter(|s| matches!(s.kind, Kind::Without { .. }))
        .collect();
    assert_eq!(without.len(), 4);
    let w2 = find(&sets, "without #2");
    assert_eq!(w2.kind, Kind::Without { example: 1 });
    let inputs: Vec<&str> = w2
        .template
        .examples
        .iter()
        .map(|e| e.input.as_str())
        .collect();
    assert_eq!(inputs, ["input 0", "input 2", "input 3"]);
    assert!(find(&sets, "no examples").template.examples.is_empty());
    assert_eq!(
        answers(&find(&sets, "flipped labels").template),
        ["no", "yes", "no", "yes"]
    );
    let random = find(&sets, "random labels");
    assert!(
        answers(&random.template)
            .iter()
            .all(|a| *a == "yes" || *a == "no")
    );
    let orders: Vec<&Vec<usize>> = sets
        .iter()
        .filter_map(|s| match &s.kind {
            Kind::Order { order } => Some(order),
            _ => None,
        })
        .collect();
    assert_eq!(orders.len(), DEFAULT_ORDERS);
    for (i, o) in orders.iter().enumerate() {
        let mut sorted = (*o).clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3], "a permutation of the active examples");
        assert_ne!(**o, [0, 1, 2, 3], "never the given order");
        assert!(!orders[..i].contains(o), "distinct orders");
    }
    // Every set keeps the instruction and the rest of the template.
    assert!(sets.iter().all(|s| s.template.instruction == t.instruction));
}

#[test]
fn the_same_seed_gives_the_same_sets_and_another_seed_other_orders() {
    let t = template(&["a", "b", "c", "a", "b", "c"], &[]);
    let names = |seed| -> Vec<String> {
        sets(
            &t,
            &Settings {
                orders: 8,
                seed,
                ..Settings::default()
            },
            false,
        )
        .unwrap()
        .iter()
        .map(|s| format!("{} {:?}", s.name, answers(&s.template)))
        .collect()
    };
    assert_eq!(names(7), names(7));
    assert_ne!(names(7), names(8));
}

#[test]
fn three_labels_flip_so_none_keeps_its_own_and_few_examples_give_every_order() {
    let t = template(&["a", "b", "c"], &["a", "b", "c"]);
    let sets = sets(&t, &Settings::default(), false).unwrap();
    assert_eq!(
        answers(&find(&sets, "flipped labels").template),
        ["b", "c", "a"]
    );
    let orders = sets
        .iter()
        .filter(|s| matches!(s.kind, Kind::Order { .. }))
        .count();
    assert_eq!(orders, 5, "3! orders but the given one");
}

#[test]
fn numbers_get_random_labels_but_no_flip_and_one_label_gets_neither() {
    let mut t = template(&["4", "7", "9"], &[]);
    t.answer = AnswerSpec::of(AnswerKind::Number);
    let s = sets(&t, &Settings::default(), false).unwrap();
    assert!(s.iter().any(|s| s.name == "random labels"));
    assert!(!s.iter().any(|s| s.name == "flipped labels"));
    let mut one = template(&["yes", "yes"], &[]);
    one.answer = AnswerSpec::of(AnswerKind::Text);
    let s = sets(&one, &Settings::default(), false).unwrap();
    assert!(
        !s.iter()
            .any(|s| matches!(s.kind, Kind::Labels { control } if control != Control::None))
    );
}

#[test]
fn text_answers_are_labels_only_when_a_label_repeats() {
    let mut t = template(&["paris", "rome", "oslo"], &[]);
    t.answer = AnswerSpec::of(AnswerKind::Text);
    assert!(!is_label_template(&t));
    t.examples[2].answer = "Paris".into();
    assert!(is_label_template(&t));
    assert_eq!(label_space(&t), ["paris", "rome"]);
}

#[test]
fn nothing_to_analyse_is_refused() {
    let mut t = template(&["yes"], &[]);
    t.strategy = Strategy::ZeroShotCot;
    assert!(
        sets(&t, &Settings::default(), false)
            .unwrap_err()
            .to_string()
            .contains("zero-shot-cot")
    );
    let mut t = template(&["yes"], &[]);
    t.examples[0].enabled = false;
    assert!(
        sets(&t, &Settings::default(), false)
            .unwrap_err()
            .to_string()
            .contains("no active examples")
    );
}

fn scored(name: &str, kind: Kind, correct: impl Fn(usize) -> bool, n: usize) -> Scored {
    Scored::new(name, kind, (0..n).map(correct).collect(), 0.0)
}

#[test]
fn leave_one_out_finds_the_example_that_matters_and_flags_the_one_that_hurts() {
    let t = template(&["yes", "no", "yes"], &[]);
    let n = 40;
    // Items 0..20 need example 1; items 20..40 are lost to example 3.
    let given = scored("given", Kind::Given, |i| i < 20, n);
    let sets = vec![
        given,
        scored("without #1", Kind::Without { example: 0 }, |i| i < 20, n),
        scored("without #2", Kind::Without { example: 1 }, |_| false, n),
        scored("without #3", Kind::Without { example: 2 }, |_| true, n),
    ];
    let r = analyse(&t, &sets, 1, false);
    let c = r.contributions().unwrap();
    assert_eq!(c.len(), 3);
    let p1 = c[1].paired.unwrap();
    assert!((p1.diff - 0.5).abs() < 1e-9 && p1.low > 0.0);
    assert_eq!(c[1].verdict, Some(Verdict::Better));
    assert!(!c[1].removal_helps);
    assert!(c[2].removal_helps && c[2].paired.unwrap().high < 0.0);
    assert_eq!(c[2].verdict, Some(Verdict::Worse));
    assert_eq!(c[0].paired.unwrap().diff, 0.0);
    assert!(!c[0].removal_helps);
    assert!(c[0].p_holm.unwrap() >= c[0].paired.unwrap().p);
    assert!(c[1].cell().starts_with("+50.0 [+"), "{}", c[1].cell());
}

#[test]
fn label_verdicts_come_out_right_in_both_directions() {
    let t = template(&["yes", "no"], &["yes", "no"]);
    let n = 40;
    let control = |c, f: fn(usize) -> bool| {
        scored(
            c,
            Kind::Labels {
                control: match c {
                    "random labels" => Control::Random,
                    "flipped labels" => Control::Flipped,
                    _ => Control::None,
                },
            },
            f,
            n,
        )
    };
    // Reads labels: random labels lose half the items, flipped lose all.
    let reads = vec![
        scored("given", Kind::Given, |_| true, n),
        control("random labels", |i| i % 2 == 0),
        control("no examples", |i| i % 4 == 0),
        control("flipped labels", |_| false),
    ];
    let l = analyse(&t, &reads, 1, false).labels().unwrap().clone();
    assert_eq!(l.reads_labels, Some(true));
    assert!(
        l.verdict
            .starts_with("this model reads your labels: random labels score 50 points"),
        "{}",
        l.verdict
    );
    assert!(
        l.rows[3].words.contains("flipped labels score 100 points"),
        "{}",
        l.rows[3].words
    );
    assert!(l.rows[2].words.starts_with("your examples help"));
    // Ignores labels: random and flipped within a point or two of gold.
    let ignores = vec![
        scored("given", Kind::Given, |i| i % 5 != 0, n),
        control("random labels", |i| i % 5 != 1),
        control("no examples", |i| i % 5 != 0),
        control("flipped labels", |i| i % 5 != 2),
    ];
    let l = analyse(&t, &ignores, 1, false).labels().unwrap().clone();
    assert_eq!(l.reads_labels, Some(false));
    assert!(
        l.verdict.starts_with(
            "this model does not read your labels: random labels score within 0 points ["
        ),
        "{}",
        l.verdict
    );
    assert!(
        l.rows[3]
            .words
            .starts_with("this model does not follow flipped labels")
    );
    assert!(
        l.rows[2]
            .words
            .starts_with("no detectable difference without examples")
    );
    assert_eq!(l.rows[0].control, Control::Gold);
}

#[test]
fn the_best_order_is_confirmed_only_on_items_it_was_not_chosen_on() {
    let t = template(&["yes", "no", "yes"], &[]);
    let n = 40;
    let order = |name: &str, o: Vec<usize>, f: &dyn Fn(usize) -> bool| {
        Scored::new(name, Kind::Order { order: o }, (0..n).map(f).collect(), 0.0)
    };
    let given = scored("given", Kind::Given, |i| i % 4 == 0, n);
    // One order is right everywhere: chosen, and confirmed on the other half.
    let sets = vec![
        given.clone(),
        order("order 2 1 3", vec![1, 0, 2], &|i| i % 2 == 0),
        order("order 3 2 1", vec![2, 1, 0], &|_| true),
        order("order 1 3 2", vec![0, 2, 1], &|i| i % 4 == 0),
    ];
    let r = analyse(&t, &sets, 3, false);
    let o = r.order().unwrap();
    assert_eq!((o.min, o.median, o.max), (2, 0, 1));
    let b = o.best.as_ref().unwrap();
    assert_eq!(b.order, [2, 1, 0]);
    assert!(b.confirmed, "{}", b.words);
    assert_eq!(b.chosen_on + b.confirm.unwrap().items, n);
    assert!(o.words.contains("confirmed, use it"));
    // An order that wins only on the choosing half by chance is not confirmed on the other.
    let (choose, _) = analysis::split(n, 3);
    let lucky = move |i: usize| choose.contains(&i);
    let sets = vec![
        given,
        order("order 2 1 3", vec![1, 0, 2], &|i| i % 4 == 0),
        order("order 3 2 1", vec![2, 1, 0], &lucky),
    ];
    let r = analyse(&t, &sets, 3, false);
    let b = r.order().unwrap().best.as_ref().unwrap();
    assert_eq!(b.order, [2, 1, 0]);
    assert_eq!(b.chosen_accuracy, 1.0);
    assert!(
        !b.confirmed && b.words.ends_with("not confirmed, keep yours"),
        "{}",
        b.words
    );
}

#[test]
fn label_templates_get_a_calibrated_set_and_a_knn_set() {
    let t = template(&["yes", "no", "yes", "no", "yes"], &["yes", "no"]);
    let sets = sets(&t, &Settings::default(), false).unwrap();
    let cal = find(&sets, "calibrated (scored options)");
    assert_eq!(cal.kind, Kind::Calibrated);
    assert_eq!(cal.template.calibrate, Calibrate::ContentFree);
    assert_eq!(cal.template.examples, sets[0].template.examples);
    let knn = find(&sets, "kNN k=4");
    assert_eq!(knn.kind, Kind::Selected { k: 4 });
    assert_eq!(Select::knn(knn.template.select), Some(4));
    assert_eq!(
        knn.template.examples.len(),
        5,
        "the pool: every active example"
    );
    // The template's own k, capped below the pool so that it selects; every other set fixed.
    let mut own = t.clone();
    own.select = Some(Select {
        by: SelectBy::Knn,
        k: 9,
    });
    let sets = super::sets(&own, &Settings::default(), false).unwrap();
    assert!(sets.iter().any(|s| s.kind == Kind::Selected { k: 4 }));
    assert!(
        sets.iter()
            .filter(|s| !matches!(s.kind, Kind::Selected { .. }))
            .all(|s| s.template.select.is_none())
    );
    // Text labels are scored as the options of their label space; free text is not calibrated,
    // nor a chain of thought; one example cannot be selected from.
    let mut text = t.clone();
    text.answer = AnswerSpec::of(AnswerKind::Text);
    let cal = super::sets(&text, &Settings::default(), false).unwrap();
    let cal = find(&cal, "calibrated (scored options)");
    assert_eq!(cal.template.answer.kind, AnswerKind::Choice);
    assert_eq!(cal.template.answer.choices, ["yes", "no"]);
    let mut free = template(&["a", "b", "c"], &[]);
    free.answer = AnswerSpec::of(AnswerKind::Text);
    assert!(!calibratable(&free));
    let mut cot = t.clone();
    cot.strategy = Strategy::Cot;
    assert!(!calibratable(&cot));
    assert_eq!(knn_k(&template(&["yes"], &["yes", "no"])), None);
}

#[test]
fn calibration_and_selection_are_compared_paired_and_said_in_words() {
    let t = template(&["yes", "no", "yes", "no"], &["yes", "no"]);
    let n = 40;
    let given = scored("given", Kind::Given, |i| i % 2 == 0, n);
    // Calibrated right on every item; the plain pick (always "yes") on half.
    let mut cal = scored("calibrated", Kind::Calibrated, |_| true, n);
    cal.uncalibrated = Some((0..n).map(|i| i % 2 == 0).collect());
    let knn = scored(
        "kNN k=3",
        Kind::Selected { k: 3 },
        |i| i % 2 == 0 || i < 30,
        n,
    );
    let r = analyse(&t, &[given.clone(), cal, knn], 1, true);
    let c = r.calibration().unwrap();
    assert_eq!(c.given_mode, "sampled");
    assert_eq!(c.scored.unwrap().value, 0.5);
    assert_eq!(c.calibrated.unwrap().value, 1.0);
    let p = c.versus_scored.unwrap();
    assert!(p.diff == 0.5 && p.low > 0.0);
    assert_eq!(c.verdict, Some(Verdict::Better));
    assert!(c.words.starts_with("calibration helps"), "{}", c.words);
    assert!(c.words.contains("sampled answers"), "{}", c.words);
    let s = r.selection().unwrap();
    assert_eq!((s.k, s.by.as_str()), (3, "embeddings"));
    assert!((s.paired.unwrap().diff - 0.375).abs() < 1e-9);
    assert!(
        s.words
            .contains("choose each query's examples by similarity"),
        "{}",
        s.words
    );
    // The other way: calibration that changes nothing, kNN no better, a backend that cannot score.
    let mut flat = scored("calibrated", Kind::Calibrated, |i| i % 2 == 0, n);
    flat.uncalibrated = Some(flat.correct.clone());
    let same = scored("kNN k=3", Kind::Selected { k: 3 }, |i| i % 2 == 0, n);
    let r = analyse(&t, &[given.clone(), flat, same], 1, false);
    let c = r.calibration().unwrap();
    assert!(c.words.starts_with("no detectable effect"), "{}", c.words);
    assert!(c.verdict.is_some_and(|v| v != Verdict::Better));
    let s = r.selection().unwrap();
    assert_eq!(s.by, "content words");
    assert!(s.words.contains("keep your fixed examples"), "{}", s.words);
    let mut cannot = scored("calibrated", Kind::Calibrated, |_| false, n);
    cannot.error = Some("the mock backend cannot score options".into());
    let r = analyse(&t, &[given, cannot], 1, false);
    let c = r.calibration().unwrap();
    assert_eq!(
        c.unavailable.as_deref(),
        Some("the mock backend cannot score options")
    );
    assert!(c.words.contains("not measured"));
}
