//! Webhooks: configured receivers are told of every emergency pause (invariant 3, "notify all
//! stakeholders"). A delivery is queued in the same transaction as the change it announces, so a
//! crash cannot lose it; whichever instance finds it due sends it (claiming it first, so two
//! instances do not both send), retrying with backoff (1 s doubling to 5 min, 8 tries). Every
//! try is audited: `webhook.delivered`, `webhook.failed`, `webhook.abandoned`.
//!
//! The body is JSON; `X-Gatehouse-Signature: sha256=<hex>` is the HMAC-SHA256 of
//! `<X-Gatehouse-Timestamp>.<body>` under the hook's secret, so a receiver can check both who sent
//! it and that it is not an old one replayed.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gatehouse_audit::leaf::OutcomeKind;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::audit::{Action, Actor, AuditLog, Entry, Personal};
use crate::store::{Db, Error as StoreError, Tx, on_pool, on_tx};

/// Tries before a delivery is abandoned.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed delivery is left to its sender before another may try.
const LEASE: Duration = Duration::from_secs(60);
/// How often due deliveries are looked for.
const POLL: Duration = Duration::from_secs(1);
/// How long a receiver may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One receiver (`[[webhooks]]` in the server's config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Its name in the audit log.
    pub name: String,
    /// Where deliveries are POSTed (https, or http on loopback for development).
    pub url: String,
    /// File holding the shared HMAC secret (mode 0600), relative to the deployment.
    pub secret_file: PathBuf,
}

/// A configuration or secret problem.
#[derive(Debug, thiserror::Error)]
#[error("webhook {name}: {reason}")]
pub struct Error {
    name: String,
    reason: String,
}

/// Why due deliveries could not be handled (they stay queued).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] crate::audit::Error),
}

/// The delay before try `attempts + 1` after `attempts` failed ones: 1 s doubling, at most 5 min.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 10) - 1).unwrap_or(0);
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(300))
}

/// `sha256=<hex>`: the HMAC-SHA256 of `timestamp.body` under `secret`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| {
        // HMAC takes keys of any length.
        unreachable!("HMAC-SHA256 accepts every key length")
    });
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Queues `event` with `payload` for every hook, in `tx` (the change's own transaction).
pub async fn enqueue(
    tx: &mut Tx,
    hooks: &[String],
    event: &str,
    payload: &serde_json::Value,
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO webhook_deliveries (id, hook, event, payload, next_at) VALUES ($1, $2, $3, $4, $5)";
    let body = serde_json::json!({ "event": event, "data": payload }).to_string();
    for hook in hooks {
        let id = uuid::Uuid::new_v4().to_string();
        on_tx!(tx, conn => {
            sqlx::query(SQL).bind(&id).bind(hook).bind(event).bind(&body).bind(Utc::now()).execute(&mut *conn).await?.rows_affected()
        });
    }
    Ok(())
}

/// A hook ready to send: its URL and secret.
struct Ready {
    name: String,
    url: String,
    secret: Zeroizing<Vec<u8>>,
}

/// Sends due deliveries; one per instance.
pub struct Sender {
    db: Db,
    audit: AuditLog,
    hooks: Vec<Ready>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field(
                "hooks",
                &self.hooks.iter().map(|h| &h.name).collect::<Vec<_>>(),
            )
            .field("secrets", &"[redacted]")
            .finish_non_exhaustive()
    }
}

type Due = (String, String, String, String, i64);

