//! The headless front end: clap subcommands, tables for people, `--json` for scripts.
//! Everything printed goes through `out` (`say!`, `tell!`, `out::raw`): no `print!` here.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod batch;
pub mod eval;
pub mod eval_report;
pub mod examples;
pub mod finetune;
pub mod model;
pub mod optimize;
pub mod out;
pub mod output;
pub mod replay;
pub mod run;
pub mod templates;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::core::render::Mode;
use crate::core::template::Strategy;

/// A token cancelled by the first Ctrl-C, which then says `message` on stderr.
pub fn cancel_on_ctrl_c(message: &'static str) -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        // SIGTERM (a service manager, `kill`) and SIGHUP (a closed terminal or SSH session)
        // stop a command the way Ctrl-C does: what is done is kept and said.
        #[cfg(unix)]
        let signal = {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.ok().map(|()| 2),
                s = term.recv() => s.map(|()| 15),
                s = hup.recv() => s.map(|()| 1),
            }
        };
        #[cfg(not(unix))]
        let signal = tokio::signal::ctrl_c().await.ok().map(|()| 2);
        if let Some(number) = signal {
            crate::tell!("{message}");
            SIGNAL.store(number, std::sync::atomic::Ordering::SeqCst);
            on_signal.cancel();
        }
    });
    cancel
}

