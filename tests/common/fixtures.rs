//! Databases made by earlier landed mains (`tests/fixtures/main-*/`), loaded again on each
//! backend, and opened under this code.

use std::path::PathBuf;

use dealflow::daemon::{Core, Opening};
use dealflow::store::Options;

use super::root;

/// A fixture's SQL dump for a backend (`sqlite` or `postgres`).
pub fn fixture(dir: &str, backend: &str) -> String {
    let path = root().join(format!("tests/fixtures/{dir}/{backend}.sql"));
    std::fs::read_to_string(&path).expect("the fixture")
}

/// A fixture's database, made again on each backend: (name, url, options).
pub async fn databases_of(made_by: &str, tag: &str) -> Vec<(&'static str, String, Options)> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("upgrade-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a test folder");
    let file = dir.join("main.db");
    let url = format!("sqlite://{}", file.display());
    {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&file)
                    .create_if_missing(true),
            )
            .await
            .expect("an SQLite file");
        sqlx::raw_sql(sqlx::AssertSqlSafe(fixture(made_by, "sqlite")))
            .execute(&pool)
            .await
            .expect("the SQLite fixture loads");
        pool.close().await;
    }
    let mut out = vec![("sqlite", url, Options::default())];
    match super::postgres() {
        Some(pg) => {
            let schema = format!("t_upgrade_{tag}_{}", std::process::id());
            let pool = sqlx::PgPool::connect(&pg).await.expect("postgres");
            let text = fixture(made_by, "postgres").replace("fixture_main", &schema);
            sqlx::raw_sql(sqlx::AssertSqlSafe(text))
                .execute(&pool)
                .await
                .expect("the PostgreSQL fixture loads");
            pool.close().await;
            out.push((
                "postgres",
                pg,
                Options {
                    schema: Some(schema),
                    ..Options::default()
                },
            ));
        }
        None => super::skipped(
            "upgrade test: PostgreSQL part SKIPPED (set DEALFLOW_TEST_POSTGRES=postgres://… to run it)",
        ),
    }
    out
}

/// The schema versions a database has applied.
pub async fn applied(url: &str, opts: &Options) -> Vec<i64> {
    let sql = "SELECT version FROM _sqlx_migrations ORDER BY version";
    match &opts.schema {
        None => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            let v = sqlx::query_scalar(sql)
                .fetch_all(&pool)
                .await
                .expect("read");
            pool.close().await;
            v
        }
        Some(schema) => {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            let q = format!("SELECT version FROM \"{schema}\"._sqlx_migrations ORDER BY version");
            let v = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
                .fetch_all(&pool)
                .await
                .expect("read");
            pool.close().await;
            v
        }
    }
}

pub async fn open(url: &str, opts: &Options) -> Core {
    let team = dealflow::daemon::Config::load(Some(&root().join("examples/dealflow.toml")), [])
        .expect("the example configuration")
        .members()
        .expect("its team");
    Core::open(Opening {
        rules: &root().join("rules/web-studio.flow"),
        database: url,
        options: opts.clone(),
        team: Some(&team),
        max_rules_size: None,
        mapping: Default::default(),
    })
    .await
    .expect("the old database opens")
}

/// A count read straight from a fixture's database (its schema on PostgreSQL).
pub async fn count(url: &str, opts: &Options, sql: &str) -> i64 {
    scalar(url, opts, sql).await.expect("a count")
}

/// Runs a statement straight on a fixture's database (its schema on PostgreSQL).
pub async fn execute(url: &str, opts: &Options, sql: &str) {
    scalar(url, opts, sql).await;
}

/// Runs `sql` on a fixture's database (its schema on PostgreSQL): the first column of the
/// first row it gives, if it gives one.
async fn scalar(url: &str, opts: &Options, sql: &str) -> Option<i64> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match &opts.schema {
        None => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            let v = sqlx::query_scalar(sql)
                .fetch_optional(&pool)
                .await
                .expect("the statement runs");
            pool.close().await;
            v
        }
        Some(schema) => {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            let mut c = pool.acquire().await.expect("a connection");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET search_path TO \"{schema}\""
            )))
            .execute(&mut *c)
            .await
            .expect("the schema");
            let v = sqlx::query_scalar(sql)
                .fetch_optional(&mut *c)
                .await
                .expect("the statement runs");
            drop(c);
            pool.close().await;
            v
        }
    }
}
