//! The `dealflow` command line: one file per subcommand, this one parses the arguments.

mod check;
mod explain;
mod export;
mod fmt;
mod generate;
mod graph;
mod import;
mod lsp;
mod plan;
mod report;
mod serve;
mod simulate;
mod summaries;
mod test;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// dealflow — a sales pipeline as a text file: check it, format it, draw it.
#[derive(Debug, Parser)]
#[command(name = "dealflow", version, about, long_about = None, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour the output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Read a pipeline file and report every problem in it (exit 1 on errors).
    Check(check::Args),
    /// Rewrite pipeline files in the canonical layout, comments kept.
    Fmt(fmt::Args),
    /// Draw the pipeline: stages, transitions, parallel tracks, phases.
    Graph(graph::Args),
    /// Play a scenario through the pipeline on a virtual clock, before anything goes live.
    Simulate(simulate::Args),
    /// What a reload of a new version of the pipeline would change for the live deals of a
    /// database (exit 1 when it would be refused).
    Plan(plan::Args),
    /// Why a deal is where it is: its story step by step, with the rules behind each effect.
    Explain(explain::Args),
    /// Run the pipeline's tests: scenarios with expectations (exit 1 when one does not hold).
    Test(test::Args),
    /// The language server for editors (Language Server Protocol over standard input and
    /// output): problems as you type, completion, hover, definitions, rename, formatting.
    Lsp(lsp::Args),
    /// Write a large scenario for the reference pipeline (load tests, benchmarks).
    GenerateScenario(generate::Args),
    /// Run the pipeline for real: deals in a database, an HTTP API, timers, email and SMS.
    Serve(serve::Args),
    /// The dashboard's summaries of a database: `rebuild` makes them again from the deals.
    Summaries(summaries::Args),
    /// Analytics for the zones of growth over a database or a simulation: funnel, time in
    /// stage, invoices, delivery, hours, money, lost reasons, refusals.
    Report(Box<report::Args>),
    /// Deals from the CRM you are leaving: a CSV file mapped onto the pipeline, each deal at
    /// its stage (a dry run unless --apply).
    Import(Box<import::Args>),
    /// A database's deals, tasks, logged time or history as CSV or JSON Lines.
    Export(export::Args),
}

/// Whether to use terminal colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    /// When writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Color {
    fn enabled(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// Runs the command line and returns the process exit code: 0 success, 1 problems found in the
/// input, 2 the command could not run (unreadable file, bad arguments).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli.color.enabled();
    let result = match cli.command {
        Command::Check(args) => check::run(args, color),
        Command::Fmt(args) => fmt::run(args, color),
        Command::Graph(args) => graph::run(args, color),
        Command::Simulate(args) => simulate::run(args, color),
        Command::Plan(args) => plan::run(args, color),
        Command::Test(args) => test::run(args, color),
        Command::Lsp(args) => lsp::run(args),
        Command::Explain(args) => explain::run(args),
        Command::GenerateScenario(args) => generate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Summaries(args) => summaries::run(args),
        Command::Report(args) => report::run(*args, color),
        Command::Import(args) => import::run(*args),
        Command::Export(args) => export::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Why a command could not run: printed after `error: `, exit code 2.
pub(crate) type Failure = Box<dyn std::error::Error + Send + Sync>;

/// What a command says when a database has no rules it can run.
const NO_RULES: &str =
    "the database has no rules recorded that this dealflow can read (start the daemon on it once)";

/// The rules a database runs, or why a command cannot go on (the store closed then).
async fn stored_rules(store: &crate::store::Store) -> Result<crate::load::Ready, Failure> {
    match crate::preview::running_rules(store).await {
        Some(r) => Ok(r),
        None => {
            store.close().await;
            Err(NO_RULES.into())
        }
    }
}
