//! What the tests that run the real daemon share: the sample day, the
//! daemon as a child process, and the operator's commands.

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A file of the sample market day copied into the repository.
pub fn sample(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/day-2026-12-02")
        .join(rel)
}

/// `relais run --config` in a child process, its log in a file; killed if
/// the test ends without stopping it.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts the daemon with `filter` as its log filter.
    pub fn start(config: &Path, log: PathBuf, filter: &str) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_relais"))
            .args(["run", "--config"])
            .arg(config)
            .env("RELAIS_LOG", filter)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("daemon log file"))
            .spawn()
            .expect("start the daemon");
        Daemon { child, log }
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An operator's command on the store (through the daemon when it runs).
pub fn relais(args: &[&str], store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relais"))
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .expect("run relais")
}

/// Documents in the state labelled `label` in `relais status --json`.
pub fn state_count(status: &serde_json::Value, label: &str) -> u64 {
    status["states"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s[0] == label)
        .and_then(|s| s[1].as_u64())
        .unwrap_or(0)
}

/// Writes, under `work`, what the daemon needs to reach the sandbox shop:
/// its CA (`shop-ca.pem`) and the API credentials, readable by the owner
/// only (`shop-credentials.toml`). Returns both paths.
pub fn shop_files(work: &Path, shop: &sandbox_shop::RunningShop) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let ca = work.join("shop-ca.pem");
    std::fs::write(&ca, shop.ca_cert_pem()).expect("ca");
    let creds = work.join("shop-credentials.toml");
    std::fs::write(
        &creds,
        format!(
            "key = \"{}\"\nsecret = \"{}\"\n",
            sandbox_shop::DEFAULT_CONSUMER_KEY,
            sandbox_shop::DEFAULT_CONSUMER_SECRET
        ),
    )
    .expect("credentials");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    (ca, creds)
}
