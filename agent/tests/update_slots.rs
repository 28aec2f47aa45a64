//! `relais update` as the fleet and a box meet it: a signed bundle is
//! installed into the other slot and kept once healthy; a tampered bundle
//! is refused with the reason; a version that fails its health check is
//! rolled back by itself; and the daemon's store comes through an update
//! with every document as it was.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use relais::store::{Intake, Kind, Store};
use relais::update::{self, SlotName, SlotState, Slots, UpdateError};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn relais() -> Command {
    Command::new(env!("CARGO_BIN_EXE_relais"))
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run relais")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fleet: its key pair on disk, as `relais update keygen` writes it.
struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Fleet {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = run(relais()
            .args(["update", "keygen", "--private"])
            .arg(dir.path().join("update.key"))
            .arg("--public")
            .arg(dir.path().join("update.pub")));
        assert!(out.status.success(), "keygen: {}", stderr(&out));
        Fleet { dir }
    }

    fn public(&self) -> PathBuf {
        self.dir.path().join("update.pub")
    }

    fn pair(&self) -> ring::signature::Ed25519KeyPair {
        update::manifest::read_private_key(&self.dir.path().join("update.key")).expect("key")
    }

    /// Packs `binary` (named `relais` in the bundle) as `version`.
    fn bundle(&self, name: &str, binary: &Path, version: &str) -> PathBuf {
        let staged = self.dir.path().join(format!("{name}-payload"));
        std::fs::create_dir_all(&staged).expect("payload folder");
        std::fs::copy(binary, staged.join("relais")).expect("copy payload");
        let out = self.dir.path().join(format!("{name}.tar"));
        update::pack(&out, version, &[staged.join("relais")], &self.pair()).expect("pack");
        out
    }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn install(bundle: &Path, key: &Path, slots: &Path, extra: &[&str]) -> Output {
    run(relais()
        .args(["update", "install"])
        .arg(bundle)
        .arg("--key")
        .arg(key)
        .arg("--slots")
        .arg(slots)
        .args(extra))
}

fn slots_of(dir: &Path) -> Slots {
    Slots::open(dir, Path::new(env!("CARGO_BIN_EXE_relais"))).expect("slots")
}

#[test]
fn a_signed_bundle_is_installed_in_the_other_slot_and_marked_good() {
    let fleet = Fleet::new();
    let work = tempfile::tempdir().expect("temp dir");
    let slots = work.path().join("slots");
    let bundle = fleet.bundle("good", Path::new(env!("CARGO_BIN_EXE_relais")), VERSION);

    let verified = run(relais()
        .args(["update", "verify"])
        .arg(&bundle)
        .arg("--key")
        .arg(fleet.public()));
    assert!(verified.status.success(), "verify: {}", stderr(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains("signed, version"));

    let out = install(&bundle, &fleet.public(), &slots, &[]);
    assert!(out.status.success(), "install: {}", stderr(&out));
    let slots = slots_of(&slots);
    assert_eq!(slots.current(), SlotName::B);
    assert_eq!(
        slots.state(SlotName::B).expect("state"),
        SlotState::Good {
            version: VERSION.into()
        }
    );
    // The previous slot stays good: the next update goes there.
    assert!(matches!(
        slots.state(SlotName::A).expect("state"),
        SlotState::Good { .. }
    ));
    let installed = std::fs::read(slots.folder(SlotName::B).join("relais")).expect("binary");
    let original = std::fs::read(env!("CARGO_BIN_EXE_relais")).expect("binary");
    assert!(installed == original, "the installed binary differs");
}

/// Rewrites the tar entry `name` in place: its bytes pass through `change`.
fn tamper(bundle: &Path, out: &Path, name: &str, change: impl Fn(&mut Vec<u8>)) {
    let mut archive = tar::Archive::new(std::fs::File::open(bundle).expect("bundle"));
    let mut builder = tar::Builder::new(std::fs::File::create(out).expect("tampered"));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).expect("read");
        if path == name {
            change(&mut bytes);
        }
        let mut header = entry.header().clone();
        header.set_size(bytes.len() as u64);
        header.set_cksum();
        builder
            .append_data(&mut header, &path, &bytes[..])
            .expect("append");
    }
    builder.finish().expect("finish");
}

