//! Status back to the shop: when the ERP has taken an order, and when its
//! invoice is published, the order gets a private note and, if the site
//! wants, a status change.
//!
//! Each note is a document of its own (`note` kind), queued for the shop
//! like an invoice, so it survives crashes and outages the same way:
//!
//! - notes for an ERP batch are stored in the same commit that moves the
//!   batch cursor, batch after batch, once the batch is delivered;
//! - notes for an invoice are stored in the same commit that marks the
//!   invoice delivered;
//! - sending looks at the order's notes first: a note already there (its
//!   text ends with a `[relais:<id>]` marker) is not posted again, so a
//!   crash between the post and its commit gives no second note.
//!
//! A status change moves the order's modification time at the shop, so
//! the next pull sees a new revision of the order: that revision maps to
//! the same rows and is not sent again (see `pipeline::amend`), which is
//! why status changes are off unless configured.

use serde::{Deserialize, Serialize};

use super::client::{ShopClient, ShopError};
use super::pull::with_retries;
use crate::store::{Dest, DocMeta, Intake, Kind, Store, StoreError};

/// Cursor: the last ERP batch whose notes are stored.
pub const ERP_BATCH_CURSOR: &str = "shop.notes.erp_batch";

/// What the site wants told to the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSettings {
    /// Post private notes at all.
    pub notes: bool,
    /// Status given to an order once the ERP has it (`None`: unchanged).
    pub status_when_in_erp: Option<String>,
    /// Status given to an order once its invoice is published.
    pub status_when_invoiced: Option<String>,
}

impl Default for NoteSettings {
    fn default() -> Self {
        NoteSettings {
            notes: true,
            status_when_in_erp: None,
            status_when_invoiced: None,
        }
    }
}

/// A note document's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteBody {
    /// The order number at the shop.
    pub order: String,
    /// The note's text, without its marker.
    pub text: String,
    /// A status to set, if any.
    pub status: Option<String>,
}

fn note(order: &DocMeta, suffix: &str, revision: &str, body: NoteBody) -> Option<Intake> {
    Some(Intake {
        kind: Kind::ShopNote,
        external_id: format!("{}:{suffix}", order.external_id),
        revision: revision.to_string(),
        day: order.day,
        amount: Default::default(),
        body: serde_json::to_vec(&body).ok()?,
        parent: Some(order.id),
    })
}

/// Stores the notes of every delivered ERP batch not yet noted, in batch
/// order; stops at the first batch not delivered yet. Returns how many.
pub fn note_erp_batches(store: &Store, settings: &NoteSettings) -> Result<usize, StoreError> {
    if !settings.notes && settings.status_when_in_erp.is_none() {
        return Ok(0);
    }
    let after = match store.cursor(ERP_BATCH_CURSOR)? {
        Some(text) => text.parse().unwrap_or(0),
        None => 0,
    };
    let mut stored = 0;
    for batch in store.batches_after(Dest::Erp, after, 64)? {
        if !batch.delivered {
            break;
        }
        let mut notes = Vec::new();
        for &id in &batch.docs {
            let order = store.meta(id)?;
            if order.kind != Kind::WebOrder {
                continue;
            }
            let body = NoteBody {
                order: order.external_id.clone(),
                text: format!(
                    "Relais : commande transmise à l'ERP (fichier {}).",
                    batch.name
                ),
                status: settings.status_when_in_erp.clone(),
            };
            notes.extend(note(&order, "erp", &batch.name, body));
        }
        stored += notes.len();
        store.intake_with_cursor(notes, ERP_BATCH_CURSOR, &batch.id.to_string())?;
    }
    Ok(stored)
}

/// The notes for the web orders an invoice covers.
pub fn invoice_notes(
    store: &Store,
    invoice_number: &str,
    orders: &[String],
    settings: &NoteSettings,
) -> Result<Vec<Intake>, StoreError> {
    if !settings.notes && settings.status_when_invoiced.is_none() {
        return Ok(Vec::new());
    }
    let mut notes = Vec::new();
    for number in orders {
        let Some(order) = store.find(Kind::WebOrder, number)? else {
            continue;
        };
        let body = NoteBody {
            order: number.clone(),
            text: format!("Relais : facture {invoice_number} publiée dans l'espace client."),
            status: settings.status_when_invoiced.clone(),
        };
        notes.extend(note(
            &order,
            &format!("invoice:{invoice_number}"),
            "1",
            body,
        ));
    }
    Ok(notes)
}

/// The marker that makes a note recognisable at the shop.
pub fn marker(note_id: &str) -> String {
    format!("[relais:{note_id}]")
}

/// Sends one note: the order's notes are read first, and a note already
/// there is not posted again. Returns a description for the audit.
pub async fn send(store: &Store, client: &ShopClient, meta: &DocMeta) -> Result<String, SendError> {
    let body: NoteBody = serde_json::from_slice(&store.body(meta.id)?)
        .map_err(|e| SendError::Unusable(format!("note {}: unreadable: {e}", meta.external_id)))?;
    let order = store
        .find(Kind::WebOrder, &body.order)?
        .ok_or_else(|| SendError::Unusable(format!("note for unknown order {}", body.order)))?;
    #[derive(Deserialize)]
    struct Id {
        id: u64,
    }
    let order_id = serde_json::from_slice::<Id>(&store.body(order.id)?)
        .map_err(|e| SendError::Unusable(format!("order {}: no id: {e}", body.order)))?
        .id;
    let marker = marker(&meta.external_id);
    let existing = with_retries(|| client.notes(order_id)).await?;
    let mut done = Vec::new();
    if existing.iter().any(|n| n.note.contains(&marker)) {
        done.push("note already at the shop".to_string());
    } else {
        let text = format!("{} {marker}", body.text);
        with_retries(|| client.add_note(order_id, &text)).await?;
        done.push("note posted".to_string());
    }
    if let Some(status) = &body.status {
        // Setting the same status twice is harmless.
        with_retries(|| client.set_status(order_id, status)).await?;
        done.push(format!("status set to {status}"));
    }
    Ok(format!("order {}: {}", body.order, done.join(", ")))
}

/// A note that could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shop failed (transient ones were retried).
    #[error(transparent)]
    Shop(#[from] ShopError),
    /// The note cannot be sent as it is: quarantine it.
    #[error("{0}")]
    Unusable(String),
}
