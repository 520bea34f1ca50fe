//! Least-to-most prompting (Zhou et al. 2022): a decomposition stage lists the sub-questions
//! of a problem, then a solving stage answers them in order, each asked with the solving
//! exemplars plus every earlier sub-question and its answer; the last sub-question is the
//! problem's own question, whose answer is the final answer. A sans-IO machine: it asks for
//! samples and is fed completions.

use std::sync::LazyLock;

use regex::Regex;

use super::shots::{example_answer, instruction};
use super::spec::prompt::{Message, Mode, Prompt, Rendered, Role};
use super::spec::stage::{SampleSpec, Stage, Step};
use super::spec::template::{Strategy, Template};

/// At most this many sub-questions are taken from a decomposition (a runaway list is cut).
pub const MAX_SUBQUESTIONS: usize = 8;

const LIST_HEAD: &str = "Sub-questions:";
const CHAT_ASK: &str = "List the sub-questions to answer first, one per line, numbered.";

fn stops() -> Vec<String> {
    vec!["\n\n".to_string(), "\nQ:".to_string()]
}

/// The decomposition prompt: exemplars of problems and their sub-questions, then the query.
pub fn decompose_prompt(t: &Template, query: &str, mode: Mode) -> Rendered {
    let numbered = |qs: &[String]| {
        qs.iter()
            .enumerate()
            .map(|(i, q)| format!("{}. {}", i + 1, q.trim()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match mode {
        Mode::Completion => {
            let mut p = instruction(t)
                .map(|i| format!("{i}\n\n"))
                .unwrap_or_default();
            for d in &t.decomposition {
                p.push_str(&format!(
                    "Q: {}\n{LIST_HEAD}\n{}\n\n",
                    d.input.trim(),
                    numbered(&d.subquestions)
                ));
            }
            p.push_str(&format!("Q: {}\n{LIST_HEAD}", query.trim()));
            Rendered {
                prompt: Prompt::Completion(p),
                stop: stops(),
            }
        }
        Mode::Chat => {
            let mut m: Vec<Message> = instruction(t)
                .map(|i| Message::new(Role::System, i))
                .into_iter()
                .collect();
            for d in &t.decomposition {
                m.push(Message::new(
                    Role::User,
                    format!("{}\n\n{CHAT_ASK}", d.input.trim()),
                ));
                m.push(Message::new(Role::Assistant, numbered(&d.subquestions)));
            }
            m.push(Message::new(
                Role::User,
                format!("{}\n\n{CHAT_ASK}", query.trim()),
            ));
            Rendered {
                prompt: Prompt::Chat(m),
                stop: Vec::new(),
            }
        }
    }
}

/// The solving prompt for the next sub-question, after `done` (question, answer) pairs.
pub fn solve_prompt(
    t: &Template,
    query: &str,
    done: &[(String, String)],
    next: &str,
    mode: Mode,
) -> Rendered {
    // Each exemplar: its problem, then its steps (an exemplar without steps is one step).
    let exemplars: Vec<(String, Vec<(String, String)>)> = t
        .active_examples()
        .map(|e| {
            let steps = if e.steps.is_empty() {
                vec![(
                    e.input.trim().to_string(),
                    example_answer(e, Strategy::LeastToMost),
                )]
            } else {
                e.steps
                    .iter()
                    .map(|s| (s.question.trim().to_string(), s.answer.trim().to_string()))
                    .collect()
            };
            (e.input.trim().to_string(), steps)
        })
        .collect();
    match mode {
        Mode::Completion => {
            let mut p = instruction(t)
                .map(|i| format!("{i}\n\n"))
                .unwrap_or_default();
            let block = |problem: &str, steps: &[(String, String)]| {
                let mut b = format!("{problem}\n\n");
                for (q, a) in steps {
                    b.push_str(&format!("Q: {q}\nA: {a}\n\n"));
                }
                b
            };
            for (problem, steps) in &exemplars {
                p.push_str(&block(problem, steps));
            }
            p.push_str(&block(query.trim(), done));
            p.push_str(&format!("Q: {}\nA:", next.trim()));
            Rendered {
                prompt: Prompt::Completion(p),
                stop: stops(),
            }
        }
        Mode::Chat => {
            use Role::{Assistant, System, User};
            let mut m: Vec<Message> = instruction(t)
                .map(|i| Message::new(System, i))
                .into_iter()
                .collect();
            let turns = |problem: &str, steps: &[(String, String)], m: &mut Vec<Message>| {
                for (i, (q, a)) in steps.iter().enumerate() {
                    let ask = if i == 0 {
                        format!("{problem}\n\nQ: {q}")
                    } else {
                        format!("Q: {q}")
                    };
                    m.push(Message::new(User, ask));
                    m.push(Message::new(Assistant, a.clone()));
                }
            };
            for (problem, steps) in &exemplars {
                turns(problem, steps, &mut m);
            }
            turns(query.trim(), done, &mut m);
            let ask = if done.is_empty() {
                format!("{}\n\nQ: {}", query.trim(), next.trim())
            } else {
                format!("Q: {}", next.trim())
            };
            m.push(Message::new(User, ask));
            Rendered {
                prompt: Prompt::Chat(m),
                stop: Vec::new(),
            }
        }
    }
}

static NUMBERED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\d+\s*[.):]\s*(\S.*)$").expect("static regex"));

/// The numbered sub-questions in a decomposition ("1. …", "2) …"), at most
/// `MAX_SUBQUESTIONS`, without repeats.
pub fn parse_subquestions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(c) = NUMBERED.captures(line) {
            let q = c[1].trim().to_string();
            if !out.contains(&q) {
                out.push(q);
            }
        }
        if out.len() == MAX_SUBQUESTIONS {
            break;
        }
    }
    out
}

