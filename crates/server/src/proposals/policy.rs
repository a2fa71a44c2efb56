//! The approval policy: a rule (threshold, eligible officers) per kind of action, anchored on the
//! ledger in the token's memo; changing it is a proposal the current quorum executes there.
//!
//! The token's admin and supply keys are ThresholdKey(M, officers' keys), so the ledger holds every
//! rule to at least M of those officers. A rule may ask more (the server then records the first
//! approvals as endorsements and relays only the last M to the ledger, see
//! [`Engine::approve`]), never fewer, and may name only officers whose keys are in that key:
//! anything else would be a policy the ledger does not carry out.

use gatehouse_protocol::ErrorCode;
use gatehouse_protocol::policy::{self, CurrentPolicy, KINDS, NewRule, PolicyDocument, Rule};
use gatehouse_protocol::proposal::{KeyRole, Payload, Proposal, ProposalKind, ProposalStatus};
use hiero_sdk_proto::services as pb;

use super::engine::{By, Engine, parse_token};
use super::store;
use crate::http::Error;

/// The deployment's token and its threshold key, as its creation proposal made them.
#[derive(Debug, Clone)]
pub struct TokenKeys {
    /// The token.
    pub token: String,
    /// The officers whose keys make up its admin and supply keys.
    pub officers: Vec<String>,
    /// Those keys' threshold.
    pub threshold: u32,
    /// The proposal that created it.
    pub created_by: String,
}

/// Checks `new` against the token's key and the registry's enabled officers; returns the rule.
/// The message names the field and says what to do.
pub fn check_rule(
    new: &NewRule,
    key_holders: &[String],
    key_threshold: u32,
    enabled: &[String],
    current: &PolicyDocument,
) -> Result<Rule, String> {
    if !KINDS.contains(&new.kind.as_str()) {
        return Err(format!(
            "kind: {:?} is not one of {}",
            new.kind,
            KINDS.join(", ")
        ));
    }
    let rule = Rule::new(new.threshold, new.eligible.clone());
    if rule.eligible.len() != new.eligible.len() {
        return Err("eligible: an officer is named twice".to_owned());
    }
    if rule.eligible.is_empty() {
        return Err("eligible: name the officers who may approve".to_owned());
    }
    for officer in &rule.eligible {
        if !key_holders.contains(officer) {
            return Err(format!(
                "eligible: {officer} holds no key in the token's threshold key ({}), so the ledger would not count their approval; add them by rotating the key",
                key_holders.join(", ")
            ));
        }
        if !enabled.contains(officer) {
            return Err(format!(
                "eligible: {officer} is not an enabled officer in the registry"
            ));
        }
    }
    if rule.threshold < key_threshold {
        return Err(format!(
            "threshold: the token's keys need {} signatures, so a rule of {} could never execute; lowering it means rotating the keys",
            key_threshold, rule.threshold
        ));
    }
    if rule.threshold as usize > rule.eligible.len() {
        return Err(format!(
            "threshold: {} approvals from {} eligible officer(s) could never be reached",
            rule.threshold,
            rule.eligible.len()
        ));
    }
    if current.rule(&new.kind) == Some(&rule) {
        return Err(format!(
            "the {} rule is {} of {} already: nothing would change",
            new.kind,
            rule.threshold,
            rule.eligible.join(", ")
        ));
    }
    Ok(rule)
}

/// What a change of the token needs under `current`: the token's id, and the policy rule
/// (the quorum that approves changes of the token: its policy and its keys).
pub(super) fn token_change(current: &CurrentPolicy) -> Result<(pb::TokenId, &Rule), Error> {
    let token_id =
        parse_token(&current.token).ok_or_else(|| internal("the stored token id is malformed"))?;
    let quorum = current
        .policy
        .rule("policy")
        .ok_or_else(|| internal("the policy in force has no rule for policy changes"))?;
    Ok((token_id, quorum))
}

