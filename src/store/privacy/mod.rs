//! A client's personal data: erased on request — the deal's personal fields and title, the
//! messages' texts and the client's addresses, in the deal, its history, its events, its
//! refusals, the outbox (and its dedupe keys) and the webhook deliveries, what the client typed
//! that did not read, and the refusals of the same client's earlier requests; any text that
//! quotes one of the client's values loses it. The history keeps its shape and says who erased
//! what, and the webhooks that take it are told. A client's opt-out from a channel is in
//! `opt_outs`.

mod blank;
mod opt_outs;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use sqlx::Row;

use super::{StoreError, Subscription, Tx};
use crate::json::stamp;
use blank::{Blanker, retitle};

/// The history record kinds the store writes itself (not the engine's steps): an erasure.
pub const STORE_KINDS: &[&str] = &["personal_data_erased"];

/// What to erase, by whom.
#[derive(Debug, Clone)]
pub struct Erasure {
    /// The pipeline's personal fields.
    pub fields: Vec<String>,
    /// The title the deal keeps.
    pub title: String,
    /// The client's values an erasure before this one found (of the deal this one was spawned
    /// from): they are taken out of this deal's texts too, and its own title is kept but for
    /// them (a contract's title names the work, not the client).
    pub known: Vec<String>,
    /// Who asked.
    pub by: Option<String>,
    /// Whose token it came through, when not theirs (an integration's by its name).
    pub via: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// The pipeline's country: phones typed without their code are read with it when another
    /// request of the same client is looked for.
    pub country: Option<phonenumber::country::Id>,
    /// The webhooks' subscriptions: those that take `personal_data_erased` are told.
    pub webhooks: Vec<Subscription>,
    /// The pipeline's names (stages, fields, events, templates…), sorted: a record's text that
    /// is one of them is a name, never words of the client's to cut a value out of.
    pub names: Vec<String>,
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
    /// The client's values it found (the deals spawned from this one lose them too).
    #[serde(skip)]
    pub values: Vec<String>,
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
        let mut b = Blanker {
            e,
            title: e.title.clone(),
            values: Vec::new(),
        };
        let fields_now = doc
            .get_mut("fields")
            .and_then(Json::as_object_mut)
            .ok_or_else(corrupt)?;
        let mut had: Vec<String> = Vec::new();
        for f in &e.fields {
            if let Some(v) = fields_now.remove(f) {
                b.saw(&v);
                had.push(f.clone());
            }
        }
        for v in &e.known {
            b.saw(&Json::String(v.clone()));
        }
        let old_title = doc["title"].as_str().unwrap_or_default().to_string();
        let title = if e.known.is_empty() {
            b.saw(&Json::String(old_title.clone()));
            e.title.clone()
        } else {
            b.scrubbed(&old_title).unwrap_or_else(|| old_title.clone())
        };
        doc["title"] = Json::String(title.clone());
        b.title = title.clone();
        // What the client typed that did not read is theirs too.
        let typed: Vec<String> = on!(self, c => {
            sqlx::query_scalar("SELECT typed FROM contact_checks WHERE deal_id = $1")
                .bind(deal).fetch_all(&mut **c).await?
        });
        for t in &typed {
            b.saw(&Json::String(t.clone()));
        }
        // The history first: the values an edit replaced are the client's too.
        let history = self.blank_rows("history", "record", deal, &mut b).await?;
        // What is blanked above is scrubbed here: texts that quote a value lose it.
        self.scrub_rows("history", "record", deal, &b).await?;
        // The deal's other texts (a comment, a meeting's place) lose what quotes the client.
        if let Some(fields) = doc.get_mut("fields") {
            b.scrub(fields);
        }
        let revision = revision + 1;
        on!(self, c => {
            sqlx::query("UPDATE deals SET title = $2, state = $3, revision = $4, updated_at = $5 WHERE id = $1")
                .bind(deal).bind(&title).bind(doc.to_string()).bind(revision).bind(stamp(e.at))
                .execute(&mut **c).await?.rows_affected()
        });
        let events = self.blank_rows("events", "payload", deal, &mut b).await?;
        let mut refusals = self.blank_rows("refusals", "payload", deal, &mut b).await?;
        // Webhook deliveries not yet taken go out without what was erased.
        self.blank_rows("webhook_deliveries", "body", deal, &mut b)
            .await?;
        for (table, column) in [
            ("events", "payload"),
            ("refusals", "payload"),
            ("webhook_deliveries", "body"),
        ] {
            self.scrub_rows(table, column, deal, &b).await?;
        }
        refusals += self.erase_earlier_requests(deal, &mut b).await?;
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
        self.hide_recipients(deal).await?;
        // The daily digests name the deal by its title: theirs goes too.
        if !old_title.is_empty() && old_title != title {
            on!(self, c => {
                sqlx::query(
                    "UPDATE outbox SET body = replace(body, $1, $2) \
                     WHERE deal_id = '' AND template = 'task_digest'",
                )
                .bind(&old_title).bind(&title).execute(&mut **c).await?.rows_affected()
            });
        }
        on!(self, c => {
            sqlx::query("DELETE FROM contact_checks WHERE deal_id = $1")
                .bind(deal).execute(&mut **c).await?.rows_affected()
        });
        self.blank_answers(deal, &mut b).await?;
        // Erased before, nothing new: no second record of it.
        let again = had.is_empty() && history == 0 && events == 0 && old_title == title;
        let erased = Erased {
            fields: had,
            history,
            events,
            refusals,
            messages,
            revision,
            values: b.values.clone(),
        };
        if again {
            return Ok(Some(erased));
        }
        let mut record = json!({
            "at": stamp(e.at),
            "deal": deal,
            "kind": "personal_data_erased",
            "by": e.by,
            "fields": erased.fields,
            "messages": erased.messages,
        });
        if let Some(via) = &e.via {
            record["via"] = json!(via);
        }
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
        if let Json::Object(m) = &record {
            self.queue_own(&e.webhooks, m, version, e.at).await?;
        }
        Ok(Some(erased))
    }

    /// Blanks personal data in the JSON column of a deal's rows; how many changed.
    async fn blank_rows(
        &mut self,
        table: &str,
        column: &str,
        deal: &str,
        b: &mut Blanker<'_>,
    ) -> Result<u64, StoreError> {
        // History keeps a record's kind in a column of its own: the record is read with it.
        let kind = if table == "history" {
            "kind"
        } else {
            "CAST(NULL AS TEXT)"
        };
        let rows = self.json_rows(table, column, kind, deal).await?;
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
            let changed = b.blank(&mut doc);
            if lent && let Json::Object(m) = &mut doc {
                m.remove("kind");
            }
            if changed {
                self.put_json(table, column, id, &doc).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Takes the client's values out of the texts in the JSON column of a deal's rows (a
    /// refusal's reason too).
    async fn scrub_rows(
        &mut self,
        table: &str,
        column: &str,
        deal: &str,
        b: &Blanker<'_>,
    ) -> Result<(), StoreError> {
        for (id, text, _) in self.json_rows(table, column, "NULL", deal).await? {
            let Ok(mut doc) = serde_json::from_str::<Json>(&text) else {
                continue;
            };
            if b.scrub(&mut doc) {
                self.put_json(table, column, id, &doc).await?;
            }
        }
        if table == "refusals" {
            let reasons: Vec<(i64, String)> = on!(self, c => {
                sqlx::query("SELECT id, reason FROM refusals WHERE deal_id = $1")
                    .bind(deal).fetch_all(&mut **c).await?
                    .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (id, reason) in reasons {
                if let Some(r) = b.scrubbed(&reason) {
                    on!(self, c => {
                        sqlx::query("UPDATE refusals SET reason = $2 WHERE id = $1")
                            .bind(id).bind(&r).execute(&mut **c).await?.rows_affected()
                    });
                }
            }
        }
        Ok(())
    }

    /// A deal's rows of a table: id, the JSON column, and `extra`.
    async fn json_rows(
        &mut self,
        table: &str,
        column: &str,
        extra: &str,
        deal: &str,
    ) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
        let select = format!("SELECT id, {column}, {extra} FROM {table} WHERE deal_id = $1");
        Ok(on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(select)).bind(deal).fetch_all(&mut **c).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    async fn put_json(
        &mut self,
        table: &str,
        column: &str,
        id: i64,
        doc: &Json,
    ) -> Result<(), StoreError> {
        let update = format!("UPDATE {table} SET {column} = $2 WHERE id = $1");
        on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(update)).bind(id).bind(doc.to_string())
                .execute(&mut **c).await?.rows_affected()
        });
        Ok(())
    }

    /// The same client's earlier requests that were refused (kept under ids of their own: a
    /// website lead without a name, say) lose their personal values too; how many.
    async fn erase_earlier_requests(
        &mut self,
        deal: &str,
        b: &mut Blanker<'_>,
    ) -> Result<u64, StoreError> {
        let rows: Vec<(i64, String, String)> = on!(self, c => {
            sqlx::query("SELECT id, payload, reason FROM refusals WHERE deal_id <> $1")
                .bind(deal).fetch_all(&mut **c).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut n = 0;
        for (id, payload, reason) in rows {
            let Ok(mut doc) = serde_json::from_str::<Json>(&payload) else {
                continue;
            };
            if !b.same_client(&doc) {
                continue;
            }
            // As typed there (`8 916 …`): every personal value of it goes, and its quotes; a
            // website lead of it is settled (nobody is to call a client who asked to be
            // forgotten), by who erased.
            b.blank(&mut doc);
            b.scrub(&mut doc);
            let reason = b.scrubbed(&reason).unwrap_or(reason);
            on!(self, c => {
                sqlx::query(
                    "UPDATE refusals SET payload = $2, reason = $3, \
                     settled_at = CASE WHEN origin IS NOT NULL AND settled_at IS NULL THEN $4 ELSE settled_at END, \
                     settled_by = CASE WHEN origin IS NOT NULL AND settled_at IS NULL THEN $5 ELSE settled_by END \
                     WHERE id = $1",
                )
                .bind(id).bind(doc.to_string()).bind(&reason).bind(stamp(b.e.at)).bind(b.e.by.as_deref())
                .execute(&mut **c).await?.rows_affected()
            });
            n += 1;
        }
        Ok(n)
    }

    /// The outbox's dedupe keys of the deal written by an earlier version with the address in
    /// them get a digest instead.
    async fn hide_recipients(&mut self, deal: &str) -> Result<(), StoreError> {
        let keys: Vec<(i64, String)> = on!(self, c => {
            sqlx::query("SELECT id, dedupe FROM outbox WHERE deal_id = $1")
                .bind(deal).fetch_all(&mut **c).await?
                .iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        for (id, key) in keys {
            if let Some(k) = super::outbox::dedupe_without_address(&key) {
                on!(self, c => {
                    sqlx::query("UPDATE outbox SET dedupe = $2 WHERE id = $1")
                        .bind(id).bind(&k).execute(&mut **c).await?.rows_affected()
                });
            }
        }
        Ok(())
    }

    /// Blanks the deal's personal data in the answers kept for idempotent retries (a retry
    /// still gets its answer, without what was erased).
    async fn blank_answers(&mut self, deal: &str, b: &mut Blanker<'_>) -> Result<(), StoreError> {
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
            let blanked = b.blank(&mut doc);
            let titled = retitle(&mut doc, deal, &b.title);
            if b.scrub(&mut doc) || titled || blanked {
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
}
