//! Pulling orders from the shop into the store.
//!
//! The cursor is the newest `date_modified_gmt` seen. Each pull asks for
//! orders modified after the cursor minus an overlap window (so an order
//! saved while the last pull was walking its pages is not missed), walks the
//! pages by id ascending, and stores each page in one commit. The cursor
//! moves only after every page is stored; orders seen twice are dedup
//! no-ops, since their (id, modification time) is the dedup key.
//!
//! An order's own `refunds` list carries only amounts; for an order with
//! refunds, the refunds are fetched with their lines and stored with the
//! order under `relais_refunds`, so that a partial refund of two kilos of
//! one line is known as such (a refund moves the order's modification time,
//! so it arrives as a new revision).

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::client::{ShopClient, ShopError};
use crate::retry::{jitter, Backoff};
use crate::store::{Intake, IntakeOutcome, Kind, Store, StoreError};

/// Name of the order cursor in the store.
pub const CURSOR: &str = "shop.orders.modified_after";

/// How far back each pull reaches before the cursor.
pub const OVERLAP: SignedDuration = SignedDuration::from_mins(10);

/// A pull that failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The shop failed (after retries for transient faults).
    #[error(transparent)]
    Shop(#[from] ShopError),
    /// The store failed: nothing after the last stored page was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one pull did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// Pages read.
    pub pages: u32,
    /// Orders (or revisions) stored for the first time.
    pub new: usize,
    /// Orders already held.
    pub duplicates: usize,
}

/// The few fields read at intake; the full order is read by the mapping.
#[derive(Deserialize)]
struct Header {
    id: u64,
    #[serde(default)]
    number: Option<String>,
    date_created_gmt: String,
    date_modified_gmt: String,
    #[serde(deserialize_with = "pos_bridge::money::decimal")]
    total: Decimal,
}

