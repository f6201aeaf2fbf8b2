//! Simulation scenarios (`*.scenario.toml`): the team, the deals, the events and the work on
//! tasks, each at a moment, kept in file order for inputs that share a moment.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::engine::TaskAction;
use crate::team::{Member, TeamMember, decimal};
use crate::value::Value;

/// A moment or a date as a scenario writes it, `days` later (`None`: not one).
fn shift_text(s: &str, days: i64) -> Option<String> {
    let d = chrono::Duration::days(days);
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some((t + d).format(fmt).to_string());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|x| (x + d).format("%Y-%m-%d").to_string())
}

fn shift_value(v: &mut Value, days: i64) {
    match v {
        Value::Text(s) => {
            if let Some(t) = shift_text(s, days) {
                *s = t;
            }
        }
        Value::List(items) => items.iter_mut().for_each(|x| shift_value(x, days)),
        Value::Record(r) => r.values_mut().for_each(|x| shift_value(x, days)),
        _ => {}
    }
}

impl Scenario {
    /// The team the scenario plays with, and its timer cap.
    pub fn team(&self) -> crate::team::Team {
        let mut team = crate::team::Team::new(self.team.clone());
        team.timer_cap = self.timer_cap;
        team
    }

    /// The same story `days` later: its clock, every input's moment, and every date or moment a
    /// deal or an event carries (a meeting's time, an invoice's due date). Other moments (with
    /// an offset) are left as they are.
    pub fn shifted(mut self, days: i64) -> Scenario {
        let shift = |s: &mut String| {
            if let Some(t) = shift_text(s, days) {
                *s = t;
            }
        };
        shift(&mut self.start);
        shift(&mut self.until);
        for e in &mut self.inputs {
            shift(&mut e.at);
            let values = match &mut e.what {
                What::Deal { fields, .. } | What::Edit { fields, .. } => Some(fields),
                What::Event { payload, .. } => Some(payload),
                What::Task { .. } => None,
            };
            for v in values.into_iter().flat_map(|m| m.values_mut()) {
                shift_value(v, days);
            }
        }
        self
    }
}

