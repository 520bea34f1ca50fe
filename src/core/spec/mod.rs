//! The lower floor of `core`: plain data the behaviour files share — the template schema
//! (`template`), what is sent to a model (`prompt`), the answer spec (`answer`), early-stop
//! rules (`rule`) and what a path asks for (`stage`). Nothing here imports a behaviour file
//! of `core`; behaviour adds its methods where it lives (`early_stop` gives `Rule::check`).

pub mod answer;
pub mod error;
pub mod prompt;
pub mod rule;
pub mod stage;
pub mod template;

pub use error::SpecError;
