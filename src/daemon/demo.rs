//! `dealflow serve --demo`: a fresh embedded database seeded from Ivan's story, placed so that
//! it ends this week (the story moved by whole weeks, its meetings and due dates with it), and a
//! few hundred generated deals of the last four months, some still on their way — served with
//! one staff token and the usual website form fields, so that a newcomer sees a living
//! dashboard with one command.

use std::path::{Path, PathBuf};

use super::config::{Config, ConfigError, Scope, Token};
use super::core::{Core, OpenError, Opening};
use super::replay::{self, ReplayError};
use crate::sim::scenario;
use crate::store::Options;
use crate::team::TeamMember;

/// The reference pipeline, its script and Ivan's scenario, built in.
const FLOW: &str = include_str!("../../rules/web-studio.flow");
const SCRIPT: &str = include_str!("../../rules/web-studio.rhai");
const SCENARIO: &str = include_str!("../../examples/ivan.scenario.toml");

/// The demo's staff token.
pub(crate) const TOKEN: &str = "demo";

/// Where the demo keeps its files: a folder of its own under the system's temporary folder.
pub(crate) fn folder() -> PathBuf {
    std::env::temp_dir().join(format!("dealflow-demo-{}", std::process::id()))
}

/// Why the demo could not be prepared.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DemoError {
    /// Its folder cannot be made.
    #[error("cannot create the demo folder `{}`: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Its files cannot be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The built-in scenario does not read (a defect of this build).
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// The rules or the database.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Playing the story.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The configuration that serves it.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Writes the pipeline into `dir`, seeds a new database there from Ivan's scenario and returns
/// the configuration that serves it (listening on `listen`).
pub(crate) async fn prepare(dir: &Path, listen: &str) -> Result<Config, DemoError> {
    std::fs::create_dir_all(dir).map_err(|source| DemoError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let flow = dir.join("web-studio.flow");
    for (name, text) in [("web-studio.flow", FLOW), ("web-studio.rhai", SCRIPT)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| DemoError::Write { path, source })?;
    }
    let db = dir.join("dealflow.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let url = format!("sqlite://{}", db.display());
    let sc = scenario::load("ivan.scenario.toml", SCENARIO)?;
    let tz = crate::load::RuleFile::read(&flow)
        .ok()
        .and_then(|r| r.ready().ok())
        .map_or(chrono_tz::Europe::Moscow, |r| r.plan.tz);
    let sc = lively_story(sc, chrono::Utc::now().with_timezone(&tz).naive_local());
    let team: Vec<TeamMember> = sc
        .team
        .iter()
        .map(|m| TeamMember {
            id: m.id.clone(),
            name: Some(m.name.clone()),
            roles: m.roles.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            telegram: m.telegram.clone(),
            notices: Some(m.notices),
            rate: Some(toml::Value::String(m.rate.to_string())),
        })
        .collect();
    let core = Core::open(Opening {
        rules: &flow,
        database: &url,
        options: Options {
            unsynced: true,
            ..Options::default()
        },
        team: None,
        max_rules_size: None,
        mapping: Default::default(),
    })
    .await?;
    // The scenario's team becomes the stored team.
    let played = replay::replay(&core, sc).await;
    // The story's messages went out as it happened.
    if played.is_ok() {
        let mut tx = core.store().begin().await.map_err(OpenError::from)?;
        tx.settle_before(chrono::Utc::now())
            .await
            .map_err(OpenError::from)?;
        tx.commit().await.map_err(OpenError::from)?;
    }
    core.store().close().await;
    played?;
    let env = [
        (
            "DEALFLOW_RULES_FILE".to_string(),
            flow.display().to_string(),
        ),
        ("DEALFLOW_DATABASE_URL".to_string(), url),
        ("DEALFLOW_LISTEN".to_string(), listen.to_string()),
    ];
    let mut config = Config::load(None, env)?;
    // A website form's usual names.
    config.intake.title = Some("name".into());
    config.intake.fields = [
        ("name", "client_name"),
        ("phone", "client_phone"),
        ("email", "client_email"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    config.tokens = vec![Token {
        token: TOKEN.into(),
        scope: Scope::Staff,
        name: Some("demo".into()),
        person: None,
        act_for: Default::default(),
    }];
    config.team = team;
    Ok(config)
}

/// Generated deals besides Ivan's.
const GENERATED: usize = 240;

/// Ivan's story moved by whole weeks so that it ends in the week before `now` (local), with
/// generated deals of the four months before `now`; the clock runs to `now`.
fn lively_story(sc: scenario::Scenario, now: chrono::NaiveDateTime) -> scenario::Scenario {
    let fmt = "%Y-%m-%dT%H:%M";
    let until = chrono::NaiveDateTime::parse_from_str(&sc.until, fmt).unwrap_or(now);
    let weeks = (now - until).num_days().div_euclid(7);
    let mut sc = sc.shifted(weeks * 7);
    let from = now - chrono::Duration::days(120);
    let offset = sc.inputs.iter().map(|e| e.offset).max().unwrap_or(0) + 1;
    sc.inputs.extend(crate::sim::lively::lively(
        GENERATED,
        7,
        from,
        now - chrono::Duration::minutes(5),
        offset,
    ));
    sc.start = from.format(fmt).to_string().min(sc.start);
    sc.until = now.format(fmt).to_string();
    sc
}
