//! The status page as a phone on the LAN meets it: served on 127.0.0.1 from
//! a store holding a small day, it shows the queues, the quarantine (with a
//! reason that tries to inject a script), last successes and today's
//! figures in French or English, gives the same data as JSON, refuses every
//! method but GET and HEAD, never shows the shop's secret, stops on the
//! shutdown signal, and is readable in headless Chromium at a phone's size.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use relais::status_page::{self, PageSettings, Redactor, Report};
use relais::store::{Dest, Intake, IntakeOutcome, Kind, State, Store, Transition};

const SECRET: &str = "cs_topsecret_42";
const EVIL_REASON: &str = "unknown payment <script>alert('pwned')</script> & co";
const LIMIT: Duration = Duration::from_secs(20);

/// A store with a small day: two orders waiting for the ERP, one ticket
/// delivered, one invoice waiting for the shop, one order quarantined.
fn store_with_a_day(dir: &Path) -> Store {
    let store = Store::open(&dir.join("relais.redb")).expect("store");
    let doc = |kind, id: &str, cents| Intake {
        kind,
        external_id: id.into(),
        revision: "r1".into(),
        day: jiff::Zoned::now().date(),
        amount: Decimal::new(cents, 2),
        body: b"{}".to_vec(),
        parent: None,
    };
    let outcomes = store
        .intake(vec![
            doc(Kind::WebOrder, "1001", 12_050),
            doc(Kind::WebOrder, "1002", 4_000),
            doc(Kind::Ticket, "T-7<b>", 990),
            doc(Kind::Invoice, "FA-2026-0042", 15_000),
            doc(Kind::WebOrder, "1003\"><i>x</i>", 2_500),
        ])
        .expect("intake");
    let ids: Vec<u64> = outcomes
        .into_iter()
        .map(|o| match o {
            IntakeOutcome::New(id) | IntakeOutcome::Duplicate(id) => id,
        })
        .collect();
    let erp = State::Queued(Dest::Erp);
    store
        .apply(vec![
            Transition::to(ids[0], erp, "mapped"),
            Transition::to(ids[1], erp, "mapped"),
            Transition::to(ids[2], State::Queued(Dest::Shop), "mapped"),
            Transition::to(ids[3], State::Queued(Dest::Shop), "rendered"),
            Transition::to(
                ids[4],
                State::Quarantined,
                format!("{EVIL_REASON} {SECRET}"),
            ),
        ])
        .expect("transitions");
    store
        .apply(vec![Transition::to(
            ids[2],
            State::Delivered(Dest::Shop),
            "sent",
        )])
        .expect("deliver");
    store.record_success("erp").expect("success");
    store
}

struct Page {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), status_page::StatusPageError>>,
    _dir: tempfile::TempDir,
}

async fn start_page() -> Page {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_with_a_day(dir.path());
    let listener = status_page::bind(([127, 0, 0, 1], 0).into())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, shutdown) = watch::channel(false);
    let settings = PageSettings {
        tz: TimeZone::get("Europe/Paris").expect("tz"),
        refresh_seconds: 30,
        redactor: Redactor::new(["ck_key_1234".to_string(), SECRET.to_string()]),
    };
    let task = tokio::spawn(status_page::serve(listener, store, settings, shutdown));
    Page {
        addr,
        stop,
        task,
        _dir: dir,
    }
}

/// One HTTP/1.1 exchange: status code, head and body.
async fn fetch(addr: SocketAddr, method: &str, path: &str, extra: &str) -> (u16, String, String) {
    exchange(addr, &addr.to_string(), &format!("{method} {path}"), extra).await
}

/// A GET naming `host` in its `Host` header.
async fn fetch_as(addr: SocketAddr, host: &str, path: &str) -> (u16, String, String) {
    exchange(addr, host, &format!("GET {path}"), "").await
}

