//! Wrong logins, counted per client address: a few are free, then each one makes that address
//! wait before the next try (1 s, doubling up to 15 minutes), the right token included. A right
//! login forgets the count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest wait.
const LONGEST: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most; past it, those quiet for an hour are forgotten.
const REMEMBERED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Tries {
    wrong: u32,
    until: Instant,
    last: Instant,
}

/// Wrong logins per client address.
pub(crate) struct Throttle {
    free: u32,
    seen: Mutex<HashMap<IpAddr, Tries>>,
}

impl Throttle {
    pub(crate) fn new(free: u32) -> Throttle {
        Throttle {
            free,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Tries>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long this address must still wait before it may try, if it must.
    pub(crate) fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let left = self.seen().get(&ip)?.until.checked_duration_since(now)?;
        (!left.is_zero()).then_some(left)
    }

    /// A wrong login from this address: how long it must wait now.
    pub(crate) fn wrong(&self, ip: IpAddr, now: Instant) -> Duration {
        let mut seen = self.seen();
        if seen.len() >= REMEMBERED {
            seen.retain(|_, t| now.duration_since(t.last) < Duration::from_secs(3600));
        }
        let t = seen.entry(ip).or_insert(Tries {
            wrong: 0,
            until: now,
            last: now,
        });
        t.wrong = t.wrong.saturating_add(1);
        t.last = now;
        let over = t.wrong.saturating_sub(self.free);
        let wait = if over == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1u64 << (over - 1).min(20)).min(LONGEST)
        };
        t.until = now + wait;
        wait
    }

    /// A right login: the address starts afresh.
    pub(crate) fn right(&self, ip: IpAddr) {
        self.seen().remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_tries_and_a_right_login_forgets() {
        let t = Throttle::new(3);
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        let other: IpAddr = "203.0.113.10".parse().expect("ip");
        let now = Instant::now();
        let waits: Vec<u64> = (0..8).map(|_| t.wrong(ip, now).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 16]);
        assert_eq!(t.wait(ip, now), Some(Duration::from_secs(16)));
        assert_eq!(t.wait(ip, now + Duration::from_secs(16)), None);
        assert_eq!(t.wait(other, now), None);
        for _ in 0..40 {
            t.wrong(ip, now);
        }
        assert_eq!(t.wait(ip, now), Some(LONGEST));
        t.right(ip);
        assert_eq!(t.wait(ip, now), None);
    }
}
