//! An MQTT broker inside the demo process (rumqttd), on a free loopback
//! port. It keeps sessions in memory only, which is enough for a demo; the
//! box itself talks to the site's Mosquitto.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Starts the broker on 127.0.0.1 and returns its address once it accepts
/// connections.
pub fn start_embedded() -> anyhow::Result<SocketAddr> {
    // rumqttd does not report the port it bound, so pick a free one first.
    start_embedded_on(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Starts the broker on `addr` (a test that brings a broker up late picks
/// the address first) and returns once it accepts connections.
pub fn start_embedded_on(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let server = ServerSettings {
        name: "demo".to_string(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 256 * 1024,
            max_inflight_count: 200,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let router = RouterConfig {
        max_connections: 64,
        max_outgoing_packet_count: 200,
        max_segment_size: 16 * 1024 * 1024,
        max_segment_count: 10,
        ..RouterConfig::default()
    };
    let config = Config {
        router,
        v4: Some(HashMap::from([("demo".to_string(), server)])),
        ..Config::default()
    };
    let mut broker = Broker::new(config);
    // The broker runs its own threads for the life of the process.
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            anyhow::bail!("the embedded MQTT broker did not start listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(addr)
}
