//! Proposals and approvals (invariants 1, 2, 6 and 8): the wire types of `/v1/proposals` and
//! `/v1/ledger-keys`.
//!
//! A proposal is a Hedera scheduled transaction: the server creates the schedule (paying its fee
//! with the operator account, which holds no token key), and each officer approves by signing, on
//! their own device, a ScheduleSign transaction for it. The ledger executes the scheduled
//! transaction when the signatures it has collected satisfy the token's threshold key. The server
//! checks each approval before it submits it, and keeps what happened.
//!
//! Bytes travel as standard base64 (as the audit log's do).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a proposal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[non_exhaustive]
pub enum ProposalKind {
    /// Create the deployment's NFT token, its keys held by the officers' devices.
    TokenCreate,
    /// Mint NFTs of the deployment's token.
    Mint,
    /// Change the approval policy (a TokenUpdate of the token's memo, which anchors it).
    Policy,
    /// Resume after an emergency pause: once the quorum has approved, a responder's device signs
    /// the TokenUnpause (the ledger cannot schedule one), and the breaker closes when the mirror
    /// shows the token unpaused.
    Resume,
    /// Replace one of the token's keys (a TokenUpdate the admin key's quorum executes): new
    /// holders, new keys from their devices, a new threshold.
    Rotation,
    /// Remove an officer from every token key and every policy rule in one TokenUpdate (the
    /// remaining holders' signatures satisfy the old and the new admin key), and disable them in
    /// the registry once it executed.
    Offboarding,
    /// Add an officer to the token keys they are to hold (admin, supply, pause; thresholds kept)
    /// and to every policy rule checked against those keys, in one TokenUpdate the quorum
    /// approves; with their device's certificate request, the registry takes the TLS certificate
    /// issued from it once it executed.
    Onboarding,
    /// A kind this version does not know (a newer server's): listed and shown, never signed.
    #[serde(other)]
    Unknown,
}

impl ProposalKind {
    /// The name used in URLs, policies and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalKind::TokenCreate => "token-create",
            ProposalKind::Mint => "mint",
            ProposalKind::Policy => "policy",
            ProposalKind::Resume => "resume",
            ProposalKind::Rotation => "rotation",
            ProposalKind::Offboarding => "offboarding",
            ProposalKind::Onboarding => "onboarding",
            ProposalKind::Unknown => "unknown",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ProposalKind::TokenCreate,
            ProposalKind::Mint,
            ProposalKind::Policy,
            ProposalKind::Resume,
            ProposalKind::Rotation,
            ProposalKind::Offboarding,
            ProposalKind::Onboarding,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether it changes the token's keys (a rotation, an offboarding, an onboarding): allowed
    /// while the breaker is tripped, one at a time, and confirmed on the mirror once executed.
    pub fn changes_keys(self) -> bool {
        matches!(
            self,
            ProposalKind::Rotation | ProposalKind::Offboarding | ProposalKind::Onboarding
        )
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[non_exhaustive]
pub enum ProposalStatus {
    /// Collecting approvals.
    Open,
    /// The ledger executed it.
    Executed,
    /// The ledger executed it and the inner transaction failed (see the outcome).
    Failed,
    /// The deadline passed before enough officers approved.
    Expired,
    /// The proposer or an administrator withdrew it.
    Cancelled,
    /// So many eligible officers rejected it that the threshold can no longer be reached.
    Rejected,
}

impl ProposalStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Executed => "executed",
            ProposalStatus::Failed => "failed",
            ProposalStatus::Expired => "expired",
            ProposalStatus::Cancelled => "cancelled",
            ProposalStatus::Rejected => "rejected",
        }
    }

    /// The status named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ProposalStatus::Open,
            ProposalStatus::Executed,
            ProposalStatus::Failed,
            ProposalStatus::Expired,
            ProposalStatus::Cancelled,
            ProposalStatus::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Whether nothing can change it any more.
    pub fn is_final(self) -> bool {
        self != ProposalStatus::Open
    }
}

