//! `dealflow summaries rebuild (--config FILE | --db URL [--schema S])`: makes the dashboard's
//! summaries again from every stored deal, under the rules the database runs and the
//! `[dashboard]` mapping of the configuration (the defaults with `--db`). A daemon does it by
//! itself when what they are made from changed; this is for a database repaired by hand or
//! restored from a backup. An SQLite file a daemon holds is refused (stop it first); on
//! PostgreSQL the running daemons' writes wait until it ends.
//!
//! Exit 0: made; 2: the database cannot be used.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::daemon::Config;
use crate::store::{Options, Store};

/// Arguments of `dealflow summaries`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Make the summaries again from every stored deal.
    Rebuild(Rebuild),
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false, id = "source")]
struct Rebuild {
    /// The daemon's configuration: its database and its `[dashboard]` mapping.
    #[arg(long, value_name = "FILE", group = "source")]
    config: Option<PathBuf>,
    /// The database (`sqlite://FILE`, `postgres://…`), with the default mapping.
    #[arg(long, value_name = "URL", group = "source")]
    db: Option<String>,
    /// PostgreSQL schema of the database (with `--db`).
    #[arg(long, requires = "db")]
    schema: Option<String>,
}

pub(super) fn run(args: Args) -> Result<ExitCode, super::Failure> {
    let What::Rebuild(r) = args.what;
    let (url, schema, mapping) = match (&r.config, &r.db) {
        (Some(file), _) => {
            let config = Config::load(Some(file), std::env::vars())?;
            (
                config.database.url.clone(),
                config.database.schema.clone(),
                config.dashboard.mapping(),
            )
        }
        (None, Some(db)) => (db.clone(), r.schema.clone(), Default::default()),
        (None, None) => return Err("give --config FILE or --db URL".into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = rt.block_on(async {
        let opts = Options {
            schema,
            ..Options::default()
        };
        let store = Store::open(&url, &opts).await?;
        let ready = super::stored_rules(&store).await?;
        let total = store.read().await?.count_deals().await?;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} summing {bar:40} {pos}/{len} deals ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        let mut tx = store.begin().await?;
        let done = tx
            .rebuild_summaries(&ready.plan, &mapping, true, |n| {
                if let Some(b) = &bar {
                    b.set_position(n);
                }
            })
            .await?;
        tx.commit().await?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        store.close().await;
        Ok::<_, super::Failure>(done)
    })?;
    println!("summaries made from {} deals", done.deals);
    if !done.unread.is_empty() {
        println!(
            "{} deals the running rules cannot read were left out: {}",
            done.unread.len(),
            done.unread
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
