//! Working days and hours: weekdays, holidays, and working time added to a moment; moments as
//! people write them, and local midnights, in a pipeline's zone.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// Days of the week as written in `workweek`, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A day of the week as written in `workweek` (`mon` or `monday`, in any case): 0 for Monday.
pub fn weekday(written: &str) -> Option<usize> {
    let lower = written.to_lowercase();
    WEEKDAYS.iter().position(|w| {
        lower == *w || (lower.len() > 3 && lower.starts_with(w) && full_weekday(w) == lower)
    })
}

/// `monday` for `mon`, to accept full day names.
fn full_weekday(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

/// A working-time calendar.
#[derive(Debug, Clone)]
pub struct WorkCalendar {
    /// Working weekdays, Monday first.
    pub workweek: [bool; 7],
    /// Working hours of a working day, sorted.
    pub hours: Vec<(NaiveTime, NaiveTime)>,
    /// Days off besides weekends.
    pub holidays: BTreeSet<NaiveDate>,
}

/// Longest search for a working day, so that a calendar with no working days cannot hang us.
const MAX_SCAN_DAYS: i64 = 3_660;

/// The most working days added at once: a century's.
const MAX_WORKDAYS: i64 = 36_600;

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar {
            workweek: [true, true, true, true, true, false, false],
            hours: vec![(time(9, 0), time(18, 0))],
            holidays: BTreeSet::new(),
        }
    }
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl WorkCalendar {
    /// Whether people work on this day.
    pub fn is_workday(&self, d: NaiveDate) -> bool {
        self.workweek[d.weekday().num_days_from_monday() as usize] && !self.holidays.contains(&d)
    }

    /// The first working day after `d`.
    pub fn next_workday(&self, d: NaiveDate) -> Option<NaiveDate> {
        self.add_workdays(d, 1)
    }

    /// The `n`-th working day after `d` (`n` = 0: `d` itself; negative: before); `None` past a
    /// century of working days, which no deadline is (a typo of a number, or a fuzzer's: it is
    /// not counted out day by day).
    pub fn add_workdays(&self, d: NaiveDate, n: i64) -> Option<NaiveDate> {
        if n.abs() > MAX_WORKDAYS {
            return None;
        }
        let step = if n < 0 { -1 } else { 1 };
        let mut left = n.abs();
        let mut day = d;
        let mut scanned = 0;
        while left > 0 {
            day = day.checked_add_signed(Duration::days(step))?;
            scanned += 1;
            if scanned > MAX_SCAN_DAYS + n.abs() * 7 {
                return None;
            }
            if self.is_workday(day) {
                left -= 1;
            }
        }
        Some(day)
    }

    /// Working days after `a` up to and including `b` (negative when `b` is before `a`).
    pub fn workdays_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        let (from, to, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        let days = (to - from).num_days().min(MAX_SCAN_DAYS * 10);
        let count = (1..=days)
            .filter_map(|i| from.checked_add_signed(Duration::days(i)))
            .filter(|d| self.is_workday(*d))
            .count() as i64;
        sign * count
    }

    /// `t` itself when people work then, else the next start of working hours: that day's next
    /// opening when `t` is before it (or between two spans of hours), else the next working
    /// day's first opening. A deadline that lands at night moves to the morning.
    pub fn at_or_next_opening(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut day = t.date();
        let mut time = t.time();
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_workday(day) {
                for &(start, end) in &self.hours {
                    if time < start {
                        return Some(day.and_time(start));
                    }
                    if time < end {
                        return Some(day.and_time(time));
                    }
                }
            }
            day = day.succ_opt()?;
            time = NaiveTime::MIN;
        }
        None
    }

    /// `minutes` of working time after `from` (local time), counting only working hours.
    pub fn add_work_minutes(&self, from: NaiveDateTime, minutes: i64) -> Option<NaiveDateTime> {
        if minutes <= 0 {
            return Some(from);
        }
        let mut left = minutes;
        let mut day = from.date();
        let mut cursor = from.time();
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_workday(day) {
                for &(start, end) in &self.hours {
                    let begin = cursor.max(start);
                    if begin >= end {
                        continue;
                    }
                    let available = (end - begin).num_minutes();
                    if available >= left {
                        return Some(day.and_time(begin) + Duration::minutes(left));
                    }
                    left -= available;
                }
            }
            day = day.succ_opt()?;
            cursor = NaiveTime::MIN;
        }
        None
    }
}