#[test]
fn a_tampered_bundle_is_refused_with_what_failed_and_nothing_switches() {
    let fleet = Fleet::new();
    let work = tempfile::tempdir().expect("temp dir");
    let payload = script(work.path(), "payload", &format!("echo relais {VERSION}"));
    let bundle = fleet.bundle("good", &payload, VERSION);
    let key = fleet.public();

    let payload_changed = work.path().join("payload-changed.tar");
    tamper(&bundle, &payload_changed, "relais", |b| b[12] ^= 1);
    assert!(matches!(
        update::verify(&payload_changed, &key),
        Err(UpdateError::HashMismatch { file, .. }) if file == "relais"
    ));

    let manifest_changed = work.path().join("manifest-changed.tar");
    tamper(&bundle, &manifest_changed, "manifest.json", |b| {
        let text = String::from_utf8_lossy(b).replace(VERSION, "9.9.9");
        *b = text.into_bytes();
    });
    assert!(matches!(
        update::verify(&manifest_changed, &key),
        Err(UpdateError::BadSignature { .. })
    ));

    let intruder = Fleet::new();
    let forged = intruder.bundle("forged", &payload, VERSION);
    assert!(matches!(
        update::verify(&forged, &key),
        Err(UpdateError::BadSignature { .. })
    ));

    // Through the command line: refused, named, and the box unchanged.
    let slots = work.path().join("slots");
    for (bundle, says) in [
        (&payload_changed, "payload file relais: sha256"),
        (&manifest_changed, "signature does not verify"),
        (&forged, "signature does not verify"),
    ] {
        let out = install(bundle, &key, &slots, &[]);
        assert!(!out.status.success(), "{} was installed", bundle.display());
        assert!(
            stderr(&out).contains(says),
            "{}: {}",
            bundle.display(),
            stderr(&out)
        );
        let slots = slots_of(&slots);
        assert_eq!(slots.current(), SlotName::A);
        assert_eq!(slots.state(SlotName::B).expect("state"), SlotState::Empty);
        assert!(!slots.folder(SlotName::B).join("relais").exists());
    }
}

#[test]
fn a_version_that_fails_its_health_check_is_rolled_back() {
    let fleet = Fleet::new();
    let work = tempfile::tempdir().expect("temp dir");
    let slots = work.path().join("slots");
    let crashing = script(work.path(), "crashing", "echo 'cannot start' >&2; exit 1");
    let hanging = script(work.path(), "hanging", "exec sleep 600");

    for (name, payload, says) in [
        ("crashing", &crashing, "cannot start"),
        ("hanging", &hanging, "did not answer in time"),
    ] {
        let bundle = fleet.bundle(name, payload, "0.9.0");
        let started = Instant::now();
        let out = install(&bundle, &fleet.public(), &slots, &["--health-timeout", "2"]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name} took too long"
        );
        let slots = slots_of(&slots);
        assert_eq!(slots.current(), SlotName::A, "{name}");
        assert!(matches!(
            slots.state(SlotName::B).expect("state"),
            SlotState::Bad { version, .. } if version == "0.9.0"
        ));
    }
}

#[test]
fn a_switch_cut_before_its_health_check_boots_the_previous_slot() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path().join("slots");
    let slots = slots_of(&dir);
    assert_eq!(slots.current(), SlotName::A);
    // What a power cut right after the switch leaves: B current, pending.
    std::fs::create_dir_all(slots.folder(SlotName::B)).expect("B");
    std::fs::write(
        slots.folder(SlotName::B).join("slot.json"),
        r#"{"state":"pending","version":"0.9.0"}"#,
    )
    .expect("state");
    std::fs::write(dir.join("current"), "B\n").expect("current");

    let slots = slots_of(&dir);
    assert_eq!(slots.current(), SlotName::A);
    assert!(matches!(
        slots.state(SlotName::B).expect("state"),
        SlotState::Bad { .. }
    ));
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(binary: &Path, config: &Path, log: &Path) -> Daemon {
    let log = std::fs::File::create(log).expect("log");
    Daemon(
        Command::new(binary)
            .args(["run", "--config"])
            .arg(config)
            .env("RELAIS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the daemon"),
    )
}

