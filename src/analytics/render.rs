//! A report for people (text), for programs (JSON: a top-level `funnel` list of
//! `{stage, title, at_start, entered, moved_on, lost, at_end, conversion}` rows and one key per section) and for
//! spreadsheets (CSV: one table per section).

use std::fmt::Write;

use super::Report;
use crate::sheet::{Column, Lines, Sheet};

/// A section of the report as a table: its name, header and rows.
pub struct Table {
    /// The section's name (`funnel`, `time_in_stage`…).
    pub name: &'static str,
    /// Column names.
    pub header: Vec<&'static str>,
    /// Rows, as text.
    pub rows: Vec<Vec<String>>,
}

fn pct(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{:.1}", x * 100.0))
}

fn hours(h: f64) -> String {
    if h >= 48.0 {
        format!("{:.1} d", h / 24.0)
    } else {
        format!("{h:.1} h")
    }
}

/// The sections as tables, in the report's order (those left out have no table).
pub fn tables(r: &Report) -> Vec<Table> {
    let mut out = vec![Table {
        name: "funnel",
        header: vec![
            "stage",
            "title",
            "at_start",
            "entered",
            "moved_on",
            "lost",
            "at_end",
            "conversion_pct",
        ],
        rows: r
            .funnel
            .iter()
            .map(|f| {
                vec![
                    f.stage.clone(),
                    f.title.clone(),
                    f.at_start.to_string(),
                    f.entered.to_string(),
                    f.moved_on.to_string(),
                    f.lost.to_string(),
                    f.at_end.to_string(),
                    pct(f.conversion),
                ]
            })
            .collect(),
    }];
    out.push(Table {
        name: "time_in_stage",
        header: vec![
            "stage",
            "title",
            "deals",
            "median_h",
            "p90_h",
            "median_h_from",
            "median_h_to",
            "p90_h_from",
            "p90_h_to",
        ],
        rows: r
            .time_in_stage
            .iter()
            .map(|d| {
                vec![
                    d.stage.clone(),
                    d.title.clone(),
                    d.deals.to_string(),
                    format!("{:.2}", d.median_h),
                    format!("{:.2}", d.p90_h),
                    format!("{:.2}", d.median_range_h.0),
                    format!("{:.2}", d.median_range_h.1),
                    format!("{:.2}", d.p90_range_h.0),
                    format!("{:.2}", d.p90_range_h.1),
                ]
            })
            .collect(),
    });
    if let Some(i) = &r.invoices {
        out.push(Table {
            name: "invoices",
            header: vec![
                "issued",
                "paid_on_time",
                "paid_late",
                "burnt",
                "reissued",
                "burn_rate_pct",
            ],
            rows: vec![vec![
                i.issued.to_string(),
                i.paid_on_time.to_string(),
                i.paid_late.to_string(),
                i.burnt.to_string(),
                i.reissued.to_string(),
                pct(i.burn_rate),
            ]],
        });
    }
    if let Some(d) = &r.delivery {
        out.push(Table {
            name: "delivery",
            header: vec!["manager", "on_time", "late", "days_late"],
            rows: d
                .iter()
                .map(|x| {
                    vec![
                        x.manager.clone(),
                        x.on_time.to_string(),
                        x.late.to_string(),
                        x.days_late.to_string(),
                    ]
                })
                .collect(),
        });
    }
    let hours_rows = |v: &[super::HoursRow]| -> Vec<Vec<String>> {
        v.iter()
            .map(|h| vec![h.who.clone(), h.hours.normalize().to_string()])
            .collect()
    };
    out.push(Table {
        name: "hours_by_person",
        header: vec!["person", "hours"],
        rows: hours_rows(&r.hours_by_person),
    });
    out.push(Table {
        name: "hours_by_role",
        header: vec!["role", "hours"],
        rows: hours_rows(&r.hours_by_role),
    });
    if let Some(o) = &r.overruns {
        out.push(Table {
            name: "overruns",
            header: vec!["deal", "title", "hours_sold", "hours_spent"],
            rows: o
                .iter()
                .map(|x| {
                    vec![
                        x.deal.clone(),
                        x.title.clone(),
                        x.sold.normalize().to_string(),
                        x.spent.normalize().to_string(),
                    ]
                })
                .collect(),
        });
    }
    if let Some(m) = &r.money {
        out.push(Table {
            name: "revenue_by_week",
            header: vec!["week", "expected"],
            rows: m
                .by_week
                .iter()
                .map(|w| vec![w.week.to_string(), w.amount.normalize().to_string()])
                .collect(),
        });
        out.push(Table {
            name: "paid_invoiced",
            header: vec!["state", "deals", "amount"],
            rows: vec![
                vec![
                    "paid".into(),
                    m.paid.deals.to_string(),
                    m.paid.amount.normalize().to_string(),
                ],
                vec![
                    "invoiced".into(),
                    m.invoiced.deals.to_string(),
                    m.invoiced.amount.normalize().to_string(),
                ],
            ],
        });
        let margin_rows = |v: &[super::MarginRow]| -> Vec<Vec<String>> {
            v.iter()
                .map(|x| {
                    vec![
                        x.key.clone(),
                        x.deals.to_string(),
                        x.revenue.normalize().to_string(),
                        x.margin.normalize().to_string(),
                    ]
                })
                .collect()
        };
        out.push(Table {
            name: "margin_by_manager",
            header: vec!["manager", "deals", "revenue", "margin"],
            rows: margin_rows(&m.by_manager),
        });
        out.push(Table {
            name: "margin_by_month",
            header: vec!["month", "deals", "revenue", "margin"],
            rows: margin_rows(&m.by_month),
        });
    }
    out.push(Table {
        name: "lost_reasons",
        header: vec!["reason", "deals", "amount"],
        rows: r
            .lost_reasons
            .iter()
            .map(|l| {
                vec![
                    l.reason.clone(),
                    l.deals.to_string(),
                    l.amount.normalize().to_string(),
                ]
            })
            .collect(),
    });
    out.push(Table {
        name: "refusals",
        header: vec!["input", "code", "count"],
        rows: r
            .refusals
            .iter()
            .map(|x| vec![x.input.clone(), x.code.clone(), x.count.to_string()])
            .collect(),
    });
    out
}

