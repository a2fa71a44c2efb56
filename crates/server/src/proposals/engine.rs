//! The steps of a proposal's life: create (schedule on the ledger), hand out approval bodies,
//! check and submit approvals, reject, cancel, and notice execution and expiry. Each change
//! commits with its audit entry; each refusal is audited with its reason.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::proposal::{
    Approval, ApprovalRequest, KeySignature, NewMint, NewToken, Outcome, Payload, Proposal,
    ProposalKind, ProposalStatus, Rejection, SignedApproval,
};
use gatehouse_protocol::{ErrorCode, Role};
use hiero_sdk_proto::services as pb;
use prost::Message as _;
use sha2::{Digest as _, Sha256};

use super::{Refusal, check_mint, check_reason, check_token, may_sign, quorum_lost, store};
use crate::audit::{self, Action, AuditLog, Personal};
use crate::config;
use crate::http::Error;
use crate::http::events::Events;
use crate::keys;
use crate::ledger::LedgerAdapter;
use crate::ledger::hapi::{self, Hapi};
use crate::store::Db;
use gatehouse_protocol::proposal::Event;

/// How long the token's first expiry is from its creation (Hedera's usual 90 days).
pub(super) const TOKEN_LIFETIME_SECS: i64 = 90 * 24 * 3600;

/// Longest a proposal may stay open: Hedera's longest schedule (62 days).
const MAX_DEADLINE_SECS: u64 = 62 * 24 * 3600;

/// Who asks, as the audit log records them.
#[derive(Debug, Clone)]
pub struct By {
    /// The actor.
    pub actor: audit::Actor,
    /// Their registered name.
    pub name: String,
    /// Their roles.
    pub roles: Vec<Role>,
    /// This request's id.
    pub request_id: String,
}

impl By {
    /// The server itself, acting on its own (settling, closing the breaker), for request `id`.
    pub fn server(request_id: String) -> Self {
        let actor = audit::Actor::server();
        Self {
            name: actor.name.clone(),
            actor,
            roles: Vec::new(),
            request_id,
        }
    }
}

/// An officer's signature over a signing request's body, checked and spent.
pub(super) struct Taken {
    /// The body's bytes, as handed out.
    body: Vec<u8>,
    /// The body, decoded.
    parsed: pb::TransactionBody,
    /// The device's signature.
    raw: Vec<u8>,
    /// The signature's SHA-256, hex (what the spent-signature table holds).
    pub spent: String,
    /// The body's transaction id, as text.
    pub transaction_id: String,
}

/// Proposals over one ledger.
#[derive(Debug)]
pub struct Engine {
    db: Db,
    audit: AuditLog,
    ledger: Arc<LedgerAdapter>,
    policy: config::Proposals,
    events: Events,
    /// Approvals relaying to the ledger hold it shared; a pause takes it exclusively, so it is
    /// acknowledged only after every approval in flight on this instance has finished. (Other
    /// instances on PostgreSQL hold the breaker row `FOR SHARE` the same way.)
    pub(super) breaker_gate: tokio::sync::RwLock<()>,
    /// The webhooks told of every pause.
    webhooks: Vec<String>,
    /// The deployment CA's certificate (its key beside it), which issues the certificate an
    /// onboarding gives an officer; `None`: this server issues none.
    ca_cert: Option<std::path::PathBuf>,
}

fn refused(refusal: &Refusal) -> Error {
    match refusal {
        Refusal::RateLimited { retry_secs, .. } => Error::RateLimited {
            message: refusal.to_string(),
            retry_secs: *retry_secs,
        },
        _ => Error::Api(refusal.error_code(), refusal.to_string()),
    }
}

fn bad_request(message: String) -> Error {
    Error::Api(ErrorCode::BadRequest, message)
}

pub(super) fn ledger_error(what: &str, e: &hapi::Error) -> Error {
    Error::Api(
        ErrorCode::Conflict,
        format!("{what}: {e}; nothing was recorded as done"),
    )
}

fn entity_text(shard: i64, realm: i64, num: i64) -> String {
    format!("{shard}.{realm}.{num}")
}

fn schedule_text(id: &pb::ScheduleId) -> String {
    entity_text(id.shard_num, id.realm_num, id.schedule_num)
}

fn token_text(id: &pb::TokenId) -> String {
    entity_text(id.shard_num, id.realm_num, id.token_num)
}

/// Parses `shard.realm.num` into a schedule id.
fn parse_schedule(text: &str) -> Option<pb::ScheduleId> {
    let (shard_num, realm_num, schedule_num) = hapi::parse_entity(text)?;
    Some(pb::ScheduleId {
        shard_num,
        realm_num,
        schedule_num,
    })
}

/// Parses `shard.realm.num` into a token id.
pub(super) fn parse_token(text: &str) -> Option<pb::TokenId> {
    let (shard_num, realm_num, token_num) = hapi::parse_entity(text)?;
    Some(pb::TokenId {
        shard_num,
        realm_num,
        token_num,
    })
}

impl Engine {
    /// Proposals on `ledger`, under `policy`.
    pub fn new(
        db: Db,
        audit: AuditLog,
        ledger: Arc<LedgerAdapter>,
        policy: config::Proposals,
        events: Events,
    ) -> Self {
        Self {
            db,
            audit,
            ledger,
            policy,
            events,
            breaker_gate: tokio::sync::RwLock::new(()),
            webhooks: Vec::new(),
            ca_cert: None,
        }
    }

    /// Issues onboarding certificates from the deployment CA at `ca_cert` (its key beside it,
    /// read for each signature and not kept).
    pub fn with_certificate_authority(mut self, ca_cert: std::path::PathBuf) -> Self {
        self.ca_cert = Some(ca_cert);
        self
    }

    pub(super) fn ca_cert(&self) -> Option<&std::path::Path> {
        self.ca_cert.as_deref()
    }

