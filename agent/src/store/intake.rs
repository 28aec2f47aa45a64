//! Intake through the log, and the checkpoints that fold the log into the
//! tables (see [`super::log`] for the file and its crash analysis).
//!
//! # Who holds what
//!
//! - The log mutex guards the log's file offsets, the ids and the dedup
//!   keys of the documents not yet folded. An intake holds it while it
//!   checks dedup (those keys, then the tables) and appends its record, so
//!   two intakes never give out the same id or store the same key twice.
//! - The fold mutex is held by whoever checkpoints, so checkpoints never
//!   overlap. A checkpoint takes the log mutex only to see what to fold and
//!   to record what it folded: intake goes on while the tables commit
//!   (except for one fsync when redb grows its file, which it does under
//!   its own lock that an intake's dedup lookup also takes). Lock order:
//!   fold, then log.
//! - Ids start past both the log's next id and the tables' counter, and
//!   skip any id taken: a commit reported as failed may have landed.
//! - A checkpoint drops a key from the log's set only after its commit
//!   returned, so a document is always found, in the log's keys or in the
//!   tables, by an intake that holds the log mutex.
//! - Writes that make documents in the same commit as other changes (an
//!   amendment and its order's move, notes and their cursor) hold both
//!   mutexes, fold first and take their ids from the log.
//!
//! # The checkpointer
//!
//! A thread per store folds the log when it holds [`SOFT_DOCS`] documents or
//! [`SOFT_BYTES`], or once intake has been quiet for [`IDLE`]; it sleeps
//! while the log is empty. Folding in quiet moments and in large steps keeps
//! its commits few and out of the way of a burst (each costs redb's fixed
//! pages and an fsync). Reads and writes fold by themselves first, so none
//! waits for it. An intake that finds the log at [`HARD_DOCS`] or [`HARD_BYTES`] (the
//! checkpointer cannot keep up, or keeps failing) folds itself, and returns
//! the failure if it cannot: memory stays bounded, and nothing is taken in
//! that could not be kept. A checkpoint that leaves [`COMPACT_BYTES`] of
//! folded records at the head of the file (intake raced every checkpoint)
//! folds the rest with intake held, so that the file is emptied.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::Timestamp;
use redb::{ReadableDatabase, ReadableTable};

use super::log::{self, Log, LoggedDoc};
use super::write::Tables;
use super::{db, Core, Intake, IntakeOutcome, StoreError, COUNTERS, DEDUP, NEXT_DOC};

/// The checkpointer folds once the log holds this many documents...
pub const SOFT_DOCS: usize = 2048;
/// ...or this many bytes...
pub const SOFT_BYTES: u64 = 8 << 20;
/// ...or once intake has been quiet this long.
pub const IDLE: Duration = Duration::from_millis(500);
/// An intake folds by itself before the log grows past this many documents...
pub const HARD_DOCS: usize = 16384;
/// ...or bytes.
pub const HARD_BYTES: u64 = 64 << 20;
/// A failed background checkpoint is tried again after this long.
const RETRY: Duration = Duration::from_secs(1);
/// A checkpoint that leaves this many bytes of folded records at the head
/// of the file (intake kept racing it) folds the rest too, to empty it.
pub const COMPACT_BYTES: u64 = 1 << 20;

