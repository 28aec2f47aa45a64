//! The daemon's two long-running workers: the shop puller and the delivery
//! worker. Each is a loop of rounds; a round's failure is logged, counted
//! and retried after a capped backoff, and every wait also watches the
//! shutdown signal, so a stop never waits for a timer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use pos_bridge::dialect::Dialect;
use tokio::sync::{watch, Notify};

use super::systemd::Heartbeat;
use crate::config::Config;
use crate::erp::replies::collect_replies;
use crate::erp::throttle::FileRate;
use crate::erp::{deliver_imports_limited, take_exports};
use crate::invoice::publish::{publish_shop_queue, PublishError};
use crate::invoice::render::Seller;
use crate::mapping::site::Clients;
use crate::pipeline::{process_stored_with, Site};
use crate::retry::{jitter, Backoff};
use crate::schedule;
use crate::shop::client::{ShopClient, ShopError};
use crate::shop::notes::note_erp_batches;
use crate::shop::pull::{pull_orders, PullError};
use crate::store::{Dest, State, Store};

/// Cursor: the last business day the nightly pull closed.
const NIGHTLY_DONE: &str = "schedule.nightly_pull.day";
/// Cursor: the last day an invoice export was taken.
const EXPORT_DAY: &str = "schedule.export.day";
/// Cursor: the last day the missing-export alert was raised.
const EXPORT_ALERT: &str = "schedule.export_alert.day";

/// Longest sleep between two beats of an idle worker.
const IDLE_BEAT: Duration = Duration::from_secs(15);

const BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    cap: Duration::from_secs(300),
};

/// Sleeps `delay`, or less if woken or stopped, beating meanwhile so a
/// long backoff is not taken for a stuck worker; false once stopping.
async fn pause(
    delay: Duration,
    wake: Option<&Notify>,
    beat: &Heartbeat,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        if *shutdown.borrow() {
            return false;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return true;
        }
        let step = (deadline - now).min(IDLE_BEAT);
        let woken = async {
            match wake {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(step) => beat.beat(),
            () = woken => return !*shutdown.borrow(),
            _ = shutdown.changed() => {}
        }
    }
}

/// Beats every [`IDLE_BEAT`] until dropped: for long async work that is
/// bounded by its own timeouts.
async fn beat_forever(beat: &Heartbeat) {
    loop {
        tokio::time::sleep(IDLE_BEAT).await;
        beat.beat();
    }
}

fn read_day(store: &Store, name: &str) -> Option<Date> {
    store.cursor(name).ok().flatten()?.parse().ok()
}

/// The shop puller's parts.
pub(super) struct Puller {
    pub store: Store,
    pub client: ShopClient,
    pub config: Config,
    pub tz: TimeZone,
    pub wake: Arc<Notify>,
    pub beat: Heartbeat,
    pub shutdown: watch::Receiver<bool>,
}