/// What the server says a proposal does. The console does not take this as truth: it decodes the
/// scheduled body itself (and reads it from the ledger) and shows that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[non_exhaustive]
pub enum Payload {
    /// Create the token.
    TokenCreate {
        /// Token name.
        name: String,
        /// Token symbol.
        symbol: String,
        /// Most NFTs that can ever exist.
        max_supply: u64,
        /// The treasury account (controlled by the officers' threshold key).
        treasury: String,
        /// Officers whose keys make up the admin and supply keys.
        officers: Vec<String>,
        /// Signatures the admin, supply and treasury keys need.
        threshold: u32,
        /// Responders whose keys make up the pause key (any one of them).
        responders: Vec<String>,
    },
    /// Mint NFTs.
    Mint {
        /// The token.
        token: String,
        /// Each NFT's on-chain metadata (usually an `ipfs://` URI), as UTF-8 text.
        metadata: Vec<String>,
        /// The HIP-412 documents the proposer supplied, in `metadata`'s order (`null` where
        /// none), exactly as given: consoles check them (schema, CID) themselves.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        documents: Vec<Option<String>>,
    },
    /// Put a new approval policy in force.
    Policy {
        /// The token whose memo anchors it.
        token: String,
        /// The new policy document's exact text ([`crate::policy::PolicyDocument`]): the
        /// scheduled TokenUpdate sets the memo to its commitment, which consoles recompute.
        document: String,
        /// The version of the policy it replaces.
        replaces: u32,
    },
    /// Unpause the token and close the breaker. Nothing is scheduled: the officers approve by
    /// signing the TokenUnpause for the token in a body no ledger executes (paid by
    /// [`UNEXECUTABLE_PAYER`]), the server counts them, and then a responder's device signs the
    /// TokenUnpause that is sent.
    Resume {
        /// The paused token.
        token: String,
        /// Why it is safe to resume, in the proposer's words.
        reason: String,
        /// Who tripped the breaker this resumes.
        paused_by: Option<String>,
        /// When.
        paused_at: Option<DateTime<Utc>>,
        /// Unpause the token on the ledger only and keep the backend's breaker tripped: the safe
        /// order for changing a paused token (a key rotation), after which a responder pauses the
        /// ledger again and a full resume closes the breaker.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ledger_only: bool,
    },
    /// Replace one of the token's keys: the scheduled TokenUpdate sets `role`'s key to
    /// `threshold` of `holders`' keys, in this order, and changes nothing else.
    Rotation {
        /// The token.
        token: String,
        /// Which key.
        role: KeyRole,
        /// Signatures the new key needs.
        threshold: u32,
        /// Who holds the new key, and with which key.
        holders: Vec<RotationHolder>,
        /// The key it replaces, as the registry holds it.
        before: RoleKey,
        /// A treasury rotation's move: the new treasury account (created for it, its key the new
        /// key) and the NFTs the old one held when proposed (the ledger moves them all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        treasury: Option<TreasuryMove>,
    },
    /// Remove `officer` from every token key they hold (admin, supply, pause; thresholds kept) and
    /// from every policy rule, in one TokenUpdate; the registry disables them once it executed.
    Offboarding {
        /// The token.
        token: String,
        /// Who leaves.
        officer: String,
        /// Why, in the proposer's words.
        reason: String,
        /// Each key that changes, as it is now.
        before: Vec<RoleKey>,
        /// Each of those keys after (same role, same threshold, without the officer), in the same
        /// order; the TokenUpdate sets exactly these.
        after: Vec<RoleKey>,
        /// The policy document without the officer, when a rule named them (the TokenUpdate sets
        /// the memo to its commitment); `None` when no rule changes.
        document: Option<String>,
    },
    /// Add `officer` to the token keys in `after` (each the key before with the officer's key
    /// appended, the threshold kept) and to every policy rule checked against those keys, in one
    /// TokenUpdate; with `certificate`, the registry gives them that TLS certificate (and
    /// revokes the one they have) once it executed.
    Onboarding {
        /// The token.
        token: String,
        /// Who joins.
        officer: String,
        /// Why, in the proposer's words.
        reason: String,
        /// The key of theirs that joins, and how its origin was judged.
        key: RotationHolder,
        /// Each key that changes, as it is now.
        before: Vec<RoleKey>,
        /// Each of those keys after (same role, same threshold, the officer's key last), in the
        /// same order; the TokenUpdate sets exactly these.
        after: Vec<RoleKey>,
        /// The policy document naming the officer in the rules checked against the keys they
        /// join (the TokenUpdate sets the memo to its commitment); `None` when no rule changes.
        document: Option<String>,
        /// The TLS certificate issued from the certificate request of the officer's device, which
        /// the registry takes once this executed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate: Option<IssuedCertificate>,
    },
    /// A kind this version does not know (a newer server's): its fields are not read, and a
    /// console or CLI refuses to sign it, saying to update.
    #[serde(other)]
    Unknown,
}

