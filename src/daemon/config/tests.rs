//! The configuration's tests: the example reads, variables override, bad values are named.

use super::*;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dealflow.toml")
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_example_reads_and_every_value_can_come_from_the_environment() {
    let c = Config::load(Some(&example()), Vec::new()).expect("the example is valid");
    assert_eq!(c.server.listen, "127.0.0.1:8080");
    assert_eq!(c.tokens.len(), 4);
    assert_eq!(c.tokens[1].person.as_deref(), Some("anna"));
    assert_eq!(c.team.len(), 7);
    assert!(c.rules_path().ends_with("rules/web-studio.flow"));
    // The example's `sqlite://dealflow.db` sits beside the example, wherever one starts.
    assert_eq!(
        c.database_url(),
        format!(
            "sqlite://{}",
            example().with_file_name("dealflow.db").display()
        )
    );
    assert_eq!(c.members().expect("team").len(), 7);

    let c = Config::load(
        Some(&example()),
        env(&[
            ("DEALFLOW_LISTEN", "0.0.0.0:9000"),
            ("DEALFLOW_DATABASE_URL", "postgres://u@db/deals"),
            ("DEALFLOW_SMTP_HOST", "mail.test"),
            ("DEALFLOW_SMTP_FROM", "robot@studio.test"),
            ("DEALFLOW_SMTP_PORT", "2525"),
            ("DEALFLOW_OUTBOX_MAX_ATTEMPTS", "3"),
            (
                "DEALFLOW_TOKENS",
                r#"[{token = "from-the-env-1", scope = "read"}]"#,
            ),
            ("DEALFLOW_TEST_POSTGRES", "not configuration"),
            ("HOME", "/root"),
        ]),
    )
    .expect("overrides apply");
    assert_eq!(c.server.listen, "0.0.0.0:9000");
    assert_eq!(c.database_url(), "postgres://u@db/deals");
    let smtp = c.smtp.expect("smtp from the environment");
    assert_eq!((smtp.host.as_str(), smtp.port), ("mail.test", 2525));
    assert_eq!(c.outbox.max_attempts, 3);
    assert_eq!(c.tokens.len(), 1);
    assert_eq!(c.tokens[0].scope, Scope::Read);
}

#[test]
fn bad_configuration_is_named() {
    let e = Config::load(None, Vec::new()).unwrap_err().to_string();
    assert!(e.contains("DEALFLOW_RULES_FILE"), "{e}");
    let e = Config::load(
        Some(&example()),
        env(&[("DEALFLOW_SERVER_BODY_LIMIT", "big")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"big\"") && e.contains("DEALFLOW_"), "{e}");
    let e = Config::load(
        Some(&example()),
        env(&[("DEALFLOW_TOKENS", r#"[{token = "short", scope = "staff"}]"#)]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("8 characters"), "{e}");
    let e = Config::load(
        Some(&example()),
        env(&[(
            "DEALFLOW_TOKENS",
            r#"[{token = "mallory-token", scope = "staff", person = "mallory"}]"#,
        )]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`person = \"mallory\"` is not in the team"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("dealflow-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[rules]\nfile = \"x.flow\"\n[server]\nlisten = 5\n").expect("write");
    let e = Config::load(Some(&bad), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4"), "{e}");
    std::fs::write(&bad, "[rules]\nfile = \"x.flow\"\n[servr]\n").expect("write");
    let e = Config::load(Some(&bad), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("servr"), "{e}");
    // The same token twice: the example's staff token again as a read one.
    let example_text = std::fs::read_to_string(example()).expect("example");
    let twice = example_text.replace(
        "[[tokens]]\ntoken = \"change-me-read\"",
        "[[tokens]]\ntoken = \"change-me-staff\"",
    );
    assert_ne!(twice, example_text);
    let file = example().with_file_name(format!("twice-{}.toml", std::process::id()));
    std::fs::write(&file, &twice).expect("write");
    let e = Config::load(Some(&file), Vec::new())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    let _ = std::fs::remove_file(&file);
    let line = |needle: &str| {
        twice[..twice.find(needle).expect("in the example")]
            .lines()
            .count()
            + 1
    };
    let (office, screen) = (
        line("token = \"change-me-staff\"\nscope = \"staff\"") - 1,
        line("token = \"change-me-staff\"\nscope = \"read\"") - 1,
    );
    assert!(
        e.contains(&format!("entry 1 `office` (line {office}) and entry 4 `dashboard screen` (line {screen}) hold the same token")),
        "{e}"
    );
    assert!(!e.contains("change-me"), "the secret is not printed: {e}");
    let e = Config::load(
        Some(&example()),
        env(&[(
            "DEALFLOW_TOKENS",
            r#"[{token = "same-token-1", scope = "read"}, {token = "same-token-1", scope = "staff"}]"#,
        )]),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`DEALFLOW_TOKENS`: entry 1 and entry 2 hold the same token"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