/// The question part of a problem: its last sentence ending in "?", or the whole problem.
pub fn final_question(problem: &str) -> String {
    let p = problem.trim();
    match p.rfind('?') {
        Some(end) => {
            let start = p[..end].rfind(['.', '!', '?', '\n']).map_or(0, |i| i + 1);
            p[start..=end].trim().to_string()
        }
        None => p.to_string(),
    }
}

/// The least-to-most machine of one path.
#[derive(Debug, Clone)]
pub struct LeastToMost {
    template: Template,
    query: String,
    mode: Mode,
    max_tokens: u32,
    questions: Vec<String>,
    answers: Vec<String>,
}

impl LeastToMost {
    pub fn new(template: Template, query: &str, mode: Mode, max_tokens: u32) -> Self {
        LeastToMost {
            template,
            query: query.trim().to_string(),
            mode,
            max_tokens,
            questions: vec![],
            answers: vec![],
        }
    }

    pub fn start(&mut self) -> Step {
        let r = decompose_prompt(&self.template, &self.query, self.mode);
        Step::Sample(SampleSpec {
            stage: Stage::Decompose,
            prompt: r.prompt,
            stop: r.stop,
            max_tokens: self.max_tokens,
            preface: LIST_HEAD.to_string(),
            question: None,
        })
    }

