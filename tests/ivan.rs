//! Ivan's story (`examples/ivan.scenario.toml` through `rules/web-studio.flow`): each of the 14
//! facts of `ivan.expected.md` asserted from the JSON timeline, and the whole text timeline as a
//! reviewed snapshot.

// A test that cannot go on stops with a message: unwrap, expect and panic are its assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

mod common;

use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn timeline() -> (dealflow::compile::Plan, dealflow::sim::Timeline) {
    dealflow::load::simulate_files(
        &root().join("rules/web-studio.flow"),
        &root().join("examples/ivan.scenario.toml"),
    )
    .expect("Ivan's story runs")
}

struct Records(Vec<Value>);

impl Records {
    fn load() -> Self {
        let (plan, t) = timeline();
        let text = t.json_lines(&plan);
        common::schema::conforms("ivan", &text);
        Records(
            text.lines()
                .map(|l| serde_json::from_str(l).expect("every line is JSON"))
                .collect(),
        )
    }

    /// Records of a deal and kind at a local moment (`2026-03-02T09:15`).
    fn at(&self, deal: &str, kind: &str, at: &str) -> Vec<&Value> {
        let at = format!("{at}:00+03:00");
        self.0
            .iter()
            .filter(|r| r["deal"] == deal && r["kind"] == kind && r["at"] == at.as_str())
            .collect()
    }

    fn all(&self, deal: &str, kind: &str) -> Vec<&Value> {
        self.0
            .iter()
            .filter(|r| r["deal"] == deal && r["kind"] == kind)
            .collect()
    }

    fn one<'a>(
        &'a self,
        deal: &str,
        kind: &str,
        at: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> &'a Value {
        let found: Vec<&Value> = self
            .at(deal, kind, at)
            .into_iter()
            .filter(|r| pred(r))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {kind} of {deal} at {at}, found {found:#?}\nall of that kind: {:#?}",
            self.all(deal, kind)
        );
        found[0]
    }

    fn task(&self, deal: &str, at: &str, task: &str, assignee: &str, due: Option<&str>) {
        let r = self.one(deal, "task_created", at, |r| r["task"] == task);
        assert_eq!(r["assignee"], assignee, "{task}");
        if let Some(due) = due {
            assert_eq!(r["due"], format!("{due}:00+03:00"), "{task}");
        }
    }

    fn field(&self, deal: &str, at: &str, field: &str, value: Value) {
        let r = self.one(deal, "field_set", at, |r| r["field"] == field);
        assert_eq!(r["value"], value, "{deal}.{field} at {at}");
    }

    fn stage(&self, deal: &str, kind: &str, at: &str, stage: &str) {
        self.one(deal, kind, at, |r| r["stage"] == stage);
    }

    fn final_of(&self, deal: &str) -> &Value {
        self.0
            .iter()
            .find(|r| r["deal"] == deal && r["kind"] == "final")
            .expect("a final record")
    }
}

#[test]
fn records_are_in_time_order_and_every_deal_ends_with_a_final_record() {
    let r = Records::load();
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> =
        r.0.iter()
            .map(|x| chrono::DateTime::parse_from_rfc3339(x["at"].as_str().unwrap()).unwrap())
            .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "records out of time order"
    );
    let finals: Vec<&str> =
        r.0.iter()
            .filter(|x| x["kind"] == "final")
            .map(|x| x["deal"].as_str().unwrap())
            .collect();
    assert_eq!(
        finals,
        ["ivan", "oleg", "nina", "maria", "ivan/1", "ivan/2"]
    );
}

