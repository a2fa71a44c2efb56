//! The token's NFTs, indexed, and reconciled against the ledger (invariant 1 seen from outside).
//!
//! Every NFT an executed proposal mints is recorded with its proposal and approvers. A reconciler
//! reads the token's NFTs from the mirror node and raises an alarm (audited, listed at
//! `/v1/alarms`) for any serial no executed proposal explains, which means someone minted outside
//! Gatehouse, and for mint volume above `[proposals] mint_alarm_per_hour`.

pub mod api;
pub mod store;

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use gatehouse_audit::leaf::OutcomeKind;
use serde::Deserialize;

use crate::audit::{self, Action, AuditLog, Personal};
use crate::ledger::LedgerAdapter;
use crate::store::Db;

/// A mint younger than this is not judged yet: the proposal that made it may still be settling.
pub const GRACE_SECS: i64 = 60;

/// Most NFTs read from the mirror per round.
const PAGE: usize = 100;

/// One NFT as the mirror node lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct MirrorNft {
    /// Serial number.
    pub serial_number: i64,
    /// Base64 metadata.
    #[serde(default)]
    pub metadata: String,
    /// `seconds.nanos` of the mint.
    #[serde(default)]
    pub created_timestamp: String,
}

impl MirrorNft {
    /// When it was minted, if the mirror said.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        let (secs, nanos) = self.created_timestamp.split_once('.')?;
        DateTime::<Utc>::from_timestamp(secs.parse().ok()?, nanos.parse().ok()?)
    }

    /// Whether it was minted less than `grace_secs` before `now` (judged next round).
    pub fn too_young(&self, now: DateTime<Utc>, grace_secs: i64) -> bool {
        self.created()
            .is_some_and(|at| (now - at).num_seconds() < grace_secs)
    }

    /// Its metadata as text, or the base64 when it is not UTF-8.
    pub fn metadata_text(&self) -> String {
        B64.decode(&self.metadata)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| self.metadata.clone())
    }
}

/// The NFTs on the ledger that nobody explained: not in `known`, and older than the grace period
/// at `now` (younger ones are judged next round).
pub fn unexplained<'a>(
    known: &HashSet<i64>,
    seen: &'a [MirrorNft],
    now: DateTime<Utc>,
    grace_secs: i64,
) -> Vec<&'a MirrorNft> {
    seen.iter()
        .filter(|n| !known.contains(&n.serial_number))
        .filter(|n| !n.too_young(now, grace_secs))
        .collect()
}

/// The hour (UTC, `YYYY-MM-DDTHH`) an instant falls in: an alarm's subject for mint volume.
pub fn hour(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H").to_string()
}

