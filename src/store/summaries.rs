//! The summary tables kept and made again: a batch's changes to them (the difference between
//! each deal's stored facts and its facts now, in the batch's own transaction), and the rebuild
//! from every stored deal.
//!
//! On PostgreSQL several daemons write: a batch reads the facts of its deals `FOR UPDATE`, adds
//! its differences to `totals` in SQL (`amount + delta`, in name order), and a rebuild locks the
//! tables against writers first. On SQLite the writer holds the file, and the totals are read
//! and written back as exact decimals.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use sqlx::Row;

use super::facts::{Facts, Lens, Mapping, fingerprint, hour_shares, search_words};
use super::statements::{Arg, Cells, MAX_ARGS, Style, Writes, list};
use super::{StoreError, Tx};
use crate::analytics::tally::{self, Before, Fact};
use crate::compile::Plan;

/// The mark that holds the fingerprint of what the summaries were computed from.
pub const MARK: &str = "summaries";

const FACT_COLUMNS: &str = "deal_id, title, live, client, amount, planned_end, invoice, places, \
                            waiting, alerts, person, since, ended_at, trouble_since, sold_hours, \
                            spent_hours, overrun";

const FACTS_UPSERT: (&str, &str) = (
    "INSERT INTO deal_facts (deal_id, title, live, client, amount, planned_end, invoice, places, \
     waiting, alerts, person, since, ended_at, trouble_since, sold_hours, spent_hours, overrun)",
    "ON CONFLICT (deal_id) DO UPDATE SET title = excluded.title, live = excluded.live, \
     client = excluded.client, amount = excluded.amount, planned_end = excluded.planned_end, \
     invoice = excluded.invoice, places = excluded.places, waiting = excluded.waiting, \
     alerts = excluded.alerts, person = excluded.person, since = excluded.since, \
     ended_at = excluded.ended_at, trouble_since = excluded.trouble_since, \
     sold_hours = excluded.sold_hours, spent_hours = excluded.spent_hours, overrun = excluded.overrun",
);

/// How search words are written. PostgreSQL: a table by deal id. SQLite: a full-text table of
/// trigrams whose rowid is the deal's in `deal_facts` (the deal's facts are written first), its
/// old row deleted first (`SEARCH_FORGET`).
const SEARCH_UPSERT: (&str, &str) = (
    "INSERT INTO deal_search (deal_id, words)",
    "ON CONFLICT (deal_id) DO UPDATE SET words = excluded.words",
);
const SQLITE_SEARCH_INSERT: (&str, &str) = (
    "INSERT INTO deal_search (rowid, words) SELECT f.rowid, v.column2 FROM (",
    ") v JOIN deal_facts f ON f.deal_id = v.column1",
);
const SQLITE_SEARCH_FORGET: &str =
    "DELETE FROM deal_search WHERE rowid IN (SELECT rowid FROM deal_facts WHERE deal_id IN (";

/// How `deal_search` joins `deal_facts` (`s` and `f`).
pub(super) fn search_join(tx: &Tx) -> &'static str {
    match tx {
        Tx::Sqlite(..) => "s.rowid = f.rowid",
        Tx::Postgres(_) => "s.deal_id = f.deal_id",
    }
}

/// What a batch changed of one deal, for the summaries.
pub(crate) struct Change<'a> {
    /// The deal as it was (`None`: new, or not known).
    pub before: Option<&'a crate::engine::Deal>,
    /// The deal now.
    pub deal: &'a crate::engine::Deal,
    /// Time entries the batch added or corrected (as they are now), and the corrected ones as
    /// they were.
    pub entries: (Vec<crate::engine::TimeEntry>, Vec<crate::engine::TimeEntry>),
    /// What the analytics read of its records in the batch, in order.
    pub facts: Vec<Fact>,
}

