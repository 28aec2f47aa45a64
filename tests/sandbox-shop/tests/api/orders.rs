//! The WooCommerce order routes.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{error_code, TestShop};

const ORDERS: &str = "/wp-json/wc/v3/orders";

fn ids(orders: &[Value]) -> Vec<u64> {
    orders
        .iter()
        .map(|o| o["id"].as_u64().expect("id"))
        .collect()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    Some(value.to_str().expect("ASCII header").to_owned())
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(link: Option<&str>) -> Option<String> {
    link?.split(", ").find_map(|part| {
        let (url, rel) = part.split_once("; ")?;
        (rel == "rel=\"next\"").then(|| url.trim_matches(['<', '>']).to_owned())
    })
}

async fn list(shop: &TestShop, query: &str) -> Vec<u64> {
    let response = shop.get(&format!("{ORDERS}?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    ids(&response.json::<Vec<Value>>().await.expect("json"))
}

#[tokio::test]
async fn following_next_links_walks_every_order_once_newest_first() {
    let shop = TestShop::start().await;
    let mut url = Some(shop.url(&format!("{ORDERS}?per_page=5")));
    let mut seen = Vec::new();
    let mut pages = 0;

    while let Some(next) = url.take() {
        let response = crate::support::authed(shop.client.get(&next))
            .send()
            .await
            .expect("GET");
        assert_eq!(header(&response, "x-wp-total").as_deref(), Some("13"));
        assert_eq!(header(&response, "x-wp-totalpages").as_deref(), Some("3"));
        url = next_link(header(&response, "link").as_deref());
        seen.extend(ids(&response.json::<Vec<Value>>().await.expect("json")));
        pages += 1;
    }

    assert_eq!(pages, 3);
    // 383082 and 383030 were created in the same second: the higher id comes first.
    let expected = [
        383005, 383082, 383030, 383006, 383003, 383071, 383015, 383000, 383004, 383002, 383032,
        383060, 383001,
    ];
    assert_eq!(seen, expected);
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_with_totals_and_a_prev_link() {
    let shop = TestShop::start().await;
    let response = shop.get(&format!("{ORDERS}?per_page=5&page=9")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-wp-total").as_deref(), Some("13"));
    let link = header(&response, "link").expect("Link header");
    assert!(link.ends_with("per_page=5&page=3>; rel=\"prev\""), "{link}");
    assert_eq!(
        response.json::<Vec<Value>>().await.expect("json"),
        Vec::<Value>::new()
    );
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn status_filter_lists_only_the_statuses_asked_for() {
    let shop = TestShop::start().await;

    let listed = list(&shop, "status=on-hold,pending&orderby=id&order=asc").await;
    assert_eq!(listed, [383003, 383015, 383030, 383032, 383082]);
    assert_eq!(list(&shop, "status=any&per_page=100").await.len(), 13);

    let unknown = shop.get(&format!("{ORDERS}?status=shipped")).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let body: Value = unknown.json().await.expect("json");
    assert_eq!(body["code"], "rest_invalid_param");
    assert!(body["data"]["params"]["status"].is_string(), "{body}");
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn modified_after_is_utc_with_dates_are_gmt_and_paris_time_without() {
    let shop = TestShop::start().await;

    let utc = list(
        &shop,
        "modified_after=2026-12-02T22:00:00&dates_are_gmt=true&orderby=id",
    )
    .await;
    let paris = list(&shop, "modified_after=2026-12-02T22:00:00&orderby=id").await;

    assert_eq!(utc, [383082, 383030, 383006, 383005]);
    // 22:00 in Paris is 21:00 UTC, which also lets in 383003 (modified 21:02:15 UTC).
    assert_eq!(paris, [383082, 383030, 383006, 383005, 383003]);
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused_with_401() {
    let shop = TestShop::start().await;
    let url = shop.url(ORDERS);
    let send =
        |request: reqwest::RequestBuilder| async move { request.send().await.expect("sent") };

    let missing = send(shop.client.get(&url)).await;
    let wrong = send(shop.client.get(&url).basic_auth("ck_sandbox", Some("nope"))).await;
    let query_ok = send(shop.client.get(format!(
        "{url}?consumer_key=ck_sandbox&consumer_secret=cs_sandbox"
    )))
    .await;
    let query_wrong = send(
        shop.client
            .get(format!("{url}?consumer_key=ck_sandbox&consumer_secret=x")),
    )
    .await;
    let invoice = send(shop.client.get(shop.url("/wp-json/relais/v1/invoices/F1"))).await;

    for response in [missing, wrong, query_wrong, invoice] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(response).await, "woocommerce_rest_cannot_view");
    }
    assert_eq!(query_ok.status(), StatusCode::OK);
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn per_page_above_a_hundred_is_a_400_naming_the_parameter() {
    let shop = TestShop::start().await;
    let response = shop.get(&format!("{ORDERS}?per_page=101")).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "rest_invalid_param");
    assert_eq!(body["data"]["status"], 400);
    assert!(body["data"]["params"]["per_page"].is_string(), "{body}");
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn one_order_is_served_by_id_and_an_unknown_id_is_404() {
    let shop = TestShop::start().await;

    let found: Value = shop
        .get(&format!("{ORDERS}/383001"))
        .await
        .json()
        .await
        .expect("json");
    let missing = shop.get(&format!("{ORDERS}/1")).await;

    assert_eq!(found["id"], 383001);
    assert_eq!(found["status"], "processing");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(missing).await,
        "woocommerce_rest_shop_order_invalid_id"
    );
    shop.shop.shutdown().await;
}

#[tokio::test]
async fn an_upserted_order_is_listed_as_given() {
    let shop = TestShop::start().await;
    let mut order: Value = shop
        .get(&format!("{ORDERS}/383001"))
        .await
        .json()
        .await
        .expect("json");
    order["status"] = json!("completed");
    order["date_modified_gmt"] = json!("2026-12-03T08:00:00");
    shop.shop.upsert_order(order).expect("valid order");

    let listed = list(
        &shop,
        "modified_after=2026-12-03T00:00:00&dates_are_gmt=true",
    )
    .await;
    let fetched: Value = shop
        .get(&format!("{ORDERS}/383001"))
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(listed, [383001]);
    assert_eq!(fetched["status"], "completed");
    shop.shop.shutdown().await;
}
