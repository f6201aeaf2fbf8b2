//! `dealflow plan NEW.flow --db URL [--at T] [--format text|json]`: what a reload of NEW.flow
//! would change for the live deals of a database, deal by deal and summed up, before it runs.
//! The database is only read (a running daemon may hold it).
//!
//! Exit 0: a reload would apply NEW.flow; 1: it would refuse it (the reasons are printed), or
//! NEW.flow has errors; 2: the file or the database cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::diag;
use crate::load::{LoadError, RuleFile};
use crate::preview::{preview, preview_json, preview_text};

/// Arguments of `dealflow plan`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The new version of the pipeline file (`*.flow`).
    file: PathBuf,
    /// The database whose live deals it would run (`sqlite://FILE`, `postgres://…`); only read.
    #[arg(long, value_name = "URL")]
    db: String,
    /// PostgreSQL schema of the database.
    #[arg(long)]
    schema: Option<String>,
    /// The moment of the switch (`2026-03-31T18:00`, in the pipeline's zone); default: now.
    #[arg(long)]
    at: Option<String>,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Deal by deal, then the totals and the verdict.
    Text,
    /// One JSON document.
    Json,
}

pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let ready = match RuleFile::read(&args.file)?.ready() {
        Ok(r) => r,
        Err(LoadError::Invalid { diagnostics, file }) => {
            eprint!("{}", diag::render_text(&diagnostics, &file, color));
            eprintln!(
                "{}: a reload would refuse this file: it has errors",
                args.file.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        Err(e @ (LoadError::Compile { .. } | LoadError::Script { .. })) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    };
    let tz = ready.plan.tz;
    let at = match &args.at {
        Some(t) => crate::calendar::moment(tz, t).map_err(|e| format!("--at: {e}"))?,
        None => chrono::Utc::now(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let p = rt.block_on(async {
        let opts = crate::store::Options {
            schema: args.schema.clone(),
            read_only: true,
            ..Default::default()
        };
        let store = crate::store::Store::open(&args.db, &opts).await?;
        let old = crate::preview::running_rules(&store).await;
        let p = preview(&store, &ready, old.as_ref(), at).await;
        store.close().await;
        p
    })?;
    match args.format {
        Format::Text => print!("{}", preview_text(&p, tz)),
        Format::Json => println!("{}", preview_json(&p, tz)),
    }
    Ok(if p.applicable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
