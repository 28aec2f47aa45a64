//! The durable store: every document, its state, its history, the dedup keys
//! and the cursors, in one redb file.
//!
//! This module owns every table layout; nothing else names a table. Each
//! public write is one redb transaction committed with immediate durability:
//! when the method returns, the change is on disk, and only then may the
//! caller tell a source "got it" (DESIGN.md invariant 1). Callers group
//! several documents in one call to spare the SD card.
//!
//! Tables:
//! - `documents`: id -> [`DocMeta`]; `bodies`: id -> the source's bytes;
//!   `mapped`: id -> what was made of it for its destination.
//! - `states`: (state code, id) -> (): the index that makes each state a
//!   queue in intake order, read in ranges so memory does not grow with it.
//! - `dedup`: "kind:external id:revision" -> id; `latest`: "kind:external id"
//!   -> id of its newest revision.
//! - `audit`: (id, n) -> [`AuditEntry`]; `batches`: id -> [`Batch`];
//!   `cursors`: name -> text; `counters`: name -> u64.

mod document;

use std::path::Path;

use jiff::civil::Date;
use jiff::Timestamp;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use rust_decimal::Decimal;

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

const NEXT_DOC: &str = "next_doc_id";
const NEXT_BATCH: &str = "next_batch_id";

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
    /// A document id that the store does not hold.
    #[error("no document {0} in the store")]
    NoDocument(u64),
}

fn db<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Db {
        action,
        source: e.into(),
    }
}

fn codec(action: &'static str) -> impl FnOnce(CodecError) -> StoreError {
    move |source| StoreError::Codec { action, source }
}

/// A document offered to the store.
#[derive(Debug, Clone)]
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

/// The store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    db: std::sync::Arc<Database>,
}

