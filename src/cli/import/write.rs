//! Writing what the dry run found good: through a daemon's API, or into a database directly.

use std::path::Path;

use serde_json::{Value as Json, json};

use super::{CHUNK, Tally, bar};
use crate::compile::Plan;
use crate::daemon::{Core, CoreError, Op, Opening, Step};
use crate::engine::Creation;
use crate::store::Options;

/// Where the deals go.
pub(super) enum Target {
    /// A running daemon, with a staff token.
    Api { base: String, token: Option<String> },
    /// A database no daemon holds, and the team to put in it (from a configuration).
    Db {
        url: String,
        schema: Option<String>,
        team: Option<Vec<crate::team::Member>>,
    },
}

impl Target {
    pub(super) fn of(args: &super::Args) -> Result<Target, super::super::Failure> {
        Ok(match (&args.to, &args.db, &args.config) {
            (Some(url), _, _) => Target::Api {
                base: url.trim_end_matches('/').to_string(),
                token: args
                    .token
                    .clone()
                    .or_else(|| std::env::var("DEALFLOW_TOKEN").ok()),
            },
            (None, Some(db), _) => Target::Db {
                url: db.clone(),
                schema: args.schema.clone(),
                team: None,
            },
            (None, None, Some(file)) => {
                let config = crate::daemon::Config::load(Some(file), std::env::vars())?;
                Target::Db {
                    url: config.database_url(),
                    schema: config.database.schema.clone(),
                    team: Some(config.members()?),
                }
            }
            (None, None, None) => return Err("give --to URL, --db URL or --config FILE".into()),
        })
    }

    /// Gives a database that has no team yet the map's people; `false` for a daemon, whose
    /// team is its configuration's.
    pub(super) fn adopt(&mut self, members: Vec<crate::team::Member>) -> bool {
        match self {
            Target::Db { team, .. } => {
                *team = Some(members);
                true
            }
            Target::Api { .. } => false,
        }
    }

    /// Why rows that name people cannot go in when the target has no team, and what to do.
    pub(super) fn no_team(&self, column: &str, field: &str) -> String {
        let named = format!("the map gives `{field}` from the column `{column}`");
        match self {
            Target::Api { base, .. } => format!(
                "the daemon at {base} has no team, and {named}: give its configuration a \
                 [[team]] and restart it"
            ),
            Target::Db { url, .. } => format!(
                "`{url}` has no team yet, and {named}: give --config dealflow.toml (the \
                 daemon's configuration; its [[team]] is put in the database) or list the \
                 people in the map's [people] with their roles, e.g. \
                 \"Анна Смирнова\" = {{ id = \"anna\", roles = [\"sales\"] }}"
            ),
        }
    }

    /// The team the deals' roles are checked against: the daemon's (asked over the API), the
    /// configuration's, or the one the database keeps (none yet in a new database).
    pub(super) fn team(&self) -> Result<crate::team::Team, super::super::Failure> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        match self {
            Target::Api { base, token } => {
                crate::daemon::tls_provider();
                let token = token
                    .as_deref()
                    .ok_or("give a staff token: --token TOKEN or DEALFLOW_TOKEN")?;
                let list: Json = rt.block_on(async {
                    let r = reqwest::Client::new()
                        .get(format!("{base}/api/v1/team"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .map_err(|e| format!("{base}: {e}"))?;
                    if !r.status().is_success() {
                        return Err(format!("{base} answered {} for its team", r.status()));
                    }
                    let text = r.text().await.map_err(|e| format!("{base}: {e}"))?;
                    serde_json::from_str(&text).map_err(|e| format!("{base}: {e}"))
                })?;
                let members = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| crate::team::Member {
                        id: m["id"].as_str().unwrap_or_default().to_string(),
                        name: m["name"].as_str().unwrap_or_default().to_string(),
                        roles: m["roles"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|r| r.as_str().map(str::to_string))
                            .collect(),
                        email: None,
                        phone: None,
                        telegram: None,
                        notices: false,
                        rate: Default::default(),
                    })
                    .collect();
                Ok(crate::team::Team {
                    members,
                    ..Default::default()
                })
            }
            Target::Db {
                team: Some(members),
                ..
            } => Ok(crate::team::Team {
                members: members.clone(),
                ..Default::default()
            }),
            Target::Db { url, schema, .. } => rt.block_on(async {
                let opts = Options {
                    schema: schema.clone(),
                    read_only: true,
                    ..Options::default()
                };
                match crate::store::Store::open(url, &opts).await {
                    Ok(store) => {
                        let team = store.read().await?.team().await?;
                        store.close().await;
                        Ok(team)
                    }
                    // A database not made yet has no team.
                    Err(_) => Ok(crate::team::Team::default()),
                }
            }),
        }
    }

