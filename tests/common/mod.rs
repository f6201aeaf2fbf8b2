//! What the integration tests share: the repository's files, the PostgreSQL server when one
//! is named, and (in `daemon`) a daemon on loopback driven over HTTP.

// Each test crate uses a part of what is here.
#![allow(dead_code)]

pub mod cmd;
pub mod daemon;
pub mod fixtures;
pub mod lsp;
pub mod schema;
pub mod store;

use std::path::{Path, PathBuf};

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

/// A `dealflow` process a test started, killed when the test ends however it ends (a failed
/// assertion must not leave a daemon running).
pub struct Reaped(pub std::process::Child);

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `dealflow serve --demo` on a free loopback port, from the built binary, killed when the
/// test ends; its address as it prints it.
pub fn demo_daemon() -> (Reaped, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .env("DEALFLOW_LOG", "warn")
        // The demo's folder (left behind when the daemon is killed) goes under target/.
        .env("TMPDIR", env!("CARGO_TARGET_TMPDIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dealflow starts");
    let stderr = child.stderr.take().expect("stderr");
    let child = Reaped(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serves on http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(180))
        .expect("the demo daemon says where it listens within three minutes");
    (child, format!("http://{addr}"))
}

/// A session on the demo daemon at `base`, logged in with its token: the cookie to send.
pub async fn demo_session(http: &reqwest::Client, base: &str) -> String {
    let login = http
        .post(format!("{base}/login"))
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=demo&next=%2F")
        .send()
        .await
        .expect("the demo answers");
    login.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A port nobody listens on now, on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// A Python virtual environment of the build's own (`name` under the build's temporary
/// folder) with the packages of `requirements` (a path from the repository's root) installed
/// from PyPI; `None` when there is no Python 3 with venv, unless `DEALFLOW_REQUIRE_PYTHON` is
/// set: then that is a failure.
pub fn venv(name: &str, requirements: &str) -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let done = venv.join("installed");
    let wanted = std::fs::read_to_string(root().join(requirements)).expect("requirements");
    if std::fs::read_to_string(&done).is_ok_and(|had| had == wanted) {
        return Some(venv);
    }
    let made = std::process::Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_PYTHON").is_none(),
            "Python 3 with venv is required here"
        );
        return None;
    }
    let out = std::process::Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(root().join(requirements))
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&done, wanted).expect("mark the venv installed");
    Some(venv)
}

/// Runs a program that is not ours (promtool, python3) with `input` on its standard input; its
/// output. `None` when it is not installed, unless `required` (a `DEALFLOW_REQUIRE_*`
/// variable) is set: then that is a failure.
pub fn pipe(
    program: &str,
    args: &[&str],
    input: &[u8],
    required: &str,
) -> Option<std::process::Output> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        assert!(
            std::env::var_os(required).is_none(),
            "{program} is required here"
        );
        return None;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("the program reads");
    Some(child.wait_with_output().expect("the program runs"))
}

/// Installs a test folder's npm packages as its lock file pins them (`npm ci`).
pub fn npm_ci(dir: &Path) {
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm ci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The file where the daemons of this test process say what went wrong (warnings and errors,
/// the same lines `dealflow serve` prints): a test that sees a 5xx shows what the daemon said
/// about it. Set up once per process; every later call names the same file.
pub fn daemon_log() -> &'static Path {
    static LOG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("daemon-log-{}.txt", std::process::id()));
        if let Ok(file) = std::fs::File::create(&path) {
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::WARN)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        }
        path
    })
}

/// What the daemons of this process logged as errors so far.
pub fn daemon_errors() -> String {
    std::fs::read_to_string(daemon_log())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("ERROR"))
        .collect::<Vec<_>>()
        .join("\n")
}
