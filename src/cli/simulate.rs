//! `dealflow simulate FILE SCENARIO [--format text|json]`: a dry run on a virtual clock.
//! `dealflow simulate FILE --db URL [--until T]`: the live deals of a database run forward under
//! FILE (a what-if), nothing written.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::diag;
use crate::load::LoadError;
use crate::load::RuleFile;
use crate::sim::{Simulation, output, scenario};
use crate::team::Team;

/// Arguments of `dealflow simulate`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A pipeline file (`*.flow`).
    #[arg(required_unless_present = "print_schema")]
    file: Option<PathBuf>,
    /// A scenario (`*.scenario.toml`): team, deals, events, work on tasks.
    #[arg(required_unless_present_any = ["db", "print_schema"], conflicts_with = "db")]
    scenario: Option<PathBuf>,
    /// Print the JSON Schema of the JSON timeline's lines (every record kind, its keys and
    /// their types) and exit.
    #[arg(long, exclusive = true)]
    print_schema: bool,
    /// What-if on live data: run the live deals of this database (`sqlite://FILE`,
    /// `postgres://…`) forward under FILE from now; the database is only read.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// PostgreSQL schema of the database (with `--db`).
    #[arg(long, requires = "db")]
    schema: Option<String>,
    /// With `--db`: run the clock to this moment (`2026-03-31T18:00`, in the pipeline's zone);
    /// default: 30 days from now.
    #[arg(long, requires = "db")]
    until: Option<String>,
    /// How to print the timeline.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the timeline to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A readable timeline, day by day.
    Text,
    /// One JSON object per line.
    Json,
}

pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let Some(file) = args.file.as_deref() else {
        print!("{}", crate::json::TIMELINE_SCHEMA);
        return Ok(ExitCode::SUCCESS);
    };
    let loaded = RuleFile::read(file)?;
    let ready = match loaded.ready() {
        Ok(r) => r,
        Err(LoadError::Invalid {
            diagnostics,
            file: source,
        }) => {
            eprint!("{}", diag::render_text(&diagnostics, &source, color));
            eprintln!("{}: fix these errors before simulating", file.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    };
    let plan = &ready.plan;
    let mut switch_records = Vec::new();
    let (sc, sim, width) = match (&args.scenario, &args.db) {
        (Some(path), _) => {
            let sc = scenario::read(path)?;
            let team = sc.team();
            let sim = Simulation::new(plan, ready.script.as_ref(), team);
            let width = sc
                .inputs
                .iter()
                .filter_map(|e| match &e.what {
                    scenario::What::Deal { id, .. } => Some(id.chars().count() + 2),
                    _ => None,
                })
                .max()
                .unwrap_or(4);
            (sc, sim, width)
        }
        (None, Some(url)) => {
            let now = chrono::Utc::now();
            let live = live_data(url, args.schema.clone(), &ready, now)?;
            switch_records = live.switch;
            let until = match &args.until {
                Some(t) => t.clone(),
                None => (now + chrono::Duration::days(30)).to_rfc3339(),
            };
            eprintln!(
                "what-if: {} live deal(s) from the database under {}, from now to {until}; nothing is written",
                live.deals.len(),
                file.display()
            );
            let sc = scenario::Scenario {
                start: now.to_rfc3339(),
                until,
                team: live.team.members.clone(),
                timer_cap: live.team.timer_cap,
                inputs: Vec::new(),
                expects: Vec::new(),
            };
            let width = live
                .deals
                .iter()
                .map(|d| d.id.chars().count() + 2)
                .max()
                .unwrap_or(4);
            let mut sim = Simulation::new(plan, ready.script.as_ref(), live.team);
            sim.seed(live.deals);
            (sc, sim, width)
        }
        (None, None) => return Err("give a scenario or --db URL".into()),
    };
    let bar = (std::io::stderr().is_terminal() && sc.inputs.len() > 2_000).then(|| {
        let b = indicatif::ProgressBar::new(sc.inputs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} simulating {bar:40} {pos}/{len} inputs ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut tick = |done: u64, _total: u64| {
        if let Some(b) = &bar
            && done.is_multiple_of(256)
        {
            b.set_position(done);
        }
    };
    let sink_target: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(
            std::fs::File::create(p).map_err(|e| format!("cannot write `{}`: {e}", p.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let format = args.format;
    // The timeline is written by a thread of its own while the engine runs: records go to it
    // in batches, and the second core turns them into text.
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<Batch>(16);
    // Written batches come back to be dropped here: memory is given back by the thread that
    // took it (a free from another thread costs the allocator more, and new pages besides).
    let (written, to_drop) = std::sync::mpsc::channel::<Vec<crate::engine::Record>>();
    std::thread::scope(|scope| {
        let writer =
            scope.spawn(move || write_timeline(plan, width, format, sink_target, batches, written));
        let mut batch = Vec::with_capacity(BATCH_ROOM);
        let mut sink = |step: &mut Vec<crate::engine::Record>| {
            batch.append(step);
            if batch.len() >= BATCH {
                // The last batch back is used again; the others are freed.
                let next = to_drop.try_iter().last().map_or_else(
                    || Vec::with_capacity(BATCH_ROOM),
                    |mut old| {
                        old.clear();
                        old
                    },
                );
                let full = std::mem::replace(&mut batch, next);
                let _ = to_writer.send(Batch::Records(full));
            }
        };
        // The what-if starts from the switch a reload would make.
        sink(&mut switch_records);
        let ran = sim.run_into(sc, &mut sink, Some(&mut tick)).map(|end| {
            let _ = to_writer.send(Batch::Records(std::mem::take(&mut batch)));
            let mut finals = end.finals;
            if format == Format::Json {
                // The deals' final lines: the writer takes the first half while this thread
                // writes the second.
                let later = finals.split_off(finals.len() / 2);
                let _ = to_writer.send(Batch::Finals(finals, end.until));
                let mut bytes = Vec::with_capacity(later.len() * 512);
                final_lines(plan, &later, &end.until, &mut bytes);
                let _ = to_writer.send(Batch::Bytes(bytes));
            } else {
                let _ = to_writer.send(Batch::Finals(finals, end.until));
            }
        });
        drop(to_writer);
        let _ = writer.join();
        ran
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(ExitCode::SUCCESS)
}

/// Records handed to the writing thread at a time.
const BATCH: usize = 1024;
/// Room in a batch: a step's records join it whole, so it may pass `BATCH` a little.
const BATCH_ROOM: usize = BATCH + 256;

/// What the writing thread gets.
enum Batch {
    Records(Vec<crate::engine::Record>),
    Finals(Vec<crate::sim::Final>, chrono::DateTime<chrono::Utc>),
    /// Lines already written out.
    Bytes(Vec<u8>),
}

/// The `final` line of each deal, as the timeline ends.
fn final_lines(
    plan: &crate::compile::Plan,
    finals: &[crate::sim::Final],
    until: &chrono::DateTime<chrono::Utc>,
    out: &mut Vec<u8>,
) {
    for f in finals {
        let _ = serde_json::to_writer(&mut *out, &crate::json::final_json(plan, &f.deal, until));
        out.push(b'\n');
    }
}

/// Writes the timeline as it comes. A closed pipe (`| head`) stops the output, not the program
/// with an error.
fn write_timeline(
    plan: &crate::compile::Plan,
    width: usize,
    format: Format,
    target: Box<dyn Write + Send + '_>,
    batches: std::sync::mpsc::Receiver<Batch>,
    written: std::sync::mpsc::Sender<Vec<crate::engine::Record>>,
) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, target);
    let mut text = output::TextWriter::new(plan, width);
    let mut broken = false;
    let mut write = |s: &[u8], out: &mut std::io::BufWriter<Box<dyn Write + Send + '_>>| {
        if !broken && out.write_all(s).is_err() {
            broken = true;
        }
    };
    if format == Format::Text {
        write(text.header().as_bytes(), &mut out);
    }
    let mut line = Vec::new();
    for batch in batches {
        match batch {
            Batch::Records(records) => {
                for r in &records {
                    match format {
                        Format::Json => {
                            line.clear();
                            if crate::json::record_line(r, plan.tz, &plan.file, &mut line) {
                                write(&line, &mut out);
                            }
                        }
                        Format::Text => write(text.record(r).as_bytes(), &mut out),
                    }
                }
                let _ = written.send(records);
            }
            Batch::Finals(finals, until) => match format {
                Format::Json => {
                    line.clear();
                    final_lines(plan, &finals, &until, &mut line);
                    write(&line, &mut out);
                }
                Format::Text => write(text.finals(&finals, &until).as_bytes(), &mut out),
            },
            Batch::Bytes(bytes) => write(&bytes, &mut out),
        }
    }
    let _ = out.flush();
}

/// The live deals and team of a database, read only, passed to the new rules as a reload
/// would pass them (the records of that switch come first in the timeline).
struct Live {
    deals: Vec<crate::engine::Deal>,
    team: Team,
    switch: Vec<crate::engine::Record>,
}

fn live_data(
    url: &str,
    schema: Option<String>,
    ready: &crate::load::Ready,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Live, super::Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let opts = crate::store::Options {
            schema,
            read_only: true,
            ..Default::default()
        };
        let store = crate::store::Store::open(url, &opts).await?;
        let team = store.read().await?.team().await?;
        let ctx = crate::engine::Ctx {
            plan: &ready.plan,
            team: &team,
            script: ready.script.as_ref(),
            now,
            site: None,
        };
        let mut deals = Vec::new();
        let mut switch = Vec::new();
        let mut misfits = Vec::new();
        crate::preview::each_live(&store, |stored| {
            match crate::preview::pass(ctx, stored, "new rules") {
                Ok((_, Ok(sw))) => {
                    switch.extend(sw.outcome.records);
                    deals.push(sw.outcome.deal);
                }
                Ok((deal, Err(e))) => {
                    eprintln!(
                        "warning: deal `{}` cannot pass to these rules ({}); it runs as it was read",
                        deal.id,
                        e.message()
                    );
                    deals.push(deal);
                }
                Err(_) => misfits.push(stored.id.clone()),
            }
        })
        .await?;
        store.close().await;
        if !misfits.is_empty() {
            eprintln!(
                "warning: {} live deal(s) sit in stages this file does not have and are left out: {}",
                misfits.len(),
                misfits.join(", ")
            );
        }
        Ok(Live {
            deals,
            team,
            switch,
        })
    })
}
