//! The standalone bridge for a POS PC that can only export files: it watches
//! a folder of ticket files (JSON lines, one ticket per line, the registers'
//! own payload) and publishes each ticket to Relais over MQTT.
//!
//! A file goes to `done/` only once Relais has acknowledged every ticket in
//! it, and Relais acknowledges only what it has stored. A crash or a lost
//! connection at any point leaves the file in the folder, and it is sent
//! again: Relais stores a ticket once by its number and acknowledges the
//! copy as a duplicate, so resending is always safe.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rumqttc::MqttOptions;

use crate::protocol::{AckStatus, Topics};
use crate::register::{publish_and_confirm, OutgoingTicket};
use crate::spool::{SpoolConfig, SpoolError, SpoolFile, SpoolWatcher};
use crate::ticket::{Ticket, TicketError};

/// Where the bridge reads and where it publishes.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The folder of ticket files and how it is watched.
    pub spool: SpoolConfig,
    /// The broker and this bridge's MQTT identity.
    pub mqtt: MqttOptions,
    /// The site's topic tree.
    pub topics: Topics,
    /// How long to wait for Relais to acknowledge a file's tickets.
    pub ack_timeout: Duration,
    /// How long before a file that could not be sent is tried again.
    pub retry_after: Duration,
    /// Files larger than this are rejected (the file is kept in `rejected/`).
    pub max_file_bytes: u64,
}

/// One bad line of a ticket file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line.
    pub line: usize,
    /// What is wrong with the ticket.
    pub error: TicketError,
}

/// Why a ticket file cannot be sent (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketFileError {
    /// The last line has no line end and is not a whole ticket: the POS is
    /// still writing the file.
    StillBeingWritten {
        /// The unfinished line.
        line: usize,
    },
    /// Lines that are not valid tickets; nothing of the file is sent, so
    /// the file can be fixed and dropped again as a whole.
    BadLines(Vec<BadLine>),
}

impl fmt::Display for TicketFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketFileError::StillBeingWritten { line } => write!(
                f,
                "line {line}: incomplete last line, the file is still being written"
            ),
            TicketFileError::BadLines(lines) => {
                for (i, bad) in lines.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "\n" };
                    write!(f, "{sep}line {}: {}", bad.line, bad.error)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for TicketFileError {}

/// Reads a ticket file: every non-blank line must be a valid ticket. Each
/// ticket is sent as the POS wrote it (its JSON text), not re-serialised.
pub fn read_ticket_file(bytes: &[u8]) -> Result<Vec<OutgoingTicket>, TicketFileError> {
    let ends_whole = bytes.is_empty() || bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.len();
    let mut tickets = Vec::new();
    let mut bad = Vec::new();
    for (index, raw) in lines.into_iter().enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match Ticket::parse(raw) {
            Ok(ticket) => tickets.push(OutgoingTicket {
                ticket: ticket.ticket,
                register: ticket.register,
                payload: raw.to_vec(),
            }),
            Err(_) if index + 1 == last && !ends_whole => {
                return Err(TicketFileError::StillBeingWritten { line: index + 1 });
            }
            Err(error) => bad.push(BadLine {
                line: index + 1,
                error,
            }),
        }
    }
    if bad.is_empty() {
        Ok(tickets)
    } else {
        Err(TicketFileError::BadLines(bad))
    }
}

/// A failure that stops the bridge: the spool folder itself is unusable.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The folder could not be watched, listed or filed into.
    #[error("spool folder: {0}")]
    Spool(#[from] SpoolError),
}

