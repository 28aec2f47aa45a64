//! The local status page: what a person at the market can see from a phone
//! on the LAN without a terminal. Queues per destination with their oldest
//! document, last success per peer, the quarantine with reasons and the
//! day's figures, in French or English; `/status.json` gives the same data.
//!
//! It is read-only by construction, since it has no password: two GET
//! routes (HEAD is answered with them), every other method is refused, it
//! holds a read handle on the store and nothing else (no config, no shop
//! client), and the shop's credentials are masked in any text it shows.
//! A request naming a public host is refused (see `guard.rs`), so a web site
//! cannot read the page through DNS rebinding.
//! Its answers forbid scripts, framing and caching, so a value that slipped
//! past escaping still could not run.
//!
//! Each page view reads the store in a blocking thread; one read runs at a
//! time and its report is reused for [`REUSE`], so a phone left open, or a
//! dozen, costs the box next to nothing.

mod guard;
mod html;
mod lang;
mod report;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jiff::tz::TimeZone;
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};

pub use guard::host_allowed;
pub use html::{escape, render, render_unavailable};
pub use lang::Lang;
pub use report::{gather, PeerSuccess, Quarantined, Queue, Redactor, Report, WaitingDoc};

use crate::store::Store;

/// How long open connections get to finish once the daemon stops. A phone
/// keeping its connection open, or a client that sends half a request,
/// would otherwise hold graceful shutdown until systemd's own timeout.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How long one reading of the store is shown again before the next.
pub const REUSE: Duration = Duration::from_secs(2);

/// The headers of every answer: nothing runs, nothing frames the page,
/// nothing keeps it.
const HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
    (header::VARY, "Accept-Language"),
];

/// The page could not start.
#[derive(Debug, thiserror::Error)]
pub enum StatusPageError {
    /// The address is taken, not on this box, or needs privileges.
    #[error("status page: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The server stopped on an I/O error.
    #[error("status page on {addr}: {source}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How the page is shown.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The site's time zone: "today" and every time shown follow it.
    pub tz: TimeZone,
    /// Seconds between the page's own reloads.
    pub refresh_seconds: u64,
    /// Secrets never to show (the shop's key and secret).
    pub redactor: Redactor,
}

/// Listens on `addr`; done when the daemon starts, so a taken port stops
/// it at once with a clear message rather than later in a task.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StatusPageError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StatusPageError::Bind { addr, source })
}

/// Serves the page on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    store: Store,
    settings: PageSettings,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StatusPageError> {
    let addr = listener
        .local_addr()
        .map_err(|source| StatusPageError::Serve {
            addr: ([0, 0, 0, 0], 0).into(),
            source,
        })?;
    tracing::info!(%addr, "status page listening");
    let mut late = shutdown.clone();
    let stop = async move {
        // A dropped sender also means the daemon is going away.
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(listener, router(store, settings)).with_graceful_shutdown(stop);

    tokio::select! {
        served = server => served.map_err(|source| StatusPageError::Serve { addr, source }),
        () = async {
            let _ = late.wait_for(|stop| *stop).await;
            tokio::time::sleep(STOP_GRACE).await;
        } => {
            tracing::warn!(%addr, "status page: connections still open at stop, dropped");
            Ok(())
        }
    }
}

/// The page's routes: `/` and `/status.json`, GET and HEAD only.
pub fn router(store: Store, settings: PageSettings) -> Router {
    let shared = Arc::new(Shared {
        store,
        settings,
        last: Mutex::new(None),
    });
    Router::new()
        .route("/", get(page))
        .route("/status.json", get(json))
        .fallback(not_found)
        .layer(middleware::from_fn(local_hosts_only))
        .with_state(shared)
}

/// Answers only requests that name the box by a local name or address.
async fn local_hosts_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or(""));
    if host_allowed(host) {
        return next.run(request).await;
    }
    // debug, not warn: anyone on the LAN could otherwise fill the journal.
    tracing::debug!(host = ?host, "status page: request for a public host name refused");
    answer(
        StatusCode::MISDIRECTED_REQUEST,
        "text/plain; charset=utf-8",
        "this page answers only to the box's address or local name\n".into(),
    )
}

struct Shared {
    store: Store,
    settings: PageSettings,
    /// The last reading and when it was taken.
    last: Mutex<Option<(Instant, Arc<Report>)>>,
}

impl Shared {
    /// The current report: the last one if it is fresh, else a new reading.
    async fn report(&self) -> Result<Arc<Report>, String> {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref() {
            if at.elapsed() < REUSE {
                return Ok(report.clone());
            }
        }

        let store = self.store.clone();
        let settings = self.settings.clone();
        let read = tokio::task::spawn_blocking(move || {
            gather(
                &store,
                &settings.tz,
                jiff::Timestamp::now(),
                &settings.redactor,
            )
        })
        .await;
        let report = match read {
            Ok(Ok(report)) => Arc::new(report),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(format!("the reading stopped: {e}")),
        };
        *last = Some((Instant::now(), report.clone()));
        Ok(report)
    }
}

async fn page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::choose(query.as_deref(), accept);
    let settings = &shared.settings;
    let (status, body) = match shared.report().await {
        Ok(report) => (
            StatusCode::OK,
            render(&report, lang, &settings.tz, settings.refresh_seconds),
        ),
        Err(cause) => {
            tracing::warn!(%cause, "status page: store not readable");
            let cause = settings.redactor.clean(&cause);
            let body = render_unavailable(lang, settings.refresh_seconds, &cause);
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    };
    answer(status, "text/html; charset=utf-8", body)
}

async fn json(State(shared): State<Arc<Shared>>) -> Response {
    let (status, body) = match shared.report().await {
        Ok(report) => match serde_json::to_string_pretty(&*report) {
            Ok(text) => (StatusCode::OK, text),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                error_json(&e.to_string()),
            ),
        },
        Err(cause) => (
            StatusCode::SERVICE_UNAVAILABLE,
            error_json(&shared.settings.redactor.clean(&cause)),
        ),
    };
    answer(status, "application/json", body)
}

fn error_json(cause: &str) -> String {
    serde_json::json!({ "error": cause }).to_string()
}

async fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found: this page has / and /status.json\n".into(),
    )
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    for (name, value) in HEADERS {
        response
            .headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    response
}
