//! The shop's orders, held in memory as given, with the few facts the list filters need read
//! out once when an order is stored.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::Value;

use crate::error::ShopError;

/// One order as the shop holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeldOrder {
    /// `id`.
    pub id: u64,
    /// `status`, without WordPress's `wc-` prefix.
    pub status: String,
    /// `date_created_gmt`, read as UTC.
    pub created: Timestamp,
    /// `date_modified_gmt`, read as UTC (the creation time when the order has none).
    pub modified: Timestamp,
    /// The order object exactly as given.
    pub body: Value,
}

impl HeldOrder {
    /// Reads the filterable facts out of a WooCommerce order object.
    pub(crate) fn from_json(body: Value) -> Result<Self, String> {
        let id = body
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                format!(
                    "\"id\" must be a positive integer, found {}",
                    field(&body, "id")
                )
            })?;
        let status = body
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!(
                    "\"status\" must be a string, found {}",
                    field(&body, "status")
                )
            })?
            .to_owned();
        let created = gmt_field(&body, "date_created_gmt")?
            .ok_or_else(|| "\"date_created_gmt\" is missing".to_owned())?;
        let modified = gmt_field(&body, "date_modified_gmt")?.unwrap_or(created);

        Ok(Self {
            id,
            status,
            created,
            modified,
            body,
        })
    }
}

/// All orders of the shop, by id, with what hangs off them: refunds in
/// detail and private notes; and, for tests, what clients did to them.
#[derive(Debug, Default)]
pub(crate) struct OrderBook {
    orders: RwLock<BTreeMap<u64, HeldOrder>>,
    refunds: RwLock<BTreeMap<u64, Vec<Value>>>,
    notes: RwLock<BTreeMap<u64, Vec<Value>>>,
    /// Every status set by `PUT orders/<id>`, in order, by order id.
    status_changes: RwLock<BTreeMap<u64, Vec<String>>>,
    /// Order-list requests answered or refused so far.
    list_requests: AtomicU64,
}

impl OrderBook {
    /// Builds the book from the configured orders; the first unusable one stops the start.
    pub(crate) fn load(orders: Vec<Value>) -> Result<Self, ShopError> {
        let mut held = BTreeMap::new();
        for (index, body) in orders.into_iter().enumerate() {
            let order = HeldOrder::from_json(body).map_err(|reason| ShopError::InvalidOrder {
                origin: format!("configured order at index {index}"),
                reason,
            })?;
            held.insert(order.id, order);
        }
        Ok(Self {
            orders: RwLock::new(held),
            ..Self::default()
        })
    }

    /// Deletes an order (trashed at the shop); true if it was held.
    pub(crate) fn remove(&self, id: u64) -> bool {
        self.write().remove(&id).is_some()
    }

