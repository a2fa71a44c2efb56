//! Approving a proposal, for the CLI and the console alike (invariant 2).
//!
//! [`review`] fetches the proposal and an approval request, decodes both the scheduled body and
//! the ScheduleSign body locally, checks that they agree with each other and with what the server
//! claims, and checks the scheduled body against the ledger's own copy (read from a mirror node
//! whose address the officer gives, not the server). Only a [`Review`] that passed all of that can
//! be signed ([`Review::sign`]) and sent ([`submit`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gatehouse_protocol::hedera::{
    self, Action, BodyView, KeyView, MetadataView, ScheduledAction, ScheduledView,
};
use gatehouse_protocol::hip412;
use gatehouse_protocol::policy::{self, CurrentPolicy, PolicyDocument};
use gatehouse_protocol::proposal::{
    ApprovalRequest, KeyRole, LedgerKey, Payload, Proposal, ProposalStatus, SignedApproval,
    UNEXECUTABLE_PAYER,
};
use std::collections::HashMap;

use crate::connection::{Connection, Error as ConnectionError};

/// Why a proposal cannot be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The server could not be asked.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// Bytes that cannot be shown are never signed.
    #[error("{0}")]
    Decode(#[from] hedera::DecodeError),
    /// What the server says, what the bytes say and what the ledger holds do not agree.
    #[error("do not sign: {0}")]
    Mismatch(String),
    /// What was asked of the proposal does not fit where it stands (a certificate from an
    /// onboarding that has not executed); nothing is wrong with it.
    #[error("{0}")]
    NotReady(String),
    /// The ledger's copy could not be read.
    #[error("the ledger's copy of the schedule cannot be read from {mirror}: {reason}")]
    Ledger {
        /// The mirror node asked.
        mirror: String,
        /// Why.
        reason: String,
    },
}

/// A proposal checked and ready to sign.
#[derive(Debug, Clone)]
pub struct Review {
    /// The proposal as the server holds it.
    pub proposal: Proposal,
    /// Its scheduled body, decoded here.
    pub scheduled: ScheduledView,
    /// The approval request.
    pub request: ApprovalRequest,
    /// The bytes to sign, decoded here.
    pub body: BodyView,
    /// The bytes to sign.
    pub body_bytes: Vec<u8>,
    /// The mirror node the scheduled body was checked against.
    pub mirror: String,
    /// Whether this signs with the holder's new key in an admin or treasury rotation (Hedera asks
    /// the new key to sign those changes itself) rather than approving.
    pub new_key: bool,
}

fn mismatch(what: impl Into<String>) -> ReviewError {
    ReviewError::Mismatch(what.into())
}

/// Checks that a TokenUpdate changes `fields` and nothing else (`what` names the proposal kind).
fn only_changes(action: &ScheduledAction, fields: &[&str], what: &str) -> Result<(), ReviewError> {
    let ScheduledAction::TokenUpdate {
        name,
        symbol,
        treasury,
        admin_key,
        supply_key,
        pause_key,
        other_keys,
        memo,
        metadata,
        expiry,
        auto_renew_account,
        auto_renew_period_secs,
        ..
    } = action
    else {
        return Err(mismatch(format!("{what} must be a TokenUpdate")));
    };
    let mut also = Vec::new();
    for (changed, set) in [
        ("name", name.is_some()),
        ("symbol", symbol.is_some()),
        ("treasury", treasury.is_some()),
        ("admin key", admin_key.is_some()),
        ("supply key", supply_key.is_some()),
        ("pause key", pause_key.is_some()),
        ("memo", memo.is_some()),
        ("token metadata", metadata.is_some()),
        ("expiry", expiry.is_some()),
        ("auto-renew account", auto_renew_account.is_some()),
        ("auto-renew period", auto_renew_period_secs.is_some()),
    ] {
        if set && !fields.contains(&changed) {
            also.push(changed.to_owned());
        }
    }
    also.extend(other_keys.iter().map(|k| format!("{k} key")));
    if also.is_empty() {
        Ok(())
    } else {
        Err(mismatch(format!(
            "{what} would also change the token's {}",
            also.join(", ")
        )))
    }
}

/// `threshold` of `keys` (hex as the server lists them: Ed25519 keys are 32 bytes, secp256k1 keys
/// 33, compressed), in order, as the decoded bytes show such a key.
fn threshold_view<'a>(threshold: u32, keys: impl Iterator<Item = &'a str>) -> KeyView {
    KeyView::Threshold {
        threshold,
        keys: keys
            .map(|hex| {
                let key = hex.to_owned();
                if hex.len() == 66 {
                    KeyView::EcdsaSecp256k1 { key }
                } else {
                    KeyView::Ed25519 { key }
                }
            })
            .collect(),
    }
}

/// Checks that a membership change's keys after are its keys before without `officer`
/// (`joining` is `None`: an offboarding) or with `joining` last (an onboarding): same roles, same
/// thresholds, the others in the same order; and that the policy it puts in force names them
/// nowhere (offboarding) or, when it changes, names them (onboarding).
fn check_membership(
    officer: &str,
    joining: Option<&gatehouse_protocol::proposal::KeyMember>,
    before: &[gatehouse_protocol::proposal::RoleKey],
    after: &[gatehouse_protocol::proposal::RoleKey],
    document: Option<&str>,
) -> Result<(), ReviewError> {
    if before.len() != after.len() {
        return Err(mismatch("the keys after do not match the keys before"));
    }
    if joining.is_some_and(|j| j.officer != officer) {
        return Err(mismatch(format!("the key that joins is not {officer}'s")));
    }
    for (was, next) in before.iter().zip(after) {
        let mut expected: Vec<_> = was
            .members
            .iter()
            .filter(|m| m.officer != officer)
            .collect();
        if joining.is_some() && expected.len() != was.members.len() {
            return Err(mismatch(format!(
                "{officer} holds the {} key already",
                was.role.as_str()
            )));
        }
        expected.extend(joining);
        let listed: Vec<_> = next.members.iter().collect();
        if was.role != next.role || was.threshold != next.threshold || expected != listed {
            return Err(mismatch(format!(
                "the {} key after ({}) is not the key before ({}) {} {officer}",
                next.role.as_str(),
                next.holders_text(),
                was.holders_text(),
                if joining.is_some() { "with" } else { "without" }
            )));
        }
    }
    if let Some(document) = document {
        let parsed = PolicyDocument::parse(document)
            .map_err(|e| mismatch(format!("the proposed policy is unreadable: {e}")))?;
        let named = parsed
            .rules
            .values()
            .any(|r| r.eligible.iter().any(|e| e == officer));
        if named != joining.is_some() {
            return Err(mismatch(if named {
                format!("the proposed policy still names {officer}")
            } else {
                format!("the proposed policy changes, yet names {officer} in no rule")
            }));
        }
    }
    Ok(())
}

