//! `/metrics` as Prometheus reads it: `promtool check metrics` (Prometheus' own linter, from
//! Debian's prometheus package) finds nothing; time is in seconds; requests are timed by route
//! pattern, method and status; a save of the rule file that changes nothing is not a reload
//! applied. Without promtool the test says it was skipped, unless `DEALFLOW_REQUIRE_PROMTOOL`
//! is set (CI sets it).

use reqwest::StatusCode;

use crate::common::daemon::*;
use crate::common::skipped;

fn promtool_check(text: &str) -> Option<String> {
    let out = crate::common::pipe(
        "promtool",
        &["check", "metrics"],
        text.as_bytes(),
        "DEALFLOW_REQUIRE_PROMTOOL",
    )?;
    Some(format!(
        "{}{}{}",
        if out.status.success() { "" } else { "FAILED " },
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[tokio::test]
async fn metrics_follow_prometheus_conventions() {
    let dir = workdir("metrics");
    let d = Daemon::start(config(&dir, "")).await;
    d.lead("d1").await;
    d.lead("d2").await;
    let (status, _) = d.get("/api/v1/deals/d1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = d.get("/api/v1/deals/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A reload of the same file: nothing changed, nothing applied.
    let (status, body) = d
        .post("/api/v1/rules/reload", STAFF, serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, text) = d.get("/metrics").await;
    let text = text.as_str().expect("text").to_string();
    let line = |prefix: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}`: {text}"))
            .to_string()
    };
    assert!(!text.contains("microseconds"), "{text}");
    assert!(line("dealflow_commit_seconds_total ").len() > 30);
    assert_eq!(
        line("dealflow_reloads_applied_total "),
        "dealflow_reloads_applied_total 0"
    );
    // Two creations, timed under the route's pattern; the unknown deal as a 404 of its route.
    assert_eq!(
        line(
            r#"dealflow_http_request_duration_seconds_count{route="/api/v1/deals",method="POST",status="201"}"#
        ),
        r#"dealflow_http_request_duration_seconds_count{route="/api/v1/deals",method="POST",status="201"} 2"#
    );
    line(
        r#"dealflow_http_request_duration_seconds_bucket{route="/api/v1/deals/{id}",method="GET",status="404",le="+Inf"} 1"#,
    );
    assert!(
        !text.contains("route=\"/api/v1/deals/d1\""),
        "paths are not labels: {text}"
    );
    match promtool_check(&text) {
        None => skipped("the promtool check was skipped: no promtool"),
        Some(report) => assert!(report.trim().is_empty(), "promtool: {report}\n{text}"),
    }
    d.stop().await;
}
