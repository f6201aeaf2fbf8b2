//! What the integration tests share: the repository's files, the PostgreSQL server when one
//! is named, and (in `daemon`) a daemon on loopback driven over HTTP.

// Each test crate uses a part of what is here.
#![allow(dead_code)]

pub mod cmd;
pub mod daemon;
pub mod lsp;
pub mod schema;
pub mod store;

use std::path::Path;

/// The repository.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The PostgreSQL server the tests may use (`DEALFLOW_TEST_POSTGRES`), if one is named.
pub fn postgres() -> Option<String> {
    std::env::var("DEALFLOW_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says on stderr (which the test harness does not hold back) that a part was skipped.
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{what}");
}

/// Drops a test's PostgreSQL schema.
pub async fn drop_schema(url: &str, schema: &str) {
    let pool = sqlx::PgPool::connect(url).await.expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop schema");
}
