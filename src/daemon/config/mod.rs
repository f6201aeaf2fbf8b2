//! `dealflow.toml`: where the daemon listens, its database, rules, tokens, intake form, mail
//! and SMS. Every value can also come from a `DEALFLOW_*` environment variable, which wins over
//! the file: `DEALFLOW_SECTION_KEY` sets `key` of `[section]` (`DEALFLOW_DATABASE_URL`,
//! `DEALFLOW_SMTP_PORT`), `DEALFLOW_LISTEN` is `server.listen`, and a variable whose value is
//! TOML (`DEALFLOW_TOKENS='[{token = "…", scope = "staff"}]'`) sets a whole list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::team::{Member, TeamMember};

mod forms;
mod server;
mod tokens;
mod webhooks;

pub use forms::WebsiteForm;
pub use server::Server;
pub use tokens::{ActFor, Scope, Token};
pub use webhooks::Webhook;

/// The daemon's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP.
    #[serde(default)]
    pub server: Server,
    /// The database.
    #[serde(default)]
    pub database: Database,
    /// The rule file.
    pub rules: RulesFile,
    /// API tokens.
    #[serde(default)]
    pub tokens: Vec<Token>,
    /// The website form.
    #[serde(default)]
    pub intake: Intake,
    /// Email (absent: messages go to the log).
    pub smtp: Option<Smtp>,
    /// SMS gateway (absent: messages go to the log).
    pub sms: Option<Sms>,
    /// Delivery retries.
    #[serde(default)]
    pub outbox: Outbox,
    /// Timer claims.
    #[serde(default)]
    pub timers: Timers,
    /// `[tasks]`: task timers.
    #[serde(default)]
    pub tasks: Tasks,
    /// How long refused inputs are kept.
    #[serde(default)]
    pub history: History,
    /// The team.
    #[serde(default)]
    pub team: Vec<TeamMember>,
    /// The dashboard's language and the fields it reads money from.
    #[serde(default)]
    pub dashboard: Dashboard,
    /// `[telegram]`: the bot messages `via telegram` go through.
    #[serde(default)]
    pub telegram: Option<super::telegram::TelegramConfig>,
    /// `[[webhooks]]`: signed deliveries of history records.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// `[[forms]]`: website forms that send leads straight to `/f/{key}`.
    #[serde(default)]
    pub forms: Vec<WebsiteForm>,
    /// Where relative paths in the file are taken from (the file's folder).
    #[serde(skip)]
    pub base: PathBuf,
    /// The file it was read from, read again on SIGHUP.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// `[dashboard]`: which of the pipeline's fields hold what the head of the company looks at.
/// A field the pipeline does not have is left out of the pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    /// `ru` or `en`; absent: the browser's choice, Russian when it has none.
    pub language: Option<String>,
    /// The deal's amount (money).
    pub amount: String,
    /// When the work is planned to end (date).
    pub planned_end: String,
    /// Hours sold to the client.
    pub sold_hours: String,
    /// Margin (money).
    pub margin: String,
    /// Labour cost as the pipeline keeps it (money), shown beside the live figure.
    pub labour_cost: String,
    /// A script function that computes a deal's labour cost from the deal (`labour_cost`, as
    /// `labour_cost(deal)` in the pipeline); absent: logged hours × each person's rate.
    pub labour_cost_function: Option<String>,
    /// The invoice's status (text).
    pub invoice_status: String,
    /// The invoice status that means paid; any other set value but the field's default means
    /// invoiced.
    pub paid: String,
    /// The client's name, shown on cards and found by search.
    pub client_name: String,
    /// The invoice status that means it burnt (its due date passed unpaid).
    pub burnt: String,
    /// When the invoice is due (date).
    pub invoice_due: String,
    /// The role that runs a project (delivery and margin by manager).
    pub project_manager: String,
    /// The stage lost deals go to.
    pub lost_stage: String,
    /// The stage a project is delivered at (its actual end).
    pub delivered_stage: String,
    /// The field that says why a deal was lost.
    pub lost_reason: String,
    /// How long a login lasts at most, in hours.
    pub session_hours: u64,
    /// How long a login lasts unused, in minutes.
    pub idle_minutes: u64,
}

