//! When the daemon does what: the nightly pull, daytime pulls, the export
//! alert, in the site's local time.
//!
//! Everything here is a pure function of "now" (a UTC instant) and the
//! site's time zone, so the daylight-saving days are tested with a fake
//! clock. Local times that do not exist (02:30 on the last Sunday of March
//! in Paris) fall to the first instant after the gap; local times that
//! happen twice (02:30 on the last Sunday of October) are taken the first
//! time, so nothing runs twice in one night.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// The UTC instant of a local date and time.
pub fn instant(date: Date, at: Time, tz: &TimeZone) -> Timestamp {
    // `to_zoned` uses the compatible rule: after a gap, first of a fold.
    match date.to_datetime(at).to_zoned(tz.clone()) {
        Ok(z) => z.timestamp(),
        // Only out-of-range dates fail; they are far from any real day.
        Err(_) => Timestamp::MAX,
    }
}

/// The local date of `now`.
pub fn local_date(now: Timestamp, tz: &TimeZone) -> Date {
    now.to_zoned(tz.clone()).date()
}

/// The first instant strictly after `after` at which the local clock reads
/// `at`.
pub fn next_daily(after: Timestamp, at: Time, tz: &TimeZone) -> Timestamp {
    let mut date = local_date(after, tz).yesterday().unwrap_or(Date::MIN);
    loop {
        let candidate = instant(date, at, tz);
        if candidate > after {
            return candidate;
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => return Timestamp::MAX,
        }
    }
}

/// The business day the nightly pull at `pull_at` closes, if it is due at
/// `now`: the pull run at `pull_at` on day D+1 takes day D's orders. A box
/// that was off (or down) at that time finds it due as soon as it runs,
/// for the last day whose pull time has passed; older missed nights need
/// no pull of their own because the cursor covers them.
pub fn nightly_pull_due(
    now: Timestamp,
    last_done: Option<Date>,
    pull_at: Time,
    tz: &TimeZone,
) -> Option<Date> {
    let today = local_date(now, tz);
    let pulled_at_today = instant(today, pull_at, tz);
    let closes = if now >= pulled_at_today {
        today.yesterday().ok()?
    } else {
        today.yesterday().ok()?.yesterday().ok()?
    };
    match last_done {
        Some(done) if done >= closes => None,
        _ => Some(closes),
    }
}

/// When the next nightly pull falls due, given the day last pulled.
pub fn next_nightly_pull(
    now: Timestamp,
    last_done: Option<Date>,
    pull_at: Time,
    tz: &TimeZone,
) -> Timestamp {
    if nightly_pull_due(now, last_done, pull_at, tz).is_some() {
        return now;
    }
    next_daily(now, pull_at, tz)
}

/// The day whose invoice export is late at `now`, if any: the local clock
/// is past `expected_at` and no export was taken today, and the alert was
/// not raised for that day yet.
pub fn export_overdue(
    now: Timestamp,
    last_export_day: Option<Date>,
    last_alert_day: Option<Date>,
    expected_at: Time,
    tz: &TimeZone,
) -> Option<Date> {
    let today = local_date(now, tz);
    if now < instant(today, expected_at, tz) {
        return None;
    }
    if last_export_day.is_some_and(|d| d >= today) || last_alert_day.is_some_and(|d| d >= today) {
        return None;
    }
    Some(today)
}

