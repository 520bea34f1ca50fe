//! LoRA training (feature `train`): gradients against finite differences and a falling loss
//! on a tiny random Gemma 3; the adapter file read back; then on the embedded model, candle's
//! logits against llama.cpp's, an adapter written by candle loaded by llama.cpp, and
//! `promptlab tune` end to end.
#![cfg(feature = "train")]

mod common;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use promptlab::app::training::Llama;
use promptlab::backend::local::reference as llama;
use promptlab::store::models::default_model_path;
use promptlab::train::adapter;
use promptlab::train::check::{argmax, compare};
use promptlab::train::data::Sequence;
use promptlab::train::job::check;
use promptlab::train::lora::Target;
use promptlab::train::model::{AdapterShape, Model, Packed};
use promptlab::train::trainer::{Settings, train};
use promptlab::train::weights::{Config, Gguf};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Two layers (one sliding with a window of 3, one global), two query heads sharing one
/// key/value head: every path of the graph, in sizes a finite difference can check.
fn tiny_config() -> Config {
    Config {
        vocab: 24,
        hidden: 8,
        layers: 2,
        ff: 12,
        heads: 2,
        kv_heads: 1,
        head_dim: 4,
        rms_eps: 1e-6,
        rope_base: 1_000_000.0,
        rope_base_local: 10_000.0,
        rope_scale: 1.0,
        sliding_window: 3,
        sliding_pattern: 2,
        final_softcap: 0.0,
    }
}

/// Random weights under llama.cpp's names; norms near 1 as the converter stores them.
fn tiny_model(dtype: DType, targets: &[Target], seed: u64) -> Model {
    let c = tiny_config();
    let (h, q, kv, ff) = (
        c.hidden,
        c.heads * c.head_dim,
        c.kv_heads * c.head_dim,
        c.ff,
    );
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    shapes.insert("token_embd.weight".into(), vec![c.vocab, h]);
    shapes.insert("output_norm.weight".into(), vec![h]);
    for i in 0..c.layers {
        for (name, shape) in [
            ("attn_norm", vec![h]),
            ("attn_q", vec![q, h]),
            ("attn_k", vec![kv, h]),
            ("attn_v", vec![kv, h]),
            ("attn_output", vec![h, q]),
            ("attn_q_norm", vec![c.head_dim]),
            ("attn_k_norm", vec![c.head_dim]),
            ("post_attention_norm", vec![h]),
            ("ffn_norm", vec![h]),
            ("ffn_gate", vec![ff, h]),
            ("ffn_up", vec![ff, h]),
            ("ffn_down", vec![h, ff]),
            ("post_ffw_norm", vec![h]),
        ] {
            shapes.insert(format!("blk.{i}.{name}.weight"), shape);
        }
    }
    let dev = Device::Cpu;
    let mut names: Vec<&String> = shapes.keys().collect();
    names.sort();
    let mut weights = HashMap::new();
    for (k, name) in names.into_iter().enumerate() {
        let shape = &shapes[name];
        // A different draw per tensor and seed, reproducibly (candle's own `randn` is not
        // seeded): uniform with a standard deviation of 0.5.
        let mut rng = StdRng::seed_from_u64(seed * 1_000 + k as u64);
        let values: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|_| rng.random_range(-0.866f32..0.866))
            .collect();
        let t = Tensor::from_vec(values, shape.as_slice(), &dev)
            .and_then(|t| t.to_dtype(dtype))
            .unwrap();
        let t = if shape.len() == 1 {
            t.affine(0.1, 1.0).unwrap()
        } else {
            t
        };
        weights.insert(name.clone(), t);
    }
    let shape = AdapterShape {
        rank: 2,
        alpha: 4.0,
        targets: targets.to_vec(),
        seed,
    };
    Model::build(c, |n| Ok(weights[n].clone()), Some(&shape)).unwrap()
}

