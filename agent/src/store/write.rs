//! The write side of the store: every table a write transaction touches,
//! opened once per transaction, and the steps that change them.

use jiff::Timestamp;
use redb::{ReadableTable, Table, WriteTransaction};

use super::log::{self, FoldRange, LogFile};
use super::{
    codec, db, decode, encode, identity_key, revision_key, AuditEntry, Batch, DocMeta, Intake,
    IntakeOutcome, State, StoreError, Transition, AUDIT, BATCHES, BODIES, COUNTERS, CURSORS, DEDUP,
    DOCUMENTS, INDEXED_BATCHES, INDEXED_DOCS, LATEST, MAPPED, NEXT_BATCH, NEXT_DOC, OPEN_BATCHES,
    RECEIVED, STATES,
};

/// The open tables of one write transaction.
pub(super) struct Tables<'t> {
    documents: Table<'t, u64, &'static [u8]>,
    bodies: Table<'t, u64, &'static [u8]>,
    mapped: Table<'t, u64, &'static [u8]>,
    states: Table<'t, (u8, u64), ()>,
    dedup: Table<'t, &'static str, u64>,
    latest: Table<'t, &'static str, u64>,
    audit: Table<'t, (u64, u32), &'static [u8]>,
    batches: Table<'t, u64, &'static [u8]>,
    pub(super) cursors: Table<'t, &'static str, &'static str>,
    counters: Table<'t, &'static str, u64>,
    received: Table<'t, (i64, u64), ()>,
    open_batches: Table<'t, (u8, u64), ()>,
}

