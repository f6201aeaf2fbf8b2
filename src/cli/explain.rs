//! `dealflow explain DEAL --db URL [--format text|json]`: why a deal is where it is — its story
//! step by step, each effect with the rule `file:line` and rules version that made it, refused
//! inputs with their reasons. Reads the database only (a running daemon may hold it), and the
//! rules as the database recorded them.
//!
//! Exit 0: told; 1: the database knows no such deal; 2: the database cannot be read.

use std::process::ExitCode;

use clap::ValueEnum;

use crate::explain::{Read, explanation_json, explanation_text};

/// Arguments of `dealflow explain`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The deal's id.
    deal: String,
    /// The database (`sqlite://FILE`, `postgres://…`); only read.
    #[arg(long, value_name = "URL")]
    db: String,
    /// PostgreSQL schema of the database.
    #[arg(long)]
    schema: Option<String>,
    /// How to tell it.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Words in Russian instead of English.
    #[arg(long)]
    ru: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Step by step, for people.
    Text,
    /// One JSON document.
    Json,
}

pub(super) fn run(args: Args) -> Result<ExitCode, super::Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (read, rules) = rt.block_on(async {
        let opts = crate::store::Options {
            schema: args.schema.clone(),
            read_only: true,
            ..Default::default()
        };
        let store = crate::store::Store::open(&args.db, &opts).await?;
        let mut tx = store.read().await?;
        let read = Read::from(&mut tx, &args.deal).await?;
        drop(tx);
        let rules = crate::preview::running_rules(&store).await;
        store.close().await;
        Ok::<_, crate::store::StoreError>((read, rules))
    })?;
    let Some(read) = read else {
        eprintln!("the database knows no deal `{}`", args.deal);
        return Ok(ExitCode::FAILURE);
    };
    let Some(ready) = rules else {
        return Err(super::NO_RULES.into());
    };
    let story = read.explain(&ready.plan, &args.deal, args.ru);
    match args.format {
        Format::Text => print!("{}", explanation_text(&story, ready.plan.tz, args.ru)),
        Format::Json => println!(
            "{}",
            explanation_json(&story, |t| crate::json::at(t, ready.plan.tz))
        ),
    }
    Ok(ExitCode::SUCCESS)
}
