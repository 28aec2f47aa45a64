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
    /// Run the daemon: every connector, queue worker and schedule.
    Run {
        /// The configuration file (`relais config default` prints an example).
        #[arg(long, env = "RELAIS_CONFIG", default_value = "/etc/relais/relais.toml")]
        config: PathBuf,
    },
    /// Print the example configuration, or check a configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Counts per state and destination, oldest waiting document, last success per peer.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The whole life of one order, ticket or invoice.
    Trace {
        /// Store id, order number, ticket number, invoice number or export file name.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Measure the store: intake against a plain append loop, memory by
    /// backlog size, drain rate, restart time.
    Bench {
        /// Folder to measure in (on the disk the store lives on).
        #[arg(long, default_value = "relais-bench")]
        dir: PathBuf,
        /// Documents for the intake comparison.
        #[arg(long, default_value_t = 20_000)]
        docs: u64,
        /// Largest backlog measured.
        #[arg(long, default_value_t = 100_000)]
        backlog: u64,
        /// Sample day for the mapping figure.
        #[arg(long, default_value = "tests/samples/day-2026-12-02")]
        day: PathBuf,
    },
    /// Convert a WooCommerce orders file (JSON list) into an ERP import file.
    Orders {
        #[command(subcommand)]
        action: ConvertAction,
    },
    /// Convert a POS tickets file (JSON lines) into an ERP import file.
    Tickets {
        #[command(subcommand)]
        action: ConvertAction,
    },
    /// Read an ERP invoice export and report each invoice and every problem.
    Invoices {
        #[command(subcommand)]
        action: InvoicesAction,
    },
    /// Signed update bundles and the A/B slots.
    Update {
        #[command(subcommand)]
        action: relais::update::cli::UpdateAction,
    },
    /// Documents that need a person.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
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
        /// The seller printed on invoices (TOML: name, legal_form, capital,
        /// address_lines, siren, siret, rcs, vat_number, phone, email,
        /// late_penalty_rate, discount_terms); a sample wholesaler by default.
        #[arg(long)]
        seller: Option<PathBuf>,
        /// Print the summary as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print a complete, commented example configuration.
    Default,
    /// Read a configuration file and name its first bad key with its line.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

/// Where the store is and how to answer. A running daemon is asked over
/// its control socket; without one, the store file is read directly.
#[derive(clap::Args)]
struct StoreArgs {
    /// The store file.
    #[arg(
        long,
        env = "RELAIS_STORE",
        default_value = "/var/lib/relais/relais.redb"
    )]
    store: PathBuf,
    /// The daemon's control socket (default: beside the store, `.sock`).
    #[arg(long, env = "RELAIS_SOCKET")]
    socket: Option<PathBuf>,
    /// Answer in JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ConvertAction {
    /// Map the file with the daemon's mapping and write one import file.
    Convert {
        /// The input file.
        input: PathBuf,
        /// Site mapping file (TOML: `clients = "clients.csv"` and `[rules]`).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Answer in JSON.
        #[arg(long)]
        json: bool,
    },
}

type Converter = fn(
    &std::path::Path,
    Option<&std::path::Path>,
    &std::path::Path,
) -> anyhow::Result<relais::mapping::convert::ConvertReport>;

/// Runs `orders convert` or `tickets convert`.
fn convert(action: ConvertAction, converter: Converter) -> anyhow::Result<()> {
    let ConvertAction::Convert {
        input,
        mapping,
        out,
        json,
    } = action;
    let report = converter(&input, mapping.as_deref(), &out)?;
    answer(json, &report, convert_text);
    Ok(())
}

fn convert_text(report: &relais::mapping::convert::ConvertReport) -> String {
    let mut out = format!(
        "{} read, {} converted into {}\n",
        report.read,
        report.converted,
        report.file.as_deref().unwrap_or("-")
    );
    for (what, reason) in &report.held {
        out.push_str(&format!("  not converted: {what}: {reason}\n"));
    }
    out
}

