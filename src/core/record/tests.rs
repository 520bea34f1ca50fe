use super::*;
use crate::core::extract::AnswerKind;
use crate::core::free::{self, ClusterRule};

fn stage(stage: Stage, preface: &str, text: &str, finish: &str) -> StageRecord {
    StageRecord {
        preface: preface.into(),
        finish_reason: Some(finish.into()),
        completion_tokens: 5,
        ..StageRecord::new(stage, text)
    }
}

fn number() -> Extractor {
    Extractor::new(&AnswerSpec::of(AnswerKind::Number)).unwrap()
}

#[test]
fn zero_shot_cot_reads_the_extraction_stage_not_the_reasoning() {
    let mut p = PathRecord::new(0);
    p.stages = vec![
        stage(
            Stage::Reason,
            "",
            " The answer is 12? No: 3 + 4 = 7, times 2 is 14.",
            LENGTH,
        ),
        stage(
            Stage::Extract,
            "\nTherefore, the answer (arabic numerals) is",
            " 14.",
            "stop",
        ),
    ];
    settle(&mut p, &number(), "");
    assert_eq!(p.answer.as_deref(), Some("14"));
    assert!(p.truncated(), "the reasoning stage was cut");
    assert_eq!(p.finish_reason(), Some("stop"));
    assert!(p.text().ends_with("is 14."));
    assert_eq!(p.usage().completion_tokens, 10);
}

#[test]
fn least_to_most_reads_the_last_sub_answer_and_each_step() {
    let mut p = PathRecord::new(0);
    let mut s0 = stage(
        Stage::Solve(0),
        "\n\nQ: a?\nA:",
        " The answer is 9.",
        "stop",
    );
    s0.question = Some("a?".into());
    let mut s1 = stage(Stage::Solve(1), "\n\nQ: b?\nA:", " 9 * 2 = 18.", "stop");
    s1.question = Some("b?".into());
    p.stages = vec![stage(Stage::Decompose, "", "1. a?", "stop"), s0, s1];
    settle(&mut p, &number(), "");
    assert_eq!(p.answer.as_deref(), Some("18"));
    let steps = p.steps();
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[0].question, steps[0].answer), ("a?", Some("9")));
}

fn free_paths(texts: &[&str], spec: &AnswerSpec) -> Vec<PathRecord> {
    let e = Extractor::new(spec).unwrap();
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut p = PathRecord::new(i);
            p.stages = vec![stage(Stage::Answer, "", t, "stop")];
            settle(&mut p, &e, "");
            p
        })
        .collect()
}

#[test]
fn free_answers_vote_as_clusters_named_by_their_representative() {
    let spec = AnswerSpec::of(AnswerKind::Free);
    let paths = free_paths(
        &[
            "It was signed at Westphalia in 1648.",
            "The answer is 1715.",
            "The treaty was signed in 1648 at Westphalia.",
            "   ",
            "Westphalia, 1648",
            "Utrecht, 1715",
        ],
        &spec,
    );
    assert_eq!(paths[3].answer, None, "an empty reply is no answer");
    let t = tally(&paths, &Voting::of(&spec));
    assert_eq!(
        t.winner.as_deref(),
        Some("it was signed at westphalia in 1648")
    );
    assert_eq!(t.entries[0].paths, vec![0, 2, 4]);
    assert_eq!(t.entries[0].members.len(), 3);
    assert_eq!(t.entries[1].paths, vec![1, 5], "1715 never joins 1648");
    assert_eq!(t.entries.last().unwrap().answer, None);
    let c = t.clustering.as_ref().unwrap();
    assert_eq!(
        (c.rule, c.similarity, c.note.as_deref()),
        (ClusterRule::Overlap, 0.7, None)
    );
    assert!((c.dispersion - free::dispersion([3, 2])).abs() < 1e-12);
    // Early-stop rules and maj@k read the same labels.
    let refs: Vec<&PathRecord> = paths.iter().collect();
    let labels = Voting::of(&spec).labels(&refs);
    assert_eq!(labels[2], labels[0]);
    assert_eq!(labels[3], None);
    // A stricter threshold splits the paraphrases; exact kinds never cluster.
    let strict = AnswerSpec {
        similarity: Some(1.0),
        ..spec.clone()
    };
    assert!(tally(&paths, &Voting::of(&strict)).entries.len() >= 3);
    assert_eq!(tally(&paths, &Voting::exact()).clustering, None);
}

