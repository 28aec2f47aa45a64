//! Test peers for the bridge: an MQTT broker inside the test process and a
//! fake Relais that stores tickets once by number and acknowledges them.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pos_bridge::protocol::{Ack, AckStatus, Topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Starts a broker on a free loopback port; it runs until the test process ends.
pub fn start_broker() -> SocketAddr {
    // rumqttd does not report the port it bound, so pick a free one first.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let server = ServerSettings {
        name: "test".to_string(),
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
        v4: Some(HashMap::from([("test".to_string(), server)])),
        ..Config::default()
    };
    let mut broker = Broker::new(config);
    std::thread::spawn(move || {
        if let Err(e) = broker.start() {
            eprintln!("test broker stopped: {e}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "broker did not start on {addr}");
        std::thread::sleep(Duration::from_millis(5));
    }
    addr
}

/// What the fake Relais saw.
#[derive(Debug, Default)]
pub struct Stored {
    /// Ticket numbers stored, each once.
    pub tickets: HashSet<String>,
    /// Tickets received again after they were stored.
    pub duplicates: usize,
}

/// A fake Relais: stores each ticket number once; acknowledges only while
/// `acking` is set (off, it plays a Relais that crashed before acking).
pub struct FakeRelais {
    /// The stored tickets.
    pub stored: Arc<Mutex<Stored>>,
    /// Whether acks are published.
    pub acking: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRelais {
    /// Connects to the broker and waits until it is subscribed.
    pub async fn start(broker: SocketAddr, topics: Topics, id: &str) -> FakeRelais {
        let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = AsyncClient::new(options, 1024);
        client
            .subscribe(topics.ticket_filter(), QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        loop {
            let event = events.poll().await.expect("relais connection");
            if let Event::Incoming(Packet::SubAck(_)) = event {
                break;
            }
        }
        let filter_topics = topics.clone();
        let register_of = move |topic: &str| filter_topics.register_of(topic).map(str::to_string);
        let stored = Arc::new(Mutex::new(Stored::default()));
        let acking = Arc::new(Mutex::new(true));
        let (stored_in, acking_in) = (stored.clone(), acking.clone());
        // Acks go out from their own task: publishing from the event loop's
        // task would stall it once the request channel is full.
        let (acks, mut to_send) = tokio::sync::mpsc::unbounded_channel::<(String, Ack)>();
        let sender = tokio::spawn(async move {
            while let Some((register, ack)) = to_send.recv().await {
                let payload = serde_json::to_vec(&ack).expect("ack json");
                let topic = topics.ack(&register);
                if client
                    .publish(topic, QoS::AtLeastOnce, false, payload)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let task = tokio::spawn(async move {
            while let Ok(event) = events.poll().await {
                let Event::Incoming(Packet::Publish(p)) = event else {
                    continue;
                };
                let Some(register) = register_of(&p.topic) else {
                    continue;
                };
                let number = serde_json::from_slice::<serde_json::Value>(&p.payload)
                    .ok()
                    .and_then(|v| v.get("ticket").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                let status = {
                    let mut stored = stored_in.lock().expect("lock");
                    if stored.tickets.insert(number.clone()) {
                        AckStatus::Stored
                    } else {
                        stored.duplicates += 1;
                        AckStatus::Duplicate
                    }
                };
                if !*acking_in.lock().expect("lock") {
                    continue;
                }
                let ack = Ack {
                    ticket: number,
                    status,
                    reason: None,
                };
                let _ = acks.send((register, ack));
            }
            sender.abort();
        });
        FakeRelais {
            stored,
            acking,
            task,
        }
    }

    /// Number of distinct tickets stored.
    pub fn stored_count(&self) -> usize {
        self.stored.lock().expect("lock").tickets.len()
    }
}

impl Drop for FakeRelais {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP relay in front of the broker that a test can cut, as a broker
/// crash or a pulled cable would: every open connection is dropped and new
/// ones are refused until it is restored.
pub struct Cable {
    /// Where clients connect.
    pub addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<tokio::task::JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cable {
    /// Starts relaying 127.0.0.1:<free port> to `broker`.
    pub async fn to(broker: SocketAddr) -> Cable {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = Arc::new(Mutex::new(tokio::task::JoinSet::new()));
        let (up_in, links_in) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up_in.load(Ordering::SeqCst) {
                    continue;
                }
                links_in.lock().expect("lock").spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(broker).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Cable {
            addr,
            up,
            links,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.links.lock().expect("lock").abort_all();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.accept.abort();
        self.links.lock().expect("lock").abort_all();
    }
}

/// Mosquitto on 127.0.0.1:1883, when it runs; required when
/// RELAIS_REQUIRE_MOSQUITTO=1 (CI starts it).
pub fn mosquitto() -> Option<SocketAddr> {
    let addr: SocketAddr = "127.0.0.1:1883".parse().expect("address");
    let required = std::env::var("RELAIS_REQUIRE_MOSQUITTO").is_ok_and(|v| v == "1");
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => Some(addr),
        Err(e) if required => panic!("Mosquitto required on {addr}: {e}"),
        Err(_) => None,
    }
}
