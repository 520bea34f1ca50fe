//! What a server can do to a terminal: escape sequences, OSC and bidi text in every field.
//!
//! Modes (the first path segment of the base URL):
//! - `escapes`: `/v1/models` lists ids carrying ESC, OSC, CSI, C1 and bidi text; completions
//!   answer [`REPLY`] (the answer 18 painted red, a title change, a bidi override) with the
//!   same in the reply's `model`; `/v1/batches/ID` describes the batch with such text in its
//!   id, status and errors.
//! - `escapes-error`: every request gets a 400 whose `error.message` carries [`NASTY`].

use super::{Conn, Request, State, stream_text, whole_reply};

/// Every kind of text a terminal acts on: an OSC title change ended by BEL, a clear screen,
/// a colour, a C1 CSI, a bidi override and an isolate.
pub const NASTY: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred\u{1b}[0m\u{9b}1m\u{202e}desrever\u{2066}x\u{2069}";

/// The reply: "The answer is 18." with 18 painted red and the rest of [`NASTY`] around it.
pub const REPLY: &str =
    "\u{1b}]0;pwned\u{7}Nine times two. The answer is \u{1b}[31m18\u{1b}[0m. \u{202e}done";

/// Answers the modes of this theme; `false` for any other.
pub async fn handle(req: &Request, conn: &mut Conn, state: &State) -> bool {
    match req.mode.as_str() {
        "escapes" => escapes(req, conn, state).await,
        "escapes-error" => {
            let body = serde_json::json!({"error": {"message": NASTY, "type": NASTY}});
            conn.respond(400, "application/json", &body.to_string())
                .await;
            true
        }
        _ => false,
    }
}

async fn escapes(req: &Request, conn: &mut Conn, state: &State) -> bool {
    let model = format!("m{NASTY}");
    match req.path.as_str() {
        "/v1/models" => {
            conn.json(&serde_json::json!({"object": "list", "data": [
                {"id": model, "object": "model"},
                {"id": format!("other{NASTY}"), "object": "model"},
            ]}))
            .await;
        }
        p if p.ends_with("/completions") => {
            if req.wants_stream() {
                stream_text(req, conn, state, REPLY).await;
            } else {
                conn.json(&whole_reply(req, &model, REPLY)).await;
            }
        }
        p if p.starts_with("/v1/batches/") => {
            conn.json(&serde_json::json!({
                "id": format!("batch{NASTY}"), "object": "batch", "status": format!("failed{NASTY}"),
                "request_counts": {"total": 2, "completed": 1, "failed": 1},
                "errors": {"data": [{"message": NASTY}]},
            }))
            .await;
        }
        _ => return false,
    }
    true
}
