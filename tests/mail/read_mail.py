"""Reads every message an aiosmtpd Mailbox received (a maildir) with Python's own email package
and the icalendar parser, and prints what a mail client would see of each, one JSON object per
line: its headers, its parts, and for a calendar part its method, UID, sequence, organizer,
attendees, summary and location as parsed."""

import json
import mailbox
import sys
from email import policy
from email.parser import BytesParser

import icalendar


def calendar_of(part):
    ctype = part.get_content_type()
    raw = part.get_payload(decode=True)
    charset = part.get_param("charset")
    cal = icalendar.Calendar.from_ical(raw.decode(charset or "ascii", errors="strict"))
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    ev = events[0]
    return {
        "content_type": ctype,
        "charset": charset,
        "method_param": part.get_param("method"),
        "method": str(cal.get("METHOD")),
        "uid": str(ev.get("UID")),
        "sequence": int(ev.get("SEQUENCE", -1)),
        "summary": str(ev.get("SUMMARY")),
        "location": str(ev.get("LOCATION")),
        "start": ev.decoded("DTSTART").isoformat(),
        "organizer": str(ev.get("ORGANIZER")) if ev.get("ORGANIZER") else None,
        "attendees": [str(a) for a in (ev.get("ATTENDEE") if isinstance(ev.get("ATTENDEE"), list) else [ev.get("ATTENDEE")] if ev.get("ATTENDEE") else [])],
        "rsvp": [a.params.get("RSVP") for a in (ev.get("ATTENDEE") if isinstance(ev.get("ATTENDEE"), list) else [ev.get("ATTENDEE")] if ev.get("ATTENDEE") else [])],
        # In octets, whatever ends the lines once decoded from the transfer encoding.
        "longest_line": max(len(l) for l in raw.replace(b"\r\n", b"\n").split(b"\n")),
    }


def main(path):
    for key, m in sorted(mailbox.Maildir(path, factory=None).items()):
        msg = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
        out = {
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "message_id": msg["Message-ID"],
            "parts": [p.get_content_type() for p in msg.walk() if not p.is_multipart()],
            "calendars": [calendar_of(p) for p in msg.walk() if p.get_content_type() == "text/calendar"],
        }
        body = msg.get_body(preferencelist=("plain",))
        out["text"] = body.get_content() if body else None
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