/// The start of the local day `days` before `now`'s day: where the first
/// pull of a new store begins.
pub fn first_pull_since(now: Timestamp, days: u32, tz: &TimeZone) -> Timestamp {
    let today = local_date(now, tz);
    let first = today
        .checked_sub(Span::new().days(i64::from(days)))
        .unwrap_or(today);
    instant(first, Time::midnight(), tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").expect("tzdb")
    }

    fn utc(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    /// Runs a fake clock minute by minute from `start` for `hours`, pulling
    /// whenever the schedule says so, and returns the UTC instants and
    /// business days of the pulls.
    fn simulate(start: &str, hours: i64, pull_at: Time) -> Vec<(Timestamp, Date)> {
        let tz = paris();
        let mut now = utc(start);
        let end = now + Span::new().hours(hours);
        let mut last_done = None;
        let mut pulls = Vec::new();
        while now < end {
            let wake = next_nightly_pull(now, last_done, pull_at, &tz);
            if wake > now {
                // The daemon sleeps until the wake-up time; jump there.
                now = wake.min(end);
                continue;
            }
            let day = nightly_pull_due(now, last_done, pull_at, &tz).expect("due when woken");
            pulls.push((now, day));
            last_done = Some(day);
            now += Span::new().minutes(1);
        }
        pulls
    }

    #[test]
    fn the_midnight_pull_runs_once_a_night_across_the_spring_change() {
        // From Friday 27 March noon to Tuesday 31 March noon, Paris time.
        let pulls = simulate("2026-03-27T11:00:00Z", 96, time(0, 0, 0, 0));
        let got: Vec<(String, String)> = pulls
            .iter()
            .map(|(at, day)| (at.to_string(), day.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                // The first start finds the 26th unpulled and catches up.
                ("2026-03-27T11:00:00Z", "2026-03-26"),
                ("2026-03-27T23:00:00Z", "2026-03-27"), // midnight CET
                ("2026-03-28T23:00:00Z", "2026-03-28"), // CET: the change is at 02:00
                ("2026-03-29T22:00:00Z", "2026-03-29"), // CEST, after a 23-hour day
                ("2026-03-30T22:00:00Z", "2026-03-30"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn the_midnight_pull_runs_once_a_night_across_the_autumn_change() {
        let pulls = simulate("2026-10-24T10:00:00Z", 72, time(0, 0, 0, 0));
        let at: Vec<String> = pulls.iter().map(|(t, _)| t.to_string()).collect();
        assert_eq!(
            at,
            [
                "2026-10-24T10:00:00Z", // catch-up of the 23rd
                "2026-10-24T22:00:00Z", // midnight CEST
                "2026-10-25T23:00:00Z", // midnight CET, after a 25-hour day
                "2026-10-26T23:00:00Z",
            ]
        );
        let days: Vec<String> = pulls.iter().map(|(_, d)| d.to_string()).collect();
        assert_eq!(
            days,
            ["2026-10-23", "2026-10-24", "2026-10-25", "2026-10-26"]
        );
    }

    #[test]
    fn a_pull_inside_the_changes_runs_once_at_the_right_instant() {
        // 02:30 does not exist on 29 March: it runs at 03:30 CEST.
        let pulls = simulate("2026-03-28T12:00:00Z", 24, time(2, 30, 0, 0));
        assert_eq!(pulls.len(), 2, "{pulls:?}");
        assert_eq!(pulls[1].0.to_string(), "2026-03-29T01:30:00Z");
        // 02:30 happens twice on 25 October: it runs the first time only.
        let pulls = simulate("2026-10-24T12:00:00Z", 24, time(2, 30, 0, 0));
        assert_eq!(pulls.len(), 2, "{pulls:?}");
        assert_eq!(pulls[1].0.to_string(), "2026-10-25T00:30:00Z");
    }

    #[test]
    fn a_box_off_for_three_nights_pulls_once_when_back() {
        let tz = paris();
        let midnight = time(0, 0, 0, 0);
        let last = Some(date(2026, 12, 1));
        // Back on the 5th at 09:00: the 4th's pull is due, once.
        let now = utc("2026-12-05T08:00:00Z");
        assert_eq!(
            nightly_pull_due(now, last, midnight, &tz),
            Some(date(2026, 12, 4))
        );
        assert_eq!(
            nightly_pull_due(now, Some(date(2026, 12, 4)), midnight, &tz),
            None
        );
        assert_eq!(
            next_nightly_pull(now, Some(date(2026, 12, 4)), midnight, &tz).to_string(),
            "2026-12-05T23:00:00Z"
        );
    }

    #[test]
    fn the_export_alert_is_raised_once_per_late_day() {
        let tz = paris();
        let at = time(18, 30, 0, 0);
        let before = utc("2026-10-25T17:29:00Z"); // 18:29 CET
        let after = utc("2026-10-25T17:31:00Z");
        assert_eq!(export_overdue(before, None, None, at, &tz), None);
        assert_eq!(
            export_overdue(after, None, None, at, &tz),
            Some(date(2026, 10, 25))
        );
        let today = Some(date(2026, 10, 25));
        assert_eq!(export_overdue(after, today, None, at, &tz), None);
        assert_eq!(export_overdue(after, None, today, at, &tz), None);
    }

    #[test]
    fn the_first_pull_starts_at_local_midnight() {
        let tz = paris();
        let now = utc("2026-03-29T10:00:00Z");
        assert_eq!(
            first_pull_since(now, 1, &tz).to_string(),
            "2026-03-27T23:00:00Z"
        );
    }
}
