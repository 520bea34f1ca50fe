//! promptlab: a terminal prompt lab. See ARCHITECTURE.md for the layers:
//! `core` (pure) <- `backend` <- `engine` (tokio) <- `cli` / `tui`, and `store` for files.

pub mod backend;
pub mod cli;
pub mod core;
pub mod engine;
pub mod store;
#[cfg(feature = "train")]
pub mod train;
pub mod tui;
