//! Proposals and approvals (invariants 1, 2, 6 and 8).
//!
//! A proposal is a Hedera scheduled transaction. The server creates the schedule, paying with the
//! operator account, which holds no token key; each approving officer signs, on their own device,
//! a ScheduleSign transaction for it; the ledger executes the scheduled transaction once the
//! signatures it collected satisfy the token's threshold key. Scheduled transactions fit approvals
//! that take hours: a schedule lives up to its expiration (this server sets it to the proposal's
//! deadline), while a transaction with a future valid start would still have to be signed by all
//! officers inside one 180-second window.
//!
//! Before it submits an approval, the server checks (here, pure): the officer is eligible and is
//! not the proposer, the proposal is open and before its deadline, the signature verifies against
//! the officer's enrolled ledger key over the exact body the server handed them, and it was never
//! seen before (the spent set, a unique key in the shared database). Every acceptance and refusal
//! is audited with its reason. [`engine`] runs the steps, [`store`] holds the SQL, [`api`] the
//! routes.

pub mod api;
pub mod engine;
pub mod key_signature;
pub mod membership;
pub mod pause;
pub mod policy;
pub mod resume;
pub mod rotation;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use gatehouse_protocol::ErrorCode;
use gatehouse_protocol::proposal::{Proposal, ProposalStatus};

pub use self::engine::Engine;

/// Most NFTs one proposal mints: Hedera's limit per TokenMint.
pub const MAX_MINT_ITEMS: usize = 10;

/// Longest on-chain metadata per NFT, in bytes: Hedera's limit.
pub const MAX_METADATA_BYTES: usize = 100;

/// Longest rejection reason, in bytes.
pub const MAX_REASON_BYTES: usize = 256;

/// Longest token name or symbol, in bytes: Hedera's limit.
pub const MAX_NAME_BYTES: usize = 100;

/// Why an approval (or an approval request) was refused. Each has a stable audit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No such proposal.
    #[error("no proposal {0}")]
    NoProposal(String),
    /// The officer is not among the proposal's eligible signers.
    #[error("you are not among this proposal's eligible approvers")]
    NotEligible,
    /// The proposer tried to approve their own proposal (invariant 8).
    #[error("you proposed this; another officer must approve it")]
    OwnProposal,
    /// The proposal is no longer open.
    #[error("the proposal is {0}, not open")]
    NotOpen(&'static str),
    /// The deadline has passed.
    #[error("the proposal's deadline passed at {0}")]
    PastDeadline(DateTime<Utc>),
    /// The officer approved already.
    #[error("you approved this proposal already")]
    AlreadyApproved,
    /// The officer rejected it.
    #[error("you rejected this proposal")]
    AlreadyRejected,
    /// The officer holds no key in the token key this needs: none enrolled, or rotated out of it.
    #[error(
        "you hold no ledger key in the token key this needs (none enrolled, or rotated out of it): enrol one from your device first, or ask the officers for a rotation that includes you"
    )]
    NoLedgerKey,
    /// The approval request is unknown, used, or someone else's.
    #[error("no open approval request {0} of yours for this proposal; ask for a new one")]
    UnknownRequest(String),
    /// The approval request's body can no longer be executed by the ledger.
    #[error("the approval request expired at {0}; ask for a new one and sign it within 3 minutes")]
    RequestExpired(DateTime<Utc>),
    /// The signature is malformed or does not verify over the body handed out.
    #[error("the signature does not verify against your ledger key over the approval body: {0}")]
    BadSignature(String),
    /// The signature was seen before (invariant 6).
    #[error("this signature was used before; a signature counts once")]
    Replayed,
    /// The ledger refused the approval.
    #[error("the ledger refused the approval: {0}")]
    Ledger(String),
    /// A new-key signature for a proposal that asks none.
    #[error(
        "this proposal does not ask for a new key's signature: only admin- and treasury-key rotations do; approve it instead"
    )]
    NoNewKey,
    /// A new-key signature from someone the rotation's new key does not name.
    #[error(
        "you hold no key in this rotation's new key: only its holders sign with it (the quorum approves)"
    )]
    NotNewHolder,
    /// The holder's new key signed the schedule already.
    #[error("your new key signed this rotation already; nothing more is needed from it")]
    KeySigned,
    /// The holder's key in the new key is in the admin key that approves: signing with it alone
    /// would count on the ledger as an approval the policy never saw.
    #[error(
        "your key in the new key is your admin key already: approve the rotation instead, and your approval carries its signature"
    )]
    KeyApproves,
    /// The breaker is tripped: nothing changes until a quorum resumes.
    #[error("{0}")]
    Paused(String),
    /// A service sent more mint requests than its rate allows.
    #[error(
        "more than {per_minute} mint requests a minute from this service; send it again in {retry_secs} s"
    )]
    RateLimited {
        /// The budget.
        per_minute: u32,
        /// When the next request fits, in whole seconds.
        retry_secs: u64,
    },
}

