//! Attacks on the intake log in front of the store's tables: crash points,
//! failed syncs, full disks, races between intake and checkpoints, ids.
//!
//! Most were written against the log's first version and failed on it;
//! each doc comment says what went wrong then and what holds now.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use relais::store::faults::{FaultSwitches, FaultyBackend, FaultyLog};
use relais::store::log::{self, LogFile, LoggedDoc};
use relais::store::{Intake, IntakeOutcome, Kind, State, Store};

fn doc(kind: Kind, id: &str) -> Intake {
    Intake {
        kind,
        external_id: id.to_string(),
        revision: "1".into(),
        day: jiff::civil::date(2026, 12, 2),
        amount: Default::default(),
        body: format!("body of {id}").into_bytes(),
        parent: None,
    }
}

fn ticket(id: &str) -> Intake {
    doc(Kind::Ticket, id)
}

fn new_id(outcome: &IntakeOutcome) -> u64 {
    match outcome {
        IntakeOutcome::New(id) => *id,
        IntakeOutcome::Duplicate(id) => panic!("expected a new document, got duplicate {id}"),
    }
}

/// Waits (spinning, with a deadline) until `condition` holds.
fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

fn store_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("relais.redb")
}

/// A store whose tables and log each sit behind their own switches.
fn split_faulty_store(dir: &tempfile::TempDir) -> (Store, Arc<FaultSwitches>, Arc<FaultSwitches>) {
    let db_switches = Arc::new(FaultSwitches::default());
    let log_switches = Arc::new(FaultSwitches::default());
    let path = store_path(dir);
    let log_file =
        FaultyLog::open(&log::path_for(&path), log_switches.clone()).expect("intake log");
    let for_backend = db_switches.clone();
    let backend = move || FaultyBackend::open(&path, for_backend.clone());
    let store =
        Store::open_with_backend(backend, Arc::new(log_file), "attack store").expect("open store");
    (store, db_switches, log_switches)
}

/// The files as a power cut would find them (the process still running).
fn crash_image(from: &tempfile::TempDir) -> tempfile::TempDir {
    let image = tempfile::tempdir().expect("temp dir");
    for name in ["relais.redb", "relais.intake-log"] {
        std::fs::copy(from.path().join(name), image.path().join(name)).expect("copy store file");
    }
    image
}

fn log_len(dir: &tempfile::TempDir) -> u64 {
    std::fs::metadata(log::path_for(&store_path(dir)))
        .expect("log metadata")
        .len()
}

// ---------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------

/// When emptying the file, the truncation can succeed and its sync fail.
/// The first version then still took the file for `len` bytes long and
/// wrote the next record behind a hole of zeros, which the next opening
/// cut off with the acknowledged record. The file now counts as empty
/// once its length is cut.
#[test]
fn a_failed_sync_after_emptying_the_log_loses_no_later_intake() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, db_switches, log_switches) = split_faulty_store(&dir);
    store.intake(vec![ticket("T1")]).expect("intake T1");

    // The log's disk refuses to grow or sync; shrinking still works.
    log_switches.set_full(true);
    assert_eq!(
        store.checkpoint().expect("checkpoint T1"),
        1,
        "this test's own checkpoint folds T1 (not the background one)"
    );
    assert_eq!(log_len(&dir), 0, "the truncation itself reached the file");
    log_switches.set_full(false);

    // The tables' disk is now full: nothing folds T2 before the power cut.
    db_switches.set_full(true);
    let t2 = store.intake(vec![ticket("T2")]).expect("intake T2");
    let t2 = new_id(&t2[0]);
    // Intake returned Ok: the register is acknowledged. The power goes.
    let image = crash_image(&dir);
    drop(store);

    let after = Store::open(&store_path(&image)).expect("open after the power cut");
    let found = after.find(Kind::Ticket, "T2").expect("find T2");
    assert!(
        found.is_some(),
        "T2 (id {t2}) was acknowledged, then lost: it was written behind a hole of zeros \
         that the next opening cut off as a torn tail"
    );
}

