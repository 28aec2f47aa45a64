//! Where invoices live: the PDFs on disk, the journal of uploads, and an index in memory
//! rebuilt from the PDFs at each start.
//!
//! One upload at a time goes through [`InvoiceStore::put`], on a blocking thread that runs to
//! the end even if the client hangs up, so the decision, the files and the index never
//! disagree. The steps of a create, and what a crash after each leaves:
//!
//! 1. PDF written to a temporary file, fsynced: a leftover temporary, ignored at start;
//! 2. renamed to `invoices/<customer>/<number>.pdf`, folder fsynced: the invoice is held but
//!    has no `created` line; the next start writes one marked `recovered`, and a retried
//!    `PUT` answers 200 identical;
//! 3. `created` line appended and fsynced, then the answer: done.
//!
//! So each held invoice has exactly one `created` line, and no invoice is created twice.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::log::{self, UploadOutcome, UploadRecord};
use super::upload::{check_number, decide, parse_customer_id, Decision, Upload};
use super::HeldInvoice;
use crate::durable;
use crate::error::ShopError;

/// Folder of the PDFs inside the data folder.
const INVOICES_DIR: &str = "invoices";

/// What a `PUT` came to, with the invoice to show in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PutOutcome {
    /// Stored now.
    Created(HeldInvoice),
    /// Held already, identical.
    Identical(HeldInvoice),
    /// Held already, different: this is what is held.
    Conflict(HeldInvoice),
}

/// The invoices the shop holds.
#[derive(Debug)]
pub(crate) struct InvoiceStore {
    data_dir: PathBuf,
    index: RwLock<BTreeMap<String, HeldInvoice>>,
    /// Taken for a whole upload: decide, write, journal, index.
    writer: Mutex<()>,
}

/// A PDF found on disk at start.
struct FoundPdf {
    invoice: HeldInvoice,
    path: PathBuf,
    modified: Timestamp,
}

