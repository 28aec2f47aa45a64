//! The durable store: every document, its state, its history, the dedup keys
//! and the cursors, in one redb file, with an intake log beside it for
//! documents not yet folded into the tables. This module owns every table
//! layout and the log's format; nothing else names a table.
//!
//! # The durable queue
//!
//! There is no separate queue file: a document's state is its place in a
//! queue. The `states` table indexes (state, id), so "queued for the ERP" is
//! a range scan in intake order, read in chunks, and memory stays flat
//! however long the backlog (the page cache is bounded too). Transitions are
//! checked by [`lifecycle::allowed`] and each one writes the document, the
//! index and an audit entry in the same transaction.
//!
//! ## What is flushed when
//!
//! A new document is first made durable in the intake log (see [`log`]):
//! one framed record per intake call, written and fsynced, as a plain
//! append loop would. It has its store id and its dedup key from then on.
//! A checkpoint folds the log's records into the tables in one redb
//! transaction, which also records the last record folded; every read and
//! every other write checkpoints first, and the store's checkpointer thread
//! does it in quiet moments or when the log grows (`store/intake.rs`).
//!
//! Every other public write is one redb transaction committed with
//! immediate durability: when the method returns, the data and the new root
//! are fsynced. By default redb's single-phase commit is used: the new root
//! is written with a checksum over the tree and one fsync covers both, and
//! on opening after a power cut the newest root whose checksum holds is
//! taken, so a torn commit falls back to the previous one. Two-phase commit
//! (`[store] two_phase_commit = true`) adds a second fsync per commit so the
//! root never needs that check; redb reserves it for an adversary who can
//! both choose the stored bytes to collide the (non-cryptographic) checksum
//! and cut the power at will. `relais bench` measures both. Callers batch
//! (a page of orders, up to 64 tickets, a chunk of decisions) to spare the
//! SD card. Nothing outside is told before the sync returns:
//!
//! | step | made durable first | then outside |
//! |---|---|---|
//! | ticket intake | the documents' log record | MQTT PUBACK, then the register's ack |
//! | order pull | each page's log record | the cursor moves after the last page |
//! | export intake | the export file's bytes, in the log | the file is moved to `done/` |
//! | checkpoint | log documents in the tables + last record folded | the log file is emptied |
//! | ERP batch | batch name + documents `batched` | file written under a temp name, fsynced |
//! | ERP staged | the batch marked staged | the file renamed into place, folder fsynced |
//! | ERP delivered | documents `delivered` | nothing (the file is there) |
//! | ERP reply | documents `confirmed` or `quarantined` | nothing (Relais leaves the ERP's files) |
//! | order amended | amendment stored + revision `done`, one commit | nothing |
//! | invoice | nothing | check the shop, upload, then commit `delivered` |
//!
//! ## What a crash leaves behind, and why that is neither loss nor double
//!
//! - Before an intake's log record is synced: nothing acknowledged; the
//!   register or broker redelivers, the shop pull starts again from the
//!   unmoved cursor, the export file is still in its folder. A record torn
//!   by the power cut is cut off at the next opening.
//! - After the sync, before the acknowledgement: the source sends again and
//!   the dedup key (kind, source id, revision) makes it a no-op, found in
//!   the log's keys or in the tables.
//! - During a checkpoint: the transaction either committed (the records are
//!   in the tables, and their sequence numbers are at or below the one
//!   committed with them, so they are skipped if the log still holds them)
//!   or did not (they are folded at the next opening, with the ids they
//!   were given at intake).
//! - Between a decision chunk's reads and its commit: the documents are
//!   still `stored`; deciding again is pure and gives the same answer.
//! - After a batch is created, before it is staged: at restart its file is
//!   written again under the same temporary name with the same bytes (the
//!   rows were frozen when the documents were queued). The ERP never sees
//!   a temporary name, so never half a file.
//! - After it is staged: the complete file was on disk under its temporary
//!   name. At restart, if that name is still there the rename is done now;
//!   if not, the rename happened, and the file is never written again, even
//!   if the ERP has taken it away meanwhile.
//! - During an invoice upload: the invoice is still `queued`; at restart
//!   the shop is asked first, and since rendering is deterministic the
//!   same PDF hash is found and only the delivery is recorded. The shop's
//!   PUT is idempotent as well.
//!
//! ## Idempotence at each destination
//!
//! - ERP: stable file names (`CMD_<day>_<batch>.csv`) fixed in the store
//!   before writing, atomic writes, one batch per document.
//! - Shop: check before upload by invoice number and PDF hash; PUT is
//!   idempotent; a different document under the same number is
//!   quarantined, never overwritten.
//! - Intake: the dedup key (kind, source id, revision); a new revision of a
//!   document not yet delivered supersedes it. A new revision of a web
//!   order already sent keeps the sent one as its base and becomes an
//!   amendment (a credit note) of the difference, never a second copy;
//!   the amendment is stored in the same commit that marks the revision
//!   done, and an order's refunds are credited once (by refund id).
//! - ERP replies: a document leaves `delivered` once, to `confirmed` or
//!   (rejected by the ERP) to `quarantined`; reading the same reply again
//!   finds nothing left to move.
//!
//! Tests prove it: `tests/crash_kill.rs` kills the demo at random moments
//! and checks the outputs; `tests/store_faults.rs` holds an fsync (the log's
//! and redb's) and fills the disk; the log's own tests tear its last record,
//! put back records already folded and stale bytes; `tests/intake_log_attack.rs`
//! fails syncs and commits at every step of the log's life, races intake
//! against checkpoints and damages a record in the middle.
//!
//! # Tables
//!
//! - `documents`: id -> [`DocMeta`]; `bodies`: id -> the source's bytes;
//!   `mapped`: id -> what was made of it for its destination.
//! - `states`: (state code, id) -> (), the queue index.
//! - `dedup`: "kind:external id:revision" -> id; `latest`: "kind:external id"
//!   -> id of its newest revision.
//! - `received`: (intake time in seconds, id) -> (), to read a day's
//!   documents without reading the rest; `open_batches`: (destination,
//!   batch id) -> () for batches not yet delivered.
//! - `audit`: (id, n) -> [`AuditEntry`]; `batches`: id -> [`Batch`];
//!   `cursors`: name -> text; `counters`: name -> u64 (next ids, the last
//!   intake log record folded, last success per peer).
//! - Beside the file, `<store>.intake-log`: records not yet folded.