/// Every pair's B set to small random values (a fresh B is zero, which makes A's gradient
/// zero and the check vacuous).
fn perturb(model: &Model, scale: f64) {
    for (_, p) in model.lora_pairs() {
        let b = p.b.as_tensor();
        let r = (Tensor::randn(0f64, scale, b.shape(), &Device::Cpu).unwrap())
            .to_dtype(b.dtype())
            .unwrap();
        p.b.set(&r).unwrap();
    }
}

fn toy_batch() -> Packed {
    let mut b = Packed::default();
    b.push(&[1, 5, 7, 9, 11, 3], 3);
    b.push(&[1, 6, 8, 10, 2], 2);
    b
}

#[test]
fn gradients_match_finite_differences() {
    let model = tiny_model(DType::F64, &Target::ALL, 3);
    perturb(&model, 0.3);
    let batch = toy_batch();
    let loss = |m: &Model| -> f64 { m.loss(&batch).unwrap().0.to_scalar::<f64>().unwrap() };
    let grads = model.loss(&batch).unwrap().0.backward().unwrap();
    let eps = 1e-6;
    let mut checked = 0;
    for (name, pair) in model.lora_pairs() {
        for (which, var) in [("A", &pair.a), ("B", &pair.b)] {
            let analytic = grads.get(var).expect("every pair has a gradient");
            let analytic: Vec<f64> = analytic.flatten_all().unwrap().to_vec1().unwrap();
            let start: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let shape = var.as_tensor().shape().clone();
            // Three entries of each matrix: first, middle, last.
            for &i in &[0, start.len() / 2, start.len() - 1] {
                let mut moved = start.clone();
                moved[i] = start[i] + eps;
                var.set(&Tensor::from_vec(moved.clone(), &shape, &Device::Cpu).unwrap())
                    .unwrap();
                let up = loss(&model);
                moved[i] = start[i] - eps;
                var.set(&Tensor::from_vec(moved, &shape, &Device::Cpu).unwrap())
                    .unwrap();
                let down = loss(&model);
                var.set(&Tensor::from_vec(start.clone(), &shape, &Device::Cpu).unwrap())
                    .unwrap();
                let numeric = (up - down) / (2.0 * eps);
                // Central differences carry the loss's rounding divided by 2·eps (and candle's
                // threaded sums change their order from run to run): about 1e-8 here, so a
                // gradient as small as 5e-5 is checked to that absolute floor, not relatively.
                let diff = (numeric - analytic[i]).abs();
                let err = diff / (numeric.abs() + analytic[i].abs() + 1e-8);
                assert!(
                    err < 1e-4 || diff < 1e-7,
                    "{name} {which}[{i}]: analytic {} vs numeric {numeric}",
                    analytic[i]
                );
                checked += 1;
            }
        }
    }
    // 2 layers x 7 targets x (A, B) x 3 entries.
    assert_eq!(checked, 2 * 7 * 2 * 3);
}

/// Sequences packed into one batch do not see each other: the packed loss is the scored
/// tokens' mean over the sequences taken alone (of different lengths, so one is padded,
/// and longer than the sliding layer's window of 3).
#[test]
fn packing_keeps_sequences_apart() {
    let model = tiny_model(DType::F64, &Target::ALL, 4);
    perturb(&model, 0.3);
    let rows: [(&[u32], usize); 3] = [
        (&[1, 5, 7, 9, 11, 3, 4], 3),
        (&[1, 6, 8], 1),
        (&[2, 9, 9, 13, 17], 2),
    ];
    let mut packed = Packed::default();
    let (mut sum, mut count) = (0.0, 0);
    for (tokens, start) in rows {
        packed.push(tokens, start);
        let mut alone = Packed::default();
        alone.push(tokens, start);
        let (loss, n) = model.loss(&alone).unwrap();
        sum += loss.to_scalar::<f64>().unwrap() * n as f64;
        count += n;
    }
    let (loss, n) = model.loss(&packed).unwrap();
    assert_eq!(n, count);
    let (packed, alone) = (loss.to_scalar::<f64>().unwrap(), sum / count as f64);
    assert!(
        (packed - alone).abs() < 1e-9,
        "{packed} packed, {alone} alone"
    );
}

