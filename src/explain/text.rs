//! A deal's story as text, for `dealflow explain` (in Russian with `--ru`).

use std::fmt::Write;

use chrono_tz::Tz;

use super::Explanation;

/// The story as text; times in the pipeline's zone `tz`, its own words in Russian when `ru`.
pub fn explanation_text(e: &Explanation, tz: Tz, ru: bool) -> String {
    let pick = |r: &'static str, en: &'static str| if ru { r } else { en };
    let t = |at: &chrono::DateTime<chrono::Utc>| {
        let local = at.with_timezone(&tz);
        if ru {
            local.format("%d.%m.%Y %H:%M").to_string()
        } else {
            local.format("%Y-%m-%d %H:%M").to_string()
        }
    };
    let mut out = String::new();
    let where_ = if e.stages.is_empty() {
        pick(
            "ни на одном этапе, известном правилам",
            "no stage the rules know",
        )
        .to_string()
    } else {
        e.stages.join(", ")
    };
    let _ = writeln!(
        out,
        "{} {}: {} ({})",
        pick("сделка", "deal"),
        e.deal,
        where_,
        if e.live {
            pick("в работе", "live")
        } else {
            pick("завершена", "ended")
        }
    );
    for (n, s) in e.steps.iter().enumerate() {
        let mut by =
            s.by.as_deref()
                .map(|b| format!(" {} {b}", pick("—", "by")))
                .unwrap_or_default();
        if let Some(via) = &s.via {
            by.push_str(&format!(" {} {via}", pick("через", "via")));
        }
        let fields = s
            .fields
            .as_ref()
            .filter(|f| f.as_object().is_some_and(|o| !o.is_empty()))
            .map(|f| format!(" {f}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}. {}  {}{by}{fields}  [{} {}]",
            n + 1,
            t(&s.at),
            s.input,
            pick("версия правил", "rules version"),
            s.version
        );
        if let Some(r) = &s.refused {
            let rule = r
                .rule
                .as_deref()
                .map(|x| format!(" ({} {x})", pick("решило правило", "decided by")))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "   ✗ {} ({}): {}{rule}",
                pick("не принято", "refused"),
                r.code,
                r.reason
            );
        }
        for f in &s.effects {
            match &f.rule {
                Some(rule) => {
                    let _ = writeln!(out, "   {}  ← {rule}", f.text);
                }
                None => {
                    let _ = writeln!(out, "   {}", f.text);
                }
            }
        }
        for note in &s.notes {
            let _ = writeln!(out, "   ? {note}");
        }
    }
    if !e.waiting.is_empty() {
        let _ = writeln!(out, "\n{}", pick("ждут:", "waiting:"));
        for (timer, at) in &e.waiting {
            let _ = writeln!(out, "   ⏲ {timer} {} {}", pick("в", "at"), t(at));
        }
    }
    out
}
