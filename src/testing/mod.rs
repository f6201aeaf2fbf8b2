//! `dealflow test`: scenarios with expectations. A test file is a scenario (the TOML `simulate`
//! reads) plus `[[expect]]` sections; it plays on the virtual clock like any scenario, and at
//! each expectation's moment the deal it names is held up against it.

pub mod expect;
pub mod junit;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Ctx, Kind, Record};
use crate::load::Ready;
use crate::sim::{Simulation, Watch, World, scenario};
use expect::{Expectation, Heard};

/// How one expectation came out.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The line of its `[[expect]]`.
    pub line: usize,
    /// The deal.
    pub deal: String,
    /// Its moment as written (`None`: the end of the scenario).
    pub at: Option<String>,
    /// What did not hold (empty: it passed).
    pub failures: Vec<String>,
}

impl Outcome {
    /// Whether everything it expects held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// `ivan/2 at 2026-03-14T00:00`, or `ivan/2 at the end`.
    pub fn title(&self) -> String {
        match &self.at {
            Some(at) => format!("{} at {at}", self.deal),
            None => format!("{} at the end", self.deal),
        }
    }
}

/// One test file, run.
#[derive(Debug, Clone)]
pub struct FileRun {
    /// The file as named on the command line.
    pub name: String,
    /// Its expectations in file order, or why the file could not be run.
    pub result: Result<Vec<Outcome>, String>,
    /// Steps of the scenario that broke (a hook or script error), with the first error.
    pub broken_steps: usize,
    /// The first of them: `deal: error`.
    pub first_broken: Option<String>,
}

impl FileRun {
    /// Expectations that held and that did not.
    pub fn counts(&self) -> (usize, usize) {
        match &self.result {
            Ok(outcomes) => {
                let passed = outcomes.iter().filter(|o| o.passed()).count();
                (passed, outcomes.len() - passed)
            }
            Err(_) => (0, 0),
        }
    }
}

/// Runs one test file under a pipeline.
pub fn run(ready: &Ready, path: &Path) -> FileRun {
    let name = path.display().to_string();
    let mut run = FileRun {
        name: name.clone(),
        result: Ok(Vec::new()),
        broken_steps: 0,
        first_broken: None,
    };
    run.result = play(
        ready,
        path,
        &name,
        &mut run.broken_steps,
        &mut run.first_broken,
    );
    run
}

fn play(
    ready: &Ready,
    path: &Path,
    name: &str,
    broken: &mut usize,
    first_broken: &mut Option<String>,
) -> Result<Vec<Outcome>, String> {
    let plan = &ready.plan;
    let sc = scenario::read(path).map_err(|e| e.0)?;
    if sc.expects.is_empty() {
        return Err(format!(
            "{name}: no [[expect]] section: a test file is a scenario with expectations"
        ));
    }
    let bad = |e: crate::calendar::MomentError| format!("{name}: {e}");
    let start = crate::calendar::moment(plan.tz, &sc.start).map_err(bad)?;
    let until = crate::calendar::moment(plan.tz, &sc.until).map_err(bad)?;
    let team = sc.team();
    let ctx = Ctx {
        plan,
        team: &team,
        script: ready.script.as_ref(),
        now: start,
        site: None,
    };
    let mut problems = Vec::new();
    let mut expectations: Vec<Expectation> = Vec::new();
    for raw in &sc.expects {
        match expect::read(ctx, raw, start, until) {
            Ok(e) => expectations.push(e),
            Err(why) => problems.push(format!("{name}:{}: {why}", raw.line)),
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    // The moments to look at, earliest first, each with the expectations that look then.
    let mut moments: Vec<_> = expectations.iter().map(|e| e.at).collect();
    moments.sort();
    moments.dedup();
    let heard: RefCell<HashMap<Arc<str>, Heard>> = RefCell::default();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; expectations.len()];
    let mut sink = |step: &mut Vec<Record>| {
        let mut heard = heard.borrow_mut();
        for r in step.drain(..) {
            listen(&mut heard, r, broken, first_broken);
        }
    };
    let mut look = |i: usize, world: &World<'_>| {
        let heard = heard.borrow();
        for (k, e) in expectations.iter().enumerate() {
            if e.at != moments[i] {
                continue;
            }
            outcomes[k] = Some(Outcome {
                line: e.line,
                deal: e.deal.clone(),
                at: e.at_text.clone(),
                failures: e.check(plan, world.deal(&e.deal), heard.get(e.deal.as_str())),
            });
        }
    };
    let sim = Simulation::new(plan, ready.script.as_ref(), team.clone());
    sim.run_watched(sc, &mut sink, Watch::new(moments.clone(), &mut look))
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(outcomes.into_iter().flatten().collect())
}

/// Takes what a test can ask of the timeline from one record.
fn listen(
    heard: &mut HashMap<Arc<str>, Heard>,
    r: Record,
    broken: &mut usize,
    first_broken: &mut Option<String>,
) {
    match r.kind {
        Kind::Notification {
            to_kind: "client",
            channel,
            template,
            ..
        } => {
            let h = heard.entry(r.deal).or_default();
            *h.to_client.entry(channel).or_default() += 1;
            h.templates.push(template);
        }
        Kind::EventRefused { event, .. } => {
            heard.entry(r.deal).or_default().refused.push(event);
        }
        Kind::StepFailed { error, .. } => {
            *broken += 1;
            first_broken.get_or_insert_with(|| format!("{}: {error}", r.deal));
        }
        _ => {}
    }
}

/// The test files beside a pipeline: `DIR/tests/STEM/*.toml` for `DIR/STEM.flow`, by name.
pub fn beside(flow: &Path) -> Result<Vec<PathBuf>, String> {
    let stem = flow.file_stem().unwrap_or_default();
    let dir = flow
        .parent()
        .unwrap_or(Path::new("."))
        .join("tests")
        .join(stem);
    let none = |why: &str| {
        format!(
            "no tests for `{}`: `{}` {why} (put test files there, or name them after the pipeline)",
            flow.display(),
            dir.display()
        )
    };
    if !dir.is_dir() {
        return Err(none("is not a folder"));
    }
    let files = in_dir(&dir)?;
    if files.is_empty() {
        return Err(none("has no *.toml file"));
    }
    Ok(files)
}

/// The `*.toml` files of a folder, by name.
pub fn in_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
