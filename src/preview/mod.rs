//! What new rules would do to the live deals, before they run: `dealflow plan`, the dry run of
//! a reload, and the starting point of the what-if. Every deal goes through the same switch
//! the daemon's reload makes ([`crate::engine::switch`]); nothing is written.
//!
//! A preview lists, deal by deal and summed up: timers added, moved, dropped or not armed again
//! because they already fired; alerts raised or cleared; the messages that would go out right
//! after the switch (timers whose moment has passed fire once then); and the deals the new
//! rules would strand (their stage is gone). The rules would be applied when nothing is
//! stranded and nothing fails.

mod hooks;
mod json;
mod text;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::engine::{self, Change, Ctx, Deal, Input, Kind, Record, StepError, Switched};
use crate::load::Ready;
use crate::store::{Misfit, Store, StoreError, StoredDeal};

pub use hooks::HookFailure;
pub use json::preview_json;
pub use text::preview_text;

/// Deals named per stranded stage, at most.
const NAMED: usize = 10;
/// Live deals read per page.
const PAGE: i64 = 1000;

/// What new rules would do to the live deals.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// The moment of the switch.
    pub at: DateTime<Utc>,
    /// The rules version the store runs now, if it has one.
    pub running: Option<i64>,
    /// Live deals read.
    pub live: usize,
    /// The deals the switch changes (or that would fail), in id order.
    pub deals: Vec<DealPreview>,
    /// Stages the new rules no longer have that live deals stand in.
    pub stranded: Vec<Stranded>,
    /// Things worth knowing that do not stop the rules.
    pub warnings: Vec<String>,
    /// Deals the hooks were tried on.
    pub hooks_tried: usize,
    /// Hooks that fail under the new rules.
    pub hooks: Vec<HookFailure>,
    /// Totals.
    pub summary: Summary,
}

/// What the switch does to one deal.
#[derive(Debug, Clone, Default)]
pub struct DealPreview {
    /// The deal.
    pub id: String,
    /// The stages it stands in (under the new rules).
    pub stages: Vec<String>,
    /// Timers added, moved, dropped, not armed again.
    pub changes: Vec<Change>,
    /// Alerts the switch raises.
    pub raised: Vec<String>,
    /// Alerts the switch clears.
    pub cleared: Vec<String>,
    /// Messages the timers firing right after the switch would send.
    pub messages: Vec<Message>,
    /// Why the deal could not pass to the new rules, or a timer firing right after failed.
    pub failed: Option<String>,
}

/// A message a timer firing right after the switch would send.
#[derive(Debug, Clone)]
pub struct Message {
    /// The timer that sends it.
    pub timer: String,
    /// `sms` or `email`.
    pub channel: &'static str,
    /// `client` or `user`.
    pub to_kind: &'static str,
    /// Address or phone number.
    pub to: String,
    /// The template.
    pub template: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text.
    pub text: String,
}

/// A stage the new rules no longer have, and the live deals in it.
#[derive(Debug, Clone)]
pub struct Stranded {
    /// The stage.
    pub stage: String,
    /// How many live deals stand in it.
    pub count: usize,
    /// The first of them, by id.
    pub first: Vec<String>,
}

/// Totals of a preview.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Deals the switch changes.
    pub deals_changed: usize,
    /// Timers armed.
    pub timers_added: usize,
    /// Waiting timers given another moment.
    pub timers_moved: usize,
    /// Waiting timers the new rules do not have.
    pub timers_dropped: usize,
    /// Timers that fired this visit and are not armed again.
    pub timers_not_rearmed: usize,
    /// Timers whose moment has passed: they fire right after the switch.
    pub fire_at_switch: usize,
    /// Alerts raised.
    pub alerts_raised: usize,
    /// Alerts cleared.
    pub alerts_cleared: usize,
    /// Messages sent right after the switch.
    pub messages: usize,
    /// Tracks moved by `migrate stage` lines.
    pub stages_migrated: usize,
    /// Values carried by `migrate field` lines.
    pub fields_carried: usize,
    /// Live deals stranded.
    pub stranded: usize,
    /// Deals that could not pass, or whose first timers would fail.
    pub failed: usize,
    /// Hooks that fail under the new rules where the running ones do not.
    pub hooks_failing: usize,
}

impl Preview {
    /// Whether a reload would apply the new rules.
    pub fn applicable(&self) -> bool {
        self.reasons().is_empty()
    }

