//! Approval commands: the queue of proposals, one proposal decoded here, the review before
//! signing (the approval body decoded here and the scheduled body checked against the ledger's
//! own copy, from the mirror pinned in the profile), the signature on the officer's device, and
//! rejecting, cancelling and proposing mints.
//!
//! What the officer signs never crosses to the webview and back: `proposal_review` keeps the
//! checked [`Review`] here, and `proposal_approve` signs exactly its bytes. The webview only
//! names the proposal, the device (by its scan id) and the PIN.

use chrono::{DateTime, SecondsFormat, Utc};
use gatehouse_client::proposals::{self, Review, ReviewError};
use gatehouse_keys::key::Algorithm;
use gatehouse_protocol::proposal::{
    Alarm, LedgerKey, NewMint, Payload, Proposal, ProposalKind, ProposalStatus, Reject,
};
use serde::Serialize;
use tauri::State;

use super::connection::connection_for;
use super::device::blocking;
use super::profile::store;
use super::{ErrorCode, IpcError};
use crate::Console;

pub(crate) fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What the server says a proposal does (the decoded bytes are in [`ProposalDetail`]).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PayloadSummary {
    /// Mint NFTs.
    Mint {
        /// The token.
        token: String,
        /// Each NFT's on-chain metadata.
        metadata: Vec<String>,
    },
    /// Create the token.
    TokenCreate {
        /// Name.
        name: String,
        /// Symbol.
        symbol: String,
        /// Most NFTs that can ever exist, as exact text.
        #[serde(rename = "maxSupply")]
        max_supply: String,
        /// The treasury account.
        treasury: String,
        /// Officers whose keys make up the admin and supply keys.
        officers: Vec<String>,
        /// Signatures those keys need.
        threshold: u32,
        /// Responders whose keys make up the pause key.
        responders: Vec<String>,
    },
    /// Put a new approval policy in force (its rules are in [`ProposalDetail::policy`], read
    /// from the document the bytes commit to).
    Policy {
        /// The token whose memo anchors it.
        token: String,
        /// The policy version it replaces.
        replaces: u32,
    },
    /// Resume after an emergency pause: once approved, a responder's device unpauses the token.
    Resume {
        /// The paused token.
        token: String,
        /// Why it is safe, in the proposer's words.
        reason: String,
        /// Who paused.
        #[serde(rename = "pausedBy")]
        paused_by: Option<String>,
    },
    /// Replace one of the token's keys (every holder and key is in [`ProposalDetail::rotation`]).
    Rotation {
        /// The token.
        token: String,
        /// Which key: `supply`, `pause`, ...
        role: String,
        /// The key now, `2 of alice, bob, carol`.
        now: String,
        /// The key after, `2 of alice (new key), bob, carol`.
        after: String,
    },
    /// Remove an officer from every token key and policy rule (the keys before and after are in
    /// [`ProposalDetail::rotation`]).
    Offboarding {
        /// The token.
        token: String,
        /// Who leaves.
        officer: String,
        /// Why, in the proposer's words.
        reason: String,
    },
    /// Add an officer to token keys and the rules checked against them (the keys before and
    /// after, and any new certificate, are in [`ProposalDetail::rotation`]).
    Onboarding {
        /// The token.
        token: String,
        /// Who joins.
        officer: String,
        /// Why, in the proposer's words.
        reason: String,
        /// The keys they join.
        keys: Vec<String>,
        /// The SHA-256 of the TLS certificate the registry gives them once executed, when their
        /// device's request came with it.
        certificate: Option<String>,
    },
    /// A kind of proposal this console does not know (a newer server's): it refuses to sign it.
    Unknown {
        /// The kind's name as this console reads it.
        name: String,
    },
}

/// One approval.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    /// The officer.
    pub officer: String,
    /// When the server accepted it, RFC 3339 UTC.
    pub at: String,
    /// The device, as the officer's console reported it.
    pub device: Option<String>,
    /// The ScheduleSign transaction that carried it to the ledger.
    pub transaction_id: String,
    /// Whether the server sent it to the ledger; `false`: an endorsement the server counted
    /// because the policy asks more approvals than the token's key.
    pub relayed: bool,
}

/// One rejection.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RejectionView {
    /// The officer.
    pub officer: String,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Why, in their words.
    pub reason: String,
}

/// What the ledger did.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeView {
    /// The ledger's response code (`SUCCESS`, ...) or why the server gave up.
    pub status: String,
    /// When the server learnt it, RFC 3339 UTC.
    pub at: String,
    /// Serial numbers minted, as text.
    pub serials: Vec<String>,
    /// The token created.
    pub token: Option<String>,
}

