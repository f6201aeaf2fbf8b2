//! `dealflow report`: the analytics for the zones of growth — funnel, time in stage, invoices,
//! delivery, hours, money, lost reasons, refusals — over a database (`--config dealflow.toml`
//! or `--db URL`; only read) or over a simulation (`dealflow report FLOW SCENARIO`), for a
//! period of whole months (`--from`, `--to`; default: everything), as text, JSON or CSV (one
//! table per `--section`, or a file per section with `-o DIR`).
//!
//! Which fields mean what comes from the configuration's `[dashboard]`, or for a simulation
//! from `--config` or the defaults and the flags below. Exit 0: reported; 1: the pipeline has
//! errors; 2: something cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Datelike, Duration, NaiveDate};
use clap::ValueEnum;
use rust_decimal::Decimal;

use crate::analytics::render::{self, SECTIONS};
use crate::analytics::tally::{self, Before, Fact, Sums};
use crate::analytics::{Extra, Map, Money, Overrun, Period, RefusalRow, Report, Week};
use crate::daemon::Config;
use crate::engine::Kind;
use crate::load::{LoadError, RuleFile};
use crate::sim::{Simulation, scenario};
use crate::team::Team;

/// Arguments of `dealflow report`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A pipeline file, to report on a simulation of SCENARIO.
    #[arg(requires = "scenario", conflicts_with = "db")]
    flow: Option<PathBuf>,
    /// The scenario to simulate.
    scenario: Option<PathBuf>,
    /// The daemon's configuration: its database (unless a simulation is reported) and its
    /// `[dashboard]` mapping.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The database (`sqlite://FILE`, `postgres://…`), only read.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// PostgreSQL schema of the database.
    #[arg(long, requires = "db")]
    schema: Option<String>,
    /// The first month (`2026-03`, or a day of it).
    #[arg(long, value_name = "MONTH")]
    from: Option<String>,
    /// The last month (`2026-05`, or a day of it).
    #[arg(long, value_name = "MONTH")]
    to: Option<String>,
    /// How to write it.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only this section (CSV: the table written).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(SECTIONS))]
    section: Option<String>,
    /// Write here instead (CSV without `--section`: a folder, a file per section).
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    map: MapFlags,
}

/// The `[dashboard]` mapping for a simulation, field by field.
#[derive(Debug, clap::Args)]
struct MapFlags {
    /// The amount field.
    #[arg(long)]
    amount: Option<String>,
    /// The planned end field.
    #[arg(long)]
    planned_end: Option<String>,
    /// The hours sold field.
    #[arg(long)]
    sold_hours: Option<String>,
    /// The margin field.
    #[arg(long)]
    margin: Option<String>,
    /// The invoice status field.
    #[arg(long)]
    invoice_status: Option<String>,
    /// The invoice due date field.
    #[arg(long)]
    invoice_due: Option<String>,
    /// The project manager's role.
    #[arg(long)]
    project_manager: Option<String>,
    /// The stage lost deals go to.
    #[arg(long)]
    lost_stage: Option<String>,
    /// The stage a project is delivered at.
    #[arg(long)]
    delivered_stage: Option<String>,
    /// The field that says why a deal was lost.
    #[arg(long)]
    lost_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Tables for people.
    Text,
    /// One JSON document.
    Json,
    /// Comma-separated tables for spreadsheets.
    Csv,
}

fn month(s: &str) -> Result<NaiveDate, super::Failure> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d"))
        .map_err(|_| format!("`{s}` is not a month like 2026-03 (or a day like 2026-03-15)").into())
}

impl Args {
    fn mapping(&self, config: Option<&Config>) -> Map {
        let mut m = config.map_or_else(Map::default, |c| c.dashboard.mapping());
        let f = &self.map;
        let set = |slot: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                slot.clone_from(v);
            }
        };
        set(&mut m.amount, &f.amount);
        set(&mut m.planned_end, &f.planned_end);
        set(&mut m.sold_hours, &f.sold_hours);
        set(&mut m.margin, &f.margin);
        set(&mut m.invoice_status, &f.invoice_status);
        set(&mut m.invoice_due, &f.invoice_due);
        set(&mut m.pm_role, &f.project_manager);
        set(&mut m.lost_stage, &f.lost_stage);
        set(&mut m.delivered_stage, &f.delivered_stage);
        set(&mut m.lost_reason, &f.lost_reason);
        m
    }

    fn period(&self) -> Result<Option<Period>, super::Failure> {
        Ok(match (&self.from, &self.to) {
            (None, None) => None,
            (from, to) => {
                let from = from.as_deref().map(month).transpose()?;
                let to = to.as_deref().map(month).transpose()?;
                let from = from.unwrap_or(NaiveDate::MIN);
                let to = to.unwrap_or(NaiveDate::MAX);
                if from > to {
                    return Err("--from is after --to".into());
                }
                Some(Period::new(from, to))
            }
        })
    }
}

pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let config = args
        .config
        .as_deref()
        .map(|f| Config::load(Some(f), std::env::vars()))
        .transpose()?;
    let map = args.mapping(config.as_ref());
    let period = args.period()?;
    let report = match (&args.flow, &args.scenario) {
        (Some(flow), Some(sc)) => match simulated(flow, sc, &map, period, color)? {
            Some(r) => r,
            None => return Ok(ExitCode::FAILURE),
        },
        _ => stored(&args, config.as_ref(), &map, period)?,
    };
    write(&args, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// The report of a database.
fn stored(
    args: &Args,
    config: Option<&Config>,
    map: &Map,
    period: Option<Period>,
) -> Result<Report, super::Failure> {
    let (url, schema) = match (&args.db, config) {
        (Some(db), _) => (db.clone(), args.schema.clone()),
        (None, Some(c)) => (c.database.url.clone(), c.database.schema.clone()),
        (None, None) => return Err("give --config FILE, --db URL, or a FLOW and a SCENARIO".into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let opts = crate::store::Options {
            schema,
            read_only: true,
            ..Default::default()
        };
        let store = crate::store::Store::open(&url, &opts).await?;
        let ready = super::stored_rules(&store).await?;
        let mut tx = store.read().await?;
        let team = tx.team().await?;
        let today = chrono::Utc::now()
            .with_timezone(&ready.plan.tz)
            .date_naive();
        let report = tx.analytics(&ready.plan, map, &team, period, today).await?;
        drop(tx);
        store.close().await;
        Ok(report)
    })
}

/// The report of a simulation of `sc` through `flow` (`None`: the pipeline has errors, said).
fn simulated(
    flow: &std::path::Path,
    sc: &std::path::Path,
    map: &Map,
    period: Option<Period>,
    color: bool,
) -> Result<Option<Report>, super::Failure> {
    let ready = match RuleFile::read(flow)?.ready() {
        Ok(r) => r,
        Err(LoadError::Invalid { diagnostics, file }) => {
            eprint!("{}", crate::diag::render_text(&diagnostics, &file, color));
            eprintln!("{}: fix these errors before reporting", flow.display());
            return Ok(None);
        }
        Err(other) => return Err(other.into()),
    };
    let sc = scenario::read(sc)?;
    let team = sc.team();
    let timeline =
        Simulation::new(&ready.plan, ready.script.as_ref(), team.clone()).run(sc, None)?;
    Ok(Some(of_timeline(
        &ready.plan,
        map,
        &team,
        &timeline,
        period,
    )))
}

/// The report of a simulation's timeline: its records counted deal by deal as the daemon counts
/// its steps (amounts and managers as the deals end), the rest read from the deals at the end.
pub(crate) fn of_timeline(
    plan: &crate::compile::Plan,
    map: &Map,
    team: &Team,
    t: &crate::sim::Timeline,
    period: Option<Period>,
) -> Report {
    let mut sums = Sums::new();
    let mut refusals: std::collections::BTreeMap<(String, String), i64> = Default::default();
    let mut facts: std::collections::HashMap<&str, Vec<Fact>> = Default::default();
    let held = |at: &chrono::DateTime<chrono::Utc>| {
        let m = at.with_timezone(&plan.tz).format("%Y-%m").to_string();
        period.as_ref().is_none_or(|p| m >= p.from && m <= p.to)
    };
    for r in &t.records {
        if let Some(f) = Fact::of(r) {
            facts.entry(&r.deal).or_default().push(f);
        }
        let refused = match &r.kind {
            Kind::EventRefused { event, .. } => Some((format!("event {event}"), "refused")),
            Kind::DealRefused { .. } => Some(("create".to_string(), "refused")),
            Kind::StepFailed { cause, .. } => Some((cause.clone(), "step_failed")),
            _ => None,
        };
        if let Some((input, code)) = refused
            && held(&r.at)
        {
            *refusals.entry((input, code.to_string())).or_default() += 1;
        }
    }
    let mut hours: std::collections::BTreeMap<(NaiveDate, String), Decimal> = Default::default();
    let mut overruns = Vec::new();
    let sold_at = plan.field_index.get(&map.sold_hours).copied();
    for f in &t.finals {
        let d = &f.deal;
        if let Some(story) = facts.get(&*d.id) {
            tally::step(plan, map, &mut Before::default(), d, story, &mut sums);
        }
        for e in d.time_entries.iter() {
            let local = e.at.with_timezone(&plan.tz).date_naive();
            let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
            *hours.entry((monday, e.user.clone())).or_default() += e.hours;
        }
        let sold = sold_at
            .and_then(|i| d.values.get(i))
            .and_then(Option::as_ref)
            .and_then(crate::value::Value::as_decimal);
        let spent = d.hours_spent();
        if let Some(sold) = sold
            && spent > sold
        {
            overruns.push(Overrun {
                deal: d.id.to_string(),
                title: d.title.to_string(),
                sold,
                spent,
            });
        }
    }
    overruns.sort_by_key(|o| std::cmp::Reverse(o.spent - o.sold));
    let extra = Extra {
        hours: hours.into_iter().map(|((m, who), h)| (m, who, h)).collect(),
        roles: team
            .members
            .iter()
            .map(|m| (m.id.clone(), m.roles.clone()))
            .collect(),
        overruns,
        money_now: money_at_end(plan, map, t),
        refusals: refusals
            .into_iter()
            .map(|((input, code), count)| RefusalRow { input, code, count })
            .collect(),
    };
    Report::build(plan, map, &sums, period, extra)
}

/// The money as the simulation leaves it: live deals by the week of their planned end from the
/// week the clock stopped in, paid and invoiced.
fn money_at_end(plan: &crate::compile::Plan, map: &Map, t: &crate::sim::Timeline) -> Money {
    let today = t.until.with_timezone(&plan.tz).date_naive();
    let week0 = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let mut money = Money {
        by_week: (0..12)
            .map(|w| Week {
                week: week0 + Duration::weeks(w),
                amount: Decimal::ZERO,
            })
            .collect(),
        ..Money::default()
    };
    let field = |d: &crate::engine::Deal, name: &str| {
        plan.field_index
            .get(name)
            .and_then(|&i| d.values.get(i))
            .and_then(Option::as_ref)
            .cloned()
    };
    let unset = plan
        .field_index
        .get(&map.invoice_status)
        .and_then(|&i| plan.fields[i].default.clone());
    for f in &t.finals {
        let d = &f.deal;
        let amount = field(d, &map.amount)
            .and_then(|v| v.as_decimal())
            .unwrap_or_default();
        if let Some(status) = field(d, &map.invoice_status)
            && Some(&status) != unset.as_ref()
        {
            let slot = if status.as_text() == Some(map.paid.as_str()) {
                &mut money.paid
            } else {
                &mut money.invoiced
            };
            slot.deals += 1;
            slot.amount += amount;
        }
        if !d.is_live() {
            continue;
        }
        let end = match field(d, &map.planned_end) {
            Some(crate::value::Value::Date(x)) => x,
            Some(crate::value::Value::DateTime(x)) => x.with_timezone(&plan.tz).date_naive(),
            _ => continue,
        };
        if end >= week0 {
            let w = ((end - week0).num_days() / 7) as usize;
            if let Some(slot) = money.by_week.get_mut(w) {
                slot.amount += amount;
            }
        }
    }
    money
}

/// Writes the report as asked.
fn write(args: &Args, r: &Report) -> Result<(), super::Failure> {
    let tables = render::tables(r);
    let pick = |name: &str| tables.iter().find(|t| t.name == name);
    let out: String = match args.format {
        Format::Text => match &args.section {
            Some(s) => match pick(s) {
                Some(t) => render::text_table(t),
                None => format!("{s}: left out ({})\n", r.notes.join("; ")),
            },
            None => render::text(r),
        },
        Format::Json => {
            let j = render::json(r);
            let j = match &args.section {
                Some(s) => j.get(s).cloned().unwrap_or(serde_json::Value::Null),
                None => j,
            };
            format!("{}\n", serde_json::to_string_pretty(&j).unwrap_or_default())
        }
        Format::Csv => match (&args.section, &args.output) {
            (Some(s), _) => match pick(s) {
                Some(t) => render::csv(t),
                None => {
                    return Err(
                        format!("the section `{s}` was left out: {}", r.notes.join("; ")).into(),
                    );
                }
            },
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot make `{}`: {e}", dir.display()))?;
                for t in &tables {
                    let path = dir.join(format!("{}.csv", t.name));
                    std::fs::write(&path, render::csv(t))
                        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
                }
                eprintln!("{} tables written to {}", tables.len(), dir.display());
                return Ok(());
            }
            (None, None) => {
                return Err(
                    "CSV is one table: give --section NAME, or -o DIR for a file per section"
                        .into(),
                );
            }
        },
    };
    match &args.output {
        Some(p) => std::fs::write(p, out)
            .map_err(|e| format!("cannot write `{}`: {e}", p.display()).into()),
        None => {
            print!("{out}");
            Ok(())
        }
    }
}
