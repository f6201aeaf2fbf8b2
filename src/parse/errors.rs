//! pest's errors turned into diagnostics a person can act on: what was found, what could stand
//! there instead, in the language's own words rather than grammar rule names.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::grammar::Rule;
use crate::ast::Span;
use crate::diag::{Diagnostic, codes};

/// The phrase for a grammar rule, or None for rules that should not be mentioned.
fn phrase(rule: Rule) -> Option<&'static str> {
    use Rule::*;
    Some(match rule {
        EOI => "the end of the file",
        lbrace => "`{`",
        rbrace => "`}`",
        assign => "`=`",
        colon => "`:`",
        pipeline => "`pipeline`",
        calendar => "`calendar`",
        role => "`role`",
        fields => "`fields`",
        event_decl => "`event`",
        template => "`template`",
        stage => "`stage`",
        phase => "`phase`",
        alert => "`alert`",
        ident | duration_unit => "a name",
        string | plain_string | triple_string => "a text in quotes",
        plain_text | triple_text | escape | interp => "the closing `\"` of the text",
        expr | literal => "a value",
        datetime => "a date and time like `2026-03-02T10:00`",
        date | date_item => "a date like `2026-03-02`",
        time | hour_range => "a time like `10:00`",
        decimal | integer | duration_amount => "a number",
        duration => "a duration like `15m` or `2 workdays`",
        boolean => "`true` or `false`",
        call | path | paren | in_stage => "a value",
        or_op | and_op | eq | ne | le | ge | lt | gt | add | sub | mul | div => "an operator",
        not_op | neg => "a value",
        is_set | is_not_set => "`is set`",
        set_timezone => "`timezone`",
        set_currency => "`currency`",
        set_country => "`country`",
        set_maps => "`maps`",
        set_calendar => "`calendar`",
        set_script => "`script`",
        set_hook => "`notify hook`",
        workweek => "`workweek`",
        hours => "`hours`",
        holidays => "`holidays`",
        day_item => "a day like `mon`",
        field_decl => "a field like `amount: money`",
        field_mod | required | personal | default | label => {
            "`required`, `personal`, `default` or a label in quotes"
        }
        neg_literal => "a number",
        event_body => "`{`",
        event_entry => "a value name",
        type_spec | list_type => "a type",
        tpl_sms => "`sms`",
        tpl_email => "`email`",
        stage_flag | k_join | k_final => "`join` or `final`",
        stage_body | block | spawn_body => "`{`",
        require => "`require`",
        skip => "`skip`",
        on_enter | on_exit | on_event => "`on`",
        after_timer => "`after`",
        at_timer => "`at`",
        end_of => "`end of`",
        timer_name | k_as => "`as`",
        migrate | k_migrate => "`migrate`",
        migrate_stage => "`stage`",
        migrate_field | k_field => "`field`",
        migrate_enter => "`with on enter`",
        guard | k_when => "`when`",
        transition => "`->`",
        targets => "a stage",
        trigger_on => "`on`",
        trigger_after => "`after`",
        trigger_at => "`at`",
        set_action | k_set => "`set`",
        notify => "`notify`",
        task => "`task`",
        task_due | k_due => "`due`",
        task_estimate | k_estimate => "`estimate`",
        group => "`group`",
        spawn => "`spawn`",
        for_each => "`for each`",
        k_and => "`and`",
        k_or => "`or`",
        k_not => "`not`",
        k_in => "`in`",
        k_is => "`is`",
        k_on => "`on`",
        k_after => "`after`",
        k_at => "`at`",
        k_end => "`end`",
        k_of => "`of`",
        k_enter => "`enter`",
        k_exit => "`exit`",
        k_required => "`required`",
        k_personal => "`personal`",
        k_default => "`default`",
        k_pipeline => "`pipeline`",
        k_calendar => "`calendar`",
        k_role => "`role`",
        k_fields => "`fields`",
        k_event => "`event`",
        k_template => "`template`",
        k_stage => "`stage`",
        k_phase => "`phase`",
        k_alert => "`alert`",
        k_timezone => "`timezone`",
        k_currency => "`currency`",
        k_country => "`country`",
        k_maps => "`maps`",
        k_script => "`script`",
        k_notify => "`notify`",
        k_hook => "`hook`",
        k_workweek => "`workweek`",
        k_hours => "`hours`",
        k_holidays => "`holidays`",
        k_list => "`list`",
        k_sms => "`sms`",
        k_email => "`email`",
        k_subject => "`subject`",
        k_body => "`body`",
        k_attach => "`attach`",
        k_require => "`require`",
        k_skip => "`skip`",
        k_task => "`task`",
        k_group => "`group`",
        k_spawn => "`spawn`",
        k_deal => "`deal`",
        k_for => "`for`",
        k_each => "`each`",
        k_via => "`via`",
        k_with => "`with`",
        k_to => "`to`",
        _ => return None,
    })
}

