//! `sandbox-shop`: runs the sandbox shop on its own until Ctrl-C, for manual tests and for
//! test scripts that want the shop in another process (to kill it, for instance).
//!
//! It prints two lines a script can read: `base_url=https://localhost:<port>` and
//! `ca_file=<data dir>/ca.pem`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use sandbox_shop::{ShopConfig, CA_FILE, DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET};

/// A local WooCommerce shop with the Relais invoice plugin, over HTTPS.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// JSON array of WooCommerce v3 order objects to serve.
    #[arg(long, value_name = "FILE.json")]
    orders: PathBuf,

    /// Folder for received invoices, the upload journal and the CA certificate.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,

    /// Address to listen on (the certificate covers localhost and 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1:8443")]
    bind: SocketAddr,

    /// Consumer key clients must present.
    #[arg(long, default_value = DEFAULT_CONSUMER_KEY)]
    key: String,

    /// Consumer secret clients must present.
    #[arg(long, default_value = DEFAULT_CONSUMER_SECRET)]
    secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let text = std::fs::read_to_string(&args.orders)
        .with_context(|| format!("cannot read the orders file {}", args.orders.display()))?;
    let orders: Vec<serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON array of orders", args.orders.display()))?;

    let config = ShopConfig {
        orders,
        data_dir: args.data.clone(),
        consumer_key: args.key,
        consumer_secret: args.secret,
        bind: args.bind,
    };
    let shop = sandbox_shop::start(config).await?;
    println!("base_url={}", shop.base_url());
    println!("ca_file={}", args.data.join(CA_FILE).display());

    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    shop.shutdown().await;
    Ok(())
}
