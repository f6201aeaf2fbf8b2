//! Why a deal is where it is: its story in words, step by step — what came in (an event and
//! who sent it with what, a timer, work on a task, new rules), what the engine did, and for
//! each effect the rule `file:line` and the rules version; refused inputs among them, with the
//! reason and the `require` that decided it; and, where an event moved nothing, which
//! conditions did not hold. `dealflow explain`, `GET /api/v1/deals/{id}/explain` and the deal
//! page tell the same story.

mod json;
mod text;
mod words;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::compile::{Plan, Trigger};
use crate::engine::Deal;
use crate::store::{EventEntry, HistoryEntry, Refusal};

pub use json::explanation_json;
pub use text::explanation_text;
pub use words::{describe, field_label, input_words, when};

/// A deal's story.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The deal.
    pub deal: String,
    /// Where it stands now: stage names (empty when it is not known).
    pub stages: Vec<String>,
    /// Whether it can still move.
    pub live: bool,
    /// Timers waiting: (timer, when).
    pub waiting: Vec<(String, DateTime<Utc>)>,
    /// The steps, oldest first.
    pub steps: Vec<Step>,
}

/// One step of the story.
#[derive(Debug, Clone)]
pub struct Step {
    /// When.
    pub at: DateTime<Utc>,
    /// What came in, in words.
    pub input: String,
    /// Who sent it.
    pub by: Option<String>,
    /// Whose token or session it came through, when not theirs (see
    /// [`crate::json::record_body`]).
    pub via: Option<String>,
    /// The fields it carried.
    pub fields: Option<Json>,
    /// The rules version that ran it.
    pub version: i64,
    /// What the engine did.
    pub effects: Vec<Effect>,
    /// When it was refused: why.
    pub refused: Option<Refused>,
    /// Why it went as it did, where the effects do not say it.
    pub notes: Vec<String>,
}

/// One thing a step did.
#[derive(Debug, Clone)]
pub struct Effect {
    /// The record's kind (`stage_entered`…).
    pub kind: String,
    /// In words.
    pub text: String,
    /// The rule that did it, `file:line`.
    pub rule: Option<String>,
}

/// Why an input was refused.
#[derive(Debug, Clone)]
pub struct Refused {
    /// `refused`, `not_now`, `step_failed`, `exists`, `misfit`.
    pub code: String,
    /// In the pipeline's words.
    pub reason: String,
    /// The rule that decided it (a `require`), `file:line`.
    pub rule: Option<String>,
}

/// What the story is made of: the deal as it is now (if it still reads), its history, the
/// events applied to it and the inputs refused.
pub struct Sources<'a> {
    /// The rules the deal runs under now.
    pub plan: &'a Plan,
    /// The deal's id.
    pub id: &'a str,
    /// The deal now.
    pub deal: Option<&'a Deal>,
    /// Its history, in order.
    pub history: &'a [HistoryEntry],
    /// Events applied, in order.
    pub events: &'a [EventEntry],
    /// Refused inputs (any order).
    pub refusals: &'a [Refusal],
}

