//! A studio's last months, generated for the demo: leads arriving every day or so, some lost
//! (for a handful of reasons), most met and signed, invoices paid, a few burnt and issued again,
//! projects in production at their own pace, some over their hours — every step before `now`
//! happens, the rest has not yet, so the latest deals are still on their way.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};
use rust_decimal::Decimal;

use super::scenario::{Entry, What};
use crate::engine::TaskAction;
use crate::value::Value;

const FMT: &str = "%Y-%m-%dT%H:%M";

const CLIENTS: [&str; 24] = [
    "Кофейня «Зерно»",
    "Стоматология «Улыбка»",
    "Автосервис «Гараж»",
    "Школа танцев «Ритм»",
    "Пекарня «Булка»",
    "Фитнес-клуб «Сила»",
    "Цветы «Сад»",
    "Юристы «Право»",
    "Отель «Волна»",
    "Книжный «Полка»",
    "Ветклиника «Лапа»",
    "Мебель «Дом»",
    "Типография «Лист»",
    "Химчистка «Блеск»",
    "Салон «Локон»",
    "Турагентство «Компас»",
    "Ателье «Нить»",
    "Детский центр «Радуга»",
    "Кондитерская «Мёд»",
    "Шиномонтаж «Колесо»",
    "Оптика «Взгляд»",
    "Бюро переводов «Слово»",
    "Студия йоги «Прана»",
    "Пиццерия «Тесто»",
];

const WORKS: [&str; 4] = ["сайт", "лендинг", "интернет-магазин", "редизайн"];

