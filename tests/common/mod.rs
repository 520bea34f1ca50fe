//! Helpers shared by the binary's end-to-end tests.
#![allow(dead_code)]

use assert_cmd::Command;

/// `promptlab` with its directories inside `dirs` and no ambient OpenAI settings.
pub fn promptlab(dirs: &tempfile::TempDir) -> Command {
    Command::from_std(process(dirs))
}

/// `promptlab run` on the scripted demo backend (no model).
pub fn scripted(dirs: &tempfile::TempDir) -> Command {
    let mut c = promptlab(dirs);
    c.args([
        "run",
        "--backend",
        "scripted",
        "--script",
        "assets/demo-script.yaml",
    ]);
    c
}

/// `promptlab` as a plain process (to spawn several at once or signal it), with the same
/// isolated directories as `promptlab`.
pub fn process(dirs: &tempfile::TempDir) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("promptlab"));
    c.env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("PROMPTLAB_CONFIG_DIR", dirs.path().join("config"))
        .env("PROMPTLAB_CACHE_DIR", dirs.path().join("cache"))
        .env("PROMPTLAB_DATA_DIR", dirs.path().join("data"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// A server address nothing listens on (a port just bound and let go).
pub fn nowhere() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port();
    format!("http://127.0.0.1:{port}/v1")
}

/// The JSON a successful command printed on stdout (its stderr shown when it failed).
pub fn ok_json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// A prompt search where one instruction is clearly better: 40 items whose answer is 4, and a
/// script whose proposals are "add the two numbers" (the model then answers 4) and "double
/// it" (then, like a template without that instruction, it answers 5). Returns the script and
/// the dataset.
pub fn race_fixture(dirs: &tempfile::TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = dirs.path().join("race.yaml");
    std::fs::write(
        &script,
        concat!(
            "responses:\n",
            "  - when: \"The instruction was to\"\n    text: \" add the two numbers\"\n",
            "  - when: \"The instruction was to\"\n    text: \" double it\"\n",
            "  - when: \"Add the two numbers.\"\n    text: \" The answer is 4.\"\n",
            "  - text: \" The answer is 5.\"\n",
        ),
    )
    .unwrap();
    let data = dirs.path().join("fours.jsonl");
    let lines: String = (0..40)
        .map(|i| format!("{{\"id\": {i}, \"input\": \"What is 2 + 2? ({i})\", \"target\": 4}}\n"))
        .collect();
    std::fs::write(&data, lines).unwrap();
    (script, data)
}

/// A labels task whose scripted model answers right only when "the key example" is in the
/// prompt (every target is "yes"), and `promptlab examples` on it with `--json --out DIR`:
/// the demonstrations analysis with a known answer.
pub fn key_example_analysis(
    dirs: &tempfile::TempDir,
    items: usize,
    out_dir: &std::path::Path,
) -> std::process::Output {
    let script = dirs.path().join("key.yaml");
    std::fs::write(
        &script,
        "responses:\n  - when: \"the key example\"\n    text: \" yes\"\n  - text: \" no\"\n",
    )
    .unwrap();
    let t = dirs.path().join("labels.yaml");
    std::fs::write(
        &t,
        concat!(
            "name: labels\ninstruction: Answer yes or no.\nexamples:\n",
            "  - { input: \"a plain example\", answer: \"no\" }\n",
            "  - { input: \"the key example\", answer: \"yes\" }\n",
            "  - { input: \"another plain one\", answer: \"no\" }\n",
            "strategy: direct\nanswer: { kind: choice, choices: [yes, no] }\n",
            "sampling: { n: 1, temperature: 0, max_tokens: 4, seed: 1 }\n",
        ),
    )
    .unwrap();
    let data = dirs.path().join("yes.jsonl");
    let lines: String = (0..items)
        .map(|i| format!("{{\"id\": {i}, \"input\": \"question {i}\", \"target\": \"yes\"}}\n"))
        .collect();
    std::fs::write(&data, lines).unwrap();
    promptlab(dirs)
        .args(["examples", "--backend", "scripted", "--script"])
        .arg(&script)
        .arg("-t")
        .arg(&t)
        .arg("-d")
        .arg(&data)
        .args(["--orders", "2", "--json", "--out"])
        .arg(out_dir)
        .output()
        .unwrap()
}