/// A proposal as the queue lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProposalSummary {
    /// Its id.
    pub id: String,
    /// What it does.
    pub kind: ProposalKind,
    /// Where it stands.
    pub status: ProposalStatus,
    /// Who proposed it.
    pub proposer: String,
    /// When, RFC 3339 UTC.
    pub created_at: String,
    /// Approvals after this are refused, RFC 3339 UTC.
    pub deadline: String,
    /// Approvals needed.
    pub threshold: u32,
    /// Officers who may approve.
    pub eligible: Vec<String>,
    /// What the server says it does.
    pub payload: PayloadSummary,
    /// The ledger schedule.
    pub schedule_id: String,
    /// Approvals so far.
    pub approvals: Vec<ApprovalView>,
    /// Rejections so far.
    pub rejections: Vec<RejectionView>,
    /// What the ledger did, once final.
    pub outcome: Option<OutcomeView>,
    /// Open, the person may sign, did not propose it, and has neither signed nor rejected it.
    pub waits_for_me: bool,
    /// An admin or treasury rotation: the signatures its new key adds itself.
    pub new_key: Option<NewKeyView>,
}

/// The new key's own signatures in an admin or treasury rotation (Hedera asks them; they are
/// not approvals).
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewKeyView {
    /// Signatures the new key needs.
    pub needed: u32,
    /// The holders who signed with their key in it, in order.
    pub signed: Vec<String>,
    /// Who holds a key in it.
    pub holders: Vec<String>,
    /// Open, the person holds a key in it that has not signed and that is not in the admin key
    /// (whose holders sign by approving), and more are needed.
    pub waits_for_me: bool,
}

impl NewKeyView {
    fn of(p: &Proposal, me: &str) -> Option<Self> {
        let needed = p.payload.new_key_signatures()?;
        let holders = p.payload.new_key_holders()?;
        let signed: Vec<String> = p.key_signatures.iter().map(|s| s.officer.clone()).collect();
        // A holder whose key is in the admin key gives its signature by approving.
        let waits_for_me = p.status == ProposalStatus::Open
            && holders.iter().any(|h| h.officer == me && !h.approves)
            && !signed.iter().any(|s| s == me)
            && signed.len() < needed as usize;
        Some(Self {
            needed,
            signed,
            holders: holders.iter().map(|h| h.officer.clone()).collect(),
            waits_for_me,
        })
    }
}

/// Whether `me` can still sign `p`: approve it, or add their new key's signature.
pub(crate) fn needs(p: &Proposal, me: &str) -> bool {
    waits_for(p, me) || NewKeyView::of(p, me).is_some_and(|k| k.waits_for_me)
}

/// Whether `me` can still approve `p`.
pub(crate) fn waits_for(p: &Proposal, me: &str) -> bool {
    p.status == ProposalStatus::Open
        && p.proposer != me
        && p.eligible.iter().any(|e| e == me)
        && !p.approvals.iter().any(|a| a.officer == me)
        && !p.rejections.iter().any(|r| r.officer == me)
}

