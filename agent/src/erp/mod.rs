//! The ERP side: import files out, invoice exports in, both through spool
//! folders on the LAN.
//!
//! Import files are batches: queued documents are grouped under a stable
//! name in one commit; the file is written under a temporary name and
//! fsynced; the batch is marked staged in a second commit; the file is
//! renamed into place and the folder fsynced; the batch is marked delivered
//! in a third commit. After a crash, an unstaged batch is written again
//! (same name, same bytes); a staged one is only renamed if its temporary
//! file is still there, and never rewritten, since the ERP may have taken
//! and removed the file already.
//!
//! Files go at most `max_files_per_minute` a minute ([`throttle`]), and the
//! ERP's answers (a done folder, rejection files) confirm or quarantine
//! what was delivered ([`replies`]).

pub mod replies;
pub mod throttle;

use std::fs;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use pos_bridge::dialect::Dialect;
use pos_bridge::spool::{self, SpoolError};
use sha2::{Digest, Sha256};

use crate::mapping::import::{render_file, ImportRow};
use crate::store::{decode, Batch, Dest, Intake, IntakeOutcome, Kind, State, Store, StoreError};
use throttle::FileRate;

/// How Relais's import files are named: `CMD_<day>_<batch>.csv`.
const IMPORT_PREFIX: &str = "CMD_";

/// Where and how the ERP exchanges files.
#[derive(Debug, Clone)]
pub struct ErpSettings {
    /// Folder the ERP imports order files from.
    pub import_dir: PathBuf,
    /// Folder the ERP moves imported files to, if it does. When set, the
    /// ERP's answers are read: a file found there is confirmed, a rejection
    /// file beside an import file quarantines what it refuses.
    pub import_done_dir: Option<PathBuf>,
    /// Name of the rejection file the ERP writes beside an import file it
    /// refuses in part (`{name}`: the import file's name, `{stem}`: without
    /// its extension), relative to the import folder.
    pub rejection_name: String,
    /// At most this many import files a minute (0: no limit).
    pub max_files_per_minute: u32,
    /// Folder the ERP drops its invoice exports in.
    pub export_dir: PathBuf,
    /// Dialect of import files.
    pub dialect: Dialect,
    /// At most this many orders or tickets per import file.
    pub max_docs_per_file: usize,
    /// An export file is taken only once it has not changed for this long,
    /// so a file the ERP is still writing under its final name is left
    /// alone. Zero when the ERP writes under a temporary name and renames.
    pub export_settle: std::time::Duration,
}

impl ErpSettings {
    /// The usual layout under one share: `import/` and `export/`, the
    /// French ERP dialect, 100 documents per file, and exports taken as soon
    /// as they appear (the ERP writes them under a temporary name and
    /// renames; set `export_settle` for one that does not).
    pub fn under(folder: &Path) -> ErpSettings {
        ErpSettings {
            import_dir: folder.join("import"),
            import_done_dir: None,
            export_dir: folder.join("export"),
            dialect: Dialect::french_erp(),
            max_docs_per_file: 100,
            export_settle: std::time::Duration::ZERO,
            rejection_name: "{name}.rej".to_string(),
            max_files_per_minute: 0,
        }
    }
}

/// An ERP exchange failure.
#[derive(Debug, thiserror::Error)]
pub enum ErpError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A spool folder failed (disk full, share gone...).
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Files written.
    pub files: usize,
    /// Documents in them.
    pub documents: usize,
    /// Batches found already written after a crash.
    pub recovered: usize,
    /// True if documents were left queued because the file rate was reached.
    pub throttled: bool,
}

/// When the import files of the last minute were written: Relais's files
/// (`CMD_*.csv`) in the import folder and the ERP's done folder, by their
/// modification time (a rename keeps it). A folder that cannot be read
/// counts as empty, with a warning: the rate is a courtesy to the ERP, not
/// a safety.
pub fn recent_imports(settings: &ErpSettings, now: Timestamp) -> Vec<Timestamp> {
    let folders = std::iter::once(&settings.import_dir).chain(settings.import_done_dir.as_ref());
    let mut times = Vec::new();
    for folder in folders {
        let entries = match std::fs::read_dir(folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!(folder = %folder.display(), error = %e,
                    "cannot list the ERP folder to count the last minute's files");
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(IMPORT_PREFIX) && name.ends_with(".csv")) {
                continue;
            }
            let modified = entry.metadata().and_then(|m| m.modified());
            let Ok(modified) = modified else { continue };
            let Ok(at) = Timestamp::try_from(modified) else {
                continue;
            };
            if throttle::in_last_minute(at, now) {
                times.push(at);
            }
        }
    }
    times
}

/// Writes every queued document to import files, with no rate limit.
pub fn deliver_imports(
    store: &Store,
    settings: &ErpSettings,
    tz: &TimeZone,
) -> Result<DeliveryReport, ErpError> {
    deliver_imports_limited(store, settings, tz, &mut FileRate::unlimited())
}

/// Writes queued documents to import files as long as `rate` has room;
/// the rest stays queued for a later round. A batch left open by a crash
/// is finished first, whatever the rate: its name is already promised.
pub fn deliver_imports_limited(
    store: &Store,
    settings: &ErpSettings,
    tz: &TimeZone,
    rate: &mut FileRate,
) -> Result<DeliveryReport, ErpError> {
    deliver_imports_at(store, settings, tz, rate, Timestamp::now())
}

