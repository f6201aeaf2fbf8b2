//! The deal page's part for its webhook deliveries: where its history went out, and how.

use maud::{Markup, html};

use super::viewer::Viewer;

/// Where the deal's history went: the latest webhook deliveries about it, each with its
/// receiver, number, record, status and attempts (the last error when it failed). Nothing
/// when there are none.
pub(super) fn deliveries(v: &Viewer, list: &[crate::store::Delivery]) -> Markup {
    let w = v.lang.words();
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
                                    (d.status)
                                    @if let Some(at) = &d.sent_at { " · " (at) }
                                    @if let Some(e) = &d.last_error { " · " (e) }
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
