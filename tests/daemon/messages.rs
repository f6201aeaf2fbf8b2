//! The outbox: email to a real SMTP conversation, SMS through a gateway, a backlog in order.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::daemon::*;

/// A mail server on loopback that speaks enough SMTP for a client to hand it messages; it
/// keeps each message's DATA.
async fn smtp_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 test SMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        keep.lock().expect("lock").push(data);
                        b"250 queued\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, got)
}

#[tokio::test]
async fn email_goes_to_a_real_smtp_server_with_the_meeting_attached() {
    let (port, got) = smtp_server().await;
    let dir = workdir("smtp");
    let extra = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Studio <robot@studio.test>\"\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    d.lead("d1").await;
    let (status, _) = d
        .post("/api/v1/deals/d1/events", STAFF, call_done(true))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The welcome and the meeting details to the client (sales hear of it two hours before).
    let core = d.running().core().clone();
    let outbox = || {
        let core = core.clone();
        async move {
            core.store()
                .read()
                .await
                .expect("tx")
                .outbox()
                .await
                .expect("outbox")
        }
    };
    let start = Instant::now();
    // The client's two (the welcome, the meeting); the team's task notices come as well.
    let to_client = |mails: &[String]| {
        mails
            .iter()
            .filter(|m| m.contains("To: ivan@shop.test"))
            .count()
    };
    while to_client(&got.lock().expect("lock")) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "two emails did not arrive: {:?}",
            outbox().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails = got.lock().expect("lock").clone();
    assert!(
        mails.iter().any(|m| m.contains("To: ivan@shop.test")),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .all(|m| m.contains("From: Studio <robot@studio.test>"))
    );
    let meeting = mails
        .iter()
        .find(|m| m.contains("To: ivan@shop.test") && m.contains("text/calendar"))
        .expect("the client's meeting email carries the calendar file");
    assert!(meeting.contains("invite.ics"), "{meeting}");
    // The server's "250 queued" is what marks them sent (just after it).
    eventually(
        "both emails marked sent",
        Duration::from_secs(5),
        || async {
            let emails: Vec<_> = outbox()
                .await
                .into_iter()
                .filter(|m| m.channel == "email" && m.to == "ivan@shop.test")
                .collect();
            emails.len() == 2 && emails.iter().all(|m| m.status == "sent" && m.attempts == 1)
        },
    )
    .await;
    d.stop().await;
}

