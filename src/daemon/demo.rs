//! `dealflow serve --demo`: a fresh embedded database seeded from Ivan's story (the reference
//! pipeline, the clock run to the scenario's end), served with one staff token, so that a
//! newcomer sees a living dashboard with one command.

use std::path::{Path, PathBuf};

use super::config::{Config, Scope, Token};
use super::{Core, Rules, replay};
use crate::sim::scenario::{self, TeamMember};
use crate::store::{Options, Store};

/// The reference pipeline, its script and Ivan's scenario, built in.
const FLOW: &str = include_str!("../../rules/web-studio.flow");
const SCRIPT: &str = include_str!("../../rules/web-studio.rhai");
const SCENARIO: &str = include_str!("../../examples/ivan.scenario.toml");

/// The demo's staff token.
pub const TOKEN: &str = "demo";

/// Where the demo keeps its files: a folder of its own under the system's temporary folder.
pub fn folder() -> PathBuf {
    std::env::temp_dir().join(format!("dealflow-demo-{}", std::process::id()))
}

/// Writes the pipeline into `dir`, seeds a new database there from Ivan's scenario and returns
/// the configuration that serves it (listening on `listen`).
pub async fn prepare(dir: &Path, listen: &str) -> Result<Config, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the demo folder `{}`: {e}", dir.display()))?;
    let flow = dir.join("web-studio.flow");
    for (name, text) in [("web-studio.flow", FLOW), ("web-studio.rhai", SCRIPT)] {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("cannot write `{}`: {e}", dir.join(name).display()))?;
    }
    let db = dir.join("dealflow.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let url = format!("sqlite://{}", db.display());
    let sc = scenario::load("ivan.scenario.toml", SCENARIO).map_err(|e| e.0)?;
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
    {
        let path = flow.clone();
        let (ready, source, script) = tokio::task::spawn_blocking(move || Rules::read(&path))
            .await
            .map_err(|e| e.to_string())??;
        let store = Store::open(&url, &Options::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut tx = store.begin().await.map_err(|e| e.to_string())?;
        let version = tx
            .add_rules_version(
                &flow.display().to_string(),
                &source,
                script.as_deref(),
                chrono::Utc::now(),
            )
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        let core = Core::new(
            store,
            Rules {
                ready,
                version,
                file: flow.clone(),
            },
        );
        replay::replay(&core, sc).await?;
        core.store.close().await;
    }
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
    }];
    config.team = team;
    Ok(config)
}
