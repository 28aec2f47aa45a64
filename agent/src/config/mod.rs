//! The daemon's configuration file (`relais run --config FILE`).
//!
//! Every field is documented in `relais.toml` beside this module, which is
//! also what `relais config default` prints, so the example cannot drift
//! from the code: a test reads it back. Unknown keys are errors, named with
//! their line, because a misspelt key silently ignored is a setting the
//! wholesaler believes in and does not have.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::erp::ErpSettings;
use crate::mapping::site::SiteRules;
use crate::shop::client::ShopSettings;

/// The commented example configuration.
pub const DEFAULT: &str = include_str!("relais.toml");

/// A configuration that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The TOML is malformed or a key is unknown or mistyped; the message
    /// carries the line and column.
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    /// A value parses but makes no sense.
    #[error("{path}: {key}: expected {expected}, found {found:?}")]
    Value {
        path: PathBuf,
        key: &'static str,
        expected: &'static str,
        found: String,
    },
    /// The shop credentials are missing or unsafe.
    #[error("shop credentials: {0}")]
    Credentials(String),
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where documents are kept.
    pub store: StoreSection,
    /// The market itself.
    pub site: SiteSection,
    /// The ERP's spool folders.
    pub erp: ErpSection,
    /// The web shop; `None` runs without one.
    pub shop: Option<ShopSection>,
    /// The POS registers; `None` runs without them.
    pub pos: Option<PosSection>,
    /// The fleet link; `None` keeps the box to itself.
    pub fleet: Option<FleetSection>,
    /// The local status page; `None` serves no page.
    pub status_page: Option<StatusPageSection>,
    /// Where the file was read from (relative paths in it are not
    /// resolved against it: they follow the working folder, like a shell).
    #[serde(skip)]
    pub source: PathBuf,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// The redb file.
    pub path: PathBuf,
    /// The control socket; beside the store by default.
    pub socket: Option<PathBuf>,
    /// Two fsyncs per commit instead of one (see `store`'s module doc).
    #[serde(default)]
    pub two_phase_commit: bool,
}

impl StoreSection {
    /// The control socket's path.
    pub fn socket_path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| default_socket(&self.path))
    }
}

/// The control socket of the daemon holding `store`: same folder, same
/// name, extension `.sock`.
pub fn default_socket(store: &Path) -> PathBuf {
    store.with_extension("sock")
}

/// `[site]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    /// IANA time zone of the market.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The ERP's client file.
    pub clients: PathBuf,
    /// The seller printed on invoices.
    pub seller: Option<PathBuf>,
    /// Mapping rules.
    #[serde(default)]
    pub rules: SiteRules,
}

fn default_time_zone() -> String {
    "Europe/Paris".into()
}

/// `[erp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErpSection {
    /// The share holding `import/` and `export/`.
    pub folder: PathBuf,
    /// Documents per import file at most.
    #[serde(default = "default_docs_per_file")]
    pub max_docs_per_file: usize,
    /// Seconds an export must stay unchanged before it is taken.
    #[serde(default)]
    pub export_settle_seconds: u64,
    /// Local time by which the day's export should have come.
    pub export_expected_at: Option<String>,
    /// Seconds between looks at the export folder.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Import files a minute at most (0: no limit).
    #[serde(default)]
    pub max_files_per_minute: u32,
    /// The folder the ERP moves imported files to, relative to `folder`;
    /// when set, its answers are read (confirmed, or quarantined with the
    /// ERP's reason). `None`: delivered is the end of a document's life.
    pub import_done_folder: Option<PathBuf>,
    /// Name of the ERP's rejection file beside an import file it refuses
    /// (`{name}`: the import file's name, `{stem}`: without extension).
    #[serde(default = "default_rejection_file")]
    pub rejection_file: String,
}

fn default_rejection_file() -> String {
    "{name}.rej".into()
}

fn default_docs_per_file() -> usize {
    100
}

