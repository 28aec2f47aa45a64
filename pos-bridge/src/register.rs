//! A register that publishes tickets over MQTT and waits for Relais's
//! acknowledgements: the simulated register of the demo and the core of the
//! `pos-bridge` binary.

use std::collections::HashMap;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::time::Instant;

use crate::protocol::{Ack, Topics};

/// A failure while publishing tickets.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The MQTT client failed.
    #[error("MQTT: {0}")]
    Client(#[from] rumqttc::ClientError),
    /// The connection to the broker failed.
    #[error("MQTT connection to {broker}: {source}")]
    Connection {
        broker: String,
        source: rumqttc::ConnectionError,
    },
    /// Not every ticket was acknowledged in time.
    #[error("{missing} of {sent} tickets not acknowledged by Relais within {waited:?}")]
    Timeout {
        missing: usize,
        sent: usize,
        waited: Duration,
    },
}

/// A ticket ready to publish: its number, register and JSON payload.
#[derive(Debug, Clone)]
pub struct OutgoingTicket {
    /// Ticket number.
    pub ticket: String,
    /// Register that sold it.
    pub register: String,
    /// The JSON payload, as the register writes it.
    pub payload: Vec<u8>,
}

/// Publishes every ticket (QoS 1) and returns the acknowledgements, one per
/// ticket number, once all have come or `deadline` has passed.
pub async fn publish_and_confirm(
    options: MqttOptions,
    topics: &Topics,
    tickets: Vec<OutgoingTicket>,
    deadline: Duration,
) -> Result<HashMap<String, Ack>, RegisterError> {
    let broker = format!(
        "{}:{}",
        options.broker_address().0,
        options.broker_address().1
    );
    let (client, mut events) = AsyncClient::new(options, 64);
    client
        .subscribe(topics.ack_filter(), QoS::AtLeastOnce)
        .await?;
    let start = Instant::now();
    let mut acks = HashMap::new();
    let mut subscribed = false;
    let mut next = 0;
    // A ticket number sent twice is acknowledged once (as a duplicate).
    let wanted: std::collections::HashSet<String> =
        tickets.iter().map(|t| t.ticket.clone()).collect();
    let expected = wanted.len();
    while acks.len() < expected {
        let remaining = deadline.saturating_sub(start.elapsed());
        let event = tokio::time::timeout(remaining, events.poll()).await;
        let event = match event {
            Err(_) => {
                let missing = expected - acks.len();
                return Err(RegisterError::Timeout {
                    missing,
                    sent: expected,
                    waited: deadline,
                });
            }
            Ok(Err(source)) => return Err(RegisterError::Connection { broker, source }),
            Ok(Ok(event)) => event,
        };
        match event {
            Event::Incoming(Packet::SubAck(_)) => subscribed = true,
            Event::Incoming(Packet::Publish(p)) => {
                // The ack topics of every register come in: only this
                // batch's tickets count towards "all acknowledged".
                match serde_json::from_slice::<Ack>(&p.payload) {
                    Ok(ack) if wanted.contains(&ack.ticket) => {
                        acks.insert(ack.ticket.clone(), ack);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        // Hand tickets to the event loop without ever waiting on it: a full
        // request channel just means "more on the next turn".
        while subscribed && next < tickets.len() {
            let t = &tickets[next];
            let topic = topics.ticket(&t.register);
            if client
                .try_publish(topic, QoS::AtLeastOnce, false, t.payload.clone())
                .is_err()
            {
                break;
            }
            next += 1;
        }
    }
    // Let the PUBACKs for the acks go out before dropping the connection.
    let _ = client.disconnect().await;
    Ok(acks)
}
