//! The service API's rate limit: each service (the game or app backend, registry role `service`)
//! may send `[proposals] service_requests_per_minute` mint requests a minute, with bursts up to
//! the same number, counted per registered name.
//!
//! The budget is a GCRA (generic cell rate algorithm) whose state, one timestamp per service, is
//! kept in the database and updated under a row lock, so every instance draws on the same budget:
//! three instances behind a load balancer do not give a service three times its rate.
//!
//! Refusals are audited, but not each one: a service that keeps sending while refused would
//! otherwise write the audit log as fast as it can send. The first refusal of a service in a
//! minute is audited; the rest of that minute are answered (429) and not written.

use chrono::Utc;

use super::Refusal;
use crate::store::{Db, Error, Tx, on_tx};

/// Per-service request budgets.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRate {
    per_minute: u32,
}

/// A request over the budget.
#[derive(Debug)]
pub struct Limited {
    /// Why, for the answer and the audit entry.
    pub refusal: Refusal,
    /// Whether this refusal is the first of its service's minute, to be audited.
    pub audit: bool,
}

const MINUTE_MS: i64 = 60_000;

/// One GCRA step at `now_ms` for a service whose theoretical arrival time is `tat_ms`:
/// `Ok(new tat)` when the request fits, `Err(milliseconds until it would)` when not.
pub fn gcra(now_ms: i64, tat_ms: i64, per_minute: u32) -> Result<i64, i64> {
    let interval = MINUTE_MS / i64::from(per_minute.max(1));
    let tolerance = MINUTE_MS - interval;
    let tat = tat_ms.max(now_ms);
    let early = tat - now_ms - tolerance;
    if early > 0 {
        Err(early)
    } else {
        Ok(tat + interval)
    }
}

impl ServiceRate {
    /// `per_minute` requests a minute per service (0 is taken as 1).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
        }
    }

    /// Counts one request from `service` against the shared budget; over it, says when to try
    /// again and whether this refusal is to be audited.
    pub async fn check(&self, db: &Db, service: &str) -> Result<Result<(), Limited>, Error> {
        let now_ms = Utc::now().timestamp_millis();
        let minute = now_ms / MINUTE_MS;
        let mut tx = db.begin().await?;
        let (tat_ms, audited_minute) = lock(&mut tx, service).await?;
        let answer = match gcra(now_ms, tat_ms, self.per_minute) {
            Ok(next) => {
                save(&mut tx, service, next, audited_minute).await?;
                Ok(())
            }
            Err(wait_ms) => {
                let audit = audited_minute != minute;
                if audit {
                    save(&mut tx, service, tat_ms, minute).await?;
                }
                Err(Limited {
                    refusal: Refusal::RateLimited {
                        per_minute: self.per_minute,
                        retry_secs: u64::try_from((wait_ms + 999) / 1000).unwrap_or(1),
                    },
                    audit,
                })
            }
        };
        tx.commit().await?;
        Ok(answer)
    }
}

/// The service's (tat, audited minute), its row locked until `tx` ends; created when new.
async fn lock(tx: &mut Tx, service: &str) -> Result<(i64, i64), Error> {
    const CREATE: &str = "INSERT INTO service_rates (service, tat_ms, audited_minute) VALUES ($1, 0, -1) \
                          ON CONFLICT (service) DO NOTHING";
    // A no-op write takes the row lock (PostgreSQL) or the database's write lock (SQLite): another
    // instance checking the same service waits here, then reads what this one wrote.
    const LOCK: &str = "UPDATE service_rates SET tat_ms = tat_ms WHERE service = $1";
    const READ: &str = "SELECT tat_ms, audited_minute FROM service_rates WHERE service = $1";
    on_tx!(tx, conn => sqlx::query(CREATE).bind(service).execute(&mut *conn).await?.rows_affected());
    on_tx!(tx, conn => sqlx::query(LOCK).bind(service).execute(&mut *conn).await?.rows_affected());
    Ok(on_tx!(tx, conn => sqlx::query_as(READ).bind(service).fetch_one(&mut *conn).await?))
}

async fn save(tx: &mut Tx, service: &str, tat_ms: i64, audited_minute: i64) -> Result<(), Error> {
    const SQL: &str =
        "UPDATE service_rates SET tat_ms = $1, audited_minute = $2 WHERE service = $3";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(tat_ms).bind(audited_minute).bind(service).execute(&mut *conn).await?.rows_affected()
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_gets_its_burst_then_one_request_per_interval() {
        // 3 a minute: one every 20 s, bursts of 3.
        let now = 1_000_000;
        let mut tat = 0;
        for i in 0..3 {
            tat = gcra(now, tat, 3).unwrap_or_else(|_| panic!("request {i} fits the burst"));
        }
        assert_eq!(gcra(now, tat, 3), Err(20_000), "the fourth waits 20 s");
        assert_eq!(gcra(now + 19_999, tat, 3), Err(1));
        assert!(gcra(now + 20_000, tat, 3).is_ok(), "and then fits");
        assert!(
            gcra(now + 3_600_000, tat, 3).is_ok(),
            "an idle service has its burst back"
        );
        assert!(gcra(now, 0, 0).is_ok(), "0 a minute is taken as 1");
        assert_eq!(gcra(now, gcra(now, 0, 0).unwrap_or(0), 0), Err(60_000));
    }
}
