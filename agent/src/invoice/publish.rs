//! Publishing queued invoices to the shop (and sending the order notes
//! queued beside them, see `shop::notes`).
//!
//! Check before upload: the shop is asked whether it holds the invoice
//! number, and with which bytes. Rendering is deterministic (same invoice,
//! same PDF), so after a crash between upload and commit the second look
//! finds the same hash and only records the delivery. The upload itself is
//! an idempotent PUT at the shop, a second guard against a double.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};

use super::render::{render, Seller};
use crate::pipeline::InvoiceBody;
use crate::shop::client::{ShopClient, ShopError, Upload};
use crate::shop::notes::{self, NoteSettings};
use crate::shop::pull::with_retries;
use crate::store::{decode, Dest, DocMeta, Kind, State, Store, StoreError, Transition};

/// Invoices read from the queue per round.
const ROUND: usize = 32;
/// Uploads in flight at once.
const PARALLEL: usize = 4;

/// What a publishing pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    /// PDFs rendered.
    pub rendered: usize,
    /// Uploaded now.
    pub uploaded: usize,
    /// Found already at the shop.
    pub already_held: usize,
    /// Quarantined.
    pub quarantined: usize,
    /// Order notes sent (or found already at the shop).
    pub notes: usize,
}

/// A publishing pass that stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shop is unreachable (after retries); the invoices stay queued.
    #[error(transparent)]
    Shop(#[from] ShopError),
}

enum Outcome {
    Delivered {
        upload: Upload,
        at: String,
        number: String,
        orders: Vec<String>,
    },
    Noted(String),
    Quarantine(String),
}

/// Publishes every queued invoice, with the default notes (a private note
/// on each order an invoice covers, no status change).
pub async fn publish_invoices(
    store: &Store,
    client: &ShopClient,
    seller: Arc<Seller>,
) -> Result<PublishReport, PublishError> {
    publish_shop_queue(store, client, seller, &NoteSettings::default()).await
}