#[test]
fn usc_picks_the_selected_paths_cluster_and_falls_back_to_overlap_with_a_note() {
    let spec = AnswerSpec {
        cluster: Some(ClusterRule::Usc),
        ..AnswerSpec::of(AnswerKind::Free)
    };
    let paths = free_paths(&["Paris", "Lyon", "Paris, France", "Lyon, France"], &spec);
    let picked = Selection {
        responses: vec![0, 1, 2, 3],
        reply: "The most consistent response is Response 2".into(),
        chosen: Some(1),
        error: None,
    };
    let t = tally(&paths, &Voting::of(&spec).with_selection(Some(&picked)));
    assert_eq!(t.winner.as_deref(), Some("lyon"));
    assert_eq!(
        t.entries[0].answer.as_deref(),
        Some("lyon"),
        "the winner comes first"
    );
    assert_eq!(t.agreement, 0.5);
    assert_eq!(t.clustering.unwrap().note, None);
    let vague = Selection {
        chosen: None,
        reply: "I cannot say".into(),
        ..picked.clone()
    };
    let t = tally(&paths, &Voting::of(&spec).with_selection(Some(&vague)));
    assert_eq!(t.winner.as_deref(), Some("paris"), "overlap's winner");
    assert!(
        t.clustering
            .unwrap()
            .note
            .unwrap()
            .contains("named no response")
    );
    let t = tally(&paths, &Voting::of(&spec));
    assert!(
        t.clustering
            .unwrap()
            .note
            .unwrap()
            .contains("needs the model")
    );
}

#[test]
fn embed_clusters_by_cosine_keeps_numbers_exact_and_says_when_it_had_no_embeddings() {
    let spec = AnswerSpec {
        cluster: Some(ClusterRule::Embed),
        ..AnswerSpec::of(AnswerKind::Free)
    };
    let mut paths = free_paths(
        &["the big apple", "new york city", "in 1648", "in 1748"],
        &spec,
    );
    let t = tally(&paths, &Voting::of(&spec));
    assert_eq!(t.entries.len(), 4, "by overlap nothing is alike");
    assert!(
        t.clustering
            .unwrap()
            .note
            .unwrap()
            .contains("no --embed-model")
    );
    for (p, v) in paths
        .iter_mut()
        .zip([[1.0, 0.1], [0.9, 0.2], [0.0, 1.0], [0.0, 1.0]])
    {
        p.embedding = Some(v.to_vec().into());
    }
    let t = tally(&paths, &Voting::of(&spec));
    assert_eq!(t.entries[0].paths, vec![0, 1], "alike by meaning");
    assert_eq!(
        t.entries.len(),
        3,
        "1648 and 1748 stay apart though their vectors agree"
    );
    assert_eq!(t.clustering.unwrap().note, None);
}

#[test]
fn failed_paths_have_no_answer_and_no_vote() {
    let mut p = PathRecord::new(3);
    p.stages = vec![StageRecord::new(Stage::Answer, "The answer is 4")];
    p.error = Some("HTTP 500: boom".into());
    settle(&mut p, &number(), "");
    assert_eq!(p.answer, None);
    assert_eq!(Voting::exact().ballot(&p), None);
}

#[test]
fn format_1_paths_load_as_one_stage() {
    let json = r#"{"index":0,"text":"x. The answer is 18.","answer":"18","finish_reason":"length","prompt_tokens":9,"completion_tokens":7,"latency_ms":5,"error":null,"logprob":{"sum":-1.0,"tokens":7}}"#;
    let p: PathRecord = serde_json::from_str(json).unwrap();
    assert_eq!(p.stages.len(), 1);
    assert_eq!(p.text(), "x. The answer is 18.");
    assert!(p.truncated());
    assert_eq!(p.usage().prompt_tokens, 9);
    assert_eq!(p.logprob().unwrap().tokens, 7);
    let back: PathRecord = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn format_1_chains_keep_their_steps() {
    let json = r#"{"index":0,"text":"Sub-questions:\n1. a?\n\nQ: a?\nA: 9.\n\nQ: b?\nA: 18.","answer":"18","finish_reason":"stop","prompt_tokens":9,"completion_tokens":7,"latency_ms":5,"error":null,"steps":[{"question":"a?","text":"9.","answer":"9"},{"question":"b?","text":"18.","answer":"18"}]}"#;
    let p: PathRecord = serde_json::from_str(json).unwrap();
    assert_eq!(p.stages.len(), 3);
    assert_eq!(p.steps()[1].question, "b?");
    assert_eq!(p.stages[2].finish_reason.as_deref(), Some("stop"));
}

#[test]
fn hosts_never_carry_credentials() {
    assert_eq!(
        host_of("https://user:sk-secret@api.example.com/v1/?key=sk-2#x"),
        "https://api.example.com/v1"
    );
    assert_eq!(
        host_of("http://127.0.0.1:8080/v1/"),
        "http://127.0.0.1:8080/v1"
    );
    assert_eq!(host_of("http://h:1"), "http://h:1");
}