#[derive(Subcommand)]
enum InvoicesAction {
    /// Per invoice: number, customer, line count, totals; every problem with its line.
    Check {
        /// The export file.
        file: PathBuf,
        /// The site's dialect (TOML: encoding, separator, decimal_mark, date_format,
        /// line_end); the French ERP dialect by default.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Answer in JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum QuarantineAction {
    /// List quarantined documents with their reasons.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show one document's reason and history.
    Show {
        /// Store id or source id.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Send documents back to be decided again, once the cause is fixed.
    Release {
        /// Store id or source id.
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Release every quarantined document.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn open_store(args: &StoreArgs) -> anyhow::Result<relais::store::Store> {
    if !args.store.exists() {
        anyhow::bail!(
            "no store at {} (use --store or RELAIS_STORE)",
            args.store.display()
        );
    }
    relais::store::Store::open(&args.store).map_err(|e| match e {
        relais::store::StoreError::Open {
            source: redb::DatabaseError::DatabaseAlreadyOpen,
            ..
        } => anyhow::anyhow!(
            "the store {} is held by a running relais whose control socket {} does not \
             answer; pass --socket if it listens elsewhere",
            args.store.display(),
            socket_of(args).display()
        ),
        other => other.into(),
    })
}

fn socket_of(args: &StoreArgs) -> PathBuf {
    args.socket
        .clone()
        .unwrap_or_else(|| relais::config::default_socket(&args.store))
}

/// Asks the running daemon, or the store itself when none runs.
fn ask(args: &StoreArgs, request: relais::ops::Request) -> anyhow::Result<relais::ops::Answer> {
    use relais::ops::Answer;
    let answer = match relais::control::ask(&socket_of(args), &request)? {
        Some(answer) => answer,
        None => relais::ops::execute(&open_store(args)?, &request),
    };
    if let Answer::Failed(message) = answer {
        anyhow::bail!("{message}");
    }
    Ok(answer)
}

/// Prints an answer: its value as JSON, or its text rendering.
fn print_answer(json: bool, answer: &relais::ops::Answer) {
    use relais::ops::Answer;
    if !json {
        print!("{}", relais::ops::render(answer));
        return;
    }
    let value = match answer {
        Answer::Status(v) => serde_json::to_string_pretty(v),
        Answer::Traces(v) => serde_json::to_string_pretty(v),
        Answer::Quarantine(v) => serde_json::to_string_pretty(v),
        Answer::Released(v) => serde_json::to_string_pretty(v),
        Answer::Failed(v) => serde_json::to_string_pretty(v),
    };
    match value {
        Ok(out) => println!("{out}"),
        Err(e) => eprintln!("relais: cannot write JSON: {e}"),
    }
}

/// Asks, prints, and fails when a trace finds nothing.
fn ask_and_print(args: &StoreArgs, request: relais::ops::Request) -> anyhow::Result<()> {
    let answer = ask(args, request.clone())?;
    if let (relais::ops::Answer::Traces(t), relais::ops::Request::Trace { id }) =
        (&answer, &request)
    {
        if t.is_empty() {
            anyhow::bail!("no document {id:?} in the store");
        }
    }
    print_answer(args.json, &answer);
    Ok(())
}

fn answer<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(out) => println!("{out}"),
            Err(e) => eprintln!("relais: cannot write JSON: {e}"),
        }
    } else {
        print!("{}", text(value));
    }
}

fn operator(command: Command) -> anyhow::Result<ExitCode> {
    use relais::ops::Request;
    match command {
        Command::Status { store } => ask_and_print(&store, Request::Status)?,
        Command::Trace { id, store } => ask_and_print(&store, Request::Trace { id })?,
        Command::Quarantine { action } => quarantine(action)?,
        Command::Config { action } => return config(action),
        Command::Update { action } => return relais::update::cli::run(action),
        Command::Orders { action } => convert(action, relais::mapping::convert::orders)?,
        Command::Tickets { action } => convert(action, relais::mapping::convert::tickets)?,
        Command::Invoices {
            action:
                InvoicesAction::Check {
                    file,
                    profile,
                    json,
                },
        } => {
            let report = relais::invoice::check::check_file(&file, profile.as_deref())?;
            answer(json, &report, relais::invoice::check::render);
            if !report.problems_found() {
                return Ok(ExitCode::SUCCESS);
            }
            return Ok(ExitCode::from(2));
        }
        Command::Bench {
            dir,
            docs,
            backlog,
            day,
        } => {
            relais::bench::run(&dir, docs, backlog)?;
            let orders = day.join("woocommerce/orders-2026-12-02.json");
            if orders.exists() {
                relais::bench::mapping(&orders, &day.join("erp/clients.csv"))?;
            } else {
                println!("mapping: skipped, no sample day at {}", day.display());
            }
        }
        #[cfg(feature = "demo")]
        Command::Demo { .. } => unreachable!("the demo is async"),
        Command::Run { .. } => unreachable!("the daemon is async"),
    }
    Ok(ExitCode::SUCCESS)
}

fn quarantine(action: QuarantineAction) -> anyhow::Result<()> {
    use relais::ops::Request;
    match action {
        QuarantineAction::List { store } => ask_and_print(&store, Request::QuarantineList),
        QuarantineAction::Show { id, store } => ask_and_print(&store, Request::Trace { id }),
        QuarantineAction::Release { id, all, store } => {
            let id = if all { None } else { id };
            ask_and_print(&store, Request::Release { id })
        }
    }
}

fn config(action: ConfigAction) -> anyhow::Result<ExitCode> {
    match action {
        ConfigAction::Default => print!("{}", relais::config::DEFAULT),
        ConfigAction::Check { file } => {
            let config = relais::config::Config::load(&file)?;
            // Credentials and the CA are read too: a missing file is found
            // now rather than at the first pull.
            config.shop_settings()?;
            // The ERP's client file, if it is there yet (the ERP may write
            // it later; the daemon waits for it).
            let clients = &config.site.clients;
            match std::fs::File::open(clients) {
                Ok(f) => {
                    let read = relais::mapping::site::Clients::read(
                        f,
                        &pos_bridge::dialect::Dialect::french_erp(),
                    )
                    .map_err(|e| anyhow::anyhow!("site.clients = {}: {e}", clients.display()))?;
                    println!("{}: {} clients", clients.display(), read.len());
                }
                Err(e) => println!(
                    "{}: not readable yet ({e}); nothing is mapped until it is",
                    clients.display()
                ),
            }
            println!("{}: ok", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The error and its causes, each said once: many errors already carry
/// their cause's text in their own message.
fn explain(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message = format!("{message}: {cause}");
        }
    }
    message
}

fn main() -> ExitCode {
    // Under systemd the journal stamps each line itself and shows no
    // colours: plain lines, no second timestamp.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            // The embedded demo broker logs every closed connection as an error.
            EnvFilter::try_from_env("RELAIS_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,rumqttd=off")),
        )
        .with_ansi(
            !journald
                && std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .with_writer(std::io::stderr);
    if journald {
        builder.without_time().init();
    } else {
        builder.init();
    }
    let cli = Cli::parse();
    #[cfg(feature = "demo")]
    let is_async = matches!(cli.command, Command::Demo { .. } | Command::Run { .. });
    #[cfg(not(feature = "demo"))]
    let is_async = matches!(cli.command, Command::Run { .. });
    if !is_async {
        return operator(cli.command).unwrap_or_else(|e| {
            eprintln!("relais: {}", explain(&e));
            ExitCode::FAILURE
        });
    }
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
    let result = runtime.block_on(run(cli.command));
    // A blocking task stuck on a hung share must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relais: {}", explain(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config } => {
            let config = relais::config::Config::load(&config)?;
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let daemon = tokio::spawn(relais::daemon::run(config, stop_rx));
            tokio::spawn(async move {
                stop_signal().await;
                let _ = stop_tx.send(true);
            });
            daemon.await??;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "demo")]
        Command::Demo {
            day,
            work,
            broker,
            topic_root,
            seller,
            json,
        } => {
            let seller = seller.map(|path| read_seller(&path)).transpose()?;
            let day_dir = match day {
                Some(day) => day,
                None => default_day()?,
            };
            let options = relais::demo::DemoOptions {
                day_dir,
                work_dir: work,
                broker,
                topic_root,
                seller,
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
        other => operator(other),
    }
}

/// Resolves on SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot watch stop signals; stop with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
    tracing::info!("stop signal received");
}

/// Reads the seller printed on invoices from a TOML file.
#[cfg(feature = "demo")]
fn read_seller(path: &std::path::Path) -> anyhow::Result<relais::invoice::render::Seller> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("seller file {}: {e}", path.display()))
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