fn default_poll() -> u64 {
    5
}

/// `[shop]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopSection {
    /// Base URL of the shop.
    pub url: String,
    /// TOML file with `key` and `secret`.
    pub credentials_file: Option<PathBuf>,
    /// PEM of the only CA to trust.
    pub ca_file: Option<PathBuf>,
    /// Seconds per request.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Local time of the nightly pull.
    #[serde(default = "default_pull_at")]
    pub pull_at: String,
    /// Minutes between daytime pulls; 0 for none.
    #[serde(default)]
    pub pull_every_minutes: u64,
    /// How far back the first pull of a new store goes, in days.
    #[serde(default = "default_first_pull_days")]
    pub first_pull_days: u32,
    /// Post a private note on an order when the ERP has it and when its
    /// invoice is published.
    #[serde(default = "default_true")]
    pub notes: bool,
    /// Status to give an order once the ERP has it; none by default.
    pub status_when_in_erp: Option<String>,
    /// Status to give an order once its invoice is published.
    pub status_when_invoiced: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> u64 {
    30
}

fn default_pull_at() -> String {
    "00:00".into()
}

fn default_first_pull_days() -> u32 {
    1
}

/// `[pos]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosSection {
    /// `host:port` of the MQTT broker.
    pub broker: String,
    /// Root of the topic tree.
    #[serde(default = "default_topic_root")]
    pub topic_root: String,
    /// MQTT client id of this box.
    #[serde(default = "default_client_id")]
    pub client_id: String,
}

fn default_topic_root() -> String {
    "relais".into()
}

fn default_client_id() -> String {
    "relais-box".into()
}

/// `[fleet]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// `host:port` of the fleet's MQTT broker.
    pub broker: String,
    /// This box's id, unique in the fleet.
    pub box_id: String,
    /// Root of the fleet's topic tree.
    #[serde(default = "default_fleet_root")]
    pub topic_root: String,
    /// Seconds between telemetry snapshots.
    #[serde(default = "default_telemetry_seconds")]
    pub telemetry_seconds: u64,
    /// Bytes per second a telemetry backlog may use.
    #[serde(default = "default_fleet_rate")]
    pub max_bytes_per_second: u64,
    /// Days delivered snapshots are kept on the box.
    #[serde(default = "default_keep_days")]
    pub keep_days: u64,
    /// PEM of the only CA the fleet broker's certificate may come from;
    /// with `cert_file` and `key_file`, the link uses TLS.
    pub ca_file: Option<PathBuf>,
    /// This box's client certificate (PEM).
    pub cert_file: Option<PathBuf>,
    /// This box's private key (PEM), readable by the service user only.
    pub key_file: Option<PathBuf>,
    /// The fleet's Ed25519 public key (base64 of its 32 bytes): commands
    /// signed by it are taken; without it, no command is.
    pub command_key: Option<String>,
}

fn default_fleet_root() -> String {
    "relais-fleet".into()
}

fn default_telemetry_seconds() -> u64 {
    60
}

fn default_fleet_rate() -> u64 {
    // A tenth of a 1 Mbit/s uplink.
    12_500
}

fn default_keep_days() -> u64 {
    7
}

/// `[status_page]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageSection {
    /// `ip:port` the read-only page listens on.
    pub listen: String,
    /// Seconds between the page's own reloads.
    #[serde(default = "default_refresh_seconds")]
    pub refresh_seconds: u64,
}

impl StatusPageSection {
    /// The address to listen on (checked when the file was parsed).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.trim().parse().ok()
    }
}

fn default_refresh_seconds() -> u64 {
    30
}

