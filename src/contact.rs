//! A client's phone number and email address as typed (on a form, in a request, in a
//! scenario), checked and written one way: phones in E.164 (`+79161234567`), read with the
//! pipeline's `country` when written without a country code; emails by their syntax.

use std::str::FromStr;

use phonenumber::Mode;
use phonenumber::country::Id;

/// The country a two-letter code names, if phone numbers can belong to it.
pub fn phone_country(code: &str) -> Option<Id> {
    if code.len() != 2 {
        return None;
    }
    Id::from_str(&code.to_ascii_uppercase()).ok()
}

/// Separators a phone number may be written with, as the pattern lists them.
const SEPARATORS: &str = " ().-";

/// The country calling codes numbers are read under (libphonenumber's metadata), by their
/// length: 1, 2 and 3 digits. They are a prefix code: no code begins another.
fn calling_codes() -> &'static [Vec<u16>; 3] {
    static CODES: std::sync::OnceLock<[Vec<u16>; 3]> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        let mut by_length: [Vec<u16>; 3] = Default::default();
        for code in 1..=999u16 {
            if phonenumber::metadata::DATABASE.by_code(&code).is_some() {
                let digits = code.to_string().len();
                by_length[digits - 1].push(code);
            }
        }
        by_length
    })
}

/// The calling code of a country, as digits.
fn calling_code(country: Id) -> Option<String> {
    let id: &str = country.as_ref();
    phonenumber::metadata::DATABASE
        .by_id(id)
        .map(|m| m.country_code().to_string())
}

/// The phones a pipeline takes, as a regular expression any JSON Schema validator runs (the
/// API's document gives it with each phone field): `+`, a country calling code and in all 7 to
/// 15 digits, or, when the pipeline has its `country`, the national number alone (a leading
/// trunk `8` or `0` included) — with spaces, dots, dashes and brackets anywhere between the
/// digits, spaces around. Every text it allows is taken by [`phone`] (see there).
pub fn phone_pattern(country: Option<Id>) -> String {
    let sep = "[ ().-]";
    let international: Vec<String> = calling_codes()
        .iter()
        .enumerate()
        .filter(|(_, codes)| !codes.is_empty())
        .map(|(i, codes)| {
            let len = i + 1;
            let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
            format!(
                "(?:{})(?:{sep}*[0-9]){{{},{}}}",
                codes.join("|"),
                7 - len,
                15 - len
            )
        })
        .collect();
    let mut p = format!("^ *(?:\\+(?:{}){sep}*", international.join("|"));
    if let Some(len) = country.and_then(calling_code).map(|c| c.len()) {
        p.push_str(&format!(
            "|{sep}*(?:[0-9]{sep}*){{{},{}}}",
            7 - len,
            15 - len
        ));
    }
    p.push_str(")$");
    p
}

/// The number a text of [`phone_pattern`] stands for, its digits as typed (`+`, the calling
/// code, the rest; a national one with the country's code before it); `None` when the text is
/// not of the pattern.
fn as_typed(text: &str, country: Option<Id>) -> Option<String> {
    let t = text.trim_start_matches(' ');
    let (national, rest) = match t.strip_prefix('+') {
        Some(rest) => (None, rest),
        None => (Some(calling_code(country?)?), t),
    };
    if rest
        .chars()
        .any(|c| !c.is_ascii_digit() && !SEPARATORS.contains(c))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let e164 = match national {
        Some(code) => format!("{code}{digits}"),
        None => {
            // The code comes right after the `+`, and is one the metadata knows.
            let known = calling_codes().iter().flatten().any(|c| {
                let c = c.to_string();
                rest.starts_with(&c) && digits.starts_with(&c)
            });
            if !known {
                return None;
            }
            digits
        }
    };
    (7..=15).contains(&e164.len()).then(|| format!("+{e164}"))
}

/// A phone number in E.164, or why the text is not one. Numbering-plan validity is not asked
/// for: test numbers such as `+70000000001` stay usable. A text of [`phone_pattern`] is always
/// taken: what libphonenumber cannot read of it is kept with its digits as typed.
pub fn phone(what: &str, text: &str, country: Option<Id>) -> Result<String, String> {
    read_phone(what, text, country).or_else(|e| as_typed(&visible(text), country).ok_or(e))
}

