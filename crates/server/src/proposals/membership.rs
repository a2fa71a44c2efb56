//! Officers joining and leaving (issue 16), each in one proposal the quorum approves: an
//! offboarding removes an officer from every token key and policy rule, an onboarding adds one
//! to the token keys they are to hold and to the rules checked against those keys, and gives the
//! registry the TLS certificate issued from their device's certificate signing request.
//!
//! Both are one scheduled TokenUpdate that sets each changed key (thresholds kept) and, when a
//! rule changes, the memo to the new policy's commitment. Adding a key to a threshold key never
//! stops the keys already in it from signing, so the quorum's approvals (old admin keys, all in
//! the new admin key) satisfy both the old and the new admin key: the ledger asks no signature of
//! the joining key. Its evidence was judged when the officer staged it.
//!
//! The certificate is issued when the onboarding is proposed, so that each approver sees (and
//! their console checks) the exact certificate the registry will take. Until the onboarding
//! executes it grants nothing: the registry does not know its fingerprint. Only the officer may
//! send their own request, over their own connection; the server holds no CA key in memory (it
//! reads the deployment CA's key from beside its certificate for the one signature).

use chrono::Utc;
use gatehouse_protocol::policy::{CurrentPolicy, PolicyDocument};
use gatehouse_protocol::proposal::{
    IssuedCertificate, KeyMember, KeyRole, NewOffboarding, NewOnboarding, Payload, Proposal,
    ProposalKind, ProposalStatus, RoleKey, RotationHolder,
};
use gatehouse_protocol::{ErrorCode, Role};
use hiero_sdk_proto::services as pb;
use prost::Message as _;
use rustls::pki_types::CertificateSigningRequestDer;
use rustls::pki_types::pem::PemObject as _;

use super::engine::{By, Engine};
use super::rotation::{
    activate_staged, conflict, internal, key_to_hold, put, role_key_of, rows_in, shown_hex,
};
use super::store;
use crate::audit::Action;
use crate::http::Error;
use crate::keys::{self, Enrolled};
use crate::store::Tx;

/// Largest certificate signing request taken, in bytes (a P-256 request is about 500).
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// A change of who holds the token's keys, checked and ready to schedule.
struct Change {
    officer: String,
    before: Vec<RoleKey>,
    after: Vec<RoleKey>,
    /// The next policy document, when a rule changes.
    document: Option<PolicyDocument>,
    /// What would break, each naming what to do.
    problems: Vec<String>,
}

/// `members`' keys, each found among `enrolled` (the key's order kept).
fn enrolled_of(
    role: KeyRole,
    members: &[KeyMember],
    enrolled: &[Enrolled],
) -> Result<Vec<Enrolled>, Error> {
    members
        .iter()
        .map(|m| {
            enrolled
                .iter()
                .find(|k| shown_hex(k) == m.public_key)
                .cloned()
                .ok_or_else(|| {
                    internal(format!(
                        "{}'s key {} in the {} key is no ledger key in use",
                        m.officer,
                        m.public_key,
                        role.as_str()
                    ))
                })
        })
        .collect()
}

/// `key` held by `members` (whose keys are `keys`), unconfirmed.
fn changed(key: &RoleKey, members: Vec<KeyMember>, keys: &[Enrolled]) -> Result<RoleKey, Error> {
    let next = role_key_of(key.threshold, keys)
        .ok_or_else(|| internal("a holder's key cannot be a Hedera key"))?;
    Ok(RoleKey {
        members,
        protobuf: hex::encode(next.encode_to_vec()),
        confirmed_at: None,
        ..key.clone()
    })
}

/// The role each proposal kind's approvals are checked against, by the policy rule's name.
fn rule_role(kind: &str) -> Option<KeyRole> {
    ProposalKind::from_name(kind).and_then(super::engine::signing_role)
}

