//! `relais run`: the daemon. One process runs every connector, worker and
//! schedule of the box, each as a task started here, with one shutdown
//! signal they all watch and drain on:
//!
//! - the POS intake (MQTT; tickets acknowledged only once stored),
//! - the shop puller (the nightly pull in the site's time, catch-up after
//!   downtime, optional daytime pulls),
//! - the delivery worker (decide stored documents, write ERP import files,
//!   take invoice exports, publish invoices to the shop, raise the export
//!   alert), woken by new work or its poll timer,
//! - the control socket (operator commands on the daemon's store handle),
//! - the fleet link (telemetry, buffered on disk while the uplink is down),
//! - the systemd watchdog feed, which stops when a worker stops beating.
//!
//! A task that fails for a cause outside the box (the shop down, the share
//! gone) retries with capped backoff and never takes the others down.

pub mod systemd;
mod workers;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::MqttOptions;
use tokio::sync::{watch, Notify};

use crate::config::{split_host_port, Config};
use crate::control;
use crate::invoice::render::Seller;
use crate::pos::{run_intake, IntakeCounts};
use crate::shop::client::ShopClient;
use crate::status_page;
use crate::store::Store;
use pos_bridge::protocol::Topics;
use systemd::Heartbeat;

/// How long the tasks get to finish their round after the stop signal;
/// systemd's `TimeoutStopSec` must be longer.
const DRAIN: Duration = Duration::from_secs(20);

/// Runs the daemon until `shutdown` turns true, then drains and returns.
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let tz = config.time_zone()?;
    let store = Store::open_with(&config.store.path, config.store.two_phase_commit)
        .with_context(|| format!("cannot open the store {}", config.store.path.display()))?;
    let seller = Arc::new(read_seller(config.site.seller.as_deref())?);
    let shop = match config.shop_settings()? {
        Some(settings) => Some(ShopClient::new(settings)?),
        None => None,
    };
    let socket_path = config.store.socket_path();
    let listener = control::bind(&socket_path)?;
    let wake = Arc::new(Notify::new());
    let mut beats = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();

    tasks.spawn(control_task(
        listener,
        socket_path.clone(),
        store.clone(),
        shutdown.clone(),
    ));

    if let Some(page) = &config.status_page {
        tasks.spawn(
            status_page_task(page, &config, store.clone(), tz.clone(), shutdown.clone()).await?,
        );
    }

    if let Some(pos) = &config.pos {
        let (host, port) = split_host_port(&pos.broker)
            .with_context(|| format!("pos.broker {:?}: expected host:port", pos.broker))?;
        let mut mqtt = MqttOptions::new(pos.client_id.clone(), host, port);
        // A persistent session: tickets published while the box restarts
        // wait at the broker.
        mqtt.set_clean_session(false)
            .set_manual_acks(true)
            .set_keep_alive(Duration::from_secs(30));
        let (counts_tx, counts_rx) = watch::channel(IntakeCounts::default());
        tasks.spawn(intake_task(
            run_intake(
                store.clone(),
                mqtt,
                shutdown.clone(),
                None,
                counts_tx,
                tz.clone(),
                Topics::new(&pos.topic_root),
            ),
            counts_rx,
            wake.clone(),
        ));
    }

    if let Some(client) = &shop {
        let beat = Heartbeat::new("shop puller");
        beats.push(beat.clone());
        tasks.spawn(workers::pull_loop(workers::Puller {
            store: store.clone(),
            client: client.clone(),
            config: config.clone(),
            tz: tz.clone(),
            wake: wake.clone(),
            beat,
            shutdown: shutdown.clone(),
        }));
    }

    if let Some(link) = config.fleet_link()? {
        tasks.spawn(crate::fleet::run(
            link,
            store.clone(),
            tz.clone(),
            std::time::Instant::now(),
            shutdown.clone(),
        ));
    }

    let beat = Heartbeat::new("delivery worker");
    beats.push(beat.clone());
    tasks.spawn(workers::delivery_loop(workers::Delivery {
        store: store.clone(),
        shop,
        seller,
        config: config.clone(),
        tz,
        wake,
        beat,
        shutdown: shutdown.clone(),
    }));

    if let Some(interval) = systemd::watchdog_interval() {
        tasks.spawn(watchdog_task(beats, interval, shutdown.clone()));
    }
    systemd::notify("READY=1");
    tracing::info!(
        store = %config.store.path.display(),
        socket = %socket_path.display(),
        "relais running"
    );

    let mut stop = shutdown;
    while !*stop.borrow() {
        tokio::select! {
            done = tasks.join_next() => match done {
                // The watchdog task and the intake end only at shutdown;
                // a task ending early is logged, the rest go on.
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => tracing::error!(error = %format!("{e:#}"), "a task stopped"),
                Some(Err(e)) => tracing::error!(error = %e, "a task panicked"),
                None => break,
            },
            _ = stop.changed() => {}
        }
    }
    systemd::notify("STOPPING=1");
    tracing::info!("stopping: finishing the current round");
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::error!(error = %format!("{e:#}"), "a task failed while stopping");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?DRAIN,
            "tasks still busy after the drain time, stopping them"
        );
        tasks.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn control_task(
    listener: tokio::net::UnixListener,
    path: std::path::PathBuf,
    store: Store,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    control::serve(listener, path, store, shutdown).await;
    Ok(())
}

/// Binds the status page now (a taken port stops the start) and returns
/// the task that serves it.
async fn status_page_task(
    page: &crate::config::StatusPageSection,
    config: &Config,
    store: Store,
    tz: jiff::tz::TimeZone,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let addr = page
        .listen_addr()
        .with_context(|| format!("status_page.listen {:?}: expected ip:port", page.listen))?;
    let listener = status_page::bind(addr).await?;
    let secrets = config
        .shop_settings()?
        .map(|s| vec![s.consumer_key, s.consumer_secret])
        .unwrap_or_default();
    let settings = status_page::PageSettings {
        tz,
        refresh_seconds: page.refresh_seconds,
        redactor: status_page::Redactor::new(secrets),
    };
    Ok(async move {
        status_page::serve(listener, store, settings, shutdown)
            .await
            .context("status page")
    })
}

/// Runs the ticket intake and wakes the delivery worker when tickets come.
async fn intake_task(
    intake: impl std::future::Future<Output = Result<(), crate::store::StoreError>>,
    mut counts: watch::Receiver<IntakeCounts>,
    wake: Arc<Notify>,
) -> anyhow::Result<()> {
    let waker = async {
        while counts.changed().await.is_ok() {
            wake.notify_one();
        }
    };
    tokio::select! {
        result = intake => result.context("POS intake"),
        () = waker => Ok(()),
    }
}

/// Feeds systemd's watchdog while every worker beats.
async fn watchdog_task(
    beats: Vec<Heartbeat>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // A worker's round waits at most its poll time, plus the time a slow
    // round takes; silence much longer than the watchdog's own timeout
    // means stuck.
    let limit = interval * 2;
    let mut warned = false;
    loop {
        match systemd::stalled(&beats, limit) {
            None => {
                systemd::notify("WATCHDOG=1");
                warned = false;
            }
            Some(beat) if !warned => {
                tracing::error!(
                    worker = beat.name(),
                    silent = ?beat.silent_for(),
                    "a worker is stuck: no longer feeding the watchdog"
                );
                warned = true;
            }
            Some(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

fn read_seller(path: Option<&Path>) -> anyhow::Result<Seller> {
    let Some(path) = path else {
        tracing::warn!("no site.seller file: invoices carry the sample seller");
        return Ok(Seller::sample());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seller file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("seller file {}", path.display()))
}