/// A TLS client certificate issued from an officer's certificate signing request, waiting for
/// the quorum: it grants nothing until the registry takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub pem: String,
    /// SHA-256 of its DER encoding, hex: what the registry will know the officer by.
    pub fingerprint: String,
    /// The certificate it replaces (the officer's when proposed), SHA-256 hex.
    pub replaces: String,
}

/// A treasury rotation moves the token's treasury to a new account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TreasuryMove {
    /// The treasury account now.
    pub from: String,
    /// The new treasury account, created for this rotation with the new key.
    pub to: String,
    /// NFTs the old treasury held when this was proposed; the ledger moves every one it holds
    /// when the change executes.
    pub nfts: u64,
}

impl Payload {
    /// The signatures the rotation's new key must add itself (`Some(threshold)`): Hedera asks the
    /// new key of an admin-key change and the new treasury account's key to sign, besides the
    /// admin key's quorum. `None` for everything else.
    pub fn new_key_signatures(&self) -> Option<u32> {
        match self {
            Payload::Rotation {
                role, threshold, ..
            } if role.new_key_signs() => Some(*threshold),
            _ => None,
        }
    }

    /// The token keys a key-changing proposal sets (empty for every other kind).
    pub fn changed_roles(&self) -> Vec<KeyRole> {
        match self {
            Payload::Rotation { role, .. } => vec![*role],
            Payload::Offboarding { after, .. } | Payload::Onboarding { after, .. } => {
                after.iter().map(|k| k.role).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether executing it puts the staged key `public_key` (hex, as shown) into use: a rotation
    /// naming it, or an onboarding joining with it. Such a key cannot be replaced while it is open.
    pub fn uses_staged(&self, public_key: &str) -> bool {
        match self {
            Payload::Rotation { holders, .. } => holders
                .iter()
                .any(|h| h.staged && h.public_key == public_key),
            Payload::Onboarding { key, .. } => key.staged && key.public_key == public_key,
            _ => false,
        }
    }

    /// The policy document a proposal puts in force, when it does.
    pub fn policy_document(&self) -> Option<&str> {
        match self {
            Payload::Policy { document, .. } => Some(document),
            Payload::Offboarding { document, .. } | Payload::Onboarding { document, .. } => {
                document.as_deref()
            }
            _ => None,
        }
    }

    /// Who holds the new key whose own signatures Hedera asks ([`Self::new_key_signatures`]);
    /// `None` for everything else.
    pub fn new_key_holders(&self) -> Option<&[RotationHolder]> {
        match self {
            Payload::Rotation { role, holders, .. } if role.new_key_signs() => Some(holders),
            _ => None,
        }
    }
}

/// A rotation's new key signing the schedule itself (admin and treasury rotations): who, with
/// which new key, and how it reached the ledger. It does not count as an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeySignature {
    /// The holder.
    pub officer: String,
    /// Their key in the new key, hex.
    pub public_key: String,
    /// When the server accepted it.
    pub at: DateTime<Utc>,
    /// The device they said they signed with.
    pub device: Option<String>,
    /// The ScheduleSign transaction that carried it to the ledger.
    pub transaction_id: String,
}

/// One of the token's keys, by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[non_exhaustive]
pub enum KeyRole {
    /// Changes the token (and any of its keys, HIP-540).
    Admin,
    /// Mints.
    Supply,
    /// Pauses and unpauses.
    Pause,
    /// Controls the treasury account that holds what is minted.
    Treasury,
}

impl KeyRole {
    /// Every role, in the order they are shown.
    pub const ALL: [KeyRole; 4] = [
        KeyRole::Admin,
        KeyRole::Supply,
        KeyRole::Pause,
        KeyRole::Treasury,
    ];

    /// The name stored, shown and used in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Admin => "admin",
            KeyRole::Supply => "supply",
            KeyRole::Pause => "pause",
            KeyRole::Treasury => "treasury",
        }
    }