mod document;
pub mod faults;
mod intake;
pub mod lifecycle;
pub mod log;
mod read;
mod write;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use jiff::civil::Date;
use jiff::Timestamp;
use redb::{Database, TableDefinition};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A checkpoint that leaves this many bytes of folded records at the head
/// of the intake log folds the rest too, with intake held, to empty it.
pub use intake::COMPACT_BYTES as LOG_COMPACT_BYTES;
use intake::{Checkpointer, IntakeLog};
use log::{LogError, LogFile};
use write::Tables;

pub use document::{decode, encode, AuditEntry, Batch, CodecError, Dest, DocMeta, Kind, State};

const DOCUMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("documents");
const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("bodies");
const MAPPED: TableDefinition<u64, &[u8]> = TableDefinition::new("mapped");
const STATES: TableDefinition<(u8, u64), ()> = TableDefinition::new("states");
const DEDUP: TableDefinition<&str, u64> = TableDefinition::new("dedup");
const LATEST: TableDefinition<&str, u64> = TableDefinition::new("latest");
const AUDIT: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("audit");
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
const CURSORS: TableDefinition<&str, &str> = TableDefinition::new("cursors");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
const RECEIVED: TableDefinition<(i64, u64), ()> = TableDefinition::new("received");
const OPEN_BATCHES: TableDefinition<(u8, u64), ()> = TableDefinition::new("open_batches");

const NEXT_DOC: &str = "next_doc_id";
const CACHE_BYTES: usize = 4 * 1024 * 1024;
const NEXT_BATCH: &str = "next_batch_id";
/// Sequence number of the last intake log record folded into the tables.
const LOG_FOLDED: &str = "intake_log_folded";
/// Every document id below this one is in the `received` index, every
/// batch id below the next one in `open_batches` (if still open): a store
/// written by a Relais without these indexes is caught up at opening.
const INDEXED_DOCS: &str = "indexed_docs_below";
const INDEXED_BATCHES: &str = "indexed_batches_below";