impl Store {
    /// Opens (or creates) the store file and its tables.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let database = Database::create(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let store = Store {
            db: std::sync::Arc::new(database),
        };
        store.write("create tables", |tx| {
            let err = db("create tables");
            let created = (|| {
                tx.open_table(DOCUMENTS)?;
                tx.open_table(BODIES)?;
                tx.open_table(MAPPED)?;
                tx.open_table(STATES)?;
                tx.open_table(DEDUP)?;
                tx.open_table(LATEST)?;
                tx.open_table(AUDIT)?;
                tx.open_table(BATCHES)?;
                tx.open_table(CURSORS)?;
                tx.open_table(COUNTERS)?;
                Ok::<(), redb::TableError>(())
            })();
            created.map_err(err)
        })?;
        Ok(store)
    }

    /// Runs `body` in one write transaction and commits it durably.
    fn write<T>(
        &self,
        action: &'static str,
        body: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.db.begin_write().map_err(db(action))?;
        tx.set_two_phase_commit(true);
        let value = body(&tx)?;
        tx.commit().map_err(db(action))?;
        Ok(value)
    }

    /// Stores new documents in one commit; documents already held are skipped.
    /// A new revision of a document supersedes older revisions that were not
    /// delivered yet.
    pub fn intake(&self, docs: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        self.write("intake", |tx| {
            let now = Timestamp::now();
            docs.into_iter()
                .map(|doc| intake_one(tx, doc, now))
                .collect()
        })
    }

    /// Applies state transitions in one commit, each with its audit entry.
    pub fn apply(&self, transitions: Vec<Transition>) -> Result<(), StoreError> {
        self.write("state change", |tx| {
            let now = Timestamp::now();
            for t in transitions {
                transition(tx, t, now)?;
            }
            Ok(())
        })
    }

    /// Up to `limit` documents in `state`, oldest first.
    pub fn in_state(&self, state: State, limit: usize) -> Result<Vec<DocMeta>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let index = tx.open_table(STATES).map_err(db("read states"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        let code = state.code();
        let mut out = Vec::new();
        for entry in index
            .range((code, 0)..=(code, u64::MAX))
            .map_err(db("read states"))?
        {
            if out.len() >= limit {
                break;
            }
            let (key, _) = entry.map_err(db("read states"))?;
            let id = key.value().1;
            out.push(read_meta(&docs, id)?);
        }
        Ok(out)
    }

    /// Number of documents per state.
    pub fn count_states(&self) -> Result<Vec<(State, u64)>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let index = tx.open_table(STATES).map_err(db("read states"))?;
        let mut out = Vec::new();
        for state in State::ALL {
            let code = state.code();
            let range = index
                .range((code, 0)..=(code, u64::MAX))
                .map_err(db("count"))?;
            out.push((state, range.count() as u64));
        }
        Ok(out)
    }

    /// One document's metadata.
    pub fn meta(&self, id: u64) -> Result<DocMeta, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        read_meta(&docs, id)
    }

    /// Visits every document's metadata in id order, without holding them all.
    pub fn for_each_doc(&self, mut visit: impl FnMut(DocMeta)) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        for entry in docs.iter().map_err(db("read documents"))? {
            let (_, value) = entry.map_err(db("read documents"))?;
            visit(decode(value.value()).map_err(codec("read document"))?);
        }
        Ok(())
    }

    /// The source's bytes of a document.
    pub fn body(&self, id: u64) -> Result<Vec<u8>, StoreError> {
        self.blob(BODIES, id)
    }

    /// What was made of a document for its destination.
    pub fn mapped(&self, id: u64) -> Result<Vec<u8>, StoreError> {
        self.blob(MAPPED, id)
    }

    fn blob(&self, table: TableDefinition<u64, &[u8]>, id: u64) -> Result<Vec<u8>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let t = tx.open_table(table).map_err(db("read"))?;
        let value = t
            .get(id)
            .map_err(db("read"))?
            .ok_or(StoreError::NoDocument(id))?;
        Ok(value.value().to_vec())
    }

    /// Finds the newest revision of a document by its source id.
    pub fn find(&self, kind: Kind, external_id: &str) -> Result<Option<DocMeta>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let latest = tx.open_table(LATEST).map_err(db("read"))?;
        let key = format!("{}:{external_id}", kind.name());
        let Some(id) = latest
            .get(key.as_str())
            .map_err(db("read"))?
            .map(|v| v.value())
        else {
            return Ok(None);
        };
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        read_meta(&docs, id).map(Some)
    }

    /// A document's history, oldest first.
    pub fn audit(&self, id: u64) -> Result<Vec<AuditEntry>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let audit = tx.open_table(AUDIT).map_err(db("read audit"))?;
        let mut out = Vec::new();
        for entry in audit
            .range((id, 0)..=(id, u32::MAX))
            .map_err(db("read audit"))?
        {
            let (_, value) = entry.map_err(db("read audit"))?;
            out.push(decode(value.value()).map_err(codec("read audit"))?);
        }
        Ok(out)
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
        self.write("create batch", |tx| {
            let id = next_id(tx, NEXT_BATCH)?;
            let batch = Batch {
                id,
                dest,
                name: name(id),
                docs: docs.to_vec(),
                delivered: false,
            };
            put_batch(tx, &batch)?;
            let now = Timestamp::now();
            for &doc in docs {
                let note = format!("in batch {}", batch.name);
                transition(tx, Transition::to(doc, State::Batched(dest), note), now)?;
            }
            Ok(batch)
        })
    }

    /// Batches not yet delivered, oldest first (after a crash, these are
    /// written again under their names).
    pub fn open_batches(&self, dest: Dest) -> Result<Vec<Batch>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let table = tx.open_table(BATCHES).map_err(db("read batches"))?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db("read batches"))? {
            let (_, value) = entry.map_err(db("read batches"))?;
            let batch: Batch = decode(value.value()).map_err(codec("read batch"))?;
            if batch.dest == dest && !batch.delivered {
                out.push(batch);
            }
        }
        Ok(out)
    }

    /// Marks a batch and its documents delivered, in one commit.
    pub fn complete_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        self.write("complete batch", |tx| {
            let done = Batch {
                delivered: true,
                ..batch.clone()
            };
            put_batch(tx, &done)?;
            let now = Timestamp::now();
            for &doc in &batch.docs {
                let t = Transition {
                    delivered_as: Some(batch.name.clone()),
                    ..Transition::to(doc, State::Delivered(batch.dest), "written")
                };
                transition(tx, t, now)?;
            }
            bump(tx, &format!("last_success:{}", batch.dest.name()), now)?;
            Ok(())
        })
    }

    /// Sends a quarantined (or held) document back to be decided again, as
    /// an operator does once the cause is fixed. Returns false if the
    /// document was not quarantined or held.
    pub fn release(&self, id: u64, by: &str) -> Result<bool, StoreError> {
        self.write("release", |tx| {
            let docs = tx.open_table(DOCUMENTS).map_err(db("read document"))?;
            let meta = read_meta(&docs, id)?;
            drop(docs);
            if !matches!(meta.state, State::Quarantined | State::Held) {
                return Ok(false);
            }
            let note = format!("released by {by}");
            transition(
                tx,
                Transition::to(id, State::Stored, note),
                Timestamp::now(),
            )?;
            Ok(true)
        })
    }

    /// Reads a cursor.
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let t = tx.open_table(CURSORS).map_err(db("read cursors"))?;
        let value = t
            .get(name)
            .map_err(db("read cursor"))?
            .map(|v| v.value().to_string());
        Ok(value)
    }

    /// Advances a cursor, durably.
    pub fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.write("advance cursor", |tx| {
            let mut t = tx.open_table(CURSORS).map_err(db("write cursor"))?;
            t.insert(name, value).map_err(db("write cursor"))?;
            Ok(())
        })
    }

    /// Records that a peer answered well just now.
    pub fn record_success(&self, peer: &str) -> Result<(), StoreError> {
        self.write("record success", |tx| {
            bump(tx, &format!("last_success:{peer}"), Timestamp::now())
        })
    }

    /// When a peer last answered well.
    pub fn last_success(&self, peer: &str) -> Result<Option<Timestamp>, StoreError> {
        let tx = self.db.begin_read().map_err(db("read"))?;
        let t = tx.open_table(COUNTERS).map_err(db("read counters"))?;
        let key = format!("last_success:{peer}");
        let secs = t
            .get(key.as_str())
            .map_err(db("read counter"))?
            .map(|v| v.value());
        Ok(secs.and_then(|s| Timestamp::from_second(s as i64).ok()))
    }
}

