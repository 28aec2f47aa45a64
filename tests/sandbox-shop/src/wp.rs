//! WordPress-shaped error answers: `{"code", "message", "data": {"status", ...}}`.
//!
//! Clients of the real shop branch on `code`, so every error the sandbox sends uses this
//! shape with the codes WooCommerce and WordPress use, or `relais_*` codes for the plugin.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// An error answer in WordPress REST form.
#[derive(Debug)]
pub(crate) struct WpError {
    status: StatusCode,
    code: &'static str,
    message: String,
    data: Map<String, Value>,
}

impl WpError {
    /// An error with no data besides the status.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: Map::new(),
        }
    }

    /// Adds a field next to `status` under `data`.
    pub(crate) fn with_data(mut self, key: &str, value: Value) -> Self {
        self.data.insert(key.to_owned(), value);
        self
    }

    /// WordPress's answer to request parameters that fail validation: one entry per parameter,
    /// as `rest_invalid_param` does.
    pub(crate) fn invalid_params(params: &BTreeMap<String, String>) -> Self {
        let names: Vec<&str> = params.keys().map(String::as_str).collect();
        let message = format!("Invalid parameter(s): {}", names.join(", "));
        Self::new(StatusCode::BAD_REQUEST, "rest_invalid_param", message)
            .with_data("params", json!(params))
    }

    /// WordPress's answer when no route matches the path and method.
    pub(crate) fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        )
    }
}

/// The body, with its fields in WordPress's order.
#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    data: &'a Map<String, Value>,
}

impl IntoResponse for WpError {
    fn into_response(mut self) -> Response {
        self.data
            .insert("status".to_owned(), json!(self.status.as_u16()));
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            data: &self.data,
        };
        (self.status, Json(body)).into_response()
    }
}

/// The fallback handler: WordPress answers unknown paths and methods with `rest_no_route`.
pub(crate) async fn no_route() -> WpError {
    WpError::no_route()
}
