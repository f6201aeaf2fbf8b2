//! Delivery: messages queued by steps go out by email (SMTP), SMS (an HTTP gateway) or, when
//! neither is configured, to the log. A failed attempt is retried with exponential backoff and
//! jitter; after `max_attempts` the message is `dead` (visible in the store, the API and the
//! metrics). A message waits for its `not_before`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::watch;

use super::config::{self, Config, Tls};
use super::metrics::Metrics;
use crate::store::{Queued, Store, StoreError};

/// Messages claimed at a time.
const CLAIM: i64 = 10;

/// Where email goes.
enum Email {
    Log,
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
}

/// Where SMS go.
enum Sms {
    Log,
    Http {
        client: reqwest::Client,
        config: config::Sms,
    },
}

/// A transport the configuration describes wrongly: which key, and why.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// `smtp.from` is not an address.
    #[error("smtp.from `{from}` is not an address: {reason}")]
    From {
        /// As configured.
        from: String,
        /// Why.
        reason: String,
    },
    /// The SMTP relay cannot be set up (`smtp.host`).
    #[error("smtp: {0}")]
    Smtp(String),
    /// `sms.url` is not a URL.
    #[error("sms.url `{url}`: {reason}")]
    SmsUrl {
        /// As configured.
        url: String,
        /// Why.
        reason: String,
    },
    /// `sms.method` is not an HTTP method.
    #[error("sms.method `{0}` is not an HTTP method")]
    SmsMethod(String),
    /// The HTTP client for the gateway cannot be built.
    #[error("sms: {0}")]
    SmsClient(String),
    /// The Telegram bot cannot be set up.
    #[error("{0}")]
    Telegram(String),
    /// The webhooks' HTTP client cannot be built.
    #[error("webhooks: {0}")]
    WebhookClient(String),
}

/// The transports, built from the configuration.
pub(super) struct Delivery {
    email: Email,
    sms: Sms,
    /// The bot messages `via telegram` go through (none: the log).
    telegram: Option<super::telegram::Bot>,
    policy: config::Outbox,
}

