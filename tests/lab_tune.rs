//! Training an adapter from the lab (issue 28), end to end without a terminal: the tune form
//! and its plan, a trainer handed in as `engine::tuner::Tuner` (a fake one here: it writes an
//! adapter and its record the way the real one does, a checkpoint per epoch, and stops when
//! cancelled) driven by `tui::run_tune` as the executor drives it, its reports folded into the
//! board, Esc stopping it with the last epoch kept, and the adapter then listed under its base
//! in the model picker (`store::models` over the folder it was written to) and chosen.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use futures::FutureExt;
use futures::future::BoxFuture;
use promptlab::backend::BackendInfo;
use promptlab::core::render::Mode;
use promptlab::engine::tuner::{
    Progress, TuneError, TuneJob, TunePlan, TuneProgress, Tuned, Tuner,
};
use promptlab::store::adapters::{Record, write_record};
use promptlab::store::models::Stores;
use promptlab::store::template::resolve;
use promptlab::tui::keymap::Keymap;
use promptlab::tui::msg::{Effect, ModelChoice, Msg};
use promptlab::tui::popups::Models;
use promptlab::tui::state::{AppState, Popup};
use promptlab::tui::update::update;
use promptlab::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio_util::sync::CancellationToken;

fn lab() -> AppState {
    let (t, _) = resolve("gsm8k-cot").unwrap();
    let mut s = AppState::new(&t, Keymap::default(), Instant::now());
    update(
        &mut s,
        Msg::Backend(Ok(BackendInfo::new("local", "base", Mode::Completion))),
    );
    update(&mut s, Msg::BackendState("ready".into()));
    s.can_train = Ok(());
    s
}

fn press(s: &mut AppState, code: KeyCode) -> Vec<Effect> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn draw(s: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(s, f)).unwrap();
    t
}

/// A trainer that trains nothing: two steps an epoch, the adapter and its record written at
/// each epoch's end (on `base`, in `adapters`), and a stop when cancelled, keeping that file.
struct Fake {
    base: PathBuf,
    adapters: PathBuf,
}

impl Fake {
    fn record(&self, epochs_done: usize, losses: &[f32]) -> Record {
        let mut r: Record =
            serde_json::from_str(include_str!("fixtures/adapter-record.json")).unwrap();
        r.base.path = self.base.clone();
        r.base.file = "base.gguf".into();
        r.base.size_bytes = std::fs::metadata(&self.base).unwrap().len();
        r.epochs_done = epochs_done;
        r.losses = losses.to_vec();
        r.complete = false;
        r
    }
}

impl Tuner for Fake {
    fn available(&self) -> Result<(), TuneError> {
        Ok(())
    }

    fn plan(&self, job: TuneJob) -> BoxFuture<'static, Result<TunePlan, TuneError>> {
        let out = self.adapters.join(format!("{}.gguf", job.options.name));
        async move {
            Ok(TunePlan {
                base: "base.gguf".into(),
                out,
                train_rows: 8,
                held_out: 2,
                tokens: 400,
                answer_tokens: 40,
                epochs: job.options.epochs,
                pace: Some(40.0),
                curve: None,
            })
        }
        .boxed()
    }

    fn tune(
        &self,
        job: TuneJob,
        cancel: CancellationToken,
        on: Progress,
    ) -> BoxFuture<'static, Result<Tuned, TuneError>> {
        let path = self.adapters.join(format!("{}.gguf", job.options.name));
        let fake = Fake {
            base: self.base.clone(),
            adapters: self.adapters.clone(),
        };
        async move {
            on(TuneProgress::Prepared {
                train_rows: 8,
                held_out: 2,
                tokens: 400,
                answer_tokens: 40,
            });
            let steps = 2 * job.options.epochs;
            let mut losses = vec![];
            for step in 1..=steps {
                let loss = 3.0 / step as f32;
                losses.push(loss);
                on(TuneProgress::Step {
                    step,
                    steps,
                    epoch: step.div_ceil(2),
                    loss,
                    tokens_per_second: 40.0,
                    left: Duration::from_secs(10 * (steps - step) as u64),
                });
                if step % 2 == 0 {
                    std::fs::write(&path, b"GGUF adapter").unwrap();
                    write_record(&path, &fake.record(step / 2, &losses)).unwrap();
                    on(TuneProgress::Checkpoint {
                        epoch: step / 2,
                        path: path.clone(),
                    });
                    // A long epoch follows: it ends when the lab stops the tune.
                    cancel.cancelled().await;
                    break;
                }
            }
            Ok(Tuned::Adapter {
                record: Box::new(fake.record(1, &losses)),
                path,
            })
        }
        .boxed()
    }
}

/// The folders of a machine with one model: `models/base.gguf` and `models/adapters/`.
fn machine() -> (tempfile::TempDir, Fake, Stores) {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let adapters = models.join("adapters");
    std::fs::create_dir_all(&adapters).unwrap();
    let base = models.join("base.gguf");
    std::fs::write(&base, vec![7u8; 1000]).unwrap();
    let stores = Stores {
        own: Some(models),
        adapters: Some(adapters.clone()),
        ..Stores::default()
    };
    (dir, Fake { base, adapters }, stores)
}