/// The story, in Russian when `ru`.
pub fn explain(src: &Sources<'_>, ru: bool) -> Explanation {
    let plan = src.plan;
    let mut steps: Vec<Step> = Vec::new();
    // Where the deal stood before each step (stage names), to say why an event moved nothing.
    let mut here: Vec<String> = Vec::new();
    let mut i = 0;
    while i < src.history.len() {
        let first = &src.history[i];
        let mut j = i;
        // A step's records share its revision and cause (the lines that messages went out,
        // written when they were forgotten, carry the revision of the deal then: a step of
        // their own, at their own moment).
        while j < src.history.len()
            && src.history[j].revision == first.revision
            && src.history[j].cause == first.cause
        {
            j += 1;
        }
        let group = &src.history[i..j];
        let before = here.clone();
        let mut step = Step {
            at: at_of(first),
            input: words::input_words(plan, &first.cause, ru),
            by: None,
            via: None,
            fields: None,
            version: first.version,
            effects: Vec::new(),
            refused: None,
            notes: Vec::new(),
        };
        if let Some(e) = src
            .events
            .iter()
            .find(|e| e.revision == first.revision && first.cause != crate::store::SENT_CAUSE)
        {
            step.by = e.by.clone();
            step.fields = serde_json::from_str(&e.payload).ok();
        }
        for h in group {
            let r: Json = serde_json::from_str(&h.record).unwrap_or_default();
            if step.via.is_none() {
                step.via = r["via"].as_str().map(str::to_string);
            }
            follow(&mut here, &h.kind, &r);
            // Who did it: the event's sender, or the person a record of work names.
            if step.by.is_none() {
                step.by = r["by"].as_str().map(str::to_string);
            }
            if h.kind == "event_applied" {
                continue;
            }
            step.effects.push(Effect {
                kind: h.kind.clone(),
                text: describe(plan, &h.kind, &r, ru),
                rule: h.rule.clone(),
            });
        }
        step.notes = notes(plan, &first.cause, &before, group, ru);
        steps.push(step);
        i = j;
    }
    for r in src.refusals {
        let payload: Option<Json> = serde_json::from_str(&r.payload)
            .ok()
            .filter(|p: &Json| p.as_object().is_some_and(|o| !o.is_empty()));
        steps.push(Step {
            at: r.at,
            input: refused_input(plan, r, ru),
            by: r.by.clone(),
            via: r.via.clone(),
            fields: payload,
            version: r.version,
            effects: Vec::new(),
            refused: Some(Refused {
                code: r.code.clone(),
                reason: r.reason.clone(),
                rule: r.rule.clone(),
            }),
            notes: Vec::new(),
        });
    }
    // Refusals go among the steps by time; a step and a refusal at the same moment keep the
    // step first (it was committed, the refusal came to a deal that already had it).
    steps.sort_by_key(|s| (s.at, s.refused.is_some()));
    let (stages, live, waiting) = match src.deal {
        Some(d) => (
            d.stages()
                .iter()
                .map(|&s| plan.stages[s].name.clone())
                .collect(),
            d.is_live(),
            d.timers
                .iter()
                .filter(|a| !a.fired)
                .map(|a| (crate::engine::timer_label(plan, d, a), a.fires_at))
                .collect(),
        ),
        None => (Vec::new(), false, Vec::new()),
    };
    Explanation {
        deal: src.id.to_string(),
        stages,
        live,
        waiting,
        steps,
    }
}

fn at_of(h: &HistoryEntry) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&h.at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Moves the stages the deal stands in along one record.
fn follow(here: &mut Vec<String>, kind: &str, r: &Json) {
    let name = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    match kind {
        // Creation enters its stages next, one record each.
        "deal_created" => here.clear(),
        "stage_entered" => here.push(name("stage")),
        "stage_left" => {
            if let Some(p) = here.iter().position(|s| *s == name("stage")) {
                here.remove(p);
            }
        }
        "stage_migrated" => {
            if let Some(p) = here.iter().position(|s| *s == name("from")) {
                here[p] = name("stage");
            }
        }
        _ => {}
    }
}

/// What came in, from a step's cause.
fn refused_input(plan: &Plan, r: &Refusal, ru: bool) -> String {
    match (r.input.as_str(), ru) {
        ("create", true) => "Создание сделки".into(),
        ("create", false) => "Creating the deal".into(),
        ("event", true) => format!("Событие {}", r.name),
        ("event", false) => format!("Event {}", r.name),
        ("edit", true) => "Правка полей".into(),
        ("edit", false) => "Fields edited".into(),
        ("time", true) => format!(
            "Исправление времени ({})",
            r.name.trim_start_matches("entry ")
        ),
        ("time", false) => format!(
            "Time entry corrected ({})",
            r.name.trim_start_matches("entry ")
        ),
        (_, ru) => {
            // `TASK start|pause|done|log`
            let (task, what) = r.name.rsplit_once(' ').unwrap_or((&r.name, ""));
            let title = plan.task_title(task);
            let what = match (what, ru) {
                ("start", true) => "начать",
                ("pause", true) => "пауза",
                ("done", true) => "готово",
                ("log", true) => "записать время",
                ("start", false) => "start",
                ("pause", false) => "pause",
                ("done", false) => "done",
                ("log", false) => "log time",
                (other, _) => other,
            };
            if ru {
                format!("Задача «{title}»: {what}")
            } else {
                format!("Task «{title}»: {what}")
            }
        }
    }
}