    /// The role named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether Hedera asks the new key itself to sign a change of this key: the admin key, and
    /// the treasury (the new treasury account's key).
    pub fn new_key_signs(self) -> bool {
        matches!(self, KeyRole::Admin | KeyRole::Treasury)
    }
}

/// One holder of a token key: the person and the public key of theirs it contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct KeyMember {
    /// The officer or responder.
    pub officer: String,
    /// Their public key in it, hex (as `/v1/ledger-keys` lists it).
    pub public_key: String,
}

/// `GET /v1/token-keys`: one of the token's keys as the registry holds it (the mirror has the
/// ledger's copy; the server compares them after every rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RoleKey {
    /// Which key.
    pub role: KeyRole,
    /// Signatures it needs.
    pub threshold: u32,
    /// Who holds it, in the key's order.
    pub members: Vec<KeyMember>,
    /// The key as the ledger holds it: its protobuf encoding, hex.
    pub protobuf: String,
    /// The proposal that set it (the token's creation, or a rotation).
    pub proposal: String,
    /// When the ledger took it.
    pub applied_at: DateTime<Utc>,
    /// When the mirror was seen showing it; `None` until then.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl RoleKey {
    /// `2 of alice, bob, carol`.
    pub fn holders_text(&self) -> String {
        let names: Vec<&str> = self.members.iter().map(|m| m.officer.as_str()).collect();
        format!("{} of {}", self.threshold, names.join(", "))
    }
}

/// One holder of a proposed key, with the key and how its origin was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RotationHolder {
    /// The officer or responder.
    pub officer: String,
    /// The key, hex.
    pub public_key: String,
    /// Its algorithm.
    pub algorithm: LedgerKeyAlgorithm,
    /// `attested`, `self-reported` or `software`, as the server judged it.
    pub evidence: String,
    /// Whether it is a new key the holder staged for this rotation (else one they hold already).
    pub staged: bool,
    /// An admin or treasury rotation: the key is in the admin key that approves, so the holder's
    /// approval carries its signature (they never sign with it as a new key).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approves: bool,
}

/// `POST /v1/proposals/offboarding`: who leaves, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewOffboarding {
    /// The officer (or responder) whose keys leave every token key.
    pub officer: String,
    /// Why (at most 256 bytes).
    pub reason: String,
}

/// `POST /v1/proposals/onboarding`: who joins which token keys, and why. The key that joins is
/// the one they staged (`gatehouse ledger-key stage`), else their newest key in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewOnboarding {
    /// The registered officer (or responder) who joins.
    pub officer: String,
    /// The token keys they join: admin and supply (officers), pause (responders). The treasury
    /// account's key changes only by a treasury rotation.
    pub keys: Vec<KeyRole>,
    /// Why (at most 256 bytes).
    pub reason: String,
    /// Their device's certificate signing request (PEM) for a new TLS certificate; only the
    /// officer may send their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_request: Option<String>,
}

/// `POST /v1/proposals/rotation`: which key to replace, and by whom it is held next. Each holder's
/// new key is the one they staged (`gatehouse ledger-key stage`); a holder with none keeps the key
/// they hold already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewRotation {
    /// Which key.
    pub role: KeyRole,
    /// Signatures the new key needs.
    pub threshold: u32,
    /// Who holds it (officers for supply, responders for pause), each once.
    pub holders: Vec<String>,
}

