//! A storage layer that fails or pauses on demand, for the fault tests:
//! a full disk (every write and growth fails with "no space left"), failing
//! syncs (writes go through, every fsync fails with an I/O error) and a
//! gate on fsync (the test holds a sync and checks that nothing was
//! acknowledged while the data was not yet on disk).
//!
//! It wraps redb's own file backend, and the intake log's file, and is a
//! pass-through when untouched.

use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

use super::log::LogFile;

/// The switches a test holds.
#[derive(Debug, Default)]
pub struct FaultSwitches {
    full: AtomicBool,
    failing_syncs: AtomicBool,
    gate_closed: Mutex<bool>,
    gate: Condvar,
    syncs_waiting: AtomicU64,
    refused_writes: AtomicU64,
    syncs: AtomicU64,
}

impl FaultSwitches {
    /// Makes the disk full (`true`) or gives space back (`false`).
    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    /// Makes every fsync fail with an I/O error (`true`) while writes still
    /// reach the file, as a disk that returns EIO on flush does.
    pub fn set_failing_syncs(&self, failing: bool) {
        self.failing_syncs.store(failing, Ordering::SeqCst);
    }

    /// Closes the fsync gate: syncs block until [`FaultSwitches::open_gate`].
    pub fn close_gate(&self) {
        *self.gate_closed.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// Opens the fsync gate and lets blocked syncs finish.
    pub fn open_gate(&self) {
        *self.gate_closed.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.gate.notify_all();
    }

    /// Syncs currently blocked at the gate.
    pub fn syncs_waiting(&self) -> u64 {
        self.syncs_waiting.load(Ordering::SeqCst)
    }

    /// Writes refused because the disk was full.
    pub fn refused_writes(&self) -> u64 {
        self.refused_writes.load(Ordering::SeqCst)
    }

    /// Syncs completed.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    fn refuse_if_full(&self) -> Result<(), BackendError> {
        self.refuse_io_if_full().map_err(BackendError::Io)
    }

    fn refuse_io_if_full(&self) -> std::io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            self.refused_writes.fetch_add(1, Ordering::SeqCst);
            return Err(std::io::Error::from_raw_os_error(28));
        }
        Ok(())
    }

    /// Refuses a sync while syncs fail (EIO); the data stays written.
    fn refuse_io_if_syncs_fail(&self) -> std::io::Result<()> {
        if self.failing_syncs.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        Ok(())
    }

    /// Holds a sync at the gate, then counts it.
    fn sync<E>(&self, inner: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        self.wait_at_gate();
        let result = inner();
        self.syncs.fetch_add(1, Ordering::SeqCst);
        result
    }

    fn wait_at_gate(&self) {
        let mut closed = self.gate_closed.lock().unwrap_or_else(|e| e.into_inner());
        if *closed {
            self.syncs_waiting.fetch_add(1, Ordering::SeqCst);
            while *closed {
                closed = self.gate.wait(closed).unwrap_or_else(|e| e.into_inner());
            }
            self.syncs_waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// redb's file backend with [`FaultSwitches`] in front.
#[derive(Debug)]
pub struct FaultyBackend {
    inner: FileBackend,
    switches: Arc<FaultSwitches>,
}

impl FaultyBackend {
    /// Opens (or creates) the store file behind switches.
    pub fn open(path: &Path, switches: Arc<FaultSwitches>) -> std::io::Result<FaultyBackend> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(FaultyBackend {
            inner: FileBackend::new(file),
            switches,
        })
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> Result<u64, BackendError> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        if len > self.inner.len()? {
            self.switches.refuse_if_full()?;
        }
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        self.switches.refuse_if_full()?;
        self.switches
            .refuse_io_if_syncs_fail()
            .map_err(BackendError::Io)?;
        self.switches.sync(|| self.inner.sync_data())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        self.switches.refuse_if_full()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> Result<(), BackendError> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// The intake log's file with the same [`FaultSwitches`] in front.
#[derive(Debug)]
pub struct FaultyLog {
    file: std::fs::File,
    switches: Arc<FaultSwitches>,
}

impl FaultyLog {
    /// Opens (or creates) the log file behind switches.
    pub fn open(path: &Path, switches: Arc<FaultSwitches>) -> std::io::Result<FaultyLog> {
        Ok(FaultyLog {
            file: super::log::open_file(path)?,
            switches,
        })
    }
}

impl LogFile for FaultyLog {
    fn len(&self) -> std::io::Result<u64> {
        LogFile::len(&self.file)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        LogFile::read_exact_at(&self.file, buf, offset)
    }

    fn write_all_at(&self, data: &[u8], offset: u64) -> std::io::Result<()> {
        self.switches.refuse_io_if_full()?;
        LogFile::write_all_at(&self.file, data, offset)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.switches.refuse_io_if_full()?;
        self.switches.refuse_io_if_syncs_fail()?;
        self.switches.sync(|| LogFile::sync_data(&self.file))
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        if len > LogFile::len(&self.file)? {
            self.switches.refuse_io_if_full()?;
        }
        LogFile::set_len(&self.file, len)
    }
}
