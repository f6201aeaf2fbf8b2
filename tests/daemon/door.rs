//! The web door as an attacker and a forgetful user would try it: sessions instead of tokens
//! in the browser, forms from other sites, wrong logins by the hundred, people instead of
//! shared secrets, idempotency keys that belong to their token, `/metrics` behind a token.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::pages::{Browser, log_in};
use crate::common::daemon::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A form with the session's cookie, from `origin`, with `fields` as they are.
async fn post_form(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http
        .post(url)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.expect("the daemon answers")
}

async fn page_status(http: &reqwest::Client, url: &str, cookie: &str) -> StatusCode {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("the daemon answers")
        .status()
}

#[tokio::test]
async fn a_login_is_a_server_side_session_that_ends_by_logout_idleness_or_expiry() {
    let dir = workdir("door-sessions");
    let d = Daemon::start(config(&dir, "")).await;
    let http = client();
    let b = log_in(&http, &d.base, STAFF).await;
    let id = b
        .cookie
        .strip_prefix("dealflow_session=")
        .expect("the session cookie");
    // The cookie holds a random id, not the token; the database keeps only its hash.
    assert!(!b.cookie.contains(STAFF) && id.len() == 64, "{}", b.cookie);
    let store = d.running().core().store();
    let kept = store
        .read()
        .await
        .unwrap()
        .session(&sha256(id))
        .await
        .unwrap();
    let kept = kept.expect("the session is kept under the hash of its id");
    assert_eq!(
        kept.token,
        sha256(STAFF),
        "it names the token by its digest"
    );
    assert!(
        store
            .read()
            .await
            .unwrap()
            .session(id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        page_status(&http, &format!("{}/", d.base), &b.cookie).await,
        StatusCode::OK
    );
    // The old cookie that held the token itself opens nothing any more.
    let old = format!("dealflow_token={STAFF}");
    assert_eq!(
        page_status(&http, &format!("{}/", d.base), &old).await,
        StatusCode::SEE_OTHER
    );

    // Logout from another site's page is refused; from its own page it ends the session.
    let logout = format!("{}/logout", d.base);
    let r = post_form(
        &http,
        &logout,
        &b.cookie,
        Some("http://evil.example"),
        &[("_csrf", &b.csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(
        &http,
        &logout,
        &b.cookie,
        Some(&d.base),
        &[("_csrf", &b.csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("dealflow_session=;")),
        "the browser forgets the cookie"
    );
    assert_eq!(
        page_status(&http, &format!("{}/", d.base), &b.cookie).await,
        StatusCode::SEE_OTHER
    );
    assert!(
        store
            .read()
            .await
            .unwrap()
            .session(&sha256(id))
            .await
            .unwrap()
            .is_none()
    );

    // A session unused for longer than the idle timeout (12 hours by default) has ended.
    let b = log_in(&http, &d.base, READ).await;
    let id = sha256(b.cookie.strip_prefix("dealflow_session=").unwrap());
    let mut tx = store.begin().await.unwrap();
    tx.touch_session(&id, chrono::Utc::now() - chrono::Duration::hours(13))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        page_status(&http, &format!("{}/", d.base), &b.cookie).await,
        StatusCode::SEE_OTHER
    );
    assert!(
        store
            .read()
            .await
            .unwrap()
            .session(&id)
            .await
            .unwrap()
            .is_none(),
        "and is forgotten"
    );
    d.stop().await;
}

#[tokio::test]
async fn forms_from_other_sites_or_without_the_form_token_change_nothing() {
    let dir = workdir("door-csrf");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("shop").await;
    let http = client();
    let b = log_in(&http, &d.base, STAFF).await;
    let url = format!("{}/deals/shop/events", d.base);
    let lost = |csrf: &'static str| vec![("_event", "lost"), ("_key", csrf)];
    let before = d.snapshot("shop").await;
    let wrong_site = "http://evil.example".to_string();
    let referer_only = |http: &reqwest::Client, csrf: String| {
        http.post(&url)
            .header("cookie", &b.cookie)
            .header("referer", "http://evil.example/page")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                serde_urlencoded::to_string([("_event", "lost"), ("_csrf", csrf.as_str())])
                    .unwrap(),
            )
            .send()
    };
    let cases: Vec<(&str, Option<&String>, Option<&str>)> = vec![
        ("another site's origin", Some(&wrong_site), Some(&b.csrf)),
        ("no origin nor referer", None, Some(&b.csrf)),
        ("no form token", Some(&b.origin), None),
        ("another form token", Some(&b.origin), Some("0000")),
    ];
    for (what, origin, csrf) in cases {
        let mut fields = lost("k-csrf");
        if let Some(t) = csrf {
            fields.push(("_csrf", t));
        }
        let r = post_form(&http, &url, &b.cookie, origin.map(String::as_str), &fields).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        assert_eq!(
            d.snapshot("shop").await,
            before,
            "{what}: the deal is unchanged"
        );
    }
    let r = referer_only(&http, b.csrf.clone()).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a referer from another site"
    );
    // The same form from the page itself is applied.
    let mut fields = lost("k-ok");
    fields.push(("_csrf", &b.csrf));
    let r = post_form(&http, &url, &b.cookie, Some(&b.origin), &fields).await;
    assert_eq!(location(&r), "/deals/shop?done=1");
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    assert_eq!(deal["stages"], json!(["lost"]));
    // A bearer token is not a cookie a browser sends by itself: no form token is asked of it.
    d.lead("shop2").await;
    let r = http
        .post(format!("{}/deals/shop2/events", d.base))
        .bearer_auth(STAFF)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("_event=lost")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/deals/shop2?done=1");
    d.stop().await;
}

#[tokio::test]
async fn wrong_logins_make_the_address_wait_even_for_the_right_token() {
    let dir = workdir("door-throttle");
    let d = Daemon::start(config(&dir, "")).await;
    let http = client();
    let login = |token: &'static str| {
        http.post(format!("{}/login", d.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}&next=%2F"))
            .send()
    };
    // Five wrong tries are free; the sixth makes the address wait a second, then two …
    for _ in 0..6 {
        let r = login("wrong-token-x").await.unwrap();
        assert!(location(&r).starts_with("/login?wrong=1"));
    }
    let r = login(STAFF).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right token waits too"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1).contains(&wait), "Retry-After: {wait}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = login("wrong-token-x").await.unwrap();
    assert!(location(&r).starts_with("/login?wrong=1"));
    let r = login(STAFF).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "2", "the wait doubles");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = login(STAFF).await.unwrap();
    assert_eq!(
        location(&r),
        "/",
        "after the wait the right token opens a session"
    );
    // … and clears nothing: a holder of one token cannot go on guessing others.
    let r = login("wrong-token-x").await.unwrap();
    assert!(location(&r).starts_with("/login?wrong=1"));
    let r = login("wrong-token-x").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "4", "the wait went on doubling");
    d.stop().await;
}

