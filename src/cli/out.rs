//! The one way the headless commands write to the terminal.
//!
//! - [`say!`](crate::say) (and [`show`]): text for people on stdout. The whole text passes
//!   through `core::display::visible`, so a template's name, a model's id, a server's error
//!   body or a dataset's path can never move the cursor, retitle the window or reorder a line.
//! - [`raw`]: stdout as it is, for `--json` (JSON escapes its own control characters).
//! - [`tell!`](crate::tell) (and [`note`]): a line for people on stderr, made visible too.
//!
//! Every one of them also hides the keys this process was given (`backend::redact_secrets`).
//!
//! A reader that went away (`| head`, `| true`) is not an error: the command goes on quietly
//! (what it saves is saved), later writes are dropped, and the process exits 141 as a tool
//! killed by SIGPIPE would ([`closed`]). Any other write error (`> /dev/full`) is an error.
//! `src/cli` denies `print!`/`println!`/`eprintln!` (clippy), so no line can go around this.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::backend::redact_secrets;
use crate::core::display::visible;

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether stdout's reader went away while promptlab wrote to it.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// `text` on stdout exactly as it is (`--json`). A closed pipe drops it (and every later
/// write); another failure says what it was.
pub fn raw(text: &str) -> Result<(), String> {
    write_to(&mut io::stdout().lock(), &redact_secrets(text))
}

/// `text` for people on stdout, every control character made visible.
pub fn show(text: &str) -> Result<(), String> {
    raw(&visible(text))
}

/// One line for people on stderr, made visible. There is nowhere left to report a failure
/// to write it, so it is ignored.
pub fn note(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{}", visible(&redact_secrets(line))).and_then(|_| err.flush());
}

/// Writes and flushes `text`, a broken pipe recorded in [`closed`] rather than reported.
fn write_to(w: &mut impl Write, text: &str) -> Result<(), String> {
    if closed() {
        return Ok(());
    }
    match w.write_all(text.as_bytes()).and_then(|_| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::SeqCst);
            Ok(())
        }
        Err(e) => Err(format!("cannot write to standard output: {e}")),
    }
}

/// `say!("…", args)`: one line for people on stdout through [`show`]; evaluates to
/// `Result<(), String>`.
#[macro_export]
macro_rules! say {
    () => {
        $crate::cli::out::show("\n")
    };
    ($($arg:tt)*) => {
        $crate::cli::out::show(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `tell!("…", args)`: one line for people on stderr through [`note`].
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::cli::out::note(&format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_device_is_an_error_and_a_closed_pipe_is_not() {
        let e = write_to(&mut Failing(io::ErrorKind::StorageFull), "x").unwrap_err();
        assert!(e.starts_with("cannot write to standard output"), "{e}");
        assert!(!closed());
        assert_eq!(
            write_to(&mut Failing(io::ErrorKind::BrokenPipe), "x"),
            Ok(())
        );
        assert!(closed());
        // Later writes are dropped, not failed.
        assert_eq!(
            write_to(&mut Failing(io::ErrorKind::StorageFull), "x"),
            Ok(())
        );
        CLOSED.store(false, Ordering::SeqCst);
    }
}
