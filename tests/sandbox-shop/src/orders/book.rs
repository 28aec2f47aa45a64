//! The shop's orders, held in memory as given, with the few facts the list filters need read
//! out once when an order is stored.

use std::collections::BTreeMap;
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

/// All orders of the shop, by id.
#[derive(Debug, Default)]
pub(crate) struct OrderBook {
    orders: RwLock<BTreeMap<u64, HeldOrder>>,
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
        })
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