/// A moment that cannot be read: the text as written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MomentError {
    /// Not a moment in any of the forms people write.
    #[error("`{0}` is not a moment like 2026-03-02T09:15")]
    Unreadable(String),
    /// A local time the zone skips (the hour clocks move forward).
    #[error("`{0}` does not exist in {1}")]
    Skipped(String, Tz),
}

/// A moment as written in a scenario or on the command line (`2026-03-02T09:15`), local to
/// `tz` unless it carries an offset (`2026-03-02T09:15:00+03:00`); a bare date is its midnight.
pub fn moment(tz: Tz, s: &str) -> Result<DateTime<Utc>, MomentError> {
    let s = s.trim();
    // Local moments (the usual way to write them) first; a moment with its offset is exact.
    let local = minute_moment(s).or_else(|| {
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    });
    let naive = match local {
        Some(n) => n,
        None => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(t.with_timezone(&Utc));
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .ok_or_else(|| MomentError::Unreadable(s.to_string()))?
        }
    };
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| MomentError::Skipped(s.to_string(), tz))
}

/// The moment a local date and time stands for in `tz`: at a time the clocks pass twice, the
/// first; at a time they skip (the hour they jump forward), the same time on the clock in force
/// just before the jump, as RFC 5545 reads it (02:30 on such a night is 03:30). `None` only
/// past the calendar's ends.
pub fn local_or_after_gap(tz: Tz, t: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(m) = tz.from_local_datetime(&t).earliest() {
        return Some(m.with_timezone(&Utc));
    }
    let before = t.checked_sub_signed(Duration::days(1))?;
    let offset = tz.from_local_datetime(&before).earliest()?.offset().fix();
    let utc = t.checked_sub_signed(Duration::seconds(i64::from(offset.local_minus_utc())))?;
    Some(Utc.from_utc_datetime(&utc))
}

/// A moment with its offset as JSON Schema's `date-time` is written (RFC 3339's `date-time`:
/// `T` between date and time, never a space; a leap second only at 23:59 UTC), the way the API
/// document says a request writes one.
pub fn rfc3339(s: &str) -> Option<DateTime<chrono::FixedOffset>> {
    use chrono::Timelike;
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    let utc = t.with_timezone(&Utc);
    let leap = utc.nanosecond() >= 1_000_000_000;
    (!leap || (utc.hour(), utc.minute()) == (23, 59)).then_some(t)
}

/// A moment as a request may write it: RFC 3339 with an offset, or a time in `tz`
/// (`2026-03-02T10:00`, `2026-03-02T10:00:00`, `2026-03-02 10:00`; a time the clocks skip as
/// [`local_or_after_gap`] reads it) — within the years RFC 3339 can write back in UTC (0 to
/// 9999: `0000-01-01T00:00` in Moscow falls in the year before, which no answer could say).
pub fn request_moment(tz: Tz, s: &str) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let s = s.trim();
    let t = match rfc3339(s) {
        Some(t) => Some(t.with_timezone(&Utc)),
        None => ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .and_then(|dt| local_or_after_gap(tz, dt)),
    }?;
    (0..=9999).contains(&t.year()).then_some(t)
}

/// `2026-03-02T09:15`, the way nearly every moment of a scenario is written, read without
/// going through a format string (a long scenario has millions of them).
fn minute_moment(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_opt(
        num(11, 13)?,
        num(14, 16)?,
        0,
    )
}

