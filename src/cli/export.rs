//! `dealflow export deals|tasks|time|history --db URL [--format csv|jsonl] [--output FILE]`:
//! a database's deals (one row each, a column per role and per field of the pipeline it runs),
//! tasks, logged time or history, for a spreadsheet or an accountant. Read-only: a daemon may
//! keep running on it. Moments are UTC (RFC 3339). In CSV a list is joined by `|`, a history
//! record is its JSON and every cell is safe for a spreadsheet ([`crate::sheet`]); in JSON Lines
//! numbers are JSON numbers and money is its exact decimal text.
//!
//! Exit 0: written; 2: the database or the output cannot be used.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value as Json;

use crate::sheet::{Column, Lines, Sheet};
use crate::store::{After, Export, ExportRow, Options, Store};
use crate::types::Ty;

/// Rows read at a time.
const PAGE: i64 = 1000;

/// Arguments of `dealflow export`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// What to export.
    #[arg(value_enum)]
    what: What,
    /// The database (`sqlite://FILE`, `postgres://…`).
    #[arg(long, value_name = "URL")]
    db: String,
    /// PostgreSQL schema of the database.
    #[arg(long)]
    schema: Option<String>,
    /// CSV (a header row, then a row per item; a cell that begins like a spreadsheet formula
    /// gets a `'` before it) or JSON Lines (an object per line: counts, hours and numbers as
    /// JSON numbers, money as its exact decimal text, moments in UTC).
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Write here instead of standard output (written whole or not at all).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows read at a time (a test's knob).
    #[arg(long, hide = true, default_value_t = PAGE, value_parser = clap::value_parser!(i64).range(1..))]
    page: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum What {
    /// One row per deal: id, title, stages, whether it is live, who is in each role, its fields.
    Deals,
    /// One row per task: its deal, who, due, estimate, hours, done or cancelled.
    Tasks,
    /// One row per time entry: deal, task, who, hours, rate, when.
    Time,
    /// One row per history record: deal, when, kind, cause, rule, rules version, the record.
    History,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// For a spreadsheet: cells that begin like a formula (`=`, `+`, `-`, `@`, a tab) are
    /// written as text, with a `'` before them.
    Csv,
    /// An object per line: numbers are JSON numbers, money its exact decimal text
    /// (`"350000.00"`).
    Jsonl,
}

pub(super) fn run(args: Args) -> Result<ExitCode, super::Failure> {
    let what = match args.what {
        What::Deals => Export::Deals,
        What::Tasks => Export::Tasks,
        What::Time => Export::Time,
        What::History => Export::History,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Into a file beside the target, renamed over it at the end: a failure leaves nothing half
    // written.
    let (sink, part): (Box<dyn Write>, Option<PathBuf>) = match &args.output {
        Some(path) => {
            let part = path.with_extension("part");
            let f = std::fs::File::create(&part)
                .map_err(|e| format!("cannot write `{}`: {e}", part.display()))?;
            (Box::new(std::io::BufWriter::new(f)), Some(part))
        }
        None => (
            Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            None,
        ),
    };
    let mut sink = Some(sink);
    let mut out: Option<Out> = None;
    let written = rt.block_on(async {
        let opts = Options {
            schema: args.schema.clone(),
            read_only: true,
            ..Options::default()
        };
        let store = Store::open(&args.db, &opts).await?;
        // The rules the database runs: the deals' columns, and what a history record's moments
        // are (written in UTC, as the API writes them).
        let ready = match what {
            Export::Deals => Some(super::stored_rules(&store).await?),
            _ => crate::preview::running_rules(&store).await,
        };
        let plan = ready.as_ref().map(|r| &r.plan);
        let columns = columns(what, plan.filter(|_| what == Export::Deals));
        let sink = sink.take().ok_or("the output is gone")?;
        let o = out.insert(match args.format {
            Format::Csv => {
                let header: Vec<(&str, Column)> =
                    columns.iter().map(|c| (c.name.as_str(), c.sheet)).collect();
                Out::Csv(Box::new(Sheet::new(sink, &header, Lines::Lf)?))
            }
            Format::Jsonl => Out::Jsonl(sink),
        });
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos} rows ({per_sec})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b
        });
        let mut after = After::default();
        let mut n: u64 = 0;
        loop {
            let (rows, next) = {
                let mut tx = store.read().await?;
                tx.export_page(what, &after, args.page).await?
            };
            for row in &rows {
                let mut values: Vec<Json> = columns.iter().map(|c| c.value(row)).collect();
                if let (Export::History, Some(plan)) = (what, plan) {
                    for v in &mut values {
                        if let Json::Object(record) = v {
                            crate::json::record_in_utc(record, plan);
                        }
                    }
                }
                match o {
                    Out::Csv(w) => {
                        let cells: Vec<String> = values.iter().map(cell).collect();
                        w.row(cells.iter().map(String::as_str))?;
                    }
                    Out::Jsonl(w) => {
                        let object: serde_json::Map<String, Json> =
                            columns.iter().map(|c| c.name.clone()).zip(values).collect();
                        serde_json::to_writer(&mut *w, &object)?;
                        w.write_all(b"\n")?;
                    }
                }
                n += 1;
            }
            if let Some(b) = &bar {
                b.set_position(n);
            }
            match next {
                Some(a) => after = a,
                None => break,
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        store.close().await;
        Ok::<u64, super::Failure>(n)
    });
    // Written out whole (a CSV's last buffer too) before the file takes the target's name.
    let written = written.and_then(|n| {
        match out {
            Some(Out::Csv(w)) => w.finish()?.flush()?,
            Some(Out::Jsonl(mut w)) => w.flush()?,
            None => {}
        }
        Ok(n)
    });
    match (written, &part, &args.output) {
        (Ok(n), Some(part), Some(path)) => {
            std::fs::rename(part, path)
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            eprintln!("{n} rows written to {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        (Ok(_), _, _) => Ok(ExitCode::SUCCESS),
        (Err(e), part, _) => {
            if let Some(p) = part {
                let _ = std::fs::remove_file(p);
            }
            Err(e)
        }
    }
}

/// Where rows go.
enum Out {
    Csv(Box<Sheet<Box<dyn Write>>>),
    Jsonl(Box<dyn Write>),
}

/// Where a column's value is in a row the store gives.
enum From {
    /// A column of the row as it is.
    Row(&'static str),
    /// A field of the deal; `Ty::Decimal` fields become JSON numbers (stored as exact text),
    /// money stays exact text.
    Field(String, Ty),
    /// The team member in a role of the deal.
    Role(String),
}

/// A column of an export: its name, what it holds for a spreadsheet, where its value is.
struct Col {
    name: String,
    sheet: Column,
    from: From,
}

impl Col {
    /// This column's value in `row`: null where the row has none.
    fn value(&self, row: &ExportRow) -> Json {
        let get = |key: &str| row.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
        let v = match &self.from {
            From::Row(key) => get(key).cloned(),
            From::Role(name) => get("roles").and_then(|r| r.get(name)).cloned(),
            From::Field(name, ty) => {
                get("fields")
                    .and_then(|f| f.get(name))
                    .map(|v| match (ty, v) {
                        (Ty::Decimal, Json::String(s)) => s
                            .parse::<rust_decimal::Decimal>()
                            .map_or_else(|_| v.clone(), crate::json::number),
                        _ => v.clone(),
                    })
            }
        };
        v.unwrap_or(Json::Null)
    }
}

/// An export's columns in order: the store's own, then for deals a column per role of the
/// pipeline (the team member in it) and a column per field (those the pipeline no longer has
/// are left out).
fn columns(what: Export, plan: Option<&crate::compile::Plan>) -> Vec<Col> {
    use Column::{Number, Text};
    let fixed: &[(&str, Column)] = match what {
        Export::Deals => &[
            ("id", Text),
            ("title", Text),
            ("parent", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("live", Text),
            ("stages", Text),
            ("alerts", Text),
        ],
        Export::Tasks => &[
            ("deal", Text),
            ("n", Number),
            ("task", Text),
            ("title", Text),
            ("assignee", Text),
            ("stage", Text),
            ("created_at", Text),
            ("due", Text),
            ("estimate_h", Number),
            ("started_at", Text),
            ("done_at", Text),
            ("hours", Number),
            ("cancelled", Text),
        ],
        Export::Time => &[
            ("deal", Text),
            ("n", Number),
            ("task", Text),
            ("member", Text),
            ("hours", Number),
            ("rate", Number),
            ("at", Text),
        ],
        Export::History => &[
            ("id", Number),
            ("deal", Text),
            ("at", Text),
            ("kind", Text),
            ("cause", Text),
            ("rule", Text),
            ("rules_version", Number),
            ("record", Text),
        ],
    };
    let mut out: Vec<Col> = fixed
        .iter()
        .map(|&(name, sheet)| Col {
            name: name.to_string(),
            sheet,
            from: From::Row(name),
        })
        .collect();
    if let Some(plan) = plan {
        out.extend(plan.roles.iter().map(|r| Col {
            name: r.name.clone(),
            sheet: Text,
            from: From::Role(r.name.clone()),
        }));
        out.extend(plan.fields.iter().map(|f| Col {
            name: f.name.clone(),
            sheet: match f.ty {
                Ty::Int | Ty::Decimal | Ty::Money => Number,
                _ => Text,
            },
            from: From::Field(f.name.clone(), f.ty.clone()),
        }));
    }
    out
}

/// A value as a CSV cell: text as it is, nothing for null, a list joined by `|`, numbers and
/// records as JSON.
fn cell(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Array(items) if items.iter().all(Json::is_string) => items
            .iter()
            .filter_map(Json::as_str)
            .collect::<Vec<_>>()
            .join("|"),
        other => other.to_string(),
    }
}
