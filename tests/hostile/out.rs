//! What a server can do to a terminal: escape sequences, OSC and bidi text in every field.

use super::{Conn, Request, State};

/// Answers the modes of this theme; `false` for any other.
pub async fn handle(req: &Request, conn: &mut Conn, state: &State) -> bool {
    // No mode yet: each misbehaviour is an arm `"name" => { …; true }` of a match on
    // `req.mode.as_str()`.
    let _ = (req, conn, state);
    false
}
