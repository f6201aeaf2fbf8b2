//! `dealflow export deals|tasks|time|history --db URL [--format csv|jsonl] [--output FILE]`:
//! a database's deals (one row each, a column per field of the pipeline it runs), tasks, logged
//! time or history, for a spreadsheet or an accountant. Read-only: a daemon may keep running on
//! it. Moments are UTC (RFC 3339); in CSV a list is joined by `|` and a history record is its
//! JSON.
//!
//! Exit 0: written; 2: the database or the output cannot be used.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value as Json;

use crate::store::{After, Export, ExportRow, Options, Store};

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
    /// CSV (a header row, then a row per item) or JSON Lines (an object per line).
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
    /// One row per deal: id, title, stages, whether it is live, its fields.
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
    Csv,
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
    let mut out = match args.format {
        Format::Csv => Out::Csv(Box::new(csv::WriterBuilder::new().from_writer(sink))),
        Format::Jsonl => Out::Jsonl(sink),
    };
    let written = rt.block_on(async {
        let opts = Options {
            schema: args.schema.clone(),
            read_only: true,
            ..Options::default()
        };
        let store = Store::open(&args.db, &opts).await?;
        let fields: Vec<String> = if what == Export::Deals {
            let ready = super::stored_rules(&store).await?;
            ready.plan.fields.iter().map(|f| f.name.clone()).collect()
        } else {
            Vec::new()
        };
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
                let flat = flatten(row, &fields);
                match &mut out {
                    Out::Csv(w) => {
                        if n == 0 {
                            w.write_record(flat.iter().map(|(k, _)| k.as_str()))?;
                        }
                        w.write_record(flat.iter().map(|(_, v)| cell(v)))?;
                    }
                    Out::Jsonl(w) => {
                        let object: serde_json::Map<String, Json> = flat.into_iter().collect();
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
        match &mut out {
            // No rows: the header alone, so that a spreadsheet still sees the columns.
            Out::Csv(w) if n == 0 => w.write_record(empty_header(what, &fields))?,
            _ => {}
        }
        match &mut out {
            Out::Csv(w) => w.flush()?,
            Out::Jsonl(w) => w.flush()?,
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        store.close().await;
        Ok::<u64, super::Failure>(n)
    });
    drop(out);
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
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    Jsonl(Box<dyn Write>),
}

/// A row with a deal's `fields` spread into a column per field of the pipeline (in its order;
/// fields the pipeline no longer has are left out).
fn flatten(row: &ExportRow, fields: &[String]) -> Vec<(String, Json)> {
    let mut out = Vec::with_capacity(row.len() + fields.len());
    for (k, v) in row {
        if *k == "fields" {
            for f in fields {
                out.push((f.clone(), v.get(f).cloned().unwrap_or(Json::Null)));
            }
        } else {
            out.push(((*k).to_string(), v.clone()));
        }
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

/// The columns of an export, for an empty one.
fn empty_header(what: Export, fields: &[String]) -> Vec<String> {
    let fixed: &[&str] = match what {
        Export::Deals => &[
            "id",
            "title",
            "parent",
            "created_at",
            "updated_at",
            "live",
            "stages",
            "alerts",
        ],
        Export::Tasks => &[
            "deal",
            "n",
            "task",
            "title",
            "assignee",
            "stage",
            "created_at",
            "due",
            "estimate_h",
            "started_at",
            "done_at",
            "hours",
            "cancelled",
        ],
        Export::Time => &["deal", "n", "task", "member", "hours", "rate", "at"],
        Export::History => &[
            "id",
            "deal",
            "at",
            "kind",
            "cause",
            "rule",
            "rules_version",
            "record",
        ],
    };
    fixed
        .iter()
        .map(|s| s.to_string())
        .chain(fields.iter().cloned())
        .collect()
}
