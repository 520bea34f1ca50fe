//! Every loader fed arbitrary and half-valid input: sessions, datasets (JSONL, CSV,
//! BIG-bench), config, scripts and cache files. None may panic or hang; the file read is
//! never changed by reading it.

use proptest::prelude::*;

use promptlab::engine::cache::Cache;
use promptlab::store::dataset::load_dataset;
use promptlab::store::session::{Session, load_session};

/// Lines that look like the real thing, mixed with noise.
fn yaml_like() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("version: 2\n".to_string()),
            Just("version: 3\n".to_string()),
            Just("created: x\n".to_string()),
            Just("lab:\n  version: 1\n  name: t\n".to_string()),
            Just("runs:\n".to_string()),
            Just("  - timestamp: t\n    query: q\n".to_string()),
            Just("    result: { paths: [], tally: {}, usage: {}, elapsed_ms: 1, cancelled: false }\n".to_string()),
            "[ :\\-\\[\\]{}&*!|>'\"%@`a-z0-9]{0,12}\n",
            "\\PC{0,20}\n",
        ],
        0..10,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn session_loader_never_panics(text in yaml_like()) {
        let _ = Session::from_yaml(&text, "fuzz.yaml");
    }

    #[test]
    fn dataset_loaders_never_panic_nor_change_the_file(
        body in "(\\{\"input\": ?\"[a-z0-9 ]{0,6}\", ?\"target\": ?\"[0-9]{0,2}\"\\}\n|\\PC{0,30}\n|input,target\n|[a-z0-9,\"|]{0,20}\n){0,8}",
        ext in prop_oneof![Just("jsonl"), Just("csv"), Just("json")],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("d.{ext}"));
        std::fs::write(&p, &body).unwrap();
        let _ = load_dataset(&p, false);
        let _ = load_dataset(&p, true);
        prop_assert_eq!(std::fs::read_to_string(&p).unwrap(), body);
    }

    #[test]
    fn cache_reader_never_panics_and_reads_nothing_foreign(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("samples.jsonl"), &bytes).unwrap();
        let c = Cache::open(dir.path()).unwrap();
        prop_assert_eq!(c.len(), 0);
    }

    #[test]
    fn session_files_never_panic_nor_change_by_reading(text in yaml_like()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.yaml");
        std::fs::write(&p, &text).unwrap();
        let _ = load_session(&p);
        prop_assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    }
}