/// The tune form filled in and its plan asked for and answered by `tuner`.
async fn planned(s: &mut AppState, tuner: &dyn Tuner) {
    press(s, KeyCode::F(10));
    press(s, KeyCode::Tab);
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    for c in "sums".chars() {
        press(s, KeyCode::Char(c));
    }
    let effects = press(s, KeyCode::Enter);
    let [Effect::Plan { fields, .. }] = effects.as_slice() else {
        panic!("no plan asked: {effects:?}")
    };
    let options = fields.1.parse().unwrap();
    let job = TuneJob {
        dataset: fields.0.clone().into(),
        template: s.lab.template(),
        mode: None,
        options,
    };
    let plan = tuner
        .plan(job)
        .await
        .map(|p| p.to_string())
        .map_err(String::from);
    update(
        s,
        Msg::Planned {
            fields: fields.clone(),
            plan,
        },
    );
}

#[tokio::test]
async fn the_form_shows_its_fields_and_the_plan_before_it_starts() {
    let (_dir, fake, _) = machine();
    let mut s = lab();
    planned(&mut s, &fake).await;
    let shown = format!("{}", draw(&s, 110, 40).backend());
    let shown = shown.replace(&fake.adapters.display().to_string(), "ADAPTERS");
    insta::assert_snapshot!(shown);
}

#[tokio::test]
async fn the_form_and_its_plan_fit_a_terminal_of_80_by_24() {
    let (_dir, fake, _) = machine();
    let mut s = lab();
    planned(&mut s, &fake).await;
    let shown = format!("{}", draw(&s, 80, 24).backend());
    for label in [
        "Dataset",
        "Adapter name",
        "Rank",
        "Epochs",
        "Learning rate",
        "Seed",
        "Curve sizes",
    ] {
        assert!(shown.contains(label), "{label} is not shown:\n{shown}");
    }
    assert!(shown.contains("8 training rows"), "{shown}");
    assert!(shown.contains("Enter starts"), "{shown}");
}

#[test]
fn a_build_without_the_trainer_says_so_in_the_room() {
    let mut s = lab();
    s.can_train = Err(
        "this promptlab was built without the `train` feature: rebuild it with `cargo build --release --features train` (scripts/lab does), then start the lab again".into(),
    );
    press(&mut s, KeyCode::F(10));
    insta::assert_snapshot!(draw(&s, 100, 24).backend());
}

/// Messages sent so far, folded into the lab; whether `Tuned` was among them.
fn drain(s: &mut AppState, rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>) -> bool {
    let mut ended = false;
    while let Ok(m) = rx.try_recv() {
        ended |= matches!(m, Msg::Tuned(_));
        update(s, m);
    }
    ended
}

#[tokio::test]
async fn a_tune_reports_stops_on_esc_keeping_its_epoch_and_its_adapter_is_chosen_in_the_picker() {
    let (_dir, fake, stores) = machine();
    let adapters = fake.adapters.clone();
    let tuner: Arc<dyn Tuner> = Arc::new(fake);
    let mut s = lab();
    planned(&mut s, tuner.as_ref()).await;
    let effects = press(&mut s, KeyCode::Enter);
    let [
        Effect::StartTune {
            dataset,
            options,
            template,
        },
    ] = effects.as_slice()
    else {
        panic!("not started: {effects:?}")
    };
    // What the executor does with it.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let job = TuneJob {
        dataset: dataset.clone(),
        template: (**template).clone(),
        mode: None,
        options: options.clone(),
    };
    let task = tokio::spawn(promptlab::tui::run_tune(tuner, job, cancel.clone(), tx));
    // The first epoch's checkpoint arrives; the tune goes on.
    for _ in 0..200 {
        drain(&mut s, &mut rx);
        if !s.tune.as_ref().unwrap().log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t = s.tune.as_ref().unwrap();
    assert!(t.running());
    assert_eq!(t.losses, [3.0, 1.5]);
    let shown = format!("{}", draw(&s, 110, 30).backend());
    insta::assert_snapshot!(shown.replace(&adapters.display().to_string(), "ADAPTERS"));
    // Esc stops it after this step.
    let effects = press(&mut s, KeyCode::Esc);
    assert!(
        matches!(effects.as_slice(), [Effect::CancelTune]),
        "{effects:?}"
    );
    cancel.cancel();
    task.await.unwrap();
    assert!(drain(&mut s, &mut rx), "the tune ended");
    let t = s.tune.as_ref().unwrap();
    assert!(!t.running());
    assert!(
        t.phase.contains("last finished epoch's adapter is kept"),
        "{}",
        t.phase
    );
    let adapter = adapters.join("sums.gguf");
    assert_eq!(t.adapter(), Some(adapter.as_path()));
    // Enter: the model picker, listing what is on this machine, the new adapter under its
    // base and selected.
    assert!(matches!(
        press(&mut s, KeyCode::Enter).as_slice(),
        [Effect::ListModels]
    ));
    let listed = ModelChoice::local(stores.find());
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["base.gguf", "base.gguf + sums"]);
    update(&mut s, Msg::Models(Ok(listed)));
    let Some(Popup::Models(Models { items, selected })) = &s.popup else {
        panic!("no picker: {:?}", s.popup)
    };
    assert_eq!(items[*selected].path.as_deref(), Some(adapter.as_path()));
    let effects = press(&mut s, KeyCode::Enter);
    let [Effect::SwitchModel(choice)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (choice.source.as_str(), choice.path.as_deref()),
        (ModelChoice::ADAPTER, Some(adapter.as_path()))
    );
}