/// The first local midnight in `tz` after `after`'s local day.
pub fn next_midnight(tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let day = after.with_timezone(&tz).date_naive().succ_opt()?;
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn ru() -> WorkCalendar {
        let mut c = WorkCalendar {
            hours: vec![(time(10, 0), time(19, 0))],
            ..Default::default()
        };
        c.holidays.insert(d("2026-03-09"));
        c
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let c = ru();
        // Thursday 5 March: the next working day is Friday 6.
        assert_eq!(c.next_workday(d("2026-03-05")), Some(d("2026-03-06")));
        // Friday 6 March + 1: Monday 9 is a holiday, so Tuesday 10.
        assert_eq!(c.add_workdays(d("2026-03-06"), 1), Some(d("2026-03-10")));
        assert_eq!(c.add_workdays(d("2026-03-06"), 10), Some(d("2026-03-23")));
        assert_eq!(c.add_workdays(d("2026-03-11"), 20), Some(d("2026-04-08")));
        assert_eq!(c.workdays_between(d("2026-03-06"), d("2026-03-23")), 10);
        assert_eq!(c.workdays_between(d("2026-03-23"), d("2026-03-06")), -10);
        // A century of working days is counted; more is no date (not minutes of counting).
        assert!(c.add_workdays(d("2026-03-06"), 36_600).is_some());
        assert_eq!(c.add_workdays(d("2026-03-06"), 4_255_263_646_894), None);
        assert_eq!(c.add_workdays(d("2026-03-06"), -4_255_263_646_894), None);
    }

    #[test]
    fn working_hours_carry_over_nights_and_weekends() {
        let c = ru();
        let fri_18 = d("2026-03-06").and_hms_opt(18, 0, 0).unwrap();
        // 4 working hours from Friday 18:00: one on Friday, three on Tuesday (Monday is off).
        assert_eq!(
            c.add_work_minutes(fri_18, 240),
            Some(d("2026-03-10").and_hms_opt(13, 0, 0).unwrap())
        );
        let sat = d("2026-03-07").and_hms_opt(12, 0, 0).unwrap();
        assert_eq!(
            c.add_work_minutes(sat, 60),
            Some(d("2026-03-10").and_hms_opt(11, 0, 0).unwrap())
        );
    }

    #[test]
    fn a_deadline_outside_working_hours_moves_to_the_next_opening() {
        let c = ru();
        let at = |d: &str, h: u32, m: u32| self::d(d).and_hms_opt(h, m, 0).unwrap();
        // Before opening: that day's opening.
        assert_eq!(
            c.at_or_next_opening(at("2026-03-03", 9, 15)),
            Some(at("2026-03-03", 10, 0))
        );
        // Within the hours: unchanged; the opening minute itself too.
        assert_eq!(
            c.at_or_next_opening(at("2026-03-03", 10, 0)),
            Some(at("2026-03-03", 10, 0))
        );
        assert_eq!(
            c.at_or_next_opening(at("2026-03-03", 18, 59)),
            Some(at("2026-03-03", 18, 59))
        );
        // At or after closing: the next working day's opening (Friday 19:00 → Tuesday, as
        // Monday 9 March is a holiday).
        assert_eq!(
            c.at_or_next_opening(at("2026-03-03", 19, 0)),
            Some(at("2026-03-04", 10, 0))
        );
        assert_eq!(
            c.at_or_next_opening(at("2026-03-06", 21, 18)),
            Some(at("2026-03-10", 10, 0))
        );
        // A day off: the next working day's opening.
        assert_eq!(
            c.at_or_next_opening(at("2026-03-14", 0, 0)),
            Some(at("2026-03-16", 10, 0))
        );
        // Between two spans of hours: the second's start.
        let lunch = WorkCalendar {
            hours: vec![(time(10, 0), time(13, 0)), (time(14, 0), time(19, 0))],
            ..ru()
        };
        assert_eq!(
            lunch.at_or_next_opening(at("2026-03-03", 13, 30)),
            Some(at("2026-03-03", 14, 0))
        );
    }

    #[test]
    fn a_calendar_without_working_days_gives_no_answer_instead_of_hanging() {
        let c = WorkCalendar {
            workweek: [false; 7],
            ..Default::default()
        };
        assert_eq!(c.next_workday(d("2026-03-05")), None);
        assert_eq!(
            c.add_work_minutes(d("2026-03-05").and_hms_opt(9, 0, 0).unwrap(), 60),
            None
        );
    }
}
