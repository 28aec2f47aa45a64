//! Scripted misbehaviour: the faults a real shop and the road to it show,
//! injected per request so a test can play them in a known order.
//!
//! A test queues [`Fault`]s with [`crate::RunningShop::inject`]; each is
//! served once to the next request whose path contains its pattern, in
//! queue order. Also a hook run before every order-list page is answered,
//! where a test changes the shop under a pull in progress (orders arriving,
//! edited, deleted), as busy shops do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::wp::WpError;

/// One misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An HTTP error status: 500, 502, 503 (a WordPress error body), or
    /// 429 with an optional `Retry-After` in seconds.
    Status {
        /// The status code.
        status: u16,
        /// `Retry-After` seconds, if sent.
        retry_after: Option<u64>,
    },
    /// 401 `woocommerce_rest_authentication_error`: the key was revoked or
    /// the password expired.
    Unauthorized,
    /// 200 with a body cut in the middle of the JSON (a PHP fatal error
    /// mid-output, a proxy cutting the answer).
    InvalidJson,
    /// The answer comes after this long (past the client's timeout).
    Delay(Duration),
    /// The connection dies in the middle of the body.
    Reset,
}

/// A fault waiting for a request.
#[derive(Debug, Clone)]
struct Scripted {
    path_contains: String,
    fault: Fault,
}

/// A callback run before an order-list page is answered, with the page
/// number asked for.
pub type PageHook = Arc<dyn Fn(u32) + Send + Sync>;

/// The queue of faults and the page hook, shared with the middleware.
#[derive(Default)]
pub(crate) struct FaultPlan {
    queue: Mutex<VecDeque<Scripted>>,
    served: Mutex<Vec<(String, Fault)>>,
    page_hook: Mutex<Option<PageHook>>,
}

impl std::fmt::Debug for FaultPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultPlan")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl FaultPlan {
    pub(crate) fn push(&self, path_contains: &str, fault: Fault) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Scripted {
                path_contains: path_contains.to_owned(),
                fault,
            });
    }

    pub(crate) fn pending(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub(crate) fn served(&self) -> Vec<(String, Fault)> {
        self.served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_page_hook(&self, hook: Option<PageHook>) {
        *self
            .page_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = hook;
    }

    pub(crate) fn page_hook(&self) -> Option<PageHook> {
        self.page_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn take_for(&self, path: &str) -> Option<Fault> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let index = queue.iter().position(|s| path.contains(&s.path_contains))?;
        let scripted = queue.remove(index)?;
        self.served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((path.to_owned(), scripted.fault.clone()));
        Some(scripted.fault)
    }
}

/// The middleware: serves the first fault queued for this path, if any.
pub(crate) async fn apply(
    State(plan): State<Arc<FaultPlan>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let Some(fault) = plan.take_for(&path) else {
        return next.run(request).await;
    };
    tracing::info!(%path, ?fault, "sandbox shop injects a fault");
    match fault {
        Fault::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response =
                WpError::new(status, "sandbox_injected_fault", "Injected by the test.")
                    .into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(seconds));
            }
            response
        }
        Fault::Unauthorized => WpError::new(
            StatusCode::UNAUTHORIZED,
            "woocommerce_rest_authentication_error",
            "Invalid signature - provided signature does not match.",
        )
        .into_response(),
        Fault::InvalidJson => {
            let mut response =
                (StatusCode::OK, "[{\"id\": 1, \"status\": \"process").into_response();
            let headers = response.headers_mut();
            headers.insert("x-wp-total", HeaderValue::from(1));
            headers.insert("x-wp-totalpages", HeaderValue::from(1));
            headers.insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            response
        }
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Fault::Reset => {
            let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
                Ok(b"[{\"id\": 1,".as_slice()),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )),
            ];
            let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            response
        }
    }
}