fn read_phone(what: &str, text: &str, country: Option<Id>) -> Result<String, String> {
    let visible = visible(text);
    let t = visible.trim();
    let refused = |why: &str| format!("`{what}` must be a phone number, not `{t}`: {why}");
    if !t.starts_with('+') && country.is_none() {
        if !t.chars().any(|c| c.is_ascii_digit()) {
            return Err(refused("it has no digits"));
        }
        return Err(refused(
            "write it with its country code (`+7 916 123-45-67`), or give the pipeline its `country`",
        ));
    }
    let n = match phonenumber::parse(country, t) {
        // The parser cannot hold a national number of zeros (`+70000000000`, a test number):
        // written in full with its `+code`, it is E.164 as it stands.
        Err(phonenumber::ParseError::MalformedInteger(_)) if international(t).is_some() => {
            return international(t).ok_or_else(|| refused("it cannot be read as one"));
        }
        other => other,
    };
    let n = n.map_err(|e| {
        refused(match e {
            phonenumber::ParseError::NoNumber => "it is not a number",
            phonenumber::ParseError::InvalidCountryCode => "no country has that code",
            phonenumber::ParseError::TooShortAfterIdd | phonenumber::ParseError::TooShortNsn => {
                "it is too short"
            }
            phonenumber::ParseError::TooLong => "it is too long",
            _ => "it cannot be read as one",
        })
    })?;
    // Letters the parser would take as a keypad's (`8-800-FLOWERS`) are not a client's phone.
    if t.chars().any(char::is_alphabetic) {
        return Err(refused("it holds letters"));
    }
    let e164 = kept_digits(n.format().mode(Mode::E164).to_string(), t, country);
    // E.164 numbers have 7 to 15 digits with the country code; fewer is an extension or a slip.
    let digits = e164.chars().filter(char::is_ascii_digit).count();
    if digits < 7 {
        return Err(refused("it is too short"));
    }
    if digits > 15 {
        return Err(refused("it is too long"));
    }
    Ok(e164)
}

/// The parser's E.164, unless it lost digits the person typed: libphonenumber's reading of a
/// trunk prefix takes the `8` of `+7 812 …` (St Petersburg) or `+7 800 …` for one. Then the
/// number as typed: `+` and every digit, or the country's code and the digits after its trunk
/// prefix (`8 812 123-45-67` → `+78121234567`).
fn kept_digits(e164: String, typed: &str, country: Option<Id>) -> String {
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let expected = if typed.starts_with('+') {
        format!("+{digits}")
    } else {
        let Some(meta) = country.and_then(|c| {
            let id: &str = c.as_ref();
            phonenumber::metadata::DATABASE.by_id(id)
        }) else {
            return e164;
        };
        let national = meta
            .national_prefix()
            .and_then(|p| digits.strip_prefix(p))
            .unwrap_or(&digits);
        format!("+{}{national}", meta.country_code())
    };
    if e164.len() < expected.len() && (8..=16).contains(&expected.len()) {
        expected
    } else {
        e164
    }
}

/// A text without the characters that take no room (pasted text carries them unseen).
fn visible(text: &str) -> String {
    text.chars()
        .filter(|c| !crate::value::zero_width(*c))
        .collect()
}

/// `+` and 7 to 15 digits, with spaces, dashes, dots or brackets between: `+70000000000`.
fn international(t: &str) -> Option<String> {
    let rest = t.strip_prefix('+')?;
    let mut digits = String::from("+");
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (8..=16).contains(&digits.len()).then_some(digits)
}