impl ProposalSummary {
    pub(crate) fn new(p: &Proposal, me: &str) -> Self {
        let payload = match &p.payload {
            Payload::Mint {
                token, metadata, ..
            } => PayloadSummary::Mint {
                token: token.clone(),
                metadata: metadata.clone(),
            },
            Payload::TokenCreate {
                name,
                symbol,
                max_supply,
                treasury,
                officers,
                threshold,
                responders,
            } => PayloadSummary::TokenCreate {
                name: name.clone(),
                symbol: symbol.clone(),
                max_supply: max_supply.to_string(),
                treasury: treasury.clone(),
                officers: officers.clone(),
                threshold: *threshold,
                responders: responders.clone(),
            },
            Payload::Policy {
                token, replaces, ..
            } => PayloadSummary::Policy {
                token: token.clone(),
                replaces: *replaces,
            },
            Payload::Resume {
                token,
                reason,
                paused_by,
                ..
            } => PayloadSummary::Resume {
                token: token.clone(),
                reason: reason.clone(),
                paused_by: paused_by.clone(),
            },
            Payload::Rotation {
                token,
                role,
                threshold,
                holders,
                before,
                treasury,
            } => PayloadSummary::Rotation {
                token: token.clone(),
                role: role.as_str().to_owned(),
                now: before.holders_text(),
                after: format!(
                    "{threshold} of {}{}",
                    holders
                        .iter()
                        .map(|h| if h.staged {
                            format!("{} (new key)", h.officer)
                        } else {
                            h.officer.clone()
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    treasury
                        .as_ref()
                        .map(|t| format!(
                            "; treasury {} → {} ({})",
                            t.from,
                            t.to,
                            proposals::nfts_move(t.nfts)
                        ))
                        .unwrap_or_default()
                ),
            },
            Payload::Offboarding {
                token,
                officer,
                reason,
                ..
            } => PayloadSummary::Offboarding {
                token: token.clone(),
                officer: officer.clone(),
                reason: reason.clone(),
            },
            Payload::Onboarding {
                token,
                officer,
                reason,
                after,
                certificate,
                ..
            } => PayloadSummary::Onboarding {
                token: token.clone(),
                officer: officer.clone(),
                reason: reason.clone(),
                keys: after.iter().map(|k| k.role.as_str().to_owned()).collect(),
                certificate: certificate.as_ref().map(|c| c.fingerprint.clone()),
            },
            // A kind this console does not know (a newer server's): listed, never signed.
            _ => PayloadSummary::Unknown {
                name: p.kind.as_str().to_owned(),
            },
        };
        Self {
            id: p.id.clone(),
            kind: p.kind,
            status: p.status,
            proposer: p.proposer.clone(),
            created_at: time(&p.created_at),
            deadline: time(&p.deadline),
            threshold: p.threshold,
            eligible: p.eligible.clone(),
            payload,
            schedule_id: p.schedule_id.clone(),
            approvals: p
                .approvals
                .iter()
                .map(|a| ApprovalView {
                    officer: a.officer.clone(),
                    at: time(&a.at),
                    device: a.device.clone(),
                    transaction_id: a.transaction_id.clone(),
                    relayed: a.relayed,
                })
                .collect(),
            rejections: p
                .rejections
                .iter()
                .map(|r| RejectionView {
                    officer: r.officer.clone(),
                    at: time(&r.at),
                    reason: r.reason.clone(),
                })
                .collect(),
            outcome: p.outcome.as_ref().map(|o| OutcomeView {
                status: o.status.clone(),
                at: time(&o.at),
                serials: o.serials.iter().map(i64::to_string).collect(),
                token: o.token.clone(),
            }),
            waits_for_me: waits_for(p, me),
            new_key: NewKeyView::of(p, me),
        }
    }
}

/// An alarm the server raised.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AlarmView {
    /// Its id.
    pub id: String,
    /// `unexplained-mint` or `mint-volume`.
    pub kind: String,
    /// What it is about.
    pub subject: String,
    /// What happened and what to do.
    pub message: String,
    /// When, RFC 3339 UTC.
    pub raised_at: String,
}

impl From<Alarm> for AlarmView {
    fn from(a: Alarm) -> Self {
        Self {
            raised_at: time(&a.raised_at),
            id: a.id,
            kind: a.kind,
            subject: a.subject,
            message: a.message,
        }
    }
}

/// The approvals screen: who I am, the proposals and the server's alarms.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Approvals {
    /// The person's registered name.
    pub me: String,
    /// Proposals, newest first.
    pub proposals: Vec<ProposalSummary>,
    /// Alarms, newest first.
    pub alarms: Vec<AlarmView>,
    /// The mirror node the profile pins for checking what is signed; none pinned: approving is
    /// refused until one is.
    pub mirror: Option<String>,
    /// Whether the server's events reach this console; when not, the screen polls.
    pub live: bool,
}

/// One line of a decoded transaction.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct FieldView {
    /// What it is.
    pub label: String,
    /// Its value.
    pub value: String,
}

pub(crate) fn fields(fields: Vec<proposals::Field>) -> Vec<FieldView> {
    fields
        .into_iter()
        .map(|f| FieldView {
            label: f.label,
            value: f.value,
        })
        .collect()
}

/// A supplied HIP-412 document, checked here.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: String,
    /// `type`.
    pub mime_type: String,
    /// `description`.
    pub description: Option<String>,
    /// The CID check in words (`matches bafk...`, `not an ipfs:// URI`, ...).
    pub cid: String,
    /// Whether the CID recomputed here is the one on chain.
    pub cid_matches: bool,
}

/// One NFT of a mint as the decoded bytes write it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    /// Position in the mint.
    pub index: u32,
    /// The metadata as text, when it is text.
    pub text: Option<String>,
    /// The metadata, hex.
    pub hex: String,
    /// Its length in bytes.
    pub bytes: u32,
    /// The supplied document, checked here.
    pub document: Option<DocumentView>,
    /// Why the supplied document fails (schema, CID): do not sign.
    pub document_error: Option<String>,
}

/// A proposal with its scheduled body decoded here.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProposalDetail {
    /// The proposal.
    pub proposal: ProposalSummary,
    /// Short fingerprint of the scheduled body's bytes.
    pub fingerprint: Option<String>,
    /// Every field of the scheduled body, decoded here.
    pub scheduled: Vec<FieldView>,
    /// A mint's NFTs, each with its document checked here.
    pub items: Vec<ItemView>,
    /// A policy change: the policy it would put in force, read here from the document its
    /// bytes commit to.
    pub policy: Option<PolicyChangeView>,
    /// A key rotation: the key, its holders now and after, each holder's key and its evidence
    /// (checked against the decoded bytes: see `problem`).
    pub rotation: Option<Vec<FieldView>>,
    /// Why the scheduled body could not be decoded, or does not do what the server says: such a
    /// proposal is never signed.
    pub problem: Option<String>,
}

