use super::*;

fn ticket(id: &str, revision: &str) -> Intake {
    Intake {
        kind: Kind::Ticket,
        external_id: id.to_string(),
        revision: revision.to_string(),
        day: jiff::civil::date(2026, 12, 2),
        amount: Decimal::new(1039, 2),
        body: format!("{{\"ticket\":\"{id}\"}}").into_bytes(),
        parent: None,
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("relais.redb")).expect("open store")
}

/// Takes in tickets (revision 1) and queues them for the ERP; their ids.
fn queued_for_the_erp(store: &Store, numbers: &[&str]) -> Vec<u64> {
    let tickets = numbers.iter().map(|n| ticket(n, "1")).collect();
    store.intake(tickets).expect("intake");
    let ids: Vec<u64> = store
        .in_state(State::Stored, 10)
        .expect("list")
        .iter()
        .map(|m| m.id)
        .collect();
    let queue = ids
        .iter()
        .map(|&id| Transition::to(id, State::Queued(Dest::Erp), "mapped"));
    store.apply(queue.collect()).expect("queue");
    ids
}

#[test]
fn a_document_taken_in_twice_is_stored_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let first = store.intake(vec![ticket("T1", "1")]).expect("intake");
    let second = store
        .intake(vec![ticket("T1", "1"), ticket("T2", "1")])
        .expect("intake");
    let IntakeOutcome::New(id) = first[0] else {
        panic!("first intake must be new")
    };
    assert_eq!(second[0], IntakeOutcome::Duplicate(id));
    assert!(matches!(second[1], IntakeOutcome::New(_)));
    assert_eq!(store.in_state(State::Stored, 10).expect("list").len(), 2);
}

#[test]
fn what_was_committed_is_there_after_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(&dir);
        store.intake(vec![ticket("T1", "1")]).expect("intake");
        store
            .set_cursor("shop", "2026-12-02T00:00:00Z")
            .expect("cursor");
    }
    let store = open(&dir);
    let meta = store
        .find(Kind::Ticket, "T1")
        .expect("find")
        .expect("present");
    assert_eq!(store.body(meta.id).expect("body"), b"{\"ticket\":\"T1\"}");
    assert_eq!(
        store.cursor("shop").expect("cursor").as_deref(),
        Some("2026-12-02T00:00:00Z")
    );
}

#[test]
fn a_new_revision_supersedes_one_not_yet_delivered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    store.intake(vec![ticket("O1", "a")]).expect("intake");
    let old = store
        .find(Kind::Ticket, "O1")
        .expect("find")
        .expect("present");
    store
        .apply(vec![Transition::to(
            old.id,
            State::Held,
            "pending at the shop",
        )])
        .expect("hold");
    store.intake(vec![ticket("O1", "b")]).expect("intake");
    assert_eq!(store.meta(old.id).expect("meta").state, State::Superseded);
    let new = store
        .find(Kind::Ticket, "O1")
        .expect("find")
        .expect("present");
    assert_eq!(new.revision, "b");
    assert_eq!(new.state, State::Stored);
}

#[test]
fn every_transition_leaves_an_audit_entry_and_moves_the_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let ids = queued_for_the_erp(&store, &["T1", "T2"]);
    let batch = store
        .create_batch(Dest::Erp, &ids, |n| format!("B{n:06}.csv"))
        .expect("batch");
    assert_eq!(store.open_batches(Dest::Erp).expect("open").len(), 1);
    store.complete_batch(&batch).expect("complete");
    assert!(store.open_batches(Dest::Erp).expect("open").is_empty());
    let meta = store.meta(ids[0]).expect("meta");
    assert_eq!(meta.state, State::Delivered(Dest::Erp));
    assert_eq!(meta.delivered_as.as_deref(), Some("B000001.csv"));
    let history: Vec<State> = store
        .audit(ids[0])
        .expect("audit")
        .iter()
        .map(|e| e.state)
        .collect();
    let expected = [
        State::Stored,
        State::Queued(Dest::Erp),
        State::Batched(Dest::Erp),
        State::Delivered(Dest::Erp),
    ];
    assert_eq!(history, expected);
    assert!(store.last_success("erp").expect("success").is_some());
}

#[test]
fn a_revision_of_a_document_already_sent_is_held_not_sent_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    store.intake(vec![ticket("O1", "a")]).expect("intake");
    let old = store
        .find(Kind::Ticket, "O1")
        .expect("find")
        .expect("present");
    store
        .apply(vec![Transition::to(
            old.id,
            State::Queued(Dest::Erp),
            "mapped",
        )])
        .expect("queue");
    let batch = store
        .create_batch(Dest::Erp, &[old.id], |n| format!("B{n}.csv"))
        .expect("batch");
    store.complete_batch(&batch).expect("delivered");

    store.intake(vec![ticket("O1", "b")]).expect("new revision");
    let new = store
        .find(Kind::Ticket, "O1")
        .expect("find")
        .expect("present");
    assert_eq!(new.state, State::Held);
    assert!(
        new.reason.as_deref().unwrap_or("").contains("B1.csv"),
        "{:?}",
        new.reason
    );
    assert_eq!(
        store.meta(old.id).expect("meta").state,
        State::Delivered(Dest::Erp)
    );
}

