//! The deal page's part for its webhook deliveries: where its history went out, and how.

use maud::{Markup, html};

use super::format::moment;
use super::viewer::Viewer;

/// Where the deal's history went: the latest webhook deliveries about it, each with its
/// receiver, number, record, status and attempts (the last error when it failed). Nothing
/// when there are none.
pub(super) fn deliveries(v: &Viewer, tz: chrono_tz::Tz, list: &[crate::store::Delivery]) -> Markup {
    let w = v.lang.words();
    let status = |s: &str| match s {
        "pending" => w.delivery_pending,
        "sent" => w.delivery_sent,
        _ => w.delivery_dead,
    };
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map_or_else(|_| t.to_string(), |t| moment(t.to_utc(), tz, v.lang))
    };
    html! {
        @if !list.is_empty() {
            section.webhooks {
                h2 { (w.webhooks) }
                table {
                    thead { tr { @for c in w.webhook_columns { th scope="col" { (c) } } } }
                    tbody {
                        @for d in list {
                            tr data-status=(d.status) data-webhook=(d.webhook) data-seq=(d.seq) {
                                td { (d.webhook) }
                                td.num { (d.seq) }
                                td { code { (d.kind) } }
                                td {
                                    (status(&d.status))
                                    @if let Some(t) = &d.sent_at { " · " (at(t)) }
                                    // The receiver's or the network's own words.
                                    @if let Some(e) = &d.last_error { " · " span lang="en" { (e) } }
                                }
                                td.num { (d.attempts) }
                            }
                        }
                    }
                }
            }
        }
    }
}
