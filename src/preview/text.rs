//! A preview as people read it: deal by deal, then the totals and the verdict.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{DealPreview, Preview};
use crate::engine::Change;

/// The preview as text; times in the pipeline's zone `tz`.
pub fn preview_text(p: &Preview, tz: Tz) -> String {
    let t = |at: &DateTime<Utc>| at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} live deal(s) read; the switch at {} ({tz}){}",
        p.live,
        t(&p.at),
        p.running
            .map(|v| format!(", from rules version {v}"))
            .unwrap_or_default()
    );
    for d in &p.deals {
        out.push('\n');
        deal(&mut out, d, &t);
    }
    if !p.stranded.is_empty() {
        out.push('\n');
        for s in &p.stranded {
            let more = s.count.saturating_sub(s.first.len());
            let _ = writeln!(
                out,
                "stranded: stage `{}` is gone and {} live deal(s) stand in it: {}{}",
                s.stage,
                s.count,
                s.first.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(
            out,
            "  say where they go with a `migrate` line, or keep the stage until they leave it"
        );
    }
    for w in &p.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let failing = p.hooks.iter().filter(|h| !h.also_now).count();
    let _ = writeln!(
        out,
        "\nhooks: templates and script calls tried on {} deal(s): {}",
        p.hooks_tried,
        if failing == 0 {
            "none fails where it did not".to_string()
        } else {
            format!("{failing} fail(s) where the running rules do not")
        }
    );
    let s = &p.summary;
    let _ = writeln!(
        out,
        "\nsummary: {} deal(s) change · migrated: {} stage move(s), {} value(s) · timers: {} added ({} fire right after the switch), {} moved, {} dropped, {} not armed again · alerts: {} raised, {} cleared · messages right after the switch: {} · stranded: {} · failing: {}",
        s.deals_changed,
        s.stages_migrated,
        s.fields_carried,
        s.timers_added,
        s.fire_at_switch,
        s.timers_moved,
        s.timers_dropped,
        s.timers_not_rearmed,
        s.alerts_raised,
        s.alerts_cleared,
        s.messages,
        s.stranded,
        s.failed,
    );
    let reasons = p.reasons();
    if reasons.is_empty() {
        let _ = writeln!(out, "a reload would apply these rules.");
    } else {
        let _ = writeln!(out, "a reload would refuse these rules:");
        for r in reasons {
            let _ = writeln!(out, "  - {r}");
        }
    }
    out
}

fn deal(out: &mut String, d: &DealPreview, t: &impl Fn(&DateTime<Utc>) -> String) {
    let _ = writeln!(out, "{}  ({})", d.id, d.stages.join(", "));
    for c in &d.changes {
        let line = match c {
            Change::StageMigrated {
                from,
                to,
                enter,
                line,
            } => format!(
                "→ migrated from stage `{from}` to `{to}` (line {line}){}",
                if *enter { ", with its `on enter`" } else { "" }
            ),
            Change::FieldCarried { from, to, line } => {
                format!("→ value of `{from}` carried into `{to}` (line {line})")
            }
            Change::TimerAdded {
                timer,
                fires_at,
                overdue,
                ..
            } => format!(
                "+ timer «{timer}» set for {}{}",
                t(fires_at),
                if *overdue {
                    ": its moment has passed, it fires right after the switch"
                } else {
                    ""
                }
            ),
            Change::TimerMoved {
                timer,
                from,
                to,
                overdue,
                ..
            } => format!(
                "~ timer «{timer}» moved from {} to {}{}",
                t(from),
                t(to),
                if *overdue {
                    ": fires right after the switch"
                } else {
                    ""
                }
            ),
            Change::TimerDropped { timer, fires_at } => {
                format!("- timer «{timer}» dropped (it was set for {})", t(fires_at))
            }
            Change::TimerNotRearmed {
                timer,
                fired_for,
                now_for,
            } => format!(
                "= timer «{timer}» already fired (for {}); not armed again for {}",
                t(fired_for),
                t(now_for)
            ),
        };
        let _ = writeln!(out, "  {line}");
    }
    for m in &d.messages {
        let _ = writeln!(
            out,
            "      → {} to {} {} with {}: «{}»",
            m.channel,
            m.to_kind,
            m.to,
            m.template,
            m.text.replace('\n', " ")
        );
    }
    for a in &d.raised {
        let _ = writeln!(out, "  ⚠ alert raised: {a}");
    }
    for a in &d.cleared {
        let _ = writeln!(out, "  ✓ alert cleared: {a}");
    }
    if let Some(f) = &d.failed {
        let _ = writeln!(out, "  ✗ {f}");
    }
}