/// Checks that a certificate an onboarding gives `officer` is what the server says: a
/// certificate for them whose SHA-256 is the fingerprint listed.
fn check_certificate(
    officer: &str,
    certificate: &gatehouse_protocol::proposal::IssuedCertificate,
) -> Result<(), ReviewError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    use sha2::Digest as _;
    let der = CertificateDer::from_pem_slice(certificate.pem.as_bytes())
        .map_err(|e| mismatch(format!("the new certificate cannot be read: {e}")))?;
    let fingerprint =
        gatehouse_protocol::Fingerprint::from_digest(sha2::Sha256::digest(der.as_ref()).into())
            .to_hex();
    if fingerprint != certificate.fingerprint {
        return Err(mismatch(format!(
            "the new certificate's SHA-256 is {fingerprint}, not {} as the server lists it",
            certificate.fingerprint
        )));
    }
    let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| mismatch(format!("the new certificate cannot be read: {e}")))?;
    let named: Vec<&str> = parsed
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .collect();
    if named != [officer] {
        return Err(mismatch(format!(
            "the new certificate names {}, not {officer}",
            named.join(", ")
        )));
    }
    Ok(())
}

/// Checks that the decoded scheduled body does what the server says the proposal does.
pub fn check_payload(payload: &Payload, scheduled: &ScheduledView) -> Result<(), ReviewError> {
    match (payload, &scheduled.action) {
        (Payload::Unknown, _) => Err(mismatch(
            "this is a kind of proposal this version of Gatehouse does not know, so it cannot show what you would sign: update Gatehouse, then review it",
        )),
        (
            Payload::Mint {
                token, metadata, ..
            },
            ScheduledAction::TokenMint {
                token: t,
                metadata: m,
                amount,
            },
        ) => {
            if token != t {
                return Err(mismatch(format!(
                    "the server says token {token}, the bytes mint token {t}"
                )));
            }
            if *amount != 0 {
                return Err(mismatch("the bytes mint a fungible amount"));
            }
            let shown: Vec<Option<&str>> = m.iter().map(|v| v.text.as_deref()).collect();
            let claimed: Vec<Option<&str>> = metadata.iter().map(|s| Some(s.as_str())).collect();
            if shown != claimed {
                return Err(mismatch(
                    "the metadata in the bytes differs from what the server lists",
                ));
            }
            Ok(())
        }
        (
            Payload::TokenCreate {
                name,
                symbol,
                treasury,
                max_supply,
                ..
            },
            ScheduledAction::TokenCreate {
                name: n,
                symbol: s,
                treasury: t,
                max_supply: m,
                other_keys,
                ..
            },
        ) => {
            let max = i64::try_from(*max_supply).unwrap_or(i64::MAX);
            if (name, symbol, treasury, max) != (n, s, t, *m) {
                return Err(mismatch(
                    "the token in the bytes differs from what the server describes",
                ));
            }
            if !other_keys.is_empty() {
                return Err(mismatch(format!(
                    "the token would have keys nobody asked for: {}",
                    other_keys.join(", ")
                )));
            }
            Ok(())
        }
        (
            Payload::Policy {
                token, document, ..
            },
            ScheduledAction::TokenUpdate { token: t, memo, .. },
        ) => {
            if token != t {
                return Err(mismatch(format!(
                    "the server says token {token}, the bytes update token {t}"
                )));
            }
            PolicyDocument::parse(document)
                .map_err(|e| mismatch(format!("the proposed policy is unreadable: {e}")))?;
            let expected = policy::commitment(document);
            if memo.as_deref() != Some(expected.as_str()) {
                return Err(mismatch(format!(
                    "the token memo in the bytes ({}) does not commit to the policy the server shows ({expected})",
                    memo.as_deref().unwrap_or("unchanged")
                )));
            }
            only_changes(&scheduled.action, &["memo"], "a policy change")
        }
        (
            Payload::Rotation {
                token,
                role,
                threshold,
                holders,
                treasury: moved,
                ..
            },
            ScheduledAction::TokenUpdate {
                token: t,
                supply_key,
                pause_key,
                admin_key,
                treasury,
                ..
            },
        ) => {
            if token != t {
                return Err(mismatch(format!(
                    "the server says token {token}, the bytes update token {t}"
                )));
            }
            let (set, what) = match role {
                KeyRole::Supply => (supply_key, "supply key"),
                KeyRole::Pause => (pause_key, "pause key"),
                KeyRole::Admin => (admin_key, "admin key"),
                _ => {
                    // The bytes name the new account; its key was set when the server created
                    // it, so it is the server's word (the mirror shows it: `gatehouse rotate show`).
                    let to = moved.as_ref().map(|m| m.to.as_str());
                    if treasury.as_deref() != to || to.is_none() {
                        return Err(mismatch(format!(
                            "the treasury in the bytes ({}) is not the new account the server names ({})",
                            treasury.as_deref().unwrap_or("unchanged"),
                            to.unwrap_or("none")
                        )));
                    }
                    return only_changes(&scheduled.action, &["treasury"], "a treasury rotation");
                }
            };
            let claimed = threshold_view(*threshold, holders.iter().map(|h| h.public_key.as_str()));
            if set.as_ref() != Some(&claimed) {
                return Err(mismatch(format!(
                    "the {what} in the bytes ({}) is not {threshold} of the holders' keys the server lists",
                    key_text(set.as_ref())
                )));
            }
            only_changes(&scheduled.action, &[what], "a key rotation")
        }
        (
            Payload::Offboarding {
                token,
                officer,
                before,
                after,
                document,
                ..
            }
            | Payload::Onboarding {
                token,
                officer,
                before,
                after,
                document,
                ..
            },
            ScheduledAction::TokenUpdate {
                token: t,
                admin_key,
                supply_key,
                pause_key,
                memo,
                ..
            },
        ) => {
            if token != t {
                return Err(mismatch(format!(
                    "the server says token {token}, the bytes update token {t}"
                )));
            }
            let joining = match payload {
                Payload::Onboarding {
                    key, certificate, ..
                } => {
                    if let Some(certificate) = certificate {
                        check_certificate(officer, certificate)?;
                    }
                    Some(gatehouse_protocol::proposal::KeyMember {
                        officer: officer.clone(),
                        public_key: key.public_key.clone(),
                    })
                }
                _ => None,
            };
            check_membership(
                officer,
                joining.as_ref(),
                before,
                after,
                document.as_deref(),
            )?;
            let what = if joining.is_some() {
                "an onboarding"
            } else {
                "an offboarding"
            };
            let mut changed = Vec::new();
            for key in after {
                let (set, what) = match key.role {
                    KeyRole::Admin => (admin_key, "admin key"),
                    KeyRole::Supply => (supply_key, "supply key"),
                    KeyRole::Pause => (pause_key, "pause key"),
                    other => {
                        return Err(mismatch(format!(
                            "{what} cannot change the {} key in a TokenUpdate",
                            other.as_str()
                        )));
                    }
                };
                let members = key.members.iter().map(|m| m.public_key.as_str());
                if set.as_ref() != Some(&threshold_view(key.threshold, members)) {
                    return Err(mismatch(format!(
                        "the {what} in the bytes ({}) is not {} as the server lists it",
                        key_text(set.as_ref()),
                        key.holders_text()
                    )));
                }
                changed.push(what);
            }
            match document {
                Some(document) => {
                    let expected = policy::commitment(document);
                    if memo.as_deref() != Some(expected.as_str()) {
                        return Err(mismatch(
                            "the token memo in the bytes does not commit to the policy the server shows",
                        ));
                    }
                    changed.push("memo");
                }
                None if memo.is_some() => {
                    return Err(mismatch(
                        "the bytes change the token memo, which the server does not list",
                    ));
                }
                None => {}
            }
            only_changes(&scheduled.action, &changed, what)
        }
        (Payload::Resume { token, .. }, ScheduledAction::TokenUnpause { token: t }) => {
            if token != t {
                return Err(mismatch(format!(
                    "the server says token {token}, the bytes unpause token {t}"
                )));
            }
            Ok(())
        }
        (_, ScheduledAction::Unsupported { name }) => Err(mismatch(format!(
            "the schedule holds a {name}, which Gatehouse does not approve"
        ))),
        _ => Err(mismatch(
            "the schedule's transaction is not the kind the server says",
        )),
    }
}

