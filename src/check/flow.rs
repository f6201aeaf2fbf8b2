//! The flow of stages: can deals reach every stage, leave every stage, complete every join?

use std::collections::{HashMap, HashSet};

use super::Checker;
use crate::ast::*;
use crate::diag::{Diagnostic, codes};

/// A point where tracks split: a transition or a spawn with several targets.
struct Split<'a> {
    targets: Vec<&'a str>,
}

pub(super) fn check(cx: &mut Checker<'_>) {
    let stages: Vec<&Stage> = cx.sym.stages.values().copied().collect();
    if stages.is_empty() {
        return;
    }
    let known: HashSet<&str> = stages.iter().map(|s| s.id.name.as_str()).collect();
    // Edges by transition; entries by spawn; splits for joins.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut entered: HashSet<&str> = HashSet::new();
    let mut splits: Vec<Split<'_>> = Vec::new();
    for s in &stages {
        let from = s.id.name.as_str();
        for t in s.transitions() {
            let targets: Vec<&str> = t
                .targets
                .iter()
                .map(|i| i.name.as_str())
                .filter(|n| known.contains(n))
                .collect();
            for &to in &targets {
                edges.entry(from).or_default().push(to);
                if to != from {
                    entered.insert(to);
                }
            }
            if targets.len() > 1 {
                splits.push(Split { targets });
            }
        }
        visit_actions(s, &mut |a| {
            if let ActionKind::Spawn { targets, .. } = &a.kind {
                let targets: Vec<&str> = targets
                    .iter()
                    .map(|i| i.name.as_str())
                    .filter(|n| known.contains(n))
                    .collect();
                entered.extend(targets.iter().copied());
                if targets.len() > 1 {
                    splits.push(Split { targets });
                }
            }
        });
    }
    let first = stages[0].id.name.as_str();
    for s in &stages {
        let name = s.id.name.as_str();
        let transitions: Vec<&Transition> = s.transitions().collect();
        if name != first && !entered.contains(name) {
            cx.push(
                Diagnostic::warning(codes::UNREACHABLE_STAGE, s.id.span, format!("no transition leads to stage `{name}`"))
                    .with_label("never entered by a transition")
                    .with_help("deals can still be created here; if that is not meant, add `-> STAGE` to the stage before it".to_string()),
            );
        }
        if transitions.is_empty() && !s.is_final {
            cx.push(
                Diagnostic::error(codes::NO_WAY_OUT, s.id.span, format!("deals that reach stage `{name}` can never leave it"))
                    .with_label("no `->` line")
                    .with_help(format!("add a transition like `-> next_stage on some_event`, or mark it `stage {name} \"…\" final`")),
            );
        }
        if s.is_final && !transitions.is_empty() {
            for t in &transitions {
                cx.push(
                    Diagnostic::warning(
                        codes::TRANSITION_SHADOWED,
                        t.span,
                        format!("stage `{name}` is final, so this transition is never taken"),
                    )
                    .with_label("never taken")
                    .with_help("remove `final` from the stage, or remove this line".to_string()),
                );
            }
        }
        let skip = s
            .lines()
            .iter()
            .find(|l| matches!(l.kind, StageLineKind::Skip(_)));
        if let Some(skip) = skip
            && transitions.is_empty()
        {
            cx.push(
                Diagnostic::error(
                    codes::SKIP_WITHOUT_EXIT,
                    skip.span,
                    format!("stage `{name}` can be skipped, but has no `->` to leave through"),
                )
                .with_label("skipped deals would have nowhere to go")
                .with_help(
                    "a skipped stage leaves through its first `->` line; add one".to_string(),
                ),
            );
        }
        shadowed(cx, name, &transitions);
        if s.join {
            join(cx, s, &edges, &splits);
        }
    }
    unhandled_events(cx);
}

