//! `dealflow import --map MAP.toml --rules PIPELINE.flow FILE.csv (--to URL | --db URL)`:
//! deals from the CRM a studio is leaving, each created at its stage with its fields mapped.
//! A dry run by default: every row is played through the pipeline in memory and the counts per
//! stage and every refusal (row, id, why) are printed; nothing is written. `--apply` writes:
//! through a running daemon's API (`--to URL`, a staff token in `--token` or `DEALFLOW_TOKEN`,
//! so the single writer stays single) or into a database no daemon holds (`--db URL`).
//! Imported deals start at their stage without its `on enter` actions (no welcome SMS to five
//! thousand old clients) unless `--with-actions`, but with the tasks a stage's way out waits on
//! (open, or done as the map says); their timers are armed as at any stage. A database with no
//! team yet takes the map's `[people]`.
//!
//! Exit 0: done (or a clean dry run); 1: some rows were refused; 2: the map, the file or the
//! target cannot be used.

mod map;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::engine::{self, Creation, Ctx};
use crate::load::{LoadError, RuleFile};

/// Deals written per transaction with `--db`.
const CHUNK: usize = 200;
/// Refusals printed at most (the count says the rest).
const SHOWN: usize = 50;

/// Arguments of `dealflow import`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "db", "config"])))]
pub(super) struct Args {
    /// The CSV file exported from the old CRM (UTF-8, a header row).
    file: PathBuf,
    /// How its columns become deals (see `examples/import/`).
    #[arg(long, value_name = "MAP.toml")]
    map: PathBuf,
    /// The pipeline the deals go into (the daemon's rule file).
    #[arg(long, value_name = "PIPELINE.flow")]
    rules: PathBuf,
    /// A running daemon's address (`http://127.0.0.1:8080`).
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// A staff token for `--to` (or `DEALFLOW_TOKEN`).
    #[arg(long, requires = "to")]
    token: Option<String>,
    /// A database no daemon holds (`sqlite://FILE`, `postgres://…`).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// PostgreSQL schema of the database (with `--db`).
    #[arg(long, requires = "db")]
    schema: Option<String>,
    /// A daemon's configuration (no daemon running on it): its database and its team.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the deals (without it: a dry run that writes nothing).
    #[arg(long)]
    apply: bool,
    /// Run each stage's `on enter` actions as for a new deal (messages, tasks).
    #[arg(long)]
    with_actions: bool,
}

/// How the rows went.
#[derive(Debug, Default)]
struct Tally {
    /// Deals made (or that would be), per stage they start at.
    made: BTreeMap<String, u64>,
    /// Rows whose deal was there already (by id).
    existing: u64,
    /// Rows refused: row number, id, why.
    refused: Vec<(usize, String, String)>,
    /// Deals whose stage's rules moved them on at once: row, id, the stage asked, where they
    /// are (a stage whose way out holds already, with its `on enter` work not done).
    moved: Vec<(usize, String, String, String)>,
    /// Open tasks made with nobody to do them (no one in the team has their role), by task.
    nobody: BTreeMap<String, u64>,
}

impl Tally {
    /// A deal made (or that would be), counted at the stages it is at then.
    fn made(&mut self, at: &str) {
        *self.made.entry(at.to_string()).or_default() += 1;
    }

    /// What the run did (or would do), for people; written to standard output whole, and
    /// quietly cut short when the reader is gone (`| head`).
    fn print(&self, rows: usize, apply: bool) {
        use std::fmt::Write as _;
        use std::io::Write as _;
        let mut out = String::new();
        let made: u64 = self.made.values().sum();
        let verb = if apply { "created" } else { "would be created" };
        let _ = writeln!(
            out,
            "{rows} rows: {made} deals {verb}, {} refused",
            self.refused.len()
        );
        for (stage, n) in &self.made {
            let _ = writeln!(out, "  {stage:<24} {n}");
        }
        if self.existing > 0 {
            let _ = writeln!(
                out,
                "{} already there (same id): left as they are",
                self.existing
            );
        }
        for (row, id, asked, now) in self.moved.iter().take(SHOWN) {
            let _ = writeln!(
                out,
                "row {row} ({id}): asked for `{asked}`, is at `{now}` at once (the stage's way \
                 out holds already)"
            );
        }
        if !self.nobody.is_empty() {
            let tasks: Vec<String> = self
                .nobody
                .iter()
                .map(|(task, n)| format!("{task} ×{n}"))
                .collect();
            let _ = writeln!(
                out,
                "open tasks with nobody to do them (no one in the team has their role): {}; \
                 the daemon's --config gives its whole team",
                tasks.join(", ")
            );
        }
        for (row, id, why) in self.refused.iter().take(SHOWN) {
            let _ = writeln!(out, "row {row} ({id}): {why}");
        }
        if self.refused.len() > SHOWN {
            let _ = writeln!(out, "… and {} more refused", self.refused.len() - SHOWN);
        }
        if !apply {
            let _ = writeln!(out, "dry run: nothing was written; add --apply to write");
        }
        let _ = std::io::stdout().write_all(out.as_bytes());
    }
}