#[test]
fn fact_01_the_lead_arrives_and_the_client_hears_at_once() {
    let r = Records::load();
    let created = r.one("ivan", "deal_created", "2026-03-02T09:15", |_| true);
    assert_eq!(created["stage"], serde_json::json!(["lead"]));
    let sms = r.one("ivan", "notification", "2026-03-02T09:15", |n| {
        n["channel"] == "sms"
    });
    assert_eq!(
        sms["text"],
        "Иван, спасибо за обращение! Будет драйвово и продуктивно!"
    );
    assert_eq!(sms["to_kind"], "client");
    assert_eq!(sms["send_at"], "2026-03-02T09:15:00+03:00");
    let email = r.one("ivan", "notification", "2026-03-02T09:15", |n| {
        n["channel"] == "email" && n["to_kind"] == "client"
    });
    assert_eq!(email["template"], "welcome");
    // Anna hears of each task given to her, by email, with the deal and the deadline.
    let notice = r.one("ivan", "notification", "2026-03-02T09:15", |n| {
        n["to_kind"] == "user"
            && n["text"]
                .as_str()
                .unwrap()
                .starts_with("☐ Позвонить клиенту")
    });
    assert_eq!(
        (&notice["to"], &notice["channel"], &notice["template"]),
        (
            &"anna@studio.test".into(),
            &"email".into(),
            &"task_assigned".into()
        )
    );
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("⏰ 02.03.2026 09:30"),
        "{notice}"
    );
    assert_eq!(email["to"], "ivan@example.test");
    r.task(
        "ivan",
        "2026-03-02T09:15",
        "call_client",
        "anna",
        Some("2026-03-02T09:30"),
    );
    r.task(
        "ivan",
        "2026-03-02T09:15",
        "book_meeting",
        "anna",
        Some("2026-03-03T10:00"),
    );
    r.task(
        "ivan",
        "2026-03-02T09:15",
        "prepare_docs",
        "petr",
        Some("2026-03-04T10:00"),
    );
}