    /// Why a reload would refuse them, in plain words.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.stranded {
            let more = s.count.saturating_sub(s.first.len());
            out.push(format!(
                "{} live deal(s) stand in stage `{}`, which the new rules no longer have: {}{}",
                s.count,
                s.stage,
                s.first.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        for d in &self.deals {
            if let Some(f) = &d.failed {
                out.push(format!("deal `{}`: {f}", d.id));
            }
        }
        for h in self.hooks.iter().filter(|h| !h.also_now) {
            out.push(format!(
                "{} fails for deal `{}` under the new rules (the running rules do not fail there): {}",
                h.tried, h.deal, h.error
            ));
        }
        out
    }
}

/// The preview of `ready` against the live deals of `store`, switching at `at`, with `old`
/// the rules running now (when known: a hook failing under both is only a warning).
pub async fn preview(
    store: &Store,
    ready: &Ready,
    old: Option<&Ready>,
    at: DateTime<Utc>,
) -> Result<Preview, StoreError> {
    let mut p = Preview {
        at,
        ..Preview::default()
    };
    let mut tx = store.read().await?;
    let team = tx.team().await?;
    p.running = tx.rules_versions().await?.last().map(|v| v.version);
    drop(tx);
    let ctx = Ctx {
        plan: &ready.plan,
        team: &team,
        script: ready.script.as_ref(),
        now: at,
        site: None,
    };
    let mut stranded: BTreeMap<String, Stranded> = BTreeMap::new();
    let mut hooks = hooks::Hooks::new(ready, old, &team, at);
    hooks.defaults();
    each_live(store, |stored| {
        p.live += 1;
        match switch_stored(ctx, stored, &mut hooks) {
            Err(Misfit::MissingStages(stages)) => {
                for stage in stages {
                    let s = stranded.entry(stage.clone()).or_insert(Stranded {
                        stage,
                        count: 0,
                        first: Vec::new(),
                    });
                    s.count += 1;
                    if s.first.len() < NAMED {
                        s.first.push(stored.id.clone());
                    }
                }
            }
            Ok(d) => {
                if let Some(d) = d {
                    p.deals.push(d);
                }
            }
        }
    })
    .await?;
    p.stranded = stranded.into_values().collect();
    p.warnings.extend(idle_migrations(&ready.plan, &p.deals));
    p.hooks_tried = hooks.tried;
    for h in hooks.failures.iter().filter(|h| h.also_now) {
        p.warnings.push(format!(
            "{} fails for deal `{}` under the running rules too: {}",
            h.tried, h.deal, h.error
        ));
    }
    p.hooks = hooks.failures;
    p.summary = summary(&p);
    Ok(p)
}

/// `migrate` lines that no live deal needs: they can be deleted.
fn idle_migrations(plan: &crate::compile::Plan, deals: &[DealPreview]) -> Vec<String> {
    let used = |stage: bool, old: &str| {
        deals.iter().flat_map(|d| &d.changes).any(|c| match c {
            Change::StageMigrated { from, .. } => stage && from == old,
            Change::FieldCarried { from, .. } => !stage && from == old,
            _ => false,
        })
    };
    let mut out: Vec<(usize, String)> = Vec::new();
    for (old, m) in &plan.migrations.stages {
        if !used(true, old) {
            out.push((
                m.line,
                format!(
                    "line {}: `migrate stage {old} -> {}` matches no live deal; it can be deleted",
                    m.line, plan.stages[m.to].name
                ),
            ));
        }
    }
    for (old, m) in &plan.migrations.fields {
        if !used(false, old) {
            out.push((
                m.line,
                format!(
                    "line {}: `migrate field {old} -> {}` matches no live deal; it can be deleted",
                    m.line, plan.fields[m.to].name
                ),
            ));
        }
    }
    out.sort();
    out.into_iter().map(|(_, w)| w).collect()
}

/// Calls `f` with every live deal of the store, in id order, a page at a time.
pub async fn each_live(store: &Store, mut f: impl FnMut(&StoredDeal)) -> Result<(), StoreError> {
    let mut after = String::new();
    loop {
        let mut tx = store.read().await?;
        let page = tx.live_deals(&after, PAGE).await?;
        let Some(last) = page.last().cloned() else {
            return Ok(());
        };
        let mut read = tx.load_deals(&page).await?;
        // Ended at once: on PostgreSQL the read locked the rows, and a dropped transaction is
        // only rolled back when its connection is next used.
        tx.rollback().await?;
        for id in &page {
            if let Some(d) = read.remove(id) {
                f(&d.stored);
            }
        }
        after = last;
    }
}

/// A stored deal read under the rules of `ctx` and passed to them: the deal as read, and the
/// switch (or why it failed). The reload does the same, deal by deal, in the daemon's batches.
pub fn pass(
    ctx: Ctx<'_>,
    stored: &StoredDeal,
    cause: &str,
) -> Result<(Deal, Result<Switched, StepError>), Misfit> {
    let (deal, left) = stored.read(ctx.plan)?;
    let sw = engine::switch(ctx, &deal, &left, cause);
    Ok((deal, sw))
}

/// What the switch does to one stored deal (`None`: nothing), or why it cannot run it; the
/// deal goes to the hooks' sample.
fn switch_stored(
    ctx: Ctx<'_>,
    stored: &StoredDeal,
    hooks: &mut hooks::Hooks<'_>,
) -> Result<Option<DealPreview>, Misfit> {
    let (deal, sw) = pass(ctx, stored, "new rules")?;
    match &sw {
        Ok(sw) => hooks.live(stored, &sw.outcome.deal),
        Err(_) => hooks.live(stored, &deal),
    }
    let mut d = DealPreview {
        id: stored.id.clone(),
        stages: deal
            .stages()
            .iter()
            .map(|&s| ctx.plan.stages[s].name.clone())
            .collect(),
        ..DealPreview::default()
    };
    let sw = match sw {
        Ok(sw) => sw,
        Err(e) => {
            d.failed = Some(format!("cannot pass to the new rules: {}", e.message()));
            return Ok(Some(d));
        }
    };
    if !sw.changed() {
        return Ok(None);
    }
    for r in &sw.outcome.records {
        match &r.kind {
            Kind::AlertRaised { alert } => d.raised.push(alert.clone()),
            Kind::AlertCleared { alert } => d.cleared.push(alert.clone()),
            _ => {}
        }
    }
    d.changes = sw.changes.clone();
    let (messages, failed) = fire_overdue(ctx, sw.outcome.deal, &sw.changes);
    d.messages = messages;
    d.failed = failed;
    Ok(Some(d))
}

/// The timers whose moment has passed fire right after the switch, earliest first: the
/// messages they send, and the first failure.
fn fire_overdue(
    ctx: Ctx<'_>,
    mut deal: Deal,
    changes: &[Change],
) -> (Vec<Message>, Option<String>) {
    let mut due: Vec<(DateTime<Utc>, u64, &str)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::TimerAdded {
                overdue: true,
                id,
                fires_at,
                timer,
            } => Some((*fires_at, *id, timer.as_str())),
            Change::TimerMoved {
                overdue: true,
                id,
                to,
                timer,
                ..
            } => Some((*to, *id, timer.as_str())),
            _ => None,
        })
        .collect();
    due.sort();
    let mut messages = Vec::new();
    for (_, id, timer) in due {
        match engine::apply(ctx, &deal, &Input::Timer { id }) {
            Ok(out) => {
                messages.extend(out.records.iter().filter_map(|r| message(timer, r)));
                deal = out.deal;
            }
            Err(e) => {
                return (
                    messages,
                    Some(format!(
                        "timer «{timer}» would fail right after the switch: {}",
                        e.message()
                    )),
                );
            }
        }
    }
    (messages, None)
}