/// The signal that stopped the command (2 for Ctrl-C, 15 SIGTERM, 1 SIGHUP), 0 for none.
static SIGNAL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether the user stopped the command with Ctrl-C or a signal like it (it then exits
/// 128 + the signal's number, whatever it printed: `exit_code`).
pub fn interrupted() -> bool {
    SIGNAL.load(std::sync::atomic::Ordering::SeqCst) != 0
}

/// 128 + the number of the signal that stopped the command (130 for Ctrl-C, 143 SIGTERM,
/// 129 SIGHUP).
pub fn exit_code() -> u8 {
    128 + SIGNAL.load(std::sync::atomic::Ordering::SeqCst)
}

/// A timeout flag's seconds: more than 0 (a wait of nothing would fail every request) and at
/// most a day.
pub fn seconds(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds".to_string())?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err("give more than 0 and at most 86400 seconds".into());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Parser)]
#[command(
    name = "promptlab",
    version,
    about = "A terminal prompt lab: see what a prompt does"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A session file to open in the lab (`promptlab SESSION.yaml`)
    #[arg(value_name = "SESSION.yaml")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the interactive lab (the default without a subcommand).
    Tui(TuiArgs),
    /// Sample N reasoning paths for one query, extract each answer and vote.
    Run(RunArgs),
    /// Accuracy of prompts on a labelled dataset: first sample, majority vote, maj@k; variants side by side.
    Eval(EvalArgs),
    /// Which few-shot examples help, whether the model reads their labels, whether their order
    /// matters: leave-one-out, label controls and random orders on a labelled dataset.
    Examples(examples::ExamplesArgs),
    /// Automatic prompt search (APE): the model proposes instructions, the dev set scores them.
    Optimize(OptimizeArgs),
    /// Print a session's recorded runs without calling a model; re-run or re-vote them.
    Replay(ReplayArgs),
    /// List the templates you can name with --template.
    Templates(TemplatesArgs),
    /// Show the embedded model: which, where, size, context, whether present (`model list`:
    /// every GGUF on this machine it can run).
    Model(ModelArgs),
    /// Follow a batch `eval --batch` submitted: its status, or wait for it and score it.
    Batch(BatchArgs),
    /// Train a LoRA adapter (a specialist) on the local model from a dataset's training split
    /// (feature `train`), or fine-tune a server's model (--base-url, --model: OpenAI's
    /// fine-tuning API); `tune status|resume|cancel ID` follow a server's job.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Tune(TuneArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TuneArgs {
    #[command(subcommand)]
    pub action: Option<TuneAction>,
    /// The template whose format (instruction, direct or cot) prompts the specialist, without
    /// its examples
    #[arg(short, long, required = true)]
    pub template: Option<String>,
    /// JSONL, CSV (with a header) or BIG-bench task.json
    #[arg(long, short = 'd', required = true)]
    pub dataset: Option<PathBuf>,
    /// Fine-tune at this server instead (OpenAI's fine-tuning API: the training split uploaded
    /// in chat format, the job followed; Ctrl-C leaves it running). Never taken from
    /// OPENAI_BASE_URL: a tune leaves the machine only when asked
    #[arg(long, value_name = "URL", requires = "model")]
    pub base_url: Option<String>,
    /// The server's model to fine-tune (with --base-url)
    #[arg(long, requires = "base_url")]
    pub model: Option<String>,
    /// The server's API key [default: $OPENAI_API_KEY]
    #[arg(long)]
    pub api_key: Option<String>,
    /// direct or cot [default: the template's]
    #[arg(long)]
    pub strategy: Option<Strategy>,
    /// chat or completion [default: the template's, else the model's kind]
    #[arg(long)]
    pub mode: Option<Mode>,
    /// The base GGUF [default: the embedded Gemma 3 270M]
    #[arg(long)]
    pub model_path: Option<PathBuf>,
    /// LoRA rank [default: 8]
    #[arg(long)]
    pub rank: Option<usize>,
    /// LoRA alpha (the update is scaled by alpha / rank) [default: 2 x rank]
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Layers to adapt: q,k,v,o,gate,up,down, attention, mlp or all [default: mlp]
    #[arg(long, value_name = "LIST")]
    pub targets: Option<String>,
    /// Passes over the training rows [default: 3]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// AdamW's peak learning rate [default: 0.001]
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Seed of the split, the row order and the adapter's start [default: 1]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Tokens packed into one optimiser step at most [default: 512]
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(16..))]
    pub batch_tokens: Option<usize>,
    /// Rows kept out of training to judge the adapter [default: a fifth, at most 100]
    #[arg(long, value_name = "K")]
    pub held_out: Option<usize>,
    /// The adapter's name in the models folder's adapters/ [default: TEMPLATE-DATASET]
    #[arg(long, conflicts_with = "out")]
    pub name: Option<String>,
    /// Write the adapter here instead (its record beside it, .json)
    #[arg(long, value_name = "FILE.gguf")]
    pub out: Option<PathBuf>,
    /// Replace an adapter of the same name
    #[arg(long)]
    pub force: bool,
    /// A learning curve instead of one adapter: an adapter on each of these nested training
    /// subsets, against the few-shot prompt with as many examples, on the held-out rows
    /// (--out DIR: curve.svg, curve.json and the adapters)
    #[arg(long, value_name = "N,N,...", conflicts_with_all = ["name", "base_url"])]
    pub curve: Option<String>,
    /// Skip the evaluation on the held-out rows after training (base with the template's
    /// examples, base and adapter without)
    #[arg(long)]
    pub no_eval: bool,
    /// One JSON object on stdout (the adapter's path, its record, the held-out evaluation)
    #[arg(long)]
    pub json: bool,
}