/// The payer of an officer's approval body for a resume: account `0.0.0` does not exist, so the
/// ledger refuses such a body whoever signs it. An approval of a resume is a statement, never a
/// transaction: without this, the approval of an officer who is also a responder (whose key can
/// unpause on its own) would be a ready TokenUnpause in the server's hands.
pub const UNEXECUTABLE_PAYER: &str = "0.0.0";

/// One officer's approval, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Approval {
    /// The officer.
    pub officer: String,
    /// When the server accepted it.
    pub at: DateTime<Utc>,
    /// The device the officer said they signed with (serial or label), as reported.
    pub device: Option<String>,
    /// The ScheduleSign transaction that carried the signature to the ledger (or, for an
    /// endorsement, would have).
    pub transaction_id: String,
    /// Whether the server sent it to the ledger. When a policy asks more approvals than the
    /// token's key, the first ones are endorsements: checked, recorded and counted by the server,
    /// but not sent, so that the ledger executes only at the policy's count.
    #[serde(default = "relayed_default")]
    pub relayed: bool,
}

fn relayed_default() -> bool {
    true
}

/// One officer's rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rejection {
    /// The officer.
    pub officer: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, in their words.
    pub reason: String,
}

/// What the ledger did with the scheduled transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Outcome {
    /// The ledger's response code for the scheduled transaction (`SUCCESS`, ...), or the reason
    /// the server gave up.
    pub status: String,
    /// When the server learnt it.
    pub at: DateTime<Utc>,
    /// Serial numbers minted.
    pub serials: Vec<i64>,
    /// The token created.
    pub token: Option<String>,
    /// The transaction that carried it out when it was not scheduled (a resume's TokenUnpause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// A proposal, as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Proposal {
    /// Its id (a UUID).
    pub id: String,
    /// What it does.
    pub kind: ProposalKind,
    /// Where it stands.
    pub status: ProposalStatus,
    /// Who proposed it (they cannot approve it).
    pub proposer: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Approvals after this are refused; the ledger schedule expires then too.
    pub deadline: DateTime<Utc>,
    /// Approvals needed.
    pub threshold: u32,
    /// Officers who may approve.
    pub eligible: Vec<String>,
    /// What the server says it does.
    pub payload: Payload,
    /// The ledger schedule (`0.0.N`).
    pub schedule_id: String,
    /// The transaction id the scheduled transaction will execute under.
    pub scheduled_transaction_id: String,
    /// The scheduled transaction's body (`SchedulableTransactionBody`), base64: what the ledger
    /// will execute.
    pub scheduled_body: String,
    /// Approvals so far.
    pub approvals: Vec<Approval>,
    /// Rejections so far.
    pub rejections: Vec<Rejection>,
    /// A rotation's new key signing for itself, so far (admin and treasury rotations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_signatures: Vec<KeySignature>,
    /// What happened on the ledger, once final.
    pub outcome: Option<Outcome>,
}

#[cfg(feature = "testing")]
impl Proposal {
    /// For tests: an open 2-of-3 mint of one NFT on token `0.0.9` that `alice` proposed and
    /// `alice`, `bob` and `carol` may approve, due in an hour, with no body.
    pub fn open_mint_for_tests() -> Self {
        let now = chrono::Utc::now();
        Self {
            id: "p".into(),
            kind: ProposalKind::Mint,
            status: ProposalStatus::Open,
            proposer: "alice".into(),
            created_at: now,
            deadline: now + chrono::Duration::hours(1),
            threshold: 2,
            eligible: vec!["alice".into(), "bob".into(), "carol".into()],
            payload: Payload::Mint {
                token: "0.0.9".into(),
                metadata: vec!["ipfs://x".into()],
                documents: Vec::new(),
            },
            schedule_id: "0.0.10".into(),
            scheduled_transaction_id: "0.0.2@1.0?scheduled".into(),
            scheduled_body: String::new(),
            approvals: vec![],
            rejections: vec![],
            key_signatures: vec![],
            outcome: None,
        }
    }
}

