//! Mail as receivers read it: the daemon talks to aiosmtpd (a real SMTP server, from PyPI) on
//! loopback, and what it stored is read with Python's email package and the icalendar parser
//! (`tests/mail/read_mail.py`). Without Python the test says it was skipped, unless
//! `DEALFLOW_REQUIRE_PYTHON` is set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;
use crate::common::{Reaped, free_port, root, skipped, venv};

/// A Python with aiosmtpd and icalendar, in a virtual environment of the build's own.
fn python() -> Option<PathBuf> {
    venv("mail-venv", "tests/mail/requirements.txt").map(|v| v.join("bin/python"))
}

/// aiosmtpd keeping what it receives in a maildir.
fn smtp_server(python: &Path, maildir: &Path, port: u16) -> Reaped {
    Reaped(
        Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .args(["-l", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts"),
    )
}

/// Every message in the maildir, as the Python side reads it.
fn read_mail(python: &Path, maildir: &Path) -> Vec<Json> {
    let out = Command::new(python)
        .arg(root().join("tests/mail/read_mail.py"))
        .arg(maildir)
        .output()
        .expect("the reader runs");
    assert!(
        out.status.success(),
        "read_mail.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn a_meeting_invitation_is_read_as_one_by_real_mail_and_calendar_parsers() {
    let Some(python) = python() else {
        skipped("the mail test was skipped: no Python 3 with venv");
        return;
    };
    let dir = workdir("real-mail");
    let maildir = dir.join("maildir");
    let port = free_port();
    let _server = smtp_server(&python, &maildir, port);
    // The server takes a moment to listen.
    eventually("aiosmtpd listens", Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    let extra = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Studio <robot@studio.test>\"\n"
    );
    // The pipeline calls the meeting off when the deal is lost at it.
    edit_rules(
        &dir,
        &[
            (
                "template invoice_sent {",
                "template meeting_off {\n  email subject \"Встреча отменена\" body \"Встреча отменена.\"\n        attach cancellation(meeting_at, 1h, meeting_place)\n}\n\ntemplate invoice_sent {",
            ),
            (
                "  -> contract on meeting_held\n  -> lost on lost\n}",
                "  -> contract on meeting_held\n  -> lost on lost {\n    notify client via email with meeting_off\n  }\n}",
            ),
        ],
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    d.lead("d1").await;
    let mut call = call_done(true);
    call["fields"]["meeting_place"] =
        json!("Москва, Тверская, 7; вход со двора, третий подъезд, домофон 12");
    let (status, body) = d.post("/api/v1/deals/d1/events", STAFF, call).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut mails = Vec::new();
    eventually(
        "two emails reach the server",
        Duration::from_secs(30),
        || {
            let got = read_mail(&python, &maildir);
            // The client's welcome and meeting (the team's task notices come as well).
            let enough = got
                .iter()
                .any(|m| !m["calendars"].as_array().unwrap().is_empty());
            mails = got;
            async move { enough }
        },
    )
    .await;
    for m in &mails {
        let id = m["message_id"].as_str().unwrap_or_default();
        assert!(
            id.starts_with("<dealflow-") && id.ends_with("@studio.test>"),
            "every message has an id of the sender's domain: {m}"
        );
    }
    let invite = mails
        .iter()
        .find(|m| !m["calendars"].as_array().unwrap().is_empty())
        .expect("the meeting email carries a calendar");
    let cal = &invite["calendars"][0];
    assert_eq!(cal["charset"], "utf-8", "{cal}");
    assert_eq!(cal["method_param"], "REQUEST");
    assert_eq!(cal["method"], "REQUEST");
    assert_eq!(cal["uid"], "d1-meeting_at@dealflow");
    assert!(cal["sequence"].as_i64().unwrap() > 0, "{cal}");
    assert_eq!(cal["organizer"], "mailto:anna@studio.test", "{cal}");
    assert_eq!(cal["attendees"], json!(["mailto:ivan@shop.test"]), "{cal}");
    assert_eq!(cal["rsvp"], json!(["TRUE"]), "{cal}");
    assert_eq!(
        cal["location"],
        "Москва, Тверская, 7; вход со двора, третий подъезд, домофон 12"
    );
    assert_eq!(cal["summary"], invite["subject"], "{invite}");
    assert!(cal["longest_line"].as_u64().unwrap() <= 75, "{cal}");
    assert!(
        cal["start"].as_str().unwrap().starts_with("2027-12-01T"),
        "{cal}"
    );

    // Lost at the meeting: the same event, called off, with a higher sequence.
    let lost = json!({"name": "lost", "fields": {"comment": "передумал"}, "by": "anna"});
    let (status, body) = d.post("/api/v1/deals/d1/events", STAFF, lost).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut cancel = Json::Null;
    eventually(
        "the cancellation reaches the server",
        Duration::from_secs(30),
        || {
            let got = read_mail(&python, &maildir);
            if let Some(m) = got.iter().find(|m| {
                m["calendars"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["method"] == "CANCEL"))
            }) {
                cancel = m["calendars"][0].clone();
            }
            let found = !cancel.is_null();
            async move { found }
        },
    )
    .await;
    assert_eq!(cancel["method_param"], "CANCEL", "{cancel}");
    assert_eq!(cancel["uid"], cal["uid"], "the same event");
    assert!(
        cancel["sequence"].as_i64() >= cal["sequence"].as_i64(),
        "{cancel} after {cal}"
    );
    d.stop().await;
}