fn message(timer: &str, r: &Record) -> Option<Message> {
    match &r.kind {
        Kind::Notification {
            to_kind,
            to,
            channel,
            template,
            subject,
            text,
            ..
        } => Some(Message {
            timer: timer.to_string(),
            channel,
            to_kind,
            to: to.clone(),
            template: template.clone(),
            subject: subject.clone(),
            text: text.clone(),
        }),
        _ => None,
    }
}

fn summary(p: &Preview) -> Summary {
    let mut s = Summary {
        stranded: p.stranded.iter().map(|x| x.count).sum(),
        hooks_failing: p.hooks.iter().filter(|h| !h.also_now).count(),
        ..Summary::default()
    };
    for d in &p.deals {
        if d.failed.is_some() {
            s.failed += 1;
        }
        if !d.changes.is_empty() || !d.raised.is_empty() || !d.cleared.is_empty() {
            s.deals_changed += 1;
        }
        for c in &d.changes {
            match c {
                Change::StageMigrated { .. } => s.stages_migrated += 1,
                Change::FieldCarried { .. } => s.fields_carried += 1,
                Change::TimerAdded { overdue, .. } => {
                    s.timers_added += 1;
                    s.fire_at_switch += usize::from(*overdue);
                }
                Change::TimerMoved { overdue, .. } => {
                    s.timers_moved += 1;
                    s.fire_at_switch += usize::from(*overdue);
                }
                Change::TimerDropped { .. } => s.timers_dropped += 1,
                Change::TimerNotRearmed { .. } => s.timers_not_rearmed += 1,
            }
        }
        s.alerts_raised += d.raised.len();
        s.alerts_cleared += d.cleared.len();
        s.messages += d.messages.len();
    }
    s
}

/// The rules the database runs now, as it recorded them (`None` when it has none, or they no
/// longer read: then every failing hook counts as new).
pub async fn running_rules(store: &crate::store::Store) -> Option<crate::load::Ready> {
    let mut tx = store.read().await.ok()?;
    let latest = tx.rules_versions().await.ok()?.last()?.version;
    let (file, text, script) = tx.rules_text(latest).await.ok()??;
    drop(tx);
    let source = crate::source::SourceFile::new(file, text);
    let loader = move |_: &str| {
        script
            .clone()
            .ok_or_else(|| "no script recorded".to_string())
    };
    crate::prepare(&source, &loader).ok()
}
