//! The daemon's own origin, and the client's address: `[server] public_url` says where users
//! reach it (a proxy in front ends TLS), `trusted_proxies` whose `X-Forwarded-For` to believe.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};

use crate::daemon::config::{ConfigError, Server};

/// Where the daemon is reached, and whom it believes about client addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Site {
    public: Option<Public>,
    proxies: Vec<Range>,
}

#[derive(Debug, Clone)]
struct Public {
    /// `https://deals.example` (scheme, host, port when not the default).
    origin: String,
    /// The URL as configured, without a trailing slash.
    base: String,
    secure: bool,
}

/// An address range: `10.0.0.0/8`, or one address.
#[derive(Debug, Clone, Copy)]
struct Range {
    net: IpAddr,
    prefix: u32,
}

impl Range {
    fn parse(text: &str) -> Option<Range> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u32>().ok()?)),
            None => (text.trim(), None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let bits = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Range { net, prefix })
    }

    fn holds(&self, ip: IpAddr) -> bool {
        let shift = |bits: u32| bits.saturating_sub(self.prefix);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let s = shift(32);
                s >= 32 || u32::from(n) >> s == u32::from(a) >> s
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let s = shift(128);
                s >= 128 || u128::from(n) >> s == u128::from(a) >> s
            }
            _ => false,
        }
    }
}

/// An address as a proxy writes it in `X-Forwarded-For`: `203.0.113.9`, `2001:db8::1`, and
/// with a port, `203.0.113.9:5555` or `[2001:db8::1]:5555` (some proxies keep it).
fn forwarded_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    if let Some(rest) = t.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = t.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The origin of a URL (`scheme://host[:port]`), if it is an http(s) URL with a host.
fn origin_of(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// The `host[:port]` of an origin.
fn authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, a)| a)
}

impl Site {
    /// From `[server]`: a `public_url` that is not an http(s) URL, or a proxy that is not an
    /// address or a range, is a configuration error.
    pub(crate) fn from_config(server: &Server) -> Result<Site, ConfigError> {
        let public = match &server.public_url {
            None => None,
            Some(u) => {
                let origin = origin_of(u).ok_or_else(|| {
                    ConfigError::Named(format!(
                        "`server.public_url = \"{u}\"` is not an http or https URL"
                    ))
                })?;
                Some(Public {
                    secure: origin.starts_with("https:"),
                    origin,
                    base: u.trim_end_matches('/').to_string(),
                })
            }
        };
        let proxies = server
            .trusted_proxies
            .iter()
            .map(|p| {
                Range::parse(p).ok_or_else(|| {
                    ConfigError::Named(format!(
                        "`server.trusted_proxies`: `{p}` is not an address or a range (`10.0.0.0/8`)"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Site { public, proxies })
    }

    /// Whether the session cookie must be `Secure` (the public URL is https).
    pub(crate) fn secure(&self) -> bool {
        self.public.as_ref().is_some_and(|p| p.secure)
    }

    /// The public URL, for links in messages.
    pub(crate) fn base_url(&self) -> Option<&str> {
        self.public.as_ref().map(|p| p.base.as_str())
    }

    /// Whether a request says it comes from a page of this very site: its `Origin` (else the
    /// origin of its `Referer`) is the public URL's origin, or, with none configured, names the
    /// host the request was sent to. A request that says neither does not.
    pub(crate) fn same_origin(&self, headers: &HeaderMap) -> bool {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let came = match text(header::ORIGIN) {
            Some(o) => origin_of(o),
            None => text(header::REFERER).and_then(origin_of),
        };
        let Some(came) = came else {
            return false;
        };
        match &self.public {
            Some(p) => came == p.origin,
            None => text(header::HOST).is_some_and(|h| {
                let a = authority(&came);
                a.eq_ignore_ascii_case(h)
                    || a.eq_ignore_ascii_case(h.trim_end_matches(":80"))
                    || a.eq_ignore_ascii_case(h.trim_end_matches(":443"))
            }),
        }
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the last
    /// address in `X-Forwarded-For` that no trusted proxy added.
    pub(crate) fn client(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        let trusted = |ip: IpAddr| self.proxies.iter().any(|r| r.holds(ip));
        let peer = peer?;
        if !trusted(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(forwarded_ip)
            .collect();
        let mut client = peer;
        for ip in forwarded.into_iter().rev() {
            client = ip;
            if !trusted(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn site(public: Option<&str>, proxies: &[&str]) -> Site {
        Site::from_config(&Server {
            public_url: public.map(str::to_string),
            trusted_proxies: proxies.iter().map(|p| p.to_string()).collect(),
            ..Server::default()
        })
        .expect("valid")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn the_origin_is_the_public_urls_or_the_host() {
        let s = site(Some("https://deals.example/"), &[]);
        assert!(s.secure());
        assert_eq!(s.base_url(), Some("https://deals.example"));
        assert!(s.same_origin(&headers(&[("origin", "https://deals.example")])));
        assert!(s.same_origin(&headers(&[("referer", "https://deals.example/deals/x")])));
        for bad in [
            "http://deals.example",
            "https://evil.example",
            "https://deals.example.evil.example",
            "null",
        ] {
            assert!(!s.same_origin(&headers(&[("origin", bad)])), "{bad}");
        }
        assert!(!s.same_origin(&headers(&[])));
        let s = site(None, &[]);
        assert!(!s.secure());
        let h = |origin: &str| headers(&[("host", "127.0.0.1:8080"), ("origin", origin)]);
        assert!(s.same_origin(&h("http://127.0.0.1:8080")));
        assert!(!s.same_origin(&h("http://evil.example")));
        assert!(!s.same_origin(&h("http://127.0.0.1:8081")));
    }

    #[test]
    fn bad_settings_are_named() {
        for (url, proxy) in [
            (Some("deals.example"), "10.0.0.1"),
            (Some("ftp://deals.example"), "10.0.0.1"),
            (None, "10.0.0.0/33"),
            (None, "proxy.local"),
        ] {
            let e = Site::from_config(&Server {
                public_url: url.map(str::to_string),
                trusted_proxies: vec![proxy.into()],
                ..Server::default()
            })
            .expect_err("refused")
            .to_string();
            assert!(
                e.contains("public_url") || e.contains("trusted_proxies"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_client_is_the_last_address_no_trusted_proxy_added() {
        let s = site(None, &["10.0.0.0/8", "::1"]);
        let ip = |t: &str| t.parse::<IpAddr>().expect("ip");
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.2.3")]);
        // Not from a proxy: the peer, whatever it forwards.
        assert_eq!(
            s.client(&xff, Some(ip("198.51.100.7"))),
            Some(ip("198.51.100.7"))
        );
        // From a trusted proxy: the address its chain got the request from.
        assert_eq!(
            s.client(&xff, Some(ip("10.0.0.1"))),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(s.client(&xff, Some(ip("::1"))), Some(ip("203.0.113.9")));
        assert_eq!(
            s.client(&headers(&[]), Some(ip("10.0.0.1"))),
            Some(ip("10.0.0.1"))
        );
        // An address with its port, as some proxies write it.
        for (written, client) in [
            ("203.0.113.9:5555", "203.0.113.9"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
        ] {
            let h = headers(&[("x-forwarded-for", written)]);
            assert_eq!(
                s.client(&h, Some(ip("10.0.0.1"))),
                Some(ip(client)),
                "{written}"
            );
        }
    }
}
