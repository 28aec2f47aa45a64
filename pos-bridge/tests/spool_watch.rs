//! A spool folder watched for files dropped by others: taken once complete,
//! filed under `done/<day>/` or `rejected/`, the same content never twice.
//!
//! Polling tests run on tokio's paused clock, so settle times pass without
//! sleeping; the inotify tests wait on the watcher with a deadline.

use std::fs;
use std::path::Path;
use std::time::Duration;

use pos_bridge::spool::{SpoolConfig, SpoolFile, SpoolWatcher, WatchMode};
use tokio::time::timeout;

const DAY: jiff::civil::Date = jiff::civil::date(2026, 12, 2);

fn polling(inbox: &Path) -> SpoolWatcher {
    let config = SpoolConfig {
        settle: Duration::from_secs(2),
        poll_interval: Duration::from_millis(500),
        ..SpoolConfig::new(inbox, WatchMode::Poll)
    };
    SpoolWatcher::open(config).expect("open spool")
}

async fn next(watcher: &mut SpoolWatcher, within: Duration) -> Option<SpoolFile> {
    timeout(within, watcher.next_file())
        .await
        .ok()
        .map(|taken| taken.expect("spool"))
}

#[tokio::test(start_paused = true)]
async fn a_complete_file_is_offered_once_then_filed_under_its_day() {
    let dir = tempfile::tempdir().expect("dir");
    let mut watcher = polling(dir.path());
    fs::write(dir.path().join("FACTURES.csv"), b"a;b\r\n").expect("drop");

    let file = next(&mut watcher, Duration::from_secs(10))
        .await
        .expect("offered");
    assert_eq!(file.name, "FACTURES.csv");
    assert_eq!(file.size, 5);
    let moved = watcher.done(file, DAY).expect("done");

    assert_eq!(moved, dir.path().join("done/2026-12-02/FACTURES.csv"));
    assert_eq!(fs::read(&moved).expect("moved"), b"a;b\r\n");
    assert!(!dir.path().join("FACTURES.csv").exists());
    assert!(next(&mut watcher, Duration::from_secs(30)).await.is_none());
    assert_eq!(watcher.counters().done, 1);
}

#[tokio::test(start_paused = true)]
async fn a_file_still_growing_is_not_taken_until_it_settles() {
    let dir = tempfile::tempdir().expect("dir");
    let mut watcher = polling(dir.path());
    let path = dir.path().join("FACTURES.csv");
    fs::write(&path, b"NumFacture;").expect("start writing");

    assert!(next(&mut watcher, Duration::from_millis(1500))
        .await
        .is_none());
    fs::write(&path, b"NumFacture;DateFacture\r\n").expect("finish writing");

    let file = next(&mut watcher, Duration::from_secs(10))
        .await
        .expect("offered");
    assert_eq!(fs::read(&file.path).expect("read").len() as u64, file.size);
    assert_eq!(file.size, 24, "taken whole");
}