fn utc(text: &str) -> Option<Timestamp> {
    let dt: jiff::civil::DateTime = text.parse().ok()?;
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// Turns one order's JSON into an intake. An order whose header cannot be
/// read is still stored (under its hash) so that the mapping quarantines it
/// with the reason, instead of it vanishing.
fn intake_of(raw: &str, tz: &TimeZone, today: jiff::civil::Date) -> (Intake, Option<Timestamp>) {
    let header: Option<Header> = serde_json::from_str(raw).ok();
    let hash = hex::encode(Sha256::digest(raw.as_bytes()));
    let Some(h) = header else {
        let intake = Intake {
            kind: Kind::WebOrder,
            external_id: format!("unreadable-{}", &hash[..12]),
            revision: hash,
            day: today,
            amount: Decimal::ZERO,
            body: raw.as_bytes().to_vec(),
            parent: None,
        };
        return (intake, None);
    };
    let created = utc(&h.date_created_gmt);
    let day = created.map_or(today, |t| t.to_zoned(tz.clone()).date());
    let intake = Intake {
        kind: Kind::WebOrder,
        external_id: h.number.unwrap_or_else(|| h.id.to_string()),
        revision: h.date_modified_gmt.clone(),
        day,
        amount: h.total,
        body: raw.as_bytes().to_vec(),
        parent: None,
    };
    (intake, utc(&h.date_modified_gmt))
}

/// Pulls every order modified since the cursor (or `first_since` when the
/// store has none yet) and advances the cursor.
pub async fn pull_orders(
    store: &Store,
    client: &ShopClient,
    first_since: Timestamp,
    tz: &TimeZone,
) -> Result<PullReport, PullError> {
    let cursor = store
        .cursor(CURSOR)?
        .and_then(|c| c.parse::<Timestamp>().ok());
    let since = cursor.unwrap_or(first_since) - OVERLAP;
    let since_text = since
        .to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let started = Timestamp::now();
    let today = started.to_zoned(tz.clone()).date();
    let mut report = PullReport::default();
    let mut newest = cursor.unwrap_or(first_since);
    // Offset pages shift when orders are added or removed during the walk,
    // and an order at a page boundary can be skipped: if the total changed
    // between pages, walk again (what was stored is a dedup no-op).
    for walk in 1..=MAX_WALKS {
        let stable = walk_pages(
            store,
            client,
            &since_text,
            tz,
            today,
            &mut newest,
            &mut report,
        )
        .await?;
        if stable {
            break;
        }
        tracing::warn!(
            walk,
            "orders changed during the pull, walking the pages again"
        );
    }
    // A modification time in the future (a shop clock or a bad row) must
    // not move the cursor past orders yet to come.
    let newest = newest.min(started);
    store.set_cursor(CURSOR, &newest.to_string())?;
    store.record_success("shop")?;
    Ok(report)
}

/// Walks at most this many times when the shop keeps changing under a pull.
const MAX_WALKS: u32 = 3;

/// Walks every page once, storing each page in one commit. Returns whether
/// the order count stayed the same from the first page to the last.
async fn walk_pages(
    store: &Store,
    client: &ShopClient,
    since: &str,
    tz: &TimeZone,
    today: jiff::civil::Date,
    newest: &mut Timestamp,
    report: &mut PullReport,
) -> Result<bool, PullError> {
    let mut page = 1;
    let mut first_total = None;
    loop {
        let answer = with_retries(|| client.orders_page(since, page)).await?;
        let first = *first_total.get_or_insert(answer.total);
        let mut intakes = Vec::with_capacity(answer.orders.len());
        for raw in &answer.orders {
            let detailed = with_refund_details(client, raw.get()).await?;
            let (intake, modified) = intake_of(detailed.as_deref().unwrap_or(raw.get()), tz, today);
            *newest = (*newest).max(modified.unwrap_or(*newest));
            intakes.push(intake);
        }
        let store2 = store.clone();
        let outcomes = tokio::task::spawn_blocking(move || store2.intake(intakes))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        for outcome in outcomes {
            match outcome {
                IntakeOutcome::New(_) => report.new += 1,
                IntakeOutcome::Duplicate(_) => report.duplicates += 1,
            }
        }
        report.pages += 1;
        tracing::info!(page, total_pages = answer.total_pages, "orders page stored");
        if page >= answer.total_pages {
            return Ok(answer.total == first);
        }
        page += 1;
    }
}

/// The order's JSON with its refunds in detail under `relais_refunds`, or
/// `None` when it has no refunds (or cannot be read: the mapping will say).
async fn with_refund_details(client: &ShopClient, raw: &str) -> Result<Option<String>, ShopError> {
    #[derive(Deserialize)]
    struct Refunds {
        id: u64,
        #[serde(default)]
        refunds: Vec<serde::de::IgnoredAny>,
    }
    let Ok(head) = serde_json::from_str::<Refunds>(raw) else {
        return Ok(None);
    };
    if head.refunds.is_empty() {
        return Ok(None);
    }
    let refunds = with_retries(|| client.refunds(head.id)).await?;
    let Ok(mut order) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw)
    else {
        return Ok(None);
    };
    let details: Vec<serde_json::Value> = refunds
        .iter()
        .filter_map(|r| serde_json::from_str(r.get()).ok())
        .collect();
    order.insert("relais_refunds".into(), serde_json::Value::Array(details));
    Ok(serde_json::to_string(&order).ok())
}

/// Longest wait a shop's `Retry-After` can impose on one retry: a shop
/// asking for an hour is retried by the next round instead.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);

/// Retries a shop call on transient faults with capped backoff.
pub async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ShopError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ShopError>>,
{
    let backoff = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(30),
    };
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_transient() && attempt < 6 => {
                let delay = match &e {
                    ShopError::Transient {
                        retry_after: Some(d),
                        ..
                    } => (*d).min(RETRY_AFTER_CAP),
                    _ => backoff.delay(attempt, jitter()),
                };
                tracing::warn!(error = %e, attempt, ?delay, "shop call failed, retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
