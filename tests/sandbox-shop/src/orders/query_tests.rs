use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::json;

use super::*;

fn paris() -> TimeZone {
    TimeZone::get("Europe/Paris").expect("tzdata has Europe/Paris")
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn parse(query: &str) -> Result<ListQuery, InvalidParams> {
    let shop_statuses = BTreeSet::from(["prete-a-livrer".to_owned()]);
    parse_list_query(&pairs(query), &paris(), &shop_statuses)
}

fn order(id: u64, status: &str, created: &str, modified: &str) -> HeldOrder {
    HeldOrder::from_json(json!({
        "id": id, "status": status,
        "date_created_gmt": created, "date_modified_gmt": modified,
    }))
    .expect("test order")
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn ids(page: &Page<'_>) -> Vec<u64> {
    page.orders.iter().map(|o| o.id).collect()
}

/// Five orders; 2 and 3 were created in the same second.
fn shop() -> Vec<HeldOrder> {
    vec![
        order(
            1,
            "processing",
            "2026-12-02T08:00:00",
            "2026-12-02T08:05:00",
        ),
        order(2, "completed", "2026-12-02T09:00:00", "2026-12-02T23:30:00"),
        order(
            3,
            "processing",
            "2026-12-02T09:00:00",
            "2026-12-02T09:10:00",
        ),
        order(4, "on-hold", "2026-12-02T10:00:00", "2026-12-02T10:00:00"),
        order(5, "trash", "2026-12-02T11:00:00", "2026-12-02T11:00:00"),
    ]
}

#[test]
fn defaults_are_first_page_of_ten_any_status_newest_first() {
    let query = parse("").expect("valid");

    assert_eq!(query.page, 1);
    assert_eq!(query.per_page, 10);
    assert_eq!(query.statuses, StatusFilter::Any);
    assert_eq!(
        (query.orderby, query.order),
        (OrderBy::Date, Direction::Desc)
    );
}

#[test]
fn per_page_outside_one_to_a_hundred_is_refused_by_name() {
    for bad in ["per_page=101", "per_page=0", "per_page=ten"] {
        let InvalidParams(params) = parse(bad).expect_err(bad);
        assert_eq!(params.keys().collect::<Vec<_>>(), vec!["per_page"], "{bad}");
    }
    assert_eq!(parse("per_page=100").expect("max").per_page, 100);
}

#[test]
fn every_invalid_parameter_is_reported_at_once() {
    let InvalidParams(params) =
        parse("page=0&orderby=modified&order=up&after=yesterday&dates_are_gmt=maybe")
            .expect_err("five bad parameters");

    let names: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["after", "dates_are_gmt", "order", "orderby", "page"]
    );
}

#[test]
fn unknown_status_is_refused_but_shop_custom_statuses_are_known() {
    let InvalidParams(params) = parse("status=processing,shipped").expect_err("unknown");
    assert!(
        params["status"].starts_with("status[1] is not one of any,"),
        "{params:?}"
    );

    let query = parse("status[]=prete-a-livrer&status[]=completed").expect("known");
    let wanted = BTreeSet::from(["completed".to_owned(), "prete-a-livrer".to_owned()]);
    assert_eq!(query.statuses, StatusFilter::Only(wanted));
}

#[test]
fn dates_without_offset_are_paris_time_unless_dates_are_gmt() {
    let local = parse("modified_after=2026-12-02T10:00:00").expect("local");
    let utc = parse("modified_after=2026-12-02T10:00:00&dates_are_gmt=true").expect("utc");

    assert_eq!(local.modified.after, Some(ts("2026-12-02T09:00:00Z")));
    assert_eq!(utc.modified.after, Some(ts("2026-12-02T10:00:00Z")));
}

#[test]
fn a_date_with_offset_is_that_instant_whatever_dates_are_gmt_says() {
    let paris = TimeZone::get("Europe/Paris").expect("tz");
    let instant = parse_date(Some("2026-07-01T12:00:00+02:00"), &paris).expect("valid");
    assert_eq!(instant, Some(ts("2026-07-01T10:00:00Z")));
    assert_eq!(
        parse_date(Some("2026-13-01T00:00:00"), &paris),
        Err("Invalid date.".into())
    );
}

#[test]
fn date_order_breaks_ties_on_id_in_both_directions() {
    let orders = shop();
    let desc = select(orders.iter(), &parse("").expect("q"));
    let asc = select(orders.iter(), &parse("order=asc").expect("q"));

    assert_eq!(ids(&desc), [4, 3, 2, 1]);
    assert_eq!(ids(&asc), [1, 2, 3, 4]);
}

#[test]
fn any_leaves_trash_out_and_status_picks_exactly() {
    let orders = shop();
    let any = select(
        orders.iter(),
        &parse("status=any&orderby=id&order=asc").expect("q"),
    );
    let some = select(
        orders.iter(),
        &parse("status=processing,trash&orderby=id").expect("q"),
    );

    assert_eq!(ids(&any), [1, 2, 3, 4]);
    assert_eq!(ids(&some), [5, 3, 1]);
}

#[test]
fn modified_after_is_strict_and_compares_modification_time() {
    let orders = shop();
    let query = parse("modified_after=2026-12-02T09:10:00&dates_are_gmt=1&orderby=id&order=asc")
        .expect("q");

    assert_eq!(ids(&select(orders.iter(), &query)), [2, 4]);
}

#[test]
fn created_window_uses_creation_time() {
    let orders = shop();
    let query = parse("after=2026-12-02T08:00:00&before=2026-12-02T10:00:00&dates_are_gmt=true")
        .expect("q");

    assert_eq!(ids(&select(orders.iter(), &query)), [3, 2]);
}

#[test]
fn include_filters_and_orderby_include_keeps_its_order() {
    let orders = shop();
    let query = parse("include=4,1,3&orderby=include&order=asc").expect("q");

    assert_eq!(ids(&select(orders.iter(), &query)), [4, 1, 3]);
}

#[test]
fn pages_cut_the_sorted_list_and_count_every_match() {
    let orders = shop();
    let first = select(
        orders.iter(),
        &parse("per_page=3&orderby=id&order=asc").expect("q"),
    );
    let second = select(
        orders.iter(),
        &parse("per_page=3&page=2&orderby=id&order=asc").expect("q"),
    );
    let past = select(orders.iter(), &parse("per_page=3&page=9").expect("q"));

    assert_eq!(
        (ids(&first), first.total, first.total_pages),
        (vec![1, 2, 3], 4, 2)
    );
    assert_eq!(ids(&second), [4]);
    assert_eq!((past.orders.len(), past.total, past.total_pages), (0, 4, 2));
}

#[test]
fn nothing_matching_means_zero_pages() {
    let orders = shop();
    let page = select(orders.iter(), &parse("status=refunded").expect("q"));
    assert_eq!((page.total, page.total_pages), (0, 0));
}

#[test]
fn link_header_has_prev_and_next_without_credentials() {
    let query = pairs("status=processing&page=2&consumer_key=ck&consumer_secret=cs");
    let header = link_header("https://localhost:1/wp-json/wc/v3/orders", &query, 2, 3);

    let base = "https://localhost:1/wp-json/wc/v3/orders?status=processing";
    let expected = format!("<{base}&page=1>; rel=\"prev\", <{base}&page=3>; rel=\"next\"");
    assert_eq!(header, Some(expected));
}

#[test]
fn link_header_past_the_end_points_back_to_the_last_page() {
    let header = link_header("/o", &pairs("page=7"), 7, 3);
    assert_eq!(header.as_deref(), Some("</o?page=3>; rel=\"prev\""));
    assert_eq!(link_header("/o", &[], 1, 1), None);
}

#[test]
fn link_parameters_are_percent_encoded() {
    let header = link_header("/o", &pairs("after=2026-12-02T10:00:00 x"), 1, 2);
    assert_eq!(
        header.as_deref(),
        Some("</o?after=2026-12-02T10%3A00%3A00%20x&page=2>; rel=\"next\"")
    );
}