/// The TLS certificate an onboarding gives its officer (PEM), checked as approvers checked it
/// (issued for them, the fingerprint listed). The officer writes it while the onboarding is open,
/// over their current connection: once it executes, that connection's certificate is revoked and
/// this one is the only way in. Says why not when the proposal is no onboarding, carries no
/// certificate, or settled without executing (the registry never took it).
pub fn onboarding_certificate(proposal: &Proposal) -> Result<String, ReviewError> {
    let Payload::Onboarding {
        officer,
        certificate,
        ..
    } = &proposal.payload
    else {
        return Err(ReviewError::NotReady(format!(
            "proposal {} is a {}, not an onboarding",
            proposal.id,
            proposal.kind.as_str()
        )));
    };
    let Some(certificate) = certificate else {
        return Err(ReviewError::NotReady(format!(
            "onboarding {} was proposed without a certificate request, so it gives no certificate",
            proposal.id
        )));
    };
    if !matches!(
        proposal.status,
        ProposalStatus::Open | ProposalStatus::Executed
    ) {
        return Err(ReviewError::NotReady(format!(
            "onboarding {} is {}: the registry never took its certificate; propose again with a new request",
            proposal.id,
            proposal.status.as_str()
        )));
    }
    check_certificate(officer, certificate)?;
    Ok(certificate.pem.clone())
}

/// The proposal's scheduled body as the server gives it: its bytes, and decoded here.
pub fn scheduled(proposal: &Proposal) -> Result<(Vec<u8>, ScheduledView), ReviewError> {
    let bytes = B64
        .decode(&proposal.scheduled_body)
        .map_err(|_| mismatch("the server's scheduled body is not base64"))?;
    let view = hedera::decode_scheduled(&bytes)?;
    Ok((bytes, view))
}

/// `path` on mirror node `mirror`, as JSON.
async fn mirror_json(mirror: &str, path: &str) -> Result<serde_json::Value, ReviewError> {
    let fail = |reason: String| ReviewError::Ledger {
        mirror: mirror.to_owned(),
        reason,
    };
    let url = format!("{}{path}", mirror.trim_end_matches('/'));
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(fail(
            "the mirror address must start with https:// (or http:// for a local simulator)"
                .to_owned(),
        ));
    }
    // A mirror node is a public web service: the platform's roots verify it (reqwest's
    // platform verifier), with this process's rustls provider; installing it twice is a no-op.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    response.json().await.map_err(|e| fail(e.to_string()))
}

/// The schedule's body as the ledger holds it, from mirror node `mirror`.
async fn ledger_copy(mirror: &str, schedule: &str) -> Result<Vec<u8>, ReviewError> {
    let json = mirror_json(mirror, &format!("/api/v1/schedules/{schedule}")).await?;
    let fail = |reason: String| ReviewError::Ledger {
        mirror: mirror.to_owned(),
        reason,
    };
    let body = json["transaction_body"]
        .as_str()
        .ok_or_else(|| fail("no transaction_body in the answer".to_owned()))?;
    B64.decode(body)
        .map_err(|e| fail(format!("transaction_body: {e}")))
}

/// Fetches proposal `id` and an approval request for it, and checks everything before anything is
/// signed: both bodies decode canonically, the scheduled body does what the server says, it is
/// byte for byte the ledger's copy (read from `mirror`), and the body to sign is a ScheduleSign of
/// exactly that schedule, still inside its validity window.
pub async fn review(conn: &Connection, id: &str, mirror: &str) -> Result<Review, ReviewError> {
    review_as(conn, id, mirror, false).await
}

/// [`review`], for signing with the caller's new key in an admin or treasury rotation when
/// `new_key` (the same checks; the server hands out the body for the new key and names it).
pub async fn review_as(
    conn: &Connection,
    id: &str,
    mirror: &str,
    new_key: bool,
) -> Result<Review, ReviewError> {
    let proposal: Proposal = conn.get(&format!("/v1/proposals/{id}")).await?;
    let (scheduled_bytes, scheduled) = scheduled(&proposal)?;
    check_payload(&proposal.payload, &scheduled)?;
    if let Payload::Resume { token, .. } = &proposal.payload {
        // Nothing is scheduled: the approval is a statement over the TokenUnpause it authorises.
        let request = approval_request(conn, id, false).await?;
        let (body, body_bytes) = decode_request(&request)?;
        check_resume_statement(&body, token, id)?;
        return Ok(Review {
            proposal,
            scheduled,
            request,
            body,
            body_bytes,
            mirror: mirror.to_owned(),
            new_key: false,
        });
    }
    let ledger = ledger_copy(mirror, &proposal.schedule_id).await?;
    if ledger != scheduled_bytes {
        return Err(mismatch(format!(
            "the ledger's schedule {} holds other bytes ({}) than the server shows ({}): the server may have changed the proposal",
            proposal.schedule_id,
            hedera::fingerprint(&ledger),
            scheduled.fingerprint
        )));
    }
    let request = approval_request(conn, id, new_key).await?;
    let (body, body_bytes) = decode_request(&request)?;
    match &body.action {
        Action::ScheduleSign { schedule } if *schedule == proposal.schedule_id => {}
        Action::ScheduleSign { schedule } => {
            return Err(mismatch(format!(
                "the body signs schedule {schedule}, not this proposal's {}",
                proposal.schedule_id
            )));
        }
        Action::Other { name } => {
            return Err(mismatch(format!(
                "the body is a {name}, not a ScheduleSign: an approval signs nothing else"
            )));
        }
        _ => return Err(mismatch("the body is not a ScheduleSign")),
    }
    check_window(&body)?;
    Ok(Review {
        proposal,
        scheduled,
        request,
        body,
        body_bytes,
        mirror: mirror.to_owned(),
        new_key,
    })
}