fn read_meta(
    docs: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
) -> Result<DocMeta, StoreError> {
    let value = docs
        .get(id)
        .map_err(db("read document"))?
        .ok_or(StoreError::NoDocument(id))?;
    decode(value.value()).map_err(codec("read document"))
}

fn next_id(tx: &WriteTransaction, name: &str) -> Result<u64, StoreError> {
    let mut counters = tx.open_table(COUNTERS).map_err(db("next id"))?;
    let id = counters
        .get(name)
        .map_err(db("next id"))?
        .map_or(1, |v| v.value());
    counters.insert(name, id + 1).map_err(db("next id"))?;
    Ok(id)
}

fn bump(tx: &WriteTransaction, name: &str, at: Timestamp) -> Result<(), StoreError> {
    let mut counters = tx.open_table(COUNTERS).map_err(db("counter"))?;
    counters
        .insert(name, at.as_second().max(0) as u64)
        .map_err(db("counter"))?;
    Ok(())
}

fn put_batch(tx: &WriteTransaction, batch: &Batch) -> Result<(), StoreError> {
    let bytes = encode(batch).map_err(codec("write batch"))?;
    let mut table = tx.open_table(BATCHES).map_err(db("write batch"))?;
    table
        .insert(batch.id, bytes.as_slice())
        .map_err(db("write batch"))?;
    Ok(())
}

fn put_meta(tx: &WriteTransaction, meta: &DocMeta) -> Result<(), StoreError> {
    let bytes = encode(meta).map_err(codec("write document"))?;
    let mut docs = tx.open_table(DOCUMENTS).map_err(db("write document"))?;
    docs.insert(meta.id, bytes.as_slice())
        .map_err(db("write document"))?;
    Ok(())
}

fn add_audit(tx: &WriteTransaction, id: u64, entry: &AuditEntry) -> Result<(), StoreError> {
    let mut audit = tx.open_table(AUDIT).map_err(db("write audit"))?;
    let n = audit
        .range((id, 0)..=(id, u32::MAX))
        .map_err(db("write audit"))?
        .next_back()
        .transpose()
        .map_err(db("write audit"))?
        .map_or(0, |(k, _)| k.value().1 + 1);
    let bytes = encode(entry).map_err(codec("write audit"))?;
    audit
        .insert((id, n), bytes.as_slice())
        .map_err(db("write audit"))?;
    Ok(())
}