/// A backend whose commit fsync can be made to fail after the bytes (the
/// new header included) were written, as an fsync that returns EIO does:
/// the commit is reported failed, yet the file, read again, holds it.
/// Armed, it fails the first sync that follows a write of the header (at
/// offset 0); syncs of the file's growth inside a transaction pass.
#[derive(Debug)]
struct LyingSync {
    inner: FileBackend,
    fail_sync: Arc<AtomicBool>,
    header_written: AtomicBool,
}

impl LyingSync {
    fn open(path: &Path, fail_sync: Arc<AtomicBool>) -> std::io::Result<LyingSync> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(LyingSync {
            inner: FileBackend::new(file),
            fail_sync,
            header_written: AtomicBool::new(false),
        })
    }
}

impl StorageBackend for LyingSync {
    fn len(&self) -> Result<u64, BackendError> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), BackendError> {
        if self.fail_sync.load(Ordering::SeqCst) && self.header_written.load(Ordering::SeqCst) {
            return Err(BackendError::Io(std::io::Error::from_raw_os_error(5)));
        }
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        if offset == 0 && self.fail_sync.load(Ordering::SeqCst) {
            self.header_written.store(true, Ordering::SeqCst);
        }
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), BackendError> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

fn lying_store(dir: &tempfile::TempDir) -> (Store, Arc<AtomicBool>) {
    let fail = Arc::new(AtomicBool::new(false));
    let path = store_path(dir);
    let log_file = log::open_file(&log::path_for(&path)).expect("intake log");
    let for_backend = fail.clone();
    let backend = move || LyingSync::open(&path, for_backend.clone());
    let store =
        Store::open_with_backend(backend, Arc::new(log_file), "lying store").expect("open store");
    (store, fail)
}

/// A commit whose fsync fails after its bytes were written is seen after
/// the reopen. The first version took ids from the log's memory only, so
/// the next `intake_and_apply` / `intake_with_cursor` wrote another
/// document over the one that landed. Ids now start past the tables'
/// counter and skip any id taken.
#[test]
fn a_write_whose_failed_commit_landed_is_not_overwritten_by_the_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, fail) = lying_store(&dir);
    store
        .intake_with_cursor(vec![doc(Kind::ShopNote, "N1")], "notes", "1")
        .expect("N1");

    fail.store(true, Ordering::SeqCst);
    let failed = store.intake_with_cursor(vec![doc(Kind::ShopNote, "N2")], "notes", "2");
    fail.store(false, Ordering::SeqCst);
    assert!(failed.is_err(), "the fsync failed: N2 is not acknowledged");

    // The caller tries again, as it must: the store reopens and finds N2.
    let again = store
        .intake_with_cursor(vec![doc(Kind::ShopNote, "N2")], "notes", "2")
        .expect("N2 again");
    let n2 = match again[0] {
        IntakeOutcome::Duplicate(id) => id,
        IntakeOutcome::New(_) => panic!("precondition: the failed commit did not land here"),
    };

    // An amendment made later, in its own commit.
    let amendment = store
        .intake_and_apply(vec![doc(Kind::Amendment, "A1")], Vec::new())
        .expect("A1");
    let a1 = new_id(&amendment[0]);
    let meta = store
        .find(Kind::ShopNote, "N2")
        .expect("find N2")
        .expect("N2 present");
    assert_eq!(
        (meta.kind, meta.external_id.as_str()),
        (Kind::ShopNote, "N2"),
        "N2 (id {n2}) was overwritten by the amendment (given id {a1})"
    );
    assert_eq!(store.body(n2).expect("body"), b"body of N2");
}

/// The same case through the plain intake path: the first version's
/// `Store::intake` returned an id the tables already gave another document
/// (a caller acting on it would move the wrong one). It now reads the
/// tables' counter with its dedup lookups.
#[test]
fn after_a_landed_failed_commit_intake_returns_ids_of_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, fail) = lying_store(&dir);
    fail.store(true, Ordering::SeqCst);
    let failed = store.intake_with_cursor(vec![doc(Kind::ShopNote, "N1")], "notes", "1");
    fail.store(false, Ordering::SeqCst);
    assert!(failed.is_err(), "the fsync failed");
    // Any write reopens the handle (the next read would see N1).
    store.set_cursor("other", "x").expect("a write");

    let outcome = store.intake(vec![doc(Kind::Telemetry, "S1")]).expect("S1");
    let id = new_id(&outcome[0]);
    let meta = store.meta(id).expect("meta of the returned id");
    assert_eq!(
        (meta.kind, meta.external_id.as_str()),
        (Kind::Telemetry, "S1"),
        "intake said New({id}) for S1, but id {id} is another document"
    );
}

