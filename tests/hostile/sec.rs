//! What a server can do to files and secrets: ids that climb out of folders, error bodies
//! that echo the key.

use super::{Conn, Request, State};

/// Answers the modes of this theme; `false` for any other.
pub async fn handle(req: &Request, conn: &mut Conn, state: &State) -> bool {
    // No mode yet: each misbehaviour is an arm `"name" => { …; true }` of a match on
    // `req.mode.as_str()`.
    let _ = (req, conn, state);
    false
}