#[tokio::test]
async fn behind_an_https_proxy_the_cookie_is_secure_and_only_the_public_origin_is_believed() {
    let dir = workdir("door-public");
    // The team's copy of the welcome email links to the deal's page.
    edit_rules(
        &dir,
        &[(
            "Менеджер позвонит вам в ближайшее время.",
            "Менеджер позвонит вам в ближайшее время. {{deal_url}}",
        )],
    );
    let mut c = config(&dir, "");
    c.server.public_url = Some("https://deals.studio.example".into());
    c.server.metrics_require_token = true;
    let d = Daemon::start(c).await;
    d.lead("shop").await;
    let outbox = d.outbox().await;
    let email = outbox
        .iter()
        .find(|m| m.channel == "email")
        .expect("the welcome email");
    assert!(
        email
            .body
            .contains("https://deals.studio.example/deals/shop"),
        "links in messages start with the public URL: {}",
        email.body
    );
    let http = client();
    let r = http
        .post(format!("{}/login", d.base))
        .header("origin", "https://deals.studio.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={STAFF}&next=%2F"))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("dealflow_token=;")),
        "the old cookie that held the token itself is cleared"
    );
    // A login form posted from another origin is not taken (login CSRF).
    let r = http
        .post(format!("{}/login", d.base))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={STAFF}&next=%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = http
        .get(format!("{}/deals/shop", d.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split(r#"name="_csrf" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let b = Browser {
        cookie: cookie.clone(),
        csrf: csrf.to_string(),
        origin: d.base.clone(),
    };
    let url = format!("{}/deals/shop/events", d.base);
    let fields = [("_event", "lost"), ("_csrf", b.csrf.as_str())];
    // The daemon's own address is not its public origin.
    let r = post_form(&http, &url, &b.cookie, Some(&d.base), &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(
        &http,
        &url,
        &b.cookie,
        Some("https://deals.studio.example"),
        &fields,
    )
    .await;
    assert_eq!(location(&r), "/deals/shop?done=1");
    // `/metrics` asks for a token here.
    let metrics = |token: Option<&'static str>| {
        let req = http.get(format!("{}/metrics", d.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
        .send()
    };
    assert_eq!(
        metrics(None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        metrics(Some(INTAKE)).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let r = metrics(Some(READ)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("dealflow_http_requests_total")
    );
    d.stop().await;
}

#[tokio::test]
async fn a_token_names_its_person_and_idempotency_keys_belong_to_their_token() {
    let dir = workdir("door-people");
    let extra = "[[tokens]]\ntoken = \"anna-token-1\"\nscope = \"staff\"\nperson = \"anna\"\n";
    let d = Daemon::start(config(&dir, extra)).await;
    d.lead("shop").await;
    // Anna's token records her as who did it, unless the request says who.
    let mut unsigned = call_done(true);
    unsigned.as_object_mut().unwrap().remove("by");
    let (status, body) = d
        .post("/api/v1/deals/shop/events", "anna-token-1", unsigned)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    assert_eq!(deal["events"][0]["by"], "anna", "{deal}");
    // Somebody not in the team did nothing.
    let (status, body) = d
        .post(
            "/api/v1/deals/shop/events",
            STAFF,
            json!({"name": "lost", "by": "mallory-not-in-team"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mallory-not-in-team"),
        "{body}"
    );

    // The same key and body from an intake token is another request than the staff one.
    let lead = json!({"name": "Ivan", "phone": "+79990001122"})
        .to_string()
        .into_bytes();
    let send = |token: &'static str| {
        d.send(
            reqwest::Method::POST,
            "/api/v1/leads",
            Some(token),
            Some(("application/json", lead.clone())),
            Some("same-key-1"),
        )
    };
    let (s1, staff) = send(STAFF).await;
    let (s2, intake) = send(INTAKE).await;
    let (s3, again) = send(INTAKE).await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED
        )
    );
    assert_ne!(
        staff["id"], intake["id"],
        "the intake token did not get the staff answer"
    );
    assert_eq!(intake["id"], again["id"], "its own retry is still one lead");
    // A lead whose name is a number is titled by it.
    let (_, numbered) = d
        .post(
            "/api/v1/leads",
            INTAKE,
            json!({"name": 42, "phone": "+79990001123"}),
        )
        .await;
    assert_eq!(numbered["deal"]["title"], "42", "{numbered}");
    d.stop().await;
}