fn fact_row(f: &Facts) -> Vec<Arg> {
    vec![
        Arg::from(f.id.as_str()),
        Arg::from(f.title.as_str()),
        Arg::from(i64::from(f.live)),
        Arg::from(f.client.clone()),
        Arg::from(f.amount.clone()),
        Arg::from(f.planned_end.clone()),
        Arg::from(f.invoice.clone()),
        Arg::from(f.places.as_str()),
        Arg::from(f.waiting.as_str()),
        Arg::from(f.alerts.as_str()),
        Arg::from(f.person.clone()),
        Arg::from(f.since.clone()),
        Arg::from(f.ended_at.clone()),
        Arg::from(f.trouble_since.clone()),
        Arg::from(f.sold_hours.clone()),
        Arg::from(f.spent_hours.as_str()),
        Arg::from(f.overrun),
    ]
}

/// A readable deal's facts, with what it adds to the totals (its shares, its logged hours).
fn counted(lens: &Lens<'_>, deal: &crate::engine::Deal, sums: &mut Sums) -> Facts {
    let f = Facts::of(lens, deal);
    f.shares(sums, 1);
    hour_shares(lens, &deal.time_entries, 1, sums);
    f
}

/// Writes search words: on SQLite the old rows of deals that had some are deleted first.
fn write_words(w: &mut Writes, style: Style, sqlite: bool, rows: Vec<Vec<Arg>>, had: &[String]) {
    if !sqlite {
        w.rows(style, SEARCH_UPSERT.0, SEARCH_UPSERT.1, rows);
        return;
    }
    for chunk in had.chunks(MAX_ARGS) {
        let mut sql = String::from(SQLITE_SEARCH_FORGET);
        list(&mut sql, chunk.len(), 1, style);
        sql.push_str("))");
        w.statements
            .push((sql, chunk.iter().map(|id| Arg::from(id.as_str())).collect()));
    }
    w.rows(style, SQLITE_SEARCH_INSERT.0, SQLITE_SEARCH_INSERT.1, rows);
}

fn read_fact(r: &impl Cells) -> Result<Facts, sqlx::Error> {
    Ok(Facts {
        id: r.text(0)?,
        title: r.text(1)?,
        live: r.int(2)? != 0,
        client: r.opt(3)?,
        amount: r.opt(4)?,
        planned_end: r.opt(5)?,
        invoice: r.opt(6)?,
        places: r.text(7)?,
        waiting: r.text(8)?,
        alerts: r.text(9)?,
        person: r.opt(10)?,
        since: r.opt(11)?,
        ended_at: r.opt(12)?,
        trouble_since: r.opt(13)?,
        sold_hours: r.opt(14)?,
        spent_hours: r.text(15)?,
        overrun: r.opt_int(16)?,
    })
}

/// Totals as (count, amount) by name.
pub type Sums = BTreeMap<String, (i64, Decimal)>;

/// Totals as read (name, count, amount as text), their names less `strip` at the front.
pub(super) fn read_totals(
    rows: Vec<(String, i64, String)>,
    strip: usize,
) -> Result<Sums, StoreError> {
    rows.into_iter()
        .map(|(name, n, a)| {
            let a: Decimal = a.parse().map_err(|_| {
                StoreError::Corrupt(name.clone(), "a total's amount does not read".into())
            })?;
            Ok((name.get(strip..).unwrap_or_default().to_string(), (n, a)))
        })
        .collect()
}

