//! `promptlab model pull` against Hugging Face-like servers on 127.0.0.1: the file chosen by
//! quant, a download cut mid-way and resumed with `Range`, a checksum mismatch refused.

mod common;

use std::sync::{Arc, Mutex};

use common::promptlab;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "someone/tiny-GGUF";

fn content() -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend((0..20_000u32).map(|i| (i * 7 % 251) as u8));
    v
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tree(sha256: &str, size: usize) -> serde_json::Value {
    serde_json::json!([
        {"type": "file", "path": "README.md", "size": 10},
        {"type": "file", "path": "tiny-Q8_0.gguf", "size": size, "lfs": {"oid": "0".repeat(64), "size": size}},
        {"type": "file", "path": "tiny-Q4_K_M.gguf", "size": size, "lfs": {"oid": sha256, "size": size}},
    ])
}

/// A hub listing `tree(...)` and serving `body` as `file`, once.
async fn hub_serving(file: &str, body: &[u8]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/models/{REPO}/tree/main")))
        .respond_with(ResponseTemplate::new(200).set_body_json(tree(&sha(body), body.len())))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/{REPO}/resolve/main/{file}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn models(dirs: &tempfile::TempDir) -> std::path::PathBuf {
    dirs.path().join("cache").join("models")
}

#[tokio::test]
async fn a_pull_takes_the_quant_asked_for_checks_it_and_lists_it() {
    let body = content();
    let server = hub_serving("tiny-Q4_K_M.gguf", &body).await;
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["model", "pull", &format!("{REPO}:q4_k_m")])
        .env("HF_ENDPOINT", server.uri())
        .env("HF_TOKEN", "hf_test_token")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = models(&dirs).join("tiny-Q4_K_M.gguf");
    assert_eq!(std::fs::read(&file).unwrap(), body);
    assert!(!models(&dirs).join("tiny-Q4_K_M.gguf.part").exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sha256 checked"));
    let asked = server.received_requests().await.unwrap();
    assert!(
        asked
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == "Bearer hf_test_token"),
        "HF_TOKEN goes with every request"
    );
    // `model list` finds it; a second pull finds it whole and downloads nothing.
    let out = promptlab(&dirs)
        .args(["model", "list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "tiny-Q4_K_M.gguf"),
        "{v}"
    );
    let again = promptlab(&dirs)
        .args(["model", "pull", &format!("{REPO}:Q4_K_M")])
        .env("HF_ENDPOINT", server.uri())
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[tokio::test]
async fn a_checksum_mismatch_is_refused_and_the_partial_file_removed() {
    let body = content();
    // The listing gives Q8_0 a sha256 its content does not have.
    let server = hub_serving("tiny-Q8_0.gguf", &body).await;
    let dirs = tempfile::tempdir().unwrap();
    let out = promptlab(&dirs)
        .args(["model", "pull", &format!("{REPO}:Q8_0")])
        .env("HF_ENDPOINT", server.uri())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("the partial file was removed"), "{err}");
    let left: Vec<_> = std::fs::read_dir(models(&dirs)).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A server that cuts the first download half-way (the connection closes before the promised
/// length) and answers a `Range` request with the rest. Records each request's `Range`.
async fn cutting_server(body: Vec<u8>) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let first = req.lines().next().unwrap_or("").to_string();
            let range = req
                .lines()
                .find(|l| l.to_lowercase().starts_with("range:"))
                .map(|l| l[6..].trim().to_string());
            if first.contains("/api/models/") {
                let json = tree(&sha(&body), body.len()).to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    json.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(json.as_bytes()).await;
                continue;
            }
            seen.lock().unwrap().push(range.clone());
            match range.and_then(|r| {
                r.strip_prefix("bytes=")
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|r| r.parse::<usize>().ok())
            }) {
                Some(from) => {
                    let rest = &body[from..];
                    let head = format!(
                        "HTTP/1.1 206 Partial Content\r\ncontent-length: {}\r\ncontent-range: bytes {from}-{}/{}\r\nconnection: close\r\n\r\n",
                        rest.len(),
                        body.len() - 1,
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(rest).await;
                }
                None => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body[..body.len() / 2]).await;
                    let _ = sock.flush().await;
                    // Cut: close with less than promised.
                }
            }
        }
    });
    (format!("http://{addr}"), ranges)
}

