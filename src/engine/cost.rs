//! What a specialist's making cost, as the store knows it (`core::results::cost` holds the
//! figures: prompt tokens per query, time per item, training time, adapter size).

use crate::backend::Backend;

pub use crate::core::results::cost::{COSTS, Cost, Making};

/// What the store knows of how `backend`'s specialist was made: the record beside its
/// adapter, or the fine-tuning job that made its server's model; nothing for a base model.
pub fn making(backend: &dyn Backend) -> Making {
    if let Some(adapter) = backend.adapter() {
        let record = crate::store::adapters::read_record(&adapter).ok().flatten();
        return Making {
            training_seconds: record.as_ref().map(|r| r.training_seconds),
            adapter_bytes: std::fs::metadata(&adapter)
                .ok()
                .map(|m| m.len())
                .or(record.map(|r| r.size_bytes)),
        };
    }
    let info = backend.info();
    match &info.host {
        Some(host) if info.kind == "openai" => {
            let jobs = crate::store::finetunes::list();
            Making {
                training_seconds: crate::store::finetunes::made(&jobs, host, &info.model)
                    .and_then(|r| r.training_seconds),
                adapter_bytes: None,
            }
        }
        _ => Making::default(),
    }
}