#[tokio::test(start_paused = true)]
async fn temporary_and_lock_files_are_never_taken() {
    let dir = tempfile::tempdir().expect("dir");
    let mut watcher = polling(dir.path());
    for name in [
        "FACTURES.csv.tmp",
        "FACTURES.csv.part",
        "~$FACTURES.xlsx",
        ".hidden",
    ] {
        fs::write(dir.path().join(name), b"x").expect("drop");
    }
    assert!(next(&mut watcher, Duration::from_secs(60)).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_same_content_dropped_twice_is_a_logged_no_op() {
    let dir = tempfile::tempdir().expect("dir");
    let mut watcher = polling(dir.path());
    fs::write(dir.path().join("tickets-1.jsonl"), b"{}\n").expect("drop");
    let file = next(&mut watcher, Duration::from_secs(10))
        .await
        .expect("offered");
    watcher.done(file, DAY).expect("done");

    fs::write(dir.path().join("tickets-1-copy.jsonl"), b"{}\n").expect("drop again");
    assert!(next(&mut watcher, Duration::from_secs(30)).await.is_none());
    assert_eq!(watcher.counters().duplicates, 1);
    assert!(
        !dir.path().join("tickets-1-copy.jsonl").exists(),
        "filed, not left"
    );

    // The ledger survives a restart.
    drop(watcher);
    let mut watcher = polling(dir.path());
    fs::write(dir.path().join("tickets-1.jsonl"), b"{}\n").expect("drop a third time");
    assert!(next(&mut watcher, Duration::from_secs(30)).await.is_none());
    assert_eq!(watcher.counters().duplicates, 1);
}

#[tokio::test(start_paused = true)]
async fn a_file_that_cannot_be_read_goes_to_rejected_with_its_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let mut watcher = polling(dir.path());
    fs::write(dir.path().join("FACTURES.csv"), b"garbage").expect("drop");
    let file = next(&mut watcher, Duration::from_secs(10))
        .await
        .expect("offered");

    let reason = "line 1: the header has no column \"NumFacture\"";
    let moved = watcher.reject(file, reason).expect("reject");

    assert_eq!(moved, dir.path().join("rejected/FACTURES.csv"));
    let written = fs::read_to_string(dir.path().join("rejected/FACTURES.csv.reason"));
    assert_eq!(written.expect("reason file").trim_end(), reason);

    // Not recorded as taken: after a fix, the same file is taken again.
    fs::rename(&moved, dir.path().join("FACTURES.csv")).expect("operator puts it back");
    assert!(next(&mut watcher, Duration::from_secs(10)).await.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_file_handed_back_is_offered_again_when_it_changes_or_its_time_comes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut watcher = polling(dir.path());
    let path = dir.path().join("FACTURES.csv");
    fs::write(&path, b"a;b\r\nc").expect("drop");
    let file = next(&mut watcher, Duration::from_secs(10))
        .await
        .expect("offered");
    watcher.retry_later(file, Duration::from_secs(300));

    assert!(next(&mut watcher, Duration::from_secs(60)).await.is_none());
    fs::write(&path, b"a;b\r\nc;d\r\n").expect("writer finishes");
    let file = next(&mut watcher, Duration::from_secs(10))
        .await
        .expect("changed");
    assert_eq!(file.size, 10);

    watcher.retry_later(file, Duration::from_secs(300));
    assert!(
        next(&mut watcher, Duration::from_secs(310)).await.is_some(),
        "its time"
    );
}

#[tokio::test]
async fn with_inotify_a_file_renamed_in_is_taken_without_waiting_to_settle() {
    let dir = tempfile::tempdir().expect("dir");
    let config = SpoolConfig {
        settle: Duration::from_secs(3600),
        poll_interval: Duration::from_secs(3600),
        ..SpoolConfig::new(dir.path(), WatchMode::Inotify)
    };
    let mut watcher = SpoolWatcher::open(config).expect("open");
    assert_eq!(watcher.mode(), WatchMode::Inotify);

    fs::write(dir.path().join("written-in-place.csv"), b"slow").expect("drop");
    let part = dir.path().join("FACTURES.csv.part");
    fs::write(&part, b"whole file").expect("write under a temporary name");
    fs::rename(&part, dir.path().join("FACTURES.csv")).expect("rename into place");

    let file = next(&mut watcher, Duration::from_secs(20))
        .await
        .expect("taken");
    assert_eq!(
        file.name, "FACTURES.csv",
        "the renamed file, not the settling one"
    );
    assert_eq!(file.size, 10);
}

#[tokio::test]
async fn with_inotify_a_file_written_in_place_is_taken_once_it_settles() {
    let dir = tempfile::tempdir().expect("dir");
    let config = SpoolConfig {
        settle: Duration::from_millis(300),
        poll_interval: Duration::from_secs(3600),
        ..SpoolConfig::new(dir.path(), WatchMode::Inotify)
    };
    let mut watcher = SpoolWatcher::open(config).expect("open");
    fs::write(dir.path().join("FACTURES.csv"), b"a;b\r\n").expect("drop");
    let file = next(&mut watcher, Duration::from_secs(20))
        .await
        .expect("taken");
    assert_eq!(file.name, "FACTURES.csv");
}
