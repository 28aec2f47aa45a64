//! Remote commands from the fleet, on `<root>/<box>/commands`.
//!
//! A command is a closed set of actions (never shell text), sent as an
//! envelope: `{"payload": "<JSON text>", "signature": "<base64>"}`. The
//! signature is Ed25519 over the payload's exact bytes, by the fleet's key;
//! the box holds only the public half (`fleet.command_key`). A command that
//! does not verify is refused and logged, and nothing runs. The payload
//! carries a correlation id, the time it was issued (commands older than a
//! day are refused, so an old captured command cannot be replayed later)
//! and the topic to answer on.
//!
//! Commands are idempotent: the answer to each id is kept in the store, and
//! a command delivered twice (QoS 1 after a reconnect) gets the same answer
//! again without running twice.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use ring::signature::{UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::ops::{self, Answer, Request};
use crate::store::Store;

/// Commands older than this are refused.
pub const MAX_AGE: SignedDuration = SignedDuration::from_hours(24);

/// What travels on the command topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The command, as JSON text: exactly the signed bytes.
    pub payload: String,
    /// Ed25519 signature of `payload`, base64.
    pub signature: String,
}

/// A signed command's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Correlation id, echoed in the answer; unique per command.
    pub id: String,
    /// The box it is meant for (a command for another box is refused).
    pub box_id: String,
    /// When the fleet issued it.
    pub issued_at: Timestamp,
    /// Where to answer.
    pub reply_to: String,
    /// What to do.
    pub action: Action,
}

/// The actions a fleet may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `relais status`
    Status,
    /// `relais trace <id>`
    Trace {
        /// Store id or source id.
        id: String,
    },
    /// `relais quarantine release <id>` (or all with `id: null`).
    Release {
        /// Store id or source id.
        id: Option<String>,
    },
    /// Pull a day again from the shop: the order cursor goes back to the
    /// start of that local day (orders already held are dedup no-ops).
    Repull {
        /// The local day, `YYYY-MM-DD`.
        day: jiff::civil::Date,
    },
}

/// The box's answer, on `reply_to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    /// The command's id.
    pub id: String,
    /// The box answering.
    pub box_id: String,
    /// The answer, or why the command was refused.
    pub answer: Answer,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not an envelope.
    #[error("not a command envelope: {0}")]
    Unreadable(String),
    /// The signature does not verify against the fleet key.
    #[error("the signature does not verify against the fleet key")]
    BadSignature,
    /// Signed, but the payload is not a command.
    #[error("signed payload is not a command: {0}")]
    BadPayload(String),
    /// Meant for another box.
    #[error("meant for box {0}")]
    OtherBox(String),
    /// Too old (or from the future beyond clock skew).
    #[error("issued at {0}, outside the accepted window")]
    Stale(Timestamp),
}

/// Checks an envelope: signature first, then content. Pure: no store, no
/// clock but `now`.
pub fn verify(
    bytes: &[u8],
    fleet_key: &[u8],
    box_id: &str,
    now: Timestamp,
) -> Result<Command, Refused> {
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| Refused::Unreadable(e.to_string()))?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(envelope.signature.trim())
        .map_err(|_| Refused::BadSignature)?;
    UnparsedPublicKey::new(&ED25519, fleet_key)
        .verify(envelope.payload.as_bytes(), &signature)
        .map_err(|_| Refused::BadSignature)?;
    let command: Command =
        serde_json::from_str(&envelope.payload).map_err(|e| Refused::BadPayload(e.to_string()))?;
    if command.box_id != box_id {
        return Err(Refused::OtherBox(command.box_id));
    }
    let skew = SignedDuration::from_mins(5);
    if command.issued_at < now - MAX_AGE || command.issued_at > now + skew {
        return Err(Refused::Stale(command.issued_at));
    }
    Ok(command)
}

/// Signs a command (the fleet side; tests and the fleet tool use it).
pub fn sign(command: &Command, key: &ring::signature::Ed25519KeyPair) -> Envelope {
    let payload = serde_json::to_string(command).unwrap_or_default();
    let signature = key.sign(payload.as_bytes());
    Envelope {
        payload,
        signature: base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
    }
}

/// Cursor prefix under which each command's answer is kept.
const ANSWERED: &str = "fleet.command.";

