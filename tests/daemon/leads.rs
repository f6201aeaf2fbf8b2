//! No lead is lost at the door: a phone typed the local way makes its deal, one that does not
//! read makes it too (the text as typed waits on the deal and on the out-of-control page), a
//! lead the rules refuse stays on that page until someone makes a deal of it in one click or
//! dismisses it, the visitor is told in the form's language and never the operator's reason,
//! search finds a phone however it is typed, a name of spaces is no name, and a honeypot with a
//! space in it is a robot's.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::pages::{FormBody, log_in, page_client, send_form};
use crate::common::daemon::*;

const SITE: &str = "https://studio.example";
const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

fn forms() -> String {
    format!(
        r#"[[forms]]
key = "contact-main"
origins = ["{SITE}"]
title = "name"
thanks = "{SITE}/thanks"
[forms.fields]
name = "client_name"
phone = "client_phone"
email = "client_email"
[[forms]]
key = "contact-english"
origins = ["{SITE}"]
lang = "en"
refused = "{SITE}/sorry"
[forms.fields]
name = "client_name"
phone = "client_phone"
"#
    )
}

/// A plain HTML form sent to `/f/{key}` from the studio's site.
async fn form(d: &Daemon, key: &str, accept: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    page_client()
        .post(format!("{}/f/{key}", d.base))
        .header("origin", SITE)
        .header("accept", accept)
        .form_body(fields)
        .send()
        .await
        .expect("the daemon answers")
}

async fn deals(d: &Daemon) -> Vec<Json> {
    let (_, list) = d.get("/api/v1/deals?limit=100").await;
    list["deals"].as_array().expect("deals").clone()
}

async fn deal_of(d: &Daemon, name: &str) -> Json {
    for row in deals(d).await {
        let (_, deal) = d
            .get(&format!("/api/v1/deals/{}", row["id"].as_str().unwrap()))
            .await;
        if deal["fields"]["client_name"] == name {
            return deal;
        }
    }
    panic!("no deal of {name}");
}