impl<'t> Tables<'t> {
    /// Opens (creating if needed) every table in `tx`.
    pub(super) fn open(tx: &'t WriteTransaction) -> Result<Tables<'t>, StoreError> {
        let err = || db("open tables");
        Ok(Tables {
            documents: tx.open_table(DOCUMENTS).map_err(err())?,
            bodies: tx.open_table(BODIES).map_err(err())?,
            mapped: tx.open_table(MAPPED).map_err(err())?,
            states: tx.open_table(STATES).map_err(err())?,
            dedup: tx.open_table(DEDUP).map_err(err())?,
            latest: tx.open_table(LATEST).map_err(err())?,
            audit: tx.open_table(AUDIT).map_err(err())?,
            batches: tx.open_table(BATCHES).map_err(err())?,
            cursors: tx.open_table(CURSORS).map_err(err())?,
            counters: tx.open_table(COUNTERS).map_err(err())?,
            received: tx.open_table(RECEIVED).map_err(err())?,
            open_batches: tx.open_table(OPEN_BATCHES).map_err(err())?,
        })
    }

    /// Puts in the indexes whatever documents and batches came after the
    /// indexes were last known whole (all of them, the first time).
    pub(super) fn catch_up_indexes(&mut self) -> Result<(), StoreError> {
        let next_doc = self.counter(NEXT_DOC)?;
        let docs_from = self.counter(INDEXED_DOCS)?;
        if docs_from < next_doc {
            for entry in self.documents.range(docs_from..).map_err(db("index"))? {
                let (_, value) = entry.map_err(db("index"))?;
                let meta: DocMeta = decode(value.value()).map_err(codec("index"))?;
                self.received
                    .insert((meta.received_at.as_second(), meta.id), ())
                    .map_err(db("index"))?;
            }
            tracing::info!(from = docs_from, "store: intake-time index caught up");
        }
        let next_batch = self.counter(NEXT_BATCH)?;
        let batches_from = self.counter(INDEXED_BATCHES)?;
        if batches_from < next_batch {
            for entry in self.batches.range(batches_from..).map_err(db("index"))? {
                let (_, value) = entry.map_err(db("index"))?;
                let batch: Batch = decode(value.value()).map_err(codec("index"))?;
                if !batch.delivered {
                    self.open_batches
                        .insert((batch.dest.code(), batch.id), ())
                        .map_err(db("index"))?;
                }
            }
        }
        self.raise_counter(INDEXED_DOCS, next_doc)?;
        self.raise_counter(INDEXED_BATCHES, next_batch)
    }

    pub(super) fn meta(&self, id: u64) -> Result<DocMeta, StoreError> {
        let value = self
            .documents
            .get(id)
            .map_err(db("read document"))?
            .ok_or(StoreError::NoDocument(id))?;
        decode(value.value()).map_err(codec("read document"))
    }

    /// A counter's value (0 if never set).
    pub(super) fn counter(&self, name: &str) -> Result<u64, StoreError> {
        let value = self.counters.get(name).map_err(db("read counter"))?;
        Ok(value.map_or(0, |v| v.value()))
    }

    /// Raises a counter to `at_least` (never lowers it).
    fn raise_counter(&mut self, name: &str, at_least: u64) -> Result<(), StoreError> {
        if self.counter(name)? < at_least {
            self.counters
                .insert(name, at_least)
                .map_err(db("write counter"))?;
        }
        Ok(())
    }

    /// The next id of a sequence (batches), starting at 1.
    pub(super) fn next_id(&mut self, name: &str) -> Result<u64, StoreError> {
        let id = self.counter(name)?.max(1);
        self.counters.insert(name, id + 1).map_err(db("next id"))?;
        if name == NEXT_BATCH {
            self.raise_counter(INDEXED_BATCHES, id + 1)?;
        }
        Ok(id)
    }

    pub(super) fn bump(&mut self, name: &str, at: Timestamp) -> Result<(), StoreError> {
        let secs = at.as_second().max(0) as u64;
        self.counters.insert(name, secs).map_err(db("counter"))?;
        Ok(())
    }

    pub(super) fn put_batch(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let bytes = encode(batch).map_err(codec("write batch"))?;
        self.batches
            .insert(batch.id, bytes.as_slice())
            .map_err(db("write batch"))?;
        let key = (batch.dest.code(), batch.id);
        if batch.delivered {
            self.open_batches.remove(key).map_err(db("write batch"))?;
        } else {
            self.open_batches
                .insert(key, ())
                .map_err(db("write batch"))?;
        }
        Ok(())
    }

    fn put_meta(&mut self, meta: &DocMeta) -> Result<(), StoreError> {
        let bytes = encode(meta).map_err(codec("write document"))?;
        self.documents
            .insert(meta.id, bytes.as_slice())
            .map_err(db("write document"))?;
        Ok(())
    }

    /// Appends an audit entry.
    fn add_audit(&mut self, id: u64, entry: &AuditEntry) -> Result<(), StoreError> {
        let n = self
            .audit
            .range((id, 0)..=(id, u32::MAX))
            .map_err(db("write audit"))?
            .next_back()
            .transpose()
            .map_err(db("write audit"))?
            .map_or(0, |(k, _)| k.value().1 + 1);
        let bytes = encode(entry).map_err(codec("write audit"))?;
        self.audit
            .insert((id, n), bytes.as_slice())
            .map_err(db("write audit"))?;
        Ok(())
    }

    /// Stores documents under ids from `next_id` on (one per new document;
    /// a duplicate takes none) and records the next free id.
    pub(super) fn intake_all(
        &mut self,
        docs: Vec<Intake>,
        next_id: &mut u64,
        now: Timestamp,
    ) -> Result<Vec<IntakeOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(docs.len());
        // The tables' counter too: a commit reported as failed may still
        // have landed with documents of its own.
        *next_id = (*next_id).max(self.counter(NEXT_DOC)?);
        for doc in docs {
            while self.id_taken(*next_id)? {
                *next_id += 1;
            }
            let outcome = self.intake_one(doc, *next_id, now)?;
            if matches!(outcome, IntakeOutcome::New(_)) {
                *next_id += 1;
            }
            outcomes.push(outcome);
        }
        self.raise_counter(super::NEXT_DOC, *next_id)?;
        self.raise_counter(INDEXED_DOCS, *next_id)?;
        Ok(outcomes)
    }