pub(super) fn run(args: Args) -> Result<ExitCode, super::Failure> {
    let text = std::fs::read_to_string(&args.map)
        .map_err(|e| format!("cannot read `{}`: {e}", args.map.display()))?;
    let map: map::MapFile =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", args.map.display()))?;
    let ready = match RuleFile::read(&args.rules)?.ready() {
        Ok(r) => r,
        Err(LoadError::Invalid { .. }) => {
            return Err(format!(
                "{} has errors: `dealflow check` says which",
                args.rules.display()
            )
            .into());
        }
        Err(other) => return Err(other.into()),
    };
    let plan = &ready.plan;
    let problems = map.check(plan);
    if !problems.is_empty() {
        return Err(format!(
            "{} does not fit the pipeline:\n  {}",
            args.map.display(),
            problems.join("\n  ")
        )
        .into());
    }
    let text = read_text(&args.file, map.encoding()?)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(map.delimiter()?)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", args.file.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let missing = map.missing_columns(&header);
    if !missing.is_empty() {
        return Err(format!(
            "{} has no column {} (its columns: {})",
            args.file.display(),
            missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            header.join(", ")
        )
        .into());
    }
    // Every row as a deal to create, or why not; then each one tried on the pipeline in
    // memory, exactly as the daemon will create it.
    let mut tally = Tally::default();
    let mut todo: Vec<(usize, Creation, String)> = Vec::new();
    let mut target = write::Target::of(&args)?;
    let mut team = target.team()?;
    // A new database has no team: the map's people become it (the daemon's configuration
    // gives its own at its start), or rows naming people would all be refused.
    if team.members.is_empty() {
        let people = map.team();
        if !people.is_empty() && target.adopt(people.clone()) {
            team.members = people;
        } else if let Some((column, field)) = map.people_column(plan) {
            return Err(target.no_team(column, field).into());
        }
    }
    let now = chrono::Utc::now();
    let ctx = Ctx {
        plan,
        team: &team,
        script: ready.script.as_ref(),
        now,
        site: None,
    };
    let mut rows = 0;
    let mut ids = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                tally.refused.push((row, String::new(), e.to_string()));
                continue;
            }
        };
        match map.creation(plan, &header, &record, args.with_actions) {
            Err(why) => tally.refused.push((row, map.row_id(&header, &record), why)),
            Ok(c) if !ids.insert(c.id.clone()) => {
                tally
                    .refused
                    .push((row, c.id.clone(), "the same id as an earlier row".into()));
            }
            Ok(c) => match engine::create(ctx, &c) {
                Ok(out) => {
                    let at: Vec<&str> = out
                        .deal
                        .stages()
                        .iter()
                        .map(|&s| plan.stages[s].name.as_str())
                        .collect();
                    let at = at.join(" & ");
                    // A stage left at once: its way out held already (a `skip when` is the
                    // pipeline's own rule, and tasks the map says are done move it on as asked).
                    let left = out
                        .records
                        .iter()
                        .any(|r| matches!(r.kind, engine::Kind::StageLeft { .. }));
                    if left && c.done.is_empty() {
                        let asked = c.stages.join(" & ");
                        tally.moved.push((row, c.id.clone(), asked, at.clone()));
                    }
                    for t in out.deal.tasks.iter() {
                        if t.assignee.is_none() && t.done_at.is_none() {
                            *tally.nobody.entry(t.id.clone()).or_default() += 1;
                        }
                    }
                    todo.push((row, c, at));
                }
                Err(e) => tally
                    .refused
                    .push((row, c.id.clone(), e.message().to_string())),
            },
        }
    }
    if args.apply {
        let applied = target.write(&args.rules, &todo, plan)?;
        tally.existing = applied.existing;
        tally.made = applied.made;
        tally.refused.extend(applied.refused);
        tally.refused.sort();
    } else {
        for (_, _, at) in &todo {
            tally.made(at);
        }
    }
    tally.print(rows, args.apply);
    Ok(if tally.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The file as text in its encoding. A file that is not the UTF-8 the map expects (a
/// Windows-1251 export) is refused before a row is read, saying what to write in the map.
fn read_text(
    file: &std::path::Path,
    encoding: &'static encoding_rs::Encoding,
) -> Result<String, super::Failure> {
    let bytes =
        std::fs::read(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    if encoding == encoding_rs::UTF_8 {
        return String::from_utf8(bytes).map_err(|e| {
            format!(
                "`{}` is not UTF-8 (byte {}): an export saved by Excel in a Russian Windows is \
                 Windows-1251; give the map `encoding = \"windows-1251\"`, or save the file \
                 as UTF-8",
                file.display(),
                e.utf8_error().valid_up_to()
            )
            .into()
        });
    }
    let (text, _, _) = encoding.decode(&bytes);
    Ok(text.into_owned())
}

/// A progress bar on a terminal.
fn bar(len: usize, what: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(len as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {what} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, {{eta}} left)"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

mod write;
