//! A rotation's new key signing for itself. Hedera executes an admin-key change only when the
//! old admin key *and the new one* have signed, and a treasury change only when the new treasury
//! account's key has signed too. The quorum of the key in force approves as for any proposal;
//! besides, each holder of the new key signs the same ledger schedule with their new key (the
//! key staged on their device), until the new key's threshold is met. These signatures are not
//! approvals: they cannot make a proposal pass, only let the ledger accept the key it names.
//!
//! A holder who keeps a key the admin key holds signs by approving: their approval's signature
//! is recorded as the new key's too. Signing with such a key as a new key is refused, because
//! the ledger would count it towards the admin key's threshold without the policy counting it.

use chrono::Utc;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::proposal::{
    ApprovalRequest, KeySignature, Proposal, ProposalStatus, SignedApproval,
};

use super::engine::{By, Engine};
use super::{Refusal, store};
use crate::audit::Action;
use crate::http::Error;
use crate::keys::{self, Enrolled};
use crate::ledger::hapi;

impl Engine {
    /// Checks that `by` holds a key in open rotation `id`'s new key that has not signed yet, and
    /// finds that key (staged, or one they hold already); audits a refusal as `action`.
    async fn new_key_signer(
        &self,
        by: &By,
        id: &str,
        action: Action,
    ) -> Result<(Proposal, Enrolled), Error> {
        let object = format!("proposal:{id}");
        let proposal = self.get(id).await?;
        let Some(holders) = proposal.payload.new_key_holders() else {
            return Err(self.deny(by, action, object, Refusal::NoNewKey).await);
        };
        let holder = holders.iter().find(|h| h.officer == by.name);
        let refusal = match holder {
            _ if proposal.status != ProposalStatus::Open => {
                Refusal::NotOpen(proposal.status.as_str())
            }
            _ if Utc::now() >= proposal.deadline => Refusal::PastDeadline(proposal.deadline),
            None => Refusal::NotNewHolder,
            Some(h)
                if proposal
                    .key_signatures
                    .iter()
                    .any(|s| s.public_key == h.public_key) =>
            {
                Refusal::KeySigned
            }
            // A key the admin key holds signs only by approving, so that the ledger never counts
            // a signature towards the admin key's threshold that the policy did not count (the
            // admin key cannot change while this rotation is open).
            Some(h) if h.approves => Refusal::KeyApproves,
            Some(h) => {
                let wanted = h.public_key.clone();
                return match keys::store::staged_and_in_use(self.db())
                    .await?
                    .into_iter()
                    .find(|k| k.officer == by.name && k.view().public_key == wanted)
                {
                    Some(key) => Ok((proposal, key)),
                    None => Err(self.deny(by, action, object, Refusal::NoLedgerKey).await),
                };
            }
        };
        Err(self.deny(by, action, object, refusal).await)
    }

    /// Hands `by` the ScheduleSign body to sign with their new key in rotation `id`.
    pub async fn key_signature_request(&self, by: &By, id: &str) -> Result<ApprovalRequest, Error> {
        let (proposal, key) = self
            .new_key_signer(by, id, Action::ProposalApprovalRequest)
            .await?;
        self.signing_request(by, &proposal, &key, true).await
    }

    /// Checks `signed` (by `by`'s new key, over the body handed out for it), spends it, sends the
    /// ScheduleSign to the ledger and records it. The ledger executes the rotation once the
    /// quorum's approvals and the new key's signatures are all there, whichever comes last.
    pub async fn sign_with_new_key(
        &self,
        by: &By,
        id: &str,
        signed: &SignedApproval,
    ) -> Result<Proposal, Error> {
        let object = format!("proposal:{id}");
        let (proposal, key) = self.new_key_signer(by, id, Action::ProposalKeySign).await?;
        let public_key = key.view().public_key;
        let taken = self
            .take_signature(
                by,
                id,
                &key,
                signed,
                Some(&public_key),
                Action::ProposalKeySign,
            )
            .await?;
        let (spent, transaction_id) = (taken.spent.clone(), taken.transaction_id.clone());
        // A rotation is how keys are replaced while the backend's breaker stays tripped, so the
        // new key's signatures reach the ledger whatever the breaker says (as its approvals do).
        if let Err(e) = self.relay(&key, taken).await? {
            let refusal = match e {
                hapi::Error::Failed(hapi::Code::NoNewValidSignatures)
                | hapi::Error::Precheck(hapi::Code::NoNewValidSignatures) => Refusal::Ledger(
                    "the schedule holds this key's signature already (an approval with the same key carried it): nothing more is needed from it".to_owned(),
                ),
                e => Refusal::Ledger(e.to_string()),
            };
            return Err(self
                .deny(by, Action::ProposalKeySign, object, refusal)
                .await);
        }
        let signature = KeySignature {
            officer: by.name.clone(),
            public_key: public_key.clone(),
            at: Utc::now(),
            device: signed.device.clone(),
            transaction_id: transaction_id.clone(),
        };
        let mut tx = self.db().begin().await.map_err(crate::store::Error::from)?;
        if !store::insert_key_signature(&mut tx, id, &signature).await? {
            drop(tx);
            return Err(self
                .deny(by, Action::ProposalKeySign, object, Refusal::KeySigned)
                .await);
        }
        let details = serde_json::json!({
            "signature_sha256": spent,
            "public_key": public_key,
            "evidence": key.view().evidence,
            "transaction_id": transaction_id,
            "device": signed.device,
        });
        let entry = Self::entry(
            by,
            Action::ProposalKeySign,
            object,
            OutcomeKind::Success,
            None,
            details,
        );
        self.commit(tx, entry, Some((id, "key-signed"))).await?;
        self.settle(&proposal, false).await?;
        self.get(id).await
    }
}
