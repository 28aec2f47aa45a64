//! A local stand-in for the web shop: the WooCommerce REST v3 order routes and the Relais
//! companion plugin's invoice routes, served over HTTPS on the loopback address.
//!
//! End-to-end tests and `relais demo` run the agent against it, so it behaves like the real
//! shop where the agent could get it wrong: TLS with a certificate the client must verify,
//! API-key authentication, offset pagination with WordPress's headers and quirks, and
//! invoice storage that survives the hosting process being killed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox_shop::ShopError> {
//! let orders: Vec<serde_json::Value> = Vec::new();
//! let config = sandbox_shop::ShopConfig::new(orders, "shop-data".into());
//! let shop = sandbox_shop::start(config).await?;
//! println!("shop at {}, trust {}", shop.base_url(), shop.ca_cert_pem());
//! shop.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The modules follow the shop's parts: `orders` for the WooCommerce routes, `invoices` for
//! the plugin and its storage, `auth` for the API key, `tls` for the certificates, `durable`
//! for crash-safe file writes. The plugin's contract is documented in `invoices` and in the
//! crate's README.

mod auth;
mod durable;
mod error;
mod faults;
mod invoices;
mod orders;
mod tls;
mod wp;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::{middleware, Router};
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use jiff::tz::TimeZone;
use tokio::task::JoinHandle;

pub use error::ShopError;
pub use faults::{Fault, PageHook};
pub use invoices::{read_upload_log, HeldInvoice, UploadOutcome, UploadRecord};

use auth::ApiKey;
use invoices::InvoiceStore;
use orders::{OrderBook, OrdersState, ORDERS_PATH};

/// Consumer key the binary uses when none is given.
pub const DEFAULT_CONSUMER_KEY: &str = "ck_sandbox";

/// Consumer secret the binary uses when none is given.
pub const DEFAULT_CONSUMER_SECRET: &str = "cs_sandbox";

/// File name of the CA certificate written into the data folder.
pub const CA_FILE: &str = "ca.pem";

/// The shop's local time zone, for order dates given without offset.
const SITE_TIME_ZONE: &str = "Europe/Paris";

/// How long [`RunningShop::shutdown`] lets in-flight requests finish.
const GRACE_PERIOD: Duration = Duration::from_secs(10);

/// What the sandbox shop starts with.
#[derive(Clone)]
pub struct ShopConfig {
    /// WooCommerce v3 order objects, as in the sample JSON arrays; each needs an integer
    /// `id`, a `status` and a `date_created_gmt`.
    pub orders: Vec<serde_json::Value>,
    /// Folder for received invoices, the upload journal and `ca.pem`; created if missing.
    /// A shop started again on the same folder holds the invoices it held before.
    pub data_dir: PathBuf,
    /// Consumer key clients must present (HTTP Basic user, or `consumer_key` parameter).
    pub consumer_key: String,
    /// Consumer secret clients must present.
    pub consumer_secret: String,
    /// Address to listen on; `127.0.0.1:0` picks a free port. The certificate is only
    /// valid for `localhost` and `127.0.0.1`.
    pub bind: SocketAddr,
}

impl std::fmt::Debug for ShopConfig {
    // The secret stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopConfig")
            .field("orders", &self.orders.len())
            .field("data_dir", &self.data_dir)
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .field("bind", &self.bind)
            .finish()
    }
}

