//! `[server]`: where the daemon listens and for whom, how large a request may be, how wrong
//! tokens are counted, and how long a connection may take.

use serde::Deserialize;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address to listen on.
    pub listen: String,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// The address users reach the daemon at (`https://deals.studio.example`), when a proxy
    /// stands in front of it: its origin is the one forms must come from, `https` makes the
    /// session cookie `Secure`, and links in messages start with it. Absent: the `Host` the
    /// browser sent, over plain HTTP.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or `address/prefix` ranges): the
    /// client address a wrong token is counted against is the last one they did not add.
    pub trusted_proxies: Vec<String>,
    /// Whether `/metrics` asks for a `read` (or `staff`) token.
    pub metrics_require_token: bool,
    /// Wrong tokens (logins, and bearer tokens on any request) from one address before each
    /// further one makes it wait (1 s, doubling up to 15 minutes; forgotten after a quiet hour).
    pub login_attempts: u32,
    /// Seconds a client has to send a request's headers (from their first byte, or from
    /// connecting), and the longest pause within a request's body; past it the connection is
    /// closed.
    pub header_timeout_s: u64,
    /// Seconds a request's whole body may take to come, however it trickles in (a byte now and
    /// then buys no more); past it the connection is closed.
    pub body_timeout_s: u64,
    /// Seconds a connection may wait idle between requests before it is closed.
    pub idle_timeout_s: u64,
    /// Connections served at once; more wait until one ends.
    pub max_connections: usize,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            body_limit: 64 * 1024,
            public_url: None,
            trusted_proxies: Vec::new(),
            metrics_require_token: false,
            login_attempts: 5,
            header_timeout_s: 10,
            body_timeout_s: 60,
            idle_timeout_s: 60,
            max_connections: 512,
        }
    }
}