/// What stands at `pos`, for "found …": a word, a symbol, or the end of the line or file.
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return "the end of the file".into();
    };
    if c == '\n' || c == '\r' {
        return "the end of the line".into();
    }
    let word: String = if c.is_alphanumeric() || c == '_' {
        rest.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .take(40)
            .collect()
    } else {
        c.to_string()
    };
    format!("`{word}`")
}

/// Joins phrases as `a, b or c`.
fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Whether the parser would have taken a `}` where it stopped.
fn message_wants_brace(variant: &ErrorVariant<Rule>) -> bool {
    matches!(variant, ErrorVariant::ParsingError { positives, .. } if positives.contains(&Rule::rbrace))
}

/// Converts a pest error into a syntax diagnostic at the place it happened.
pub(super) fn to_diagnostic(err: &Error<Rule>, text: &str) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    // Underline the offending word, or character (nothing at the end of the file).
    let rest = text.get(pos..).unwrap_or("");
    let word_len: usize = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    let end = match rest.chars().next() {
        Some(_) if word_len > 0 => pos + word_len,
        Some(c) => pos + c.len_utf8(),
        None => pos,
    };
    let span = Span::new(pos, end);
    let found = found_at(text, pos);
    let mut keyword_hint = None;
    let message = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut wanted: Vec<&str> = Vec::new();
            for rule in positives {
                if let Some(p) = phrase(*rule)
                    && !wanted.contains(&p)
                {
                    wanted.push(p);
                }
            }
            if wanted.len() > 1 {
                wanted.retain(|w| *w != "the end of the file");
            }
            // A misspelt keyword: `sett` for `set`, `onenter` for `on enter`.
            let word = found.trim_matches('`');
            let keywords = wanted
                .iter()
                .filter_map(|w| w.strip_prefix('`').and_then(|w| w.strip_suffix('`')))
                .filter(|w| w.chars().all(|c| c.is_alphabetic() || c == ' '));
            if word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                let mut squashed: Vec<(String, &str)> =
                    keywords.map(|k| (k.replace(' ', ""), k)).collect();
                // Two-word forms, offered where their first word is expected.
                for compound in [
                    "on enter",
                    "on exit",
                    "end of",
                    "for each",
                    "spawn deal",
                    "notify hook",
                    "list of",
                ] {
                    let first = compound.split(' ').next().unwrap_or("");
                    if squashed.iter().any(|(_, k)| *k == first) {
                        squashed.push((compound.replace(' ', ""), compound));
                    }
                }
                keyword_hint = squashed
                    .iter()
                    .find(|(s, _)| s == word)
                    .map(|(s, _)| s.as_str())
                    .or_else(|| {
                        crate::diag::suggest(word, squashed.iter().map(|(s, _)| s.as_str()))
                    })
                    .and_then(|s| squashed.iter().find(|(q, _)| q == s))
                    .map(|(_, k)| format!("did you mean `{k}`?"));
            }
            if wanted.is_empty() {
                format!("unexpected {found}")
            } else {
                format!("expected {}, found {found}", one_of(&wanted))
            }
        }
        ErrorVariant::CustomError { message } => {
            // pest's own limits: the call budget or the stack guard.
            format!("this file is too complex to read ({message})")
        }
    };
    let mut diag = Diagnostic::error(codes::SYNTAX, span, message)
        .with_label("here")
        .with_help(keyword_hint);
    let rest = text.get(pos..).unwrap_or("");
    if rest.starts_with('=') && !rest.starts_with("==") && text[..pos].contains("when") {
        diag = diag.with_help(
            "to compare two values write `==`; a single `=` only sets a field".to_string(),
        );
    }
    let at_item_start = super::starts_item(text.get(pos..).unwrap_or(""))
        && (pos == 0 || text[..pos].ends_with('\n'));
    if at_item_start && message_wants_brace(&err.variant) {
        diag = diag.with_help("a `}` may be missing before this line".to_string());
    } else if found == "the end of the file" {
        diag = diag.with_help("a `{`, `(` or `\"` may have been left open".to_string());
    } else if text.get(pos..).is_some_and(|r| r.starts_with('\n'))
        && err.line().matches('"').count() % 2 == 1
    {
        diag = diag.with_help("a text in quotes must end on the line it starts; use `\"\"\"` for text over several lines".to_string());
    }
    diag
}
