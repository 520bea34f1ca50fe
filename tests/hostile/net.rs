//! Streams, timeouts and replies that are not what they claim: cut streams under load, endless
//! streams, silence, no headers, HTML or empty bodies.
//!
//! Modes (the first path segment of the base URL):
//! - `crowded`: streams two replies at once, paced; a request that arrives while two are being
//!   sent gets a few chunks, then the socket closes in the middle of a chunk
//!   (llama-cpp-python's behaviour, and a small server behind a proxy). Like
//!   llama-cpp-python, it ignores `n` (one choice per request).
//! - `endless`: ignores `max_tokens` and streams words until the client goes away.
//! - `silent`: reads the request and never sends response headers.
//! - `stall`: sends the headers and one chunk, then nothing, with the connection open.
//! - `stall-first`: the first completion request stalls like `stall`; the others stream paced
//!   replies (a server that is alive but dropped one stream).
//! - `reset-first`: the first completion request gets the headers and one chunk, then a reset;
//!   the others are answered.
//! - `slow`: a well-behaved reply sent one word every 100 ms (long, but never silent).
//! - `html`: a 200 HTML page; `json`: a 200 whole JSON completion (the server ignores
//!   `stream`); `no-choices`: a stream whose chunks carry no choices; `index-7`: a stream
//!   whose choices all have index 7.
//! - `auth`: 401 on every path, `/models` included.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Conn, Request, State, finish_event, ok, stream_text, text_event, whole_reply};

const ANSWER: &str = "9 * 2 = 18. The answer is 18.";

/// Answers the modes of this theme; `false` for any other.
pub async fn handle(req: &Request, conn: &mut Conn, state: &State) -> bool {
    let completion = req.path.ends_with("/completions");
    match req.mode.as_str() {
        "crowded" if completion => crowded(req, conn, state).await,
        "endless" if completion => endless(req, conn).await,
        "silent" if completion => conn.silence(600).await,
        "stall" if completion => stall(req, conn).await,
        "stall-first" if completion => {
            if state.count("stall-first") == 0 {
                stall(req, conn).await;
            } else {
                paced(req, conn, req.n(), Duration::from_millis(100)).await;
            }
        }
        "reset-first" if completion => {
            if state.count("reset-first") == 0 {
                conn.start_stream().await;
                conn.event(&text_event(req, 0, "The ans")).await;
                conn.reset().await;
            } else {
                stream_text(req, conn, state, ANSWER).await;
            }
        }
        "slow" if completion => paced(req, conn, req.n(), Duration::from_millis(100)).await,
        "html" if completion => {
            let page = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1><p>If you see this page, the web server is working.</p></body></html>";
            conn.respond(200, "text/html; charset=utf-8", page).await;
        }
        "json" if completion => conn.json(&whole_reply(req, "m", ANSWER)).await,
        "no-choices" if completion => {
            conn.start_stream().await;
            for _ in 0..3 {
                conn.event(&serde_json::json!({"id": "c", "choices": []}))
                    .await;
            }
            conn.end().await;
        }
        "index-7" if completion => {
            conn.start_stream().await;
            for word in ANSWER.split_inclusive(' ') {
                conn.event(&text_event(req, 7, word)).await;
            }
            conn.event(&finish_event(req, 7, "stop")).await;
            conn.end().await;
        }
        "auth" => {
            conn.respond(
                401,
                "application/json",
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
            )
            .await;
        }
        "crowded" | "endless" | "silent" | "stall" | "stall-first" | "reset-first" | "slow"
        | "html" | "json" | "no-choices" | "index-7" => return ok(req, conn, state).await,
        _ => return false,
    }
    true
}

/// Streams the answer one word a chunk to `choices` choices, `pause` between chunks.
async fn paced(req: &Request, conn: &mut Conn, choices: usize, pause: Duration) {
    conn.start_stream().await;
    for word in ANSWER.split_inclusive(' ') {
        for i in 0..choices {
            conn.event(&text_event(req, i, word)).await;
        }
        tokio::time::sleep(pause).await;
    }
    for i in 0..choices {
        conn.event(&finish_event(req, i, "stop")).await;
    }
    conn.end().await;
}

/// Two replies at once; any other gets three chunks and a cut in the middle of the fourth.
/// One choice, whatever `n` asked.
async fn crowded(req: &Request, conn: &mut Conn, state: &State) {
    let pause = Duration::from_millis(10);
    if state.in_flight.fetch_add(1, Ordering::SeqCst) < 2 {
        paced(req, conn, 1, pause).await;
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    state.count("cut");
    conn.start_stream().await;
    for word in ANSWER.split_inclusive(' ').take(3) {
        conn.event(&text_event(req, 0, word)).await;
        tokio::time::sleep(pause).await;
    }
    // A chunk announced as 0x40 bytes, of which a few arrive before the socket closes.
    conn.write(b"40\r\ndata: {\"choi").await;
    conn.close().await;
}

/// Words, forever, whatever `max_tokens` said; ends when the client goes away.
async fn endless(req: &Request, conn: &mut Conn) {
    conn.start_stream().await;
    let mut k = 0u64;
    while conn.open {
        for i in 0..req.n() {
            conn.event(&text_event(req, i, &format!("word{k} "))).await;
        }
        k += 1;
        if k.is_multiple_of(64) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    conn.open = false;
}

/// The headers and one chunk, then silence with the connection open.
async fn stall(req: &Request, conn: &mut Conn) {
    conn.start_stream().await;
    conn.event(&text_event(req, 0, "The ans")).await;
    conn.silence(600).await;
}
