//! A lead from a website: the body as a browser or a script sends it (a form, urlencoded or
//! multipart, or JSON) read into names and values, and those mapped onto the pipeline's fields
//! and the deal's title. Shared by `POST /api/v1/leads` and the public `/f/{key}` forms. No lead
//! is lost to a phone or an email typed in a way that does not read: the deal is made without
//! it, and the text as typed waits for the team to check it.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value as Json;

use super::admit::ApiError;
use crate::compile::Plan;
use crate::engine::Creation;
use crate::json::json_fields;
use crate::store::ContactCheck;
use crate::types::Ty;

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
                name_reads(&k).map_err(bad)?;
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
                name_reads(&name).map_err(bad)?;
                let text = part.text().await.map_err(|e| bad(e.body_text()))?;
                out.entry(name).or_insert(Json::String(text));
            }
        }
    }
    Ok(out)
}

/// A form's input name as the API document allows it (`propertyNames`): one line of text
/// without control characters, quotes or backslashes, which a multipart body could not carry
/// in its header. A page's own inputs never have such names; a request that does was made by
/// hand, and is told so.
pub(crate) fn name_reads(name: &str) -> Result<(), String> {
    if name
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(format!(
            "the input name {name:?} holds a control character, a quote or a backslash"
        ));
    }
    Ok(())
}

/// How a form's names become a deal: the mapping of names to fields (a declared field's own
/// name is taken too), the name whose value titles the deal, and fixed field values.
pub(super) struct Mapping<'a> {
    pub fields: &'a BTreeMap<String, String>,
    pub title: Option<&'a str>,
    pub fixed: &'a BTreeMap<String, String>,
}

/// The lead a form makes: the deal, and the contacts it gave that could not be read.
pub(crate) struct Lead {
    /// The deal to create.
    pub creation: Creation,
    /// Phones and emails that do not read: left out of the deal, kept to check.
    pub checks: Vec<ContactCheck>,
}

/// The lead a form makes: its fields (an empty input is no value) and its title (the title
/// input's value on one line, else the client's name, else "a website lead" in the pipeline's
/// language); a phone or email that does not read is left out and kept to check.
pub(super) fn lead(plan: &Plan, form: &BTreeMap<String, Json>, m: &Mapping<'_>) -> Lead {
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
    let checks = unread_contacts(plan, &mut fields);
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
        .filter(|t| !crate::value::blank(t))
        .unwrap_or_else(|| untitled(plan).to_string());
    Lead {
        creation: Creation {
            id: new_id(),
            title,
            stages: Vec::new(),
            fields: json_fields(&fields),
            quiet: false,
            done: Vec::new(),
        },
        checks,
    }
}

/// The title of a lead that gave no name, in the language of the pipeline's country.
fn untitled(plan: &Plan) -> &'static str {
    use phonenumber::country::Id;
    match plan.country {
        Some(Id::RU | Id::BY | Id::KZ | Id::KG) => "Заявка с сайта",
        _ => "Website lead",
    }
}

/// A lead made again of the fields a refused one carried (by their names), as the website
/// would have made it.
pub(crate) fn lead_of_fields(plan: &Plan, fields: &serde_json::Map<String, Json>) -> Lead {
    let form: BTreeMap<String, Json> = fields.clone().into_iter().collect();
    let none = BTreeMap::new();
    lead(
        plan,
        &form,
        &Mapping {
            fields: &none,
            title: None,
            fixed: &none,
        },
    )
}

/// Takes out of `fields` the phones and emails that do not read (a number typed where a phone
/// goes is read as its digits): what was typed, and why it does not read.
fn unread_contacts(plan: &Plan, fields: &mut serde_json::Map<String, Json>) -> Vec<ContactCheck> {
    let mut out = Vec::new();
    for (i, f) in plan.fields.iter().enumerate() {
        if !matches!(f.ty, Ty::Phone | Ty::Email) || f.derived {
            continue;
        }
        let Some(v) = fields.get(&f.name) else {
            continue;
        };
        let typed = match v {
            Json::String(t) => t.clone(),
            Json::Number(n) => n.to_string(),
            _ => continue,
        };
        // Control characters are the schema's to refuse: the lead is kept as refused then.
        if typed.chars().any(|c| crate::value::unkept(c, true)) {
            continue;
        }
        let read = match plan.fields[i].ty {
            Ty::Phone => crate::contact::phone(&f.name, &typed, plan.country),
            _ => crate::contact::email(&f.name, &typed),
        };
        match read {
            Ok(_) if matches!(v, Json::Number(_)) => {
                fields.insert(f.name.clone(), Json::String(typed));
            }
            Ok(_) => {}
            Err(reason) => {
                fields.remove(&f.name);
                out.push(ContactCheck {
                    field: f.name.clone(),
                    typed,
                    reason,
                });
            }
        }
    }
    out
}
