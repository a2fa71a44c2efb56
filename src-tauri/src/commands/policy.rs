//! The approval policy in the console: the policy in force with its anchor on the ledger (the
//! token's memo, read from the mirror pinned in the profile, never an address the server gives),
//! and proposing a new rule for one kind. Approving a change goes through the approvals queue like
//! any proposal.

use chrono::SecondsFormat;
use gatehouse_client::proposals::{self, Anchor};
use gatehouse_protocol::policy::NewRule;
use serde::Serialize;
use tauri::State;

use super::IpcError;
use super::connection::connection_for;
use super::profile::store;
use super::proposals::{ProposalSummary, me};
use crate::Console;

/// One kind's rule.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    /// The kind (`mint`, `policy`).
    pub kind: String,
    /// Approvals needed.
    pub threshold: u32,
    /// Officers who may approve.
    pub eligible: Vec<String>,
}

/// Whether the ledger anchors the policy the server shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum AnchorView {
    /// The token's memo is this document's SHA-256.
    Matches {
        /// The mirror read.
        mirror: String,
    },
    /// The memo commits to another document: the server's policy is not the one approved.
    Differs {
        /// The mirror read.
        mirror: String,
        /// The memo on the ledger.
        memo: String,
    },
    /// The memo commits to no policy (a token from before policies were anchored).
    NotAnchored {
        /// The mirror read.
        mirror: String,
        /// The memo on the ledger.
        memo: String,
    },
    /// Not checked: no mirror pinned, or it could not be read.
    Unchecked {
        /// Why, and what to do.
        reason: String,
    },
}

/// The policy in force.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// Its version.
    pub version: u32,
    /// The proposal that put it in force.
    pub proposal: String,
    /// When the server recorded it, RFC 3339 UTC.
    pub applied_at: String,
    /// The token whose memo anchors it.
    pub token: String,
    /// Officers whose keys make up the token's threshold key: the only ones a rule may name.
    pub key_holders: Vec<String>,
    /// That key's threshold: no rule may ask fewer approvals.
    pub key_threshold: u32,
    /// Every rule.
    pub rules: Vec<RuleView>,
    /// SHA-256 of the document, hex.
    pub sha256: String,
    /// The check against the ledger.
    pub anchor: AnchorView,
}

/// The policy in force, checked against the token's memo on the profile's pinned mirror.
#[tauri::command]
#[specta::specta]
pub async fn policy_current(
    console: State<'_, Console>,
    profile: String,
) -> Result<PolicyView, IpcError> {
    let mirror = store(&console)?.get(&profile)?.mirror_url;
    let connection = connection_for(&console, &profile)?;
    let current = proposals::current_policy(&connection).await?;
    let anchor = match mirror {
        None => AnchorView::Unchecked {
            reason: "this profile pins no mirror node: pin one on the Approvals screen to check the policy against the ledger".to_owned(),
        },
        Some(mirror) => match proposals::policy_anchor(&mirror, &current).await {
            Ok(Anchor::Matches) => AnchorView::Matches { mirror },
            Ok(Anchor::Differs { memo }) => AnchorView::Differs { mirror, memo },
            Ok(Anchor::NotAnchored { memo }) => AnchorView::NotAnchored { mirror, memo },
            Err(e) => AnchorView::Unchecked {
                reason: format!("{e}; check the mirror and open the policy again"),
            },
        },
    };
    Ok(PolicyView {
        version: current.policy.version,
        proposal: current.proposal,
        applied_at: current
            .applied_at
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        token: current.token,
        key_holders: current.key_holders,
        key_threshold: current.key_threshold,
        rules: current
            .policy
            .rules
            .into_iter()
            .map(|(kind, rule)| RuleView {
                kind,
                threshold: rule.threshold,
                eligible: rule.eligible,
            })
            .collect(),
        sha256: current.sha256,
        anchor,
    })
}

/// Proposes `kind`'s new rule; the current quorum approves it on the ledger.
#[tauri::command]
#[specta::specta]
pub async fn policy_propose(
    console: State<'_, Console>,
    profile: String,
    kind: String,
    threshold: u32,
    eligible: Vec<String>,
) -> Result<ProposalSummary, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let rule = NewRule {
        kind,
        threshold,
        eligible,
    };
    let proposal = proposals::propose_rule(&connection, &rule).await?;
    Ok(ProposalSummary::new(&proposal, &me))
}
