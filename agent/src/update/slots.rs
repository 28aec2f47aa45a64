//! The A/B slots, emulated in a folder:
//!
//! ```text
//! SLOTS/current        "A" or "B": the slot that boots (RAUC's primary)
//! SLOTS/A/slot.json    the slot's state: empty, pending, good or bad
//! SLOTS/A/relais       its payload
//! SLOTS/B/...
//! ```
//!
//! Every marker is written atomically (temporary name, fsync, rename, fsync
//! of the folder), so a power cut at any step leaves either the old or the
//! new marker. The order of the steps makes every crash safe:
//!
//! | crash after | left behind | next open |
//! |---|---|---|
//! | target marked empty, payload half written | `current` on the old good slot | update again |
//! | target marked pending | same | update again |
//! | `current` switched, health not yet known | `current` on a pending slot | rolled back: an unconfirmed boot counts as failed |
//! | target marked good | the update is done | nothing to do |

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::health::{self, Drain, HealthCheck};
use super::manifest::BINARY;
use super::{io_at, write_atomic, UpdateError};

/// One of the two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotName {
    /// The first slot (RAUC `rootfs.0`, boot name A).
    A,
    /// The second slot (RAUC `rootfs.1`, boot name B).
    B,
}

impl SlotName {
    /// The slot that is not this one.
    pub fn other(self) -> SlotName {
        match self {
            SlotName::A => SlotName::B,
            SlotName::B => SlotName::A,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SlotName::A => "A",
            SlotName::B => "B",
        }
    }
}

