//! The read side of the store. Every read first folds what the intake log
//! holds (so a document taken in is seen by the next read), or, if that
//! fails, reads the tables as they are and says so in the log.

use jiff::Timestamp;
use redb::{ReadableDatabase, ReadableTable};

use super::{
    codec, db, decode, AuditEntry, Batch, Dest, DocMeta, Kind, State, Store, StoreError, AUDIT,
    BATCHES, BODIES, COUNTERS, CURSORS, DOCUMENTS, LATEST, MAPPED, OPEN_BATCHES, RECEIVED, STATES,
};
use redb::TableDefinition;

impl Store {
    /// Up to `limit` documents in `state`, oldest first.
    pub fn in_state(&self, state: State, limit: usize) -> Result<Vec<DocMeta>, StoreError> {
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
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
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
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
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        read_meta(&docs, id)
    }

    /// Visits every document's metadata in id order, without holding them all.
    pub fn for_each_doc(&self, mut visit: impl FnMut(DocMeta)) -> Result<(), StoreError> {
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        for entry in docs.iter().map_err(db("read documents"))? {
            let (_, value) = entry.map_err(db("read documents"))?;
            visit(decode(value.value()).map_err(codec("read document"))?);
        }
        Ok(())
    }

    /// Visits the metadata of the documents taken in from `from` until
    /// before `until`, by intake second (then id: within a second, or if
    /// the clock went back within one, not by exact time), through the
    /// intake-time index: the rest of the store is not read.
    pub fn for_each_received(
        &self,
        from: Timestamp,
        until: Timestamp,
        mut visit: impl FnMut(DocMeta),
    ) -> Result<(), StoreError> {
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let index = tx.open_table(RECEIVED).map_err(db("read intake times"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        let range = (from.as_second(), 0)..=(until.as_second(), u64::MAX);
        for entry in index.range(range).map_err(db("read intake times"))? {
            let (key, _) = entry.map_err(db("read intake times"))?;
            let meta = match read_meta(&docs, key.value().1) {
                Ok(meta) => meta,
                // Removed by a Relais that kept no index: nothing to show.
                Err(StoreError::NoDocument(_)) => continue,
                Err(e) => return Err(e),
            };
            if meta.received_at >= from && meta.received_at < until {
                visit(meta);
            }
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
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let t = tx.open_table(table).map_err(db("read"))?;
        let value = t
            .get(id)
            .map_err(db("read"))?
            .ok_or(StoreError::NoDocument(id))?;
        Ok(value.value().to_vec())
    }

    /// Finds the newest revision of a document by its source id.
    pub fn find(&self, kind: Kind, external_id: &str) -> Result<Option<DocMeta>, StoreError> {
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let latest = tx.open_table(LATEST).map_err(db("read"))?;
        let key = super::identity_key(kind, external_id);
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
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let audit = tx.open_table(AUDIT).map_err(db("read audit"))?;
        let docs = tx.open_table(DOCUMENTS).map_err(db("read documents"))?;
        let mut out = Vec::new();
        // Intake writes no audit entry: the first is the receipt itself.
        if let Ok(meta) = read_meta(&docs, id) {
            out.push(AuditEntry {
                at: meta.received_at,
                state: State::Stored,
                note: "received".into(),
            });
        }
        for entry in audit
            .range((id, 0)..=(id, u32::MAX))
            .map_err(db("read audit"))?
        {
            let (_, value) = entry.map_err(db("read audit"))?;
            out.push(decode(value.value()).map_err(codec("read audit"))?);
        }
        Ok(out)
    }

    /// Batches not yet delivered, oldest first (after a crash, these are
    /// written again under their names).
    pub fn open_batches(&self, dest: Dest) -> Result<Vec<Batch>, StoreError> {
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let index = tx
            .open_table(OPEN_BATCHES)
            .map_err(db("read open batches"))?;
        let table = tx.open_table(BATCHES).map_err(db("read batches"))?;
        let code = dest.code();
        let mut out = Vec::new();
        for entry in index
            .range((code, 0)..=(code, u64::MAX))
            .map_err(db("read open batches"))?
        {
            let (key, _) = entry.map_err(db("read open batches"))?;
            let Some(value) = table.get(key.value().1).map_err(db("read batches"))? else {
                continue;
            };
            let batch: Batch = decode(value.value()).map_err(codec("read batch"))?;
            // The index may be behind a Relais that kept none: the batch
            // itself says whether it is still open.
            if batch.dest == dest && !batch.delivered {
                out.push(batch);
            }
        }
        Ok(out)
    }

    /// Up to `limit` batches for `dest` with an id above `after`, by id.
    pub fn batches_after(
        &self,
        dest: Dest,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Batch>, StoreError> {
        self.core.fresh();
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let table = tx.open_table(BATCHES).map_err(db("read batches"))?;
        let mut out = Vec::new();
        let start = after.saturating_add(1);
        for entry in table.range(start..).map_err(db("read batches"))? {
            if out.len() >= limit {
                break;
            }
            let (_, value) = entry.map_err(db("read batches"))?;
            let batch: Batch = decode(value.value()).map_err(codec("read batch"))?;
            if batch.dest == dest {
                out.push(batch);
            }
        }
        Ok(out)
    }

    /// Reads a cursor.
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let t = tx.open_table(CURSORS).map_err(db("read cursors"))?;
        let value = t
            .get(name)
            .map_err(db("read cursor"))?
            .map(|v| v.value().to_string());
        Ok(value)
    }

    /// When a peer last answered well.
    pub fn last_success(&self, peer: &str) -> Result<Option<Timestamp>, StoreError> {
        let tx = self.core.database()?.begin_read().map_err(db("read"))?;
        let t = tx.open_table(COUNTERS).map_err(db("read counters"))?;
        let key = format!("last_success:{peer}");
        let secs = t
            .get(key.as_str())
            .map_err(db("read counter"))?
            .map(|v| v.value());
        Ok(secs.and_then(|s| Timestamp::from_second(s as i64).ok()))
    }
}

pub(super) fn read_meta(
    docs: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
) -> Result<DocMeta, StoreError> {
    let value = docs
        .get(id)
        .map_err(db("read document"))?
        .ok_or(StoreError::NoDocument(id))?;
    decode(value.value()).map_err(codec("read document"))
}