impl Tx {
    /// The stored facts and search words of these deals (locked on PostgreSQL until the
    /// transaction ends).
    async fn stored_facts(
        &mut self,
        ids: &[&str],
    ) -> Result<HashMap<String, (Facts, Option<String>)>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ARGS) {
            let cols: String = FACT_COLUMNS
                .split(", ")
                .map(|c| format!("f.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut sql = format!(
                "SELECT {cols}, s.words FROM deal_facts f LEFT JOIN deal_search s ON {} \
                 WHERE f.deal_id IN (",
                search_join(self)
            );
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push(')');
            if matches!(self, Tx::Postgres(_)) {
                sql.push_str(" ORDER BY f.deal_id FOR UPDATE OF f");
            }
            let rows: Vec<(Facts, Option<String>)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((read_fact(r)?, r.try_get(17)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (f, words) in rows {
                out.insert(f.id.clone(), (f, words));
            }
        }
        Ok(out)
    }

    /// The statements that bring the summaries up to a batch's changes (the batch's other
    /// statements are in `w` already; these go last, the totals in name order).
    pub(super) async fn summary_writes(
        &mut self,
        plan: &Plan,
        mapping: &Mapping,
        changes: &[Change<'_>],
        w: &mut Writes,
    ) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let lens = Lens::new(plan, mapping);
        let ids: Vec<&str> = changes.iter().map(|c| &*c.deal.id).collect();
        let mut stored = self.stored_facts(&ids).await?;
        let mut sums = Sums::new();
        let mut fact_rows = Vec::new();
        let mut word_rows = Vec::new();
        let mut had_words = Vec::new();
        let mut moved: Vec<&str> = Vec::new();
        let mut place_rows = Vec::new();
        for c in changes {
            let now = Facts::of(&lens, c.deal);
            let words = search_words(&lens, c.deal);
            hour_shares(&lens, &c.entries.0, 1, &mut sums);
            hour_shares(&lens, &c.entries.1, -1, &mut sums);
            if !c.facts.is_empty() {
                let mut before = Before::of(plan, mapping, c.before);
                tally::step(plan, mapping, &mut before, c.deal, &c.facts, &mut sums);
            }
            let (old, old_words) = match stored.remove(&*c.deal.id) {
                Some((f, w)) => (Some(f), w),
                None => (None, None),
            };
            if old_words.as_deref() != Some(words.as_str()) {
                if old_words.is_some() {
                    had_words.push(c.deal.id.to_string());
                }
                word_rows.push(vec![Arg::from(&*c.deal.id), Arg::from(words)]);
            }
            if old.as_ref() == Some(&now) {
                continue;
            }
            if let Some(o) = &old {
                o.shares(&mut sums, -1);
            }
            now.shares(&mut sums, 1);
            if old.as_ref().is_none_or(|o| o.places != now.places) {
                if old.is_some() {
                    moved.push(&c.deal.id);
                }
                for (stage, since) in now.place_list() {
                    place_rows.push(vec![
                        Arg::from(&*c.deal.id),
                        Arg::from(stage),
                        Arg::from(since),
                    ]);
                }
            }
            fact_rows.push(fact_row(&now));
        }
        let style = Style::of(self);
        let sqlite = matches!(self, Tx::Sqlite(..));
        w.rows(style, FACTS_UPSERT.0, FACTS_UPSERT.1, fact_rows);
        write_words(w, style, sqlite, word_rows, &had_words);
        for chunk in moved.chunks(MAX_ARGS) {
            let mut sql = String::from("DELETE FROM deal_places WHERE deal_id IN (");
            list(&mut sql, chunk.len(), 1, style);
            sql.push(')');
            w.statements
                .push((sql, chunk.iter().map(|id| Arg::from(*id)).collect()));
        }
        w.rows(
            style,
            "INSERT INTO deal_places (deal_id, stage, entered_at)",
            "",
            place_rows,
        );
        sums.retain(|_, (n, a)| *n != 0 || !a.is_zero());
        self.add_totals(sums, w).await
    }

    /// Brings the summaries of one deal up to its stored document (changed outside a step: its
    /// personal data erased). A deal the rules cannot read is left as it is.
    pub async fn refresh_summaries(
        &mut self,
        plan: &Plan,
        mapping: &Mapping,
        deal: &str,
    ) -> Result<(), StoreError> {
        let Some(read) = self.peek_deal(deal).await? else {
            return Ok(());
        };
        let Ok(deal) = read.stored.decode(plan) else {
            return Ok(());
        };
        let mut w = Writes::default();
        let change = Change {
            before: None,
            deal: &deal,
            entries: (Vec::new(), Vec::new()),
            facts: Vec::new(),
        };
        self.summary_writes(plan, mapping, std::slice::from_ref(&change), &mut w)
            .await?;
        self.send(w).await
    }

    /// Adds to the totals: on PostgreSQL in SQL (several daemons add at once), on SQLite the
    /// current values read and written back (one writer holds the file).
    async fn add_totals(&mut self, sums: Sums, w: &mut Writes) -> Result<(), StoreError> {
        if sums.is_empty() {
            return Ok(());
        }
        let style = Style::of(self);
        let rows_of = |sums: Sums| -> Vec<Vec<Arg>> {
            sums.into_iter()
                .map(|(name, (n, a))| vec![Arg::from(name), Arg::from(n), Arg::from(a.to_string())])
                .collect()
        };
        if matches!(self, Tx::Postgres(_)) {
            w.rows(
                style,
                "INSERT INTO totals (name, deals, amount)",
                "ON CONFLICT (name) DO UPDATE SET deals = totals.deals + excluded.deals, \
                 amount = (totals.amount::numeric + excluded.amount::numeric)::text",
                rows_of(sums),
            );
            return Ok(());
        }
        let names: Vec<&str> = sums.keys().map(String::as_str).collect();
        let current = self.totals_named(&names).await?;
        let sums: Sums = sums
            .into_iter()
            .map(|(name, (n, a))| {
                let (n0, a0) = current.get(&name).copied().unwrap_or_default();
                (name, (n0 + n, a0 + a))
            })
            .collect();
        w.rows(
            style,
            "INSERT INTO totals (name, deals, amount)",
            "ON CONFLICT (name) DO UPDATE SET deals = excluded.deals, amount = excluded.amount",
            rows_of(sums),
        );
        Ok(())
    }

    /// Totals by name (those that exist).
    pub(crate) async fn totals_named(&mut self, names: &[&str]) -> Result<Sums, StoreError> {
        let mut out = Sums::new();
        for chunk in names.chunks(MAX_ARGS) {
            let mut sql = String::from("SELECT name, deals, amount FROM totals WHERE name IN (");
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push(')');
            let rows: Vec<(String, i64, String)> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for n in chunk {
                    q = q.bind(*n);
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            out.extend(read_totals(rows, 0)?);
        }
        Ok(out)
    }

    /// Totals whose names begin with `prefix` (`stage/`, `hours/2026-03-09/`; `""`: all), by
    /// their names less the prefix.
    pub async fn totals_under(&mut self, prefix: &str) -> Result<Sums, StoreError> {
        // Names run from `prefix` up to (not including) `prefix` with its last character raised.
        let mut end = prefix.to_string();
        match end.pop() {
            Some(c) => end.push(char::from_u32(c as u32 + 1).unwrap_or(char::MAX)),
            None => end.push(char::MAX),
        }
        let rows = self.total_rows(prefix, &end).await?;
        read_totals(rows, prefix.len())
    }

    /// Totals whose names are in `[from, to)`, by name.
    pub(super) async fn totals_between(
        &mut self,
        from: &str,
        to: &str,
    ) -> Result<Sums, StoreError> {
        let rows = self.total_rows(from, to).await?;
        read_totals(rows, 0)
    }

    async fn total_rows(
        &mut self,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        Ok(on!(self, c => {
            sqlx::query("SELECT name, deals, amount FROM totals WHERE name >= $1 AND name < $2 ORDER BY name")
                .bind(from).bind(to)
                .fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        }))
    }

    /// What the analytics read of these deals' stored history, in order, by deal.
    async fn analytics_facts(
        &mut self,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<Fact>>, StoreError> {
        let mut out: HashMap<String, Vec<Fact>> = HashMap::new();
        for chunk in ids.chunks(MAX_ARGS) {
            let mut sql = String::from(
                "SELECT deal_id, at, kind, record, cause FROM history WHERE kind IN \
                 ('deal_created', 'stage_entered', 'stage_left', 'field_set') AND deal_id IN (",
            );
            list(&mut sql, chunk.len(), 1, Style::of(self));
            sql.push_str(") ORDER BY deal_id, id");
            type Row = (String, String, String, String, String);
            let rows: Vec<Row> = on!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut **c).await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            });
            // An imported deal's own start is not counted (as the writer does not count it).
            let mut imported = String::new();
            for (deal, at, kind, record, cause) in rows {
                let (Some(at), Ok(record)) = (
                    super::read_stamp(&at),
                    serde_json::from_str::<serde_json::Value>(&record),
                ) else {
                    continue;
                };
                if kind == "deal_created" {
                    if record["quiet"] == true {
                        imported = deal.clone();
                    }
                    continue;
                }
                if deal == imported && cause == "created" {
                    continue;
                }
                if let Some(f) = Fact::stored(&kind, at, &record) {
                    out.entry(deal).or_default().push(f);
                }
            }
        }
        Ok(out)
    }

    /// Whether the summaries were made from what `plan` and `mapping` say now.
    pub async fn summaries_current(
        &mut self,
        plan: &Plan,
        mapping: &Mapping,
    ) -> Result<bool, StoreError> {
        Ok(self.mark(MARK).await?.as_deref() == Some(fingerprint(plan, mapping).as_str()))
    }

    /// Makes the summaries again from every stored deal (a deal the rules cannot read is left
    /// out and counted). The analytics' counts (`a/…`) are made again from the deals' history
    /// when `history` is set (their amounts and managers then the deals' current ones), else
    /// kept as they are. `progress` is told how many deals are done after each page. The
    /// caller commits; on PostgreSQL the tables are locked against writers until then.
    pub async fn rebuild_summaries(
        &mut self,
        plan: &Plan,
        mapping: &Mapping,
        history: bool,
        mut progress: impl FnMut(u64),
    ) -> Result<Rebuilt, StoreError> {
        if matches!(self, Tx::Postgres(_)) {
            self.run_args(
                "LOCK TABLE deal_facts, deal_search, deal_places, totals IN EXCLUSIVE MODE".into(),
                Vec::new(),
            )
            .await?;
        }
        for table in ["deal_facts", "deal_search", "deal_places"] {
            self.run_args(format!("DELETE FROM {table}"), Vec::new())
                .await?;
        }
        let keep = if history {
            ""
        } else {
            " WHERE name NOT LIKE 'a/%'"
        };
        self.run_args(format!("DELETE FROM totals{keep}"), Vec::new())
            .await?;
        let lens = Lens::new(plan, mapping);
        let style = Style::of(self);
        let mut sums = Sums::new();
        let mut done = Rebuilt::default();
        let mut after = String::new();
        loop {
            let page = self.deal_states(&after, 500).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = last.clone();
            let mut w = Writes::default();
            let (mut facts, mut words, mut places) = (Vec::new(), Vec::new(), Vec::new());
            let mut stories = if history {
                let ids: Vec<&str> = page.iter().map(|(id, _)| id.as_str()).collect();
                self.analytics_facts(&ids).await?
            } else {
                HashMap::new()
            };
            for (id, read) in &page {
                let Ok(deal) = read.stored.decode(plan) else {
                    done.unread.push(id.clone());
                    continue;
                };
                if let Some(story) = stories.remove(id) {
                    tally::step(
                        plan,
                        mapping,
                        &mut Before::default(),
                        &deal,
                        &story,
                        &mut sums,
                    );
                }
                let f = counted(&lens, &deal, &mut sums);
                for (stage, since) in f.place_list() {
                    places.push(vec![
                        Arg::from(id.as_str()),
                        Arg::from(stage),
                        Arg::from(since),
                    ]);
                }
                words.push(vec![
                    Arg::from(id.as_str()),
                    Arg::from(search_words(&lens, &deal)),
                ]);
                facts.push(fact_row(&f));
                done.deals += 1;
            }
            w.rows(style, FACTS_UPSERT.0, FACTS_UPSERT.1, facts);
            write_words(&mut w, style, matches!(self, Tx::Sqlite(..)), words, &[]);
            w.rows(
                style,
                "INSERT INTO deal_places (deal_id, stage, entered_at)",
                "",
                places,
            );
            self.send(w).await?;
            progress(done.deals + done.unread.len() as u64);
        }
        sums.retain(|_, (n, a)| *n != 0 || !a.is_zero());
        let mut w = Writes::default();
        self.add_totals(sums, &mut w).await?;
        self.send(w).await?;
        self.set_mark(MARK, &fingerprint(plan, mapping)).await?;
        Ok(done)
    }
}

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// Deals summed.
    pub deals: u64,
    /// Deals the rules cannot read (left out).
    pub unread: Vec<String>,
}

