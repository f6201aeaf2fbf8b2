//! The dashboard's doors and forms over HTTP (the browser test is `tests/dashboard.rs`).

use reqwest::StatusCode;
use serde_json::json;

use crate::common::daemon::*;

/// A form body, as a browser sends it.
pub(crate) trait FormBody {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).expect("a form"))
    }
}

/// A page fetched with this cookie.
async fn get_page(http: &reqwest::Client, url: &str, cookie: &str) -> reqwest::Response {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .expect("the daemon answers")
}

/// A login as a browser keeps it: the session cookie, and the form token its pages carry.
pub(crate) struct Browser {
    /// `dealflow_session=…`
    pub(crate) cookie: String,
    /// The form token.
    pub(crate) csrf: String,
    /// The daemon's origin, which a browser sends with a form.
    pub(crate) origin: String,
}

/// Logs in with `token` and reads the form token from a page.
pub(crate) async fn log_in(http: &reqwest::Client, base: &str, token: &str) -> Browser {
    let r = http
        .post(format!("{base}/login"))
        .header("origin", base)
        .form_body(&[("token", token), ("next", "/")])
        .send()
        .await
        .expect("the daemon answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = get_page(http, &format!("{base}/"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    let csrf = page
        .split(r#"name="_csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the logout form carries the form token")
        .to_string();
    Browser {
        cookie,
        csrf,
        origin: base.to_string(),
    }
}

/// A form sent from the site's own page: with the session cookie, its origin and form token.
pub(crate) async fn send_form(
    http: &reqwest::Client,
    url: &str,
    b: &Browser,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = vec![("_csrf", b.csrf.as_str())];
    fields.extend_from_slice(form);
    http.post(url)
        .header("cookie", &b.cookie)
        .header("origin", &b.origin)
        .form_body(&fields)
        .send()
        .await
        .expect("the daemon answers")
}

/// A browser-like client: no redirects followed, cookies as given.
pub(crate) fn page_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

#[tokio::test]
async fn dashboard_pages_keep_their_doors_and_forms_change_only_what_they_should() {
    let dir = workdir("dashboard-doors");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("shop").await;
    let http = page_client();
    let url = |p: &str| format!("{}{p}", d.base);
    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };

    // Every page guards itself: no script, no frame, its type as sent, no path leaking away.
    let r = http.get(url("/login")).send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");
    // No token: to the login page, which comes back to where the reader was going.
    let r = http.get(url("/deals/shop")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Fdeals%2Fshop");
    // The login page does not send anyone off the site.
    let page = http
        .get(url("/login?next=//evil.example/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"name="next" value="/""#), "{page}");
    // An intake token may not read the dashboard; a wrong one neither.
    for token in [INTAKE, "nonsense"] {
        let r = http
            .post(url("/login"))
            .form_body(&[("token", token), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert!(location(&r).starts_with("/login?wrong=1"), "{token}");
    }
    // A tab or a line break in `next` cannot turn it into another site (browsers drop them),
    // nor into an error: the board.
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\nSet-Cookie: x=1",
        "/сделки",
    ] {
        let r = http
            .post(url("/login"))
            .form_body(&[("token", READ), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&r), "/", "{next:?}");
    }
    // A read token logs in: an HttpOnly, SameSite=Strict cookie.
    let r = http
        .post(url("/login"))
        .form_body(&[("token", READ), ("next", "/team")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/team");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let board = get_page(&http, &url("/"), &cookie).await;
    assert_eq!(board.status(), StatusCode::OK);
    let html = board.text().await.unwrap();
    assert!(html.contains(r#"<html lang="ru">"#) && html.contains("Продажи веб-студии"));
    assert!(
        html.contains(r#"data-deal="shop""#),
        "the lead is on the board"
    );
    // The browser's language, when it prefers English.
    let html = http
        .get(url("/"))
        .header("cookie", &cookie)
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<html lang="en">"#) && html.contains(">Out of control<"));
    // The language links keep the page's own query, and drop the language asked before.
    let html = get_page(&http, &url("/money?days=90&lang=en"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<html lang="en">"#)
            && html.contains(r#"href="?days=90&amp;lang=ru""#)
            && html.contains(r#"href="?days=90&amp;lang=en""#),
        "{html}"
    );
    // So does the way back after a login.
    let r = http.get(url("/money?days=90")).send().await.unwrap();
    assert_eq!(location(&r), "/login?next=%2Fmoney%3Fdays%3D90");
    let page = http
        .get(url("/login?next=%2Fmoney%3Fdays%3D90&lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"href="?next=%2Fmoney%3Fdays%3D90&amp;lang=ru""#),
        "{page}"
    );

    // The deal's history says what its welcome SMS costs.
    let page = get_page(&http, &url("/deals/shop"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("спасибо за обращение! Будет драйвово и продуктивно!» (1 сегмент UCS-2)"),
        "{page}"
    );
    // A read token's page has no forms; posting one anyway is refused and changes nothing.
    let page = get_page(&http, &url("/deals/shop"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<form method=\"post\" action=\"/deals/shop/events\""));
    let before = d.snapshot("shop").await;
    let form = [
        ("_key", "k1"),
        ("_event", "call_done"),
        ("meeting_at", "2027-12-01T15:00"),
        ("meeting_place", "Office"),
    ];
    let reader = log_in(&http, &d.base, READ).await;
    let r = send_form(&http, &url("/deals/shop/events"), &reader, &form).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(d.snapshot("shop").await, before);

    // Staff: an event the stage does not expect comes back refused, in the pipeline's words.
    let staff = log_in(&http, &d.base, STAFF).await;
    let r = send_form(
        &http,
        &url("/deals/shop/events"),
        &staff,
        &[("_key", "k0"), ("_event", "payment_received")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&r).starts_with("/deals/shop?refused="),
        "{}",
        location(&r)
    );
    assert_eq!(
        d.snapshot("shop").await.1,
        before.1,
        "the deal did not move"
    );
    let refused = get_page(&http, &url(&location(&r)), &staff.cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(refused.contains("payment_received"), "{refused}");

    // The call report, sent twice with the same key (a double click): applied once.
    for _ in 0..2 {
        let r = send_form(&http, &url("/deals/shop/events"), &staff, &form).await;
        assert_eq!(location(&r), "/deals/shop?done=1");
    }
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    assert_eq!(deal["stages"], json!(["meeting"]), "{deal}");
    let applied = deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "event_applied")
        .count();
    assert_eq!(applied, 1, "one call report");

    // Time on a task from its form; a bad number is refused.
    let r = send_form(
        &http,
        &url("/deals/shop/tasks/call_client/log"),
        &staff,
        &[("_key", "t1"), ("hours", "1,5"), ("_by", "anna")],
    )
    .await;
    assert_eq!(location(&r), "/deals/shop?done=1");
    let r = send_form(
        &http,
        &url("/deals/shop/tasks/call_client/log"),
        &staff,
        &[("_key", "t2"), ("hours", "-3")],
    )
    .await;
    assert!(location(&r).ends_with("?why=hours"), "{}", location(&r));
    let (_, deal) = d.get("/api/v1/deals/shop").await;
    assert_eq!(deal["hours_spent"], json!(1.5), "{deal}");
    // The engine's reason comes back sealed and is shown; words put in a link elsewhere are not.
    let r = send_form(
        &http,
        &url("/deals/shop/events"),
        &staff,
        &[("_key", "e9"), ("_event", "payment_received")],
    )
    .await;
    let back = location(&r);
    assert!(
        back.contains("refused=") && back.contains("&seal="),
        "{back}"
    );
    let shown = get_page(&http, &url(&back), &staff.cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(shown.contains("payment_received"), "the reason is shown");
    let forged = get_page(
        &http,
        &url("/deals/shop?refused=Security%20notice%3A%20call%20us&seal=00"),
        &staff.cookie,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        !forged.contains("Security notice"),
        "a forged reason is not shown"
    );

    // Unknown deals and oversized forms.
    let r = get_page(&http, &url("/deals/nobody"), &staff.cookie).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let big = "x".repeat(10_000);
    let r = send_form(
        &http,
        &url("/deals/shop/events"),
        &staff,
        &[("_event", "lost"), ("comment", big.as_str())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The pipeline as a picture.
    let r = get_page(&http, &url("/pipeline.svg"), &staff.cookie).await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml; charset=utf-8");
    assert!(r.text().await.unwrap().contains(">Лид<"));
    d.stop().await;
}

/// A deal made from the dashboard at the stage chosen, then edited on its page: only what the
/// person changed goes (a field changed meanwhile by someone else is not undone), a refused
/// creation shows the form again with what was typed, and a read token sees no forms.
#[tokio::test]
async fn a_deal_is_made_and_edited_from_the_dashboard() {
    let dir = workdir("dashboard-edit");
    let d = Daemon::start(config(&dir, "")).await;
    let http = page_client();
    let url = |p: &str| format!("{}{p}", d.base);
    let b = log_in(&http, &d.base, STAFF).await;

    // Refused: a lead needs the client's name; the form comes back with the title typed.
    let r = send_form(
        &http,
        &url("/deals/new"),
        &b,
        &[
            ("_title", "Кухня для Веры"),
            ("_stage", "lead"),
            ("client_phone", "+7 916 000-11-22"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("a deal needs `client_name` to be created"),
        "says what is missing: {page}"
    );
    assert!(
        page.contains(r#"value="Кухня для Веры""#),
        "keeps the title: {page}"
    );

    // Made at `contract`, with an id of its own.
    let r = send_form(
        &http,
        &url("/deals/new"),
        &b,
        &[
            ("_title", "Кухня для Веры"),
            ("_id", "vera"),
            ("_stage", "contract"),
            ("client_name", "Вера"),
            ("client_phone", "+7 916 000-11-22"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, deal) = d.get("/api/v1/deals/vera").await;
    assert_eq!(deal["stages"], json!(["contract"]), "{deal}");

    // The edit form carries what the page showed; someone else changes the email meanwhile.
    let page = get_page(&http, &url("/deals/vera"), &b.cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"action="/deals/vera/edit""#), "{page}");
    let (status, _) = d
        .send(
            reqwest::Method::PATCH,
            "/api/v1/deals/vera",
            Some(STAFF),
            Some((
                "application/json",
                br#"{"fields": {"client_email": "vera@home.test"}}"#.to_vec(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = send_form(
        &http,
        &url("/deals/vera/edit"),
        &b,
        &[
            ("client_name", "Вера Павловна"),
            ("_was.client_name", "Вера"),
            ("client_email", ""),
            ("_was.client_email", ""),
            ("amount", "450000"),
            ("_was.amount", ""),
            ("_by", "anna"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, deal) = d.get("/api/v1/deals/vera").await;
    assert_eq!(deal["fields"]["client_name"], "Вера Павловна");
    assert_eq!(deal["fields"]["amount"], json!(450000));
    assert_eq!(
        deal["fields"]["client_email"], "vera@home.test",
        "an input the person did not touch changes nothing"
    );
    let edited = deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["cause"] == "edited by anna" && h["kind"] == "field_set")
        .count();
    assert_eq!(edited, 2);
    // The board's money counts the new amount.
    let board = get_page(&http, &url("/"), &b.cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(board.contains("450 000"), "{board}");

    // A read token sees neither form.
    let reader = log_in(&http, &d.base, READ).await;
    let page = get_page(&http, &url("/deals/vera"), &reader.cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/deals/vera/edit"));
    d.stop().await;
}