/// The policy a proposal would put in force.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChangeView {
    /// Its version.
    pub version: Option<u32>,
    /// The version it replaces.
    pub replaces: u32,
    /// Every rule, `mint`: `3 of alice, bob, carol, dave`.
    pub rules: Vec<FieldView>,
    /// What changes from the policy in force (`2 of ... -> 3 of ...`); empty when the policy in
    /// force could not be read.
    pub changes: Vec<FieldView>,
    /// The token memo in the decoded bytes is this document's SHA-256.
    pub committed: bool,
    /// Why the document cannot be read: never signed.
    pub error: Option<String>,
}

fn policy_view(
    p: &Proposal,
    view: &gatehouse_protocol::hedera::ScheduledView,
    current: Option<&gatehouse_protocol::policy::PolicyDocument>,
) -> Option<PolicyChangeView> {
    let change = proposals::policy_change(&p.payload, view)?;
    Some(match change.document {
        Ok(doc) => PolicyChangeView {
            version: Some(doc.version),
            replaces: change.replaces,
            rules: fields(proposals::rule_lines(&doc)),
            changes: current
                .map(|c| fields(proposals::rule_changes(c, &doc)))
                .unwrap_or_default(),
            committed: change.committed,
            error: None,
        },
        Err(e) => PolicyChangeView {
            version: None,
            replaces: change.replaces,
            rules: Vec::new(),
            changes: Vec::new(),
            committed: change.committed,
            error: Some(e),
        },
    })
}

fn detail(
    p: &Proposal,
    me: &str,
    current: Option<&gatehouse_protocol::policy::PolicyDocument>,
) -> ProposalDetail {
    match proposals::scheduled(p) {
        Ok((_, view)) => {
            let problem = proposals::check_payload(&p.payload, &view)
                .err()
                .map(|e| e.to_string());
            ProposalDetail {
                proposal: ProposalSummary::new(p, me),
                fingerprint: Some(view.fingerprint.clone()),
                scheduled: fields(proposals::scheduled_fields(&view)),
                items: items(p, &view),
                policy: policy_view(p, &view, current),
                rotation: proposals::rotation_lines(&p.payload).map(fields),
                problem,
            }
        }
        Err(problem) => ProposalDetail {
            proposal: ProposalSummary::new(p, me),
            fingerprint: None,
            scheduled: Vec::new(),
            items: Vec::new(),
            policy: None,
            rotation: None,
            problem: Some(format!("cannot be shown, so it is never signed: {problem}")),
        },
    }
}

fn items(p: &Proposal, view: &gatehouse_protocol::hedera::ScheduledView) -> Vec<ItemView> {
    proposals::mint_items(&p.payload, view)
        .into_iter()
        .map(|item| {
            let (document, document_error) = match item.document {
                Some(Ok(doc)) => (
                    Some(DocumentView {
                        cid_matches: matches!(
                            doc.cid,
                            gatehouse_protocol::hip412::CidCheck::Matches { .. }
                        ),
                        cid: doc.cid.to_string(),
                        name: doc.name,
                        image: doc.image,
                        mime_type: doc.mime_type,
                        description: doc.description,
                    }),
                    None,
                ),
                Some(Err(why)) => (None, Some(why)),
                None => (None, None),
            };
            ItemView {
                index: u32::try_from(item.index).unwrap_or(u32::MAX),
                text: item.metadata.text,
                hex: item.metadata.hex,
                bytes: item.metadata.bytes,
                document,
                document_error,
            }
        })
        .collect()
}

/// A proposal checked and ready to sign: the detail, and the body the device would sign,
/// decoded here.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    /// The proposal, decoded.
    pub detail: ProposalDetail,
    /// The mirror node the scheduled body was found identical at.
    pub mirror: String,
    /// Short fingerprint of the bytes the device signs.
    pub body_fingerprint: String,
    /// Every field of the bytes the device signs.
    pub body: Vec<FieldView>,
    /// The body is refused by the ledger after this, RFC 3339 UTC: review again after it.
    pub expires_at: String,
}

/// The reviews waiting for a signature, by profile and proposal. A new review of the same
/// proposal replaces the old; signing uses and removes it.
pub type Reviews = super::Waiting<(String, String), (String, Review)>;

impl From<ReviewError> for IpcError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Connection(e) => e.into(),
            e @ (ReviewError::Decode(_) | ReviewError::Mismatch(_)) => IpcError::new(
                ErrorCode::DoNotSign,
                e.to_string(),
                "Do not sign. Reject the proposal with this reason and tell your security team: the server may be compromised.",
            ),
            e @ ReviewError::Ledger { .. } => IpcError::new(
                ErrorCode::MirrorUnreachable,
                e.to_string(),
                "Nothing was signed. Check the mirror node pinned in your profile answers (gatehouse profile show), then review again.",
            ),
            e => IpcError::new(
                ErrorCode::Internal,
                e.to_string(),
                "Nothing was signed. Try again; if it keeps happening, report it.",
            ),
        }
    }
}