/// The shop's API credentials file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    key: String,
    secret: String,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks configuration text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            // toml's own layout (the line, a caret under the column) reads
            // best as it is, over several lines.
            message: e.to_string().trim_end().to_string(),
        })?;
        config.source = path.to_path_buf();
        config.time_zone()?;
        if let Some(at) = &config.erp.export_expected_at {
            config.local_time("erp.export_expected_at", at)?;
        }
        if let Some(shop) = &config.shop {
            config.local_time("shop.pull_at", &shop.pull_at)?;
            if !shop.url.starts_with("https://") {
                return Err(config.bad("shop.url", "an https:// address", &shop.url));
            }
        }
        if let Some(pos) = &config.pos {
            if split_host_port(&pos.broker).is_none() {
                return Err(config.bad("pos.broker", "host:port", &pos.broker));
            }
        }
        if let Some(fleet) = &config.fleet {
            if split_host_port(&fleet.broker).is_none() {
                return Err(config.bad("fleet.broker", "host:port", &fleet.broker));
            }
            let id_ok = !fleet.box_id.is_empty()
                && fleet
                    .box_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok {
                return Err(config.bad(
                    "fleet.box_id",
                    "letters, digits, - and _ only (it is a topic level)",
                    &fleet.box_id,
                ));
            }
            if fleet.telemetry_seconds == 0 {
                return Err(config.bad("fleet.telemetry_seconds", "at least 1", "0"));
            }
        }
        if let Some(page) = &config.status_page {
            if page.listen_addr().is_none() {
                return Err(config.bad(
                    "status_page.listen",
                    "an address ip:port such as 127.0.0.1:8080",
                    &page.listen,
                ));
            }
            if page.refresh_seconds == 0 {
                return Err(config.bad("status_page.refresh_seconds", "at least 1", "0"));
            }
        }
        if let Err((key, expected, found)) = config.site.rules.check() {
            let key = match key {
                "currency" => "site.rules.currency",
                "unknown_sku" => "site.rules.unknown_sku",
                _ => "site.rules.articles",
            };
            return Err(config.bad(key, expected, &found));
        }
        if config.erp.max_docs_per_file == 0 {
            return Err(config.bad("erp.max_docs_per_file", "at least 1", "0"));
        }
        let pattern = &config.erp.rejection_file;
        if !pattern.contains("{name}") && !pattern.contains("{stem}") {
            return Err(config.bad(
                "erp.rejection_file",
                "a name with {name} or {stem}, such as \"{name}.rej\"",
                pattern,
            ));
        }
        if config.erp.poll_seconds == 0 {
            return Err(config.bad("erp.poll_seconds", "at least 1", "0"));
        }
        config.take_own_statuses()?;
        Ok(config)
    }

    /// A status Relais sets at the shop says the order is sold: the
    /// revision that change brings back must read as unchanged, so the
    /// status joins `site.rules.statuses_to_erp`. One that would read as a
    /// cancellation or a hold is refused: the next pull would take the
    /// order back out of the ERP.
    fn take_own_statuses(&mut self) -> Result<(), ConfigError> {
        let Some(shop) = &self.shop else {
            return Ok(());
        };
        let own = [
            ("shop.status_when_in_erp", shop.status_when_in_erp.clone()),
            (
                "shop.status_when_invoiced",
                shop.status_when_invoiced.clone(),
            ),
        ];
        for (key, status) in own {
            let Some(status) = status else { continue };
            let rules = &self.site.rules;
            let called_off = rules.statuses_cancelled.contains(&status)
                || rules.statuses_held.contains(&status)
                || status == "refunded";
            if called_off || status.trim().is_empty() {
                return Err(self.bad(
                    key,
                    "the status of a sold order (not empty, not refunded, not one of \
                     site.rules.statuses_cancelled or statuses_held)",
                    &status,
                ));
            }
            if !rules.statuses_to_erp.contains(&status) {
                self.site.rules.statuses_to_erp.push(status);
            }
        }
        Ok(())
    }

    fn bad(&self, key: &'static str, expected: &'static str, found: &str) -> ConfigError {
        ConfigError::Value {
            path: self.source.clone(),
            key,
            expected,
            found: found.to_string(),
        }
    }

    /// The site's time zone.
    pub fn time_zone(&self) -> Result<TimeZone, ConfigError> {
        TimeZone::get(&self.site.time_zone).map_err(|_| {
            self.bad(
                "site.time_zone",
                "an IANA time zone such as Europe/Paris",
                &self.site.time_zone,
            )
        })
    }

    fn local_time(&self, key: &'static str, text: &str) -> Result<Time, ConfigError> {
        parse_local_time(text).ok_or_else(|| self.bad(key, "a local time HH:MM", text))
    }

    /// What the shop is told about its orders.
    pub fn note_settings(&self) -> crate::shop::notes::NoteSettings {
        match &self.shop {
            Some(shop) => crate::shop::notes::NoteSettings {
                notes: shop.notes,
                status_when_in_erp: shop.status_when_in_erp.clone(),
                status_when_invoiced: shop.status_when_invoiced.clone(),
            },
            None => crate::shop::notes::NoteSettings {
                notes: false,
                status_when_in_erp: None,
                status_when_invoiced: None,
            },
        }
    }

    /// The local time of the nightly pull.
    pub fn pull_at(&self) -> Option<Time> {
        self.shop
            .as_ref()
            .and_then(|s| parse_local_time(&s.pull_at))
    }

    /// The local time by which the export should have come.
    pub fn export_expected_at(&self) -> Option<Time> {
        self.erp
            .export_expected_at
            .as_deref()
            .and_then(parse_local_time)
    }

    /// The ERP spool settings.
    pub fn erp_settings(&self) -> ErpSettings {
        ErpSettings {
            max_docs_per_file: self.erp.max_docs_per_file,
            export_settle: Duration::from_secs(self.erp.export_settle_seconds),
            import_done_dir: self
                .erp
                .import_done_folder
                .as_ref()
                .map(|done| self.erp.folder.join(done)),
            rejection_name: self.erp.rejection_file.clone(),
            max_files_per_minute: self.erp.max_files_per_minute,
            ..ErpSettings::under(&self.erp.folder)
        }
    }

    /// The shop client settings, credentials included: from the file, or
    /// from `RELAIS_SHOP_KEY` and `RELAIS_SHOP_SECRET`.
    pub fn shop_settings(&self) -> Result<Option<ShopSettings>, ConfigError> {
        let Some(shop) = &self.shop else {
            return Ok(None);
        };
        let (key, secret) = match &shop.credentials_file {
            Some(path) => read_credentials(path).map_err(|e| match e {
                ConfigError::Read { path, source } => ConfigError::Credentials(format!(
                    "shop.credentials_file = {}: cannot read it ({source}); write `key` and \
                     `secret` there, or remove the line to take RELAIS_SHOP_KEY and \
                     RELAIS_SHOP_SECRET from the environment",
                    path.display()
                )),
                other => other,
            })?,
            None => match (
                std::env::var("RELAIS_SHOP_KEY"),
                std::env::var("RELAIS_SHOP_SECRET"),
            ) {
                (Ok(key), Ok(secret)) => (key, secret),
                _ => {
                    return Err(ConfigError::Credentials(
                        "no shop.credentials_file, and RELAIS_SHOP_KEY or RELAIS_SHOP_SECRET \
                         is not set"
                            .into(),
                    ))
                }
            },
        };
        let ca_pem = match &shop.ca_file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Ok(Some(ShopSettings {
            base_url: shop.url.trim_end_matches('/').to_string(),
            consumer_key: key,
            consumer_secret: secret,
            ca_pem,
            timeout: Duration::from_secs(shop.timeout_seconds.max(1)),
        }))
    }
}