impl Delivery {
    /// Builds the transports; a bad address or URL in the configuration is named.
    pub(super) fn new(config: &Config) -> Result<Delivery, TransportError> {
        let email = match &config.smtp {
            None => Email::Log,
            Some(s) => {
                let from: Mailbox =
                    s.from.parse().map_err(|e: lettre::address::AddressError| {
                        TransportError::From {
                            from: s.from.clone(),
                            reason: e.to_string(),
                        }
                    })?;
                let builder = match s.tls {
                    Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                        .map_err(|e| TransportError::Smtp(e.to_string()))?,
                    Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                        .map_err(|e| TransportError::Smtp(e.to_string()))?,
                    Tls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
                };
                let mut builder = builder
                    .port(s.port)
                    .timeout(Some(Duration::from_secs(s.timeout_s)));
                if let (Some(u), Some(p)) = (&s.username, &s.password) {
                    builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
                }
                Email::Smtp {
                    transport: Box::new(builder.build()),
                    from,
                }
            }
        };
        let sms = match &config.sms {
            None => Sms::Log,
            Some(s) => {
                reqwest::Url::parse(&s.url).map_err(|e| TransportError::SmsUrl {
                    url: s.url.clone(),
                    reason: e.to_string(),
                })?;
                reqwest::Method::from_bytes(s.method.as_bytes())
                    .map_err(|_| TransportError::SmsMethod(s.method.clone()))?;
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(s.timeout_s))
                    .build()
                    .map_err(|e| TransportError::SmsClient(e.to_string()))?;
                Sms::Http {
                    client,
                    config: s.clone(),
                }
            }
        };
        let telegram = match &config.telegram {
            None => None,
            Some(t) => Some(super::telegram::Bot::new(t).map_err(TransportError::Telegram)?),
        };
        Ok(Delivery {
            email,
            sms,
            telegram,
            policy: config.outbox.clone(),
        })
    }

    /// Sends one message.
    pub(super) async fn send(&self, m: &Queued) -> Result<(), String> {
        match m.channel.as_str() {
            "email" => self.email(m).await,
            "sms" => self.sms(m).await,
            "telegram" => match &self.telegram {
                Some(bot) => bot.send(&m.to, &m.body).await,
                None => {
                    tracing::info!(deal = %m.deal, to = ?m.to, text = ?m.body, "telegram (log transport)");
                    Ok(())
                }
            },
            other => Err(format!("no transport for channel `{other}`")),
        }
    }

    async fn email(&self, m: &Queued) -> Result<(), String> {
        let (transport, from) = match &self.email {
            Email::Log => {
                tracing::info!(deal = %m.deal, to = ?m.to, subject = ?m.subject, text = ?m.body, "email (log transport)");
                return Ok(());
            }
            Email::Smtp { transport, from } => (transport, from),
        };
        let to: Mailbox =
            m.to.parse()
                .map_err(|e| format!("`{}` is not an email address: {e}", m.to))?;
        let text = SinglePart::plain(m.body.clone());
        let files: Vec<serde_json::Value> =
            serde_json::from_str(&m.attachments).unwrap_or_default();
        let mut body = MultiPart::mixed().singlepart(text);
        for f in &files {
            let name = f["filename"].as_str().unwrap_or("attachment").to_string();
            let ct = f["content_type"]
                .as_str()
                .unwrap_or("application/octet-stream");
            let content = f["content"].as_str().unwrap_or("").to_string();
            let ct = ContentType::parse(ct).map_err(|e| format!("attachment type `{ct}`: {e}"))?;
            body = body.singlepart(Attachment::new(name).body(content, ct));
        }
        // The same id on every attempt, from whichever daemon: a receiver that sees a message
        // twice (a daemon killed after sending, before recording it) can tell.
        let domain = from.email.domain().to_string();
        let message = lettre::Message::builder()
            .message_id(Some(format!("<dealflow-{}@{domain}>", m.id)))
            .from(from.clone())
            .to(to)
            .subject(m.subject.clone().unwrap_or_default())
            .multipart(body)
            .map_err(|e| format!("the email could not be built: {e}"))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("smtp: {e}"))
    }

    async fn sms(&self, m: &Queued) -> Result<(), String> {
        let (client, c) = match &self.sms {
            Sms::Log => {
                tracing::info!(deal = %m.deal, to = ?m.to, text = ?m.body, "sms (log transport)");
                return Ok(());
            }
            Sms::Http { client, config } => (client, config),
        };
        // `{{id}}` is the message's number, the same on every attempt from any daemon: a gateway
        // that deduplicates by it never delivers one twice.
        let id = m.id.to_string();
        let fill = |template: &str, escape: &dyn Fn(&str) -> String| {
            template
                .replace("{{to}}", &escape(&m.to))
                .replace("{{text}}", &escape(&m.body))
                .replace("{{id}}", &id)
        };
        // `=value` encoded as a form value, without its `=`.
        let form = |s: &str| {
            serde_urlencoded::to_string([("", s)])
                .ok()
                .and_then(|e| e.get(1..).map(str::to_string))
                .unwrap_or_default()
        };
        // `"text"` escaped as a JSON string, without its quotes.
        let json_text = |s: &str| {
            let q = serde_json::to_string(s).unwrap_or_default();
            q.get(1..q.len().saturating_sub(1))
                .unwrap_or_default()
                .to_string()
        };
        let body = if c.content_type.contains("json") {
            fill(&c.body, &json_text)
        } else {
            fill(&c.body, &form)
        };
        let url = fill(&c.url, &form);
        let method = reqwest::Method::from_bytes(c.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", c.method))?;
        let mut req = client.request(method.clone(), &url);
        for (k, v) in &c.headers {
            req = req.header(k, fill(v, &|s: &str| s.to_string()));
        }
        if method != reqwest::Method::GET {
            req = req
                .header(reqwest::header::CONTENT_TYPE, &c.content_type)
                .body(body);
        }
        let resp = req.send().await.map_err(|e| format!("sms gateway: {e}"))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = resp.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            Err(format!("sms gateway answered {status}: {text}"))
        }
    }

    /// When to try again after `attempts` failed attempts: doubling from the base, capped,
    /// with ±50% jitter so that many failures do not come back at once.
    pub(super) fn retry_at(&self, now: DateTime<Utc>, attempts: i64) -> DateTime<Utc> {
        retry_at(&self.policy, now, attempts)
    }
}

