//! Task timers and time corrections through the daemon: one running timer per person across
//! deals, the pages that show them ticking, a correction kept in the history.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::common::daemon::*;
use crate::pages::{log_in, page_client, send_form};

fn timer_of<'a>(deal: &'a Json, task: &str) -> &'a Json {
    let t = deal["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == task)
        .expect("the task");
    &t["timer"]
}

fn kinds(deal: &Json) -> Vec<String> {
    deal["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn one_timer_per_person_across_deals_and_corrections_are_audited() {
    let dir = workdir("task-timers");
    let d = Daemon::start(config(&dir, "[tasks]\ntimer_cap_hours = 8\n")).await;
    d.lead("d1").await;
    d.lead("d2").await;

    // Anna starts her call on d1: her timer runs there.
    let (status, deal) = d
        .post(
            "/api/v1/deals/d1/tasks/call_client/start",
            STAFF,
            json!({"by": "anna"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{deal}");
    assert_eq!(timer_of(&deal, "call_client")["by"], "anna", "{deal}");
    // Started again by her: refused, nothing changes.
    let (status, _) = d
        .post(
            "/api/v1/deals/d1/tasks/call_client/start",
            STAFF,
            json!({"by": "anna"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // She starts d2's call: the timer on d1 stops there, in the same step.
    let (status, deal2) = d
        .post(
            "/api/v1/deals/d2/tasks/call_client/start",
            STAFF,
            json!({"by": "anna"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{deal2}");
    assert_eq!(timer_of(&deal2, "call_client")["by"], "anna");
    let (_, deal1) = d.get("/api/v1/deals/d1").await;
    assert_eq!(*timer_of(&deal1, "call_client"), Json::Null, "{deal1}");
    assert!(
        kinds(&deal1).contains(&"timer_stopped".to_string()),
        "{:?}",
        kinds(&deal1)
    );
    // Every moment the API writes is in UTC, the timer's start too.
    let stopped = deal1["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "timer_stopped")
        .unwrap();
    assert!(
        stopped["since"].as_str().unwrap().ends_with('Z'),
        "{stopped}"
    );

    // The team page lists the running timer, ticking (the script is served, the policy lets
    // the page run its own script and nothing else).
    let http = page_client();
    let staff = log_in(&http, &d.base, STAFF).await;
    let team = http
        .get(format!("{}/team", d.base))
        .header("cookie", &staff.cookie)
        .send()
        .await
        .unwrap();
    let csp = team.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = team.text().await.unwrap();
    assert!(html.contains(r#"data-timer="anna""#), "{html}");
    assert!(html.contains("data-since="), "{html}");
    let js = http
        .get(format!("{}/tick.js", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // The deal page shows her timer, a pause button, and the live figures.
    let page = http
        .get(format!("{}/deals/d2", d.base))
        .header("cookie", &staff.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"action="/deals/d2/tasks/call%5Fclient/pause""#),
        "{page}"
    );
    assert!(page.contains(r#"data-live="hours""#), "{page}");

    // Paused from the page; paused again: refused, said on the page.
    let r = send_form(
        &http,
        &format!("{}/deals/d2/tasks/call_client/pause", d.base),
        &staff,
        &[("_key", "p1"), ("_by", "anna")],
    )
    .await;
    assert_eq!(r.headers()["location"], "/deals/d2?done=1");
    let (_, deal2) = d.get("/api/v1/deals/d2").await;
    assert_eq!(*timer_of(&deal2, "call_client"), Json::Null);
    let (status, _) = d
        .post("/api/v1/deals/d2/tasks/call_client/pause", STAFF, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Hours typed in, then corrected: through the API and from the page; the history says
    // who changed what, and the deal's hours follow.
    let (status, _) = d
        .post(
            "/api/v1/deals/d1/tasks/call_client/log",
            STAFF,
            json!({"hours": 2, "by": "anna"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, deal1) = d.get("/api/v1/deals/d1").await;
    let n = deal1["time_entries"].as_array().unwrap().len() - 1;
    assert_eq!(deal1["time_entries"][n]["hours"], json!(2), "{deal1}");
    let body = json!({"hours": 1.25, "by": "anna"})
        .to_string()
        .into_bytes();
    let (status, deal1) = d
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/deals/d1/time/{n}"),
            Some(STAFF),
            Some(("application/json", body)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{deal1}");
    assert_eq!(deal1["time_entries"][n]["hours"], json!(1.25));
    assert_eq!(deal1["hours_spent"], json!(1.25), "{deal1}");
    let r = send_form(
        &http,
        &format!("{}/deals/d1/time/{n}", d.base),
        &staff,
        &[("_key", "c1"), ("hours", "1,5"), ("_by", "anna")],
    )
    .await;
    assert_eq!(r.headers()["location"], "/deals/d1?done=1");
    let (_, deal1) = d.get("/api/v1/deals/d1").await;
    assert_eq!(deal1["hours_spent"], json!(1.5));
    let amended: Vec<&Json> = deal1["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "time_amended")
        .collect();
    assert_eq!(amended.len(), 2, "{deal1}");
    assert_eq!(amended[1]["from"], json!(1.25), "{:?}", amended[1]);
    assert_eq!(amended[1]["to"], json!(1.5));
    assert_eq!(amended[1]["by"], "anna");

    // Bad corrections are refused with nothing changed.
    for (path, hours, want) in [
        (
            format!("/api/v1/deals/d1/time/{}", n + 5),
            json!(1),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/deals/d1/time/{n}"),
            json!(30),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/v1/deals/d1/time/{n}"),
            json!("a lot"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/deals/d1/time/x".to_string(),
            json!(1),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let body = json!({"hours": hours}).to_string().into_bytes();
        let (status, answer) = d
            .send(
                reqwest::Method::PATCH,
                &path,
                Some(STAFF),
                Some(("application/json", body)),
                None,
            )
            .await;
        assert_eq!(status, want, "{path} {hours}: {answer}");
    }
    let (_, after) = d.get("/api/v1/deals/d1").await;
    assert_eq!(after["hours_spent"], json!(1.5));
    d.stop().await;
}

/// Settings that cannot hold are refused at start, saying which and why.
#[tokio::test]
async fn a_cap_or_a_labour_cost_function_that_cannot_hold_is_refused_at_start() {
    let dir = workdir("timer-settings");
    let file = dir.join("cap.toml");
    std::fs::write(
        &file,
        "[rules]\nfile = \"x.flow\"\n[tasks]\ntimer_cap_hours = 30\n",
    )
    .unwrap();
    let parsed = dealflow::daemon::Config::load(Some(&file), []);
    let err = parsed.expect_err("a cap over a day");
    assert!(err.to_string().contains("timer_cap_hours"), "{err}");
    let cfg = config(&dir, "[dashboard]\nlabour_cost_function = \"no_such_fn\"\n");
    let err = dealflow::daemon::start(cfg).await.err().expect("refused");
    assert!(
        err.to_string().contains("no `fn no_such_fn(deal)`"),
        "{err}"
    );
}

/// The deal page's live figures: logged hours at their rates through the script's
/// `labour_cost(deal)`, the margin against the amount, a running timer counted in.
#[tokio::test]
async fn the_deal_page_shows_live_labour_cost_and_margin() {
    let dir = workdir("live-money");
    let d = Daemon::start(config(
        &dir,
        "[dashboard]\nlabour_cost_function = \"labour_cost\"\n",
    ))
    .await;
    let (status, body) = d
        .post(
            "/api/v1/deals",
            STAFF,
            json!({"id": "p", "title": "Site", "stage": "production",
                   "fields": {"client_name": "Vera", "amount": 100000, "work_days": 5, "sold_hours": 40}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Olga (1800 an hour) logs 10 hours: 18 000 spent, 82 000 left; the pipeline's own fields
    // stay blank until delivery.
    let (status, _) = d
        .post(
            "/api/v1/deals/p/tasks/mockups/log",
            STAFF,
            json!({"hours": 10, "by": "olga"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let http = page_client();
    let staff = log_in(&http, &d.base, STAFF).await;
    let page = |path: &'static str| {
        let (http, cookie, base) = (http.clone(), staff.cookie.clone(), d.base.clone());
        async move {
            http.get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let html = page("/deals/p").await;
    let row = |html: &str, what: &str| -> String {
        let start = html
            .find(&format!(r#"data-live="{what}""#))
            .unwrap_or_else(|| panic!("no live {what}: {html}"));
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(
        row(&html, "labour_cost").contains("18 000"),
        "{}",
        row(&html, "labour_cost")
    );
    assert!(
        row(&html, "margin").contains("82 000"),
        "{}",
        row(&html, "margin")
    );
    assert!(
        !html.contains(r#"data-figure="margin""#),
        "the stored margin is blank"
    );
    // A running timer counts in the live hours at once (0 h so far, shown as running).
    let (status, _) = d
        .post(
            "/api/v1/deals/p/tasks/markup/start",
            STAFF,
            json!({"by": "dima"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let html = page("/deals/p").await;
    assert!(
        row(&html, "hours").contains("идёт таймер"),
        "{}",
        row(&html, "hours")
    );
    d.stop().await;
}
