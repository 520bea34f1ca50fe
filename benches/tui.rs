//! The lab's drawing cost and idleness. Prints: frame render time with 40 paths streaming,
//! the work before the first frame, and CPU used by the real program while idle (measured on
//! the release binary in tmux, when tmux is installed). Run: `cargo bench --bench tui`.

use std::process::Command;
use std::time::{Duration, Instant};

use promptlab::backend::BackendInfo;
use promptlab::core::render::Mode;
use promptlab::engine::{EngineEvent, RunPlan};
use promptlab::store::template::resolve;
use promptlab::tui::keymap::Keymap;
use promptlab::tui::msg::{Effect, Msg};
use promptlab::tui::state::{AppState, Focus};
use promptlab::tui::update::update;
use promptlab::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn streaming_lab(n: u32) -> AppState {
    let (mut t, _) = resolve("gsm8k-cot").expect("template");
    t.sampling.n = n;
    let mut s = AppState::new(&t, Keymap::default(), Instant::now());
    update(
        &mut s,
        Msg::Backend(Ok(BackendInfo::new("local", "bench", Mode::Completion))),
    );
    let effects = update(
        &mut s,
        Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::F(5),
        )),
    );
    let run = match effects.first() {
        Some(Effect::StartRun { id, .. }) => *id,
        _ => panic!("run did not start"),
    };
    for path in 0..n as usize {
        update(
            &mut s,
            Msg::Engine {
                run,
                event: EngineEvent::PathStarted { path },
            },
        );
    }
    s
}

fn frame_time(width: u16, height: u16) {
    let mut s = streaming_lab(40);
    s.focus = Focus::Paths;
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    let words = " Janet's ducks lay 16 eggs per day, she eats 3 and bakes 4, so 16 - 3 - 4 = 9 and 9 * 2 = 18.";
    let run = s.run.as_ref().map_or(0, |r| r.id);
    let frames = 2000;
    let mut spent = Duration::ZERO;
    for f in 0..frames {
        // Between two frames every path receives a token, as when 40 paths stream.
        for path in 0..40 {
            let text = words
                .split(' ')
                .nth((f + path) % 20)
                .unwrap_or("x")
                .to_string()
                + " ";
            update(
                &mut s,
                Msg::Engine {
                    run,
                    event: EngineEvent::Chunk { path, text },
                },
            );
        }
        let t = Instant::now();
        term.draw(|fr| view(&s, fr)).expect("draw");
        spent += t.elapsed();
    }
    println!(
        "  frame with 40 paths streaming ({width}x{height}): {:.3} ms/frame (goal < 2 ms)",
        spent.as_secs_f64() * 1000.0 / frames as f64
    );
}

fn first_frame() {
    let t = Instant::now();
    let (template, _) = resolve("gsm8k-cot").expect("template");
    let mut s = AppState::new(&template, Keymap::default(), Instant::now());
    #[cfg(feature = "local")]
    let _backend = promptlab::store::models::default_model_path()
        .filter(|p| p.is_file())
        .and_then(|p| {
            promptlab::backend::local::LocalBackend::spawn(
                promptlab::backend::local::LocalSettings::new(p),
            )
            .ok()
        });
    s.focus = Focus::Query;
    let mut term = Terminal::new(TestBackend::new(150, 42)).expect("terminal");
    term.draw(|f| view(&s, f)).expect("draw");
    let _ = RunPlan::new(&template, "q", Mode::Completion);
    println!(
        "  start to first frame (template, state, model thread started, draw): {:.2} ms (goal < 50 ms)",
        t.elapsed().as_secs_f64() * 1000.0
    );
}

fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn idle_cpu() {
    let bin = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("promptlab")));
    let Some(bin) = bin.filter(|b| b.is_file()) else {
        println!("  idle CPU: skipped (build the binary: cargo build --release)");
        return;
    };
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("  idle CPU: skipped (tmux is not installed)");
        return;
    }
    let session = "promptlab-idle-bench";
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", session])
        .output();
    let started = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "150",
            "-y",
            "42",
            &format!("exec {}", bin.display()),
        ])
        .status();
    if !started.is_ok_and(|s| s.success()) {
        println!("  idle CPU: skipped (tmux could not start)");
        return;
    }
    std::thread::sleep(Duration::from_secs(3)); // model load and first frames
    let pid = Command::new("tmux")
        .args(["list-panes", "-t", session, "-F", "#{pane_pid}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let secs = 10;
    let before = cpu_ticks(&pid);
    std::thread::sleep(Duration::from_secs(secs));
    let after = cpu_ticks(&pid);
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", session])
        .output();
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "  idle CPU over {secs} s (release binary, model loaded): {:.2}% of one core ({} ticks)",
            (a - b) as f64 / (secs as f64 * 100.0) * 100.0,
            a - b
        ),
        _ => println!("  idle CPU: could not read /proc for pid {pid:?}"),
    }
}

/// Four finished paths of ~4,000 characters side by side: opening the view (word diffs
/// against the winner, computed once) and drawing it, escape sequences written to a sink as a
/// real terminal would receive them.
fn compare_view() {
    let mut s = streaming_lab(4);
    let run = s.run.as_ref().map_or(0, |r| r.id);
    let sentence = |i: usize, k: usize| {
        format!(
            "Step {k}: she has {} eggs, eats {} and bakes {}, so {} are left to sell. ",
            16 + (k % 3),
            3 + (i * k) % 2,
            4,
            9 + (i + k) % 3
        )
    };
    for i in 0..4 {
        let mut text: String = (0..57).map(|k| sentence(i, k)).collect();
        text.push_str(&format!("The answer is {}.", 18 + i % 2));
        let mut p = promptlab::core::record::PathRecord::new(i);
        p.stages = vec![promptlab::core::record::StageRecord {
            finish_reason: Some("stop".into()),
            ..promptlab::core::record::StageRecord::new(
                promptlab::core::strategy::Stage::Reason,
                text,
            )
        }];
        p.answer = Some((18 + i % 2).to_string());
        update(
            &mut s,
            Msg::Engine {
                run,
                event: EngineEvent::PathDone(p),
            },
        );
    }
    s.focus = Focus::Paths;
    let c = crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('c'));
    let esc = crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Esc);
    let opens = 50;
    let t = Instant::now();
    for _ in 0..opens {
        update(&mut s, Msg::Key(esc));
        update(&mut s, Msg::Key(c));
    }
    let open = t.elapsed().as_secs_f64() * 1000.0 / opens as f64;
    let chars: usize = s
        .run
        .as_ref()
        .map_or(0, |r| r.paths().map(|p| p.text.len()).sum());
    let mut term =
        Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::sink())).expect("terminal");
    term.resize(ratatui::layout::Rect::new(0, 0, 160, 45))
        .expect("size");
    let frames = 500;
    let t = Instant::now();
    for f in 0..frames {
        // Scrolling, so every frame has new content to write.
        let key = if f % 40 < 20 {
            crossterm::event::KeyCode::Down
        } else {
            crossterm::event::KeyCode::Up
        };
        update(&mut s, Msg::Key(crossterm::event::KeyEvent::from(key)));
        term.draw(|fr| view(&s, fr)).expect("draw");
    }
    println!(
        "  paths side by side, 4 x {} chars (160x45, to a terminal sink): open {open:.2} ms (diffs, once), {:.3} ms/frame (goal < 4 ms)",
        chars / 4,
        t.elapsed().as_secs_f64() * 1000.0 / frames as f64
    );
}

fn main() {
    println!("promptlab lab:");
    frame_time(160, 48);
    frame_time(80, 24);
    compare_view();
    first_frame();
    idle_cpu();
}
