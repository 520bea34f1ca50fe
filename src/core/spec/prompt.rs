//! What is sent to a model: chat messages or completion text, and the mode that picks one.
//! Plain data; rendering a template into it is `core::render`.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Instruction as system message, each example a user/assistant pair, the query last.
    Chat,
    /// "Q: ... / A: ..." blocks for base models, with stop sequences at the next question.
    Completion,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::Completion => "completion",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = super::error::SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chat" => Ok(Mode::Chat),
            "completion" => Ok(Mode::Completion),
            _ => Err(super::error::SpecError::unknown(
                "mode",
                s,
                "chat or completion",
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// Exactly what is sent to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    Completion(String),
    Chat(Vec<Message>),
}

impl Prompt {
    pub fn mode(&self) -> Mode {
        match self {
            Prompt::Completion(_) => Mode::Completion,
            Prompt::Chat(_) => Mode::Chat,
        }
    }

    /// The prompt continued by the model's `reply` and then a follow-up `ask`: in completion
    /// mode plain concatenation, in chat mode an assistant turn and a user turn.
    pub fn continued(&self, reply: &str, ask: &str) -> Prompt {
        match self {
            Prompt::Completion(p) => Prompt::Completion(format!("{p}{reply}{ask}")),
            Prompt::Chat(msgs) => {
                let mut msgs = msgs.clone();
                msgs.push(Message::new(Role::Assistant, reply.trim()));
                msgs.push(Message::new(Role::User, ask.trim()));
                Prompt::Chat(msgs)
            }
        }
    }

    /// Characters in the prompt (a cheap size measure for display).
    pub fn char_len(&self) -> usize {
        match self {
            Prompt::Completion(p) => p.chars().count(),
            Prompt::Chat(m) => m.iter().map(|m| m.content.chars().count()).sum(),
        }
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prompt::Completion(p) => f.write_str(p),
            Prompt::Chat(msgs) => {
                for (i, m) in msgs.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n\n")?;
                    }
                    let role = match m.role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    write!(f, "[{role}]\n{}", m.content)?;
                }
                Ok(())
            }
        }
    }
}

/// A rendered first-stage prompt with its stop sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub prompt: Prompt,
    pub stop: Vec<String>,
}