impl Tx {
    /// Where the summaries differ from what the stored deals say now (recomputed in memory
    /// from every deal, as a rebuild would): a sentence per difference, at most `most`. Empty
    /// when they agree. For tests and checks; it reads every deal.
    pub async fn summary_drift(
        &mut self,
        plan: &Plan,
        mapping: &Mapping,
        most: usize,
    ) -> Result<Vec<String>, StoreError> {
        let lens = Lens::new(plan, mapping);
        let mut want_facts = BTreeMap::new();
        let mut want_words = BTreeMap::new();
        let mut want_places = std::collections::BTreeSet::new();
        let mut want_sums = Sums::new();
        let mut after = String::new();
        loop {
            let page = self.deal_states(&after, 500).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = last.clone();
            for (id, read) in &page {
                let Ok(deal) = read.stored.decode(plan) else {
                    continue;
                };
                let f = counted(&lens, &deal, &mut want_sums);
                for (stage, since) in f.place_list() {
                    want_places.insert((id.clone(), stage.to_string(), since.to_string()));
                }
                want_words.insert(id.clone(), search_words(&lens, &deal));
                want_facts.insert(id.clone(), f);
            }
        }
        let sql = format!("SELECT {FACT_COLUMNS} FROM deal_facts ORDER BY deal_id");
        let have_facts: BTreeMap<String, Facts> = on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **c).await?
                .iter()
                .map(|r| read_fact(r).map(|f| (f.id.clone(), f)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let sql = format!(
            "SELECT f.deal_id, s.words FROM deal_search s JOIN deal_facts f ON {}",
            search_join(self)
        );
        let have_words: BTreeMap<String, String> = on!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let have_places: std::collections::BTreeSet<(String, String, String)> = on!(self, c => {
            sqlx::query("SELECT deal_id, stage, entered_at FROM deal_places").fetch_all(&mut **c).await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut have_sums = self.totals_under("").await?;
        // The analytics' counts are read from the steps as they happened, not from the deals.
        want_sums.retain(|k, (n, a)| !k.starts_with("a/") && (*n != 0 || !a.is_zero()));
        have_sums.retain(|k, (n, a)| !k.starts_with("a/") && (*n != 0 || !a.is_zero()));
        let mut out = Vec::new();
        for (id, f) in &want_facts {
            match have_facts.get(id) {
                Some(h) if h == f => {}
                Some(h) => out.push(format!("deal `{id}`: stored {h:?}, the deal says {f:?}")),
                None => out.push(format!("deal `{id}` has no summary row")),
            }
        }
        out.extend(
            have_facts
                .keys()
                .filter(|id| !want_facts.contains_key(*id))
                .map(|id| format!("a summary row for `{id}`, which is not a readable deal")),
        );
        for (id, w) in &want_words {
            if have_words.get(id) != Some(w) {
                out.push(format!(
                    "deal `{id}`: search words {:?}, the deal says {w:?}",
                    have_words.get(id)
                ));
            }
        }
        for p in want_places.symmetric_difference(&have_places) {
            let what = if have_places.contains(p) {
                "stored, not a place of the deal"
            } else {
                "missing"
            };
            out.push(format!("board place {p:?}: {what}"));
        }
        for name in want_sums.keys().chain(have_sums.keys()) {
            let (w, h) = (want_sums.get(name), have_sums.get(name));
            if w != h
                && !out
                    .iter()
                    .any(|o| o.starts_with(&format!("total `{name}`")))
            {
                out.push(format!("total `{name}`: stored {h:?}, the deals say {w:?}"));
            }
        }
        out.truncate(most);
        Ok(out)
    }
}
