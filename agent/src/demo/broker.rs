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
    // rumqttd does not report the port it bound, so a free one is picked
    // first, and another process can take it in between (seen under
    // parallel tests: the broker then fails to bind, silently). A random
    // loopback address of the 127/8 block makes that race very unlikely:
    // other programs' free ports are taken on 127.0.0.1.
    let seed = std::collections::hash_map::RandomState::new();
    let pick = |salt: u64| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = seed.build_hasher();
        h.write_u64(salt);
        let bits = h.finish();
        std::net::Ipv4Addr::new(
            127,
            1 + (bits % 250) as u8,
            (bits >> 8) as u8,
            1 + (bits >> 16) as u8 % 250,
        )
    };
    let ip = pick(std::process::id() as u64);
    let addr = TcpListener::bind((ip, 0))?.local_addr()?;
    start_embedded_on(addr)
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