/// An update rolled back: a Relais without the log took a logged id. The
/// fold gives the logged document a fresh id; the first version did not
/// tell the log, and later intakes were told ids of other documents. The
/// fold now returns the next free id and the log takes it.
#[test]
fn after_a_logged_id_is_given_anew_intake_returns_fresh_ids() {
    let image = rolled_back_store();
    let store = Store::open(&store_path(&image)).expect("open with the log back");
    let outcome = store.intake(vec![ticket("T3")]).expect("T3");
    let id = new_id(&outcome[0]);
    let meta = store.meta(id).expect("meta");
    assert_eq!(
        meta.external_id, "T3",
        "intake said New({id}) for T3, but id {id} is {}",
        meta.external_id
    );
}

/// ... and the next write that makes documents overwrites none.
#[test]
fn after_a_logged_id_is_given_anew_a_write_with_intake_overwrites_nothing() {
    let image = rolled_back_store();
    let store = Store::open(&store_path(&image)).expect("open with the log back");
    store.intake(vec![ticket("T3")]).expect("T3");
    store.checkpoint().expect("fold T3");
    store
        .intake_with_cursor(vec![doc(Kind::ShopNote, "N1")], "notes", "2")
        .expect("N1");
    let mut seen = Vec::new();
    store
        .for_each_doc(|m| seen.push((m.id, m.external_id)))
        .expect("visit");
    for name in ["T1", "T2", "T3", "N1"] {
        assert!(
            seen.iter().any(|(_, e)| e == name),
            "{name} is gone from the store: {seen:?}"
        );
    }
}

/// The scene of `store::tests::a_logged_id_taken_by_a_relais_without_the_log_is_given_anew`:
/// T1 only in the log (id 1), then a Relais without the log stores T2 as
/// id 1. Returns the folder with the log put back.
fn rolled_back_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let (image, logged) = {
        let store = Store::open(&store_path(&dir)).expect("open");
        store.intake(vec![ticket("T1")]).expect("T1");
        let image = crash_image(&dir);
        let logged = std::fs::read(log::path_for(&store_path(&image))).expect("read log");
        (image, logged)
    };
    assert!(
        !logged.is_empty(),
        "precondition: T1 was still only in the log"
    );
    let log_path = log::path_for(&store_path(&image));
    std::fs::remove_file(&log_path).expect("hide the log");
    {
        let older = Store::open(&store_path(&image)).expect("open without the log");
        let direct = older
            .intake_with_cursor(vec![ticket("T2")], "notes", "1")
            .expect("T2");
        assert_eq!(direct, vec![IntakeOutcome::New(1)]);
    }
    std::fs::write(&log_path, &logged).expect("the log comes back");
    image
}

/// A log file whose reads can be held: a checkpoint reads the records it
/// folds inside its redb transaction, so holding a read holds the
/// checkpoint between taking its range and recording what it folded.
struct GatedLog {
    file: std::fs::File,
    closed: std::sync::Mutex<bool>,
    gate: std::sync::Condvar,
    waiting: AtomicU64,
}

impl GatedLog {
    fn set_closed(&self, closed: bool) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()) = closed;
        self.gate.notify_all();
    }
}

