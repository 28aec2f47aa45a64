//! The POS ticket protocol over MQTT.
//!
//! - A register publishes each ticket, QoS 1, on `<root>/pos/<register>/ticket`
//!   (`<root>` is `relais` by default)
//!   (payload: the ticket JSON, see [`crate::ticket::Ticket`]).
//! - Relais acknowledges at two levels. The MQTT PUBACK is sent only after
//!   the ticket is durably stored, so a broker or register that never saw it
//!   redelivers. Then Relais publishes an [`Ack`], QoS 1, on
//!   `<root>/pos/<register>/ack`, which says what became of the ticket.
//! - Redelivery is expected (QoS 1 is at least once): the ticket number is
//!   the dedup key, and a ticket sent twice is stored once and acknowledged
//!   as `duplicate`.

use serde::{Deserialize, Serialize};

/// The topic tree of one site. The root is `relais` unless a site (or a
/// test sharing a broker) sets its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    root: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            root: "relais".to_string(),
        }
    }
}

impl Topics {
    /// A topic tree under `root` (no trailing slash, no wildcard).
    pub fn new(root: &str) -> Topics {
        Topics {
            root: root.trim_end_matches('/').to_string(),
        }
    }

    /// Filter Relais subscribes to for every register's tickets.
    pub fn ticket_filter(&self) -> String {
        format!("{}/pos/+/ticket", self.root)
    }

    /// Filter a register simulator subscribes to for acknowledgements.
    pub fn ack_filter(&self) -> String {
        format!("{}/pos/+/ack", self.root)
    }

    /// Topic a register publishes its tickets on.
    pub fn ticket(&self, register: &str) -> String {
        format!("{}/pos/{register}/ticket", self.root)
    }

    /// Topic Relais publishes a register's acknowledgements on.
    pub fn ack(&self, register: &str) -> String {
        format!("{}/pos/{register}/ack", self.root)
    }

    /// Filter Relais subscribes to for resynchronisation requests.
    pub fn resync_filter(&self) -> String {
        format!("{}/pos/+/resync", self.root)
    }

    /// Topic a register asks on: which of my tickets since a time are held?
    pub fn resync(&self, register: &str) -> String {
        format!("{}/pos/{register}/resync", self.root)
    }

    /// Topic Relais answers a register's resynchronisation request on.
    pub fn resync_answer(&self, register: &str) -> String {
        format!("{}/pos/{register}/resync/answer", self.root)
    }

    /// The register named in a resynchronisation request topic.
    pub fn resync_register<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let rest = topic
            .strip_prefix(self.root.as_str())?
            .strip_prefix("/pos/")?;
        let register = rest.strip_suffix("/resync")?;
        (!register.is_empty() && !register.contains('/')).then_some(register)
    }

    /// The register named in a ticket topic, if the topic is one.
    pub fn register_of<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let rest = topic
            .strip_prefix(self.root.as_str())?
            .strip_prefix("/pos/")?;
        let register = rest.strip_suffix("/ticket")?;
        (!register.is_empty() && !register.contains('/')).then_some(register)
    }
}

/// A register's question after it lost its session (a broker that lost
/// its state, a register restored from a backup): which of my tickets
/// since `since` does Relais hold? It then sends again only the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncRequest {
    /// Echoed in the answer.
    pub request: String,
    /// Tickets whose own time (`at`) is at or after this instant.
    pub since: jiff::Timestamp,
}

/// Relais's answer to a [`ResyncRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncAnswer {
    /// The request's id.
    pub request: String,
    /// The request's `since`.
    pub since: jiff::Timestamp,
    /// Numbers of this register's tickets held since then, sorted.
    pub held: Vec<String>,
}

/// What became of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckStatus {
    /// Stored for the first time.
    Stored,
    /// Already stored before: nothing changed.
    Duplicate,
    /// Stored, but held for a person: the reason says why.
    Quarantined,
}

/// The acknowledgement Relais publishes for each ticket received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Ticket number (or the payload's hash when it had none).
    pub ticket: String,
    /// Outcome.
    pub status: AckStatus,
    /// Why it was quarantined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_is_read_from_its_topic() {
        let t = Topics::default();
        assert_eq!(
            t.register_of("relais/pos/CAISSE-2/ticket"),
            Some("CAISSE-2")
        );
        assert_eq!(t.register_of("relais/pos//ticket"), None);
        assert_eq!(t.register_of("relais/pos/a/b/ticket"), None);
        assert_eq!(t.register_of(&t.ticket("CAISSE-1")), Some("CAISSE-1"));
        let other = Topics::new("site-42/");
        assert_eq!(other.register_of(&other.ticket("C")), Some("C"));
        assert_eq!(other.register_of(&t.ticket("C")), None);
    }
}
