//! A pipeline made ready to run: text → parsed and checked ([`analyze`]) → compiled, with its
//! script ([`prepare`]). The steps themselves do no I/O (the pipeline's script comes through the
//! loader the caller gives); [`RuleFile`] is the one place (besides the CLI) that reads rules
//! from disk.

use std::path::{Path, PathBuf};

use crate::check::Loader;
use crate::compile::{self, CompileError, Plan};
use crate::diag::{Diagnostic, Severity};
use crate::script::{Script, ScriptLoadError};
use crate::source::SourceFile;

/// Why a pipeline could not be made ready to run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The rule file (or a scenario) cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file has errors; every one is listed.
    #[error("{}", crate::diag::summary(.diagnostics, .file))]
    Invalid {
        /// Errors and warnings, sorted.
        diagnostics: Vec<Diagnostic>,
        /// The file they are about.
        file: SourceFile,
    },
    /// The checked file could not be compiled.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The script the checker accepted does not compile in the sandbox.
    #[error(transparent)]
    Script(#[from] ScriptLoadError),
    /// The file is larger than the daemon reads.
    #[error("`{}` is {size} bytes, more than the {limit} a rule file may have (`[rules] max_size`)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The most allowed.
        limit: u64,
    },
}

impl LoadError {
    /// Every error in full (`file:line:col`, the line, what is wrong), warnings left out; for
    /// anything else, its message.
    pub fn errors_in_full(&self) -> String {
        match self {
            LoadError::Invalid { diagnostics, file } => {
                let errors: Vec<Diagnostic> = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .cloned()
                    .collect();
                crate::diag::render_text(&errors, file, false)
            }
            other => other.to_string(),
        }
    }
}

/// A file read and checked: its AST, every problem found, and what the checker resolved.
#[derive(Debug)]
pub struct Analysis {
    /// What could be parsed.
    pub file: crate::ast::File,
    /// Syntax errors, or (when the text parsed) the checker's findings; sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// What every name stands for (empty when the text did not parse).
    pub names: crate::check::Names,
    /// The pipeline's script as the checker read it.
    pub script: Option<crate::check::ScriptFile>,
}

impl Analysis {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Parses and checks a pipeline's text. `loader` reads files the pipeline names (its script),
/// relative to the pipeline. When the text has syntax errors, only those are reported: names
/// checked against a half-read file would mostly be noise.
pub fn analyze(text: &str, loader: Loader<'_>) -> Analysis {
    let parsed = crate::parse::parse(text);
    let mut diagnostics = parsed.diagnostics;
    let mut checked = crate::check::Checked::default();
    if diagnostics.is_empty() {
        checked = crate::check::check(&parsed.file, loader);
        diagnostics = checked.diagnostics;
    }
    crate::diag::sort(&mut diagnostics);
    Analysis {
        file: parsed.file,
        diagnostics,
        names: checked.names,
        script: checked.script,
    }
}

/// A pipeline ready for the engine.
pub struct Ready {
    /// The plan.
    pub plan: Plan,
    /// The script, if the pipeline has one.
    pub script: Option<Script>,
    /// Warnings the checker gave.
    pub warnings: Vec<Diagnostic>,
    /// The rule file's text, as it was read (recorded with each version of the rules).
    pub text: String,
}

/// Parses, checks and compiles a pipeline's text; `loader` reads the files it names (its
/// script). A file with errors is refused with every diagnostic.
pub fn prepare(source: &SourceFile, loader: Loader<'_>) -> Result<Ready, LoadError> {
    let analysis = analyze(&source.text, loader);
    if analysis.has_errors() {
        return Err(LoadError::Invalid {
            diagnostics: analysis.diagnostics,
            file: source.clone(),
        });
    }
    let plan = compile::compile(
        &analysis.file,
        &analysis.names,
        source,
        analysis.script.as_ref(),
    )?;
    let script = match &analysis.script {
        Some(s) => Some(Script::load(&s.name, &s.text)?),
        None => None,
    };
    Ok(Ready {
        plan,
        script,
        warnings: analysis.diagnostics,
        text: source.text.clone(),
    })
}

/// A pipeline file as read from disk.
#[derive(Debug)]
pub struct RuleFile {
    /// Its text, named by the path as given.
    pub source: SourceFile,
    dir: PathBuf,
    /// The largest file it reads (itself and its script), if there is a limit.
    max_size: Option<u64>,
}

impl RuleFile {
    /// Reads a pipeline file.
    pub fn read(path: &Path) -> Result<Self, LoadError> {
        Self::read_at_most(path, None)
    }

    /// Reads a pipeline file of at most `max_size` bytes (its script too, when it is read).
    pub fn read_at_most(path: &Path, max_size: Option<u64>) -> Result<Self, LoadError> {
        let read = |source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        };
        if let Some(limit) = max_size {
            let size = std::fs::metadata(path).map_err(read)?.len();
            if size > limit {
                return Err(LoadError::TooLarge {
                    path: path.to_path_buf(),
                    size,
                    limit,
                });
            }
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(RuleFile {
            source: SourceFile::new(path.display().to_string(), text),
            dir,
            max_size,
        })
    }

    /// Where a file the pipeline names is: relative to the pipeline.
    pub fn beside(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads a file the pipeline names, relative to the pipeline; the reason in words when it
    /// cannot (it goes into a diagnostic).
    pub fn load(&self, name: &str) -> Result<String, String> {
        let path = self.beside(name);
        if let Some(limit) = self.max_size
            && let Ok(meta) = std::fs::metadata(&path)
            && meta.len() > limit
        {
            return Err(format!(
                "it is {} bytes, more than the {limit} a rule file may have",
                meta.len()
            ));
        }
        std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("there is no file `{}`", path.display()),
            _ => e.to_string(),
        })
    }

    /// Parses and checks.
    pub fn analyze(&self) -> Analysis {
        analyze(&self.source.text, &|name| self.load(name))
    }

    /// Parses, checks and compiles; refuses a file with errors.
    pub fn ready(&self) -> Result<Ready, LoadError> {
        prepare(&self.source, &|name| self.load(name))
    }
}

/// Why a scenario could not be played through a pipeline file.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The pipeline.
    #[error(transparent)]
    Rules(#[from] LoadError),
    /// The scenario cannot be read or does not parse.
    #[error(transparent)]
    Scenario(#[from] crate::sim::scenario::ScenarioError),
    /// The simulation could not run.
    #[error(transparent)]
    Run(#[from] crate::sim::SimError),
}

/// Runs a scenario file through a pipeline file: the plan and the timeline.
pub fn simulate_files(
    flow: &Path,
    scenario: &Path,
) -> Result<(Plan, crate::sim::Timeline), SimulateError> {
    let ready = RuleFile::read(flow)?.ready()?;
    let sc = crate::sim::scenario::read(scenario)?;
    let sim = crate::sim::Simulation::new(&ready.plan, ready.script.as_ref(), sc.team());
    let timeline = sim.run(sc, None)?;
    Ok((ready.plan, timeline))
}