pub(crate) async fn me(connection: &gatehouse_client::Connection) -> Result<String, IpcError> {
    Ok(connection.whoami().await?.name)
}

async fn fetch(connection: &gatehouse_client::Connection, id: &str) -> Result<Proposal, IpcError> {
    Ok(connection.get(&format!("/v1/proposals/{id}")).await?)
}

/// The proposals (newest first, at most 200), the server's alarms, and who I am.
#[tauri::command]
#[specta::specta]
pub async fn proposals_list(
    console: State<'_, Console>,
    profile: String,
) -> Result<Approvals, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let list: Vec<Proposal> = connection.get("/v1/proposals?limit=200").await?;
    let alarms: Vec<Alarm> = connection.get("/v1/alarms").await?;
    let mirror = store(&console)?.get(&profile)?.mirror_url;
    Ok(Approvals {
        proposals: list.iter().map(|p| ProposalSummary::new(p, &me)).collect(),
        alarms: alarms.into_iter().map(AlarmView::from).collect(),
        me,
        mirror,
        live: console.live.events_live(&profile),
    })
}

/// One proposal, its scheduled body decoded here.
#[tauri::command]
#[specta::specta]
pub async fn proposal_detail(
    console: State<'_, Console>,
    profile: String,
    id: String,
) -> Result<ProposalDetail, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let proposal = fetch(&connection, &id).await?;
    let current = policy_in_force(&connection, &proposal).await;
    Ok(detail(&proposal, &me, current.as_ref()))
}

/// The policy in force, for showing what a policy change changes; `None` for other proposals,
/// or when it cannot be read (the change is then shown without the comparison).
async fn policy_in_force(
    connection: &gatehouse_client::Connection,
    proposal: &Proposal,
) -> Option<gatehouse_protocol::policy::PolicyDocument> {
    if proposal.kind != ProposalKind::Policy {
        return None;
    }
    match proposals::current_policy(connection).await {
        Ok(current) => Some(current.policy),
        Err(e) => {
            tracing::warn!(error = %e, "the policy in force could not be read");
            None
        }
    }
}

/// Prepares an approval (or, with `new_key`, the signature of the caller's new key in an admin or
/// treasury rotation): checks the scheduled body against the ledger's copy (from the mirror
/// pinned in the profile), asks the server for the body to sign and decodes it. Nothing is
/// signed; the checked review waits here for `proposal_approve`.
#[tauri::command]
#[specta::specta]
pub async fn proposal_review(
    console: State<'_, Console>,
    profile: String,
    id: String,
    new_key: bool,
) -> Result<ReviewView, IpcError> {
    let mirror = store(&console)?.get(&profile)?.mirror_url.ok_or_else(|| {
        IpcError::new(
            ErrorCode::MirrorNotPinned,
            format!("profile {profile} pins no mirror node to check what you sign against"),
            format!(
                "Pin the mirror node your security team gave you: gatehouse profile mirror {profile} https://MIRROR, then review again."
            ),
        )
    })?;
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let review = proposals::review_as(&connection, &id, &mirror, new_key).await?;
    let current = policy_in_force(&connection, &review.proposal).await;
    // Anything in the detail that does not check (a document under another CID) stops here too.
    let detail = detail(&review.proposal, &me, current.as_ref());
    if let Some(problem) = &detail.problem {
        return Err(IpcError::new(
            ErrorCode::DoNotSign,
            format!("do not sign: {problem}"),
            "Reject the proposal with this reason.",
        ));
    }
    if let Some(bad) = detail.items.iter().find(|i| i.document_error.is_some()) {
        return Err(IpcError::new(
            ErrorCode::DoNotSign,
            format!(
                "do not sign: NFT {}'s document does not check: {}",
                bad.index,
                bad.document_error.clone().unwrap_or_default()
            ),
            "Reject the proposal with this reason; the proposer can supply the right document.",
        ));
    }
    let view = ReviewView {
        detail,
        mirror: review.mirror.clone(),
        body_fingerprint: review.body.fingerprint.clone(),
        body: fields(proposals::body_fields(&review.body)),
        expires_at: time(&review.request.expires_at),
    };
    console
        .reviews
        .put((profile.clone(), review.proposal.id.clone()), (me, review));
    Ok(view)
}

/// The device as the approval records it: model and serial, or a token's label.
pub(crate) fn device_label(info: &gatehouse_keys::device::Info) -> String {
    if info.serial.is_empty() {
        info.label.clone()
    } else {
        format!("{} {}", info.model, info.serial)
    }
}