impl Refusal {
    /// The audit log's code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoProposal(_) => "no-proposal",
            Refusal::NotEligible => "not-eligible",
            Refusal::OwnProposal => "own-proposal",
            Refusal::NotOpen(_) => "not-open",
            Refusal::PastDeadline(_) => "past-deadline",
            Refusal::AlreadyApproved => "already-approved",
            Refusal::AlreadyRejected => "already-rejected",
            Refusal::NoLedgerKey => "no-ledger-key",
            Refusal::UnknownRequest(_) => "unknown-request",
            Refusal::RequestExpired(_) => "request-expired",
            Refusal::BadSignature(_) => "bad-signature",
            Refusal::Replayed => "replayed-signature",
            Refusal::Ledger(_) => "ledger-refused",
            Refusal::NoNewKey => "no-new-key",
            Refusal::NotNewHolder => "not-new-holder",
            Refusal::KeySigned => "key-signed",
            Refusal::KeyApproves => "key-approves",
            Refusal::RateLimited { .. } => "rate-limited",
            Refusal::Paused(_) => "paused",
        }
    }

    /// The API error code.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Refusal::NoProposal(_) => ErrorCode::NotFound,
            Refusal::NotEligible | Refusal::OwnProposal | Refusal::NotNewHolder => {
                ErrorCode::Forbidden
            }
            Refusal::BadSignature(_) => ErrorCode::BadRequest,
            Refusal::RateLimited { .. } => ErrorCode::RateLimited,
            Refusal::Paused(_) => ErrorCode::Paused,
            Refusal::NotOpen(_)
            | Refusal::PastDeadline(_)
            | Refusal::AlreadyApproved
            | Refusal::AlreadyRejected
            | Refusal::NoLedgerKey
            | Refusal::UnknownRequest(_)
            | Refusal::RequestExpired(_)
            | Refusal::Replayed
            | Refusal::NoNewKey
            | Refusal::KeySigned
            | Refusal::KeyApproves
            | Refusal::Ledger(_) => ErrorCode::Conflict,
        }
    }
}

/// Checks a device's `signature` (base64) by `key` over `body` (the base64 bytes the server handed
/// out, valid until `expires_at`); returns the body's and the signature's bytes.
pub fn check_signed(
    key: &gatehouse_keys::key::PublicKey,
    body: &str,
    signature: &str,
    expires_at: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<u8>), Refusal> {
    if Utc::now() >= expires_at {
        return Err(Refusal::RequestExpired(expires_at));
    }
    verify_signed(key, body, signature)
}

/// Checks `signature` (base64) by `key` over `body` (base64), whenever it was made: the body's
/// and the signature's bytes.
pub fn verify_signed(
    key: &gatehouse_keys::key::PublicKey,
    body: &str,
    signature: &str,
) -> Result<(Vec<u8>, Vec<u8>), Refusal> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    let body = B64
        .decode(body)
        .map_err(|_| Refusal::BadSignature("the stored body is not base64".into()))?;
    let raw = B64
        .decode(signature.trim())
        .map_err(|_| Refusal::BadSignature("signature: not base64".into()))?;
    let parsed = gatehouse_keys::key::Signature::from_bytes(key.algorithm(), &raw)
        .map_err(|e| Refusal::BadSignature(e.to_string()))?;
    key.verify(&body, &parsed)
        .map_err(|e| Refusal::BadSignature(e.to_string()))?;
    Ok((body, raw))
}

