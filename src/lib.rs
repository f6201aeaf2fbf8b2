//! dealflow: a sales pipeline written as a text file, checked, simulated and run.
//!
//! # The front door
//!
//! A pipeline goes text → parsed and checked → compiled → ready to run in one call, [`prepare`];
//! the engine then takes a deal and an input and gives the deal after the step and what
//! happened. The daemon and the simulator drive that same engine; only the clock and the store
//! differ.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use dealflow::engine::{self, Creation, Ctx, Input};
//! use dealflow::source::SourceFile;
//! use dealflow::team::Team;
//! use dealflow::value::Value;
//!
//! // Text: a pipeline file (`load::RuleFile` reads one from disk).
//! let text = r#"
//! pipeline shop "Shop" { timezone "Europe/Moscow" }
//! fields { client_name: text required }
//! event won
//! stage lead "Lead" { -> done on won }
//! stage done "Done" final
//! "#;
//! let source = SourceFile::new("shop.flow", text);
//!
//! // Checked and compiled. A file with errors comes back with every diagnostic; the loader
//! // reads the files a pipeline names (its script), and this one names none.
//! let ready = dealflow::prepare(&source, &|name| Err(format!("no file `{name}`")))?;
//!
//! // Run: a deal created, then an event applied to it. Pure: no I/O, no wall clock.
//! let team = Team::default();
//! let now = chrono::Utc::now();
//! let ctx = Ctx { plan: &ready.plan, team: &team, script: ready.script.as_ref(), now, site: None };
//! let fields = BTreeMap::from([("client_name".to_string(), Value::Text("Ivan".into()))]);
//! let lead = Creation { id: "d1".into(), title: "Shop for Ivan".into(), stages: vec![], fields, quiet: false, done: vec![] };
//! let created = engine::create(ctx, &lead)?;
//! let won = Input::Event { name: "won".into(), payload: BTreeMap::new(), by: None };
//! let step = engine::apply(ctx, &created.deal, &won)?;
//! assert!(!step.deal.is_live());
//! assert!(step.records.iter().any(|r| r.kind.name() == "stage_entered"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Codemap
//!
//! The rooms from the ground up; each uses only rooms above it in this list.
//!
//! - `source`, `ast`, `types`, `value`, `calendar`, `team` — plain data: a file and its spans,
//!   the parsed file, the kinds of value, values, working time and moments in a zone, the team;
//!   `contact`, `sms`, `maps`: phone numbers and addresses as stored, a text's size as an SMS,
//!   a place as a map link; `sheet`: CSV whose cells a spreadsheet never runs as formulas.
//! - `diag` — a problem in the pipeline's words: code, place, message, "did you mean".
//! - `script` — the one place that builds the sandboxed rhai engine.
//! - `parse` — text to [`ast::File`]; the pest grammar (`grammar/pipeline.pest`) stays inside.
//! - `check` — names, types and the flow of stages; every problem a [`diag::Diagnostic`], and
//!   what every name stands for ([`check::Names`]).
//! - `fmt`, `graph` — the canonical layout of a file, comments kept; the pipeline as a picture.
//! - `compile` — checked file to a [`compile::Plan`]: names become indexes, as the checker
//!   resolved them.
//! - `engine` — (plan, deal, clock, input) → the deal after the step + records of what happened;
//!   the switch of a live deal to new rules; hooks tried on a deal.
//! - `json` — the JSON forms of values, moments, records and deal documents.
//! - `sim` — a scenario played on a virtual clock, deals in memory; a timeline for people.
//! - `load` — [`prepare`], and rule files read from disk.
//! - `store` — deals in SQLite or PostgreSQL, a file per table family.
//! - `preview` — what new rules would do to the live deals (`plan`, a reload's check).
//! - `explain` — a deal's story from its history and refusals, in words.
//! - `daemon` — the engine against the store on the wall clock, behind HTTP (API and pages).
//! - `cli` — the `dealflow` command: one file per subcommand.
//!
//! # Invariants
//!
//! - `source`, `ast`, `types`, `value`, `calendar`, `team`, `diag`, `parse`, `check`, `fmt`,
//!   `graph`, `compile`, `engine`, `script`, `json` and `sim` do no I/O and know nothing of
//!   tokio or databases; the checker reads the pipeline's script only through the loader the
//!   caller gives. `load` reads rule files; `store`, `preview`, `explain`, `daemon` and `cli`
//!   are the boundary.
//! - A user's mistake becomes a `Diagnostic` (or a refused step), never a panic; `Result`
//!   errors are typed per layer and name what and where; messages become text only at the edge.
//! - Only the boundary (`json` for it, `store`, `daemon`, `cli`) knows JSON, files and terminals.
//! - The engine never looks a name up while running: the plan holds indexes.

pub mod analytics;
pub mod ast;
pub mod calendar;
pub mod check;
pub mod cli;
pub mod compile;
pub mod contact;
pub mod daemon;
pub mod diag;
pub mod engine;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod json;
pub mod load;
pub mod lsp;
pub mod maps;
pub mod parse;
pub mod preview;
mod print;
pub mod script;
pub mod sheet;
pub mod sim;
pub mod sms;
pub mod source;
pub mod store;
pub mod team;
pub mod testing;
pub mod types;
pub mod value;

pub use load::{Analysis, LoadError, Ready, analyze, prepare};