impl Dashboard {
    /// The fields the summaries read.
    pub fn mapping(&self) -> crate::store::Mapping {
        crate::store::Mapping {
            amount: self.amount.clone(),
            planned_end: self.planned_end.clone(),
            invoice_status: self.invoice_status.clone(),
            paid: self.paid.clone(),
            burnt: self.burnt.clone(),
            invoice_due: self.invoice_due.clone(),
            client: self.client_name.clone(),
            sold_hours: self.sold_hours.clone(),
            margin: self.margin.clone(),
            pm_role: self.project_manager.clone(),
            lost_stage: self.lost_stage.clone(),
            delivered_stage: self.delivered_stage.clone(),
            lost_reason: self.lost_reason.clone(),
        }
    }
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            language: None,
            amount: "amount".into(),
            planned_end: "planned_end".into(),
            sold_hours: "sold_hours".into(),
            margin: "margin".into(),
            labour_cost: "labour_cost".into(),
            labour_cost_function: None,
            invoice_status: "invoice_status".into(),
            paid: "paid".into(),
            client_name: "client_name".into(),
            burnt: "expired".into(),
            invoice_due: "invoice_due".into(),
            project_manager: "project_manager".into(),
            lost_stage: "lost".into(),
            delivered_stage: "delivered".into(),
            lost_reason: "comment".into(),
            session_hours: 7 * 24,
            idle_minutes: 12 * 60,
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://dealflow.db` or `postgres://…`.
    pub url: String,
    /// PostgreSQL schema (default: the server's).
    pub schema: Option<String>,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: "sqlite://dealflow.db".into(),
            schema: None,
        }
    }
}

/// `[rules]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The `.flow` file.
    pub file: PathBuf,
    /// The largest rule or script file read, in bytes: a larger one is refused (a file that
    /// grew by accident must not keep the daemon busy for minutes).
    #[serde(default = "default_max_size")]
    pub max_size: u64,
    /// The longest a reload may take to read, check and compile the new rules, in seconds;
    /// past it the reload is refused and the old rules keep running.
    #[serde(default = "default_reload_timeout")]
    pub reload_timeout_s: u64,
}

fn default_max_size() -> u64 {
    4 * 1024 * 1024
}

fn default_reload_timeout() -> u64 {
    30
}

/// `[intake]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    /// Website form name → deal field.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The form name that gives the deal's title (default: the client's name, else "Заявка с сайта" / "Website lead").
    #[serde(default)]
    pub title: Option<String>,
}

/// How to talk TLS to the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// Plain text, then STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on the same machine, tests).
    None,
}

/// `[smtp]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// Server.
    pub host: String,
    /// Port.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// Encryption.
    #[serde(default)]
    pub tls: Tls,
    /// Login.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// Sender address.
    pub from: String,
    /// Seconds to wait for the server.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

fn default_smtp_port() -> u16 {
    587
}

fn default_timeout() -> u64 {
    15
}

/// `[sms]`: an HTTP gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sms {
    /// Where to send.
    pub url: String,
    /// `POST` (default) or `GET`.
    #[serde(default = "default_method")]
    pub method: String,
    /// The body, with `{{to}}` and `{{text}}` (form-encoded where the body is a form, JSON-escaped
    /// where it is JSON: by `content_type`).
    #[serde(default = "default_sms_body")]
    pub body: String,
    /// `Content-Type` of the body.
    #[serde(default = "default_sms_type")]
    pub content_type: String,
    /// Extra headers (`Authorization`…); values may use `{{to}}`/`{{text}}` too.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the gateway.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
}

fn default_method() -> String {
    "POST".into()
}

fn default_sms_body() -> String {
    "to={{to}}&text={{text}}".into()
}

fn default_sms_type() -> String {
    "application/x-www-form-urlencoded".into()
}

/// `[outbox]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbox {
    /// Attempts before a message is `dead`.
    pub max_attempts: i64,
    /// First retry delay in seconds; doubles each time (with jitter).
    pub retry_base_s: u64,
    /// Longest retry delay in seconds.
    pub retry_max_s: u64,
    /// Seconds a daemon's claim on the messages it sends holds: past it (the daemon died),
    /// another daemon sends them.
    pub lease_s: u64,
    /// Messages sent at once on each channel (to the SMTP relay, the SMS gateway, Telegram):
    /// a slow one holds back only its own channel. A recipient's messages go out one after
    /// another.
    pub concurrency: usize,
    /// Days a message that went out (and a webhook delivered) is kept in full; then it is
    /// forgotten, and the deal's history keeps that it went out.
    pub keep_days: u64,
}

/// `[tasks]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tasks {
    /// The most one task timer logs at once, in hours (a timer left running overnight logs
    /// this much); absent: 10.
    pub timer_cap_hours: Option<f64>,
    /// The local time (`"09:00"`, the pipeline's zone) each person with open tasks gets the
    /// list of them; absent: no digest.
    pub digest_at: Option<String>,
    /// Which days the digest comes: `"workdays"` (the pipeline's calendar; the default) or
    /// `"daily"`.
    pub digest_days: Option<String>,
}

