//! The `relais` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Relais: moves orders and invoices between the web shop, the POS and the ERP.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play a sample market day through the whole box on this machine.
    #[cfg(feature = "demo")]
    Demo {
        /// Folder of the sample day (woocommerce/, pos/, erp/).
        #[arg(long)]
        day: Option<PathBuf>,
        /// Work folder (store, ERP spool folders, shop data, summary.json).
        #[arg(long, default_value = "relais-demo")]
        work: PathBuf,
        /// Use this MQTT broker (host:port) instead of an embedded one.
        #[arg(long)]
        broker: Option<String>,
        /// Root of the MQTT topic tree.
        #[arg(long, default_value = "relais")]
        topic_root: String,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("RELAIS_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("relais: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relais: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        #[cfg(feature = "demo")]
        Command::Demo {
            day,
            work,
            broker,
            topic_root,
            json,
        } => {
            let day_dir = match day {
                Some(day) => day,
                None => default_day()?,
            };
            let options = relais::demo::DemoOptions {
                day_dir,
                work_dir: work,
                broker,
                topic_root,
            };
            let summary = relais::demo::run(options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{}", relais::demo::render_summary(&summary));
            }
            Ok(if summary.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// The sample day shipped in the repository, found from the working folder
/// (the repository root, as README.md says to run it).
#[cfg(feature = "demo")]
fn default_day() -> anyhow::Result<PathBuf> {
    let candidate = PathBuf::from("tests/samples/day-2026-12-02");
    if candidate.is_dir() {
        return Ok(candidate);
    }
    anyhow::bail!(
        "no sample day at {}: run from the repository root or pass --day DIR",
        candidate.display()
    )
}
