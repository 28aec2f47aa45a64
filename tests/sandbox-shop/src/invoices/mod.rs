//! The Relais companion plugin's invoice routes, and the sandbox's journal route.
//!
//! WooCommerce has no place for a customer's invoices, so the real shop runs a small plugin
//! that keeps them outside the public uploads folder and shows them in the customer's
//! account. This module is that plugin's contract, as the agent relies on it. All routes need
//! the same API key as the WooCommerce routes; errors use the WordPress shape
//! `{"code", "message", "data": {"status"}}`.
//!
//! ## `PUT /wp-json/relais/v1/invoices/<number>`
//!
//! Stores one invoice PDF. `<number>` is 1 to 64 of `A-Z a-z 0-9 _ -`.
//!
//! The request, checked in this order (the first failure answers):
//!
//! - `<number>` valid, else 400 `relais_invoice_invalid_number`;
//! - `X-Relais-Customer`: exactly one shop customer id, integer > 0, else 400
//!   `relais_invoice_invalid_customer`;
//! - `Content-Type: application/pdf`, else 415 `relais_invoice_unsupported_type`;
//! - body at most 10 MiB, else 413 `relais_invoice_too_large`;
//! - body starts with `%PDF-`, else 400 `relais_invoice_not_pdf`;
//! - `X-Relais-Sha256` (optional): hex SHA-256 of the body, any case, else 400
//!   `relais_invoice_checksum_mismatch`.
//!
//! The outcome, decided against what the shop holds under the number:
//!
//! - not held: 201, stored, body = the invoice, with a `Location` header;
//! - held for the same customer with the same SHA-256: 200, nothing stored, body = the
//!   invoice held (so a retry is harmless);
//! - held with other bytes or for another customer: 409 `relais_invoice_conflict`, with the
//!   invoice held in `data.held`.
//!
//! An invoice body is `{"number", "customer_id", "sha256", "size", "received_at"}`
//! (`received_at` is RFC 3339 UTC). The answer is sent only once the PDF and the journal line
//! are on disk, so a retry after a lost answer is always safe: it gets 200.
//!
//! ## `GET /wp-json/relais/v1/invoices/<number>`
//!
//! 200 with the invoice body, or 404 `relais_invoice_not_found`. This is how the agent checks
//! whether an upload already happened.
//!
//! ## `GET /wp-json/relais/v1/customers/<id>/invoices`
//!
//! 200 with the customer's invoices, sorted by number: `[{"number", "sha256", "size",
//! "received_at"}]` (empty for a customer with none).
//!
//! ## `GET /sandbox/uploads` (sandbox only)
//!
//! The journal `uploads.log` as a JSON array of `{"number", "customer_id", "sha256",
//! "outcome": "created"|"identical"|"conflict", "at"}`, one per answered `PUT`.

mod log;
mod store;
mod upload;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use log::{read_upload_log, UploadOutcome, UploadRecord};
pub(crate) use store::InvoiceStore;
use store::PutOutcome;
use upload::{check_number, parse_customer_id, parse_upload, MAX_PDF_BYTES};

use crate::error::ShopError;
use crate::wp::WpError;

/// Path prefix of one invoice.
const INVOICE_PATH: &str = "/wp-json/relais/v1/invoices";

/// An invoice the shop holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldInvoice {
    /// Invoice number, unique across customers.
    pub number: String,
    /// Shop customer the invoice belongs to.
    pub customer_id: u64,
    /// SHA-256 of the PDF, lowercase hex.
    pub sha256: String,
    /// Size of the PDF in bytes.
    pub size: u64,
    /// When the shop first stored it, UTC.
    pub received_at: Timestamp,
}

/// One entry of a customer's invoice list.
#[derive(Serialize)]
struct CustomerInvoice<'a> {
    number: &'a str,
    sha256: &'a str,
    size: u64,
    received_at: Timestamp,
}

/// The invoice routes and the journal route, ready to be merged into the shop's router.
pub(crate) fn routes(store: Arc<InvoiceStore>) -> Router {
    Router::new()
        .route(
            &format!("{INVOICE_PATH}/{{number}}"),
            get(get_invoice)
                .put(put_invoice)
                .layer(DefaultBodyLimit::max(MAX_PDF_BYTES)),
        )
        .route(
            "/wp-json/relais/v1/customers/{id}/invoices",
            get(customer_invoices),
        )
        .route("/sandbox/uploads", get(uploads))
        .with_state(store)
}

async fn get_invoice(
    State(store): State<Arc<InvoiceStore>>,
    Path(number): Path<String>,
) -> Response {
    if let Err(e) = check_number(&number) {
        return e.into_response();
    }
    match store.get(&number) {
        Some(invoice) => Json(invoice).into_response(),
        None => WpError::new(
            StatusCode::NOT_FOUND,
            "relais_invoice_not_found",
            format!("no invoice {number} is held"),
        )
        .into_response(),
    }
}

async fn put_invoice(
    State(store): State<Arc<InvoiceStore>>,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let upload = match parse_upload(number, &headers, body) {
        Ok(upload) => upload,
        Err(e) => return e.into_response(),
    };
    match store.put(upload).await {
        Ok(outcome) => put_response(outcome),
        Err(e) => storage_error(&e).into_response(),
    }
}

fn put_response(outcome: PutOutcome) -> Response {
    match outcome {
        PutOutcome::Created(invoice) => {
            tracing::info!(number = %invoice.number, customer_id = invoice.customer_id, "created");
            let location = format!("{INVOICE_PATH}/{}", invoice.number);
            (StatusCode::CREATED, [(LOCATION, location)], Json(invoice)).into_response()
        }
        PutOutcome::Identical(held) => {
            tracing::info!(number = %held.number, "identical upload, nothing stored");
            Json(held).into_response()
        }
        PutOutcome::Conflict(held) => {
            tracing::info!(number = %held.number, "conflicting upload refused");
            conflict(&held).into_response()
        }
    }
}

fn conflict(held: &HeldInvoice) -> WpError {
    let message = format!(
        "invoice {} is already held for customer {} with SHA-256 {}; this upload differs",
        held.number, held.customer_id, held.sha256
    );
    WpError::new(StatusCode::CONFLICT, "relais_invoice_conflict", message)
        .with_data("held", json!(held))
}

async fn customer_invoices(
    State(store): State<Arc<InvoiceStore>>,
    Path(id): Path<String>,
) -> Response {
    let Some(customer_id) = parse_customer_id(&id) else {
        let message = format!("customer id must be an integer > 0, found {id:?}");
        return WpError::new(StatusCode::BAD_REQUEST, "relais_invalid_customer", message)
            .into_response();
    };
    let invoices = store.of_customer(customer_id);
    let list: Vec<CustomerInvoice<'_>> = invoices
        .iter()
        .map(|i| CustomerInvoice {
            number: &i.number,
            sha256: &i.sha256,
            size: i.size,
            received_at: i.received_at,
        })
        .collect();
    Json(list).into_response()
}

async fn uploads(State(store): State<Arc<InvoiceStore>>) -> Response {
    let data_dir = store.data_dir().to_path_buf();
    let read = tokio::task::spawn_blocking(move || read_upload_log(&data_dir)).await;
    match read.map_err(ShopError::from).and_then(|r| r) {
        Ok(records) => Json(records).into_response(),
        Err(e) => storage_error(&e).into_response(),
    }
}

fn storage_error(error: &ShopError) -> WpError {
    tracing::error!(error = %error, "invoice storage failed");
    WpError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "relais_storage_error",
        error.to_string(),
    )
}
