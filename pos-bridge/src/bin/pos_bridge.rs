//! `pos-bridge`: for a POS PC that can only export files. Watches a folder
//! of ticket files and publishes each ticket to Relais over MQTT; see
//! `pos-bridge/README.md` for the flags and the guarantees.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use pos_bridge::bridge::{run, BridgeConfig};
use pos_bridge::protocol::Topics;
use pos_bridge::spool::{SpoolConfig, WatchMode};
use rumqttc::MqttOptions;

/// Publishes the tickets a POS exports as files to Relais over MQTT.
#[derive(Debug, Parser)]
#[command(name = "pos-bridge", version)]
struct Args {
    /// Folder the POS writes its ticket files (JSON lines) into.
    #[arg(long, env = "POS_BRIDGE_FOLDER")]
    folder: PathBuf,
    /// Poll the folder instead of using inotify (network shares).
    #[arg(long)]
    poll: bool,
    /// Seconds a file's size and time must stay unchanged before it is taken.
    #[arg(long, default_value_t = 2.0)]
    settle_secs: f64,
    /// Seconds between scans when polling.
    #[arg(long, default_value_t = 2.0)]
    poll_secs: f64,
    /// MQTT broker host.
    #[arg(long, env = "POS_BRIDGE_BROKER", default_value = "127.0.0.1")]
    broker: String,
    /// MQTT broker port.
    #[arg(long, default_value_t = 1883)]
    port: u16,
    /// MQTT client id; unique per POS PC.
    #[arg(long, default_value = "pos-bridge")]
    client_id: String,
    /// Root of the site's topic tree.
    #[arg(long, default_value = "relais")]
    topic_root: String,
    /// Seconds to wait for Relais to acknowledge a file's tickets.
    #[arg(long, default_value_t = 30.0)]
    ack_timeout_secs: f64,
    /// Seconds before a file that could not be sent is tried again.
    #[arg(long, default_value_t = 30.0)]
    retry_secs: f64,
    /// Largest ticket file accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_file_bytes: u64,
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("--{flag}: expected seconds, found {value}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mode = if args.poll {
        WatchMode::Poll
    } else {
        WatchMode::Inotify
    };
    let spool = SpoolConfig {
        settle: seconds(args.settle_secs, "settle-secs")?,
        poll_interval: seconds(args.poll_secs, "poll-secs")?,
        ..SpoolConfig::new(&args.folder, mode)
    };
    let mut mqtt = MqttOptions::new(&args.client_id, &args.broker, args.port);
    mqtt.set_keep_alive(Duration::from_secs(30));
    let config = BridgeConfig {
        spool,
        mqtt,
        topics: Topics::new(&args.topic_root),
        ack_timeout: seconds(args.ack_timeout_secs, "ack-timeout-secs")?,
        retry_after: seconds(args.retry_secs, "retry-secs")?,
        max_file_bytes: args.max_file_bytes,
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    // systemd stops with SIGTERM, a person with Ctrl-C: both let the file
    // being sent finish.
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    run(config, shutdown)
        .await
        .with_context(|| format!("pos-bridge on {}", args.folder.display()))
}
