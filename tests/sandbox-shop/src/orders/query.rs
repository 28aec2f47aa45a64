//! The `GET orders` list query as plain functions: read the parameters the way WordPress
//! validates them, then filter, order and cut one page, and build the `Link` header.
//!
//! Behaviours copied from WooCommerce on purpose, because clients must cope with them:
//!
//! - `after`/`before` and their `modified_` twins are strict (`>` and `<`), as in a WordPress
//!   `date_query` without `inclusive`;
//! - without an offset, dates are site local time (Europe/Paris) unless `dates_are_gmt=true`;
//!   a date with `Z` or an offset is taken as that instant;
//! - `orderby=date` sorts on creation time then id, both in the `order` direction, which is
//!   what keeps pages stable when orders share a second;
//! - `orderby=include` keeps the order of the `include` list and ignores `order`;
//! - a page past the end is an empty list, with the totals still in the headers.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::book::HeldOrder;

/// Statuses of core WooCommerce; shops add their own, which the sandbox learns from its orders.
const CORE_STATUSES: [&str; 8] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];

/// Statuses WordPress leaves out of `status=any`.
const HIDDEN_FROM_ANY: [&str; 2] = ["trash", "auto-draft"];

/// Query parameters that are credentials, never echoed into `Link` headers.
const CREDENTIAL_PARAMS: [&str; 2] = ["consumer_key", "consumer_secret"];

/// A validated list query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListQuery {
    /// 1-based page number.
    pub page: u64,
    /// Orders per page, 1..=100.
    pub per_page: u64,
    /// Which statuses to list.
    pub statuses: StatusFilter,
    /// Only these ids, when not empty.
    pub include: Vec<u64>,
    /// Window on the creation time.
    pub created: Window,
    /// Window on the last modification time.
    pub modified: Window,
    /// Sort key.
    pub orderby: OrderBy,
    /// Sort direction.
    pub order: Direction,
}

/// The `status` parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StatusFilter {
    /// Every status but those WordPress hides from `any`.
    Any,
    /// Only these statuses.
    Only(BTreeSet<String>),
}

/// A time window, both ends exclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Window {
    /// Strictly after this instant.
    pub after: Option<Timestamp>,
    /// Strictly before this instant.
    pub before: Option<Timestamp>,
}

/// The `orderby` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderBy {
    /// Creation time, then id.
    Date,
    /// Order id.
    Id,
    /// Position in the `include` list.
    Include,
    /// Orders have no real title or slug; WordPress derives both from the creation time, so
    /// these sort like `Date`.
    TitleOrSlug,
}

/// The `order` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Parameters that failed validation: parameter name to WordPress-style message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidParams(pub BTreeMap<String, String>);

/// One page of a list answer.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    /// The orders on this page, in answer order.
    pub orders: Vec<&'a HeldOrder>,
    /// Orders matching the filters, on all pages (`X-WP-Total`).
    pub total: u64,
    /// Number of pages (`X-WP-TotalPages`); 0 when nothing matches.
    pub total_pages: u64,
}

/// Raw query pairs, read the way PHP reads a query string: the last value wins for a single
/// parameter, and a list may come as `a,b` or as repeated `name[]`.
struct Params<'a>(&'a [(String, String)]);

impl Params<'_> {
    fn single(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, name: &str) -> Option<Vec<String>> {
        let bracketed = format!("{name}[]");
        let values: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| *k == bracketed || k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let present = self.0.iter().any(|(k, _)| *k == bracketed || k == name);
        present.then_some(values)
    }
}

