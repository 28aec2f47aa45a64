//! The WooCommerce REST v3 order routes the connector reads:
//!
//! - `GET /wp-json/wc/v3/orders`: filtered, ordered, paginated list with `X-WP-Total`,
//!   `X-WP-TotalPages` and `Link` headers (see [`query`] for the parameters);
//! - `GET /wp-json/wc/v3/orders/<id>`: one order, or 404 `woocommerce_rest_shop_order_invalid_id`;
//! - `PUT /wp-json/wc/v3/orders/<id>` with `{"status": ...}`: changes the status (and so the
//!   modification date, as WooCommerce does);
//! - `GET /wp-json/wc/v3/orders/<id>/refunds`: the refunds with their lines;
//! - `GET` and `POST /wp-json/wc/v3/orders/<id>/notes`: private order notes.
//!
//! Handlers only translate HTTP to the pure functions of [`query`] and back.

mod book;
mod query;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::tz::TimeZone;
use serde_json::Value;

pub(crate) use book::OrderBook;
use query::{link_header, parse_list_query, select, InvalidParams, Page};

use crate::wp::WpError;

/// Path of the order list.
pub(crate) const ORDERS_PATH: &str = "/wp-json/wc/v3/orders";

/// What the order routes share.
#[derive(Clone)]
pub(crate) struct OrdersState {
    /// The held orders.
    pub book: Arc<OrderBook>,
    /// The site's time zone, for dates given without offset.
    pub site_tz: TimeZone,
    /// Absolute URL of the order list, for `Link` headers.
    pub list_url: String,
    /// Scripted faults and the page hook.
    pub faults: Arc<crate::faults::FaultPlan>,
}

/// The order routes, ready to be merged into the shop's router.
pub(crate) fn routes(state: OrdersState) -> Router {
    Router::new()
        .route(ORDERS_PATH, get(list_orders))
        .route(
            &format!("{ORDERS_PATH}/{{id}}"),
            get(get_order).put(update_order),
        )
        .route(&format!("{ORDERS_PATH}/{{id}}/refunds"), get(get_refunds))
        .route(
            &format!("{ORDERS_PATH}/{{id}}/notes"),
            get(get_notes).post(add_note),
        )
        .with_state(state)
}

async fn list_orders(State(state): State<OrdersState>, uri: Uri) -> Response {
    state.book.count_list_request();
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(&uri) {
        Ok(Query(pairs)) => pairs,
        Err(e) => return unreadable_query(&e.body_text()).into_response(),
    };

    if let Some(hook) = state.faults.page_hook() {
        let page = pairs
            .iter()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        hook(page);
    }
    let book = state.book.read();
    let shop_statuses: BTreeSet<String> = book.values().map(|o| o.status.clone()).collect();
    let query = match parse_list_query(&pairs, &state.site_tz, &shop_statuses) {
        Ok(query) => query,
        Err(InvalidParams(params)) => return WpError::invalid_params(&params).into_response(),
    };

    let page = select(book.values(), &query);
    let link = link_header(&state.list_url, &pairs, query.page, page.total_pages);
    list_response(&page, link)
}

fn list_response(page: &Page<'_>, link: Option<String>) -> Response {
    let bodies: Vec<&serde_json::Value> = page.orders.iter().map(|o| &o.body).collect();
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("x-wp-total"),
        HeaderValue::from(page.total),
    );
    headers.insert(
        HeaderName::from_static("x-wp-totalpages"),
        HeaderValue::from(page.total_pages),
    );
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(LINK, value);
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    (StatusCode::OK, headers, Json(bodies)).into_response()
}

async fn get_order(State(state): State<OrdersState>, Path(id): Path<String>) -> Response {
    // WordPress routes this path only for digits; anything else matches no route.
    let Ok(id) = id.parse::<u64>() else {
        return WpError::no_route().into_response();
    };
    match state.book.read().get(&id) {
        Some(order) => Json(&order.body).into_response(),
        None => WpError::new(
            StatusCode::NOT_FOUND,
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid ID.",
        )
        .into_response(),
    }
}

fn unreadable_query(reason: &str) -> WpError {
    WpError::new(
        StatusCode::BAD_REQUEST,
        "rest_invalid_param",
        format!("The query string cannot be read: {reason}"),
    )
}

fn invalid_id() -> WpError {
    WpError::new(
        StatusCode::NOT_FOUND,
        "woocommerce_rest_shop_order_invalid_id",
        "Invalid ID.",
    )
}

async fn get_refunds(State(state): State<OrdersState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return WpError::no_route().into_response();
    };
    match state.book.refunds(id) {
        Some(refunds) => Json(refunds).into_response(),
        None => invalid_id().into_response(),
    }
}

async fn get_notes(State(state): State<OrdersState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return WpError::no_route().into_response();
    };
    if !state.book.read().contains_key(&id) {
        return invalid_id().into_response();
    }
    Json(state.book.notes(id)).into_response()
}

async fn add_note(
    State(state): State<OrdersState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return WpError::no_route().into_response();
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return WpError::new(
            StatusCode::BAD_REQUEST,
            "rest_invalid_json",
            "Invalid JSON body.",
        )
        .into_response();
    };
    let Some(note) = body.get("note").and_then(Value::as_str) else {
        return WpError::new(
            StatusCode::BAD_REQUEST,
            "rest_missing_callback_param",
            "Missing parameter(s): note",
        )
        .into_response();
    };
    let customer_note = body
        .get("customer_note")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match state.book.add_note(id, note, customer_note) {
        Some(note) => (StatusCode::CREATED, Json(note)).into_response(),
        None => invalid_id().into_response(),
    }
}

async fn update_order(
    State(state): State<OrdersState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return WpError::no_route().into_response();
    };
    let status = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b.get("status").and_then(Value::as_str).map(str::to_owned));
    let Some(status) = status else {
        return WpError::new(
            StatusCode::BAD_REQUEST,
            "rest_invalid_param",
            "Only a status change is supported by the sandbox.",
        )
        .into_response();
    };
    match state.book.set_status(id, &status) {
        Some(order) => Json(order).into_response(),
        None => invalid_id().into_response(),
    }
}
