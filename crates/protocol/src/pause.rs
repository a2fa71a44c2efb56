//! The emergency pause (invariant 3): the wire types of `/v1/pause` and `/v1/breaker`.
//!
//! One responder, one signature: the server hands the responder a TokenPause transaction body for
//! the deployment's token; the responder's device signs it; that signature both trips the
//! backend's breaker (the server checks it against the responder's enrolled ledger key) and, sent
//! to the ledger with the body, pauses the token (its pause key is any one responder's key).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest pause reason, in bytes (it travels in the transaction memo as well).
pub const MAX_REASON_BYTES: usize = 60;

/// The reason as it travels: trimmed, without control characters, at most
/// [`MAX_REASON_BYTES`] bytes (cut at a character boundary).
pub fn clean_reason(reason: &str) -> String {
    let mut out = String::new();
    for c in reason.trim().chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_REASON_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// `POST /v1/pause/request`: why (optional; it never blocks the pause).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewPause {
    /// Why, in the responder's words (longer text is cut at 60 bytes).
    #[serde(default)]
    pub reason: String,
}

/// The TokenPause body the responder's device signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PauseRequest {
    /// Quote it when sending the signature.
    pub request: String,
    /// A TokenPause `TransactionBody`, base64.
    pub body: String,
    /// The ledger refuses the transaction after this.
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/pause`: the device's signature over a pause request's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SignedPause {
    /// The pause request answered.
    pub request: String,
    /// The signature, base64.
    pub signature: String,
    /// The device that signed, for the record.
    pub device: Option<String>,
}

/// `POST /v1/resume/request`: the approved resume proposal a responder carries out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewUnpause {
    /// The resume proposal's id.
    pub proposal: String,
}

/// `GET /v1/breaker`: the backend's breaker, and the ledger's pause as the server last knew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Breaker {
    /// Whether every instance refuses changes.
    pub tripped: bool,
    /// Who tripped it.
    pub by: Option<String>,
    /// When.
    pub at: Option<DateTime<Utc>>,
    /// Why, in their words.
    pub reason: Option<String>,
    /// What the ledger answered to the TokenPause (`SUCCESS`, or the reason it failed).
    pub ledger_status: Option<String>,
    /// The TokenPause (or, once resumed, TokenUnpause) transaction.
    pub ledger_transaction: Option<String>,
    /// Whether the token is paused on the ledger, as the mirror node shows it now (`None` when
    /// the mirror could not be read, or there is no token): the ledger's state, apart from the
    /// breaker's.
    #[serde(default)]
    pub ledger_paused: Option<bool>,
    /// The resume proposal whose TokenUnpause the ledger accepted; the breaker closes once the
    /// mirror shows the token unpaused.
    #[serde(default)]
    pub resume: Option<String>,
}

/// `POST /v1/pause/break-glass`: a pause a responder sent straight to the ledger while the server
/// could not be reached (a TokenPause paid by their own account and signed by their device),
/// delivered afterwards so the audit log has it and the backend stops too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BreakGlassRecord {
    /// The ledger transaction, `payer@seconds.nanos`.
    pub transaction_id: String,
    /// The TokenPause `TransactionBody` sent, base64.
    pub body: String,
    /// The responder's device signature over it, base64.
    pub signature: String,
    /// The device that signed, for the record.
    pub device: Option<String>,
    /// What the ledger answered.
    pub ledger_status: String,
    /// Whether the mirror showed the token paused afterwards.
    pub mirror_paused: bool,
    /// When it was sent to the ledger.
    pub submitted_at: DateTime<Utc>,
}

/// Most hbar a break-glass account is funded with from the operator.
pub const MAX_BREAK_GLASS_HBAR: u32 = 100;

/// `POST /v1/pause/break-glass/accounts` (administrators): a responder's own account for
/// break-glass, keyed by their enrolled ledger key and funded from the operator, so they can pause
/// the token while the server is down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewBreakGlassAccount {
    /// The responder.
    pub person: String,
    /// Hbar to fund it with, 1 to [`MAX_BREAK_GLASS_HBAR`].
    pub hbar: u32,
}

/// A responder's break-glass account, created on the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BreakGlassAccount {
    /// The responder.
    pub person: String,
    /// The new account, `shard.realm.num`.
    pub account: String,
    /// Its key: the responder's enrolled ledger key (hex, as the registry lists it).
    pub public_key: String,
    /// The hbar it holds.
    pub hbar: u32,
    /// The token break-glass pauses.
    pub token: String,
    /// A consensus node, `host:port`, and its account.
    pub node: String,
    /// That node's account.
    pub node_account: String,
    /// A mirror node's REST base URL.
    pub mirror: String,
}

/// `POST /v1/pause/break-glass/rekeyed` (responders): the record of a break-glass account re-keyed
/// in place after a pause-key rotation. A CryptoUpdate, paid by the account itself, sets its key
/// to the responder's key in the token's pause key; the old key (the account's, which pays) and
/// the new key (Hedera asks both) signed it on the device, and it went straight to the ledger.
/// The server checks both signatures and that the new key is the responder's in the pause key,
/// and audits it. Kept beside the profile until the server has it, as break-glass pauses are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRekey {
    /// The ledger transaction, `payer@seconds.nanos`.
    pub transaction_id: String,
    /// The CryptoUpdate `TransactionBody` sent, base64.
    pub body: String,
    /// The old key as the mirror showed it: `ED25519` or `ECDSA_SECP256K1`.
    pub old_key_type: String,
    /// The old key, hex (Ed25519: 32 bytes; secp256k1: the compressed point).
    pub old_key: String,
    /// The old key's signature over the body, base64.
    pub old_signature: String,
    /// The new key's signature over the body, base64.
    pub signature: String,
    /// The device that signed, for the record.
    pub device: Option<String>,
    /// What the ledger answered.
    pub ledger_status: String,
    /// Whether the mirror showed the account keyed by the new key afterwards.
    pub mirror_rekeyed: bool,
    /// When it was sent to the ledger.
    pub submitted_at: DateTime<Utc>,
}

/// What the server recorded of a [`BreakGlassRekey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BreakGlassRekeyed {
    /// The break-glass account.
    pub account: String,
    /// Its new key (hex, as the registry lists it).
    pub public_key: String,
    /// Whether the mirror shows the account keyed by it now (`None`: the mirror did not answer).
    pub mirror_rekeyed_now: Option<bool>,
    /// Whether the server had this record already (delivered twice: nothing changes).
    pub already_recorded: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_to_fit_the_memo_and_lose_control_characters() {
        assert_eq!(clean_reason("  keys leaked\n"), "keys leaked");
        assert_eq!(clean_reason(&"é".repeat(40)).len(), 60);
        assert_eq!(clean_reason("a\u{7}b"), "ab");
    }
}
