//! The lab's runs and the sample cache: a run reads it (raising N keeps the paths shown), the
//! re-sample key samples every path anew, and the status line says how many paths came from
//! the cache.

use super::*;

fn started(e: &[Effect]) -> &RunPlan {
    match e {
        [Effect::StartRun { plan, .. }] => plan,
        other => panic!("expected one run to start, got {other:?}"),
    }
}

fn cached(mut p: PathRecord) -> PathRecord {
    p.cached = true;
    p
}

#[test]
fn a_run_reads_the_cache_and_the_resample_key_samples_anew() {
    let mut s = lab();
    let e = key(&mut s, KeyCode::F(5));
    assert!(!started(&e).fresh, "F5 reads the paths the cache holds");
    for i in 0..s.lab.sampling.n as usize {
        path_done(&mut s, 1, done(i, Some("18")));
    }
    run_done(&mut s, 1, false);

    let e = alt(&mut s, KeyCode::Char('r'));
    assert!(started(&e).fresh, "Alt-r samples every path anew");
    assert!(s.status.contains("anew"), "{}", s.status);
    for i in 0..s.lab.sampling.n as usize {
        path_done(&mut s, 2, done(i, Some("18")));
    }
    run_done(&mut s, 2, false);
    let e = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::F(5), KeyModifiers::SHIFT)),
    );
    assert!(started(&e).fresh, "so does Shift-F5");
}

#[test]
fn cached_paths_show_at_once_and_the_status_says_how_many_were_sampled() {
    let mut s = lab();
    s.lab.sampling.n = 4;
    key(&mut s, KeyCode::F(5));
    // What the engine sends for cached paths: they are done before anything is sampled.
    path_done(&mut s, 1, cached(done(0, Some("18"))));
    path_done(&mut s, 1, cached(done(1, Some("18"))));
    let run = s.run.as_ref().unwrap();
    assert_eq!(run.len(), 4);
    assert!(matches!(run.path(0).unwrap().state, PathState::Done));
    assert!(matches!(run.path(1).unwrap().state, PathState::Done));
    assert!(matches!(run.path(2).unwrap().state, PathState::Waiting));
    path_done(&mut s, 1, done(2, Some("18")));
    path_done(&mut s, 1, done(3, Some("20")));
    run_done(&mut s, 1, false);
    assert!(s.status.ends_with("· 2 cached, 2 sampled"), "{}", s.status);
    let record = s.session.runs.last().unwrap();
    let marks: Vec<bool> = record.result.paths.iter().map(|p| p.cached).collect();
    assert_eq!(
        marks,
        [true, true, false, false],
        "the record keeps the marks"
    );

    // A run with nothing from the cache says nothing of it.
    key(&mut s, KeyCode::F(5));
    for i in 0..4 {
        path_done(&mut s, 2, done(i, Some("18")));
    }
    run_done(&mut s, 2, false);
    assert!(!s.status.contains("cached"), "{}", s.status);
}
