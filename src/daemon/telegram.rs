//! Messages `via telegram`: the Bot API's `sendMessage` over HTTPS (its address configurable,
//! so tests talk to a loopback server and a self-hosted Bot API server works too). Without a
//! `[telegram]` section they go to the log, as email and SMS do without theirs.

use std::time::Duration;

use serde::Deserialize;

/// `[telegram]`: the bot that sends.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather (`123456:ABC…`).
    pub bot_token: String,
    /// The Bot API's address.
    #[serde(default = "default_base")]
    pub base_url: String,
    /// Seconds to wait for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
}

fn default_base() -> String {
    "https://api.telegram.org".into()
}

fn default_timeout() -> u64 {
    10
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("bot_token", &"…")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// A bot ready to send.
pub(super) struct Bot {
    client: reqwest::Client,
    /// `{base_url}/bot{token}/sendMessage`.
    url: String,
}

impl Bot {
    /// The bot of the configuration, or why its address does not work.
    pub(super) fn new(c: &TelegramConfig) -> Result<Bot, String> {
        let base = reqwest::Url::parse(&c.base_url)
            .map_err(|e| format!("telegram.base_url `{}`: {e}", c.base_url))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!(
                "telegram.base_url `{}` is not an http(s) address",
                c.base_url
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_s.max(1)))
            .build()
            .map_err(|e| format!("telegram: {e}"))?;
        Ok(Bot {
            client,
            url: format!(
                "{}/bot{}/sendMessage",
                c.base_url.trim_end_matches('/'),
                c.bot_token
            ),
        })
    }

    /// Sends `text` to the chat `to`; Telegram's own description of a refusal otherwise (the
    /// token never appears in it).
    pub(super) async fn send(&self, to: &str, text: &str) -> Result<(), String> {
        let body = serde_json::json!({"chat_id": to, "text": text});
        let resp = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("telegram: {}", e.without_url()))?;
        let status = resp.status();
        let answer: serde_json::Value = resp
            .text()
            .await
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if status.is_success() && answer["ok"] == true {
            Ok(())
        } else {
            let why = answer["description"].as_str().unwrap_or("no description");
            Err(format!("telegram answered {status}: {why}"))
        }
    }
}
