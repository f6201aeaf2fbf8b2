//! Signed outgoing webhooks: `[[webhooks]]` subscriptions, and the loop that sends what the
//! writer queued for them. Each delivery is one history record as JSON, POSTed with
//! `Dealflow-Signature: t=UNIX,v1=HEX`, HEX = HMAC-SHA256(secret, "t.body") — the scheme payment
//! providers use, so receivers verify it with a few lines of any language. A failed delivery is
//! retried like an outbox message (the same `[outbox]` backoff, lease and attempts) and is
//! `dead` after the last attempt. Each subscription has a worker of its own: a receiver that
//! hangs delays only its own deliveries. Only records written after a subscription is
//! configured are sent: history older than it is not backfilled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;

use super::config::{self, Webhook};
use super::metrics::Metrics;
use super::writer::{WriteError, Writer};
use crate::store::{Claimed, Delivery, Failure, Line, Turn};

/// Deliveries claimed at a time.
const CLAIM: i64 = 10;

/// The signature header's value for `body` sent at `t` (UNIX seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes a key of any length.
        Err(_) => return String::new(),
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// The receivers, by subscription name.
pub(super) struct Senders {
    client: reqwest::Client,
    hooks: HashMap<String, Webhook>,
    policy: config::Outbox,
}

impl Senders {
    /// An HTTP client for the configured webhooks (none: nothing to send).
    pub(super) fn new(
        hooks: &[Webhook],
        policy: &config::Outbox,
    ) -> Result<Self, super::outbox::TransportError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dealflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| super::outbox::TransportError::WebhookClient(e.to_string()))?;
        Ok(Senders {
            client,
            hooks: hooks
                .iter()
                .map(|w| (w.name().to_string(), w.clone()))
                .collect(),
            policy: policy.clone(),
        })
    }

    /// One attempt: a 2xx answer is taken; anything else is an error to retry.
    async fn send(&self, d: &Delivery) -> Result<(), String> {
        let Some(w) = self.hooks.get(&d.webhook) else {
            return Err(format!(
                "webhook `{}` is no longer in the configuration",
                d.webhook
            ));
        };
        let sig = signature(&w.secret, Utc::now().timestamp(), &d.body);
        let answer = self
            .client
            .post(&w.url)
            .timeout(Duration::from_secs(w.timeout_s))
            .header("content-type", "application/json")
            .header("dealflow-signature", sig)
            .header("dealflow-delivery", d.id.to_string())
            .header("dealflow-webhook", &d.webhook)
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| format!("{}: {e}", w.url))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let text = answer.text().await.unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        Err(format!("{} answered {status}: {text}", w.url))
    }
}

/// Sends what is queued until `stop` turns true: a worker per subscription, each claiming,
/// sending in turn and settling only its own deliveries — a receiver that hangs delays only
/// its own —, and one for the deliveries of subscriptions no longer configured. Their turns at
/// the database go through the writer, beside the requests.
pub(super) async fn run(
    writer: Writer,
    senders: Arc<Senders>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    if senders.hooks.is_empty() {
        return;
    }
    let mut names: Vec<String> = senders.hooks.keys().cloned().collect();
    names.sort();
    let mut workers = tokio::task::JoinSet::new();
    for name in &names {
        workers.spawn(work(
            writer.clone(),
            senders.clone(),
            metrics.clone(),
            Line::Webhook(name.clone()),
            stop.clone(),
        ));
    }
    workers.spawn(work(
        writer,
        senders,
        metrics,
        Line::WebhooksGone(names),
        stop,
    ));
    while workers.join_next().await.is_some() {}
}

/// One worker: claims a few of its deliveries, sends them in turn, records how each went, and
/// waits a moment when there is nothing to send.
async fn work(
    writer: Writer,
    senders: Arc<Senders>,
    metrics: Arc<Metrics>,
    line: Line,
    mut stop: watch::Receiver<bool>,
) {
    // A subscription taken out is rare: its leftovers are looked for less often.
    let pause = match line {
        Line::WebhooksGone(_) => Duration::from_secs(5),
        _ => Duration::from_millis(500),
    };
    loop {
        if *stop.borrow() {
            break;
        }
        let more = match pass(&writer, &senders, &metrics, &line, &mut stop).await {
            Ok(more) => more,
            Err(e) => {
                tracing::warn!(error = %e, "webhooks");
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One pass: claim, send, settle; whether more wait. A stop cuts it short between deliveries
/// and during one: what was not tried keeps its claim and goes out once the claim runs out
/// (here after a restart, or from another daemon).
async fn pass(
    writer: &Writer,
    senders: &Senders,
    metrics: &Metrics,
    line: &Line,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, WriteError> {
    let lease = chrono::Duration::seconds(senders.policy.lease_s.min(86_400) as i64);
    let mut turn = Turn {
        line: line.clone(),
        sent: Vec::new(),
        failed: Vec::new(),
        claim: CLAIM,
        lease,
    };
    let taken = writer.turn(turn.clone()).await?;
    let Claimed::Deliveries(claimed) = taken.claimed else {
        return Ok(false);
    };
    let mut outcomes = Vec::with_capacity(claimed.len());
    let now = Utc::now();
    turn.claim = 0;
    for d in claimed {
        if *stop.borrow() {
            break;
        }
        let result = tokio::select! {
            r = senders.send(&d) => r,
            _ = stop.changed() => break,
        };
        let attempts = d.attempts + 1;
        match result {
            Ok(()) => {
                turn.sent.push(d.id);
                outcomes.push((true, false));
            }
            Err(e) => {
                let dead = attempts >= senders.policy.max_attempts;
                if dead {
                    tracing::error!(id = d.id, webhook = %d.webhook, deal = %d.deal, error = %e, "webhook delivery given up after {attempts} attempts");
                } else {
                    tracing::warn!(id = d.id, webhook = %d.webhook, deal = %d.deal, error = %e, "webhook delivery failed; will retry");
                }
                turn.failed.push(Failure {
                    id: d.id,
                    error: e,
                    retry: super::outbox::retry_at(&senders.policy, now, attempts),
                    dead,
                });
                outcomes.push((false, dead));
            }
        }
    }
    if turn.is_empty() {
        return Ok(taken.more);
    }
    writer.turn(turn).await?;
    for (sent, dead) in outcomes {
        metrics.webhook(sent, dead);
    }
    Ok(taken.more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_moment_a_dot_and_the_body() {
        // Computed apart: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 0123456789abcdef
        assert_eq!(
            signature("0123456789abcdef", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23"
        );
    }
}
