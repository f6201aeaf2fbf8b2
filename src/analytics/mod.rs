//! Analytics for the zones of growth: the funnel stage by stage, how long deals sit in each
//! stage, how invoices fare, whether projects end on their planned date and by whom, hours sold
//! against hours spent, money by week, manager and month, why deals are lost, what the rules
//! turned away.
//!
//! The figures are counted as steps happen ([`tally`]), by local month, under names the store's
//! `totals` table keeps (the daemon, in the transaction of every step) or in memory (a
//! simulation). [`Report::build`] reads a period of them; [`render`] writes it as text, JSON or
//! CSV. Which fields mean what comes from the `[dashboard]` mapping ([`Map`]); a section whose
//! fields the pipeline does not have is left out with a note.

pub mod render;
pub mod tally;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::compile::Plan;
pub use tally::Sums;

/// An exact decimal written as a JSON number (not a string), digits kept.
fn num<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let n: serde_json::Number = d
        .normalize()
        .to_string()
        .parse()
        .map_err(S::Error::custom)?;
    n.serialize(s)
}

/// A count of deals and their amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Count {
    /// Deals.
    pub deals: i64,
    /// Their amounts.
    #[serde(serialize_with = "num")]
    pub amount: Decimal,
}

/// Expected revenue of a week.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Week {
    /// Its Monday.
    pub week: NaiveDate,
    /// Amounts of live deals planned to end in it.
    #[serde(serialize_with = "num")]
    pub amount: Decimal,
}

/// The fields and stages the dashboard and the analytics read, by name (`[dashboard]` in the
/// configuration; flags of `dealflow report` for a simulation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    /// The deal's amount (money).
    pub amount: String,
    /// When the work is planned to end (date).
    pub planned_end: String,
    /// The invoice's status (text).
    pub invoice_status: String,
    /// The status that means paid; any other set value but the field's default is invoiced.
    pub paid: String,
    /// The status that means the invoice burnt (its due date passed unpaid).
    pub burnt: String,
    /// When the invoice is due (date).
    pub invoice_due: String,
    /// The client's name, shown on cards.
    pub client: String,
    /// Hours sold to the client.
    pub sold_hours: String,
    /// Margin (money).
    pub margin: String,
    /// The role that runs a project.
    pub pm_role: String,
    /// The stage a lost deal goes to.
    pub lost_stage: String,
    /// The stage a project is delivered at (its actual end).
    pub delivered_stage: String,
    /// Why a deal was lost (a field; the `lost` event's `comment` sets it in the reference
    /// pipeline).
    pub lost_reason: String,
}

impl Default for Map {
    fn default() -> Self {
        Map {
            amount: "amount".into(),
            planned_end: "planned_end".into(),
            invoice_status: "invoice_status".into(),
            paid: "paid".into(),
            burnt: "expired".into(),
            invoice_due: "invoice_due".into(),
            client: "client_name".into(),
            sold_hours: "sold_hours".into(),
            margin: "margin".into(),
            pm_role: "project_manager".into(),
            lost_stage: "lost".into(),
            delivered_stage: "delivered".into(),
            lost_reason: "comment".into(),
        }
    }
}

/// A period of whole months, `YYYY-MM` to `YYYY-MM` (both included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The first month.
    pub from: String,
    /// The last month.
    pub to: String,
}

impl Period {
    /// The months from `from`'s to `to`'s.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Period {
        Period {
            from: from.format("%Y-%m").to_string(),
            to: to.format("%Y-%m").to_string(),
        }
    }

    fn holds(&self, month: &str) -> bool {
        month >= self.from.as_str() && month <= self.to.as_str()
    }
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelRow {
    /// The stage's name.
    pub stage: String,
    /// Its title.
    pub title: String,
    /// Deals in it when the period began (entered before, not left before).
    pub at_start: i64,
    /// Deals that entered it in the period.
    pub entered: i64,
    /// Deals that left it for another stage (not the lost one).
    pub moved_on: i64,
    /// Deals lost from it.
    pub lost: i64,
    /// Moved on of those that left (moved on + lost), when any left.
    pub conversion: Option<f64>,
    /// Deals in it when the period ended: at the start, plus entered, less moved on and lost
    /// (the row adds up).
    pub at_end: i64,
}

