//! `dealflow lsp`: the language server for editors, over standard input and output.

use std::process::ExitCode;

/// Arguments of `dealflow lsp`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Accepted for editors that pass it; standard input and output are the only channel.
    #[arg(long)]
    stdio: bool,
}

pub(super) fn run(_args: Args) -> Result<ExitCode, super::Failure> {
    crate::lsp::run_stdio()?;
    Ok(ExitCode::SUCCESS)
}
