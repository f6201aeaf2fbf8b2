//! Messages `via telegram` through a Bot API server on loopback (`[telegram] base_url`): the
//! bot's `sendMessage` with the client's chat id and the template's SMS text, retried after a
//! failure, given up on when Telegram keeps refusing (its own words kept, never the token).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode as Status, Uri};
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;

const TOKEN: &str = "123456:TEST-token";

type Seen = Arc<Mutex<Vec<(String, Json)>>>;

/// The Bot API: the first call fails (a 502 on Telegram's side); chat 999 blocked the bot.
async fn bot_api() -> (u16, Seen) {
    async fn send(
        axum::extract::State(seen): axum::extract::State<Seen>,
        uri: Uri,
        body: String,
    ) -> (Status, String) {
        let json: Json = serde_json::from_str(&body).unwrap_or_default();
        let mut seen = seen.lock().expect("lock");
        let first = seen.is_empty();
        seen.push((uri.path().to_string(), json.clone()));
        if first {
            (
                Status::BAD_GATEWAY,
                json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}).to_string(),
            )
        } else if json["chat_id"] == "999" {
            (Status::FORBIDDEN, json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}).to_string())
        } else {
            (
                Status::OK,
                json!({"ok": true, "result": {"message_id": 1}}).to_string(),
            )
        }
    }
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(send))
        .with_state(seen.clone());
    (gateway(app).await, seen)
}

async fn lead(d: &Daemon, id: &str, chat: &str) {
    let (status, body) = d
        .post(
            "/api/v1/deals",
            STAFF,
            json!({"id": id, "title": id, "fields": {"client_name": "Ivan", "client_tg": chat}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn telegram_messages_go_through_the_bot_api() {
    let (port, seen) = bot_api().await;
    let dir = day_and_night(workdir("telegram"));
    edit_rules(
        &dir,
        &[
            (
                "  client_email:    email                \"Email\"\n",
                "  client_email:    email                \"Email\"\n  client_tg:       telegram\n",
            ),
            (
                "notify client via sms, email with welcome",
                "notify client via telegram with welcome",
            ),
        ],
    );
    let extra = format!(
        "[telegram]\nbot_token = \"{TOKEN}\"\nbase_url = \"http://127.0.0.1:{port}\"\n\
         [outbox]\nmax_attempts = 3\nretry_base_s = 1\nretry_max_s = 1\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    lead(&d, "d1", "100200300").await;
    lead(&d, "d2", "999").await;
    eventually(
        "d1's sent, d2's given up",
        Duration::from_secs(30),
        || async {
            let all = d.outbox().await;
            all.iter().any(|m| m.deal == "d1" && m.status == "sent")
                && all.iter().any(|m| m.deal == "d2" && m.status == "dead")
        },
    )
    .await;
    let all = d.outbox().await;
    let d1 = all.iter().find(|m| m.deal == "d1").expect("d1's message");
    assert_eq!(
        (d1.channel.as_str(), d1.attempts),
        ("telegram", 2),
        "retried once: {d1:?}"
    );
    let d2 = all.iter().find(|m| m.deal == "d2").expect("d2's message");
    let error = d2.last_error.clone().unwrap_or_default();
    assert!(error.contains("bot was blocked by the user"), "{error}");
    assert!(
        !error.contains(TOKEN),
        "the token is not in errors: {error}"
    );
    let seen = seen.lock().expect("lock").clone();
    let (path, body) = seen
        .iter()
        .find(|(_, b)| b["chat_id"] == "100200300")
        .expect("d1's request");
    assert_eq!(path, &format!("/bot{TOKEN}/sendMessage"));
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Ivan, спасибо за обращение"),
        "{body}"
    );
    d.stop().await;
}
