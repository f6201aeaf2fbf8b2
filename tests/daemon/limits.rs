//! Guessing and waiting, as an attacker and a careless client would try them: wrong bearer
//! tokens by the hundred, a right token from an address that must wait, bodies over the limit
//! on every kind of door, and the headers every API answer carries.

use std::time::Duration;

use reqwest::StatusCode;

use super::pages::{FormBody, log_in};
use crate::common::daemon::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

async fn team(http: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    http.get(format!("{base}/api/v1/team"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the daemon answers")
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn wrong_tokens_make_the_address_wait_and_a_right_token_clears_nothing() {
    let dir = workdir("limits-tokens");
    let d = Daemon::start(config(&dir, "")).await;
    let http = client();
    // 500 guesses in a row: the five free ones and the one that earns the first wait are looked
    // at (401); every other is answered 429 without being looked at.
    let mut statuses = Vec::new();
    let mut first_429 = None;
    let started = std::time::Instant::now();
    for i in 0..500 {
        let r = team(&http, &d.base, &format!("guess-{i:04}-token")).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS && first_429.is_none() {
            assert_eq!(retry_after(&r), 1, "the first wait is a second");
            let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "too_many_wrong_tokens", "{body}");
            first_429 = Some(i);
            statuses.push(StatusCode::TOO_MANY_REQUESTS);
            continue;
        }
        statuses.push(r.status());
    }
    let count = |s: StatusCode| statuses.iter().filter(|&&x| x == s).count();
    crate::common::skipped(&format!(
        "500 wrong tokens in {:?}: {} answered 401, {} answered 429",
        started.elapsed(),
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS)
    ));
    assert_eq!(count(StatusCode::UNAUTHORIZED), 6, "{statuses:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 494);
    assert_eq!(first_429, Some(6));
    // The right token waits too, on the API and at the login page alike.
    let r = team(&http, &d.base, READ).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let login = |token: &'static str| {
        http.post(format!("{}/login", d.base))
            .form_body(&[("token", token), ("next", "/")])
            .send()
    };
    assert_eq!(
        login(STAFF).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the login page is the same door"
    );
    // Where no token is read, a token sent says nothing and waits for nothing.
    let r = http
        .get(format!("{}/healthz", d.base))
        .bearer_auth("yet-another-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A page asked for with a token waits too.
    let r = http
        .get(format!("{}/team", d.base))
        .bearer_auth(STAFF)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = team(&http, &d.base, READ).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "after the wait the right token is taken"
    );
    // It cleared nothing: the next wrong token earns the next wait, and a burst of guesses sent
    // at once gets one of them looked at.
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (http, base) = (http.clone(), d.base.clone());
        burst.spawn(async move { team(&http, &base, &format!("burst-{i:02}-token")).await });
    }
    let mut looked_at = 0;
    let mut waits = Vec::new();
    while let Some(r) = burst.join_next().await {
        let r = r.unwrap();
        match r.status() {
            StatusCode::UNAUTHORIZED => looked_at += 1,
            StatusCode::TOO_MANY_REQUESTS => waits.push(retry_after(&r)),
            other => panic!("{other}"),
        }
    }
    assert_eq!(looked_at, 1, "one guess of the burst was looked at");
    assert!(waits.iter().all(|&w| w == 2), "the wait doubled: {waits:?}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // A right login clears nothing either.
    assert_eq!(login(STAFF).await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(
        team(&http, &d.base, "after-login-token").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = team(&http, &d.base, STAFF).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r), 4);
    d.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_waits_for_its_own_guesses() {
    let dir = workdir("limits-proxy");
    let mut c = config(&dir, "");
    c.server.trusted_proxies = vec!["127.0.0.1".into()];
    let d = Daemon::start(c).await;
    let http = client();
    let from = |client: &'static str, token: &'static str| {
        http.get(format!("{}/api/v1/team", d.base))
            .header("x-forwarded-for", client)
            .bearer_auth(token)
            .send()
    };
    for _ in 0..6 {
        let r = from("203.0.113.9", "guessed-token").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = from("203.0.113.9", READ).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = from("198.51.100.7", READ).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another client is not held up");
    d.stop().await;
}

/// The headers an API answer must carry, as fits JSON.
fn assert_api_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_string()
    };
    assert_eq!(
        get("content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'",
        "{what}"
    );
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("cache-control"), "no-store", "{what}");
}

#[tokio::test]
async fn api_answers_and_errors_carry_security_headers_and_bodies_over_the_limit_are_answered_in_kind()
 {
    let dir = workdir("limits-bodies");
    let site = "https://studio.example";
    let extra = format!(
        "[[forms]]\nkey = \"contact-main\"\norigins = [\"{site}\"]\ntitle = \"name\"\n[forms.fields]\nname = \"client_name\"\nphone = \"client_phone\"\n"
    );
    let d = Daemon::start(config(&dir, &extra)).await;
    d.lead("shop").await;
    let http = client();
    let big = "x".repeat(10_000);

    // API answers, good and bad, carry the headers; so do answers no route gives.
    for (what, req, status) in [
        (
            "a deal",
            http.get(format!("{}/api/v1/deals/shop", d.base))
                .bearer_auth(READ),
            StatusCode::OK,
        ),
        (
            "no deal",
            http.get(format!("{}/api/v1/deals/nobody", d.base))
                .bearer_auth(READ),
            StatusCode::NOT_FOUND,
        ),
        (
            "no token",
            http.get(format!("{}/api/v1/team", d.base)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a body over the limit",
            http.post(format!("{}/api/v1/deals", d.base))
                .bearer_auth(STAFF)
                .header("content-type", "application/json")
                .body(big.clone()),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "no route",
            http.get(format!("{}/api/v1/nothing", d.base)),
            StatusCode::NOT_FOUND,
        ),
        (
            "the document",
            http.get(format!("{}/api/v1/openapi.json", d.base)),
            StatusCode::OK,
        ),
        (
            "liveness",
            http.get(format!("{}/healthz", d.base)),
            StatusCode::OK,
        ),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{what}");
        assert_api_headers(&r, what);
    }
    // Pages keep their own policy (their own stylesheet and script).
    let r = http.get(format!("{}/login", d.base)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    // A dashboard form over the limit: a page to the browser, in its language …
    let b = log_in(&http, &d.base, STAFF).await;
    let form = |accept: &'static str| {
        http.post(format!("{}/deals/shop/events", d.base))
            .header("cookie", &b.cookie)
            .header("origin", &b.origin)
            .header("accept", accept)
            .form_body(&[
                ("_csrf", b.csrf.as_str()),
                ("_event", "lost"),
                ("comment", &big),
            ])
            .send()
    };
    let r = form("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("style-src 'self'")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("Слишком большой запрос"), "{page}");
    // … JSON to anyone else.
    let r = form("*/*").await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_api_headers(&r, "a form over the limit from a script");
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "too_large", "{body}");

    // The website form over the limit: a short page to a browser, JSON a script on the
    // studio's site may read (CORS), like every other refusal there.
    let website = |accept: &'static str| {
        http.post(format!("{}/f/contact-main", d.base))
            .header("origin", site)
            .header("accept", accept)
            .form_body(&[("name", big.as_str()), ("phone", "+79161234567")])
            .send()
    };
    let r = website("text/html").await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let r = website("*/*").await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()["access-control-allow-origin"], site);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "too_large", "{body}");
    let (_, list) = d.get("/api/v1/deals?limit=10").await;
    assert_eq!(
        list["deals"].as_array().unwrap().len(),
        1,
        "no deal was made"
    );
    d.stop().await;
}

