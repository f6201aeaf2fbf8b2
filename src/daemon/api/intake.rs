//! A lead from a website: the body as a browser or a script sends it (a form, urlencoded or
//! multipart, or JSON) read into names and values, and those mapped onto the pipeline's fields
//! and the deal's title. Shared by `POST /api/v1/leads` and the public `/f/{key}` forms.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value as Json;

use super::admit::ApiError;
use crate::compile::Plan;
use crate::engine::Creation;
use crate::json::json_fields;

/// A new deal id: the date, then random letters (`d-20260302-k3j9x2`).
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let tail: String = (0..8)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("d-{}-{tail}", chrono::Utc::now().format("%Y%m%d"))
}

/// How a body was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    Json,
    Urlencoded,
    Multipart,
}

/// What the `Content-Type` says the body is, or the 415 that says what is taken.
pub(super) fn sent(headers: &HeaderMap) -> Result<Sent, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let kind = ct.split(';').next().unwrap_or("").trim();
    match kind {
        "application/json" => Ok(Sent::Json),
        "application/x-www-form-urlencoded" => Ok(Sent::Urlencoded),
        "multipart/form-data" => Ok(Sent::Multipart),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_a_form",
            "send the lead as a form (application/x-www-form-urlencoded or multipart/form-data) \
             or as JSON",
        )),
    }
}

/// The names and values of a form body (urlencoded or multipart; files in a multipart form
/// are not taken). A name sent twice keeps its first value.
pub(super) async fn form(
    how: Sent,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<BTreeMap<String, Json>, ApiError> {
    let bad = |e: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_form",
            format!("the form does not read: {e}"),
        )
    };
    let mut out = BTreeMap::new();
    match how {
        Sent::Json => {
            return serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_json",
                    format!("the body is not a JSON object of fields: {e}"),
                )
            });
        }
        Sent::Urlencoded => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|e| bad(e.to_string()))?;
            for (k, v) in pairs {
                out.entry(k).or_insert(Json::String(v));
            }
        }
        Sent::Multipart => {
            let mut req = Request::new(Body::from(body));
            if let Some(ct) = headers.get(header::CONTENT_TYPE) {
                req.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
            }
            let mut parts = Multipart::from_request(req, &())
                .await
                .map_err(|e| bad(e.body_text()))?;
            while let Some(part) = parts.next_field().await.map_err(|e| bad(e.body_text()))? {
                let Some(name) = part.name().map(str::to_string) else {
                    continue;
                };
                if part.file_name().is_some() {
                    continue;
                }
                let text = part.text().await.map_err(|e| bad(e.body_text()))?;
                out.entry(name).or_insert(Json::String(text));
            }
        }
    }
    Ok(out)
}

/// How a form's names become a deal: the mapping of names to fields (a declared field's own
/// name is taken too), the name whose value titles the deal, and fixed field values.
pub(super) struct Mapping<'a> {
    pub fields: &'a BTreeMap<String, String>,
    pub title: Option<&'a str>,
    pub fixed: &'a BTreeMap<String, String>,
}

/// The lead a form makes: its fields (an empty input is no value) and its title (the title
/// input's value on one line, else the client's name, else "Lead").
pub(super) fn lead(plan: &Plan, form: &BTreeMap<String, Json>, m: &Mapping<'_>) -> Creation {
    let mut fields = serde_json::Map::new();
    for (name, v) in form {
        let field = m
            .fields
            .get(name)
            .cloned()
            .or_else(|| plan.field_index.contains_key(name).then(|| name.clone()));
        // An empty or null value is no value: it does not replace another name's.
        if let Some(f) = field
            && v.as_str() != Some("")
            && !v.is_null()
        {
            fields.insert(f, v.clone());
        }
    }
    for (f, v) in m.fixed {
        fields.insert(f.clone(), Json::String(v.clone()));
    }
    let title = m
        .title
        .and_then(|t| form.get(t))
        .or_else(|| fields.get("client_name"))
        .and_then(|v| match v {
            // A name typed on several lines is one line in the title.
            Json::String(t) => Some(t.split_whitespace().collect::<Vec<_>>().join(" ")),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "Lead".to_string());
    Creation {
        id: new_id(),
        title,
        stages: Vec::new(),
        fields: json_fields(&fields),
        quiet: false,
        done: Vec::new(),
    }
}
