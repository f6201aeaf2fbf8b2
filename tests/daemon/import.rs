//! `dealflow import --to URL`: an amoCRM leads file (`;`-separated, Russian headers, dates as
//! `15.05.2026`) mapped by `examples/import/amocrm-leads.toml` and sent through a running
//! daemon's API with a staff token: the single writer stays single, the deals are checked
//! against the daemon's own team, and a second run changes nothing. A Bitrix24 file with every
//! standard stage goes in the same way: projects in work with production's tasks open, a
//! finished one with them done, and no notice of a task to anyone.

use reqwest::StatusCode;

use crate::common::daemon::*;

fn import(d: &Daemon, apply: bool) -> (Option<i32>, String, String) {
    import_file(
        d,
        "examples/import/amocrm-leads.toml",
        "tests/import/amocrm-leads.csv",
        apply,
    )
}

/// `dealflow import FILE --map MAP --to` the daemon, with its staff token.
fn import_file(d: &Daemon, map: &str, file: &str, apply: bool) -> (Option<i32>, String, String) {
    let root = crate::common::root();
    let map = root.join(map);
    let csv = root.join(file);
    let rules = root.join("rules/web-studio.flow");
    let mut args = vec![
        "import".to_string(),
        "--map".into(),
        map.display().to_string(),
        "--rules".into(),
        rules.display().to_string(),
        csv.display().to_string(),
        "--to".into(),
        d.base.clone(),
    ];
    if apply {
        args.push("--apply".into());
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dealflow"))
        .args(&args)
        .env("DEALFLOW_TOKEN", STAFF)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amocrm_file_goes_in_through_the_daemon() {
    let dir = workdir("import-amocrm");
    let d = Daemon::start(config(&dir, "")).await;
    let (code, out, err) = tokio::task::block_in_place(|| import(&d, false));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("4 rows: 3 deals would be created, 1 refused"),
        "{out}"
    );
    assert!(
        out.contains("row 5 (amo-5004): stage `Ждёт бюджета` is not in the map's [stages]"),
        "{out}"
    );
    let (_, list) = d.get("/api/v1/deals").await;
    assert_eq!(
        list["deals"].as_array().unwrap().len(),
        0,
        "a dry run sends nothing"
    );

    let (code, out, err) = tokio::task::block_in_place(|| import(&d, true));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("4 rows: 3 deals created, 1 refused"),
        "{out}"
    );
    let (status, deal) = d.get("/api/v1/deals/amo-5002").await;
    assert_eq!(status, StatusCode::OK, "{deal}");
    assert_eq!(deal["stages"], serde_json::json!(["contract"]), "{deal}");
    assert_eq!(deal["fields"]["client_phone"], "+79165550202");
    assert_eq!(deal["fields"]["planned_end"], "2026-05-15");
    assert_eq!(
        deal["fields"]["amount"], 420000,
        "«420 000» read as a number"
    );
    assert_eq!(
        deal["people"]["sales"], "anna",
        "«Анна Смирнова» is anna: {deal}"
    );
    let history = deal["history"].as_array().unwrap();
    assert!(
        history.iter().all(|h| h["kind"] != "notification"),
        "{history:?}"
    );

    let (_, out, _) = tokio::task::block_in_place(|| import(&d, true));
    assert!(
        out.contains("3 already there (same id): left as they are"),
        "{out}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitrix24_projects_arrive_through_the_daemon_with_their_work() {
    let dir = workdir("import-bitrix-api");
    let d = Daemon::start(config(&dir, "")).await;
    let (code, out, err) = tokio::task::block_in_place(|| {
        import_file(
            &d,
            "examples/import/bitrix24-deals.toml",
            "tests/import/bitrix24-every-stage.csv",
            true,
        )
    });
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("8 rows: 8 deals created, 0 refused"),
        "{out}"
    );
    let open = |deal: &serde_json::Value| -> Vec<String> {
        deal["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["done_at"].is_null())
            .map(|t| t["task"].as_str().unwrap().to_string())
            .collect()
    };
    // In work: billing beside production, whose five tasks are open and given to the team
    // (the project manager’s to Пётр), without a word to anyone.
    let (_, work) = d.get("/api/v1/deals/b24-204").await;
    assert_eq!(
        work["stages"],
        serde_json::json!(["billing", "production"]),
        "{work}"
    );
    assert_eq!(
        open(&work),
        ["approval", "mockups", "concept", "markup", "content"]
    );
    assert_eq!(work["people"]["project_manager"], "petr", "{work}");
    // Finished: the tasks done as the map says, the invoice awaited.
    let (_, done) = d.get("/api/v1/deals/b24-205").await;
    assert_eq!(
        done["stages"],
        serde_json::json!(["billing", "closed"]),
        "{done}"
    );
    assert!(open(&done).is_empty(), "{done}");
    assert_eq!(done["live"], true);
    // The API's document says what `done` takes: the tasks the pipeline makes.
    let (_, doc) = d.get("/api/v1/openapi.json").await;
    let new_deal = &doc["paths"]["/api/v1/deals"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let tasks = &new_deal["properties"]["done"]["items"]["enum"];
    assert!(
        tasks
            .as_array()
            .is_some_and(|t| t.contains(&serde_json::json!("mockups"))),
        "{new_deal}"
    );
    for deal in [&work, &done] {
        let history = deal["history"].as_array().unwrap();
        assert!(
            history.iter().all(|h| h["kind"] != "notification"),
            "{history:?}"
        );
    }
    d.stop().await;
}