fn intake_one(
    tx: &WriteTransaction,
    doc: Intake,
    now: Timestamp,
) -> Result<IntakeOutcome, StoreError> {
    let identity = format!("{}:{}", doc.kind.name(), doc.external_id);
    let dedup_key = format!("{identity}:{}", doc.revision);
    let mut dedup = tx.open_table(DEDUP).map_err(db("intake"))?;
    if let Some(id) = dedup.get(dedup_key.as_str()).map_err(db("intake"))? {
        return Ok(IntakeOutcome::Duplicate(id.value()));
    }
    let id = next_id(tx, NEXT_DOC)?;
    dedup.insert(dedup_key.as_str(), id).map_err(db("intake"))?;
    let mut latest = tx.open_table(LATEST).map_err(db("intake"))?;
    let previous = latest
        .insert(identity.as_str(), id)
        .map_err(db("intake"))?
        .map(|v| v.value());
    drop((dedup, latest));
    tx.open_table(BODIES)
        .map_err(db("intake"))?
        .insert(id, doc.body.as_slice())
        .map_err(db("intake"))?;
    let meta = DocMeta {
        id,
        kind: doc.kind,
        external_id: doc.external_id,
        revision: doc.revision,
        day: doc.day,
        received_at: now,
        amount: doc.amount,
        state: State::Stored,
        reason: None,
        delivered_as: None,
        parent: doc.parent,
    };
    put_meta(tx, &meta)?;
    set_state_index(tx, None, State::Stored, id)?;
    let entry = AuditEntry {
        at: now,
        state: State::Stored,
        note: "received".into(),
    };
    add_audit(tx, id, &entry)?;
    if let Some(old) = previous {
        supersede(tx, old, id, now)?;
    }
    Ok(IntakeOutcome::New(id))
}

/// An older revision that has not left yet is replaced by the newer one.
fn supersede(tx: &WriteTransaction, old: u64, new: u64, now: Timestamp) -> Result<(), StoreError> {
    let docs = tx.open_table(DOCUMENTS).map_err(db("read document"))?;
    let meta = read_meta(&docs, old)?;
    drop(docs);
    if matches!(
        meta.state,
        State::Stored | State::Held | State::Queued(_) | State::Quarantined
    ) {
        let note = format!("replaced by revision {new}");
        transition(tx, Transition::to(old, State::Superseded, note), now)?;
    }
    Ok(())
}

fn set_state_index(
    tx: &WriteTransaction,
    from: Option<State>,
    to: State,
    id: u64,
) -> Result<(), StoreError> {
    let mut index = tx.open_table(STATES).map_err(db("state index"))?;
    if let Some(from) = from {
        index.remove((from.code(), id)).map_err(db("state index"))?;
    }
    index
        .insert((to.code(), id), ())
        .map_err(db("state index"))?;
    Ok(())
}

fn transition(tx: &WriteTransaction, t: Transition, now: Timestamp) -> Result<(), StoreError> {
    let docs = tx.open_table(DOCUMENTS).map_err(db("read document"))?;
    let mut meta = read_meta(&docs, t.id)?;
    drop(docs);
    let from = meta.state;
    meta.state = t.to;
    meta.reason = match t.to {
        State::Held | State::Quarantined => Some(t.note.clone()),
        _ => None,
    };
    if t.delivered_as.is_some() {
        meta.delivered_as = t.delivered_as;
    }
    put_meta(tx, &meta)?;
    set_state_index(tx, Some(from), t.to, t.id)?;
    if let Some(mapped) = t.mapped {
        let mut table = tx.open_table(MAPPED).map_err(db("write mapped"))?;
        table
            .insert(t.id, mapped.as_slice())
            .map_err(db("write mapped"))?;
    }
    add_audit(
        tx,
        t.id,
        &AuditEntry {
            at: now,
            state: t.to,
            note: t.note,
        },
    )
}

#[cfg(test)]
mod tests;
