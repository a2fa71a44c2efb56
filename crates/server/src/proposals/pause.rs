//! The emergency pause (invariant 3): one responder, one signature, every instance stops.
//!
//! The server hands a responder a TokenPause body for the deployment's token
//! ([`Engine::pause_request`]); the responder's device signs it; [`Engine::pause`] checks the
//! signature against the responder's enrolled ledger key, trips the breaker (one row every
//! instance reads on every state-changing request, updated with its audit entry), and then sends
//! the TokenPause to the ledger with that same signature (the token's pause key is any one
//! responder's key). Pausing twice is harmless; a replayed signed pause is refused and audited.
//!
//! "Never after the acknowledgement": an approval holds the breaker (shared: an in-process lock,
//! and on PostgreSQL the breaker row `FOR SHARE`) from its check until it is recorded, and the
//! pause takes it exclusively before it trips. So every approval either reached the ledger before
//! the pause was acknowledged or is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::pause::{
    BreakGlassAccount, BreakGlassRecord, BreakGlassRekey, BreakGlassRekeyed, Breaker,
    MAX_BREAK_GLASS_HBAR, NewBreakGlassAccount, NewPause, PauseRequest, SignedPause, clean_reason,
};
use gatehouse_protocol::proposal::KeyRole;
use gatehouse_protocol::{ErrorCode, Role};
use hiero_sdk_proto::services as pb;
use prost::Message as _;
use sha2::{Digest as _, Sha256};

use super::Refusal;
use super::engine::{By, Engine, parse_token};
use super::store;
use crate::audit::Action;
use crate::http::Error;
use crate::keys;
use crate::ledger::hapi;
use crate::store::{Db, Error as StoreError, Tx, on_pool, on_tx};