const REASONS: [&str; 4] = [
    "дорого",
    "выбрал другую студию",
    "не отвечает",
    "сроки не подошли",
];

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The inputs of `deals` generated deals (ids `g001`…) arriving between `start` and `now`, each
/// step only if it falls before `now`; `offset` numbers them after the scenario's own.
pub fn lively(
    deals: usize,
    seed: u64,
    start: NaiveDateTime,
    now: NaiveDateTime,
    offset: usize,
) -> Vec<Entry> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let span = (now - start).num_minutes().max(1);
    let mut out: Vec<Entry> = Vec::new();
    let mut n = offset;
    let mut push = |out: &mut Vec<Entry>, at: NaiveDateTime, what: What| -> bool {
        if at >= now {
            return false;
        }
        n += 1;
        out.push(Entry {
            at: at.format(FMT).to_string(),
            offset: n,
            what,
        });
        true
    };
    let event = |deal: &str, name: &str, payload: BTreeMap<String, Value>, by: &str| What::Event {
        deal: deal.to_string(),
        name: name.to_string(),
        payload,
        by: Some(by.to_string()),
    };
    for i in 0..deals {
        let id = format!("g{:03}", i + 1);
        let client = CLIENTS[i % CLIENTS.len()];
        let work = WORKS[(i / CLIENTS.len() + i) % WORKS.len()];
        // Working hours of a day spread over the span.
        let t0 = start + Duration::minutes(span * i as i64 / deals as i64 + rng.i64(0..600));
        let mut fields = BTreeMap::new();
        fields.insert("client_name".to_string(), text(client));
        fields.insert(
            "client_phone".to_string(),
            text(&format!("+7916{:07}", 1_000_000 + i * 7919 % 8_999_999)),
        );
        fields.insert(
            "client_email".to_string(),
            text(&format!("client{}@mail.test", i + 1)),
        );
        fields.insert(
            "source".to_string(),
            text(["сайт", "рекомендация", "реклама"][i % 3]),
        );
        let what = What::Deal {
            id: id.clone(),
            title: format!("{client}: {work}"),
            stages: Vec::new(),
            fields,
        };
        if !push(&mut out, t0, what) {
            continue;
        }
        let fate = rng.u32(0..100);
        let lost = |out: &mut Vec<Entry>,
                    push: &mut dyn FnMut(&mut Vec<Entry>, NaiveDateTime, What) -> bool,
                    at: NaiveDateTime,
                    rng: &mut fastrand::Rng| {
            let mut p = BTreeMap::new();
            p.insert(
                "comment".to_string(),
                text(REASONS[rng.usize(0..REASONS.len())]),
            );
            push(out, at, event(&id, "lost", p, "anna"));
        };
        // A quarter are lost at the lead; some never get called back at all.
        if fate < 20 {
            lost(
                &mut out,
                &mut push,
                t0 + Duration::hours(rng.i64(2..72)),
                &mut rng,
            );
            continue;
        }
        if fate < 25 {
            continue;
        }
        let called = t0 + Duration::hours(rng.i64(1..30));
        let meeting = called + Duration::days(rng.i64(1..5)) + Duration::hours(rng.i64(0..4));
        let mut p = BTreeMap::new();
        p.insert(
            "meeting_at".to_string(),
            text(&meeting.format(FMT).to_string()),
        );
        p.insert("meeting_place".to_string(), text("Офис на Тверской"));
        if !push(&mut out, called, event(&id, "call_done", p, "anna")) {
            continue;
        }
        if !push(
            &mut out,
            meeting + Duration::hours(2),
            event(&id, "meeting_held", BTreeMap::new(), "anna"),
        ) {
            continue;
        }
        if fate < 38 {
            lost(
                &mut out,
                &mut push,
                meeting + Duration::days(rng.i64(1..6)),
                &mut rng,
            );
            continue;
        }
        let signed = meeting + Duration::days(rng.i64(1..7));
        let trusted = fate.is_multiple_of(3);
        let amount = 60_000 + rng.i64(0..40) * 10_000;
        let sold = 20 + rng.i64(0..4) * 10;
        let mut contract = BTreeMap::new();
        contract.insert("title".to_string(), text(&format!("{client}: {work}")));
        contract.insert("amount".to_string(), Value::Int(amount));
        contract.insert("project_manager".to_string(), text("petr"));
        contract.insert("comment".to_string(), text("договор"));
        contract.insert("work_days".to_string(), Value::Int(8 + rng.i64(0..15)));
        contract.insert("sold_hours".to_string(), Value::Int(sold));
        contract.insert("prepayment".to_string(), Value::Bool(!trusted));
        let mut p = BTreeMap::new();
        p.insert(
            "contracts".to_string(),
            Value::List(vec![Value::Record(contract)]),
        );
        if !push(&mut out, signed, event(&id, "contracts_signed", p, "anna")) {
            continue;
        }
        let child = format!("{id}/1");
        let sent = signed + Duration::hours(rng.i64(1..20));
        let due = (sent + Duration::days(rng.i64(3..8))).date();
        let mut p = BTreeMap::new();
        p.insert(
            "invoice_due".to_string(),
            text(&due.format("%Y-%m-%d").to_string()),
        );
        if !push(&mut out, sent, event(&child, "invoice_sent", p, "anna")) {
            continue;
        }
        let burns = fate.is_multiple_of(7);
        let paid = if burns {
            let again =
                due.and_hms_opt(11, 0, 0).unwrap_or_default() + Duration::days(rng.i64(2..5));
            let mut p = BTreeMap::new();
            p.insert(
                "invoice_due".to_string(),
                text(
                    &(again.date() + Duration::days(5))
                        .format("%Y-%m-%d")
                        .to_string(),
                ),
            );
            if !push(
                &mut out,
                again,
                event(&child, "invoice_reissued", p, "lena"),
            ) {
                continue;
            }
            again + Duration::days(rng.i64(1..5))
        } else {
            sent + Duration::days(rng.i64(1..6))
        };
        if !push(
            &mut out,
            paid,
            event(&child, "payment_received", BTreeMap::new(), "anna"),
        ) {
            continue;
        }
        // Production at its own pace; some overrun the hours sold.
        let per_task = Decimal::from(sold) / Decimal::from(5)
            * if fate.is_multiple_of(5) {
                Decimal::new(13, 1)
            } else {
                Decimal::new(8, 1)
            };
        let mut at = paid;
        for (task, who) in [
            ("approval", "petr"),
            ("mockups", "olga"),
            ("concept", "petr"),
            ("markup", "dima"),
            ("content", "kate"),
        ] {
            at += Duration::days(rng.i64(1..5)) + Duration::hours(rng.i64(0..6));
            let log = What::Task {
                deal: child.clone(),
                task: task.into(),
                action: TaskAction::Log(per_task.round_dp(1)),
                by: Some(who.into()),
            };
            let done = What::Task {
                deal: child.clone(),
                task: task.into(),
                action: TaskAction::Done,
                by: Some(who.into()),
            };
            if !push(&mut out, at, log) || !push(&mut out, at, done) {
                break;
            }
        }
    }
    out
}
