//! What the website forms remember against spam and double submits: the submissions of each
//! client address in the last hour, and the phones and emails each form took lately.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses and contacts remembered at most; past it, the stale ones are forgotten.
const REMEMBERED: usize = 10_000;

/// What the forms remember: recent submissions per address, recent contacts per form.
#[derive(Default)]
pub(crate) struct Guard {
    tries: Mutex<HashMap<(String, IpAddr), VecDeque<Instant>>>,
    contacts: Mutex<HashMap<(String, String), Instant>>,
}

impl Guard {
    /// Counts a submission from `ip`; how long it must wait when it is over the limit.
    pub(crate) fn over_limit(
        &self,
        key: &str,
        ip: IpAddr,
        per_hour: u32,
        now: Instant,
    ) -> Option<Duration> {
        let hour = Duration::from_secs(3600);
        let mut tries = self.tries.lock().unwrap_or_else(|p| p.into_inner());
        if tries.len() >= REMEMBERED {
            tries.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < hour));
        }
        let q = tries.entry((key.to_string(), ip)).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= hour) {
            q.pop_front();
        }
        if q.len() >= per_hour as usize {
            let oldest = q.front().copied().unwrap_or(now);
            return Some(hour.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        None
    }

    /// Takes the contacts for a new deal unless one of them came within the window (a double
    /// submit): whether they were taken.
    pub(crate) fn take(
        &self,
        key: &str,
        contacts: &[String],
        window: Duration,
        now: Instant,
    ) -> bool {
        let mut seen = self.contacts.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= REMEMBERED {
            seen.retain(|_, t| now.duration_since(*t) < window);
        }
        let recent = contacts.iter().any(|c| {
            seen.get(&(key.to_string(), c.clone()))
                .is_some_and(|t| now.duration_since(*t) < window)
        });
        if recent {
            return false;
        }
        for c in contacts {
            seen.insert((key.to_string(), c.clone()), now);
        }
        true
    }

    /// Lets the contacts go again (the deal was not made).
    pub(crate) fn release(&self, key: &str, contacts: &[String]) {
        let mut seen = self.contacts.lock().unwrap_or_else(|p| p.into_inner());
        for c in contacts {
            seen.remove(&(key.to_string(), c.clone()));
        }
    }
}
