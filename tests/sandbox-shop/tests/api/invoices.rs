//! The Relais plugin's invoice routes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{authed, error_code, pdf, put_invoice, TestShop};

const INVOICES: &str = "/wp-json/relais/v1/invoices";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn an_invoice_is_created_then_identical_then_conflicting() {
    let shop = TestShop::start().await;
    let bytes = pdf("FA-1");

    let created = shop.put_invoice("FA-1", 1057, &bytes).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], format!("{INVOICES}/FA-1"));
    let created: Value = created.json().await.expect("json");

    let again = shop.put_invoice("FA-1", 1057, &bytes).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.expect("json"), created);

    let other_bytes = shop.put_invoice("FA-1", 1057, &pdf("FA-1 v2")).await;
    let other_customer = shop.put_invoice("FA-1", 1073, &bytes).await;
    for conflict in [other_bytes, other_customer] {
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
        assert_eq!(error_code(conflict).await, "relais_invoice_conflict");
    }

    let stored = std::fs::read(shop.dir.path().join("invoices/1057/FA-1.pdf")).expect("PDF file");
    assert_eq!(stored, bytes);
    assert_eq!(
        shop.uploads().await,
        pairs(&[
            ("FA-1", "created"),
            ("FA-1", "identical"),
            ("FA-1", "conflict"),
            ("FA-1", "conflict")
        ])
    );
    assert_eq!(shop.shop.invoices().len(), 1);
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn a_held_invoice_is_described_and_listed_for_its_customer() {
    let shop = TestShop::start().await;
    for (number, customer) in [("FA-2", 1057), ("FA-1", 1057), ("FA-3", 1073)] {
        let response = shop.put_invoice(number, customer, &pdf(number)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    let one: Value = shop
        .get(&format!("{INVOICES}/FA-1"))
        .await
        .json()
        .await
        .expect("json");
    let missing = shop.get(&format!("{INVOICES}/FA-9")).await;
    let listed: Vec<Value> = shop
        .get("/wp-json/relais/v1/customers/1057/invoices")
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(one["customer_id"], 1057);
    assert_eq!(one["size"], pdf("FA-1").len());
    assert_eq!(one["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, "relais_invoice_not_found");
    let numbers: Vec<&str> = listed.iter().filter_map(|i| i["number"].as_str()).collect();
    assert_eq!(numbers, ["FA-1", "FA-2"]);
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_store_nothing() {
    let shop = TestShop::start().await;
    let url = shop.url(&format!("{INVOICES}/FA-1"));
    let put = |content_type: &str, customer: &str, body: Vec<u8>| {
        authed(shop.client.put(&url))
            .header("Content-Type", content_type)
            .header("X-Relais-Customer", customer)
            .body(body)
    };
    let pdf_type = "application/pdf";
    let mut too_large = pdf("big");
    too_large.resize(10 * 1024 * 1024 + 1, b' ');
    let wrong_sha = "00".repeat(32);

    let cases = [
        (
            put(pdf_type, "1057", b"<html>".to_vec()),
            400,
            "relais_invoice_not_pdf",
        ),
        (
            put(pdf_type, "1057", pdf("x")).header("X-Relais-Sha256", wrong_sha),
            400,
            "relais_invoice_checksum_mismatch",
        ),
        (
            put(pdf_type, "0", pdf("x")),
            400,
            "relais_invoice_invalid_customer",
        ),
        (
            put(pdf_type, "1057", pdf("x")).header("X-Relais-Customer", "1058"),
            400,
            "relais_invoice_invalid_customer",
        ),
        (
            put("text/plain", "1057", pdf("x")),
            415,
            "relais_invoice_unsupported_type",
        ),
        (
            put(pdf_type, "1057", too_large),
            413,
            "relais_invoice_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.expect("PUT sent");
        assert_eq!(response.status().as_u16(), status, "{code}");
        assert_eq!(error_code(response).await, code);
    }
    let bad_number = shop.put_invoice("FA.1", 1057, &pdf("x")).await;
    assert_eq!(
        error_code(bad_number).await,
        "relais_invoice_invalid_number"
    );

    assert!(shop.shop.invoices().is_empty());
    assert!(shop.uploads().await.is_empty());
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn a_matching_checksum_header_is_accepted() {
    use sha2::{Digest, Sha256};
    let shop = TestShop::start().await;
    let bytes = pdf("FA-7");

    let response = authed(shop.client.put(shop.url(&format!("{INVOICES}/FA-7"))))
        .header("Content-Type", "application/pdf")
        .header("X-Relais-Customer", "1057")
        .header("X-Relais-Sha256", hex::encode(Sha256::digest(&bytes)))
        .body(bytes)
        .send()
        .await
        .expect("PUT sent");

    assert_eq!(response.status(), StatusCode::CREATED);
    shop.shop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_upload_sent_eight_times_at_once_is_created_once() {
    let shop = TestShop::start().await;
    let bytes = pdf("FA-8");

    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, base_url, bytes) = (shop.client.clone(), shop.shop.base_url(), bytes.clone());
        sends.spawn(async move {
            let response = put_invoice(&client, &base_url, "FA-8", 1057, &bytes).await;
            response.status().as_u16()
        });
    }
    let statuses = sends.join_all().await;

    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    let created = shop
        .uploads()
        .await
        .into_iter()
        .filter(|(_, o)| o == "created")
        .count();
    assert_eq!(created, 1);
    shop.shop.shutdown().await;
}