/// A scenario file, or one `[[…]]` section of it (then `start` and `until` are absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    start: Option<String>,
    until: Option<String>,
    /// Another scenario file, beside this one, played first (a test file names the scenario
    /// it tests this way).
    scenario: Option<String>,
    /// The most one task timer logs at once, in hours (default 10).
    timer_cap_hours: Option<toml::Value>,
    #[serde(default)]
    team: Vec<TeamMember>,
    #[serde(default)]
    deal: Vec<Spanned<DealEntry>>,
    #[serde(default)]
    event: Vec<Spanned<EventEntry>>,
    #[serde(default)]
    task: Vec<Spanned<TaskEntry>>,
    #[serde(default)]
    edit: Vec<Spanned<EditEntry>>,
    /// What a test file expects (`dealflow test`); `simulate` plays the file and ignores them.
    #[serde(default)]
    expect: Vec<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stages {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DealEntry {
    id: String,
    at: String,
    title: String,
    stage: Option<Stages>,
    #[serde(default)]
    fields: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventEntry {
    deal: String,
    at: String,
    name: String,
    by: Option<String>,
    #[serde(default)]
    fields: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskEntry {
    deal: String,
    task: String,
    at: String,
    action: String,
    hours: Option<toml::Value>,
    by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditEntry {
    deal: String,
    at: String,
    by: Option<String>,
    #[serde(default)]
    fields: toml::Table,
    #[serde(default)]
    clear: Vec<String>,
}

/// A loaded scenario; moments are still local text, read in the pipeline's zone by the driver.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Virtual clock start.
    pub start: String,
    /// Run the clock to here.
    pub until: String,
    /// The team.
    pub team: Vec<Member>,
    /// The most one task timer logs at once, in hours (`None`: the default).
    pub timer_cap: Option<rust_decimal::Decimal>,
    /// Inputs in file order.
    pub inputs: Vec<Entry>,
    /// The `[[expect]]` sections of a test file, in file order.
    pub expects: Vec<Expect>,
}

/// One `[[expect]]` section as written, read by `dealflow test`.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Its line in the file (of the `[[expect]]` header).
    pub line: usize,
    /// Its keys.
    pub table: toml::Table,
}

/// One timed input of a scenario.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Local moment as written.
    pub at: String,
    /// Place in the file (orders inputs that share a moment).
    pub offset: usize,
    /// What it is.
    pub what: What,
}

/// The kinds of scenario input.
#[derive(Debug, Clone)]
pub enum What {
    /// A new deal.
    Deal {
        /// Its id.
        id: String,
        /// Its title.
        title: String,
        /// Start stages (empty: the first).
        stages: Vec<String>,
        /// Field values.
        fields: BTreeMap<String, Value>,
    },
    /// An event.
    Event {
        /// Deal id.
        deal: String,
        /// Event name.
        name: String,
        /// Payload.
        payload: BTreeMap<String, Value>,
        /// Who.
        by: Option<String>,
    },
    /// Work on a task.
    Task {
        /// Deal id.
        deal: String,
        /// Task id.
        task: String,
        /// What.
        action: TaskAction,
        /// Who.
        by: Option<String>,
    },
    /// A person edits a deal: fields and roles set or cleared.
    Edit {
        /// Deal id.
        deal: String,
        /// Set, by name.
        fields: BTreeMap<String, Value>,
        /// Cleared.
        clear: Vec<String>,
        /// Who.
        by: Option<String>,
    },
}

/// A scenario that cannot be read: the message says where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// Reads a scenario.
///
/// A generated scenario of 100,000 deals is 190 MB of TOML; read whole, the parser's document
/// tree for it takes several gigabytes. So the file is read a section at a time (each
/// `[[team]]`, `[[deal]]`, `[[event]]`, `[[task]]` on its own), and only when a section does not
/// parse is the whole file read again, for the parser's own message and position.
pub fn load(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let part = parse(name, text)?;
    if let Some(base) = &part.base {
        return Err(ScenarioError(format!(
            "{name}: `scenario = \"{base}\"` names a file beside this one, but this one was not read from a file"
        )));
    }
    finish(part, name)
}

/// Reads a scenario file. One that names another (`scenario = "ivan.scenario.toml"`, a path
/// relative to its own folder) plays that one first and its own sections after it; its own
/// `start` and `until`, if given, replace the other's.
pub fn read(path: &Path) -> Result<Scenario, ScenarioError> {
    read_within(path, 0)
}

/// Scenarios that name each other at most this deep.
const NESTING: usize = 8;

fn read_within(path: &Path, depth: usize) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError(format!("cannot read `{name}`: {e}")))?;
    let part = parse(&name, &text)?;
    // A large scenario's text is not needed any more: give its memory back first.
    drop(text);
    let Some(base) = part.base.clone() else {
        return finish(part, &name);
    };
    if depth >= NESTING {
        return Err(ScenarioError(format!(
            "{name}: scenarios name each other more than {NESTING} deep (do two name each other?)"
        )));
    }
    let under = path.parent().unwrap_or(Path::new(".")).join(&base);
    let mut sc = read_within(&under, depth + 1)
        .map_err(|e| ScenarioError(format!("{name}: `scenario = \"{base}\"`: {}", e.0)))?;
    // This file's inputs come after the other's, also among inputs that share a moment.
    let shift = sc.inputs.iter().map(|e| e.offset + 1).max().unwrap_or(0);
    sc.inputs.extend(part.inputs.into_iter().map(|mut e| {
        e.offset += shift;
        e
    }));
    sc.team.extend(part.team);
    sc.timer_cap = part.timer_cap.or(sc.timer_cap);
    sc.expects = part.expects;
    sc.expects.sort_by_key(|e| e.line);
    if let Some(start) = part.start {
        sc.start = start;
    }
    if let Some(until) = part.until {
        sc.until = until;
    }
    Ok(sc)
}

/// Reads a scenario's text a section at a time, the sections of a run on each core.
fn parse(name: &str, text: &str) -> Result<Part, ScenarioError> {
    let ranges = sections(text);
    // Sections parse on their own: a large file is read by every core at once, each taking a
    // run of sections; the parts join in file order.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let per = if ranges.len() < 2_000 {
        ranges.len().max(1)
    } else {
        ranges.len().div_ceil(cores)
    };
    let parts: Vec<Option<Result<Part, ScenarioError>>> = std::thread::scope(|scope| {
        let runs: Vec<_> = ranges
            .chunks(per)
            .map(|run| scope.spawn(move || read_run(run, name, text)))
            .collect();
        runs.into_iter().map(|r| r.join().ok().flatten()).collect()
    });
    let mut all = Part::default();
    for part in parts {
        // A section that does not parse: the whole file again, for the parser's message.
        let Some(part) = part else {
            return parse_whole(name, text);
        };
        let part = part?;
        all.start = all.start.or(part.start);
        all.until = all.until.or(part.until);
        all.base = all.base.or(part.base);
        all.timer_cap = all.timer_cap.or(part.timer_cap);
        all.team.extend(part.team);
        all.inputs.extend(part.inputs);
        all.expects.extend(part.expects);
    }
    Ok(all)
}

