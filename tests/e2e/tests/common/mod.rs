//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};

use relais::demo::{DemoOptions, Summary};

/// The sample day shipped in the repository.
pub fn sample_day() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/day-2026-12-02")
}

/// Copies a day folder so a test can alter it.
pub fn copy_day(to: &Path) -> PathBuf {
    let day = to.join("day");
    for sub in ["woocommerce", "pos", "erp"] {
        std::fs::create_dir_all(day.join(sub)).expect("create day folder");
        for entry in std::fs::read_dir(sample_day().join(sub)).expect("list sample day") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), day.join(sub).join(entry.file_name())).expect("copy");
        }
    }
    day
}

/// Runs the demo on a day and work folder with the embedded broker.
pub async fn demo(day: &Path, work: &Path, broker: Option<String>) -> Summary {
    let options = DemoOptions {
        day_dir: day.to_path_buf(),
        work_dir: work.to_path_buf(),
        broker,
        topic_root: format!("relais-test-{}", std::process::id()),
        seller: None,
    };
    relais::demo::run(options).await.expect("the demo runs")
}

/// Names of the files in a folder, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