// The server runs on the runtime while the test blocks on the binary: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_download_resumes_where_it_stopped() {
    let body = content();
    let (endpoint, ranges) = cutting_server(body.clone()).await;
    let dirs = tempfile::tempdir().unwrap();
    let pull = || {
        promptlab(&dirs)
            .args(["model", "pull", &format!("{REPO}:Q4_K_M")])
            .env("HF_ENDPOINT", &endpoint)
            .output()
            .unwrap()
    };
    let first = pull();
    assert!(!first.status.success(), "the cut is an error");
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("run the same command to resume"), "{err}");
    let part = models(&dirs).join("tiny-Q4_K_M.gguf.part");
    assert_eq!(
        std::fs::metadata(&part).unwrap().len() as usize,
        body.len() / 2
    );
    let second = pull();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        std::fs::read(models(&dirs).join("tiny-Q4_K_M.gguf")).unwrap(),
        body
    );
    assert!(!part.exists());
    assert_eq!(
        *ranges.lock().unwrap(),
        vec![None, Some(format!("bytes={}-", body.len() / 2))]
    );
}

/// A hub whose repository `repo` lists `tiny-Q4_K_M.gguf` as `size` bytes with `sha256`
/// (none: no `lfs` entry) and serves `body` for it.
async fn listing(repo: &str, size: usize, sha256: Option<&str>, body: &[u8]) -> MockServer {
    let server = MockServer::start().await;
    mount(&server, repo, size, sha256, body).await;
    server
}

async fn mount(server: &MockServer, repo: &str, size: usize, sha256: Option<&str>, body: &[u8]) {
    let entry = match sha256 {
        Some(s) => {
            serde_json::json!({"type": "file", "path": "tiny-Q4_K_M.gguf", "size": size, "lfs": {"oid": s, "size": size}})
        }
        None => serde_json::json!({"type": "file", "path": "tiny-Q4_K_M.gguf", "size": size}),
    };
    Mock::given(method("GET"))
        .and(path(format!("/api/models/{repo}/tree/main")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([entry])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/{repo}/resolve/main/tiny-Q4_K_M.gguf")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.to_vec()))
        .mount(server)
        .await;
}

fn pull(
    dirs: &tempfile::TempDir,
    server: &MockServer,
    repo: &str,
    force: bool,
) -> std::process::Output {
    let mut c = promptlab(dirs);
    c.args(["model", "pull", repo])
        .env("HF_ENDPOINT", server.uri());
    if force {
        c.arg("--force");
    }
    c.output().unwrap()
}

/// The `.gguf` and `.part` files in the models folder, sorted.
fn kept(dirs: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(models(dirs))
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".gguf") || n.ends_with(".part"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_of_another_size_than_listed_fails_and_leaves_nothing() {
    let page = b"<html>rate limited</html>";
    let server = listing(REPO, 1000, Some(&sha(page)), page).await;
    let dirs = tempfile::tempdir().unwrap();
    let out = pull(&dirs, &server, REPO, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("lists 1000 bytes and the download is 25"),
        "{err}"
    );
    assert_eq!(kept(&dirs), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_without_a_checksum_is_refused_unless_forced_and_then_kept_apart() {
    let body = content();
    let server = listing(REPO, body.len(), None, &body).await;
    let dirs = tempfile::tempdir().unwrap();
    let out = pull(&dirs, &server, REPO, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("no sha256") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(kept(&dirs), Vec::<String>::new());
    let out = pull(&dirs, &server, REPO, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(kept(&dirs), vec!["someone--tiny-GGUF--tiny-Q4_K_M.gguf"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_model_is_never_replaced_by_a_file_of_another_repository() {
    let good = content();
    let other = b"GGUF but another model entirely".to_vec();
    let server = listing(REPO, good.len(), Some(&sha(&good)), &good).await;
    mount(
        &server,
        "else/where-GGUF",
        other.len(),
        Some(&sha(&other)),
        &other,
    )
    .await;
    let dirs = tempfile::tempdir().unwrap();
    let file = models(&dirs).join("tiny-Q4_K_M.gguf");
    assert!(pull(&dirs, &server, REPO, false).status.success());
    let out = pull(&dirs, &server, "else/where-GGUF", false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("pulled from {REPO}")), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        good,
        "the good model is kept"
    );
    let out = pull(&dirs, &server, "else/where-GGUF", true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        good,
        "the good model is kept"
    );
    assert_eq!(
        std::fs::read(models(&dirs).join("else--where-GGUF--tiny-Q4_K_M.gguf")).unwrap(),
        other
    );
    // The same repository again: nothing refused, nothing fetched anew.
    assert!(pull(&dirs, &server, REPO, false).status.success());
}
