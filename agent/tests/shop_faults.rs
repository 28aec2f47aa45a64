//! The shop connector against a shop that misbehaves the way real ones do:
//! every transient fault injected during the pulls, orders arriving, edited
//! and deleted while pages are walked, refunds fetched with their lines,
//! the uplink down and back, and a revoked key that stops the connector
//! without a retry loop. The outputs (ERP import files) must hold every
//! order exactly once, in its latest revision.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pos_bridge::dialect::Dialect;
use relais::erp::{deliver_imports, ErpSettings};
use relais::mapping::import::read_file;
use relais::mapping::site::{Clients, SiteRules};
use relais::pipeline::{process_stored, Site};
use relais::shop::client::{ShopClient, ShopError, ShopSettings};
use relais::shop::pull::{pull_orders, PullError};
use relais::store::{Kind, State, Store};
use sandbox_shop::Fault;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

fn sample(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02")
        .join(rel)
}

fn now_gmt() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The uplink: a TCP relay the test cuts and restores. Cut, it refuses
/// connections and drops those open, as a dead line does.
struct Uplink {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// When set, a middlebox answers instead of the shop: TLS fails.
    garbled: Arc<AtomicBool>,
    /// Connections being relayed now.
    open: Arc<std::sync::atomic::AtomicUsize>,
}

impl Uplink {
    async fn start(shop: SocketAddr) -> Uplink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let flag = up.clone();
        let count = open.clone();
        let garbled = Arc::new(AtomicBool::new(false));
        let garble = garbled.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                if garble.load(Ordering::SeqCst) {
                    // A captive portal or a proxy speaking plain text.
                    use tokio::io::AsyncWriteExt;
                    let _ = client
                        .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://portal/\r\n\r\n")
                        .await;
                    continue;
                }
                let flag = flag.clone();
                let count = count.clone();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(shop).await else {
                        count.fetch_sub(1, Ordering::SeqCst);
                        return;
                    };
                    let relay = tokio::io::copy_bidirectional(&mut client, &mut server);
                    let cut = async {
                        while flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = relay => {}
                        () = cut => {}
                    }
                    count.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Uplink {
            addr,
            up,
            garbled,
            open,
        }
    }

    /// Cuts or restores the line; a cut returns once every connection
    /// through it is closed (a client's pooled connection included).
    async fn set(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !up && self.open.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "relayed connections still open");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn site() -> Site {
    let clients = Clients::read(
        std::fs::File::open(sample("erp/clients.csv")).expect("clients"),
        &Dialect::french_erp(),
    )
    .expect("clients file");
    Site {
        rules: SiteRules::default(),
        clients,
        tz: jiff::tz::TimeZone::get("Europe/Paris").expect("tz"),
        import_dialect: Dialect::french_erp(),
        export_dialect: Dialect::french_erp(),
    }
}

/// Reference -> files holding it, over every import file.
fn references(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("import folder").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with(".csv") {
            continue;
        }
        let rows = read_file(
            &std::fs::read(entry.path()).expect("file"),
            &Dialect::french_erp(),
        )
        .expect("readable import file");
        for row in rows.into_iter().filter(|r| r.origin == "WEB") {
            seen.entry(row.reference).or_default().insert(name.clone());
        }
    }
    seen
}

