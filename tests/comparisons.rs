//! Comparisons that say whether a difference is larger than the noise, through the binary:
//! the winner's share with its interval, `replay --rerun` saying whether it moved.

mod common;

use common::{ok_json, promptlab, scripted};

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
