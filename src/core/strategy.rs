//! Strategies as sans-IO state machines: a path asks for samples and is fed completions,
//! without knowing where they come from. The engine owns the loop; tests drive it with strings.

use super::least_to_most::LeastToMost;
use super::spec::prompt::Rendered;
pub use super::spec::stage::{SampleSpec, Stage, Step};
use super::spec::template::Strategy;

/// Max tokens of zero-shot CoT's answer-extraction stage.
pub const EXTRACT_MAX_TOKENS: u32 = 32;

/// One reasoning path of a run.
#[derive(Debug, Clone)]
pub enum PathMachine {
    /// Direct, few-shot CoT and zero-shot CoT.
    Simple(SimplePath),
    LeastToMost(Box<LeastToMost>),
}

impl PathMachine {
    /// `answer_trigger` is the phrase of zero-shot CoT's second stage (see
    /// `render::answer_trigger`); the other strategies ignore it.
    pub fn new(
        strategy: Strategy,
        first: Rendered,
        answer_trigger: String,
        max_tokens: u32,
    ) -> Self {
        PathMachine::Simple(SimplePath {
            strategy,
            first,
            answer_trigger,
            max_tokens,
            stage: None,
        })
    }

    pub fn start(&mut self) -> Step {
        match self {
            PathMachine::Simple(m) => m.start(),
            PathMachine::LeastToMost(m) => m.start(),
        }
    }

    /// Feeds the completion of the sample last asked for.
    pub fn on_completion(&mut self, completion: &str) -> Step {
        match self {
            PathMachine::Simple(m) => m.on_completion(completion),
            PathMachine::LeastToMost(m) => m.on_completion(completion),
        }
    }
}

/// The machine of the one- and two-stage strategies.
#[derive(Debug, Clone)]
pub struct SimplePath {
    strategy: Strategy,
    first: Rendered,
    answer_trigger: String,
    max_tokens: u32,
    stage: Option<Stage>,
}

impl SimplePath {
    pub fn start(&mut self) -> Step {
        let stage = match self.strategy {
            Strategy::ZeroShotCot => Stage::Reason,
            Strategy::Direct | Strategy::Cot | Strategy::LeastToMost => Stage::Answer,
        };
        self.stage = Some(stage);
        Step::Sample(SampleSpec {
            stage,
            prompt: self.first.prompt.clone(),
            stop: self.first.stop.clone(),
            max_tokens: self.max_tokens,
            preface: String::new(),
            question: None,
        })
    }

    /// Feeds the completion of the sample last asked for.
    pub fn on_completion(&mut self, completion: &str) -> Step {
        match self.stage {
            Some(Stage::Reason) => {
                let reasoning = completion.trim_end();
                let preface = format!("\n{}", self.answer_trigger);
                let prompt = self.first.prompt.continued(reasoning, &preface);
                self.stage = Some(Stage::Extract);
                Step::Sample(SampleSpec {
                    stage: Stage::Extract,
                    prompt,
                    stop: vec!["\n".to_string()],
                    max_tokens: EXTRACT_MAX_TOKENS,
                    preface,
                    question: None,
                })
            }
            _ => {
                self.stage = None;
                Step::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::render::{Message, Prompt, Role};

    fn rendered() -> Rendered {
        Rendered {
            prompt: Prompt::Completion("Q: 2+3?\nA: Let's think step by step.".into()),
            stop: vec!["\nQ:".into()],
        }
    }

    #[test]
    fn direct_is_one_sample() {
        let mut m = PathMachine::new(Strategy::Direct, rendered(), String::new(), 64);
        let Step::Sample(s) = m.start() else { panic!() };
        assert_eq!((s.stage, s.max_tokens), (Stage::Answer, 64));
        assert_eq!(m.on_completion(" 5"), Step::Done);
    }

    #[test]
    fn zero_shot_cot_reasons_then_extracts() {
        let trigger = "Therefore, the answer (arabic numerals) is".to_string();
        let mut m = PathMachine::new(Strategy::ZeroShotCot, rendered(), trigger, 128);
        let Step::Sample(s1) = m.start() else {
            panic!()
        };
        assert_eq!(s1.stage, Stage::Reason);
        let Step::Sample(s2) = m.on_completion(" 2 + 3 = 5.\n") else {
            panic!()
        };
        assert_eq!(s2.stage, Stage::Extract);
        assert_eq!(s2.max_tokens, EXTRACT_MAX_TOKENS);
        assert_eq!(s2.stop, vec!["\n".to_string()]);
        assert_eq!(
            s2.prompt.to_string(),
            "Q: 2+3?\nA: Let's think step by step. 2 + 3 = 5.\nTherefore, the answer (arabic numerals) is"
        );
        assert_eq!(s2.preface, "\nTherefore, the answer (arabic numerals) is");
        assert_eq!(m.on_completion(" 5."), Step::Done);
    }

    #[test]
    fn zero_shot_cot_in_chat_adds_turns() {
        let first = Rendered {
            prompt: Prompt::Chat(vec![Message::new(
                Role::User,
                "2+3?\n\nLet's think step by step.",
            )]),
            stop: vec![],
        };
        let mut m = PathMachine::new(
            Strategy::ZeroShotCot,
            first,
            "Therefore, the answer is".into(),
            16,
        );
        m.start();
        let Step::Sample(s2) = m.on_completion("It is 5.") else {
            panic!()
        };
        let Prompt::Chat(msgs) = s2.prompt else {
            panic!()
        };
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2].content, "Therefore, the answer is");
    }
}
