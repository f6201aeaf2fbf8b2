//! Every dashboard page of the living demo through the Nu HTML checker (npm's `vnu-jar`, run by
//! Java): no error on any page, in Russian and in English, a running timer included. Without
//! Java or npm the test says it was skipped, unless `DEALFLOW_REQUIRE_VNU` is set (CI sets it).

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::process::Command;

use common::{demo_daemon, root, skipped};

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The checker's jar, installed by npm on first run.
fn vnu() -> Option<std::path::PathBuf> {
    if !have("java", "-version") || !have("npm", "--version") {
        assert!(
            std::env::var_os("DEALFLOW_REQUIRE_VNU").is_none(),
            "Java and npm are required here"
        );
        return None;
    }
    let dir = root().join("tests/html");
    let jar = dir.join("node_modules/vnu-jar/build/dist/vnu.jar");
    if !jar.exists() {
        common::npm_ci(&dir);
    }
    Some(jar)
}

#[tokio::test]
async fn every_page_passes_the_nu_html_checker() {
    let Some(jar) = vnu() else {
        skipped("the HTML check was skipped: no Java or npm");
        return;
    };
    let (_demo, base) = demo_daemon();
    dealflow::daemon::tls_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = common::demo_session(&http, &base).await;
    // A timer runs on Nina's call, so her page and the team page show one.
    let started = http
        .post(format!("{base}/api/v1/deals/nina/tasks/call_client/start"))
        .bearer_auth("demo")
        .header("content-type", "application/json")
        .body(r#"{"by": "anna"}"#)
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success());
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-pages");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pages = [
        "/",
        "/money",
        "/attention",
        "/team",
        "/analytics",
        "/search?q=иван",
        "/deals/nina",
        "/deals/ivan%2F1",
        "/stages/closed",
        "/deals/new",
        "/pipeline",
    ];
    let mut files = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        for lang in ["ru", "en"] {
            let sep = if page.contains('?') { '&' } else { '?' };
            let r = http
                .get(format!("{base}{page}{sep}lang={lang}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::OK, "{page}");
            let file = dir.join(format!("page{i}-{lang}.html"));
            std::fs::write(&file, r.text().await.unwrap()).unwrap();
            files.push(file);
        }
    }
    let login_page = http.get(format!("{base}/login")).send().await.unwrap();
    let file = dir.join("login.html");
    std::fs::write(&file, login_page.text().await.unwrap()).unwrap();
    files.push(file);
    let out = Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["--errors-only", "--format", "gnu"])
        .args(&files)
        .output()
        .expect("the checker runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "the Nu HTML checker found errors:\n{said}"
    );
}
