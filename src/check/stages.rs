//! Stages: what they require, when they are skipped, what they do on entering, leaving, an
//! event or a timer, and where they lead; the actions inside, and the events they handle.

use super::{CHANNELS, Checker, Def, RECIPIENTS, expr, set_help};
use crate::ast::*;
use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::types::Ty;

impl<'a> Checker<'a> {
    pub(super) fn stage(&mut self, s: &'a Stage) {
        self.timer_names(s);
        for line in s.lines() {
            let base = expr::Scope::stage();
            match &line.kind {
                StageLineKind::Require(names) => {
                    for n in names {
                        self.field_or_role(n, "required");
                    }
                }
                StageLineKind::Skip(cond) => self.condition(cond, &base),
                StageLineKind::OnEnter(b) | StageLineKind::OnExit(b) => self.block(b, &base),
                StageLineKind::OnEvent { event, guard, body } => {
                    let scope = self.event_scope(event);
                    if let Some(g) = guard {
                        self.condition(g, &scope);
                    }
                    self.block(body, &scope);
                }
                StageLineKind::After {
                    delay, guard, body, ..
                } => {
                    self.duration(delay, &base);
                    if let Some(g) = guard {
                        self.condition(g, &base);
                    }
                    self.block(body, &base);
                }
                StageLineKind::At {
                    end_of,
                    at,
                    guard,
                    body,
                    ..
                } => {
                    self.moment(at, *end_of, &base);
                    if let Some(g) = guard {
                        self.condition(g, &base);
                    }
                    self.block(body, &base);
                }
                StageLineKind::Transition(t) => {
                    for target in &t.targets {
                        self.stage_ref(target);
                    }
                    let scope = match &t.trigger {
                        Some(Trigger::On(ev)) => self.event_scope(ev),
                        Some(Trigger::After(d)) => {
                            self.duration(d, &base);
                            base.clone()
                        }
                        Some(Trigger::At { end_of, at }) => {
                            self.moment(at, *end_of, &base);
                            base.clone()
                        }
                        None => base.clone(),
                    };
                    if let Some(g) = &t.guard {
                        self.condition(g, &scope);
                    }
                    if let Some(b) = &t.body {
                        self.block(b, &scope);
                    }
                }
            }
        }
    }

    /// A timer's name (`as NAME`) is its identity within the stage: given once.
    fn timer_names(&mut self, s: &Stage) {
        let mut seen: Vec<&Ident> = Vec::new();
        for line in s.lines() {
            let name = match &line.kind {
                StageLineKind::After { name, .. } | StageLineKind::At { name, .. } => name,
                StageLineKind::Transition(t) => &t.timer_name,
                _ => &None,
            };
            let Some(name) = name else { continue };
            match seen.iter().find(|n| n.name == name.name) {
                Some(first) => {
                    let first = first.span;
                    self.push(
                        Diagnostic::error(
                            codes::DUPLICATE,
                            name.span,
                            format!(
                                "stage `{}` has two timers named `{}`",
                                s.id.name, name.name
                            ),
                        )
                        .with_label("named again here")
                        .with_related(first, "first named here")
                        .with_help(
                            "a timer's name is how it is found again when the rules change; give each its own"
                                .to_string(),
                        ),
                    );
                }
                None => seen.push(name),
            }
        }
    }

