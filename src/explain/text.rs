//! A deal's story as text, for `dealflow explain`.

use std::fmt::Write;

use chrono_tz::Tz;

use super::Explanation;

/// The story as text; times in the pipeline's zone `tz`.
pub fn explanation_text(e: &Explanation, tz: Tz) -> String {
    let t = |at: &chrono::DateTime<chrono::Utc>| {
        at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let mut out = String::new();
    let where_ = if e.stages.is_empty() {
        "no stage the rules know".to_string()
    } else {
        e.stages.join(", ")
    };
    let _ = writeln!(
        out,
        "deal {}: {} ({})",
        e.deal,
        where_,
        if e.live { "live" } else { "ended" }
    );
    for (n, s) in e.steps.iter().enumerate() {
        let mut by =
            s.by.as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default();
        if let Some(via) = &s.via {
            by.push_str(&format!(" via {via}"));
        }
        let fields = s
            .fields
            .as_ref()
            .filter(|f| f.as_object().is_some_and(|o| !o.is_empty()))
            .map(|f| format!(" {f}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}. {}  {}{by}{fields}  [rules version {}]",
            n + 1,
            t(&s.at),
            s.input,
            s.version
        );
        if let Some(r) = &s.refused {
            let rule = r
                .rule
                .as_deref()
                .map(|x| format!(" (decided by {x})"))
                .unwrap_or_default();
            let _ = writeln!(out, "   ✗ refused ({}): {}{rule}", r.code, r.reason);
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
        let _ = writeln!(out, "\nwaiting:");
        for (timer, at) in &e.waiting {
            let _ = writeln!(out, "   ⏲ {timer} at {}", t(at));
        }
    }
    out
}
