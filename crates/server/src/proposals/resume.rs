//! Resuming after an emergency pause (invariant 3): a quorum of officers, then one responder.
//!
//! Hedera cannot schedule a TokenUnpause, and the token's pause key (any one responder's key)
//! both pauses and unpauses, so the ledger cannot hold a resume to a quorum: the server does.
//!
//! 1. An officer proposes the resume ([`Engine::propose_resume`]) while the breaker is tripped.
//!    The proposal's body is the TokenUnpause it authorises; nothing is scheduled.
//! 2. The officers of the policy's `resume` rule approve it, each on their own device, by signing
//!    that TokenUnpause in a body paid by [`UNEXECUTABLE_PAYER`] (an account that does not
//!    exist): a statement no ledger executes. The server checks, spends and counts them like
//!    any approval (as endorsements: none is relayed).
//! 3. Once the threshold is met, a responder asks for the TokenUnpause body paid by the operator
//!    ([`Engine::resume_request`]), signs it on their device, and sends it ([`Engine::resume`]).
//!    The server sends it to the ledger, records the proposal executed, and closes the breaker
//!    once the mirror shows the token unpaused ([`Engine::close_when_unpaused`]), here or at the
//!    next reconciliation.
//!
//! A responder can still unpause the token on the ledger alone, around the server: the
//! reconciler raises an `unexplained-unpause` alarm for every TokenUnpause on the mirror that no
//! executed resume carried out, and the breaker stays tripped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::ErrorCode;
use gatehouse_protocol::pause::{Breaker, NewUnpause, PauseRequest, SignedPause};
use gatehouse_protocol::proposal::{
    NewResume, Outcome, Payload, Proposal, ProposalKind, ProposalStatus, UNEXECUTABLE_PAYER,
};
use hiero_sdk_proto::services as pb;
use prost::Message as _;
use sha2::{Digest as _, Sha256};

use super::engine::{By, Engine, parse_token};
use super::{Refusal, check_reason, store};
use crate::audit::Action;
use crate::http::Error;
use crate::ledger::hapi;
use crate::store::{Error as StoreError, on_tx};

fn conflict(message: impl Into<String>) -> Error {
    Error::Api(ErrorCode::Conflict, message.into())
}

fn internal(message: &str) -> Error {
    Error::Api(ErrorCode::Internal, message.to_owned())
}