#[cfg(feature = "testing")]
impl Proposal {
    /// For tests: an open policy change on token `0.0.9` to `document`, whose scheduled body is
    /// a real TokenUpdate setting the token memo to `memo`.
    pub fn open_policy_for_tests(document: &str, memo: &str) -> Self {
        use base64::Engine as _;
        use hiero_sdk_proto::services as pb;
        use prost::Message as _;
        let body = pb::SchedulableTransactionBody {
            transaction_fee: 2_000_000_000,
            memo: "gatehouse proposal p".into(),
            data: Some(pb::schedulable_transaction_body::Data::TokenUpdate(
                pb::TokenUpdateTransactionBody {
                    token: Some(pb::TokenId {
                        shard_num: 0,
                        realm_num: 0,
                        token_num: 9,
                    }),
                    memo: Some(memo.to_owned()),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        Self {
            kind: ProposalKind::Policy,
            payload: Payload::Policy {
                token: "0.0.9".into(),
                document: document.to_owned(),
                replaces: 1,
            },
            scheduled_body: base64::engine::general_purpose::STANDARD.encode(body.encode_to_vec()),
            ..Self::open_mint_for_tests()
        }
    }
}

/// `POST /v1/proposals/resume`: why it is safe to resume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewResume {
    /// What was found and fixed (at most 256 bytes).
    pub reason: String,
    /// Unpause the token on the ledger only, keeping the backend's breaker tripped (to rotate a
    /// key of a paused token: Hedera refuses every change to a paused token).
    #[serde(default)]
    pub ledger_only: bool,
}

/// `POST /v1/proposals/mint`: what to mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewMint {
    /// Each NFT's on-chain metadata, UTF-8, at most 100 bytes each, at most 10 per proposal.
    pub metadata: Vec<String>,
    /// The HIP-412 JSON document each `metadata` URI points at, as the exact text of the file, in
    /// the same order (fewer, or `null`, where not supplied). Each one given is checked against
    /// the HIP-412 schema, and its CID recomputed against the URI.
    #[serde(default)]
    pub documents: Vec<Option<String>>,
}

/// `POST /v1/proposals/token-create`: the token to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewToken {
    /// Token name (at most 100 bytes).
    pub name: String,
    /// Token symbol (at most 100 bytes).
    pub symbol: String,
    /// Most NFTs that can ever exist.
    pub max_supply: u64,
}

/// `POST /v1/proposals/{id}/approval-request`: the exact transaction body to sign to approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ApprovalRequest {
    /// Quote it when sending the signature.
    pub request: String,
    /// The proposal.
    pub proposal: String,
    /// A ScheduleSign `TransactionBody`, base64: the bytes the officer's device signs.
    pub body: String,
    /// The ledger refuses the transaction after this (its valid start plus valid duration).
    pub expires_at: DateTime<Utc>,
    /// The public key (hex, as `/v1/ledger-keys` lists it) the server checks the signature
    /// against: the caller's key in the token key the proposal needs. After a rotation an officer
    /// may hold a new key in one role and the old one in another, so sign with this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// `POST /v1/proposals/{id}/approvals`: the device's signature over an approval request's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SignedApproval {
    /// The approval request answered.
    pub request: String,
    /// The signature, base64 (Ed25519: 64 bytes; ECDSA secp256k1: r||s, 64 bytes).
    pub signature: String,
    /// The device that signed (serial or label), for the record.
    pub device: Option<String>,
}

/// `POST /v1/proposals/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Reject {
    /// Why (at most 256 bytes).
    pub reason: String,
}

/// A ledger key's algorithm (Hedera accepts these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum LedgerKeyAlgorithm {
    /// Ed25519 (YubiKey firmware 5.7+, PKCS#11 tokens).
    Ed25519,
    /// ECDSA secp256k1 (PKCS#11 tokens).
    EcdsaSecp256k1,
}

