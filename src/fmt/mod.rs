//! The canonical layout of a pipeline file. Comments are kept where they were (a comment inside
//! a line moves above it); blank lines between lines are kept, at most one. Idempotent: the
//! layout of a formatted file is the file itself.

mod printer;

use crate::ast::*;
use crate::print;
use printer::Printer;

/// Lines longer than this are broken where the language allows.
const WIDTH: usize = 100;

/// Formats a parsed file; `source` is the text it was parsed from (for comments and blanks).
pub fn format(file: &File, source: &str) -> String {
    let mut p = Printer::new(source, &file.comments);
    let widths = run_widths(&file.items);
    for (i, item) in file.items.iter().enumerate() {
        self::item(&mut p, item, widths[i]);
    }
    p.finish()
}

/// For roles, phases and alerts: the id and title widths of the run of like items around each.
fn run_widths(items: &[Item]) -> Vec<(usize, usize)> {
    let key = |it: &Item| -> Option<(u8, usize, usize)> {
        match it {
            Item::Role(r) => Some((0, width(&r.id.name), 0)),
            Item::Phase(p) => Some((1, width(&p.id.name), width(&print::string(&p.title)))),
            Item::Alert(a) => Some((2, width(&a.id.name), width(&print::string(&a.title)))),
            Item::Migrate(m) => {
                let from = match &m.kind {
                    MigrationKind::Stage { from, .. } | MigrationKind::Field { from, .. } => from,
                };
                Some((3, width(&from.name), 0))
            }
            _ => None,
        }
    };
    let mut out = vec![(0, 0); items.len()];
    let mut i = 0;
    while i < items.len() {
        let Some((kind, _, _)) = key(&items[i]) else {
            i += 1;
            continue;
        };
        let mut j = i;
        let (mut w1, mut w2) = (0, 0);
        while j < items.len() {
            match key(&items[j]) {
                Some((k, a, b)) if k == kind => {
                    w1 = w1.max(a);
                    w2 = w2.max(b);
                    j += 1;
                }
                _ => break,
            }
        }
        for slot in &mut out[i..j] {
            *slot = (w1, w2);
        }
        i = j;
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    let n = width(s);
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

fn item(p: &mut Printer<'_>, item: &Item, (w1, w2): (usize, usize)) {
    match item {
        Item::Pipeline(pl) => {
            p.open(
                pl.span,
                format!("pipeline {} {}", pl.id.name, print::string(&pl.title)),
            );
            for s in &pl.settings {
                let text = match &s.kind {
                    SettingKind::Timezone(t) => format!("timezone {}", print::string(t)),
                    SettingKind::Currency(c) => format!("currency {}", c.name),
                    SettingKind::Country(c) => format!("country {}", c.name),
                    SettingKind::Calendar(c) => format!("calendar {}", c.name),
                    SettingKind::Script(s) => format!("script {}", print::string(s)),
                    SettingKind::NotifyHook(f) => format!("notify hook {}", f.name),
                    SettingKind::Maps(a) => format!("maps {}", print::string(a)),
                };
                p.leaf(s.span, text);
            }
            p.close(pl.span);
        }
        Item::Calendar(c) => {
            p.open(c.span, format!("calendar {}", c.id.name));
            for line in &c.lines {
                let (head, items): (&str, Vec<String>) = match &line.kind {
                    CalendarLineKind::Workweek(days) => (
                        "workweek",
                        days.iter()
                            .map(|(a, b)| match b {
                                Some(b) => format!("{}..{}", a.name, b.name),
                                None => a.name.clone(),
                            })
                            .collect(),
                    ),
                    CalendarLineKind::Hours(hours) => (
                        "hours",
                        hours
                            .iter()
                            .map(|(a, b)| {
                                format!("{}..{}", print::time(a.value), print::time(b.value))
                            })
                            .collect(),
                    ),
                    CalendarLineKind::Holidays(days) => (
                        "holidays",
                        days.iter()
                            .map(|(a, b)| {
                                let a = a.value.format("%Y-%m-%d").to_string();
                                match b {
                                    Some(b) => format!("{a}..{}", b.value.format("%Y-%m-%d")),
                                    None => a,
                                }
                            })
                            .collect(),
                    ),
                };
                let text = fill(head, &items, p.indent_width());
                p.leaf(line.span, text);
            }
            p.close(c.span);
        }
        Item::Role(r) => {
            let text = match &r.title {
                Some(t) => format!("role {} {}", pad(&r.id.name, w1), print::string(t)),
                None => format!("role {}", r.id.name),
            };
            p.leaf(r.span, text);
        }
        Item::Fields(fs) => fields(p, fs),
        Item::Event(e) => event(p, e),
        Item::Template(t) => {
            p.open(t.span, format!("template {}", t.id.name));
            for part in &t.parts {
                let text = match part {
                    TemplatePart::Sms { text, .. } => format!("sms {}", print::string(text)),
                    TemplatePart::Email {
                        subject,
                        body,
                        attach,
                        ..
                    } => {
                        let cont = p.continuation();
                        let mut s = format!(
                            "email subject {}\n{cont}body {}",
                            print::string(subject),
                            print::string(body)
                        );
                        if let Some(a) = attach {
                            s.push_str(&format!("\n{cont}attach {}", print::expr(a)));
                        }
                        s
                    }
                };
                p.leaf(part.span(), text);
            }
            p.close(t.span);
        }
        Item::Stage(s) => stage(p, s),
        Item::Phase(ph) => {
            let stages: Vec<&str> = ph.stages.iter().map(|s| s.name.as_str()).collect();
            let text = format!(
                "phase {} {} = {}",
                pad(&ph.id.name, w1),
                pad(&print::string(&ph.title), w2),
                stages.join(", ")
            );
            p.leaf(ph.span, text);
        }
        Item::Alert(a) => {
            let text = format!(
                "alert {} {} when {}",
                pad(&a.id.name, w1),
                pad(&print::string(&a.title), w2),
                print::expr(&a.cond)
            );
            p.leaf(a.span, text);
        }
        Item::Migrate(m) => {
            let text = match &m.kind {
                MigrationKind::Stage { from, to, enter } => format!(
                    "migrate stage {} -> {}{}",
                    pad(&from.name, w1),
                    to.name,
                    if *enter { " with on enter" } else { "" }
                ),
                MigrationKind::Field { from, to } => {
                    format!("migrate field {} -> {}", pad(&from.name, w1), to.name)
                }
            };
            p.leaf(m.span, text);
        }
    }
}

/// `head a, b, c` broken after commas so that no line passes [`WIDTH`].
fn fill(head: &str, items: &[String], indent: usize) -> String {
    let cont = " ".repeat(indent + head.len() + 1);
    let mut out = head.to_string();
    let mut line_len = indent + head.len();
    for (i, it) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{it},")
        } else {
            it.clone()
        };
        if i > 0 && line_len + 1 + width(&piece) > WIDTH {
            out.push('\n');
            out.push_str(&cont);
            line_len = cont.len();
        } else {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(&piece);
        line_len += width(&piece);
    }
    out
}

fn fields(p: &mut Printer<'_>, fs: &Fields) {
    p.open(fs.span, "fields".to_string());
    let w1 = fs
        .fields
        .iter()
        .map(|f| width(&f.name.name) + 1)
        .max()
        .unwrap_or(0);
    let w2 = fs
        .fields
        .iter()
        .map(|f| width(&f.ty.name))
        .max()
        .unwrap_or(0);
    for f in &fs.fields {
        let mut mods = Vec::new();
        if let Some(e) = &f.derived {
            mods.push(format!("= {}", print::expr(e)));
        }
        if f.required {
            mods.push("required".to_string());
        }
        if f.personal {
            mods.push("personal".to_string());
        }
        if let Some(d) = &f.default {
            mods.push(format!("default {}", print::expr(d)));
        }
        if let Some(l) = &f.label {
            mods.push(print::string(l));
        }
        let text = format!(
            "{} {} {}",
            pad(&format!("{}:", f.name.name), w1),
            pad(&f.ty.name, w2),
            mods.join(" ")
        );
        p.leaf(f.span, text.trim_end().to_string());
    }
    p.close(fs.span);
}

fn entry_inline(e: &EventEntry) -> String {
    match &e.ty {
        None => e.name.name.clone(),
        Some(TypeSpec::Named(t)) => format!("{}: {}", e.name.name, t.name),
        Some(TypeSpec::List(entries, _)) => {
            let inner: Vec<String> = entries.iter().map(entry_inline).collect();
            format!("{}: list of {{ {} }}", e.name.name, inner.join(", "))
        }
    }
}

fn event(p: &mut Printer<'_>, e: &EventDecl) {
    let Some(entries) = &e.entries else {
        p.leaf(e.span, format!("event {}", e.id.name));
        return;
    };
    let inner: Vec<String> = entries.iter().map(entry_inline).collect();
    let one_line = if inner.is_empty() {
        format!("event {} {{}}", e.id.name)
    } else {
        format!("event {} {{ {} }}", e.id.name, inner.join(", "))
    };
    if p.indent_width() + width(&one_line) <= WIDTH {
        p.leaf(e.span, one_line);
        return;
    }
    p.open(e.span, format!("event {}", e.id.name));
    entries_block(p, entries);
    p.close(e.span);
}

fn entries_block(p: &mut Printer<'_>, entries: &[EventEntry]) {
    for (i, entry) in entries.iter().enumerate() {
        let comma = if i + 1 < entries.len() { "," } else { "" };
        let line = format!("{}{comma}", entry_inline(entry));
        match &entry.ty {
            Some(TypeSpec::List(inner, _)) if p.indent_width() + width(&line) > WIDTH => {
                p.open(entry.span, format!("{}: list of", entry.name.name));
                entries_block(p, inner);
                p.close_with(entry.span, format!("}}{comma}"));
            }
            _ => p.leaf(entry.span, line),
        }
    }
}

fn stage(p: &mut Printer<'_>, s: &Stage) {
    let mut head = format!("stage {} {}", s.id.name, print::string(&s.title));
    if s.join {
        head.push_str(" join");
    }
    if s.is_final {
        head.push_str(" final");
    }
    let Some(lines) = &s.body else {
        p.leaf(s.span, head);
        return;
    };
    if lines.is_empty() && !p.has_comments_before(s.span.end) {
        p.leaf(s.span, format!("{head} {{}}"));
        return;
    }
    p.open(s.span, head);
    for line in lines {
        let guard = |g: &Option<Expr>| {
            g.as_ref()
                .map(|g| format!(" when {}", print::expr(g)))
                .unwrap_or_default()
        };
        match &line.kind {
            StageLineKind::Require(names) => {
                let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
                p.leaf(line.span, format!("require {}", names.join(", ")));
            }
            StageLineKind::Skip(c) => p.leaf(line.span, format!("skip when {}", print::expr(c))),
            StageLineKind::OnEnter(b) => block(p, line.span, "on enter".into(), b),
            StageLineKind::OnExit(b) => block(p, line.span, "on exit".into(), b),
            StageLineKind::OnEvent {
                event,
                guard: g,
                body,
            } => block(p, line.span, format!("on {}{}", event.name, guard(g)), body),
            StageLineKind::After {
                delay,
                name,
                guard: g,
                body,
            } => block(
                p,
                line.span,
                format!(
                    "after {}{}{}",
                    print::expr(delay),
                    timer_name(name),
                    guard(g)
                ),
                body,
            ),
            StageLineKind::At {
                end_of,
                at,
                name,
                guard: g,
                body,
            } => {
                let eo = if *end_of { "end of " } else { "" };
                block(
                    p,
                    line.span,
                    format!("at {eo}{}{}{}", print::expr(at), timer_name(name), guard(g)),
                    body,
                )
            }
            StageLineKind::Transition(t) => {
                let targets: Vec<&str> = t.targets.iter().map(|i| i.name.as_str()).collect();
                let mut head = format!("-> {}", targets.join(" & "));
                match &t.trigger {
                    Some(Trigger::On(e)) => head.push_str(&format!(" on {}", e.name)),
                    Some(Trigger::After(d)) => head.push_str(&format!(" after {}", print::expr(d))),
                    Some(Trigger::At { end_of, at }) => {
                        let eo = if *end_of { "end of " } else { "" };
                        head.push_str(&format!(" at {eo}{}", print::expr(at)));
                    }
                    None => {}
                }
                head.push_str(&timer_name(&t.timer_name));
                head.push_str(&guard(&t.guard));
                match &t.body {
                    Some(b) => block(p, line.span, head, b),
                    None => p.leaf(line.span, head),
                }
            }
        }
    }
    p.close(s.span);
}

/// ` as NAME`, or nothing.
fn timer_name(name: &Option<Ident>) -> String {
    name.as_ref()
        .map(|n| format!(" as {}", n.name))
        .unwrap_or_default()
}

fn block(p: &mut Printer<'_>, span: Span, head: String, b: &Block) {
    if b.actions.is_empty() && !p.has_comments_before(b.span.end) {
        p.leaf(span, format!("{head} {{}}"));
        return;
    }
    p.open(span, head);
    for a in &b.actions {
        action(p, a);
    }
    p.close(span);
}

fn action(p: &mut Printer<'_>, a: &Action) {
    match &a.kind {
        ActionKind::Set { target, value } => p.leaf(
            a.span,
            format!("set {} = {}", target.name, print::expr(value)),
        ),
        ActionKind::Notify { who, via, template } => {
            let who: Vec<&str> = who.iter().map(|i| i.name.as_str()).collect();
            let via: Vec<&str> = via.iter().map(|i| i.name.as_str()).collect();
            p.leaf(
                a.span,
                format!(
                    "notify {} via {} with {}",
                    who.join(", "),
                    via.join(", "),
                    template.name
                ),
            );
        }
        ActionKind::Task {
            id,
            title,
            role,
            due,
            estimate,
        } => {
            let mut s = format!("task {} {} to {}", id.name, print::string(title), role.name);
            if let Some(d) = due {
                s.push_str(&format!(" due {}", print::expr(d)));
            }
            if let Some(e) = estimate {
                s.push_str(&format!(" estimate {}", print::expr(e)));
            }
            p.leaf(a.span, s);
        }
        ActionKind::Group { title, roles } => {
            let roles: Vec<&str> = roles.iter().map(|i| i.name.as_str()).collect();
            p.leaf(
                a.span,
                format!("group {} with {}", print::string(title), roles.join(", ")),
            );
        }
        ActionKind::Spawn {
            title,
            targets,
            body,
            has_body,
        } => {
            let targets: Vec<&str> = targets.iter().map(|i| i.name.as_str()).collect();
            let head = format!(
                "spawn deal {} at {}",
                print::string(title),
                targets.join(" & ")
            );
            if !has_body {
                p.leaf(a.span, head);
            } else if body.is_empty() && !p.has_comments_before(a.span.end) {
                p.leaf(a.span, format!("{head} {{}}"));
            } else {
                p.open(a.span, head);
                for inner in body {
                    action(p, inner);
                }
                p.close(a.span);
            }
        }
        ActionKind::ForEach { var, list, body } => block(
            p,
            a.span,
            format!("for each {} in {}", var.name, print::expr(list)),
            body,
        ),
    }
}
