//! `dealflow serve --demo`: a fresh embedded database seeded from Ivan's story (the reference
//! pipeline, the clock run to the scenario's end), served with one staff token, so that a
//! newcomer sees a living dashboard with one command.

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
    let team: Vec<TeamMember> = sc
        .team
        .iter()
        .map(|m| TeamMember {
            id: m.id.clone(),
            name: Some(m.name.clone()),
            roles: m.roles.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            rate: Some(toml::Value::String(m.rate.to_string())),
        })
        .collect();
    let core = Core::open(Opening {
        rules: &flow,
        database: &url,
        options: Options::default(),
        team: None,
        max_rules_size: None,
        mapping: Default::default(),
    })
    .await?;
    // The scenario's team becomes the stored team.
    let played = replay::replay(&core, sc).await;
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
    config.tokens = vec![Token {
        token: TOKEN.into(),
        scope: Scope::Staff,
        name: Some("demo".into()),
        person: None,
    }];
    config.team = team;
    Ok(config)
}
