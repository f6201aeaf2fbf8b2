//! `dealflow serve`: the store, the rules, the writer, the scheduler, the outbox, the rule-file
//! watcher and the HTTP server, started together and stopped in order.
//!
//! Stopping (SIGTERM, Ctrl-C, or [`Running::stop`]): the server stops taking requests and
//! finishes the ones in flight, the scheduler and the outbox stop, the writer commits what it
//! has taken and ends; then the database is closed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::{Router, middleware};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::config::{Config, ConfigError};
use super::core::{Core, OpenError, Opening};
use super::door::{Door, Site};
use super::metrics::Metrics;
use super::outbox::{self, Delivery, TransportError};
use super::reload::{ReloadLimits, Reloads};
use super::state::{AppState, Shared};
use super::writer::Writer;
use super::{api, guard, scheduler, web};
use crate::store::Options;

/// A daemon that runs.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Shared,
    stop: watch::Sender<bool>,
    done: JoinHandle<()>,
}

impl Running {
    /// Asks it to stop and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }

    /// Waits until it stops (by a signal).
    pub async fn wait(self) {
        let _ = self.done.await;
    }

    /// A handle that asks it to stop.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Its core: the rules running and the store.
    pub fn core(&self) -> &Arc<Core> {
        &self.state.core
    }

    /// Its counters (`/metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }
}

/// Why the daemon did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration (its team, say) does not hold.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A mail or SMS transport cannot be built from the configuration.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The rules or the database.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address configured.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Installs the one TLS crypto provider (ring) for email and SMS; harmless when it is there.
pub fn tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The whole HTTP surface: the API's routes and the pages', what no route answers, the body
/// limit (a body over it answered as JSON or as a page), wrong tokens counted per address, the
/// security headers of what is not a page, and every answer counted.
fn router(state: Shared) -> Router {
    let limit = state.config.server.body_limit;
    Router::new()
        .merge(api::routes())
        .merge(web::routes())
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::too_large,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::throttled,
        ))
        .layer(middleware::map_response(super::headers::json_headers))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Counts every answer for `/metrics`, and times it by route (the route's pattern, never the
/// path a client sent: the labels stay few), method and status.
async fn count(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("other", |m| m.as_str())
        .to_string();
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let r = next.run(req).await;
    let status = r.status();
    s.metrics
        .http(status.is_client_error() || status.is_server_error());
    s.metrics
        .request(&route, method.as_str(), status.as_u16(), started.elapsed());
    r
}

/// Opens everything and starts serving.
pub async fn start(config: Config) -> Result<Running, StartError> {
    tls_provider();
    let rules_path = config.rules_path();
    let members = config.members()?;
    let site = Site::from_config(&config.server)?;
    let delivery = Arc::new(Delivery::new(&config)?);
    let core = Arc::new(
        Core::open(Opening {
            rules: &rules_path,
            database: &config.database_url(),
            options: Options {
                schema: config.database.schema.clone(),
                ..Options::default()
            },
            team: Some(&members),
            max_rules_size: Some(config.rules.max_size),
            mapping: config.dashboard.mapping(),
        })
        .await?,
    );
    if let Some(url) = site.base_url() {
        core.set_site(url);
    }
    if let Some(f) = &config.dashboard.labour_cost_function {
        let rules = core.rules();
        if !rules.ready.script.as_ref().is_some_and(|s| s.defines(f, 1)) {
            return Err(StartError::Config(ConfigError::Named(format!(
                "`dashboard.labour_cost_function = \"{f}\"`: the pipeline's script has no `fn {f}(deal)`"
            ))));
        }
    }
    super::api::website::check_fields(&config.forms, &core.rules().ready.plan)?;
    core.set_timer_cap(config.tasks.timer_cap());
    core.set_webhooks(
        config
            .webhooks
            .iter()
            .map(super::config::Webhook::subscription)
            .collect(),
    );
    let senders = Arc::new(super::webhooks::Senders::new(
        &config.webhooks,
        &config.outbox,
    )?);
    let version = core.rules().version;
    let metrics = Arc::new(Metrics::default());
    metrics
        .rules_version
        .store(version, std::sync::atomic::Ordering::Relaxed);
    let (writer_stop, writer_stopped) = watch::channel(false);
    let (writer, writer_task) = Writer::start(core.clone(), metrics.clone(), writer_stopped);
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.server.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.server.listen.clone(),
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let limits = ReloadLimits {
        max_size: Some(config.rules.max_size),
        timeout: Duration::from_secs(config.rules.reload_timeout_s),
    };
    let door = Door::new(&config.tokens, site, config.server.login_attempts);
    let state = Arc::new(AppState {
        core: core.clone(),
        writer: writer.clone(),
        door,
        config,
        metrics: metrics.clone(),
        reloads: Reloads::new(limits, stopped.clone()),
        ready: Default::default(),
        forms: Default::default(),
        bodies: Default::default(),
    });
    // Live deals a pass did not bring to the rules running now (it was cut short) get there.
    state
        .reloads
        .switching
        .start(core.clone(), writer.clone(), true);
    let owner = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
    let sched = tokio::spawn(scheduler::run(
        core.clone(),
        writer.clone(),
        metrics.clone(),
        owner,
        Duration::from_secs(state.config.timers.lease_s),
        state.config.tasks.digest(),
        stopped.clone(),
    ));
    let days = |n: u64| Duration::from_secs(n * 86_400);
    let keep = scheduler::Keep {
        refusals: days(state.config.history.refusals_keep_days),
        sent: days(state.config.outbox.keep_days),
        idle: Duration::from_secs(state.config.dashboard.idle_minutes * 60),
    };
    let pruning = tokio::spawn(scheduler::prune(
        core.clone(),
        writer.clone(),
        keep,
        stopped.clone(),
    ));
    let out = tokio::spawn(outbox::run(
        writer.clone(),
        delivery,
        metrics.clone(),
        stopped.clone(),
    ));
    let hooks = tokio::spawn(super::webhooks::run(
        writer,
        senders,
        metrics.clone(),
        stopped.clone(),
    ));
    let (saved_tx, saved) = mpsc::channel::<()>(16);
    let rules_watch = RulesWatch::new(state.clone(), rules_path, saved_tx);
    let watcher = tokio::spawn(watch_rules(rules_watch, saved, stopped.clone()));
    let signals = tokio::spawn(signals(stop.clone()));
    let app = router(state.clone());
    let stopped_http = stopped.clone();
    tracing::info!(
        %addr,
        public_url = state.door.site.base_url(),
        version,
        backend = core.store().backend(),
        "dealflow serves"
    );
    let limits = super::connections::Limits::of(&state.config.server);
    let done = tokio::spawn(async move {
        super::connections::serve(listener, app, limits, stopped_http).await;
        let _ = sched.await;
        let _ = out.await;
        let _ = hooks.await;
        let _ = pruning.await;
        watcher.abort();
        signals.abort();
        // Nothing sends any more: the writer commits what it has taken and ends.
        let _ = writer_stop.send(true);
        let _ = writer_task.await;
        core.store().close().await;
        tracing::info!("dealflow stopped");
    });
    Ok(Running {
        addr,
        state,
        stop,
        done,
    })
}

/// SIGTERM and Ctrl-C stop the daemon.
async fn signals(stop: watch::Sender<bool>) {
    let term = async {
        #[cfg(unix)]
        {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("stopping: finishing requests in flight");
    let _ = stop.send(true);
}

/// The rule file's folder and its script's, watched: a save of either is sent on `saved`.
/// Made before the server answers, so that no save after `start` returns goes unseen.
struct RulesWatch {
    watcher: Option<notify::RecommendedWatcher>,
    folders: Vec<PathBuf>,
    state: Shared,
    file: PathBuf,
}

impl RulesWatch {
    fn new(state: Shared, file: PathBuf, saved: mpsc::Sender<()>) -> RulesWatch {
        let notice = {
            let state = state.clone();
            let rule_name = file.file_name().map(|n| n.to_os_string());
            move |ev: notify::Result<notify::Event>| {
                let Ok(ev) = ev else { return };
                if matches!(ev.kind, notify::EventKind::Access(_)) {
                    return;
                }
                let script = state.core.rules().script_path();
                let script_name = script.as_deref().and_then(Path::file_name);
                let hit = ev.paths.iter().any(|p| {
                    let name = p.file_name();
                    name.is_some() && (name == rule_name.as_deref() || name == script_name)
                });
                if hit {
                    let _ = saved.try_send(());
                }
            }
        };
        let watcher = match notify::recommended_watcher(notice) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch files; reload with SIGHUP or the API");
                None
            }
        };
        let mut w = RulesWatch {
            watcher,
            folders: Vec::new(),
            state,
            file,
        };
        w.watch_folders();
        w
    }

    /// Watches the rule file's folder, and the script's when it is elsewhere (again after each
    /// reload: new rules may name another script).
    fn watch_folders(&mut self) {
        use notify::Watcher;
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        let folder = |p: &Path| {
            p.parent()
                .map(Path::to_path_buf)
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from("."))
        };
        let mut wanted = vec![folder(&self.file)];
        wanted.extend(self.state.core.rules().script_path().as_deref().map(folder));
        for dir in wanted {
            if self.folders.contains(&dir) {
                continue;
            }
            match w.watch(&dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => self.folders.push(dir),
                Err(e) => {
                    tracing::warn!(error = %e, dir = %dir.display(), "cannot watch a rules folder; reload with SIGHUP or the API")
                }
            }
        }
    }
}