async fn approval_request(
    conn: &Connection,
    id: &str,
    new_key: bool,
) -> Result<ApprovalRequest, ReviewError> {
    let what = if new_key {
        "key-signature-request"
    } else {
        "approval-request"
    };
    Ok(conn
        .post(
            &format!("/v1/proposals/{id}/{what}"),
            &serde_json::json!({}),
        )
        .await?)
}

fn decode_request(request: &ApprovalRequest) -> Result<(BodyView, Vec<u8>), ReviewError> {
    let bytes = B64
        .decode(&request.body)
        .map_err(|_| mismatch("the approval body is not base64"))?;
    Ok((hedera::decode_body(&bytes)?, bytes))
}

fn check_window(body: &BodyView) -> Result<(), ReviewError> {
    let ends = body.valid_start + chrono::Duration::seconds(body.valid_duration_secs);
    if ends <= chrono::Utc::now() {
        return Err(mismatch("the body's validity window has passed"));
    }
    Ok(())
}

/// Checks the body an officer signs to approve resume `id`: the TokenUnpause of `token`, paid by
/// an account that does not exist, so that it is a statement no ledger can execute (a responder
/// who is also an officer must not hand the server a ready unpause).
pub fn check_resume_statement(body: &BodyView, token: &str, id: &str) -> Result<(), ReviewError> {
    match &body.action {
        Action::TokenUnpause { token: t } if t == token => {}
        Action::TokenUnpause { token: t } => {
            return Err(mismatch(format!(
                "the approval unpauses token {t}, not the paused token {token}"
            )));
        }
        _ => return Err(mismatch("a resume's approval body is not a TokenUnpause")),
    }
    if body.payer != UNEXECUTABLE_PAYER {
        return Err(mismatch(format!(
            "the approval is paid by {}: the ledger could execute it, and an approval must never unpause by itself (expected payer {UNEXECUTABLE_PAYER})",
            body.payer
        )));
    }
    let memo = format!("gatehouse resume approval {id}");
    if body.memo != memo {
        return Err(mismatch(format!(
            "the approval's memo is {:?}, not {memo:?}",
            body.memo
        )));
    }
    check_window(body)
}

/// Sends the device's `signature` over `review.body_bytes`.
pub async fn submit(
    conn: &Connection,
    review: &Review,
    signature: &[u8],
    device: Option<String>,
) -> Result<Proposal, ConnectionError> {
    let what = if review.new_key {
        "key-signatures"
    } else {
        "approvals"
    };
    conn.post(
        &format!("/v1/proposals/{}/{what}", review.proposal.id),
        &SignedApproval {
            request: review.request.request.clone(),
            signature: B64.encode(signature),
            device,
        },
    )
    .await
}

/// One line of a decoded transaction, as a person reads it: the CLI prints these, the console
/// lists them, so both show the same fields in the same words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// What it is.
    pub label: String,
    /// Its value, decoded here.
    pub value: String,
}

fn field(label: &str, value: impl Into<String>) -> Field {
    Field {
        label: label.to_owned(),
        value: value.into(),
    }
}

fn hbar(tinybars: u64) -> String {
    crate::ledger::hbar(i64::try_from(tinybars).unwrap_or(i64::MAX))
}

/// A Hedera key in words: `ed25519:…`, `2 of [...]`.
pub fn key_text(key: Option<&KeyView>) -> String {
    fn one(k: &KeyView) -> String {
        match k {
            KeyView::Ed25519 { key } => format!("ed25519:{key}"),
            KeyView::EcdsaSecp256k1 { key } => format!("secp256k1:{key}"),
            KeyView::Threshold { threshold, keys } => format!(
                "{threshold} of [{}]",
                keys.iter().map(one).collect::<Vec<_>>().join(", ")
            ),
            KeyView::List { keys } => format!(
                "all of [{}]",
                keys.iter().map(one).collect::<Vec<_>>().join(", ")
            ),
            KeyView::Other { name } => name.clone(),
        }
    }
    key.map_or_else(|| "none".to_owned(), one)
}

/// Every field of a scheduled transaction (what the ledger will execute), decoded here.
pub fn scheduled_fields(view: &ScheduledView) -> Vec<Field> {
    let mut fields = Vec::new();
    match &view.action {
        ScheduledAction::TokenMint {
            token,
            metadata,
            amount,
        } => {
            fields.push(field(
                "action",
                format!("MINT {} NFT(s) of token {token}", metadata.len()),
            ));
            if *amount != 0 {
                fields.push(field("amount", format!("{amount} (a fungible amount!)")));
            }
            for (i, m) in metadata.iter().enumerate() {
                let value = match &m.text {
                    Some(text) => format!("{text} ({} bytes)", m.bytes),
                    None => format!("(binary) {}", m.hex),
                };
                fields.push(field(&format!("metadata[{i}]"), value));
            }
        }
        ScheduledAction::TokenCreate {
            name,
            symbol,
            treasury,
            token_type,
            supply_type,
            max_supply,
            admin_key,
            supply_key,
            pause_key,
            other_keys,
            memo,
        } => {
            fields.push(field(
                "action",
                format!(
                    "CREATE TOKEN {name} ({symbol}), {token_type}, {supply_type} max {max_supply}"
                ),
            ));
            fields.push(field("treasury", treasury.as_str()));
            fields.push(field("admin key", key_text(admin_key.as_ref())));
            fields.push(field("supply key", key_text(supply_key.as_ref())));
            fields.push(field("pause key", key_text(pause_key.as_ref())));
            if !other_keys.is_empty() {
                fields.push(field("OTHER KEYS", other_keys.join(", ")));
            }
            fields.push(field("token memo", memo.as_str()));
        }
        ScheduledAction::TokenUpdate {
            token,
            name,
            symbol,
            treasury,
            admin_key,
            supply_key,
            pause_key,
            other_keys,
            memo,
            metadata,
            expiry,
            auto_renew_account,
            auto_renew_period_secs,
            key_verification_mode,
        } => {
            fields.push(field("action", format!("UPDATE TOKEN {token}")));
            let set = [
                ("new name", name.clone()),
                ("new symbol", symbol.clone()),
                ("new treasury", treasury.clone()),
                (
                    "new admin key",
                    admin_key.as_ref().map(|k| key_text(Some(k))),
                ),
                (
                    "new supply key",
                    supply_key.as_ref().map(|k| key_text(Some(k))),
                ),
                (
                    "new pause key",
                    pause_key.as_ref().map(|k| key_text(Some(k))),
                ),
                ("new token memo", memo.clone()),
                (
                    "new metadata",
                    metadata.as_ref().map(|m| {
                        m.text
                            .clone()
                            .unwrap_or_else(|| format!("(binary) {}", m.hex))
                    }),
                ),
                (
                    "new expiry",
                    expiry.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                ),
                ("auto-renew account", auto_renew_account.clone()),
                (
                    "auto-renew period",
                    auto_renew_period_secs.map(|s| format!("{s} s")),
                ),
            ];
            for (label, value) in set {
                if let Some(value) = value {
                    fields.push(field(label, value));
                }
            }
            if !other_keys.is_empty() {
                fields.push(field("OTHER KEYS", other_keys.join(", ")));
            }
            fields.push(field("key check", key_verification_mode.as_str()));
        }
        ScheduledAction::TokenUnpause { token } => {
            fields.push(field(
                "action",
                format!("UNPAUSE TOKEN {token} (resume: a responder sends it once approved)"),
            ));
        }
        ScheduledAction::Unsupported { name } => {
            fields.push(field(
                "action",
                format!("{name} (Gatehouse does not approve this)"),
            ));
        }
        _ => fields.push(field("action", "unknown")),
    }
    fields.push(field("memo", view.memo.as_str()));
    fields.push(field(
        "max fee",
        format!("{} hbar", hbar(view.max_fee_tinybars)),
    ));
    fields.push(field("SHA-256", view.sha256.as_str()));
    fields
}

