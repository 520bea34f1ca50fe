//! The interactive lab. One `AppState`; `update(&mut state, msg) -> effects`; `view(&state)`
//! draws without changing anything. The loop selects over terminal events, engine events and
//! (only while something is happening) a tick; it drains what is queued, then draws once, at
//! most ~30 times a second while tokens stream, and not at all while idle.
//!
//! Popups are rooms (`popups`): one file per popup, each with its state, its keys (returning
//! a `popups::Step`, which `update::popup` carries out) and its `draw(&self)`. The settings
//! bar is `state::SETTINGS_BAR`, rows of the one settings table (`core::settings::Key`).

pub mod columns;
pub mod demos;
mod jobs;
pub mod keymap;
pub mod layout;
pub mod msg;
pub mod panes;
pub mod path_text;
pub mod plan;
pub mod popups;
pub mod run_view;
pub mod state;
pub mod tune_view;
pub mod typing;
pub mod update;
pub mod view;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
};
use ratatui::DefaultTerminal;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Embedder, Readiness};
use crate::core::template::Template;
use crate::engine::backends::Backends;
use crate::engine::cache::Cache;
use crate::engine::tuner::Tuner;
use crate::engine::{self, EngineEvent};
use crate::store::session::{Session, list_sessions, load_session};
use crate::store::template::{list, save_new_template, save_template};
use crate::store::writer::SessionWriter;
use futures::future::BoxFuture;
use jobs::default_cache;
pub use jobs::{JobContext, run_eval, run_optimize, run_tune};
use keymap::Keymap;
use msg::PickItem;
use msg::{Effect, JobForm, Msg};
use state::AppState;
pub use state::ModelChoice;

const FRAME: Duration = Duration::from_millis(33);
const TICK: Duration = Duration::from_millis(250);

pub struct LabOptions {
    pub template: Template,
    pub keymap: Keymap,
    pub concurrency: usize,
    /// A session to open, with its path.
    pub session: Option<(std::path::PathBuf, Session)>,
    /// Where named sessions go, and the autosave file of an unnamed one.
    pub sessions_dir: std::path::PathBuf,
    pub autosave: std::path::PathBuf,
    /// A first line for the status bar.
    pub notice: Option<String>,
    /// The edit side's share of a wide terminal (from the config file).
    pub split: u16,
    /// Embeds free-form answers for votes clustered by `embed` (`--embed-model`).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Where the model picker finds models and how it opens one (none: no picker).
    pub models: Option<Arc<dyn Models>>,
    /// How an evaluation builds a backend per model and adapter it varies (none: it varies
    /// neither).
    pub backends: Option<Arc<dyn Backends>>,
    /// Trains adapters and learning curves (none: this lab cannot).
    pub tuner: Option<Arc<dyn Tuner>>,
}

/// The models the lab can switch to, and how to open one: given by the face that built the
/// first backend, so the lab rebuilds it the same way.
pub trait Models: Send + Sync {
    fn list(&self) -> BoxFuture<'static, Result<Vec<ModelChoice>, String>>;
    fn open(&self, choice: ModelChoice) -> BoxFuture<'static, Result<Arc<dyn Backend>, String>>;
}

type BackendResult = Result<Arc<dyn Backend>, String>;

/// What the executor works with, from the face that started the lab: the embedder, the model
/// picker's source, the backend factory and the trainer.
type Given = (
    Option<Arc<dyn Embedder>>,
    Option<Arc<dyn Models>>,
    Option<Arc<dyn Backends>>,
    Option<Arc<dyn Tuner>>,
);