#[test]
fn the_store_refuses_a_transition_the_document_life_does_not_allow() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    store.intake(vec![ticket("T1", "1")]).expect("intake");
    let id = store
        .find(Kind::Ticket, "T1")
        .expect("find")
        .expect("present")
        .id;
    let err = store
        .apply(vec![Transition::to(
            id,
            State::Delivered(Dest::Erp),
            "skip the queue",
        )])
        .expect_err("refused");
    assert!(err.to_string().contains("stored -> delivered:erp"), "{err}");
    assert_eq!(
        store.meta(id).expect("meta").state,
        State::Stored,
        "nothing half applied"
    );
}

fn copy_store(from: &tempfile::TempDir, to: &tempfile::TempDir) {
    for name in ["relais.redb", "relais.intake-log"] {
        std::fs::copy(from.path().join(name), to.path().join(name)).expect("copy store file");
    }
}

#[test]
fn a_document_taken_in_survives_a_crash_before_any_checkpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let image = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    store.intake(vec![ticket("T1", "1")]).expect("intake");
    // The files as a kill would leave them, with the store still running
    // (most likely before the checkpointer ran; either way T1 is there once).
    copy_store(&dir, &image);
    let after_crash = open(&image);
    assert_eq!(after_crash.intake_pending(), 0, "folded at opening");
    let stored = after_crash.in_state(State::Stored, 10).expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].external_id, "T1");
    assert_eq!(
        after_crash.body(stored[0].id).expect("body"),
        b"{\"ticket\":\"T1\"}"
    );
}

#[test]
fn log_records_already_folded_are_not_folded_again_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("relais.intake-log");
    let (logged, unfolded) = {
        let store = open(&dir);
        let outcomes = store
            .intake(vec![ticket("T1", "1"), ticket("T2", "1")])
            .expect("intake");
        let unfolded = std::fs::read(&log_path).expect("read log");
        assert!(!unfolded.is_empty(), "the intake is in the log");
        assert_eq!(store.checkpoint().expect("checkpoint"), 2);
        (outcomes, unfolded)
    };
    // The checkpoint committed but the log's truncation never reached the
    // disk: the same records are found again at the next opening.
    std::fs::write(&log_path, &unfolded).expect("put the old log back");
    let store = open(&dir);
    let stored = store.in_state(State::Stored, 10).expect("list");
    let ids: Vec<IntakeOutcome> = stored.iter().map(|m| IntakeOutcome::New(m.id)).collect();
    assert_eq!(ids, logged, "nothing doubled");
    let next = store.intake(vec![ticket("T3", "1")]).expect("intake");
    assert!(
        matches!(next[0], IntakeOutcome::New(id) if id > 2),
        "{next:?}"
    );
}

#[test]
fn duplicates_are_found_in_the_log_in_the_batch_and_in_the_tables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let first = store
        .intake(vec![ticket("T1", "1"), ticket("T1", "1")])
        .expect("intake");
    let IntakeOutcome::New(id) = first[0] else {
        panic!("new: {first:?}")
    };
    assert_eq!(first[1], IntakeOutcome::Duplicate(id), "twice in one batch");
    let again = store.intake(vec![ticket("T1", "1")]).expect("intake");
    assert_eq!(
        again,
        vec![IntakeOutcome::Duplicate(id)],
        "still in the log"
    );
    store.checkpoint().expect("checkpoint");
    let folded = store.intake(vec![ticket("T1", "1")]).expect("intake");
    assert_eq!(folded, vec![IntakeOutcome::Duplicate(id)], "in the tables");
}

#[test]
fn ids_from_the_log_and_from_direct_writes_never_collide() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ids = Vec::new();
    {
        let store = open(&dir);
        let new_id = |o: &IntakeOutcome| match o {
            IntakeOutcome::New(id) => *id,
            IntakeOutcome::Duplicate(id) => panic!("duplicate {id}"),
        };
        let logged = store.intake(vec![ticket("T1", "1")]).expect("intake");
        ids.extend(logged.iter().map(new_id));
        let direct = store
            .intake_with_cursor(vec![ticket("N1", "1")], "notes", "1")
            .expect("direct");
        ids.extend(direct.iter().map(new_id));
        let logged = store.intake(vec![ticket("T2", "1")]).expect("intake");
        ids.extend(logged.iter().map(new_id));
    }
    let store = open(&dir);
    let reopened = store.intake(vec![ticket("T3", "1")]).expect("intake");
    ids.push(match reopened[0] {
        IntakeOutcome::New(id) => id,
        other => panic!("{other:?}"),
    });
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    assert_eq!(store.in_state(State::Stored, 10).expect("list").len(), 4);
}