/// Warns about a transition that an earlier, unconditional one with the same trigger always wins.
fn shadowed(cx: &mut Checker<'_>, stage: &str, transitions: &[&Transition]) {
    let key = |t: &Transition| -> Option<String> {
        match &t.trigger {
            None => Some(String::new()),
            Some(Trigger::On(e)) => Some(format!("on {}", e.name)),
            Some(_) => None,
        }
    };
    let mut open: HashMap<String, Span> = HashMap::new();
    for t in transitions {
        let Some(k) = key(t) else { continue };
        if let Some(prev) = open.get(&k) {
            let what = if k.is_empty() {
                "taken at once".to_string()
            } else {
                format!("taken {k}")
            };
            cx.push(
                Diagnostic::warning(
                    codes::TRANSITION_SHADOWED,
                    t.span,
                    format!("this transition of stage `{stage}` is never taken"),
                )
                .with_label("never taken")
                .with_related(
                    *prev,
                    format!("this line comes first, has no `when`, and is {what}"),
                )
                .with_help(
                    "give the earlier line a `when`, or put this line before it".to_string(),
                ),
            );
        } else if t.guard.is_none() {
            open.insert(k, t.span);
        }
    }
}

/// A join needs two tracks that can both arrive: a split whose targets reach it separately.
fn join(cx: &mut Checker<'_>, s: &Stage, edges: &HashMap<&str, Vec<&str>>, splits: &[Split<'_>]) {
    let name = s.id.name.as_str();
    let reaches = |from: &str| -> bool {
        let mut seen = HashSet::new();
        let mut todo = vec![from];
        while let Some(x) = todo.pop() {
            if x == name {
                return true;
            }
            if seen.insert(x) {
                todo.extend(edges.get(x).into_iter().flatten().copied());
            }
        }
        false
    };
    let completable = splits
        .iter()
        .any(|sp| sp.targets.iter().filter(|t| reaches(t)).count() >= 2);
    if !completable {
        cx.push(
            Diagnostic::error(codes::JOIN_NEVER_COMPLETES, s.id.span, format!("join stage `{name}` can never be completed: no two parallel tracks lead to it"))
                .with_label("waits for tracks that never come")
                .with_help("start parallel tracks with `-> a & b` or `spawn deal … at a & b` so that each reaches this stage, or remove `join`".to_string()),
        );
    }
}

fn unhandled_events(cx: &mut Checker<'_>) {
    let mut handled: HashSet<String> = HashSet::new();
    for s in cx.sym.stages.values() {
        for line in s.lines() {
            match &line.kind {
                StageLineKind::OnEvent { event, .. } => {
                    handled.insert(event.name.clone());
                }
                StageLineKind::Transition(Transition {
                    trigger: Some(Trigger::On(e)),
                    ..
                }) => {
                    handled.insert(e.name.clone());
                }
                _ => {}
            }
        }
    }
    let mut events: Vec<&EventDecl> = cx.sym.events.values().copied().collect();
    events.sort_by_key(|e| e.span.start);
    for e in events {
        if !handled.contains(&e.id.name) {
            cx.push(
                Diagnostic::warning(
                    codes::EVENT_NEVER_HANDLED,
                    e.id.span,
                    format!("no stage handles event `{}`", e.id.name),
                )
                .with_label("sending it is always refused")
                .with_help(format!(
                    "add `on {} {{ … }}` or `-> STAGE on {}` to a stage, or remove the event",
                    e.id.name, e.id.name
                )),
            );
        }
    }
}

/// Calls `f` on every action of a stage, nested ones included.
pub fn visit_actions<'s>(s: &'s Stage, f: &mut dyn FnMut(&'s Action)) {
    fn walk<'s>(actions: &'s [Action], f: &mut dyn FnMut(&'s Action)) {
        for a in actions {
            f(a);
            match &a.kind {
                ActionKind::ForEach { body, .. } => walk(&body.actions, f),
                ActionKind::Spawn { body, .. } => walk(body, f),
                _ => {}
            }
        }
    }
    for line in s.lines() {
        match &line.kind {
            StageLineKind::OnEnter(b)
            | StageLineKind::OnExit(b)
            | StageLineKind::OnEvent { body: b, .. }
            | StageLineKind::After { body: b, .. }
            | StageLineKind::At { body: b, .. } => walk(&b.actions, f),
            StageLineKind::Transition(t) => {
                if let Some(b) = &t.body {
                    walk(&b.actions, f);
                }
            }
            StageLineKind::Require(_) | StageLineKind::Skip(_) => {}
        }
    }
}
