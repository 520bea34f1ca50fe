//! The search machine driven by hand: proposals, the race, variations, the end.

use super::*;

fn cfg(candidates: usize, rounds: usize, batch: usize, level: f64) -> ApeConfig {
    ApeConfig {
        candidates,
        rounds,
        keep: 1,
        demos: 2,
        seed: 7,
        batch,
        level,
    }
}

fn pairs(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| (format!("{i} + {i}"), (2 * i).to_string()))
        .collect()
}

/// Runs a search to its end (or until `budget` dev items are spent): proposals and variations
/// are answered from `texts` by prompt kind and id, and an instruction is right on item `i`
/// when `right(instruction, i)` (the seed's instruction is `None`). Returns the machine and
/// how many items each instruction was scored on.
fn drive(
    ape: &mut Ape,
    texts: &dyn Fn(&str, usize) -> Option<String>,
    right: &dyn Fn(Option<&str>, usize) -> bool,
    mut budget: usize,
) -> Vec<(Option<String>, usize)> {
    let mut scored: Vec<(Option<String>, usize)> = Vec::new();
    let mut queue = ape.start();
    while let Some(effect) = queue.first().cloned() {
        queue.remove(0);
        let more = match effect {
            ApeEffect::Generate { id, prompt } => ape.handle(ApeEvent::Generated {
                id,
                text: texts(&prompt, id),
            }),
            ApeEffect::Score {
                id,
                instruction,
                items,
            } => {
                if budget < items.len() {
                    break;
                }
                budget -= items.len();
                match scored.iter_mut().find(|(i, _)| *i == instruction) {
                    Some(s) => s.1 += items.len(),
                    None => scored.push((instruction.clone(), items.len())),
                }
                let correct = items.map(|i| right(instruction.as_deref(), i)).collect();
                ape.handle(ApeEvent::Scored {
                    id,
                    correct,
                    samples: 1,
                })
            }
            ApeEffect::Raced { .. } | ApeEffect::Done => vec![],
        };
        queue.extend(more);
    }
    scored
}

fn items_of(scored: &[(Option<String>, usize)], instruction: &str) -> usize {
    scored
        .iter()
        .find(|(i, _)| i.as_deref() == Some(instruction))
        .map_or(0, |s| s.1)
}

/// Four proposals: two good (right on 4 items of 5), two bad (never right); the seed is
/// right on every other item.
fn four(prompt: &str, id: usize) -> Option<String> {
    assert!(prompt.starts_with(FORWARD_HEAD) && prompt.ends_with(FORWARD_TAIL));
    Some(["good one", "good two", "bad one", "bad two"][id].into())
}

fn skill(instruction: Option<&str>, item: usize) -> bool {
    match instruction {
        None => item.is_multiple_of(2),
        Some(i) if i.starts_with("Good") => item % 5 != 4,
        Some(_) => false,
    }
}

#[test]
fn proposes_races_varies_the_best_and_ends() {
    let mut a = Ape::new(cfg(3, 2, 4, RACE_LEVEL), pairs(4), "Solve it.");
    let gens = a.start();
    assert_eq!(gens.len(), 3);
    let ApeEffect::Generate { prompt, .. } = &gens[0] else {
        panic!()
    };
    assert_eq!(prompt.matches("Input: ").count(), 2);
    // One proposal fails, one repeats the seed's instruction: one candidate races the seed.
    let e = a.handle(ApeEvent::Generated {
        id: 0,
        text: Some(" add the two numbers.\nmore".into()),
    });
    assert!(
        e.is_empty(),
        "nothing is scored before every proposal is in"
    );
    a.handle(ApeEvent::Generated { id: 1, text: None });
    let e = a.handle(ApeEvent::Generated {
        id: 2,
        text: Some("solve it".into()),
    });
    assert_eq!(
        e,
        vec![
            ApeEffect::Score {
                id: 0,
                instruction: None,
                items: 0..4
            },
            ApeEffect::Score {
                id: 1,
                instruction: Some("Add the two numbers.".into()),
                items: 0..4
            },
        ]
    );
    assert!(
        a.handle(ApeEvent::Scored {
            id: 0,
            correct: vec![true, false, false, false],
            samples: 4
        })
        .is_empty(),
        "the step waits for every entrant"
    );
    let next = a.handle(ApeEvent::Scored {
        id: 1,
        correct: vec![true, true, true, false],
        samples: 4,
    });
    // The step is over; round 2 varies the best candidate.
    assert_eq!(
        next,
        vec![
            ApeEffect::Raced {
                round: 1,
                items: 4,
                dropped: vec![]
            },
            ApeEffect::Generate {
                id: 0,
                prompt: variation_prompt("Add the two numbers.")
            }
        ]
    );
    let e = a.handle(ApeEvent::Generated {
        id: 0,
        text: Some("Sum the numbers".into()),
    });
    // Only the new candidate has items left to race on.
    assert_eq!(
        e,
        vec![ApeEffect::Score {
            id: 2,
            instruction: Some("Sum the numbers.".into()),
            items: 0..4
        }]
    );
    let end = a.handle(ApeEvent::Scored {
        id: 2,
        correct: vec![true; 4],
        samples: 4,
    });
    assert_eq!(end.last(), Some(&ApeEffect::Done));
    let standings = a.standings();
    let board: Vec<(&str, bool)> = standings
        .iter()
        .map(|s| (s.instruction.as_str(), s.seed))
        .collect();
    assert_eq!(
        board,
        [
            ("Sum the numbers.", false),
            ("Add the two numbers.", false),
            ("Solve it.", true)
        ]
    );
    let best = a.winner().unwrap();
    assert_eq!(best.vs_seed.unwrap().diff, 0.75, "paired with the seed");
    assert!(a.is_done());
}

