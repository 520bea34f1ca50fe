//! What a hostile server can do to files and secrets (issue 23, security and data), against
//! the hostile server of `tests/hostile/` and through the real binary: ids that climb out of
//! the data folder, keys echoed in error bodies, in logs, in saved command lines and URLs.

mod common;
mod hostile;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hostile::Hostile;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `promptlab eval --batch` of two items on misbehaviour `mode`, with the data folder three
/// levels down in `dirs` (so `../../../..` from its `batches` folder lands in `dirs`).
fn eval_batch(
    dirs: &tempfile::TempDir,
    server: &Hostile,
    mode: &str,
    key: &str,
) -> std::process::Output {
    common::process(dirs)
        .env("PROMPTLAB_DATA_DIR", dirs.path().join("a/b/data"))
        .env("PROMPTLAB_BATCH_POLL", "0.05")
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
        ])
        .args(["--limit", "2", "-n", "1", "--batch"])
        .args([
            "--base-url",
            &server.url(mode),
            "--model",
            "m",
            "--api-key",
            key,
        ])
        .output()
        .unwrap()
}

#[test]
fn a_server_chosen_batch_id_never_leaves_the_data_folder() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = eval_batch(&dirs, &server, "traversal", "sk-test");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("refused the batch id"), "{err}");
    let written = files_under(dirs.path());
    assert!(
        written
            .iter()
            .all(|p| !p.to_string_lossy().contains("pwned")),
        "{written:?}"
    );
    assert!(
        written
            .iter()
            .all(|p| p.starts_with(dirs.path().join("a/b/data"))
                || p.starts_with(dirs.path().join("cache"))),
        "nothing outside the data and cache folders: {written:?}"
    );
}

const KEY: &str = "sk-SECRET-5be1c0de77";

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `http://user:KEY@127.0.0.1:PORT/MODE/v1`: a base URL with credentials in it.
fn url_with_user(server: &Hostile, mode: &str) -> String {
    server
        .url(mode)
        .replace("http://", &format!("http://user:{KEY}-url@"))
}

#[test]
fn a_batch_record_keeps_no_key_and_batch_status_and_resume_print_none() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let url = url_with_user(&server, "batch-echo");
    let submit = common::process(&dirs)
        .env("PROMPTLAB_BATCH_POLL", "0.05")
        .args([
            "eval",
            "-t",
            "gsm8k-direct",
            "-d",
            "assets/arith-mini.jsonl",
        ])
        .args(["--limit", "2", "-n", "1", "--batch"])
        .args(["--base-url", &url, "--model", "m", "--api-key", KEY])
        .output()
        .unwrap();
    assert!(
        !submit.status.success(),
        "the server refuses to say how the batch is going"
    );
    assert!(text(&submit).contains("[redacted]"), "{}", text(&submit));
    let record = dirs.path().join("data/batches/batch_1.json");
    let kept = std::fs::read_to_string(&record).unwrap();
    assert!(!kept.contains("sk-SECRET"), "{kept}");
    assert!(!kept.contains("user:"), "{kept}");
    let mode = std::fs::metadata(&record).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut outs = vec![("eval --batch", submit)];
    for action in ["status", "resume"] {
        let out = common::process(&dirs)
            .env("PROMPTLAB_BATCH_POLL", "0.05")
            .args([
                "batch",
                "--api-key",
                KEY,
                "--base-url",
                &url,
                action,
                "batch_1",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("[redacted]"), "{}", text(&out));
        outs.push((action, out));
    }
    for (what, out) in outs {
        assert!(!text(&out).contains("sk-SECRET"), "{what}: {}", text(&out));
    }
}

#[test]
fn the_log_never_receives_a_key_a_server_error_echoes() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = common::process(&dirs)
        .args(["run", "-n", "1", "--retries", "1"])
        .args([
            "--base-url",
            &server.url("echo-500"),
            "--model",
            "m",
            "--api-key",
            KEY,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!text(&out).contains("sk-SECRET"), "{}", text(&out));
    let log = std::fs::read_to_string(dirs.path().join("cache/promptlab.log")).unwrap();
    assert!(
        log.contains("[redacted]"),
        "the server's error was logged: {log}"
    );
    assert!(!log.contains("sk-SECRET"), "{log}");
}