/// The words a search looks for, in lower case: a query that is a phone as people write it
/// (`+7 (916) 123-45-67`, `8 916 123-45-67`, `(916) 123-45-67`) is one word, its number's
/// digits (read with the pipeline's `country`, else as typed); any other query, its words (a
/// word that is a piece of a phone, its digits). Characters that take no room are ignored.
pub fn search_terms(query: &str, country: Option<Id>) -> Vec<String> {
    let q: String = query
        .chars()
        .filter(|c| !crate::value::zero_width(*c))
        .collect::<String>()
        .to_lowercase();
    let phone_chars = |w: &str| {
        w.chars()
            .all(|c| c.is_ascii_digit() || "+-() .".contains(c))
    };
    let digits = |w: &str| -> String { w.chars().filter(char::is_ascii_digit).collect() };
    let whole = q.trim();
    if phone_chars(whole) && digits(whole).len() >= 4 {
        // A whole number (ten digits or more: `8 916 …`, `(916) …`) is read as one; a piece of
        // one (`123-45-67`, `45-67`) is found by its digits.
        let read = (digits(whole).len() >= 10)
            .then(|| phone("q", whole, country).ok())
            .flatten()
            .map(|e164| digits(&e164));
        return vec![read.unwrap_or_else(|| digits(whole))];
    }
    q.split_whitespace()
        .map(|w| {
            if digits(w).len() >= 4 && phone_chars(w) {
                digits(w)
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// An email address by its syntax (`name@domain`), trimmed, or why the text is not one.
pub fn email(what: &str, text: &str) -> Result<String, String> {
    let visible = visible(text);
    let t = visible.trim();
    match lettre::Address::from_str(t) {
        Ok(a) if a.domain().contains('.') || a.domain() == "localhost" => Ok(t.to_string()),
        _ => Err(format!(
            "`{what}` must be an email address like `name@example.com`, not `{t}`"
        )),
    }
}

/// A Telegram chat as the Bot API takes it: a numeric chat id (`123456789`; a group's is
/// negative) or a public `@name` (5 to 32 letters, digits or `_`), trimmed; or why not.
pub fn telegram(what: &str, text: &str) -> Result<String, String> {
    let t = text.trim();
    let id = t.strip_prefix('-').unwrap_or(t);
    let numeric = (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
    let name = t.strip_prefix('@').is_some_and(|n| {
        (5..=32).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if numeric || name {
        Ok(t.to_string())
    } else {
        Err(format!(
            "`{what}` must be a Telegram chat id like `123456789` or a name like `@studio_news`, \
             not `{t}`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_chats_are_ids_or_public_names() {
        for ok in ["123456789", " -1001234567890 ", "@studio_news"] {
            assert_eq!(telegram("tg", ok).as_deref(), Ok(ok.trim()));
        }
        for bad in ["", "@ab", "12a", "https://t.me/x", "-", "@имя_канала"] {
            assert!(telegram("tg", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_written_in_e164() {
        let ru = phone_country("ru");
        for (typed, e164) in [
            ("+7 (916) 123-45-67", "+79161234567"),
            ("8 916 123 45 67", "+79161234567"),
            ("+79161234567", "+79161234567"),
            ("+70000000001", "+70000000001"),
            ("+7 000 000-00-00", "+70000000000"),
            ("+49 30 123456", "+4930123456"),
            ("8\u{200B}916 123-45-67\u{FEFF}", "+79161234567"),
            ("+7 (812) 123-45-67", "+78121234567"),
            ("8 (812) 123-45-67", "+78121234567"),
            ("+7 800 555 35 35", "+78005553535"),
            ("8 800 555-35-35", "+78005553535"),
            ("+1 800 555 0100", "+18005550100"),
            ("+49 89 1234567", "+49891234567"),
            ("+44 800 123 4567", "+448001234567"),
        ] {
            assert_eq!(
                phone("client_phone", typed, ru),
                Ok(e164.to_string()),
                "{typed}"
            );
        }
        assert_eq!(
            phone("client_phone", "+7 (916) 123-45-67", None),
            Ok("+79161234567".to_string())
        );
    }

    fn fits(pattern: &jsonschema::Validator, text: &str) -> bool {
        pattern.is_valid(&serde_json::json!(text))
    }

    fn validator(country: Option<Id>) -> jsonschema::Validator {
        jsonschema::validator_for(
            &serde_json::json!({"type": "string", "pattern": phone_pattern(country)}),
        )
        .expect("the pattern compiles")
    }

    #[test]
    fn calling_codes_are_a_prefix_code() {
        let all: Vec<String> = calling_codes()
            .iter()
            .flatten()
            .map(u16::to_string)
            .collect();
        assert!(all.contains(&"7".to_string()) && all.contains(&"375".to_string()));
        for a in &all {
            for b in &all {
                assert!(a == b || !b.starts_with(a.as_str()), "{a} begins {b}");
            }
        }
    }

    #[test]
    fn the_pattern_says_which_phones_are_taken() {
        let ru = phone_country("ru");
        let (with, without) = (validator(ru), validator(None));
        for typed in [
            "+7 (916) 123-45-67",
            " +79161234567 ",
            "+375 29 123-45-67",
            "+1 (212) 555-0100",
            "+70000000000",
            "+7 000 000-00-00",
        ] {
            assert!(fits(&with, typed) && fits(&without, typed), "{typed}");
            assert!(phone("p", typed, ru).is_ok(), "{typed}");
        }
        for national in [
            "8 916 123-45-67",
            "(916) 123-45-67",
            "9161234567",
            "8(916)1234567",
        ] {
            assert!(fits(&with, national), "{national}");
            assert!(
                !fits(&without, national),
                "{national}: no country, no national number"
            );
            assert_eq!(
                phone("p", national, ru).as_deref(),
                Ok("+79161234567"),
                "{national}"
            );
        }
        for not in [
            "",
            "+",
            "+7",
            "+7 916",
            "+999 123 4567",
            "+7 916 123 45 67 доб. 5",
            "8-800-FLOWERS",
            "+7\u{1f}9161234567",
            "+7 916 123 45 67\n",
            "+7 9161234567890123",
            "++79161234567",
            "+(7) 916 123 45 67",
        ] {
            assert!(!fits(&with, not), "{not:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the pattern allows is taken (kept as typed where the reader cannot read
        /// it), and the pattern and the taking agree character by character.
        #[test]
        fn every_text_of_the_pattern_is_taken(
            text in "[ ().+0-9a-]{0,22}|  ?[+]?[0-9][0-9 ().-]{4,24}"
        ) {
            for country in [phone_country("ru"), phone_country("de"), None] {
                let v = validator(country);
                let matches = fits(&v, &text);
                proptest::prop_assert_eq!(matches, as_typed(&text, country).is_some(), "{:?} {:?}", text, country);
                if matches {
                    let e164 = phone("p", &text, country);
                    proptest::prop_assert!(e164.is_ok(), "{:?}: {:?}", text, e164);
                }
            }
        }
    }

    #[test]
    fn what_is_not_a_phone_is_named() {
        let ru = phone_country("RU");
        for bad in ["nope", "", "+", "12", "+999 123 456", "8-800-FLOWERS"] {
            let e = phone("client_phone", bad, ru).expect_err(bad);
            assert!(
                e.starts_with("`client_phone` must be a phone number"),
                "{e}"
            );
        }
        let e = phone("client_phone", "8 916 123 45 67", None).expect_err("no country");
        assert!(e.contains("country"), "{e}");
        assert_eq!(phone_country("XX"), None);
        assert_eq!(phone_country("RUS"), None);
    }

    #[test]
    fn a_phone_is_searched_for_by_its_number_however_it_is_typed() {
        let ru = phone_country("RU");
        for typed in [
            "+7 (916) 123-45-67",
            "8 916 123-45-67",
            "(916) 123-45-67",
            "89161234567",
            "+7\u{200B}916\u{200B}1234567",
            " +7-916-123-45-67 ",
        ] {
            assert_eq!(search_terms(typed, ru), ["79161234567"], "{typed}");
        }
        // A piece of a number is found by its digits; other words as they are.
        assert_eq!(search_terms("123-45", ru), ["12345"]);
        for piece in ["123-45-67", "1234567", "123 45 67"] {
            assert_eq!(search_terms(piece, ru), ["1234567"], "{piece}");
        }
        assert_eq!(search_terms("45-67", ru), ["4567"]);
        assert_eq!(search_terms("Иван 123-45-67", ru), ["иван", "1234567"]);
        assert_eq!(search_terms("Ива\u{200B}н  Shop", ru), ["иван", "shop"]);
        assert_eq!(search_terms("+1 2", ru), ["+1", "2"]);
    }

    #[test]
    fn emails_are_checked_by_their_syntax() {
        for good in ["ivan@example.test", " anna.k+deals@studio.example "] {
            assert_eq!(email("client_email", good), Ok(good.trim().to_string()));
        }
        for bad in [
            "nope",
            "ivan@",
            "@example.com",
            "ivan@example",
            "a b@example.com",
            "ivan@@example.com",
        ] {
            let e = email("client_email", bad).expect_err(bad);
            assert!(e.contains("must be an email address"), "{e}");
        }
    }
}