/// Signs the reviewed proposal's body on `device` (an id from the last scan) with the key there
/// that is the person's enrolled ledger key, and sends the signature. The review is used once:
/// signing again needs a new review.
#[tauri::command]
#[specta::specta]
pub async fn proposal_approve(
    console: State<'_, Console>,
    profile: String,
    id: String,
    device: String,
    pin: String,
) -> Result<ProposalSummary, IpcError> {
    let pin = gatehouse_keys::Pin::new(pin);
    let (me, review) = console
        .reviews
        .take(&(profile.clone(), id.clone()))
        .ok_or_else(|| {
            IpcError::new(
                ErrorCode::ReviewRequired,
                "this proposal has not been reviewed here, or its review was used",
                "Open the proposal and review it again: nothing is signed without a review.",
            )
        })?;
    let connection = connection_for(&console, &profile)?;
    let signer = Signer {
        console: &console,
        connection: &connection,
        me: &me,
        device: &device,
        wanted: review.request.public_key.clone(),
    };
    let (signature, label) = signer
        .sign(
            pin,
            review.body_bytes.clone(),
            review.request.expires_at,
            "Review the proposal again and sign within three minutes.",
        )
        .await?;
    let proposal = proposals::submit(&connection, &review, &signature, Some(label)).await?;
    Ok(ProposalSummary::new(&proposal, &me))
}

/// Who signs, where: `me`'s ledger key on `device` (an id from the last scan): the key the server
/// named (`wanted`, hex) when it did, else any of `me`'s keys in use.
pub(crate) struct Signer<'a> {
    pub console: &'a Console,
    pub connection: &'a gatehouse_client::Connection,
    pub me: &'a str,
    pub device: &'a str,
    pub wanted: Option<String>,
}

impl Signer<'_> {
    /// Signs `bytes` (which the ledger accepts until `expires_at`; `again` says how to start over
    /// once it does not) with the key on the device that is the enrolled ledger key: the
    /// signature, and the device as the record names it.
    pub(crate) async fn sign(
        &self,
        pin: gatehouse_keys::Pin,
        bytes: Vec<u8>,
        expires_at: DateTime<Utc>,
        again: &str,
    ) -> Result<(Vec<u8>, String), IpcError> {
        still_valid(expires_at, again)?;
        let (console, connection, me, device) =
            (self.console, self.connection, self.me, self.device);
        let locator = console.devices.locate(device)?;
        let mut keys: Vec<LedgerKey> = connection.get("/v1/ledger-keys").await?;
        if self.wanted.is_some() {
            // A rotation's new key is staged until the rotation executes.
            keys.extend(
                connection
                    .get::<Vec<LedgerKey>>("/v1/ledger-keys/staged")
                    .await?,
            );
        }
        let mine: Vec<LedgerKey> = keys
            .into_iter()
            .filter(|k| k.officer == me)
            .filter(|k| self.wanted.as_ref().is_none_or(|w| *w == k.public_key))
            .collect();
        if mine.is_empty() {
            return Err(IpcError::new(
                ErrorCode::DeviceRefused,
                match &self.wanted {
                    Some(w) => format!("{me} holds no ledger key {w} in use"),
                    None => format!("{me} has no enrolled ledger key"),
                },
                "Enrol the key on your device first (gatehouse ledger-key enrol), or ask an administrator which key the token holds for you (gatehouse rotate show).",
            ));
        }
        let wanted: Vec<String> = mine.iter().map(|k| k.public_key.clone()).collect();
        let (_, signature, label) = sign_on_device(
            locator,
            pin,
            bytes,
            move |key| wanted.contains(&hedera_hex(key)),
            move |device| {
                let key = &mine[0];
                IpcError::new(
                    ErrorCode::DeviceRefused,
                    format!("{device} does not hold your ledger key {}", key.public_key),
                    format!(
                        "Choose the device that key is on ({}).",
                        key.device
                            .as_deref()
                            .unwrap_or("see gatehouse ledger-key list")
                    ),
                )
            },
        )
        .await?;
        Ok((signature, label))
    }
}

/// Opens the device at `locator` with `pin`, finds the key `wanted` picks (else the error
/// `missing` makes of the device), and signs `bytes` with it: the key, the signature, and the
/// device as the record names it. On the blocking pool (a PIN or a touch can take seconds).
pub(crate) async fn sign_on_device(
    locator: gatehouse_keys::device::Locator,
    pin: gatehouse_keys::Pin,
    bytes: Vec<u8>,
    wanted: impl Fn(&gatehouse_keys::key::PublicKey) -> bool + Send + 'static,
    missing: impl FnOnce(&gatehouse_keys::device::Info) -> IpcError + Send + 'static,
) -> Result<(gatehouse_keys::key::PublicKey, Vec<u8>, String), IpcError> {
    blocking(move || {
        let mut opened = gatehouse_keys::open(&locator, &pin)?;
        let key = opened
            .keys()?
            .into_iter()
            .find(|k| wanted(&k.public_key))
            .ok_or_else(|| missing(opened.info()))?;
        let signature = opened.sign(&key.id, &bytes)?;
        Ok((
            key.public_key,
            signature.as_bytes().to_vec(),
            device_label(opened.info()),
        ))
    })
    .await
}

