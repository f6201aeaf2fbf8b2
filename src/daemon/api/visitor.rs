//! What a website's visitor is told when their form is sent: a short page for a browser's own
//! form (or the site's page the form names), JSON for a script, always in the form's language
//! and in a visitor's words — never the operator's message (that goes to the team, on the
//! out-of-control page).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::admit::ApiError;
use crate::daemon::config::WebsiteForm;

/// What happened to the visitor's request, as they are told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Told {
    /// Taken.
    Thanks,
    /// Sent from a site the form does not name.
    Origin,
    /// Too many from this address.
    TooMany,
    /// The body does not read as a form.
    Unreadable,
    /// The body is larger than the server takes.
    TooLarge,
    /// The body did not arrive whole.
    Incomplete,
    /// Not taken as it was sent (the team sees it and may call back).
    NotTaken,
    /// The database did not answer.
    Unavailable,
}

impl Told {
    fn words(self, ru: bool) -> &'static str {
        match (self, ru) {
            (Told::Thanks, true) => "Спасибо! Заявка получена, мы скоро свяжемся с вами.",
            (Told::Thanks, false) => "Thank you! We have your request and will be in touch soon.",
            (Told::Origin, true) => "Эту форму нельзя отправить с этого сайта.",
            (Told::Origin, false) => "This form cannot be sent from that site.",
            (Told::TooMany, true) => "Слишком много заявок с вашего адреса. Попробуйте позже.",
            (Told::TooMany, false) => {
                "Too many requests from your address. Please try again later."
            }
            (Told::Unreadable, true) => {
                "Форма пришла в виде, который мы не можем прочитать. Попробуйте ещё раз или \
                 позвоните нам."
            }
            (Told::Unreadable, false) => {
                "The form arrived in a shape we cannot read. Please try again, or call us."
            }
            (Told::TooLarge, true) => "Форма прислала больше, чем мы принимаем.",
            (Told::TooLarge, false) => "The form sent more than we take.",
            (Told::Incomplete, true) => "Форма не дошла целиком. Попробуйте ещё раз.",
            (Told::Incomplete, false) => "The form did not arrive whole. Please try again.",
            (Told::NotTaken, true) => {
                "Мы не смогли принять заявку автоматически. Мы её увидим и свяжемся с вами, \
                 если вы оставили телефон или email."
            }
            (Told::NotTaken, false) => {
                "We could not take your request automatically. We will see it and get in touch \
                 if you left a phone or an email."
            }
            (Told::Unavailable, true) => {
                "Сейчас мы не можем принять заявку. Попробуйте через минуту."
            }
            (Told::Unavailable, false) => {
                "We cannot take requests right now. Please try again in a minute."
            }
        }
    }

    /// The `code` of the JSON answer.
    fn code(self) -> &'static str {
        match self {
            Told::Thanks => "received",
            Told::Origin => "origin",
            Told::TooMany => "too_many",
            Told::Unreadable => "unreadable",
            Told::TooLarge => "too_large",
            Told::Incomplete => "bad_body",
            Told::NotTaken => "not_taken",
            Told::Unavailable => "unavailable",
        }
    }
}

/// How the answer is given: a page for a browser's own form, JSON for a script.
pub(super) struct Reply<'a> {
    /// The browser sent the form itself (it takes HTML).
    pub html: bool,
    /// The `Access-Control-Allow-Origin` to answer with.
    pub allow: Option<HeaderValue>,
    pub form: &'a WebsiteForm,
    /// The form speaks Russian.
    pub ru: bool,
}

impl Reply<'_> {
    pub(super) fn with_cors(&self, mut r: Response) -> Response {
        if let Some(o) = &self.allow {
            r.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        }
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
        r
    }

    /// Taken (or quietly dropped as spam or a repeat: the visitor cannot tell).
    pub(super) fn taken(&self) -> Response {
        let r = match (self.html, &self.form.thanks) {
            (true, Some(t)) => see_other(t),
            (true, None) => page(StatusCode::OK, Told::Thanks.words(self.ru), self.ru),
            (false, _) => super::admit::json_answer(
                StatusCode::CREATED,
                json!({"received": true}).to_string(),
            ),
        };
        self.with_cors(r)
    }

    /// Not taken: a page (or the site's page for it) or `{"error": …}`, in the visitor's
    /// words.
    pub(super) fn refused(&self, status: StatusCode, told: Told) -> Response {
        let text = told.words(self.ru);
        let r = match (self.html, &self.form.refused) {
            (true, Some(url)) if told == Told::NotTaken => see_other(url),
            (true, _) => page(status, text, self.ru),
            (false, _) => ApiError::new(status, told.code(), text).into_response(),
        };
        self.with_cors(r)
    }
}

fn see_other(url: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A short page for a visitor whose browser sent the form itself.
pub(super) fn page(status: StatusCode, text: &str, ru: bool) -> Response {
    let markup = maud::html! {
        (maud::DOCTYPE)
        html lang=(if ru { "ru" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (text) }
            }
            body { p { (text) } }
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// Whether a form speaks Russian: its `lang`, else the dashboard's `language`, else whether
/// the pipeline's country speaks it.
pub(super) fn speaks_russian(
    form: &WebsiteForm,
    dashboard: Option<&str>,
    country: Option<phonenumber::country::Id>,
) -> bool {
    use phonenumber::country::Id;
    match form.lang.as_deref().or(dashboard) {
        Some(l) => l.trim().to_ascii_lowercase().starts_with("ru"),
        None => matches!(country, Some(Id::RU | Id::BY | Id::KZ | Id::KG)),
    }
}
