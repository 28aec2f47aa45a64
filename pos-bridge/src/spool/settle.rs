//! When is a file in a spool folder complete? A pure decision on what the
//! folder scans saw, with the time passed in, so it is tested without disks
//! or clocks.
//!
//! A writer that does not rename into place gives no sign that it has
//! finished, so a file is taken once its size and modification time have
//! not changed over the settle time. A file renamed into the folder is
//! complete at once: writers rename only when done. A file the caller could
//! not use yet (still being written, or its destination is down) waits until
//! it changes or until the time the caller gave.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// What a scan saw of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Size in bytes.
    pub size: u64,
    /// Last modification time, when the file system gives one.
    pub modified: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Seen unchanged since `since`.
    Settling { since: Instant },
    /// Handed to the caller, not finished yet.
    Offered,
    /// Handed back by the caller: offered again when it changes or at `until`.
    Waiting { until: Instant },
}

#[derive(Debug, Clone)]
struct Entry {
    seen: Observation,
    state: State,
}

/// The completeness state of every file of one folder.
#[derive(Debug)]
pub struct Settle {
    settle: Duration,
    files: HashMap<String, Entry>,
}

impl Settle {
    /// Files are complete after `settle` without change.
    pub fn new(settle: Duration) -> Settle {
        Settle {
            settle,
            files: HashMap::new(),
        }
    }

    /// Records a full scan of the folder: every candidate file and what was
    /// seen of it. Files no longer listed are forgotten.
    pub fn scan(&mut self, now: Instant, listing: impl IntoIterator<Item = (String, Observation)>) {
        let mut listed = std::collections::HashSet::new();
        for (name, seen) in listing {
            listed.insert(name.clone());
            match self.files.get_mut(&name) {
                None => {
                    let state = State::Settling { since: now };
                    self.files.insert(name, Entry { seen, state });
                }
                Some(entry) if entry.seen != seen => {
                    entry.seen = seen;
                    // A file being handled is not reset: the caller reads it whole.
                    if entry.state != State::Offered {
                        entry.state = State::Settling { since: now };
                    }
                }
                Some(_) => {}
            }
        }
        self.files.retain(|name, _| listed.contains(name));
    }

    /// A file was renamed into the folder: complete now.
    pub fn renamed_in(&mut self, name: &str, seen: Observation, now: Instant) {
        let since = now.checked_sub(self.settle).unwrap_or(now);
        let entry = self.files.entry(name.to_string()).or_insert(Entry {
            seen,
            state: State::Settling { since },
        });
        if entry.state != State::Offered {
            entry.seen = seen;
            entry.state = State::Settling { since };
        }
    }

    /// Files complete at `now`, in name order; they become offered.
    pub fn ready(&mut self, now: Instant) -> Vec<String> {
        let mut ready: Vec<String> = self
            .files
            .iter()
            .filter(|(_, entry)| match entry.state {
                State::Settling { since } => now.duration_since(since) >= self.settle,
                State::Waiting { until } => now >= until,
                State::Offered => false,
            })
            .map(|(name, _)| name.clone())
            .collect();
        ready.sort();
        for name in &ready {
            if let Some(entry) = self.files.get_mut(name) {
                entry.state = State::Offered;
            }
        }
        ready
    }

    /// The next time a file may become complete, if any is waiting.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.files
            .values()
            .filter_map(|entry| match entry.state {
                State::Settling { since } => Some(since + self.settle),
                State::Waiting { until } => Some(until),
                State::Offered => None,
            })
            .min()
    }

    /// The caller could not use an offered file yet: offer it again when it
    /// changes, or at `until` at the latest.
    pub fn wait(&mut self, name: &str, until: Instant) {
        if let Some(entry) = self.files.get_mut(name) {
            entry.state = State::Waiting { until };
        }
    }

    /// The file left the folder (done or rejected).
    pub fn forget(&mut self, name: &str) {
        self.files.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(size: u64) -> Observation {
        Observation {
            size,
            modified: None,
        }
    }

    fn scan(settle: &mut Settle, now: Instant, files: &[(&str, u64)]) {
        settle.scan(now, files.iter().map(|(n, s)| (n.to_string(), seen(*s))));
    }

    #[test]
    fn a_file_is_ready_only_after_the_settle_time_without_change() {
        let t0 = Instant::now();
        let mut settle = Settle::new(Duration::from_secs(2));
        scan(&mut settle, t0, &[("a.csv", 10)]);
        assert!(settle.ready(t0 + Duration::from_secs(1)).is_empty());
        scan(&mut settle, t0 + Duration::from_secs(1), &[("a.csv", 20)]);
        assert!(
            settle.ready(t0 + Duration::from_secs(2)).is_empty(),
            "grew: restarts"
        );
        assert_eq!(settle.next_deadline(), Some(t0 + Duration::from_secs(3)));
        assert_eq!(settle.ready(t0 + Duration::from_secs(3)), ["a.csv"]);
        assert!(
            settle.ready(t0 + Duration::from_secs(9)).is_empty(),
            "offered once"
        );
    }

    #[test]
    fn a_file_renamed_in_is_ready_at_once() {
        let t0 = Instant::now() + Duration::from_secs(60);
        let mut settle = Settle::new(Duration::from_secs(30));
        settle.renamed_in("b.csv", seen(5), t0);
        assert_eq!(settle.ready(t0), ["b.csv"]);
    }

    #[test]
    fn a_file_handed_back_waits_for_a_change_or_its_time() {
        let t0 = Instant::now();
        let mut settle = Settle::new(Duration::from_secs(1));
        scan(&mut settle, t0, &[("c.csv", 10)]);
        assert_eq!(settle.ready(t0 + Duration::from_secs(1)), ["c.csv"]);
        settle.wait("c.csv", t0 + Duration::from_secs(60));
        scan(&mut settle, t0 + Duration::from_secs(2), &[("c.csv", 10)]);
        assert!(settle.ready(t0 + Duration::from_secs(5)).is_empty());
        scan(&mut settle, t0 + Duration::from_secs(5), &[("c.csv", 11)]);
        assert_eq!(
            settle.ready(t0 + Duration::from_secs(6)),
            ["c.csv"],
            "changed"
        );
        settle.wait("c.csv", t0 + Duration::from_secs(60));
        assert_eq!(
            settle.ready(t0 + Duration::from_secs(60)),
            ["c.csv"],
            "its time"
        );
    }

    #[test]
    fn a_file_gone_from_the_folder_is_forgotten() {
        let t0 = Instant::now();
        let mut settle = Settle::new(Duration::from_secs(1));
        scan(&mut settle, t0, &[("d.csv", 1)]);
        scan(&mut settle, t0, &[]);
        assert!(settle.ready(t0 + Duration::from_secs(5)).is_empty());
        assert_eq!(settle.next_deadline(), None);
    }
}