async fn exchange(addr: SocketAddr, host: &str, line: &str, extra: &str) -> (u16, String, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "{line} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             Content-Length: 0\r\n{extra}\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        answer
    };
    let answer = tokio::time::timeout(LIMIT, exchange)
        .await
        .expect("an answer in time");
    let text = String::from_utf8(answer).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn the_page_shows_the_day_in_french_with_every_value_escaped() {
    let page = start_page().await;
    let (status, head, body) =
        fetch(page.addr, "GET", "/", "Accept-Language: fr-FR,fr;q=0.9\r\n").await;

    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(body.contains("<html lang=\"fr\">"));
    assert!(body.contains("Files d&#39;attente"));
    assert!(
        body.contains("Commande web 1001"),
        "oldest waiting for the ERP"
    );
    assert!(
        body.contains("Facture FA-2026-0042"),
        "oldest waiting for the shop"
    );
    assert!(body.contains("Quarantaine <span class=\"badge bad\">1</span>"));
    assert!(body
        .contains("unknown payment &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; co"));
    assert!(body.contains("1003&quot;&gt;&lt;i&gt;x&lt;/i&gt;"));
    assert!(!body.contains("<script") && !body.contains("<i>"), "{body}");
    assert!(!body.contains(SECRET), "the shop secret is shown");
    assert!(body.contains("[hidden]"));
    assert!(body.contains("jamais"), "shop and POS never answered");
    assert!(
        body.contains("il y a moins d&#39;une minute"),
        "the ERP just did"
    );
    // Today: three orders (160,50 + 25,00), one ticket, one invoice.
    assert!(
        body.contains(
            "<td>Commandes web</td><td class=\"n\">3</td><td class=\"n\">185,50 EUR</td>"
        ),
        "{body}"
    );
    assert!(body
        .contains("<td>Tickets de caisse</td><td class=\"n\">1</td><td class=\"n\">9,90 EUR</td>"));
}

#[tokio::test]
async fn the_query_chooses_english_over_the_header() {
    let page = start_page().await;
    let (status, _, body) = fetch(page.addr, "GET", "/?lang=en", "Accept-Language: fr\r\n").await;

    assert_eq!(status, 200);
    assert!(body.contains("<html lang=\"en\">"));
    assert!(body.contains("Queues") && body.contains("Quarantine") && body.contains("Today"));
    assert!(
        body.contains("<td>Web orders</td><td class=\"n\">3</td><td class=\"n\">185.50 EUR</td>")
    );
    assert!(body.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    assert!(
        body.contains("href=\"?lang=en\""),
        "the refresh link keeps English"
    );
}

#[tokio::test]
async fn status_json_gives_the_same_data_unescaped_but_without_the_secret() {
    let page = start_page().await;
    let (status, head, body) = fetch(page.addr, "GET", "/status.json", "").await;

    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/json"), "{head}");
    let report: Report = serde_json::from_str(&body).expect("a report");
    let erp = report.queues.iter().find(|q| q.dest == "erp").expect("erp");
    assert_eq!(erp.waiting, 2);
    assert_eq!(
        erp.oldest.as_ref().map(|d| d.external_id.as_str()),
        Some("1001")
    );
    assert_eq!(report.quarantined, 1);
    assert!(report.quarantine[0].reason.starts_with(EVIL_REASON));
    assert!(!body.contains(SECRET));
    let orders = &report.today.kinds[0];
    assert_eq!((orders.kind.as_str(), orders.documents), ("order", 3));
    assert_eq!(orders.amount, Decimal::new(18_550, 2));
    assert!(report
        .last_success
        .iter()
        .any(|p| p.peer == "erp" && p.at.is_some()));
}

#[tokio::test]
async fn only_get_and_head_are_answered_and_nothing_runs_or_is_kept() {
    let page = start_page().await;

    for (method, path) in [
        ("POST", "/"),
        ("PUT", "/status.json"),
        ("DELETE", "/"),
        ("PATCH", "/"),
    ] {
        let (status, _, _) = fetch(page.addr, method, path, "").await;
        assert_eq!(status, 405, "{method} {path}");
    }
    let (status, _, body) = fetch(page.addr, "GET", "/quarantine/release", "").await;
    assert_eq!(status, 404, "{body}");
    let (status, head, body) = fetch(page.addr, "HEAD", "/", "").await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("frame-ancestors 'none'"));
    assert!(head.contains("x-content-type-options: nosniff"));
    assert!(head.contains("cache-control: no-store"));
}