impl LogFile for GatedLog {
    fn len(&self) -> std::io::Result<u64> {
        LogFile::len(&self.file)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        if *closed {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            while *closed {
                closed = self.gate.wait(closed).unwrap_or_else(|e| e.into_inner());
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        drop(closed);
        LogFile::read_exact_at(&self.file, buf, offset)
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> std::io::Result<()> {
        LogFile::write_all_at(&self.file, data, offset)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        LogFile::sync_data(&self.file)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        LogFile::set_len(&self.file, len)
    }
}

/// The file is emptied only when nothing was appended since the checkpoint
/// took its range. In the first version an intake landing during every
/// checkpoint kept the file from ever being emptied. Past
/// `LOG_COMPACT_BYTES` of folded records a checkpoint now folds the rest
/// with intake held, so the file stays bounded.
#[test]
fn the_log_file_stays_bounded_while_intake_races_every_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = store_path(&dir);
    let gated = Arc::new(GatedLog {
        file: log::open_file(&log::path_for(&path)).expect("log file"),
        closed: std::sync::Mutex::new(false),
        gate: std::sync::Condvar::new(),
        waiting: AtomicU64::new(0),
    });
    let switches = Arc::new(FaultSwitches::default());
    let backend = move || FaultyBackend::open(&path, switches.clone());
    let log_file: Arc<dyn LogFile> = gated.clone();
    let store = Store::open_with_backend(backend, log_file, "gated").expect("open store");
    // Large tickets, so that a few dozen races pass the compaction point.
    let large = |id: String| Intake {
        body: vec![b'x'; 32 << 10],
        ..ticket(&id)
    };
    let one_record = {
        store.intake(vec![large("probe".into())]).expect("probe");
        let len = log_len(&dir);
        store.checkpoint().expect("fold the probe");
        len
    };
    let cycles = 40;
    assert!(2 * cycles * one_record > 2 * relais::store::LOG_COMPACT_BYTES);
    for i in 0..cycles {
        store.intake(vec![large(format!("A{i}"))]).expect("A");
        gated.set_closed(true);
        let checkpointing = store.clone();
        let folding = std::thread::spawn(move || checkpointing.checkpoint());
        until("the checkpoint to read its range", || {
            gated.waiting.load(Ordering::SeqCst) > 0
        });
        store.intake(vec![large(format!("B{i}"))]).expect("B");
        gated.set_closed(false);
        folding
            .join()
            .expect("checkpoint thread")
            .expect("checkpoint");
    }
    let pending = store.intake_pending();
    let len = log_len(&dir);
    assert!(
        len <= relais::store::LOG_COMPACT_BYTES + 4 * one_record,
        "the log holds {pending} unfolded document(s) but is {len} bytes \
         ({} records of {one_record} bytes): it is never emptied",
        len / one_record.max(1)
    );
}

/// Known limitation, kept as a test: when a checkpoint's transaction grows
/// the redb file, redb fsyncs holding its state mutex, and an intake's
/// dedup lookup (`begin_read`) waits for that fsync. Intake is late by one
/// fsync, rarely (the file grows in steps); nothing is lost or doubled.
#[test]
#[ignore = "known limitation: redb grows its file under its state lock (see the doc comment)"]
fn intake_waits_for_a_checkpoint_fsync_when_the_store_file_grows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, db_switches, _log) = split_faulty_store(&dir);
    let mut big = ticket("BIG");
    big.body = vec![7u8; 4 << 20];
    store.intake(vec![big]).expect("a large export");
    db_switches.close_gate();
    let checkpointing = store.clone();
    let folding = std::thread::spawn(move || checkpointing.checkpoint());
    until("the checkpoint's fsync", || db_switches.syncs_waiting() > 0);
    let (done_tx, done_rx) = mpsc::channel();
    let taking = store.clone();
    let intake = std::thread::spawn(move || {
        let result = taking.intake(vec![ticket("T1")]);
        let _ = done_tx.send(());
        result
    });
    let went_on = done_rx.recv_timeout(Duration::from_secs(10)).is_ok();
    db_switches.open_gate();
    intake.join().expect("intake thread").expect("intake");
    folding
        .join()
        .expect("checkpoint thread")
        .expect("checkpoint");
    assert!(
        went_on,
        "intake waited for the checkpoint's fsync (redb grows the file under its state lock)"
    );
}

