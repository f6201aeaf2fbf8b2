//! Values as people read them on the pages: money, dates and moments, hours, a field's value,
//! titles, badges, the person on a deal, links.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use rust_decimal::{Decimal, RoundingStrategy};

use super::encode;
use super::i18n::Lang;
use crate::compile::Plan;
use crate::engine::Deal;
use crate::types::Ty;
use crate::value::Value;

/// Money as people write it: `190 000 ₽`, `1 500,50 ₽` (Russian), `190,000 ₽` (English).
pub(super) fn money(plan: &Plan, d: Decimal, lang: Lang) -> String {
    let (group, point) = match lang {
        Lang::Ru => (' ', ','),
        Lang::En => (',', '.'),
    };
    let d = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let negative = d.is_sign_negative() && !d.is_zero();
    let abs = d.abs();
    let whole = abs.trunc().to_string();
    let cents = ((abs - abs.trunc()) * Decimal::from(100)).round();
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    let n = whole.len();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(group);
        }
        out.push(c);
    }
    if !cents.is_zero() {
        let _ = write!(out, "{point}{cents:0>2}");
    }
    let symbol = match plan.currency.as_str() {
        "RUB" => "₽",
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        other => other,
    };
    let _ = write!(out, " {symbol}");
    out
}

pub(super) fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Ru => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%Y-%m-%d").to_string(),
    }
}

pub(super) fn moment(t: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    let l = t.with_timezone(&tz);
    match lang {
        Lang::Ru => l.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => l.format("%Y-%m-%d %H:%M").to_string(),
    }
}

pub(super) fn hours(h: Decimal) -> String {
    half_up(h, 2).to_string()
}

/// Rounded the way people round (half away from zero), trailing zeros dropped.
pub(super) fn half_up(d: Decimal, places: u32) -> Decimal {
    d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// `190k`, `1.2M`: a bar's label.
pub(super) fn short_money(d: Decimal) -> String {
    let thousand = Decimal::from(1000);
    let million = Decimal::from(1_000_000);
    if d.abs() >= million {
        format!("{}M", half_up(d / million, 1))
    } else if d.abs() >= thousand {
        format!("{}k", half_up(d / thousand, 0))
    } else {
        half_up(d, 0).to_string()
    }
}

/// A field's value for people.
pub(super) fn value(plan: &Plan, ty: Option<&Ty>, v: &Value, lang: Lang) -> String {
    let w = lang.words();
    match (ty, v) {
        (Some(Ty::Money), v) if v.as_decimal().is_some() => {
            money(plan, v.as_decimal().unwrap_or_default(), lang)
        }
        (_, Value::Bool(b)) => match (lang, b) {
            (Lang::Ru, true) => "да".into(),
            (Lang::Ru, false) => "нет".into(),
            (Lang::En, true) => "yes".into(),
            (Lang::En, false) => "no".into(),
        },
        (_, Value::Date(d)) => date(*d, lang),
        (_, Value::DateTime(t)) => moment(*t, plan.tz, lang),
        (_, Value::Decimal(d)) => d.normalize().to_string(),
        (_, Value::List(items)) if items.is_empty() => w.no_value.into(),
        (_, other) => other.to_string(),
    }
}

pub(super) fn stage_title(plan: &Plan, s: usize) -> &str {
    plan.stages.get(s).map_or("?", |st| st.title.as_str())
}

pub(super) use crate::explain::field_label;

pub(super) fn alert_badges(plan: &Plan, deal: &Deal) -> Markup {
    html! {
        @for (a, raised) in deal.alerts.iter().enumerate() {
            @if *raised && a < plan.alerts.len() {
                span.badge data-alert=(plan.alerts[a].name) { (plan.alerts[a].title) }
            }
        }
    }
}

pub(super) fn deal_link(id: &str) -> String {
    format!("/deals/{}", encode(id))
}

pub(super) fn span_text(d: chrono::Duration, lang: Lang) -> String {
    let (days, hours) = (d.num_days(), d.num_hours() % 24);
    match lang {
        Lang::Ru if days > 0 => format!("{days} дн. {hours} ч"),
        Lang::Ru => format!("{} ч {} мин", d.num_hours(), d.num_minutes() % 60),
        Lang::En if days > 0 => format!("{days} d {hours} h"),
        Lang::En => format!("{} h {} min", d.num_hours(), d.num_minutes() % 60),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_as_people_write_it() {
        let flow = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/web-studio.flow");
        let ready = crate::load::RuleFile::read(&flow)
            .expect("readable")
            .ready()
            .expect("valid");
        let plan = &ready.plan;
        let d = |s: &str| s.parse::<Decimal>().expect("a decimal");
        assert_eq!(money(plan, d("190000"), Lang::Ru), "190 000 ₽");
        assert_eq!(money(plan, d("190000"), Lang::En), "190,000 ₽");
        assert_eq!(money(plan, d("1500.5"), Lang::Ru), "1 500,50 ₽");
        assert_eq!(money(plan, d("1500.05"), Lang::En), "1,500.05 ₽");
        assert_eq!(money(plan, d("-200"), Lang::Ru), "−200 ₽");
        assert_eq!(money(plan, d("0"), Lang::Ru), "0 ₽");
        assert_eq!(money(plan, d("999.999"), Lang::Ru), "1 000 ₽");
        assert_eq!(short_money(d("190000")), "190k");
        assert_eq!(short_money(d("1250000")), "1.3M");
    }
}
