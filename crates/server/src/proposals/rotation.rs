//! Key rotation (issue 16): the token's keys as the registry holds them, per role, and the
//! proposal that replaces one.
//!
//! The registry's copy of each token key (threshold, holders and their keys, protobuf encoding)
//! is first written from the token's creation body and then by each executed rotation; approvals
//! are checked against the approver's key *in the role the proposal needs* (a mint against their
//! supply key, everything else against their admin key), because after a supply rotation an
//! officer holds a new key there and the old one in the admin key.
//!
//! A rotation of the supply or pause key is a scheduled TokenUpdate that sets only that key; the
//! admin key's quorum executes it alone (HIP-540), so the new keys need not sign. On execution the
//! registry takes the new key, the staged keys it names go into use and the old keys no token key
//! contains any more are retired; then the mirror is compared with the registry, and the
//! periodic sweep keeps comparing until it agrees (or raises an alarm when it shows another key).
//!
//! An admin-key rotation sets only the admin key, and Hedera also asks the *new* admin key to
//! sign; a treasury rotation creates a new account whose key is the new key and sets the token's
//! treasury to it (the ledger moves every NFT the old treasury holds), and Hedera asks the new
//! account's key to sign. Those signatures come from the new holders' devices through
//! [`super::key_signature`]; they are not approvals and cannot make a proposal pass.

use chrono::{DateTime, Utc};
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::proposal::{
    KeyMember, KeyRole, NewRotation, Payload, Proposal, ProposalKind, ProposalStatus, RoleKey,
    RotationHolder, TreasuryMove,
};
use gatehouse_protocol::{ErrorCode, Role};
use hiero_sdk_proto::services as pb;
use prost::Message as _;

use super::engine::{By, Engine};
use super::store;
use crate::audit::Action;
use crate::http::Error;
use crate::keys::{self, Enrolled};
use crate::ledger::hapi;
use crate::store::{Db, Tx, on_pool, on_tx};