/// Every field of the body the device signs, decoded here.
pub fn body_fields(view: &BodyView) -> Vec<Field> {
    let action = match &view.action {
        Action::ScheduleSign { schedule } => format!("SIGN SCHEDULE {schedule}"),
        Action::TokenPause { token } => format!("PAUSE TOKEN {token}"),
        Action::TokenUnpause { token } if view.payer == UNEXECUTABLE_PAYER => {
            format!(
                "APPROVE UNPAUSING TOKEN {token} (a statement: payer {UNEXECUTABLE_PAYER} does not exist, so no ledger executes it)"
            )
        }
        Action::TokenUnpause { token } => format!("UNPAUSE TOKEN {token}"),
        Action::AccountKey {
            account,
            key,
            other_changes,
        } if other_changes.is_empty() => {
            format!(
                "SET THE KEY OF ACCOUNT {account} TO {}",
                key_text(key.as_ref())
            )
        }
        Action::AccountKey {
            account,
            other_changes,
            ..
        } => format!(
            "UPDATE ACCOUNT {account}: ITS {} TOO (never signed by Gatehouse)",
            other_changes.join(", ").to_uppercase()
        ),
        Action::Other { name } => format!("{name} (never signed as an approval)"),
        _ => "unknown".to_owned(),
    };
    vec![
        field("action", action),
        field("transaction", view.transaction_id.as_str()),
        field("payer", view.payer.as_str()),
        field("node", view.node.as_str()),
        field(
            "valid start",
            view.valid_start
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        field("valid for", format!("{} s", view.valid_duration_secs)),
        field("max fee", format!("{} hbar", hbar(view.max_fee_tinybars))),
        field("memo", view.memo.as_str()),
        field("SHA-256", view.sha256.as_str()),
    ]
}

/// One NFT of a mint as the ledger will write it, with the HIP-412 document the proposer supplied
/// for it checked here: against the schema, and its CID recomputed against the on-chain URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its position in the mint.
    pub index: usize,
    /// Its on-chain metadata, from the decoded bytes.
    pub metadata: MetadataView,
    /// The supplied document: what it says, or why it fails. `None`: none was supplied.
    pub document: Option<Result<hip412::Checked, String>>,
}

/// The NFTs a mint's decoded bytes write, each with its document checked here. Empty for anything
/// but a mint.
pub fn mint_items(payload: &Payload, scheduled: &ScheduledView) -> Vec<Item> {
    let ScheduledAction::TokenMint { metadata, .. } = &scheduled.action else {
        return Vec::new();
    };
    let documents: &[Option<String>] = match payload {
        Payload::Mint { documents, .. } => documents,
        _ => &[],
    };
    metadata
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let document = documents.get(index).and_then(Option::as_ref).map(|doc| {
                let on_chain = m.text.as_deref().unwrap_or_default();
                hip412::check(on_chain, doc.as_bytes()).map_err(|e| e.to_string())
            });
            Item {
                index,
                metadata: m.clone(),
                document,
            }
        })
        .collect()
}

/// A proposed policy as a person reads it: each rule, what changes from the policy in force, and
/// whether the bytes the ledger will execute commit to exactly this document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// The proposed document, read here; `Err` says why it cannot be.
    pub document: Result<PolicyDocument, String>,
    /// The token memo in the decoded bytes is the commitment of this document's exact text.
    pub committed: bool,
    /// The version it replaces.
    pub replaces: u32,
}

/// The policy a proposal would put in force, checked against its decoded bytes. `None` for any
/// other kind of proposal.
pub fn policy_change(payload: &Payload, scheduled: &ScheduledView) -> Option<PolicyChange> {
    let Payload::Policy {
        document, replaces, ..
    } = payload
    else {
        return None;
    };
    let committed = matches!(
        &scheduled.action,
        ScheduledAction::TokenUpdate { memo: Some(m), .. } if *m == policy::commitment(document)
    );
    Some(PolicyChange {
        document: PolicyDocument::parse(document),
        committed,
        replaces: *replaces,
    })
}

/// A public key as the server and the ledger show it: Ed25519 raw, secp256k1 compressed, hex.
pub fn ledger_hex(key: &gatehouse_keys::key::PublicKey) -> String {
    match key.algorithm() {
        gatehouse_keys::key::Algorithm::EcdsaSecp256k1 => {
            hex::encode(key.compressed().unwrap_or_default())
        }
        _ => hex::encode(key.as_bytes()),
    }
}

