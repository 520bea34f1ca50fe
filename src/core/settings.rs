//! One table of the settings a template carries: each one's name (the `--vary` key and the
//! template's field), its label in the lab's settings bar, how a typed value is read, what
//! one step up or down is, and how it applies to a template. The flags of `run`/`eval`/
//! `optimize`, `--vary`, and the lab's settings bar (typed or stepped) all go through it; the
//! bounds are the template's own (`Sampling::validate`), checked after every change.

use super::early_stop::Rule;
use super::spec::answer::{AnswerKind, AnswerSpec};
use super::spec::error::SpecError;
use super::spec::prompt::Mode;
use super::spec::template::{
    Calibrate, Effort, MAX_N, MAX_TOP_K, Select, SelectBy, Template, Thinking,
};

/// A setting of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Strategy,
    N,
    EarlyStop,
    Temperature,
    TopP,
    TopK,
    MaxTokens,
    Seed,
    Mode,
    Answer,
    Strict,
    Thinking,
    Effort,
    Instruction,
    Shots,
    Calibrate,
    Select,
}

/// Efforts in the settings bar's order (`default`: the server's).
const EFFORTS: [Option<Effort>; 4] = [
    None,
    Some(Effort::Low),
    Some(Effort::Medium),
    Some(Effort::High),
];
const MODES: [Option<Mode>; 3] = [None, Some(Mode::Chat), Some(Mode::Completion)];
const KINDS: [AnswerKind; 5] = [
    AnswerKind::Number,
    AnswerKind::Choice,
    AnswerKind::Text,
    AnswerKind::Regex,
    AnswerKind::Free,
];

impl Key {
    /// Every setting, in the table's order.
    pub const ALL: [Key; 17] = [
        Key::Strategy,
        Key::N,
        Key::EarlyStop,
        Key::Temperature,
        Key::TopP,
        Key::TopK,
        Key::MaxTokens,
        Key::Seed,
        Key::Mode,
        Key::Answer,
        Key::Strict,
        Key::Thinking,
        Key::Effort,
        Key::Instruction,
        Key::Shots,
        Key::Calibrate,
        Key::Select,
    ];

