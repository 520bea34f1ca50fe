//! A closed pipe, a full device and absurd counts (issue 23, crashes), through a real child
//! process: no panic, no abort, one clear line where there is something to say.

mod common;

use std::process::{Command, Stdio};

use common::{process, race_fixture};

/// Runs `cmd` with its stdout a pipe whose reading end is closed before it writes, and
/// returns its exit code and stderr.
fn into_a_closed_pipe(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promptlab starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs `cmd` with its stdout `/dev/full`.
fn into_a_full_device(mut cmd: Command) -> (Option<i32>, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = cmd.stdout(full).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn scripted_run(dirs: &tempfile::TempDir, json: bool) -> Command {
    let mut c = process(dirs);
    c.args([
        "run",
        "--backend",
        "scripted",
        "--script",
        "assets/demo-script.yaml",
    ]);
    if json {
        c.arg("--json");
    }
    c
}

fn replay(dirs: &tempfile::TempDir, json: bool) -> Command {
    let mut c = process(dirs);
    c.args(["replay", "sessions/gsm8k-gemma-270m.yaml"]);
    if json {
        c.arg("--json");
    }
    c
}

fn templates(dirs: &tempfile::TempDir) -> Command {
    let mut c = process(dirs);
    c.arg("templates");
    c
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dirs = tempfile::tempdir().unwrap();
    for (what, cmd) in [
        ("replay --json", replay(&dirs, true)),
        ("replay", replay(&dirs, false)),
        ("run --json", scripted_run(&dirs, true)),
        ("run", scripted_run(&dirs, false)),
        ("templates", templates(&dirs)),
    ] {
        let (code, stderr) = into_a_closed_pipe(cmd);
        assert_eq!(
            code,
            Some(141),
            "{what}: exits as a tool SIGPIPE ended; {stderr}"
        );
        assert_eq!(stderr, "", "{what}: says nothing");
    }
}

#[test]
fn a_full_device_is_one_clear_error() {
    let dirs = tempfile::tempdir().unwrap();
    for (what, cmd) in [
        ("templates", templates(&dirs)),
        ("run --json", scripted_run(&dirs, true)),
        ("run", scripted_run(&dirs, false)),
        ("replay", replay(&dirs, false)),
        ("replay --json", replay(&dirs, true)),
    ] {
        let (code, stderr) = into_a_full_device(cmd);
        assert_eq!(code, Some(1), "{what}: {stderr}");
        assert!(
            stderr.starts_with("promptlab: cannot write to standard output: No space left"),
            "{what}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
}

/// An optimize on the race fixture with extra flags; its exit code and stderr.
fn optimize(dirs: &tempfile::TempDir, extra: &[&str]) -> (Option<i32>, String) {
    let (script, data) = race_fixture(dirs);
    let out = process(dirs)
        .args([
            "optimize",
            "--template",
            "gsm8k-direct",
            "--backend",
            "scripted",
        ])
        .arg("--script")
        .arg(&script)
        .arg("--dataset")
        .arg(&data)
        .arg("--out")
        .arg(dirs.path().join("winner.yaml"))
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn absurd_counts_are_refused_with_a_reason_never_an_abort() {
    let dirs = tempfile::tempdir().unwrap();
    let (code, err) = optimize(&dirs, &["--candidates", "4294967295", "--budget", "10"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--candidates") && err.contains("1000"),
        "{err}"
    );
    for flag in ["--rounds", "--keep"] {
        let (code, err) = optimize(&dirs, &[flag, "18446744073709551615"]);
        assert_eq!(code, Some(2), "{flag}: {err}");
        assert!(err.contains(flag), "{err}");
    }
    // Within the bounds, a budget that cannot pay for the proposals says so.
    let (code, err) = optimize(&dirs, &["--candidates", "1000", "--budget", "10"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--budget 10 is too small"), "{err}");
    let out = process(&dirs)
        .args([
            "run",
            "--backend",
            "scripted",
            "--script",
            "assets/demo-script.yaml",
        ])
        .args(["-n", "4294967295"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(101));
    assert_ne!(out.status.code(), None, "no abort");
    assert!(String::from_utf8_lossy(&out.stderr).contains("n must be between 1 and"));
}

#[test]
fn a_budget_too_small_or_no_held_out_item_is_said_so() {
    let dirs = tempfile::tempdir().unwrap();
    for budget in ["0", "1"] {
        let (code, err) = optimize(&dirs, &["--budget", budget]);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!("--budget {budget} is too small")),
            "{err}"
        );
        assert!(!err.contains("answering at all"), "{err}");
    }
    let (code, err) = optimize(&dirs, &["--held-out", "0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--held-out 0"), "{err}");
}
