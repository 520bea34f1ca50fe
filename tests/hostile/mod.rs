//! A hostile OpenAI-compatible server for end-to-end tests: one small HTTP/1.1 server on
//! 127.0.0.1 whose first path segment picks the misbehaviour. `server.url("endless")` is
//! `http://127.0.0.1:PORT/endless/v1`, so a backend pointed at it sends
//! `/endless/v1/chat/completions` and the `endless` handler answers.
//!
//! The misbehaviours live by theme in `net` (streams, timeouts, replies that are not what they
//! claim), `sec` (what a server can do to files and secrets) and `out` (what it can do to a
//! terminal); each theme's `handle` answers the modes it knows and returns `false` for the
//! others. Mode `ok` is a well-behaved server. Every request is recorded (`Hostile::seen`), so a
//! test can check what promptlab sent.
//!
//! Use it from a test file with `mod hostile;` (it is not a test binary of its own).
#![allow(dead_code)]

pub mod net;
pub mod out;
pub mod sec;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The mode: the first path segment.
    pub mode: String,
    /// The rest of the path, from `/v1` on, without the query string.
    pub path: String,
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Whether it asks for a stream (`"stream": true` in a JSON body).
    pub fn wants_stream(&self) -> bool {
        self.json()["stream"].as_bool().unwrap_or(false)
    }

    /// Whether it goes to the legacy completions endpoint (replies carry `text`, not `delta`).
    pub fn is_completions(&self) -> bool {
        self.path.ends_with("/completions") && !self.path.ends_with("/chat/completions")
    }

    /// How many choices it asks for (`n`, default 1).
    pub fn n(&self) -> usize {
        self.json()["n"].as_u64().unwrap_or(1).max(1) as usize
    }
}

/// What the server has seen and counts, shared by every connection.
#[derive(Debug, Default)]
pub struct State {
    pub seen: Mutex<Vec<Request>>,
    /// Streams being written right now.
    pub in_flight: AtomicUsize,
    /// Named counters a handler may keep (`count`).
    counters: Mutex<HashMap<String, usize>>,
}

impl State {
    /// Adds one to the counter `name` and returns its value before.
    pub fn count(&self, name: &str) -> usize {
        let mut c = self.counters.lock().unwrap();
        let v = c.entry(name.to_string()).or_default();
        *v += 1;
        *v - 1
    }

    pub fn counter(&self, name: &str) -> usize {
        self.counters
            .lock()
            .unwrap()
            .get(name)
            .copied()
            .unwrap_or(0)
    }
}

/// The running server. Dropping it stops accepting connections.
pub struct Hostile {
    pub addr: std::net::SocketAddr,
    pub state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Binds 127.0.0.1 on a free port and serves until dropped (in the current tokio runtime).
    pub async fn start() -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(serve(sock, state));
            }
        });
        Hostile { addr, state, task }
    }

    /// Starts the server on a runtime of its own, for tests that run promptlab as a child
    /// process from synchronous code. The server lives as long as the returned value.
    pub fn start_in_background() -> (Hostile, tokio::runtime::Runtime) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the hostile server");
        let server = rt.block_on(Hostile::start());
        (server, rt)
    }

    /// The base URL (ending in `/v1`) of misbehaviour `mode`.
    pub fn url(&self, mode: &str) -> String {
        format!("http://{}/{mode}/v1", self.addr)
    }

    /// Every request seen so far, in order.
    pub fn seen(&self) -> Vec<Request> {
        self.state.seen.lock().unwrap().clone()
    }
}

async fn serve(mut sock: TcpStream, state: Arc<State>) {
    // Keep-alive: answer requests on this connection until it closes or a handler ends it.
    loop {
        let Some(req) = read_request(&mut sock).await else {
            return;
        };
        state.seen.lock().unwrap().push(req.clone());
        let mut conn = Conn { sock, open: true };
        let handled = net::handle(&req, &mut conn, &state).await
            || sec::handle(&req, &mut conn, &state).await
            || out::handle(&req, &mut conn, &state).await
            || (req.mode == "ok" && ok(&req, &mut conn, &state).await);
        if !handled {
            conn.respond(
                404,
                "application/json",
                r#"{"error":{"message":"no such mode"}}"#,
            )
            .await;
        }
        if !conn.open {
            return;
        }
        sock = conn.sock;
    }
}

