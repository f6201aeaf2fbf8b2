//! Reading a pipeline from disk: its text, its script, the checker's verdict and the plan.
//! The one place (besides the CLI) that touches the file system for rules.

use std::path::{Path, PathBuf};

use crate::compile::{self, Plan};
use crate::diag::Diagnostic;
use crate::script::Script;
use crate::source::SourceFile;

/// A pipeline file as read.
#[derive(Debug)]
pub struct Loaded {
    /// Its text, named by the path as given.
    pub source: SourceFile,
    dir: PathBuf,
}

/// Why a pipeline could not be made ready to run.
#[derive(Debug)]
pub enum LoadError {
    /// The file (or its script) cannot be read.
    Io(String),
    /// The file has errors; they are listed.
    Invalid(Vec<Diagnostic>, SourceFile),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(m) => f.write_str(m),
            LoadError::Invalid(d, s) => write!(f, "{}", crate::diag::summary(d, s)),
        }
    }
}

/// A plan with its compiled script, ready for the engine.
pub struct Ready {
    /// The plan.
    pub plan: Plan,
    /// The script, if the pipeline has one.
    pub script: Option<Script>,
    /// Warnings the checker gave.
    pub warnings: Vec<Diagnostic>,
}

impl Loaded {
    /// Reads a pipeline file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Loaded {
            source: SourceFile::new(path.display().to_string(), text),
            dir,
        })
    }

    /// Reads a file the pipeline names, relative to the pipeline.
    pub fn load(&self, name: &str) -> Result<String, String> {
        let path = self.dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("there is no file `{}`", path.display()),
            _ => e.to_string(),
        })
    }

    /// Parses and checks.
    pub fn analyze(&self) -> crate::Analysis {
        crate::analyze(&self.source.text, &|name| self.load(name))
    }

    /// Parses, checks and compiles; refuses a file with errors.
    pub fn ready(&self) -> Result<Ready, LoadError> {
        let analysis = self.analyze();
        if analysis.has_errors() {
            return Err(LoadError::Invalid(
                analysis.diagnostics,
                self.source.clone(),
            ));
        }
        let script_name = analysis.file.items.iter().find_map(|i| match i {
            crate::ast::Item::Pipeline(p) => p.settings.iter().find_map(|s| match &s.kind {
                crate::ast::SettingKind::Script(s) => s.plain(),
                _ => None,
            }),
            _ => None,
        });
        let script_text = script_name
            .as_deref()
            .map(|n| self.load(n))
            .transpose()
            .map_err(LoadError::Io)?;
        let plan = compile::compile(&analysis.file, &self.source, script_text.clone())
            .map_err(LoadError::Io)?;
        let script = match (&script_name, &script_text) {
            (Some(name), Some(text)) => Some(Script::load(name, text).map_err(LoadError::Io)?),
            _ => None,
        };
        Ok(Ready {
            plan,
            script,
            warnings: analysis.diagnostics,
        })
    }
}

/// Runs a scenario file through a pipeline file: the plan and the timeline.
pub fn simulate_files(
    flow: &Path,
    scenario: &Path,
) -> Result<(Plan, crate::sim::Timeline), String> {
    let loaded = Loaded::read(flow)?;
    let ready = loaded.ready().map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(scenario)
        .map_err(|e| format!("cannot read `{}`: {e}", scenario.display()))?;
    let sc = crate::sim::scenario::load(&scenario.display().to_string(), &text)
        .map_err(|e| e.to_string())?;
    let sim = crate::sim::Simulation::new(
        &ready.plan,
        ready.script.as_ref(),
        crate::engine::Team::new(sc.team.clone()),
    );
    let timeline = sim.run(sc, None)?;
    Ok((ready.plan, timeline))
}
