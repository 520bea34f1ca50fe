//! `promptlab run` keeps its paths in the sample cache: raising N adds paths and keeps the
//! ones already sampled, `--fresh` samples them anew, `--no-cache` leaves the cache alone.

mod common;

use common::{ok_json, scripted};
use serde_json::Value;

fn run(dirs: &tempfile::TempDir, extra: &[&str]) -> Value {
    let out = scripted(dirs)
        .args(["-t", "gsm8k-cot", "--seed", "11", "--json"])
        .args(extra)
        .output()
        .unwrap();
    ok_json(&out)
}

fn paths(v: &Value) -> Vec<Value> {
    v["paths"].as_array().unwrap().clone()
}

/// Lines in the sample cache file (one per stored sample).
fn stored(dirs: &tempfile::TempDir) -> usize {
    let file = dirs
        .path()
        .join("cache")
        .join("samples")
        .join("samples.jsonl");
    std::fs::read_to_string(file).map_or(0, |t| t.lines().count())
}

#[test]
fn raising_n_keeps_the_paths_already_sampled() {
    let dirs = tempfile::tempdir().unwrap();
    let two = run(&dirs, &["-n", "2"]);
    assert_eq!(two["samples"]["cached"], 0);
    assert_eq!(stored(&dirs), 2);

    let four = run(&dirs, &["-n", "4"]);
    assert_eq!(four["samples"]["fresh"], 2, "{four}");
    assert_eq!(four["samples"]["cached"], 2);
    assert_eq!(stored(&dirs), 4, "paths 0 and 1 were not sampled again");
    let (two, four) = (paths(&two), paths(&four));
    for i in 0..2 {
        assert_eq!(four[i]["cached"], true);
        assert_eq!(four[i]["text"], two[i]["text"], "path {i} is the same path");
        assert_eq!(four[i]["answer"], two[i]["answer"]);
    }
    assert!(four[2].get("cached").is_none());
}

#[test]
fn fresh_samples_every_path_anew_and_no_cache_leaves_the_cache_alone() {
    let dirs = tempfile::tempdir().unwrap();
    run(&dirs, &["-n", "3"]);
    let fresh = run(&dirs, &["-n", "3", "--fresh"]);
    assert_eq!(fresh["samples"]["fresh"], 3);
    assert_eq!(fresh["samples"]["cached"], 0);
    assert_eq!(
        stored(&dirs),
        6,
        "the new samples are stored (the later line wins)"
    );

    let bypass = run(&dirs, &["-n", "5", "--no-cache"]);
    assert_eq!(bypass["samples"]["cached"], 0);
    assert_eq!(stored(&dirs), 6, "--no-cache writes nothing");
}

#[test]
fn the_table_says_how_many_paths_came_from_the_cache() {
    let dirs = tempfile::tempdir().unwrap();
    run(&dirs, &["-n", "2"]);
    let out = scripted(&dirs)
        .args(["-t", "gsm8k-cot", "--seed", "11", "-n", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("3 paths (2 cached)"), "{table}");
}
