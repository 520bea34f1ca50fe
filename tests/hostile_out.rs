//! What a server, a template, a dataset or a session can do to a terminal and to a vote
//! (issue 23, the output part), through the real binary and the hostile server of
//! `tests/hostile/`: escape sequences never reach the terminal raw, and never change an answer.

mod common;
mod hostile;

use common::{ok_json, promptlab};
use hostile::Hostile;

#[test]
fn an_escape_sequence_in_a_reply_does_not_change_the_vote() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["run", "-n", "3", "--json", "--no-cache"])
        .args(["--base-url", &server.url("escapes"), "--model", "m"])
        .output()
        .unwrap();
    let v = ok_json(&out);
    assert_eq!(v["answer"], "18", "{v}");
    for p in v["paths"].as_array().unwrap() {
        assert_eq!(p["answer"], "18", "{p}");
    }
}

/// What a terminal would act on: C0 controls but line breaks and tabs, DEL, C1 controls and
/// the bidirectional overrides and isolates.
fn acted_on(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Fails when either stream of a command's output holds a byte a terminal would act on
/// (checked on the child's pipes, byte for byte: every such character is valid UTF-8 here, so
/// a lossy decode keeps them).
fn clean(what: &str, out: &std::process::Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "{what}: raw ESC on {stream}");
        assert!(!bytes.contains(&0x07), "{what}: raw BEL on {stream}");
        let text = String::from_utf8_lossy(bytes);
        if let Some(c) = text.chars().find(|&c| acted_on(c)) {
            panic!("{what}: {c:?} reached {stream}:\n{text}");
        }
    }
}

/// The output of `promptlab ARGS` in `dirs`.
fn output(dirs: &tempfile::TempDir, args: &[&str]) -> std::process::Output {
    promptlab(dirs).args(args).output().unwrap()
}