/// Why a reconciliation round did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The mirror node did not answer usefully.
    #[error("the mirror node: {0}")]
    Mirror(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The alarm could not be audited.
    #[error(transparent)]
    Audit(#[from] audit::Error),
}

/// Reads the ledger's NFTs and raises alarms.
#[derive(Debug)]
pub struct Reconciler {
    db: Db,
    audit: AuditLog,
    ledger: Arc<LedgerAdapter>,
    per_hour: u32,
    grace_secs: i64,
    events: crate::http::events::Events,
}

impl Reconciler {
    /// Over `ledger`'s mirror, alarming above `per_hour` mints an hour.
    pub fn new(
        db: Db,
        audit: AuditLog,
        ledger: Arc<LedgerAdapter>,
        per_hour: u32,
        events: crate::http::events::Events,
    ) -> Self {
        Self {
            db,
            audit,
            ledger,
            per_hour,
            grace_secs: GRACE_SECS,
            events,
        }
    }

    /// Judges mints younger than [`GRACE_SECS`] too (tests, where nothing is settling).
    #[must_use]
    pub fn with_grace_secs(mut self, secs: i64) -> Self {
        self.grace_secs = secs;
        self
    }

    async fn page(&self, token: &str, after: i64) -> Result<Vec<MirrorNft>, Error> {
        #[derive(Deserialize)]
        struct Page {
            nfts: Vec<MirrorNft>,
        }
        let path =
            format!("/api/v1/tokens/{token}/nfts?order=asc&limit={PAGE}&serialnumber=gt:{after}");
        let page: Page = self
            .ledger
            .mirror_json(&path)
            .await
            .map_err(Error::Mirror)?;
        Ok(page.nfts)
    }

    /// One round: every NFT after the last one judged is either explained or alarmed; then the
    /// volume of the current hour. Returns how many alarms it raised.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let Some((token, _, _)) = crate::proposals::store::token(&self.db).await? else {
            return Ok(0);
        };
        if self.ledger.mirror().is_empty() {
            return Ok(0);
        }
        let mut raised = 0;
        let mut after = store::judged_up_to(&self.db, &token).await?;
        loop {
            let seen = self.page(&token, after).await?;
            if seen.is_empty() {
                break;
            }
            let known = store::serials(&self.db, &token, after).await?;
            let now = Utc::now();
            let strays = unexplained(&known, &seen, now, self.grace_secs);
            for nft in &strays {
                raised += usize::from(self.unexplained(&token, nft).await?);
            }
            // Stop at the first NFT too young to judge: the next round starts there.
            let mut last = after;
            for nft in &seen {
                if nft.too_young(now, self.grace_secs) && !known.contains(&nft.serial_number) {
                    break;
                }
                last = nft.serial_number;
            }
            store::set_judged_up_to(&self.db, &token, last).await?;
            if last == after || seen.len() < PAGE {
                break;
            }
            after = last;
        }
        raised += usize::from(self.policy_anchor(&token).await?);
        raised += self.unpauses(&token).await?;
        raised += self.key_mismatches(&token).await?;
        let now = Utc::now();
        let minted =
            store::minted_since(&self.db, &token, now - chrono::Duration::hours(1)).await?;
        if minted > u64::from(self.per_hour) {
            let message = format!(
                "{minted} NFTs of {token} were minted in the last hour, above the alarm level of {}: check the proposals behind them",
                self.per_hour
            );
            raised += usize::from(
                self.raise(
                    Action::LedgerMintVolume,
                    "mint-volume",
                    &hour(now),
                    &message,
                    serde_json::json!({ "token": token, "minted": minted }),
                    None,
                )
                .await?,
            );
        }
        Ok(raised)
    }

    /// Compares the policy the token's memo anchors on the ledger with the one in force: a
    /// difference means a policy change executed that the server did not record (a cancelled
    /// proposal's schedule signed on the ledger) or a server whose policy was altered. A change
    /// still open (settling) is not taken for one.
    async fn policy_anchor(&self, token: &str) -> Result<bool, Error> {
        let Some((version, _, in_force, _, _)) = crate::proposals::store::policy(&self.db).await?
        else {
            return Ok(false);
        };
        let json: serde_json::Value = self
            .ledger
            .mirror_json(&format!("/api/v1/tokens/{token}"))
            .await
            .map_err(Error::Mirror)?;
        let memo = json["memo"].as_str().unwrap_or_default();
        let Some(anchored) = gatehouse_protocol::policy::committed_hash(memo) else {
            return Ok(false);
        };
        if anchored == in_force {
            return Ok(false);
        }
        let open = crate::proposals::store::list(
            &self.db,
            Some(gatehouse_protocol::proposal::ProposalStatus::Open),
            1000,
        )
        .await?;
        let settling = open.iter().any(|p| {
            p.payload
                .policy_document()
                .is_some_and(|document| gatehouse_protocol::policy::sha256(document) == anchored)
        });
        if settling {
            return Ok(false);
        }
        let message = format!(
            "the token {token}'s memo on the ledger anchors policy sha256:{anchored}, not the policy in force (version {version}, sha256:{in_force}): a policy change executed on the ledger that this server did not record, or the server's policy was altered; approve nothing until the officers have compared the two"
        );
        let details = serde_json::json!({ "token": token, "memo": memo, "in_force": in_force, "version": version });
        self.raise(
            Action::LedgerPolicyMismatch,
            "policy-mismatch",
            anchored,
            &message,
            details,
            None,
        )
        .await
    }

    /// Raises an alarm for each token key the mirror shows as another key than the registry's,
    /// once the mirror had time to catch up: a key changed outside Gatehouse (the admin key's
    /// holders signing a TokenUpdate around it), or a registry that was altered. A rotation of
    /// that key still open (settling) is not taken for one.
    async fn key_mismatches(&self, token: &str) -> Result<usize, Error> {
        let copies = crate::proposals::rotation::mirror_copies(&self.db, &self.ledger)
            .await
            .map_err(Error::Mirror)?;
        let open = crate::proposals::store::list(
            &self.db,
            Some(gatehouse_protocol::proposal::ProposalStatus::Open),
            1000,
        )
        .await?;
        let mut raised = 0;
        for copy in copies {
            let key = &copy.key;
            let settling = open
                .iter()
                .any(|p| p.payload.changed_roles().contains(&key.role));
            if copy.shown
                || settling
                || !crate::proposals::rotation::mirror_grace_passed(key, self.grace_secs)
            {
                continue;
            }
            let role = key.role.as_str();
            let message = format!(
                "the mirror shows token {token}'s {role} key as another key than the registry's ({}, set by proposal {}): it was changed outside Gatehouse, or the registry was altered; approve nothing until the officers have compared them (gatehouse rotate show --mirror)",
                key.holders_text(),
                key.proposal
            );
            let details = serde_json::json!({ "token": token, "role": role, "registry": key.protobuf, "mirror": copy.mirror });
            let shown = copy.mirror["key"].as_str().unwrap_or("none");
            let subject = format!("{token}/{role}/{}", shown.get(..16).unwrap_or(shown));
            raised += usize::from(
                self.raise(
                    Action::LedgerKeyMismatch,
                    "key-mismatch",
                    &subject,
                    &message,
                    details,
                    None,
                )
                .await?,
            );
        }
        Ok(raised)
    }

    /// Raises an alarm for each TokenUnpause of the token on the mirror that no executed resume
    /// carried out. The pause key (any one responder's key) can unpause without the quorum: this
    /// is how that is caught.
    async fn unpauses(&self, token: &str) -> Result<usize, Error> {
        let json: serde_json::Value = self
            .ledger
            .mirror_json("/api/v1/transactions?transactiontype=TOKENUNPAUSE&result=success&order=desc&limit=100")
            .await
            .map_err(Error::Mirror)?;
        let executed: Vec<String> = crate::proposals::store::list(
            &self.db,
            Some(gatehouse_protocol::proposal::ProposalStatus::Executed),
            1000,
        )
        .await?
        .into_iter()
        .filter(|p| p.kind == gatehouse_protocol::proposal::ProposalKind::Resume)
        .filter_map(|p| p.outcome.and_then(|o| o.transaction_id))
        .collect();
        let mut raised = 0;
        for tx in json["transactions"].as_array().into_iter().flatten() {
            if tx["entity_id"].as_str() != Some(token) {
                continue;
            }
            let Some(id) = tx["transaction_id"].as_str().and_then(sdk_transaction_id) else {
                continue;
            };
            if executed.contains(&id) {
                continue;
            }
            let message = format!(
                "the token {token} was unpaused on the ledger by transaction {id}, which no approved resume carried out: a responder's key unpaused it around the quorum; pause again and find out who"
            );
            let details = serde_json::json!({ "token": token, "transaction_id": id, "consensus_timestamp": tx["consensus_timestamp"] });
            let new = self
                .raise(
                    Action::LedgerUnexplainedUnpause,
                    "unexplained-unpause",
                    &id,
                    &message,
                    details,
                    None,
                )
                .await?;
            if new {
                tracing::error!(transaction = %id, "unexplained unpause on the ledger");
            }
            raised += usize::from(new);
        }
        Ok(raised)
    }

    async fn unexplained(&self, token: &str, nft: &MirrorNft) -> Result<bool, Error> {
        let subject = format!("{token}/{}", nft.serial_number);
        let message = format!(
            "NFT {subject} is on the ledger but no executed proposal minted it: someone used the supply key outside Gatehouse; treat the officers' keys as compromised until explained"
        );
        let details = serde_json::json!({ "token": token, "serial": nft.serial_number, "metadata": nft.metadata_text() });
        let raised = self
            .raise(
                Action::LedgerUnexplainedMint,
                "unexplained-mint",
                &subject,
                &message,
                details,
                Some((token, nft)),
            )
            .await?;
        if raised {
            tracing::error!(nft = %subject, "unexplained mint on the ledger");
        }
        Ok(raised)
    }

    /// Raises an alarm with its audit entry, in one transaction (with the unexplained NFT's row,
    /// if any). `Ok(false)` when the same alarm was raised before.
    async fn raise(
        &self,
        action: Action,
        kind: &str,
        subject: &str,
        message: &str,
        details: serde_json::Value,
        nft: Option<(&str, &MirrorNft)>,
    ) -> Result<bool, Error> {
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        if let Some((token, nft)) = nft {
            store::insert_unexplained(&mut tx, token, nft).await?;
        }
        if !store::insert_alarm(&mut tx, kind, subject, message).await? {
            tx.commit().await.map_err(crate::store::Error::from)?;
            return Ok(false);
        }
        let entry = audit::Entry {
            actor: audit::Actor::server(),
            action,
            object: format!("alarm:{kind}:{subject}"),
            outcome: OutcomeKind::Failed,
            code: Some(kind.to_owned().into()),
            request_id: format!("reconcile-{}", uuid::Uuid::new_v4()),
            details,
            personal: Personal::default(),
        };
        let recorded = self.audit.record(&mut tx, entry).await?;
        tx.commit().await.map_err(crate::store::Error::from)?;
        self.audit.sequenced(recorded).await?;
        tracing::warn!(%kind, %subject, "alarm raised");
        self.events
            .publish(gatehouse_protocol::proposal::Event::new("alarm", None));
        Ok(true)
    }
}

