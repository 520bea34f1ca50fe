//! Names that come from outside (a server's batch or file ids, model names, a hub's file
//! names): whether one may become a file name or a URL path segment. One rule for all of them,
//! so no id a server chose can climb out of a folder (`../../x`), hide as a dot file, or name
//! a device.

/// The longest name accepted.
pub const MAX_LEN: usize = 200;

/// A name refused: what it was to name ("the batch id"), the name escaped, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused {what} {shown}: {why}")]
pub struct NameError {
    pub what: String,
    /// The name as `{:?}` shows it, cut to `MAX_LEN + 2` characters.
    pub shown: String,
    pub why: &'static str,
}

/// The faces (and files not yet given error types) may carry it as text.
impl From<NameError> for String {
    fn from(e: NameError) -> String {
        e.to_string()
    }
}

/// `Ok` when `id` is ASCII letters, digits, `-`, `_` and `.` only, does not start with a dot,
/// holds no `..` and is at most `MAX_LEN` long; else why not, naming it as `what` ("the batch
/// id"). The id is shown escaped (`{:?}`), so a hostile one cannot write to the terminal.
pub fn check(what: &str, id: &str) -> Result<(), NameError> {
    let why = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > MAX_LEN {
        Some("it is too long")
    } else if id.starts_with('.') {
        Some("it starts with a dot")
    } else if id.contains("..") {
        Some("it holds `..`")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        Some("only ASCII letters, digits, `-`, `_` and `.` may name a file")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => {
            let shown: String = format!("{id:?}").chars().take(MAX_LEN + 2).collect();
            Err(NameError {
                what: what.to_string(),
                shown,
                why,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_leave_a_folder_are_refused() {
        for good in ["batch_abc", "file-123.jsonl", "Q4_K_M.gguf", "a.b-c_d"] {
            assert_eq!(check("the id", good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "../../../../x/pwned",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "x..y",
            "nul\0",
            "esc\u{1b}[31m",
            "ünï",
            "a b",
        ] {
            let e = check("the batch id", bad).unwrap_err().to_string();
            assert!(e.starts_with("refused the batch id"), "{e}");
            assert!(!e.contains('\u{1b}') && !e.contains('\0'), "{e}");
        }
        assert!(check("x", &"a".repeat(MAX_LEN)).is_ok());
        assert!(check("x", &"a".repeat(MAX_LEN + 1)).is_err());
    }
}
