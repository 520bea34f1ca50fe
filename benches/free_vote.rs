//! Free-form voting: how well each similarity agrees with hand labels of which replies say the
//! same thing, and how fast clustering is.
//!
//! - Agreement: `tests/fixtures/free-pairs.jsonl` (pairs of short replies to the questions of
//!   `assets/trivia-free.jsonl`, each labelled same or not). For overlap (containment, the
//!   rule promptlab uses), Jaccard and Dice on the same words (the question's words left out,
//!   as in a vote), and cosine similarity of
//!   embeddings when an embedding GGUF is given (EMBED_MODEL, default: the embedded model if
//!   installed; `EMBED_MODEL=none` skips it; numbers kept exact as in the vote), at several
//!   thresholds: pairwise precision,
//!   recall and F1 of "same".
//! - Speed: clustering 64 answers of 300 characters each by overlap, as the live tally does
//!   after every finished path (words read, similarities and average-linkage clustering).
//!
//! Run: `cargo bench --bench free_vote`.

use std::time::Instant;

use promptlab::core::free::{Words, cluster, cosine, dice, jaccard, numbers_differ, overlap};

struct Pair {
    question: String,
    a: String,
    b: String,
    same: bool,
}

fn pairs() -> Vec<Pair> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/free-pairs.jsonl"),
    )
    .expect("tests/fixtures/free-pairs.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            Pair {
                question: v["question"].as_str().unwrap_or_default().to_string(),
                a: v["a"].as_str().unwrap_or_default().to_string(),
                b: v["b"].as_str().unwrap_or_default().to_string(),
                same: v["same"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}

/// (precision, recall, F1) of `sim >= threshold` as "same".
fn score(pairs: &[Pair], sims: &[f64], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fneg) = (0f64, 0f64, 0f64);
    for (p, s) in pairs.iter().zip(sims) {
        match (*s >= threshold, p.same) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            (false, false) => {}
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fneg > 0.0 {
        tp / (tp + fneg)
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    (precision, recall, f1)
}

fn report(name: &str, pairs: &[Pair], sims: &[f64]) {
    for t in [0.5, 0.6, 0.7, 0.8] {
        let (p, r, f) = score(pairs, sims, t);
        println!("  {name:<22} ≥ {t:.1}   precision {p:.3}  recall {r:.3}  F1 {f:.3}");
    }
}

#[cfg(feature = "local")]
fn embed_sims(pairs: &[Pair]) -> Option<(String, Vec<f64>)> {
    use promptlab::backend::Embedder;
    let path = match std::env::var("EMBED_MODEL") {
        Ok(v) if v == "none" => return None,
        Ok(v) => std::path::PathBuf::from(v),
        Err(_) => promptlab::store::models::default_model_path()?,
    };
    if !path.exists() {
        println!(
            "  (no embedding model at {}; embed skipped)",
            path.display()
        );
        return None;
    }
    let e = promptlab::backend::local::embed::LocalEmbedder::spawn(&path, 2).ok()?;
    let rt = tokio::runtime::Runtime::new().ok()?;
    let started = Instant::now();
    let sims = rt.block_on(async {
        let mut out = Vec::new();
        for p in pairs {
            let a = e.embed(&p.a.to_lowercase()).await.ok()?;
            let b = e.embed(&p.b.to_lowercase()).await.ok()?;
            let q = Words::of(&p.question);
            let numbers_differ = numbers_differ(
                &Words::of(&p.a).answering(&q),
                &Words::of(&p.b).answering(&q),
            );
            out.push(if numbers_differ { 0.0 } else { cosine(&a, &b) });
        }
        Some(out)
    })?;
    println!(
        "  (embedded {} replies with {} in {:.1} s)",
        pairs.len() * 2,
        e.name(),
        started.elapsed().as_secs_f64()
    );
    Some((format!("embed ({})", e.name()), sims))
}

#[cfg(not(feature = "local"))]
fn embed_sims(_: &[Pair]) -> Option<(String, Vec<f64>)> {
    None
}

fn main() {
    let pairs = pairs();
    let same = pairs.iter().filter(|p| p.same).count();
    println!(
        "free-form similarity against hand labels: {} pairs ({same} same, {} different)",
        pairs.len(),
        pairs.len() - same
    );
    let words: Vec<(Words, Words)> = pairs
        .iter()
        .map(|p| {
            // As in a vote: the question's words do not make answers alike.
            let q = Words::of(&p.question);
            (Words::of(&p.a).answering(&q), Words::of(&p.b).answering(&q))
        })
        .collect();
    for (name, f) in [
        (
            "overlap (containment)",
            overlap as fn(&Words, &Words) -> f64,
        ),
        ("jaccard", jaccard),
        ("dice (ROUGE-1 F1)", dice),
    ] {
        let sims: Vec<f64> = words.iter().map(|(a, b)| f(a, b)).collect();
        report(name, &pairs, &sims);
    }
    if let Some((name, sims)) = embed_sims(&pairs) {
        report(&name, &pairs, &sims);
    }

    // 64 answers of ~300 characters: 8 paraphrase families, numbers differing between some.
    let families = [
        "the treaty was signed at westphalia in 1648 after thirty years of war between the catholic and protestant states",
        "the peace of utrecht ended the war of the spanish succession in 1713 and moved gibraltar to great britain",
        "münster and osnabrück hosted the negotiations that ended the thirty years war in 1648 with the peace of westphalia",
        "vienna hosted the congress that redrew the map of europe in 1815 after the defeat of napoleon at waterloo",
        "the berlin wall fell in november 1989 when the border crossings opened and crowds climbed onto the wall",
        "the second world war ended in 1945 with the surrender of germany in may and of japan in september",
        "penicillin was discovered by alexander fleming in 1928 when a mould killed the bacteria on a forgotten dish",
        "neil armstrong was the first person to walk on the moon in july 1969 during the apollo eleven mission",
    ];
    let fillers = [
        "as historians agree",
        "according to most sources",
        "which is well documented",
        "as the records show",
        "in the usual account",
        "and this is the answer",
        "so that is what happened",
        "as far as we know",
    ];
    let answers: Vec<String> = (0..64)
        .map(|i| {
            let mut s = format!("{}, {}", families[i % 8], fillers[(i / 8) % 8]);
            while s.len() < 300 {
                s.push_str(" indeed");
            }
            s
        })
        .collect();
    let rounds = 200;
    let started = Instant::now();
    let mut groups = 0;
    for _ in 0..rounds {
        let words: Vec<Words> = answers.iter().map(|a| Words::of(a)).collect();
        let weights = vec![1.0; words.len()];
        groups = cluster(&weights, &|i, j| overlap(&words[i], &words[j]), 0.6).len();
    }
    let per = started.elapsed().as_secs_f64() / f64::from(rounds) * 1000.0;
    println!(
        "clustering 64 answers of 300 characters by overlap: {per:.2} ms per tally ({groups} clusters; goal under 5 ms)"
    );
}