/// Runs the lab until the user quits. `backend` is being built while the first frame shows.
pub async fn run_lab(
    opts: LabOptions,
    backend: oneshot::Receiver<BackendResult>,
) -> Result<(), String> {
    if !std::io::stdout().is_terminal() {
        return Err("the lab needs a terminal; for scripts use `promptlab run`".into());
    }
    let mut state = AppState::new(&opts.template, opts.keymap, Instant::now());
    state.concurrency = opts.concurrency;
    state.split = opts.split.clamp(20, 80);
    state.session.dir = opts.sessions_dir;
    state.templates_dir = crate::store::template::export_dir();
    state.default_dataset = crate::store::dataset::default_dataset()
        .display()
        .to_string();
    state.shipped_datasets = crate::store::dataset::shipped_datasets()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    state.session.path = opts.autosave;
    state.embed_model = opts.embedder.as_ref().map(|e| e.name());
    if let Some((path, session)) = opts.session {
        state.open_session(path, session);
    }
    if let Some(n) = opts.notice {
        state.status = n;
    }
    if let Some(t) = &opts.tuner {
        state.can_train = t.available().map_err(String::from);
    }
    let mut terminal = ratatui::init();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(
            std::io::stdout(),
            DisableBracketedPaste,
            DisableMouseCapture
        );
        hook(info);
    }));
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture, EnableBracketedPaste);
    let given = (opts.embedder, opts.models, opts.backends, opts.tuner);
    let result = event_loop(&mut terminal, &mut state, backend, given).await;
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture
    );
    ratatui::restore();
    if result.is_ok() && state.session.written && !state.session.named {
        eprintln!(
            "this lab's runs and edits are kept in {} (open it with `promptlab {}`)",
            state.session.path.display(),
            state.session.path.display()
        );
    }
    result
}

/// A terminal event as a message (`None`: nothing the lab reacts to).
fn terminal_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Mouse(m) => Some(Msg::Mouse(m)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        _ => None,
    }
}

/// Carries out effects: the only place the lab does I/O.
struct Executor {
    backend: Option<Arc<dyn Backend>>,
    embedder: Option<Arc<dyn Embedder>>,
    models: Option<Arc<dyn Models>>,
    backends: Option<Arc<dyn Backends>>,
    /// Where a model switch delivers the new backend (the event loop installs it).
    switched: mpsc::UnboundedSender<BackendResult>,
    cancel: Option<CancellationToken>,
    tx: mpsc::UnboundedSender<Msg>,
    /// The one session writer (saves land in order); finished before the lab exits.
    saves: Option<SessionWriter>,
    eval_cancel: Option<CancellationToken>,
    optimize_cancel: Option<CancellationToken>,
    /// The user's sample cache, opened by the first run or job that needs it and shared by
    /// every one after (runs, evaluations and searches see each other's samples).
    cache: Arc<tokio::sync::OnceCell<Option<Arc<Cache>>>>,
    tuner: Option<Arc<dyn Tuner>>,
    /// The tune training (its task, awaited at the end, and its cancel token).
    tune: Option<(tokio::task::JoinHandle<()>, CancellationToken)>,
}

impl Executor {
    fn run(&mut self, effect: Effect) {
        match effect {
            Effect::StartRun { id, plan } => self.start_run(id, plan),
            Effect::ListModels => {
                let tx = self.tx.clone();
                let Some(models) = self.models.clone() else {
                    let _ = tx.send(Msg::Models(Err("this lab cannot switch models".into())));
                    return;
                };
                tokio::spawn(async move {
                    let _ = tx.send(Msg::Models(models.list().await));
                });
            }
            Effect::SwitchModel(choice) => {
                let Some(models) = self.models.clone() else {
                    return;
                };
                let switched = self.switched.clone();
                tokio::spawn(async move {
                    let _ = switched.send(models.open(choice).await);
                });
            }
            Effect::CancelRun => {
                if let Some(c) = &self.cancel {
                    c.cancel();
                }
            }
            Effect::SaveSession { path, session, how } => {
                // Serialising and writing happen on the writer's thread, in order: a save never
                // stalls a frame, and an older snapshot never lands after a newer one.
                match &self.saves {
                    Some(w) => w.save(path, *session, how),
                    None => {
                        let _ = self.tx.send(Msg::SessionSaved(Err(
                            "the session writer is not running; nothing was saved".into(),
                        )));
                    }
                }
            }
            Effect::StartEval {
                dataset,
                vary,
                template,
                concurrency,
            } => {
                let Some(ctx) = self.job(Msg::EvalFailed, concurrency, |e| &mut e.eval_cancel)
                else {
                    return;
                };
                tokio::spawn(async move { run_eval(dataset, vary, *template, ctx.await).await });
            }
            Effect::StartExamples {
                dataset,
                orders,
                sampled,
                template,
                concurrency,
            } => {
                let Some(ctx) = self.job(Msg::EvalFailed, concurrency, |e| &mut e.eval_cancel)
                else {
                    return;
                };
                tokio::spawn(async move {
                    demos::run(dataset, (orders, sampled), *template, ctx.await).await
                });
            }
            Effect::CancelEval => {
                if let Some(c) = &self.eval_cancel {
                    c.cancel();
                }
            }
            Effect::StartOptimize {
                dataset,
                options,
                template,
                concurrency,
            } => {
                let Some(ctx) =
                    self.job(Msg::OptimizeFailed, concurrency, |e| &mut e.optimize_cancel)
                else {
                    return;
                };
                tokio::spawn(
                    async move { run_optimize(dataset, options, *template, ctx.await).await },
                );
            }
            Effect::CancelOptimize => {
                if let Some(c) = &self.optimize_cancel {
                    c.cancel();
                }
            }
            Effect::Plan {
                job: JobForm::Tune, ..
            }
            | Effect::StartTune { .. }
            | Effect::CancelTune => self.tune(effect),
            Effect::Plan {
                job,
                fields,
                template,
            } => plan::spawn(
                self.backend.clone(),
                self.backends.clone(),
                self.tx.clone(),
                job,
                fields,
                *template,
            ),
            // A tune stops after its step (the lab waits for it before it exits).
            Effect::Quit => self.tune(Effect::CancelTune),
            other => self.files(other),
        }
    }

