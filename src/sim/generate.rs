//! Large scenarios through the reference pipeline (`rules/web-studio.flow`), for load tests and
//! benchmarks: N leads that meet, sign, get invoiced, pay and go through production. One in ten
//! is a trusted client (no prepayment), one in ten lets the invoice burn and gets it reissued.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;

use super::scenario::{Entry, Scenario, What};
use crate::engine::TaskAction;
use crate::team::Member;
use crate::value::Value;

const FMT: &str = "%Y-%m-%dT%H:%M";

fn t(s: NaiveDateTime) -> String {
    s.format(FMT).to_string()
}

/// An event for a deal, sent by a team member.
fn event(deal: &str, name: &str, payload: BTreeMap<String, Value>, by: &str) -> What {
    What::Event {
        deal: deal.to_string(),
        name: name.to_string(),
        payload,
        by: Some(by.to_string()),
    }
}

/// Work on a deal's task by a team member.
fn task_work(deal: &str, task: &str, action: TaskAction, by: &str) -> What {
    What::Task {
        deal: deal.to_string(),
        task: task.to_string(),
        action,
        by: Some(by.to_string()),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The studio's team from Ivan's scenario.
pub fn team() -> Vec<Member> {
    let m = |id: &str, role: &str, rate: i64| Member {
        id: id.into(),
        name: id.into(),
        roles: vec![role.into()],
        email: Some(format!("{id}@studio.test")),
        phone: Some("+70000000000".into()),
        telegram: None,
        notices: true,
        rate: Decimal::from(rate),
    };
    vec![
        m("anna", "sales", 1500),
        m("petr", "project_manager", 2000),
        m("olga", "designer", 1800),
        m("dima", "developer", 1600),
        m("kate", "copywriter", 1200),
        m("lena", "office_manager", 1000),
        m("boss", "ceo", 5000),
    ]
}

/// A scenario of `deals` leads arriving over about two months; `seed` varies amounts and times.
pub fn reference(deals: usize, seed: u64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = NaiveDateTime::parse_from_str("2026-03-02T09:00", FMT).unwrap_or_default();
    let span_minutes = 60 * 24 * 60;
    let step = (span_minutes / deals.max(1) as i64).max(1);
    let mut inputs = Vec::with_capacity(deals * 18);
    let mut offset = 0;
    let mut push = |inputs: &mut Vec<Entry>, at: NaiveDateTime, what: What| {
        offset += 1;
        inputs.push(Entry {
            at: t(at),
            offset,
            what,
        });
    };
    for i in 0..deals {
        let id = format!("d{i}");
        let t0 = start + Duration::minutes(i as i64 * step + rng.i64(0..step));
        let mut fields = BTreeMap::new();
        fields.insert("client_name".to_string(), text(&format!("Client {i}")));
        fields.insert("client_phone".to_string(), text(&format!("+7999{i:07}")));
        fields.insert(
            "client_email".to_string(),
            text(&format!("c{i}@example.test")),
        );
        push(
            &mut inputs,
            t0,
            What::Deal {
                id: id.clone(),
                title: format!("Deal {i}"),
                stages: Vec::new(),
                fields,
            },
        );

        let meeting = t0 + Duration::days(1) + Duration::hours(rng.i64(2..6));
        let mut payload = BTreeMap::new();
        payload.insert("meeting_at".to_string(), text(&t(meeting)));
        payload.insert("meeting_place".to_string(), text("Office"));
        push(
            &mut inputs,
            t0 + Duration::hours(1),
            event(&id, "call_done", payload, "anna"),
        );
        push(
            &mut inputs,
            meeting + Duration::hours(2),
            event(&id, "meeting_held", BTreeMap::new(), "anna"),
        );

        let trusted = i % 10 == 0;
        let burns = i % 10 == 5;
        let signed = t0 + Duration::days(2) + Duration::hours(4);
        let mut contract = BTreeMap::new();
        contract.insert("title".to_string(), text(&format!("Deal {i}: site")));
        contract.insert(
            "amount".to_string(),
            // Amounts to the rouble, nearly every deal its own: a script's answers for one
            // amount are not shared between deals.
            Value::Int(40_000 + rng.i64(0..960_000)),
        );
        contract.insert("project_manager".to_string(), text("petr"));
        contract.insert("comment".to_string(), text("main contract"));
        contract.insert("work_days".to_string(), Value::Int(10));
        contract.insert("sold_hours".to_string(), Value::Int(20));
        contract.insert("prepayment".to_string(), Value::Bool(!trusted));
        let mut payload = BTreeMap::new();
        payload.insert(
            "contracts".to_string(),
            Value::List(vec![Value::Record(contract)]),
        );
        push(
            &mut inputs,
            signed,
            event(&id, "contracts_signed", payload, "anna"),
        );

        let child = format!("{id}/1");
        let due = (signed + Duration::days(3)).date();
        let mut payload = BTreeMap::new();
        payload.insert(
            "invoice_due".to_string(),
            Value::Text(due.format("%Y-%m-%d").to_string()),
        );
        push(
            &mut inputs,
            signed + Duration::hours(1),
            event(&child, "invoice_sent", payload, "anna"),
        );
        let paid = if burns {
            let reissue = due.and_hms_opt(11, 0, 0).unwrap_or_default() + Duration::days(2);
            let mut payload = BTreeMap::new();
            payload.insert(
                "invoice_due".to_string(),
                Value::Text((due + Duration::days(7)).format("%Y-%m-%d").to_string()),
            );
            push(
                &mut inputs,
                reissue,
                event(&child, "invoice_reissued", payload, "lena"),
            );
            reissue + Duration::days(1)
        } else {
            signed + Duration::days(1) + Duration::hours(rng.i64(0..6))
        };
        push(
            &mut inputs,
            paid,
            event(&child, "payment_received", BTreeMap::new(), "anna"),
        );

        let work = [
            ("approval", "petr"),
            ("mockups", "olga"),
            ("concept", "petr"),
            ("markup", "dima"),
            ("content", "kate"),
        ];
        for (k, (task, who)) in work.iter().enumerate() {
            let at = paid + Duration::days(k as i64 + 1);
            push(
                &mut inputs,
                at,
                task_work(&child, task, TaskAction::Log(Decimal::from(2)), who),
            );
            push(
                &mut inputs,
                at,
                task_work(&child, task, TaskAction::Done, who),
            );
        }
    }
    let until = start + Duration::minutes(span_minutes) + Duration::days(60);
    Scenario {
        start: t(start),
        until: t(until),
        team: team(),
        timer_cap: None,
        inputs,
        expects: Vec::new(),
    }
}

/// A scenario as TOML, in the format `dealflow simulate` reads.
pub fn to_toml(sc: &Scenario) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `dealflow generate-scenario`: {} inputs.",
        sc.inputs.len()
    );
    let _ = writeln!(out, "start = {}\nuntil = {}", q(&sc.start), q(&sc.until));
    for m in &sc.team {
        let _ = writeln!(
            out,
            "\n[[team]]\nid = {}\nroles = [{}]\nrate = {}",
            q(&m.id),
            m.roles.iter().map(|r| q(r)).collect::<Vec<_>>().join(", "),
            m.rate
        );
        if let Some(e) = &m.email {
            let _ = writeln!(out, "email = {}", q(e));
        }
    }
    for e in &sc.inputs {
        match &e.what {
            What::Deal {
                id, title, fields, ..
            } => {
                let _ = writeln!(
                    out,
                    "\n[[deal]]\nid = {}\nat = {}\ntitle = {}\nfields = {}",
                    q(id),
                    q(&e.at),
                    q(title),
                    inline(fields)
                );
            }
            What::Event {
                deal,
                name,
                payload,
                by,
            } => {
                let _ = writeln!(
                    out,
                    "\n[[event]]\ndeal = {}\nat = {}\nname = {}",
                    q(deal),
                    q(&e.at),
                    q(name)
                );
                if let Some(b) = by {
                    let _ = writeln!(out, "by = {}", q(b));
                }
                let (lists, plain): (BTreeMap<_, _>, BTreeMap<_, _>) = payload
                    .iter()
                    .partition(|(_, v)| matches!(v, Value::List(_)));
                if !plain.is_empty() {
                    let plain: BTreeMap<String, Value> = plain
                        .into_iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let _ = writeln!(out, "fields = {}", inline(&plain));
                }
                for (k, v) in lists {
                    if let Value::List(items) = v {
                        for item in items {
                            if let Value::Record(r) = item {
                                let _ = writeln!(out, "\n[[event.fields.{k}]]");
                                for (rk, rv) in r {
                                    let _ = writeln!(out, "{rk} = {}", scalar(rv));
                                }
                            }
                        }
                    }
                }
            }
            What::Task {
                deal,
                task,
                action,
                by,
            } => {
                let (name, hours) = match action {
                    TaskAction::Start => ("start", None),
                    TaskAction::Pause => ("pause", None),
                    TaskAction::Done => ("done", None),
                    TaskAction::Log(h) => ("log", Some(*h)),
                };
                let _ = writeln!(
                    out,
                    "\n[[task]]\ndeal = {}\ntask = {}\nat = {}\naction = {}",
                    q(deal),
                    q(task),
                    q(&e.at),
                    q(name)
                );
                if let Some(h) = hours {
                    let _ = writeln!(out, "hours = {h}");
                }
                if let Some(b) = by {
                    let _ = writeln!(out, "by = {}", q(b));
                }
            }
            What::Edit {
                deal,
                fields,
                clear,
                by,
            } => {
                let _ = writeln!(
                    out,
                    "\n[[edit]]\ndeal = {}\nat = {}\nfields = {}",
                    q(deal),
                    q(&e.at),
                    inline(fields)
                );
                if !clear.is_empty() {
                    let names: Vec<String> = clear.iter().map(|c| q(c)).collect();
                    let _ = writeln!(out, "clear = [{}]", names.join(", "));
                }
                if let Some(b) = by {
                    let _ = writeln!(out, "by = {}", q(b));
                }
            }
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        other => toml::Value::String(other.to_string()).to_string(),
    }
}

fn inline(fields: &BTreeMap<String, Value>) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k} = {}", scalar(v)))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}
