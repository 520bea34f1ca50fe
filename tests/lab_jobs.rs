//! The lab's evaluation varies models like `promptlab eval --vary model=a,b`: through the
//! backend factory the composition root hands it (`engine::backends::Backends`).

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use promptlab::backend::scripted::{Script, ScriptedBackend};
use promptlab::backend::{Backend, Embedder};
use promptlab::core::extract::AnswerSpec;
use promptlab::engine::backends::{Backends, BackendsError, Built, Server};
use promptlab::engine::cache::Cache;
use promptlab::engine::jobs::JobEvent;
use promptlab::store::template::resolve;
use promptlab::tui::msg::Msg;
use tokio_util::sync::CancellationToken;

/// The demo script under the model name it is asked for; every (model, lora) asked noted.
struct Scripts {
    asked: Mutex<Vec<(String, String)>>,
}

fn demo(model: &str) -> Arc<dyn Backend> {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo-script.yaml"
    ))
    .unwrap();
    let mut script: Script = serde_saphyr::from_str(&yaml).unwrap();
    script.model = Some(model.to_string());
    for r in &mut script.responses {
        r.delay_ms = 0;
    }
    Arc::new(ScriptedBackend::new(script))
}

impl Backends for Scripts {
    fn build(&self, model: &str, lora: &str) -> BoxFuture<'static, Built> {
        self.asked
            .lock()
            .unwrap()
            .push((model.to_string(), lora.to_string()));
        let backend = demo(model);
        async move { Ok(backend) }.boxed()
    }
    fn has_models(&self) -> Result<bool, BackendsError> {
        Ok(true)
    }
    fn embedder(&self, _: &AnswerSpec) -> Result<Option<Arc<dyn Embedder>>, BackendsError> {
        Ok(None)
    }
    fn server(&self) -> Result<Server, BackendsError> {
        Ok(Server::default())
    }
}

/// Runs the lab's evaluation of `vary` with `backends`; its job events, in order.
async fn lab_eval(vary: &[&str], backends: Option<Arc<dyn Backends>>) -> Vec<Msg> {
    let (template, _) = resolve("gsm8k-cot").unwrap();
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/arith-mini.jsonl");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let dir = tempfile::tempdir().unwrap();
    let ctx = promptlab::tui::JobContext {
        backend: demo("the-labs"),
        backends,
        embedder: None,
        concurrency: 4,
        cache: Some(Arc::new(Cache::open(dir.path()).unwrap())),
        cancel: CancellationToken::new(),
        tx,
    };
    let vary = vary.iter().map(|v| v.to_string()).collect();
    promptlab::tui::run_eval(dataset, vary, template, ctx).await;
    let mut out = vec![];
    while let Ok(m) = rx.try_recv() {
        out.push(m);
    }
    out
}

#[tokio::test]
async fn the_labs_evaluation_runs_each_model_on_a_backend_of_its_own() {
    let scripts = Arc::new(Scripts {
        asked: Mutex::new(vec![]),
    });
    let msgs = lab_eval(&["model=a,b"], Some(scripts.clone())).await;
    let done: Vec<(String, String)> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Job(JobEvent::VariantDone(r)) => Some((r.name.clone(), r.backend.model.clone())),
            Msg::EvalFailed(e) => panic!("{e}"),
            _ => None,
        })
        .collect();
    assert_eq!(
        done,
        [
            ("model=a".to_string(), "a".to_string()),
            ("model=b".to_string(), "b".to_string())
        ]
    );
    assert_eq!(
        *scripts.asked.lock().unwrap(),
        [
            ("a".to_string(), String::new()),
            ("b".to_string(), String::new())
        ]
    );
}

#[tokio::test]
async fn a_lab_without_a_factory_still_refuses_to_vary_models() {
    let msgs = lab_eval(&["model=a,b"], None).await;
    let failed = msgs.iter().find_map(|m| match m {
        Msg::EvalFailed(e) => Some(e.clone()),
        _ => None,
    });
    let failed = failed.expect("the evaluation failed");
    assert!(failed.contains("promptlab eval --vary model="), "{failed}");
}

#[tokio::test]
async fn variants_that_vary_no_model_run_on_the_labs_own_backend() {
    let scripts = Arc::new(Scripts {
        asked: Mutex::new(vec![]),
    });
    let msgs = lab_eval(&["temperature=0,0.7"], Some(scripts.clone())).await;
    let models: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Job(JobEvent::VariantDone(r)) => Some(r.backend.model.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(models, ["the-labs", "the-labs"]);
    assert!(scripts.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_labs_prompt_search_scores_with_the_labs_own_n_and_temperature() {
    let (mut template, _) = resolve("gsm8k-direct").unwrap();
    template.sampling.n = 3;
    template.sampling.temperature = 0.7;
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/arith-mini.jsonl");
    let opts = promptlab::engine::eval::EvalOptions::new(1, None, CancellationToken::new());
    let search = promptlab::tui::plan::search_setup(
        dataset,
        "candidates=4 rounds=2 keep=2 dev=6 budget=200",
        &template,
        demo("m"),
        opts,
    )
    .await
    .unwrap();
    assert_eq!(search.base.sampling.n, 3);
    assert_eq!(search.base.sampling.temperature, 0.7);
    // The plan counts the lab's N samples per candidate and item.
    assert_eq!(search.plan().samples, 3);
}
