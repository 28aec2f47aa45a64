//! `relais update ...`: the command line of this module, kept here so the
//! binary only forwards to it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::health::{Drain, HealthCheck};
use super::{manifest, Installed, SlotName, Slots};

/// Signed update bundles and the A/B slots.
#[derive(Debug, clap::Subcommand)]
pub enum UpdateAction {
    /// Check a bundle's signature and every file's hash, install nothing.
    Verify {
        /// The bundle (tar).
        bundle: PathBuf,
        /// The fleet's public update key (base64 of 32 bytes).
        #[arg(long, default_value = "/etc/relais/update.pub")]
        key: PathBuf,
    },
    /// Install a bundle into the inactive slot, switch, and keep it only if
    /// its health check passes; otherwise roll back to the previous slot.
    Install {
        /// The bundle (tar).
        bundle: PathBuf,
        /// The fleet's public update key (base64 of 32 bytes).
        #[arg(long, default_value = "/etc/relais/update.pub")]
        key: PathBuf,
        /// The slots folder (A/, B/, current).
        #[arg(long)]
        slots: PathBuf,
        /// The store the new version must read before it is marked good.
        #[arg(long)]
        store: Option<PathBuf>,
        /// Stop this running daemon (SIGTERM: it drains) before the switch.
        #[arg(long)]
        drain_pid: Option<i32>,
        /// Seconds the new version gets to pass its health check.
        #[arg(long, default_value_t = 30)]
        health_timeout: u64,
    },
    /// Each slot's state and which one is current.
    Status {
        /// The slots folder.
        #[arg(long)]
        slots: PathBuf,
    },
    /// Fleet side: make a new update key pair.
    Keygen {
        /// The private key (written readable by its owner only; keep it off the boxes).
        #[arg(long)]
        private: PathBuf,
        /// The public key, for the image's /etc/relais/update.pub.
        #[arg(long)]
        public: PathBuf,
    },
    /// Fleet side: make and sign a bundle.
    Pack {
        /// The private update key.
        #[arg(long)]
        key: PathBuf,
        /// The version inside, as its `relais --version` prints it.
        #[arg(long)]
        version: String,
        /// The bundle to write.
        #[arg(long)]
        out: PathBuf,
        /// The payload files; one must be named `relais`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs one `relais update` action.
pub fn run(action: UpdateAction) -> anyhow::Result<ExitCode> {
    match action {
        UpdateAction::Verify { bundle, key } => {
            let manifest = super::verify(&bundle, &key)?;
            println!("{}: signed, version {}", bundle.display(), manifest.version);
            for file in &manifest.files {
                println!("  {} {} bytes sha256 {}", file.name, file.size, file.sha256);
            }
        }
        UpdateAction::Install {
            bundle,
            key,
            slots,
            store,
            drain_pid,
            health_timeout,
        } => {
            let health = HealthCheck {
                timeout: Duration::from_secs(health_timeout),
                store,
            };
            let drain = drain_pid.map(|pid| Drain {
                pid,
                timeout: Duration::from_secs(45),
            });
            return Ok(report(super::install(
                &slots,
                &bundle,
                &key,
                &health,
                drain.as_ref(),
            )?));
        }
        UpdateAction::Status { slots } => {
            let seed = std::env::current_exe()?;
            let slots = Slots::open(&slots, &seed)?;
            for slot in [SlotName::A, SlotName::B] {
                let mark = if slot == slots.current() { "*" } else { " " };
                println!(
                    "{mark} {slot}: {}",
                    serde_json::to_string(&slots.state(slot)?)?
                );
            }
        }
        UpdateAction::Keygen { private, public } => {
            manifest::write_key_pair(&private, &public)?;
            println!(
                "private key {}, public key {}",
                private.display(),
                public.display()
            );
        }
        UpdateAction::Pack {
            key,
            version,
            out,
            files,
        } => {
            let pair = manifest::read_private_key(&key)?;
            let manifest = super::pack(&out, &version, &files, &pair)?;
            println!(
                "{}: version {}, {} files",
                out.display(),
                manifest.version,
                manifest.files.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(installed: Installed) -> ExitCode {
    match installed {
        Installed::Switched { from, to, version } => {
            println!("installed {version} in slot {to} (was {from}); marked good");
            ExitCode::SUCCESS
        }
        Installed::RolledBack {
            to,
            bad,
            version,
            reason,
        } => {
            eprintln!(
                "relais: {version} failed its health check in slot {bad}: {reason}; \
                 rolled back to slot {to}"
            );
            ExitCode::from(3)
        }
    }
}
