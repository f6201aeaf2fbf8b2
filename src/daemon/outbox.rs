//! Delivery: messages queued by steps go out by email (SMTP), SMS (an HTTP gateway) or, when
//! neither is configured, to the log. A failed attempt is retried with exponential backoff and
//! jitter; after `max_attempts` the message is `dead` (visible in the store, the API and the
//! metrics). A message waits for its `not_before`.

use std::collections::{BTreeMap, HashMap};
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
use super::writer::{WriteError, Writer};
use crate::store::{Claimed, Failure, Line, Queued, Turn};

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

    /// Messages claimed at a turn: enough to keep every channel's lanes busy for a while, few
    /// enough that a slow channel sends them all well within a claim's lease.
    fn claim(&self) -> i64 {
        (self.policy.concurrency.max(1) as i64 * 8).min(512)
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

/// Runs until `stop` turns true: claims what may go out, sends it, records the result. Each
/// turn at the database goes through the writer, in the transaction of the requests it is
/// writing (no commit or wait of its own); while there is a backlog, a pass's results are
/// settled in the same turn as the next claim.
pub(super) async fn run(
    writer: Writer,
    delivery: Arc<Delivery>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tried = Tried::new();
    loop {
        let stopping = *stop.borrow();
        let limit = if stopping { 0 } else { delivery.claim() };
        let taken = match settle(&writer, &delivery, &metrics, &tried, limit).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "outbox");
                // The results on their own, so that a claim that failed does not also undo
                // them (the messages would go out again once their claim ran out).
                if limit > 0
                    && !tried.is_empty()
                    && let Err(e) = settle(&writer, &delivery, &metrics, &tried, 0).await
                {
                    tracing::warn!(error = %e, "outbox");
                }
                None
            }
        };
        tried.clear();
        if stopping {
            break;
        }
        let (claimed, more) = taken.unwrap_or_default();
        let pass = std::time::Instant::now();
        tried = send_all(&delivery, claimed).await;
        if more {
            // A backlog while requests wait for the writer: the next pass waits as long as
            // this one took, so that sending takes at most half of the machine from the door
            // (on two cores the senders, the database and the requests share it).
            if writer.waiting() > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(pass.elapsed().min(Duration::from_millis(200))) => {}
                    _ = stop.changed() => {}
                }
            }
            continue;
        }
        if !tried.is_empty() {
            if let Err(e) = settle(&writer, &delivery, &metrics, &tried, 0).await {
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

/// A channel's recipients (where each is among them) with their messages.
type Lane = (HashMap<String, usize>, Vec<Vec<Queued>>);

/// Sends the claimed messages: each channel (its one relay, gateway or bot) with at most
/// `[outbox] concurrency` at once, the channels side by side, so that a slow one holds back
/// only its own; a recipient's messages go out one after another, in the order queued.
async fn send_all(delivery: &Delivery, claimed: Vec<Queued>) -> Tried {
    use futures_util::stream::{self, StreamExt};
    let order: HashMap<i64, usize> = claimed.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
    // Each channel's recipients in the order their first message was claimed, each with its
    // messages in that order.
    let mut lanes: BTreeMap<String, Lane> = BTreeMap::new();
    for m in claimed {
        let (at, recipients) = lanes.entry(m.channel.clone()).or_default();
        let i = *at.entry(m.to.clone()).or_insert_with(|| {
            recipients.push(Vec::new());
            recipients.len() - 1
        });
        if let Some(r) = recipients.get_mut(i) {
            r.push(m);
        }
    }
    let at_once = delivery.policy.concurrency.max(1);
    let lanes = lanes.into_values().map(|(_, recipients)| {
        stream::iter(recipients)
            .map(move |queue| async move {
                let mut done = Vec::with_capacity(queue.len());
                for m in queue {
                    let r = delivery.send(&m).await;
                    done.push((m, r));
                }
                done
            })
            .buffer_unordered(at_once)
            .collect::<Vec<Tried>>()
    });
    let mut tried: Tried = futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    tried.sort_by_key(|(m, _)| order.get(&m.id).copied());
    tried
}

/// Records what was tried and claims up to `limit` more, in one turn of the writer: the
/// messages that went out marked in one statement, each failure with its next attempt or as
/// dead. What was claimed and whether more wait; `None` when the turn had nothing to do.
async fn settle(
    writer: &Writer,
    delivery: &Delivery,
    metrics: &Metrics,
    tried: &Tried,
    limit: i64,
) -> Result<Option<(Vec<Queued>, bool)>, WriteError> {
    let now = Utc::now();
    let mut turn = Turn {
        line: Line::Outbox,
        sent: Vec::new(),
        failed: Vec::new(),
        claim: limit,
        lease: chrono::Duration::seconds(delivery.policy.lease_s.min(86_400) as i64),
    };
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
        match result {
            Ok(()) => turn.sent.push(m.id),
            Err(e) => {
                if dead {
                    tracing::error!(id = m.id, deal = %m.deal, to = %m.to, error = %e, "message given up after {attempts} attempts");
                } else {
                    tracing::warn!(id = m.id, deal = %m.deal, to = %m.to, error = %e, "message not delivered; will retry");
                }
                turn.failed.push(Failure {
                    id: m.id,
                    error: e.clone(),
                    retry: delivery.retry_at(now, attempts),
                    dead,
                });
            }
        }
    }
    if turn.is_empty() {
        return Ok(None);
    }
    let taken = writer.turn(turn).await?;
    for (sent, dead, segments) in outcomes {
        metrics.message(sent, dead, segments);
    }
    let claimed = match taken.claimed {
        Claimed::Messages(m) => m,
        Claimed::Deliveries(_) | Claimed::Forgotten(_) => Vec::new(),
    };
    Ok(Some((claimed, taken.more)))
}
