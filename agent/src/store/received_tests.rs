//! The intake-time index at its edges: negative and sub-second times, a
//! clock going back, inverted bounds (written in review).

use super::*;

fn ticket(id: &str) -> Intake {
    Intake {
        kind: Kind::Ticket,
        external_id: id.to_string(),
        revision: "1".to_string(),
        day: jiff::civil::date(2026, 12, 2),
        amount: Decimal::new(1039, 2),
        body: format!("{{\"ticket\":\"{id}\"}}").into_bytes(),
        parent: None,
    }
}

fn received(store: &Store, from: Timestamp, until: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    store
        .for_each_received(from, until, |m| out.push(m.external_id))
        .expect("read by intake time");
    out
}

/// Stores one document with a chosen intake time, through the tables.
fn intake_at(store: &Store, id: &str, at: Timestamp) {
    // intake_all starts past the tables' own counter.
    let mut next = 1;
    store
        .core
        .commit("test intake", |w| {
            w.intake_all(vec![ticket(id)], &mut next, at)
        })
        .expect("intake at a chosen time");
}

#[test]
fn the_intake_time_index_reads_subsecond_negative_and_clock_back_times() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("relais.redb")).expect("open");
    let ts = |s: i64, ns: i32| Timestamp::new(s, ns).expect("timestamp");
    // Clock going backwards: later ids, earlier times.
    intake_at(&store, "A", ts(100, 500_000_000));
    intake_at(&store, "B", ts(50, 0));
    intake_at(&store, "C", ts(-1, -500_000_000)); // -1.5 s
    intake_at(&store, "D", ts(0, -500_000_000)); // -0.5 s
    intake_at(&store, "E", ts(100, 0));
    intake_at(&store, "F", Timestamp::MIN);
    let mut all = received(&store, Timestamp::MIN, Timestamp::MAX);
    // Within one second the index orders by id, not by time (A at 100.5 s
    // comes before E at 100.0 s): "in order of intake time" holds to the
    // second only. Nothing is missed or doubled.
    assert_eq!(all, ["F", "C", "D", "B", "A", "E"]);
    all.sort();
    assert_eq!(all, ["A", "B", "C", "D", "E", "F"]);
    assert_eq!(received(&store, ts(100, 0), ts(100, 500_000_000)), ["E"]);
    assert_eq!(received(&store, ts(100, 1), ts(100, 500_000_001)), ["A"]);
    assert_eq!(
        received(&store, ts(-1, -200_000_000), ts(0, -100_000_000)),
        ["D"]
    );
    assert_eq!(received(&store, ts(-2, 0), ts(-1, -400_000_000)), ["C"]);
    assert_eq!(received(&store, ts(40, 0), ts(60, 0)), ["B"]);
}

#[test]
fn inverted_bounds_read_nothing_instead_of_failing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("relais.redb")).expect("open");
    store.intake(vec![ticket("T1")]).expect("intake");
    let now = Timestamp::now();
    let earlier = now - jiff::SignedDuration::from_secs(3600);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut n = 0;
        store
            .for_each_received(now, earlier, |_| n += 1)
            .map(|()| n)
    }));
    match outcome {
        Ok(Ok(0)) => {}
        Ok(other) => panic!("inverted bounds gave {other:?}"),
        Err(_) => panic!("for_each_received panics when from > until"),
    }
}