/// How long deals sat in a stage (of those that left it in the period). A percentile is read
/// from buckets eight to a doubling (each about 9% wide): one figure, placed within its bucket
/// by the deals' rank, and the bucket it lies in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DwellRow {
    /// The stage's name.
    pub stage: String,
    /// Its title.
    pub title: String,
    /// Deals that left it.
    pub deals: i64,
    /// The median, hours.
    pub median_h: f64,
    /// The bucket the median lies in, hours: at least, less than.
    pub median_range_h: (f64, f64),
    /// The 90th percentile, hours.
    pub p90_h: f64,
    /// The bucket the 90th percentile lies in, hours.
    pub p90_range_h: (f64, f64),
}

/// Invoices in the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Invoices {
    /// Issued (a first time).
    pub issued: i64,
    /// Paid by the due date of the invoice paid.
    pub paid_on_time: i64,
    /// Paid after it.
    pub paid_late: i64,
    /// Burnt: the due date passed unpaid.
    pub burnt: i64,
    /// Issued again after burning.
    pub reissued: i64,
    /// Burnt of those issued and reissued, when any were.
    pub burn_rate: Option<f64>,
}

/// Projects a manager delivered in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRow {
    /// The project manager (a team member id, `-` for none).
    pub manager: String,
    /// Delivered by the planned end.
    pub on_time: i64,
    /// Delivered after it.
    pub late: i64,
    /// Days late, summed over the late ones.
    pub days_late: i64,
}

/// Hours of a person or a role in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoursRow {
    /// Who (a member id or a role name).
    pub who: String,
    /// Hours logged.
    #[serde(serialize_with = "num")]
    pub hours: Decimal,
}

/// A deal whose hours spent passed the hours sold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overrun {
    /// The deal.
    pub deal: String,
    /// Its title.
    pub title: String,
    /// Hours sold.
    #[serde(serialize_with = "num")]
    pub sold: Decimal,
    /// Hours spent.
    #[serde(serialize_with = "num")]
    pub spent: Decimal,
}

/// Revenue and margin of delivered projects, by manager or by month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarginRow {
    /// The manager or the month.
    pub key: String,
    /// Projects delivered.
    pub deals: i64,
    /// Their amounts.
    #[serde(serialize_with = "num")]
    pub revenue: Decimal,
    /// Their margin.
    #[serde(serialize_with = "num")]
    pub margin: Decimal,
}

/// Money: expected by week, paid vs invoiced (now), margin by manager and month (the period).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Money {
    /// Amounts of live deals by the week (its Monday) of their planned end.
    pub by_week: Vec<Week>,
    /// Paid: deals and amount.
    pub paid: Count,
    /// Invoiced, not paid: deals and amount.
    pub invoiced: Count,
    /// By project manager.
    pub by_manager: Vec<MarginRow>,
    /// By month of delivery.
    pub by_month: Vec<MarginRow>,
}

/// Why deals were lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LostReason {
    /// The reason as written (`-`: none given).
    pub reason: String,
    /// Deals.
    pub deals: i64,
    /// Their amounts.
    #[serde(serialize_with = "num")]
    pub amount: Decimal,
}

/// Inputs the rules turned away, by what and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusalRow {
    /// What came in: `event NAME`, `create`, `task NAME ACTION`, `edit`.
    pub input: String,
    /// Why, as a code (`not_now`, `refused`, `misfit`…).
    pub code: String,
    /// How many times.
    pub count: i64,
}

/// The analytics of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// The months it covers.
    pub period: Option<Period>,
    /// The funnel, in the pipeline's stage order.
    pub funnel: Vec<FunnelRow>,
    /// Time in stage, the longest median first.
    pub time_in_stage: Vec<DwellRow>,
    /// Invoices.
    pub invoices: Option<Invoices>,
    /// Delivery by project manager.
    pub delivery: Option<Vec<DeliveryRow>>,
    /// Hours per person.
    pub hours_by_person: Vec<HoursRow>,
    /// Hours per role.
    pub hours_by_role: Vec<HoursRow>,
    /// Deals that spent more hours than were sold, the largest overrun first.
    pub overruns: Option<Vec<Overrun>>,
    /// Money.
    pub money: Option<Money>,
    /// Why deals were lost, the most frequent first.
    pub lost_reasons: Vec<LostReason>,
    /// What the rules turned away, the most frequent first.
    pub refusals: Vec<RefusalRow>,
    /// Sections left out, and why.
    pub notes: Vec<String>,
}