/// Runs the bridge until `shutdown` completes. A file being sent when
/// shutdown comes is finished first, so nothing is left half-handled.
pub async fn run(
    config: BridgeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BridgeError> {
    let mut spool = SpoolWatcher::open(config.spool.clone())?;
    let folder = config.spool.inbox.display().to_string();
    tracing::info!(%folder, mode = ?spool.mode(), "pos-bridge watching");
    tokio::pin!(shutdown);
    loop {
        let file = tokio::select! {
            file = spool.next_file() => file?,
            () = &mut shutdown => return Ok(()),
        };
        handle_file(&mut spool, file, &config).await?;
    }
}

/// Sends one file's tickets and files it by the outcome.
async fn handle_file(
    spool: &mut SpoolWatcher,
    file: SpoolFile,
    config: &BridgeConfig,
) -> Result<(), BridgeError> {
    if file.size > config.max_file_bytes {
        let reason = format!(
            "the file is {} bytes, over the limit of {} bytes",
            file.size, config.max_file_bytes
        );
        spool.reject(file, &reason)?;
        return Ok(());
    }
    let bytes = match tokio::fs::read(&file.path).await {
        Ok(bytes) => bytes,
        Err(e) => {
            spool.reject(file, &format!("cannot read the file: {e}"))?;
            return Ok(());
        }
    };
    let tickets = match read_ticket_file(&bytes) {
        Ok(tickets) => tickets,
        Err(e @ TicketFileError::StillBeingWritten { .. }) => {
            tracing::debug!(file = %file.name, reason = %e, "waiting for the writer");
            spool.retry_later(file, config.spool.settle);
            return Ok(());
        }
        Err(e) => {
            spool.reject(file, &e.to_string())?;
            return Ok(());
        }
    };
    let count = tickets.len();
    match publish_and_confirm(
        config.mqtt.clone(),
        &config.topics,
        tickets,
        config.ack_timeout,
    )
    .await
    {
        Ok(acks) => {
            let duplicates = acks
                .values()
                .filter(|a| a.status == AckStatus::Duplicate)
                .count();
            let quarantined = acks
                .values()
                .filter(|a| a.status == AckStatus::Quarantined)
                .count();
            tracing::info!(file = %file.name, tickets = count, duplicates, quarantined,
                "every ticket acknowledged by Relais");
            spool.done(file, jiff::Zoned::now().date())?;
        }
        Err(e) => {
            tracing::warn!(
                file = %file.name,
                error = %e,
                "tickets not all acknowledged, will resend"
            );
            spool.retry_later(file, config.retry_after);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET: &str = r#"{"ticket": "T1", "register": "CAISSE-1", "at": "2026-12-02T04:14:50Z", "customer": "C1", "lines": [{"sku": "A", "label": "a", "qty": 1, "unit_price_ht": "9.85", "vat_rate": "5.5"}], "payments": [{"method": "CB", "amount": "10.39"}]}"#;

    #[test]
    fn each_line_is_a_ticket_sent_as_written() {
        let text = format!("{TICKET}\r\n\n{}\n", TICKET.replace("T1", "T2"));
        let tickets = read_ticket_file(text.as_bytes()).expect("tickets");
        assert_eq!(tickets.len(), 2);
        assert_eq!(tickets[1].ticket, "T2");
        assert_eq!(tickets[0].payload, TICKET.as_bytes());
    }

    #[test]
    fn a_last_line_cut_short_waits_for_the_writer() {
        let text = format!("{TICKET}\n{}", &TICKET[..40]);
        let err = read_ticket_file(text.as_bytes()).expect_err("unfinished");
        assert_eq!(err, TicketFileError::StillBeingWritten { line: 2 });
        let whole = format!("{TICKET}\n{TICKET}");
        assert_eq!(read_ticket_file(whole.as_bytes()).map(|t| t.len()), Ok(2));
    }

    #[test]
    fn bad_lines_are_all_named_and_nothing_is_sent() {
        let bad = TICKET.replace("10.39", "10.00");
        let text = format!("{TICKET}\nnot json\n{bad}\n");
        let err = read_ticket_file(text.as_bytes()).expect_err("bad");
        let message = err.to_string();
        assert!(
            message.starts_with("line 2: ticket payload is not valid"),
            "{message}"
        );
        assert!(
            message.contains("\nline 3: ticket T1: field payments"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_line_names_its_file_line_the_field_and_no_inner_line() {
        let words = TICKET.replace("\"qty\": 1", "\"qty\": \"deux\"");
        let text = format!("{TICKET}\n{TICKET}\n{TICKET}\n{words}\nticket;T5;CAISSE-1\n");
        let err = read_ticket_file(text.as_bytes()).expect_err("bad");
        assert_eq!(
            err.to_string(),
            "line 4: ticket payload is not valid: field lines[0].qty: expected a decimal number, \
             found \"deux\"\n\
             line 5: ticket payload is not valid: not JSON (a ticket is one JSON object), found \
             \"ticket;T5;CAISSE-1\""
        );
    }
}
