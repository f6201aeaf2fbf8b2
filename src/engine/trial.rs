//! Trying new rules' hooks on a deal before the rules run: every template the rules can send,
//! rendered for the deal and passed through the notify hook exactly as a step would (to the
//! client, and to the responsible person when the client has no address for it); every call
//! into the script the pipeline makes outside an event or a `for each`, with the deal's values
//! as the engine would give them (unset stays unset). Nothing is recorded or sent: the step
//! that tries is thrown away.

use super::eval::Env;
use super::{Ctx, Deal, Kind, StepError, Stepper};
use crate::compile::{Action, Channel, Expr, Plan, StageId, Text, TextPart, Trigger, Who};

/// What was tried.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tried {
    /// A template, rendered and passed through the notify hook.
    Template {
        /// The template.
        name: String,
        /// `sms` or `email`.
        channel: &'static str,
    },
    /// A call into the script.
    Function {
        /// The function.
        name: String,
    },
}

impl std::fmt::Display for Tried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tried::Template { name, channel } => write!(f, "template `{name}` ({channel})"),
            Tried::Function { name } => write!(f, "function `{name}`"),
        }
    }
}

/// Tries the rules of `ctx` on `deal`: what was tried, and how it went.
pub fn trial(ctx: Ctx<'_>, deal: &Deal) -> Vec<(Tried, Result<(), String>)> {
    let plan = ctx.plan;
    let stage = deal
        .tracks
        .iter()
        .find(|t| t.state == super::TrackState::Active)
        .map_or(0, |t| t.stage);
    let env = Env::stage(stage);
    let mut out = Vec::new();
    for (i, tpl) in plan.templates.iter().enumerate() {
        let channels = [
            (tpl.sms.is_some(), Channel::Sms),
            (tpl.email.is_some(), Channel::Email),
        ];
        for (_, ch) in channels.into_iter().filter(|(has, _)| *has) {
            let tried = Tried::Template {
                name: tpl.name.clone(),
                channel: ch.name(),
            };
            out.push((tried, template(ctx, deal, i, ch, &env)));
        }
    }
    let mut calls = Vec::new();
    collect_calls(plan, &mut calls);
    let mut seen: Vec<&str> = Vec::new();
    for (call, scope) in &calls {
        let Expr::Script(name, _) = call else {
            continue;
        };
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        let mut s = Stepper::new(ctx, deal.clone(), "trial");
        let env = scope.map_or_else(Env::default, Env::stage);
        let result = s.eval(call, &env).map(|_| ());
        out.push((Tried::Function { name: name.clone() }, result));
    }
    out
}

/// A template for the deal on one channel: to the client, or (the client has no address for
/// it) to the responsible person.
fn template(ctx: Ctx<'_>, deal: &Deal, i: usize, ch: Channel, env: &Env) -> Result<(), String> {
    let mut last = Ok(());
    for who in [Who::Client, Who::Responsible] {
        let mut s = Stepper::new(ctx, deal.clone(), "trial");
        last = s.notify(who, ch, i, env, 0).map_err(|e| match e {
            StepError::Failed(m) => m,
            other => other.message().to_string(),
        });
        let sent = s
            .records
            .iter()
            .any(|r| matches!(r.kind, Kind::Notification { .. }));
        if last.is_err() || sent {
            return last;
        }
    }
    last
}

/// Every call into the script outside an event's block and a `for each` (where its values
/// would be made up), with the stage it runs in.
fn collect_calls<'p>(plan: &'p Plan, out: &mut Vec<(&'p Expr, Option<StageId>)>) {
    for (st, def) in plan.stages.iter().enumerate() {
        let at = Some(st);
        if let Some(e) = &def.skip {
            calls_in(e, at, out);
        }
        for r in def.on_enter.iter().chain(&def.on_exit) {
            actions(&r.body, at, out);
        }
        for t in &def.timers {
            let (crate::compile::TimerAt::After(e) | crate::compile::TimerAt::At { at: e, .. }) =
                &t.at;
            calls_in(e, at, out);
            if let Some(g) = &t.guard {
                calls_in(g, at, out);
            }
            actions(&t.rule.body, at, out);
        }
        for t in &def.transitions {
            if matches!(t.trigger, Trigger::On(_)) {
                continue;
            }
            if let Trigger::Timer(
                crate::compile::TimerAt::After(e) | crate::compile::TimerAt::At { at: e, .. },
            ) = &t.trigger
            {
                calls_in(e, at, out);
            }
            if let Some(g) = &t.guard {
                calls_in(g, at, out);
            }
            actions(&t.body, at, out);
        }
    }
    for a in &plan.alerts {
        calls_in(&a.cond, None, out);
    }
}

fn actions<'p>(
    body: &'p [Action],
    at: Option<StageId>,
    out: &mut Vec<(&'p Expr, Option<StageId>)>,
) {
    for a in body {
        match a {
            Action::Set(_, e) => calls_in(e, at, out),
            Action::Task {
                title,
                due,
                estimate,
                ..
            } => {
                text(title, at, out);
                for e in due.iter().chain(estimate) {
                    calls_in(e, at, out);
                }
            }
            Action::Group { title, .. } => text(title, at, out),
            Action::Spawn { title, sets, .. } => {
                text(title, at, out);
                for (_, e) in sets {
                    calls_in(e, at, out);
                }
            }
            // Templates are tried whole; a `for each` body's values come from its list.
            Action::Notify { .. } | Action::ForEach { .. } => {}
        }
    }
}

fn text<'p>(t: &'p Text, at: Option<StageId>, out: &mut Vec<(&'p Expr, Option<StageId>)>) {
    for p in &t.parts {
        if let TextPart::Expr(e) = p {
            calls_in(e, at, out);
        }
    }
}

/// The script calls in `e` whose values do not depend on an event or a loop.
fn calls_in<'p>(e: &'p Expr, at: Option<StageId>, out: &mut Vec<(&'p Expr, Option<StageId>)>) {
    match e {
        Expr::Script(_, args) => {
            if args.iter().all(|a| !made_up(a)) {
                out.push((e, at));
            }
            for a in args {
                calls_in(a, at, out);
            }
        }
        Expr::Builtin(_, args) => {
            for a in args {
                calls_in(a, at, out);
            }
        }
        Expr::Member(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::IsSet(x, _) => {
            calls_in(x, at, out)
        }
        Expr::Binary(_, a, b) => {
            calls_in(a, at, out);
            calls_in(b, at, out);
        }
        _ => {}
    }
}

/// Whether a value comes from an event or a loop variable (unknown outside them).
fn made_up(e: &Expr) -> bool {
    match e {
        Expr::Local(_) | Expr::EventValue(_) => true,
        Expr::Script(_, args) | Expr::Builtin(_, args) => args.iter().any(made_up),
        Expr::Member(x, _) | Expr::Not(x) | Expr::Neg(x) | Expr::IsSet(x, _) => made_up(x),
        Expr::Binary(_, a, b) => made_up(a) || made_up(b),
        _ => false,
    }
}
