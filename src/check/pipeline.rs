//! The pipeline's settings (time zone, calendar, script, notify hook), the functions its
//! script defines, and the working-time calendars.

use std::collections::HashMap;

use super::{BUILTIN_FUNCTIONS, Checker, Def, ScriptFile, values};
use crate::ast::*;
use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::script::ScriptInfo;

impl Checker<'_> {
    pub(super) fn pipeline(&mut self) {
        let Some(p) = self.sym.pipeline else { return };
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut has_timezone = false;
        let mut hook: Option<&Ident> = None;
        for s in &p.settings {
            let key = match &s.kind {
                SettingKind::Timezone(_) => "timezone",
                SettingKind::Currency(_) => "currency",
                SettingKind::Country(_) => "country",
                SettingKind::Calendar(_) => "calendar",
                SettingKind::Script(_) => "script",
                SettingKind::NotifyHook(_) => "notify hook",
                SettingKind::Maps(_) => "maps",
            };
            if let Some(prev) = seen.insert(key, s.span) {
                self.push(
                    Diagnostic::error(
                        codes::SETTING_TWICE,
                        s.span,
                        format!("`{key}` is set twice"),
                    )
                    .with_label("set again here")
                    .with_related(prev, "first set here")
                    .with_help("keep one of the two lines".to_string()),
                );
                continue;
            }
            match &s.kind {
                SettingKind::Timezone(tz) => {
                    has_timezone = true;
                    let name = tz.plain().unwrap_or_default();
                    if let Ok(zone) = name.parse::<chrono_tz::Tz>() {
                        self.names.set_timezone(zone);
                    } else {
                        let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                        self.push(
                            Diagnostic::error(codes::UNKNOWN_TIMEZONE, tz.span, format!("`{name}` is not a time zone"))
                                .with_label("unknown time zone")
                                .with_help(did_you_mean(&name, names).unwrap_or_else(|| "write a zone of the IANA database, like `Europe/Moscow` or `America/New_York`".into())),
                        );
                    }
                }
                SettingKind::Calendar(c) => {
                    if let Some(id) = self.sym.calendars.id(&c.name) {
                        self.names.record(c, Def::Calendar(id));
                    } else {
                        let names = self.sym.calendars.names();
                        self.push(
                            Diagnostic::error(codes::UNKNOWN_CALENDAR, c.span, format!("there is no calendar `{}`", c.name))
                                .with_label("unknown calendar")
                                .with_help(did_you_mean(&c.name, names).unwrap_or_else(|| format!("declare it: `calendar {} {{ workweek mon..fri; hours 10:00..19:00 }}`", c.name))),
                        );
                    }
                }
                SettingKind::Script(path) => self.script(path),
                SettingKind::NotifyHook(f) => hook = Some(f),
                SettingKind::Currency(_) => {}
                SettingKind::Maps(address) => self.maps(address),
                SettingKind::Country(c) => {
                    if crate::contact::phone_country(&c.name).is_none() {
                        self.push(
                            Diagnostic::error(codes::UNKNOWN_COUNTRY, c.span, format!("`{}` is not a country phone numbers belong to", c.name))
                                .with_label("unknown country")
                                .with_help("write the two-letter code of the country (ISO 3166), like `RU`, `KZ` or `DE`".to_string()),
                        );
                    }
                }
            }
        }
        if !has_timezone {
            self.push(
                Diagnostic::warning(
                    codes::NO_TIMEZONE,
                    p.id.span,
                    "the pipeline has no `timezone`; times will be read as UTC",
                )
                .with_help(
                    "add `timezone \"Europe/Moscow\"` (or your zone) to the pipeline".to_string(),
                ),
            );
        }
        if let Some(f) = hook {
            self.function_exists(f, Some(1), "notify hook");
        }
    }

    /// `maps "…"`: an http(s) address with one `{place}`, a URL once the place is in.
    fn maps(&mut self, address: &Str) {
        let Some(text) = address.plain() else {
            self.push(
                Diagnostic::error(codes::MAP_ADDRESS, address.span, "the map address is written with `{{…}}`")
                    .with_label("not a plain address")
                    .with_help("write the address as it is, with `{place}` where the place goes: `maps \"https://yandex.ru/maps/?text={place}\"`".to_string()),
            );
            return;
        };
        let why = match crate::maps::address(&text) {
            Ok(_) => return,
            Err(why) => why,
        };
        self.push(
            Diagnostic::error(codes::MAP_ADDRESS, address.span, format!("`{text}` cannot be a map address: {why}"))
                .with_label("map address")
                .with_help("write an http or https address with `{place}` once where the place goes, like `https://yandex.ru/maps/?text={place}`".to_string()),
        );
    }

    fn script(&mut self, path: &Str) {
        let name = path.plain().unwrap_or_default();
        let text = match (self.loader)(&name) {
            Ok(text) => text,
            Err(why) => {
                self.push(
                    Diagnostic::error(
                        codes::SCRIPT_MISSING,
                        path.span,
                        format!("the script `{name}` cannot be read: {why}"),
                    )
                    .with_label("script file")
                    .with_help("the path is relative to this pipeline file".to_string()),
                );
                return;
            }
        };
        let inspected = crate::script::inspect(&text);
        self.script_file = Some(ScriptFile {
            name: name.clone(),
            text,
        });
        match inspected {
            Ok(info) => self.sym.script = Some(info),
            Err(e) => {
                let place = match (e.line, e.column) {
                    (Some(l), Some(c)) => format!("{name}:{l}:{c}"),
                    (Some(l), None) => format!("{name}:{l}"),
                    _ => name.clone(),
                };
                self.push(
                    Diagnostic::error(
                        codes::SCRIPT_ERROR,
                        path.span,
                        format!("the script has an error at {place}: {}", e.message),
                    )
                    .with_label("in this script")
                    .with_help(
                        "fix the script; its functions cannot be used until it compiles"
                            .to_string(),
                    ),
                );
                // Calls into a broken script are not reported again.
                self.sym.script = Some(ScriptInfo {
                    functions: Vec::new(),
                });
                self.script_broken = true;
            }
        }
    }

    /// Checks that a script function exists (with `arity` parameters, when given).
    pub(super) fn function_exists(&mut self, f: &Ident, arity: Option<usize>, what: &str) -> bool {
        if self.script_broken {
            return true;
        }
        let Some(script) = &self.sym.script else {
            let help = if BUILTIN_FUNCTIONS.contains(&f.name.as_str()) {
                None
            } else {
                did_you_mean(&f.name, BUILTIN_FUNCTIONS.iter().copied()).or_else(|| {
                    Some("functions other than the built-in ones come from the pipeline's `script \"file.rhai\"`, and this pipeline has none".into())
                })
            };
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_FUNCTION,
                    f.span,
                    format!("there is no function `{}`", f.name),
                )
                .with_label(format!("unknown {what}"))
                .with_help(help),
            );
            return false;
        };
        let arities = script.arities(&f.name);
        if let Some(at) = script.functions.iter().position(|(n, _)| *n == f.name) {
            self.names.record(f, Def::Function(at));
        }
        if arities.is_empty() {
            let mut names: Vec<&str> = script.functions.iter().map(|(n, _)| n.as_str()).collect();
            names.extend(BUILTIN_FUNCTIONS);
            let help = did_you_mean(&f.name, names)
                .unwrap_or_else(|| format!("define `fn {}(…)` in the pipeline's script", f.name));
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_FUNCTION,
                    f.span,
                    format!(
                        "there is no function `{}` in the script or built in",
                        f.name
                    ),
                )
                .with_label(format!("unknown {what}"))
                .with_help(help),
            );
            return false;
        }
        if let Some(n) = arity
            && !arities.contains(&n)
        {
            let have = arities
                .iter()
                .map(|&a| values(a))
                .collect::<Vec<_>>()
                .join(" or ");
            let diag = if what == "notify hook" {
                Diagnostic::error(codes::HOOK_SIGNATURE, f.span, format!("the notify hook `{}` must take one value, the message, but it takes {have}", f.name))
                    .with_label("notify hook")
                    .with_help(format!("define it as `fn {}(msg) {{ … msg }}` in the script", f.name))
            } else {
                Diagnostic::error(
                    codes::ARITY,
                    f.span,
                    format!("`{}` takes {have}, but is given {n}", f.name),
                )
                .with_label(format!("given {n}"))
            };
            self.push(diag);
            return false;
        }
        true
    }

    pub(super) fn calendar(&mut self, c: &Calendar) {
        let mut has_days = false;
        let mut has_hours = false;
        for line in &c.lines {
            match &line.kind {
                CalendarLineKind::Workweek(days) => {
                    for (from, to) in days {
                        has_days = true;
                        let a = self.weekday(from);
                        let b = to.as_ref().and_then(|t| self.weekday(t));
                        if let (Some(a), Some(b), Some(to)) = (a, b, to)
                            && b < a
                        {
                            self.push(
                                Diagnostic::error(
                                    codes::CALENDAR_RANGE,
                                    from.span.to(to.span),
                                    format!("`{}..{}` runs backwards", from.name, to.name),
                                )
                                .with_help(format!(
                                    "write the days in week order, e.g. `{}..{}`",
                                    to.name, from.name
                                )),
                            );
                        }
                    }
                }
                CalendarLineKind::Hours(ranges) => {
                    for (from, to) in ranges {
                        has_hours = true;
                        if to.value <= from.value {
                            self.push(
                                Diagnostic::error(
                                    codes::CALENDAR_RANGE,
                                    from.span.to(to.span),
                                    "working hours end before they start",
                                )
                                .with_label("empty range")
                                .with_help(
                                    "write the start first, e.g. `hours 10:00..19:00`".to_string(),
                                ),
                            );
                        }
                    }
                }
                CalendarLineKind::Holidays(days) => {
                    for (from, to) in days {
                        if let Some(to) = to
                            && to.value < from.value
                        {
                            self.push(
                                Diagnostic::error(
                                    codes::CALENDAR_RANGE,
                                    from.span.to(to.span),
                                    "this holiday range ends before it starts",
                                )
                                .with_label("empty range")
                                .with_help("write the first day first".to_string()),
                            );
                        }
                    }
                }
            }
        }
        if !has_days || !has_hours {
            let missing = if !has_days { "`workweek`" } else { "`hours`" };
            self.push(
                Diagnostic::warning(
                    codes::EMPTY_CALENDAR,
                    c.id.span,
                    format!("calendar `{}` has no {missing}", c.id.name),
                )
                .with_help(
                    "working-day durations use the default: mon..fri, 09:00..18:00".to_string(),
                ),
            );
        }
    }

    fn weekday(&mut self, d: &Ident) -> Option<usize> {
        let found = crate::calendar::weekday(&d.name);
        if found.is_none() {
            let lower = d.name.to_lowercase();
            self.push(
                Diagnostic::error(
                    codes::UNKNOWN_WEEKDAY,
                    d.span,
                    format!("`{}` is not a day of the week", d.name),
                )
                .with_label("unknown day")
                .with_help(
                    did_you_mean(&lower, crate::calendar::WEEKDAYS.iter().copied()).unwrap_or_else(
                        || "days are written mon, tue, wed, thu, fri, sat, sun".into(),
                    ),
                ),
            );
        }
        found
    }
}
