//! Streams, timeouts and replies that are not what they claim: cut streams under load, endless
//! streams, silence, no headers, HTML or empty bodies.

use super::{Conn, Request, State};

/// Answers the modes of this theme; `false` for any other.
pub async fn handle(req: &Request, conn: &mut Conn, state: &State) -> bool {
    // No mode yet: each misbehaviour is an arm `"name" => { …; true }` of a match on
    // `req.mode.as_str()`.
    let _ = (req, conn, state);
    false
}