impl InvoiceStore {
    /// Opens the store in `data_dir`, creating its folders, and rebuilds the index from the
    /// PDFs there. Blocking.
    pub(crate) fn open(data_dir: &Path) -> Result<Self, ShopError> {
        let root = data_dir.join(INVOICES_DIR);
        durable::create_dir_durably(&root)?;
        let log_path = log::log_path(data_dir);
        log::repair_torn_tail(&log_path)?;

        let created_at = first_created_times(&log::read_upload_log(data_dir)?);
        let mut index = BTreeMap::new();
        for found in scan(&root)? {
            let invoice = settle_received_at(found, &created_at, &log_path)?;
            index.insert(invoice.number.clone(), invoice);
        }
        tracing::info!(held = index.len(), data_dir = %data_dir.display(), "invoice store open");

        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            index: RwLock::new(index),
            writer: Mutex::new(()),
        })
    }

    /// The invoice held under `number`.
    pub(crate) fn get(&self, number: &str) -> Option<HeldInvoice> {
        self.read_index().get(number).cloned()
    }

    /// Every held invoice, by number.
    pub(crate) fn all(&self) -> Vec<HeldInvoice> {
        self.read_index().values().cloned().collect()
    }

    /// The invoices of one customer, by number.
    pub(crate) fn of_customer(&self, customer_id: u64) -> Vec<HeldInvoice> {
        let index = self.read_index();
        index
            .values()
            .filter(|i| i.customer_id == customer_id)
            .cloned()
            .collect()
    }

    /// The data folder (for reading the journal).
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Decides and records an upload; returns once the outcome is on disk.
    pub(crate) async fn put(self: &Arc<Self>, upload: Upload) -> Result<PutOutcome, ShopError> {
        let store = Arc::clone(self);
        // A blocking task is not cancelled when the request's future is dropped.
        tokio::task::spawn_blocking(move || store.put_now(upload)).await?
    }

    fn put_now(&self, upload: Upload) -> Result<PutOutcome, ShopError> {
        let _turn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let at = Timestamp::now();
        let decision = decide(
            self.get(&upload.number).as_ref(),
            upload.customer_id,
            &upload.sha256,
        );
        let outcome = match decision {
            Decision::Create => UploadOutcome::Created,
            Decision::Identical(_) => UploadOutcome::Identical,
            Decision::Conflict(_) => UploadOutcome::Conflict,
        };
        let invoice = HeldInvoice {
            number: upload.number,
            customer_id: upload.customer_id,
            sha256: upload.sha256,
            size: upload.pdf.len() as u64,
            received_at: at,
        };

        if decision == Decision::Create {
            self.write_pdf(&invoice, &upload.pdf)?;
        }
        log::append(
            &log::log_path(&self.data_dir),
            &record(&invoice, outcome, false),
        )?;

        Ok(match decision {
            Decision::Create => {
                self.write_index()
                    .insert(invoice.number.clone(), invoice.clone());
                PutOutcome::Created(invoice)
            }
            Decision::Identical(held) => PutOutcome::Identical(held),
            Decision::Conflict(held) => PutOutcome::Conflict(held),
        })
    }

    fn write_pdf(&self, invoice: &HeldInvoice, pdf: &[u8]) -> Result<(), ShopError> {
        let dir = self
            .data_dir
            .join(INVOICES_DIR)
            .join(invoice.customer_id.to_string());
        durable::create_dir_durably(&dir)?;
        durable::write_atomically(&dir, &format!("{}.pdf", invoice.number), pdf)
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, HeldInvoice>> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, HeldInvoice>> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn record(invoice: &HeldInvoice, outcome: UploadOutcome, recovered: bool) -> UploadRecord {
    UploadRecord {
        number: invoice.number.clone(),
        customer_id: invoice.customer_id,
        sha256: invoice.sha256.clone(),
        outcome,
        at: invoice.received_at,
        recovered,
    }
}

/// When each invoice was created, from the journal.
fn first_created_times(records: &[UploadRecord]) -> HashMap<String, Timestamp> {
    let mut times = HashMap::new();
    for r in records
        .iter()
        .filter(|r| r.outcome == UploadOutcome::Created)
    {
        times.entry(r.number.clone()).or_insert(r.at);
    }
    times
}

/// Dates a found PDF from its `created` line; writes the line when a crash lost it.
fn settle_received_at(
    found: FoundPdf,
    created_at: &HashMap<String, Timestamp>,
    log_path: &Path,
) -> Result<HeldInvoice, ShopError> {
    let mut invoice = found.invoice;
    if let Some(at) = created_at.get(&invoice.number) {
        invoice.received_at = *at;
        return Ok(invoice);
    }

    invoice.received_at = found.modified;
    let path = found.path.display();
    tracing::warn!(number = %invoice.number, %path, "PDF without its created line, recovering");
    log::append(log_path, &record(&invoice, UploadOutcome::Created, true))?;
    Ok(invoice)
}

/// Finds `<customer>/<number>.pdf` under `root`, skipping anything else (temporary files).
fn scan(root: &Path) -> Result<Vec<FoundPdf>, ShopError> {
    let mut found: Vec<FoundPdf> = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for (customer_id, dir) in customer_dirs(root)? {
        for path in pdf_files(&dir)? {
            let pdf = read_pdf(&path, customer_id)?;
            if let Some(first) = seen.insert(pdf.invoice.number.clone(), path.clone()) {
                return Err(ShopError::DuplicateInvoice {
                    number: pdf.invoice.number,
                    first,
                    second: path,
                });
            }
            found.push(pdf);
        }
    }
    Ok(found)
}

fn customer_dirs(root: &Path) -> Result<Vec<(u64, PathBuf)>, ShopError> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(root).map_err(ShopError::io("list", root))? {
        let path = entry.map_err(ShopError::io("list", root))?.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_customer_id);
        match id {
            Some(id) if path.is_dir() => dirs.push((id, path)),
            _ => tracing::debug!(path = %path.display(), "not a customer folder, ignored"),
        }
    }
    Ok(dirs)
}

fn pdf_files(dir: &Path) -> Result<Vec<PathBuf>, ShopError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(ShopError::io("list", dir))? {
        let path = entry.map_err(ShopError::io("list", dir))?.path();
        let is_invoice = path.extension().is_some_and(|e| e == "pdf")
            && path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| check_number(s).is_ok());
        if is_invoice && path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

fn read_pdf(path: &Path, customer_id: u64) -> Result<FoundPdf, ShopError> {
    let bytes = fs::read(path).map_err(ShopError::io("read", path))?;
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(ShopError::io("read the modification time of", path))?;
    let number = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();

    Ok(FoundPdf {
        invoice: HeldInvoice {
            number: number.to_owned(),
            customer_id,
            sha256: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            received_at: Timestamp::UNIX_EPOCH,
        },
        path: path.to_path_buf(),
        modified: Timestamp::try_from(modified).unwrap_or(Timestamp::UNIX_EPOCH),
    })
}
