//! `dealflow fmt FILE… [--check]`: the canonical layout, written in place (atomically).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::diag;
use crate::load::RuleFile;

/// Arguments of `dealflow fmt`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Pipeline files (`*.flow`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Change nothing; exit 1 and name the files whose layout is not canonical.
    #[arg(long)]
    check: bool,
    /// Print the formatted text instead of writing the file.
    #[arg(long, conflicts_with = "check")]
    stdout: bool,
}

pub(super) fn run(args: Args, color: bool) -> Result<ExitCode, super::Failure> {
    let mut failed = false;
    for path in &args.files {
        let loaded = RuleFile::read(path)?;
        let parsed = crate::parse::parse(&loaded.source.text);
        if parsed.diagnostics.iter().any(|d| d.is_error()) {
            eprint!(
                "{}",
                diag::render_text(&parsed.diagnostics, &loaded.source, color)
            );
            eprintln!(
                "{}: not formatted, fix the errors above first",
                path.display()
            );
            failed = true;
            continue;
        }
        let formatted = crate::fmt::format(&parsed.file, &loaded.source.text);
        if args.stdout {
            print!("{formatted}");
        } else if formatted == loaded.source.text {
            continue;
        } else if args.check {
            eprintln!(
                "{}: not in the canonical layout (run `dealflow fmt {}`)",
                path.display(),
                path.display()
            );
            failed = true;
        } else {
            write_atomically(path, &formatted)
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            eprintln!("formatted {}", path.display());
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes beside the file and renames over it, so a crash never leaves half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.dealflow-fmt.tmp"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
