//! Stage lines (`require`, `skip when`, `on …`, `after`, `at`, `->`) and the actions inside
//! their blocks.

use pest::iterators::Pair;

use super::{Builder, children, ident, is_keyword, span};
use crate::ast::*;
use crate::parse::grammar::Rule;

impl Builder {
    pub(super) fn stage_line(&mut self, pair: Pair<'_, Rule>) -> Option<StageLine> {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let mut it = children(pair).filter(|p| !is_keyword(p)).peekable();
        let kind = match rule {
            Rule::require => StageLineKind::Require(it.map(ident).collect()),
            Rule::skip => StageLineKind::Skip(self.expr(it.next()?)),
            Rule::on_enter => StageLineKind::OnEnter(self.block(it.next()?)),
            Rule::on_exit => StageLineKind::OnExit(self.block(it.next()?)),
            Rule::on_event => {
                let event = ident(it.next()?);
                let guard = self.guard(&mut it);
                StageLineKind::OnEvent {
                    event,
                    guard,
                    body: self.block(it.next()?),
                }
            }
            Rule::after_timer => {
                let delay = self.expr(it.next()?);
                let name = timer_name(&mut it);
                let guard = self.guard(&mut it);
                StageLineKind::After {
                    delay,
                    name,
                    guard,
                    body: self.block(it.next()?),
                }
            }
            Rule::at_timer => {
                let end_of = it.next_if(|p| p.as_rule() == Rule::end_of).is_some();
                let at = self.expr(it.next()?);
                let name = timer_name(&mut it);
                let guard = self.guard(&mut it);
                StageLineKind::At {
                    end_of,
                    at,
                    name,
                    guard,
                    body: self.block(it.next()?),
                }
            }
            _ => {
                let targets = children(it.next()?).map(ident).collect();
                let mut t = Transition {
                    targets,
                    trigger: None,
                    timer_name: None,
                    guard: None,
                    body: None,
                    span: sp,
                };
                for p in it {
                    match p.as_rule() {
                        Rule::trigger_on => {
                            t.trigger = children(p).nth(1).map(|e| Trigger::On(ident(e)));
                        }
                        Rule::trigger_after => {
                            let mut parts = children(p).skip(1).peekable();
                            t.trigger = parts.next().map(|e| Trigger::After(self.expr(e)));
                            t.timer_name = timer_name(&mut parts);
                        }
                        Rule::trigger_at => {
                            let mut parts = children(p).skip(1).peekable();
                            let end_of = parts.next_if(|p| p.as_rule() == Rule::end_of).is_some();
                            if let Some(e) = parts.next() {
                                t.trigger = Some(Trigger::At {
                                    end_of,
                                    at: self.expr(e),
                                });
                            }
                            t.timer_name = timer_name(&mut parts);
                        }
                        Rule::guard => t.guard = children(p).nth(1).map(|e| self.expr(e)),
                        _ => t.body = Some(self.block(p)),
                    }
                }
                StageLineKind::Transition(t)
            }
        };
        Some(StageLine { kind, span: sp })
    }

    fn guard<'i>(
        &mut self,
        it: &mut std::iter::Peekable<impl Iterator<Item = Pair<'i, Rule>>>,
    ) -> Option<Expr> {
        let g = it.next_if(|p| p.as_rule() == Rule::guard)?;
        children(g).nth(1).map(|e| self.expr(e))
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let sp = span(&pair);
        Block {
            actions: children(pair).filter_map(|a| self.action(a)).collect(),
            span: sp,
        }
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Option<Action> {
        let sp = span(&pair);
        let rule = pair.as_rule();
        if rule == Rule::notify {
            return notify(pair).map(|kind| Action { kind, span: sp });
        }
        let mut it = children(pair).filter(|p| !is_keyword(p));
        let kind = match rule {
            Rule::set_action => {
                let target = ident(it.next()?);
                ActionKind::Set {
                    target,
                    value: self.expr(it.next()?),
                }
            }
            Rule::task => {
                let id = ident(it.next()?);
                let title = self.string(it.next()?);
                let role = ident(it.next()?);
                let (mut due, mut estimate) = (None, None);
                for p in it {
                    let is_due = p.as_rule() == Rule::task_due;
                    let value = children(p).nth(1).map(|e| self.expr(e));
                    if is_due {
                        due = value
                    } else {
                        estimate = value
                    }
                }
                ActionKind::Task {
                    id,
                    title,
                    role,
                    due,
                    estimate,
                }
            }
            Rule::group => {
                let title = self.string(it.next()?);
                ActionKind::Group {
                    title,
                    roles: it.map(ident).collect(),
                }
            }
            Rule::spawn => {
                let title = self.string(it.next()?);
                let targets = children(it.next()?).map(ident).collect();
                let body_pair = it.next();
                let has_body = body_pair.is_some();
                let body = body_pair
                    .map(|b| children(b).filter_map(|a| self.action(a)).collect())
                    .unwrap_or_default();
                ActionKind::Spawn {
                    title,
                    targets,
                    body,
                    has_body,
                }
            }
            _ => {
                let var = ident(it.next()?);
                let list = self.expr(it.next()?);
                ActionKind::ForEach {
                    var,
                    list,
                    body: self.block(it.next()?),
                }
            }
        };
        Some(Action { kind, span: sp })
    }
}

/// Splits `notify a, b via sms, email with t` into its three lists at the keywords.
fn notify(pair: Pair<'_, Rule>) -> Option<ActionKind> {
    let (mut who, mut via, mut template) = (Vec::new(), Vec::new(), None);
    let mut section = 0;
    for p in children(pair) {
        match p.as_rule() {
            Rule::k_notify => {}
            Rule::k_via => section = 1,
            Rule::k_with => section = 2,
            _ if section == 0 => who.push(ident(p)),
            _ if section == 1 => via.push(ident(p)),
            _ => template = Some(ident(p)),
        }
    }
    Some(ActionKind::Notify {
        who,
        via,
        template: template?,
    })
}

/// `as NAME` after a timer's moment, if it is there.
fn timer_name<'i>(
    it: &mut std::iter::Peekable<impl Iterator<Item = Pair<'i, Rule>>>,
) -> Option<Ident> {
    let n = it.next_if(|p| p.as_rule() == Rule::timer_name)?;
    children(n).find(|p| p.as_rule() == Rule::ident).map(ident)
}
