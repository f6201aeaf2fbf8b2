//! The daemon as a process: SIGHUP reloads the rules, SIGTERM stops it cleanly (exit 0, the
//! database closed with nothing lost).

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "signals-staff";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// `dealflow serve` with this configuration (written into `dir`), once it answers `/healthz`.
/// The test's `deadline` bounds the wait.
fn serve(dir: &Path, config: &str, port: u16, deadline: Instant) -> common::Reaped {
    std::fs::write(dir.join("dealflow.toml"), config).expect("config");
    let child = common::Reaped(
        Command::new(env!("CARGO_BIN_EXE_dealflow"))
            .args(["serve", "--config"])
            .arg(dir.join("dealflow.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts"),
    );
    while get(port, "/healthz").is_none_or(|r| !r.contains("200 OK")) {
        assert!(Instant::now() < deadline, "the daemon did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn sighup_reloads_the_rules_and_sigterm_stops_the_daemon_cleanly() {
    let (dir, port) = fresh("signals");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{}\"\n[rules]\nfile = \"{}\"\n\
         [[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\n",
        dir.join("dealflow.db").display(),
        root().join("rules/web-studio.flow").display()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut child = serve(&dir, &config, port, deadline);
    let pid = child.id();
    let rules = get(port, "/api/v1/rules").expect("rules");
    assert!(rules.contains("\"last_reload\":null"), "{rules}");

    signal(pid, "-HUP");
    loop {
        let rules = get(port, "/api/v1/rules").expect("rules");
        if rules.contains("did not change") {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload: {rules}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let log = terminate(&mut child, deadline);
    assert!(log.contains("dealflow stopped"), "{log}");
    // The database reads back after the stop (what-if over it).
    let until = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let again = Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(["simulate", "--until", &until, "--db"])
        .arg(format!("sqlite://{}", dir.join("dealflow.db").display()))
        .arg(root().join("rules/web-studio.flow"))
        .output()
        .expect("runs");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// An empty folder of the test's own, and a free port on loopback.
fn fresh(name: &str) -> (PathBuf, u16) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    (dir, port)
}

/// SIGTERM, which must stop the daemon with exit status 0 before `deadline`; its log.
fn terminate(child: &mut std::process::Child, deadline: Instant) -> String {
    signal(child.id(), "-TERM");
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the daemon");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    log
}

/// Sends a request with a body; the status line and the body.
fn post(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Replaces a file the way editors save: write a new file, rename it over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A rule file of tens of megabytes (mostly comments) takes the reload a long while to read: the
/// daemon keeps answering, another reload asked for meanwhile answers at once, the time cap
/// refuses it, the next good save is applied, and SIGTERM during such a reload stops the
/// process within seconds.
#[test]
fn a_monstrous_rule_file_never_holds_the_daemon() {
    let (dir, port) = fresh("monstrous");
    for f in ["web-studio.flow", "web-studio.rhai"] {
        std::fs::copy(root().join("rules").join(f), dir.join(f)).expect("copy rules");
    }
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{}\"\n[rules]\n\
         file = \"web-studio.flow\"\nmax_size = 200000000\nreload_timeout_s = 3\n\
         [[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\n",
        dir.join("dealflow.db").display(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut child = serve(&dir, &config, port, deadline);
    let pid = child.id();
    let flow = dir.join("web-studio.flow");
    let original = std::fs::read_to_string(&flow).expect("rules");
    let mut monstrous = original.clone();
    while monstrous.len() < 48_000_000 {
        monstrous.push_str(
            "# a note left in the rule file, one of very many, each about eighty bytes\n",
        );
    }
    let last_reload = || get(port, "/api/v1/rules").unwrap_or_default();

    // The save starts a reload that reads for a long while.
    save(&flow, &monstrous);
    std::thread::sleep(Duration::from_secs(1));
    let asked = Instant::now();
    let again = post(port, "/api/v1/rules/reload").expect("an answer");
    assert!(again.starts_with("HTTP/1.1 202"), "{again}");
    assert!(again.contains("\"queued\":true"), "{again}");
    let health = get(port, "/healthz").expect("an answer");
    assert!(health.contains("200 OK"), "{health}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "a request waited for the reload: {:?}",
        asked.elapsed()
    );
    // The time cap refuses it; the old rules keep running.
    loop {
        let rules = last_reload();
        if rules.contains("took longer than 3 s") {
            assert!(rules.contains("\"version\":1"), "{rules}");
            break;
        }
        assert!(Instant::now() < deadline, "no refusal: {rules}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The next good save is applied.
    save(
        &flow,
        &original.replace("Менеджер позвонит вам", "Менеджер скоро позвонит вам"),
    );
    loop {
        let rules = last_reload();
        if rules.contains("\"version\":2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the good save was not applied: {rules}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // SIGTERM while the monstrous file is being read again: out within seconds.
    save(&flow, &monstrous);
    std::thread::sleep(Duration::from_secs(1));
    signal(pid, "-TERM");
    let asked = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "SIGTERM did not stop the daemon during a reload"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    assert!(log.contains("dealflow stopped"), "{log}");
}

/// A request with a token and a cookie, maybe a form body; the whole answer.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    cookie: Option<&str>,
    form: Option<&str>,
) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let _ = s.write_all(head.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// SIGHUP reads the tokens and the team again: a token taken out ends the sessions it opened
/// and opens nothing more, a new one works, a member taken out is gone from the team; a file
/// that does not hold keeps what runs. Message texts in the log transport cannot forge lines.
#[test]
fn sighup_reads_tokens_and_team_again_and_the_log_keeps_one_line_per_message() {
    let (dir, port) = fresh("signals-door");
    let example = std::fs::read_to_string(root().join("examples/dealflow.toml")).expect("example");
    let team = &example[example.find("[[team]]").expect("a team")..];
    let head = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"sqlite://{}\"\n[rules]\nfile = \"{}\"\n\
         [[tokens]]\ntoken = \"{TOKEN}\"\nscope = \"staff\"\n",
        dir.join("dealflow.db").display(),
        root().join("rules/web-studio.flow").display()
    );
    let anna = "[[tokens]]\ntoken = \"anna-token-1\"\nscope = \"staff\"\nperson = \"anna\"\n";
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut child = serve(&dir, &format!("{head}{anna}{team}"), port, deadline);
    let pid = child.id();

    // Anna logs in to the dashboard.
    let login = http(
        port,
        "POST",
        "/login",
        None,
        None,
        Some("token=anna-token-1&next=%2F"),
    );
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    assert!(http(port, "GET", "/", None, Some(&cookie), None).starts_with("HTTP/1.1 200"));
    // A lead whose name tries to forge a log line.
    let lead = http(
        port,
        "POST",
        "/api/v1/leads",
        Some(TOKEN),
        None,
        Some("client_name=Ivan%0AFORGED+level%3DERROR+all+deals+lost&client_phone=%2B79990001122"),
    );
    assert!(lead.starts_with("HTTP/1.1 201"), "{lead}");

    // A file that does not hold: nothing changes.
    std::fs::write(
        dir.join("dealflow.toml"),
        format!("{head}{anna}[[tokens]]\ntoken = \"x\"\nscope = \"staff\"\n{team}"),
    )
    .expect("config");
    signal(pid, "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(http(port, "GET", "/", None, Some(&cookie), None).starts_with("HTTP/1.1 200"));

    // Anna's token again as a read token for a screen: refused, naming both entries; Anna's
    // token stays hers and staff.
    std::fs::write(
        dir.join("dealflow.toml"),
        format!("{head}{anna}[[tokens]]\ntoken = \"anna-token-1\"\nscope = \"read\"\nname = \"screen\"\n{team}"),
    )
    .expect("config");
    signal(pid, "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    let lead = http(
        port,
        "POST",
        "/api/v1/leads",
        Some("anna-token-1"),
        None,
        Some("client_name=Anna+staff&client_phone=%2B79990001123"),
    );
    assert!(lead.starts_with("HTTP/1.1 201"), "{lead}");

    // Anna's token out, a new one in, Лена out of the team.
    let without_lena: String = team
        .split("[[team]]")
        .filter(|m| !m.contains("id = \"lena\""))
        .collect::<Vec<_>>()
        .join("[[team]]");
    std::fs::write(
        dir.join("dealflow.toml"),
        format!("{head}[[tokens]]\ntoken = \"new-token-1\"\nscope = \"read\"\n{without_lena}"),
    )
    .expect("config");
    signal(pid, "-HUP");
    while http(port, "GET", "/api/v1/team", Some(TOKEN), None, None).contains("\"lena\"") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not read the team again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let page = http(port, "GET", "/", None, Some(&cookie), None);
    assert!(
        page.starts_with("HTTP/1.1 303"),
        "the session ended: {page}"
    );
    assert!(
        http(
            port,
            "GET",
            "/api/v1/team",
            Some("anna-token-1"),
            None,
            None
        )
        .starts_with("HTTP/1.1 401")
    );
    assert!(
        http(port, "GET", "/api/v1/team", Some("new-token-1"), None, None)
            .starts_with("HTTP/1.1 200")
    );

    let log = terminate(&mut child, deadline);
    // The client's SMS waits for the morning at night (the reference's notify hook); the team's
    // task notices go by email at once: either way a message with the forged text was logged.
    assert!(
        log.lines()
            .any(|l| l.contains("(log transport)") && l.contains("FORGED")),
        "{log}"
    );
    assert!(
        !log.lines().any(|l| l.trim_start().starts_with("FORGED")),
        "a message text began a log line of its own: {log}"
    );
    assert!(
        log.contains("SIGHUP: the configuration does not hold"),
        "{log}"
    );
    let twice = log
        .lines()
        .find(|l| l.contains("hold the same token"))
        .unwrap_or_else(|| panic!("no refusal of the same token twice: {log}"));
    let anna_line = head.lines().count() + 1;
    assert!(
        twice.contains(&format!(
            "entry 2 `anna` (line {anna_line}) and entry 3 `screen` (line {})",
            anna_line + 4
        )),
        "{twice}"
    );
    assert!(
        !twice.contains("anna-token-1"),
        "the secret is not logged: {twice}"
    );
}