/// Whether `officer` may approve (or reject) `proposal` at `now`.
pub fn may_sign(proposal: &Proposal, officer: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    if proposal.proposer == officer {
        return Err(Refusal::OwnProposal);
    }
    if !proposal.eligible.iter().any(|e| e == officer) {
        return Err(Refusal::NotEligible);
    }
    if proposal.status != ProposalStatus::Open {
        return Err(Refusal::NotOpen(proposal.status.as_str()));
    }
    if now >= proposal.deadline {
        return Err(Refusal::PastDeadline(proposal.deadline));
    }
    if proposal.approvals.iter().any(|a| a.officer == officer) {
        return Err(Refusal::AlreadyApproved);
    }
    if proposal.rejections.iter().any(|r| r.officer == officer) {
        return Err(Refusal::AlreadyRejected);
    }
    Ok(())
}

/// Whether the rejections so far leave too few eligible officers to reach the threshold.
pub fn quorum_lost(proposal: &Proposal) -> bool {
    let eligible = proposal
        .eligible
        .iter()
        .filter(|e| **e != proposal.proposer)
        .count();
    let rejected = proposal.rejections.len();
    eligible.saturating_sub(rejected) < proposal.threshold as usize
}

/// Checks a mint's metadata: 1 to [`MAX_MINT_ITEMS`] items of 1 to [`MAX_METADATA_BYTES`] bytes.
/// The message names the offending field.
pub fn check_mint(metadata: &[String]) -> Result<(), String> {
    if metadata.is_empty() {
        return Err("metadata: give at least one item (one per NFT)".to_owned());
    }
    if metadata.len() > MAX_MINT_ITEMS {
        return Err(format!(
            "metadata: {} items; one proposal mints at most {MAX_MINT_ITEMS} (Hedera's limit per mint): split it",
            metadata.len()
        ));
    }
    for (i, item) in metadata.iter().enumerate() {
        if item.is_empty() {
            return Err(format!("metadata[{i}]: empty; give the NFT's metadata URI"));
        }
        if item.len() > MAX_METADATA_BYTES {
            return Err(format!(
                "metadata[{i}]: {} bytes; on-chain metadata is at most {MAX_METADATA_BYTES} bytes (store the JSON off-chain and put its ipfs:// URI here)",
                item.len()
            ));
        }
        if item.chars().any(char::is_control) {
            return Err(format!("metadata[{i}]: contains control characters"));
        }
    }
    Ok(())
}

/// Largest HIP-412 document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Checks the HIP-412 documents given for a mint's metadata (schema, and the CID of each against
/// its URI). Returns, per item, what was checked (for the audit record); the error names the item.
pub fn check_documents(
    metadata: &[String],
    documents: &[Option<String>],
) -> Result<Vec<serde_json::Value>, String> {
    use gatehouse_protocol::hip412;
    if documents.len() > metadata.len() {
        return Err(format!(
            "documents: {} documents for {} metadata items; give at most one per item, in order",
            documents.len(),
            metadata.len()
        ));
    }
    let mut checked = Vec::new();
    for (i, document) in documents.iter().enumerate() {
        let Some(document) = document else { continue };
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "documents[{i}]: {} bytes; a HIP-412 document is at most {MAX_DOCUMENT_BYTES} bytes here",
                document.len()
            ));
        }
        let result = hip412::check(&metadata[i], document.as_bytes())
            .map_err(|e| format!("documents[{i}]: {e}"))?;
        checked.push(
            serde_json::json!({ "item": i, "name": result.name, "cid": result.cid.to_string() }),
        );
    }
    Ok(checked)
}

