//! The optimiser loop: epochs over the training rows (shuffled per epoch with the seed),
//! packed batches, AdamW on the LoRA pairs only, a learning rate warmed up over the first
//! steps and decayed linearly to zero; progress after every step, a checkpoint after every
//! epoch, and a stop between two steps when asked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::TrainError;
use super::data::{Sequence, pack};
use super::lora::Target;
use super::model::{AdapterShape, Model};

/// What `promptlab tune` trains, with its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<Target>,
    pub epochs: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Tokens packed into one optimiser step at most.
    pub batch_tokens: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rank: 8,
            alpha: 16.0,
            targets: Target::MLP.to_vec(),
            epochs: 3,
            learning_rate: 1e-3,
            seed: 1,
            batch_tokens: 512,
        }
    }
}

impl Settings {
    pub fn adapter(&self) -> AdapterShape {
        AdapterShape {
            rank: self.rank,
            alpha: self.alpha,
            targets: self.targets.clone(),
            seed: self.seed,
        }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Data(m.to_string()));
        if self.rank == 0 {
            return bad("the rank must be at least 1");
        }
        if self.epochs == 0 {
            return bad("train at least one epoch");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("the learning rate must be a positive number");
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return bad("alpha must be a positive number");
        }
        if self.targets.is_empty() {
            return bad("no target module to train");
        }
        Ok(())
    }
}

/// One optimiser step done.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based, of `steps`.
    pub step: usize,
    pub steps: usize,
    pub epoch: usize,
    /// Mean cross-entropy of this step's answer tokens.
    pub loss: f32,
    /// Tokens run forward and backward so far, and the time since training began.
    pub tokens: usize,
    pub elapsed: Duration,
    /// Where that time went so far.
    pub phases: Phases,
}

/// Time spent so far in each part of a step: the forward pass (to the loss), the backward
/// pass (the gradients) and the optimiser's update.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Phases {
    pub forward: Duration,
    pub backward: Duration,
    pub optimizer: Duration,
}

impl Step {
    pub fn tokens_per_second(&self) -> f64 {
        self.tokens as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Time left at the pace so far.
    pub fn eta(&self) -> Duration {
        let per = self.elapsed.as_secs_f64() / self.step.max(1) as f64;
        Duration::from_secs_f64(per * (self.steps - self.step) as f64)
    }
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Each step's loss, in order.
    pub losses: Vec<f32>,
    pub tokens: usize,
    pub elapsed: Duration,
    pub epochs_done: usize,
    /// Stopped before the last step.
    pub stopped: bool,
}

/// Trains `model`'s LoRA pairs on `rows`. `on_step` hears every step; `on_epoch` is called
/// after each whole epoch (the checkpoint). Stops between steps once `stop` is set.
pub fn train(
    model: &Model,
    rows: &[Sequence],
    s: &Settings,
    stop: &AtomicBool,
    on_step: &mut dyn FnMut(&Step),
    on_epoch: &mut dyn FnMut(&Model, &Outcome) -> Result<(), TrainError>,
) -> Result<Outcome, TrainError> {
    s.validate()?;
    if rows.iter().all(|r| r.answer_tokens() == 0) {
        return Err(TrainError::Data("no row has an answer to learn".into()));
    }
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut orders = Vec::with_capacity(s.epochs);
    for _ in 0..s.epochs {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.shuffle(&mut rng);
        orders.push(order);
    }
    let per_epoch: Vec<usize> = orders
        .iter()
        .map(|o| pack(rows, o, s.batch_tokens).len())
        .collect();
    let steps: usize = per_epoch.iter().sum();
    let warmup = (steps / 20).max(1);
    let mut opt = AdamW::new(
        model.vars(),
        ParamsAdamW {
            lr: s.learning_rate,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut phases = Phases::default();
    let mut step = 0;
    for (epoch, order) in orders.iter().enumerate() {
        for batch in pack(rows, order, s.batch_tokens) {
            if stop.load(Ordering::Relaxed) {
                out.stopped = true;
                out.elapsed = start.elapsed();
                return Ok(out);
            }
            if batch.scored.is_empty() {
                continue;
            }
            step += 1;
            let lr = if step <= warmup {
                s.learning_rate * step as f64 / warmup as f64
            } else {
                s.learning_rate * (steps + 1 - step) as f64 / (steps + 1 - warmup) as f64
            };
            opt.set_learning_rate(lr);
            let t = Instant::now();
            let (graph, _) = model.loss(&batch)?;
            let loss = graph.to_scalar::<f32>()?;
            phases.forward += t.elapsed();
            let t = Instant::now();
            let grads = graph.backward()?;
            drop(graph);
            phases.backward += t.elapsed();
            let t = Instant::now();
            opt.step(&grads)?;
            drop(grads);
            phases.optimizer += t.elapsed();
            if !loss.is_finite() {
                return Err(TrainError::Data(format!(
                    "the loss diverged at step {step} (try a lower --learning-rate)"
                )));
            }
            out.losses.push(loss);
            out.tokens += batch.tokens.len();
            out.elapsed = start.elapsed();
            on_step(&Step {
                step,
                steps,
                epoch: epoch + 1,
                loss,
                tokens: out.tokens,
                elapsed: out.elapsed,
                phases,
            });
        }
        out.epochs_done = epoch + 1;
        on_epoch(model, &out)?;
    }
    out.elapsed = start.elapsed();
    Ok(out)
}