/// How long [`Engine::resume`] waits for the mirror to show the unpause before it leaves closing
/// the breaker to reconciliation.
const MIRROR_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Engine {
    /// The open resume proposal, if any.
    async fn open_resume(&self) -> Result<Option<Proposal>, Error> {
        Ok(store::list(self.db(), Some(ProposalStatus::Open), 1000)
            .await?
            .into_iter()
            .find(|p| p.kind == ProposalKind::Resume))
    }

    /// Proposes resuming: the breaker must be tripped, and one resume is open at a time. The
    /// policy's `resume` rule says who approves and how many.
    pub async fn propose_resume(&self, by: &By, new: &NewResume) -> Result<Proposal, Error> {
        let object = "proposal:resume".to_owned();
        if let Err(message) = check_reason(&new.reason) {
            return Err(self.invalid(by, object, message).await);
        }
        let breaker = super::pause::breaker(self.db()).await?;
        if !breaker.tripped {
            let e = conflict("the breaker is not tripped: there is nothing to resume");
            return Err(self
                .failed(by, Action::ProposalCreate, object, "not-paused", e)
                .await);
        }
        if let Some(open) = self.open_resume().await? {
            let e = conflict(format!(
                "resume {} is open already; approve, reject or cancel it first",
                open.id
            ));
            return Err(self
                .failed(by, Action::ProposalCreate, object, "resume-open", e)
                .await);
        }
        let current = self.policy().await?;
        let rule = current
            .policy
            .rule("resume")
            .ok_or_else(|| internal("the policy in force has no rule for resuming"))?
            .clone();
        self.reachable(by, &object, rule.threshold, &rule.eligible)
            .await?;
        let token_id = parse_token(&current.token)
            .ok_or_else(|| internal("the stored token id is malformed"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let body = pb::SchedulableTransactionBody {
            memo: format!("gatehouse proposal {id}"),
            data: Some(pb::schedulable_transaction_body::Data::TokenUnpause(
                pb::TokenUnpauseTransactionBody {
                    token: Some(token_id),
                },
            )),
            ..Default::default()
        }
        .encode_to_vec();
        let now = Utc::now();
        let proposal = Proposal {
            id: id.clone(),
            kind: ProposalKind::Resume,
            status: ProposalStatus::Open,
            proposer: by.name.clone(),
            created_at: now,
            deadline: self.deadline(now),
            threshold: rule.threshold,
            eligible: rule.eligible,
            payload: Payload::Resume {
                token: current.token,
                reason: new.reason.trim().to_owned(),
                paused_by: breaker.by,
                paused_at: breaker.at,
                ledger_only: new.ledger_only,
            },
            schedule_id: format!("none:{id}"),
            scheduled_transaction_id: String::new(),
            scheduled_body: B64.encode(&body),
            approvals: Vec::new(),
            rejections: Vec::new(),
            key_signatures: Vec::new(),
            outcome: None,
        };
        self.record(by, &proposal, &body, serde_json::json!({}))
            .await?;
        Ok(proposal)
    }

    /// The body an officer signs to approve resume `id`: the TokenUnpause of `token`, paid by
    /// [`UNEXECUTABLE_PAYER`], so that no ledger ever executes it.
    pub(super) fn resume_statement(
        &self,
        token: &str,
        id: &str,
    ) -> Result<pb::TransactionBody, Error> {
        let token =
            parse_token(token).ok_or_else(|| internal("the stored token id is malformed"))?;
        let mut body = self.hapi().body(
            pb::transaction_body::Data::TokenUnpause(pb::TokenUnpauseTransactionBody {
                token: Some(token),
            }),
            &format!("gatehouse resume approval {id}"),
        );
        if let Some(tx) = body.transaction_id.as_mut() {
            tx.account_id = hapi::parse_account(UNEXECUTABLE_PAYER);
        }
        Ok(body)
    }

    /// Proposal `id` as an approved, open resume, or why it cannot be carried out.
    async fn approved_resume(&self, id: &str) -> Result<Result<Proposal, String>, Error> {
        let proposal = match store::get(self.db(), id).await? {
            Some(p) => p,
            None => return Ok(Err(format!("no proposal {id}"))),
        };
        if proposal.kind != ProposalKind::Resume {
            return Ok(Err(format!(
                "proposal {id} is a {}, not a resume",
                proposal.kind.as_str()
            )));
        }
        if proposal.status != ProposalStatus::Open {
            return Ok(Err(format!(
                "resume {id} is {}, not open",
                proposal.status.as_str()
            )));
        }
        if Utc::now() >= proposal.deadline {
            return Ok(Err(format!(
                "resume {id}'s deadline passed at {}",
                proposal.deadline
            )));
        }
        let approvals = u32::try_from(proposal.approvals.len()).unwrap_or(u32::MAX);
        if approvals < proposal.threshold {
            return Ok(Err(format!(
                "resume {id} has {approvals} of the {} approvals it needs: the officers must approve it first",
                proposal.threshold
            )));
        }
        Ok(Ok(proposal))
    }

    /// Hands `by` (a responder with a ledger key) the TokenUnpause body of an approved resume.
    pub async fn resume_request(&self, by: &By, new: &NewUnpause) -> Result<PauseRequest, Error> {
        let action = Action::BreakerResumeRequest;
        let key = self.responder_key(by, action.clone()).await?;
        let object = format!("proposal:{}", new.proposal);
        let proposal = match self.approved_resume(&new.proposal).await? {
            Ok(p) => p,
            Err(message) => {
                return Err(self
                    .failed(by, action, object, "not-approved", conflict(message))
                    .await);
            }
        };
        let Payload::Resume { token, reason, .. } = &proposal.payload else {
            return Err(internal("a resume proposal without a resume payload"));
        };
        let token_id =
            parse_token(token).ok_or_else(|| internal("the stored token id is malformed"))?;
        let data = pb::transaction_body::Data::TokenUnpause(pb::TokenUnpauseTransactionBody {
            token: Some(token_id),
        });
        let memo = format!("gatehouse resume {}", proposal.id);
        self.hand_out(by, action, &key, data, &memo, reason, Some(&proposal.id))
            .await
    }

    /// Checks the responder's signed TokenUnpause, sends it to the ledger, records the resume
    /// executed, and closes the breaker once the mirror shows the token unpaused.
    pub async fn resume(&self, by: &By, signed: &SignedPause) -> Result<Breaker, Error> {
        let action = Action::BreakerLedgerUnpause;
        let key = self.responder_key(by, action.clone()).await?;
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        let taken = Self::take_signed(&mut tx, by, &key, signed).await?;
        tx.commit().await.map_err(StoreError::from)?;
        let (request, body, raw) = match taken {
            Ok(taken) if taken.0.proposal.is_some() => taken,
            Ok(_) => {
                let refusal = Refusal::UnknownRequest(signed.request.clone());
                return Err(self.deny(by, action, "breaker".to_owned(), refusal).await);
            }
            Err(refusal) => return Err(self.deny(by, action, "breaker".to_owned(), refusal).await),
        };
        let id = request.proposal.unwrap_or_default();
        let object = format!("proposal:{id}");
        // Still approved and open: it may have been cancelled since the body was handed out.
        if let Err(message) = self.approved_resume(&id).await? {
            return Err(self
                .failed(by, action, object, "not-approved", conflict(message))
                .await);
        }
        let (status, transaction_id) = self.send_signed(&key, body, raw.clone()).await?;
        let details = serde_json::json!({
            "status": status,
            "transaction_id": transaction_id,
            "signature_sha256": hex::encode(Sha256::digest(&raw)),
            "public_key": key.view().public_key,
            "device": signed.device,
        });
        if status != "SUCCESS" {
            let e = conflict(format!(
                "the ledger did not unpause the token: {status}; the breaker stays tripped and the resume stays approved: try again"
            ));
            let tx = self.db().begin().await.map_err(StoreError::from)?;
            let entry = Self::entry(
                by,
                action,
                object,
                OutcomeKind::Failed,
                Some("ledger"),
                details,
            );
            self.commit(tx, entry, None).await?;
            return Err(e);
        }
        let outcome = Outcome {
            status: status.clone(),
            at: Utc::now(),
            serials: Vec::new(),
            token: None,
            transaction_id: Some(transaction_id.clone()),
        };
        let ledger_only = matches!(
            self.get(&id).await?.payload,
            Payload::Resume {
                ledger_only: true,
                ..
            }
        );
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        store::finish(&mut tx, &id, ProposalStatus::Executed, Some(&outcome)).await?;
        // A ledger-only resume leaves the breaker tripped: no resume is recorded for it to close on.
        const UNPAUSED: &str = "UPDATE breaker SET ledger_status = 'UNPAUSED', ledger_transaction = $1, \
                                resume_proposal = $2 WHERE id = 1";
        const LEDGER_ONLY: &str = "UPDATE breaker SET ledger_status = 'UNPAUSED', ledger_transaction = $1, \
                                   resume_proposal = NULL WHERE id = 1";
        on_tx!(&mut tx, conn => {
            if ledger_only {
                sqlx::query(LEDGER_ONLY).bind(&transaction_id).execute(&mut *conn).await.map_err(StoreError::from)?.rows_affected()
            } else {
                sqlx::query(UNPAUSED).bind(&transaction_id).bind(&id).execute(&mut *conn).await.map_err(StoreError::from)?.rows_affected()
            }
        });
        let mut details = details;
        details["ledger_only"] = serde_json::Value::Bool(ledger_only);
        let entry = Self::entry(by, action, object, OutcomeKind::Success, None, details);
        self.commit_breaker(tx, entry, Some((&id, "executed")))
            .await?;
        if ledger_only {
            return self.breaker().await;
        }
        let deadline = tokio::time::Instant::now() + MIRROR_WAIT;
        while !self.close_when_unpaused().await? && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        self.breaker().await
    }

    /// Closes the breaker when a resume's TokenUnpause went through and the mirror shows the
    /// token unpaused. Returns whether the breaker is closed.
    pub async fn close_when_unpaused(&self) -> Result<bool, Error> {
        let breaker = super::pause::breaker(self.db()).await?;
        if !breaker.tripped {
            return Ok(true);
        }
        let Some(resume) = breaker.resume.clone() else {
            return Ok(false);
        };
        let Some((token, _, _)) = store::token(self.db()).await? else {
            return Ok(false);
        };
        match self.mirror_paused(&token).await {
            Ok(false) => {}
            Ok(true) => return Ok(false),
            Err(reason) => {
                tracing::warn!(%reason, "the mirror cannot say whether the token is unpaused; the breaker stays tripped");
                return Ok(false);
            }
        }
        let mut tx = self.db().begin().await.map_err(StoreError::from)?;
        const CLOSE: &str = "UPDATE breaker SET tripped = FALSE WHERE id = 1 AND tripped = TRUE AND resume_proposal = $1";
        let closed = on_tx!(&mut tx, conn => {
            sqlx::query(CLOSE).bind(&resume).execute(&mut *conn).await.map_err(StoreError::from)?.rows_affected()
        }) == 1;
        if !closed {
            return Ok(false);
        }
        let server = By::server(format!("close-{resume}"));
        let details = serde_json::json!({
            "resume": resume,
            "paused_by": breaker.by,
            "paused_at": breaker.at,
            "ledger_transaction": breaker.ledger_transaction,
        });
        crate::webhooks::enqueue(&mut tx, self.webhooks(), "breaker.closed", &details).await?;
        let entry = Self::entry(
            &server,
            Action::BreakerClose,
            "breaker".to_owned(),
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit_breaker(tx, entry, None).await?;
        Ok(true)
    }
}