/// The intake log and what coordinates it with checkpoints.
pub(super) struct IntakeLog {
    log: Mutex<Log>,
    fold: Mutex<()>,
    /// Signalled when the checkpointer has work or must stop.
    changed: Condvar,
    /// Documents in the log not yet folded: a read that finds 0 here needs
    /// no lock.
    pending: AtomicUsize,
    stop: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl IntakeLog {
    pub(super) fn new(log: Log) -> IntakeLog {
        let pending = log.pending();
        IntakeLog {
            log: Mutex::new(log),
            fold: Mutex::new(()),
            changed: Condvar::new(),
            pending: AtomicUsize::new(pending),
            stop: AtomicBool::new(false),
        }
    }

    /// Documents in the log not yet folded.
    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    fn full(log: &Log) -> bool {
        log.pending() >= HARD_DOCS || log.pending_bytes() >= HARD_BYTES
    }
}

impl Core {
    /// Appends new documents to the log as one synced record (see
    /// [`super::Store::intake`]).
    pub(super) fn log_intake(&self, docs: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        self.reopen_if_failed()?;
        let mut log = self.log_with_room()?;
        let (outcomes, logged, keys) = self.sort_new_from_known(&log, docs)?;
        if logged.is_empty() {
            return Ok(outcomes);
        }
        let was_empty = log.pending() == 0;
        let record = log::encode(log.next_seq, Timestamp::now(), &logged).map_err(|reason| {
            StoreError::Body {
                what: "intake log record".into(),
                reason,
            }
        })?;
        log.append(&record, keys)
            .map_err(|source| StoreError::Log {
                action: "intake",
                source,
            })?;
        let shared = &self.intake;
        shared.pending.store(log.pending(), Ordering::SeqCst);
        let soft = log.pending() >= SOFT_DOCS || log.pending_bytes() >= SOFT_BYTES;
        if was_empty || soft {
            shared.changed.notify_all();
        }
        Ok(outcomes)
    }

    /// The log mutex, once the log has room (folding it here if the
    /// checkpointer has not).
    fn log_with_room(&self) -> Result<MutexGuard<'_, Log>, StoreError> {
        loop {
            let log = lock(&self.intake.log);
            if !IntakeLog::full(&log) {
                return Ok(log);
            }
            let pending = log.pending();
            drop(log);
            self.checkpoint().map_err(|e| StoreError::LogFull {
                pending,
                cause: e.to_string(),
            })?;
        }
    }

    /// Gives each new document its id; a document already held, in the log
    /// or in the tables (or twice in `docs`), is a duplicate.
    #[allow(clippy::type_complexity)]
    fn sort_new_from_known(
        &self,
        log: &Log,
        docs: Vec<Intake>,
    ) -> Result<(Vec<IntakeOutcome>, Vec<LoggedDoc>, Vec<(String, u64)>), StoreError> {
        let database = self.database()?;
        let tx = database.begin_read().map_err(db("intake"))?;
        let dedup = tx.open_table(DEDUP).map_err(db("intake (dedup)"))?;
        // The tables' counter too: a commit reported as failed may still
        // have landed with documents of its own.
        let counters = tx.open_table(COUNTERS).map_err(db("intake (ids)"))?;
        let tables_next = counters
            .get(NEXT_DOC)
            .map_err(db("intake (ids)"))?
            .map_or(0, |v| v.value());
        let mut outcomes = Vec::with_capacity(docs.len());
        let mut logged = Vec::with_capacity(docs.len());
        let mut batch: HashMap<String, u64> = HashMap::with_capacity(docs.len());
        let mut next_id = log.next_id.max(tables_next);
        for doc in docs {
            let key = super::dedup_key(&doc);
            let known = match batch.get(&key).copied().or_else(|| log.pending_id(&key)) {
                Some(id) => Some(id),
                None => dedup
                    .get(key.as_str())
                    .map_err(db("intake (dedup)"))?
                    .map(|v| v.value()),
            };
            if let Some(id) = known {
                outcomes.push(IntakeOutcome::Duplicate(id));
                continue;
            }
            let id = next_id;
            next_id += 1;
            batch.insert(key, id);
            outcomes.push(IntakeOutcome::New(id));
            logged.push(LoggedDoc { id, doc });
        }
        Ok((outcomes, logged, batch.into_iter().collect()))
    }