impl std::fmt::Display for SlotName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a slot holds, as its `slot.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SlotState {
    /// Nothing usable (never written, or being written).
    Empty,
    /// Written and verified, not yet booted healthy.
    Pending {
        /// The version inside.
        version: String,
    },
    /// Booted and passed its health check.
    Good {
        /// The version inside.
        version: String,
    },
    /// Failed its health check; never booted again until rewritten.
    Bad {
        /// The version inside.
        version: String,
        /// Why it was marked bad.
        reason: String,
    },
}

/// The slots folder.
#[derive(Debug)]
pub struct Slots {
    dir: PathBuf,
    current: SlotName,
}

impl Slots {
    /// Opens the slots folder, making it on first use with slot A holding
    /// `seed` (the running binary) as good. A `current` slot still pending
    /// is a boot that was never confirmed: it is rolled back here.
    pub fn open(dir: &Path, seed: &Path) -> Result<Slots, UpdateError> {
        let marker = dir.join("current");
        if !marker.exists() {
            seed_slot_a(dir, seed)?;
        }
        let text = std::fs::read_to_string(&marker).map_err(io_at("read", &marker))?;
        let current = match text.trim() {
            "A" => SlotName::A,
            "B" => SlotName::B,
            other => {
                return Err(UpdateError::Slots {
                    path: dir.to_path_buf(),
                    reason: format!("`current` says {other:?}, expected A or B"),
                })
            }
        };
        let mut slots = Slots {
            dir: dir.to_path_buf(),
            current,
        };
        if let SlotState::Pending { version } = slots.state(current)? {
            tracing::warn!(
                slot = %current,
                %version,
                "booted slot never confirmed healthy: rolling back"
            );
            slots.set_state(
                current,
                &SlotState::Bad {
                    version,
                    reason: "the update stopped before its health check passed".into(),
                },
            )?;
            slots.switch(current.other())?;
        }
        Ok(slots)
    }

    /// The slot that boots.
    pub fn current(&self) -> SlotName {
        self.current
    }

    /// A slot's folder.
    pub fn folder(&self, slot: SlotName) -> PathBuf {
        self.dir.join(slot.as_str())
    }

    /// A slot's state; a slot never written is empty.
    pub fn state(&self, slot: SlotName) -> Result<SlotState, UpdateError> {
        let path = self.folder(slot).join("slot.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| UpdateError::Slots {
                path: path.clone(),
                reason: format!("unreadable slot state: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SlotState::Empty),
            Err(e) => Err(io_at("read", &path)(e)),
        }
    }

    fn set_state(&self, slot: SlotName, state: &SlotState) -> Result<(), UpdateError> {
        let path = self.folder(slot).join("slot.json");
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| UpdateError::Slots {
            path: path.clone(),
            reason: format!("cannot write the state: {e}"),
        })?;
        write_atomic(&path, &bytes)
    }

    /// Points `current` at a slot: the emulated reboot into it.
    fn switch(&mut self, slot: SlotName) -> Result<(), UpdateError> {
        write_atomic(&self.dir.join("current"), format!("{slot}\n").as_bytes())?;
        self.current = slot;
        Ok(())
    }

    /// Empties a slot's folder, marking it empty first.
    fn clear(&self, slot: SlotName) -> Result<(), UpdateError> {
        let folder = self.folder(slot);
        std::fs::create_dir_all(&folder).map_err(io_at("create", &folder))?;
        self.set_state(slot, &SlotState::Empty)?;
        let listing = std::fs::read_dir(&folder).map_err(io_at("list", &folder))?;
        for entry in listing {
            let entry = entry.map_err(io_at("list", &folder))?;
            if entry.file_name() != "slot.json" {
                std::fs::remove_file(entry.path()).map_err(io_at("remove", &entry.path()))?;
            }
        }
        Ok(())
    }
}

fn seed_slot_a(dir: &Path, seed: &Path) -> Result<(), UpdateError> {
    let folder = dir.join("A");
    std::fs::create_dir_all(&folder).map_err(io_at("create", &folder))?;
    let bytes = std::fs::read(seed).map_err(io_at("read", seed))?;
    write_atomic(&folder.join(BINARY), &bytes)?;
    set_executable(&folder.join(BINARY))?;
    let state = SlotState::Good {
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let json = serde_json::to_vec_pretty(&state).unwrap_or_default();
    write_atomic(&folder.join("slot.json"), &json)?;
    write_atomic(&dir.join("current"), b"A\n")
}

fn set_executable(path: &Path) -> Result<(), UpdateError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(io_at("chmod", path))
}

/// How an install ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Installed {
    /// The new slot boots and is healthy.
    Switched {
        /// The slot left.
        from: SlotName,
        /// The slot now current, marked good.
        to: SlotName,
        /// Its version.
        version: String,
    },
    /// The new slot failed its health check; the previous one is current again.
    RolledBack {
        /// The slot current again.
        to: SlotName,
        /// The slot marked bad.
        bad: SlotName,
        /// The version refused.
        version: String,
        /// What the health check found.
        reason: String,
    },
}

/// Installs a bundle: verify into the inactive slot, mark it pending,
/// drain the daemon, switch, check health, then mark good or roll back.
/// A bundle that does not verify changes nothing but the inactive slot,
/// which it leaves empty.
pub fn install(
    dir: &Path,
    bundle: &Path,
    key: &Path,
    health: &HealthCheck,
    drain: Option<&Drain>,
) -> Result<Installed, UpdateError> {
    let seed = std::env::current_exe().map_err(io_at("find", Path::new("current_exe")))?;
    let mut slots = Slots::open(dir, &seed)?;
    let from = slots.current();
    let to = from.other();

    slots.clear(to)?;
    let manifest = super::bundle::verify_into(bundle, key, Some(&slots.folder(to)))?;
    let binary = slots.folder(to).join(BINARY);
    set_executable(&binary)?;
    let version = manifest.version.clone();
    slots.set_state(
        to,
        &SlotState::Pending {
            version: version.clone(),
        },
    )?;
    tracing::info!(slot = %to, %version, "update written, pending");

    if let Some(drain) = drain {
        health::drain(drain)?;
    }
    slots.switch(to)?;
    match health.run(&binary, &version) {
        Ok(()) => {
            slots.set_state(
                to,
                &SlotState::Good {
                    version: version.clone(),
                },
            )?;
            tracing::info!(slot = %to, %version, "update healthy, marked good");
            Ok(Installed::Switched { from, to, version })
        }
        Err(reason) => {
            tracing::warn!(
                slot = %to,
                %version,
                %reason,
                "update failed its health check: rolling back"
            );
            slots.set_state(
                to,
                &SlotState::Bad {
                    version: version.clone(),
                    reason: reason.clone(),
                },
            )?;
            slots.switch(from)?;
            Ok(Installed::RolledBack {
                to: from,
                bad: to,
                version,
                reason,
            })
        }
    }
}
