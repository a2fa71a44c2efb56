//! The service API's rate limit: each service (the game or app backend, registry role `service`)
//! may send `[proposals] service_requests_per_minute` mint requests a minute, with bursts up to
//! the same number, counted per registered name on this instance (`governor`'s keyed GCRA).
//!
//! Refusals are audited, but not each one: a service that keeps sending while refused would
//! otherwise write the audit log as fast as it can send. The first refusal of a client in a
//! minute is audited; the rest of that minute are answered (429) and not written.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Refusal;

/// Per-service request budgets.
pub struct ServiceRate {
    per_minute: NonZeroU32,
    requests: DefaultKeyedRateLimiter<String>,
    audits: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for ServiceRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRate")
            .field("per_minute", &self.per_minute)
            .finish_non_exhaustive()
    }
}

/// A request over the budget.
#[derive(Debug)]
pub struct Limited {
    /// Why, for the answer and the audit entry.
    pub refusal: Refusal,
    /// Whether this refusal is the first of its client's minute, to be audited.
    pub audit: bool,
}

impl ServiceRate {
    /// `per_minute` requests a minute per service (0 is taken as 1).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            per_minute,
            requests: RateLimiter::keyed(Quota::per_minute(per_minute)),
            audits: RateLimiter::keyed(Quota::per_minute(NonZeroU32::MIN)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request from `client`; over the budget, says when to try again.
    pub fn check(&self, client: &str) -> Result<(), Limited> {
        let key = client.to_owned();
        match self.requests.check_key(&key) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(Limited {
                    refusal: Refusal::RateLimited {
                        per_minute: self.per_minute.get(),
                        retry_secs: round_up_secs(wait),
                    },
                    audit: self.audits.check_key(&key).is_ok(),
                })
            }
        }
    }
}

fn round_up_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_gets_its_budget_then_is_told_when_to_return() {
        let rate = ServiceRate::new(3);
        for _ in 0..3 {
            assert!(rate.check("shop").is_ok(), "within the burst");
        }
        let first = rate.check("shop").expect_err("over the budget");
        assert!(first.audit, "the first refusal of the minute is audited");
        match &first.refusal {
            Refusal::RateLimited {
                per_minute,
                retry_secs,
            } => {
                assert_eq!(*per_minute, 3);
                assert!((1..=20).contains(retry_secs), "{retry_secs}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(first.refusal.code(), "rate-limited");
        let second = rate.check("shop").expect_err("still over");
        assert!(!second.audit, "the rest of the minute is not written");
        assert!(
            rate.check("forge").is_ok(),
            "another service has its own budget"
        );
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(round_up_secs(Duration::from_millis(1)), 1);
        assert_eq!(round_up_secs(Duration::from_secs(2)), 2);
        assert_eq!(round_up_secs(Duration::from_millis(2001)), 3);
    }
}