    /// Folds what the log holds now into the tables, in one commit, and
    /// returns how many documents that stored.
    pub(super) fn checkpoint(&self) -> Result<usize, StoreError> {
        let shared = &self.intake;
        if shared.pending() == 0 {
            return Ok(0);
        }
        let _fold = lock(&shared.fold);
        let (range, file, label) = {
            let log = lock(&shared.log);
            match log.fold_range() {
                Some(range) => (range, log.file(), log.label().to_string()),
                None => return Ok(0),
            }
        };
        let (mut stored, next_id) = self.commit("checkpoint", |w| w.fold(&*file, &label, range))?;
        let mut log = lock(&shared.log);
        log.folded(range, next_id);
        // Intake that raced every checkpoint would keep the file from ever
        // being emptied: past COMPACT_BYTES of folded records, the rest is
        // folded with intake held (a few records: one short commit).
        if log.folded_head() >= COMPACT_BYTES {
            if let Some(rest) = log.fold_range() {
                // The first fold stands whatever happens to this one.
                match self.commit("checkpoint", |w| w.fold(&*file, &label, rest)) {
                    Ok((more, next_id)) => {
                        log.folded(rest, next_id);
                        stored += more;
                    }
                    Err(e) => tracing::warn!(error = %e,
                        "store: cannot fold the rest of the intake log to empty it yet"),
                }
            }
        }
        shared.pending.store(log.pending(), Ordering::SeqCst);
        Ok(stored)
    }

    /// Folds the log before a read. A read that cannot fold (a full disk)
    /// still answers from the tables as they are.
    pub(super) fn fresh(&self) {
        if self.intake.pending() == 0 {
            return;
        }
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, pending = self.intake.pending(),
                "store: reading without the documents still in the intake log");
        }
    }

    /// A write that also stores documents, all in one commit: the log is
    /// folded first and held still, and the new documents take their ids
    /// from it.
    pub(super) fn write_with_intake<T>(
        &self,
        action: &'static str,
        docs: Vec<Intake>,
        body: impl FnOnce(&mut Tables<'_>, Vec<IntakeOutcome>, Timestamp) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let shared = &self.intake;
        let _fold = lock(&shared.fold);
        let mut log = lock(&shared.log);
        if let Some(range) = log.fold_range() {
            let (file, label) = (log.file(), log.label().to_string());
            let (_, next_id) = self
                .commit("checkpoint", |w| w.fold(&*file, &label, range))
                .map_err(|e| e.during(action))?;
            log.folded(range, next_id);
            shared.pending.store(log.pending(), Ordering::SeqCst);
        }
        let mut next_id = log.next_id;
        let value = self.commit(action, |w| {
            let now = Timestamp::now();
            let outcomes = w.intake_all(docs, &mut next_id, now)?;
            body(w, outcomes, now)
        })?;
        log.next_id = log.next_id.max(next_id);
        Ok(value)
    }
}

/// The store's checkpointer thread; stopping it (when the last clone of
/// the store goes) folds what is left first.
pub(super) struct Checkpointer {
    core: Core,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn start(core: Core) -> Result<Checkpointer, StoreError> {
        let worker = core.clone();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || worker.checkpoint_loop())
            .map_err(|e| StoreError::Task(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            core,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let shared = &self.core.intake;
        {
            let _log = lock(&shared.log);
            shared.stop.store(true, Ordering::SeqCst);
            shared.changed.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("store: the checkpointer panicked");
            }
        }
    }
}

impl Core {
    fn checkpoint_loop(&self) {
        loop {
            let stopping = self.wait_for_work();
            match self.checkpoint() {
                Ok(_) => {}
                Err(e) if stopping => {
                    tracing::warn!(error = %e, "store: the intake log stays unfolded at closing");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "store: checkpoint failed; trying again");
                    let log = lock(&self.intake.log);
                    // Closing sets `stop` under this mutex: checked here, it
                    // cannot be missed while waiting.
                    if !self.intake.stop.load(Ordering::SeqCst) {
                        let _ = self.intake.changed.wait_timeout(log, RETRY);
                    }
                }
            }
            if stopping {
                return;
            }
        }
    }

    /// Sleeps until the log has enough to fold, has waited long enough, or
    /// the store closes (true).
    fn wait_for_work(&self) -> bool {
        let shared = &self.intake;
        let mut log = lock(&shared.log);
        loop {
            if shared.stop.load(Ordering::SeqCst) {
                return true;
            }
            let pending = log.pending();
            if pending >= SOFT_DOCS || log.pending_bytes() >= SOFT_BYTES {
                return false;
            }
            if pending == 0 {
                log = shared.changed.wait(log).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let quiet = log.quiet_for();
            if quiet >= IDLE {
                return false;
            }
            log = shared
                .changed
                .wait_timeout(log, IDLE - quiet)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
