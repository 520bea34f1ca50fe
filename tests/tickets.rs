//! The shipped specialist example: `templates/tickets.yaml` (built in) and the support tickets
//! `scripts/make-tickets.py` writes to `assets/tickets.jsonl` and `assets/tickets-test.jsonl`.
//! They load, every target is one of the template's teams and reads back as itself, the
//! held-out rows are not training rows, and the script writes the shipped files byte for byte.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use promptlab::core::extract::Extractor;
use promptlab::core::spec::answer::AnswerKind;
use promptlab::store::dataset::{Dataset, load_dataset};
use promptlab::store::template::{BUILTIN, load_template_file, parse_template};

fn asset(name: &str) -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name);
    load_dataset(&path, true).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_template_is_built_in_and_matches_its_file() {
    let yaml = BUILTIN
        .iter()
        .find(|(n, _)| *n == "tickets")
        .map(|(_, y)| *y)
        .expect("tickets is a built-in template");
    let t = parse_template(yaml, "built-in tickets").unwrap();
    let file =
        load_template_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/tickets.yaml"))
            .unwrap();
    assert_eq!(t.name, "tickets");
    assert_eq!(t.answer.kind, AnswerKind::Choice);
    assert_eq!(t.answer.choices, file.answer.choices);
    // One example per team, each answering with a team.
    let answers: Vec<&str> = t.examples.iter().map(|e| e.answer.as_str()).collect();
    assert_eq!(
        answers,
        t.answer
            .choices
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_datasets_load_with_every_team_and_no_overlap() {
    let t = parse_template(
        BUILTIN.iter().find(|(n, _)| *n == "tickets").unwrap().1,
        "tickets",
    )
    .unwrap();
    let x = Extractor::new(&t.answer).unwrap();
    let (train, test) = (asset("tickets.jsonl"), asset("tickets-test.jsonl"));
    assert!(train.problems.is_empty() && test.problems.is_empty());
    assert_eq!((train.items.len(), test.items.len()), (260, 100));
    for d in [&train, &test] {
        let mut per_team: BTreeMap<String, usize> = BTreeMap::new();
        for item in &d.items {
            let target = &item.targets[0];
            assert_eq!(
                x.extract(target, &item.input).as_deref(),
                Some(target.as_str()),
                "{}: {target} is not one of the teams",
                item.id
            );
            *per_team.entry(target.clone()).or_default() += 1;
        }
        assert_eq!(per_team.len(), 6, "{}: {per_team:?}", d.name);
        assert!(per_team.values().all(|&n| n >= 10), "{per_team:?}");
    }
    let seen: HashSet<&str> = train.items.iter().map(|i| i.input.as_str()).collect();
    let ids: HashSet<&str> = train.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 260);
    for item in &test.items {
        assert!(
            !seen.contains(item.input.as_str()),
            "{} is a training row",
            item.id
        );
    }
    for e in &t.examples {
        assert!(
            !test.items.iter().any(|i| i.input == e.input),
            "{:?}",
            e.input
        );
    }
}

#[test]
fn the_script_writes_the_shipped_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new("python3")
        .arg(root.join("scripts/make-tickets.py"))
        .arg(dir.path())
        .status()
        .expect("python3 runs");
    assert!(status.success());
    for name in ["tickets.jsonl", "tickets-test.jsonl"] {
        assert_eq!(
            std::fs::read(dir.path().join(name)).unwrap(),
            std::fs::read(root.join("assets").join(name)).unwrap(),
            "{name} differs from what scripts/make-tickets.py writes"
        );
    }
}
