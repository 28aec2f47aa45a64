//! How fast import files go to the ERP.
//!
//! A sales event can queue ten times a usual day in an hour; written at
//! once, that is dozens of files the ERP imports in one sweep while the
//! counter staff wait on it. The delivery worker asks [`FileRate`] how many
//! files may go now: at most `per_minute` in any sliding minute. The
//! backlog stays in the store's queue (on disk, counted by `relais
//! status`) and drains at that pace. Pure: the caller passes the time.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

const WINDOW: SignedDuration = SignedDuration::from_secs(60);

/// Whether a file written `at` counts against the minute ending `now`.
pub fn in_last_minute(at: Timestamp, now: Timestamp) -> bool {
    at <= now && now - WINDOW < at
}

/// At most `per_minute` files in any minute; 0 for no limit.
#[derive(Debug, Clone, Default)]
pub struct FileRate {
    per_minute: u32,
    /// When the files of the last minute were written, oldest first.
    recent: VecDeque<Timestamp>,
}

impl FileRate {
    /// A limit of `per_minute` files per minute (0: none).
    pub fn new(per_minute: u32) -> FileRate {
        FileRate {
            per_minute,
            recent: VecDeque::new(),
        }
    }

    /// No limit.
    pub fn unlimited() -> FileRate {
        FileRate::new(0)
    }

    fn forget_before(&mut self, now: Timestamp) {
        while self.recent.front().is_some_and(|&at| now - WINDOW >= at) {
            self.recent.pop_front();
        }
    }

    /// How many files may be written at `now`.
    pub fn room(&mut self, now: Timestamp) -> usize {
        if self.per_minute == 0 {
            return usize::MAX;
        }
        self.forget_before(now);
        (self.per_minute as usize).saturating_sub(self.recent.len())
    }

    /// Counts files written before this `FileRate` existed (found in the
    /// ERP's folders when the daemon starts), so that a restart does not
    /// allow a second burst in the same minute. Times outside the minute
    /// before `now` are ignored.
    pub fn seed(&mut self, now: Timestamp, written: impl IntoIterator<Item = Timestamp>) {
        if self.per_minute == 0 {
            return;
        }
        let mut all: Vec<Timestamp> = self.recent.drain(..).collect();
        all.extend(written.into_iter().filter(|&at| in_last_minute(at, now)));
        all.sort_unstable();
        self.recent = all.into();
    }

    /// Records a file written at `now`.
    pub fn record(&mut self, now: Timestamp) {
        if self.per_minute > 0 {
            self.recent.push_back(now);
        }
    }

    /// When the next file may go, if none may at `now`.
    pub fn next_at(&mut self, now: Timestamp) -> Option<Timestamp> {
        if self.room(now) > 0 {
            return None;
        }
        self.recent.front().map(|&oldest| oldest + WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    #[test]
    fn no_more_than_the_limit_goes_in_any_minute() {
        let mut rate = FileRate::new(3);
        for s in 0..3 {
            assert!(rate.room(at(s)) > 0);
            rate.record(at(s));
        }
        assert_eq!(rate.room(at(10)), 0);
        assert_eq!(rate.next_at(at(10)), Some(at(60)));
        assert_eq!(rate.room(at(59)), 0);
        assert_eq!(rate.room(at(60)), 1, "the first file's minute is over");
        assert_eq!(rate.room(at(62)), 3);
    }

    #[test]
    fn files_found_at_start_count_against_the_minute() {
        let mut rate = FileRate::new(3);
        rate.seed(at(100), [at(20), at(70), at(90), at(101)]);
        assert_eq!(rate.room(at(100)), 1, "two files of the last minute");
        rate.record(at(100));
        assert_eq!(rate.next_at(at(100)), Some(at(130)));
        let mut unlimited = FileRate::unlimited();
        unlimited.seed(at(100), [at(90)]);
        assert_eq!(unlimited.room(at(100)), usize::MAX);
    }

    #[test]
    fn zero_means_no_limit() {
        let mut rate = FileRate::unlimited();
        for _ in 0..1000 {
            rate.record(at(0));
        }
        assert_eq!(rate.room(at(0)), usize::MAX);
        assert_eq!(rate.next_at(at(0)), None);
    }

    /// A spike of ten usual days (7,000 orders, 100 per file: 70 files) with
    /// 10 files a minute and a delivery round every 5 seconds drains in
    /// seven minutes, steadily, never more than 10 files in a minute.
    #[test]
    fn a_spike_drains_steadily_at_the_rate() {
        let mut rate = FileRate::new(10);
        let mut backlog = 70;
        let mut written: Vec<i64> = Vec::new();
        let mut now = 0;
        while backlog > 0 {
            let go = rate.room(at(now)).min(backlog);
            for _ in 0..go {
                rate.record(at(now));
                written.push(now);
            }
            backlog -= go;
            now += 5;
            assert!(now < 3600, "the backlog must drain");
        }
        let last = *written.last().expect("files");
        assert_eq!(last, 360, "7 minutes of 10 files: the last goes at 6:00");
        for &start in &written {
            let in_minute = written
                .iter()
                .filter(|&&t| t >= start && t < start + 60)
                .count();
            assert!(
                in_minute <= 10,
                "{in_minute} files in the minute from {start}"
            );
        }
    }
}