type Row = (
    String,
    i64,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn corrupt(role: &str, reason: impl std::fmt::Display) -> crate::store::Error {
    crate::store::Error::Corrupt {
        fingerprint: format!("token key {role}"),
        reason: reason.to_string(),
    }
}

fn from_row(
    (role, threshold, members, protobuf, proposal, applied_at, confirmed_at): Row,
) -> Result<RoleKey, crate::store::Error> {
    Ok(RoleKey {
        role: KeyRole::from_name(&role).ok_or_else(|| corrupt(&role, "unknown role"))?,
        threshold: u32::try_from(threshold).map_err(|e| corrupt(&role, e))?,
        members: serde_json::from_str(&members).map_err(|e| corrupt(&role, e))?,
        protobuf,
        proposal,
        applied_at,
        confirmed_at,
    })
}

/// The registry's token keys, in [`KeyRole::ALL`]'s order.
async fn rows(db: &Db) -> Result<Vec<RoleKey>, crate::store::Error> {
    const SQL: &str = "SELECT role, threshold, members, protobuf, proposal, applied_at, confirmed_at FROM token_keys";
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    let mut keys = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_by_key(|k| KeyRole::ALL.iter().position(|r| *r == k.role));
    Ok(keys)
}

/// Writes `key` as its role's key (replacing the one before). With `only_new`, an existing row
/// is kept (two instances writing the first keys at once).
pub(super) async fn put(
    tx: &mut Tx,
    key: &RoleKey,
    only_new: bool,
) -> Result<(), crate::store::Error> {
    const DELETE: &str = "DELETE FROM token_keys WHERE role = $1";
    const INSERT: &str = "INSERT INTO token_keys (role, threshold, members, protobuf, proposal, applied_at, confirmed_at) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (role) DO NOTHING";
    let members = serde_json::to_string(&key.members).map_err(|e| corrupt("new", e))?;
    on_tx!(tx, conn => {
        if !only_new {
            sqlx::query(DELETE).bind(key.role.as_str()).execute(&mut *conn).await?;
        }
        sqlx::query(INSERT)
            .bind(key.role.as_str())
            .bind(i64::from(key.threshold))
            .bind(&members)
            .bind(&key.protobuf)
            .bind(&key.proposal)
            .bind(key.applied_at)
            .bind(key.confirmed_at)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

async fn set_confirmed(
    tx: &mut Tx,
    role: KeyRole,
    protobuf: &str,
) -> Result<bool, crate::store::Error> {
    const SQL: &str = "UPDATE token_keys SET confirmed_at = $3 WHERE role = $1 AND protobuf = $2 AND confirmed_at IS NULL";
    let changed = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(role.as_str()).bind(protobuf).bind(Utc::now()).execute(&mut *conn).await?.rows_affected()
    });
    Ok(changed == 1)
}

/// A key's public key as `/v1/ledger-keys` and the ledger show it (secp256k1 compressed).
pub(super) fn shown_hex(key: &Enrolled) -> String {
    key.view().public_key
}

/// The primitive keys (hex) in a threshold key, and its threshold; a single key counts as 1 of 1.
fn parts(key: &pb::Key) -> Option<(u32, Vec<String>)> {
    fn one(key: &pb::Key) -> Option<String> {
        match key.key.as_ref()? {
            pb::key::Key::Ed25519(b) | pb::key::Key::EcdsaSecp256k1(b) => Some(hex::encode(b)),
            _ => None,
        }
    }
    match key.key.as_ref()? {
        pb::key::Key::ThresholdKey(t) => {
            let keys = t
                .keys
                .as_ref()?
                .keys
                .iter()
                .map(one)
                .collect::<Option<_>>()?;
            Some((t.threshold, keys))
        }
        _ => Some((1, vec![one(key)?])),
    }
}

/// Whether a mirror's JSON for a key (`{"_type": ..., "key": hex}`) is `expected`.
pub fn mirror_shows(json: &serde_json::Value, expected: &pb::Key) -> bool {
    let Some(shown) = json["key"].as_str() else {
        return false;
    };
    if json["_type"].as_str() == Some("ProtobufEncoded") {
        return shown.eq_ignore_ascii_case(&hex::encode(expected.encode_to_vec()));
    }
    matches!(parts(expected), Some((1, keys)) if keys.len() == 1 && keys[0].eq_ignore_ascii_case(shown))
}

pub(super) fn internal(message: impl Into<String>) -> Error {
    Error::Api(ErrorCode::Internal, message.into())
}

fn bad_request(message: String) -> Error {
    Error::Api(ErrorCode::BadRequest, message)
}

pub(super) fn conflict(message: String) -> Error {
    Error::Api(ErrorCode::Conflict, message)
}

/// The key `officer` brings to a key they are to hold, and whether it is staged: their staged
/// key, else `preferred` (one of theirs in use), else their newest key in use. `None` when they
/// have no ledger key.
pub(super) fn key_to_hold(
    staged: &[Enrolled],
    enrolled: &[Enrolled],
    officer: &str,
    preferred: Option<&Enrolled>,
) -> Option<(Enrolled, bool)> {
    if let Some(k) = staged.iter().find(|k| k.officer == officer) {
        return Some((k.clone(), true));
    }
    preferred
        .or_else(|| {
            enrolled
                .iter()
                .filter(|k| k.officer == officer)
                .max_by_key(|k| k.enrolled_at)
        })
        .map(|k| (k.clone(), false))
}

/// The key a role's members make: `threshold` of their keys, in order.
pub(super) fn role_key_of(threshold: u32, keys: &[Enrolled]) -> Option<pb::Key> {
    let primitives = keys
        .iter()
        .map(|k| hapi::primitive_key(&k.key))
        .collect::<Option<Vec<_>>>()?;
    Some(hapi::threshold_key(threshold, primitives))
}

impl Engine {
    /// The token's keys as the registry holds them. The first time, they are written from the
    /// token's creation body (what the ledger executed), each primitive key named by the ledger
    /// key it is.
    pub async fn role_keys(&self) -> Result<Vec<RoleKey>, Error> {
        let keys = rows(self.db()).await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        let created_by = self.token_keys().await?.created_by;
        let creation = self.get(&created_by).await?;
        let body = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(&creation.scheduled_body)
                .map_err(|_| internal("the token's creation body is not base64"))?
        };
        let create = match pb::SchedulableTransactionBody::decode(body.as_slice())
            .ok()
            .and_then(|b| b.data)
        {
            Some(pb::schedulable_transaction_body::Data::TokenCreation(c)) => c,
            _ => return Err(internal("the token's creation body is not a TokenCreate")),
        };
        let enrolled = keys::store::all(self.db()).await?;
        let mut tx = self.db().begin().await.map_err(crate::store::Error::from)?;
        for (role, key) in [
            (KeyRole::Admin, &create.admin_key),
            (KeyRole::Supply, &create.supply_key),
            (KeyRole::Pause, &create.pause_key),
            // The treasury account was created with the admin key.
            (KeyRole::Treasury, &create.admin_key),
        ] {
            let Some(key) = key else { continue };
            let (threshold, hexes) = parts(key).ok_or_else(|| {
                internal(format!(
                    "the token's {} key is not a threshold of Ed25519/secp256k1 keys",
                    role.as_str()
                ))
            })?;
            let members = hexes
                .iter()
                .map(|hex| {
                    let holder = enrolled.iter().find(|k| shown_hex(k) == *hex).ok_or_else(|| {
                        internal(format!("the token's {} key holds {hex}, which is no ledger key in the registry", role.as_str()))
                    })?;
                    Ok(KeyMember {
                        officer: holder.officer.clone(),
                        public_key: hex.clone(),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let row = RoleKey {
                role,
                threshold,
                members,
                protobuf: hex::encode(key.encode_to_vec()),
                proposal: created_by.clone(),
                applied_at: creation
                    .outcome
                    .as_ref()
                    .map_or(creation.created_at, |o| o.at),
                confirmed_at: None,
            };
            put(&mut tx, &row, true).await?;
        }
        tx.commit().await.map_err(crate::store::Error::from)?;
        Ok(rows(self.db()).await?)
    }

    /// The registry's `role` key.
    pub async fn role_key(&self, role: KeyRole) -> Result<RoleKey, Error> {
        self.role_keys()
            .await?
            .into_iter()
            .find(|k| k.role == role)
            .ok_or_else(|| internal(format!("the token has no {} key", role.as_str())))
    }

    /// `officer`'s key in `role`: what their signature for a proposal that needs that key is
    /// checked against. `None` when they hold none there.
    pub async fn key_in(&self, role: KeyRole, officer: &str) -> Result<Option<Enrolled>, Error> {
        let key = self.role_key(role).await?;
        let Some(member) = key.members.iter().find(|m| m.officer == officer) else {
            return Ok(None);
        };
        Ok(keys::store::all(self.db())
            .await?
            .into_iter()
            .find(|k| k.officer == officer && shown_hex(k) == member.public_key))
    }

    /// Proposes replacing the `new.role` key by `new.threshold` of `new.holders`' keys (each the
    /// key they staged, else the one they hold), under the policy rule and the admin key's quorum.
    pub async fn propose_rotation(&self, by: &By, new: &NewRotation) -> Result<Proposal, Error> {
        let object = format!("proposal:rotation:{}", new.role.as_str());
        let current = self.policy().await?;
        let needs = match new.role {
            KeyRole::Supply | KeyRole::Admin | KeyRole::Treasury => Role::Officer,
            KeyRole::Pause => Role::Responder,
            _ => return Err(bad_request("role: unknown".to_owned())),
        };
        let before = self.role_key(new.role).await?;
        // The holders: each once, registered, enabled, with the role, and a key.
        let mut names: Vec<&str> = new.holders.iter().map(|h| h.trim()).collect();
        names.sort_unstable();
        names.dedup();
        let problem = if new.holders.is_empty() {
            Some("holders: name who holds the new key".to_owned())
        } else if names.len() != new.holders.len() {
            Some("holders: someone is named twice".to_owned())
        } else if new.threshold == 0 || new.threshold as usize > new.holders.len() {
            Some(format!(
                "threshold: {} of {} holder(s) could never sign (or anyone could): give 1 to {}",
                new.threshold,
                new.holders.len(),
                new.holders.len()
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(self.invalid(by, object, message).await);
        }
        let people = crate::registry::store::officers(self.db()).await?;
        let staged = keys::store::staged(self.db()).await?;
        let enrolled = keys::store::all(self.db()).await?;
        // In an admin or treasury rotation a holder who keeps a key keeps their admin key: their
        // approval then carries the new key's signature too.
        let approving: Vec<KeyMember> = if new.role.new_key_signs() {
            self.role_key(KeyRole::Admin).await?.members
        } else {
            Vec::new()
        };
        let mut holders = Vec::new();
        let mut chosen = Vec::new();
        for name in &new.holders {
            let name = name.trim();
            let person = people.iter().find(|p| p.name == name);
            let message = match person {
                None => Some(format!("holders: {name} is not registered")),
                Some(p) if p.disabled => Some(format!("holders: {name} is disabled")),
                Some(p) if !p.roles.contains(&needs) => Some(format!(
                    "holders: {name} is not a registered {}: only they hold the {} key",
                    needs.as_str(),
                    new.role.as_str()
                )),
                Some(_) => None,
            };
            if let Some(message) = message {
                return Err(self.invalid(by, object, message).await);
            }
            // Their staged key, else (admin and treasury) their admin key, else their newest key
            // in use: a ceremony that rotates the admin key and then the treasury carries each
            // holder's new key from the first into the second without staging it twice.
            let in_admin = approving
                .iter()
                .find(|m| m.officer == name)
                .and_then(|m| enrolled.iter().find(|k| shown_hex(k) == m.public_key));
            let Some((key, is_staged)) = key_to_hold(&staged, &enrolled, name, in_admin) else {
                let message = format!(
                    "holders: {name} has no ledger key: they stage one from their device first (gatehouse ledger-key stage)"
                );
                return Err(self.invalid(by, object, message).await);
            };
            let view = key.view();
            let approves = approving.iter().any(|m| m.public_key == view.public_key);
            holders.push(RotationHolder {
                officer: name.to_owned(),
                public_key: view.public_key,
                algorithm: view.algorithm,
                evidence: view.evidence,
                staged: is_staged,
                approves,
            });
            chosen.push(key);
        }
        let next = role_key_of(new.threshold, &chosen)
            .ok_or_else(|| internal("a holder's key cannot be a Hedera key"))?;
        if hex::encode(next.encode_to_vec()) == before.protobuf {
            let message = format!(
                "the {} key is {} with these keys already: nothing would change (each new holder stages a new key first)",
                new.role.as_str(),
                before.holders_text()
            );
            return Err(self.invalid(by, object, message).await);
        }
        // The proposer never approves their own proposal, so a key of theirs the admin key holds
        // never signs it: the new key must reach its threshold without it.
        let can_sign = holders
            .iter()
            .filter(|h| !(h.approves && h.officer == by.name))
            .count();
        if new.role.new_key_signs() && can_sign < new.threshold as usize {
            let message = format!(
                "the new {} key needs {} signature(s), but only {can_sign} of its holders can give one: you keep your admin key in it and do not approve your own proposal. Stage a new key first (gatehouse ledger-key stage), lower the threshold, or let another officer propose",
                new.role.as_str(),
                new.threshold
            );
            return Err(self.invalid(by, object, message).await);
        }
        self.rotation_allowed(by, &object, new, &current, &holders)
            .await?;
        let (token_id, quorum) = super::policy::token_change(&current)?;
        let admin = self.role_key(KeyRole::Admin).await?;
        let threshold = quorum.threshold.max(admin.threshold);
        let id = uuid::Uuid::new_v4().to_string();
        let mut update = pb::TokenUpdateTransactionBody {
            token: Some(token_id),
            ..Default::default()
        };
        let mut treasury = None;
        match new.role {
            KeyRole::Supply => update.supply_key = Some(next),
            KeyRole::Pause => update.pause_key = Some(next),
            KeyRole::Admin => update.admin_key = Some(next),
            _ => {
                let moved = self
                    .new_treasury(by, &object, &current.token, &id, next)
                    .await?;
                update.treasury = Some(
                    hapi::parse_account(&moved.to)
                        .ok_or_else(|| internal("the new treasury account id is malformed"))?,
                );
                treasury = Some(moved);
            }
        }
        let inner = pb::SchedulableTransactionBody {
            transaction_fee: 2_000_000_000,
            memo: format!("gatehouse proposal {id}"),
            data: Some(pb::schedulable_transaction_body::Data::TokenUpdate(update)),
            ..Default::default()
        };
        let payload = Payload::Rotation {
            token: current.token.clone(),
            role: new.role,
            threshold: new.threshold,
            holders,
            before,
            treasury,
        };
        self.schedule(
            by,
            id,
            ProposalKind::Rotation,
            payload,
            inner,
            threshold,
            quorum.eligible.clone(),
            serde_json::Value::Null,
        )
        .await
    }

    /// Creates the account a treasury rotation moves the token to, its key `key` (the new
    /// treasury key), and counts the NFTs the current treasury holds (from the mirror).
    async fn new_treasury(
        &self,
        by: &By,
        object: &str,
        token: &str,
        id: &str,
        key: pb::Key,
    ) -> Result<TreasuryMove, Error> {
        let Some((_, from, _)) = store::token(self.db()).await? else {
            return Err(internal("the token has no treasury on record"));
        };
        let nfts = match self.held_by(&from, token).await {
            Ok(n) => n,
            Err(reason) => {
                let e = Error::Api(
                    ErrorCode::Conflict,
                    format!(
                        "the mirror cannot say how many NFTs treasury {from} holds ({reason}); try again when it answers"
                    ),
                );
                return Err(self
                    .failed(by, Action::ProposalCreate, object.to_owned(), "mirror", e)
                    .await);
            }
        };
        let created = self
            .hapi()
            .run(
                pb::transaction_body::Data::CryptoCreateAccount(pb::CryptoCreateTransactionBody {
                    key: Some(key),
                    auto_renew_period: Some(pb::Duration {
                        seconds: super::engine::TOKEN_LIFETIME_SECS,
                    }),
                    memo: format!("gatehouse treasury (rotation {id})"),
                    ..Default::default()
                }),
                &format!("gatehouse proposal {id}"),
            )
            .await;
        let to = match created.map(|r| r.account_id) {
            Ok(Some(account)) => hapi::account_text(&account),
            Ok(None) => {
                let e = internal("the ledger created no treasury account");
                return Err(self
                    .failed(by, Action::ProposalCreate, object.to_owned(), "ledger", e)
                    .await);
            }
            Err(e) => {
                let e = super::engine::ledger_error("creating the new treasury account failed", &e);
                return Err(self
                    .failed(by, Action::ProposalCreate, object.to_owned(), "ledger", e)
                    .await);
            }
        };
        Ok(TreasuryMove { from, to, nfts })
    }

    /// How many of `token`'s NFTs `account` holds, as the mirror says.
    pub async fn held_by(&self, account: &str, token: &str) -> Result<u64, String> {
        let json: serde_json::Value = self
            .ledger()
            .mirror_json(&format!("/api/v1/accounts/{account}"))
            .await?;
        Ok(json["balance"]["tokens"]
            .as_array()
            .and_then(|tokens| tokens.iter().find(|t| t["token_id"] == token))
            .and_then(|t| t["balance"].as_u64())
            .unwrap_or(0))
    }

    /// Refuses (audited) a rotation the ledger would refuse or that would leave the policy
    /// unable to work, in this order: a paused token, another rotation open, open mints whose
    /// signatures would stop counting, a mint rule the new supply key would not carry out.
    async fn rotation_allowed(
        &self,
        by: &By,
        object: &str,
        new: &NewRotation,
        current: &gatehouse_protocol::policy::CurrentPolicy,
        holders: &[RotationHolder],
    ) -> Result<(), Error> {
        let open = store::list(self.db(), Some(ProposalStatus::Open), 1000).await?;
        let mut refusal = None;
        // The ledger's own refusal first: nothing else can be done about a paused token.
        match self.mirror_paused(&current.token).await {
            Ok(true) => {
                refusal = Some((
                    "token-paused",
                    format!(
                        "token {} is paused on the ledger, and Hedera refuses every change to a paused token (TOKEN_IS_PAUSED). The safe order: keep the backend breaker tripped so nothing is minted; unpause the token on the ledger alone by quorum (gatehouse resume propose --ledger-only, approved, then gatehouse resume unpause); propose and approve this rotation; pause the ledger again (gatehouse pause); resume fully when ready",
                        current.token
                    ),
                ))
            }
            Ok(false) => {}
            Err(reason) => {
                tracing::warn!(%reason, "the mirror could not say whether the token is paused; the ledger will decide");
            }
        }
        if refusal.is_none()
            && let Some(other) = open.iter().find(|p| p.kind.changes_keys())
        {
            refusal = Some((
                "rotation-open",
                format!(
                    "{} {} is open already and changes the token's keys; approve, reject or cancel it first",
                    other.kind.as_str(),
                    other.id
                ),
            ));
        }
        // Open proposals whose collected signatures are the rotated key's: they would stop
        // counting once it changes.
        let signed_with: Vec<&Proposal> = open
            .iter()
            .filter(|p| {
                p.kind != ProposalKind::Resume
                    && super::engine::signing_role(p.kind) == Some(new.role)
            })
            .collect();
        if refusal.is_none() && !signed_with.is_empty() {
            let kinds: Vec<&str> = signed_with.iter().map(|p| p.kind.as_str()).collect();
            refusal = Some((
                if new.role == KeyRole::Supply {
                    "mints-open"
                } else {
                    "proposals-open"
                },
                format!(
                    "{} {} proposal(s) are open: the approvals they collected are signatures of the current {} key and would stop counting once it changes; let them execute, or cancel them, then propose the rotation",
                    signed_with.len(),
                    kinds.join("/"),
                    new.role.as_str()
                ),
            ));
        }
        // The rules whose approvals are checked against this key: each must stay within the new
        // holders, and where the ledger counts them, ask at least the new threshold.
        let rules: &[(&str, bool)] = match new.role {
            KeyRole::Supply => &[("mint", true)],
            KeyRole::Admin => &[("policy", true), ("resume", false)],
            _ => &[],
        };
        let names: Vec<&str> = holders.iter().map(|h| h.officer.as_str()).collect();
        for (kind, counted) in rules {
            let Some(rule) = current.policy.rule(kind) else {
                continue;
            };
            if refusal.is_some() {
                break;
            }
            let outside: Vec<&str> = rule
                .eligible
                .iter()
                .map(String::as_str)
                .filter(|e| !names.contains(e))
                .collect();
            if !outside.is_empty() {
                refusal = Some((
                    "rule-outside-key",
                    format!(
                        "the {kind} rule ({} of {}) names {}, who would hold no {} key, so their approvals could not be checked: change the {kind} rule first (gatehouse policy propose --kind {kind}), then rotate",
                        rule.threshold,
                        rule.eligible.join(", "),
                        outside.join(", "),
                        new.role.as_str()
                    ),
                ));
            } else if *counted && rule.threshold < new.threshold {
                refusal = Some((
                    "rule-below-key",
                    format!(
                        "the {kind} rule asks {} approvals and the new {} key would need {}: proposals under it could not execute; raise the {kind} rule to {} first (gatehouse policy propose --kind {kind}), then rotate",
                        rule.threshold,
                        new.role.as_str(),
                        new.threshold,
                        new.threshold
                    ),
                ));
            }
        }
        match refusal {
            None => Ok(()),
            Some((code, message)) => Err(self
                .failed(
                    by,
                    Action::ProposalCreate,
                    object.to_owned(),
                    code,
                    conflict(message),
                )
                .await),
        }
    }

    /// Applies an executed rotation in `tx`: the registry takes the new key, the staged keys it
    /// names go into use, and the old keys no token key contains any more are retired. Returns
    /// what changed, for the audit record.
    pub(super) async fn apply_rotation(
        &self,
        tx: &mut Tx,
        proposal: &Proposal,
    ) -> Result<serde_json::Value, Error> {
        match &proposal.payload {
            Payload::Offboarding {
                officer,
                after,
                document,
                ..
            } => {
                return self
                    .apply_offboarding(tx, proposal, officer, after, document.as_deref())
                    .await;
            }
            Payload::Onboarding { .. } => return self.apply_onboarding(tx, proposal).await,
            _ => {}
        }
        let Payload::Rotation {
            role,
            threshold,
            holders,
            before,
            treasury,
            ..
        } = &proposal.payload
        else {
            return Ok(serde_json::Value::Null);
        };
        let body = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(&proposal.scheduled_body)
                .map_err(|_| internal("the rotation's body is not base64"))?
        };
        let update = match pb::SchedulableTransactionBody::decode(body.as_slice())
            .ok()
            .and_then(|b| b.data)
        {
            Some(pb::schedulable_transaction_body::Data::TokenUpdate(u)) => u,
            _ => return Err(internal("the rotation's body is not a TokenUpdate")),
        };
        let key = match role {
            KeyRole::Supply => update.supply_key,
            KeyRole::Pause => update.pause_key,
            KeyRole::Admin => update.admin_key,
            // The new treasury account was created with the holders' keys.
            _ => {
                let moved = treasury
                    .as_ref()
                    .ok_or_else(|| internal("the treasury rotation names no new account"))?;
                let candidates = keys::store::staged_and_in_use(self.db()).await?;
                let chosen = holders
                    .iter()
                    .map(|h| {
                        candidates
                            .iter()
                            .find(|k| shown_hex(k) == h.public_key)
                            .cloned()
                            .ok_or_else(|| {
                                internal(format!(
                                    "{}'s key {} in the new treasury key is in no registry list",
                                    h.officer, h.public_key
                                ))
                            })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                store::set_treasury(tx, &moved.to).await?;
                role_key_of(*threshold, &chosen)
            }
        }
        .ok_or_else(|| internal("the rotation's body sets no key"))?;
        let row = RoleKey {
            role: *role,
            threshold: *threshold,
            members: holders
                .iter()
                .map(|h| KeyMember {
                    officer: h.officer.clone(),
                    public_key: h.public_key.clone(),
                })
                .collect(),
            protobuf: hex::encode(key.encode_to_vec()),
            proposal: proposal.id.clone(),
            applied_at: Utc::now(),
            confirmed_at: None,
        };
        put(tx, &row, false).await?;
        let mut activated = Vec::new();
        for holder in holders.iter().filter(|h| h.staged) {
            activate_staged(tx, &holder.officer, &holder.public_key).await?;
            activated.push(
                serde_json::json!({ "officer": holder.officer, "public_key": holder.public_key }),
            );
        }
        // Old keys that no token key (the new one included) contains any more.
        let held = rows_in(tx).await?;
        let in_use = |hex: &str| {
            held.iter()
                .any(|k| k.members.iter().any(|m| m.public_key == hex))
        };
        let enrolled = keys::store::all(self.db()).await?;
        let mut retired = Vec::new();
        for member in &before.members {
            if in_use(&member.public_key) {
                continue;
            }
            if let Some(k) = enrolled.iter().find(|k| shown_hex(k) == member.public_key)
                && keys::store::retire(tx, &keys::store::stored_hex(&k.key)).await?
            {
                retired.push(serde_json::json!({ "officer": member.officer, "public_key": member.public_key }));
            }
        }
        Ok(serde_json::json!({
            "role": role.as_str(),
            "key": row.holders_text(),
            "protobuf": row.protobuf,
            "activated": activated,
            "retired": retired,
            "treasury": treasury,
        }))
    }

    /// Records each token key the mirror now shows as the registry holds it confirmed (audited).
    /// A mirror that shows another key is the reconciler's to alarm on
    /// ([`crate::mints::Reconciler`]). Returns the roles confirmed now.
    pub async fn confirm_keys(&self) -> Result<Vec<KeyRole>, Error> {
        if store::token(self.db()).await?.is_none() {
            return Ok(Vec::new());
        }
        if self
            .role_keys()
            .await?
            .iter()
            .all(|k| k.confirmed_at.is_some())
        {
            return Ok(Vec::new());
        }
        let copies = match mirror_copies(self.db(), self.ledger()).await {
            Ok(copies) => copies,
            Err(reason) => {
                tracing::warn!(%reason, "the mirror could not show the token's keys; trying again later");
                return Ok(Vec::new());
            }
        };
        let mut confirmed = Vec::new();
        for copy in copies
            .into_iter()
            .filter(|c| c.key.confirmed_at.is_none() && c.shown)
        {
            let key = copy.key;
            let mut tx = self.db().begin().await.map_err(crate::store::Error::from)?;
            if !set_confirmed(&mut tx, key.role, &key.protobuf).await? {
                continue;
            }
            let server = By::server(format!("confirm-{}", key.role.as_str()));
            let mut details = serde_json::json!({
                "role": key.role.as_str(),
                "key": key.holders_text(),
                "protobuf": key.protobuf,
                "proposal": key.proposal,
            });
            // A treasury: the account the token names, and the NFTs it holds now.
            if key.role == KeyRole::Treasury
                && let Some((token, account, _)) = store::token(self.db()).await?
            {
                details["account"] = account.clone().into();
                details["nfts_held"] = self.held_by(&account, &token).await.ok().into();
            }
            let object = format!("token-key:{}", key.role.as_str());
            let entry = Self::entry(
                &server,
                Action::LedgerKeyConfirm,
                object,
                OutcomeKind::Success,
                None,
                details,
            );
            self.commit(tx, entry, None).await?;
            confirmed.push(key.role);
        }
        Ok(confirmed)
    }
}

/// One token key as the registry holds it, next to the mirror's copy.
#[derive(Debug)]
pub struct MirrorCopy {
    /// The registry's.
    pub key: RoleKey,
    /// The mirror's JSON for it.
    pub mirror: serde_json::Value,
    /// Whether the mirror shows the registry's key.
    pub shown: bool,
}

/// Every token key the registry holds, with the mirror's copy (the token's keys; the treasury
/// account's key). Empty before the token exists; `Err` when the mirror cannot say.
pub async fn mirror_copies(
    db: &Db,
    ledger: &crate::ledger::LedgerAdapter,
) -> Result<Vec<MirrorCopy>, String> {
    let keys = rows(db).await.map_err(|e| e.to_string())?;
    let Some((token, treasury, _)) = store::token(db).await.map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let token_json: serde_json::Value = ledger
        .mirror_json(&format!("/api/v1/tokens/{token}"))
        .await?;
    let account: serde_json::Value = ledger
        .mirror_json(&format!("/api/v1/accounts/{treasury}"))
        .await?;
    keys.into_iter()
        .map(|key| {
            let mirror = match key.role {
                KeyRole::Treasury => account["key"].clone(),
                role => token_json[format!("{}_key", role.as_str())].clone(),
            };
            // The treasury key counts only on the account the token names as its treasury.
            let named = key.role != KeyRole::Treasury
                || token_json["treasury_account_id"].as_str() == Some(treasury.as_str());
            let expected = hex::decode(&key.protobuf)
                .ok()
                .and_then(|b| pb::Key::decode(b.as_slice()).ok())
                .ok_or_else(|| {
                    format!("the registry's {} key does not decode", key.role.as_str())
                })?;
            let shown = named && mirror_shows(&mirror, &expected);
            Ok(MirrorCopy { key, mirror, shown })
        })
        .collect()
}

/// Whether the mirror had `grace_secs` to catch up with `key` since the ledger took it.
pub fn mirror_grace_passed(key: &RoleKey, grace_secs: i64) -> bool {
    (Utc::now() - key.applied_at).num_seconds() >= grace_secs
}

/// Puts `officer`'s staged key `public_key` (hex, as shown) into use, now that the ledger holds
/// it.
pub(super) async fn activate_staged(
    tx: &mut Tx,
    officer: &str,
    public_key: &str,
) -> Result<(), Error> {
    let staged = keys::store::staged_of(tx, officer).await?;
    let stored = staged
        .filter(|k| shown_hex(k) == public_key)
        .map(|k| keys::store::stored_hex(&k.key));
    let moved = match stored {
        Some(stored) => keys::store::activate_staged(tx, officer, &stored).await?,
        None => None,
    };
    match moved {
        Some(_) => Ok(()),
        None => Err(internal(format!(
            "{officer}'s staged key {public_key} is no longer staged, though the ledger now holds it"
        ))),
    }
}

/// The registry's token keys, read in the transaction.
pub(super) async fn rows_in(tx: &mut Tx) -> Result<Vec<RoleKey>, crate::store::Error> {
    const SQL: &str = "SELECT role, threshold, members, protobuf, proposal, applied_at, confirmed_at FROM token_keys";
    let rows: Vec<Row> = on_tx!(tx, conn => sqlx::query_as(SQL).fetch_all(&mut *conn).await?);
    rows.into_iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed(byte: u8) -> pb::Key {
        pb::Key {
            key: Some(pb::key::Key::Ed25519(vec![byte; 32])),
        }
    }

    #[test]
    fn the_mirror_copy_matches_only_the_same_key() {
        let two_of_three = hapi::threshold_key(2, vec![ed(1), ed(2), ed(3)]);
        let encoded = hex::encode(two_of_three.encode_to_vec());
        let shown = serde_json::json!({ "_type": "ProtobufEncoded", "key": encoded });
        assert!(mirror_shows(&shown, &two_of_three));
        let other = hapi::threshold_key(2, vec![ed(1), ed(2), ed(4)]);
        assert!(!mirror_shows(&shown, &other), "another member");
        let looser = hapi::threshold_key(1, vec![ed(1), ed(2), ed(3)]);
        assert!(!mirror_shows(&shown, &looser), "another threshold");
        let single = serde_json::json!({ "_type": "ED25519", "key": hex::encode([1u8; 32]) });
        assert!(mirror_shows(&single, &hapi::threshold_key(1, vec![ed(1)])));
        assert!(!mirror_shows(&single, &hapi::threshold_key(1, vec![ed(2)])));
        assert!(!mirror_shows(&serde_json::Value::Null, &two_of_three));
    }

    #[test]
    fn a_threshold_key_is_read_back_into_its_parts() {
        let key = hapi::threshold_key(2, vec![ed(1), ed(2)]);
        assert_eq!(
            parts(&key),
            Some((2, vec![hex::encode([1u8; 32]), hex::encode([2u8; 32])]))
        );
        assert_eq!(parts(&ed(7)), Some((1, vec![hex::encode([7u8; 32])])));
        assert_eq!(parts(&pb::Key { key: None }), None);
    }
}