/// On SIGHUP, the configuration's tokens and team are read again (the rest of it needs a
/// restart): a token taken out ends its sessions, a member taken out gets no new work. A file
/// that does not hold keeps the ones in use, said in the log.
async fn reread_door(state: &Shared) {
    let config = match Config::load(state.config.file.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: the configuration does not hold; tokens and team are kept as they were");
            return;
        }
    };
    let members = match config.members() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: the team does not hold; tokens and team are kept as they were");
            return;
        }
    };
    let put = async {
        let mut tx = state.core.store().begin().await?;
        tx.put_team(&members).await?;
        tx.commit().await
    };
    if let Err(e) = put.await {
        tracing::error!(error = %e, "SIGHUP: the team could not be stored; tokens and team are kept as they were");
        return;
    }
    state.door.set_tokens(&config.tokens);
    tracing::info!(
        tokens = config.tokens.len(),
        team = members.len(),
        "SIGHUP: tokens and team read again"
    );
}

/// Reloads the rules when the rule file or its script is saved (atomic-rename saves
/// included: the folders are watched), on SIGHUP, and never twice for one save (changes within
/// 300 ms count once). The script is the one the running rules name, as the parser read it.
async fn watch_rules(
    mut watch: RulesWatch,
    mut saved: mpsc::Receiver<()>,
    mut stopped: watch::Receiver<bool>,
) {
    let state = watch.state.clone();
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let signalled = tokio::select! {
            _ = stopped.changed() => break,
            _ = hangup => true,
            Some(()) = saved.recv() => {
                // Let the save finish (editors write in several steps), then take it once.
                tokio::time::sleep(Duration::from_millis(300)).await;
                while saved.try_recv().is_ok() {}
                false
            }
        };
        if signalled {
            reread_door(&state).await;
        }
        state
            .reloads
            .reload(&state.core, &state.writer, &state.metrics)
            .await;
        watch.watch_folders();
    }
}