impl Tasks {
    /// The daily digest's time and whether it comes every day (not only on workdays), when
    /// there is one.
    pub fn digest(&self) -> Option<(chrono::NaiveTime, bool)> {
        let at = chrono::NaiveTime::parse_from_str(self.digest_at.as_deref()?, "%H:%M").ok()?;
        Some((at, self.digest_days.as_deref() == Some("daily")))
    }

    /// The cap as hours (the default when absent).
    pub fn timer_cap(&self) -> rust_decimal::Decimal {
        self.timer_cap_hours
            .and_then(|h| rust_decimal::Decimal::try_from(h).ok())
            .map_or(crate::team::Team::TIMER_CAP, |d| d.round_dp(2))
    }
}

/// `[timers]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timers {
    /// Seconds a daemon's claim on the timers it fires holds: past it (the daemon died),
    /// another daemon fires them.
    pub lease_s: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers { lease_s: 60 }
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            max_attempts: 8,
            retry_base_s: 30,
            retry_max_s: 3600,
            lease_s: 300,
            concurrency: 8,
            keep_days: 90,
        }
    }
}

/// `[history]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    /// Days a refused input (event, creation, work on a task) is kept for `explain` and the
    /// dashboard; older ones are forgotten, once an hour.
    pub refusals_keep_days: u64,
}

impl Default for History {
    fn default() -> Self {
        History {
            refusals_keep_days: 90,
        }
    }
}

/// Sections a `DEALFLOW_SECTION_KEY` variable may name.
const SECTIONS: [&str; 12] = [
    "server",
    "database",
    "rules",
    "intake",
    "smtp",
    "sms",
    "telegram",
    "outbox",
    "timers",
    "tasks",
    "dashboard",
    "history",
];

