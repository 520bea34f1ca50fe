//! Files named by an id that came from outside (a server's batch id, a hub's file name):
//! the id is checked by `core::name::check` before it becomes part of a path, so nothing is
//! ever written outside the folder it belongs in.

use std::path::{Path, PathBuf};

pub use crate::core::name::{NameError, check};

/// `dir/{id}{suffix}`, or why `id` (called `what` in the message) cannot name a file.
pub fn file_in(dir: &Path, what: &str, id: &str, suffix: &str) -> Result<PathBuf, NameError> {
    check(what, id)?;
    Ok(dir.join(format!("{id}{suffix}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_id_stays_in_its_folder() {
        let dir = Path::new("/data/batches");
        assert_eq!(
            file_in(dir, "the batch id", "batch_abc", ".json"),
            Ok(dir.join("batch_abc.json"))
        );
        let e = file_in(dir, "the batch id", "../../../../x/pwned", ".json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the batch id"), "{e}");
    }
}