fn internal(message: &str) -> Error {
    Error::Api(ErrorCode::Internal, message.to_owned())
}

impl Engine {
    /// The token and its keys, or a 409 when there is no token yet.
    pub async fn token_keys(&self) -> Result<TokenKeys, Error> {
        let Some((token, _treasury, created_by)) = store::token(self.db()).await? else {
            return Err(Error::Api(
                ErrorCode::Conflict,
                "the deployment has no token yet: an administrator proposes it (gatehouse token propose) and officers approve".to_owned(),
            ));
        };
        let creation = self.get(&created_by).await?;
        let Payload::TokenCreate {
            officers,
            threshold,
            ..
        } = creation.payload
        else {
            return Err(internal(
                "the token's creation proposal is not a token creation",
            ));
        };
        Ok(TokenKeys {
            token,
            officers,
            threshold,
            created_by,
        })
    }

    /// The policy in force. The first one is the token's: every kind needs the key's threshold
    /// of its officers (the token's creation memo anchors it); it is recorded on first use.
    pub async fn policy(&self) -> Result<CurrentPolicy, Error> {
        let keys = self.token_keys().await?;
        let row = match store::policy(self.db()).await? {
            Some(row) => row,
            None => {
                let text = PolicyDocument::initial(keys.threshold, &keys.officers).to_text();
                let mut tx = self.db().begin().await.map_err(crate::store::Error::from)?;
                store::insert_policy(&mut tx, 1, &text, &policy::sha256(&text), &keys.created_by)
                    .await?;
                tx.commit().await.map_err(crate::store::Error::from)?;
                store::policy(self.db())
                    .await?
                    .ok_or_else(|| internal("the first policy was not recorded"))?
            }
        };
        let (_version, document, sha256, proposal, applied_at) = row;
        let parsed = PolicyDocument::parse(&document).map_err(|e| {
            Error::Db(crate::store::Error::Corrupt {
                fingerprint: "policy".to_owned(),
                reason: e,
            })
        })?;
        if policy::sha256(&document) != sha256 {
            return Err(Error::Db(crate::store::Error::Corrupt {
                fingerprint: "policy".to_owned(),
                reason: "the stored document does not match its hash".to_owned(),
            }));
        }
        // The admin key: the one every change of the token (the policy's anchor) needs.
        let admin = self.role_key(KeyRole::Admin).await?;
        Ok(CurrentPolicy {
            document,
            policy: parsed,
            sha256,
            proposal,
            applied_at,
            token: keys.token,
            key_holders: admin.members.into_iter().map(|m| m.officer).collect(),
            key_threshold: admin.threshold,
        })
    }

    /// The fewest approvals the ledger itself needs to execute `proposal`: the threshold of the
    /// token key it needs (see [`super::engine::signing_role`]).
    pub async fn ledger_floor(&self, proposal: &Proposal) -> Result<u32, Error> {
        match &proposal.payload {
            // No token yet: the key it creates.
            Payload::TokenCreate { threshold, .. } => Ok(*threshold),
            _ => {
                let role = super::engine::signing_role(proposal.kind).unwrap_or(KeyRole::Admin);
                Ok(self.role_key(role).await?.threshold)
            }
        }
    }