    /// Folds the intake log's records in `range` into the tables, skipping
    /// any record already folded (its sequence number is at or below the
    /// one kept here), and records how far it went. Returns how many
    /// documents it stored and the next free id.
    pub(super) fn fold(
        &mut self,
        file: &dyn LogFile,
        label: &str,
        range: FoldRange,
    ) -> Result<(usize, u64), StoreError> {
        let folded_seq = self.counter(super::LOG_FOLDED)?;
        let mut next_id = self.counter(super::NEXT_DOC)?.max(1);
        let mut stored = 0;
        log::for_each_record(file, label, range, |record| {
            if record.seq <= folded_seq {
                return Ok(());
            }
            for logged in record.docs {
                next_id = next_id.max(logged.id + 1);
                // The id is taken only if a Relais that does not know the
                // log (an update rolled back) stored other documents under
                // it; the logged id was told only to the process that
                // logged it, gone since (this one folds its own log before
                // any write), so a fresh one is given.
                let mut id = logged.id;
                if self.id_taken(id)? {
                    while self.id_taken(next_id)? {
                        next_id += 1;
                    }
                    tracing::warn!(
                        id,
                        given = next_id,
                        "store: a logged document's id was taken meanwhile; given a new one"
                    );
                    id = next_id;
                    next_id += 1;
                }
                let outcome = self.intake_one(logged.doc, id, record.received_at)?;
                if matches!(outcome, IntakeOutcome::New(_)) {
                    stored += 1;
                }
            }
            Ok(())
        })?;
        self.raise_counter(super::NEXT_DOC, next_id)?;
        self.raise_counter(INDEXED_DOCS, next_id)?;
        self.raise_counter(super::LOG_FOLDED, range.upto_seq)?;
        Ok((stored, next_id))
    }

