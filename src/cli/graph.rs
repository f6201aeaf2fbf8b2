//! `dealflow graph FILE --format mermaid|dot|svg`: the pipeline as a picture.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::load::RuleFile;
use crate::{diag, graph};

/// Arguments of `dealflow graph`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A pipeline file (`*.flow`).
    file: PathBuf,
    /// The picture's language.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Mermaid flowchart (renders in GitHub, GitLab and many wikis).
    Mermaid,
    /// Graphviz dot (`dot -Tsvg`).
    Dot,
    /// An SVG picture, drawn by dealflow itself (the dashboard shows the same).
    Svg,
}

pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let loaded = RuleFile::read(&args.file)?;
    let parsed = crate::parse::parse(&loaded.source.text);
    if !parsed.diagnostics.is_empty() {
        eprint!(
            "{}",
            diag::render_text(&parsed.diagnostics, &loaded.source, color)
        );
        return Ok(ExitCode::FAILURE);
    }
    let text = match args.format {
        Format::Mermaid => graph::render(&parsed.file, graph::Format::Mermaid),
        Format::Dot => graph::render(&parsed.file, graph::Format::Dot),
        Format::Svg => graph::render_svg(&parsed.file)?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