/// Validates the query of `GET orders`. `shop_statuses` are the statuses of the held orders,
/// which count as registered, like a shop's custom statuses.
pub(crate) fn parse_list_query(
    pairs: &[(String, String)],
    site_tz: &TimeZone,
    shop_statuses: &BTreeSet<String>,
) -> Result<ListQuery, InvalidParams> {
    let params = Params(pairs);
    let mut bad = BTreeMap::new();
    let b = &mut bad;

    let page = note(b, "page", parse_page(params.single("page")));
    let per_page = note(b, "per_page", parse_per_page(params.single("per_page")));
    let statuses = note(
        b,
        "status",
        parse_statuses(params.list("status"), shop_statuses),
    );
    let include = note(b, "include", parse_ids("include", params.list("include")));
    let orderby = note(b, "orderby", parse_orderby(params.single("orderby")));
    let order = note(b, "order", parse_direction(params.single("order")));
    let gmt = note(
        b,
        "dates_are_gmt",
        parse_bool("dates_are_gmt", params.single("dates_are_gmt")),
    );
    let zone = if gmt == Some(true) {
        TimeZone::UTC
    } else {
        site_tz.clone()
    };
    let mut date = |name: &str| note(b, name, parse_date(params.single(name), &zone)).flatten();
    let created = Window {
        after: date("after"),
        before: date("before"),
    };
    let modified = Window {
        after: date("modified_after"),
        before: date("modified_before"),
    };

    match (page, per_page, statuses, include, orderby, order) {
        (Some(page), Some(per_page), Some(statuses), Some(include), Some(orderby), Some(order))
            if bad.is_empty() =>
        {
            Ok(ListQuery {
                page,
                per_page,
                statuses,
                include,
                created,
                modified,
                orderby,
                order,
            })
        }
        _ => Err(InvalidParams(bad)),
    }
}

/// Keeps the value, or records the parameter's message in `bad`.
fn note<T>(bad: &mut BTreeMap<String, String>, name: &str, parsed: Result<T, String>) -> Option<T> {
    parsed
        .map_err(|message| bad.insert(name.to_owned(), message))
        .ok()
}

fn parse_page(raw: Option<&str>) -> Result<u64, String> {
    let page = raw.map_or(Ok(1), |v| parse_integer("page", v))?;
    if page < 1 {
        return Err("page must be greater than or equal to 1".to_owned());
    }
    Ok(page)
}

fn parse_per_page(raw: Option<&str>) -> Result<u64, String> {
    let per_page = raw.map_or(Ok(10), |v| parse_integer("per_page", v))?;
    if !(1..=100).contains(&per_page) {
        return Err("per_page must be between 1 (inclusive) and 100 (inclusive)".to_owned());
    }
    Ok(per_page)
}

fn parse_integer(name: &str, raw: &str) -> Result<u64, String> {
    raw.trim()
        .parse::<u64>()
        .map_err(|_| format!("{name} is not of type integer."))
}

fn parse_statuses(
    raw: Option<Vec<String>>,
    shop_statuses: &BTreeSet<String>,
) -> Result<StatusFilter, String> {
    let Some(values) = raw.filter(|v| !v.is_empty()) else {
        return Ok(StatusFilter::Any);
    };
    if values.iter().any(|v| v == "any") {
        return Ok(StatusFilter::Any);
    }

    let known = known_statuses(shop_statuses);
    for (i, value) in values.iter().enumerate() {
        if !known.contains(value.as_str()) {
            let names: Vec<&str> = known.iter().copied().collect();
            return Err(format!(
                "status[{i}] is not one of any, {}.",
                names.join(", ")
            ));
        }
    }
    Ok(StatusFilter::Only(values.into_iter().collect()))
}

fn known_statuses(shop_statuses: &BTreeSet<String>) -> BTreeSet<&str> {
    CORE_STATUSES
        .iter()
        .copied()
        .chain(["trash"])
        .chain(shop_statuses.iter().map(String::as_str))
        .collect()
}

fn parse_ids(name: &str, raw: Option<Vec<String>>) -> Result<Vec<u64>, String> {
    let values = raw.unwrap_or_default();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse_integer(&format!("{name}[{i}]"), v))
        .collect()
}

fn parse_orderby(raw: Option<&str>) -> Result<OrderBy, String> {
    match raw.unwrap_or("date") {
        "date" => Ok(OrderBy::Date),
        "id" => Ok(OrderBy::Id),
        "include" => Ok(OrderBy::Include),
        "title" | "slug" => Ok(OrderBy::TitleOrSlug),
        _ => Err("orderby is not one of date, id, include, title, and slug.".to_owned()),
    }
}

fn parse_direction(raw: Option<&str>) -> Result<Direction, String> {
    match raw.unwrap_or("desc") {
        "asc" => Ok(Direction::Asc),
        "desc" => Ok(Direction::Desc),
        _ => Err("order is not one of asc and desc.".to_owned()),
    }
}

