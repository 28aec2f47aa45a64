//! WooCommerce API-key authentication: HTTP Basic with `consumer_key:consumer_secret`, or the
//! documented fallback of `consumer_key` and `consumer_secret` query parameters for hosts
//! that strip the `Authorization` header.
//!
//! As in WooCommerce, a request that carries an `Authorization` header is judged on it alone;
//! the query parameters are only looked at when the header is absent.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::wp::WpError;

/// The one key pair the sandbox accepts (no `Debug`: the secret must not reach a log).
pub(crate) struct ApiKey {
    key: String,
    secret: String,
}

impl ApiKey {
    /// The key pair a client must present.
    pub(crate) fn new(key: String, secret: String) -> Self {
        Self { key, secret }
    }

    fn accepts(&self, key: &str, secret: &str) -> bool {
        // Both comparisons always run so timing does not tell which half was wrong.
        let key_ok = same_bytes(self.key.as_bytes(), key.as_bytes());
        let secret_ok = same_bytes(self.secret.as_bytes(), secret.as_bytes());
        key_ok & secret_ok
    }
}

/// Middleware: lets the request through only with the right key pair, else answers 401.
pub(crate) async fn require_api_key(
    State(api_key): State<Arc<ApiKey>>,
    request: Request,
    next: Next,
) -> Response {
    match presented_key(&request) {
        Some((key, secret)) if api_key.accepts(&key, &secret) => next.run(request).await,
        _ => unauthorized().into_response(),
    }
}

/// The key pair the request presents, from the header or else from the query.
fn presented_key(request: &Request) -> Option<(String, String)> {
    match request.headers().get(AUTHORIZATION) {
        Some(value) => basic_credentials(value.to_str().ok()?),
        None => query_credentials(request),
    }
}

/// Decodes `Basic base64(user:password)`.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn query_credentials(request: &Request) -> Option<(String, String)> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(request.uri()).ok()?;
    let find = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Some((find("consumer_key")?, find("consumer_secret")?))
}

fn unauthorized() -> WpError {
    WpError::new(
        StatusCode::UNAUTHORIZED,
        "woocommerce_rest_cannot_view",
        "Sorry, you cannot list resources.",
    )
}

/// Compares without stopping at the first difference.
fn same_bytes(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = expected.len() ^ given.len();
    for (i, byte) in expected.iter().enumerate() {
        diff |= usize::from(byte ^ given.get(i).copied().unwrap_or(!byte));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let header = format!("Basic {}", STANDARD.encode("ck_a:cs_b:c"));
        assert_eq!(
            basic_credentials(&header),
            Some(("ck_a".to_owned(), "cs_b:c".to_owned()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }

    #[test]
    fn only_the_exact_pair_is_accepted() {
        let key = ApiKey::new("ck".to_owned(), "cs".to_owned());
        assert!(key.accepts("ck", "cs"));
        assert!(!key.accepts("ck", "c"));
        assert!(!key.accepts("ck", "cs2"));
        assert!(!key.accepts("", ""));
    }
}