#[tokio::test]
async fn sms_go_through_the_gateway_are_retried_and_given_up_on_after_the_last_attempt() {
    use axum::extract::State;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    type Seen = Arc<(AtomicUsize, Mutex<Vec<String>>)>;
    // The gateway: the first request fails, then it takes them; one number never works.
    async fn send(
        State(seen): State<Seen>,
        body: String,
    ) -> (axum::http::StatusCode, &'static str) {
        let n = seen.0.fetch_add(1, Ordering::SeqCst);
        seen.1.lock().expect("lock").push(body.clone());
        if n == 0 || body.contains("to=%2B70000000000") {
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "busy")
        } else {
            (axum::http::StatusCode::OK, "accepted")
        }
    }
    let seen: Seen = Arc::new((AtomicUsize::new(0), Mutex::new(Vec::new())));
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state(seen.clone());
    let port = gateway(app).await;

    let dir = day_and_night(workdir("sms"));
    let extra = format!(
        "[sms]\nurl = \"http://127.0.0.1:{port}/send\"\nbody = \"to={{{{to}}}}&text={{{{text}}}}\"\n\
         [outbox]\nmax_attempts = 3\nretry_base_s = 1\nretry_max_s = 1\nconcurrency = 1\n"
    );
    // One at a time, so that the gateway's first request is d1's.
    let d = Daemon::start(config(&dir, &extra)).await;
    d.lead("d1").await;
    let (status, body) = d
        .post("/api/v1/deals", STAFF, json!({"id": "d2", "title": "no phone", "fields": {"client_name": "Oleg", "client_phone": "+70000000000"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually(
        "one SMS sent, one given up",
        Duration::from_secs(30),
        || async {
            let all = d.sms().await;
            all.iter().any(|m| m.status == "sent") && all.iter().any(|m| m.status == "dead")
        },
    )
    .await;
    let all = d.sms().await;
    let sent = all.iter().find(|m| m.deal == "d1").expect("d1's SMS");
    assert_eq!(
        (sent.status.as_str(), sent.attempts),
        ("sent", 2),
        "retried once: {sent:?}"
    );
    let dead = all.iter().find(|m| m.deal == "d2").expect("d2's SMS");
    assert_eq!(
        (dead.status.as_str(), dead.attempts),
        ("dead", 3),
        "{dead:?}"
    );
    assert!(
        dead.last_error.as_deref().unwrap_or("").contains("500"),
        "{dead:?}"
    );
    // The gateway got the text form-encoded, Cyrillic and all.
    let bodies = seen.1.lock().expect("lock").clone();
    let first = bodies
        .iter()
        .find(|b| b.contains("to=%2B79990001122"))
        .expect("d1's request");
    let decoded: Vec<(String, String)> = serde_urlencoded::from_str(first).expect("a form");
    assert!(
        decoded
            .iter()
            .any(|(k, v)| k == "text" && v.starts_with("Ivan, спасибо за обращение")),
        "{decoded:?}"
    );
    let (_, metrics) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("dealflow_messages_dead_total 1"),
        "{metrics}"
    );
    // What the gateway bills: d1's welcome (one UCS-2 segment); the SMS given up costs nothing.
    assert!(
        metrics.contains("dealflow_sms_segments_sent_total 1\n"),
        "{metrics}"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_backlog_of_messages_goes_out_oldest_first_each_exactly_once() {
    use axum::extract::State;
    use std::sync::{Arc, Mutex};
    type Gate = (tokio::sync::watch::Receiver<bool>, Arc<Mutex<Vec<String>>>);
    // The gateway holds every request until the test opens it, so that the messages of 121
    // new leads pile up behind the first; one number never works.
    async fn send(
        State((mut open, seen)): State<Gate>,
        body: String,
    ) -> (axum::http::StatusCode, &'static str) {
        let _ = open.wait_for(|o| *o).await;
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
        let to = form
            .iter()
            .find(|(k, _)| k == "to")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        seen.lock().expect("lock").push(to.clone());
        if to == "+70000000000" {
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "no such number",
            )
        } else {
            (axum::http::StatusCode::OK, "accepted")
        }
    }
    let (opener, open) = tokio::sync::watch::channel(false);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state((open, seen.clone()));
    let port = gateway(app).await;

    let dir = day_and_night(workdir("backlog"));
    let extra = format!(
        "[sms]\nurl = \"http://127.0.0.1:{port}/send\"\nbody = \"to={{{{to}}}}&text={{{{text}}}}\"\n\
         timeout_s = 60\n[outbox]\nmax_attempts = 3\nretry_base_s = 1\nretry_max_s = 1\n\
         concurrency = 1\n"
    );
    // One at a time: the gateway sees them in the order they are claimed (several at once
    // arrive in the order their conversations end; see the next test).
    let d = Daemon::start(config(&dir, &extra)).await;
    let phone = |i: usize| {
        if i == 60 {
            "+70000000000".to_string()
        } else {
            format!("+7999100{i:04}")
        }
    };
    for i in 0..121 {
        let (status, body) = d
            .post(
                "/api/v1/deals",
                STAFF,
                json!({"id": format!("lead{i:03}"), "title": format!("Lead {i}"), "fields": {"client_name": "Ivan", "client_phone": phone(i)}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    opener.send(true).expect("open");
    eventually(
        "120 SMS sent and one given up",
        Duration::from_secs(30),
        || async {
            let all = d.sms().await;
            all.iter().filter(|m| m.status == "sent").count() == 120
                && all.iter().any(|m| m.status == "dead")
        },
    )
    .await;
    let all = d.sms().await;
    assert_eq!(all.len(), 121, "one SMS per lead");
    for m in &all {
        let expected = if m.deal == "lead060" {
            ("dead", 3)
        } else {
            ("sent", 1)
        };
        assert_eq!((m.status.as_str(), m.attempts), expected, "{m:?}");
    }
    // The gateway got each number once (the bad one three times), the oldest first.
    let got = seen.lock().expect("lock").clone();
    let firsts: Vec<String> = got
        .iter()
        .enumerate()
        .filter(|(i, to)| !got[..*i].contains(to))
        .map(|(_, to)| to.clone())
        .collect();
    assert_eq!(firsts, (0..121).map(phone).collect::<Vec<_>>());
    assert_eq!(got.len(), 123, "{got:?}");
    assert_eq!(
        got.iter().filter(|to| *to == "+70000000000").count(),
        3,
        "{got:?}"
    );
    let (_, metrics) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("dealflow_messages_dead_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dealflow_messages_failed_total 2"),
        "{metrics}"
    );
    // The writer's time by phase: the 121 leads took some of each.
    for phase in ["begin", "read", "run", "write", "commit"] {
        let spent: f64 = metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "dealflow_writer_phase_seconds_total{{phase=\"{phase}\"}} "
                ))
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!(spent > 0.0, "{phase}: {metrics}");
    }
    d.stop().await;
}

#[tokio::test]
async fn a_channel_sends_several_at_once_within_its_bound_and_a_recipients_in_turn() {
    use axum::extract::State;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    // Each request is held a moment: how many were in the gateway at once, overall and for
    // one number.
    #[derive(Default)]
    struct Load {
        now: usize,
        most: usize,
        per: HashMap<String, usize>,
        most_per: usize,
        took: usize,
    }
    type Shared = Arc<Mutex<Load>>;
    type Gate = tokio::sync::watch::Receiver<bool>;
    async fn send(State((mut open, load)): State<(Gate, Shared)>, body: String) -> &'static str {
        // Held until every lead is in: the claims after the first find a backlog.
        let _ = open.wait_for(|o| *o).await;
        let to = body.split('&').next().unwrap_or_default().to_string();
        {
            let mut l = load.lock().expect("lock");
            l.now += 1;
            l.most = l.most.max(l.now);
            let n = {
                let n = l.per.entry(to.clone()).or_default();
                *n += 1;
                *n
            };
            l.most_per = l.most_per.max(n);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut l = load.lock().expect("lock");
        l.now -= 1;
        l.took += 1;
        if let Some(n) = l.per.get_mut(&to) {
            *n -= 1;
        }
        "accepted"
    }
    let load: Shared = Arc::default();
    let (opener, open) = tokio::sync::watch::channel(false);
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .with_state((open, load.clone()));
    let port = gateway(app).await;
    let dir = day_and_night(workdir("at-once"));
    let extra = format!(
        "[sms]\nurl = \"http://127.0.0.1:{port}/send\"\nbody = \"to={{{{to}}}}&text={{{{text}}}}\"\n\
         [outbox]\nconcurrency = 3\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    // Twelve clients, and three more leads of one client (the same number four times).
    for i in 0..15 {
        let phone = if i < 12 {
            format!("+7999200{i:04}")
        } else {
            "+79992000000".to_string()
        };
        let (status, body) = d
            .post(
                "/api/v1/deals",
                STAFF,
                json!({"id": format!("many{i:02}"), "title": format!("Lead {i}"), "fields": {"client_name": "Ivan", "client_phone": phone}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    opener.send(true).expect("open");
    eventually("all 15 SMS sent", Duration::from_secs(30), || async {
        d.sms().await.iter().filter(|m| m.status == "sent").count() == 15
    })
    .await;
    let (took, most, most_per) = {
        let l = load.lock().expect("lock");
        (l.took, l.most, l.most_per)
    };
    assert_eq!(took, 15, "each once");
    assert_eq!(
        most, 3,
        "three at once, as `[outbox] concurrency` says, never more"
    );
    assert_eq!(most_per, 1, "one client's messages one after another");
    d.stop().await;
}