    /// Whether a document is stored under `id`.
    fn id_taken(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.documents.get(id).map_err(db("intake"))?.is_some())
    }

    /// Stores one document under `id` (reserved by the caller) unless it is
    /// already held.
    pub(super) fn intake_one(
        &mut self,
        doc: Intake,
        id: u64,
        now: Timestamp,
    ) -> Result<IntakeOutcome, StoreError> {
        let identity = identity_key(doc.kind, &doc.external_id);
        let dedup_key = revision_key(&identity, &doc.revision);
        if let Some(id) = self.dedup.get(dedup_key.as_str()).map_err(db("intake"))? {
            return Ok(IntakeOutcome::Duplicate(id.value()));
        }
        self.dedup
            .insert(dedup_key.as_str(), id)
            .map_err(db("intake"))?;
        let previous = self
            .latest
            .insert(identity.as_str(), id)
            .map_err(db("intake"))?;
        let previous = previous.map(|v| v.value());
        self.bodies
            .insert(id, doc.body.as_slice())
            .map_err(db("intake"))?;
        let mut meta = DocMeta {
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
        self.put_meta(&meta)?;
        self.received
            .insert((now.as_second(), id), ())
            .map_err(db("intake"))?;
        // The "received" audit entry is not written: it is the document's
        // own `received_at`, and `Store::audit` puts it first. One insert
        // less per document is a sixth of the intake's work.
        self.set_state_index(None, State::Stored, id)?;
        if let Some(old) = previous {
            if let Some(base) = self.supersede(old, id, now)? {
                meta.parent = Some(base);
                self.put_meta(&meta)?;
            }
        }
        Ok(IntakeOutcome::New(id))
    }

    /// An older revision that has not left yet is replaced by the newer one.
    ///
    /// For a web order, returns the base of the newer revision: the
    /// revision whose content the ERP holds (or will hold), which the
    /// pipeline compares the newer one with to make an amendment. An old
    /// revision already sent (batched, delivered, confirmed, or itself
    /// turned into an amendment: `done`) is that base; a replaced one
    /// passes its own base on. Any other kind that changes after it left
    /// is held: sending it again would double it at the destination.
    fn supersede(&mut self, old: u64, new: u64, now: Timestamp) -> Result<Option<u64>, StoreError> {
        let meta = self.meta(old)?;
        let order = meta.kind == super::Kind::WebOrder;
        let waiting = [State::Stored, State::Held, State::Quarantined].contains(&meta.state)
            || matches!(meta.state, State::Queued(_));
        let sent = matches!(
            meta.state,
            State::Batched(_) | State::Delivered(_) | State::Confirmed(_)
        );
        if waiting {
            let note = format!("replaced by revision {new}");
            self.transition(Transition::to(old, State::Superseded, note), now)?;
            return Ok(if order { meta.parent } else { None });
        }
        if order && (sent || meta.state == State::Done) {
            return Ok(Some(old));
        }
        if sent {
            let sent_as = meta.delivered_as.unwrap_or_else(|| meta.state.label());
            let note = format!(
                "changed at the source after revision {old} was sent ({sent_as}): \
                 needs an amendment, not a second copy"
            );
            self.transition(Transition::to(new, State::Held, note), now)?;
        }
        Ok(None)
    }

    fn set_state_index(
        &mut self,
        from: Option<State>,
        to: State,
        id: u64,
    ) -> Result<(), StoreError> {
        if let Some(from) = from {
            self.states
                .remove((from.code(), id))
                .map_err(db("state index"))?;
        }
        self.states
            .insert((to.code(), id), ())
            .map_err(db("state index"))?;
        Ok(())
    }

    pub(super) fn transition(&mut self, t: Transition, now: Timestamp) -> Result<(), StoreError> {
        let mut meta = self.meta(t.id)?;
        let from = meta.state;
        if !super::lifecycle::allowed(from, t.to) {
            return Err(StoreError::IllegalTransition {
                id: t.id,
                from: from.label(),
                to: t.to.label(),
            });
        }
        meta.state = t.to;
        meta.reason = match t.to {
            State::Held | State::Quarantined => Some(t.note.clone()),
            _ => None,
        };
        if t.delivered_as.is_some() {
            meta.delivered_as = t.delivered_as;
        }
        self.put_meta(&meta)?;
        self.set_state_index(Some(from), t.to, t.id)?;
        if let Some(mapped) = t.mapped {
            self.mapped
                .insert(t.id, mapped.as_slice())
                .map_err(db("write mapped"))?;
        }
        self.add_audit(
            t.id,
            &AuditEntry {
                at: now,
                state: t.to,
                note: t.note,
            },
        )
    }

    /// Removes a document and everything kept about it (a delivered
    /// telemetry snapshot past its keeping time).
    pub(super) fn remove(&mut self, meta: &DocMeta) -> Result<(), StoreError> {
        let identity = identity_key(meta.kind, &meta.external_id);
        let dedup_key = revision_key(&identity, &meta.revision);
        self.documents.remove(meta.id).map_err(db("remove"))?;
        self.received
            .remove((meta.received_at.as_second(), meta.id))
            .map_err(db("remove"))?;
        self.bodies.remove(meta.id).map_err(db("remove"))?;
        self.mapped.remove(meta.id).map_err(db("remove"))?;
        self.states
            .remove((meta.state.code(), meta.id))
            .map_err(db("remove"))?;
        self.dedup
            .remove(dedup_key.as_str())
            .map_err(db("remove"))?;
        let latest = self
            .latest
            .get(identity.as_str())
            .map_err(db("remove"))?
            .map(|v| v.value());
        if latest == Some(meta.id) {
            self.latest
                .remove(identity.as_str())
                .map_err(db("remove"))?;
        }
        self.audit
            .retain_in((meta.id, 0)..=(meta.id, u32::MAX), |_, _| false)
            .map_err(db("remove"))?;
        Ok(())
    }
}