#[test]
fn fact_02_the_call_books_a_meeting_with_directions_and_an_invitation() {
    let r = Records::load();
    let t = "2026-03-02T11:00";
    r.field("ivan", t, "meeting_at", "2026-03-03T15:00:00+03:00".into());
    r.field("ivan", t, "meeting_place", "Москва, Тверская, 7".into());
    r.stage("ivan", "stage_left", t, "lead");
    r.stage("ivan", "stage_entered", t, "meeting");
    let sms = r.one("ivan", "notification", t, |n| n["channel"] == "sms");
    let text = sms["text"].as_str().unwrap();
    // The map link keeps the Cyrillic place as letters, so the SMS is two segments, not six.
    assert_eq!(
        text,
        "Ждём вас 03.03 в 15:00: Москва, Тверская, 7. Схема проезда: \
         https://www.openstreetmap.org/search?query=Москва,%20Тверская,%207"
    );
    assert_eq!(
        (&sms["segments"], &sms["encoding"]),
        (&2.into(), &"UCS-2".into())
    );
    let email = r.one("ivan", "notification", t, |n| {
        n["channel"] == "email" && n["to_kind"] == "client"
    });
    let ics = &email["attachments"][0];
    assert!(
        ics["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let content = ics["content"].as_str().unwrap();
    assert!(
        content.contains("DTSTART:20260303T120000Z") && content.contains("DTEND:20260303T130000Z"),
        "{content}"
    );
    assert!(
        content.contains("LOCATION:Москва\\, Тверская\\, 7"),
        "{content}"
    );
    let timer = r.one("ivan", "timer_set", t, |_| true);
    assert_eq!(timer["fires_at"], "2026-03-03T13:00:00+03:00");
}

#[test]
fn fact_03_the_reminder_timer_tells_the_salesperson() {
    let r = Records::load();
    r.one("ivan", "timer_fired", "2026-03-03T13:00", |_| true);
    let mail = r.one("ivan", "notification", "2026-03-03T13:00", |_| true);
    assert_eq!(mail["to"], "anna@studio.test");
    assert_eq!(mail["to_kind"], "user");
    assert_eq!(mail["template"], "meeting_details");
}

#[test]
fn fact_04_after_the_meeting_a_contract_is_drafted() {
    let r = Records::load();
    r.stage("ivan", "stage_entered", "2026-03-03T17:00", "contract");
    r.task(
        "ivan",
        "2026-03-03T17:00",
        "draft_contract",
        "anna",
        Some("2026-03-04T17:00"),
    );
}

#[test]
fn fact_05_two_contracts_become_two_deals() {
    let r = Records::load();
    let t = "2026-03-05T12:00";
    r.stage("ivan", "stage_entered", t, "contracted");
    for child in ["ivan/1", "ivan/2"] {
        let c = r.one(child, "deal_created", t, |_| true);
        assert_eq!(c["parent"], "ivan");
        assert_eq!(c["stage"], serde_json::json!(["billing", "prepayment"]));
        r.task(child, t, "send_invoice", "anna", Some("2026-03-06T12:00"));
        let f = &r.final_of(child)["fields"];
        assert_eq!(f["client_name"], "Иван");
        assert_eq!(f["client_phone"], "+79990000000");
        assert_eq!(f["client_email"], "ivan@example.test");
    }
    assert_eq!(
        r.final_of("ivan")["stages"],
        serde_json::json!(["contracted"])
    );
}

#[test]
fn fact_06_the_trusted_contract_skips_prepayment_and_starts_production() {
    let r = Records::load();
    let t = "2026-03-05T12:00";
    r.stage("ivan/2", "stage_skipped", t, "prepayment");
    r.stage("ivan/2", "stage_entered", t, "production");
    r.field("ivan/2", t, "planned_start", "2026-03-06".into());
    r.field("ivan/2", t, "planned_end", "2026-03-23".into());
    let g = r.one("ivan/2", "group_created", t, |_| true);
    assert_eq!(g["title"], "Иван: SEO");
    for (task, who) in [
        ("approval", "petr"),
        ("mockups", "olga"),
        ("concept", "petr"),
        ("markup", "dima"),
        ("content", "kate"),
    ] {
        r.task("ivan/2", t, task, who, None);
    }
}

#[test]
fn fact_07_the_shop_is_invoiced_paid_and_goes_into_production() {
    let r = Records::load();
    let inv = r.one("ivan/1", "notification", "2026-03-05T15:00", |_| true);
    assert_eq!(inv["subject"], "Счёт на 300 000 ₽");
    let timer = r.one("ivan/1", "timer_set", "2026-03-05T15:00", |_| true);
    assert_eq!(timer["fires_at"], "2026-03-11T00:00:00+03:00");
    let t = "2026-03-10T16:00";
    r.field("ivan/1", t, "invoice_status", "paid".into());
    let sms = r.one("ivan/1", "notification", t, |n| n["channel"] == "sms");
    assert!(
        sms["text"]
            .as_str()
            .unwrap()
            .starts_with("Оплата 300 000 ₽ получена"),
        "{sms}"
    );
    r.one("ivan/1", "notification", t, |n| {
        n["channel"] == "email" && n["to_kind"] == "client"
    });
    r.one("ivan/1", "notification", t, |n| {
        n["to"] == "anna@studio.test" && n["template"] == "payment_staff"
    });
    r.one("ivan/1", "notification", t, |n| {
        n["to"] == "petr@studio.test" && n["template"] == "payment_staff"
    });
    r.stage("ivan/1", "stage_left", t, "billing");
    r.stage("ivan/1", "stage_entered", t, "paid");
    r.stage("ivan/1", "stage_left", t, "paid");
    // The billing track waits in `closed`: the join is entered only when production arrives.
    assert!(
        r.at("ivan/1", "stage_entered", t)
            .iter()
            .all(|x| x["stage"] != "closed")
    );
    r.stage("ivan/1", "stage_left", t, "prepayment");
    r.stage("ivan/1", "stage_entered", t, "production");
    r.field("ivan/1", t, "planned_start", "2026-03-11".into());
    r.field("ivan/1", t, "planned_end", "2026-04-08".into());
    assert!(
        r.all("ivan/1", "timer_fired")
            .iter()
            .all(|x| x["at"] != "2026-03-11T00:00:00+03:00"),
        "the invoice timer must never fire"
    );
}

#[test]
fn fact_08_the_seo_invoice_burns_and_is_reissued() {
    let r = Records::load();
    let t = "2026-03-14T00:00";
    r.one("ivan/2", "timer_fired", t, |_| true);
    r.field("ivan/2", t, "invoice_status", "expired".into());
    r.task(
        "ivan/2",
        t,
        "reissue_invoice",
        "lena",
        Some("2026-03-16T10:00"),
    );
    r.one("ivan/2", "alert_raised", t, |a| {
        a["alert"] == "invoice_burned"
    });
    let t = "2026-03-16T11:00";
    r.field("ivan/2", t, "invoice_status", "sent".into());
    r.one("ivan/2", "alert_cleared", t, |a| {
        a["alert"] == "invoice_burned"
    });
    let timer = r.one("ivan/2", "timer_set", t, |_| true);
    assert_eq!(timer["fires_at"], "2026-03-21T00:00:00+03:00");
    r.field(
        "ivan/2",
        "2026-03-19T12:00",
        "invoice_status",
        "paid".into(),
    );
}

#[test]
fn fact_09_the_seo_project_is_delivered_with_its_margin() {
    let r = Records::load();
    let t = "2026-03-20T17:00";
    r.one("ivan/2", "task_done", t, |x| x["task"] == "content");
    r.stage("ivan/2", "stage_entered", t, "delivered");
    r.field("ivan/2", t, "labour_cost", 17200.into());
    r.field("ivan/2", t, "margin", 42800.into());
    r.stage("ivan/2", "stage_entered", t, "closed");
    let f = r.final_of("ivan/2");
    assert_eq!(f["stages"], serde_json::json!(["closed"]));
    assert_eq!(f["hours_spent"], 11);
    assert_eq!(f["alerts"], serde_json::json!([]));
}

#[test]
fn fact_10_the_shop_misses_its_deadline() {
    let r = Records::load();
    let t = "2026-04-09T00:00";
    r.one("ivan/1", "timer_fired", t, |_| true);
    for to in ["ceo@studio.test", "petr@studio.test"] {
        let n = r.one("ivan/1", "notification", t, |n| n["to"] == to);
        assert_eq!(n["subject"], "Срок сдачи прошёл: «Иван: интернет-магазин»");
    }
    r.one("ivan/1", "alert_raised", t, |a| a["alert"] == "late");
}

#[test]
fn fact_11_the_shop_is_delivered_over_its_hours() {
    let r = Records::load();
    let t = "2026-04-10T18:00";
    r.one("ivan/1", "alert_raised", t, |a| {
        a["alert"] == "hours_overrun"
    });
    r.one("ivan/1", "task_done", t, |x| x["task"] == "content");
    r.stage("ivan/1", "stage_entered", t, "delivered");
    r.field("ivan/1", t, "labour_cost", 110000.into());
    r.field("ivan/1", t, "margin", 190000.into());
    r.stage("ivan/1", "stage_entered", t, "closed");
    r.one("ivan/1", "alert_cleared", t, |a| a["alert"] == "late");
    let f = r.final_of("ivan/1");
    assert_eq!(f["stages"], serde_json::json!(["closed"]));
    assert_eq!(f["hours_spent"], 67);
    assert_eq!(f["alerts"], serde_json::json!(["hours_overrun"]));
}

#[test]
fn fact_12_a_night_lead_gets_the_email_now_and_the_sms_in_the_morning() {
    let r = Records::load();
    let t = "2026-03-02T23:30";
    let email = r.one("nina", "notification", t, |n| {
        n["channel"] == "email" && n["to_kind"] == "client"
    });
    assert_eq!(email["send_at"], "2026-03-02T23:30:00+03:00");
    let sms = r.one("nina", "notification", t, |n| n["channel"] == "sms");
    assert_eq!(sms["send_at"], "2026-03-03T09:00:00+03:00");
}

#[test]
fn fact_13_a_lead_without_email_is_told_by_sms_only_and_is_lost() {
    let r = Records::load();
    let skipped = r.one("oleg", "notification_skipped", "2026-03-02T10:00", |_| true);
    assert_eq!(skipped["channel"], "email");
    assert_eq!(skipped["template"], "welcome");
    r.field(
        "oleg",
        "2026-03-03T10:00",
        "comment",
        "выбрал другую студию".into(),
    );
    assert_eq!(r.final_of("oleg")["stages"], serde_json::json!(["lost"]));
    // Nobody is left working on a lost deal: its open tasks are closed, as cancelled.
    for task in ["call_client", "book_meeting", "prepare_docs"] {
        r.one("oleg", "task_cancelled", "2026-03-03T10:00", |c| {
            c["task"] == task
        });
    }
    assert_eq!(r.final_of("oleg")["open_tasks"], 0);
}

#[test]
fn fact_14_a_returning_client_starts_at_the_contract() {
    let r = Records::load();
    let created = r.one("maria", "deal_created", "2026-03-04T10:00", |_| true);
    assert_eq!(created["stage"], serde_json::json!(["contract"]));
    assert!(
        r.all("maria", "notification")
            .iter()
            .all(|n| n["to_kind"] == "user"),
        "no welcome for a returning client"
    );
    let tasks: Vec<&str> = r
        .all("maria", "task_created")
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["draft_contract"]);
    r.task(
        "maria",
        "2026-03-04T10:00",
        "draft_contract",
        "anna",
        Some("2026-03-05T10:00"),
    );
    assert_eq!(
        r.final_of("maria")["stages"],
        serde_json::json!(["contract"])
    );
}

#[test]
fn the_text_timeline_reads_as_the_story() {
    let (plan, t) = timeline();
    let text = dealflow::sim::output::text(&plan, &t);
    insta::assert_snapshot!(text);
}

#[test]
fn the_same_input_gives_byte_identical_output() {
    let (plan, a) = timeline();
    let (_, b) = timeline();
    assert_eq!(a.json_lines(&plan), b.json_lines(&plan));
}

#[test]
fn every_record_a_rule_caused_names_the_rule() {
    let r = Records::load();
    let ruled = [
        "stage_entered",
        "stage_left",
        "stage_skipped",
        "notification",
        "task_created",
        "timer_set",
        "timer_fired",
        "group_created",
        "alert_raised",
        "alert_cleared",
    ];
    let roles = ["sales", "project_manager", "designer", "developer"];
    let mut seen = 0;
    for rec in &r.0 {
        let kind = rec["kind"].as_str().unwrap_or_default();
        let role_slot = kind == "field_set" && roles.contains(&rec["field"].as_str().unwrap_or(""));
        if ruled.contains(&kind) || role_slot {
            seen += 1;
            let rule = rec["rule"]
                .as_str()
                .unwrap_or_else(|| panic!("no rule: {rec}"));
            let (file, line) = rule.rsplit_once(':').expect("file:line");
            assert!(file.ends_with("web-studio.flow"), "{rec}");
            assert!(line.parse::<usize>().is_ok_and(|l| l > 0), "{rec}");
        }
    }
    assert!(seen > 100, "only {seen} records checked");
    // The reminder of Ivan's meeting names its `at` line.
    let flow = std::fs::read_to_string(root().join("rules/web-studio.flow")).unwrap();
    let at = flow
        .lines()
        .position(|l| l.trim_start().starts_with("at meeting_at - 2h"))
        .unwrap()
        + 1;
    let set = r.all("ivan", "timer_set");
    assert!(
        set[0]["rule"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{at}")),
        "{set:?}"
    );
}