    /// Writes the deals the dry run found good.
    pub(super) fn write(
        &self,
        rules: &Path,
        todo: &[(usize, Creation, String)],
        plan: &Plan,
    ) -> Result<Tally, super::super::Failure> {
        match self {
            Target::Api { base, token } => through_api(base, token.as_deref(), todo, plan),
            Target::Db { url, schema, team } => {
                into_db(url, schema.clone(), team.as_deref(), rules, todo)
            }
        }
    }
}

/// A deal as `POST /api/v1/deals` takes it.
fn body(c: &Creation, plan: &Plan) -> Json {
    let fields: serde_json::Map<String, Json> = c
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), crate::json::value_json(v, plan.tz)))
        .collect();
    json!({
        "id": c.id,
        "title": c.title,
        "stage": c.stages,
        "fields": fields,
        "quiet": c.quiet,
        "done": c.done,
    })
}

/// Through a running daemon: one request per deal. A deal whose id is there already (a run
/// again after a break) is answered 409 and left as it is.
fn through_api(
    url: &str,
    token: Option<&str>,
    todo: &[(usize, Creation, String)],
    plan: &Plan,
) -> Result<Tally, super::super::Failure> {
    let token = token.ok_or("give a staff token: --token TOKEN or DEALFLOW_TOKEN")?;
    let base = url.trim_end_matches('/');
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    crate::daemon::tls_provider();
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let mut tally = Tally::default();
        let progress = bar(todo.len(), "importing");
        for (row, c, at) in todo {
            let answer = http
                .post(format!("{base}/api/v1/deals"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body(c, plan).to_string())
                .send()
                .await
                .map_err(|e| format!("{base}: {e}"))?;
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap_or_default();
            match status {
                201 => tally.made(at),
                409 if text.contains("\"exists\"") => tally.existing += 1,
                401 | 403 => return Err(format!("{base} refused the token ({status})").into()),
                _ => {
                    let why = serde_json::from_str::<Json>(&text)
                        .ok()
                        .and_then(|j| j["error"]["message"].as_str().map(str::to_string))
                        .unwrap_or(text);
                    tally
                        .refused
                        .push((*row, c.id.clone(), format!("{status}: {why}")));
                }
            }
            if let Some(b) = &progress {
                b.inc(1);
            }
        }
        if let Some(b) = progress {
            b.finish_and_clear();
        }
        Ok(tally)
    })
}

/// Into a database no daemon holds: its rules recorded as a daemon's start would (the file
/// given), then the deals created a chunk per transaction.
fn into_db(
    db: &str,
    schema: Option<String>,
    team: Option<&[crate::team::Member]>,
    rules: &Path,
    todo: &[(usize, Creation, String)],
) -> Result<Tally, super::super::Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let core = Core::open(Opening {
            rules,
            database: db,
            options: Options {
                schema,
                ..Options::default()
            },
            team,
            max_rules_size: None,
            mapping: Default::default(),
        })
        .await?;
        let mut tally = Tally::default();
        let progress = bar(todo.len(), "importing");
        for chunk in todo.chunks(CHUNK) {
            let ops: Vec<Op> = chunk
                .iter()
                .map(|(_, c, _)| Op::Create(c.clone()))
                .collect();
            let mut tx = core.store().begin().await?;
            let steps = core.run_all(&mut tx, &ops, chrono::Utc::now()).await?;
            tx.commit().await?;
            for ((row, c, at), step) in chunk.iter().zip(steps) {
                match step {
                    Ok(Step::Applied { .. }) => tally.made(at),
                    Err(CoreError::Exists(_)) => tally.existing += 1,
                    Ok(
                        Step::Refused(why)
                        | Step::NotNow(why)
                        | Step::Unmet(why)
                        | Step::Missing(why)
                        | Step::Failed(why),
                    ) => tally.refused.push((*row, c.id.clone(), why)),
                    Err(e) => tally.refused.push((*row, c.id.clone(), e.to_string())),
                }
            }
            if let Some(b) = &progress {
                b.inc(chunk.len() as u64);
            }
        }
        if let Some(b) = progress {
            b.finish_and_clear();
        }
        core.store().close().await;
        Ok::<Tally, super::super::Failure>(tally)
    })
}
