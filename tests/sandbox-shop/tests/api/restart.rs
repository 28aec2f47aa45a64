//! Invoices survive a restart of the shop, and a SIGKILL of the process hosting it.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::{client_trusting, pdf, put_invoice, start_on, TestShop};

#[tokio::test]
async fn a_shop_restarted_on_the_same_folder_holds_what_it_held() {
    let first = TestShop::start().await;
    for (number, customer) in [("FA-1", 1057), ("FA-2", 1073)] {
        assert_eq!(
            first
                .put_invoice(number, customer, &pdf(number))
                .await
                .status(),
            201
        );
    }
    let before = first.shop.invoices();
    let TestShop { shop, dir, .. } = first;
    shop.shutdown().await;

    let shop = start_on(dir.path()).await;
    let client = client_trusting(shop.ca_cert_pem());
    let again = put_invoice(&client, &shop.base_url(), "FA-1", 1057, &pdf("FA-1")).await;
    let conflict = put_invoice(&client, &shop.base_url(), "FA-2", 1057, &pdf("FA-2")).await;

    assert_eq!(shop.invoices(), before);
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    let ca_file = std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca.pem");
    assert_eq!(ca_file, shop.ca_cert_pem());
    shop.shutdown().await;
}

#[tokio::test]
async fn invoices_acknowledged_before_a_sigkill_are_held_after_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base_url, ca_file) = spawn_shop_process(dir.path()).await;
    let client = client_trusting(&std::fs::read_to_string(ca_file).expect("CA file"));
    for number in ["FA-1", "FA-2"] {
        let response = put_invoice(&client, &base_url, number, 1057, &pdf(number)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    child.kill().await.expect("SIGKILL the shop process");
    let shop = start_on(dir.path()).await;

    let held: Vec<String> = shop.invoices().into_iter().map(|i| i.number).collect();
    assert_eq!(held, ["FA-1", "FA-2"]);
    let log = sandbox_shop::read_upload_log(dir.path()).expect("journal");
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|r| r.outcome == sandbox_shop::UploadOutcome::Created && !r.recovered));
    shop.shutdown().await;
}

#[tokio::test]
async fn a_pdf_stored_without_its_journal_line_gets_a_recovered_line_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("invoices/1057");
    std::fs::create_dir_all(&folder).expect("customer folder");
    std::fs::write(folder.join("FA-5.pdf"), pdf("FA-5")).expect("PDF");
    std::fs::write(folder.join(".FA-6.pdf.1.0.tmp"), b"%PDF-half").expect("leftover temp");

    for _ in 0..2 {
        let shop = start_on(dir.path()).await;
        let held: Vec<String> = shop.invoices().into_iter().map(|i| i.number).collect();
        assert_eq!(held, ["FA-5"]);
        shop.shutdown().await;
    }

    let log = sandbox_shop::read_upload_log(dir.path()).expect("journal");
    assert_eq!(log.len(), 1);
    assert!(log[0].recovered);
}

/// Runs the `sandbox-shop` binary on a free port; returns it with its base URL and CA file.
async fn spawn_shop_process(data_dir: &std::path::Path) -> (Child, String, String) {
    let orders = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/orders.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox-shop"))
        .args(["--orders", orders, "--bind", "127.0.0.1:0", "--data"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("piped stdout");

    let mut lines = BufReader::new(stdout).lines();
    // A bound on the wait, so a broken binary fails the test instead of hanging it.
    let wait = Duration::from_secs(60);
    let base_url = tokio::time::timeout(wait, value_line(&mut lines, "base_url=")).await;
    let ca_file = tokio::time::timeout(wait, value_line(&mut lines, "ca_file=")).await;
    let (base_url, ca_file) = (
        base_url.expect("base_url line"),
        ca_file.expect("ca_file line"),
    );
    (child, base_url, ca_file)
}

/// Reads the next stdout line and returns what follows `prefix`.
async fn value_line(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
    let line = lines
        .next_line()
        .await
        .expect("stdout readable")
        .expect("a line before exit");
    line.strip_prefix(prefix)
        .expect("expected prefix")
        .to_owned()
}