/// Works the shop's queue: invoices are published, notes sent.
pub async fn publish_shop_queue(
    store: &Store,
    client: &ShopClient,
    seller: Arc<Seller>,
    note_settings: &NoteSettings,
) -> Result<PublishReport, PublishError> {
    let mut report = PublishReport::default();
    loop {
        let queued = store.in_state(State::Queued(Dest::Shop), ROUND)?;
        if queued.is_empty() {
            return Ok(report);
        }
        let results: Vec<(DocMeta, Result<Outcome, PublishError>)> = stream::iter(queued)
            .map(|meta| {
                let seller = seller.clone();
                async move {
                    let outcome = if meta.kind == Kind::ShopNote {
                        send_note(store, client, &meta).await
                    } else {
                        publish_one(store, client, &meta, seller).await
                    };
                    (meta, outcome)
                }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut transitions = Vec::new();
        let mut new_notes = Vec::new();
        let mut failure = None;
        for (meta, result) in results {
            match result {
                Ok(Outcome::Noted(what)) => {
                    report.notes += 1;
                    transitions.push(Transition {
                        delivered_as: Some(what),
                        ..Transition::to(meta.id, State::Delivered(Dest::Shop), "note sent")
                    });
                }
                Ok(Outcome::Delivered {
                    upload,
                    at,
                    number,
                    orders,
                }) => {
                    new_notes.extend(notes::invoice_notes(
                        store,
                        &number,
                        &orders,
                        note_settings,
                    )?);
                    report.rendered += 1;
                    match upload {
                        Upload::Created => report.uploaded += 1,
                        Upload::AlreadyHeld => report.already_held += 1,
                    }
                    let note = match upload {
                        Upload::Created => "uploaded",
                        Upload::AlreadyHeld => "already held by the shop",
                    };
                    transitions.push(Transition {
                        delivered_as: Some(at),
                        ..Transition::to(meta.id, State::Delivered(Dest::Shop), note)
                    });
                }
                Ok(Outcome::Quarantine(reason)) => {
                    tracing::error!(invoice = %meta.external_id, reason = %reason, "quarantined");
                    report.quarantined += 1;
                    transitions.push(Transition::to(meta.id, State::Quarantined, reason));
                }
                Err(e) => failure = Some(e),
            }
        }
        // Record what succeeded even when some failed: those are at the shop.
        // The notes for the invoices just delivered go in the same commit.
        let store2 = store.clone();
        tokio::task::spawn_blocking(move || store2.intake_and_apply(new_notes, transitions))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        if let Some(e) = failure {
            return Err(e);
        }
        store.record_success("shop")?;
    }
}

async fn send_note(
    store: &Store,
    client: &ShopClient,
    meta: &DocMeta,
) -> Result<Outcome, PublishError> {
    match notes::send(store, client, meta).await {
        Ok(what) => Ok(Outcome::Noted(what)),
        Err(notes::SendError::Unusable(reason)) => Ok(Outcome::Quarantine(reason)),
        Err(notes::SendError::Shop(ShopError::Permanent { what, detail })) => {
            Ok(Outcome::Quarantine(format!("{what}: {detail}")))
        }
        Err(notes::SendError::Shop(e)) => Err(e.into()),
        Err(notes::SendError::Store(e)) => Err(e.into()),
    }
}

async fn publish_one(
    store: &Store,
    client: &ShopClient,
    meta: &DocMeta,
    seller: Arc<Seller>,
) -> Result<Outcome, PublishError> {
    let body = store.body(meta.id)?;
    let customer: u64 = decode(&store.mapped(meta.id)?).map_err(|source| StoreError::Damaged {
        what: format!(
            "shop customer of invoice {} (document {})",
            meta.external_id, meta.id
        ),
        source,
    })?;
    let invoice = match serde_json::from_slice::<InvoiceBody>(&body) {
        Ok(InvoiceBody::Ready(invoice)) => invoice,
        Ok(InvoiceBody::Held { .. }) | Err(_) => {
            return Ok(Outcome::Quarantine(format!(
                "invoice {}: body unreadable",
                meta.external_id
            )));
        }
    };
    let mut orders: Vec<String> = invoice
        .lines
        .iter()
        .filter(|l| l.origin == pos_bridge::invoice::Origin::Web)
        .map(|l| l.reference.clone())
        .collect();
    orders.sort();
    orders.dedup();
    let rendered = tokio::task::spawn_blocking(move || {
        render(&invoice, &seller).map(|pdf| (invoice.number.clone(), pdf))
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?;
    let (number, pdf) = match rendered {
        Ok(done) => done,
        Err(e) => return Ok(Outcome::Quarantine(e.to_string())),
    };
    let sha = hex::encode(Sha256::digest(&pdf));
    let at = format!("shop customer {customer}, invoice {number}");
    let held = match with_retries(|| client.invoice(&number)).await {
        Ok(held) => held,
        Err(ShopError::Permanent { what, detail }) => {
            return Ok(Outcome::Quarantine(format!("{what}: {detail}")));
        }
        Err(e) => return Err(e.into()),
    };
    match held {
        Some(held) if held.sha256 == sha && held.customer_id == customer => {
            return Ok(Outcome::Delivered {
                upload: Upload::AlreadyHeld,
                at,
                number,
                orders,
            });
        }
        Some(held) => {
            let reason = format!(
                "invoice {number}: the shop already holds a different document under this number \
                 (customer {}, sha256 {})",
                held.customer_id, held.sha256
            );
            return Ok(Outcome::Quarantine(reason));
        }
        None => {}
    }
    match with_retries(|| client.put_invoice(&number, customer, pdf.clone(), &sha)).await {
        Ok(upload) => Ok(Outcome::Delivered {
            upload,
            at,
            number,
            orders,
        }),
        Err(ShopError::Permanent { what, detail }) => {
            Ok(Outcome::Quarantine(format!("{what}: {detail}")))
        }
        Err(e) => Err(e.into()),
    }
}
