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
    store
        .intake(vec![ticket("T1", "1"), ticket("T2", "1")])
        .expect("intake");
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