    /// Sets the detailed refunds of an order, as `GET orders/<id>/refunds` gives them.
    pub(crate) fn set_refunds(&self, id: u64, refunds: Vec<Value>) {
        self.refunds
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, refunds);
    }

    /// The detailed refunds of an order: those set, or else one amount-only refund per
    /// entry of the order's own `refunds` list (a refund made without choosing lines).
    pub(crate) fn refunds(&self, id: u64) -> Option<Vec<Value>> {
        if let Some(set) = self
            .refunds
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            return Some(set.clone());
        }
        let book = self.read();
        let order = book.get(&id)?;
        let listed = order.body.get("refunds").and_then(Value::as_array);
        let refunds = listed
            .into_iter()
            .flatten()
            .map(|r| {
                let total = r.get("total").and_then(Value::as_str).unwrap_or("0");
                serde_json::json!({
                    "id": r.get("id").cloned().unwrap_or(Value::Null),
                    "date_created_gmt": order.body.get("date_modified_gmt").cloned()
                        .unwrap_or(Value::Null),
                    "amount": total.trim_start_matches('-'),
                    "reason": r.get("reason").cloned().unwrap_or(Value::Null),
                    "refunded_payment": false,
                    "line_items": [],
                    "shipping_lines": [],
                    "fee_lines": [],
                })
            })
            .collect();
        Some(refunds)
    }

    /// Adds a private note to an order and returns it, or `None` for an unknown order.
    pub(crate) fn add_note(&self, id: u64, note: &str, customer_note: bool) -> Option<Value> {
        if !self.read().contains_key(&id) {
            return None;
        }
        let mut notes = self.notes.write().unwrap_or_else(PoisonError::into_inner);
        let list = notes.entry(id).or_default();
        let note = serde_json::json!({
            "id": id * 1000 + list.len() as u64 + 1,
            "author": "WooCommerce",
            "date_created_gmt": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            "note": note,
            "customer_note": customer_note,
        });
        list.push(note.clone());
        Some(note)
    }

    /// The notes of an order, oldest first.
    pub(crate) fn notes(&self, id: u64) -> Vec<Value> {
        self.notes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// Changes an order's status as WooCommerce does: the modification date moves.
    pub(crate) fn set_status(&self, id: u64, status: &str) -> Option<Value> {
        let mut book = self.write();
        let order = book.get_mut(&id)?;
        let now = Timestamp::now();
        self.status_changes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .push(status.to_owned());
        order.status = status.to_owned();
        order.modified = now;
        if let Some(body) = order.body.as_object_mut() {
            body.insert("status".into(), Value::from(status));
            let gmt = now.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            body.insert("date_modified_gmt".into(), Value::from(gmt));
        }
        Some(order.body.clone())
    }

    /// Every status set through `PUT orders/<id>` so far, by order id, oldest first.
    pub(crate) fn status_changes(&self) -> BTreeMap<u64, Vec<String>> {
        self.status_changes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one request for the order list.
    pub(crate) fn count_list_request(&self) {
        self.list_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Order-list requests received so far.
    pub(crate) fn list_requests(&self) -> u64 {
        self.list_requests.load(Ordering::Relaxed)
    }

    /// Adds the order, or replaces the held order with the same id.
    pub(crate) fn upsert(&self, body: Value) -> Result<(), ShopError> {
        let order = HeldOrder::from_json(body).map_err(|reason| ShopError::InvalidOrder {
            origin: "order given to upsert_order".to_owned(),
            reason,
        })?;
        self.write().insert(order.id, order);
        Ok(())
    }

    /// Read access to the orders, by id.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, BTreeMap<u64, HeldOrder>> {
        // A panic while holding the lock cannot leave a half-inserted map entry.
        self.orders.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, HeldOrder>> {
        self.orders.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads a WooCommerce `*_gmt` date (`YYYY-MM-DDTHH:MM:SS`, no offset) as UTC.
fn gmt_field(body: &Value, name: &str) -> Result<Option<Timestamp>, String> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => text
            .parse::<DateTime>()
            .and_then(|dt| dt.to_zoned(TimeZone::UTC))
            .map(|zoned| Some(zoned.timestamp()))
            .map_err(|e| format!("\"{name}\" is not a date-time ({text:?}): {e}")),
        Some(other) => Err(format!("\"{name}\" must be a string, found {other}")),
    }
}

fn field(body: &Value, name: &str) -> String {
    body.get(name)
        .map_or_else(|| "nothing".to_owned(), Value::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_without_modification_date_counts_as_modified_when_created() {
        let order = HeldOrder::from_json(json!({
            "id": 7, "status": "processing",
            "date_created_gmt": "2026-12-02T14:52:15", "date_modified_gmt": null
        }))
        .expect("valid order");

        assert_eq!(
            order.created,
            "2026-12-02T14:52:15Z".parse::<Timestamp>().expect("ts")
        );
        assert_eq!(order.modified, order.created);
    }

    #[test]
    fn an_order_without_id_is_refused_with_the_value_found() {
        let err = HeldOrder::from_json(json!({"id": "7", "status": "processing"}))
            .expect_err("string id");
        assert!(err.contains("\"7\""), "{err}");
    }

    #[test]
    fn upsert_replaces_the_order_with_the_same_id() {
        let book = OrderBook::default();
        let created = "2026-12-02T10:00:00";
        let order = |status: &str| json!({"id": 1, "status": status, "date_created_gmt": created});
        book.upsert(order("pending")).expect("insert");
        book.upsert(order("completed")).expect("replace");

        let held = book.read();
        assert_eq!(held.len(), 1);
        assert_eq!(held[&1].status, "completed");
    }
}