    pub fn on_completion(&mut self, completion: &str) -> Step {
        if self.questions.is_empty() {
            // The decomposition: its sub-questions, then the problem's own question last.
            let mut qs = parse_subquestions(completion);
            let last = final_question(&self.query);
            if qs
                .last()
                .is_none_or(|q| q.to_lowercase() != last.to_lowercase())
            {
                qs.push(last);
            }
            self.questions = qs;
        } else {
            self.answers.push(completion.trim().to_string());
        }
        let k = self.answers.len();
        if k == self.questions.len() {
            return Step::Done;
        }
        let done: Vec<(String, String)> = self.questions[..k]
            .iter()
            .cloned()
            .zip(self.answers.iter().cloned())
            .collect();
        let r = solve_prompt(
            &self.template,
            &self.query,
            &done,
            &self.questions[k],
            self.mode,
        );
        Step::Sample(SampleSpec {
            stage: Stage::Solve(k),
            prompt: r.prompt,
            stop: r.stop,
            max_tokens: self.max_tokens,
            preface: format!("\n\nQ: {}\nA:", self.questions[k]),
            question: Some(self.questions[k].clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::extract::AnswerSpec;
    use crate::core::template::{Decomposition, Example, Sampling, SolveStep};

    fn template() -> Template {
        Template {
            version: 1,
            name: "ltm".into(),
            description: String::new(),
            instruction: None,
            examples: vec![Example {
                input: "Elsa has 5 apples. Anna has 2 more apples than Elsa. How many apples do they have together?".into(),
                rationale: None,
                answer: "12".into(),
                enabled: true,
                steps: vec![
                    SolveStep { question: "How many apples does Anna have?".into(), answer: "Anna has 2 more than Elsa's 5, so 7.".into() },
                    SolveStep { question: "How many apples do they have together?".into(), answer: "5 + 7 = 12. The answer is 12.".into() },
                ],
            }],
            decomposition: vec![Decomposition {
                input: "Elsa has 5 apples. Anna has 2 more apples than Elsa. How many apples do they have together?".into(),
                subquestions: vec!["How many apples does Anna have?".into()],
            }],
            strategy: Strategy::LeastToMost,
            answer: AnswerSpec::default(),
            sampling: Sampling::default(),
            mode: None,
            query: None,
            queries: vec![],
            calibrate: Default::default(),
            select: None,
        }
    }

    const Q: &str = "Tom has 3 cars. Ben has 4 more cars than Tom. How many cars do they have?";

    #[test]
    fn decompose_then_solve_in_order_with_earlier_answers() {
        let mut m = LeastToMost::new(template(), Q, Mode::Completion, 64);
        let Step::Sample(d) = m.start() else { panic!() };
        assert_eq!(d.stage, Stage::Decompose);
        assert!(
            d.prompt
                .to_string()
                .ends_with(&format!("Q: {Q}\nSub-questions:"))
        );
        assert!(
            d.prompt
                .to_string()
                .contains("Sub-questions:\n1. How many apples does Anna have?\n\n")
        );
        let Step::Sample(s0) = m.on_completion("\n1. How many cars does Ben have?\n") else {
            panic!()
        };
        assert_eq!(s0.stage, Stage::Solve(0));
        assert!(
            s0.prompt
                .to_string()
                .ends_with(&format!("{Q}\n\nQ: How many cars does Ben have?\nA:"))
        );
        let Step::Sample(s1) = m.on_completion(" Ben has 3 + 4 = 7 cars.") else {
            panic!()
        };
        assert_eq!(s1.stage, Stage::Solve(1));
        assert!(s1.prompt.to_string().ends_with("Q: How many cars does Ben have?\nA: Ben has 3 + 4 = 7 cars.\n\nQ: How many cars do they have?\nA:"));
        assert_eq!(s1.question.as_deref(), Some("How many cars do they have?"));
        assert_eq!(s1.preface, "\n\nQ: How many cars do they have?\nA:");
        assert_eq!(
            m.on_completion(" 3 + 7 = 10. The answer is 10."),
            Step::Done
        );
    }

    #[test]
    fn an_empty_decomposition_solves_the_question_directly() {
        let mut m = LeastToMost::new(template(), Q, Mode::Completion, 64);
        m.start();
        let Step::Sample(s) = m.on_completion(" (nothing useful)") else {
            panic!()
        };
        assert_eq!(s.stage, Stage::Solve(0));
        assert!(
            s.prompt
                .to_string()
                .ends_with("Q: How many cars do they have?\nA:")
        );
        assert_eq!(m.on_completion(" The answer is 10."), Step::Done);
    }

    #[test]
    fn chat_mode_turns() {
        let mut m = LeastToMost::new(template(), Q, Mode::Chat, 64);
        let Step::Sample(d) = m.start() else { panic!() };
        let Prompt::Chat(msgs) = d.prompt else {
            panic!()
        };
        assert_eq!(msgs.len(), 3);
        m.on_completion("1. How many cars does Ben have?");
        let Step::Sample(s1) = m.on_completion("7.") else {
            panic!()
        };
        let Prompt::Chat(msgs) = s1.prompt else {
            panic!()
        };
        assert_eq!(
            msgs.last().unwrap().content,
            "Q: How many cars do they have?"
        );
        assert_eq!(msgs[msgs.len() - 2].content, "7.");
    }

    #[test]
    fn parsing() {
        assert_eq!(
            parse_subquestions("\n1. a?\n2) b?\nfoo\n3: a?\n"),
            vec!["a?", "b?"]
        );
        assert_eq!(parse_subquestions(&"1. x\n".repeat(20)).len(), 1);
        assert_eq!(final_question("He has 3. How many now? "), "How many now?");
        assert_eq!(final_question("no question"), "no question");
    }
}