#[test]
fn frozen_weights_get_no_gradient() {
    let model = tiny_model(DType::F32, &[Target::Q, Target::V], 5);
    let grads = model.loss(&toy_batch()).unwrap().0.backward().unwrap();
    // Only the 2 layers x 2 targets x (A, B) variables were tracked.
    assert_eq!(model.vars().len(), 8);
    for v in model.vars() {
        assert!(grads.get(&v).is_some());
    }
}

/// A toy task the base cannot do: after "x SEP", answer the token x + 10.
fn toy_rows() -> Vec<Sequence> {
    (2..10u32)
        .map(|x| Sequence {
            id: x.to_string(),
            tokens: vec![1, x, 12, x + 10],
            answer_start: 3,
        })
        .collect()
}

#[test]
fn loss_falls_on_a_toy_dataset() {
    let model = tiny_model(DType::F32, &Target::ALL, 7);
    let settings = Settings {
        rank: 2,
        alpha: 4.0,
        epochs: 120,
        learning_rate: 0.02,
        batch_tokens: 16,
        ..Settings::default()
    };
    let mut epochs = 0;
    let out = train(
        &model,
        &toy_rows(),
        &settings,
        &AtomicBool::new(false),
        &mut |_| {},
        &mut |_, _| {
            epochs += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!((epochs, out.epochs_done, out.stopped), (120, 120, false));
    let first: f32 = out.losses[..2].iter().sum::<f32>() / 2.0;
    let last: f32 = out.losses[out.losses.len() - 2..].iter().sum::<f32>() / 2.0;
    assert!(
        last < first * 0.2,
        "loss went from {first} to {last}: {:?}",
        out.losses
    );
    // And the model now answers the toy task.
    for row in toy_rows() {
        let logits = model.last_logits(&row.tokens[..3]).unwrap();
        assert_eq!(argmax(&logits) as u32, row.tokens[3]);
    }
}

#[test]
fn a_stop_ends_training_between_steps() {
    let model = tiny_model(DType::F32, &[Target::Q], 9);
    let stop = AtomicBool::new(false);
    let mut steps = 0;
    let out = train(
        &model,
        &toy_rows(),
        &Settings {
            epochs: 5,
            batch_tokens: 16,
            ..Settings::default()
        },
        &stop,
        &mut |s| {
            steps = s.step;
            if s.step == 3 {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert!(out.stopped);
    assert_eq!((steps, out.losses.len()), (3, 3));
}

#[test]
fn adapter_file_round_trips() {
    let model = tiny_model(DType::F32, &[Target::Q, Target::Down], 11);
    perturb(&model, 0.1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.gguf");
    adapter::write(&path, &model, 4.0, "base-print").unwrap();
    let back = adapter::read(&path).unwrap();
    assert_eq!(back.alpha, 4.0);
    assert_eq!(back.base_fingerprint.as_deref(), Some("base-print"));
    assert_eq!(back.pairs.len(), 4);
    for (name, pair) in model.lora_pairs() {
        let (a, b) = &back.pairs[&name];
        for (x, y) in [(a, pair.a.as_tensor()), (b, pair.b.as_tensor())] {
            assert_eq!(x.shape(), y.shape(), "{name}");
            let d = (x - y).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0, "{name}");
        }
    }
}

// ---- The embedded model (scripts/fetch-model.sh installs it) ----

fn embedded() -> std::path::PathBuf {
    let path = default_model_path().expect("a cache dir");
    assert!(
        path.is_file(),
        "the embedded model is missing at {}: run scripts/fetch-model.sh",
        path.display()
    );
    path
}

fn embedded_model(adapter: Option<&AdapterShape>) -> Model {
    let mut gguf = Gguf::open(&embedded()).unwrap();
    let config = gguf.config.clone();
    Model::build(config, |n| gguf.tensor(n), adapter).unwrap()
}

fn prompt_tokens(text: &str) -> Vec<u32> {
    let tok = llama::Tokenizer::open(&embedded()).unwrap();
    let prompt = promptlab::core::render::Prompt::Completion(text.into());
    let (tokens, _) = tok.sequence(&prompt, "").unwrap();
    tokens
}

const PROBE: &str = "Q: What is 2 plus 3?\nA: 5\n\nQ: What is the capital of France?\nA:";

/// candle's Gemma 3 on the dequantized weights against llama.cpp on the Q4_K_M file.
/// llama.cpp multiplies the quantized weights by activations it quantizes to 8 bits (q8_K);
/// candle multiplies the same dequantized weights in f32. So the logits differ by the error of
/// 8-bit activations through 18 layers: a few tenths on logits that span about 40, while the
/// ranking (the top token, the correlation) must agree. A wrong graph (SiLU for GELU, norms
/// off by one, a wrong RoPE base or query scale) gives a correlation far below 0.99.
#[test]
fn candle_logits_match_llama_cpp() {
    let model = embedded_model(None);
    let tokens = prompt_tokens(PROBE);
    let ours = model.last_logits(&tokens).unwrap();
    let theirs = llama::last_logits(&embedded(), None, &tokens).unwrap();
    assert_eq!(ours.len(), theirs.len());
    let a = compare(&ours, &theirs);
    let spread = theirs.iter().copied().fold(f32::MIN, f32::max)
        - theirs.iter().copied().fold(f32::MAX, f32::min);
    eprintln!(
        "candle vs llama.cpp: max |diff| {:.3} (logits span {spread:.1}), correlation {:.5}, argmax agrees: {}",
        a.max_abs_diff, a.correlation, a.argmax_agrees
    );
    assert!(a.argmax_agrees, "top tokens differ");
    assert!(a.correlation > 0.995, "correlation {}", a.correlation);
    assert!(
        a.max_abs_diff < 0.05 * spread,
        "max diff {}",
        a.max_abs_diff
    );
}

/// candle writes an adapter, llama.cpp loads it with the base, and the logits move as
/// candle's forward pass with the same adapter predicts.
#[test]
fn llama_cpp_applies_the_adapter_as_candle_predicts() {
    let shape = AdapterShape {
        rank: 4,
        alpha: 8.0,
        targets: vec![Target::Q, Target::V, Target::Down],
        seed: 2,
    };
    let model = embedded_model(Some(&shape));
    perturb(&model, 0.08);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.gguf");
    adapter::write(&path, &model, shape.alpha, "probe").unwrap();
    let tokens = prompt_tokens(PROBE);
    let c = check(&model, &Llama, &embedded(), &path, &tokens).unwrap();
    eprintln!("adapter through llama.cpp against candle: {c:?}");
    // The adapter moved the logits, and llama.cpp's move is candle's.
    assert!(c.shift > 1.0, "{c:?}");
    assert!(c.correlation > 0.95 && c.argmax_agrees, "{c:?}");
    assert!(c.max_abs_diff < 0.25 * c.shift, "{c:?}");
    assert!(
        (c.shift - c.predicted_shift).abs() < 0.25 * c.shift,
        "{c:?}"
    );
}

/// `promptlab tune` end to end on the embedded model: a short run on the sums dataset, the
/// adapter and its record written into the models folder's adapters/, checked through
/// llama.cpp, evaluated against the base on the held-out rows, listed under its base by
/// `model list`, and loaded by `run --lora`.
#[test]
fn tune_trains_checks_evaluates_and_lists_an_adapter() {
    let dirs = tempfile::tempdir().unwrap();
    let models = dirs.path().join("cache/models");
    std::fs::create_dir_all(&models).unwrap();
    let base = models.join(promptlab::store::models::DEFAULT_MODEL_FILE);
    std::os::unix::fs::symlink(embedded(), &base).unwrap();
    let out = common::promptlab(&dirs)
        .args([
            "tune",
            "-t",
            "sums",
            "-d",
            "assets/sums.jsonl",
            "--strategy",
            "direct",
        ])
        .args(["--epochs", "1", "--rank", "4", "--held-out", "6", "--json"])
        .output()
        .unwrap();
    let v = common::ok_json(&out);
    let adapter = models.join("adapters/sums-sums.gguf");
    assert_eq!(v["adapter"], adapter.display().to_string());
    assert!(adapter.is_file() && models.join("adapters/sums-sums.json").is_file());
    let r = &v["record"];
    assert_eq!(r["complete"], true);
    assert_eq!(r["data"]["train_rows"], 54);
    assert_eq!(r["data"]["held_out"].as_array().unwrap().len(), 6);
    assert_eq!(r["prompt"]["strategy"], "direct");
    assert_eq!(r["settings"]["rank"], 4);
    assert!(!r["losses"].as_array().unwrap().is_empty());
    assert!(
        r["check"]["correlation"].as_f64().unwrap() > 0.9,
        "{}",
        r["check"]
    );
    // The held-out rows: the template's few-shot prompt, then base and adapter without it.
    let names: Vec<&str> = v["held_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["base, 6 shots", "base, 0 shots", "adapter, 0 shots"]
    );

    let list = common::ok_json(
        &common::promptlab(&dirs)
            .args(["model", "list", "--json"])
            .output()
            .unwrap(),
    );
    let listed = &list["models"][0];
    assert_eq!(listed["path"], base.display().to_string());
    assert_eq!(listed["adapters"][0]["name"], "sums-sums");
    assert_eq!(listed["adapters"][0]["record"]["settings"]["rank"], 4);

    let run = common::ok_json(
        &common::promptlab(&dirs)
            .args(["run", "-t", "sums", "--strategy", "direct", "-n", "1"])
            .args(["--temperature", "0", "--json", "--lora"])
            .arg(&adapter)
            .output()
            .unwrap(),
    );
    assert!(
        run["backend"]["model"]
            .as_str()
            .unwrap()
            .ends_with("+sums-sums"),
        "{}",
        run["backend"]
    );
}

/// The shipped specialist example trains: a few steps on the first rows of
/// assets/tickets.jsonl with the built-in tickets template, the loss on the team's name only;
/// the adapter is written with its record, and llama.cpp loads it and moves as candle predicts.
#[test]
fn the_shipped_tickets_example_trains_and_its_adapter_loads() {
    use promptlab::train::job::{TuneSpec, run};
    let yaml = promptlab::store::template::BUILTIN
        .iter()
        .find(|(n, _)| *n == "tickets")
        .unwrap()
        .1;
    let template = promptlab::store::template::parse_template(yaml, "tickets").unwrap();
    let dataset_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/tickets.jsonl");
    let mut dataset = promptlab::store::dataset::load_dataset(&dataset_path, true).unwrap();
    dataset.items.truncate(20);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tickets.gguf");
    let spec = TuneSpec {
        model_path: embedded(),
        template,
        mode: promptlab::core::render::Mode::Completion,
        dataset,
        dataset_path,
        held_out: 4,
        settings: Settings {
            rank: 2,
            alpha: 4.0,
            targets: vec![Target::Q, Target::V],
            epochs: 1,
            batch_tokens: 256,
            ..Settings::default()
        },
        out: out.clone(),
    };
    let tuned = run(&spec, &Llama, &AtomicBool::new(false), &mut |_| {}).unwrap();
    let r = &tuned.record;
    assert!(r.complete && out.is_file() && out.with_extension("json").is_file());
    assert_eq!((r.data.train_rows, r.data.held_out.len()), (16, 4));
    assert_eq!(r.prompt.template, "tickets");
    assert!(
        r.losses.iter().all(|l| l.is_finite()) && r.losses.len() >= 2,
        "{:?}",
        r.losses
    );
    let c = r.check.as_ref().expect("checked through llama.cpp");
    assert!(c.correlation > 0.9, "{c:?}");
}
