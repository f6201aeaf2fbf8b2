//! A client's personal data: erased on request (the deal's personal fields, its title, the
//! messages' texts and the client's addresses, in the deal, its history, its events, its
//! refusals, the outbox and the webhook deliveries; the history keeps its shape and says who erased what), and their
//! opt-out from a channel, which the outbox honours by skipping the message (said in the
//! deal's history).

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use sqlx::Row;

use super::{StoreError, Tx};
use crate::json::stamp;

/// What to erase, by whom.
#[derive(Debug, Clone)]
pub struct Erasure {
    /// The pipeline's personal fields.
    pub fields: Vec<String>,
    /// The title the deal keeps.
    pub title: String,
    /// Who asked.
    pub by: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What was erased.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    /// The personal fields that had a value.
    pub fields: Vec<String>,
    /// History entries changed.
    pub history: u64,
    /// Events changed.
    pub events: u64,
    /// Refusals changed.
    pub refusals: u64,
    /// Messages blanked (those not yet sent are not sent).
    pub messages: u64,
    /// The deal's revision now.
    pub revision: i64,
}

/// Blanks personal data in a stored JSON document; whether it changed anything.
fn blank(v: &mut Json, e: &Erasure) -> bool {
    let mut changed = false;
    match v {
        Json::Object(m) => {
            let personal_field = m
                .get("field")
                .and_then(Json::as_str)
                .is_some_and(|f| e.fields.iter().any(|p| p == f));
            if personal_field {
                // The value set, and an edit's value before it.
                for k in ["value", "from"] {
                    if m.get(k).is_some_and(|x| !x.is_null()) {
                        m.insert(k.into(), Json::Null);
                        changed = true;
                    }
                }
            }
            if m.get("kind").and_then(Json::as_str) == Some("notification") {
                let client = m.get("to_kind").and_then(Json::as_str) == Some("client");
                let mut keys = vec!["text", "subject"];
                if client {
                    keys.push("to");
                }
                for k in keys {
                    if m.get(k).is_some_and(|x| x.as_str() != Some("")) {
                        m.insert(k.into(), Json::String(String::new()));
                        changed = true;
                    }
                }
                if m.get("attachments").is_some() {
                    m.remove("attachments");
                    changed = true;
                }
            }
            for (k, x) in m.iter_mut() {
                if e.fields.iter().any(|p| p == k) {
                    if !x.is_null() {
                        *x = Json::Null;
                        changed = true;
                    }
                } else {
                    changed |= blank(x, e);
                }
            }
        }
        Json::Array(items) => {
            for x in items {
                changed |= blank(x, e);
            }
        }
        _ => {}
    }
    changed
}

/// Gives the deal, wherever a document holds it (`{"id": deal, "title": …}`), its new title;
/// whether it did.
fn retitle(v: &mut Json, deal: &str, title: &str) -> bool {
    match v {
        Json::Object(m) => {
            let mut changed = false;
            if m.get("id").and_then(Json::as_str) == Some(deal)
                && m.get("title").is_some_and(|t| t.as_str() != Some(title))
            {
                m.insert("title".into(), Json::String(title.to_string()));
                changed = true;
            }
            for x in m.values_mut() {
                changed |= retitle(x, deal, title);
            }
            changed
        }
        Json::Array(items) => {
            let mut changed = false;
            for x in items {
                changed |= retitle(x, deal, title);
            }
            changed
        }
        _ => false,
    }
}

