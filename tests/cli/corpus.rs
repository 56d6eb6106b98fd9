//! Detection on the development corpus (`../shared/corpus`, beside the
//! repository): `portcullis report` with the embedded default policies must
//! keep recall and false positives within fixed floors, so that a rule change
//! that loses attacks or starts flagging benign traffic fails here.

use std::path::PathBuf;

use serde_json::Value;

use portcullis_tests::binary::{portcullis, run_ok, workspace};

/// The corpus files and, for each, the lowest recall and highest
/// false-positive rate accepted (percentages). The README gives the
/// current numbers; the floors leave room for rules that generalise.
const FLOORS: &[(&str, f64, f64)] = &[
    ("tool_descriptions.dev.jsonl", 95.0, 1.0),
    ("tool_calls.dev.jsonl", 95.0, 1.0),
    ("tool_calls_extra.dev.jsonl", 95.0, 1.5),
    ("tool_results.dev.jsonl", 95.0, 1.0),
];

/// Floors for every source (repository or suite) with at least
/// `SOURCE_MIN_CASES` cases of a label: a rule set that does well overall
/// but collapses on one source was shaped on the others.
const SOURCE_MIN_RECALL: f64 = 80.0;
const SOURCE_MAX_FALSE_POSITIVES: f64 = 3.0;
const SOURCE_MIN_CASES: u64 = 10;

fn corpus_dir() -> PathBuf {
    let dir = workspace().join("../shared/corpus");
    assert!(
        dir.is_dir(),
        "the development corpus is expected at {} (shared/ beside the repository)",
        dir.display()
    );
    dir
}

#[test]
fn default_policies_keep_detection_and_false_positives_within_floors() {
    let dir = corpus_dir();
    let output = run_ok(
        portcullis()
            .args(["report", "--json", "--by-source"])
            .args(FLOORS.iter().map(|(file, _, _)| dir.join(file))),
    );
    let reports: Vec<Value> = serde_json::from_slice(&output.stdout).expect("the report is JSON");
    assert_eq!(reports.len(), FLOORS.len());

    for (report, (file, min_recall, max_false_positives)) in reports.iter().zip(FLOORS) {
        let recall = report["recall"].as_f64().expect("recall");
        let false_positives = report["false_positive_rate"]
            .as_f64()
            .expect("false positive rate");
        assert!(
            report["malicious"]["cases"].as_u64() > Some(0),
            "{file}: no malicious cases read"
        );
        assert!(
            report["benign"]["cases"].as_u64() > Some(0),
            "{file}: no benign cases read"
        );
        assert!(
            recall >= *min_recall,
            "{file}: recall {recall:.1}% is below {min_recall}%"
        );
        assert!(
            false_positives <= *max_false_positives,
            "{file}: false positives {false_positives:.1}% exceed {max_false_positives}%"
        );
        let sources = report["sources"]
            .as_array()
            .expect("--by-source gives sources");
        assert!(!sources.is_empty(), "{file}: no sources");
        for source in sources {
            let name = source["source"].as_str().unwrap_or_default();
            if source["malicious"]["cases"].as_u64() >= Some(SOURCE_MIN_CASES) {
                let recall = source["recall"].as_f64().expect("recall");
                assert!(
                    recall >= SOURCE_MIN_RECALL,
                    "{file}: recall {recall:.1}% on {name} is below {SOURCE_MIN_RECALL}%"
                );
            }
            if source["benign"]["cases"].as_u64() >= Some(SOURCE_MIN_CASES) {
                let rate = source["false_positive_rate"].as_f64().expect("rate");
                assert!(
                    rate <= SOURCE_MAX_FALSE_POSITIVES,
                    "{file}: false positives {rate:.1}% on {name} exceed {SOURCE_MAX_FALSE_POSITIVES}%"
                );
            }
        }
    }
}