/// Waits until the daemon answers `status` on its control socket.
fn wait_ready(store: &Path, socket: &Path, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Only once the socket is there: without it, `status` opens the
        // store itself and would hold it while the daemon starts.
        if socket.exists() {
            let out = run(relais()
                .args(["status", "--json", "--store"])
                .arg(store)
                .arg("--socket")
                .arg(socket));
            if out.status.success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never answered; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn documents(store: &Path) -> Vec<Doc> {
    let store = Store::open(store).expect("open the store");
    let mut docs = Vec::new();
    store
        .for_each_doc(|meta| docs.push(meta))
        .expect("list documents");
    docs.into_iter()
        .map(|meta| {
            let body = store.body(meta.id).expect("body");
            (meta.id, meta.external_id, format!("{:?}", meta.state), body)
        })
        .collect()
}

type Doc = (u64, String, String, Vec<u8>);

fn ids(docs: &[Doc]) -> Vec<(u64, String, Vec<u8>)> {
    docs.iter()
        .map(|(id, ext, _, body)| (*id, ext.clone(), body.clone()))
        .collect()
}

#[test]
fn an_update_drains_the_daemon_and_keeps_every_document() {
    let fleet = Fleet::new();
    let work = tempfile::tempdir().expect("temp dir");
    let store = work.path().join("relais.redb");
    let erp = work.path().join("erp");
    std::fs::create_dir_all(&erp).expect("erp folder");
    {
        let store = Store::open(&store).expect("store");
        let tickets = (1..=50)
            .map(|n| Intake {
                kind: Kind::Ticket,
                external_id: format!("T-{n:04}"),
                revision: "1".into(),
                day: jiff::civil::date(2026, 12, 2),
                amount: Default::default(),
                body: format!("{{\"ticket\":{n}}}").into_bytes(),
                parent: None,
            })
            .collect();
        store.intake(tickets).expect("intake");
    }
    let config = work.path().join("relais.toml");
    let socket = work.path().join("relais.sock");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"{}\"\nsocket = \"{}\"\n[site]\ntime_zone = \"Europe/Paris\"\n\
             clients = \"{}\"\n[erp]\nfolder = \"{}\"\n",
            store.display(),
            socket.display(),
            erp.join("clients.csv").display(),
            erp.display()
        ),
    )
    .expect("config");

    let before = documents(&store);
    let mut daemon = start_daemon(
        Path::new(env!("CARGO_BIN_EXE_relais")),
        &config,
        &work.path().join("before.log"),
    );
    wait_ready(&store, &socket, &work.path().join("before.log"));

    let slots = work.path().join("slots");
    let bundle = fleet.bundle("good", Path::new(env!("CARGO_BIN_EXE_relais")), VERSION);
    let pid = daemon.0.id().to_string();
    let store_arg = store.to_string_lossy().into_owned();
    let out = install(
        &bundle,
        &fleet.public(),
        &slots,
        &["--drain-pid", &pid, "--store", &store_arg],
    );
    assert!(out.status.success(), "install: {}", stderr(&out));
    let status = daemon.0.wait().expect("the daemon stopped");
    assert!(
        status.success(),
        "the daemon did not drain cleanly: {status}"
    );
    // Their states moved on (the daemon decided them); ids and bytes did not.
    let after_update = documents(&store);
    assert_eq!(ids(&after_update), ids(&before));

    // The new slot's daemon opens the same store and finds it whole.
    let new_binary = slots_of(&slots).folder(SlotName::B).join("relais");
    let daemon = start_daemon(&new_binary, &config, &work.path().join("after.log"));
    wait_ready(&store, &socket, &work.path().join("after.log"));
    drop(daemon);
    let after_restart = documents(&store);
    assert_eq!(ids(&after_restart), ids(&before));
    assert_eq!(before.len(), 50);
}