    /// Tells the webhooks named `names` of every emergency pause.
    pub fn with_webhooks(mut self, names: Vec<String>) -> Self {
        self.webhooks = names;
        self
    }

    pub(super) fn webhooks(&self) -> &[String] {
        &self.webhooks
    }

    pub(super) fn db(&self) -> &Db {
        &self.db
    }

    pub(super) fn hapi(&self) -> &Hapi {
        self.ledger.hapi()
    }

    pub(super) fn ledger(&self) -> &LedgerAdapter {
        &self.ledger
    }

    pub(super) fn entry(
        by: &By,
        action: Action,
        object: String,
        outcome: OutcomeKind,
        code: Option<&'static str>,
        details: serde_json::Value,
    ) -> audit::Entry {
        audit::Entry {
            actor: by.actor.clone(),
            action,
            object,
            outcome,
            code: code.map(Cow::Borrowed),
            request_id: by.request_id.clone(),
            details,
            personal: Personal::default(),
        }
    }

    /// Commits `tx` with `entry` recording its change, and waits until the entry is in the log.
    /// With `changed` = (proposal, what happened), consoles are told `proposal.<what>` once the
    /// change is committed.
    pub(super) async fn commit(
        &self,
        tx: crate::store::Tx,
        entry: audit::Entry,
        changed: Option<(&str, &str)>,
    ) -> Result<(), Error> {
        self.commit_telling(tx, entry, changed, false).await
    }

    /// [`Self::commit`] of a change to the breaker: every console hears `breaker` (and `changed`)
    /// as soon as the change is committed, before its audit entry is sequenced.
    pub(super) async fn commit_breaker(
        &self,
        tx: crate::store::Tx,
        entry: audit::Entry,
        changed: Option<(&str, &str)>,
    ) -> Result<(), Error> {
        self.commit_telling(tx, entry, changed, true).await
    }

    async fn commit_telling(
        &self,
        mut tx: crate::store::Tx,
        entry: audit::Entry,
        changed: Option<(&str, &str)>,
        breaker: bool,
    ) -> Result<(), Error> {
        let recorded = self.audit.record(&mut tx, entry).await?;
        tx.commit().await.map_err(crate::store::Error::from)?;
        // Committed: the change is what every instance reads now; consoles refetch at once.
        if let Some((proposal, what)) = changed {
            self.events
                .publish(Event::new(&format!("proposal.{what}"), Some(proposal)));
        }
        if breaker {
            self.events.publish(Event::new("breaker", None));
        }
        self.audit.sequenced(recorded).await?;
        Ok(())
    }

    /// Audits a bad request (the message names the field) and returns it as a 400.
    pub(super) async fn invalid(&self, by: &By, object: String, message: String) -> Error {
        self.failed(
            by,
            Action::ProposalCreate,
            object,
            "bad-request",
            bad_request(message),
        )
        .await
    }

    /// Audits a refusal on its own and returns it as the API error.
    pub(super) async fn deny(
        &self,
        by: &By,
        action: Action,
        object: String,
        refusal: Refusal,
    ) -> Error {
        let details = serde_json::json!({ "reason": refusal.to_string() });
        let entry = Self::entry(
            by,
            action,
            object,
            OutcomeKind::Denied,
            Some(refusal.code()),
            details,
        );
        match self.audit.append(entry).await {
            Ok(_) => refused(&refusal),
            Err(e) => Error::Audit(e),
        }
    }

    /// Audits a failed attempt (a bad request, a ledger error) and returns `error`.
    pub(super) async fn failed(
        &self,
        by: &By,
        action: Action,
        object: String,
        code: &'static str,
        error: Error,
    ) -> Error {
        let details = serde_json::json!({ "reason": error.to_string() });
        let entry = Self::entry(by, action, object, OutcomeKind::Failed, Some(code), details);
        match self.audit.append(entry).await {
            Ok(_) => error,
            Err(e) => Error::Audit(e),
        }
    }

    /// One proposal, or a 404.
    pub async fn get(&self, id: &str) -> Result<Proposal, Error> {
        store::get(&self.db, id)
            .await?
            .ok_or_else(|| refused(&Refusal::NoProposal(id.to_owned())))
    }

    /// Proposals, newest first.
    pub async fn list(
        &self,
        status: Option<ProposalStatus>,
        limit: u32,
    ) -> Result<Vec<Proposal>, Error> {
        Ok(store::list(&self.db, status, limit).await?)
    }

    /// The officers and responders whose enrolled keys can make up the token's keys, by name:
    /// enabled, holding the role, with a ledger key.
    async fn key_holders(&self, role: Role) -> Result<Vec<keys::Enrolled>, Error> {
        let people = crate::registry::store::officers(&self.db).await?;
        let keys = keys::store::all(&self.db).await?;
        Ok(keys
            .into_iter()
            .filter(|k| {
                people
                    .iter()
                    .any(|p| p.name == k.officer && !p.disabled && p.roles.contains(&role))
            })
            .collect())
    }

