//! A deal's history in plain words, with the reason for each step (cause, rule, version).

use maud::{Markup, html};

use super::i18n::Lang;
use crate::compile::Plan;
use crate::explain::Explanation;

/// The history section of a deal's page: its story step by step — what came in, each effect
/// in plain words with the rule and the rules version that made it, refused inputs with why.
pub(super) fn history(plan: &Plan, story: &Explanation, lang: Lang) -> Markup {
    let w = lang.words();
    let ru = lang == Lang::Ru;
    let when = |t: &chrono::DateTime<chrono::Utc>| {
        let local = t.with_timezone(&plan.tz);
        if ru {
            local.format("%d.%m.%Y %H:%M").to_string()
        } else {
            local.format("%Y-%m-%d %H:%M").to_string()
        }
    };
    html! {
        section.history {
            h2 { (w.history) }
            ol.timeline {
                @for step in &story.steps {
                    li.step data-refused=[step.refused.as_ref().map(|_| "true")] {
                        p.came {
                            span.at { (when(&step.at)) }
                            " "
                            span.input { (step.input) }
                            @if let Some(by) = &step.by { " · " (by) }
                            @if let Some(via) = &step.via { " (" (w.via) " " (via) ")" }
                            span.why { " · " (w.version) " " (step.version) }
                        }
                        @if let Some(r) = &step.refused {
                            p.refused role="note" {
                                // The engine's reason, in its own words.
                                "✗ " span lang="en" { (r.reason) }
                                @if let Some(rule) = &r.rule { " · " (w.rule) " " code { (rule) } }
                            }
                        }
                        @if !step.effects.is_empty() {
                            ul.effects {
                                @for e in &step.effects {
                                    li data-kind=(e.kind) {
                                        span.what { (e.text) }
                                        @if let Some(rule) = &e.rule {
                                            span.why { " · " (w.rule) " " code { (rule) } }
                                        }
                                    }
                                }
                            }
                        }
                        @for note in &step.notes {
                            p.note { (note) }
                        }
                    }
                }
            }
        }
    }
}