impl Engine {
    /// Proposes removing `new.officer` from every token key they hold (admin, supply, pause; the
    /// thresholds kept) and from every policy rule, in one scheduled TokenUpdate. Refused, naming
    /// what to do, when a key or a rule would be left unable to reach its threshold, or empty.
    pub async fn propose_offboarding(
        &self,
        by: &By,
        new: &NewOffboarding,
    ) -> Result<Proposal, Error> {
        let officer = new.officer.trim();
        let object = format!("proposal:offboarding:{officer}");
        if let Err(message) = super::check_reason(&new.reason) {
            return Err(self.invalid(by, object, message).await);
        }
        let current = self.policy().await?;
        let keys = self.role_keys().await?;
        let mut change = Change {
            officer: officer.to_owned(),
            before: Vec::new(),
            after: Vec::new(),
            document: None,
            problems: Vec::new(),
        };
        let enrolled = keys::store::all(self.db()).await?;
        for key in keys.iter().filter(|k| k.role != KeyRole::Treasury) {
            if !key.members.iter().any(|m| m.officer == officer) {
                continue;
            }
            let members: Vec<KeyMember> = key
                .members
                .iter()
                .filter(|m| m.officer != officer)
                .cloned()
                .collect();
            if (members.len() as u64) < u64::from(key.threshold) {
                change.problems.push(format!(
                    "the {} key needs {} signature(s) and only {} holder(s) would remain ({}): rotate it first (gatehouse rotate {} with another holder or a lower threshold)",
                    key.role.as_str(),
                    key.threshold,
                    members.len(),
                    members.iter().map(|m| m.officer.as_str()).collect::<Vec<_>>().join(", "),
                    key.role.as_str()
                ));
                continue;
            }
            let holders = enrolled_of(key.role, &members, &enrolled)?;
            change.before.push(key.clone());
            change.after.push(changed(key, members, &holders)?);
        }
        let mut document = current.policy.clone();
        let mut rules_changed = false;
        for (kind, rule) in &current.policy.rules {
            if !rule.eligible.iter().any(|e| e == officer) {
                continue;
            }
            let eligible: Vec<String> = rule
                .eligible
                .iter()
                .filter(|e| *e != officer)
                .cloned()
                .collect();
            if eligible.len() < rule.threshold as usize {
                change.problems.push(format!(
                    "the {kind} rule asks {} approvals and only {} officer(s) would remain eligible ({}): change the rule first (gatehouse policy propose {kind})",
                    rule.threshold,
                    eligible.len(),
                    eligible.join(", ")
                ));
                continue;
            }
            document.rules.insert(
                kind.clone(),
                gatehouse_protocol::policy::Rule::new(rule.threshold, eligible),
            );
            rules_changed = true;
        }
        if change.before.is_empty() && !rules_changed && change.problems.is_empty() {
            let message = format!(
                "officer: {officer} holds no token key and no policy rule names them: nothing to remove"
            );
            return Err(self.invalid(by, object, message).await);
        }
        change.document = rules_changed.then_some(document);
        let reason = new.reason.trim().to_owned();
        self.propose_change(
            by,
            &object,
            ProposalKind::Offboarding,
            "offboarding-refused",
            &current,
            change,
            |token, officer, before, after, document| Payload::Offboarding {
                token,
                officer,
                reason,
                before,
                after,
                document,
            },
        )
        .await
    }

