//! Wrong tokens, counted per client address — at the login page and on every API route alike:
//! a few are free, then each one makes that address wait before the next try (1 s, doubling up
//! to 15 minutes), whatever it sends then, the right token included. A right token clears
//! nothing (it would let the holder of one token keep guessing others); an address's count is
//! forgotten after a quiet hour, an hour without a wrong try. IPv6 clients are counted by their
//! /64, the block one host is usually given.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest wait.
const LONGEST: Duration = Duration::from_secs(15 * 60);
/// How long an address's wrong tries are remembered after its last one.
pub(crate) const QUIET: Duration = Duration::from_secs(3600);
/// Addresses remembered before those quiet for an hour (then those within their free tries)
/// are swept out.
const REMEMBERED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Tries {
    wrong: u32,
    until: Instant,
    last: Instant,
}

/// Wrong tokens per client address.
pub(crate) struct Throttle {
    free: u32,
    seen: Mutex<HashMap<IpAddr, Tries>>,
}

/// What an address is counted as: itself, or for IPv6 its /64 (an IPv4 address mapped into
/// IPv6 is the IPv4 one).
fn counted(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
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
    #[cfg(test)]
    fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let left = self
            .seen()
            .get(&counted(ip))?
            .until
            .checked_duration_since(now)?;
        (!left.is_zero()).then_some(left)
    }

    /// A try from this address, looked at only when the address need not wait: `Err` with how
    /// long it must still wait, else `Ok` with the wait a wrong try has earned it (zero for a
    /// right one, which clears nothing). One step under one lock: of a burst of tries sent at
    /// once, only the free ones are looked at.
    pub(crate) fn attempt(
        &self,
        ip: IpAddr,
        now: Instant,
        wrong: bool,
    ) -> Result<Duration, Duration> {
        let mut seen = self.seen();
        if let Some(left) = seen
            .get(&counted(ip))
            .and_then(|t| t.until.checked_duration_since(now))
            .filter(|l| !l.is_zero())
        {
            return Err(left);
        }
        Ok(if wrong {
            Self::count(&mut seen, self.free, ip, now)
        } else {
            Duration::ZERO
        })
    }

    /// A wrong token from this address: how long it must wait now.
    #[cfg(test)]
    fn wrong(&self, ip: IpAddr, now: Instant) -> Duration {
        Self::count(&mut self.seen(), self.free, ip, now)
    }

    fn count(seen: &mut HashMap<IpAddr, Tries>, free: u32, ip: IpAddr, now: Instant) -> Duration {
        if seen.len() >= REMEMBERED {
            seen.retain(|_, t| now.saturating_duration_since(t.last) < QUIET);
        }
        // Addresses by the ten thousand within the hour (a botnet): those still within their
        // free tries go first, so memory stays bounded and no address that earned a wait
        // forgets it.
        if seen.len() >= REMEMBERED {
            seen.retain(|_, t| t.wrong > free);
        }
        let t = seen.entry(counted(ip)).or_insert(Tries {
            wrong: 0,
            until: now,
            last: now,
        });
        if now.saturating_duration_since(t.last) >= QUIET {
            t.wrong = 0;
        }
        t.wrong = t.wrong.saturating_add(1);
        t.last = now;
        let over = t.wrong.saturating_sub(free);
        let wait = if over == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1u64 << (over - 1).min(20)).min(LONGEST)
        };
        t.until = now + wait;
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_tries_and_only_a_quiet_hour_forgets() {
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
        // Fifteen minutes on, the next wrong try still waits the longest: the count goes on.
        let later = now + LONGEST;
        assert_eq!(t.wait(ip, later), None);
        assert_eq!(t.wrong(ip, later), LONGEST);
        // An hour without a wrong try forgets the count: the free tries are free again.
        let quiet = later + QUIET;
        assert_eq!(t.wrong(ip, quiet), Duration::ZERO);
        assert_eq!(t.wait(ip, quiet), None);
    }

    #[test]
    fn a_try_while_the_address_waits_is_not_looked_at_and_a_right_one_clears_nothing() {
        let t = Throttle::new(1);
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        let now = Instant::now();
        assert_eq!(t.attempt(ip, now, true), Ok(Duration::ZERO));
        assert_eq!(t.attempt(ip, now, true), Ok(Duration::from_secs(1)));
        assert_eq!(t.attempt(ip, now, false), Err(Duration::from_secs(1)));
        assert_eq!(t.attempt(ip, now, true), Err(Duration::from_secs(1)));
        let after = now + Duration::from_secs(1);
        assert_eq!(t.attempt(ip, after, false), Ok(Duration::ZERO));
        assert_eq!(t.attempt(ip, after, true), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn a_flood_of_addresses_forgets_the_harmless_ones_first() {
        let t = Throttle::new(1);
        let now = Instant::now();
        let guesser: IpAddr = "203.0.113.9".parse().expect("ip");
        t.wrong(guesser, now);
        t.wrong(guesser, now);
        for i in 0..REMEMBERED as u32 + 10 {
            t.wrong(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)), now);
        }
        assert!(t.seen().len() <= REMEMBERED, "{}", t.seen().len());
        assert_eq!(t.wait(guesser, now), Some(Duration::from_secs(1)));
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_block() {
        let t = Throttle::new(1);
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        t.wrong(a, now);
        assert_eq!(t.wrong(b, now), Duration::from_secs(1), "the same /64");
        assert_eq!(t.wait(a, now), Some(Duration::from_secs(1)));
        assert_eq!(t.wait(elsewhere, now), None);
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().expect("ip");
        let v4: IpAddr = "203.0.113.9".parse().expect("ip");
        t.wrong(v4, now);
        t.wrong(mapped, now);
        assert_eq!(t.wait(v4, now), Some(Duration::from_secs(1)), "one address");
    }
}