/// What a run of sections (or a whole file) holds.
#[derive(Default)]
struct Part {
    start: Option<String>,
    until: Option<String>,
    base: Option<String>,
    team: Vec<Member>,
    timer_cap: Option<rust_decimal::Decimal>,
    inputs: Vec<Entry>,
    expects: Vec<Expect>,
}

/// A run of sections, read; `None` when one does not parse.
fn read_run(run: &[Range<usize>], name: &str, text: &str) -> Option<Result<Part, ScenarioError>> {
    let mut part = Part::default();
    for range in run {
        let file = toml::from_str::<File>(&text[range.clone()]).ok()?;
        if let Err(e) = add(&mut part, file, range.start, name, text) {
            return Some(Err(e));
        }
    }
    Some(Ok(part))
}

/// The whole file in one piece: for the parser's error messages.
fn parse_whole(name: &str, text: &str) -> Result<Part, ScenarioError> {
    let file: File = toml::from_str(text).map_err(|e| ScenarioError(format!("{name}: {e}")))?;
    let mut part = Part::default();
    add(&mut part, file, 0, name, text)?;
    Ok(part)
}

fn finish(part: Part, name: &str) -> Result<Scenario, ScenarioError> {
    let Part {
        start,
        until,
        team,
        timer_cap,
        inputs,
        expects,
        ..
    } = part;
    let mut sc = Scenario {
        start: String::new(),
        until: String::new(),
        team,
        timer_cap,
        inputs,
        expects,
    };
    let missing = |key: &str| {
        ScenarioError(format!(
            "{name}: `{key}` is missing (a moment like 2026-03-02T09:00)"
        ))
    };
    sc.start = start.ok_or_else(|| missing("start"))?;
    sc.until = until.ok_or_else(|| missing("until"))?;
    sc.inputs.sort_by_key(|e| e.offset);
    sc.expects.sort_by_key(|e| e.line);
    Ok(sc)
}

/// Byte ranges of the file's sections: the top (up to the first `[[…]]` header), then one per
/// `[[team]]`, `[[deal]]`, `[[event]]`, `[[task]]` or `[[expect]]` header.
fn sections(text: &str) -> Vec<Range<usize>> {
    const HEADERS: [&str; 5] = [
        "[[team]]",
        "[[deal]]",
        "[[event]]",
        "[[task]]",
        "[[expect]]",
    ];
    let mut starts = vec![0];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let head = line.trim();
        let head = head.split('#').next().unwrap_or("").trim_end();
        if at > 0 && HEADERS.contains(&head) {
            starts.push(at);
        }
        at += line.len();
    }
    starts.push(text.len());
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Adds a parsed section (its first byte at `base` in the file) to what was read; the first
/// `start`, `until` and `scenario` given count.
fn add(
    sc: &mut Part,
    file: File,
    base: usize,
    name: &str,
    text: &str,
) -> Result<(), ScenarioError> {
    sc.start = sc.start.take().or(file.start);
    sc.until = sc.until.take().or(file.until);
    sc.base = sc.base.take().or(file.scenario);
    if let Some(v) = &file.timer_cap_hours {
        let cap = decimal(v)
            .filter(|h| *h > rust_decimal::Decimal::ZERO && *h <= rust_decimal::Decimal::from(24))
            .ok_or_else(|| {
                ScenarioError(format!(
                    "{name}: `timer_cap_hours` must be a number of hours from 0 to 24, not {v}"
                ))
            })?;
        sc.timer_cap = Some(cap);
    }
    for t in file.team {
        sc.team.push(
            t.member()
                .map_err(|m| ScenarioError(format!("{name}: {m}")))?,
        );
    }
    for d in file.deal {
        let span = d.span();
        let d = d.into_inner();
        let stages = match d.stage {
            None => Vec::new(),
            Some(Stages::One(s)) => vec![s],
            Some(Stages::Many(v)) => v,
        };
        sc.inputs.push(Entry {
            at: d.at,
            offset: base + span.start,
            what: What::Deal {
                id: d.id,
                title: d.title,
                stages,
                fields: table(&d.fields),
            },
        });
    }
    for e in file.event {
        let span = e.span();
        let e = e.into_inner();
        sc.inputs.push(Entry {
            at: e.at,
            offset: base + span.start,
            what: What::Event {
                deal: e.deal,
                name: e.name,
                payload: table(&e.fields),
                by: e.by,
            },
        });
    }
    for t in file.task {
        let span = t.span();
        let line = || line_of(text, base + span.start);
        let t = t.into_inner();
        let action = match t.action.as_str() {
            "start" => TaskAction::Start,
            "pause" => TaskAction::Pause,
            "done" => TaskAction::Done,
            "log" => {
                let h = t.hours.as_ref().and_then(decimal).ok_or_else(|| {
                    ScenarioError(format!("{name}:{}: `log` needs `hours`, a number", line()))
                })?;
                TaskAction::Log(h)
            }
            other => {
                return Err(ScenarioError(format!(
                    "{name}:{}: task action `{other}` is not one of start, pause, done, log",
                    line()
                )));
            }
        };
        sc.inputs.push(Entry {
            at: t.at,
            offset: base + span.start,
            what: What::Task {
                deal: t.deal,
                task: t.task,
                action,
                by: t.by,
            },
        });
    }
    for e in file.edit {
        let span = e.span();
        let e = e.into_inner();
        sc.inputs.push(Entry {
            at: e.at,
            offset: base + span.start,
            what: What::Edit {
                deal: e.deal,
                fields: table(&e.fields),
                clear: e.clear,
                by: e.by,
            },
        });
    }
    for e in file.expect {
        let line = line_of(text, base + e.span().start);
        sc.expects.push(Expect {
            line,
            table: e.into_inner(),
        });
    }
    Ok(())
}

