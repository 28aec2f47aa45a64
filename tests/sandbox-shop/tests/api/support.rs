//! Starting a shop on a temporary folder and talking to it like the agent would.

use std::path::Path;
use std::sync::Arc;

use reqwest::{Client, RequestBuilder, Response};
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sandbox_shop::{RunningShop, ShopConfig, DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET};
use serde_json::Value;
use tempfile::TempDir;

/// A running shop, a client that trusts it, and the folder it stores into.
pub struct TestShop {
    pub shop: RunningShop,
    pub client: Client,
    pub dir: TempDir,
}

impl TestShop {
    /// A shop with the fixture orders on a fresh temporary folder.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = start_on(dir.path()).await;
        let client = client_trusting(shop.ca_cert_pem());
        Self { shop, client, dir }
    }

    /// `GET base_url + path` with the right key pair.
    pub async fn get(&self, path: &str) -> Response {
        authed(self.client.get(self.url(path)))
            .send()
            .await
            .expect("GET sent")
    }

    /// `PUT` of a PDF invoice with the right key pair.
    pub async fn put_invoice(&self, number: &str, customer: u64, pdf: &[u8]) -> Response {
        put_invoice(&self.client, &self.shop.base_url(), number, customer, pdf).await
    }

    /// `GET /sandbox/uploads`, as `(number, outcome)` pairs.
    pub async fn uploads(&self) -> Vec<(String, String)> {
        let records: Vec<Value> = self
            .get("/sandbox/uploads")
            .await
            .json()
            .await
            .expect("json");
        records
            .iter()
            .map(|r| (r["number"].as_str().expect("number").to_owned(), outcome(r)))
            .collect()
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shop.base_url())
    }
}

fn outcome(record: &Value) -> String {
    record["outcome"].as_str().expect("outcome").to_owned()
}

/// The orders of `tests/fixtures/orders.json` (13 orders of 2026-12-02).
pub fn fixture_orders() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/orders.json");
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture is a JSON array")
}

/// Starts a shop with the fixture orders on `data_dir`.
pub async fn start_on(data_dir: &Path) -> RunningShop {
    let config = ShopConfig::new(fixture_orders(), data_dir.to_path_buf());
    sandbox_shop::start(config).await.expect("shop starts")
}

/// A client whose only trusted root is `ca_pem`; certificate checks stay on.
pub fn client_trusting(ca_pem: &str) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.expect("CA PEM parses"))
            .expect("CA accepted as root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client builds")
}

/// Adds the default key pair as HTTP Basic credentials.
pub fn authed(request: RequestBuilder) -> RequestBuilder {
    request.basic_auth(DEFAULT_CONSUMER_KEY, Some(DEFAULT_CONSUMER_SECRET))
}

/// `PUT /wp-json/relais/v1/invoices/<number>` of `pdf` for `customer`.
pub async fn put_invoice(
    client: &Client,
    base_url: &str,
    number: &str,
    customer: u64,
    pdf: &[u8],
) -> Response {
    let url = format!("{base_url}/wp-json/relais/v1/invoices/{number}");
    authed(client.put(url))
        .header("Content-Type", "application/pdf")
        .header("X-Relais-Customer", customer.to_string())
        .body(pdf.to_vec())
        .send()
        .await
        .expect("PUT sent")
}

/// A small valid-looking PDF whose bytes depend on `seed`.
pub fn pdf(seed: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% invoice {seed}\n%%EOF\n").into_bytes()
}

/// The `code` of a WordPress error body.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("JSON error body");
    body["code"].as_str().expect("code").to_owned()
}
