//! The HTTPS client for the shop: the WooCommerce REST API and the Relais
//! shop plugin's invoice routes.
//!
//! TLS is rustls with the ring provider. A site either trusts the public web
//! roots (a shop with an ordinary certificate) or exactly one CA given in the
//! config (the sandbox shop, a shop behind a private CA); certificate checks
//! are never switched off. Credentials go in the Authorization header and
//! never into a logged URL.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;

/// How to reach the shop. Its `Debug` leaves the credentials out, so a
/// logged settings value cannot leak them.
#[derive(Clone)]
pub struct ShopSettings {
    /// Base URL, e.g. `https://shop.example.test`.
    pub base_url: String,
    /// WooCommerce consumer key.
    pub consumer_key: String,
    /// WooCommerce consumer secret.
    pub consumer_secret: String,
    /// PEM of the only CA to trust; `None` trusts the public web roots.
    pub ca_pem: Option<String>,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl std::fmt::Debug for ShopSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopSettings")
            .field("base_url", &self.base_url)
            .field("consumer_key", &"<hidden>")
            .field("consumer_secret", &"<hidden>")
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<PEM>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A failure talking to the shop, sorted by what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// Worth retrying later: network, timeout, 429, 5xx.
    #[error("shop {what}: {detail} (will retry)")]
    Transient {
        what: String,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help until a person acts: 401, 403, bad answer.
    #[error("shop {what}: {detail}")]
    Permanent { what: String, detail: String },
    /// The client could not be built (bad CA file...).
    #[error("shop client setup: {0}")]
    Setup(String),
}

impl ShopError {
    /// True if a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ShopError::Transient { .. })
    }
}

/// A private order note, as far as Relais reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderNote {
    /// The note's text.
    pub note: String,
}

/// One page of orders: each order's JSON exactly as the shop sent it.
pub struct OrdersPage {
    /// The orders.
    pub orders: Vec<Box<RawValue>>,
    /// `X-WP-TotalPages`.
    pub total_pages: u32,
    /// `X-WP-Total`: orders matching the query when this page was served.
    pub total: u64,
}

/// What the shop holds under an invoice number.
#[derive(Debug, Clone, Deserialize)]
pub struct HeldInvoice {
    /// Invoice number.
    pub number: String,
    /// Shop customer id.
    pub customer_id: u64,
    /// SHA-256 of the PDF, hex.
    pub sha256: String,
}

/// The outcome of an invoice upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// Stored now.
    Created,
    /// The shop already held these exact bytes.
    AlreadyHeld,
}

/// The shop client. Cheap to clone.
#[derive(Clone)]
pub struct ShopClient {
    http: reqwest::Client,
    settings: Arc<ShopSettings>,
}

