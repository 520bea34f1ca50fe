//! The pure heart of promptlab: templates, prompt rendering, strategies, answer extraction and
//! voting. Nothing here touches files, the network, tokio or the terminal.

pub mod ape;
pub mod calibrate;
pub mod chart;
pub mod compare;
pub mod confidence;
pub mod curve;
pub mod demos;
pub mod digest;
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
pub mod results;
pub mod select;
pub mod settings;
pub mod share;
pub mod shots;
pub mod spec;
pub mod specialist;
pub mod stats;
pub mod strategy;
pub mod strictness;
pub mod thinking;
pub mod variants;
pub mod vote;

pub use record::{BackendInfo, PathRecord, RunRecord, RunResult, StageRecord, Usage};
pub use spec::answer::{AnswerKind, AnswerSpec};
pub use spec::prompt::{Message, Mode, Prompt, Role};
pub use spec::stage::{Stage, Step};
pub use spec::template;
pub use spec::template::{Example, Sampling, Strategy, Template};
pub use strategy::PathMachine;
pub use vote::{Ballot, Tally, TallyEntry};
