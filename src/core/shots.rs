//! How a template's instruction and few-shot examples are written into a prompt, shared by
//! every strategy's rendering (`render`, `least_to_most`).

use super::spec::template::{Example, Strategy, Template};

/// How one example's answer is written under a strategy.
pub fn example_answer(example: &Example, strategy: Strategy) -> String {
    let answer = example.answer.trim();
    let sentence = || {
        let end = if answer.ends_with('.') { "" } else { "." };
        format!("The answer is {answer}{end}")
    };
    match (strategy, &example.rationale) {
        (Strategy::Direct, _) | (_, None) => answer.to_string(),
        (Strategy::Cot | Strategy::ZeroShotCot | Strategy::LeastToMost, Some(r)) => {
            let r = r.trim();
            if r.is_empty() {
                sentence()
            } else {
                format!("{r} {}", sentence())
            }
        }
    }
}

/// The template's instruction, if it says anything.
pub fn instruction(template: &Template) -> Option<&str> {
    template
        .instruction
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The examples a strategy sends: the active ones, or none for zero-shot CoT (zero-shot
/// means no demonstrations; the examples stay in the template for the other strategies).
pub fn shown_examples(template: &Template) -> Vec<&Example> {
    match template.strategy {
        Strategy::ZeroShotCot => Vec::new(),
        _ => template.active_examples().collect(),
    }
}
