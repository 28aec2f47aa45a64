//! The sales-event spike: ten times the usual day, mapped and drained to the
//! ERP at the rate the example configuration sets.
//!
//! `cargo bench -p relais --bench spike` makes the day with the sample
//! generator (`tests/samples/gen_day.py --orders 7000`, Python 3) in a
//! temporary folder, removed at the end, and prints:
//! - orders mapped per second on one thread, mapping alone (target 5,000);
//! - the time the backlog takes to reach the ERP at `max_files_per_minute`
//!   and `max_docs_per_file`, on a simulated clock (no waiting), with the
//!   busiest minute and the largest file checked against the limits;
//! - the real time spent writing the files, and resident memory throughout.
//!
//! `RELAIS_SPIKE_ORDERS=N` changes the size of the day;
//! `RELAIS_SPIKE_CONFIG=FILE` takes the rate from a site's configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use relais::bench::spike::{self, Rate};
use relais::config::{Config, DEFAULT};

fn main() -> anyhow::Result<()> {
    let orders: u32 = std::env::var("RELAIS_SPIKE_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7000);
    let config = match std::env::var_os("RELAIS_SPIKE_CONFIG") {
        Some(path) => Config::load(Path::new(&path))?,
        None => Config::parse(DEFAULT, Path::new("relais.toml (example)"))?,
    };
    let rate = Rate {
        files_per_minute: config.erp.max_files_per_minute,
        docs_per_file: config.erp.max_docs_per_file,
        round_seconds: config.erp.poll_seconds,
    };

    let work = tempfile::tempdir()?;
    let day = work.path().join("day");
    let generator = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/samples/gen_day.py");
    let made = Command::new("python3")
        .arg(&generator)
        .arg(&day)
        .args(["--orders", &orders.to_string()])
        .status();
    match made {
        Ok(status) if status.success() => {}
        Ok(status) => anyhow::bail!("{} --orders {orders}: {status}", generator.display()),
        Err(e) => {
            println!("spike: skipped, python3 cannot run the sample generator: {e}");
            return Ok(());
        }
    }

    let report = spike::run(&day, work.path(), rate)?;
    spike::print(&report, rate);
    anyhow::ensure!(
        rate.files_per_minute == 0 || report.busiest_minute <= rate.files_per_minute as usize,
        "{} files in one minute, over the limit of {}",
        report.busiest_minute,
        rate.files_per_minute
    );
    anyhow::ensure!(
        report.largest_file <= rate.docs_per_file,
        "a file of {} documents, over the limit of {}",
        report.largest_file,
        rate.docs_per_file
    );
    anyhow::ensure!(
        report.documents == report.queued,
        "{} documents queued but {} delivered",
        report.queued,
        report.documents
    );
    Ok(())
}