/// When to try again after `attempts` failed attempts under `policy` (messages and webhook
/// deliveries alike): doubling from the base, capped, with ±50% jitter.
pub(super) fn retry_at(
    policy: &config::Outbox,
    now: DateTime<Utc>,
    attempts: i64,
) -> DateTime<Utc> {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let base = policy.retry_base_s.saturating_mul(1u64 << exp.min(20));
    let capped = base.min(policy.retry_max_s).max(1) as f64;
    let jittered = capped * (0.5 + fastrand::f64());
    now + chrono::Duration::milliseconds((jittered * 1000.0) as i64)
}

/// Messages tried in a pass, each with how it went.
type Tried = Vec<(Queued, Result<(), String>)>;

/// Runs until `stop` turns true: claims what may go out, sends it, records the result. While
/// there is a backlog, a pass's results are written in the same transaction as the next claim:
/// one turn at the database per pass, which leaves more of it to requests.
pub(super) async fn run(
    core: Arc<super::core::Core>,
    delivery: Arc<Delivery>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tried = Tried::new();
    loop {
        let stopping = *stop.borrow();
        let limit = if stopping { 0 } else { CLAIM };
        let claimed = match settle(core.store(), &delivery, &metrics, &tried, limit).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "outbox");
                // The results on their own, so that a claim that failed does not also undo
                // them (the messages would go out again once their claim ran out).
                if limit > 0
                    && !tried.is_empty()
                    && let Err(e) = settle(core.store(), &delivery, &metrics, &tried, 0).await
                {
                    tracing::warn!(error = %e, "outbox");
                }
                Vec::new()
            }
        };
        tried.clear();
        if stopping {
            break;
        }
        let full = claimed.len() as i64 == CLAIM;
        tried = send_all(&delivery, claimed).await;
        if full {
            continue;
        }
        if !tried.is_empty() {
            if let Err(e) = settle(core.store(), &delivery, &metrics, &tried, 0).await {
                tracing::warn!(error = %e, "outbox");
            }
            tried.clear();
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Tries each claimed message in turn.
async fn send_all(delivery: &Delivery, claimed: Vec<Queued>) -> Tried {
    let mut tried = Vec::with_capacity(claimed.len());
    for m in claimed {
        let r = delivery.send(&m).await;
        tried.push((m, r));
    }
    tried
}

/// Records what was tried and claims up to `limit` more, in one transaction: the messages that
/// went out marked in one statement, each failure with its next attempt or as dead.
async fn settle(
    store: &Store,
    delivery: &Delivery,
    metrics: &Metrics,
    tried: &Tried,
    limit: i64,
) -> Result<Vec<Queued>, StoreError> {
    if tried.is_empty() && limit == 0 {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut tx = store.begin().await?;
    let sent: Vec<i64> = tried
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(m, _)| m.id)
        .collect();
    tx.messages_sent(&sent, now).await?;
    let mut outcomes = Vec::with_capacity(tried.len());
    for (m, result) in tried {
        let attempts = m.attempts + 1;
        let dead = result.is_err() && attempts >= delivery.policy.max_attempts;
        let segments = if m.channel == "sms" {
            crate::sms::size(&m.body).segments
        } else {
            0
        };
        outcomes.push((result.is_ok(), dead, segments));
        if let Err(e) = result {
            if dead {
                tracing::error!(id = m.id, deal = %m.deal, to = %m.to, error = %e, "message given up after {attempts} attempts");
            } else {
                tracing::warn!(id = m.id, deal = %m.deal, to = %m.to, error = %e, "message not delivered; will retry");
            }
            tx.message_failed(m.id, e, delivery.retry_at(now, attempts), dead)
                .await?;
        }
    }
    let claimed = if limit > 0 {
        let lease = now + chrono::Duration::seconds(delivery.policy.lease_s.min(86_400) as i64);
        tx.claim_messages(now, lease, limit).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    for (sent, dead, segments) in outcomes {
        metrics.message(sent, dead, segments);
    }
    Ok(claimed)
}