#[test]
fn concurrent_intakes_and_reads_lose_and_double_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let (writers, batches, per_batch) = (3, 40, 16);
    std::thread::scope(|scope| {
        for w in 0..writers {
            let store = store.clone();
            scope.spawn(move || {
                for b in 0..batches {
                    let docs = (0..per_batch)
                        .map(|n| ticket(&format!("W{w}-{b}-{n}"), "1"))
                        .collect();
                    store.intake(docs).expect("intake");
                }
            });
        }
        let reader = store.clone();
        scope.spawn(move || {
            for _ in 0..50 {
                reader.count_states().expect("count");
            }
        });
    });
    store.checkpoint().expect("checkpoint");
    let mut seen = std::collections::HashSet::new();
    store
        .for_each_doc(|meta| assert!(seen.insert(meta.id), "id {} twice", meta.id))
        .expect("visit");
    assert_eq!(seen.len(), writers * batches * per_batch);
}

#[test]
fn a_logged_id_taken_by_a_relais_without_the_log_is_given_anew() {
    let dir = tempfile::tempdir().expect("temp dir");
    let image = tempfile::tempdir().expect("temp dir");
    let log_path = image.path().join("relais.intake-log");
    {
        let store = open(&dir);
        store.intake(vec![ticket("T1", "1")]).expect("intake");
        copy_store(&dir, &image);
    }
    let logged = std::fs::read(&log_path).expect("read log");
    assert!(!logged.is_empty(), "T1 is still only in the log");
    // An update rolled back to a Relais that knows no intake log: it stores
    // T2 under the id the log had given T1.
    std::fs::remove_file(&log_path).expect("hide the log");
    {
        let older = open(&image);
        let direct = older
            .intake_with_cursor(vec![ticket("T2", "1")], "notes", "1")
            .expect("direct intake");
        assert_eq!(direct, vec![IntakeOutcome::New(1)]);
    }
    std::fs::write(&log_path, &logged).expect("the log comes back");
    let store = open(&image);
    let t1 = store.find(Kind::Ticket, "T1").expect("find").expect("T1");
    let t2 = store.find(Kind::Ticket, "T2").expect("find").expect("T2");
    assert_ne!(t1.id, t2.id);
    assert_eq!(store.body(t1.id).expect("body"), b"{\"ticket\":\"T1\"}");
    assert_eq!(store.body(t2.id).expect("body"), b"{\"ticket\":\"T2\"}");
}

fn received_between(store: &Store, from: Timestamp, until: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    store
        .for_each_received(from, until, |meta| out.push(meta.external_id))
        .expect("read by intake time");
    out
}

#[test]
fn documents_are_read_by_intake_time_without_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let before = Timestamp::now();
    store
        .intake(vec![ticket("T1", "1"), ticket("T2", "1")])
        .expect("intake");
    let after = Timestamp::now() + jiff::SignedDuration::from_millis(1);
    assert_eq!(received_between(&store, before, after), ["T1", "T2"]);
    let later = after + jiff::SignedDuration::from_secs(2);
    assert!(received_between(&store, later, Timestamp::MAX).is_empty());
    assert!(received_between(&store, Timestamp::MIN, before).is_empty());
}

#[test]
fn a_store_without_the_indexes_gets_them_at_opening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("relais.redb");
    let open_batch = {
        let store = open(&dir);
        let ids = queued_for_the_erp(&store, &["T1", "T2", "T3"]);
        let done = store
            .create_batch(Dest::Erp, &ids[..1], |n| format!("B{n:06}.csv"))
            .expect("batch");
        store.complete_batch(&done).expect("complete");
        store
            .create_batch(Dest::Erp, &ids[1..], |n| format!("B{n:06}.csv"))
            .expect("batch")
    };
    // As a Relais from before the indexes left it.
    {
        let database = redb::Database::open(&path).expect("open redb");
        let tx = database.begin_write().expect("write");
        tx.delete_table(RECEIVED).expect("drop received");
        tx.delete_table(OPEN_BATCHES).expect("drop open batches");
        {
            let mut counters = tx.open_table(COUNTERS).expect("counters");
            counters.remove(INDEXED_DOCS).expect("forget");
            counters.remove(INDEXED_BATCHES).expect("forget");
        }
        tx.commit().expect("commit");
    }
    let store = open(&dir);
    assert_eq!(
        received_between(&store, Timestamp::MIN, Timestamp::MAX),
        ["T1", "T2", "T3"]
    );
    let open: Vec<u64> = store
        .open_batches(Dest::Erp)
        .expect("open batches")
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(open, [open_batch.id]);
    assert!(store.open_batches(Dest::Shop).expect("shop").is_empty());
}