    /// A tune's effects: its plan, its start and its stop, on the lab's trainer.
    fn tune(&mut self, effect: Effect) {
        match effect {
            Effect::Plan {
                fields, template, ..
            } => jobs::plan_tune(
                self.tuner.clone(),
                self.backend.as_ref(),
                self.tx.clone(),
                fields,
                *template,
            ),
            Effect::StartTune {
                dataset,
                options,
                template,
            } => {
                let asked = (dataset, options, *template);
                let backend = self.backend.as_ref();
                self.tune = jobs::start_tune(self.tuner.clone(), backend, self.tx.clone(), asked);
            }
            Effect::CancelTune => {
                if let Some((_, c)) = &self.tune {
                    c.cancel();
                }
            }
            _ => {}
        }
    }

    /// Starts a run on the engine; its events come back as `Msg::Engine`.
    fn start_run(&mut self, id: u64, mut plan: Arc<engine::RunPlan>) {
        let Some(backend) = self.backend.clone() else {
            return;
        };
        if plan.free() && self.embedder.is_some() {
            Arc::make_mut(&mut plan).embedder = self.embedder.clone();
        }
        let cancel = CancellationToken::new();
        self.cancel = Some(cancel.clone());
        let cache = self.cache.clone();
        let (etx, mut erx) = mpsc::unbounded_channel::<EngineEvent>();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(event) = erx.recv().await {
                if tx.send(Msg::Engine { run: id, event }).is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            // Paths the cache holds arrive at once: raising N keeps the paths shown.
            Arc::make_mut(&mut plan).cache = cache.get_or_init(default_cache).await.clone();
            engine::run(backend, plan, Some(etx), cancel).await
        });
    }

    /// Effects on files, off the event loop: templates, sessions, the config's split.
    fn files(&mut self, effect: Effect) {
        match effect {
            Effect::ListTemplates => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let items = list()
                        .into_iter()
                        .map(|l| PickItem {
                            summary: match &l.template {
                                Ok(t) => format!(
                                    "{} {}",
                                    panes::cell(t.strategy.as_str(), 13, false),
                                    t.description
                                ),
                                Err(_) => String::new(),
                            },
                            name: l.name,
                            template: l.template.map_err(|e| e.to_string()),
                        })
                        .collect();
                    let _ = tx.send(Msg::Templates(items));
                });
            }
            Effect::SaveTemplate {
                path,
                template,
                replace,
            } => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let r = if replace {
                        save_template(&path, &template).map(|()| true)
                    } else {
                        save_new_template(&path, &template)
                    };
                    let _ = tx.send(match r {
                        Ok(true) => Msg::Saved(Ok(path.display().to_string())),
                        Ok(false) => Msg::TemplateExists { path, template },
                        Err(e) => Msg::Saved(Err(e.to_string())),
                    });
                });
            }
            Effect::ListSessions => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::Sessions(list_sessions()));
                });
            }
            Effect::OpenSession(path) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let r = load_session(&path)
                        .map(|s| (path, Box::new(s)))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::SessionOpened(r));
                });
            }
            Effect::RememberSplit(split) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let written = crate::store::config_file()
                        .ok_or_else(|| "no config directory".to_string())
                        .and_then(|p| {
                            crate::store::set_yaml_line(&p, "split", &split.to_string())
                                .map_err(|e| format!("{}: {e}", p.display()))
                        });
                    if let Err(e) = written {
                        let _ = tx.send(Msg::Saved(Err(format!(
                            "the layout could not be kept: {e}"
                        ))));
                    }
                });
            }
            Effect::DiscardAutosave(path) if crate::store::tidy::is_autosave(&path) => {
                tokio::task::spawn_blocking(move || std::fs::remove_file(path));
            }
            Effect::DeleteSession(path) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let r = crate::store::tidy::delete_session(&path)
                        .map(|()| path)
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::SessionDeleted(r));
                });
            }
            Effect::RenameSession { from, to } => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let r = crate::store::tidy::rename_session(&from, &to)
                        .map(|()| (from, to))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::SessionRenamed(r));
                });
            }
            Effect::TidyAutosaves(keep) => {
                let mut dirs = vec![std::path::PathBuf::from("sessions")];
                dirs.extend(crate::store::session::sessions_dir());
                tokio::task::spawn_blocking(move || {
                    let now = std::time::SystemTime::now();
                    for p in crate::store::tidy::tidy_autosaves(&dirs, &keep, now) {
                        tracing::info!("removed the autosave {}", p.display());
                    }
                });
            }
            _ => {}
        }
    }

    /// What a new evaluation or search runs with: the backend (or `fail` sent back when it
    /// is not built yet), a fresh cancel token kept in `slot`, and the user's sample cache
    /// (opened off the event loop by the first task that needs it).
    fn job(
        &mut self,
        fail: fn(String) -> Msg,
        concurrency: usize,
        slot: fn(&mut Executor) -> &mut Option<CancellationToken>,
    ) -> Option<impl std::future::Future<Output = JobContext> + Send + 'static> {
        let backend = self.backend_or(fail)?;
        let cancel = CancellationToken::new();
        *slot(self) = Some(cancel.clone());
        let tx = self.tx.clone();
        let embedder = self.embedder.clone();
        let cache = self.cache.clone();
        let backends = self.backends.clone();
        Some(async move {
            JobContext {
                backend,
                backends,
                embedder,
                concurrency,
                cache: cache.get_or_init(default_cache).await.clone(),
                cancel,
                tx,
            }
        })
    }

    /// The backend, or `fail` sent back when it is not built yet.
    fn backend_or(&self, fail: fn(String) -> Msg) -> Option<Arc<dyn Backend>> {
        if self.backend.is_none() {
            let _ = self.tx.send(fail("the backend is not ready yet".into()));
        }
        self.backend.clone()
    }

    fn readiness(&self) -> Option<String> {
        self.backend.as_ref().map(|b| match b.readiness() {
            Readiness::Ready => "ready".to_string(),
            Readiness::Preparing(m) => m,
            Readiness::Failed(e) => format!("failed: {e}"),
        })
    }
}