impl Tx {
    /// Erases the deal's personal data; `None` when there is no such deal. The deal's row is
    /// locked first on PostgreSQL (a writer holds it while it steps the deal), and its revision
    /// grows: a copy kept in memory is no longer taken for it.
    pub async fn erase_personal(
        &mut self,
        deal: &str,
        e: &Erasure,
    ) -> Result<Option<Erased>, StoreError> {
        let lock = match self {
            Tx::Postgres(_) => {
                "SELECT state, revision, rules_version FROM deals WHERE id = $1 FOR UPDATE"
            }
            Tx::Sqlite(..) => "SELECT state, revision, rules_version FROM deals WHERE id = $1",
        };
        let row: Option<(String, i64, i64)> = on!(self, c => {
            sqlx::query(lock).bind(deal).fetch_optional(&mut **c).await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .transpose()?
        });
        let Some((state, revision, version)) = row else {
            return Ok(None);
        };
        let corrupt = || StoreError::Corrupt(format!("deal {deal}"), "its state".into());
        let mut doc: Json = serde_json::from_str(&state).map_err(|_| corrupt())?;
        let fields_now = doc
            .get_mut("fields")
            .and_then(Json::as_object_mut)
            .ok_or_else(corrupt)?;
        let mut had: Vec<String> = Vec::new();
        for f in &e.fields {
            if fields_now.remove(f).is_some() {
                had.push(f.clone());
            }
        }
        let old_title = doc["title"].as_str().unwrap_or_default().to_string();
        doc["title"] = Json::String(e.title.clone());
        let revision = revision + 1;
        on!(self, c => {
            sqlx::query("UPDATE deals SET title = $2, state = $3, revision = $4, updated_at = $5 WHERE id = $1")
                .bind(deal).bind(&e.title).bind(doc.to_string()).bind(revision).bind(stamp(e.at))
                .execute(&mut **c).await?.rows_affected()
        });
        let history = self.blank_rows("history", "record", deal, e).await?;
        let events = self.blank_rows("events", "payload", deal, e).await?;
        let refusals = self.blank_rows("refusals", "payload", deal, e).await?;
        // Webhook deliveries not yet taken go out without what was erased.
        self.blank_rows("webhook_deliveries", "body", deal, e)
            .await?;
        let messages = on!(self, c => {
            sqlx::query(
                "UPDATE outbox SET body = '', subject = CASE WHEN subject IS NULL THEN NULL ELSE '' END, \
                 attachments = '[]', \
                 recipient = CASE WHEN to_kind = 'client' THEN '' ELSE recipient END, \
                 status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END, \
                 last_error = CASE WHEN status = 'pending' THEN 'the client''s personal data was erased' ELSE last_error END \
                 WHERE deal_id = $1",
            )
            .bind(deal).execute(&mut **c).await?.rows_affected()
        });
        // The daily digests name the deal by its title: theirs goes too.
        if !old_title.is_empty() && old_title != e.title {
            on!(self, c => {
                sqlx::query(
                    "UPDATE outbox SET body = replace(body, $1, $2) \
                     WHERE deal_id = '' AND template = 'task_digest'",
                )
                .bind(&old_title).bind(&e.title).execute(&mut **c).await?.rows_affected()
            });
        }
        // What the client typed that did not read goes whole.
        on!(self, c => {
            sqlx::query("DELETE FROM contact_checks WHERE deal_id = $1")
                .bind(deal).execute(&mut **c).await?.rows_affected()
        });
        self.blank_answers(deal, e).await?;
        let erased = Erased {
            fields: had,
            history,
            events,
            refusals,
            messages,
            revision,
        };
        let record = json!({
            "at": stamp(e.at),
            "deal": deal,
            "kind": "personal_data_erased",
            "by": e.by,
            "fields": erased.fields,
            "messages": erased.messages,
        });
        self.add_history(
            deal,
            e.at,
            "personal_data_erased",
            "erasure",
            version,
            revision,
            &record,
        )
        .await?;
        Ok(Some(erased))
    }