    /// Its name: the `--vary` key (and the template's field).
    pub fn name(self) -> &'static str {
        match self {
            Key::Strategy => "strategy",
            Key::N => "n",
            Key::EarlyStop => "early_stop",
            Key::Temperature => "temperature",
            Key::TopP => "top_p",
            Key::TopK => "top_k",
            Key::MaxTokens => "max_tokens",
            Key::Seed => "seed",
            Key::Mode => "mode",
            Key::Answer => "answer",
            Key::Strict => "strict",
            Key::Thinking => "thinking",
            Key::Effort => "reasoning_effort",
            Key::Instruction => "instruction",
            Key::Shots => "shots",
            Key::Calibrate => "calibrate",
            Key::Select => "select",
        }
    }

    /// Its label in the lab's settings bar.
    pub fn label(self) -> &'static str {
        match self {
            Key::N => "N",
            Key::EarlyStop => "stop",
            Key::TopP => "top-p",
            Key::TopK => "top-k",
            Key::MaxTokens => "max tokens",
            Key::Effort => "effort",
            k => k.name(),
        }
    }

    /// The setting named `name` (`-` and `_` alike).
    pub fn named(name: &str) -> Option<Key> {
        let name = name.trim().replace('-', "_");
        Key::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether `--vary` compares its values (the answer spec is read the same for every
    /// variant of an evaluation, so it is not among them).
    pub fn varies(self) -> bool {
        self != Key::Answer
    }

    /// Settings that say how answers are read and voted, not how they are sampled: a run
    /// already made is re-voted under them.
    pub fn revotes(self) -> bool {
        matches!(self, Key::Answer | Key::Strict)
    }

    /// Its value in `t`, as the settings bar shows it and `set` reads it.
    pub fn value(self, t: &Template) -> String {
        let s = &t.sampling;
        match self {
            Key::Strategy => t.strategy.to_string(),
            Key::N => s.n.to_string(),
            Key::EarlyStop => s.early_stop.to_string(),
            Key::Temperature => format!("{}", s.temperature),
            Key::TopP => format!("{}", s.top_p),
            Key::TopK => s.top_k.to_string(),
            Key::MaxTokens => s.max_tokens.to_string(),
            Key::Seed => s.seed.to_string(),
            Key::Mode => t.mode.map_or("auto", Mode::as_str).to_string(),
            Key::Thinking => s.thinking.as_str().to_string(),
            Key::Effort => s
                .reasoning_effort
                .map_or("default", Effort::as_str)
                .to_string(),
            Key::Answer => t.answer.short(),
            Key::Strict => if t.answer.strict { "on" } else { "off" }.to_string(),
            Key::Instruction => t.instruction.clone().unwrap_or_else(|| "none".into()),
            Key::Shots => t.active_examples().count().to_string(),
            Key::Calibrate => t.calibrate.to_string(),
            Key::Select => match t.select {
                Some(sel) if sel.by == SelectBy::Knn => format!("knn:{}", sel.k),
                _ => "fixed".to_string(),
            },
        }
    }

    /// Sets it in `t` from `typed`, or says what it accepts (`t` is left as it was).
    pub fn set(self, t: &mut Template, typed: &str) -> Result<(), SpecError> {
        let mut next = t.clone();
        self.read_into(&mut next, typed)?;
        next.sampling
            .validate()
            .map_err(|e| SpecError::Sampling(Box::new(e)))?;
        *t = next;
        Ok(())
    }

    fn read_into(self, t: &mut Template, typed: &str) -> Result<(), SpecError> {
        fn num<T: std::str::FromStr>(typed: &str) -> Result<T, SpecError>
        where
            T::Err: Into<SpecError>,
        {
            typed.trim().parse().map_err(Into::into)
        }
        let s = &mut t.sampling;
        match self {
            Key::Strategy => t.strategy = typed.trim().parse()?,
            Key::N => s.n = num(typed)?,
            Key::EarlyStop => s.early_stop = typed.trim().parse()?,
            Key::Temperature => s.temperature = num(typed)?,
            Key::TopP => s.top_p = num(typed)?,
            Key::TopK => s.top_k = num(typed)?,
            Key::MaxTokens => s.max_tokens = num(typed)?,
            Key::Seed => s.seed = num(typed)?,
            Key::Mode => {
                t.mode = match typed.trim() {
                    "auto" | "" => None,
                    m => Some(m.parse()?),
                }
            }
            Key::Thinking => s.thinking = typed.trim().parse()?,
            Key::Effort => {
                s.reasoning_effort = match typed.trim() {
                    "default" | "none" | "" => None,
                    e => Some(e.parse()?),
                }
            }
            Key::Answer => {
                if typed.trim() == "regex" && t.answer.pattern.is_none() {
                    return Err(SpecError::RegexWithoutPattern);
                }
                t.answer = t.answer.with_short(typed)?;
            }
            Key::Strict => {
                t.answer.strict = match typed.trim() {
                    "on" | "true" | "strict" => true,
                    "off" | "false" | "flexible" => false,
                    _ => return Err(SpecError::OnOrOff(typed.to_string())),
                }
            }
            Key::Instruction => {
                t.instruction = Some(typed.to_string()).filter(|v| !v.is_empty() && v != "none")
            }
            Key::Shots => {
                let k: usize = num(typed)?;
                if k > t.examples.len() {
                    return Err(SpecError::Shots(t.examples.len()));
                }
                for (i, e) in t.examples.iter_mut().enumerate() {
                    e.enabled = i < k;
                }
            }
            Key::Calibrate => t.calibrate = typed.trim().parse()?,
            Key::Select => t.select = Select::parse(typed.trim(), t.select)?,
        }
        Ok(())
    }

    /// One step up (or down) in `t`, within its bounds: numbers by their step, choices round
    /// a ring (↑ and ↓ walk it in opposite directions). The instruction and the shots have
    /// no step.
    pub fn step(self, t: &mut Template, up: bool) {
        let sm = &mut t.sampling;
        let by = |v: f32, d: f32| ((v + if up { d } else { -d }) * 100.0).round() / 100.0;
        match self {
            Key::Strategy => {
                t.strategy = if up {
                    t.strategy.cycle()
                } else {
                    t.strategy.cycle_back()
                }
            }
            Key::N => sm.n = if up { sm.n + 1 } else { sm.n.saturating_sub(1) }.clamp(1, MAX_N),
            Key::EarlyStop => sm.early_stop = ring(&Rule::PRESETS, sm.early_stop, up),
            Key::Temperature => sm.temperature = by(sm.temperature, 0.1).clamp(0.0, 2.0),
            // Down to one step above 0 (top-p 0 keeps nothing).
            Key::TopP => sm.top_p = by(sm.top_p, 0.05).clamp(0.05, 1.0),
            Key::TopK => {
                sm.top_k = if up {
                    sm.top_k.saturating_add(5).min(MAX_TOP_K)
                } else {
                    sm.top_k.saturating_sub(5)
                }
            }
            // Doubled or halved between 8 and 4096 (longer is typed).
            Key::MaxTokens => {
                sm.max_tokens = if up {
                    (sm.max_tokens * 2).min(4096)
                } else {
                    (sm.max_tokens / 2).max(8)
                }
            }
            // Bounded, never wrapping: ↓ at 0 stays at 0.
            Key::Seed => {
                sm.seed = if up {
                    sm.seed.saturating_add(1)
                } else {
                    sm.seed.saturating_sub(1)
                }
            }
            Key::Mode => t.mode = ring(&MODES, t.mode, up),
            Key::Thinking => sm.thinking = ring(&Thinking::ALL, sm.thinking, up),
            Key::Effort => sm.reasoning_effort = ring(&EFFORTS, sm.reasoning_effort, up),
            Key::Answer => {
                t.answer.kind = next_kind(&t.answer, up);
                // A free-form vote's rule and similarity go with it (typed: `free:usc:0.6`).
                if t.answer.kind != AnswerKind::Free {
                    t.answer.similarity = None;
                    t.answer.cluster = None;
                }
            }
            Key::Strict => t.answer.strict = !t.answer.strict,
            Key::Calibrate => t.calibrate = ring(&Calibrate::ALL, t.calibrate, up),
            Key::Instruction | Key::Shots | Key::Select => {}
        }
    }
}

/// The answer kind after (or before) `spec`'s, skipping `regex` without a pattern.
fn next_kind(spec: &AnswerSpec, up: bool) -> AnswerKind {
    let next = ring(&KINDS, spec.kind, up);
    if next == AnswerKind::Regex && spec.pattern.is_none() {
        return ring(&KINDS, next, up);
    }
    next
}

/// The value after (or before) `now` in `values`, round and round.
fn ring<T: Copy + PartialEq>(values: &[T], now: T, up: bool) -> T {
    let i = values.iter().position(|v| *v == now).unwrap_or(0);
    let n = values.len();
    values[if up { (i + 1) % n } else { (i + n - 1) % n }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        serde_saphyr::from_str(
            "name: t\nexamples:\n  - {input: a, answer: '1'}\n  - {input: b, answer: '2'}\n",
        )
        .unwrap()
    }

    #[test]
    fn every_name_finds_its_setting_and_every_value_reads_back() {
        let t = template();
        for k in Key::ALL {
            assert_eq!(Key::named(k.name()), Some(k));
            let mut again = t.clone();
            k.set(&mut again, &k.value(&t)).unwrap();
            assert_eq!(again, t, "{}", k.name());
        }
        assert_eq!(Key::named("top-p"), Some(Key::TopP));
        assert_eq!(Key::named("colour"), None);
    }

    #[test]
    fn a_value_out_of_bounds_is_refused_and_changes_nothing() {
        let mut t = template();
        let e = Key::N.set(&mut t, "0").unwrap_err().to_string();
        assert!(e.contains("n must be between 1 and 64"), "{e}");
        assert!(Key::Temperature.set(&mut t, "2.5").is_err());
        assert!(Key::TopP.set(&mut t, "0").is_err());
        assert!(Key::N.set(&mut t, "many").is_err());
        assert!(Key::Shots.set(&mut t, "3").is_err());
        assert!(Key::Strict.set(&mut t, "yes").is_err());
        assert!(Key::Answer.set(&mut t, "regex").is_err());
        assert_eq!(t, template());
    }

    #[test]
    fn typed_values_apply_to_the_template() {
        let mut t = template();
        Key::Temperature.set(&mut t, "0.7").unwrap();
        Key::Mode.set(&mut t, "chat").unwrap();
        Key::Effort.set(&mut t, "high").unwrap();
        Key::Shots.set(&mut t, "1").unwrap();
        Key::Instruction.set(&mut t, "none").unwrap();
        assert_eq!(t.sampling.temperature, 0.7);
        assert_eq!(t.mode, Some(Mode::Chat));
        assert_eq!(t.sampling.reasoning_effort, Some(Effort::High));
        assert_eq!(t.active_examples().count(), 1);
        assert_eq!(t.instruction, None);
        Key::Effort.set(&mut t, "default").unwrap();
        assert_eq!(t.sampling.reasoning_effort, None);
    }

    #[test]
    fn steps_stay_within_bounds() {
        let mut t = template();
        t.sampling.n = 1;
        Key::N.step(&mut t, false);
        assert_eq!(t.sampling.n, 1);
        t.sampling.n = MAX_N;
        Key::N.step(&mut t, true);
        assert_eq!(t.sampling.n, MAX_N);
        t.sampling.temperature = 1.95;
        Key::Temperature.step(&mut t, true);
        assert_eq!(t.sampling.temperature, 2.0);
        t.sampling.top_p = 0.05;
        Key::TopP.step(&mut t, false);
        assert_eq!(t.sampling.top_p, 0.05);
        t.sampling.seed = 0;
        Key::Seed.step(&mut t, false);
        assert_eq!(t.sampling.seed, 0);
        // A ring: ↑ then ↓ is where it was.
        for k in [
            Key::Strategy,
            Key::Mode,
            Key::Effort,
            Key::Thinking,
            Key::EarlyStop,
        ] {
            let before = t.clone();
            k.step(&mut t, true);
            assert_ne!(t, before, "{}", k.name());
            k.step(&mut t, false);
            assert_eq!(t, before, "{}", k.name());
        }
        // Regex is skipped without a pattern.
        t.answer.kind = AnswerKind::Text;
        Key::Answer.step(&mut t, true);
        assert_eq!(t.answer.kind, AnswerKind::Free);
    }
}