/// Refuses to sign what the ledger accepts only until `expires_at` once that has passed; `again`
/// says how to start over.
pub(crate) fn still_valid(expires_at: DateTime<Utc>, again: &str) -> Result<(), IpcError> {
    if expires_at <= Utc::now() {
        return Err(IpcError::new(
            ErrorCode::ReviewRequired,
            "what you were about to sign expired: the ledger would refuse the signature",
            again,
        ));
    }
    Ok(())
}

/// A public key as the server lists ledger keys: Ed25519 raw, secp256k1 compressed, hex.
fn hedera_hex(key: &gatehouse_keys::key::PublicKey) -> String {
    match key.algorithm() {
        Algorithm::Ed25519 => hex::encode(key.as_bytes()),
        _ => hex::encode(key.compressed().unwrap_or_default()),
    }
}

/// Posts `body` to `path` (a proposal's creation or one of its actions) as `profile`: the
/// proposal as the server now has it, as the person sees it.
pub(crate) async fn post_proposal(
    console: &State<'_, Console>,
    profile: &str,
    path: &str,
    body: &impl Serialize,
) -> Result<ProposalSummary, IpcError> {
    let connection = connection_for(console, profile)?;
    let me = me(&connection).await?;
    let proposal: Proposal = connection.post(path, body).await?;
    Ok(ProposalSummary::new(&proposal, &me))
}

/// Rejects a proposal, with a reason.
#[tauri::command]
#[specta::specta]
pub async fn proposal_reject(
    console: State<'_, Console>,
    profile: String,
    id: String,
    reason: String,
) -> Result<ProposalSummary, IpcError> {
    let path = format!("/v1/proposals/{id}/reject");
    let proposal = post_proposal(&console, &profile, &path, &Reject { reason }).await?;
    console.reviews.take(&(profile.clone(), id.clone()));
    Ok(proposal)
}

/// Cancels a proposal (its proposer, or an administrator).
#[tauri::command]
#[specta::specta]
pub async fn proposal_cancel(
    console: State<'_, Console>,
    profile: String,
    id: String,
) -> Result<ProposalSummary, IpcError> {
    let path = format!("/v1/proposals/{id}/cancel");
    let proposal = post_proposal(&console, &profile, &path, &serde_json::json!({})).await?;
    console.reviews.take(&(profile.clone(), id.clone()));
    Ok(proposal)
}