/// Runs a verified command once; a repeat gets the kept answer.
pub fn execute(store: &Store, command: &Command, tz: &jiff::tz::TimeZone) -> Answer {
    let key = format!("{ANSWERED}{}", command.id);
    if let Ok(Some(kept)) = store.cursor(&key) {
        if let Ok(answer) = serde_json::from_str(&kept) {
            return answer;
        }
    }
    let answer = match &command.action {
        Action::Status => ops::execute(store, &Request::Status),
        Action::Trace { id } => ops::execute(store, &Request::Trace { id: id.clone() }),
        Action::Release { id } => ops::execute(store, &Request::Release { id: id.clone() }),
        Action::Repull { day } => repull(store, *day, tz),
    };
    // Status and traces are answers of the moment; only what changes the
    // box must never run twice, but keeping every answer is simpler and
    // small.
    if let Ok(text) = serde_json::to_string(&answer) {
        if let Err(e) = store.set_cursor(&key, &text) {
            tracing::warn!(error = %e, "cannot keep a command's answer");
        }
    }
    answer
}

fn repull(store: &Store, day: jiff::civil::Date, tz: &jiff::tz::TimeZone) -> Answer {
    let start = crate::schedule::instant(day, jiff::civil::Time::midnight(), tz);
    let cursor = crate::shop::pull::CURSOR;
    let current = store
        .cursor(cursor)
        .ok()
        .flatten()
        .and_then(|c| c.parse::<Timestamp>().ok());
    // Only ever back: a repull never skips orders not yet pulled.
    let target = current.map_or(start, |c| c.min(start));
    match store.set_cursor(cursor, &target.to_string()) {
        Ok(()) => Answer::Released(vec![format!("orders will be pulled again from {target}")]),
        Err(e) => Answer::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair;

    fn key() -> ring::signature::Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
        ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
    }

    fn command(now: Timestamp) -> Command {
        Command {
            id: "c-1".into(),
            box_id: "box-a".into(),
            issued_at: now,
            reply_to: "fleet/box-a/replies".into(),
            action: Action::Release {
                id: Some("383000".into()),
            },
        }
    }

    #[test]
    fn a_signed_command_verifies_and_a_tampered_one_does_not() {
        let fleet = key();
        let public = fleet.public_key().as_ref().to_vec();
        let now = Timestamp::now();
        let envelope = sign(&command(now), &fleet);
        let bytes = serde_json::to_vec(&envelope).expect("json");
        assert_eq!(
            verify(&bytes, &public, "box-a", now).expect("verifies"),
            command(now)
        );

        let mut tampered = envelope.clone();
        tampered.payload = tampered.payload.replace("383000", "383001");
        let bytes = serde_json::to_vec(&tampered).expect("json");
        assert_eq!(
            verify(&bytes, &public, "box-a", now),
            Err(Refused::BadSignature)
        );

        let intruder = key();
        let forged = serde_json::to_vec(&sign(&command(now), &intruder)).expect("json");
        assert_eq!(
            verify(&forged, &public, "box-a", now),
            Err(Refused::BadSignature)
        );
    }

    #[test]
    fn commands_for_another_box_or_too_old_are_refused() {
        let fleet = key();
        let public = fleet.public_key().as_ref().to_vec();
        let now = Timestamp::now();
        let bytes = serde_json::to_vec(&sign(&command(now), &fleet)).expect("json");
        assert_eq!(
            verify(&bytes, &public, "box-b", now),
            Err(Refused::OtherBox("box-a".into()))
        );
        let later = now + SignedDuration::from_hours(25);
        assert_eq!(
            verify(&bytes, &public, "box-a", later),
            Err(Refused::Stale(now))
        );
        assert!(matches!(
            verify(b"rm -rf /", &public, "box-a", now),
            Err(Refused::Unreadable(_))
        ));
    }

    #[test]
    fn a_command_delivered_twice_runs_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("s.redb")).expect("store");
        let tz = jiff::tz::TimeZone::UTC;
        let mut c = command(Timestamp::now());
        c.action = Action::Repull {
            day: jiff::civil::date(2026, 12, 2),
        };
        let first = serde_json::to_string(&execute(&store, &c, &tz)).expect("json");
        // The cursor moved; set it elsewhere and deliver the same command.
        store
            .set_cursor(crate::shop::pull::CURSOR, "2026-12-03T00:00:00Z")
            .expect("cursor");
        let again = serde_json::to_string(&execute(&store, &c, &tz)).expect("json");
        assert_eq!(first, again);
        assert_eq!(
            store
                .cursor(crate::shop::pull::CURSOR)
                .expect("cursor")
                .as_deref(),
            Some("2026-12-03T00:00:00Z"),
            "not run a second time"
        );
    }
}