/// A store failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb could not open the file.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        source: redb::DatabaseError,
    },
    /// A transaction failed (disk full, I/O error...). Nothing of it was kept.
    #[error("store {action} failed: {source}")]
    Db {
        action: &'static str,
        source: redb::Error,
    },
    /// A stored value could not be read back.
    #[error("store {action}: {source}")]
    Codec {
        action: &'static str,
        source: CodecError,
    },
    /// A blocking store task could not finish (the runtime is shutting down).
    #[error("store task: {0}")]
    Task(String),
    /// A transition the document's life does not allow (a bug, refused).
    #[error("document {id}: {from} -> {to} is not a transition a document may make")]
    IllegalTransition { id: u64, from: String, to: String },
    /// The store is being reopened after an I/O failure; try again.
    #[error("the store is reopening after an I/O failure")]
    Reopening,
    /// A stored value of one document cannot be read back.
    #[error("{what}: {source}")]
    Damaged { what: String, source: CodecError },
    /// A stored body its reader cannot understand.
    #[error("{what}: {reason}")]
    Body { what: String, reason: String },
    /// A document id that the store does not hold.
    #[error("no document {0} in the store")]
    NoDocument(u64),
    /// The intake log could not be read or written. Nothing of the failed
    /// step was kept.
    #[error("store {action} failed: {source}")]
    Log {
        action: &'static str,
        source: LogError,
    },
    /// The intake log is full and its documents cannot be folded into the
    /// tables: intake waits until a checkpoint succeeds.
    #[error(
        "the intake log holds {pending} documents not yet in the tables and takes no more \
         until they are folded: {cause}"
    )]
    LogFull { pending: usize, cause: String },
}

impl From<LogError> for StoreError {
    fn from(source: LogError) -> StoreError {
        StoreError::Log {
            action: "intake log",
            source,
        }
    }
}

/// Makes a new store file under a temporary name and renames it into
/// place once its header and tables are on disk: a power cut during the
/// very first start can then never leave a half-made store behind.
fn create_atomically(path: &Path) -> Result<(), StoreError> {
    let open_error = |e: std::io::Error| StoreError::Open {
        path: path.display().to_string(),
        source: redb::DatabaseError::Storage(redb::StorageError::Io(e)),
    };
    let mut temp = path.as_os_str().to_owned();
    temp.push(".creating");
    let temp = std::path::PathBuf::from(temp);
    if temp.exists() {
        std::fs::remove_file(&temp).map_err(open_error)?;
    }
    let database = Database::create(&temp).map_err(|source| StoreError::Open {
        path: temp.display().to_string(),
        source,
    })?;
    let tx = database.begin_write().map_err(db("create tables"))?;
    Tables::open(&tx)?;
    tx.commit().map_err(db("create tables"))?;
    drop(database);
    std::fs::rename(&temp, path).map_err(open_error)?;
    let folder = pos_bridge::spool::folder_of(path);
    pos_bridge::spool::sync_dir(folder).map_err(|e| open_error(e.source))?;
    Ok(())
}

impl StoreError {
    /// Names the whole operation in a failure of one of its steps, so the
    /// message says "intake" rather than only "state index".
    fn during(self, operation: &'static str) -> StoreError {
        match self {
            StoreError::Db { action, source } if action != operation => StoreError::Db {
                action: join(operation, action),
                source,
            },
            other => other,
        }
    }
}

/// "intake" + "state index" -> "intake (state index)". The pairs are few
/// and fixed, so each is made once and kept for the life of the process.
fn join(operation: &'static str, step: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static JOINED: OnceLock<Mutex<HashMap<(&str, &str), &'static str>>> = OnceLock::new();
    let mut map = JOINED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry((operation, step))
        .or_insert_with(|| Box::leak(format!("{operation} ({step})").into_boxed_str()))
}

fn db<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Db {
        action,
        source: e.into(),
    }
}

/// A document's identity at its source, `kind:external id`: the key of
/// the `latest` table (built without the formatting machinery: it is on
/// the intake's hot path).
fn identity_key(kind: Kind, external_id: &str) -> String {
    let name = kind.name();
    let mut key = String::with_capacity(name.len() + 1 + external_id.len());
    key.push_str(name);
    key.push(':');
    key.push_str(external_id);
    key
}

/// One revision of an identity, `kind:external id:revision`: the key of
/// the `dedup` table, and of the intake log's documents not yet folded.
fn revision_key(identity: &str, revision: &str) -> String {
    let mut key = String::with_capacity(identity.len() + 1 + revision.len());
    key.push_str(identity);
    key.push(':');
    key.push_str(revision);
    key
}

/// The dedup key of a document offered to the store.
pub fn dedup_key(doc: &Intake) -> String {
    revision_key(&identity_key(doc.kind, &doc.external_id), &doc.revision)
}

fn codec(action: &'static str) -> impl FnOnce(CodecError) -> StoreError {
    move |source| StoreError::Codec { action, source }
}

