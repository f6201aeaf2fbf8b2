//! A message's own content (its subject, text and attachments) is kept once: in its outbox
//! row. The history's `notification` record names the message (to whom, by which channel, which
//! template, when) and gets the content back when it is read: the record's deal, revision, rule
//! line, channel, recipient and template make the outbox's dedupe key again. Once the row is
//! forgotten (`[outbox] keep_days`), the record says only which message went out.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use sqlx::Row;

use super::outbox::dedupe_key;
use super::statements::{MAX_ARGS, Style, list};
use super::{StoreError, Tx};

/// A history record as read, before its message is put back.
pub(super) struct Kept {
    /// Its deal.
    pub deal: String,
    /// The deal's revision after its step.
    pub revision: i64,
    /// The rule that made it, as `file:line`.
    pub rule: Option<String>,
    /// What happened.
    pub kind: String,
    /// The record as stored (without moment, deal and kind).
    pub body: String,
}

/// A message's content as its outbox row keeps it.
struct Content {
    subject: Option<String>,
    text: String,
    attachments: String,
}

impl Tx {
    /// Puts each message back into the `notification` records stored without it, from the
    /// outbox rows still kept.
    pub(super) async fn put_messages_back(
        &mut self,
        records: &mut [Kept],
    ) -> Result<(), StoreError> {
        let wanted: Vec<(usize, String)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, key_of(r)?)))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut deals: Vec<String> = wanted
            .iter()
            .map(|(i, _)| records[*i].deal.clone())
            .collect();
        deals.sort_unstable();
        deals.dedup();
        let mut kept: HashMap<String, Content> = HashMap::new();
        for chunk in deals.chunks(MAX_ARGS) {
            let mut sql = String::from(
                "SELECT dedupe, subject, body, attachments FROM outbox WHERE deal_id IN (",
            );
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push(')');
            let rows: Vec<(String, Content)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, Content {
                        subject: r.try_get(1)?,
                        text: r.try_get(2)?,
                        attachments: r.try_get(3)?,
                    })))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            kept.extend(rows);
        }
        for (i, key) in wanted {
            records[i].body = with_content(&records[i].body, kept.get(&key));
        }
        Ok(())
    }
}

/// The dedupe key of a `notification` record stored without its message; `None` for any
/// other (one an earlier version stored whole has its text).
fn key_of(r: &Kept) -> Option<String> {
    if r.kind != "notification" {
        return None;
    }
    let record: Map<String, Json> = serde_json::from_str(&r.body).ok()?;
    if record.contains_key("text") {
        return None;
    }
    let s = |k: &str| record.get(k).and_then(Json::as_str);
    let line = r
        .rule
        .as_deref()
        .and_then(|rule| rule.rsplit_once(':'))
        .and_then(|(_, l)| l.parse().ok());
    let repeat = record
        .get("repeat")
        .and_then(Json::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    Some(dedupe_key(
        &r.deal,
        r.revision,
        line,
        s("channel")?,
        s("to")?,
        s("template")?,
        repeat,
    ))
}

/// A record with its message back, each key where a record written whole has it: the
/// subject, text and (for an SMS) its size after the template, attachments after `send_at`.
/// A repeated message's number, which only finds its row, is not shown; without a row the
/// record names the message alone.
fn with_content(body: &str, c: Option<&Content>) -> String {
    let Ok(record) = serde_json::from_str::<Map<String, Json>>(body) else {
        return body.to_string();
    };
    let sms = record.get("channel").and_then(Json::as_str) == Some("sms");
    let mut out = Map::new();
    for (k, v) in record {
        if k == "repeat" {
            continue;
        }
        let after = k.clone();
        out.insert(k, v);
        let Some(c) = c else {
            continue;
        };
        if after == "template" {
            if let Some(s) = &c.subject {
                out.insert("subject".into(), Json::from(s.as_str()));
            }
            out.insert("text".into(), Json::from(c.text.as_str()));
            if sms {
                let size = crate::sms::size(&c.text);
                out.insert("segments".into(), Json::from(size.segments));
                out.insert("encoding".into(), Json::from(size.encoding.name()));
            }
        } else if after == "send_at" {
            let files: Json = serde_json::from_str(&c.attachments).unwrap_or(Json::Null);
            if files.as_array().is_some_and(|a| !a.is_empty()) {
                out.insert("attachments".into(), files);
            }
        }
    }
    serde_json::to_string(&out).unwrap_or_else(|_| body.to_string())
}