/// A page's text, as a browser with this session's cookie gets it.
async fn page(d: &Daemon, path: &str, cookie: &str) -> String {
    page_client()
        .get(format!("{}{path}", d.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("the daemon answers")
        .text()
        .await
        .expect("a page")
}

#[tokio::test]
async fn a_phone_typed_any_way_makes_its_deal_and_one_that_does_not_read_waits_to_be_checked() {
    let dir = workdir("leads-contacts");
    let d = Daemon::start(config(&dir, &forms())).await;

    // The way most Russian visitors type it: read with the pipeline's country.
    let r = form(
        &d,
        "contact-main",
        HTML,
        &[
            ("name", "Ирина"),
            ("phone", "8 916 123-00-99"),
            ("website", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let irina = deal_of(&d, "Ирина").await;
    assert_eq!(irina["fields"]["client_phone"], "+79161230099", "{irina}");
    assert_eq!(irina["contact_checks"], json!([]));

    // A phone and an email that do not read: the deal is made without them, its tasks too.
    let r = form(
        &d,
        "contact-main",
        HTML,
        &[
            ("name", "Олег"),
            ("phone", "8 916 12 звонить вечером"),
            ("email", "oleg@"),
            ("website", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the visitor is thanked");
    let oleg = deal_of(&d, "Олег").await;
    let id = oleg["id"].as_str().unwrap().to_string();
    assert!(oleg["fields"].get("client_phone").is_none(), "{oleg}");
    assert_eq!(oleg["tasks"].as_array().unwrap().len(), 3, "{oleg}");
    let checks: Vec<(Json, Json)> = oleg["contact_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["field"].clone(), c["typed"].clone()))
        .collect();
    assert_eq!(
        checks,
        [
            (json!("client_phone"), json!("8 916 12 звонить вечером")),
            (json!("client_email"), json!("oleg@")),
        ]
    );
    // The team sees it: on the out-of-control page and on the deal's page, as typed.
    let http = page_client();
    let staff = log_in(&http, &d.base, STAFF).await;
    let attention = page(&d, "/attention", &staff.cookie).await;
    assert_eq!(
        attention.matches(r#"data-kind="contact_check""#).count(),
        2,
        "{attention}"
    );
    assert!(attention.contains("Проверить контакт"));
    assert!(attention.contains("8 916 12 звонить вечером"));
    let deal_page = page(&d, &format!("/deals/{id}"), &staff.cookie).await;
    assert!(
        deal_page.contains("«8 916 12 звонить вечером»"),
        "the deal's page shows what was typed"
    );
    // Someone calls and sets the right phone: that check is over.
    let (status, body) = d
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/deals/{id}"),
            Some(STAFF),
            Some((
                "application/json",
                json!({"fields": {"client_phone": "+7 916 120-00-00"}})
                    .to_string()
                    .into_bytes(),
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let attention = page(&d, "/attention", &staff.cookie).await;
    assert_eq!(attention.matches(r#"data-kind="contact_check""#).count(), 1);
    // The email is dismissed from the page by hand.
    let check = attention
        .split("/attention/checks/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("a dismiss form")
        .to_string();
    let r = send_form(
        &http,
        &format!("{}/attention/checks/{check}/dismiss", d.base),
        &staff,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let attention = page(&d, "/attention", &staff.cookie).await;
    assert!(!attention.contains(r#"data-kind="contact_check""#));

    // Search finds Irina's phone however it is typed, zero-width spaces and all.
    for typed in [
        "+7 (916) 123-00-99",
        "(916) 123-00-99",
        "8 916 123 00 99",
        "8\u{200B}916\u{200B}1230099",
        "123-00-99",
        "00-99",
    ] {
        let q = percent_encoding::utf8_percent_encode(typed, percent_encoding::NON_ALPHANUMERIC);
        let found = page(&d, &format!("/search?q={q}"), &staff.cookie).await;
        assert!(found.contains(irina["id"].as_str().unwrap()), "{typed}");
        let (_, api) = d.get(&format!("/api/v1/deals?q={q}")).await;
        assert_eq!(api["deals"][0]["id"], irina["id"], "{typed}: {api}");
    }
    d.stop().await;
}

#[tokio::test]
async fn a_refused_lead_stays_in_view_until_a_deal_is_made_of_it_or_it_is_dismissed() {
    let dir = workdir("leads-refused");
    // The analyst made `source` required by mistake: every website lead is refused.
    edit_rules(
        &dir,
        &[(
            "source:          text",
            "source:          text      required",
        )],
    );
    let d = Daemon::start(config(&dir, &forms())).await;
    let r = form(
        &d,
        "contact-main",
        HTML,
        &[
            ("name", "Мария"),
            ("phone", "+7 916 555-00-11"),
            ("website", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text().await.unwrap();
    // The visitor is told in the form's language, in a visitor's words.
    assert!(
        text.contains("Мы не смогли принять заявку автоматически"),
        "{text}"
    );
    assert!(text.contains(r#"<html lang="ru">"#), "{text}");
    for operator in ["source", "required", "pipeline", "`"] {
        assert!(!text.contains(operator), "{operator}: {text}");
    }
    // A form in English with a page of its own for that.
    let r = form(
        &d,
        "contact-english",
        HTML,
        &[("name", "Mary"), ("phone", "+44 20 7946 0018")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("{SITE}/sorry").as_str());
    let r = form(
        &d,
        "contact-english",
        "application/json",
        &[("name", "Mary"), ("phone", "+44 20 7946 0018")],
    )
    .await;
    let body: Json = serde_json::from_str(&r.text().await.unwrap()).expect("JSON");
    assert_eq!(body["error"]["code"], "not_taken");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We could not take your request"),
        "{body}"
    );
    // And through the API's intake, a name of spaces is no name.
    let (status, _) = d
        .post(
            "/api/v1/leads",
            INTAKE,
            json!({"name": "   ", "phone": "+79165550022"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(deals(&d).await.is_empty());

    // Every one of them is on the out-of-control page, with what the visitor sent.
    let http = page_client();
    let staff = log_in(&http, &d.base, STAFF).await;
    let attention = page(&d, "/attention", &staff.cookie).await;
    assert_eq!(
        attention.matches(r#"data-kind="refused_lead""#).count(),
        4,
        "{attention}"
    );
    assert!(attention.contains("«+7 916 555-00-11»") && attention.contains("Мария"));
    let ids: Vec<String> = attention
        .split(r#"data-kind="refused_lead" data-refusal=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 4);

    // The analyst sets it right.
    edit_rules(
        &dir,
        &[(
            "source:          text      required",
            "source:          text",
        )],
    );
    let (status, body) = d.post("/api/v1/rules/reload", STAFF, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // One click makes Maria's deal, as the form would have made it.
    let r = send_form(
        &http,
        &format!("{}/attention/leads/{}/deal", d.base, ids[0]),
        &staff,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let maria = deal_of(&d, "Мария").await;
    assert_eq!(maria["fields"]["client_phone"], "+79165550011");
    assert_eq!(maria["tasks"].as_array().unwrap().len(), 3);
    // The spaces-for-a-name lead still makes no deal: the new-deal form, filled in, says why.
    let r = send_form(
        &http,
        &format!("{}/attention/leads/{}/deal", d.base, ids[3]),
        &staff,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let filled = r.text().await.unwrap();
    assert!(filled.contains("+79165550022"), "{filled}");
    assert!(
        filled.contains(&format!(r#"name="_refusal" value="{}""#, ids[3])),
        "{filled}"
    );
    // The English visitor's lead is dismissed.
    for id in &ids[1..3] {
        let r = send_form(
            &http,
            &format!("{}/attention/leads/{id}/dismiss", d.base),
            &staff,
            &[],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let attention = page(&d, "/attention", &staff.cookie).await;
    assert_eq!(
        attention.matches(r#"data-kind="refused_lead""#).count(),
        1,
        "only the one nobody settled: {attention}"
    );
    // A second click on a settled lead makes no second deal.
    let before = deals(&d).await.len();
    let r = send_form(
        &http,
        &format!("{}/attention/leads/{}/deal", d.base, ids[0]),
        &staff,
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(deals(&d).await.len(), before);
    // The API says how each was settled.
    let (_, refused) = d.get("/api/v1/refusals").await;
    let origins: Vec<&Json> = refused
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["origin"])
        .collect();
    assert!(origins.contains(&&json!("form:contact-main")), "{refused}");
    assert!(origins.contains(&&json!("lead")), "{refused}");
    d.stop().await;
}

#[tokio::test]
async fn a_honeypot_with_anything_in_it_is_a_robots() {
    let dir = workdir("leads-honeypot");
    let d = Daemon::start(config(&dir, &forms())).await;
    for trap in [" ", "\t", "x"] {
        let r = form(
            &d,
            "contact-main",
            HTML,
            &[
                ("name", "Bot"),
                ("phone", "+79990001111"),
                ("website", trap),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "the robot is thanked");
    }
    assert!(deals(&d).await.is_empty(), "and nothing is made");
    d.stop().await;
}
