//! `map_link(place)`: a place put into the pipeline's map address (`maps "…{place}…"`, or
//! OpenStreetMap's search). Letters of any script stay as they are (an IRI, as phones and mail
//! clients show and open it); only what would end or break the address is percent-encoded, so
//! a Cyrillic street costs one character of an SMS instead of six.

use std::fmt::Write;

/// The address `map_link` writes when the pipeline declares none.
pub const DEFAULT_ADDRESS: &str = "https://www.openstreetmap.org/search?query={place}";

/// Where the place goes.
const PLACE: &str = "{place}";

/// A map address that can take a place: `https://` or `http://`, `{place}` once, and a URL
/// once the place is in. Returns the address; says why not otherwise.
pub fn address(text: &str) -> Result<&str, String> {
    if !(text.starts_with("https://") || text.starts_with("http://")) {
        return Err("it does not start with `https://` or `http://`".into());
    }
    match text.matches(PLACE).count() {
        0 => return Err("it has no `{place}`".into()),
        1 => {}
        _ => return Err("it has `{place}` more than once".into()),
    }
    let sample = link(text, "Москва, Тверская, 7");
    match url::Url::parse(&sample) {
        Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(text),
        Ok(_) => Err("it names no host".into()),
        Err(e) => Err(format!("it is not a URL ({e})")),
    }
}

/// The address with `place` in it.
pub fn link(address: &str, place: &str) -> String {
    let mut out = String::with_capacity(address.len() + place.len() * 2);
    let (before, after) = address.split_once(PLACE).unwrap_or((address, ""));
    out.push_str(before);
    for c in place.trim().chars() {
        let plain = if c.is_ascii() {
            c.is_ascii_alphanumeric() || "-._~!$'()*,:@".contains(c)
        } else {
            !(c.is_whitespace() || c.is_control())
        };
        if plain {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out.push_str(after);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_stay_and_what_breaks_an_address_is_encoded() {
        assert_eq!(
            link(DEFAULT_ADDRESS, "Москва, Тверская, 7"),
            "https://www.openstreetmap.org/search?query=Москва,%20Тверская,%207"
        );
        assert_eq!(
            link(
                "https://maps.example/p/{place}?z=1",
                " a&b=c/d#e?f+g\u{a0}h "
            ),
            "https://maps.example/p/a%26b%3Dc%2Fd%23e%3Ff%2Bg%C2%A0h?z=1"
        );
    }

    #[test]
    fn an_address_needs_a_scheme_one_place_and_a_host() {
        assert!(address("https://yandex.ru/maps/?text={place}").is_ok());
        assert!(address(DEFAULT_ADDRESS).is_ok());
        assert!(
            address("yandex.ru/maps/?text={place}")
                .unwrap_err()
                .contains("https://")
        );
        assert!(
            address("https://yandex.ru/maps/")
                .unwrap_err()
                .contains("no `{place}`")
        );
        assert!(
            address("https://{place}/{place}")
                .unwrap_err()
                .contains("more than once")
        );
        assert!(
            address("https://exa mple.com/{place}")
                .unwrap_err()
                .contains("not a URL")
        );
    }
}