/// The section names, in order.
pub const SECTIONS: [&str; 14] = [
    "funnel",
    "time_in_stage",
    "invoices",
    "delivery",
    "hours_by_person",
    "hours_by_role",
    "overruns",
    "revenue_by_week",
    "paid_invoiced",
    "margin_by_manager",
    "margin_by_month",
    "lost_reasons",
    "refusals",
    "notes",
];

/// What a report column holds, for a spreadsheet: names and words people typed (a lost
/// reason, a title) are text; the rest are counts, amounts, hours and percentages.
fn column(name: &str) -> Column {
    match name {
        "stage" | "title" | "manager" | "person" | "role" | "deal" | "week" | "state" | "month"
        | "reason" | "input" | "code" => Column::Text,
        _ => Column::Number,
    }
}

/// One CSV table (RFC 4180, lines ending `\r\n`), its cells safe for a spreadsheet
/// ([`crate::sheet`]).
pub fn csv(t: &Table) -> String {
    let header: Vec<(&str, Column)> = t.header.iter().map(|h| (*h, column(h))).collect();
    let written = Sheet::new(Vec::new(), &header, Lines::CrLf).and_then(|mut sheet| {
        for row in &t.rows {
            sheet.row(row.iter().map(String::as_str))?;
        }
        sheet.finish()
    });
    // Into memory: writing cannot fail.
    String::from_utf8(written.unwrap_or_default()).unwrap_or_default()
}

/// The report as JSON.
pub fn json(r: &Report) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}

/// One table for people: columns padded to their widest cell.
pub fn text_table(t: &Table) -> String {
    let mut out = String::new();
    if t.rows.is_empty() {
        out.push_str("  (nothing)\n");
        return out;
    }
    let mut widths: Vec<usize> = t.header.iter().map(|h| h.chars().count()).collect();
    for row in &t.rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(c.chars().count());
            let _ = write!(l, " {c}{}", " ".repeat(pad));
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(t.header.clone()));
    for row in &t.rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The report for people.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    match &r.period {
        Some(p) => {
            let _ = writeln!(out, "Analytics, {} to {}", p.from, p.to);
        }
        None => out.push_str("Analytics, everything counted\n"),
    }
    for t in tables(r) {
        let _ = writeln!(out, "\n{}", t.name.replace('_', " "));
        out.push_str(&text_table(&t));
    }
    if !r.time_in_stage.is_empty() {
        let slowest = &r.time_in_stage[0];
        let _ = writeln!(
            out,
            "\nDeals sit longest in {} ({}): median {}.",
            slowest.title,
            slowest.stage,
            hours(slowest.median_h)
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "\nleft out: {n}");
    }
    out
}