/// Pulls the shop at night (and by day if configured), catching up at once
/// on a night missed. The cursor only moves after the pages are committed
/// (see `shop::pull`), so a pull cut by a stop is simply done again.
pub(super) async fn pull_loop(mut p: Puller) -> anyhow::Result<()> {
    let Some(pull_at) = p.config.pull_at() else {
        return Ok(());
    };
    let every = p.config.shop.as_ref().map_or(0, |s| s.pull_every_minutes);
    let first_days = p.config.shop.as_ref().map_or(1, |s| s.first_pull_days);
    let mut failures = 0u32;
    let mut last_daytime = Timestamp::now();
    let mut refused_until_restart = false;
    loop {
        p.beat.beat();
        let now = Timestamp::now();
        let last_done = read_day(&p.store, NIGHTLY_DONE);
        let nightly = schedule::nightly_pull_due(now, last_done, pull_at, &p.tz);
        let daytime = every > 0 && now.duration_since(last_daytime).as_secs() >= 60 * every as i64;
        if (nightly.is_some() || daytime) && !refused_until_restart {
            let since = schedule::first_pull_since(now, first_days, &p.tz);
            let pull = pull_orders(&p.store, &p.client, since, &p.tz);
            let result = tokio::select! {
                result = pull => Some(result),
                _ = p.shutdown.changed() => None,
                () = beat_forever(&p.beat) => None,
            };
            match result {
                None => return Ok(()),
                Some(Ok(report)) => {
                    failures = 0;
                    last_daytime = now;
                    if let Some(day) = nightly {
                        p.store.set_cursor(NIGHTLY_DONE, &day.to_string())?;
                    }
                    tracing::info!(
                        new = report.new,
                        already_held = report.duplicates,
                        pages = report.pages,
                        closes = ?nightly.map(|d| d.to_string()),
                        "shop pull done"
                    );
                    p.wake.notify_one();
                }
                Some(Err(PullError::Shop(e @ ShopError::Permanent { .. }))) => {
                    // 401, 403: retrying cannot help until a person fixes the
                    // credentials; say it once and stop pulling.
                    tracing::error!(
                        error = %e,
                        "the shop refuses Relais: no more pulls until the credentials are \
                         fixed and relais is restarted"
                    );
                    refused_until_restart = true;
                }
                Some(Err(e)) => {
                    failures += 1;
                    let delay = BACKOFF.delay(failures, jitter());
                    tracing::warn!(error = %e, ?delay, "shop pull failed, will retry");
                    if !pause(delay, None, &p.beat, &mut p.shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            }
        }
        let now = Timestamp::now();
        let mut next =
            schedule::next_nightly_pull(now, read_day(&p.store, NIGHTLY_DONE), pull_at, &p.tz);
        if every > 0 {
            next = next.min(last_daytime + jiff::SignedDuration::from_secs(60 * every as i64));
        }
        let wait = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
        // Wake at least every minute: a wall clock that jumps (NTP after a
        // boot without a real-time clock) is seen soon.
        if !pause(
            wait.min(Duration::from_secs(60)),
            None,
            &p.beat,
            &mut p.shutdown,
        )
        .await
        {
            return Ok(());
        }
    }
}

/// The delivery worker's parts.
pub(super) struct Delivery {
    pub store: Store,
    pub shop: Option<ShopClient>,
    pub seller: Arc<Seller>,
    pub config: Config,
    pub tz: TimeZone,
    pub wake: Arc<Notify>,
    pub beat: Heartbeat,
    pub shutdown: watch::Receiver<bool>,
}

/// The ERP's client file as last read, and when it was written.
/// A client file that failed to read is tried again after this long even
/// if it did not change (a share's passing error).
const CLIENT_FILE_RETRY: Duration = Duration::from_secs(60);

struct ClientFile {
    path: PathBuf,
    modified: Option<SystemTime>,
    /// The file's modification time when it last failed to read (None if
    /// it was missing), and when: the same file is read (and its error
    /// logged) again only after [`CLIENT_FILE_RETRY`].
    failed: Option<(Option<SystemTime>, std::time::Instant)>,
}

impl ClientFile {
    fn new(path: PathBuf) -> ClientFile {
        ClientFile {
            path,
            modified: None,
            failed: None,
        }
    }
}

impl ClientFile {
    /// Re-reads the client file if the ERP rewrote it, so a quarantined
    /// order for a customer just created in the ERP maps once released.
    fn refresh(&mut self, site: &mut Option<Arc<Site>>, config: &Config, tz: &TimeZone) {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let same_failure = self
            .failed
            .is_some_and(|(at, when)| at == modified && when.elapsed() < CLIENT_FILE_RETRY);
        if (site.is_some() && modified == self.modified) || same_failure {
            return;
        }
        let clients = std::fs::File::open(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|f| Clients::read(f, &Dialect::french_erp()).map_err(|e| e.to_string()));
        match clients {
            Ok(clients) => {
                tracing::info!(
                    file = %self.path.display(),
                    clients = clients.len(),
                    "client file read"
                );
                self.modified = modified;
                self.failed = None;
                *site = Some(Arc::new(Site {
                    rules: config.site.rules.clone(),
                    clients,
                    tz: tz.clone(),
                    import_dialect: Dialect::french_erp(),
                    export_dialect: Dialect::french_erp(),
                }));
            }
            Err(e) if site.is_none() => {
                self.failed = Some((modified, std::time::Instant::now()));
                tracing::error!(file = %self.path.display(), error = %e,
                    "cannot read the ERP's client file: nothing is mapped until it can be \
                     (read again when it changes, or in a minute)");
            }
            Err(e) => {
                self.failed = Some((modified, std::time::Instant::now()));
                tracing::warn!(file = %self.path.display(), error = %e,
                    "cannot read the ERP's new client file, keeping the previous one");
            }
        }
    }
}

/// One round on the ERP side: decide, write import files, take exports.
fn delivery_round(
    store: &Store,
    site: &Site,
    settings: &crate::erp::ErpSettings,
    rate: &mut FileRate,
    beat: &Heartbeat,
) -> anyhow::Result<()> {
    let progress = || beat.beat();
    process_stored_with(store, site, &progress)?;
    beat.beat();
    let written = deliver_imports_limited(store, settings, &site.tz, rate)?;
    if written.files > 0 {
        store.record_success("erp")?;
    }
    beat.beat();
    collect_replies(store, settings)?;
    beat.beat();
    let scan = take_exports(store, settings, &site.tz)?;
    if !scan.taken.is_empty() || !scan.duplicates.is_empty() {
        let today = schedule::local_date(Timestamp::now(), &site.tz);
        store.set_cursor(EXPORT_DAY, &today.to_string())?;
        process_stored_with(store, site, &progress)?;
    }
    Ok(())
}

/// Decides stored documents, writes ERP import files, takes invoice
/// exports and publishes invoices, in rounds: at once when woken by new
/// work, else every `erp.poll_seconds`.
pub(super) async fn delivery_loop(mut d: Delivery) -> anyhow::Result<()> {
    let settings = d.config.erp_settings();
    let poll = Duration::from_secs(d.config.erp.poll_seconds);
    let expected_at = d.config.export_expected_at();
    let mut clients = ClientFile::new(d.config.site.clients.clone());
    let mut site: Option<Arc<Site>> = None;
    let mut rate = FileRate::new(settings.max_files_per_minute);
    // The files of the minute before a restart count too (read from the
    // ERP's folders in the first round, off the async threads).
    let mut seeded = false;
    let mut failures = 0u32;
    loop {
        d.beat.beat();
        let mut delay = poll;
        // Everything touching the ERP's share runs off the async threads:
        // a share that hangs (a dead NFS server) stops this worker, which
        // stops beating, and the watchdog has the daemon restarted.
        let (store, settings2, config, tz, beat) = (
            d.store.clone(),
            settings.clone(),
            d.config.clone(),
            d.tz.clone(),
            d.beat.clone(),
        );
        let first = !seeded;
        let mut state = (clients, site, rate);
        let round = tokio::task::spawn_blocking(move || {
            let (clients, site, rate) = &mut state;
            if first {
                let now = jiff::Timestamp::now();
                rate.seed(now, crate::erp::recent_imports(&settings2, now));
            }
            clients.refresh(site, &config, &tz);
            let result = match site.clone() {
                Some(site) => delivery_round(&store, &site, &settings2, rate, &beat),
                None => Ok(()),
            };
            (state, result)
        })
        .await;
        let round = match round {
            Ok(((c, s, r), result)) => {
                clients = c;
                site = s;
                rate = r;
                seeded = true;
                Ok(result)
            }
            Err(e) => {
                // The state moved into a task that panicked: start afresh.
                clients = ClientFile::new(d.config.site.clients.clone());
                site = None;
                rate = FileRate::new(settings.max_files_per_minute);
                seeded = false;
                Err(e)
            }
        };
        match round {
            Ok(Ok(())) => failures = 0,
            Ok(Err(e)) => {
                failures += 1;
                delay = BACKOFF.delay(failures, jitter()).max(poll);
                tracing::error!(error = %format!("{e:#}"), ?delay, "delivery round failed");
            }
            Err(e) => tracing::error!(error = %e, "delivery round panicked"),
        }
        if let Some(client) = &d.shop {
            // Uploads are network calls with timeouts and bounded retries,
            // not a hang; a long publishing run must not starve the
            // watchdog, so the worker beats while it lasts.
            tokio::select! {
                () = publish(&d, client) => {}
                () = beat_forever(&d.beat) => {}
            }
        }
        if let Some(at) = expected_at {
            export_alert(&d.store, at, &d.tz);
        }
        if !pause(delay, Some(&d.wake), &d.beat, &mut d.shutdown).await {
            return Ok(());
        }
    }
}

async fn publish(d: &Delivery, client: &ShopClient) {
    // Notes for the ERP batches delivered since the last round; the
    // pipeline queues them for the shop at its next round.
    let note_settings = d.config.note_settings();
    let (store, settings) = (d.store.clone(), note_settings.clone());
    match tokio::task::spawn_blocking(move || note_erp_batches(&store, &settings)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(notes = n, "order notes stored for the shop"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot store order notes"),
        Err(e) => tracing::warn!(error = %e, "order notes task failed"),
    }
    let waiting = d
        .store
        .in_state(State::Queued(Dest::Shop), 1)
        .map(|q| !q.is_empty())
        .unwrap_or(false);
    if !waiting {
        return;
    }
    match publish_shop_queue(&d.store, client, d.seller.clone(), &note_settings).await {
        Ok(report) => tracing::info!(
            uploaded = report.uploaded,
            already_held = report.already_held,
            quarantined = report.quarantined,
            notes = report.notes,
            "shop queue worked"
        ),
        // The invoices and notes stay queued; the next round tries again.
        Err(PublishError::Shop(e)) => tracing::warn!(error = %e, "shop unreachable"),
        Err(e) => tracing::error!(error = %e, "shop publishing failed"),
    }
}

fn export_alert(store: &Store, expected_at: jiff::civil::Time, tz: &TimeZone) {
    let now = Timestamp::now();
    let late = schedule::export_overdue(
        now,
        read_day(store, EXPORT_DAY),
        read_day(store, EXPORT_ALERT),
        expected_at,
        tz,
    );
    if let Some(day) = late {
        tracing::error!(
            day = %day,
            expected_at = %expected_at,
            "the ERP's invoice export for today has not come"
        );
        if let Err(e) = store.set_cursor(EXPORT_ALERT, &day.to_string()) {
            tracing::warn!(error = %e, "cannot record the export alert");
        }
    }
}
