//! The analytics of a database: the counts of a period read from `totals` (`a/MONTH/…`, kept by
//! every step), hours per week and person, the deals that overran their hours, the money now,
//! and the refusals of the period grouped by what and why.

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use sqlx::Row;

use super::{StoreError, Tx};
use crate::analytics::{Count, Extra, Map, Money, Overrun, Period, RefusalRow, Report, Week};
use crate::compile::Plan;
use crate::team::Team;

/// Weeks of expected revenue the report shows.
pub(super) const WEEKS: usize = 12;

/// Deals that overran their hours, listed at most.
pub(super) const OVERRUNS: i64 = 20;

impl Tx {
    /// The analytics of `period` (whole months; `None`: everything), with the money as of
    /// `today`.
    pub async fn analytics(
        &mut self,
        plan: &Plan,
        map: &Map,
        team: &Team,
        period: Option<Period>,
        today: NaiveDate,
    ) -> Result<Report, StoreError> {
        let sums = match &period {
            // Up to `a/2026-05/…` (`/` sorts before `0`); the months before the period too,
            // for the deals already in each stage when it began.
            Some(p) => self.totals_between("a/", &format!("a/{}0", p.to)).await?,
            None => self.totals_between("a/", "a0").await?,
        };
        let hours = self
            .totals_under("hours/")
            .await?
            .into_iter()
            .filter_map(|(k, (_, h))| {
                let (monday, who) = k.split_once('/')?;
                Some((monday.parse().ok()?, who.to_string(), h))
            })
            .collect();
        let roles = team
            .members
            .iter()
            .map(|m| (m.id.clone(), m.roles.clone()))
            .collect();
        let overruns = self.overruns(OVERRUNS).await?;
        let money_now = self.money_now(today).await?;
        let refusals = self.refusal_counts(period.as_ref()).await?;
        Ok(Report::build(
            plan,
            map,
            &sums,
            period,
            Extra {
                hours,
                roles,
                overruns,
                money_now,
                refusals,
            },
        ))
    }

    /// Deals whose hours spent passed those sold, the largest overrun first.
    async fn overruns(&mut self, limit: i64) -> Result<Vec<Overrun>, StoreError> {
        let rows: Vec<(String, String, Option<String>, String)> = on!(self, c => {
            sqlx::query(
                "SELECT deal_id, title, sold_hours, spent_hours FROM deal_facts \
                 WHERE overrun IS NOT NULL ORDER BY overrun DESC, deal_id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .map(|(deal, title, sold, spent)| Overrun {
                deal,
                title,
                sold: sold.and_then(|s| s.parse().ok()).unwrap_or_default(),
                spent: spent.parse().unwrap_or_default(),
            })
            .collect())
    }

    /// Expected revenue by week of planned end from this week on, paid and invoiced now.
    async fn money_now(&mut self, today: NaiveDate) -> Result<Money, StoreError> {
        let week0 = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        let mut by_week: Vec<Week> = (0..WEEKS)
            .map(|w| Week {
                week: week0 + Duration::weeks(w as i64),
                amount: Decimal::ZERO,
            })
            .collect();
        let last = week0 + Duration::weeks(WEEKS as i64) - Duration::days(1);
        for (end, amount) in self.planned_ends(week0, last).await? {
            let w = ((end - week0).num_days() / 7) as usize;
            if let Some(slot) = by_week.get_mut(w) {
                slot.amount += amount;
            }
        }
        let invoices = self.totals_under("invoice/").await?;
        let of = |k: &str| {
            invoices
                .get(k)
                .map_or(Count::default(), |&(deals, amount)| Count { deals, amount })
        };
        Ok(Money {
            by_week,
            paid: of("paid"),
            invoiced: of("invoiced"),
            ..Money::default()
        })
    }

    /// Refusals of the period (all kept ones without a period), counted by what came in and why.
    async fn refusal_counts(
        &mut self,
        period: Option<&Period>,
    ) -> Result<Vec<RefusalRow>, StoreError> {
        let (from, to) = match period {
            Some(p) => (format!("{}-01", p.from), month_after(&p.to)),
            None => (String::new(), "9999".into()),
        };
        let rows: Vec<(String, String, String, i64)> = on!(self, c => {
            sqlx::query(
                "SELECT input, name, code, COUNT(*) FROM refusals WHERE at >= $1 AND at < $2 \
                 GROUP BY input, name, code",
            )
            .bind(&from).bind(&to)
            .fetch_all(&mut **c).await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, sqlx::Error>>()?
        });
        // A creation is one input whatever stages it asked for: its rows go together.
        let mut out: Vec<RefusalRow> = Vec::new();
        for (input, name, code, count) in rows {
            let input = if input == "create" || input == "edit" {
                input
            } else {
                format!("{input} {name}")
            };
            match out.iter_mut().find(|r| r.input == input && r.code == code) {
                Some(r) => r.count += count,
                None => out.push(RefusalRow { input, code, count }),
            }
        }
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.input.cmp(&b.input)));
        Ok(out)
    }
}

/// The first day of the month after `YYYY-MM`, as `YYYY-MM-DD`.
fn month_after(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .map_or_else(|| "9999".into(), |d| d.to_string())
}