/// A record whose checksum fails in the middle of the log (a bad sector,
/// not a torn append) was taken for a torn tail by the first version, and
/// every acknowledged record after it was cut off. Opening now stops with
/// an error that names both places and leaves the file as it is.
#[test]
fn a_bad_record_in_the_middle_stops_the_opening_instead_of_cutting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.intake-log");
    let file: Arc<dyn LogFile> = Arc::new(log::open_file(&path).expect("log file"));
    let mut the_log = log::Log::open(file.clone(), "t", 0, 1).expect("open");
    let mut ends = Vec::new();
    for (id, name) in [(1, "T1"), (2, "T2"), (3, "T3")] {
        let logged = LoggedDoc {
            id,
            doc: ticket(name),
        };
        let record =
            log::encode(the_log.next_seq, Timestamp::UNIX_EPOCH, &[logged]).expect("encode");
        the_log
            .append(&record, vec![(relais::store::dedup_key(&ticket(name)), id)])
            .expect("append (synced: acknowledged)");
        ends.push(file.len().expect("len"));
    }
    drop(the_log);
    // One byte of T2's payload rots.
    let at = ends[0] + (ends[1] - ends[0]) / 2 + 10;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, at).expect("read");
    file.write_all_at(&[byte[0] ^ 0x40], at).expect("flip");

    let before = file.len().expect("len");
    let reopened = log::Log::open(file.clone(), "t", 0, 1);
    let after = file.len().expect("len");
    match reopened {
        Err(e) => assert_eq!(after, before, "refused ({e}) but still cut the file"),
        Ok(l) => {
            assert!(
                l.pending_id("ticket:T3:1").is_some(),
                "T3, acknowledged after the bad record, is gone (pending {}, file {before} -> \
                 {after} bytes)",
                l.pending()
            );
        }
    }
}

/// A process killed between an append's write and its fsync leaves a whole
/// record in the page cache, never synced. The first version's opening
/// answered dedup from it without syncing: a redelivery was acknowledged
/// while the only copy could still be in the page cache. Opening now
/// syncs the records it reads back.
#[test]
fn opening_syncs_the_records_it_reads_back_before_they_answer_dedup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.intake-log");
    let switches = Arc::new(FaultSwitches::default());
    let counting = Arc::new(FaultyLog::open(&path, switches.clone()).expect("log file"));
    // The killed process's write, not followed by its fsync.
    let logged = LoggedDoc {
        id: 1,
        doc: ticket("T1"),
    };
    let record = log::encode(1, Timestamp::UNIX_EPOCH, &[logged]).expect("encode");
    counting.write_all_at(&record, 0).expect("write");

    let file: Arc<dyn LogFile> = counting.clone();
    let reopened = log::Log::open(file, "t", 0, 1).expect("open");
    assert!(reopened.pending_id("ticket:T1:1").is_some());
    assert!(
        switches.syncs() > 0,
        "T1 is trusted for dedup though no one ever synced it"
    );
}

// ---------------------------------------------------------------------------
// Behaviour that holds (evidence)
// ---------------------------------------------------------------------------

#[test]
fn intake_is_not_acknowledged_before_its_log_record_is_synced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _db, log_switches) = split_faulty_store(&dir);
    log_switches.close_gate();
    let (done_tx, done_rx) = mpsc::channel();
    let taking = store.clone();
    let intake = std::thread::spawn(move || {
        let result = taking.intake(vec![ticket("T1")]);
        let _ = done_tx.send(());
        result
    });
    until("the log's fsync", || log_switches.syncs_waiting() > 0);
    assert!(
        done_rx.try_recv().is_err(),
        "intake returned before its fsync did"
    );
    log_switches.open_gate();
    let outcome = intake.join().expect("intake thread").expect("intake");
    assert!(matches!(outcome[0], IntakeOutcome::New(_)));
}

#[test]
fn a_failed_log_write_is_refused_and_the_retry_is_stored_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _db, log_switches) = split_faulty_store(&dir);
    store.intake(vec![ticket("T0")]).expect("T0");
    log_switches.set_full(true);
    store
        .intake(vec![ticket("T1"), ticket("T2")])
        .expect_err("the log's disk is full");
    log_switches.set_full(false);
    let retry = store
        .intake(vec![ticket("T1"), ticket("T2"), ticket("T0")])
        .expect("retry");
    assert!(matches!(retry[0], IntakeOutcome::New(_)));
    assert!(matches!(retry[1], IntakeOutcome::New(_)));
    assert!(matches!(retry[2], IntakeOutcome::Duplicate(_)));
    let image = crash_image(&dir);
    drop(store);
    let after = Store::open(&store_path(&image)).expect("reopen");
    let stored = after.in_state(State::Stored, 100).expect("list");
    let mut names: Vec<_> = stored.iter().map(|m| m.external_id.clone()).collect();
    names.sort();
    assert_eq!(names, ["T0", "T1", "T2"]);
}