    /// Proposes `new` as `new.kind`'s rule: a scheduled TokenUpdate that sets the token's memo to
    /// the new document's commitment. It needs the current policy quorum and at least the current
    /// quorum of the kind it changes; one policy change is open at a time.
    pub async fn propose_policy(&self, by: &By, new: &NewRule) -> Result<Proposal, Error> {
        let object = "proposal:policy".to_owned();
        // The policy in force carries the token and its key: one read for both.
        let current = self.policy().await?;
        let enabled: Vec<String> = crate::registry::store::officers(self.db())
            .await?
            .into_iter()
            .filter(|o| !o.disabled && o.roles.contains(&gatehouse_protocol::Role::Officer))
            .map(|o| o.name)
            .collect();
        // A rule is held to the key its kind's proposals need (mints: the supply key).
        let role = ProposalKind::from_name(&new.kind)
            .and_then(super::engine::signing_role)
            .unwrap_or(KeyRole::Admin);
        let key = self.role_key(role).await?;
        let holders: Vec<String> = key.members.iter().map(|m| m.officer.clone()).collect();
        let rule = match check_rule(new, &holders, key.threshold, &enabled, &current.policy) {
            Ok(rule) => rule,
            Err(message) => return Err(self.invalid(by, object, message).await),
        };
        if store::list(self.db(), Some(ProposalStatus::Open), 1000)
            .await?
            .iter()
            .any(|p| p.kind == ProposalKind::Policy)
        {
            return Err(Error::Api(
                ErrorCode::Conflict,
                "a policy change is open already; approve, reject or cancel it first".to_owned(),
            ));
        }
        let next = current.policy.with_rule(&new.kind, rule);
        let document = next.to_text();
        let (token_id, quorum) = token_change(&current)?;
        let changed = current.policy.rule(&new.kind).map_or(0, |r| r.threshold);
        let threshold = quorum.threshold.max(changed);
        let id = uuid::Uuid::new_v4().to_string();
        let inner = pb::SchedulableTransactionBody {
            transaction_fee: 2_000_000_000,
            memo: format!("gatehouse proposal {id}"),
            data: Some(pb::schedulable_transaction_body::Data::TokenUpdate(
                pb::TokenUpdateTransactionBody {
                    token: Some(token_id),
                    memo: Some(policy::commitment(&document)),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let payload = Payload::Policy {
            token: current.token.clone(),
            document: document.clone(),
            replaces: current.policy.version,
        };
        self.schedule(
            by,
            id,
            ProposalKind::Policy,
            payload,
            inner,
            threshold,
            quorum.eligible.clone(),
            serde_json::json!({ "policy": document }),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys {
            token: "0.0.9".into(),
            officers: vec!["alice".into(), "bob".into(), "carol".into()],
            threshold: 2,
            created_by: "p".into(),
        }
    }

    fn new(kind: &str, threshold: u32, eligible: &[&str]) -> NewRule {
        NewRule {
            kind: kind.into(),
            threshold,
            eligible: eligible.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    #[test]
    fn a_rule_is_held_to_the_token_key_and_the_registry() {
        let enabled: Vec<String> = vec!["alice".into(), "bob".into(), "carol".into()];
        let current = PolicyDocument::initial(2, &enabled);
        let k = keys();
        let check = |n: &NewRule| check_rule(n, &k.officers, k.threshold, &enabled, &current);
        assert_eq!(
            check(&new("mint", 3, &["carol", "alice", "bob"])),
            Ok(Rule::new(3, enabled.clone()))
        );
        let refused = |n: NewRule, needle: &str| {
            let message = check(&n).expect_err("refused");
            assert!(message.contains(needle), "{message}");
        };
        refused(new("burn", 2, &["alice", "bob"]), "kind:");
        refused(new("mint", 1, &["alice", "bob"]), "need 2 signatures");
        refused(new("mint", 3, &["alice", "bob"]), "could never be reached");
        refused(
            new("mint", 2, &["alice", "mallory"]),
            "mallory holds no key",
        );
        refused(new("mint", 2, &["alice", "alice", "bob"]), "named twice");
        refused(new("mint", 2, &[]), "eligible:");
        refused(
            new("mint", 2, &["alice", "bob", "carol"]),
            "nothing would change",
        );
        let only_two: Vec<String> = vec!["alice".into(), "bob".into()];
        let message = check_rule(
            &new("mint", 2, &["alice", "carol"]),
            &k.officers,
            k.threshold,
            &only_two,
            &current,
        )
        .expect_err("carol is disabled");
        assert!(
            message.contains("carol is not an enabled officer"),
            "{message}"
        );
    }
}
