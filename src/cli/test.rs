//! `dealflow test FLOW [FILE|DIR]…`: an analyst's test runner — scenarios with expectations,
//! played under the pipeline; a line per file and per failing expectation, then the sum.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::diag;
use crate::load::{LoadError, RuleFile};
use crate::testing::{self, FileRun};

/// Arguments of `dealflow test`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A pipeline file (`*.flow`).
    flow: PathBuf,
    /// Test files (scenarios with `[[expect]]` sections), or folders of them (every `*.toml`
    /// inside). None: the tests beside the pipeline, `DIR/tests/STEM/*.toml` for
    /// `DIR/STEM.flow`.
    files: Vec<PathBuf>,
    /// How to report: for people, or JUnit XML for CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file; with `--format junit` the lines for people still go to
    /// standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A line per file and per failing expectation, then `N passed, N failed`.
    Text,
    /// JUnit XML: a test suite per file, a test case per expectation.
    Junit,
}

/// Exit 0 when every expectation holds, 1 when one does not (or the pipeline has errors), 2
/// when a test file cannot be read or run.
pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let loaded = RuleFile::read(&args.flow)?;
    let ready = match loaded.ready() {
        Ok(r) => r,
        Err(LoadError::Invalid { diagnostics, file }) => {
            eprint!("{}", diag::render_text(&diagnostics, &file, color));
            eprintln!("{}: fix these errors before testing", args.flow.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    };
    let files = if args.files.is_empty() {
        testing::beside(&args.flow)?
    } else {
        let mut files = Vec::new();
        for f in &args.files {
            if f.is_dir() {
                files.extend(testing::in_dir(f)?);
            } else {
                files.push(f.clone());
            }
        }
        files
    };
    let runs: Vec<FileRun> = files.iter().map(|f| testing::run(&ready, f)).collect();
    let text = text_report(&runs, color && args.output.is_none());
    match (args.format, &args.output) {
        (Format::Text, None) => print!("{text}"),
        (Format::Text, Some(out)) => write_file(out, &text_report(&runs, false))?,
        (Format::Junit, out) => {
            let xml = testing::junit::report(&args.flow.display().to_string(), &runs);
            match out {
                Some(out) => {
                    write_file(out, &xml)?;
                    print!("{text}");
                }
                None => print!("{xml}"),
            }
        }
    }
    let unreadable = runs.iter().any(|r| r.result.is_err());
    let failed = runs.iter().any(|r| r.counts().1 > 0);
    Ok(if unreadable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_file(path: &PathBuf, text: &str) -> Result<(), super::Failure> {
    std::fs::write(path, text).map_err(|e| format!("cannot write `{}`: {e}", path.display()).into())
}

/// The report for people: `FILE: ok (N)` or `FILE: FAILED (…)`, each failing expectation as
/// `FILE:LINE: DEAL at T: what is, expected what`, then the sum.
fn text_report(runs: &[FileRun], color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    let (mut passed, mut failed, mut unreadable) = (0, 0, 0);
    for r in runs {
        let (p, f) = r.counts();
        passed += p;
        failed += f;
        match &r.result {
            Err(why) => {
                unreadable += 1;
                let _ = writeln!(out, "{}: {}", r.name, paint("31;1", "ERROR"));
                for line in why.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Ok(outcomes) => {
                let status = if f == 0 {
                    paint("32", "ok")
                } else {
                    paint("31;1", "FAILED")
                };
                let _ = writeln!(out, "{}: {status} ({p} passed, {f} failed)", r.name);
                for o in outcomes.iter().filter(|o| !o.passed()) {
                    let _ = writeln!(
                        out,
                        "  {}:{}: {}: {}",
                        r.name,
                        o.line,
                        o.title(),
                        o.failures.join("; ")
                    );
                }
            }
        }
        if r.broken_steps > 0 {
            let _ = writeln!(
                out,
                "  note: {} step(s) of the scenario broke (see `dealflow simulate`); the first: {}",
                r.broken_steps,
                r.first_broken.as_deref().unwrap_or_default()
            );
        }
    }
    let _ = write!(out, "{passed} passed, {failed} failed");
    if unreadable > 0 {
        let _ = write!(out, ", {unreadable} file(s) could not be run");
    }
    out.push('\n');
    out
}
