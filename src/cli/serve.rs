//! `dealflow serve`: the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Failure;
use crate::daemon::{self, Config};

/// Arguments of `dealflow serve`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The configuration file (default: `dealflow.toml` when it exists). Every value can also
    /// come from a `DEALFLOW_*` environment variable (`DEALFLOW_DATABASE_URL`, `DEALFLOW_LISTEN`…).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Listen here (overrides the configuration).
    #[arg(long)]
    listen: Option<String>,
    /// Database URL (overrides the configuration).
    #[arg(long)]
    database: Option<String>,
    /// Log lines as JSON (for log collectors) instead of text.
    #[arg(long)]
    log_json: bool,
    /// Start with a fresh embedded database seeded from Ivan's story (the reference pipeline,
    /// the clock run to the scenario's end) and the staff token `demo`: a living dashboard to
    /// look at. Ignores --config and --database.
    #[arg(long, conflicts_with_all = ["config", "database"])]
    demo: bool,
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub(super) fn run(args: Args) -> Result<ExitCode, Failure> {
    init_logs(args.log_json);
    if args.demo {
        return demo(args.listen.as_deref().unwrap_or("127.0.0.1:8080"));
    }
    let file = match &args.config {
        Some(f) => Some(f.clone()),
        None => Some(PathBuf::from("dealflow.toml")).filter(|p| p.exists()),
    };
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if let Some(l) = args.listen {
        env.push(("DEALFLOW_LISTEN".into(), l));
    }
    if let Some(d) = args.database {
        env.push(("DEALFLOW_DATABASE_URL".into(), d));
    }
    let config = Config::load(file.as_deref(), env)?;
    let rt = runtime()?;
    let served = rt.block_on(async {
        let running = daemon::start(config).await?;
        eprintln!("dealflow serves on http://{}", running.addr);
        running.wait().await;
        Ok::<(), Failure>(())
    });
    stop_now(rt);
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Ends the runtime without waiting long for work on its blocking threads (a reload still
/// reading a huge file, say): the daemon has stopped, the process must end.
fn stop_now(rt: tokio::runtime::Runtime) {
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}").into())
}

fn demo(listen: &str) -> Result<ExitCode, Failure> {
    let dir = crate::daemon::demo::folder();
    let rt = runtime()?;
    let served = rt.block_on(async {
        eprintln!(
            "dealflow demo: playing Ivan's story into {} …",
            dir.display()
        );
        let config = crate::daemon::demo::prepare(&dir, listen).await?;
        let running = daemon::start(config).await?;
        eprintln!(
            "dealflow demo serves on http://{}/ — log in with the token `{}` (Ctrl-C stops it)",
            running.addr,
            crate::daemon::demo::TOKEN
        );
        running.wait().await;
        Ok::<(), Failure>(())
    });
    stop_now(rt);
    served?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}

fn init_logs(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DEALFLOW_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