fn tls_config(ca_pem: Option<&str>) -> Result<rustls::ClientConfig, ShopError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| ShopError::Setup(format!("CA certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| ShopError::Setup(format!("CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(ShopError::Setup("the CA file holds no certificate".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ShopError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

use rustls::pki_types::pem::PemObject;

impl ShopClient {
    /// Builds the client.
    pub fn new(settings: ShopSettings) -> Result<ShopClient, ShopError> {
        let tls = tls_config(settings.ca_pem.as_deref())?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(settings.timeout)
            .user_agent(concat!("relais/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ShopError::Setup(e.to_string()))?;
        Ok(ShopClient {
            http,
            settings: Arc::new(settings),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(
            &self.settings.consumer_key,
            Some(&self.settings.consumer_secret),
        )
    }

    /// One page of orders modified after `since` (UTC), by id ascending.
    pub async fn orders_page(&self, since: &str, page: u32) -> Result<OrdersPage, ShopError> {
        let what = format!("GET orders page {page}");
        let query = [
            ("modified_after", since.to_string()),
            ("dates_are_gmt", "true".into()),
            ("orderby", "id".into()),
            ("order", "asc".into()),
            ("per_page", "100".into()),
            ("status", "any".into()),
            ("page", page.to_string()),
        ];
        let request = self.auth(
            self.http
                .get(self.url("/wp-json/wc/v3/orders"))
                .query(&query),
        );
        let response = send(request, &what).await?;
        let total_pages = response
            .headers()
            .get("x-wp-totalpages")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| ShopError::Permanent {
                what: what.clone(),
                detail: "no X-WP-TotalPages header in the answer".into(),
            })?;
        let total = response
            .headers()
            .get("x-wp-total")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let body = response.bytes().await.map_err(|e| transient(&what, e))?;
        let orders: Vec<Box<RawValue>> = serde_json::from_slice(&body).map_err(|e| {
            // A security plugin or CDN answering an HTML page: retry later.
            ShopError::Transient {
                what: what.clone(),
                detail: format!("expected a JSON list of orders: {e}"),
                retry_after: None,
            }
        })?;
        Ok(OrdersPage {
            orders,
            total_pages,
            total,
        })
    }

    /// The refunds of an order with their lines (`GET orders/<id>/refunds`),
    /// each exactly as the shop sent it.
    pub async fn refunds(&self, order_id: u64) -> Result<Vec<Box<RawValue>>, ShopError> {
        let what = format!("GET refunds of order {order_id}");
        let url = self.url(&format!("/wp-json/wc/v3/orders/{order_id}/refunds"));
        let response = send(self.auth(self.http.get(url)), &what).await?;
        let body = response.bytes().await.map_err(|e| transient(&what, e))?;
        serde_json::from_slice(&body).map_err(|e| ShopError::Transient {
            what,
            detail: format!("expected a JSON list of refunds: {e}"),
            retry_after: None,
        })
    }

    /// The private notes of an order, oldest first.
    pub async fn notes(&self, order_id: u64) -> Result<Vec<OrderNote>, ShopError> {
        let what = format!("GET notes of order {order_id}");
        let url = self.url(&format!("/wp-json/wc/v3/orders/{order_id}/notes"));
        let response = send(self.auth(self.http.get(url)), &what).await?;
        response.json().await.map_err(|e| ShopError::Transient {
            what,
            detail: format!("expected a JSON list of notes: {e}"),
            retry_after: None,
        })
    }

    /// Adds a private note (not shown to the customer) to an order.
    pub async fn add_note(&self, order_id: u64, note: &str) -> Result<(), ShopError> {
        let what = format!("POST note on order {order_id}");
        let url = self.url(&format!("/wp-json/wc/v3/orders/{order_id}/notes"));
        let body = serde_json::json!({ "note": note, "customer_note": false });
        send(self.auth(self.http.post(url).json(&body)), &what).await?;
        Ok(())
    }

    /// Changes an order's status.
    pub async fn set_status(&self, order_id: u64, status: &str) -> Result<(), ShopError> {
        let what = format!("PUT status {status} on order {order_id}");
        let url = self.url(&format!("/wp-json/wc/v3/orders/{order_id}"));
        let body = serde_json::json!({ "status": status });
        send(self.auth(self.http.put(url).json(&body)), &what).await?;
        Ok(())
    }

    /// What the shop holds under an invoice number, if anything.
    pub async fn invoice(&self, number: &str) -> Result<Option<HeldInvoice>, ShopError> {
        let what = format!("GET invoice {number}");
        let url = self.url(&format!("/wp-json/relais/v1/invoices/{number}"));
        let response = self
            .auth(self.http.get(url))
            .send()
            .await
            .map_err(|e| transient(&what, e))?;
        if response.status() == StatusCode::NOT_FOUND {
            // Only the plugin's own "not held" means not held: WordPress
            // answers `rest_no_route` with a 404 too when the plugin is not
            // active, and uploading then would fail every invoice.
            let body = response.text().await.unwrap_or_default();
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string));
            if code.as_deref() == Some("relais_invoice_not_found") {
                return Ok(None);
            }
            return Err(ShopError::Permanent {
                what,
                detail: format!(
                    "404 {}: is the Relais invoices plugin active on the shop?",
                    code.unwrap_or_else(|| "without a WordPress error code".into())
                ),
            });
        }
        let response = check_status(response, &what).await?;
        let held = response.json().await.map_err(|e| ShopError::Permanent {
            what: what.clone(),
            detail: format!("unreadable answer: {e}"),
        })?;
        Ok(Some(held))
    }

    /// Uploads an invoice PDF for a customer (idempotent at the shop).
    pub async fn put_invoice(
        &self,
        number: &str,
        customer_id: u64,
        pdf: Vec<u8>,
        sha256: &str,
    ) -> Result<Upload, ShopError> {
        let what = format!("PUT invoice {number}");
        let url = self.url(&format!("/wp-json/relais/v1/invoices/{number}"));
        let request = self
            .auth(self.http.put(url))
            .header("Content-Type", "application/pdf")
            .header("X-Relais-Customer", customer_id.to_string())
            .header("X-Relais-Sha256", sha256)
            .body(pdf);
        let response = send(request, &what).await?;
        Ok(if response.status() == StatusCode::CREATED {
            Upload::Created
        } else {
            Upload::AlreadyHeld
        })
    }
}

fn transient(what: &str, e: reqwest::Error) -> ShopError {
    ShopError::Transient {
        what: what.to_string(),
        detail: e.to_string(),
        retry_after: None,
    }
}

async fn send(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<reqwest::Response, ShopError> {
    let response = request.send().await.map_err(|e| transient(what, e))?;
    check_status(response, what).await
}

async fn check_status(
    response: reqwest::Response,
    what: &str,
) -> Result<reqwest::Response, ShopError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let detail = format!(
        "HTTP {status}: {}",
        body.chars().take(300).collect::<String>()
    );
    let what = what.to_string();
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(ShopError::Transient {
            what,
            detail,
            retry_after,
        })
    } else {
        Err(ShopError::Permanent { what, detail })
    }
}