/// `text` as a YAML double-quoted string, every character past ASCII's printable ones escaped.
fn yaml_quoted(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A template whose name, description and instruction carry every kind of escape.
fn nasty_template(dirs: &tempfile::TempDir) -> String {
    let folder = dirs.path().join("data").join("templates");
    std::fs::create_dir_all(&folder).unwrap();
    let yaml = format!(
        "version: 1\nname: {name}\ndescription: {name}\ninstruction: {name}\nstrategy: direct\nanswer: {{ kind: number }}\nquery: \"What is 9 * 2?\"\n",
        name = yaml_quoted(&format!("evil{}", hostile::out::NASTY))
    );
    let path = folder.join("evil.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

#[test]
fn no_outside_text_reaches_the_terminal_raw() {
    let (server, _rt) = Hostile::start_in_background();
    let dirs = tempfile::tempdir().unwrap();
    let template = nasty_template(&dirs);
    let script = [
        "--backend",
        "scripted",
        "--script",
        "assets/demo-script.yaml",
    ];
    let nasty_model = format!("m{}", hostile::out::NASTY);
    let escapes = server.url("escapes");
    let errors = server.url("escapes-error");

    // A template's name, description and instruction.
    let listed = output(&dirs, &["templates"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("evil\\x1b]0;pwned"), "{text}");
    clean("templates", &listed);
    let shown = output(
        &dirs,
        &[&["run", "-t", &template, "--show-prompt"][..], &script].concat(),
    );
    clean("run --show-prompt", &shown);
    clean(
        "run",
        &output(&dirs, &[&["run", "-t", &template][..], &script].concat()),
    );

    // Model names from --model, a server's replies and its error bodies.
    let session = dirs.path().join("s.yaml").display().to_string();
    let run = [
        "run",
        "-n",
        "2",
        "--full",
        "--base-url",
        &escapes,
        "--model",
        &nasty_model,
    ];
    let ran = output(&dirs, &[&run[..], &["--save", &session]].concat());
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    clean("run against escapes", &ran);
    clean(
        "run, no --model",
        &output(&dirs, &["run", "--base-url", &escapes]),
    );
    clean(
        "server error body",
        &output(&dirs, &["run", "--base-url", &errors, "--model", "m"]),
    );

    // A replayed session whose timestamp and model were edited.
    let text = std::fs::read_to_string(&session).unwrap();
    let stamp = text
        .lines()
        .find_map(|l| l.trim_start_matches("- ").strip_prefix("timestamp: "))
        .unwrap()
        .to_string();
    let text = text.replacen(
        &format!("timestamp: {stamp}"),
        &format!("timestamp: {}", yaml_quoted(hostile::out::NASTY)),
        1,
    );
    std::fs::write(&session, text).unwrap();
    let replayed = output(&dirs, &["replay", &session, "--full"]);
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    clean("replay", &replayed);

    // An echoed dataset path, and `error.message` in `--batch-in` lines.
    let folder = dirs.path().join("data\u{1b}[2J\u{202e}set");
    std::fs::create_dir_all(&folder).unwrap();
    let data = folder.join("d.jsonl");
    std::fs::write(
        &data,
        "{\"input\": \"What is 9 * 2?\", \"target\": 18}\n{broken\n",
    )
    .unwrap();
    let data = data.display().to_string();
    clean(
        "eval",
        &output(
            &dirs,
            &[&["eval", "-t", "gsm8k-direct", "-d", &data][..], &script].concat(),
        ),
    );
    clean(
        "eval, no such file",
        &output(
            &dirs,
            &[
                &["eval", "-t", "gsm8k-direct", "-d", &format!("{data}x")][..],
                &script,
            ]
            .concat(),
        ),
    );
    let batch_in = dirs.path().join("batch.jsonl");
    let line = serde_json::json!({"custom_id": format!("k{}", hostile::out::NASTY), "response": null, "error": {"message": hostile::out::NASTY}});
    std::fs::write(&batch_in, format!("{line}\n")).unwrap();
    let batch_in = batch_in.display().to_string();
    clean(
        "eval --batch-in",
        &output(
            &dirs,
            &[
                &[
                    "eval",
                    "-t",
                    "gsm8k-direct",
                    "-d",
                    &data,
                    "--batch-in",
                    &batch_in,
                ][..],
                &script,
            ]
            .concat(),
        ),
    );

    // `batch status` of a batch whose id, status and errors carry escapes.
    let batches = dirs.path().join("data").join("batches");
    std::fs::create_dir_all(&batches).unwrap();
    let kept = serde_json::json!({"id": "b1", "base_url": escapes, "argv": ["promptlab"], "submitted": hostile::out::NASTY});
    std::fs::write(batches.join("b1.json"), kept.to_string()).unwrap();
    clean("batch status", &output(&dirs, &["batch", "status", "b1"]));

    // `model list` paths.
    let models = dirs.path().join("cache").join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("evil\u{1b}]0;x\u{7}\u{202e}.gguf"), b"GGUF").unwrap();
    clean("model list", &output(&dirs, &["model", "list"]));
}

#[test]
fn eval_out_writes_an_svg_any_xml_reader_takes() {
    let dirs = tempfile::tempdir().unwrap();
    let template = nasty_template(&dirs);
    let data = dirs.path().join("d.jsonl");
    std::fs::write(&data, "{\"input\": \"What is 9 * 2?\", \"target\": 18}\n").unwrap();
    let out_dir = dirs.path().join("out");
    let out = promptlab(&dirs)
        .args(["eval", "-t", &template, "-n", "2"])
        .args([
            "--backend",
            "scripted",
            "--script",
            "assets/demo-script.yaml",
        ])
        .arg("-d")
        .arg(&data)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(out_dir.join("accuracy.svg")).unwrap();
    assert!(
        svg.contains("evil\\x1b]0;pwned\\x07"),
        "the name, visibly: {svg}"
    );
    // XML 1.0 holds no C0 control but tab and line breaks, even as a reference; every `&`
    // starts an entity it knows.
    let bad = svg
        .chars()
        .find(|&c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'));
    assert_eq!(bad, None, "{svg}");
    for (i, _) in svg.match_indices('&') {
        let entity = &svg[i..svg[i..].find(';').map_or(svg.len(), |e| i + e + 1)];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
            "{entity}"
        );
    }
    assert_eq!(svg.matches("<svg").count(), 1);
    assert!(svg.trim_end().ends_with("</svg>"));
}
