//! A meeting invitation as an iCalendar file (RFC 5545, RFC 5546) that mail clients take as
//! one: UTF-8 said in the part's type, lines folded at 75 octets, one UID per deal and meeting
//! field (a moved meeting updates the event instead of adding one) with a SEQUENCE that grows
//! with every sending, and an ORGANIZER and an ATTENDEE, as a REQUEST needs them.

use std::fmt::Write;

use chrono::{DateTime, TimeZone, Utc};

use crate::value::Invite;

/// Who the invitation is from and to: (name, email address).
pub(crate) struct People<'a> {
    pub organizer: Option<(&'a str, &'a str)>,
    pub attendee: (Option<&'a str>, &'a str),
}

/// The part's content type: a REQUEST (or a CANCEL of one) when it has an organizer, else a
/// PUBLISH (an event put in a calendar with nobody to answer to).
pub(crate) fn content_type(people: &People<'_>, cancelled: bool) -> String {
    format!(
        "text/calendar; charset=utf-8; method={}",
        method(people, cancelled)
    )
}

fn method(people: &People<'_>, cancelled: bool) -> &'static str {
    match (people.organizer.is_some(), cancelled) {
        (true, false) => "REQUEST",
        (true, true) => "CANCEL",
        (false, _) => "PUBLISH",
    }
}

/// The stable identity of an invitation: the deal and the field that holds the meeting's
/// moment (`meeting_at`), or without one the moment itself.
pub(crate) fn uid(deal: &str, key: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("{}-{}@dealflow", safe(deal), safe(key))
}

/// The sending's place in the invitation's revisions: whole seconds since 2020 (a 32-bit
/// number until 2088), so a later sending (a moved meeting, a cancellation) carries a higher
/// one, from any daemon, with nothing stored.
pub(crate) fn sequence(now: DateTime<Utc>) -> i64 {
    let base = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).single();
    base.map_or(0, |b| (now - b).num_seconds().max(0))
}

/// The invitation's text, lines ending in CRLF and folded.
pub(crate) fn ics(
    inv: &Invite,
    summary: &str,
    uid: &str,
    people: &People<'_>,
    now: DateTime<Utc>,
) -> String {
    let stamp = |t: &DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//dealflow//EN".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        format!("METHOD:{}", method(people, inv.cancelled)),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{}", text(uid)),
        format!("SEQUENCE:{}", sequence(now)),
        format!("DTSTAMP:{}", stamp(&now)),
        format!("DTSTART:{}", stamp(&inv.start)),
        format!("DTEND:{}", stamp(&inv.end)),
        format!("SUMMARY:{}", text(summary)),
        format!("LOCATION:{}", text(&inv.place)),
    ];
    if let Some((name, email)) = people.organizer {
        lines.push(format!("ORGANIZER;CN={}:mailto:{email}", param(name)));
        let (name, email) = people.attendee;
        let cn = name
            .map(|n| format!(";CN={}", param(n)))
            .unwrap_or_default();
        lines.push(format!(
            "ATTENDEE{cn};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{email}"
        ));
    }
    lines.push(
        if inv.cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        }
        .to_string(),
    );
    lines.push("END:VEVENT".to_string());
    lines.push("END:VCALENDAR".to_string());
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 4).sum());
    for l in &lines {
        fold(&mut out, l);
    }
    out
}

/// A text value: backslash, semicolon, comma and newline escaped (RFC 5545, 3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, without the characters a quoted value cannot hold.
fn param(s: &str) -> String {
    let clean: String = s.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{clean}\"")
}

/// One content line, folded at 75 octets (RFC 5545, 3.1): a CRLF and a space before each
/// continuation, never inside a character.
fn fold(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    let _ = write!(out, "\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Invite {
        Invite {
            start: Utc.with_ymd_and_hms(2026, 3, 3, 12, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 3, 3, 13, 0, 0).unwrap(),
            place: "Москва, Тверская, 7; вход со двора — третий подъезд, код 1234, этаж 5".into(),
            cancelled: false,
        }
    }

    #[test]
    fn lines_are_folded_at_75_octets_without_splitting_a_letter() {
        let people = People {
            organizer: Some(("Анна", "anna@studio.test")),
            attendee: (None, "ivan@example.test"),
        };
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 11, 0, 0).unwrap();
        let text = ics(
            &invite(),
            "Встреча",
            &uid("ivan/1", "meeting_at"),
            &people,
            now,
        );
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        let unfolded = text.replace("\r\n ", "");
        assert!(
            unfolded.contains(
                "LOCATION:Москва\\, Тверская\\, 7\\; вход со двора — третий подъезд\\, код 1234\\, этаж 5\r\n"
            ),
            "{unfolded}"
        );
        assert!(
            unfolded.contains("UID:ivan-1-meeting_at@dealflow\r\n"),
            "{unfolded}"
        );
        assert!(unfolded.contains("ORGANIZER;CN=\"Анна\":mailto:anna@studio.test\r\n"));
        assert!(unfolded.contains("RSVP=TRUE:mailto:ivan@example.test\r\n"));
        assert!(unfolded.contains("METHOD:REQUEST\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn a_later_sending_has_a_higher_sequence_and_no_organizer_makes_it_a_publish() {
        let a = Utc.with_ymd_and_hms(2026, 3, 2, 11, 0, 0).unwrap();
        assert!(sequence(a + chrono::Duration::minutes(1)) > sequence(a));
        let people = People {
            organizer: None,
            attendee: (None, "ivan@example.test"),
        };
        assert_eq!(
            content_type(&people, false),
            "text/calendar; charset=utf-8; method=PUBLISH"
        );
        let text = ics(&invite(), "Встреча", "x@dealflow", &people, a);
        assert!(text.contains("METHOD:PUBLISH\r\n") && !text.contains("ATTENDEE"));
    }

    #[test]
    fn a_cancellation_keeps_the_uid_and_calls_the_event_off() {
        let people = People {
            organizer: Some(("Анна", "anna@studio.test")),
            attendee: (None, "ivan@example.test"),
        };
        let sent = Utc.with_ymd_and_hms(2026, 3, 2, 11, 0, 0).unwrap();
        let invite = ics(
            &invite(),
            "Встреча",
            &uid("ivan", "meeting_at"),
            &people,
            sent,
        );
        let off = Invite {
            cancelled: true,
            ..super::tests::invite()
        };
        let later = sent + chrono::Duration::hours(3);
        let cancel = ics(&off, "Встреча", &uid("ivan", "meeting_at"), &people, later);
        assert_eq!(
            content_type(&people, true),
            "text/calendar; charset=utf-8; method=CANCEL"
        );
        assert!(cancel.contains("METHOD:CANCEL\r\n") && cancel.contains("STATUS:CANCELLED\r\n"));
        assert!(invite.contains("UID:ivan-meeting_at@dealflow\r\n"));
        assert!(cancel.contains("UID:ivan-meeting_at@dealflow\r\n"));
        assert!(cancel.contains(&format!("SEQUENCE:{}\r\n", sequence(later))));
        assert!(sequence(later) > sequence(sent));
    }
}
