//! What promptlab does to the files it writes (issue 23, data), through the real binary:
//! read-only and hard-linked sessions, signals during a save, a failing `--out`.

mod common;
mod hostile;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{promptlab, scripted};

fn save(dirs: &tempfile::TempDir, session: &Path, extra: &[&str]) -> std::process::Output {
    scripted(dirs)
        .args(["-n", "3", "--seed", "0", "--save"])
        .arg(session)
        .args(extra)
        .output()
        .unwrap()
}

fn revote(dirs: &tempfile::TempDir, session: &Path, extra: &[&str]) -> std::process::Output {
    promptlab(dirs)
        .arg("replay")
        .arg(session)
        .args(["--kind", "text", "--write"])
        .args(extra)
        .output()
        .unwrap()
}

fn err(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_read_only_session_is_not_replaced_without_force() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("ro.yaml");
    assert!(save(&dirs, &s, &[]).status.success());
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&s).unwrap();
    for out in [save(&dirs, &s, &[]), revote(&dirs, &s, &[])] {
        assert!(!out.status.success(), "{}", err(&out));
        assert!(err(&out).contains("read-only"), "{}", err(&out));
        assert!(err(&out).contains("--force"), "{}", err(&out));
        assert_eq!(std::fs::read(&s).unwrap(), before, "untouched");
    }
    let out = save(&dirs, &s, &["--force"]);
    assert!(out.status.success(), "{}", err(&out));
    let out = revote(&dirs, &s, &["--force"]);
    assert!(out.status.success(), "{}", err(&out));
    let mode = std::fs::metadata(&s).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o444, "the file keeps its mode");
    assert_eq!(
        promptlab::store::session::load_session(&s)
            .unwrap()
            .runs
            .len(),
        2
    );
}

#[test]
fn a_hard_linked_session_is_not_split_from_its_link_without_force() {
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("a.yaml");
    let link = dirs.path().join("b.yaml");
    assert!(save(&dirs, &s, &[]).status.success());
    std::fs::hard_link(&s, &link).unwrap();
    for out in [save(&dirs, &s, &[]), revote(&dirs, &s, &[])] {
        assert!(!out.status.success(), "{}", err(&out));
        assert!(err(&out).contains("break the link"), "{}", err(&out));
        assert_eq!(std::fs::read(&s).unwrap(), std::fs::read(&link).unwrap());
    }
    let out = save(&dirs, &s, &["--force"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_ne!(std::fs::read(&s).unwrap(), std::fs::read(&link).unwrap());
}

/// `run --save` on a server that answers slowly, stopped by `signal` once it is under way:
/// the partial run is saved, the Ctrl-C message printed, and it exits 128 + the signal.
fn stopped_by(signal: &str, number: i32) {
    let (server, _rt) = hostile::Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let s = dirs.path().join("partial.yaml");
    let child = common::process(&dirs)
        .args(["run", "-n", "3", "--concurrency", "1"])
        .args(["--base-url", &server.url("slow"), "--model", "m", "--save"])
        .arg(&s)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !server
        .seen()
        .iter()
        .any(|r| r.path.ends_with("/completions"))
    {
        assert!(started.elapsed().as_secs() < 30, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = err(&out);
    assert_eq!(out.status.code(), Some(128 + number), "{signal}: {stderr}");
    assert!(stderr.contains("cancelling"), "{signal}: {stderr}");
    assert!(stderr.contains("saved run 1"), "{signal}: {stderr}");
    let session = promptlab::store::session::load_session(&s).unwrap();
    assert!(session.runs[0].result.cancelled, "{signal}");
}

#[test]
fn sigterm_during_run_save_saves_the_partial_run_like_ctrl_c() {
    stopped_by("TERM", 15);
}

#[test]
fn sighup_during_run_save_saves_the_partial_run_like_ctrl_c() {
    stopped_by("HUP", 1);
}

#[test]
fn ctrl_c_during_run_save_still_saves_and_exits_130() {
    stopped_by("INT", 2);
}

fn eval_out(dirs: &tempfile::TempDir, out: &Path) -> std::process::Output {
    promptlab(dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
        ])
        .args([
            "--backend",
            "scripted",
            "--script",
            "assets/demo-script.yaml",
        ])
        .args(["--limit", "2", "-n", "1", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn eval_out_writes_every_file_or_none_when_one_cannot_be_written() {
    let dirs = tempfile::tempdir().unwrap();
    let out = dirs.path().join("out");
    std::fs::create_dir_all(out.join("report.md")).unwrap();
    let o = eval_out(&dirs, &out);
    assert!(!o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("report.md"), "{}", err(&o));
    assert_eq!(
        names(&out),
        ["report.md"],
        "no file written, no temporary left"
    );
}

#[test]
fn eval_out_onto_a_full_device_fails_and_leaves_nothing() {
    let dirs = tempfile::tempdir().unwrap();
    let out = dirs.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("variants.csv")).unwrap();
    let o = eval_out(&dirs, &out);
    assert!(!o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("not a regular file"), "{}", err(&o));
    assert_eq!(names(&out), ["variants.csv"]);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn vary_model_on_the_scripted_backend_is_refused() {
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
        ])
        .args([
            "--backend",
            "scripted",
            "--script",
            "assets/demo-script.yaml",
        ])
        .args(["--limit", "2", "--vary", "model=a,b", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", err(&out));
    assert!(
        err(&out).contains("the scripted backend has none"),
        "{}",
        err(&out)
    );
    assert!(out.stdout.is_empty(), "no results under two labels");
}
