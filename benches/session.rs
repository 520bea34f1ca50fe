//! Sessions: opening and replaying a session of 50 runs x 20 paths (goal under 100 ms), and
//! the lab's frame time while an autosave is written (it runs off the UI thread, so frames
//! should not notice). Run: `cargo bench --bench session`.

use std::time::{Duration, Instant};

use promptlab::backend::BackendInfo;
use promptlab::cli::output::Report;
use promptlab::core::extract::Extractor;
use promptlab::core::record::{PathRecord, RunRecord, RunResult, StageRecord, settle};
use promptlab::core::render::{Mode, Prompt};
use promptlab::core::strategy::Stage;
use promptlab::core::vote::LogProb;
use promptlab::store::session::{Session, load_session, rfc3339, save_session};
use promptlab::store::template::resolve;
use promptlab::tui::keymap::Keymap;
use promptlab::tui::state::AppState;
use promptlab::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn session(runs: usize, paths: usize) -> Session {
    let (t, _) = resolve("gsm8k-cot").expect("template");
    let ex = Extractor::new(&t.answer).expect("extractor");
    let prompt =
        promptlab::core::render::render(&t, t.query.as_deref().unwrap_or(""), Mode::Completion);
    let mut s = Session::new(t.clone());
    for r in 0..runs {
        let ps: Vec<PathRecord> = (0..paths)
            .map(|i| {
                let text = format!(
                    " Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes muffins with 4, so she has 16 - 3 - 4 = {} eggs left. She sells each for $2, so she makes {} * 2 = {} dollars. The answer is {}.",
                    9 + i % 3,
                    9 + i % 3,
                    (9 + i % 3) * 2,
                    (9 + i % 3) * 2
                );
                let mut p = PathRecord::new(i);
                p.stages = vec![StageRecord {
                    finish_reason: Some("stop".into()),
                    prompt_tokens: 900,
                    completion_tokens: 60,
                    logprob: Some(LogProb { sum: -12.5, tokens: 60 }),
                    ..StageRecord::new(Stage::Answer, text)
                }];
                p.latency_ms = 4000 + i as u64;
                settle(&mut p, &ex, "");
                p
            })
            .collect();
        s.runs.push(RunRecord {
            timestamp: rfc3339(1_795_000_000 + r as u64 * 60),
            promptlab: Some(promptlab::core::record::version()),
            template: t.clone(),
            query: t.query.clone().unwrap_or_default(),
            mode: Mode::Completion,
            prompt: prompt.prompt.clone(),
            stop: prompt.stop.clone(),
            backend: BackendInfo::new("local", "gemma-3-270m-q4_k_m", Mode::Completion),
            result: RunResult::from_paths(
                ps,
                5000,
                false,
                &promptlab::core::record::Voting::exact(),
            ),
        });
    }
    let _ = Prompt::Completion(String::new());
    s
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.yaml");
    let s = session(50, 20);
    save_session(&path, &s).expect("save");
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let reps = 10;
    let mut open = Duration::ZERO;
    let mut replay = Duration::ZERO;
    for _ in 0..reps {
        let t = Instant::now();
        let loaded = load_session(&path).expect("load");
        open += t.elapsed();
        let t = Instant::now();
        let mut out = String::new();
        for r in &loaded.runs {
            out.push_str(&Report::recorded(r).table(false));
        }
        replay += t.elapsed();
        assert!(out.len() > 1000);
    }
    println!(
        "session of 50 runs x 20 paths ({:.1} MB):",
        size as f64 / 1e6
    );
    println!(
        "  open (read + parse)      {:.1} ms",
        open.as_secs_f64() * 1000.0 / reps as f64
    );
    println!(
        "  replay (print all runs)  {:.1} ms",
        replay.as_secs_f64() * 1000.0 / reps as f64
    );
    println!(
        "  open + replay            {:.1} ms (goal < 100 ms)",
        (open + replay).as_secs_f64() * 1000.0 / reps as f64
    );

    // Frames while an autosave of this session is written on another thread, as the lab does.
    let (t, _) = resolve("gsm8k-cot").expect("template");
    let mut state = AppState::new(&t, Keymap::default(), Instant::now());
    state.session.runs = s.runs.iter().cloned().map(std::sync::Arc::new).collect();
    state.show_run(Some(49));
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let frames = |term: &mut Terminal<TestBackend>, n: usize| {
        let mut worst = Duration::ZERO;
        let mut total = Duration::ZERO;
        for _ in 0..n {
            let t = Instant::now();
            term.draw(|f| view(&state, f)).expect("draw");
            let e = t.elapsed();
            worst = worst.max(e);
            total += e;
        }
        (total / n as u32, worst)
    };
    let (idle_avg, idle_worst) = frames(&mut term, 300);
    let saving = std::thread::spawn({
        let s = state.session.to_session(t.clone());
        let path = path.clone();
        move || {
            let t = Instant::now();
            let mut n = 0;
            while t.elapsed() < Duration::from_millis(600) {
                save_session(&path, &s).expect("save");
                n += 1;
            }
            (n, t.elapsed() / n)
        }
    });
    let (busy_avg, busy_worst) = frames(&mut term, 300);
    let (saves, per_save) = saving.join().expect("saver");
    println!(
        "frame time while autosaving ({saves} saves of {:.1} ms each on another thread):",
        per_save.as_secs_f64() * 1000.0
    );
    println!(
        "  without save  avg {:.3} ms, worst {:.3} ms",
        idle_avg.as_secs_f64() * 1000.0,
        idle_worst.as_secs_f64() * 1000.0
    );
    println!(
        "  during save   avg {:.3} ms, worst {:.3} ms",
        busy_avg.as_secs_f64() * 1000.0,
        busy_worst.as_secs_f64() * 1000.0
    );
}