fn table(t: &toml::Table) -> BTreeMap<String, Value> {
    t.iter().map(|(k, v)| (k.clone(), value(v))).collect()
}

/// A TOML value, loosely typed: the engine converts it by the pipeline's declarations.
pub(crate) fn value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(n) => Value::Int(*n),
        toml::Value::Float(f) => f
            .to_string()
            .parse()
            .map(Value::Decimal)
            .unwrap_or(Value::Text(f.to_string())),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::Text(d.to_string()),
        toml::Value::Array(a) => Value::List(a.iter().map(value).collect()),
        toml::Value::Table(t) => Value::Record(table(t).into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario of the repository, and a generated one, reads the same a section at a
    /// time as whole: same team, same inputs, same places in the file.
    #[test]
    fn sections_read_like_the_whole_file() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("examples/ivan.scenario.toml")];
        for case in std::fs::read_dir(root.join("tests/sim")).expect("tests/sim") {
            files.push(case.expect("a case").path().join("scenario.toml"));
        }
        let mut texts: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("readable");
                (f.display().to_string(), text)
            })
            .collect();
        texts.push((
            "generated".into(),
            super::super::generate::to_toml(&super::super::generate::reference(50, 2)),
        ));
        for (name, text) in &texts {
            assert!(sections(text).len() > 1, "{name} has sections");
            let by_sections = format!("{:?}", load(name, text).expect("loads"));
            let whole = format!(
                "{:?}",
                finish(parse_whole(name, text).expect("parses"), name).expect("loads")
            );
            assert_eq!(by_sections, whole, "{name}");
        }
    }

    #[test]
    fn a_broken_section_is_reported_by_the_parser_with_its_line() {
        let text = "start = \"2026-03-02T09:00\"\nuntil = \"2026-03-03T09:00\"\n\n[[deal]]\nid = \"a\"\nat = \"2026-03-02T10:00\"\ntitle = \"A\"\ncolour = \"red\"\n";
        let err = load("s.toml", text).expect_err("an unknown key");
        assert!(
            err.0.contains("line 8") && err.0.contains("colour"),
            "{err}"
        );
        let text = "start = \"2026-03-02T09:00\"\nuntil = \"2026-03-03T09:00\"\n\n[[task]]\ndeal = \"a\"\ntask = \"t\"\nat = \"2026-03-02T10:00\"\naction = \"finish\"\n";
        let err = load("s.toml", text).expect_err("a bad action");
        assert_eq!(
            err.0,
            "s.toml:4: task action `finish` is not one of start, pause, done, log"
        );
        let err = load("s.toml", "until = \"2026-03-03T09:00\"\n").expect_err("no start");
        assert!(err.0.contains("`start` is missing"), "{err}");
    }
}