impl Config {
    /// The fleet link's settings, if the box reports to a fleet.
    pub fn fleet_link(&self) -> Result<Option<crate::fleet::FleetLink>, ConfigError> {
        let Some(fleet) = self.fleet.as_ref() else {
            return Ok(None);
        };
        let Some((host, port)) = split_host_port(&fleet.broker) else {
            return Err(self.bad("fleet.broker", "host:port", &fleet.broker));
        };
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })
        };
        let tls = match (&fleet.ca_file, &fleet.cert_file, &fleet.key_file) {
            (Some(ca), Some(cert), Some(key)) => {
                let config = crate::fleet::tls_config(&read(ca)?, &read(cert)?, &read(key)?)
                    .map_err(|e| ConfigError::Syntax {
                        path: self.source.clone(),
                        message: format!("fleet TLS: {e}"),
                    })?;
                Some(std::sync::Arc::new(config))
            }
            (None, None, None) => None,
            _ => {
                return Err(self.bad(
                    "fleet.ca_file, cert_file, key_file",
                    "all three or none",
                    "only some",
                ))
            }
        };
        let command_key = match &fleet.command_key {
            Some(text) => {
                use base64::Engine as _;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .ok()
                    .filter(|k| k.len() == 32);
                match key {
                    Some(key) => Some(key),
                    None => {
                        return Err(self.bad(
                            "fleet.command_key",
                            "the base64 of a 32-byte Ed25519 public key",
                            text,
                        ))
                    }
                }
            }
            None => None,
        };
        Ok(Some(crate::fleet::FleetLink {
            host,
            port,
            box_id: fleet.box_id.clone(),
            topic_root: fleet.topic_root.trim_end_matches('/').to_string(),
            telemetry_every: Duration::from_secs(fleet.telemetry_seconds),
            max_bytes_per_second: fleet.max_bytes_per_second,
            keep: Duration::from_secs(fleet.keep_days * 86_400),
            store_path: self.store.path.clone(),
            tls,
            command_key,
        }))
    }
}

