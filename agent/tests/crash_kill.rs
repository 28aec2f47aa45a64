//! Nothing lost, nothing doubled under SIGKILL.
//!
//! Runs `relais demo` on one work folder, kills it with SIGKILL at random
//! moments, restarts it, and after the last kill lets it finish. Then it
//! checks the outputs themselves (the ERP import files on disk and the
//! shop's upload journal), not the store's counters: every sendable order,
//! every ticket and every invoice arrived exactly once.
//!
//! `RELAIS_CRASH_KILLS` sets the number of kills (default 8, small for
//! CI; 500 on demand), `RELAIS_CRASH_SEED` the seed (printed either way).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pos_bridge::dialect::Dialect;
use relais::mapping::import::read_file;

fn sample_day() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/samples/day-2026-12-02")
}

/// A small deterministic generator (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn demo_command(work: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relais"));
    command
        .args(["demo", "--json", "--day"])
        .arg(sample_day())
        .arg("--work")
        .arg(work)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Starts the demo and kills it after `after`, unless it finished first.
/// Returns true if it was killed.
fn run_and_kill(work: &Path, after: Duration) -> bool {
    let mut child = demo_command(work).spawn().expect("start relais demo");
    let deadline = Instant::now() + after;
    loop {
        if child.try_wait().expect("poll child").is_some() {
            return false;
        }
        if Instant::now() >= deadline {
            // Child::kill sends SIGKILL on Unix.
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// (origin, reference) -> number of import files holding it.
fn import_references(dir: &Path) -> BTreeMap<(String, String), usize> {
    let mut seen = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return seen;
    };
    for entry in entries {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with(".csv") || pos_bridge::spool::is_temporary_name(&name) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("read import file");
        let rows = read_file(&bytes, &Dialect::french_erp()).expect("import file parses");
        let refs: std::collections::BTreeSet<_> =
            rows.into_iter().map(|r| (r.origin, r.reference)).collect();
        for key in refs {
            *seen.entry(key).or_insert(0) += 1;
        }
    }
    seen
}

#[test]
fn random_sigkills_lose_and_double_nothing() {
    let kills = env_number("RELAIS_CRASH_KILLS", 8);
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let seed = env_number(
        "RELAIS_CRASH_SEED",
        clock.map_or(0x5EED, |d| d.as_nanos() as u64),
    );
    let seed = if seed == 0 { 1 } else { seed };
    eprintln!("crash test: {kills} kills, seed {seed} (RELAIS_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("temp dir");

    // A first clean run tells how long a whole day takes, so kills land all
    // along it.
    let probe = Instant::now();
    let status = demo_command(&dir.path().join("probe"))
        .status()
        .expect("probe run");
    assert!(status.success(), "the demo must pass without kills");
    let span = probe.elapsed().as_millis() as u64;

    // Each day gets its own work folder; it is killed at random moments and
    // restarted until one run finishes before its kill, then checked.
    let (mut killed, mut days) = (0, 0);
    while killed < kills {
        days += 1;
        let work = dir.path().join(format!("day-{days}"));
        let mut day_kills = 0;
        while killed < kills && run_and_kill(&work, Duration::from_millis(rng.below(span))) {
            killed += 1;
            day_kills += 1;
        }
        let output = demo_command(&work)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("final run");
        assert!(
            output.status.success(),
            "day {days} must reconcile after {day_kills} kills (seed {seed})\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        check_outputs(&work, seed);
    }
    eprintln!("{killed} kills over {days} days: nothing lost, nothing doubled (seed {seed})");
}

fn check_outputs(work: &Path, seed: u64) {
    let refs = import_references(&work.join("erp/import"));
    let doubled: Vec<_> = refs.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        doubled.is_empty(),
        "documents in two import files (seed {seed}): {doubled:?}"
    );
    let orders = refs.keys().filter(|(o, _)| o == "WEB").count();
    let tickets = refs.keys().filter(|(o, _)| o == "CPT").count();
    assert_eq!((orders, tickets), (427, 245), "seed {seed}");

    let uploads = sandbox_shop::read_upload_log(&work.join("shop")).expect("upload journal");
    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    for record in &uploads {
        if record.outcome == sandbox_shop::UploadOutcome::Created {
            *created.entry(record.number.clone()).or_insert(0) += 1;
        }
    }
    assert_eq!(
        created.len(),
        219,
        "every invoice at the shop (seed {seed})"
    );
    assert!(
        created.values().all(|&n| n == 1),
        "an invoice created twice (seed {seed})"
    );
    let conflicts: Vec<_> = uploads
        .iter()
        .filter(|r| r.outcome == sandbox_shop::UploadOutcome::Conflict)
        .map(|r| &r.number)
        .collect();
    assert!(
        conflicts.is_empty(),
        "re-rendered invoices differ (seed {seed}): {conflicts:?}"
    );
}