#[test]
fn a_base_url_with_credentials_is_never_printed_whole() {
    let dirs = tempfile::tempdir().unwrap();
    let port = common::nowhere().replace("http://", "");
    let url = format!("http://user:{KEY}@{port}");
    for args in [
        vec!["run", "-n", "1", "--retries", "0", "--model", "m"],
        vec!["run", "-n", "1", "--retries", "0"],
        vec!["batch", "status", "batch_1"],
    ] {
        let mut args: Vec<&str> = args;
        if args[0] == "batch" {
            args.splice(1..1, ["--base-url", &url]);
        } else {
            args.extend(["--base-url", &url]);
        }
        let out = common::process(&dirs).args(&args).output().unwrap();
        assert!(!out.status.success());
        assert!(
            !text(&out).contains("sk-SECRET"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn no_file_any_command_writes_holds_the_key() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out_dir = dirs.path().join("out");
    let session = dirs.path().join("data/sessions/s.yaml");
    let ok = server.url("ok");
    let user = url_with_user(&server, "ok");
    let (data, dataset) = ("assets/arith-mini.jsonl", "-d");
    let s = session.to_str().unwrap();
    let o = out_dir.to_str().unwrap();
    let t = dirs.path().join("out/t.yaml");
    let k = ["--model", "m", "--api-key", KEY];
    let owned = |v: Vec<&str>| -> Vec<String> { v.into_iter().map(String::from).collect() };
    let mut commands: Vec<Vec<String>> = vec![
        owned(vec!["run", "-n", "2", "--base-url", &ok, "--save", s]),
        owned(vec![
            "run",
            "-n",
            "2",
            "--base-url",
            &user,
            "--save",
            s,
            "--json",
        ]),
        owned(vec![
            "run",
            "-n",
            "1",
            "--retries",
            "0",
            "--base-url",
            &server.url("echo-500"),
        ]),
        owned(vec![
            "run",
            "-n",
            "1",
            "--base-url",
            &server.url("echo-401"),
        ]),
        owned(vec![
            "eval",
            "-t",
            "gsm8k-direct",
            dataset,
            data,
            "--limit",
            "2",
            "--base-url",
            &ok,
            "--out",
            o,
        ]),
        owned(vec![
            "eval",
            "-t",
            "gsm8k-direct",
            dataset,
            data,
            "--limit",
            "2",
            "--batch",
            "--base-url",
            &server.url("batch-echo"),
        ]),
        owned(vec!["replay", s, "--rerun", "--base-url", &ok]),
        owned(vec![
            "optimize",
            "-t",
            "gsm8k-direct",
            dataset,
            data,
            "--candidates",
            "2",
            "--dev",
            "2",
            "--base-url",
            &ok,
            "--out",
            t.to_str().unwrap(),
        ]),
    ];
    for c in &mut commands {
        c.extend(k.map(String::from));
    }
    let batch_url = server.url("batch-echo");
    for action in ["status", "resume"] {
        commands.push(owned(vec![
            "batch",
            "--api-key",
            KEY,
            "--base-url",
            &batch_url,
            action,
            "batch_1",
        ]));
    }
    commands.push(owned(vec!["replay", s, "--kind", "text", "--write"]));
    commands.push(owned(vec!["templates"]));
    commands.push(owned(vec!["model", "list"]));
    for args in commands {
        let out = common::process(&dirs)
            .env("PROMPTLAB_BATCH_POLL", "0.05")
            .env("PROMPTLAB_LOG", "debug")
            .env("OPENAI_API_KEY", KEY)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            !text(&out).contains("sk-SECRET"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert!(session.exists() && out_dir.join("report.md").exists());
    let files = files_under(dirs.path());
    assert!(files.len() > 5, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("sk-SECRET"), "{}: {text}", f.display());
    }
}

#[test]
fn a_shared_templates_name_never_leaves_the_templates_folder() {
    let dirs = tempfile::tempdir().unwrap();
    let (script, data) = common::race_fixture(&dirs);
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates/gsm8k-direct.yaml"
    ))
    .unwrap()
    .replace("name: gsm8k-direct", "name: ../../../escape");
    let work = dirs.path().join("a/b/c");
    std::fs::create_dir_all(work.join("templates")).unwrap();
    let t = work.join("shared.yaml");
    std::fs::write(&t, yaml).unwrap();
    let out = common::process(&dirs)
        .current_dir(&work)
        .args([
            "optimize",
            "--backend",
            "scripted",
            "--candidates",
            "2",
            "--json",
        ])
        .arg("-t")
        .arg(&t)
        .arg("--script")
        .arg(&script)
        .arg("-d")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("refused the template name"),
        "{}",
        text(&out)
    );
    let escaped: Vec<_> = files_under(dirs.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("escape"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");
}