/// [`deliver_imports_limited`] as if the round ran at `now` (a round takes
/// milliseconds; the rate counts minutes). The spike benchmark drives it
/// with a simulated clock to find the drain time without waiting for it.
pub fn deliver_imports_at(
    store: &Store,
    settings: &ErpSettings,
    tz: &TimeZone,
    rate: &mut FileRate,
    now: Timestamp,
) -> Result<DeliveryReport, ErpError> {
    let mut report = DeliveryReport::default();
    spool::ensure_dir(&settings.import_dir)?;
    for batch in store.open_batches(Dest::Erp)? {
        report.recovered += 1;
        deliver_batch(store, settings, &batch, &mut report)?;
        rate.record(now);
    }
    let day = now
        .to_zoned(tz.clone())
        .date()
        .strftime("%Y%m%d")
        .to_string();
    loop {
        if rate.room(now) == 0 {
            report.throttled = !store.in_state(State::Queued(Dest::Erp), 1)?.is_empty();
            if report.throttled {
                tracing::warn!(
                    per_minute = settings.max_files_per_minute,
                    "ERP file rate reached: the rest stays queued for the next minute"
                );
            }
            return Ok(report);
        }
        let queued = store.in_state(State::Queued(Dest::Erp), settings.max_docs_per_file.max(1))?;
        if queued.is_empty() {
            return Ok(report);
        }
        let ids: Vec<u64> = queued.iter().map(|m| m.id).collect();
        let batch = store.create_batch(Dest::Erp, &ids, |n| {
            format!("{IMPORT_PREFIX}{day}_{n:06}.csv")
        })?;
        deliver_batch(store, settings, &batch, &mut report)?;
        rate.record(now);
    }
}

fn deliver_batch(
    store: &Store,
    settings: &ErpSettings,
    batch: &Batch,
    report: &mut DeliveryReport,
) -> Result<(), ErpError> {
    let mut rows: Vec<ImportRow> = Vec::new();
    for &id in &batch.docs {
        let mapped = store.mapped(id)?;
        let doc_rows: Vec<ImportRow> = decode(&mapped).map_err(|source| StoreError::Damaged {
            what: format!("mapped rows of document {id} in batch {}", batch.name),
            source,
        })?;
        rows.extend(doc_rows);
    }
    let target = settings.import_dir.join(&batch.name);
    if !batch.staged {
        let bytes = render_file(&rows, &settings.dialect);
        if !already_delivered(settings, &batch.name, &target, &bytes) {
            let temp = spool::write_temp(&target, &bytes)?;
            store.stage_batch(batch)?;
            spool::publish_temp(&temp, &target)?;
        }
    } else {
        // Staged before a crash: the complete file was fsynced under its
        // temporary name. If that name is gone, the rename happened and the
        // ERP may even have taken the file already: never write it again.
        let temp = spool::temp_path(&target);
        if temp.exists() {
            spool::publish_temp(&temp, &target)?;
        }
    }
    store.complete_batch(batch)?;
    report.files += 1;
    report.documents += batch.docs.len();
    tracing::info!(file = %batch.name, documents = batch.docs.len(), "import file written");
    Ok(())
}

/// Is this batch's file already at the ERP (in its import folder with the
/// same bytes, or already taken into its done folder)?
fn already_delivered(settings: &ErpSettings, name: &str, target: &Path, bytes: &[u8]) -> bool {
    let taken = settings
        .import_done_dir
        .as_ref()
        .is_some_and(|d| d.join(name).exists());
    taken || fs::read(target).is_ok_and(|existing| existing == bytes)
}

/// What one export scan did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportScan {
    /// Files stored as new exports.
    pub taken: Vec<String>,
    /// Files whose content was already stored (moved to done, nothing else).
    pub duplicates: Vec<String>,
}

/// Takes every complete file from the export folder: stores it, then moves
/// it to `done/<day>/`. The move happens only after the commit, so a crash
/// leaves the file in place to be taken again (a dedup no-op).
pub fn take_exports(
    store: &Store,
    settings: &ErpSettings,
    tz: &TimeZone,
) -> Result<ExportScan, ErpError> {
    spool::ensure_dir(&settings.export_dir)?;
    let mut scan = ExportScan::default();
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    for path in export_files(&settings.export_dir)? {
        if !settled(&path, settings.export_settle) {
            tracing::debug!(file = %path.display(), "export still changing, taken later");
            continue;
        }
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let bytes = fs::read(&path).map_err(|source| SpoolError {
            action: "read",
            path: path.clone(),
            source,
        })?;
        let intake = Intake {
            kind: Kind::InvoiceExport,
            external_id: name.clone(),
            revision: hex::encode(Sha256::digest(&bytes)),
            day: today,
            amount: Default::default(),
            body: bytes,
            parent: None,
        };
        match store.intake(vec![intake])?.first() {
            Some(IntakeOutcome::Duplicate(_)) => {
                tracing::info!(file = %name, "export already taken: moved to done");
                scan.duplicates.push(name);
            }
            _ => {
                tracing::info!(file = %name, "export stored");
                scan.taken.push(name);
            }
        }
        spool::move_to_done(&path, &today.to_string())?;
    }
    Ok(scan)
}

/// Has the file stopped changing for `settle`?
pub(crate) fn settled(path: &Path, settle: std::time::Duration) -> bool {
    if settle.is_zero() {
        return true;
    }
    let modified = fs::metadata(path).and_then(|m| m.modified());
    modified.is_ok_and(|at| at.elapsed().is_ok_and(|age| age >= settle))
}

/// Regular, non-temporary files of a spool folder, by name.
fn export_files(dir: &Path) -> Result<Vec<PathBuf>, SpoolError> {
    let entries = fs::read_dir(dir).map_err(|source| SpoolError {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !spool::is_temporary_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}
