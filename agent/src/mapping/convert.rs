//! `relais orders convert` and `relais tickets convert`: the daemon's own
//! mapping, run on files, for setting a site up and for support.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pos_bridge::dialect::Dialect;
use pos_bridge::ticket::Ticket;
use serde::{Deserialize, Serialize};

use super::import::{render_file, ImportRow};
use super::order::{map_order, Context as MapContext, OrderDecision};
use super::site::{Clients, SiteRules};
use super::{check_rows, ticket::map_ticket};
use crate::shop::order::Order;

/// A site mapping file: the ERP's client file and the rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// The ERP's client file (relative to the mapping file).
    pub clients: Option<PathBuf>,
    /// Mapping rules.
    #[serde(default)]
    pub rules: SiteRules,
}

/// What a conversion did.
#[derive(Debug, Default, Serialize)]
pub struct ConvertReport {
    /// Documents read.
    pub read: usize,
    /// Documents converted.
    pub converted: usize,
    /// The import file written.
    pub file: Option<String>,
    /// Documents not converted, with the reason.
    pub held: Vec<(String, String)>,
}

fn load(mapping: Option<&Path>) -> anyhow::Result<(SiteRules, Clients)> {
    let Some(path) = mapping else {
        return Ok((SiteRules::default(), Clients::default()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping file {}", path.display()))?;
    let file: MappingFile =
        toml::from_str(&text).with_context(|| format!("mapping file {}", path.display()))?;
    if let Err((key, expected, found)) = file.rules.check() {
        anyhow::bail!(
            "mapping file {}: rules.{key}: expected {expected}, found {found:?}",
            path.display()
        );
    }
    let clients = match file.clients {
        Some(clients) => {
            let full = path.parent().unwrap_or(Path::new(".")).join(clients);
            let source = std::fs::File::open(&full)
                .with_context(|| format!("cannot open the client file {}", full.display()))?;
            Clients::read(source, &Dialect::french_erp())?
        }
        None => Clients::default(),
    };
    Ok((file.rules, clients))
}

fn write_out(rows: &[ImportRow], out: &Path, name: &str) -> anyhow::Result<String> {
    pos_bridge::spool::ensure_dir(out)?;
    let path = out.join(name);
    pos_bridge::spool::write_atomic(&path, &render_file(rows, &Dialect::french_erp()))?;
    Ok(path.display().to_string())
}

/// Converts a WooCommerce orders file (a JSON list) into one import file.
pub fn orders(input: &Path, mapping: Option<&Path>, out: &Path) -> anyhow::Result<ConvertReport> {
    let (rules, clients) = load(mapping)?;
    let tz = jiff::tz::TimeZone::get("Europe/Paris")?;
    let cx = MapContext {
        rules: &rules,
        clients: &clients,
        tz: &tz,
    };
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let raw: Vec<serde_json::Value> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: expected a JSON list of orders", input.display()))?;
    let mut report = ConvertReport {
        read: raw.len(),
        ..Default::default()
    };
    let mut rows = Vec::new();
    for (n, value) in raw.into_iter().enumerate() {
        let label = value
            .get("number")
            .and_then(|v| v.as_str())
            .map_or(format!("#{n}"), str::to_string);
        let decided = serde_json::from_value::<Order>(value)
            .map_err(|e| format!("not a readable WooCommerce order: {e}"))
            .and_then(|order| map_order(&order, &cx).map_err(|e| e.to_string()));
        let sendable = match decided {
            Ok(OrderDecision::Send(order_rows)) => {
                check_rows(&order_rows, &Dialect::french_erp(), &rules)
                    .map(|()| order_rows)
                    .map_err(|e| e.to_string())
            }
            Ok(OrderDecision::Hold(reason)) | Err(reason) => Err(reason),
        };
        match sendable {
            Ok(order_rows) => {
                report.converted += 1;
                rows.extend(order_rows);
            }
            Err(reason) => report.held.push((format!("order {label}"), reason)),
        }
    }
    report.file = Some(write_out(&rows, out, &import_name(input))?);
    Ok(report)
}

/// Converts a tickets file (JSON lines) into one import file.
pub fn tickets(input: &Path, mapping: Option<&Path>, out: &Path) -> anyhow::Result<ConvertReport> {
    let (rules, _) = load(mapping)?;
    let tz = jiff::tz::TimeZone::get("Europe/Paris")?;
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("cannot read {}", input.display()))?;
    let mut report = ConvertReport::default();
    let mut rows = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        report.read += 1;
        let mapped = Ticket::parse(line.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|t| map_ticket(&t, &rules, &tz).map_err(|e| e.to_string()))
            .and_then(|r| {
                check_rows(&r, &Dialect::french_erp(), &rules)
                    .map(|()| r)
                    .map_err(|e| e.to_string())
            });
        match mapped {
            Ok(ticket_rows) => {
                report.converted += 1;
                rows.extend(ticket_rows);
            }
            Err(reason) => report.held.push((format!("line {}", n + 1), reason)),
        }
    }
    report.file = Some(write_out(&rows, out, &import_name(input))?);
    Ok(report)
}

fn import_name(input: &Path) -> String {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    format!("CMD_{stem}.csv")
}