/// An answer read off a raw connection: its head and body (by `Content-Length`).
async fn answer(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "closed before answering: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// How long until the daemon closes this connection (reading whatever it sends), at most
/// `within`.
async fn closed_after(s: &mut tokio::net::TcpStream, within: Duration) -> Duration {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => return within,
        }
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed_in_time_and_past_the_cap_new_ones_wait() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let dir = workdir("limits-connections");
    let mut c = config(&dir, "");
    c.server.header_timeout_s = 1;
    c.server.body_timeout_s = 3;
    c.server.idle_timeout_s = 2;
    c.server.max_connections = 200;
    let d = Daemon::start(c).await;
    let addr = d.running().addr;

    // 200 clients ask once and keep their connections open, idle: they hold every slot.
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(HEALTHZ).await.unwrap();
        let a = answer(&mut s).await;
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
        idle.push(s);
    }
    let answered = std::time::Instant::now();
    // One more waits for a slot (in the listen queue), and is answered once the idle ones are
    // closed.
    let mut late = TcpStream::connect(addr).await.unwrap();
    late.write_all(HEALTHZ).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(10), answer(&mut late))
        .await
        .expect("answered once a slot is free");
    let took = answered.elapsed();
    assert!(waited.starts_with("HTTP/1.1 200"), "{waited}");
    assert!(
        took >= Duration::from_millis(1500),
        "past the cap a new connection waits: answered after {took:?}"
    );
    // Every idle connection was closed within the idle bound (and not long before it).
    let mut closed = Vec::new();
    for s in &mut idle {
        closed.push(answered.elapsed() + closed_after(s, Duration::from_secs(5)).await);
    }
    let last = closed.iter().max().copied().unwrap();
    crate::common::skipped(&format!(
        "200 idle connections closed {:?} to {last:?} after their answers (idle_timeout_s = 2); the 201st answered after {took:?}",
        closed.iter().min().unwrap()
    ));
    assert!(
        last < Duration::from_millis(4000),
        "idle connections were held {last:?}"
    );
    assert!(
        closed.iter().all(|&t| t >= Duration::from_millis(1500)),
        "closed before their time: {closed:?}"
    );
    drop(idle);

    // A kept-alive connection answering each second stays: idleness is between requests.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    for _ in 0..4 {
        busy.write_all(HEALTHZ).await.unwrap();
        assert!(answer(&mut busy).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }

    // Headers that never end are cut at the header bound, however the bytes dribble in; so is
    // a connection that sends nothing, and a body that stops coming.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let dribble = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut n = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if half
                .write_all(format!("X-{n}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return started.elapsed();
            }
            n += 1;
            if n > 50 {
                return started.elapsed();
            }
        }
    });
    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken=")
        .await
        .unwrap();
    closed_after(&mut silent, Duration::from_secs(5)).await;
    let t = started.elapsed();
    assert!(
        (Duration::from_millis(800)..Duration::from_millis(2500)).contains(&t),
        "a silent connection was closed after {t:?}"
    );
    closed_after(&mut stalled, Duration::from_secs(5)).await;
    let t = started.elapsed();
    assert!(
        (Duration::from_millis(800)..Duration::from_millis(2500)).contains(&t),
        "a stalled body was closed after {t:?}"
    );
    let t = dribble.await.unwrap();
    assert!(
        t < Duration::from_millis(3000),
        "dribbled headers were held {t:?}"
    );
    // A body that trickles in a byte at a time, each within the pause allowed, to a door that
    // asks no token: cut when the whole body's bound is up.
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle
        .write_all(b"POST /api/v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let held = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if trickle.write_all(b" ").await.is_err() {
                break;
            }
        }
        started.elapsed()
    });
    let t = held.await.unwrap();
    assert!(
        (Duration::from_millis(2500)..Duration::from_millis(6000)).contains(&t),
        "a trickling body was held {t:?} (body_timeout_s = 3)"
    );
    // The daemon answers as ever.
    let (status, _) = d
        .send(reqwest::Method::GET, "/healthz", None, None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut again = TcpStream::connect(addr).await.unwrap();
    again.write_all(HEALTHZ).await.unwrap();
    assert!(answer(&mut again).await.starts_with("HTTP/1.1 200"));
    d.stop().await;
}
