//! Rendering a template and a query into what is sent to the model, in two modes: chat
//! messages for instruction-tuned models, plain completion text for base models.

use super::extract::parse_options;
pub use super::shots::{example_answer, instruction, shown_examples};
use super::spec::answer::AnswerKind;
pub use super::spec::prompt::{Message, Mode, Prompt, Rendered, Role};
use super::spec::template::{Strategy, Template};

/// The zero-shot chain-of-thought trigger of Kojima et al. 2022.
pub const STEP_BY_STEP: &str = "Let's think step by step.";

/// The second-stage phrase of zero-shot CoT that asks for the answer (Kojima et al. 2022).
pub fn answer_trigger(kind: AnswerKind, query: &str) -> String {
    match kind {
        AnswerKind::Number => "Therefore, the answer (arabic numerals) is".into(),
        AnswerKind::Choice => match parse_options(query).last() {
            Some((last, _)) => format!("Therefore, among A through {last}, the answer is"),
            None => "Therefore, the answer is".into(),
        },
        AnswerKind::Text | AnswerKind::Regex | AnswerKind::Free => {
            "Therefore, the answer is".into()
        }
    }
}

/// Renders the first-stage prompt for `query` (for least-to-most: the decomposition prompt).
pub fn render(template: &Template, query: &str, mode: Mode) -> Rendered {
    let strategy = template.strategy;
    let query = query.trim();
    if strategy == Strategy::LeastToMost {
        return super::least_to_most::decompose_prompt(template, query, mode);
    }
    match mode {
        Mode::Completion => {
            let mut p = String::new();
            if let Some(instr) = instruction(template) {
                p.push_str(instr);
                p.push_str("\n\n");
            }
            for e in shown_examples(template) {
                p.push_str(&format!(
                    "Q: {}\nA: {}\n\n",
                    e.input.trim(),
                    example_answer(e, strategy)
                ));
            }
            p.push_str(&format!("Q: {query}\nA:"));
            let stop = match strategy {
                Strategy::ZeroShotCot => {
                    p.push(' ');
                    p.push_str(STEP_BY_STEP);
                    vec!["\nQ:".to_string()]
                }
                Strategy::Direct | Strategy::Cot | Strategy::LeastToMost => {
                    vec!["\n\n".to_string(), "\nQ:".to_string()]
                }
            };
            Rendered {
                prompt: Prompt::Completion(p),
                stop,
            }
        }
        Mode::Chat => {
            let mut msgs = Vec::new();
            if let Some(instr) = instruction(template) {
                msgs.push(Message::new(Role::System, instr));
            }
            for e in shown_examples(template) {
                msgs.push(Message::new(Role::User, e.input.trim()));
                msgs.push(Message::new(Role::Assistant, example_answer(e, strategy)));
            }
            let ask = match strategy {
                Strategy::ZeroShotCot => format!("{query}\n\n{STEP_BY_STEP}"),
                Strategy::Direct | Strategy::Cot | Strategy::LeastToMost => query.to_string(),
            };
            msgs.push(Message::new(Role::User, ask));
            Rendered {
                prompt: Prompt::Chat(msgs),
                stop: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::extract::AnswerSpec;
    use crate::core::template::Strategy;
    use crate::core::template::{Example, Sampling};
    use proptest::prelude::*;

    fn template(strategy: Strategy) -> Template {
        Template {
            version: 1,
            name: "t".into(),
            description: String::new(),
            instruction: Some("Solve the problem.".into()),
            examples: vec![
                Example {
                    input: "There are 3 cars and 2 more arrive. How many cars?".into(),
                    rationale: Some("3 + 2 = 5.".into()),
                    answer: "5".into(),
                    enabled: true,
                    steps: vec![],
                },
                Example {
                    input: "off".into(),
                    rationale: None,
                    answer: "0".into(),
                    enabled: false,
                    steps: vec![],
                },
            ],
            decomposition: vec![],
            strategy,
            answer: AnswerSpec::default(),
            sampling: Sampling::default(),
            mode: None,
            query: None,
            queries: vec![],
            calibrate: Default::default(),
            select: None,
        }
    }

    #[test]
    fn completion_cot_shows_rationale_and_answer_sentence() {
        let r = render(&template(Strategy::Cot), "How many?", Mode::Completion);
        assert_eq!(
            r.prompt.to_string(),
            "Solve the problem.\n\nQ: There are 3 cars and 2 more arrive. How many cars?\nA: 3 + 2 = 5. The answer is 5.\n\nQ: How many?\nA:"
        );
        assert!(r.stop.contains(&"\nQ:".to_string()));
    }

    #[test]
    fn completion_direct_shows_answers_only_and_skips_disabled() {
        let r = render(&template(Strategy::Direct), "How many?", Mode::Completion);
        let p = r.prompt.to_string();
        assert!(p.contains("A: 5\n\n"));
        assert!(!p.contains("3 + 2"));
        assert!(!p.contains("Q: off"));
    }

    #[test]
    fn zero_shot_cot_ends_with_trigger() {
        let mut t = template(Strategy::ZeroShotCot);
        t.examples.clear();
        let r = render(&t, "How many?", Mode::Completion);
        assert_eq!(
            r.prompt.to_string(),
            "Solve the problem.\n\nQ: How many?\nA: Let's think step by step."
        );
        assert_eq!(r.stop, vec!["\nQ:".to_string()]);
    }

    #[test]
    fn chat_mode_is_system_then_pairs_then_query() {
        let r = render(&template(Strategy::Cot), "How many?", Mode::Chat);
        let Prompt::Chat(m) = &r.prompt else {
            panic!("chat")
        };
        let roles: Vec<Role> = m.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::User]
        );
        assert_eq!(m[2].content, "3 + 2 = 5. The answer is 5.");
        assert_eq!(m[3].content, "How many?");
    }

    #[test]
    fn continued_prompt_appends_reply_and_ask() {
        let p = Prompt::Completion("Q: x\nA: Let's think step by step.".into());
        let next = p.continued(
            " 1 + 1 = 2.",
            "\nTherefore, the answer (arabic numerals) is",
        );
        assert_eq!(
            next.to_string(),
            "Q: x\nA: Let's think step by step. 1 + 1 = 2.\nTherefore, the answer (arabic numerals) is"
        );
        let chat = Prompt::Chat(vec![Message::new(Role::User, "x")]);
        let Prompt::Chat(m) = chat.continued(" r ", " ask") else {
            panic!()
        };
        assert_eq!((m[1].role, m[1].content.as_str()), (Role::Assistant, "r"));
        assert_eq!((m[2].role, m[2].content.as_str()), (Role::User, "ask"));
    }

    #[test]
    fn choice_trigger_names_last_option() {
        assert_eq!(
            answer_trigger(AnswerKind::Choice, "(A) a (B) b (C) c"),
            "Therefore, among A through C, the answer is"
        );
    }

    proptest! {
        #[test]
        fn rendering_never_panics(instr in ".{0,80}", input in ".{0,80}", answer in ".{0,20}", query in ".{0,80}") {
            let mut t = template(Strategy::Cot);
            t.instruction = Some(instr);
            t.examples[0].input = input;
            t.examples[0].answer = answer;
            for s in Strategy::ALL {
                t.strategy = s;
                for m in [Mode::Chat, Mode::Completion] {
                    let r = render(&t, &query, m);
                    prop_assert_eq!(r.prompt.mode(), m);
                }
            }
        }
    }
}