impl ShopConfig {
    /// A configuration with the default key pair, listening on a free loopback port.
    pub fn new(orders: Vec<serde_json::Value>, data_dir: PathBuf) -> Self {
        Self {
            orders,
            data_dir,
            consumer_key: DEFAULT_CONSUMER_KEY.to_owned(),
            consumer_secret: DEFAULT_CONSUMER_SECRET.to_owned(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

/// A shop serving requests; stop it with [`RunningShop::shutdown`]. Dropping it stops the
/// server at once, cutting requests in flight.
#[derive(Debug)]
pub struct RunningShop {
    addr: SocketAddr,
    ca_pem: String,
    orders: Arc<OrderBook>,
    invoices: Arc<InvoiceStore>,
    faults: Arc<faults::FaultPlan>,
    handle: Handle<SocketAddr>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Starts the shop: makes its certificates, opens its invoice storage, binds and serves.
pub async fn start(config: ShopConfig) -> Result<RunningShop, ShopError> {
    let site_tz = TimeZone::get(SITE_TIME_ZONE).map_err(|source| ShopError::TimeZone {
        name: SITE_TIME_ZONE,
        source,
    })?;
    let orders = Arc::new(OrderBook::load(config.orders)?);
    let tls = tls::generate()?;
    let invoices = Arc::new(open_data_dir(config.data_dir, tls.ca_pem.clone()).await?);

    let bind_error = |source| ShopError::Bind {
        addr: config.bind,
        source,
    };
    let listener = TcpListener::bind(config.bind).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let faults = Arc::new(faults::FaultPlan::default());
    let orders_state = OrdersState {
        book: Arc::clone(&orders),
        site_tz,
        list_url: format!("{}{ORDERS_PATH}", base_url(addr)),
        faults: Arc::clone(&faults),
    };
    let api_key = Arc::new(ApiKey::new(config.consumer_key, config.consumer_secret));
    let app = router(
        orders_state,
        Arc::clone(&invoices),
        api_key,
        Arc::clone(&faults),
    );

    let handle = Handle::new();
    let tls_config = RustlsConfig::from_config(tls.server_config);
    let server = axum_server::from_tcp_rustls(listener, tls_config)
        .map_err(bind_error)?
        .handle(handle.clone());
    let server = tokio::spawn(server.serve(app.into_make_service()));
    tracing::info!(%addr, "sandbox shop serving");

    Ok(RunningShop {
        addr,
        ca_pem: tls.ca_pem,
        orders,
        invoices,
        faults,
        handle,
        server: Some(server),
    })
}

/// Creates the data folder, writes the CA certificate into it and opens the invoice store.
async fn open_data_dir(data_dir: PathBuf, ca_pem: String) -> Result<InvoiceStore, ShopError> {
    tokio::task::spawn_blocking(move || {
        durable::create_dir_durably(&data_dir)?;
        durable::write_atomically(&data_dir, CA_FILE, ca_pem.as_bytes())?;
        InvoiceStore::open(&data_dir)
    })
    .await?
}

fn router(
    orders: OrdersState,
    invoices: Arc<InvoiceStore>,
    api_key: Arc<ApiKey>,
    faults: Arc<faults::FaultPlan>,
) -> Router {
    Router::new()
        .merge(orders::routes(orders))
        .merge(invoices::routes(invoices))
        .fallback(wp::no_route)
        .method_not_allowed_fallback(wp::no_route)
        .layer(middleware::from_fn_with_state(
            api_key,
            auth::require_api_key,
        ))
        // Outermost: a fault is served before anything else looks at the request.
        .layer(middleware::from_fn_with_state(faults, faults::apply))
}

fn base_url(addr: SocketAddr) -> String {
    format!("https://localhost:{}", addr.port())
}

impl RunningShop {
    /// `https://localhost:<port>`, without trailing slash.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// The address the shop listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the server certificate; clients should trust exactly this.
    /// The same PEM is in `data_dir/ca.pem`.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The invoices the shop holds now, sorted by number.
    pub fn invoices(&self) -> Vec<HeldInvoice> {
        self.invoices.all()
    }

    /// Adds an order, or replaces the held order with the same `id`, exactly as given: dates
    /// change only if the caller changed them.
    pub fn upsert_order(&self, order: serde_json::Value) -> Result<(), ShopError> {
        self.orders.upsert(order)
    }

    /// Queues a fault for the next request whose path contains `path_contains`.
    pub fn inject(&self, path_contains: &str, fault: Fault) {
        self.faults.push(path_contains, fault);
    }

    /// Faults queued and not served yet.
    pub fn faults_pending(&self) -> usize {
        self.faults.pending()
    }

    /// Faults served so far, with the path of the request that got each.
    pub fn faults_served(&self) -> Vec<(String, Fault)> {
        self.faults.served()
    }

    /// Runs `hook` before each order-list page is answered (with the page number asked
    /// for), or stops doing so with `None`.
    pub fn set_page_hook(&self, hook: Option<PageHook>) {
        self.faults.set_page_hook(hook);
    }

    /// A handle on the orders, for hooks that change the shop under a pull.
    pub fn orders(&self) -> OrdersHandle {
        OrdersHandle(Arc::clone(&self.orders))
    }

    /// Sets the refunds `GET orders/<id>/refunds` answers for one order.
    pub fn set_refunds(&self, id: u64, refunds: Vec<serde_json::Value>) {
        self.orders.set_refunds(id, refunds);
    }

    /// The private notes of an order, oldest first.
    pub fn notes(&self, id: u64) -> Vec<serde_json::Value> {
        self.orders.notes(id)
    }

    /// Every status set through `PUT /wp-json/wc/v3/orders/<id>` so far, by order id,
    /// oldest first (orders never changed that way are absent).
    pub fn status_changes(&self) -> std::collections::BTreeMap<u64, Vec<String>> {
        self.orders.status_changes()
    }

    /// How many `GET /wp-json/wc/v3/orders` (list) requests reached the order routes.
    pub fn order_list_requests(&self) -> u64 {
        self.orders.list_requests()
    }

    /// The order as the shop holds it now.
    pub fn order(&self, id: u64) -> Option<serde_json::Value> {
        self.orders.read().get(&id).map(|o| o.body.clone())
    }

    /// Stops accepting connections, lets requests in flight finish (up to 10 s), and returns
    /// once the server has stopped.
    pub async fn shutdown(mut self) {
        self.handle.graceful_shutdown(Some(GRACE_PERIOD));
        let Some(server) = self.server.take() else {
            return;
        };
        match server.await {
            Ok(Ok(())) => tracing::info!(addr = %self.addr, "sandbox shop stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "sandbox shop stopped with an error"),
            Err(e) => tracing::error!(error = %e, "sandbox shop task failed"),
        }
    }
}

/// Changes the shop's orders from a test or a page hook.
#[derive(Debug, Clone)]
pub struct OrdersHandle(Arc<OrderBook>);

impl OrdersHandle {
    /// Adds or replaces an order (see [`RunningShop::upsert_order`]).
    pub fn upsert(&self, order: serde_json::Value) -> Result<(), ShopError> {
        self.0.upsert(order)
    }

    /// Deletes an order; true if it was held.
    pub fn remove(&self, id: u64) -> bool {
        self.0.remove(id)
    }
}

impl Drop for RunningShop {
    fn drop(&mut self) {
        if self.server.is_some() {
            self.handle.shutdown();
        }
    }
}