/// What a key rotation, an offboarding or an onboarding changes, in words: the keys, their
/// holders now and after, and each new holder's key with its evidence (and an onboarding's new
/// certificate). `None` for any other kind of proposal.
pub fn rotation_lines(payload: &Payload) -> Option<Vec<Field>> {
    if let Payload::Offboarding {
        officer,
        reason,
        before,
        after,
        document,
        ..
    }
    | Payload::Onboarding {
        officer,
        reason,
        before,
        after,
        document,
        ..
    } = payload
    {
        let joining = match payload {
            Payload::Onboarding {
                key, certificate, ..
            } => Some((key, certificate)),
            _ => None,
        };
        let mut lines = vec![
            field(
                if joining.is_some() { "Joins" } else { "Leaves" },
                officer.as_str(),
            ),
            field("Why", reason.as_str()),
        ];
        if let Some((key, _)) = joining {
            lines.push(field(
                "Their key",
                format!(
                    "{} {} ({} evidence)",
                    if key.staged {
                        "new key"
                    } else {
                        "a key they hold already,"
                    },
                    key.public_key,
                    key.evidence
                ),
            ));
        }
        for (was, next) in before.iter().zip(after) {
            lines.push(field(
                &format!("{} key", was.role.as_str()),
                format!("{} -> {}", was.holders_text(), next.holders_text()),
            ));
        }
        let policy = match document.as_deref().map(PolicyDocument::parse) {
            Some(Ok(doc)) if joining.is_some() => {
                let rules: Vec<&str> = doc
                    .rules
                    .iter()
                    .filter(|(_, r)| r.eligible.iter().any(|e| e == officer))
                    .map(|(kind, _)| kind.as_str())
                    .collect();
                format!(
                    "version {} makes {officer} eligible in: {}",
                    doc.version,
                    rules.join(", ")
                )
            }
            Some(Ok(doc)) => format!("version {} names {officer} in no rule", doc.version),
            Some(Err(e)) => format!("UNREADABLE: {e}"),
            None if joining.is_some() => {
                "unchanged (no rule is checked against these keys)".to_owned()
            }
            None => format!("unchanged (no rule names {officer})"),
        };
        lines.push(field("Policy", policy));
        match joining {
            Some((_, Some(certificate))) => lines.push(field(
                "Certificate",
                format!(
                    "a new TLS certificate for {officer} from their device's request, SHA-256 {}; it replaces {} (revoked when this executes)",
                    certificate.fingerprint,
                    if certificate.replaces.is_empty() { "none" } else { certificate.replaces.as_str() }
                ),
            )),
            Some((_, None)) => lines.push(field(
                "Certificate",
                "unchanged (no certificate request was sent with it)",
            )),
            None => {}
        }
        lines.push(field(
            "Treasury",
            if joining.is_some() {
                "its account key is not changed by this TokenUpdate: rotate the treasury to holders with them next"
            } else {
                "its account key is not changed by this TokenUpdate and still holds their key: rotate the treasury to holders without them next"
            },
        ));
        return Some(lines);
    }
    let Payload::Rotation {
        role,
        threshold,
        holders,
        before,
        treasury,
        ..
    } = payload
    else {
        return None;
    };
    let after: Vec<String> = holders
        .iter()
        .map(|h| {
            if h.staged {
                format!("{} (new key)", h.officer)
            } else {
                h.officer.clone()
            }
        })
        .collect();
    let mut lines = vec![
        field("Key", format!("{} key", role.as_str())),
        field("Now", before.holders_text()),
        field("After", format!("{threshold} of {}", after.join(", "))),
    ];
    if let Some(moved) = treasury {
        lines.push(field(
            "Treasury",
            format!(
                "{} → {} (a new account whose key is the key after); {}",
                moved.from,
                moved.to,
                nfts_move(moved.nfts)
            ),
        ));
    }
    for h in holders {
        let kept = before
            .members
            .iter()
            .any(|m| m.officer == h.officer && m.public_key == h.public_key);
        let mut what = match (h.staged, kept) {
            (true, _) => format!("new key {} ({} evidence)", h.public_key, h.evidence),
            (false, true) => format!("keeps {}", h.public_key),
            (false, false) => format!("joins with {} ({} evidence)", h.public_key, h.evidence),
        };
        if role.new_key_signs() {
            what.push_str(if h.approves {
                "; signs for the new key by approving"
            } else {
                "; signs for the new key with it (Sign with my new key, or proposal approve --new-key)"
            });
        }
        lines.push(field(&h.officer, what));
    }
    for m in &before.members {
        if !holders.iter().any(|h| h.officer == m.officer) {
            lines.push(field(
                &m.officer,
                format!("leaves this key ({} no longer counts)", m.public_key),
            ));
        }
    }
    Some(lines)
}

/// `2 NFTs move with it`: what a treasury rotation takes along (the old treasury's NFTs when it
/// was proposed; the ledger moves every one it holds).
pub fn nfts_move(nfts: u64) -> String {
    match nfts {
        0 => "it holds no NFTs".to_owned(),
        1 => "1 NFT moves with it".to_owned(),
        n => format!("{n} NFTs move with it"),
    }
}

/// Each rule in words, `mint: 3 of alice, bob, carol`.
pub fn rule_lines(document: &PolicyDocument) -> Vec<Field> {
    document
        .rules
        .iter()
        .map(|(kind, rule)| {
            field(
                kind,
                format!("{} of {}", rule.threshold, rule.eligible.join(", ")),
            )
        })
        .collect()
}

/// What `next` changes from `current`, one line per changed rule.
pub fn rule_changes(current: &PolicyDocument, next: &PolicyDocument) -> Vec<Field> {
    let words = |r: Option<&gatehouse_protocol::policy::Rule>| {
        r.map_or_else(
            || "none".to_owned(),
            |r| format!("{} of {}", r.threshold, r.eligible.join(", ")),
        )
    };
    let mut kinds: Vec<&String> = current.rules.keys().chain(next.rules.keys()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .filter(|k| current.rules.get(*k) != next.rules.get(*k))
        .map(|k| {
            field(
                k,
                format!(
                    "{} -> {}",
                    words(current.rules.get(k)),
                    words(next.rules.get(k))
                ),
            )
        })
        .collect()
}

/// The policy in force, as the server states it (check it with [`policy_anchor`]).
pub async fn current_policy(conn: &Connection) -> Result<CurrentPolicy, ConnectionError> {
    conn.get("/v1/policy").await
}

/// Proposes `rule` as its kind's new rule; the current quorum approves it on the ledger.
pub async fn propose_rule(
    conn: &Connection,
    rule: &gatehouse_protocol::policy::NewRule,
) -> Result<Proposal, ConnectionError> {
    conn.post("/v1/proposals/policy", rule).await
}

/// Whether the ledger anchors the server's policy: the token's memo, read from `mirror`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// The token's memo is the commitment of the server's document.
    Matches,
    /// The memo commits to another document: the server's policy is not the one approved.
    Differs {
        /// The memo on the ledger.
        memo: String,
    },
    /// The memo commits to no policy (a token created before policies were anchored).
    NotAnchored {
        /// The memo on the ledger.
        memo: String,
    },
}

/// Reads the token's memo from `mirror` and compares it with `current`.
pub async fn policy_anchor(mirror: &str, current: &CurrentPolicy) -> Result<Anchor, ReviewError> {
    let json = mirror_json(mirror, &format!("/api/v1/tokens/{}", current.token)).await?;
    let memo = json["memo"].as_str().unwrap_or_default().to_owned();
    Ok(match policy::committed_hash(&memo) {
        Some(hash) if hash == current.sha256 && policy::sha256(&current.document) == hash => {
            Anchor::Matches
        }
        Some(_) => Anchor::Differs { memo },
        None => Anchor::NotAnchored { memo },
    })
}

/// The token's keys as the ledger holds them now (step 1 of a rotation: what changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKeys {
    /// The token.
    pub token: String,
    /// Its admin key.
    pub admin: Option<KeyView>,
    /// Its supply key.
    pub supply: Option<KeyView>,
    /// Its pause key.
    pub pause: Option<KeyView>,
    /// The treasury account.
    pub treasury: String,
    /// The treasury account's key.
    pub treasury_key: Option<KeyView>,
    /// Whether the token is paused (Hedera refuses any update then).
    pub paused: bool,
}

impl TokenKeys {
    /// The ledger's copy of `role`'s key.
    pub fn of(&self, role: gatehouse_protocol::proposal::KeyRole) -> Option<&KeyView> {
        match role {
            KeyRole::Admin => self.admin.as_ref(),
            KeyRole::Supply => self.supply.as_ref(),
            KeyRole::Pause => self.pause.as_ref(),
            _ => self.treasury_key.as_ref(),
        }
    }
}