/// WordPress's boolean reading: `true`/`false`/`1`/`0`, any case; empty is false.
fn parse_bool(name: &str, raw: Option<&str>) -> Result<bool, String> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(_) => Err(format!("{name} is not of type boolean.")),
    }
}

/// Reads an ISO 8601 date-time: with `Z` or an offset it is that instant, without it is a
/// wall-clock time in `zone` (a repeated autumn hour reads as its first occurrence, a skipped
/// spring hour is pushed forward, as PHP does).
fn parse_date(raw: Option<&str>, zone: &TimeZone) -> Result<Option<Timestamp>, String> {
    let Some(text) = raw.map(str::trim) else {
        return Ok(None);
    };
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(Some(instant));
    }
    text.parse::<DateTime>()
        .and_then(|civil| civil.to_zoned(zone.clone()))
        .map(|zoned| Some(zoned.timestamp()))
        .map_err(|_| "Invalid date.".to_owned())
}

impl Window {
    fn admits(&self, at: Timestamp) -> bool {
        self.after.is_none_or(|after| at > after) && self.before.is_none_or(|before| at < before)
    }
}

impl ListQuery {
    fn admits(&self, order: &HeldOrder) -> bool {
        let status_ok = match &self.statuses {
            StatusFilter::Any => !HIDDEN_FROM_ANY.contains(&order.status.as_str()),
            StatusFilter::Only(wanted) => wanted.contains(&order.status),
        };
        status_ok
            && (self.include.is_empty() || self.include.contains(&order.id))
            && self.created.admits(order.created)
            && self.modified.admits(order.modified)
    }
}

/// Filters, sorts and cuts the page the query asks for.
pub(crate) fn select<'a>(
    orders: impl Iterator<Item = &'a HeldOrder>,
    query: &ListQuery,
) -> Page<'a> {
    let mut matching: Vec<&HeldOrder> = orders.filter(|o| query.admits(o)).collect();
    sort(&mut matching, query);

    let total = matching.len() as u64;
    let total_pages = total.div_ceil(query.per_page);
    let skip = (query.page - 1).saturating_mul(query.per_page);
    let orders = matching
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(query.per_page).unwrap_or(usize::MAX))
        .collect();

    Page {
        orders,
        total,
        total_pages,
    }
}

fn sort(orders: &mut [&HeldOrder], query: &ListQuery) {
    match query.orderby {
        OrderBy::Include if !query.include.is_empty() => {
            let position = |o: &HeldOrder| query.include.iter().position(|id| *id == o.id);
            orders.sort_by_key(|o| position(o));
            return;
        }
        OrderBy::Id => orders.sort_by_key(|o| o.id),
        OrderBy::Date | OrderBy::Include | OrderBy::TitleOrSlug => {
            orders.sort_by_key(|o| (o.created, o.id));
        }
    }
    if query.order == Direction::Desc {
        orders.reverse();
    }
}

/// The `Link` header of a list answer: `prev` then `next`, each the request's own URL with
/// another `page`, credentials left out. `None` when there is neither.
pub(crate) fn link_header(
    endpoint: &str,
    pairs: &[(String, String)],
    page: u64,
    total_pages: u64,
) -> Option<String> {
    let mut links = Vec::new();
    if page > 1 {
        // Past the end, `prev` points at the last page, as WooCommerce does.
        let prev = (page - 1).min(total_pages).max(1);
        links.push(format!(
            "<{}>; rel=\"prev\"",
            page_url(endpoint, pairs, prev)
        ));
    }
    if total_pages > page {
        links.push(format!(
            "<{}>; rel=\"next\"",
            page_url(endpoint, pairs, page + 1)
        ));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

fn page_url(endpoint: &str, pairs: &[(String, String)], page: u64) -> String {
    let page = page.to_string();
    let mut kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != "page" && !CREDENTIAL_PARAMS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // PHP's add_query_arg keeps `page` where it was; appending it is equivalent for clients.
    kept.push(("page", &page));

    let query: Vec<String> = kept
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    format!("{endpoint}?{}", query.join("&"))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
