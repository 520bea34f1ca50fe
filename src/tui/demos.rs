//! The lab's demonstrations analysis (the Examples pane's `A`): the job `promptlab examples`
//! runs, reporting on the lab's job channel like an evaluation.

use super::msg::Msg;
use crate::core::template::Template;

/// A demonstrations analysis for the lab (what `Effect::StartExamples` does): the job
/// `promptlab examples` runs, over the lab's one backend, `orders` random orders, its answers
/// sampled when `sampled` (else scored where they can be).
pub async fn run(
    dataset: std::path::PathBuf,
    (orders, sampled): (usize, bool),
    template: Template,
    ctx: super::JobContext,
) {
    let job = async {
        let data = crate::engine::jobs::load(dataset, false, None).await?;
        let mode = template.mode.unwrap_or(ctx.backend.info().default_mode);
        let job = crate::engine::examples::ExamplesJob {
            dataset: data,
            settings: crate::core::demos::Settings {
                orders,
                seed: template.sampling.seed,
                sampled,
            },
            template,
            mode,
            backend: ctx.backend.clone(),
            opts: ctx.options(),
        };
        Ok::<_, String>(job.run(&ctx.report()).await?)
    };
    if let Err(e) = job.await {
        let _ = ctx.tx.send(Msg::EvalFailed(e));
    }
}
