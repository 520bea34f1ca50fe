//! What a server can do to files and secrets: ids that climb out of folders, error bodies
//! that echo the key.
//!
//! Modes (the first path segment of the base URL):
//! - `traversal`: a Files and Batches API whose batch-creation reply has the id
//!   `../../../../x/pwned`; completions and `/models` as `ok`.
//! - `batch-echo`: uploads and batch creation succeed (batch `batch_1`); asking for the batch
//!   answers 401 with a body that echoes the `Authorization` header, as some proxies do.
//! - `echo-401`: every request answers 401 echoing the `Authorization` header.
//! - `echo-500`: completions answer 500 with a body holding `token=KEY` (what async-openai
//!   logs as a warning); `/models` and the Files and Batches API as `batch-echo`.

use super::{Conn, Request, State, ok};

/// The bearer token the request carried ("" without one).
pub fn key_of(req: &Request) -> String {
    req.header("authorization")
        .map(|a| a.trim_start_matches("Bearer ").to_string())
        .unwrap_or_default()
}

/// Answers the modes of this theme; `false` for any other.
pub async fn handle(req: &Request, conn: &mut Conn, state: &State) -> bool {
    let key = key_of(req);
    let echo = serde_json::json!({"error": {"message": format!("Incorrect API key provided: Bearer {key}"), "type": "invalid_request_error"}}).to_string();
    match (req.mode.as_str(), req.method.as_str(), req.path.as_str()) {
        ("traversal", "POST", "/v1/files") => {
            conn.json(&serde_json::json!({"id": "file-in", "object": "file"}))
                .await
        }
        ("traversal", "POST", "/v1/batches") => {
            conn.json(&serde_json::json!({"id": "../../../../x/pwned", "status": "validating"}))
                .await
        }
        ("traversal", _, _) => return ok(req, conn, state).await,
        ("batch-echo" | "echo-500", "POST", "/v1/files") => {
            conn.json(&serde_json::json!({"id": "file-in", "object": "file"}))
                .await
        }
        ("batch-echo" | "echo-500", "POST", "/v1/batches") => {
            conn.json(&serde_json::json!({"id": "batch_1", "status": "validating"}))
                .await
        }
        ("batch-echo", _, _) => conn.respond(401, "application/json", &echo).await,
        ("echo-401", _, _) => conn.respond(401, "application/json", &echo).await,
        ("echo-500", _, p) if p.ends_with("/completions") => {
            let body = serde_json::json!({"error": {"message": format!("upstream failed for token={key}"), "type": "server_error"}});
            conn.respond(500, "application/json", &body.to_string())
                .await
        }
        ("echo-500", _, "/v1/models") => return ok(req, conn, state).await,
        ("echo-500", _, _) => conn.respond(401, "application/json", &echo).await,
        _ => return false,
    }
    true
}