    /// Proposes adding `new.officer` to the token keys `new.keys` (their staged key, else their
    /// newest key in use, last in each key; thresholds kept) and to every policy rule checked
    /// against those keys, in one scheduled TokenUpdate; with their device's certificate request,
    /// the certificate issued from it replaces theirs once it executed. Refused, naming what to
    /// do, for someone not registered (or disabled, or without the role a key needs), a key they
    /// hold already, the treasury, and whatever a key change is refused for.
    pub async fn propose_onboarding(
        &self,
        by: &By,
        new: &NewOnboarding,
    ) -> Result<Proposal, Error> {
        let officer = new.officer.trim();
        let object = format!("proposal:onboarding:{officer}");
        if let Err(message) = self.onboarding_request_problem(by, officer, new).await {
            return Err(self.invalid(by, object, message).await);
        }
        let current = self.policy().await?;
        let keys = self.role_keys().await?;
        // Their staged key, else the newest they hold (a responder in the pause key joining the
        // admin and supply keys with it).
        let staged = keys::store::staged(self.db()).await?;
        let enrolled = keys::store::all(self.db()).await?;
        let Some((joining, is_staged)) = key_to_hold(&staged, &enrolled, officer, None) else {
            let message = format!(
                "officer: {officer} has no ledger key: they stage one from their device first (gatehouse ledger-key stage)"
            );
            return Err(self.invalid(by, object, message).await);
        };
        let view = joining.view();
        let member = KeyMember {
            officer: officer.to_owned(),
            public_key: view.public_key.clone(),
        };
        let mut change = Change {
            officer: officer.to_owned(),
            before: Vec::new(),
            after: Vec::new(),
            document: None,
            problems: Vec::new(),
        };
        for key in keys.iter().filter(|k| new.keys.contains(&k.role)) {
            if key.members.iter().any(|m| m.officer == officer) {
                let message = format!(
                    "keys: {officer} holds the {} key already ({}); to give them another key there, rotate it (gatehouse rotate {})",
                    key.role.as_str(),
                    key.holders_text(),
                    key.role.as_str()
                );
                return Err(self.invalid(by, object, message).await);
            }
            let mut holders = enrolled_of(key.role, &key.members, &enrolled)?;
            holders.push(joining.clone());
            let mut members = key.members.clone();
            members.push(member.clone());
            change.before.push(key.clone());
            change.after.push(changed(key, members, &holders)?);
        }
        if change.after.is_empty() {
            let message = format!(
                "keys: the token has none of the keys named ({}): nothing to join",
                new.keys
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(self.invalid(by, object, message).await);
        }
        let mut document = current.policy.clone();
        let mut rules_changed = false;
        for (kind, rule) in &current.policy.rules {
            let joins = rule_role(kind).is_some_and(|role| new.keys.contains(&role));
            if !joins || rule.eligible.iter().any(|e| e == officer) {
                continue;
            }
            let mut eligible = rule.eligible.clone();
            eligible.push(officer.to_owned());
            document.rules.insert(
                kind.clone(),
                gatehouse_protocol::policy::Rule::new(rule.threshold, eligible),
            );
            rules_changed = true;
        }
        change.document = rules_changed.then_some(document);
        let certificate = match &new.certificate_request {
            Some(request) => Some(self.issue_for(by, &object, officer, request).await?),
            None => None,
        };
        let key = RotationHolder {
            officer: officer.to_owned(),
            public_key: view.public_key,
            algorithm: view.algorithm,
            evidence: view.evidence,
            staged: is_staged,
            approves: false,
        };
        let reason = new.reason.trim().to_owned();
        self.propose_change(
            by,
            &object,
            ProposalKind::Onboarding,
            "onboarding-refused",
            &current,
            change,
            |token, officer, before, after, document| Payload::Onboarding {
                token,
                officer,
                reason,
                key,
                before,
                after,
                document,
                certificate,
            },
        )
        .await
    }

    /// What is wrong with an onboarding request before anything is read from the ledger.
    async fn onboarding_request_problem(
        &self,
        by: &By,
        officer: &str,
        new: &NewOnboarding,
    ) -> Result<(), String> {
        super::check_reason(&new.reason)?;
        let mut roles = new.keys.clone();
        roles.sort_by_key(|r| r.as_str());
        roles.dedup();
        if new.keys.is_empty() {
            return Err("keys: name the token keys they join (admin, supply, pause)".to_owned());
        }
        if roles.len() != new.keys.len() {
            return Err("keys: a key is named twice".to_owned());
        }
        if new.keys.contains(&KeyRole::Treasury) {
            return Err("keys: the treasury account's key changes only with the treasury itself: rotate it (gatehouse rotate treasury) once they hold the admin key".to_owned());
        }
        let people = crate::registry::store::officers(self.db())
            .await
            .map_err(|e| e.to_string())?;
        let person = match people.iter().find(|p| p.name == officer) {
            None => {
                return Err(format!(
                    "officer: {officer} is not registered: an administrator registers them first (gatehouse-server registry enrol), which gives them no say until this is approved"
                ));
            }
            Some(p) if p.disabled => {
                return Err(format!(
                    "officer: {officer} is disabled in the registry; an offboarded officer comes back through an administrator re-enabling them first"
                ));
            }
            Some(p) => p,
        };
        for role in &new.keys {
            let needs = if *role == KeyRole::Pause {
                Role::Responder
            } else {
                Role::Officer
            };
            if !person.roles.contains(&needs) {
                return Err(format!(
                    "keys: {officer} is not a registered {}: only they hold the {} key",
                    needs.as_str(),
                    role.as_str()
                ));
            }
        }
        if new.certificate_request.is_some() && by.name != officer {
            return Err(format!(
                "certificate_request: only {officer} sends their own certificate request, from their device over their own connection; propose without it, or let {officer} propose"
            ));
        }
        Ok(())
    }

    /// The TLS certificate the deployment CA issues for `officer` from `request` (their device's
    /// certificate signing request, PEM), checked against the registry: refused (audited) when it
    /// cannot be read, its signature does not verify, another person's certificate has its key,
    /// or this server cannot issue.
    async fn issue_for(
        &self,
        by: &By,
        object: &str,
        officer: &str,
        request: &str,
    ) -> Result<IssuedCertificate, Error> {
        let refuse = |message: String| async move {
            let e = Error::Api(ErrorCode::BadRequest, message);
            self.failed(
                by,
                Action::ProposalCreate,
                object.to_owned(),
                "certificate-request",
                e,
            )
            .await
        };
        if request.len() > MAX_REQUEST_BYTES {
            return Err(refuse(format!(
                "certificate_request: longer than {MAX_REQUEST_BYTES} bytes; send the PEM request your device wrote (gatehouse device csr)"
            ))
            .await);
        }
        let Ok(der) = CertificateSigningRequestDer::from_pem_slice(request.as_bytes()) else {
            return Err(refuse(
                "certificate_request: not a PEM certificate signing request; write one with gatehouse device csr".to_owned(),
            )
            .await);
        };
        let Some(ca_cert) = self.ca_cert() else {
            return Err(refuse("certificate_request: this server issues no certificates (no deployment CA configured); propose without it and have the CA sign the request".to_owned()).await);
        };
        let issued = crate::pki::Authority::load_beside(ca_cert).and_then(|ca| {
            ca.issue_client_for_request(
                officer,
                der.as_ref(),
                crate::pki::Validity::days_from_now(crate::registry::enrol::DEFAULT_DAYS),
            )
        });
        let pem = match issued {
            Ok(pem) => pem,
            Err(e) => return Err(refuse(format!("certificate_request: {e}")).await),
        };
        let certificate = crate::registry::Certificate::from_pem(&pem)
            .map_err(|e| internal(format!("the issued certificate cannot be read: {e}")))?;
        let people = crate::registry::store::officers(self.db()).await?;
        let me = people.iter().find(|p| p.name == officer);
        if let Some(other) = people
            .iter()
            .find(|p| p.name != officer && p.public_key == Some(certificate.public_key))
        {
            return Err(refuse(format!(
                "certificate_request: its key is {}'s certificate key; generate a new key on your device for it",
                other.name
            ))
            .await);
        }
        Ok(IssuedCertificate {
            pem,
            fingerprint: certificate.fingerprint.to_hex(),
            replaces: me.map(|p| p.fingerprint.to_hex()).unwrap_or_default(),
        })
    }

    /// Refuses (audited, as `code`) a change with problems, or a paused token, another key or
    /// policy change open, or open mints whose approvals the new supply key would not carry;
    /// else schedules it, approved by the token-change quorum without the officer.
    #[allow(clippy::too_many_arguments)]
    async fn propose_change(
        &self,
        by: &By,
        object: &str,
        kind: ProposalKind,
        code: &'static str,
        current: &CurrentPolicy,
        mut change: Change,
        payload: impl FnOnce(String, String, Vec<RoleKey>, Vec<RoleKey>, Option<String>) -> Payload,
    ) -> Result<Proposal, Error> {
        let open = store::list(self.db(), Some(ProposalStatus::Open), 1000).await?;
        if let Some(other) = open
            .iter()
            .find(|p| p.kind.changes_keys() || p.kind == ProposalKind::Policy)
        {
            change.problems.push(format!(
                "{} {} is open and changes the same keys or policy: approve, reject or cancel it first",
                other.kind.as_str(),
                other.id
            ));
        }
        // Removing a supply key holder can take away signatures an open mint collected; adding
        // one takes none away.
        let mints = open.iter().filter(|p| p.kind == ProposalKind::Mint).count();
        if kind == ProposalKind::Offboarding
            && mints > 0
            && change.after.iter().any(|k| k.role == KeyRole::Supply)
        {
            change.problems.push(format!(
                "{mints} mint proposal(s) are open: their approvals would stop counting once the supply key changes; let them execute, or cancel them"
            ));
        }
        if let Ok(true) = self.mirror_paused(&current.token).await {
            change.problems.push(format!(
                "token {} is paused on the ledger, and Hedera refuses every change to a paused token: resume the ledger token alone first (gatehouse resume propose --ledger-only)",
                current.token
            ));
        }
        if let Some(first) = change.problems.first() {
            let message = if change.problems.len() == 1 {
                first.clone()
            } else {
                format!(
                    "{} problems: {}",
                    change.problems.len(),
                    change.problems.join("; ")
                )
            };
            return Err(self
                .failed(
                    by,
                    Action::ProposalCreate,
                    object.to_owned(),
                    code,
                    conflict(message),
                )
                .await);
        }
        let document = change.document.map(|mut document| {
            document.version = current.policy.version + 1;
            document.to_text()
        });
        let (token_id, quorum) = super::policy::token_change(current)?;
        let admin = self.role_key(KeyRole::Admin).await?;
        let officer = change.officer;
        let eligible: Vec<String> = quorum
            .eligible
            .iter()
            .filter(|e| **e != officer)
            .cloned()
            .collect();
        let threshold = quorum.threshold.max(admin.threshold);
        let id = uuid::Uuid::new_v4().to_string();
        let mut update = pb::TokenUpdateTransactionBody {
            token: Some(token_id),
            memo: document
                .as_deref()
                .map(gatehouse_protocol::policy::commitment),
            ..Default::default()
        };
        for key in &change.after {
            let decoded = hex::decode(&key.protobuf)
                .ok()
                .and_then(|b| pb::Key::decode(b.as_slice()).ok());
            match key.role {
                KeyRole::Admin => update.admin_key = decoded,
                KeyRole::Supply => update.supply_key = decoded,
                _ => update.pause_key = decoded,
            }
        }
        let inner = pb::SchedulableTransactionBody {
            transaction_fee: 2_000_000_000,
            memo: format!("gatehouse proposal {id}"),
            data: Some(pb::schedulable_transaction_body::Data::TokenUpdate(update)),
            ..Default::default()
        };
        let payload = payload(
            current.token.clone(),
            officer,
            change.before,
            change.after,
            document,
        );
        self.schedule(
            by,
            id,
            kind,
            payload,
            inner,
            threshold,
            eligible,
            serde_json::Value::Null,
        )
        .await
    }

    /// Writes an executed key change's keys and policy document in `tx`.
    async fn apply_keys_and_policy(
        tx: &mut Tx,
        proposal: &Proposal,
        after: &[RoleKey],
        document: Option<&str>,
    ) -> Result<(), Error> {
        let now = Utc::now();
        for key in after {
            let row = RoleKey {
                proposal: proposal.id.clone(),
                applied_at: now,
                confirmed_at: None,
                ..key.clone()
            };
            put(tx, &row, false).await?;
        }
        if let Some(document) = document {
            let version = PolicyDocument::parse(document)
                .map_err(|e| internal(format!("the proposal's policy is unreadable: {e}")))?
                .version;
            store::insert_policy(
                tx,
                version,
                document,
                &gatehouse_protocol::policy::sha256(document),
                &proposal.id,
            )
            .await?;
        }
        Ok(())
    }

    /// Applies an executed offboarding in `tx`: the registry takes the keys without the officer,
    /// the policy without them (when a rule named them), the officer's keys no token key holds any
    /// more are retired, and the officer is disabled.
    pub(super) async fn apply_offboarding(
        &self,
        tx: &mut Tx,
        proposal: &Proposal,
        officer: &str,
        after: &[RoleKey],
        document: Option<&str>,
    ) -> Result<serde_json::Value, Error> {
        Self::apply_keys_and_policy(tx, proposal, after, document).await?;
        let held = rows_in(tx).await?;
        let mut retired = Vec::new();
        for key in keys::store::all(self.db())
            .await?
            .iter()
            .filter(|k| k.officer == officer)
        {
            let hex = shown_hex(key);
            if held
                .iter()
                .any(|k| k.members.iter().any(|m| m.public_key == hex))
            {
                continue;
            }
            if keys::store::retire(tx, &keys::store::stored_hex(&key.key)).await? {
                retired.push(hex);
            }
        }
        crate::registry::store::set_disabled(tx, officer, true).await?;
        // The treasury account's key is not changed by a TokenUpdate: say what still holds them.
        let still: Vec<&str> = held
            .iter()
            .filter(|k| k.members.iter().any(|m| m.officer == officer))
            .map(|k| k.role.as_str())
            .collect();
        Ok(serde_json::json!({
            "offboarded": officer,
            "keys": after.iter().map(|k| serde_json::json!({ "role": k.role.as_str(), "key": k.holders_text() })).collect::<Vec<_>>(),
            "policy_changed": document.is_some(),
            "retired": retired,
            "disabled": true,
            "still_in": still,
        }))
    }

    /// Applies an executed onboarding in `tx`: the registry takes the keys with the officer and
    /// the policy naming them, their staged key goes into use, and the registry gives them the
    /// certificate issued from their request (revoking the one they had).
    pub(super) async fn apply_onboarding(
        &self,
        tx: &mut Tx,
        proposal: &Proposal,
    ) -> Result<serde_json::Value, Error> {
        let Payload::Onboarding {
            officer,
            key,
            after,
            document,
            certificate,
            ..
        } = &proposal.payload
        else {
            return Err(internal("the proposal is not an onboarding"));
        };
        Self::apply_keys_and_policy(tx, proposal, after, document.as_deref()).await?;
        if key.staged {
            activate_staged(tx, officer, &key.public_key).await?;
        }
        let certificate = match certificate {
            Some(issued) => Some(self.take_certificate(tx, officer, issued).await?),
            None => None,
        };
        Ok(serde_json::json!({
            "onboarded": officer,
            "public_key": key.public_key,
            "evidence": key.evidence,
            "keys": after.iter().map(|k| serde_json::json!({ "role": k.role.as_str(), "key": k.holders_text() })).collect::<Vec<_>>(),
            "policy_changed": document.is_some(),
            "certificate": certificate,
        }))
    }

    /// Gives `officer` the certificate an onboarding issued, revoking the one they have. The
    /// ledger has executed, so the keys are applied whatever happens here: a certificate the
    /// registry cannot take (its key registered to someone else since) is reported in the audit
    /// record, and the officer keeps the certificate they had.
    async fn take_certificate(
        &self,
        tx: &mut Tx,
        officer: &str,
        issued: &IssuedCertificate,
    ) -> Result<serde_json::Value, Error> {
        let certificate = crate::registry::Certificate::from_pem(&issued.pem)
            .map_err(|e| internal(format!("the onboarding's certificate cannot be read: {e}")))?;
        let people = crate::registry::store::officers(self.db()).await?;
        let taken = people
            .iter()
            .find(|p| p.name != officer && p.public_key == Some(certificate.public_key));
        let Some(old) = crate::registry::store::by_name(tx, officer).await? else {
            return Ok(
                serde_json::json!({ "taken": false, "why": format!("{officer} is no longer registered") }),
            );
        };
        if let Some(other) = taken {
            return Ok(serde_json::json!({
                "taken": false,
                "why": format!("its key is {}'s certificate key now; {officer} keeps their certificate and sends a new request", other.name),
            }));
        }
        crate::registry::store::replace_certificate(tx, &old, &certificate).await?;
        Ok(serde_json::json!({
            "taken": true,
            "fingerprint": issued.fingerprint,
            "revoked": old.fingerprint.to_hex(),
        }))
    }
}