/// What a report is built from besides the counted steps.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Hours logged per (week's Monday, member).
    pub hours: Vec<(NaiveDate, String, Decimal)>,
    /// Each member's roles.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Deals that overran their hours (the largest first).
    pub overruns: Vec<Overrun>,
    /// Money now: by week of planned end, paid, invoiced.
    pub money_now: Money,
    /// Refusals in the period.
    pub refusals: Vec<RefusalRow>,
}

impl Report {
    /// The report of `period` (`None`: everything counted) from the counted steps and `extra`.
    pub fn build(
        plan: &Plan,
        map: &Map,
        sums: &Sums,
        period: Option<Period>,
        extra: Extra,
    ) -> Report {
        let mut r = Report {
            period: period.clone(),
            ..Report::default()
        };
        let held = |month: &str| period.as_ref().is_none_or(|p| p.holds(month));
        // a/MONTH/what/rest…
        let mut by: BTreeMap<(String, String), (i64, Decimal)> = BTreeMap::new();
        let mut dwell: BTreeMap<String, BTreeMap<u32, i64>> = BTreeMap::new();
        let mut months: BTreeMap<String, (i64, Decimal, Decimal)> = BTreeMap::new();
        // Deals in each stage when the period began: what entered it before, less what left.
        let mut before: BTreeMap<String, i64> = BTreeMap::new();
        for (name, (n, a)) in sums {
            let mut parts = name.splitn(4, '/');
            let (Some("a"), Some(month), Some(what)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !held(month) {
                let earlier = period.as_ref().is_some_and(|p| month < p.from.as_str());
                let sign = match what {
                    "enter" => 1,
                    "move" | "lost" => -1,
                    _ => 0,
                };
                if earlier && sign != 0 {
                    *before
                        .entry(parts.next().unwrap_or_default().to_string())
                        .or_default() += sign * n;
                }
                continue;
            }
            let rest = parts.next().unwrap_or_default().to_string();
            if what == "dwell" {
                if let Some((stage, b)) = rest.rsplit_once('/')
                    && let Ok(b) = b.parse::<u32>()
                {
                    *dwell
                        .entry(stage.to_string())
                        .or_default()
                        .entry(b)
                        .or_default() += n;
                }
                continue;
            }
            if what == "revenue" || what == "margin" {
                let m = months.entry(month.to_string()).or_default();
                if what == "revenue" {
                    m.0 += n;
                    m.1 += a;
                } else {
                    m.2 += a;
                }
            }
            let e = by.entry((what.to_string(), rest)).or_default();
            e.0 += n;
            e.1 += a;
        }
        let get = |what: &str, rest: &str| {
            by.get(&(what.to_string(), rest.to_string()))
                .copied()
                .unwrap_or_default()
        };
        for st in &plan.stages {
            let (entered, moved, lost) = (
                get("enter", &st.name).0,
                get("move", &st.name).0,
                get("lost", &st.name).0,
            );
            let at_start = before.get(&st.name).copied().unwrap_or(0).max(0);
            if entered == 0 && moved == 0 && lost == 0 {
                continue;
            }
            r.funnel.push(FunnelRow {
                stage: st.name.clone(),
                title: st.title.clone(),
                at_start,
                entered,
                moved_on: moved,
                lost,
                conversion: (moved + lost > 0).then(|| moved as f64 / (moved + lost) as f64),
                at_end: at_start + entered - moved - lost,
            });
        }
        for (stage, buckets) in dwell {
            let deals: i64 = buckets.values().sum();
            if deals == 0 {
                continue;
            }
            // The percentile's bucket, and the figure within it: the rank's place among the
            // bucket's deals, spread evenly across it.
            let at = |p: f64| -> (f64, (f64, f64)) {
                let rank = ((deals as f64) * p).ceil().max(1.0) as i64;
                let mut seen = 0;
                for (b, n) in &buckets {
                    if seen + n >= rank {
                        let (lo, hi) = tally::bucket_span(*b);
                        let place = ((rank - seen) as f64 - 0.5) / (*n).max(1) as f64;
                        let figure = lo + (hi - lo) * place;
                        return (figure / 60.0, (lo / 60.0, hi / 60.0));
                    }
                    seen += n;
                }
                (0.0, (0.0, 0.0))
            };
            let title = plan
                .stage_index
                .get(&stage)
                .map_or(stage.clone(), |&s| plan.stages[s].title.clone());
            let (median_h, median_range_h) = at(0.5);
            let (p90_h, p90_range_h) = at(0.9);
            r.time_in_stage.push(DwellRow {
                stage,
                title,
                deals,
                median_h,
                median_range_h,
                p90_h,
                p90_range_h,
            });
        }
        r.time_in_stage
            .sort_by(|a, b| b.median_h.total_cmp(&a.median_h));
        let has_field = |f: &str| plan.field_index.contains_key(f);
        if has_field(&map.invoice_status) {
            let n = |k: &str| get("inv", k).0;
            let (issued, reissued, burnt) = (n("issued"), n("reissued"), n("burnt"));
            r.invoices = Some(Invoices {
                issued,
                paid_on_time: n("paid"),
                paid_late: n("paid_late"),
                burnt,
                reissued,
                burn_rate: (issued + reissued > 0)
                    .then(|| burnt as f64 / (issued + reissued) as f64),
            });
        } else {
            r.notes.push(format!(
                "invoices: the pipeline has no field `{}` ([dashboard] invoice_status)",
                map.invoice_status
            ));
        }
        if has_field(&map.planned_end) && plan.stage_index.contains_key(&map.delivered_stage) {
            let mut rows: BTreeMap<String, DeliveryRow> = BTreeMap::new();
            for ((what, pm), (n, a)) in &by {
                if what != "on_time" && what != "late" {
                    continue;
                }
                let row = rows.entry(pm.clone()).or_insert_with(|| DeliveryRow {
                    manager: pm.clone(),
                    on_time: 0,
                    late: 0,
                    days_late: 0,
                });
                if what == "late" {
                    row.late += n;
                    row.days_late += a.trunc().try_into().unwrap_or(0i64);
                } else {
                    row.on_time += n;
                }
            }
            r.delivery = Some(rows.into_values().collect());
        } else {
            r.notes.push(format!(
                "delivery: the pipeline needs a date field `{}` ([dashboard] planned_end) and a stage `{}` ([dashboard] delivered_stage)",
                map.planned_end, map.delivered_stage
            ));
        }
        let mut person: BTreeMap<String, Decimal> = BTreeMap::new();
        for (monday, who, h) in &extra.hours {
            if held(&monday.format("%Y-%m").to_string()) {
                *person.entry(who.clone()).or_default() += *h;
            }
        }
        let mut role: BTreeMap<String, Decimal> = BTreeMap::new();
        for (who, h) in &person {
            for rl in extra.roles.get(who).into_iter().flatten() {
                *role.entry(rl.clone()).or_default() += *h;
            }
        }
        r.hours_by_person = person
            .into_iter()
            .map(|(who, hours)| HoursRow { who, hours })
            .collect();
        r.hours_by_role = role
            .into_iter()
            .map(|(who, hours)| HoursRow { who, hours })
            .collect();
        if has_field(&map.sold_hours) {
            r.overruns = Some(extra.overruns);
        } else {
            r.notes.push(format!(
                "overruns: the pipeline has no field `{}` ([dashboard] sold_hours)",
                map.sold_hours
            ));
        }
        if has_field(&map.amount) {
            let mut money = extra.money_now;
            let row = |key: String, (n, a): (i64, Decimal), margin: Decimal| MarginRow {
                key,
                deals: n,
                revenue: a,
                margin,
            };
            money.by_manager = by
                .iter()
                .filter(|((w, _), _)| w == "revenue")
                .map(|((_, pm), v)| row(pm.clone(), *v, get("margin", pm).1))
                .collect();
            money.by_month = months
                .into_iter()
                .map(|(m, (n, rev, margin))| row(m, (n, rev), margin))
                .collect();
            r.money = Some(money);
        } else {
            r.notes.push(format!(
                "money: the pipeline has no field `{}` ([dashboard] amount)",
                map.amount
            ));
        }
        r.lost_reasons = by
            .iter()
            .filter(|((w, _), _)| w == "reason")
            .map(|((_, why), (n, a))| LostReason {
                reason: why.clone(),
                deals: *n,
                amount: *a,
            })
            .collect();
        r.lost_reasons
            .sort_by(|a, b| b.deals.cmp(&a.deals).then(a.reason.cmp(&b.reason)));
        r.refusals = extra.refusals;
        r.refusals
            .sort_by(|a, b| b.count.cmp(&a.count).then(a.input.cmp(&b.input)));
        r
    }
}
