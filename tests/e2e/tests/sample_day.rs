//! The sample market day end to end, twice, and against Mosquitto.

mod common;

use std::net::TcpStream;

use common::{demo, file_names, sample_day};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_day_reconciles_and_a_second_run_sends_nothing_twice() {
    let work = tempfile::tempdir().expect("temp dir");
    let first = demo(&sample_day(), work.path(), None).await;
    let failed: Vec<_> = first.checks.iter().filter(|c| !c.ok).collect();
    assert!(first.ok, "checks failed: {failed:?}");
    assert_eq!(
        (
            first.orders_received,
            first.orders_sent_to_erp,
            first.orders_held
        ),
        (455, 427, 28)
    );
    assert_eq!(first.orders_sent_total.to_string(), "164473.78");
    assert_eq!(
        (first.tickets_received, first.tickets_sent_to_erp),
        (245, 245)
    );
    assert_eq!(first.tickets_total.to_string(), "68308.65");
    assert_eq!(
        (
            first.invoices_read,
            first.pdfs_rendered,
            first.pdfs_uploaded
        ),
        (219, 219, 219)
    );
    assert_eq!(first.this_run.invoices_uploaded, 219);
    let files_after_first = file_names(&work.path().join("erp/import"));

    let second = demo(&sample_day(), work.path(), None).await;
    assert!(second.ok);
    assert_eq!(second.this_run.orders_new, 0);
    assert_eq!(second.this_run.tickets_new, 0);
    assert_eq!(second.this_run.tickets_already_held, 245);
    assert_eq!(second.this_run.import_files_written, 0);
    assert_eq!(second.this_run.invoices_uploaded, 0);
    assert_eq!(
        file_names(&work.path().join("erp/import")),
        files_after_first
    );
    let uploads = sandbox_shop::read_upload_log(&work.path().join("shop")).expect("upload log");
    assert_eq!(uploads.len(), 219, "one upload per invoice, none repeated");
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(work.path().join("summary.json")).expect("summary.json"),
    )
    .expect("summary is JSON");
    for key in [
        "orders_received",
        "orders_sent_to_erp",
        "orders_held",
        "tickets_received",
        "tickets_sent_to_erp",
        "invoices_read",
        "pdfs_rendered",
        "pdfs_uploaded",
    ] {
        assert!(
            summary.get(key).is_some_and(|v| v.is_u64()),
            "summary.json lacks {key}"
        );
    }
    assert_eq!(summary["orders_sent_total"], "164473.78");
}

/// Mosquitto on 127.0.0.1:1883: required when RELAIS_REQUIRE_MOSQUITTO=1
/// (CI sets it), skipped with a message otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_day_runs_through_mosquitto() {
    let required = std::env::var("RELAIS_REQUIRE_MOSQUITTO").is_ok_and(|v| v == "1");
    if TcpStream::connect("127.0.0.1:1883").is_err() {
        assert!(
            !required,
            "Mosquitto is required but not listening on 127.0.0.1:1883"
        );
        eprintln!("skipped: no Mosquitto on 127.0.0.1:1883");
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let summary = demo(&sample_day(), work.path(), Some("127.0.0.1:1883".into())).await;
    assert!(summary.ok, "{:?}", summary.checks);
    assert_eq!(
        (summary.tickets_received, summary.tickets_sent_to_erp),
        (245, 245)
    );
}
