//! `dealflow check FILE…`: every problem of each file, for people or as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::diag;
use crate::load::RuleFile;

/// Arguments of `dealflow check`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Pipeline files (`*.flow`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How to print the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Treat warnings as errors (exit 1 when there are any).
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people: the line, a caret, the message and how to fix it.
    Text,
    /// One JSON document per file, for editors and CI.
    Json,
}

pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let mut failed = false;
    for path in &args.files {
        let loaded = RuleFile::read(path)?;
        let analysis = loaded.analyze();
        let errors = analysis.has_errors();
        let warnings = analysis.diagnostics.iter().any(|d| !d.is_error());
        failed |= errors || (args.deny_warnings && warnings);
        match args.format {
            Format::Json => {
                println!(
                    "{}",
                    diag::render_json(&analysis.diagnostics, &loaded.source)
                );
            }
            Format::Text => {
                eprint!(
                    "{}",
                    diag::render_text(&analysis.diagnostics, &loaded.source, color)
                );
                eprintln!("{}", diag::summary(&analysis.diagnostics, &loaded.source));
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
