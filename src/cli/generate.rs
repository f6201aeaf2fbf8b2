//! `dealflow generate-scenario --deals N`: a large scenario through the reference pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::sim::generate;

/// Arguments of `dealflow generate-scenario`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// How many leads.
    #[arg(long, default_value_t = 1_000)]
    deals: usize,
    /// Varies amounts and times; the same seed gives the same scenario.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> Result<ExitCode, super::Failure> {
    let sc = generate::reference(args.deals, args.seed);
    let text = generate::to_toml(&sc);
    match &args.output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write `{}`: {e}", p.display()))?
        }
        None => {
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}
