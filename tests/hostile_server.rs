//! The hostile-server harness itself (`tests/hostile/`): its well-behaved mode answers a run,
//! and it records what promptlab sent. The misbehaviours are tested where they matter.

mod hostile;

use std::sync::Arc;

use promptlab::backend::openai::{OpenAiBackend, OpenAiSettings};
use promptlab::engine::{RunPlan, run};
use promptlab::store::template::resolve;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_well_behaved_mode_answers_every_path_and_records_the_requests() {
    let server = hostile::Hostile::start().await;
    let backend = Arc::new(OpenAiBackend::new(OpenAiSettings::new(server.url("ok"), "m")).unwrap());
    let (mut t, _) = resolve("gsm8k-cot").unwrap();
    t.sampling.n = 3;
    let plan = Arc::new(RunPlan::new(&t, "Eggs?", promptlab::core::render::Mode::Chat).unwrap());
    let result = run(backend, plan, None, CancellationToken::new()).await;
    assert_eq!(result.paths.len(), 3);
    for p in &result.paths {
        assert_eq!(p.answer.as_deref(), Some("18"), "{:?}", p.error);
    }
    let seen = server.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|r| r.mode == "ok" && r.path == "/v1/chat/completions")
    );
}
