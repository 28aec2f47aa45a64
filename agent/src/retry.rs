//! When to try again: capped exponential backoff with jitter.
//!
//! Pure: the caller passes the attempt number and a jitter value in
//! `[0, 1)`, so the schedule is testable without clocks or randomness.

use std::time::Duration;

/// A retry schedule.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay before the second attempt.
    pub base: Duration,
    /// Longest delay between attempts.
    pub cap: Duration,
}

impl Backoff {
    /// Delay before attempt `attempt + 1` (attempt counts from 1): the
    /// exponential delay, capped, then spread over its upper half by
    /// `jitter` so that many boxes do not retry in step.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.cap);
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A jitter value in `[0, 1)` from the process's random hasher keys.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        };
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay(30, 1.0), Duration::from_secs(5));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(200));
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