impl Sender {
    /// Reads every hook's secret (`resolve` turns a configured path into a file).
    pub fn new(
        db: Db,
        audit: AuditLog,
        hooks: &[Webhook],
        resolve: impl Fn(&std::path::Path) -> PathBuf,
    ) -> Result<Self, Error> {
        let mut ready = Vec::new();
        for hook in hooks {
            let fail = |reason: String| Error {
                name: hook.name.clone(),
                reason,
            };
            if !hook.url.starts_with("https://")
                && !hook.url.starts_with("http://127.0.0.1")
                && !hook.url.starts_with("http://localhost")
            {
                return Err(fail(format!(
                    "url {:?} must be https:// (or http:// on loopback)",
                    hook.url
                )));
            }
            let path = resolve(&hook.secret_file);
            let secret = Zeroizing::new(
                std::fs::read(&path)
                    .map_err(|e| fail(format!("secret file {}: {e}", path.display())))?,
            );
            let trimmed = Zeroizing::new(secret.trim_ascii().to_vec());
            if trimmed.len() < 16 {
                return Err(fail(format!(
                    "secret file {} holds fewer than 16 bytes: make a long random secret",
                    path.display()
                )));
            }
            ready.push(Ready {
                name: hook.name.clone(),
                url: hook.url.clone(),
                secret: trimmed,
            });
        }
        // reqwest is built without a crypto provider of its own: the process's (aws-lc-rs).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| Error {
                name: "*".into(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            db,
            audit,
            hooks: ready,
            http,
        })
    }

    /// The configured hooks' names (what [`enqueue`] queues for).
    pub fn names(&self) -> Vec<String> {
        self.hooks.iter().map(|h| h.name.clone()).collect()
    }

    /// Sends due deliveries until `stop`.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.send_due().await {
                tracing::warn!(%error, "webhook deliveries could not be read");
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Sends every delivery that is due now.
    pub async fn send_due(&self) -> Result<(), SendError> {
        const DUE: &str = "SELECT id, hook, event, payload, attempts FROM webhook_deliveries \
                           WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at LIMIT 20";
        let now = Utc::now();
        let due: Vec<Due> = on_pool!(&self.db, pool => sqlx::query_as(DUE).bind(now).fetch_all(pool).await.map_err(StoreError::from)?);
        for row in due {
            if self.claim(&row, now).await? {
                self.send(row).await?;
            }
        }
        Ok(())
    }

    /// Takes `row` for this instance (another sender that read it too gets `false`).
    async fn claim(&self, row: &Due, now: DateTime<Utc>) -> Result<bool, StoreError> {
        const CLAIM: &str = "UPDATE webhook_deliveries SET next_at = $1 \
                             WHERE id = $2 AND state = 'pending' AND attempts = $3 AND next_at <= $4";
        let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let claimed = on_pool!(&self.db, pool => sqlx::query(CLAIM).bind(lease).bind(&row.0).bind(row.4).bind(now).execute(pool).await?.rows_affected());
        Ok(claimed == 1)
    }

    async fn send(&self, (id, hook, event, payload, attempts): Due) -> Result<(), SendError> {
        let attempt = attempts + 1;
        let result = match self.hooks.iter().find(|h| h.name == hook) {
            None => Err(format!("webhook {hook} is no longer configured")),
            Some(ready) => {
                let timestamp = Utc::now().timestamp().to_string();
                let sent = self
                    .http
                    .post(&ready.url)
                    .header("content-type", "application/json")
                    .header("x-gatehouse-delivery", &id)
                    .header("x-gatehouse-event", &event)
                    .header("x-gatehouse-timestamp", &timestamp)
                    .header(
                        "x-gatehouse-signature",
                        signature(&ready.secret, &timestamp, payload.as_bytes()),
                    )
                    .body(payload.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                    Ok(r) => Err(format!("the receiver answered HTTP {}", r.status())),
                    Err(e) => Err(format!("the receiver cannot be reached: {e}")),
                }
            }
        };
        let (state, action, outcome, next_at, error) = match &result {
            Ok(_) => (
                "delivered",
                Action::WebhookDelivered,
                OutcomeKind::Success,
                None,
                None,
            ),
            Err(e) if attempt >= MAX_ATTEMPTS => (
                "abandoned",
                Action::WebhookAbandoned,
                OutcomeKind::Failed,
                None,
                Some(e.clone()),
            ),
            Err(e) => {
                let next =
                    Utc::now() + chrono::Duration::from_std(backoff(attempt)).unwrap_or_default();
                (
                    "pending",
                    Action::WebhookFailed,
                    OutcomeKind::Failed,
                    Some(next),
                    Some(e.clone()),
                )
            }
        };
        const UPDATE: &str = "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_at = COALESCE($3, next_at), \
                              delivered_at = $4, last_error = $5 WHERE id = $6";
        let delivered_at = result.is_ok().then(Utc::now);
        let mut tx = self.db.begin().await.map_err(StoreError::from)?;
        on_tx!(&mut tx, conn => {
            sqlx::query(UPDATE).bind(state).bind(attempt).bind(next_at).bind(delivered_at).bind(&error).bind(&id).execute(&mut *conn).await.map_err(StoreError::from)?.rows_affected()
        });
        let entry = Entry {
            actor: Actor::server(),
            action,
            object: format!("webhook:{hook}"),
            outcome,
            code: None,
            request_id: id.clone(),
            details: serde_json::json!({
                "delivery": id,
                "event": event,
                "attempt": attempt,
                "status": result.as_ref().ok(),
                "error": error,
                "next_try": next_at,
            }),
            personal: Personal::default(),
        };
        let recorded = self.audit.record(&mut tx, entry).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if let Err(error) = self.audit.sequenced(recorded).await {
            tracing::warn!(%error, "a webhook delivery's audit entry is queued");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_one_second_to_five_minutes() {
        let delays: Vec<u64> = (1..=10).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
    }

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let s = signature(b"0123456789abcdef", "1700000000", b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64, "{s}");
        assert_ne!(s, signature(b"0123456789abcdef", "1700000001", b"{}"));
        assert_ne!(s, signature(b"0123456789abcdef", "1700000000", b"{ }"));
        assert_ne!(s, signature(b"fedcba9876543210", "1700000000", b"{}"));
    }
}
