//! Logins as sessions: a random id in an HttpOnly, SameSite=Strict cookie (`Secure` when the
//! public URL is https), kept in the database only hashed, with the digest of the token it was
//! opened with, an expiry and an idle timeout; and the form token every page's forms carry.
//! A session whose token was taken out of the configuration has ended.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{Duration, Utc};
use subtle::ConstantTimeEq;

use crate::daemon::door::{Key, hashed, secret};
use crate::daemon::state::AppState;
use crate::store::{Session, StoreError};

/// The cookie that keeps the session id.
pub(super) const SESSION_COOKIE: &str = "dealflow_session";
/// A session's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// Who a page's request is.
pub(super) struct Caller {
    /// The token's scope and person.
    pub(super) key: Key,
    /// The session's form token, when the cookie (not an `Authorization` header) says who
    /// it is.
    pub(super) csrf: Option<String>,
}

fn lifetimes(s: &AppState) -> (Duration, Duration) {
    let d = &s.config.dashboard;
    (
        Duration::hours(i64::try_from(d.session_hours).unwrap_or(i64::MAX / 7200)),
        Duration::minutes(i64::try_from(d.idle_minutes).unwrap_or(i64::MAX / 120)),
    )
}

/// The caller: by a bearer token, else by the session cookie; `None` when neither holds.
pub(super) async fn caller(
    s: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Caller>, StoreError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return Ok(s.door.key(token).map(|key| Caller { key, csrf: None }));
    }
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|c| !c.is_empty() && c.len() <= 128)
    else {
        return Ok(None);
    };
    let id = hashed(id);
    let now = Utc::now();
    let (_, idle) = lifetimes(s);
    let Some(found) = s.core.store().read().await?.session(&id).await? else {
        return Ok(None);
    };
    let key = s.door.key_by_digest(&found.token);
    let ended = found.expires <= now || found.seen + idle <= now;
    let Some(key) = key.filter(|_| !ended) else {
        let mut tx = s.core.store().begin().await?;
        tx.end_session(&id).await?;
        tx.commit().await?;
        return Ok(None);
    };
    if now - found.seen >= TOUCH_EVERY {
        let mut tx = s.core.store().begin().await?;
        tx.touch_session(&id, now).await?;
        tx.commit().await?;
    }
    Ok(Some(Caller {
        key,
        csrf: Some(found.csrf),
    }))
}

/// Opens a session for the token's key: the `Set-Cookie` that gives the browser its id.
pub(super) async fn open(s: &AppState, key: &Key) -> Result<HeaderValue, OpenError> {
    let id = secret()?;
    let now = Utc::now();
    let (lifetime, _) = lifetimes(s);
    let session = Session {
        token: key.digest.clone(),
        person: key.person.clone(),
        csrf: secret()?,
        created: now,
        seen: now,
        expires: now + lifetime,
    };
    let mut tx = s.core.store().begin().await?;
    tx.open_session(&hashed(&id), &session).await?;
    tx.commit().await?;
    Ok(set_cookie(s, &id, lifetime.num_seconds()))
}

/// Ends the session the cookie names, if any.
pub(super) async fn end(s: &AppState, headers: &HeaderMap) -> Result<(), StoreError> {
    if let Some(id) = cookie(headers, SESSION_COOKIE).filter(|c| !c.is_empty()) {
        let mut tx = s.core.store().begin().await?;
        tx.end_session(&hashed(id)).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The cookies that end a login in the browser: the session's, and the old token cookie.
pub(super) fn cleared(s: &AppState) -> [HeaderValue; 2] {
    [set_cookie(s, "", 0), old_token_cleared()]
}

/// Clears the cookie earlier versions kept the token itself in.
pub(super) fn old_token_cleared() -> HeaderValue {
    HeaderValue::from_static("dealflow_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn set_cookie(s: &AppState, id: &str, max_age: i64) -> HeaderValue {
    let secure = if s.door.site.secure() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("dealflow_session=; Path=/; Max-Age=0"))
}

/// Whether a form sent with the session cookie came from this site's own page: its origin is
/// the daemon's, and it carries the session's form token. A caller by bearer token is not
/// cookie-authenticated: a browser cannot be tricked into sending the header.
pub(super) fn genuine(
    s: &AppState,
    csrf: Option<&str>,
    headers: &HeaderMap,
    sent: Option<&str>,
) -> bool {
    match csrf {
        None => true,
        Some(csrf) => {
            s.door.site.same_origin(headers)
                && sent.is_some_and(|t| bool::from(t.as_bytes().ct_eq(csrf.as_bytes())))
        }
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum OpenError {
    /// No randomness from the system.
    #[error("no random bytes from the system: {0}")]
    Random(#[from] getrandom::Error),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A cookie the request carries.
pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}
