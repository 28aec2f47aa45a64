//! Three boxes (three `relais run` daemons) report to one Mosquitto over
//! TLS with client certificates made here; a signed fleet command releases
//! a quarantined order on one of them, and a tampered command and a box
//! certificate from another CA are refused.
//!
//! Needs the `mosquitto` binary; skipped with a notice without it, unless
//! RELAIS_REQUIRE_MOSQUITTO=1 (CI), where its absence fails the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use relais::fleet::command::{sign, Action, Command as FleetCommand, Reply};
use relais::store::{Intake, Kind, Store};
use ring::signature::KeyPair as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

fn mosquitto() -> Option<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join("mosquitto");
        if path.exists() {
            return Some(path);
        }
    }
    None
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("ca");
        Pki {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM)
    fn leaf(&self, name: &str, server: bool) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names = if server {
            vec!["localhost".to_string(), "127.0.0.1".to_string()]
        } else {
            vec![name.to_string()]
        };
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn quarantined_order(store_path: &Path, number: &str) {
    let store = Store::open(store_path).expect("store");
    let order = serde_json::json!({
        "id": number.parse::<u64>().expect("id"), "number": number, "status": "processing",
        "currency": "EUR", "prices_include_tax": false,
        "date_created_gmt": "2026-12-02T09:00:00", "date_modified_gmt": "2026-12-02T09:00:00",
        "customer_id": 77, "total": "10.55", "total_tax": "0.55",
        "billing": {"first_name": "A", "last_name": "B", "company": "", "email": "a@example.test"},
        "payment_method": "bacs", "payment_method_title": "Virement",
        "line_items": [{"id": 1, "name": "Pommes", "product_id": 5, "quantity": 1,
            "sku": "FR-POMME", "subtotal": "10.00", "subtotal_tax": "0.55", "total": "10.00",
            "total_tax": "0.55", "tax_class": "reduced-rate",
            "taxes": [{"id": 2, "total": "0.55", "subtotal": "0.55"}], "price": 10, "meta_data": []}],
        "tax_lines": [{"id": 9, "rate_id": 2, "rate_code": "FR-TVA-5.5", "label": "TVA 5,5 %",
            "compound": false, "tax_total": "0.55", "shipping_tax_total": "0.00", "rate_percent": 5.5}],
        "shipping_lines": [], "fee_lines": [], "coupon_lines": [], "refunds": [], "meta_data": []
    });
    store
        .intake(vec![Intake {
            kind: Kind::WebOrder,
            external_id: number.into(),
            revision: "2026-12-02T09:00:00".into(),
            day: jiff::civil::date(2026, 12, 2),
            amount: "10.55".parse().expect("amount"),
            body: serde_json::to_vec(&order).expect("json"),
            parent: None,
        }])
        .expect("intake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_boxes_report_over_tls_and_obey_only_signed_commands() {
    let Some(mosquitto) = mosquitto() else {
        assert!(
            std::env::var("RELAIS_REQUIRE_MOSQUITTO").as_deref() != Ok("1"),
            "mosquitto is required (RELAIS_REQUIRE_MOSQUITTO=1) but not installed"
        );
        eprintln!("skipped: no mosquitto binary");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let work = dir.path();
    if std::env::var_os("RELAIS_KEEP_TEST_DIR").is_some() {
        eprintln!("test folder: {}", work.display());
    }
    let pki = Pki::new("Relais test fleet CA");
    let (server_cert, server_key) = pki.leaf("broker", true);
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let ca = write(work, "ca.pem", &pki.ca_pem);
    let conf = format!(
        "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
         require_certificate true\nuse_identity_as_username true\nallow_anonymous true\n\
         persistence false\nuser root\n",
        ca.display(),
        write(work, "server.pem", &server_cert).display(),
        write(work, "server.key", &server_key).display(),
    );
    let conf_path = write(work, "mosquitto.conf", &conf);
    let _broker = Killed(
        Command::new(mosquitto)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("mosquitto.log")).expect("log"))
            .spawn()
            .expect("start mosquitto"),
    );
    wait_for("the TLS broker", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });

    // The fleet's command key; boxes hold its public half.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
    let fleet_key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
    let public = base64::engine::general_purpose::STANDARD.encode(fleet_key.public_key().as_ref());

    let clients = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/samples/day-2026-12-02/erp/clients.csv"),
    )
    .expect("clients");
    let mut daemons = Vec::new();
    for n in 1..=3 {
        let box_dir = work.join(format!("box-{n}"));
        let erp = box_dir.join("erp");
        std::fs::create_dir_all(&erp).expect("dirs");
        std::fs::write(erp.join("clients.csv"), &clients).expect("clients");
        let (cert, key) = pki.leaf(&format!("box-{n}"), false);
        let store = box_dir.join("relais.redb");
        // Two orders from a customer the ERP does not know yet: quarantined.
        quarantined_order(&store, &format!("{}", 900_000 + n * 10 + 1));
        quarantined_order(&store, &format!("{}", 900_000 + n * 10 + 2));
        let config = format!(
            "[store]\npath = \"{}\"\n[site]\nclients = \"{}\"\n[erp]\nfolder = \"{}\"\n\
             poll_seconds = 1\n[fleet]\nbroker = \"localhost:{port}\"\nbox_id = \"box-{n}\"\n\
             topic_root = \"fleet\"\ntelemetry_seconds = 1\nca_file = \"{}\"\ncert_file = \"{}\"\n\
             key_file = \"{}\"\ncommand_key = \"{public}\"\n",
            store.display(),
            erp.join("clients.csv").display(),
            erp.display(),
            ca.display(),
            write(&box_dir, "box.pem", &cert).display(),
            write(&box_dir, "box.key", &key).display(),
        );
        let config_path = write(&box_dir, "relais.toml", &config);
        let child = Command::new(env!("CARGO_BIN_EXE_relais"))
            .args(["run", "--config"])
            .arg(&config_path)
            .env("RELAIS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(box_dir.join("daemon.log")).expect("log"))
            .spawn()
            .expect("daemon");
        daemons.push((Killed(child), box_dir));
    }

    // The fleet console, with its own certificate.
    let (admin_cert, admin_key) = pki.leaf("fleet-console", false);
    let tls = relais::fleet::tls_config(&pki.ca_pem, &admin_cert, &admin_key).expect("tls");
    let mut options = MqttOptions::new("fleet-console", "localhost", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(tls)),
        ));
    let (console, mut events) = AsyncClient::new(options, 64);
    console
        .subscribe("fleet/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe");

    let mut reporting = std::collections::BTreeSet::new();
    let mut online = std::collections::BTreeSet::new();
    let mut replies: Vec<Reply> = Vec::new();
    let mut sent = false;
    let mut tampered_sent = false;
    let mut box2_ready = false;
    let deadline = Instant::now() + Duration::from_secs(90);
    while replies.is_empty() || reporting.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "reporting {reporting:?}, replies {replies:?}"
        );
        let event = match tokio::time::timeout(Duration::from_secs(30), events.poll()).await {
            Ok(Ok(event)) => event,
            other => {
                let logs: Vec<String> = ["mosquitto.log", "box-1/daemon.log"]
                    .iter()
                    .map(|f| std::fs::read_to_string(work.join(f)).unwrap_or_default())
                    .collect();
                panic!("console: {other:?}\n{}", logs.join("\n----\n"));
            }
        };
        if let Event::Incoming(Packet::Publish(p)) = event {
            let parts: Vec<&str> = p.topic.split('/').collect();
            match parts.as_slice() {
                ["fleet", id, "telemetry"] => {
                    reporting.insert(id.to_string());
                    // The command is sent once box-2 says both its orders
                    // are in quarantine (before that, there is nothing to
                    // release yet).
                    let t: relais::fleet::Telemetry =
                        serde_json::from_slice(&p.payload).expect("telemetry");
                    if *id == "box-2" && t.quarantined >= 2 {
                        box2_ready = true;
                    }
                }
                ["fleet", id, "state"] if p.payload.as_ref() == b"online" => {
                    online.insert(id.to_string());
                }
                ["fleet", "console", "replies"] => {
                    replies.push(serde_json::from_slice(&p.payload).expect("reply"));
                }
                _ => {}
            }
        }
        // Once box-2 reports, its ERP learns the customer and the fleet
        // releases one order there; a tampered copy tries the other.
        if !sent && box2_ready {
            let erp = daemons[1].1.join("erp");
            let mut file = clients.clone();
            file.extend_from_slice(b"C009077;77;Client cree ce jour;c@example.test;;\r\n");
            pos_bridge::spool::write_atomic(&erp.join("clients.csv"), &file).expect("clients");
            let command = FleetCommand {
                id: "cmd-1".into(),
                box_id: "box-2".into(),
                issued_at: jiff::Timestamp::now(),
                reply_to: "fleet/console/replies".into(),
                action: Action::Release {
                    id: Some("900021".into()),
                },
            };
            let envelope = sign(&command, &fleet_key);
            let mut tampered = envelope.clone();
            tampered.payload = tampered.payload.replace("900021", "900022");
            console
                .publish(
                    "fleet/box-2/commands",
                    QoS::AtLeastOnce,
                    false,
                    serde_json::to_vec(&tampered).expect("json"),
                )
                .await
                .expect("publish");
            tampered_sent = true;
            console
                .publish(
                    "fleet/box-2/commands",
                    QoS::AtLeastOnce,
                    false,
                    serde_json::to_vec(&envelope).expect("json"),
                )
                .await
                .expect("publish");
            sent = true;
        }
    }
    assert!(tampered_sent);
    assert_eq!(
        replies.len(),
        1,
        "only the signed command is answered: {replies:?}"
    );
    assert_eq!(replies[0].id, "cmd-1");
    let answer = serde_json::to_string(&replies[0].answer).expect("json");
    assert!(answer.contains("900021"), "{answer}");

    // The released order reaches box-2's ERP folder; the other stays held.
    let import = daemons[1].1.join("erp/import");
    wait_for(
        "the released order in an import file",
        Duration::from_secs(30),
        || {
            let files = std::fs::read_dir(&import).ok()?;
            let text: String = files
                .flatten()
                .filter_map(|f| std::fs::read(f.path()).ok())
                .map(|b| String::from_utf8_lossy(&b).to_string())
                .collect();
            (text.contains("900021") && !text.contains("900022")).then_some(())
        },
    );
    let log = std::fs::read_to_string(daemons[1].1.join("daemon.log")).unwrap_or_default();
    assert!(log.contains("fleet command refused"), "{log}");

    // A box certificate from another CA does not get in.
    let rogue = Pki::new("Someone else's CA");
    let (rogue_cert, rogue_key) = rogue.leaf("box-rogue", false);
    let tls = relais::fleet::tls_config(&pki.ca_pem, &rogue_cert, &rogue_key).expect("tls");
    let mut options = MqttOptions::new("box-rogue", "localhost", port);
    options.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(tls)),
    ));
    let (_rogue, mut rogue_events) = AsyncClient::new(options, 8);
    let mut refused = false;
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_secs(10), rogue_events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => break,
            Ok(Ok(_)) => continue,
            Ok(Err(_)) | Err(_) => {
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "a certificate from another CA was let in");
    drop(daemons);
    if std::env::var_os("RELAIS_KEEP_TEST_DIR").is_some() {
        let _ = dir.keep();
    }
}