#[tokio::test]
async fn a_public_host_name_is_refused_so_a_web_site_cannot_rebind_to_the_page() {
    let page = start_page().await;

    for path in ["/", "/status.json"] {
        let (status, _, body) = fetch_as(page.addr, "rebind.attacker.example", path).await;
        assert_eq!(status, 421, "{path}: {body}");
        assert!(!body.contains("1001"), "{body}");
    }
    let (status, _, _) = fetch_as(page.addr, "relais.local:8080", "/status.json").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_page_stops_on_the_shutdown_signal() {
    let page = start_page().await;
    let (status, _, _) = fetch(page.addr, "GET", "/", "").await;
    assert_eq!(status, 200);

    // A phone that keeps its connection open, and a client that sends half
    // a request, must not hold the stop for long.
    let _idle = TcpStream::connect(page.addr).await.expect("connect");
    let mut half = TcpStream::connect(page.addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("send");
    let mut kept = TcpStream::connect(page.addr).await.expect("connect");
    kept.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(LIMIT, kept.read_u8()).await;
        head.push(byte.expect("an answer in time").expect("read"));
    }

    page.stop.send(true).expect("signal");
    let limit = status_page::STOP_GRACE + Duration::from_secs(3);
    let stopped = tokio::time::timeout(limit, page.task).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    assert!(
        TcpStream::connect(page.addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn the_daemon_serves_the_page_from_its_config_and_stops_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("addr").port()
    };
    std::fs::write(dir.path().join("clients.csv"), "").expect("clients");
    let text = format!(
        "[store]\npath = {store:?}\n[site]\nclients = {clients:?}\n[erp]\nfolder = {erp:?}\n\
         [status_page]\nlisten = \"127.0.0.1:{port}\"\n",
        store = dir.path().join("relais.redb"),
        clients = dir.path().join("clients.csv"),
        erp = dir.path().join("erp"),
    );
    let config = relais::config::Config::parse(&text, Path::new("relais.toml")).expect("config");
    let (stop, shutdown) = watch::channel(false);
    let daemon = tokio::spawn(relais::daemon::run(config, shutdown));

    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _, body) = fetch(addr, "GET", "/?lang=en", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("Nothing in quarantine."), "{body}");

    stop.send(true).expect("signal");
    let stopped = tokio::time::timeout(Duration::from_secs(30), daemon).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

/// Debian's Chromium, unless the machine has none.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return Some(path);
    }
    let required = std::env::var("RELAIS_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "RELAIS_REQUIRE_CHROMIUM=1 but /usr/bin/chromium is missing"
    );
    // Straight to stderr: the test harness keeps `eprintln!` of a passing
    // test to itself, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: /usr/bin/chromium is missing (apt-get install chromium); no screenshot"
    );
    None
}

/// The width and height in a PNG's header.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let signature = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != signature || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    Some((be(16), be(20)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_shows_the_page_at_a_phone_s_size() {
    let Some(chromium) = chromium() else {
        return;
    };
    let page = start_page().await;
    let shots = tempfile::tempdir().expect("temp dir");
    let shot = shots.path().join("status-page-phone.png");
    let url = format!("http://{}/?lang=fr", page.addr);

    let mut browser = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--metrics-recording-only",
            // Any name but the page's own address resolves to nothing, so
            // Chromium cannot reach another host even if it wanted to.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            // And any address but loopback goes to a dead local proxy.
            "--proxy-server=http://127.0.0.1:9",
            "--hide-scrollbars",
            "--window-size=390,844",
        ])
        .arg(format!(
            "--user-data-dir={}",
            shots.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromium");
    let mut stderr = browser.stderr.take().expect("stderr");
    let mut log = String::new();
    let finished = tokio::time::timeout(Duration::from_secs(90), async {
        let _ = stderr.read_to_string(&mut log).await;
        browser.wait().await
    })
    .await;
    let status = finished
        .expect("chromium finished in time")
        .expect("chromium ran");
    assert!(status.success(), "chromium failed: {log}");

    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {log}"));
    assert_eq!(png_size(&png), Some((390, 844)), "a phone-sized PNG");
    // A blank or error page compresses to a few hundred bytes; the page
    // with its text, tables and colours is tens of kilobytes.
    assert!(
        png.len() > 15_000,
        "the screenshot looks empty: {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("RELAIS_STATUS_SCREENSHOT") {
        std::fs::copy(&shot, &keep).expect("keep the screenshot");
    }
}