#[test]
fn sequence_numbers_and_ids_go_on_across_emptying_a_crash_and_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&store_path(&dir)).expect("open");
    let t1 = new_id(&store.intake(vec![ticket("T1")]).expect("T1")[0]);
    assert_eq!(store.checkpoint().expect("checkpoint"), 1);
    assert_eq!(log_len(&dir), 0, "emptied");
    let t2 = new_id(&store.intake(vec![ticket("T2")]).expect("T2")[0]);
    let image = crash_image(&dir);
    drop(store);
    let after = Store::open(&store_path(&image)).expect("reopen");
    let t3 = new_id(&after.intake(vec![ticket("T3")]).expect("T3")[0]);
    let again = after
        .intake(vec![ticket("T1"), ticket("T2")])
        .expect("redelivery");
    assert_eq!(
        again,
        vec![IntakeOutcome::Duplicate(t1), IntakeOutcome::Duplicate(t2)]
    );
    for (id, name) in [(t1, "T1"), (t2, "T2"), (t3, "T3")] {
        assert_eq!(after.meta(id).expect("meta").external_id, name);
    }
    assert_eq!(after.in_state(State::Stored, 10).expect("list").len(), 3);
}

#[test]
fn intakes_checkpoints_writes_and_reads_together_lose_double_and_mix_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&store_path(&dir)).expect("open");
    let rounds = 60;
    std::thread::scope(|scope| {
        for w in 0..3 {
            let store = store.clone();
            scope.spawn(move || {
                for r in 0..rounds {
                    let docs = (0..4).map(|n| ticket(&format!("W{w}-{r}-{n}"))).collect();
                    store.intake(docs).expect("intake");
                    // Redelivery of the previous batch: duplicates only.
                    if r > 0 {
                        let docs = (0..4)
                            .map(|n| ticket(&format!("W{w}-{}-{n}", r - 1)))
                            .collect();
                        let again = store.intake(docs).expect("again");
                        assert!(again
                            .iter()
                            .all(|o| matches!(o, IntakeOutcome::Duplicate(_))));
                    }
                }
            });
        }
        let writer = store.clone();
        scope.spawn(move || {
            for r in 0..rounds {
                writer
                    .intake_with_cursor(
                        vec![doc(Kind::ShopNote, &format!("N{r}"))],
                        "notes",
                        &r.to_string(),
                    )
                    .expect("note");
            }
        });
        let folder = store.clone();
        scope.spawn(move || {
            for _ in 0..rounds {
                folder.checkpoint().expect("checkpoint");
                folder.count_states().expect("count");
            }
        });
    });
    let mut seen = std::collections::HashSet::new();
    let mut all = Vec::new();
    store
        .for_each_doc(|m| {
            assert!(seen.insert(m.id), "id {} twice", m.id);
            all.push(m);
        })
        .expect("visit");
    assert_eq!(all.len(), 3 * rounds * 4 + rounds);
    for m in &all {
        let body = store.body(m.id).expect("body");
        assert_eq!(body, format!("body of {}", m.external_id).into_bytes());
    }
}

#[test]
fn closing_while_checkpoints_fail_does_not_hang_and_keeps_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, db_switches, _log) = split_faulty_store(&dir);
    store.intake(vec![ticket("T1")]).expect("T1");
    db_switches.set_full(true);
    assert!(store.checkpoint().is_err(), "the tables' disk is full");
    let (closed_tx, closed_rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(store);
        let _ = closed_tx.send(());
    });
    closed_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the store closed");
    let after = Store::open(&store_path(&dir)).expect("reopen");
    assert!(after.find(Kind::Ticket, "T1").expect("find").is_some());
}
