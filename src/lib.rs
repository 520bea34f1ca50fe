//! promptlab: a terminal prompt lab. See ARCHITECTURE.md for the layers:
//! `core` (pure) <- `backend` <- `engine` (tokio) <- `cli` / `tui`, `store` for files, `train`
//! beside the engine, and `app`, the composition root that assembles them.

pub mod app;
pub mod backend;
pub mod cli;
pub mod core;
pub mod engine;
pub mod store;
#[cfg(feature = "train")]
pub mod train;
pub mod tui;