/// `POST /v1/ledger-keys`: the caller's ledger key and the evidence it was born on its device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerKeyEnrolment {
    /// The key's algorithm.
    pub algorithm: LedgerKeyAlgorithm,
    /// The public key, hex (Ed25519: 32 bytes; secp256k1: a 33- or 65-byte SEC1 point).
    pub public_key: String,
    /// `gatehouse_keys::evidence::Evidence` as JSON: an attestation (PIV), PKCS#11 attributes
    /// (self-reported) or `{"kind": "software"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub evidence: serde_json::Value,
    /// The device (serial or label), for the record.
    pub device: Option<String>,
}

/// An officer's enrolled ledger key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LedgerKey {
    /// The officer.
    pub officer: String,
    /// The key's algorithm.
    pub algorithm: LedgerKeyAlgorithm,
    /// The public key, hex (secp256k1 keys compressed, as Hedera shows them).
    pub public_key: String,
    /// How the server judged its origin: `attested`, `self-reported` or `software`.
    pub evidence: String,
    /// The device, as reported.
    pub device: Option<String>,
    /// When it was enrolled.
    pub enrolled_at: DateTime<Utc>,
}

/// `GET /v1/nfts`: one NFT of the deployment's token, as the server indexed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Nft {
    /// The token.
    pub token: String,
    /// Its serial number.
    pub serial: i64,
    /// Its on-chain metadata, as text (or base64 when it is not UTF-8).
    pub metadata: String,
    /// The transaction that minted it (the scheduled transaction's id).
    pub transaction_id: String,
    /// The proposal that minted it; none for a mint no proposal explains.
    pub proposal: Option<String>,
    /// The officers who approved that proposal.
    pub approvers: Vec<String>,
    /// When it was minted (or found).
    pub minted_at: DateTime<Utc>,
    /// Whether an executed proposal explains it. `false` raised an alarm.
    pub explained: bool,
}

/// `GET /v1/alarms`: something the server noticed that people must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Alarm {
    /// Its id.
    pub id: String,
    /// `unexplained-mint` or `mint-volume`.
    pub kind: String,
    /// What it is about (`0.0.1002/7`, an hour).
    pub subject: String,
    /// What happened and what to do.
    pub message: String,
    /// When the server raised it.
    pub raised_at: DateTime<Utc>,
}

/// `GET /v1/events` (server-sent events): something changed; the client fetches what it shows.
/// Events carry no state of their own, so a client that missed some loses nothing by refetching
/// (the stream sends `resync` when this client fell behind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Event {
    /// `proposal.created`, `proposal.approved`, `proposal.rejected`, `proposal.cancelled`,
    /// `proposal.executed`, `proposal.failed`, `proposal.expired`, `alarm` or `resync`.
    pub kind: String,
    /// The proposal concerned, if any.
    pub proposal: Option<String>,
    /// When the server sent it.
    pub at: DateTime<Utc>,
}

impl Event {
    /// An event of `kind` about `proposal`, now.
    pub fn new(kind: &str, proposal: Option<&str>) -> Self {
        Self {
            kind: kind.to_owned(),
            proposal: proposal.map(str::to_owned),
            at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newer server's proposal kind does not stop an older console from reading the list: the
    /// kind and payload read as unknown (and nothing signs those).
    #[test]
    fn a_kind_this_version_does_not_know_reads_as_unknown() {
        let kind: ProposalKind = serde_json::from_str(r#""rename-token""#).expect("reads");
        assert_eq!(kind, ProposalKind::Unknown);
        assert_eq!(
            ProposalKind::from_name("unknown"),
            None,
            "never a kind to ask for"
        );
        let payload: Payload =
            serde_json::from_str(r#"{"kind": "rename-token", "token": "0.0.5", "name": "X"}"#)
                .expect("reads");
        assert_eq!(payload, Payload::Unknown);
        assert!(payload.changed_roles().is_empty() && payload.policy_document().is_none());
        let known: Payload =
            serde_json::from_str(r#"{"kind": "mint", "token": "0.0.5", "metadata": ["ipfs://a"]}"#)
                .expect("reads");
        assert!(matches!(known, Payload::Mint { .. }), "{known:?}");
    }
}