/// Checks a token's name, symbol and maximum supply.
pub fn check_token(name: &str, symbol: &str, max_supply: u64) -> Result<(), String> {
    for (field, value) in [("name", name), ("symbol", symbol)] {
        if value.trim().is_empty() {
            return Err(format!("{field}: empty"));
        }
        if value.len() > MAX_NAME_BYTES {
            return Err(format!("{field}: longer than {MAX_NAME_BYTES} bytes"));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{field}: contains control characters"));
        }
    }
    if max_supply == 0 || i64::try_from(max_supply).is_err() {
        return Err("max_supply: between 1 and 2^63-1".to_owned());
    }
    Ok(())
}

/// Checks a rejection reason.
pub fn check_reason(reason: &str) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("reason: say why you reject it".to_owned());
    }
    if reason.len() > MAX_REASON_BYTES {
        return Err(format!("reason: longer than {MAX_REASON_BYTES} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_protocol::proposal::{Approval, Rejection};

    fn proposal() -> Proposal {
        Proposal::open_mint_for_tests()
    }

    #[test]
    fn the_proposer_and_strangers_cannot_sign() {
        let p = proposal();
        let now = Utc::now();
        assert_eq!(may_sign(&p, "alice", now), Err(Refusal::OwnProposal));
        assert_eq!(may_sign(&p, "mallory", now), Err(Refusal::NotEligible));
        assert_eq!(may_sign(&p, "bob", now), Ok(()));
    }

    #[test]
    fn only_open_proposals_before_their_deadline_take_signatures_once() {
        let mut p = proposal();
        let late = p.deadline;
        assert!(matches!(
            may_sign(&p, "bob", late),
            Err(Refusal::PastDeadline(_))
        ));
        p.approvals.push(Approval {
            officer: "bob".into(),
            at: Utc::now(),
            device: None,
            transaction_id: "t".into(),
            relayed: true,
        });
        assert_eq!(
            may_sign(&p, "bob", Utc::now()),
            Err(Refusal::AlreadyApproved)
        );
        p.rejections.push(Rejection {
            officer: "carol".into(),
            at: Utc::now(),
            reason: "no".into(),
        });
        assert_eq!(
            may_sign(&p, "carol", Utc::now()),
            Err(Refusal::AlreadyRejected)
        );
        p.status = ProposalStatus::Cancelled;
        assert_eq!(
            may_sign(&p, "bob", Utc::now()),
            Err(Refusal::NotOpen("cancelled"))
        );
    }

    #[test]
    fn the_quorum_is_lost_when_too_few_can_still_approve() {
        let mut p = proposal();
        assert!(!quorum_lost(&p), "bob and carol can still reach 2");
        p.rejections.push(Rejection {
            officer: "carol".into(),
            at: Utc::now(),
            reason: "no".into(),
        });
        assert!(quorum_lost(&p), "only bob is left: 1 < 2");
    }

    #[test]
    fn mint_metadata_is_bounded_and_errors_name_the_field() {
        assert!(check_mint(&["ipfs://bafy".into()]).is_ok());
        assert!(
            check_mint(&[])
                .expect_err("refused")
                .starts_with("metadata:")
        );
        let eleven = vec!["ipfs://x".to_owned(); 11];
        assert!(
            check_mint(&eleven)
                .expect_err("refused")
                .contains("at most 10")
        );
        let long = vec!["ok".to_owned(), "x".repeat(101)];
        assert!(
            check_mint(&long)
                .expect_err("refused")
                .starts_with("metadata[1]:")
        );
        assert!(check_mint(&["a\u{0}b".into()]).is_err());
        assert!(
            check_mint(&["x".repeat(100)]).is_ok(),
            "100 bytes is allowed"
        );
    }

    #[test]
    fn token_fields_and_reasons_are_checked() {
        assert!(check_token("Gate", "GATE", 1000).is_ok());
        assert!(
            check_token("", "GATE", 1)
                .expect_err("refused")
                .starts_with("name:")
        );
        assert!(
            check_token("G", "GATE", 0)
                .expect_err("refused")
                .starts_with("max_supply:")
        );
        assert!(check_reason(" ").is_err());
        assert!(check_reason(&"r".repeat(257)).is_err());
        assert!(check_reason("the metadata is wrong").is_ok());
    }
}