impl TuneArgs {
    /// The template and the dataset (required unless a subcommand is given).
    pub fn inputs(&self) -> Result<(&str, &std::path::Path), String> {
        match (&self.template, &self.dataset) {
            (Some(t), Some(d)) => Ok((t, d)),
            _ => Err("tune needs --template and --dataset".into()),
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum TuneAction {
    /// Where a fine-tuning job started with `tune --base-url` is at the server
    Status {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Follow a fine-tuning job to its end (and register its model)
    Resume {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Ask the server to cancel a fine-tuning job
    Cancel {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// The server of a fine-tuning job: the record's, unless given.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// The server's base URL (with credentials the record does not keep) [default: the job's]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The server's API key [default: $OPENAI_API_KEY]
    #[arg(long)]
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    #[command(subcommand)]
    pub action: BatchAction,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BatchAction {
    /// Where the batch is at the server
    Status { id: String },
    /// Wait for the batch to end, read its output into the sample cache and score the
    /// evaluation that submitted it
    Resume { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// llama.cpp in process (the embedded model, or --model-path).
    Local,
    /// Any OpenAI-compatible server (--base-url).
    Openai,
    /// Canned outputs from a script file (--script), for demos and tests.
    Scripted,
}

#[derive(Debug, Clone, Default, Args)]
pub struct BackendArgs {
    /// local, openai or scripted [default: openai with a base URL, else local]
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub base_url: Option<String>,
    /// Model name on the server [default: the server's first model]
    #[arg(long)]
    pub model: Option<String>,
    /// API key (prefer the environment variable)
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A GGUF file for the local backend [default: the embedded Gemma 3 270M]
    #[arg(long)]
    pub model_path: Option<PathBuf>,
    /// A LoRA adapter GGUF applied on the local model (a fine-tuned specialist)
    #[arg(long, value_name = "FILE.gguf")]
    pub lora: Option<PathBuf>,
    /// An embedding GGUF (run by llama.cpp in process) for free-form answers clustered by
    /// `embed`
    #[arg(long, value_name = "FILE.gguf")]
    pub embed_model: Option<PathBuf>,
    /// Script of canned responses for the scripted backend (YAML)
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Ask the server for token log-probabilities (enables the weighted vote)
    #[arg(long)]
    pub logprobs: bool,
    /// Seconds to wait for a connection [default: 10]
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Seconds to wait for a reply's headers once a request is sent [default: 30]
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub first_byte_timeout: Option<std::time::Duration>,
    /// Longest silence in seconds mid-reply; a stream that keeps sending is never cut
    /// [default: 30]
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub read_timeout: Option<std::time::Duration>,
    /// HTTP retries on 408/409/429/5xx and connection errors
    #[arg(long)]
    pub retries: Option<u32>,
    /// N samples of one prompt as one request with `n` (auto: unless the server is known to
    /// return fewer choices; a server that does gets one request per path, remembered)
    #[arg(long, value_enum, value_name = "auto|on|off")]
    pub server_n: Option<crate::backend::openai::ServerN>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PromptArgs {
    /// Template name (see `promptlab templates`) or path to a YAML file
    #[arg(short, long, default_value = "gsm8k-cot")]
    pub template: String,
    /// The question [default: the template's query]
    #[arg(short, long)]
    pub query: Option<String>,
    /// direct, cot or zero-shot-cot
    #[arg(long)]
    pub strategy: Option<Strategy>,
    /// Replace the template's instruction
    #[arg(long)]
    pub instruction: Option<String>,
    /// Keep only the template's first K examples (0: none, as a tuned adapter is prompted)
    #[arg(long, value_name = "K")]
    pub shots: Option<usize>,
    /// chat or completion [default: the template's, else the backend's]
    #[arg(long)]
    pub mode: Option<Mode>,
    /// Self-consistency vote count N (paths sampled)
    #[arg(short = 'n', long = "votes", visible_alias = "n")]
    pub votes: Option<u32>,
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long)]
    pub top_k: Option<u32>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Base seed; path i samples with seed + i
    #[arg(long)]
    pub seed: Option<u64>,
    /// Reasoning models: think before answering (on), answer at once (off), or leave it to
    /// the server (auto)
    #[arg(long, value_name = "on|off|auto")]
    pub thinking: Option<crate::core::template::Thinking>,
    /// Reasoning models: how hard to think
    #[arg(long, value_name = "low|medium|high")]
    pub reasoning_effort: Option<crate::core::template::Effort>,
    /// Adaptive self-consistency: stop sampling once the vote is settled (-n stays the most):
    /// none, beta[:CONF] (default 0.95) or esc[:W] (default 5)
    #[arg(long, value_name = "RULE")]
    pub early_stop: Option<crate::core::early_stop::Rule>,
    /// Paths sampled at once (at least 1)
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub strict: StrictArgs,
}

/// Strict or flexible answers, over the template's `answer: { strict: … }`.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct StrictArgs {
    /// Strict answers: an answer only a fallback read (the last number of a reply that never
    /// states its answer) does not vote, its path joins the no-answer bucket;
    /// `--strict-answers=false` counts them [default: the template's `answer: {strict: …}`]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub strict_answers: Option<bool>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub prompt: PromptArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Print the result as one JSON object on stdout, nothing else
    #[arg(long)]
    pub json: bool,
    /// Print exactly what is sent to the model
    #[arg(long, conflicts_with = "json")]
    pub show_prompt: bool,
    /// Print each path's whole text instead of its start
    #[arg(long)]
    pub full: bool,
    /// Append the run to this session file (created if needed)
    #[arg(long, value_name = "SESSION.yaml")]
    pub save: Option<PathBuf>,
    /// With --save: replace a session file that is read-only or hard-linked
    #[arg(long, requires = "save")]
    pub force: bool,
    /// Sample every path anew instead of reading it from the sample cache; the new samples
    /// replace the cached ones
    #[arg(long)]
    pub fresh: bool,
    /// Neither read nor write the sample cache
    #[arg(long, conflicts_with = "fresh")]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct TuiArgs {
    /// Open this session (its edits and its runs)
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,
    #[command(flatten)]
    pub prompt: PromptArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
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
    /// Score the first sample by a separate greedy (temperature 0) sample
    #[arg(long)]
    pub greedy: bool,
    /// A grid of variants: KEY=V1,V2 (strategy, n, temperature, top_p, top_k, max_tokens, seed,
    /// mode, thinking, reasoning_effort, early_stop, model, lora, instruction, shots, strict,
    /// calibrate, select); repeat for more keys
    #[arg(long, value_name = "KEY=V1,V2")]
    pub vary: Vec<String>,
    /// Offline what-if: replay the cached N samples of each item in random orders under this
    /// early-stop rule (no request is sent; run the evaluation once first)
    #[arg(long, value_name = "RULE", conflicts_with_all = ["no_cache", "early_stop", "greedy"])]
    pub simulate_early_stop: Option<crate::core::early_stop::Rule>,
    /// Random orders per item for --simulate-early-stop
    #[arg(long, value_name = "K", default_value_t = 20, requires = "simulate_early_stop",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub orders: usize,
    /// Send every sample the cache does not hold through the server's Files and Batches API
    /// (OpenAI's Batch API: half price), follow it, then score from the cache; closing
    /// promptlab meanwhile loses nothing (`promptlab batch resume ID`)
    #[arg(long, conflicts_with_all = ["no_cache", "batch_in", "batch_out", "greedy", "simulate_early_stop"])]
    pub batch: bool,
    /// Write every sample the cache does not hold as an OpenAI batch request line to FILE and
    /// exit without calling the server (run it through OpenAI's Batch API or vLLM's batch
    /// runner, then --batch-in); one-call strategies (direct, cot)
    #[arg(long, value_name = "FILE.jsonl", conflicts_with_all = ["no_cache", "batch_in", "greedy", "simulate_early_stop"])]
    pub batch_out: Option<std::path::PathBuf>,
    /// Read a batch output file into the sample cache, then score from the cache alone (no
    /// live request; lines that failed are reported one by one)
    #[arg(long, value_name = "FILE.jsonl", conflicts_with_all = ["no_cache", "greedy", "simulate_early_stop"])]
    pub batch_in: Option<std::path::PathBuf>,
    /// Sample afresh instead of using the sample cache
    #[arg(long)]
    pub no_cache: bool,
    /// Stop at the first broken dataset line instead of skipping it
    #[arg(long)]
    pub strict: bool,
    /// The variant the others are compared with (paired on the same items); the first unless
    /// given
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Print the plan (items × variants × N, requests, prompt tokens, expected time, the
    /// smallest difference it can detect) and stop before sampling
    #[arg(long)]
    pub plan: bool,
    /// Write items.jsonl, variants.csv and report.md here
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// One JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub prompt: PromptArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[arg(long, short = 'd')]
    pub dataset: PathBuf,
    /// Instructions proposed in the first round (at most 1000)
    #[arg(long, default_value_t = 6, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub candidates: usize,
    /// Rounds in all (later rounds vary the best; at most 100)
    #[arg(long, default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100))]
    pub rounds: usize,
    /// Candidates varied after each round (at most 1000)
    #[arg(long, default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub keep: usize,
    /// Dev items that score the candidates
    #[arg(long, default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub dev: usize,
    /// Replace the file `--out` names if it exists, and write the winner even when the
    /// held-out check does not show it better than your instruction (marked as such)
    #[arg(long)]
    pub force: bool,
    /// Held-out items for the final, honest score (default: the rest, at most 50)
    #[arg(long)]
    pub held_out: Option<usize>,
    /// Stop before exceeding this many model calls
    #[arg(long)]
    pub budget: Option<usize>,
    /// Dev items per race step: after each, candidates clearly worse than the leader stop
    /// receiving samples [default: a quarter of the dev items, at least 2]
    #[arg(long, value_name = "K", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub race_batch: Option<usize>,
    /// Where to write the template with the best instruction [default: templates/NAME-ape.yaml]
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Print the plan (candidates, dev and held-out items, calls, prompt tokens, expected
    /// time, the smallest differences the race and the held-out check can detect) and stop
    #[arg(long)]
    pub plan: bool,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("revote").multiple(true).args(["kind", "strict_answers"])))]
pub struct ReplayArgs {
    /// The session file
    pub session: PathBuf,
    /// Only run K (1 is the first)
    #[arg(long, value_name = "K")]
    pub run: Option<usize>,
    /// One JSON object per run (the same fields as `run --json`), one per line
    #[arg(long)]
    pub json: bool,
    /// Print each path's whole text
    #[arg(long)]
    pub full: bool,
    /// Re-send the recorded prompts to a backend and show recorded and new tallies side by side
    #[arg(long)]
    pub rerun: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Re-vote offline with another answer kind (number, choice, text, regex, free)
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// For --kind free: how alike two answers must be to share a vote, in (0, 1]
    #[arg(long, value_name = "S", requires = "kind")]
    pub similarity: Option<f64>,
    /// For --kind free: how answers are judged alike (overlap, embed, usc)
    #[arg(long, value_name = "RULE", requires = "kind")]
    pub cluster: Option<String>,
    /// The pattern for --kind regex (group 1 is the answer)
    #[arg(long)]
    pub pattern: Option<String>,
    /// Labels for --kind choice, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub choices: Vec<String>,
    /// Re-vote offline with strict (or, `=false`, flexible) answers
    #[command(flatten)]
    pub strict: StrictArgs,
    /// Write the re-voted answers and tallies back into the session file
    #[arg(long, requires = "revote")]
    pub write: bool,
    /// With --write: replace a session file that is read-only or hard-linked
    #[arg(long, requires = "write")]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TemplatesArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub action: Option<ModelAction>,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ModelAction {
    /// The GGUF models on this machine the embedded backend can run (--model-path): promptlab's
    /// own, Ollama's and LM Studio's
    List {
        /// One JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Download a GGUF from Hugging Face into promptlab's models folder: OWNER/NAME[:QUANT]
    /// (resumes a cut download, checks the hub's sha256; HF_ENDPOINT and HF_TOKEN respected)
    Pull {
        #[arg(value_name = "OWNER/NAME[:QUANT]")]
        spec: String,
        /// Keep a file the hub gives no sha256 for, or one whose name a model from elsewhere
        /// already has, under a name of its own (OWNER--NAME--FILE)
        #[arg(long)]
        force: bool,
    },
}