/// Proposes minting one NFT per `metadata` entry (usually an `ipfs://` URI, at most 100 bytes).
#[tauri::command]
#[specta::specta]
pub async fn mint_propose(
    console: State<'_, Console>,
    profile: String,
    metadata: Vec<String>,
) -> Result<ProposalSummary, IpcError> {
    let metadata = metadata
        .into_iter()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    let mint = NewMint {
        metadata,
        documents: Vec::new(),
    };
    post_proposal(&console, &profile, "/v1/proposals/mint", &mint).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_protocol::proposal::{Approval, Rejection};

    fn proposal() -> Proposal {
        Proposal {
            scheduled_body: "not base64!".into(),
            ..Proposal::open_mint_for_tests()
        }
    }

    #[test]
    fn a_proposal_waits_only_for_eligible_officers_who_have_not_acted() {
        let mut p = proposal();
        assert!(waits_for(&p, "bob"));
        assert!(!waits_for(&p, "alice"), "not the proposer");
        assert!(!waits_for(&p, "dave"), "not someone ineligible");
        p.approvals.push(Approval {
            officer: "bob".into(),
            at: Utc::now(),
            device: None,
            transaction_id: "t".into(),
            relayed: true,
        });
        p.rejections.push(Rejection {
            officer: "carol".into(),
            at: Utc::now(),
            reason: "no".into(),
        });
        assert!(!waits_for(&p, "bob"), "bob signed");
        assert!(!waits_for(&p, "carol"), "carol rejected");
        let mut done = proposal();
        done.status = ProposalStatus::Executed;
        assert!(
            !waits_for(&done, "bob"),
            "settled proposals wait for nobody"
        );
    }

    fn admin_rotation(role: gatehouse_protocol::proposal::KeyRole) -> Proposal {
        use gatehouse_protocol::proposal::{LedgerKeyAlgorithm, RoleKey, RotationHolder};
        let holder = |officer: &str, staged: bool| RotationHolder {
            officer: officer.into(),
            public_key: format!("{officer}-key"),
            algorithm: LedgerKeyAlgorithm::Ed25519,
            evidence: "attested".into(),
            staged,
            approves: !staged,
        };
        Proposal {
            kind: ProposalKind::Rotation,
            payload: Payload::Rotation {
                token: "0.0.5".into(),
                role,
                threshold: 2,
                holders: vec![
                    holder("alice", true),
                    holder("bob", false),
                    holder("carol", true),
                ],
                before: RoleKey {
                    role,
                    threshold: 2,
                    members: Vec::new(),
                    protobuf: String::new(),
                    proposal: String::new(),
                    applied_at: Utc::now(),
                    confirmed_at: None,
                },
                treasury: None,
            },
            ..proposal()
        }
    }

    #[test]
    fn an_admin_rotation_waits_for_its_new_keys_until_their_threshold() {
        use gatehouse_protocol::proposal::{KeyRole, KeySignature};
        let mut p = admin_rotation(KeyRole::Admin);
        let shown = NewKeyView::of(&p, "alice").expect("an admin rotation asks the new key");
        assert_eq!(
            (shown.needed, shown.holders.len(), shown.waits_for_me),
            (2, 3, true)
        );
        assert!(
            needs(&p, "alice"),
            "alice is the proposer, yet her new key must sign"
        );
        assert!(!NewKeyView::of(&p, "dave").expect("shown").waits_for_me);
        let signed = |officer: &str| KeySignature {
            officer: officer.into(),
            public_key: format!("{officer}-key"),
            at: Utc::now(),
            device: None,
            transaction_id: "t".into(),
        };
        p.key_signatures.push(signed("alice"));
        assert!(
            !NewKeyView::of(&p, "alice").expect("shown").waits_for_me,
            "alice signed"
        );
        assert!(
            !NewKeyView::of(&p, "bob").expect("shown").waits_for_me,
            "bob keeps his admin key: his approval carries its signature"
        );
        assert!(NewKeyView::of(&p, "carol").expect("shown").waits_for_me);
        p.key_signatures.push(signed("carol"));
        let done = NewKeyView::of(&p, "bob").expect("shown");
        assert_eq!(done.signed, vec!["alice", "carol"]);
        assert!(!done.waits_for_me, "the threshold is met");
        assert!(NewKeyView::of(&admin_rotation(KeyRole::Supply), "alice").is_none());
        let mut settled = admin_rotation(KeyRole::Treasury);
        settled.status = ProposalStatus::Executed;
        assert!(
            !NewKeyView::of(&settled, "alice")
                .expect("shown")
                .waits_for_me
        );
    }

    #[test]
    fn a_body_that_cannot_be_decoded_is_shown_as_a_problem_not_as_fields() {
        let shown = detail(&proposal(), "bob", None);
        assert!(shown.scheduled.is_empty());
        assert!(shown.fingerprint.is_none());
        assert!(
            shown
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("never signed")),
            "{:?}",
            shown.problem
        );
    }

    #[test]
    fn a_policy_change_shows_every_rule_what_changes_and_whether_the_bytes_commit_to_it() {
        use gatehouse_protocol::policy::{PolicyDocument, Rule, commitment};
        let officers: Vec<String> = vec!["alice".into(), "bob".into(), "carol".into()];
        let current = PolicyDocument::initial(2, &officers);
        let next = current
            .with_rule("mint", Rule::new(3, officers.clone()))
            .to_text();
        let honest = Proposal::open_policy_for_tests(&next, &commitment(&next));
        let shown = detail(&honest, "bob", Some(&current));
        assert_eq!(shown.problem, None);
        let policy = shown.policy.expect("a policy change");
        assert!(policy.committed);
        assert_eq!((policy.version, policy.replaces), (Some(2), 1));
        assert_eq!(
            policy
                .rules
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value))
                .collect::<Vec<_>>(),
            [
                "mint: 3 of alice, bob, carol",
                "policy: 2 of alice, bob, carol",
                "resume: 2 of alice, bob, carol"
            ]
        );
        assert_eq!(policy.changes.len(), 1);
        assert_eq!(
            policy.changes[0].value,
            "2 of alice, bob, carol -> 3 of alice, bob, carol"
        );
        assert!(
            shown
                .scheduled
                .iter()
                .any(|f| f.label == "new token memo" && f.value == commitment(&next))
        );
        let swapped = Proposal::open_policy_for_tests(&next, &commitment("another document"));
        let shown = detail(&swapped, "bob", Some(&current));
        assert!(!shown.policy.expect("shown").committed);
        assert!(
            shown
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("does not commit")),
            "{:?}",
            shown.problem
        );
    }

    #[test]
    fn review_failures_say_do_not_sign_or_check_the_mirror() {
        let mismatch = IpcError::from(ReviewError::Mismatch("other bytes".into()));
        assert_eq!(mismatch.code, ErrorCode::DoNotSign);
        let ledger = IpcError::from(ReviewError::Ledger {
            mirror: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        });
        assert_eq!(ledger.code, ErrorCode::MirrorUnreachable);
        assert!(ledger.hint.contains("Nothing was signed"));
    }
}