/// A document offered to the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Intake {
    /// What it is.
    pub kind: Kind,
    /// Its id at the source.
    pub external_id: String,
    /// Its revision at the source.
    pub revision: String,
    /// Business day.
    pub day: Date,
    /// Total including VAT as the source states it.
    pub amount: Decimal,
    /// The source's bytes, kept as received.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The document it was split from, if any.
    pub parent: Option<u64>,
}

/// What intake did with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeOutcome {
    /// Stored as a new document (or a new revision) under this id.
    New(u64),
    /// Already held under this id: nothing was written.
    Duplicate(u64),
}

/// A change of state for one document.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The document.
    pub id: u64,
    /// The state it enters.
    pub to: State,
    /// The reason (kept on the document for held and quarantined states).
    pub note: String,
    /// What was made of it for its destination, if this transition made it.
    pub mapped: Option<Vec<u8>>,
    /// What the destination calls it, once delivered.
    pub delivered_as: Option<String>,
}

impl Transition {
    /// A transition with a note and nothing else.
    pub fn to(id: u64, to: State, note: impl Into<String>) -> Transition {
        Transition {
            id,
            to,
            note: note.into(),
            mapped: None,
            delivered_as: None,
        }
    }
}

/// Opens the database again (after an I/O failure, redb refuses further
/// work on the handle that saw it).
type Opener = dyn Fn() -> Result<Database, StoreError> + Send + Sync;

/// The store. Cheap to clone; all clones share one database, one intake
/// log and the thread that checkpoints it.
#[derive(Clone)]
pub struct Store {
    core: Core,
    _checkpointer: Arc<Checkpointer>,
}

/// What every clone of the store (and its checkpointer) shares.
#[derive(Clone)]
struct Core {
    db: Arc<RwLock<Option<Arc<Database>>>>,
    opener: Arc<Opener>,
    failed: Arc<AtomicBool>,
    two_phase: bool,
    intake: Arc<IntakeLog>,
}