    /// The scope of a block that handles `event` (reporting the event if it is unknown).
    fn event_scope(&mut self, event: &Ident) -> expr::Scope<'a> {
        let found =
            (self.sym.events.id(&event.name)).zip(self.sym.events.get(&event.name).copied());
        match found {
            Some((id, decl)) => {
                self.names.record(event, Def::Event(id));
                expr::Scope::event(decl)
            }
            None => {
                let names = self.sym.events.names();
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_EVENT,
                        event.span,
                        format!("there is no event `{}`", event.name),
                    )
                    .with_label("unknown event")
                    .with_help(
                        did_you_mean(&event.name, names)
                            .unwrap_or_else(|| format!("declare it: `event {}`", event.name)),
                    ),
                );
                expr::Scope::unknown_event()
            }
        }
    }

    fn block(&mut self, b: &Block, scope: &expr::Scope<'a>) {
        for a in &b.actions {
            self.action(a, scope);
        }
    }

    fn action(&mut self, a: &Action, scope: &expr::Scope<'a>) {
        match &a.kind {
            ActionKind::Set { target, value } => self.set(target, value, scope),
            ActionKind::Notify { who, via, template } => self.notify(who, via, template),
            ActionKind::Task {
                role,
                due,
                estimate,
                title,
                ..
            } => {
                self.string(title, scope);
                self.role_ref(role);
                if let Some(d) = due {
                    self.duration(d, scope);
                }
                if let Some(e) = estimate {
                    self.duration(e, scope);
                }
            }
            ActionKind::Group { title, roles } => {
                self.string(title, scope);
                for r in roles {
                    self.role_ref(r);
                }
            }
            ActionKind::Spawn {
                title,
                targets,
                body,
                ..
            } => {
                self.string(title, scope);
                for t in targets {
                    self.stage_ref(t);
                }
                for a in body {
                    self.action(a, scope);
                }
            }
            ActionKind::ForEach { var, list, body } => {
                let ty = self.expr(list, scope);
                let item = match ty {
                    Ty::List(rec) => Ty::Record(rec),
                    Ty::Unknown => Ty::Unknown,
                    other => {
                        self.push(
                            Diagnostic::error(codes::NOT_A_LIST, list.span, format!("`for each` needs a list, but this is {other}"))
                                .with_label("not a list")
                                .with_help("loop over a list the event carries, e.g. `for each c in event.contracts`".to_string()),
                        );
                        Ty::Unknown
                    }
                };
                let inner = scope.with_var(&var.name, item);
                self.block(body, &inner);
            }
        }
    }

    fn set(&mut self, target: &Ident, value: &Expr, scope: &expr::Scope<'a>) {
        let field_ty = self.field_or_role(target, "set");
        self.refuse_derived(target, "`set`");
        let value_ty = self.expr(value, scope);
        if let Some(ft) = field_ty
            && !ft.accepts(&value_ty)
        {
            self.push(
                Diagnostic::error(
                    codes::SET_TYPE,
                    value.span,
                    format!("`{}` holds {ft}, but this is {value_ty}", target.name),
                )
                .with_label(format!("this is {value_ty}"))
                .with_help(set_help(&ft, &value_ty)),
            );
        }
    }

    fn notify(&mut self, who: &[Ident], via: &[Ident], template: &Ident) {
        for w in who {
            if RECIPIENTS.contains(&w.name.as_str()) {
                continue;
            }
            if let Some(id) = self.sym.roles.id(&w.name) {
                self.names.record(w, Def::Role(id));
                continue;
            }
            let mut names = self.sym.roles.names();
            names.extend(RECIPIENTS);
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_RECIPIENT,
                    w.span,
                    format!("`{}` is not someone a message can go to", w.name),
                )
                .with_label("unknown recipient")
                .with_help(
                    did_you_mean(&w.name, names)
                        .unwrap_or_else(|| "write `client`, `responsible` or a role".into()),
                ),
            );
        }
        let tpl = self.sym.templates.get(&template.name).copied();
        if let Some(id) = self.sym.templates.id(&template.name) {
            self.names.record(template, Def::Template(id));
        } else {
            let names = self.sym.templates.names();
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_TEMPLATE,
                    template.span,
                    format!("there is no template `{}`", template.name),
                )
                .with_label("unknown template")
                .with_help(did_you_mean(&template.name, names).unwrap_or_else(|| {
                    format!("declare it: `template {} {{ sms \"…\" }}`", template.name)
                })),
            );
        }
        for ch in via {
            if !CHANNELS.contains(&ch.name.as_str()) {
                self.push(
                    Diagnostic::error(
                        codes::UNKNOWN_CHANNEL,
                        ch.span,
                        format!("`{}` is not a channel", ch.name),
                    )
                    .with_label("unknown channel")
                    .with_help(
                        did_you_mean(&ch.name, CHANNELS.iter().copied()).unwrap_or_else(|| {
                            "messages go `via sms`, `via email`, `via telegram`, or several".into()
                        }),
                    ),
                );
                continue;
            }
            if let Some(t) = tpl {
                // Telegram takes the SMS text, else the email.
                let has = t.parts.iter().any(|p| match p {
                    TemplatePart::Sms { .. } => ch.name == "sms" || ch.name == "telegram",
                    TemplatePart::Email { .. } => ch.name == "email" || ch.name == "telegram",
                });
                if !has {
                    self.push(
                        Diagnostic::error(codes::TEMPLATE_CHANNEL, ch.span, format!("template `{}` has no {} text", t.id.name, ch.name))
                            .with_label(format!("sent by {}", ch.name))
                            .with_related(t.id.span, "template declared here")
                            .with_help(match ch.name.as_str() {
                                "sms" => "add `sms \"…\"` to the template, or send it by email only".to_string(),
                                "email" => "add `email subject \"…\" body \"…\"` to the template, or send it by sms only".to_string(),
                                _ => "Telegram sends the template's `sms` text, else its email: add one of them".to_string(),
                            }),
                    );
                }
            }
        }
    }
}