/// Reads one request: the head up to the blank line, then `content-length` bytes of body.
async fn read_request(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = target
        .split_once('?')
        .map(|(p, q)| (p.to_string(), q.to_string()))
        .unwrap_or((target, String::new()));
    let trimmed = path.trim_start_matches('/');
    let (mode, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    Some(Request {
        method,
        mode: mode.to_string(),
        path: format!("/{rest}"),
        query,
        headers,
        body,
    })
}

/// The connection a handler answers on, with the pieces of HTTP it needs.
pub struct Conn {
    pub sock: TcpStream,
    /// Whether the connection may serve another request (a handler that cuts or stalls it
    /// sets this to `false`).
    pub open: bool,
}

impl Conn {
    /// A whole response with a body.
    pub async fn respond(&mut self, status: u16, content_type: &str, body: &str) {
        self.respond_with(status, content_type, &[], body).await;
    }

    /// A whole response with extra headers.
    pub async fn respond_with(
        &mut self,
        status: u16,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) {
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
            reason(status),
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.write(head.as_bytes()).await;
        self.write(body.as_bytes()).await;
    }

    /// JSON with status 200.
    pub async fn json(&mut self, value: &serde_json::Value) {
        self.respond(200, "application/json", &value.to_string())
            .await;
    }

    /// Starts a chunked `text/event-stream` response; follow with `event`/`chunk`, then `end`.
    pub async fn start_stream(&mut self) {
        self.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        )
        .await;
    }

    /// One HTTP chunk holding `data`.
    pub async fn chunk(&mut self, data: &str) {
        if data.is_empty() {
            return;
        }
        let framed = format!("{:x}\r\n{data}\r\n", data.len());
        self.write(framed.as_bytes()).await;
    }

    /// One server-sent event `data: JSON` in a chunk of its own.
    pub async fn event(&mut self, value: &serde_json::Value) {
        self.chunk(&format!("data: {value}\n\n")).await;
    }

    /// `data: [DONE]` and the last chunk.
    pub async fn end(&mut self) {
        self.chunk("data: [DONE]\n\n").await;
        self.write(b"0\r\n\r\n").await;
    }

    /// Raw bytes, flushed.
    pub async fn write(&mut self, bytes: &[u8]) {
        if self.sock.write_all(bytes).await.is_err() || self.sock.flush().await.is_err() {
            self.open = false;
        }
    }

    /// Sends nothing more for `secs` seconds, then closes.
    pub async fn silence(&mut self, secs: u64) {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        self.open = false;
    }

    /// Closes at once with a reset (linger 0), as a crashed proxy does.
    pub async fn reset(&mut self) {
        let _ = self.sock.set_zero_linger();
        let _ = self.sock.shutdown().await;
        self.open = false;
    }

    /// Closes cleanly (FIN) wherever the response stands.
    pub async fn close(&mut self) {
        let _ = self.sock.shutdown().await;
        self.open = false;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// One streamed chunk of choice `index` carrying `text`, shaped for the request's endpoint.
pub fn text_event(req: &Request, index: usize, text: &str) -> serde_json::Value {
    if req.is_completions() {
        serde_json::json!({"choices": [{"index": index, "text": text, "finish_reason": null}]})
    } else {
        serde_json::json!({"choices": [{"index": index, "delta": {"content": text}, "finish_reason": null}]})
    }
}

/// The closing chunk of choice `index`.
pub fn finish_event(req: &Request, index: usize, reason: &str) -> serde_json::Value {
    if req.is_completions() {
        serde_json::json!({"choices": [{"index": index, "text": "", "finish_reason": reason}]})
    } else {
        serde_json::json!({"choices": [{"index": index, "delta": {}, "finish_reason": reason}]})
    }
}

/// A whole (non-streamed) reply of `text`, shaped for the request's endpoint.
pub fn whole_reply(req: &Request, model: &str, text: &str) -> serde_json::Value {
    let choices: Vec<serde_json::Value> = (0..req.n())
        .map(|i| {
            if req.is_completions() {
                serde_json::json!({"index": i, "text": text, "finish_reason": "stop"})
            } else {
                serde_json::json!({"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"})
            }
        })
        .collect();
    serde_json::json!({
        "id": "cmpl-1", "object": "chat.completion", "model": model, "choices": choices,
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

/// Streams `text` one word a chunk to every choice the request asks for, then finishes.
pub async fn stream_text(req: &Request, conn: &mut Conn, state: &State, text: &str) {
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    conn.start_stream().await;
    for word in text.split_inclusive(' ') {
        for i in 0..req.n() {
            conn.event(&text_event(req, i, word)).await;
        }
    }
    for i in 0..req.n() {
        conn.event(&finish_event(req, i, "stop")).await;
    }
    let words = text.split_inclusive(' ').count();
    conn.event(&serde_json::json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": words}}))
        .await;
    conn.end().await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
}

/// The well-behaved server (mode `ok`; a misbehaviour calls it for the paths it leaves
/// alone): `/v1/models` lists `m`, completions answer "9 * 2 = 18. The answer is 18.".
pub async fn ok(req: &Request, conn: &mut Conn, state: &State) -> bool {
    match req.path.as_str() {
        "/v1/models" => {
            conn.json(
                &serde_json::json!({"object": "list", "data": [{"id": "m", "object": "model"}]}),
            )
            .await;
            true
        }
        p if p.ends_with("/completions") => {
            let text = "9 * 2 = 18. The answer is 18.";
            if req.wants_stream() {
                stream_text(req, conn, state, text).await;
            } else {
                conn.json(&whole_reply(req, "m", text)).await;
            }
            true
        }
        _ => false,
    }
}