    pub(super) fn deadline(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let secs = self.policy.deadline_secs.clamp(60, MAX_DEADLINE_SECS);
        now + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(86_400))
    }

    /// Proposes creating the deployment's token: creates its treasury account (controlled by the
    /// officers' threshold key) and schedules the TokenCreate, whose admin and supply keys are that
    /// threshold key and whose pause key is any one responder's key.
    pub async fn propose_token(&self, by: &By, new: &NewToken) -> Result<Proposal, Error> {
        let object = "proposal:token-create".to_owned();
        if let Err(message) = check_token(&new.name, &new.symbol, new.max_supply) {
            return Err(self.invalid(by, object, message).await);
        }
        if store::token(&self.db).await?.is_some() {
            return Err(Error::Api(
                ErrorCode::Conflict,
                "the deployment's token exists already".to_owned(),
            ));
        }
        if store::list(&self.db, Some(ProposalStatus::Open), 1000)
            .await?
            .iter()
            .any(|p| p.kind == ProposalKind::TokenCreate)
        {
            return Err(Error::Api(
                ErrorCode::Conflict,
                "a token-create proposal is open already; approve, reject or cancel it first"
                    .to_owned(),
            ));
        }
        let officers = self.key_holders(Role::Officer).await?;
        let responders = self.key_holders(Role::Responder).await?;
        let threshold = self.policy.threshold.max(1);
        if officers.len() < threshold as usize {
            return Err(bad_request(format!(
                "{} officer(s) have ledger keys and the threshold is {threshold}: officers enrol their keys first (gatehouse ledger-key enrol)",
                officers.len()
            )));
        }
        if responders.is_empty() {
            return Err(bad_request(
                "no responder has a ledger key, so nobody could pause the token: a responder enrols a key first".to_owned(),
            ));
        }
        let officer_key = hapi::threshold_key(
            threshold,
            officers
                .iter()
                .filter_map(|k| hapi::primitive_key(&k.key))
                .collect(),
        );
        let pause_key = hapi::threshold_key(
            1,
            responders
                .iter()
                .filter_map(|k| hapi::primitive_key(&k.key))
                .collect(),
        );
        let id = uuid::Uuid::new_v4().to_string();
        let memo = format!("gatehouse proposal {id}");
        let account = self
            .hapi()
            .run(
                pb::transaction_body::Data::CryptoCreateAccount(pb::CryptoCreateTransactionBody {
                    key: Some(officer_key.clone()),
                    auto_renew_period: Some(pb::Duration {
                        seconds: TOKEN_LIFETIME_SECS,
                    }),
                    memo: "gatehouse treasury".to_owned(),
                    ..Default::default()
                }),
                &memo,
            )
            .await;
        let treasury = match account.map(|r| r.account_id) {
            Ok(Some(account)) => account,
            Ok(None) => {
                let e = Error::Api(
                    ErrorCode::Internal,
                    "the ledger created no treasury account".to_owned(),
                );
                return Err(self
                    .failed(by, Action::ProposalCreate, object, "ledger", e)
                    .await);
            }
            Err(e) => {
                let e = ledger_error("creating the treasury account failed", &e);
                return Err(self
                    .failed(by, Action::ProposalCreate, object, "ledger", e)
                    .await);
            }
        };
        let now = Utc::now();
        let inner = pb::SchedulableTransactionBody {
            transaction_fee: 2_000_000_000,
            memo: memo.clone(),
            data: Some(pb::schedulable_transaction_body::Data::TokenCreation(
                pb::TokenCreateTransactionBody {
                    name: new.name.clone(),
                    symbol: new.symbol.clone(),
                    treasury: Some(treasury.clone()),
                    admin_key: Some(officer_key.clone()),
                    supply_key: Some(officer_key),
                    pause_key: Some(pause_key),
                    token_type: pb::TokenType::NonFungibleUnique as i32,
                    supply_type: pb::TokenSupplyType::Finite as i32,
                    max_supply: i64::try_from(new.max_supply).unwrap_or(i64::MAX),
                    expiry: Some(pb::Timestamp {
                        seconds: now.timestamp() + TOKEN_LIFETIME_SECS,
                        nanos: 0,
                    }),
                    // Anchors the first policy: every kind needs `threshold` of these officers.
                    memo: gatehouse_protocol::policy::commitment(
                        &gatehouse_protocol::policy::PolicyDocument::initial(
                            threshold,
                            &officers
                                .iter()
                                .map(|k| k.officer.clone())
                                .collect::<Vec<_>>(),
                        )
                        .to_text(),
                    ),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let payload = Payload::TokenCreate {
            name: new.name.clone(),
            symbol: new.symbol.clone(),
            max_supply: new.max_supply,
            treasury: hapi::account_text(&treasury),
            officers: officers.iter().map(|k| k.officer.clone()).collect(),
            threshold,
            responders: responders.iter().map(|k| k.officer.clone()).collect(),
        };
        let eligible = officers.iter().map(|k| k.officer.clone()).collect();
        self.schedule(
            by,
            id,
            ProposalKind::TokenCreate,
            payload,
            inner,
            threshold,
            eligible,
            serde_json::Value::Null,
        )
        .await
    }

    /// A service's mint request: a mint proposal like an officer's, but every item must come
    /// with its HIP-412 document (checked against the schema and its CID), since no officer
    /// vouches for what a backend sends.
    pub async fn request_mint(&self, by: &By, new: &NewMint) -> Result<Proposal, Error> {
        let missing =
            (0..new.metadata.len()).find(|&i| new.documents.get(i).is_none_or(Option::is_none));
        if let Some(i) = missing {
            let message = format!(
                "documents[{i}]: a service supplies the HIP-412 JSON document of every item (the file metadata[{i}] points at)"
            );
            return Err(self.invalid(by, "proposal:mint".to_owned(), message).await);
        }
        self.propose_mint(by, new).await
    }

    /// Audits a service's request refused for its rate (when `audit`), and returns the answer.
    pub async fn rate_limited(&self, by: &By, limited: super::service::Limited) -> Error {
        if limited.audit {
            self.deny(
                by,
                Action::ProposalCreate,
                "proposal:mint".to_owned(),
                limited.refusal,
            )
            .await
        } else {
            refused(&limited.refusal)
        }
    }

    /// Proposes minting NFTs with `new.metadata`, under the policy's mint rule.
    pub async fn propose_mint(&self, by: &By, new: &NewMint) -> Result<Proposal, Error> {
        let object = "proposal:mint".to_owned();
        if let Err(message) = check_mint(&new.metadata) {
            return Err(self.invalid(by, object, message).await);
        }
        let documents = match super::check_documents(&new.metadata, &new.documents) {
            Ok(documents) => documents,
            Err(message) => return Err(self.invalid(by, object, message).await),
        };
        // One read: the policy in force names the token and the mint rule.
        let current = self.policy().await?;
        let token = current.token;
        let rule = current.policy.rule("mint").cloned().ok_or_else(|| {
            Error::Api(
                ErrorCode::Internal,
                "the policy in force has no rule for mints".to_owned(),
            )
        })?;
        let token_id = parse_token(&token).ok_or_else(|| {
            Error::Api(
                ErrorCode::Internal,
                "the stored token id is malformed".to_owned(),
            )
        })?;
        let id = uuid::Uuid::new_v4().to_string();
        let inner = pb::SchedulableTransactionBody {
            transaction_fee: 2_000_000_000,
            memo: format!("gatehouse proposal {id}"),
            data: Some(pb::schedulable_transaction_body::Data::TokenMint(
                pb::TokenMintTransactionBody {
                    token: Some(token_id),
                    amount: 0,
                    metadata: new.metadata.iter().map(|m| m.as_bytes().to_vec()).collect(),
                },
            )),
            ..Default::default()
        };
        let payload = Payload::Mint {
            token,
            metadata: new.metadata.clone(),
            documents: new.documents.clone(),
        };
        self.schedule(
            by,
            id,
            ProposalKind::Mint,
            payload,
            inner,
            rule.threshold,
            rule.eligible,
            serde_json::json!(documents),
        )
        .await
    }

    /// Refuses (audited) a proposal that the eligible officers besides its proposer could never
    /// pass.
    pub(super) async fn reachable(
        &self,
        by: &By,
        object: &str,
        threshold: u32,
        eligible: &[String],
    ) -> Result<(), Error> {
        let approvers = eligible.iter().filter(|e| **e != by.name).count();
        if approvers >= threshold as usize {
            return Ok(());
        }
        let e = bad_request(format!(
            "only {approvers} eligible officer(s) besides you can approve and {threshold} must: this proposal could never pass"
        ));
        Err(self
            .failed(
                by,
                Action::ProposalCreate,
                object.to_owned(),
                "no-quorum",
                e,
            )
            .await)
    }

    /// Creates the schedule on the ledger and records the proposal.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn schedule(
        &self,
        by: &By,
        id: String,
        kind: ProposalKind,
        payload: Payload,
        inner: pb::SchedulableTransactionBody,
        threshold: u32,
        eligible: Vec<String>,
        documents: serde_json::Value,
    ) -> Result<Proposal, Error> {
        let object = format!("proposal:{id}");
        self.reachable(by, &object, threshold, &eligible).await?;
        let now = Utc::now();
        let deadline = self.deadline(now);
        let body = inner.encode_to_vec();
        let memo = format!("gatehouse proposal {id}");
        let receipt = match self.hapi().schedule(inner, &memo, deadline).await {
            Ok(receipt) => receipt,
            Err(e) => {
                let e = ledger_error("the ledger refused the schedule", &e);
                return Err(self
                    .failed(by, Action::ProposalCreate, object, "ledger", e)
                    .await);
            }
        };
        let (Some(schedule), Some(scheduled)) =
            (receipt.schedule_id, receipt.scheduled_transaction_id)
        else {
            let e = Error::Api(
                ErrorCode::Internal,
                "the ledger's receipt names no schedule".to_owned(),
            );
            return Err(self
                .failed(by, Action::ProposalCreate, object, "ledger", e)
                .await);
        };
        let proposal = Proposal {
            id: id.clone(),
            kind,
            status: ProposalStatus::Open,
            proposer: by.name.clone(),
            created_at: now,
            deadline,
            threshold,
            eligible,
            payload,
            schedule_id: schedule_text(&schedule),
            scheduled_transaction_id: hapi::transaction_id_text(&scheduled),
            scheduled_body: B64.encode(&body),
            approvals: Vec::new(),
            rejections: Vec::new(),
            key_signatures: Vec::new(),
            outcome: None,
        };
        self.record(by, &proposal, &body, documents).await?;
        Ok(proposal)
    }

    /// Records a new `proposal` (whose body's bytes are `body`) with its audit entry.
    pub(super) async fn record(
        &self,
        by: &By,
        proposal: &Proposal,
        body: &[u8],
        documents: serde_json::Value,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        store::insert(&mut tx, proposal).await?;
        let details = serde_json::json!({
            "kind": proposal.kind.as_str(),
            "payload": proposal.payload,
            "schedule": proposal.schedule_id,
            "scheduled_body_sha256": hex::encode(Sha256::digest(body)),
            "threshold": proposal.threshold,
            "eligible": proposal.eligible,
            "deadline": proposal.deadline,
            "documents": documents,
        });
        let entry = Self::entry(
            by,
            Action::ProposalCreate,
            format!("proposal:{}", proposal.id),
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit(tx, entry, Some((&proposal.id, "created")))
            .await
    }

    /// Checks that `by` may sign `id` now and has a ledger key; audits a refusal as `action`.
    async fn signer(
        &self,
        by: &By,
        id: &str,
        action: Action,
    ) -> Result<(Proposal, keys::Enrolled), Error> {
        let object = format!("proposal:{id}");
        let proposal = self.get(id).await?;
        if let Err(refusal) = may_sign(&proposal, &by.name, Utc::now()) {
            return Err(self.deny(by, action, object, refusal).await);
        }
        // The key the ledger counts for this proposal: the officer's key in the role it needs.
        let key = match signing_role(proposal.kind) {
            Some(role) => self.key_in(role, &by.name).await?,
            None => keys::store::of_officer(&self.db, &by.name).await?,
        };
        match key {
            Some(key) => Ok((proposal, key)),
            None => Err(self.deny(by, action, object, Refusal::NoLedgerKey).await),
        }
    }

    /// Hands `by` the exact ScheduleSign body to sign to approve `id`.
    pub async fn approval_request(&self, by: &By, id: &str) -> Result<ApprovalRequest, Error> {
        let (proposal, key) = self.signer(by, id, Action::ProposalApprovalRequest).await?;
        self.signing_request(by, &proposal, &key, false).await
    }

    /// Hands `by` the body to sign for `proposal` with `key` (an approval, or a rotation's new key
    /// signing for itself when `new_key`), recorded as a single-use request for that key.
    pub(super) async fn signing_request(
        &self,
        by: &By,
        proposal: &Proposal,
        key: &keys::Enrolled,
        new_key: bool,
    ) -> Result<ApprovalRequest, Error> {
        let id = proposal.id.as_str();
        let body = if let Payload::Resume { token, .. } = &proposal.payload {
            self.resume_statement(token, id)?
        } else {
            let schedule = parse_schedule(&proposal.schedule_id).ok_or_else(|| {
                Error::Api(
                    ErrorCode::Internal,
                    "the stored schedule id is malformed".to_owned(),
                )
            })?;
            let memo = if new_key {
                format!("gatehouse new key {id}")
            } else {
                format!("gatehouse approval {id}")
            };
            self.hapi().schedule_sign_body(schedule, &memo)
        };
        let expires_at = hapi::expires_at(&body);
        let bytes = B64.encode(body.encode_to_vec());
        let request = uuid::Uuid::new_v4().to_string();
        let public_key = key.view().public_key;
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        store::insert_request(
            &mut tx,
            &request,
            id,
            &by.name,
            &bytes,
            expires_at,
            new_key.then_some(public_key.as_str()),
        )
        .await?;
        let details = serde_json::json!({
            "request": request,
            "body_sha256": hex::encode(Sha256::digest(body.encode_to_vec())),
            "public_key": public_key,
            "new_key": new_key,
        });
        let entry = Self::entry(
            by,
            Action::ProposalApprovalRequest,
            format!("proposal:{id}"),
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit(tx, entry, None).await?;
        Ok(ApprovalRequest {
            request,
            proposal: id.to_owned(),
            body: bytes,
            expires_at,
            public_key: Some(public_key),
        })
    }

    /// Takes `by`'s request `signed.request` for `id` (made for `signing_key`, `None`: an
    /// approval), checks the signature by `key` over its body and spends it; a refusal is
    /// audited as `action`.
    pub(super) async fn take_signature(
        &self,
        by: &By,
        id: &str,
        key: &keys::Enrolled,
        signed: &SignedApproval,
        signing_key: Option<&str>,
        action: Action,
    ) -> Result<Taken, Error> {
        let object = format!("proposal:{id}");
        // The request is single-use: taken (deleted) in the same transaction as the spend.
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        let Some((body, expires_at)) =
            store::take_request(&mut tx, &signed.request, id, &by.name, signing_key).await?
        else {
            drop(tx);
            let refusal = Refusal::UnknownRequest(signed.request.clone());
            return Err(self.deny(by, action, object, refusal).await);
        };
        let (body, raw) = match super::check_signed(&key.key, &body, &signed.signature, expires_at)
        {
            Ok(checked) => checked,
            Err(refusal) => {
                // The request stays taken: a wrong signature costs the officer a new request.
                tx.commit().await.map_err(crate::store::Error::from)?;
                return Err(self.deny(by, action, object, refusal).await);
            }
        };
        let spent = hex::encode(Sha256::digest(&raw));
        if !store::spend(&mut tx, &spent, id, &by.name).await? {
            drop(tx);
            return Err(self.deny(by, action, object, Refusal::Replayed).await);
        }
        tx.commit().await.map_err(crate::store::Error::from)?;
        let parsed = pb::TransactionBody::decode(body.as_slice()).map_err(|e| {
            Error::Api(
                ErrorCode::Internal,
                format!("the stored signing body does not decode: {e}"),
            )
        })?;
        let transaction_id = parsed
            .transaction_id
            .as_ref()
            .map(hapi::transaction_id_text)
            .unwrap_or_default();
        Ok(Taken {
            body,
            parsed,
            raw,
            spent,
            transaction_id,
        })
    }

    /// Sends `taken` (a ScheduleSign signed by `key`, with the operator paying) to the ledger.
    pub(super) async fn relay(
        &self,
        key: &keys::Enrolled,
        taken: Taken,
    ) -> Result<Result<(), hapi::Error>, Error> {
        let pair = hapi::signature_pair(&key.key, taken.raw).ok_or_else(|| {
            Error::Api(
                ErrorCode::Internal,
                "this key cannot sign for Hedera".to_owned(),
            )
        })?;
        let transaction = self.hapi().transaction(taken.body, vec![pair]);
        Ok(self
            .hapi()
            .execute(&taken.parsed, transaction)
            .await
            .map(|_| ()))
    }

    /// Checks `signed` against the body handed out, spends it, submits the ScheduleSign, and
    /// records the approval (and the execution, if this approval completed the threshold).
    pub async fn approve(
        &self,
        by: &By,
        id: &str,
        signed: &SignedApproval,
    ) -> Result<Proposal, Error> {
        let object = format!("proposal:{id}");
        let (proposal, key) = self.signer(by, id, Action::ProposalApprove).await?;
        let taken = self
            .take_signature(by, id, &key, signed, None, Action::ProposalApprove)
            .await?;
        let (spent, transaction_id) = (taken.spent.clone(), taken.transaction_id.clone());
        // When the policy asks more approvals than the token's key, the first ones are
        // endorsements: recorded here and not sent, so that the ledger reaches its own threshold
        // only with the policy's last approval. Counting and sending happen under the proposal's
        // lock, so two officers approving at once cannot both be counted as the same one.
        // A resume's approvals are all endorsements: a responder's TokenUnpause follows them.
        let resume = proposal.kind == ProposalKind::Resume;
        let endorsements = if resume {
            proposal.threshold
        } else {
            proposal
                .threshold
                .saturating_sub(self.ledger_floor(&proposal).await?)
        };
        // The breaker, held until this approval is recorded: a pause waits for it, and once the
        // breaker is tripped no approval reaches the ledger.
        let _gate = self.breaker_gate.read().await;
        let mut held = super::pause::hold_breaker(&self.db).await?;
        let tripped = match held.as_mut() {
            Some(tx) => super::pause::tripped_in(tx).await?,
            None => super::pause::breaker(&self.db).await?,
        };
        // A resume is what the tripped breaker waits for; a rotation is how keys are replaced
        // while the backend stays stopped (the ledger token itself must be unpaused for it).
        let changes_keys = proposal.kind.changes_keys();
        if tripped.tripped && !resume && !changes_keys {
            drop(held);
            let refusal = Refusal::Paused(super::pause::paused_message(&tripped));
            return Err(self
                .deny(by, Action::ProposalApprove, object, refusal)
                .await);
        }
        let mut relayed = true;
        if endorsements > 0 {
            let mut tx = match held.take() {
                Some(tx) => tx,
                None => self.db.begin().await.map_err(crate::store::Error::from)?,
            };
            if !store::lock_open(&mut tx, id).await? {
                drop(tx);
                let status = self.get(id).await?.status.as_str();
                return Err(self
                    .deny(
                        by,
                        Action::ProposalApprove,
                        object,
                        Refusal::NotOpen(status),
                    )
                    .await);
            }
            relayed = !resume && store::count_approvals(&mut tx, id).await? >= endorsements;
            held = Some(tx);
        }
        if relayed && let Err(e) = self.relay(&key, taken).await? {
            drop(held);
            let refusal = Refusal::Ledger(e.to_string());
            return Err(self
                .deny(by, Action::ProposalApprove, object, refusal)
                .await);
        }
        let approval = Approval {
            officer: by.name.clone(),
            at: Utc::now(),
            device: signed.device.clone(),
            transaction_id: transaction_id.clone(),
            relayed,
        };
        let mut tx = match held {
            Some(tx) => tx,
            None => self.db.begin().await.map_err(crate::store::Error::from)?,
        };
        store::insert_approval(&mut tx, id, &approval).await?;
        // An approver whose key is in an admin or treasury rotation's new key signed for it too:
        // the schedule holds that signature, so it counts towards the new key's threshold.
        let public_key = key.view().public_key;
        let carries_new_key = relayed
            && proposal.payload.new_key_holders().is_some_and(|holders| {
                holders
                    .iter()
                    .any(|h| h.officer == by.name && h.public_key == public_key)
            });
        if carries_new_key {
            // Never there already: a key the admin key holds is refused as a new-key signature.
            let signature = KeySignature {
                officer: by.name.clone(),
                public_key: public_key.clone(),
                at: approval.at,
                device: signed.device.clone(),
                transaction_id: transaction_id.clone(),
            };
            let _first = store::insert_key_signature(&mut tx, id, &signature).await?;
        }
        let details = serde_json::json!({
            "signature_sha256": spent,
            "public_key": public_key,
            "transaction_id": transaction_id,
            "device": signed.device,
            "relayed": relayed,
            "new_key_signature": carries_new_key,
        });
        let entry = Self::entry(
            by,
            Action::ProposalApprove,
            object,
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit(tx, entry, Some((id, "approved"))).await?;
        let proposal = self.get(id).await?;
        self.settle(&proposal, false).await?;
        self.get(id).await
    }

    /// Records `by`'s rejection; the proposal is rejected once the threshold is out of reach.
    pub async fn reject(&self, by: &By, id: &str, reason: &str) -> Result<Proposal, Error> {
        let object = format!("proposal:{id}");
        if let Err(message) = check_reason(reason) {
            return Err(bad_request(message));
        }
        let (mut proposal, _) = self.signer(by, id, Action::ProposalReject).await?;
        let rejection = Rejection {
            officer: by.name.clone(),
            at: Utc::now(),
            reason: reason.to_owned(),
        };
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        if !store::insert_rejection(&mut tx, id, &rejection).await? {
            drop(tx);
            return Err(self
                .deny(by, Action::ProposalReject, object, Refusal::AlreadyRejected)
                .await);
        }
        proposal.rejections.push(rejection);
        let lost = quorum_lost(&proposal);
        if lost {
            store::finish(&mut tx, id, ProposalStatus::Rejected, None).await?;
        }
        let details = serde_json::json!({ "reason": reason, "quorum_lost": lost });
        let entry = Self::entry(
            by,
            Action::ProposalReject,
            object,
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit(tx, entry, Some((id, "rejected"))).await?;
        self.get(id).await
    }

    /// Withdraws an open proposal (its proposer or an administrator): deletes its ledger schedule
    /// (whose admin key is the operator's), so that nobody can sign or execute it any more, then
    /// records it cancelled. A schedule from before schedules had an admin key cannot be deleted:
    /// the proposal is still cancelled here, and the audit entry says the schedule stays signable
    /// until it expires.
    pub async fn cancel(&self, by: &By, id: &str) -> Result<Proposal, Error> {
        let object = format!("proposal:{id}");
        let proposal = self.get(id).await?;
        if proposal.proposer != by.name && !by.roles.contains(&Role::Admin) {
            let e = Error::Api(
                ErrorCode::Forbidden,
                "only the proposer or an administrator can cancel a proposal".to_owned(),
            );
            return Err(self
                .failed(by, Action::ProposalCancel, object, "forbidden", e)
                .await);
        }
        if proposal.status != ProposalStatus::Open {
            let refusal = Refusal::NotOpen(proposal.status.as_str());
            return Err(self.deny(by, Action::ProposalCancel, object, refusal).await);
        }
        let ledger = if proposal.kind == ProposalKind::Resume {
            "none: a resume has no schedule"
        } else {
            let schedule = parse_schedule(&proposal.schedule_id).ok_or_else(|| {
                Error::Api(
                    ErrorCode::Internal,
                    "the stored schedule id is malformed".to_owned(),
                )
            })?;
            let memo = format!("gatehouse cancel {id}");
            match self.hapi().delete_schedule(schedule, &memo).await {
                Ok(_) => "deleted",
                Err(
                    hapi::Error::Precheck(hapi::Code::ScheduleIsImmutable)
                    | hapi::Error::Failed(hapi::Code::ScheduleIsImmutable),
                ) => "immutable: the schedule stays signable on the ledger until it expires",
                Err(e) => {
                    // Executed, expired, or the ledger is unreachable: nothing is cancelled.
                    self.settle(&proposal, true).await?;
                    let e = ledger_error("the ledger did not delete the proposal's schedule", &e);
                    return Err(self
                        .failed(by, Action::ProposalCancel, object, "ledger", e)
                        .await);
                }
            }
        };
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        if !store::finish(&mut tx, id, ProposalStatus::Cancelled, None).await? {
            drop(tx);
            let refusal = Refusal::NotOpen(proposal.status.as_str());
            return Err(self.deny(by, Action::ProposalCancel, object, refusal).await);
        }
        let entry = Self::entry(
            by,
            Action::ProposalCancel,
            object,
            OutcomeKind::Success,
            None,
            serde_json::json!({ "schedule": proposal.schedule_id, "ledger": ledger }),
        );
        self.commit(tx, entry, Some((id, "cancelled"))).await?;
        self.get(id).await
    }

    /// Settles an open proposal with the ledger: executed (receipt of the scheduled transaction)
    /// or expired (past its deadline). Returns whether it changed.
    ///
    /// The mirror is asked only when `consult_mirror` (the periodic sweep does so once a minute)
    /// or when the deadline has passed, so open proposals do not flood a public mirror node.
    pub async fn settle(&self, proposal: &Proposal, consult_mirror: bool) -> Result<bool, Error> {
        if proposal.status != ProposalStatus::Open {
            return Ok(false);
        }
        // A resume has no schedule: a responder's TokenUnpause executes it, or its deadline passes.
        if proposal.kind == ProposalKind::Resume && Utc::now() < proposal.deadline {
            return Ok(false);
        }
        let server = By::server(format!("settle-{}", proposal.id));
        let object = format!("proposal:{}", proposal.id);
        // A resume (no schedule) that reaches here is past its deadline.
        let executed = if proposal.kind == ProposalKind::Resume {
            None
        } else {
            let scheduled =
                parse_transaction_id(&proposal.scheduled_transaction_id).ok_or_else(|| {
                    Error::Api(
                        ErrorCode::Internal,
                        "the stored scheduled transaction id is malformed".to_owned(),
                    )
                })?;
            let receipt = self
                .hapi()
                .receipt_now(scheduled)
                .await
                .map_err(|e| ledger_error("asking the ledger for the receipt failed", &e))?;
            // A receipt lives about 3 minutes after consensus: a schedule that executed while this
            // server was down (or on signatures from elsewhere) is found on the mirror instead.
            match receipt {
                Some(receipt) => {
                    let code = hapi::Code::try_from(receipt.status).unwrap_or(hapi::Code::Unknown);
                    Some(Outcome {
                        status: code.as_str_name().to_owned(),
                        at: Utc::now(),
                        serials: receipt.serial_numbers.clone(),
                        token: receipt.token_id.as_ref().map(token_text),
                        transaction_id: None,
                    })
                }
                None if !consult_mirror && Utc::now() < proposal.deadline => return Ok(false),
                None => match self.mirror_outcome(proposal).await {
                    Ok(found) => found,
                    Err(reason) => {
                        tracing::warn!(proposal = %proposal.id, %reason, "the mirror could not say whether the schedule executed; trying again later");
                        return Ok(false);
                    }
                },
            }
        };
        let (status, outcome, action) = match executed {
            Some(outcome) => {
                let status = if outcome.status == "SUCCESS" {
                    ProposalStatus::Executed
                } else {
                    ProposalStatus::Failed
                };
                (status, outcome, Action::ProposalExecute)
            }
            None if Utc::now() >= proposal.deadline => (
                ProposalStatus::Expired,
                Outcome {
                    status: "EXPIRED".to_owned(),
                    at: Utc::now(),
                    serials: Vec::new(),
                    token: None,
                    transaction_id: None,
                },
                Action::ProposalExpire,
            ),
            None => return Ok(false),
        };
        let mut tx = self.db.begin().await.map_err(crate::store::Error::from)?;
        if !store::finish(&mut tx, &proposal.id, status, Some(&outcome)).await? {
            return Ok(false);
        }
        if let (Payload::TokenCreate { treasury, .. }, Some(token), ProposalStatus::Executed) =
            (&proposal.payload, &outcome.token, status)
        {
            store::set_token(&mut tx, token, treasury, &proposal.id).await?;
        }
        if let (Payload::Policy { document, .. }, ProposalStatus::Executed) =
            (&proposal.payload, status)
        {
            let version = gatehouse_protocol::policy::PolicyDocument::parse(document)
                .map_err(|e| {
                    Error::Db(crate::store::Error::Corrupt {
                        fingerprint: format!("proposal {}", proposal.id),
                        reason: e,
                    })
                })?
                .version;
            store::insert_policy(
                &mut tx,
                version,
                document,
                &gatehouse_protocol::policy::sha256(document),
                &proposal.id,
            )
            .await?;
        }
        let rotated = if status == ProposalStatus::Executed {
            self.apply_rotation(&mut tx, proposal).await?
        } else {
            serde_json::Value::Null
        };
        if let (
            Payload::Mint {
                token, metadata, ..
            },
            ProposalStatus::Executed,
        ) = (&proposal.payload, status)
        {
            let approvers: Vec<String> = proposal
                .approvals
                .iter()
                .map(|a| a.officer.clone())
                .collect();
            crate::mints::store::insert_minted(
                &mut tx,
                token,
                &outcome.serials,
                metadata,
                &proposal.scheduled_transaction_id,
                &proposal.id,
                &approvers,
            )
            .await?;
        }
        let kind = if status == ProposalStatus::Executed {
            OutcomeKind::Success
        } else {
            OutcomeKind::Failed
        };
        let details = serde_json::json!({
            "status": outcome.status,
            "serials": outcome.serials,
            "token": outcome.token,
            "approvers": proposal.approvals.iter().map(|a| a.officer.clone()).collect::<Vec<_>>(),
            "keys": rotated,
        });
        let entry = Self::entry(&server, action, object, kind, None, details);
        self.commit(tx, entry, Some((&proposal.id, status.as_str())))
            .await?;
        if proposal.kind.changes_keys() && status == ProposalStatus::Executed {
            // The mirror usually shows the new key within seconds; the sweep keeps asking.
            if let Err(error) = self.confirm_keys().await {
                tracing::warn!(%error, "comparing the new key with the mirror failed; trying again later");
            }
        }
        Ok(true)
    }

    /// What the mirror node says the schedule's transaction did: `Ok(None)` while it has not
    /// executed; `Err` when there is no mirror or it cannot tell.
    pub async fn mirror_outcome(&self, proposal: &Proposal) -> Result<Option<Outcome>, String> {
        let schedule: serde_json::Value = self
            .ledger
            .mirror_json(&format!("/api/v1/schedules/{}", proposal.schedule_id))
            .await?;
        if schedule["executed_timestamp"].is_null() {
            return Ok(None);
        }
        // `payer@seconds.nanos?scheduled` -> the mirror's `payer-seconds-nanos`.
        let id = proposal
            .scheduled_transaction_id
            .trim_end_matches("?scheduled")
            .split_once('@')
            .and_then(|(payer, start)| {
                let (secs, nanos) = start.split_once('.')?;
                Some(format!("{payer}-{secs}-{nanos}"))
            })
            .ok_or("the stored scheduled transaction id is malformed")?;
        let found: serde_json::Value = self
            .ledger
            .mirror_json(&format!("/api/v1/transactions/{id}?scheduled=true"))
            .await?;
        let tx = &found["transactions"][0];
        let status = tx["result"].as_str().unwrap_or("UNKNOWN").to_owned();
        let serials = tx["nft_transfers"]
            .as_array()
            .map(|moves| {
                moves
                    .iter()
                    .filter_map(|m| m["serial_number"].as_i64())
                    .collect()
            })
            .unwrap_or_default();
        let token = match proposal.kind {
            ProposalKind::TokenCreate => tx["entity_id"].as_str().map(str::to_owned),
            _ => None,
        };
        Ok(Some(Outcome {
            status,
            at: Utc::now(),
            serials,
            token,
            transaction_id: None,
        }))
    }

    /// Settles every open proposal (run periodically: executions the ledger did on signatures
    /// from elsewhere, and deadlines).
    pub async fn settle_open(&self, consult_mirror: bool) -> Result<usize, Error> {
        let open = store::list(&self.db, Some(ProposalStatus::Open), 1000).await?;
        let mut changed = 0;
        for proposal in &open {
            if self.settle(proposal, consult_mirror).await? {
                changed += 1;
            }
        }
        if consult_mirror {
            self.confirm_keys().await?;
        }
        Ok(changed)
    }
}

/// The token key whose signatures `kind`'s proposals need: a mint the supply key's; the token's
/// changes (policy, rotation) and the statements of a resume the admin key's. `None` for the
/// token's creation, which its proposers' newest keys make.
pub fn signing_role(kind: ProposalKind) -> Option<gatehouse_protocol::proposal::KeyRole> {
    use gatehouse_protocol::proposal::KeyRole;
    match kind {
        ProposalKind::TokenCreate => None,
        ProposalKind::Mint => Some(KeyRole::Supply),
        _ => Some(KeyRole::Admin),
    }
}

/// Parses `payer@seconds.nanos[?scheduled]`.
pub fn parse_transaction_id(text: &str) -> Option<pb::TransactionId> {
    let (text, scheduled) = match text.strip_suffix("?scheduled") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (payer, start) = text.split_once('@')?;
    let (seconds, nanos) = start.split_once('.')?;
    Some(pb::TransactionId {
        transaction_valid_start: Some(pb::Timestamp {
            seconds: seconds.parse().ok()?,
            nanos: nanos.parse().ok()?,
        }),
        account_id: Some(hapi::parse_account(payer)?),
        scheduled,
        nonce: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_round_trip_through_text() {
        let id = pb::TransactionId {
            transaction_valid_start: Some(pb::Timestamp {
                seconds: 1_700_000_000,
                nanos: 42,
            }),
            account_id: Some(hapi::account(2)),
            scheduled: true,
            nonce: 0,
        };
        let text = hapi::transaction_id_text(&id);
        assert_eq!(text, "0.0.2@1700000000.000000042?scheduled");
        assert_eq!(parse_transaction_id(&text), Some(id));
        assert_eq!(parse_transaction_id("0.0.2"), None);
        assert_eq!(parse_transaction_id("x@1.2"), None);
    }
}