/// Why a step went as it did where its effects do not say it: an event that moved no track
/// names the transitions on it whose conditions did not hold; a skipped stage, its `skip when`.
fn notes(
    plan: &Plan,
    cause: &str,
    before: &[String],
    group: &[HistoryEntry],
    ru: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for h in group.iter().filter(|h| h.kind == "stage_skipped") {
        let r: Json = serde_json::from_str(&h.record).unwrap_or_default();
        let name = r["stage"].as_str().unwrap_or_default();
        let stage = plan
            .stage_index
            .get(name)
            .map_or(name, |&i| plan.stages[i].title.as_str());
        let rule = h.rule.as_deref().unwrap_or("?");
        out.push(if ru {
            format!("«{stage}» пропущен: выполнилось его условие `skip when` ({rule})")
        } else {
            format!("«{stage}» was skipped: its `skip when` held ({rule})")
        });
    }
    let Some(event) = cause.strip_prefix("event ") else {
        return out;
    };
    if group.iter().any(|h| h.kind == "stage_left") {
        return out;
    }
    let Some(&ev) = plan.event_index.get(event) else {
        return out;
    };
    for name in before {
        let Some(&s) = plan.stage_index.get(name) else {
            continue;
        };
        let name = &plan.stages[s].title;
        for t in &plan.stages[s].transitions {
            if matches!(t.trigger, Trigger::On(e) if e == ev) && t.guard.is_some() {
                let rule = format!("{}:{}", plan.file, t.line);
                out.push(if ru {
                    format!(
                        "осталась в «{name}»: условие перехода `{}` не выполнилось ({rule})",
                        t.label
                    )
                } else {
                    format!(
                        "stayed in «{name}»: the condition of `{}` did not hold ({rule})",
                        t.label
                    )
                });
            }
        }
    }
    out
}

/// What a deal's story is read from, as the store keeps it.
pub struct Read {
    /// The deal's document, if the deal exists.
    pub stored: Option<crate::store::ReadDeal>,
    /// Its history.
    pub history: Vec<HistoryEntry>,
    /// The events applied to it.
    pub events: Vec<EventEntry>,
    /// The inputs refused for it (the newest 1,000).
    pub refusals: Vec<Refusal>,
}

impl Read {
    /// Reads deal `id`'s story; `None` when the store knows nothing of it.
    pub async fn from(
        tx: &mut crate::store::Tx,
        id: &str,
    ) -> Result<Option<Read>, crate::store::StoreError> {
        let stored = tx.peek_deal(id).await?;
        let refusals = tx.refusals(Some(id), 1000).await?;
        if stored.is_none() && refusals.is_empty() {
            return Ok(None);
        }
        Ok(Some(Read {
            history: tx.history(id).await?,
            events: tx.events(id).await?,
            stored,
            refusals,
        }))
    }

    /// The story under `plan` (the deal read under it, when it still fits).
    pub fn explain(&self, plan: &Plan, id: &str, ru: bool) -> Explanation {
        let deal = self
            .stored
            .as_ref()
            .and_then(|s| s.stored.decode(plan).ok());
        explain(
            &Sources {
                plan,
                id,
                deal: deal.as_ref(),
                history: &self.history,
                events: &self.events,
                refusals: &self.refusals,
            },
            ru,
        )
    }
}