type BreakerRow = (
    bool,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const BREAKER_COLUMNS: &str =
    "tripped, tripped_by, tripped_at, reason, ledger_status, ledger_transaction, resume_proposal";

fn view(row: BreakerRow) -> Breaker {
    let (tripped, by, at, reason, ledger_status, ledger_transaction, resume) = row;
    Breaker {
        tripped,
        by,
        at,
        reason,
        ledger_status,
        ledger_transaction,
        ledger_paused: None,
        resume,
    }
}

/// The breaker as every instance reads it.
pub async fn breaker(db: &Db) -> Result<Breaker, StoreError> {
    let sql = format!("SELECT {BREAKER_COLUMNS} FROM breaker WHERE id = 1");
    let row: BreakerRow = on_pool!(db, pool => sqlx::query_as(&sql).fetch_one(pool).await?);
    Ok(view(row))
}

/// On PostgreSQL, a transaction holding the breaker row shared (a pause on any instance waits for
/// it); on SQLite (one instance), none: the in-process gate does it.
pub async fn hold_breaker(db: &Db) -> Result<Option<Tx>, StoreError> {
    match db {
        Db::Postgres(_) => Ok(Some(db.begin().await?)),
        Db::Sqlite(_) => Ok(None),
    }
}

/// The breaker read in `tx`, holding its row shared on PostgreSQL.
pub async fn tripped_in(tx: &mut Tx) -> Result<Breaker, StoreError> {
    let row: BreakerRow = match tx {
        Tx::Postgres(tx) => {
            let sql = format!("SELECT {BREAKER_COLUMNS} FROM breaker WHERE id = 1 FOR SHARE");
            sqlx::query_as(&sql).fetch_one(&mut **tx).await?
        }
        Tx::Sqlite(tx) => {
            let sql = format!("SELECT {BREAKER_COLUMNS} FROM breaker WHERE id = 1");
            sqlx::query_as(&sql).fetch_one(&mut **tx).await?
        }
    };
    Ok(view(row))
}

/// Trips the breaker in `tx` for `by`, for `reason`: `false` when it was tripped already (the
/// first pause is the one recorded).
async fn trip(tx: &mut Tx, by: &str, reason: &str) -> Result<bool, StoreError> {
    const TRIP: &str = "UPDATE breaker SET tripped = TRUE, tripped_by = $1, tripped_at = $2, reason = $3, \
                        ledger_status = NULL, ledger_transaction = NULL, resume_proposal = NULL \
                        WHERE id = 1 AND tripped = FALSE";
    Ok(on_tx!(tx, conn => {
        sqlx::query(TRIP).bind(by).bind(Utc::now()).bind(reason).execute(&mut *conn).await?.rows_affected()
    }) == 1)
}

/// What a refused request is told: who paused, when, why, and what it takes to resume.
pub fn paused_message(b: &Breaker) -> String {
    let reason = b
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map_or_else(String::new, |r| format!(": {r:?}"));
    format!(
        "the deployment is paused: {} tripped the emergency breaker at {}{reason}; nothing changes until a quorum of officers resumes it",
        b.by.as_deref().unwrap_or("a responder"),
        b.at.map_or_else(|| "an unknown time".to_owned(), |t| t.to_rfc3339()),
    )
}

impl Engine {
    /// The breaker, with the ledger's pause status as the mirror shows it now.
    pub async fn breaker(&self) -> Result<Breaker, Error> {
        let mut b = breaker(self.db()).await?;
        b.ledger_paused = match store::token(self.db()).await? {
            Some((token, _, _)) => self.mirror_paused(&token).await.ok(),
            None => None,
        };
        Ok(b)
    }

    /// Whether the mirror shows `token` paused.
    pub async fn mirror_paused(&self, token: &str) -> Result<bool, String> {
        let json: serde_json::Value = self
            .ledger()
            .mirror_json(&format!("/api/v1/tokens/{token}"))
            .await?;
        match json["pause_status"].as_str() {
            Some("PAUSED") => Ok(true),
            Some("UNPAUSED" | "NOT_APPLICABLE") => Ok(false),
            other => Err(format!("the mirror shows pause_status {other:?}")),
        }
    }

    /// `by`'s enrolled ledger key; a refusal (audited as `action`) when they have none.
    pub(super) async fn responder_key(
        &self,
        by: &By,
        action: Action,
    ) -> Result<keys::Enrolled, Error> {
        // The key the ledger counts for a pause: theirs in the token's pause key.
        match self.key_in(KeyRole::Pause, &by.name).await? {
            Some(key) => Ok(key),
            None => Err(self
                .deny(by, action, "breaker".to_owned(), Refusal::NoLedgerKey)
                .await),
        }
    }

    /// Hands `by` a body paid by the operator that does `data` on the ledger, to sign with their
    /// key: a TokenPause, or (for `proposal`, an approved resume) a TokenUnpause.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn hand_out(
        &self,
        by: &By,
        action: Action,
        key: &keys::Enrolled,
        data: pb::transaction_body::Data,
        memo: &str,
        reason: &str,
        proposal: Option<&str>,
    ) -> Result<PauseRequest, Error> {
        let body = self.hapi().body(data, memo);
        let expires_at = hapi::expires_at(&body);
        let bytes = body.encode_to_vec();
        let request = uuid::Uuid::new_v4().to_string();
        let row = store::PauseRequest {
            responder: by.name.clone(),
            reason: reason.to_owned(),
            body: B64.encode(&bytes),
            expires_at,
            proposal: proposal.map(str::to_owned),
        };
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        store::insert_pause_request(&mut tx, &request, &row).await?;
        let details = serde_json::json!({
            "request": request,
            "body_sha256": hex::encode(Sha256::digest(&bytes)),
            "public_key": key.view().public_key,
            "reason": reason,
            "proposal": proposal,
        });
        let entry = Self::entry(
            by,
            action,
            "breaker".to_owned(),
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit(tx, entry, None).await?;
        Ok(PauseRequest {
            request,
            body: row.body,
            expires_at,
        })
    }

    /// Takes `by`'s request that `signed` answers (in `tx`) and checks the signature by `key`
    /// over its body: the request, the body's and the signature's bytes.
    pub(super) async fn take_signed(
        tx: &mut Tx,
        by: &By,
        key: &keys::Enrolled,
        signed: &SignedPause,
    ) -> Result<Result<(store::PauseRequest, Vec<u8>, Vec<u8>), Refusal>, Error> {
        let Some(request) = store::take_pause_request(tx, &signed.request, &by.name).await? else {
            return Ok(Err(Refusal::UnknownRequest(signed.request.clone())));
        };
        Ok(super::check_signed(
            &key.key,
            &request.body,
            &signed.signature,
            request.expires_at,
        )
        .map(|(body, raw)| (request, body, raw)))
    }

    /// Sends `body` signed by `key` (`raw`) and the operator to the ledger: what it answered
    /// (`SUCCESS`, or why not) and the transaction id.
    pub(super) async fn send_signed(
        &self,
        key: &keys::Enrolled,
        body: Vec<u8>,
        raw: Vec<u8>,
    ) -> Result<(String, String), Error> {
        let parsed = pb::TransactionBody::decode(body.as_slice()).map_err(|e| {
            Error::Api(
                ErrorCode::Internal,
                format!("the stored body does not decode: {e}"),
            )
        })?;
        let transaction_id = parsed
            .transaction_id
            .as_ref()
            .map(hapi::transaction_id_text)
            .unwrap_or_default();
        let status = match hapi::signature_pair(&key.key, raw) {
            None => "this key cannot sign for Hedera".to_owned(),
            Some(pair) => {
                let transaction = self.hapi().transaction(body, vec![pair]);
                match self.hapi().execute(&parsed, transaction).await {
                    Ok(_) => "SUCCESS".to_owned(),
                    Err(e) => e.to_string(),
                }
            }
        };
        Ok((status, transaction_id))
    }

    /// Hands `by` (a responder with a ledger key) the TokenPause body to sign. Allowed while
    /// tripped: pausing twice is harmless.
    pub async fn pause_request(&self, by: &By, new: &NewPause) -> Result<PauseRequest, Error> {
        let key = self.responder_key(by, Action::BreakerPauseRequest).await?;
        let token = self.token_keys().await?.token;
        let token_id = parse_token(&token).ok_or_else(|| {
            Error::Api(
                ErrorCode::Internal,
                "the stored token id is malformed".to_owned(),
            )
        })?;
        let reason = clean_reason(&new.reason);
        let data = pb::transaction_body::Data::TokenPause(pb::TokenPauseTransactionBody {
            token: Some(token_id),
        });
        let memo = format!("gatehouse pause {reason}");
        self.hand_out(
            by,
            Action::BreakerPauseRequest,
            &key,
            data,
            &memo,
            &reason,
            None,
        )
        .await
    }

    /// Checks `signed` against the body handed out, trips the breaker (audited in the same
    /// transaction), then sends the TokenPause to the ledger and records its answer.
    pub async fn pause(&self, by: &By, signed: &SignedPause) -> Result<Breaker, Error> {
        let object = "breaker".to_owned();
        let key = self.responder_key(by, Action::BreakerPause).await?;
        // Every approval in flight on this instance finishes first; none starts until this ends.
        let _gate = self.breaker_gate.write().await;
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        // A replayed (or unknown) signed pause is refused: each request is answered once.
        let (request, body, raw) = match Self::take_signed(&mut tx, by, &key, signed).await? {
            Ok(taken) if taken.0.proposal.is_none() => taken,
            Ok(_) => {
                drop(tx);
                let refusal = Refusal::UnknownRequest(signed.request.clone());
                return Err(self.deny(by, Action::BreakerPause, object, refusal).await);
            }
            Err(refusal) => {
                tx.commit().await.map_err(StoreError::from)?;
                return Err(self.deny(by, Action::BreakerPause, object, refusal).await);
            }
        };
        let tripped = trip(&mut tx, &by.name, &request.reason).await?;
        if tripped {
            self.tell_webhooks(&mut tx, by, &request.reason, "responder")
                .await?;
        }
        let details = serde_json::json!({
            "tripped": tripped,
            "already_tripped": !tripped,
            "reason": request.reason,
            "signature_sha256": hex::encode(Sha256::digest(&raw)),
            "public_key": key.view().public_key,
            "device": signed.device,
        });
        let entry = Self::entry(
            by,
            Action::BreakerPause,
            object.clone(),
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit_breaker(tx, entry, None).await?;

        // The ledger: the same signature, beside the operator's (the fee payer).
        let (status, transaction_id) = self.send_signed(&key, body, raw).await?;
        let status = if status == "SUCCESS" {
            status
        } else {
            format!("the ledger did not pause the token: {status}")
        };
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        const LEDGER: &str =
            "UPDATE breaker SET ledger_status = $1, ledger_transaction = $2 WHERE id = 1";
        on_tx!(&mut tx, conn => {
            sqlx::query(LEDGER).bind(&status).bind(&transaction_id).execute(&mut *conn).await.map_err(StoreError::from)?.rows_affected()
        });
        let outcome = if status == "SUCCESS" {
            OutcomeKind::Success
        } else {
            OutcomeKind::Failed
        };
        let entry = Self::entry(
            by,
            Action::BreakerLedgerPause,
            object,
            outcome,
            None,
            serde_json::json!({ "status": status, "transaction_id": transaction_id }),
        );
        self.commit_breaker(tx, entry, None).await?;
        self.breaker().await
    }
}

impl Engine {
    /// Queues (in `tx`, the pause's own transaction) the webhooks' news that `by` tripped the
    /// breaker, `how`.
    async fn tell_webhooks(
        &self,
        tx: &mut Tx,
        by: &By,
        reason: &str,
        how: &str,
    ) -> Result<(), StoreError> {
        let payload = serde_json::json!({
            "tripped": true,
            "by": by.name,
            "at": Utc::now(),
            "reason": reason,
            "how": how,
        });
        crate::webhooks::enqueue(tx, self.webhooks(), "breaker.tripped", &payload).await
    }

    /// Takes a break-glass record (a TokenPause `by` sent straight to the ledger, signed by their
    /// enrolled key, while the server could not be reached): checks the signature and that it
    /// pauses the deployment's token, trips the breaker with it (the ledger is paused already:
    /// the backend stops too), and audits it with what the mirror shows now. Delivering the same
    /// record again changes nothing and is audited.
    pub async fn break_glass(&self, by: &By, record: &BreakGlassRecord) -> Result<Breaker, Error> {
        let object = "breaker".to_owned();
        let key = self.responder_key(by, Action::BreakerBreakGlass).await?;
        let (body, raw) = match super::verify_signed(&key.key, &record.body, &record.signature) {
            Ok(checked) => checked,
            Err(refusal) => {
                return Err(self
                    .deny(by, Action::BreakerBreakGlass, object, refusal)
                    .await);
            }
        };
        let token = self.token_keys().await?.token;
        let decoded = pb::TransactionBody::decode(body.as_slice()).ok();
        let pauses = decoded
            .as_ref()
            .and_then(|b| match &b.data {
                Some(pb::transaction_body::Data::TokenPause(p)) => p.token,
                _ => None,
            })
            .map(|t| format!("{}.{}.{}", t.shard_num, t.realm_num, t.token_num));
        if pauses.as_deref() != Some(token.as_str()) {
            let refusal = Refusal::BadSignature(format!(
                "the record is not a TokenPause of the deployment's token {token}"
            ));
            return Err(self
                .deny(by, Action::BreakerBreakGlass, object, refusal)
                .await);
        }
        let memo = decoded.map(|b| b.memo).unwrap_or_default();
        let reason = clean_reason(
            memo.strip_prefix("gatehouse break-glass pause")
                .unwrap_or(&memo),
        );
        let body_sha256 = hex::encode(Sha256::digest(&body));
        let mirror_paused_now = self.mirror_paused(&token).await.ok();
        let _gate = self.breaker_gate.write().await;
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        let first = store::spend(&mut tx, &body_sha256, "break-glass", &by.name).await?;
        let tripped = first && trip(&mut tx, &by.name, &reason).await?;
        if tripped {
            self.tell_webhooks(&mut tx, by, &reason, "break-glass")
                .await?;
            const LEDGER: &str =
                "UPDATE breaker SET ledger_status = $1, ledger_transaction = $2 WHERE id = 1";
            let status = format!(
                "{} (break-glass, sent by {} directly)",
                record.ledger_status, by.name
            );
            on_tx!(&mut tx, conn => {
                sqlx::query(LEDGER).bind(&status).bind(&record.transaction_id).execute(&mut *conn).await.map_err(StoreError::from)?.rows_affected()
            });
        }
        let details = serde_json::json!({
            "transaction_id": record.transaction_id,
            "body_sha256": body_sha256,
            "signature_sha256": hex::encode(Sha256::digest(&raw)),
            "public_key": key.view().public_key,
            "device": record.device,
            "reason": reason,
            "ledger_status": record.ledger_status,
            "submitted_at": record.submitted_at,
            "mirror_paused_then": record.mirror_paused,
            "mirror_paused_now": mirror_paused_now,
            "tripped": tripped,
            "already_recorded": !first,
        });
        let entry = Self::entry(
            by,
            Action::BreakerBreakGlass,
            object,
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit_breaker(tx, entry, None).await?;
        self.breaker().await
    }
}

impl Engine {
    /// Creates `request.person`'s break-glass account (administrators): keyed by their enrolled
    /// ledger key, funded with `request.hbar` from the operator, so the responder can pause the
    /// token with nothing from the server. The person must be a responder with an enrolled key.
    /// Audited with the account and key.
    pub async fn break_glass_account(
        &self,
        by: &By,
        request: &NewBreakGlassAccount,
    ) -> Result<BreakGlassAccount, Error> {
        let action = Action::BreakerBreakGlassAccount;
        let object = format!("officer:{}", request.person);
        if !(1..=MAX_BREAK_GLASS_HBAR).contains(&request.hbar) {
            return Err(Error::Api(
                ErrorCode::BadRequest,
                format!(
                    "fund a break-glass account with 1 to {MAX_BREAK_GLASS_HBAR} hbar, not {}",
                    request.hbar
                ),
            ));
        }
        let person = {
            let mut tx = self.db().begin().await.map_err(StoreError::from)?;
            crate::registry::store::by_name(&mut tx, &request.person).await?
        };
        let Some(person) = person.filter(|p| p.roles.contains(&Role::Responder)) else {
            return Err(Error::Api(
                ErrorCode::BadRequest,
                format!(
                    "{} is not a registered responder: only responders break the glass",
                    request.person
                ),
            ));
        };
        if keys::store::of_officer(self.db(), &person.name)
            .await?
            .is_none()
        {
            return Err(self.deny(by, action, object, Refusal::NoLedgerKey).await);
        }
        let token = self.token_keys().await?.token;
        // The account's key signs the break-glass pause, so it must be theirs in the token's pause
        // key: after a rotation that need not be their newest key.
        let Some(key) = self
            .key_in(gatehouse_protocol::proposal::KeyRole::Pause, &person.name)
            .await?
        else {
            return Err(Error::Api(
                ErrorCode::BadRequest,
                format!(
                    "{} holds no key in the token's pause key, so the ledger would refuse a pause they sign: rotate the pause key to include them first (gatehouse rotate pause)",
                    person.name
                ),
            ));
        };
        let created = self
            .hapi()
            .run(
                pb::transaction_body::Data::CryptoCreateAccount(pb::CryptoCreateTransactionBody {
                    key: hapi::primitive_key(&key.key),
                    initial_balance: u64::from(request.hbar) * 100_000_000,
                    auto_renew_period: Some(pb::Duration { seconds: 7_776_000 }),
                    memo: format!("gatehouse break-glass {}", person.name),
                    ..Default::default()
                }),
                "gatehouse break-glass account",
            )
            .await;
        let account = match created.map(|r| r.account_id) {
            Ok(Some(account)) => hapi::account_text(&account),
            Ok(None) => {
                let refusal = Refusal::Ledger("the receipt names no account".to_owned());
                return Err(self.deny(by, action, object, refusal).await);
            }
            Err(e) => {
                let refusal = Refusal::Ledger(e.to_string());
                return Err(self.deny(by, action, object, refusal).await);
            }
        };
        let (node, node_account) = self.hapi().node();
        let made = BreakGlassAccount {
            person: person.name.clone(),
            account,
            public_key: key.view().public_key,
            hbar: request.hbar,
            token,
            node: node.to_owned(),
            node_account: hapi::account_text(node_account),
            mirror: self.ledger().mirror().first().cloned().unwrap_or_default(),
        };
        let details = serde_json::json!({
            "account": made.account,
            "public_key": made.public_key,
            "hbar": made.hbar,
            "paid_by": hapi::account_text(self.hapi().operator()),
        });
        let tx = self.db().begin().await.map_err(StoreError::from)?;
        let entry = Self::entry(by, action, object, OutcomeKind::Success, None, details);
        self.commit(tx, entry, None).await?;
        Ok(made)
    }
}

impl Engine {
    /// Takes the record of `by`'s break-glass account re-keyed in place (a CryptoUpdate they sent
    /// straight to the ledger after a pause-key rotation): the new key must be theirs in the
    /// token's pause key and the old key one of their registered keys (in use or retired), both
    /// signatures must verify over the body, and the body may change the account's key and
    /// nothing else. Audited with both keys and what the mirror shows now; delivering the same
    /// record again changes nothing and is audited.
    pub async fn break_glass_rekey(
        &self,
        by: &By,
        record: &BreakGlassRekey,
    ) -> Result<BreakGlassRekeyed, Error> {
        let action = Action::BreakerBreakGlassRekey;
        let key = self.responder_key(by, action.clone()).await?;
        let refuse = |why: String| Refusal::BadSignature(why);
        let checked = async {
            let (body, raw) = super::verify_signed(&key.key, &record.body, &record.signature)
                .map_err(|r| match r {
                    Refusal::BadSignature(why) => refuse(format!(
                        "the new key's signature: {why} (it must be your key in the token's pause key)"
                    )),
                    other => other,
                })?;
            let old = old_key(record).map_err(refuse)?;
            let (_, old_raw) = super::verify_signed(&old, &record.body, &record.old_signature)
                .map_err(|r| match r {
                    Refusal::BadSignature(why) => {
                        refuse(format!("the old key's signature: {why}"))
                    }
                    other => other,
                })?;
            let decoded = pb::TransactionBody::decode(body.as_slice())
                .map_err(|e| refuse(format!("the body does not decode: {e}")))?;
            let Some(pb::transaction_body::Data::CryptoUpdateAccount(update)) = &decoded.data
            else {
                return Err(refuse("the record is not a CryptoUpdate".to_owned()));
            };
            let account = update
                .account_id_to_update
                .as_ref()
                .map(hapi::account_text)
                .unwrap_or_default();
            let changes_key_only = pb::CryptoUpdateTransactionBody {
                account_id_to_update: update.account_id_to_update.clone(),
                key: hapi::primitive_key(&key.key),
                ..Default::default()
            } == *update;
            if !changes_key_only {
                return Err(refuse(format!(
                    "the update of account {account} must set its key to your key in the pause key and change nothing else"
                )));
            }
            Ok((body, raw, old, old_raw, account))
        }
        .await;
        let (body, raw, old, old_raw, account) = match checked {
            Ok(checked) => checked,
            Err(refusal) => {
                return Err(self
                    .deny(by, action, format!("officer:{}", by.name), refusal)
                    .await);
            }
        };
        let object = format!("account:{account}");
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        let old_holder = keys::store::holder_of(&mut tx, &keys::store::stored_hex(&old)).await?;
        if old_holder.as_ref().map(|(who, _)| who.as_str()) != Some(by.name.as_str()) {
            drop(tx);
            let refusal = refuse(format!(
                "the old key {} is not one of your registered ledger keys",
                keys::store::stored_hex(&old)
            ));
            return Err(self.deny(by, action, object, refusal).await);
        }
        let mirror_rekeyed_now = self
            .ledger()
            .mirror_json(&format!("/api/v1/accounts/{account}"))
            .await
            .ok()
            .map(|json: serde_json::Value| {
                json["key"]["key"]
                    .as_str()
                    .zip(hapi::primitive_key(&key.key))
                    .is_some_and(|(shown, expected)| match expected.key {
                        Some(pb::key::Key::Ed25519(k) | pb::key::Key::EcdsaSecp256k1(k)) => {
                            shown.eq_ignore_ascii_case(&hex::encode(k))
                        }
                        _ => false,
                    })
            });
        let body_sha256 = hex::encode(Sha256::digest(&body));
        let first = store::spend(&mut tx, &body_sha256, "break-glass-rekey", &by.name).await?;
        let made = BreakGlassRekeyed {
            account,
            public_key: key.view().public_key,
            mirror_rekeyed_now,
            already_recorded: !first,
        };
        let details = serde_json::json!({
            "transaction_id": record.transaction_id,
            "body_sha256": body_sha256,
            "old_key": keys::store::stored_hex(&old),
            "old_signature_sha256": hex::encode(Sha256::digest(&old_raw)),
            "public_key": made.public_key,
            "signature_sha256": hex::encode(Sha256::digest(&raw)),
            "device": record.device,
            "ledger_status": record.ledger_status,
            "submitted_at": record.submitted_at,
            "mirror_rekeyed_then": record.mirror_rekeyed,
            "mirror_rekeyed_now": mirror_rekeyed_now,
            "already_recorded": made.already_recorded,
        });
        let entry = Self::entry(by, action, object, OutcomeKind::Success, None, details);
        self.commit(tx, entry, None).await?;
        Ok(made)
    }
}

/// The old key of a re-keying record, as a key that verifies signatures.
fn old_key(record: &BreakGlassRekey) -> Result<gatehouse_keys::key::PublicKey, String> {
    use gatehouse_keys::key::{Algorithm, PublicKey};
    let algorithm = match record.old_key_type.as_str() {
        "ED25519" => Algorithm::Ed25519,
        "ECDSA_SECP256K1" => Algorithm::EcdsaSecp256k1,
        other => {
            return Err(format!(
                "an old key of type {other:?} cannot key an account"
            ));
        }
    };
    let bytes = hex::decode(&record.old_key).map_err(|_| "the old key is not hex".to_owned())?;
    PublicKey::from_bytes(algorithm, &bytes).map_err(|e| format!("the old key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_who_paused_when_and_why() {
        let b = Breaker {
            tripped: true,
            by: Some("carol".into()),
            at: DateTime::<Utc>::from_timestamp(1_700_000_000, 0),
            reason: Some("keys leaked".into()),
            ledger_status: None,
            ledger_transaction: None,
            ledger_paused: None,
            resume: None,
        };
        let message = paused_message(&b);
        for needle in ["carol", "2023-11-14T22:13:20", "\"keys leaked\"", "quorum"] {
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }
}