/// The registry's copy of a token key (`RoleKey::protobuf`, hex), decoded to compare with the
/// ledger's. `None` when it does not decode.
pub fn registry_key(protobuf: &str) -> Option<KeyView> {
    use prost::Message as _;
    let bytes = hex::decode(protobuf).ok()?;
    let key = hiero_sdk_proto::services::Key::decode(bytes.as_slice()).ok()?;
    Some(KeyView::of(&key))
}

/// Reads `token`'s keys and its treasury account's key from `mirror`.
pub async fn token_keys(mirror: &str, token: &str) -> Result<TokenKeys, ReviewError> {
    let fail = |reason: String| ReviewError::Ledger {
        mirror: mirror.to_owned(),
        reason,
    };
    let json = mirror_json(mirror, &format!("/api/v1/tokens/{token}")).await?;
    let key = |field: &str| {
        KeyView::from_mirror(&json[field]).map_err(|e| fail(format!("the token's {field}: {e}")))
    };
    let (admin, supply, pause) = (key("admin_key")?, key("supply_key")?, key("pause_key")?);
    let treasury = json["treasury_account_id"]
        .as_str()
        .ok_or_else(|| fail("the token names no treasury account".to_owned()))?
        .to_owned();
    let account = mirror_json(mirror, &format!("/api/v1/accounts/{treasury}")).await?;
    let treasury_key = KeyView::from_mirror(&account["key"])
        .map_err(|e| fail(format!("the treasury account's key: {e}")))?;
    Ok(TokenKeys {
        token: token.to_owned(),
        admin,
        supply,
        pause,
        treasury,
        treasury_key,
        paused: json["pause_status"] == "PAUSED",
    })
}

/// The ledger keys in use and the staged ones, and a name for each public key (`carol`, or
/// `carol (staged)`): how key structures are shown with their holders named.
pub async fn key_names(
    conn: &Connection,
) -> Result<(Vec<LedgerKey>, Vec<LedgerKey>, HashMap<String, String>), ConnectionError> {
    let in_use: Vec<LedgerKey> = conn.get("/v1/ledger-keys").await?;
    let staged: Vec<LedgerKey> = conn.get("/v1/ledger-keys/staged").await?;
    let names = in_use
        .iter()
        .map(|k| (k.public_key.clone(), k.officer.clone()))
        .chain(
            staged
                .iter()
                .map(|k| (k.public_key.clone(), format!("{} (staged)", k.officer))),
        )
        .collect();
    Ok((in_use, staged, names))
}

