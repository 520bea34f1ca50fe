//! Comparisons that say whether a difference is larger than the noise, through the binary:
//! the winner's share with its interval, `replay --rerun` saying whether it moved.

mod common;

use common::{ok_json, promptlab, race_fixture, scripted};

/// A session with one run of the demo script: 18 wins 3 of 5 paths.
fn recorded(dirs: &tempfile::TempDir) -> std::path::PathBuf {
    let session = dirs.path().join("s.yaml");
    scripted(dirs)
        .args(["-n", "5", "--seed", "0", "--save"])
        .arg(&session)
        .assert()
        .success();
    session
}

/// A script whose every path answers 22.
fn script_22(dirs: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dirs.path().join("twenty-two.yaml");
    std::fs::write(
        &path,
        "model: twenty-two\nresponses:\n  - text: \" 11 * 2 = 22. The answer is 22.\"\n",
    )
    .unwrap();
    path
}

#[test]
fn the_run_table_and_json_give_the_winners_share_its_interval() {
    let dirs = tempfile::tempdir().unwrap();
    let out = scripted(&dirs)
        .args(["-n", "5", "--seed", "0"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("Answer: 18  (agreement 60% [23, 88], 3/5)"),
        "{table}"
    );
    let v = ok_json(
        &scripted(&dirs)
            .args(["-n", "5", "--seed", "0", "--json"])
            .output()
            .unwrap(),
    );
    let share = &v["winner_share"];
    assert_eq!(share["votes"], 3);
    assert!((share["interval"]["low"].as_f64().unwrap() - 0.2307).abs() < 1e-3);
}

#[test]
fn replay_rerun_says_whether_the_winners_share_moved_beyond_sampling_noise() {
    let dirs = tempfile::tempdir().unwrap();
    let session = recorded(&dirs);
    let rerun = |script: &std::path::Path, json: bool| {
        let mut c = promptlab(&dirs);
        c.arg("replay")
            .arg(&session)
            .args(["--rerun", "--backend", "scripted", "--script"])
            .arg(script);
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let demo = std::path::Path::new("assets/demo-script.yaml");
    let same = rerun(demo, false);
    assert!(
        same.contains("the winner's share stayed at 60% [23, 88]: within sampling noise"),
        "{same}"
    );
    let other = script_22(&dirs);
    let moved = rerun(&other, false);
    assert!(
        moved.contains("the earlier winner 18's share moved from 60% [23, 88] to 0% [0, 43]: beyond sampling noise"),
        "{moved}"
    );
    let v: serde_json::Value = serde_json::from_str(rerun(&other, true).trim()).unwrap();
    assert_eq!(v["share_shift"]["beyond_noise"], true);
    assert_eq!(v["share_shift"]["answer"], "18");
}

/// `promptlab optimize --json` on `common::race_fixture`, plus `extra`.
fn search(dirs: &tempfile::TempDir, extra: &[&str]) -> serde_json::Value {
    let (script, data) = race_fixture(dirs);
    let out = promptlab(dirs)
        .args(["optimize", "-t", "gsm8k-direct", "--backend", "scripted"])
        .args(["--candidates", "2", "--rounds", "1", "--json", "--script"])
        .arg(&script)
        .arg("-d")
        .arg(&data)
        .arg("--out")
        .arg(dirs.path().join("best.yaml"))
        .args(extra)
        .output()
        .unwrap();
    ok_json(&out)
}

#[test]
fn optimize_drops_a_clearly_worse_candidate_and_writes_a_winner_shown_better() {
    let dirs = tempfile::tempdir().unwrap();
    let v = search(
        &dirs,
        &["--dev", "16", "--race-batch", "4", "--held-out", "24"],
    );
    let board = v["leaderboard"].as_array().unwrap();
    let row = |name: &str| {
        board
            .iter()
            .find(|c| c["instruction"] == name)
            .unwrap_or_else(|| panic!("{name}: {board:?}"))
    };
    let best = row("Add the two numbers.");
    assert_eq!(best["items"], 16);
    assert_eq!(best["vs_seed"]["diff"], 1.0, "paired with your instruction");
    assert!(best["accuracy"]["low"].as_f64().unwrap() > 0.75, "{best}");
    // 0 of 8 against the leader's 8 of 8: it leaves the race (exact p 0.008).
    let worse = row("Double it.");
    assert_eq!(worse["dropped"]["items"], 8, "{worse}");
    assert_eq!(worse["items"], 8);
    // Your instruction is as bad, and races to the end as the reference.
    let seed = board.iter().find(|c| c["seed"] == true).unwrap();
    assert_eq!(
        (seed["items"].as_u64(), seed["dropped"].is_null()),
        (Some(16), true)
    );
    assert_eq!(v["better"], true);
    assert!(
        v["verdict"]
            .as_str()
            .unwrap()
            .starts_with("better than your instruction on 24 held-out items: 100% vs 0%"),
        "{}",
        v["verdict"]
    );
    let t = promptlab::store::template::load_template_file(&dirs.path().join("best.yaml")).unwrap();
    assert_eq!(t.instruction.as_deref(), Some("Add the two numbers."));
}