    /// Blanks personal data in the JSON column of a deal's rows; how many changed.
    async fn blank_rows(
        &mut self,
        table: &str,
        column: &str,
        deal: &str,
        e: &Erasure,
    ) -> Result<u64, StoreError> {
        // History keeps a record's kind in a column of its own: the record is read with it.
        let kind = if table == "history" {
            "kind"
        } else {
            "CAST(NULL AS TEXT)"
        };
        let select = format!("SELECT id, {column}, {kind} FROM {table} WHERE deal_id = $1");
        let rows: Vec<(i64, String, Option<String>)> = on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(select.clone())).bind(deal).fetch_all(&mut **c).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let update = format!("UPDATE {table} SET {column} = $2 WHERE id = $1");
        let mut n = 0;
        for (id, text, kind) in rows {
            let Ok(mut doc) = serde_json::from_str::<Json>(&text) else {
                continue;
            };
            let lent = match (&mut doc, kind) {
                (Json::Object(m), Some(k)) if !m.contains_key("kind") => {
                    m.insert("kind".into(), Json::String(k));
                    true
                }
                _ => false,
            };
            let changed = blank(&mut doc, e);
            if lent && let Json::Object(m) = &mut doc {
                m.remove("kind");
            }
            if changed {
                on!(self, c => {
                    sqlx::query(sqlx::AssertSqlSafe(update.clone())).bind(id).bind(doc.to_string())
                        .execute(&mut **c).await?.rows_affected()
                });
                n += 1;
            }
        }
        Ok(n)
    }

    /// Blanks the deal's personal data in the answers kept for idempotent retries (a retry
    /// still gets its answer, without what was erased).
    async fn blank_answers(&mut self, deal: &str, e: &Erasure) -> Result<(), StoreError> {
        let quoted = serde_json::to_string(deal).unwrap_or_default();
        let pattern = format!(
            "%{}%",
            quoted
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows: Vec<(String, String)> = on!(self, c => {
            sqlx::query("SELECT key, body FROM requests WHERE body LIKE $1 ESCAPE '\\'")
                .bind(&pattern).fetch_all(&mut **c).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        for (key, body) in rows {
            let Ok(mut doc) = serde_json::from_str::<Json>(&body) else {
                continue;
            };
            let blanked = blank(&mut doc, e);
            if retitle(&mut doc, deal, &e.title) || blanked {
                on!(self, c => {
                    sqlx::query("UPDATE requests SET body = $2 WHERE key = $1")
                        .bind(&key).bind(doc.to_string())
                        .execute(&mut **c).await?.rows_affected()
                });
            }
        }
        Ok(())
    }

    /// A history entry written by the store itself (an erasure, a message skipped).
    #[allow(clippy::too_many_arguments)]
    async fn add_history(
        &mut self,
        deal: &str,
        at: DateTime<Utc>,
        kind: &str,
        cause: &str,
        version: i64,
        revision: i64,
        record: &Json,
    ) -> Result<(), StoreError> {
        on!(self, c => {
            sqlx::query(
                "INSERT INTO history (deal_id, at, kind, cause, rule, rules_version, revision, record) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $6, $7)",
            )
            .bind(deal).bind(stamp(at)).bind(kind).bind(cause).bind(version).bind(revision)
            .bind(record.to_string())
            .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

    /// The client opts out of a channel (`true`) or back in (`false`); `None` when there is no
    /// such deal.
    pub async fn set_opt_out(
        &mut self,
        deal: &str,
        channel: &str,
        out: bool,
        by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let exists: Option<i64> = on!(self, c => {
            sqlx::query("SELECT revision FROM deals WHERE id = $1").bind(deal)
                .fetch_optional(&mut **c).await?
                .map(|r| r.try_get(0)).transpose()?
        });
        if exists.is_none() {
            return Ok(None);
        }
        if out {
            on!(self, c => {
                sqlx::query(
                    "INSERT INTO opt_outs (deal_id, channel, at, sent_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (deal_id, channel) DO NOTHING",
                )
                .bind(deal).bind(channel).bind(stamp(at)).bind(by)
                .execute(&mut **c).await?.rows_affected()
            });
        } else {
            on!(self, c => {
                sqlx::query("DELETE FROM opt_outs WHERE deal_id = $1 AND channel = $2")
                    .bind(deal).bind(channel).execute(&mut **c).await?.rows_affected()
            });
        }
        Ok(Some(self.opt_outs(deal).await?))
    }

    /// The channels a deal's client opted out of.
    pub async fn opt_outs(&mut self, deal: &str) -> Result<Vec<String>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT channel FROM opt_outs WHERE deal_id = $1 ORDER BY channel")
                .bind(deal).fetch_all(&mut **c).await?
                .iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?
        }))
    }

    /// Messages due now to clients who opted out of their channel: skipped, each said in its
    /// deal's history. How many.
    pub(super) async fn skip_opted_out(&mut self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        type Skipped = (i64, String, String, String, i64, i64);
        let due: Vec<Skipped> = on!(self, c => {
            sqlx::query(
                "SELECT o.id, o.deal_id, o.channel, o.template, d.rules_version, d.revision \
                 FROM outbox o JOIN opt_outs x ON x.deal_id = o.deal_id AND x.channel = o.channel \
                 JOIN deals d ON d.id = o.deal_id \
                 WHERE o.status = 'pending' AND o.next_ms <= $1 AND o.to_kind = 'client'",
            )
            .bind(super::ms(now)).fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        for (id, deal, channel, template, version, revision) in &due {
            let reason = format!("the client opted out of {channel}");
            on!(self, c => {
                sqlx::query("UPDATE outbox SET status = 'skipped', last_error = $2 WHERE id = $1")
                    .bind(id).bind(&reason).execute(&mut **c).await?.rows_affected()
            });
            let record = json!({
                "at": stamp(now),
                "deal": deal,
                "kind": "notification_skipped",
                "to_kind": "client",
                "to": "client",
                "channel": channel,
                "template": template,
                "reason": reason,
            });
            self.add_history(
                deal,
                now,
                "notification_skipped",
                "opt-out",
                *version,
                *revision,
                &record,
            )
            .await?;
        }
        Ok(due.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_values_and_message_texts_are_blanked_and_the_shape_kept() {
        let e = Erasure {
            fields: vec!["client_phone".into(), "client_name".into()],
            title: "—".into(),
            by: Some("anna".into()),
            at: Utc::now(),
        };
        let mut set =
            json!({"kind": "field_set", "field": "client_phone", "value": "+79990000000"});
        assert!(blank(&mut set, &e));
        assert_eq!(
            set,
            json!({"kind": "field_set", "field": "client_phone", "value": null})
        );
        let mut other = json!({"kind": "field_set", "field": "amount", "value": 10});
        assert!(!blank(&mut other, &e));
        let mut msg = json!({"kind": "notification", "to_kind": "client", "to": "+79990000000",
            "channel": "sms", "template": "welcome", "text": "Иван, здравствуйте", "attachments": ["a.ics"]});
        assert!(blank(&mut msg, &e));
        assert_eq!(
            msg,
            json!({"kind": "notification", "to_kind": "client", "to": "",
            "channel": "sms", "template": "welcome", "text": ""})
        );
        let mut team = json!({"kind": "notification", "to_kind": "user", "to": "anna@studio.test", "text": "Позвоните Ивану"});
        assert!(blank(&mut team, &e));
        assert_eq!(team["to"], "anna@studio.test");
        assert_eq!(team["text"], "");
        let mut payload = json!({"client_name": "Иван", "meeting_place": "Офис"});
        assert!(blank(&mut payload, &e));
        assert_eq!(
            payload,
            json!({"client_name": null, "meeting_place": "Офис"})
        );
        assert!(!blank(&mut payload, &e), "a second erasure changes nothing");
    }
}