impl Store {
    /// Opens (or creates) the store file, its tables and its intake log
    /// (`relais.redb` -> `relais.intake-log`), with single-phase commits
    /// (see the module doc).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, false)
    }

    /// Opens the store, with two-phase commits if `two_phase`.
    pub fn open_with(path: &Path, two_phase: bool) -> Result<Store, StoreError> {
        if !path.exists() {
            create_atomically(path)?;
        }
        let log_path = log::path_for(path);
        let log_file = log::open_file(&log_path).map_err(|e| StoreError::Open {
            path: log_path.display().to_string(),
            source: redb::DatabaseError::Storage(redb::StorageError::Io(e)),
        })?;
        let path = path.to_path_buf();
        let opener = Arc::new(move || {
            // redb's default page cache is 1 GiB; a box has far less, and a
            // bounded cache keeps memory flat however large the backlog grows.
            redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create(&path)
                .map_err(|source| StoreError::Open {
                    path: path.display().to_string(),
                    source,
                })
        });
        let label = log_path.display().to_string();
        Store::with_opener(opener, Arc::new(log_file), &label, two_phase)
    }

    /// Opens a store on a storage layer made by `backend` and an intake log
    /// on `log` (the fault tests use [`faults::FaultyBackend`] and
    /// [`faults::FaultyLog`]); `backend` is called again to reopen.
    pub fn open_with_backend<B: redb::StorageBackend>(
        backend: impl Fn() -> std::io::Result<B> + Send + Sync + 'static,
        log: Arc<dyn LogFile>,
        label: &str,
    ) -> Result<Store, StoreError> {
        let db_label = label.to_string();
        let opener = Arc::new(move || {
            let open_error = |e: std::io::Error| StoreError::Open {
                path: db_label.clone(),
                source: redb::DatabaseError::Storage(redb::StorageError::Io(e)),
            };
            redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create_with_backend(backend().map_err(open_error)?)
                .map_err(|source| StoreError::Open {
                    path: db_label.clone(),
                    source,
                })
        });
        Store::with_opener(opener, log, &format!("{label} (intake log)"), false)
    }

    fn with_opener(
        opener: Arc<Opener>,
        log_file: Arc<dyn LogFile>,
        log_label: &str,
        two_phase: bool,
    ) -> Result<Store, StoreError> {
        let database = opener()?;
        let (folded, next_id) = tables_and_counters(&database)?;
        let log = log::Log::open(log_file, log_label, folded, next_id)?;
        let core = Core {
            db: Arc::new(RwLock::new(Some(Arc::new(database)))),
            opener,
            failed: Arc::new(AtomicBool::new(false)),
            two_phase,
            intake: Arc::new(IntakeLog::new(log)),
        };
        // What the log held at a crash goes into the tables now; if that
        // fails (a full disk) the log keeps it and intake and reads go on.
        if let Err(e) = core.checkpoint() {
            tracing::warn!(error = %e, "store: the intake log could not be folded at opening");
        }
        let checkpointer = Checkpointer::start(core.clone())?;
        Ok(Store {
            core,
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// Stores new documents durably; documents already held are skipped. A
    /// new revision of a document supersedes older revisions that were not
    /// delivered yet (when the tables take it, before any read or write
    /// sees it).
    ///
    /// The documents are appended to the intake log as one record and
    /// synced: when this returns they survive a power cut, and the source
    /// may be acknowledged.
    pub fn intake(&self, docs: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        self.core.log_intake(docs)
    }

    /// Folds every document of the intake log into the tables now, and
    /// returns how many. Reads and writes do it first by themselves; the
    /// store's checkpointer does it in the background.
    pub fn checkpoint(&self) -> Result<usize, StoreError> {
        self.core.checkpoint()
    }

    /// Documents in the intake log not yet folded into the tables.
    pub fn intake_pending(&self) -> usize {
        self.core.intake.pending()
    }

    /// Applies state transitions in one commit, each with its audit entry.
    pub fn apply(&self, transitions: Vec<Transition>) -> Result<(), StoreError> {
        self.core.write("state change", |w| {
            let now = Timestamp::now();
            for t in transitions {
                w.transition(t, now)?;
            }
            Ok(())
        })
    }

    /// Stores new documents and applies transitions in one commit: a
    /// decision that makes a document (an order's amendment) and moves its
    /// source is then never seen half done after a crash.
    pub fn intake_and_apply(
        &self,
        docs: Vec<Intake>,
        transitions: Vec<Transition>,
    ) -> Result<Vec<IntakeOutcome>, StoreError> {
        self.core
            .write_with_intake("decision", docs, |w, outcomes, now| {
                for t in transitions {
                    w.transition(t, now)?;
                }
                Ok(outcomes)
            })
    }

    /// Groups queued documents into a batch under a stable name, in one
    /// commit: from then on, the batch is rewritten under the same name until
    /// it is marked delivered.
    pub fn create_batch(
        &self,
        dest: Dest,
        docs: &[u64],
        name: impl FnOnce(u64) -> String,
    ) -> Result<Batch, StoreError> {
        self.core.write("create batch", |w| {
            let id = w.next_id(NEXT_BATCH)?;
            let batch = Batch {
                id,
                dest,
                name: name(id),
                docs: docs.to_vec(),
                staged: false,
                delivered: false,
            };
            w.put_batch(&batch)?;
            let now = Timestamp::now();
            for &doc in docs {
                let note = format!("in batch {}", batch.name);
                w.transition(Transition::to(doc, State::Batched(dest), note), now)?;
            }
            Ok(batch)
        })
    }

    /// Stores new documents and moves a cursor in one commit: work derived
    /// from a range of events (notes for the orders of a batch) is then
    /// either wholly recorded with its cursor, or not at all.
    pub fn intake_with_cursor(
        &self,
        docs: Vec<Intake>,
        cursor: &str,
        value: &str,
    ) -> Result<Vec<IntakeOutcome>, StoreError> {
        self.core
            .write_with_intake("intake", docs, |w, outcomes, _| {
                w.cursors
                    .insert(cursor, value)
                    .map_err(db("write cursor"))?;
                Ok(outcomes)
            })
    }

    /// Records that a batch's file is complete under its temporary name.
    pub fn stage_batch(&self, batch: &Batch) -> Result<Batch, StoreError> {
        self.core.write("stage batch", |w| {
            let staged = Batch {
                staged: true,
                ..batch.clone()
            };
            w.put_batch(&staged)?;
            Ok(staged)
        })
    }

    /// Marks a batch and its documents delivered, in one commit.
    pub fn complete_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        self.core.write("complete batch", |w| {
            let done = Batch {
                delivered: true,
                ..batch.clone()
            };
            w.put_batch(&done)?;
            let now = Timestamp::now();
            for &doc in &batch.docs {
                let t = Transition {
                    delivered_as: Some(batch.name.clone()),
                    ..Transition::to(doc, State::Delivered(batch.dest), "written")
                };
                w.transition(t, now)?;
            }
            w.bump(&format!("last_success:{}", batch.dest.name()), now)?;
            Ok(())
        })
    }

    /// Sends a quarantined (or held) document back to be decided again, as
    /// an operator does once the cause is fixed. Returns false if the
    /// document was not quarantined or held.
    pub fn release(&self, id: u64, by: &str) -> Result<bool, StoreError> {
        self.core.write("release", |w| {
            let meta = w.meta(id)?;
            if !matches!(meta.state, State::Quarantined | State::Held) {
                return Ok(false);
            }
            let note = format!("released by {by}");
            w.transition(Transition::to(id, State::Stored, note), Timestamp::now())?;
            Ok(true)
        })
    }

    /// Removes up to `limit` documents of `kind` in `state` received
    /// before `before`, oldest first, in one commit; returns how many. Only
    /// what is worth nothing once delivered is pruned (telemetry), so the
    /// store stays bounded on a box that runs for years.
    pub fn prune(
        &self,
        kind: Kind,
        state: State,
        before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let old: Vec<DocMeta> = self
            .in_state(state, limit)?
            .into_iter()
            .filter(|m| m.kind == kind && m.received_at < before)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        self.core.write("prune", |w| {
            let mut removed = 0;
            for seen in &old {
                // Read again inside the transaction: only what is still in
                // that state goes.
                let meta = w.meta(seen.id)?;
                if meta.state == state {
                    w.remove(&meta)?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
    }

    /// Advances a cursor, durably.
    pub fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.core.write("advance cursor", |w| {
            w.cursors.insert(name, value).map_err(db("write cursor"))?;
            Ok(())
        })
    }

    /// Records that a peer answered well just now.
    pub fn record_success(&self, peer: &str) -> Result<(), StoreError> {
        self.core.write("record success", |w| {
            w.bump(&format!("last_success:{peer}"), Timestamp::now())
        })
    }
}

impl Core {
    /// The current database handle.
    fn database(&self) -> Result<Arc<Database>, StoreError> {
        let guard = self.db.read().unwrap_or_else(|e| e.into_inner());
        guard.clone().ok_or(StoreError::Reopening)
    }

    /// After an I/O failure, drops the handle and opens the file again, so
    /// that work resumes by itself once the cause (a full disk) is gone.
    fn reopen_if_failed(&self) -> Result<(), StoreError> {
        if !self.failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut guard = self.db.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = guard.take() {
            drop(old);
        }
        *guard = Some(Arc::new((self.opener)()?));
        self.failed.store(false, Ordering::SeqCst);
        tracing::warn!("store reopened after an I/O failure");
        Ok(())
    }

    /// Folds the intake log, then runs `body` in one write transaction and
    /// commits it durably: a write always sees every document taken in
    /// before it.
    fn write<T>(
        &self,
        action: &'static str,
        body: impl FnOnce(&mut Tables<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.checkpoint().map_err(|e| e.during(action))?;
        self.commit(action, body)
    }

    /// One write transaction, committed durably; an I/O failure marks the
    /// handle for reopening.
    fn commit<T>(
        &self,
        action: &'static str,
        body: impl FnOnce(&mut Tables<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.reopen_if_failed()?;
        let result = self.try_commit(action, body);
        if let Err(StoreError::Db { source, .. }) = &result {
            if matches!(source, redb::Error::Io(_) | redb::Error::PreviousIo) {
                self.failed.store(true, Ordering::SeqCst);
            }
        }
        result
    }

    fn try_commit<T>(
        &self,
        action: &'static str,
        body: impl FnOnce(&mut Tables<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.database()?.begin_write().map_err(db(action))?;
        tx.set_two_phase_commit(self.two_phase);
        let value = {
            let mut tables = Tables::open(&tx)?;
            body(&mut tables).map_err(|e| e.during(action))?
        };
        tx.commit().map_err(db(action))?;
        Ok(value)
    }
}

/// Creates any missing table and reads where the intake log was folded to
/// and the next document id.
fn tables_and_counters(database: &Database) -> Result<(u64, u64), StoreError> {
    let tx = database.begin_write().map_err(db("create tables"))?;
    let counters = {
        let mut tables = Tables::open(&tx)?;
        tables.catch_up_indexes()?;
        (
            tables.counter(LOG_FOLDED)?,
            tables.counter(NEXT_DOC)?.max(1),
        )
    };
    tx.commit().map_err(db("create tables"))?;
    Ok(counters)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod received_tests;
