//! The pure heart of promptlab: templates, prompt rendering, strategies, answer extraction and
//! voting. Nothing here touches files, the network, tokio or the terminal.

pub mod ape;
pub mod chart;
pub mod compare;
pub mod confidence;
pub mod display;
pub mod early_stop;
pub mod escapes;
pub mod evaluation;
pub mod extract;
pub mod free;
pub mod least_to_most;
pub mod metrics;
pub mod name;
pub mod numbers;
pub mod options;
pub mod record;
pub mod record_check;
pub mod render;
pub mod share;
pub mod stats;
pub mod strategy;
pub mod strictness;
pub mod template;
pub mod thinking;
pub mod variants;
pub mod vote;

pub use extract::{AnswerKind, AnswerSpec};
pub use record::{BackendInfo, PathRecord, RunRecord, RunResult, StageRecord, Usage};
pub use render::{Message, Mode, Prompt, Role};
pub use strategy::{PathMachine, Stage, Step};
pub use template::{Example, Sampling, Strategy, Template};
pub use vote::{Ballot, Tally, TallyEntry};
