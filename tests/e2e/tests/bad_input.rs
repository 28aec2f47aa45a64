//! Bad input anywhere on the path is kept, named and held; the rest goes on.

mod common;

use common::{copy_day, demo};

fn replace_in(path: &std::path::Path, from: &[u8], to: &[u8]) {
    let bytes = std::fs::read(path).expect("read");
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&bytes[at + from.len()..]);
    std::fs::write(path, out).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_order_a_bad_ticket_and_a_broken_export_row_are_held_and_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let day = copy_day(dir.path());
    // An order paid by a method the ERP does not know.
    let orders = day.join("woocommerce/orders-2026-12-02.json");
    replace_in(
        &orders,
        b"\"payment_method\": \"bacs\"",
        b"\"payment_method\": \"paypal\"",
    );
    // A ticket whose payment does not match its lines.
    let tickets = day.join("pos/tickets-2026-12-02.jsonl");
    replace_in(&tickets, b"\"amount\": \"10.39\"", b"\"amount\": \"10.93\"");
    // An export row with a letter in an amount.
    let export = day.join("erp/FACTURES_20261202.csv");
    replace_in(
        &export,
        b";57,60;5,5;3,17;60,77;",
        b";57,6O;5,5;3,17;60,77;",
    );

    let work = dir.path().join("work");
    let summary = demo(&day, &work, None).await;
    let failed: Vec<_> = summary.checks.iter().filter(|c| !c.ok).collect();
    assert!(summary.ok, "everything is accounted for: {failed:?}");
    let reason_of = |kind: &str| {
        summary
            .held
            .iter()
            .filter(|h| h.kind == kind && h.state == "quarantined")
            .map(|h| format!("{} {}", h.id, h.reason))
            .collect::<Vec<_>>()
    };
    let orders = reason_of("order");
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert!(
        orders[0].contains("payment_method") && orders[0].contains("paypal"),
        "{orders:?}"
    );
    let tickets = reason_of("ticket");
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert!(
        tickets[0].contains("payments") && tickets[0].contains("10.93"),
        "{tickets:?}"
    );
    let invoices = reason_of("invoice");
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    assert!(
        invoices[0].contains("FA595001") && invoices[0].contains("MontantHT"),
        "{invoices:?}"
    );
    assert!(invoices[0].contains("57,6O"), "{invoices:?}");
    assert_eq!(summary.orders_sent_to_erp, 426);
    assert_eq!(summary.tickets_sent_to_erp, 244);
    assert_eq!(summary.pdfs_uploaded, 218);
}
