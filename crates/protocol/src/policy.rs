//! Approval policy (invariant 1): for each kind of action, how many officers must approve and
//! which officers may. The wire types of `GET /v1/policy` and `POST /v1/proposals/policy`.
//!
//! The policy in force is a JSON document that the ledger anchors: the token's memo holds
//! [`commitment`] of the document's exact text, and a change is a scheduled TokenUpdate of that
//! memo, which the token's admin key (the officers' threshold key) must sign. So a policy change
//! needs the current quorum on the ledger itself, and anyone who reads the token on a mirror node
//! can tell whether the server's policy is the one the officers approved.
//!
//! Where the ledger executes an action under the officers' threshold key (mints, policy changes),
//! that key's threshold is the floor: a policy may ask more approvals than the key (the server
//! records the first ones as endorsements and relays the last ones to the ledger), never fewer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The kinds of action a policy has a rule for.
pub const KINDS: [&str; 3] = ["mint", "policy", "resume"];

/// What the token memo of an anchored policy starts with; the SHA-256 of the document, hex, follows.
pub const COMMITMENT_PREFIX: &str = "gatehouse policy sha256:";

/// One kind's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rule {
    /// Distinct approvals needed.
    pub threshold: u32,
    /// Officers who may approve, sorted.
    pub eligible: Vec<String>,
}

/// The whole policy, as anchored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PolicyDocument {
    /// 1 for the token's first policy, one more for each change.
    pub version: u32,
    /// The rule of each kind in [`KINDS`].
    pub rules: BTreeMap<String, Rule>,
}

impl PolicyDocument {
    /// The first policy: every kind needs `threshold` of `officers`.
    pub fn initial(threshold: u32, officers: &[String]) -> Self {
        let rule = Rule::new(threshold, officers.to_vec());
        Self {
            version: 1,
            rules: KINDS
                .iter()
                .map(|k| ((*k).to_owned(), rule.clone()))
                .collect(),
        }
    }

    /// The document's text: what is hashed and anchored (compact JSON, keys sorted).
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a document's text, refusing anything but a well-formed policy.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Self =
            serde_json::from_str(text).map_err(|e| format!("not a policy document: {e}"))?;
        for kind in KINDS {
            if !doc.rules.contains_key(kind) {
                return Err(format!("the policy has no rule for {kind:?}"));
            }
        }
        if let Some(kind) = doc.rules.keys().find(|k| !KINDS.contains(&k.as_str())) {
            return Err(format!(
                "the policy has a rule for an unknown kind {kind:?}"
            ));
        }
        Ok(doc)
    }

    /// The rule of `kind`.
    pub fn rule(&self, kind: &str) -> Option<&Rule> {
        self.rules.get(kind)
    }

    /// This document with `kind`'s rule replaced, one version later.
    pub fn with_rule(&self, kind: &str, rule: Rule) -> Self {
        let mut next = self.clone();
        next.version += 1;
        next.rules.insert(kind.to_owned(), rule);
        next
    }
}

impl Rule {
    /// A rule; `eligible` is sorted and deduplicated.
    pub fn new(threshold: u32, mut eligible: Vec<String>) -> Self {
        eligible.sort();
        eligible.dedup();
        Self {
            threshold,
            eligible,
        }
    }
}

/// SHA-256 of `document`'s text, hex.
pub fn sha256(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token memo that anchors `document` (88 bytes, under Hedera's 100).
pub fn commitment(document: &str) -> String {
    format!("{COMMITMENT_PREFIX}{}", sha256(document))
}

/// The document hash a token memo anchors, if it anchors one.
pub fn committed_hash(memo: &str) -> Option<&str> {
    memo.strip_prefix(COMMITMENT_PREFIX)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `GET /v1/policy`: the policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CurrentPolicy {
    /// The document's exact text (what the token memo commits to).
    pub document: String,
    /// The document, read.
    pub policy: PolicyDocument,
    /// SHA-256 of `document`, hex.
    pub sha256: String,
    /// The proposal that put it in force (the token's creation for the first one).
    pub proposal: String,
    /// When the server recorded it.
    pub applied_at: DateTime<Utc>,
    /// The token it governs.
    pub token: String,
    /// The officers whose keys make up the token's threshold key, and that key's threshold: no
    /// rule can ask fewer approvals than this, nor name anyone else.
    pub key_holders: Vec<String>,
    /// The threshold of the token's admin and supply keys.
    pub key_threshold: u32,
}

/// `POST /v1/proposals/policy`: a new rule for one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewRule {
    /// The kind (`mint` or `policy`).
    pub kind: String,
    /// Distinct approvals needed.
    pub threshold: u32,
    /// Officers who may approve.
    pub eligible: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_round_trips_and_its_commitment_fits_a_token_memo() {
        let doc = PolicyDocument::initial(2, &["carol".into(), "alice".into(), "bob".into()]);
        let text = doc.to_text();
        assert_eq!(PolicyDocument::parse(&text), Ok(doc.clone()));
        assert_eq!(doc.rule("mint").map(|r| r.eligible.len()), Some(3));
        assert_eq!(
            doc.rule("mint").map(|r| r.eligible[0].as_str()),
            Some("alice")
        );
        let memo = commitment(&text);
        assert!(memo.len() <= 100, "{} bytes", memo.len());
        assert_eq!(committed_hash(&memo), Some(sha256(&text).as_str()));
        assert_eq!(committed_hash("gatehouse"), None);
        assert_eq!(committed_hash("gatehouse policy sha256:abc"), None);
    }

    #[test]
    fn a_changed_rule_is_one_version_later_and_malformed_documents_are_refused() {
        let doc = PolicyDocument::initial(2, &["a".into(), "b".into(), "c".into()]);
        let next = doc.with_rule(
            "mint",
            Rule::new(3, vec!["c".into(), "a".into(), "b".into(), "a".into()]),
        );
        assert_eq!(next.version, 2);
        assert_eq!(
            next.rule("mint"),
            Some(&Rule::new(3, vec!["a".into(), "b".into(), "c".into()]))
        );
        assert_eq!(next.rule("policy"), doc.rule("policy"));
        assert!(PolicyDocument::parse("{}").is_err());
        let missing = r#"{"version":1,"rules":{"mint":{"threshold":1,"eligible":["a"]}}}"#;
        assert!(
            PolicyDocument::parse(missing)
                .expect_err("no policy rule")
                .contains("policy")
        );
        let extra = r#"{"version":1,"rules":{},"admin":"mallory"}"#;
        assert!(PolicyDocument::parse(extra).is_err());
        let unknown = doc
            .with_rule("burn", Rule::new(1, vec!["a".into()]))
            .to_text();
        assert!(
            PolicyDocument::parse(&unknown)
                .expect_err("an unknown kind")
                .contains("burn")
        );
    }
}