/// A key with its holders named: `2 of alice, bob, carol`. `names` maps a primitive key (hex, as
/// the registry lists ledger keys) to its holder; a key nobody holds shows as `unknown ed25519:…`.
pub fn holders_text(key: Option<&KeyView>, names: &HashMap<String, String>) -> String {
    fn one(k: &KeyView, names: &HashMap<String, String>) -> String {
        let named = |kind: &str, key: &str| {
            names
                .get(key)
                .cloned()
                .unwrap_or_else(|| format!("unknown {kind}:{}…", key.get(..12).unwrap_or(key)))
        };
        match k {
            KeyView::Ed25519 { key } => named("ed25519", key),
            KeyView::EcdsaSecp256k1 { key } => named("secp256k1", key),
            KeyView::Threshold { threshold, keys } => format!(
                "{threshold} of {}",
                keys.iter()
                    .map(|k| one(k, names))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            KeyView::List { keys } => format!(
                "all of {}",
                keys.iter()
                    .map(|k| one(k, names))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            KeyView::Other { name } => name.clone(),
        }
    }
    key.map_or_else(|| "none".to_owned(), |k| one(k, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_protocol::proposal::TreasuryMove;

    #[test]
    fn keys_are_named_by_their_holders() {
        let ed = |b: u8| KeyView::Ed25519 {
            key: hex::encode([b; 32]),
        };
        let names: HashMap<String, String> = [
            (hex::encode([1; 32]), "alice".to_owned()),
            (hex::encode([2; 32]), "bob".to_owned()),
        ]
        .into_iter()
        .collect();
        let supply = KeyView::Threshold {
            threshold: 2,
            keys: vec![ed(1), ed(2), ed(3)],
        };
        assert_eq!(
            holders_text(Some(&supply), &names),
            "2 of alice, bob, unknown ed25519:030303030303…"
        );
        assert_eq!(holders_text(None, &names), "none");
        assert_eq!(
            holders_text(Some(&KeyView::List { keys: vec![ed(2)] }), &names),
            "all of bob"
        );
    }

    fn mint(token: &str, items: &[&str]) -> ScheduledView {
        ScheduledView {
            fingerprint: String::new(),
            sha256: String::new(),
            max_fee_tinybars: 0,
            memo: String::new(),
            action: ScheduledAction::TokenMint {
                token: token.to_owned(),
                metadata: items
                    .iter()
                    .map(|t| MetadataView {
                        text: Some((*t).to_owned()),
                        hex: String::new(),
                        bytes: 0,
                    })
                    .collect(),
                amount: 0,
            },
        }
    }

    #[test]
    fn the_bytes_must_do_what_the_server_says() {
        let claim = Payload::Mint {
            token: "0.0.5".into(),
            metadata: vec!["ipfs://a".into()],
            documents: Vec::new(),
        };
        assert!(check_payload(&claim, &mint("0.0.5", &["ipfs://a"])).is_ok());
        for (bytes, why) in [
            (mint("0.0.6", &["ipfs://a"]), "another token"),
            (mint("0.0.5", &["ipfs://b"]), "other metadata"),
            (mint("0.0.5", &["ipfs://a", "ipfs://a"]), "an extra NFT"),
        ] {
            assert!(
                matches!(check_payload(&claim, &bytes), Err(ReviewError::Mismatch(_))),
                "{why} is refused"
            );
        }
    }

    #[test]
    fn each_nft_shows_its_document_checked_here_against_the_bytes() {
        let doc = r#"{"name":"Gate #1","image":"ipfs://bafkreiimage","type":"image/png"}"#;
        let uri = format!("ipfs://{}", hip412::raw_cid(doc.as_bytes()));
        let other = format!("ipfs://{}", hip412::raw_cid(b"something else"));
        let payload = Payload::Mint {
            token: "0.0.5".into(),
            metadata: vec![uri.clone(), other.clone(), "ipfs://c".into()],
            documents: vec![Some(doc.into()), Some(doc.into())],
        };
        let items = mint_items(&payload, &mint("0.0.5", &[&uri, &other, "ipfs://c"]));
        assert_eq!(items.len(), 3, "one row per NFT in the bytes");
        match &items[0].document {
            Some(Ok(checked)) => {
                assert_eq!(checked.name, "Gate #1");
                assert!(matches!(checked.cid, hip412::CidCheck::Matches { .. }));
            }
            other => panic!("the first document matches its URI: {other:?}"),
        }
        match &items[1].document {
            Some(Err(why)) => assert!(why.contains("not this document"), "{why}"),
            other => panic!("a document under another CID is flagged: {other:?}"),
        }
        assert!(items[2].document.is_none(), "no document supplied");
    }

    fn update(token: &str, memo: Option<String>) -> ScheduledView {
        ScheduledView {
            fingerprint: String::new(),
            sha256: String::new(),
            max_fee_tinybars: 0,
            memo: String::new(),
            action: ScheduledAction::TokenUpdate {
                token: token.to_owned(),
                name: None,
                symbol: None,
                treasury: None,
                admin_key: None,
                supply_key: None,
                pause_key: None,
                other_keys: Vec::new(),
                memo,
                metadata: None,
                expiry: None,
                auto_renew_account: None,
                auto_renew_period_secs: None,
                key_verification_mode: "FULL_VALIDATION".into(),
            },
        }
    }

    fn rotation(role: KeyRole, treasury: Option<TreasuryMove>) -> Payload {
        Payload::Rotation {
            token: "0.0.5".into(),
            role,
            threshold: 1,
            holders: vec![gatehouse_protocol::proposal::RotationHolder {
                officer: "alice".into(),
                public_key: "aa".repeat(32),
                algorithm: gatehouse_protocol::proposal::LedgerKeyAlgorithm::Ed25519,
                evidence: "attested".into(),
                staged: true,
                approves: false,
            }],
            before: gatehouse_protocol::proposal::RoleKey {
                role,
                threshold: 1,
                members: Vec::new(),
                protobuf: String::new(),
                proposal: String::new(),
                applied_at: chrono::Utc::now(),
                confirmed_at: None,
            },
            treasury,
        }
    }

    #[test]
    fn a_treasury_rotation_is_signed_only_for_the_account_the_server_names() {
        let moved = TreasuryMove {
            from: "0.0.2".into(),
            to: "0.0.9".into(),
            nfts: 2,
        };
        let claim = rotation(KeyRole::Treasury, Some(moved.clone()));
        let with = |account: Option<&str>| {
            let mut view = update("0.0.5", None);
            if let ScheduledAction::TokenUpdate { treasury, .. } = &mut view.action {
                *treasury = account.map(str::to_owned);
            }
            view
        };
        assert!(check_payload(&claim, &with(Some("0.0.9"))).is_ok());
        let shown = rotation_lines(&claim).expect("a rotation is shown");
        assert!(
            shown.contains(&field(
                "Treasury",
                "0.0.2 → 0.0.9 (a new account whose key is the key after); 2 NFTs move with it"
            )),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|f| f.label == "alice"
                && f.value.ends_with("signs for the new key with it (Sign with my new key, or proposal approve --new-key)")),
            "{shown:?}"
        );
        assert_eq!(nfts_move(1), "1 NFT moves with it");
        for wrong in [Some("0.0.8"), None] {
            assert!(matches!(
                check_payload(&claim, &with(wrong)),
                Err(ReviewError::Mismatch(m)) if m.contains("not the new account")
            ));
        }
        // The payload must name the move; bytes that move the treasury without it are refused.
        assert!(check_payload(&rotation(KeyRole::Treasury, None), &with(Some("0.0.9"))).is_err());
        let mut sneaky = with(Some("0.0.9"));
        if let ScheduledAction::TokenUpdate { supply_key, .. } = &mut sneaky.action {
            *supply_key = Some(KeyView::Ed25519 { key: "00".into() });
        }
        assert!(matches!(
            check_payload(&claim, &sneaky),
            Err(ReviewError::Mismatch(m)) if m.contains("supply key")
        ));
    }

    #[test]
    fn an_admin_rotation_is_signed_only_for_the_admin_key_shown() {
        let claim = rotation(KeyRole::Admin, None);
        let with = |admin: Option<KeyView>| {
            let mut view = update("0.0.5", None);
            if let ScheduledAction::TokenUpdate { admin_key, .. } = &mut view.action {
                *admin_key = admin;
            }
            view
        };
        let shown = threshold_view(1, std::iter::once("aa".repeat(32).as_str()));
        assert!(check_payload(&claim, &with(Some(shown))).is_ok());
        let other = threshold_view(1, std::iter::once("bb".repeat(32).as_str()));
        assert!(matches!(
            check_payload(&claim, &with(Some(other))),
            Err(ReviewError::Mismatch(m)) if m.contains("admin key")
        ));
        assert!(check_payload(&claim, &with(None)).is_err());
    }

    #[test]
    fn a_policy_change_is_signed_only_when_the_bytes_commit_to_the_document_shown() {
        let officers: Vec<String> = vec!["alice".into(), "bob".into(), "carol".into()];
        let current = PolicyDocument::initial(2, &officers);
        let next = current.with_rule(
            "mint",
            gatehouse_protocol::policy::Rule::new(3, officers.clone()),
        );
        let document = next.to_text();
        let claim = Payload::Policy {
            token: "0.0.5".into(),
            document: document.clone(),
            replaces: 1,
        };
        let honest = update("0.0.5", Some(policy::commitment(&document)));
        assert!(check_payload(&claim, &honest).is_ok());
        let change = policy_change(&claim, &honest).expect("a policy change");
        assert!(change.committed);
        assert_eq!(change.document.as_ref(), Ok(&next));
        assert_eq!(
            rule_changes(&current, &next),
            vec![field(
                "mint",
                "2 of alice, bob, carol -> 3 of alice, bob, carol"
            )]
        );
        let other = current.with_rule(
            "mint",
            gatehouse_protocol::policy::Rule::new(2, vec!["alice".into(), "bob".into()]),
        );
        let swapped = update("0.0.5", Some(policy::commitment(&other.to_text())));
        assert!(matches!(
            check_payload(&claim, &swapped),
            Err(ReviewError::Mismatch(m)) if m.contains("does not commit")
        ));
        assert!(!policy_change(&claim, &swapped).expect("shown").committed);
        let mut sneaky = honest.clone();
        if let ScheduledAction::TokenUpdate { supply_key, .. } = &mut sneaky.action {
            *supply_key = Some(KeyView::Ed25519 { key: "00".into() });
        }
        assert!(matches!(
            check_payload(&claim, &sneaky),
            Err(ReviewError::Mismatch(m)) if m.contains("supply key")
        ));
        assert!(matches!(
            check_payload(&claim, &update("0.0.6", Some(policy::commitment(&document)))),
            Err(ReviewError::Mismatch(m)) if m.contains("0.0.6")
        ));
        let labels: Vec<String> = scheduled_fields(&honest)
            .into_iter()
            .map(|f| f.label)
            .collect();
        assert!(labels.contains(&"new token memo".to_owned()), "{labels:?}");
    }

    #[test]
    fn the_fields_name_every_part_of_both_bodies() {
        let labels: Vec<String> = scheduled_fields(&mint("0.0.5", &["ipfs://a", "ipfs://b"]))
            .into_iter()
            .map(|f| f.label)
            .collect();
        for label in [
            "action",
            "metadata[0]",
            "metadata[1]",
            "memo",
            "max fee",
            "SHA-256",
        ] {
            assert!(labels.iter().any(|l| l == label), "{label} in {labels:?}");
        }
    }
}