/// `HH:MM` as a local time of day.
pub fn parse_local_time(text: &str) -> Option<Time> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    Time::new(h, m, 0, 0).ok()
}

/// `host:port`.
pub fn split_host_port(text: &str) -> Option<(String, u16)> {
    let text = text.trim_start_matches("mqtt://");
    let (host, port) = text.rsplit_once(':')?;
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

fn read_credentials(path: &Path) -> Result<(String, String), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::Credentials(format!(
                "{} can be read by others (mode {mode:o}); chmod 600 it, owned by the \
                 service user",
                path.display()
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // The parse error would quote the file, secret included: say only where.
    let creds: Credentials = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        ConfigError::Credentials(format!(
            "{}: expected `key = \"...\"` and `secret = \"...\"`{}",
            path.display(),
            at.map_or(String::new(), |line| format!(" (problem at line {line})"))
        ))
    })?;
    Ok((creds.key, creds.secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::site::{DeletedProduct, UnknownSku};

    #[test]
    fn the_default_file_is_a_valid_configuration() {
        let config = Config::parse(DEFAULT, Path::new("relais.toml")).expect("default parses");
        assert_eq!(config.site.time_zone, "Europe/Paris");
        assert_eq!(config.pull_at(), Some(jiff::civil::time(0, 0, 0, 0)));
        assert_eq!(
            config.export_expected_at(),
            Some(jiff::civil::time(18, 30, 0, 0))
        );
        assert_eq!(
            config.store.socket_path(),
            PathBuf::from("/var/lib/relais/relais.sock")
        );
    }

    #[test]
    fn every_commented_rule_is_a_real_key_with_its_default() {
        // Uncomment the rules block: it must parse and equal the defaults.
        let uncommented: String = DEFAULT
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with("statuses")
                        || rest.starts_with("guest")
                        || rest.starts_with("deleted")
                        || rest.ends_with("_article = \"REM\"")
                        || rest.starts_with("discount")
                        || rest.starts_with("shipping")
                        || rest.starts_with("fee")
                        || rest.starts_with("currency")
                        || rest.starts_with("refund")
                        || rest.starts_with("required")
                        || rest.starts_with("unknown_sku")
                        || rest.starts_with("vat_rounding")
                        || rest.starts_with("erp_decimals") =>
                {
                    rest.to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config = Config::parse(&uncommented, Path::new("x")).expect("parses");
        let defaults = SiteRules::default();
        assert_eq!(config.site.rules.statuses_to_erp, defaults.statuses_to_erp);
        assert_eq!(config.site.rules.statuses_held, defaults.statuses_held);
        assert_eq!(config.site.rules.guest_customer, defaults.guest_customer);
        assert_eq!(config.site.rules.fee_article, defaults.fee_article);
        assert_eq!(
            config.site.rules.statuses_cancelled,
            defaults.statuses_cancelled
        );
        assert_eq!(config.site.rules.refund_article, defaults.refund_article);
        assert_eq!(
            config.site.rules.required_columns,
            defaults.required_columns
        );
        assert_eq!(config.site.rules.deleted_product, defaults.deleted_product);
        assert_eq!(config.site.rules.unknown_sku, defaults.unknown_sku);
        assert_eq!(config.site.rules.vat_rounding, defaults.vat_rounding);
        assert_eq!(config.site.rules.erp_decimals, defaults.erp_decimals);
    }

    #[test]
    fn the_commented_articles_table_and_every_unknown_sku_rule_parse() {
        let with_table = |rule: &str| {
            DEFAULT
                .replace("# unknown_sku = \"keep\"", &format!("unknown_sku = {rule}"))
                .replace("# [site.rules.articles]", "[site.rules.articles]")
                .replace("# \"FL-TOM-GRAP-5K\"", "\"FL-TOM-GRAP-5K\"")
        };
        let config = Config::parse(&with_table("\"hold\""), Path::new("x")).expect("hold");
        assert_eq!(config.site.rules.unknown_sku, UnknownSku::Hold);
        assert_eq!(config.site.rules.articles["FL-TOM-GRAP-5K"], "100234");
        let text = with_table("{ article = \"DIVERS\" }");
        let config = Config::parse(&text, Path::new("x")).expect("fallback");
        assert_eq!(
            config.site.rules.unknown_sku,
            UnknownSku::Article("DIVERS".into())
        );
        let text = DEFAULT.replace(
            "# deleted_product = \"article\"",
            "deleted_product = \"hold\"",
        );
        let config = Config::parse(&text, Path::new("x")).expect("deleted hold");
        assert_eq!(config.site.rules.deleted_product, DeletedProduct::Hold);
    }

    #[test]
    fn rules_that_cannot_work_are_refused_with_their_key() {
        let bad = |from: &str, to: &str| {
            let text = DEFAULT.replace(from, to);
            assert_ne!(text, DEFAULT, "{from}");
            Config::parse(&text, Path::new("x"))
                .expect_err(to)
                .to_string()
        };
        let message = bad("# currency = \"EUR\"", "currency = \"JPY\"");
        assert!(
            message.contains("site.rules.currency") && message.contains("JPY"),
            "{message}"
        );
        let message = bad("# unknown_sku = \"keep\"", "unknown_sku = \"hold\"");
        assert!(message.contains("site.rules.unknown_sku"), "{message}");
        let yen_ledger = "currency = \"JPY\"\nerp_decimals = 0";
        let text = DEFAULT.replace("# currency = \"EUR\"", yen_ledger);
        assert!(Config::parse(&text, Path::new("x")).is_ok());
    }

    #[test]
    fn a_status_relais_sets_counts_as_sold_and_a_cancelling_one_is_refused() {
        let with = |status: &str| {
            let line = format!("status_when_in_erp = \"{status}\"");
            let text = DEFAULT.replace("# status_when_in_erp = \"completed\"", &line);
            assert_ne!(text, DEFAULT);
            Config::parse(&text, Path::new("x"))
        };
        let config = with("transmise-erp").expect("a custom status");
        assert!(config
            .site
            .rules
            .statuses_to_erp
            .contains(&"transmise-erp".to_string()));
        let before = Config::parse(DEFAULT, Path::new("x")).expect("default parses");
        let completed = with("completed").expect("a status already taken");
        assert_eq!(
            completed.site.rules.statuses_to_erp,
            before.site.rules.statuses_to_erp
        );
        for called_off in ["cancelled", "refunded", "pending"] {
            let message = with(called_off).expect_err(called_off).to_string();
            assert!(
                message.contains("shop.status_when_in_erp") && message.contains(called_off),
                "{message}"
            );
        }
    }

    #[test]
    fn the_erp_answers_and_rate_are_read_from_the_erp_section() {
        let config = Config::parse(DEFAULT, Path::new("x")).expect("default parses");
        let erp = config.erp_settings();
        assert_eq!(erp.max_files_per_minute, 6);
        assert_eq!(
            erp.import_done_dir,
            Some(PathBuf::from("/srv/erp/import/done"))
        );
        assert_eq!(erp.rejection_name, "{name}.rej");
        let text = DEFAULT.replace(
            "rejection_file = \"{name}.rej\"",
            "rejection_file = \"x.rej\"",
        );
        let err = Config::parse(&text, Path::new("x")).expect_err("no placeholder");
        assert!(err.to_string().contains("erp.rejection_file"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = DEFAULT.replace("poll_seconds = 5", "pol_seconds = 5");
        let line = text
            .lines()
            .position(|l| l.starts_with("pol_seconds"))
            .expect("line")
            + 1;
        let err = Config::parse(&text, Path::new("site.toml"))
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("pol_seconds"), "{err}");
        assert!(err.contains(&format!("line {line}")), "{err}");
        assert!(err.starts_with("site.toml"), "{err}");
    }

    #[test]
    fn a_bad_value_says_what_was_expected() {
        let text = DEFAULT.replace("pull_at = \"00:00\"", "pull_at = \"25:00\"");
        let err = Config::parse(&text, Path::new("site.toml"))
            .expect_err("bad time")
            .to_string();
        assert_eq!(
            err,
            "site.toml: shop.pull_at: expected a local time HH:MM, found \"25:00\""
        );
        let text = DEFAULT.replace("Europe/Paris\"", "Europe/Pariss\"");
        let err = Config::parse(&text, Path::new("x")).expect_err("bad zone");
        assert!(err.to_string().contains("Europe/Pariss"), "{err}");
    }

    #[test]
    fn the_commented_status_page_section_is_valid_and_off_by_default() {
        let config = Config::parse(DEFAULT, Path::new("x")).expect("default parses");
        assert!(config.status_page.is_none());

        let on = DEFAULT
            .replace("# [status_page]", "[status_page]")
            .replace("# listen = ", "listen = ")
            .replace("# refresh_seconds = ", "refresh_seconds = ");
        let page = Config::parse(&on, Path::new("x"))
            .expect("uncommented parses")
            .status_page
            .expect("section");
        assert_eq!(page.listen_addr(), Some(([127, 0, 0, 1], 8080).into()));
        assert_eq!(page.refresh_seconds, default_refresh_seconds());

        let bad = on.replace("\"127.0.0.1:8080\"", "\"box.local:8080\"");
        let err = Config::parse(&bad, Path::new("x")).expect_err("not ip:port");
        assert!(err.to_string().contains("status_page.listen"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn credentials_readable_by_others_are_refused_without_quoting_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("creds.toml");
        std::fs::write(&path, "key = \"ck_1\"\nsecret = \"cs_topsecret\"\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = read_credentials(&path).expect_err("too open").to_string();
        assert!(err.contains("mode 644"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            read_credentials(&path).expect("ok"),
            ("ck_1".to_string(), "cs_topsecret".to_string())
        );
        std::fs::write(&path, "key = \"ck_1\"\nsecret = cs_topsecret\n").expect("write");
        let err = read_credentials(&path).expect_err("bad toml").to_string();
        assert!(!err.contains("topsecret"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }
}