/// Pulls until a pull succeeds, as the daemon's puller does (with no wait
/// between rounds: the faults are scripted, not timed).
async fn pull_until_done(store: &Store, client: &ShopClient, tz: &jiff::tz::TimeZone) -> u32 {
    let since = "2026-12-01T00:00:00Z".parse().expect("since");
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 20, "the pull never succeeded");
        match pull_orders(store, client, since, tz).await {
            Ok(_) => return rounds,
            Err(PullError::Shop(e)) if e.is_transient() => continue,
            Err(e) => panic!("pull failed for good: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_shop_still_gives_every_order_once_in_its_latest_revision() {
    let dir = tempfile::tempdir().expect("dir");
    let orders: Vec<Value> = serde_json::from_slice(
        &std::fs::read(sample("woocommerce/orders-2026-12-02.json")).expect("orders"),
    )
    .expect("orders JSON");
    let max_id = orders
        .iter()
        .filter_map(|o| o["id"].as_u64())
        .max()
        .expect("ids");
    let with_refund = orders
        .iter()
        .find(|o| o["refunds"].as_array().is_some_and(|r| !r.is_empty()))
        .expect("an order with a refund")
        .clone();
    let template = orders
        .iter()
        .find(|o| o["status"] == "processing" && o["customer_id"].as_u64().unwrap_or(0) != 0)
        .expect("a processing order")
        .clone();
    let shop = sandbox_shop::start(sandbox_shop::ShopConfig::new(
        orders.clone(),
        dir.path().join("shop"),
    ))
    .await
    .expect("shop");
    let uplink = Uplink::start(shop.addr()).await;
    let client = ShopClient::new(ShopSettings {
        base_url: format!("https://localhost:{}", uplink.addr.port()),
        consumer_key: sandbox_shop::DEFAULT_CONSUMER_KEY.into(),
        consumer_secret: sandbox_shop::DEFAULT_CONSUMER_SECRET.into(),
        ca_pem: Some(shop.ca_cert_pem().to_string()),
        timeout: Duration::from_secs(2),
    })
    .expect("client");

    // A refund of two kilos of one line, as the shop details it.
    let refund_order = with_refund["id"].as_u64().expect("id");
    let line = &with_refund["line_items"][0];
    shop.set_refunds(
        refund_order,
        vec![serde_json::json!({
            "id": 990001,
            "date_created_gmt": with_refund["date_modified_gmt"],
            "amount": "21.00",
            "reason": "Produit abîmé à la livraison",
            "line_items": [{
                "id": 880001,
                "name": line["name"],
                "product_id": line["product_id"],
                "quantity": -2,
                "subtotal": "-19.91",
                "total": "-19.91",
                "total_tax": "-1.09",
                "sku": line["sku"],
                "meta_data": [{"key": "_refunded_item_id", "value": line["id"].to_string()}],
            }],
        })],
    );

    // Every transient fault, on the order list and once on the refunds.
    for fault in [
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        Fault::Status {
            status: 429,
            retry_after: Some(1),
        },
        Fault::Reset,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        Fault::InvalidJson,
        Fault::Status {
            status: 429,
            retry_after: None,
        },
        Fault::Delay(Duration::from_secs(3)),
        Fault::Status {
            status: 502,
            retry_after: None,
        },
    ] {
        shop.inject("/wc/v3/orders", fault);
    }
    shop.inject(
        "/refunds",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
    );

    // While the first walk is on page 2: 30 new orders arrive, 10 are
    // edited (a quantity changes), 2 are deleted.
    let handle = shop.orders();
    let originals = orders.clone();
    let template2 = template.clone();
    let done = Arc::new(AtomicBool::new(false));
    let once = done.clone();
    shop.set_page_hook(Some(Arc::new(move |page| {
        if page != 2 || once.swap(true, Ordering::SeqCst) {
            return;
        }
        for n in 1..=30u64 {
            let mut order = template2.clone();
            order["id"] = (max_id + n).into();
            order["number"] = (max_id + n).to_string().into();
            order["date_created_gmt"] = now_gmt().into();
            order["date_modified_gmt"] = now_gmt().into();
            let _ = handle.upsert(order);
        }
        for order in originals
            .iter()
            .filter(|o| o["status"] == "processing")
            .take(10)
        {
            let mut edited = order.clone();
            edited["date_modified_gmt"] = now_gmt().into();
            edited["customer_note"] = "edited during the pull".into();
            let _ = handle.upsert(edited);
        }
        for order in originals
            .iter()
            .filter(|o| o["status"] == "completed")
            .take(2)
        {
            handle.remove(order["id"].as_u64().unwrap_or(0));
        }
    })));

    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let site = site();
    let tz = site.tz.clone();
    let rounds = pull_until_done(&store, &client, &tz).await;
    shop.set_page_hook(None);
    // Orders saved during the last walk are within the overlap window.
    pull_until_done(&store, &client, &tz).await;
    assert!(done.load(Ordering::SeqCst), "the page hook ran");
    let served = shop.faults_served();
    assert!(
        served.len() >= 9,
        "every fault was served (pending {}): {served:?}",
        shop.faults_pending()
    );

    // The refund is stored in detail with its order.
    let stored = store
        .find(
            Kind::WebOrder,
            with_refund["number"].as_str().expect("number"),
        )
        .expect("find")
        .expect("stored");
    let body: Value = serde_json::from_slice(&store.body(stored.id).expect("body")).expect("json");
    assert_eq!(body["relais_refunds"][0]["line_items"][0]["quantity"], -2);

    let settings = ErpSettings::under(&dir.path().join("erp"));
    process_stored(&store, &site).expect("decide");
    deliver_imports(&store, &settings, &tz).expect("deliver");
    let seen = references(&settings.import_dir);
    let doubled: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(doubled.is_empty(), "orders in two files: {doubled:?}");

    // Every sendable order the shop holds now is in the ERP, in its latest
    // revision (edits before delivery superseded the older ones).
    let mut missing = Vec::new();
    for n in 0..=(max_id + 30) {
        let Some(order) = shop.order(n) else { continue };
        let status = order["status"].as_str().unwrap_or("");
        if !SiteRules::default()
            .statuses_to_erp
            .iter()
            .any(|s| s == status)
        {
            continue;
        }
        let number = order["number"].as_str().unwrap_or("").to_string();
        let meta = store.find(Kind::WebOrder, &number).expect("find");
        let latest = meta.as_ref().map(|m| m.revision.clone());
        if latest.as_deref() != order["date_modified_gmt"].as_str() {
            missing.push(format!("{number}: latest revision not stored"));
            continue;
        }
        let state = meta.map(|m| m.state);
        if state != Some(State::Delivered(relais::store::Dest::Erp))
            && state != Some(State::Quarantined)
        {
            missing.push(format!("{number}: {state:?}"));
        } else if state == Some(State::Delivered(relais::store::Dest::Erp))
            && !seen.contains_key(&number)
        {
            missing.push(format!("{number}: delivered but in no file"));
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
    println!(
        "pull rounds under faults: {rounds}, faults served: {}",
        served.len()
    );

    // The uplink goes down for the day: pulls fail, nothing moves.
    uplink.set(false).await;
    let cursor = store.cursor(relais::shop::pull::CURSOR).expect("cursor");
    let started = Instant::now();
    let down = pull_orders(
        &store,
        &client,
        "2026-12-01T00:00:00Z".parse().expect("t"),
        &tz,
    )
    .await;
    assert!(
        matches!(&down, Err(PullError::Shop(e)) if e.is_transient()),
        "{down:?}"
    );
    assert_eq!(
        store.cursor(relais::shop::pull::CURSOR).expect("cursor"),
        cursor
    );
    // Orders keep coming in at the shop meanwhile.
    for n in 31..=80u64 {
        let mut order = template.clone();
        order["id"] = (max_id + n).into();
        order["number"] = (max_id + n).to_string().into();
        order["date_created_gmt"] = now_gmt().into();
        order["date_modified_gmt"] = now_gmt().into();
        shop.upsert_order(order).expect("upsert");
    }
    uplink.set(true).await;
    pull_until_done(&store, &client, &tz).await;
    process_stored(&store, &site).expect("decide");
    deliver_imports(&store, &settings, &tz).expect("deliver");
    let seen = references(&settings.import_dir);
    for n in 31..=80u64 {
        let number = (max_id + n).to_string();
        assert_eq!(
            seen.get(&number).map(BTreeSet::len),
            Some(1),
            "order {number}"
        );
    }
    println!(
        "outage: the failed pull gave up after {:?}",
        started.elapsed()
    );

    // A middlebox on the line: the TLS handshake fails, the pull fails as
    // transient and moves nothing; once it is gone, the pull goes on.
    uplink.set(false).await;
    uplink.garbled.store(true, Ordering::SeqCst);
    uplink.set(true).await;
    let cursor = store.cursor(relais::shop::pull::CURSOR).expect("cursor");
    let garbled = pull_orders(
        &store,
        &client,
        "2026-12-01T00:00:00Z".parse().expect("t"),
        &tz,
    )
    .await;
    match &garbled {
        Err(PullError::Shop(e)) if e.is_transient() => {
            println!("TLS through a middlebox: {e}");
        }
        other => panic!("expected a transient TLS failure, got {other:?}"),
    }
    assert_eq!(
        store.cursor(relais::shop::pull::CURSOR).expect("cursor"),
        cursor
    );
    uplink.garbled.store(false, Ordering::SeqCst);
    pull_until_done(&store, &client, &tz).await;

    // A revoked key: one clear error, no retry loop.
    shop.inject("/wc/v3/orders", Fault::Unauthorized);
    let before = shop.faults_served().len();
    let refused = pull_orders(
        &store,
        &client,
        "2026-12-01T00:00:00Z".parse().expect("t"),
        &tz,
    )
    .await;
    match refused {
        Err(PullError::Shop(ShopError::Permanent { detail, .. })) => {
            assert!(detail.contains("401"), "{detail}");
        }
        other => panic!("expected a permanent 401, got {other:?}"),
    }
    assert_eq!(
        shop.faults_served().len(),
        before + 1,
        "asked once, not retried"
    );
    shop.shutdown().await;
}