/// Drains whatever else is queued (typing and pastes, token floods) into `batch`, so the
/// batch is drawn once.
fn drain(
    input: &mut mpsc::UnboundedReceiver<std::io::Result<Event>>,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    batch: &mut Vec<Msg>,
) -> Result<(), String> {
    while let Ok(ev) = input.try_recv() {
        match ev {
            Ok(ev) => batch.extend(terminal_msg(ev)),
            Err(e) => return Err(format!("terminal input failed: {e}")),
        }
    }
    while let Ok(m) = rx.try_recv() {
        batch.push(m);
    }
    Ok(())
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    state: &mut AppState,
    mut backend_rx: oneshot::Receiver<BackendResult>,
    (embedder, models, backends, tuner): Given,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (switched, mut switched_rx) = mpsc::unbounded_channel::<BackendResult>();
    let saved = tx.clone();
    let writer = SessionWriter::spawn(move |r| {
        let _ = saved.send(Msg::SessionSaved(r.map_err(|e| e.to_string())));
    })
    .map_err(|e| format!("cannot start the session writer: {e}"))?;
    let mut exec = Executor {
        backend: None,
        embedder,
        models,
        backends,
        switched,
        cancel: None,
        tx,
        saves: Some(writer),
        eval_cancel: None,
        optimize_cancel: None,
        cache: Default::default(),
        tuner,
        tune: None,
    };
    exec.run(Effect::TidyAutosaves(state.session.path.clone()));
    // Terminal input is read on a thread of its own, every event in order, and drained
    // before each draw: a burst faster than one read is never left unshown.
    let (input_tx, mut input) = mpsc::unbounded_channel::<std::io::Result<Event>>();
    std::thread::spawn(move || {
        loop {
            let ev = crossterm::event::read();
            let failed = ev.is_err();
            if input_tx.send(ev).is_err() || failed {
                break;
            }
        }
    });
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut backend_pending = true;
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    if let Ok(size) = terminal.size() {
        state.size = (size.width, size.height);
    }
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal
                .draw(|f| view::view(state, f))
                .map_err(|e| format!("cannot draw: {e}"))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let busy = state.is_running()
            || backend_pending
            || state.backend_state != "ready"
            || state.autosave_due.is_some();
        let until_frame = FRAME.saturating_sub(last_draw.elapsed());
        let mut batch: Vec<Msg> = vec![];
        tokio::select! {
            ev = input.recv() => match ev {
                Some(Ok(ev)) => batch.extend(terminal_msg(ev)),
                Some(Err(e)) => return Err(format!("terminal input failed: {e}")),
                None => return Ok(()),
            },
            Some(m) = rx.recv() => batch.push(m),
            b = &mut backend_rx, if backend_pending => {
                backend_pending = false;
                match b.unwrap_or_else(|_| Err("the backend could not be built".into())) {
                    Ok(backend) => {
                        batch.push(Msg::Backend(Ok(backend.info())));
                        exec.backend = Some(backend);
                    }
                    Err(e) => batch.push(Msg::Backend(Err(e))),
                }
            }
            Some(b) = switched_rx.recv() => match b {
                Ok(backend) => {
                    batch.push(Msg::ModelSwitched(Ok(backend.info())));
                    exec.backend = Some(backend);
                }
                Err(e) => batch.push(Msg::ModelSwitched(Err(e))),
            },
            _ = tick.tick(), if busy => batch.push(Msg::Tick(Instant::now())),
            _ = tokio::time::sleep(until_frame), if dirty => {}
        }
        // Each batch starts from the time it was woken (not from before the wait): a run
        // started by a key counts from then.
        batch.insert(0, Msg::Tick(Instant::now()));
        drain(&mut input, &mut rx, &mut batch)?;
        if let Some(r) = exec.readiness().filter(|r| *r != state.backend_state) {
            batch.push(Msg::BackendState(r));
        }
        let only_tick = batch.len() == 1;
        for m in batch {
            dirty |= !only_tick || state.is_running();
            for effect in update::update(state, m) {
                exec.run(effect);
            }
        }
        if state.quit {
            stop_tune(&mut exec, terminal, state).await;
            if let Some(w) = exec.saves.take() {
                let _ = tokio::task::spawn_blocking(move || w.finish()).await;
            }
            // The last saves' answers: the "kept in …" line names a file that was written.
            while let Ok(m) = rx.try_recv() {
                if matches!(m, Msg::SessionSaved(_)) {
                    update::update(state, m);
                }
            }
            return Ok(());
        }
    }
}

/// The lab quits while a tune trains: it was told to stop after its step (`Effect::Quit`);
/// the lab waits for it, so the last finished epoch's adapter and its record are whole.
async fn stop_tune(exec: &mut Executor, terminal: &mut DefaultTerminal, state: &mut AppState) {
    if let Some((task, _)) = exec.tune.take().filter(|(t, _)| !t.is_finished()) {
        state.status = "stopping the tune after this step…".into();
        let _ = terminal.draw(|f| view::view(state, f));
        let _ = task.await;
    }
}
