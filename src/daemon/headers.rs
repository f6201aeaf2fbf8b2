//! The security headers every answer carries: a page's (only its own small script, nothing
//! from elsewhere, never framed) and everything else's (nothing in it may run). A leaf room:
//! the API's and the pages' routes use it, it uses neither.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

/// What every page says to the browser about itself: only its own script (the one that makes
/// running timers tick) and nothing from elsewhere, never inside another site's frame, its type as sent, and no path in the
/// `Referer` that leaves for another site.
pub(crate) async fn guarded(mut r: Response) -> Response {
    secure(
        r.headers_mut(),
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        "same-origin",
    );
    r
}

/// The security headers of an answer that is not a page (the pages set their own, see
/// [`guarded`]): nothing in it may run or load anything, no site may frame it, its type is
/// as sent, no `Referer` leaves with a link from it, and no cache keeps it (it may hold a
/// client's data).
pub(crate) async fn json_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    if h.contains_key(header::CONTENT_SECURITY_POLICY) {
        return r;
    }
    secure(
        h,
        "default-src 'none'; frame-ancestors 'none'",
        "no-referrer",
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// The headers both kinds of answer carry, with their own content policy and referrer policy:
/// never framed, the type as sent.
fn secure(h: &mut HeaderMap, policy: &'static str, referrer: &'static str) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
}
