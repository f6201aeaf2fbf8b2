//! Website forms without a relay: `/f/{key}` takes a plain HTML form (303 to the thank-you
//! page) and `fetch()` (201 JSON, CORS for the allowed sites only), urlencoded or multipart;
//! a filled honeypot, a double submit and a flood from one address make no deal.

use reqwest::StatusCode;
use serde_json::Value as Json;

use crate::common::daemon::*;
use crate::pages::FormBody;

const SITE: &str = "https://studio.example";

fn extra() -> String {
    format!(
        r#"[[forms]]
key = "contact-main"
origins = ["{SITE}"]
title = "name"
thanks = "{SITE}/thanks"
per_hour = 5
[forms.fields]
name = "client_name"
phone = "client_phone"
email = "client_email"
[forms.set]
source = "сайт: главная"
"#
    )
}

/// A POST to the form as a browser sends it.
async fn send(
    d: &Daemon,
    origin: Option<&str>,
    accept: &str,
    body: reqwest::multipart::Form,
) -> reqwest::Response {
    let mut req = crate::pages::page_client()
        .post(format!("{}/f/contact-main", d.base))
        .header("accept", accept)
        .multipart(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.expect("the daemon answers")
}

async fn deals(d: &Daemon) -> Vec<Json> {
    let (status, list) = d.get("/api/v1/deals?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    list["deals"].as_array().expect("deals").clone()
}

fn lead(name: &str, phone: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("name", name.to_string())
        .text("phone", phone.to_string())
        .text("website", "")
}

#[tokio::test]
async fn website_forms_take_leads_without_a_relay() {
    let dir = workdir("forms");
    let d = Daemon::start(config(&dir, &extra())).await;
    let http = crate::pages::page_client();
    let html = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

    // A plain HTML form, urlencoded, from the studio's site: to the thank-you page.
    let r = http
        .post(format!("{}/f/contact-main", d.base))
        .header("origin", SITE)
        .header("accept", html)
        .form_body(&[
            ("name", "Анна  Петрова"),
            ("phone", "+7 (916) 123-45-67"),
            ("website", ""),
        ])
        .send()
        .await
        .expect("answer");
    let status = r.status();
    let location = r.headers().get("location").cloned();
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(location.unwrap(), format!("{SITE}/thanks").as_str());
    let all = deals(&d).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let (_, anna) = d
        .get(&format!("/api/v1/deals/{}", all[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(anna["title"], "Анна Петрова");
    assert_eq!(anna["fields"]["client_phone"], "+79161234567");
    assert_eq!(
        anna["fields"]["source"], "сайт: главная",
        "set by the configuration"
    );

    // fetch() from the site, multipart: 201 JSON the script may read.
    let r = send(&d, Some(SITE), "*/*", lead("Oleg", "+79990001111")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["access-control-allow-origin"], SITE);
    assert_eq!(r.headers()["vary"], "Origin");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let body: Json = serde_json::from_str(&r.text().await.expect("text")).expect("JSON");
    assert_eq!(body, serde_json::json!({"received": true}));
    assert_eq!(deals(&d).await.len(), 2);

    // The browser's preflight: yes for the site, no for another.
    let ask = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/f/contact-main", d.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
    };
    let r = ask(SITE).await.expect("answer");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], SITE);
    assert_eq!(r.headers()["access-control-allow-methods"], "POST");
    let r = ask("https://evil.example").await.expect("answer");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // Another site's page cannot send it, as a form or a script.
    let r = send(
        &d,
        Some("https://evil.example"),
        html,
        lead("Eve", "+79990002222"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(deals(&d).await.len(), 2);

    // What the pipeline refuses (no client name) is said in the visitor's words, JSON for a
    // script; the operator's reason stays with the team.
    let r = send(
        &d,
        Some(SITE),
        "application/json",
        reqwest::multipart::Form::new().text("phone", "+79990003333"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Json = serde_json::from_str(&r.text().await.expect("text")).expect("JSON");
    assert_eq!(body["error"]["code"], "not_taken", "{body}");
    let said = body["error"]["message"].as_str().unwrap();
    assert!(
        said.starts_with("Мы не смогли принять заявку") && !said.contains("client_name"),
        "{body}"
    );

    // A robot fills in the hidden input: it is thanked, nothing is made.
    let spam = reqwest::multipart::Form::new()
        .text("name", "Cheap pills")
        .text("phone", "+79990004444")
        .text("website", "http://pills.example");
    let r = send(&d, Some(SITE), html, spam).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(deals(&d).await.len(), 2);

    // Anna presses the button twice: one deal.
    let r = send(&d, Some(SITE), html, lead("Анна", "+7 916 123 45 67")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(deals(&d).await.len(), 2);

    // Five tries this hour from this address: the sixth waits.
    let r = send(&d, Some(SITE), html, lead("Ivan", "+79990005555")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    assert!(wait > 3000 && wait <= 3600, "{wait}");
    assert_eq!(deals(&d).await.len(), 2);

    // No such form.
    let r = http
        .post(format!("{}/f/nothing-here", d.base))
        .form_body(&[("name", "x")])
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The API's lead intake takes multipart as well.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/leads", d.base))
        .bearer_auth(INTAKE)
        .multipart(lead("Maria", "+79990006666"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(deals(&d).await.len(), 3);

    let (_, m) = d
        .send(reqwest::Method::GET, "/metrics", None, None, None)
        .await;
    let m = m.as_str().expect("text");
    for (outcome, n) in [
        ("created", 2),
        ("duplicate", 1),
        ("spam", 1),
        ("limited", 1),
        ("refused", 2),
    ] {
        let line = format!("dealflow_form_submissions_total{{outcome=\"{outcome}\"}} {n}\n");
        assert!(m.contains(&line), "{line}: {m}");
    }
    d.stop().await;
}

#[test]
fn a_form_with_a_bad_key_or_origin_is_refused_at_start() {
    let dir = workdir("forms-config");
    for (form, says) in [
        ("key = \"short\"", "`key` must be 8 to 64 letters"),
        (
            "key = \"contact-main\"\norigins = [\"https://studio.example/page\"]",
            "is not an origin like",
        ),
        (
            "key = \"contact-main\"\nthanks = \"/thanks\"",
            "is not an http(s) address",
        ),
    ] {
        let file = dir.join("dealflow.toml");
        std::fs::write(
            &file,
            format!("[rules]\nfile = \"web-studio.flow\"\n[[forms]]\n{form}\n"),
        )
        .expect("write");
        let err = dealflow::daemon::Config::load(Some(&file), Vec::new())
            .expect_err("refused")
            .to_string();
        assert!(err.contains(says), "{err}");
    }
}