/// A configuration that cannot be used: the message names the file (with line and column when
/// the file is at fault), the variable or the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read `{}`: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file (or the file with the environment's values) does not fit.
    #[error("{0}")]
    Invalid(String),
    /// A value that does not hold (a short token, no delivery attempts).
    #[error("configuration: {0}")]
    Value(&'static str),
    /// A value that does not hold, named.
    #[error("configuration: {0}")]
    Named(String),
    /// A team member.
    #[error(transparent)]
    Team(#[from] crate::team::TeamError),
}

/// Top-level lists a `DEALFLOW_NAME` variable may set whole.
const LISTS: [&str; 4] = ["tokens", "team", "webhooks", "forms"];

impl Config {
    /// Reads the file (if given and present: without one, everything comes from the
    /// environment) and applies `DEALFLOW_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (mut table, base, text) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                (table, base, Some((path, text)))
            }
            None => (toml::Table::new(), PathBuf::new(), None),
        };
        let mut tokens_from = None;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("DEALFLOW_") else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            if rest == "tokens" {
                tokens_from = Some(tokens::Source::Variable);
            }
            let (section, key) = if rest == "listen" {
                ("server".to_string(), Some("listen".to_string()))
            } else if LISTS.contains(&rest.as_str()) {
                (rest.clone(), None)
            } else if let Some(s) = SECTIONS.iter().find(|s| rest.starts_with(&format!("{s}_"))) {
                (s.to_string(), Some(rest[s.len() + 1..].to_string()))
            } else {
                // DEALFLOW_TEST_POSTGRES and the like are not configuration.
                continue;
            };
            let v = env_value(&value);
            match key {
                None => {
                    table.insert(section, v);
                }
                Some(key) => {
                    let entry = table
                        .entry(section.clone())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    let toml::Value::Table(t) = entry else {
                        return Err(ConfigError::Invalid(format!(
                            "`{section}` in the configuration is not a section"
                        )));
                    };
                    t.insert(key, v);
                }
            }
        }
        let mut config: Config = match toml::Value::Table(table).try_into() {
            Ok(c) => c,
            Err(e) => {
                let e: toml::de::Error = e;
                // The file alone, read again, says where (line and column) when it is the file.
                if let Some((path, text)) = &text
                    && let Err(in_file) = toml::from_str::<Config>(text)
                    && in_file.message() == e.message()
                {
                    return Err(ConfigError::Invalid(format!(
                        "{}: {in_file}",
                        path.display()
                    )));
                }
                let hint = if e.message().contains("missing field `rules`") {
                    match &text {
                        None => {
                            " (no dealflow.toml here: give --config FILE, or set DEALFLOW_RULES_FILE)"
                        }
                        Some(_) => {
                            " (add `[rules] file = \"pipeline.flow\"`, or set DEALFLOW_RULES_FILE)"
                        }
                    }
                } else {
                    " (from the file or a DEALFLOW_* variable)"
                };
                return Err(ConfigError::Invalid(format!(
                    "configuration: {}{hint}",
                    e.message()
                )));
            }
        };
        config.base = base;
        config.file = file.map(Path::to_path_buf);
        config.check()?;
        let tokens_from = match (tokens_from, &text) {
            (Some(v), _) => v,
            (None, Some((path, text))) => tokens::Source::File(path, text),
            (None, None) => tokens::Source::Variable,
        };
        tokens::unique(&config.tokens, tokens_from)?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.tokens.iter().any(|t| t.token.len() < 8) {
            return Err(ConfigError::Value(
                "every token must be at least 8 characters long",
            ));
        }
        if self.server.header_timeout_s < 1
            || self.server.body_timeout_s < 1
            || self.server.idle_timeout_s < 1
            || self.server.max_connections < 1
        {
            return Err(ConfigError::Value(
                "`server.header_timeout_s`, `server.body_timeout_s`, `server.idle_timeout_s` and `server.max_connections` must be at least 1",
            ));
        }
        if self.rules.reload_timeout_s < 1 {
            return Err(ConfigError::Value(
                "`rules.reload_timeout_s` must be at least 1",
            ));
        }
        if self.history.refusals_keep_days < 1 {
            return Err(ConfigError::Value(
                "`history.refusals_keep_days` must be at least 1",
            ));
        }
        if !(1..=36_500).contains(&self.outbox.keep_days) {
            return Err(ConfigError::Value(
                "`outbox.keep_days` must be from 1 to 36500",
            ));
        }
        if self.rules.max_size < 1 {
            return Err(ConfigError::Value("`rules.max_size` must be at least 1"));
        }
        if self.outbox.max_attempts < 1 {
            return Err(ConfigError::Value(
                "`outbox.max_attempts` must be at least 1",
            ));
        }
        if !(1..=64).contains(&self.outbox.concurrency) {
            return Err(ConfigError::Value(
                "`outbox.concurrency` must be from 1 to 64",
            ));
        }
        if self.outbox.lease_s < 1 || self.timers.lease_s < 1 {
            return Err(ConfigError::Value(
                "`outbox.lease_s` and `timers.lease_s` must be at least 1",
            ));
        }
        if self
            .tasks
            .timer_cap_hours
            .is_some_and(|h| !(h > 0.0 && h <= 24.0))
        {
            return Err(ConfigError::Value(
                "`tasks.timer_cap_hours` must be more than 0 and at most 24",
            ));
        }
        if self.tasks.digest_at.is_some() && self.tasks.digest().is_none() {
            return Err(ConfigError::Value(
                "`tasks.digest_at` must be a time of day like \"09:00\"",
            ));
        }
        if !matches!(
            self.tasks.digest_days.as_deref(),
            None | Some("workdays" | "daily")
        ) {
            return Err(ConfigError::Value(
                "`tasks.digest_days` must be \"workdays\" or \"daily\"",
            ));
        }
        if self.dashboard.session_hours < 1 || self.dashboard.idle_minutes < 1 {
            return Err(ConfigError::Value(
                "`dashboard.session_hours` and `dashboard.idle_minutes` must be at least 1",
            ));
        }
        webhooks::check(&self.webhooks)?;
        forms::check(&self.forms)?;
        tokens::check(&self.tokens, &self.team)?;
        Ok(())
    }

    /// The rule file, relative to the configuration file.
    pub fn rules_path(&self) -> PathBuf {
        self.base.join(&self.rules.file)
    }

    /// The database URL; an SQLite file given by a relative path is relative to the
    /// configuration file, like the rule file.
    pub fn database_url(&self) -> String {
        let url = &self.database.url;
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some(p) if !p.is_empty() && Path::new(p).is_relative() => {
                format!("sqlite://{}", self.base.join(p).display())
            }
            _ => url.clone(),
        }
    }

    /// The team as the engine knows it.
    pub fn members(&self) -> Result<Vec<Member>, ConfigError> {
        Ok(self
            .team
            .iter()
            .map(TeamMember::member)
            .collect::<Result<_, _>>()?)
    }
}

/// A variable's value: TOML when it reads as a TOML value (numbers, booleans, lists, tables),
/// else the text as it is.
fn env_value(s: &str) -> toml::Value {
    let probe = format!("v = {s}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(s.into())),
        Err(_) => toml::Value::String(s.into()),
    }
}

#[cfg(test)]
mod tests;