#[test]
fn nothing_usable_ends_at_once_without_scoring_the_seed() {
    let mut a = Ape::new(cfg(3, 2, 4, RACE_LEVEL), pairs(4), "");
    a.start();
    a.handle(ApeEvent::Generated {
        id: 0,
        text: Some("".into()),
    });
    a.handle(ApeEvent::Generated { id: 1, text: None });
    let e = a.handle(ApeEvent::Generated {
        id: 2,
        text: Some("x".into()),
    });
    assert_eq!(e, vec![ApeEffect::Done]);
    assert!(a.standings().is_empty() && a.winner().is_none());
}

#[test]
fn a_clearly_worse_candidate_stops_receiving_samples() {
    let mut a = Ape::new(cfg(4, 1, 5, RACE_LEVEL), pairs(40), "Solve it.");
    let scored = drive(&mut a, &four, &skill, usize::MAX);
    // After 10 items the bad ones are 0 of 10 against the leader's 8 of 10 (p 0.008).
    assert_eq!(items_of(&scored, "Bad one."), 10);
    assert_eq!(items_of(&scored, "Bad two."), 10);
    assert_eq!(items_of(&scored, "Good one."), 40);
    let board = a.standings();
    let bad = board.iter().find(|s| s.instruction == "Bad one.").unwrap();
    let d = bad.dropped.unwrap();
    assert_eq!((d.round, d.items), (1, 10));
    assert!(d.p < 0.01, "{d:?}");
    assert!(
        board.last().unwrap().dropped.is_some(),
        "dropped candidates come last"
    );
    // The seed races to the end, never dropped, and every candidate is compared with it.
    let seed = board.iter().find(|s| s.seed).unwrap();
    assert_eq!((seed.items, seed.dropped), (40, None));
    assert_eq!(seed.vs_seed, None);
    let good = &board[0];
    assert_eq!(good.instruction, "Good one.");
    let vs = good.vs_seed.unwrap();
    assert!((vs.diff - 0.3).abs() < 1e-12, "80% against 50%: {vs:?}");
    assert!(vs.low > 0.0 && vs.p < 0.05, "{vs:?}");
    let acc = good.accuracy.unwrap();
    assert!(acc.low < 0.8 && acc.high > 0.8);
}

#[test]
fn the_budget_saved_goes_to_the_leaders() {
    let budget = 100;
    let mut racing = Ape::new(cfg(4, 1, 5, RACE_LEVEL), pairs(40), "Solve it.");
    let raced = drive(&mut racing, &four, &skill, budget);
    let mut flat = Ape::new(cfg(4, 1, 5, 0.0), pairs(40), "Solve it.");
    let everyone = drive(&mut flat, &four, &skill, budget);
    // Without racing five instructions share the budget: 20 items each.
    assert_eq!(items_of(&everyone, "Good one."), 20);
    assert_eq!(items_of(&everyone, "Bad one."), 20);
    // Racing drops the bad ones at 10 items and gives the rest to the leaders.
    assert_eq!(items_of(&raced, "Bad one."), 10);
    assert_eq!(items_of(&raced, "Good one."), 25);
    assert_eq!(items_of(&raced, "Good two."), 25);
    let spent = |s: &[(Option<String>, usize)]| s.iter().map(|x| x.1).sum::<usize>();
    assert!(spent(&raced) <= budget && spent(&everyone) <= budget);
    assert!(flat.standings().iter().all(|s| s.dropped.is_none()));
}

#[test]
fn the_held_out_check_is_paired_and_says_when_it_cannot_tell() {
    // 20 items: the winner is right on 2 more than the seed: no detectable improvement.
    let seed: Vec<bool> = (0..20).map(|i| i < 10).collect();
    let winner: Vec<bool> = (0..20).map(|i| i < 12).collect();
    let h = HeldOut::of(&winner, &seed).unwrap();
    assert!(!h.better);
    assert!((h.paired.diff - 0.1).abs() < 1e-12);
    assert!(
        (h.paired.p - 0.5).abs() < 1e-12,
        "2 discordant items: p 0.5"
    );
    let line = h.describe();
    assert!(
        line.starts_with(
            "no detectable improvement over your instruction on 20 held-out items: 60% vs 50% (Δ +0.10 ["
        ),
        "{line}"
    );
    assert!(line.ends_with("p 0.50)"), "{line}");
    assert_eq!(
        (p_value(0.0004), p_value(0.0078), p_value(0.52)),
        ("< 0.001".into(), "0.008".into(), "0.52".into())
    );
    // 40 items, 12 more right and none fewer: better.
    let seed: Vec<bool> = (0..40).map(|i| i < 16).collect();
    let winner: Vec<bool> = (0..40).map(|i| i < 28).collect();
    let h = HeldOut::of(&winner, &seed).unwrap();
    assert!(h.better && h.paired.low > 0.0);
    assert!(
        h.describe()
            .starts_with("better than your instruction on 40")
    );
    assert_eq!(HeldOut::of(&[], &[]), None);
    assert_eq!(
        (signed(0.04), signed(-0.081), signed(0.001)),
        ("+0.04".into(), "−0.08".into(), "0.00".into())
    );
}

#[test]
fn proposals_are_cleaned_into_sentences() {
    assert_eq!(clean("\"sum them\""), Some("Sum them.".into()));
    assert_eq!(
        clean("follow this order:"),
        Some("Follow this order.".into())
    );
    assert_eq!(clean("x"), None);
}

#[test]
fn the_plan_counts_every_call_the_seed_included() {
    // 3 proposals and 1 variation, each 1 call plus 4 dev samples; the seed's 4 dev samples.
    assert_eq!(planned_calls(&cfg(3, 2, 4, RACE_LEVEL), 4, 1), 4 * 5 + 4);
}