/// A mirror transaction id (`0.0.2-1700000000-000000001`) as Hedera's SDKs write it
/// (`0.0.2@1700000000.000000001`), the form the server records.
fn sdk_transaction_id(mirror: &str) -> Option<String> {
    let mut parts = mirror.rsplitn(3, '-');
    let nanos = parts.next()?;
    let seconds = parts.next()?;
    let payer = parts.next()?;
    Some(format!("{payer}@{seconds}.{nanos}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_transaction_ids_read_as_the_sdk_writes_them() {
        assert_eq!(
            sdk_transaction_id("0.0.1002-1700000000-000000001").as_deref(),
            Some("0.0.1002@1700000000.000000001")
        );
        assert_eq!(sdk_transaction_id("garbage"), None);
    }

    fn nft(serial: i64, secs_ago: i64, now: DateTime<Utc>) -> MirrorNft {
        MirrorNft {
            serial_number: serial,
            metadata: B64.encode("ipfs://x"),
            created_timestamp: format!("{}.000000000", now.timestamp() - secs_ago),
        }
    }

    #[test]
    fn only_old_enough_serials_nobody_explained_are_unexplained() {
        let now = Utc::now();
        let seen = vec![nft(1, 600, now), nft(2, 600, now), nft(3, 5, now)];
        let known: HashSet<i64> = [1].into();
        let strays: Vec<i64> = unexplained(&known, &seen, now, GRACE_SECS)
            .iter()
            .map(|n| n.serial_number)
            .collect();
        assert_eq!(strays, [2], "1 is explained; 3 is too young to judge");
        assert_eq!(seen[0].metadata_text(), "ipfs://x");
    }

    #[test]
    fn the_volume_alarm_is_one_per_hour() {
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("a time");
        assert_eq!(hour(at), "2023-11-14T22");
        assert_eq!(hour(at + chrono::Duration::minutes(10)), "2023-11-14T22");
    }
}
