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
use super::{check_rows, ticket::map_ticket, MappingError};
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
        let what = format!("order {label}");
        let decided = serde_json::from_value::<Order>(value)
            .map_err(|e| format!("not a readable WooCommerce order: {e}"))
            .and_then(|order| {
                map_order(&order, &cx).map_err(|e| {
                    let reason = reason_for(&what, &e);
                    if clients.is_empty() && e.field == "customer_id" {
                        format!("{reason} (no client file was read: give --mapping FILE)")
                    } else {
                        reason
                    }
                })
            });
        let sendable = match decided {
            Ok(OrderDecision::Send(order_rows)) => {
                check_rows(&order_rows, &Dialect::french_erp(), &rules)
                    .map(|()| order_rows)
                    .map_err(|e| reason_for(&what, &e))
            }
            Ok(OrderDecision::Hold(reason)) | Err(reason) => Err(reason),
        };
        match sendable {
            Ok(order_rows) => {
                report.converted += 1;
                rows.extend(order_rows);
            }
            Err(reason) => report.held.push((what, reason)),
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

/// The error's text for a report line already headed by `what` (`order
/// 383001`): without the document's name when it is the same document, so
/// the line does not read "order 383001: order 383001: ...".
fn reason_for(what: &str, e: &MappingError) -> String {
    let same = e.document == what || what.ends_with(&format!(" {}", e.document));
    if same {
        format!(
            "field {}: expected {}, found {:?}",
            e.field, e.expected, e.found
        )
    } else {
        e.to_string()
    }
}

fn import_name(input: &Path) -> String {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    format!("CMD_{stem}.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_day() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/samples/day-2026-12-02")
    }

    #[test]
    fn a_reason_does_not_repeat_the_document_already_named() {
        let e = |document: &str| MappingError {
            document: document.to_string(),
            field: "customer_id".into(),
            expected: "a customer listed in the ERP's client file".into(),
            found: "1057".into(),
        };
        let alone = "field customer_id: expected a customer listed in the ERP's client file, \
                     found \"1057\"";
        assert_eq!(reason_for("order 383001", &e("order 383001")), alone);
        assert_eq!(reason_for("order 383001", &e("383001")), alone);
        assert_eq!(
            reason_for("order 383001", &e("order 383001 refund 7")),
            format!("order 383001 refund 7: {alone}")
        );
    }

    #[test]
    fn the_sample_days_mapping_file_converts_every_sendable_order() {
        let out = tempfile::tempdir().expect("temp dir");
        let day = sample_day();
        let orders_file = day.join("woocommerce/orders-2026-12-02.json");
        let mapping = day.join("mapping.toml");

        let report = orders(&orders_file, Some(&mapping), out.path()).expect("convert");

        assert_eq!((report.read, report.converted), (455, 427));
        assert_eq!(report.held.len(), 28, "{:?}", report.held);
        for (what, reason) in &report.held {
            assert!(!reason.contains(what.as_str()), "{what}: {reason}");
        }
    }

    #[test]
    fn without_the_client_file_orders_of_known_customers_are_named_not_in_it() {
        let out = tempfile::tempdir().expect("temp dir");
        let orders_file = sample_day().join("woocommerce/orders-2026-12-02.json");

        let report = orders(&orders_file, None, out.path()).expect("convert");

        let (what, reason) = report
            .held
            .iter()
            .find(|(_, r)| r.contains("client file"))
            .expect("an order of a customer with an account");
        assert!(
            reason.starts_with("field customer_id: "),
            "{what}: {reason}"
        );
    }
}
