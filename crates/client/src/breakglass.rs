//! Break-glass (invariant 3, the server down): a responder pauses the token on the ledger
//! without the server. Their profile's break-glass file names a funded account of their own (whose
//! key is their device's ledger key, so one signature pays and pauses), the token, a consensus node
//! and a mirror. The device signs a TokenPause paid by that account; it goes straight to the node;
//! the mirror confirms. A signed record of it waits in a queue beside the profile and is delivered
//! to the server's audit log (`POST /v1/pause/break-glass`) once the server answers again.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use gatehouse_keys::key::{Algorithm, PublicKey};
use gatehouse_protocol::hedera::{BodyView, KeyView, decode_body};
use gatehouse_protocol::node::{self, Node, parse_account, transaction_id_text};
use gatehouse_protocol::pause::{
    BreakGlassRecord, BreakGlassRekey, BreakGlassRekeyed, Breaker, clean_reason,
};
use hiero_sdk_proto::services as pb;
use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::connection::{Connection, Error as ConnectionError};

/// Longest a break-glass pause is valid after its start, seconds (Hedera's maximum).
const VALID_SECS: i64 = 180;
/// Most the responder's account pays for the pause (tinybars: 20 hbar).
const MAX_FEE: u64 = 2_000_000_000;

/// Something break-glass could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The profile has no break-glass file, or it is unusable.
    #[error("break-glass is not set up for profile {profile}: {reason}")]
    NotSetUp {
        /// The profile.
        profile: String,
        /// Why.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The ledger did not take the pause.
    #[error("the ledger did not pause the token: {0}")]
    Ledger(String),
    /// The ledger did not re-key the break-glass account.
    #[error("the ledger did not re-key the break-glass account: {0}")]
    Rekey(String),
    /// The key offered is not in the token's pause key on the ledger.
    #[error(
        "{key} is not in the pause key of token {token} on the ledger (the mirror shows {pause_key}): a pause it signs would be refused"
    )]
    NotPauseKey {
        /// The key offered.
        key: String,
        /// The token.
        token: String,
        /// The token's pause key as the mirror shows it.
        pause_key: String,
    },
    /// The key chosen to sign is not the key of the account that pays.
    #[error(
        "{key} is not the key of account {payer} ({expected}): the ledger would refuse the signature"
    )]
    WrongKey {
        /// The key offered.
        key: String,
        /// The paying account.
        payer: String,
        /// Its key, as the mirror showed it at set-up.
        expected: String,
    },
}

impl Ledger {
    /// Whether `key` may sign this profile's break-glass pause: it must be the payer account's
    /// key (when it was recorded at set-up).
    pub fn check_signer(&self, key: &PublicKey) -> Result<(), Error> {
        match &self.payer_key {
            Some(expected) if !expected.is(key) => Err(Error::WrongKey {
                key: key.to_string(),
                payer: self.payer.clone(),
                expected: expected.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// Where a responder's break-glass pause goes: written by `gatehouse profile break-glass`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// A consensus node, `host:port`.
    pub node: String,
    /// That node's account, e.g. `0.0.3`.
    pub node_account: String,
    /// A mirror node's REST base URL, to confirm the pause.
    pub mirror: String,
    /// The responder's own funded account; its key is their device's ledger key.
    pub payer: String,
    /// The token to pause.
    pub token: String,
    /// The payer account's key as the mirror showed it when break-glass was set up: the device key
    /// that signs (files written before it was recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_key: Option<AccountKey>,
}

/// An account's key as a mirror node shows it: one primitive key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountKey {
    /// `ED25519` or `ECDSA_SECP256K1`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// Ed25519: the raw 32 bytes; secp256k1: the 33-byte compressed point; hex.
    pub key: String,
}

impl AccountKey {
    /// `key` (a device's public key) as a mirror shows an account keyed by it; `None` for a key
    /// type Hedera accounts do not take.
    pub fn of(key: &PublicKey) -> Option<Self> {
        match key.algorithm() {
            Algorithm::Ed25519 => Some(Self {
                kind: "ED25519".to_owned(),
                key: hex::encode(key.as_bytes()),
            }),
            Algorithm::EcdsaSecp256k1 => Some(Self {
                kind: "ECDSA_SECP256K1".to_owned(),
                key: hex::encode(key.compressed()?),
            }),
            _ => None,
        }
    }

    /// Whether `key` (a device's public key) is this key.
    pub fn is(&self, key: &PublicKey) -> bool {
        Self::of(key).is_some_and(|k| k.kind == self.kind && k.key.eq_ignore_ascii_case(&self.key))
    }
}

impl std::fmt::Display for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.key)
    }
}

/// A profile's break-glass files: the ledger addresses and the queue of records to deliver.
#[derive(Debug, Clone)]
pub struct BreakGlass {
    dir: PathBuf,
    profile: String,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl BreakGlass {
    /// The break-glass files of `profile` in the profile store's directory `config`.
    pub fn of(config: &Path, profile: &str) -> Self {
        Self {
            dir: config.join("break-glass").join(profile),
            profile: profile.to_owned(),
        }
    }

    fn ledger_file(&self) -> PathBuf {
        self.dir.join("ledger.json")
    }

    fn queue(&self) -> PathBuf {
        self.dir.join("queue")
    }

    /// Checks the addresses, reads the payer account's key from the mirror (it must exist, hold
    /// hbar and have one key: the device key that signs) and writes them. The addresses as written.
    pub async fn set_up(&self, mut ledger: Ledger) -> Result<Ledger, Error> {
        self.check(&ledger)?;
        ledger.payer_key = Some(self.payer_key(&ledger).await?);
        self.set_ledger(&ledger)?;
        Ok(ledger)
    }

    async fn payer_key(&self, ledger: &Ledger) -> Result<AccountKey, Error> {
        let account = mirror_get(&ledger.mirror, &format!("accounts/{}", ledger.payer))
            .await
            .map_err(|e| {
                self.not_set_up(format!(
                    "the mirror cannot show account {} ({e}); check the mirror URL and the account",
                    ledger.payer
                ))
            })?;
        if account["deleted"] == true {
            return Err(self.not_set_up(format!("account {} is deleted", ledger.payer)));
        }
        if account["balance"]["balance"].as_u64().unwrap_or(0) == 0 {
            return Err(self.not_set_up(format!(
                "account {} holds no hbar: it cannot pay for the pause; fund it first",
                ledger.payer
            )));
        }
        serde_json::from_value::<AccountKey>(account["key"].clone())
            .ok()
            .filter(|k| k.kind == "ED25519" || k.kind == "ECDSA_SECP256K1")
            .ok_or_else(|| {
                self.not_set_up(format!(
                    "account {} is not keyed by one Ed25519 or secp256k1 key (the mirror shows {}): break-glass needs an account whose key is your device's ledger key",
                    ledger.payer, account["key"]
                ))
            })
    }

    fn check(&self, ledger: &Ledger) -> Result<(), Error> {
        for (what, id) in [
            ("node account", &ledger.node_account),
            ("payer", &ledger.payer),
            ("token", &ledger.token),
        ] {
            if parse_account(id).is_none() {
                return Err(self.not_set_up(format!("{what} {id:?} is not shard.realm.num")));
            }
        }
        if !ledger.mirror.starts_with("http://") && !ledger.mirror.starts_with("https://") {
            return Err(self.not_set_up(format!("mirror {:?} is not a URL", ledger.mirror)));
        }
        Ok(())
    }

    /// Writes the ledger addresses as given (checked first); [`BreakGlass::set_up`] also records
    /// the payer's key.
    pub fn set_ledger(&self, ledger: &Ledger) -> Result<(), Error> {
        self.check(ledger)?;
        crate::private::create_dir(&self.dir).map_err(|e| io(&self.dir, e))?;
        let json = serde_json::to_vec_pretty(ledger).map_err(|e| io(&self.ledger_file(), e))?;
        crate::private::write_atomic(&self.ledger_file(), &json)
            .map_err(|e| io(&self.ledger_file(), e))
    }

    fn not_set_up(&self, reason: String) -> Error {
        Error::NotSetUp {
            profile: self.profile.clone(),
            reason,
        }
    }

    /// The ledger addresses.
    pub fn ledger(&self) -> Result<Ledger, Error> {
        let file = self.ledger_file();
        let bytes = std::fs::read(&file).map_err(|e| {
            self.not_set_up(format!(
                "{}: {e}; run gatehouse profile break-glass {} --node HOST:PORT --node-account 0.0.N --mirror URL --payer 0.0.N --token 0.0.N",
                file.display(),
                self.profile
            ))
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| self.not_set_up(format!("{}: {e}", file.display())))
    }

    /// Keeps `record` (a pause, or a re-keying of the account) until the server has it.
    pub fn enqueue(&self, record: impl Into<Queued>) -> Result<PathBuf, Error> {
        let record = record.into();
        let queue = self.queue();
        crate::private::create_dir(&queue).map_err(|e| io(&queue, e))?;
        let (prefix, id) = match &record {
            Queued::Pause(r) => ("", &r.transaction_id),
            Queued::Rekey(r) => ("rekey-", &r.transaction_id),
        };
        let name = format!("{prefix}{}.json", id.replace(['@', '.'], "-"));
        let file = queue.join(name);
        let json = serde_json::to_vec_pretty(&record).map_err(|e| io(&file, e))?;
        crate::private::write_atomic(&file, &json).map_err(|e| io(&file, e))?;
        Ok(file)
    }

    /// The records waiting for the server, oldest first.
    pub fn pending(&self) -> Result<Vec<(PathBuf, Queued)>, Error> {
        let queue = self.queue();
        let entries = match std::fs::read_dir(&queue) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&queue, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| io(&queue, e))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
                let record: Queued = serde_json::from_slice(&bytes).map_err(|e| io(&path, e))?;
                out.push((path, record));
            }
        }
        out.sort_by_key(|(_, r)| r.submitted_at());
        Ok(out)
    }

    /// Delivers every waiting record to the server; each one it accepted leaves the queue. How
    /// many were delivered. A server that cannot be reached leaves the queue as it was.
    pub async fn deliver(&self, conn: &Connection) -> Result<usize, DeliverError> {
        let mut delivered = 0;
        for (path, record) in self.pending()? {
            match &record {
                Queued::Pause(r) => {
                    let _: Breaker = conn.post("/v1/pause/break-glass", r).await?;
                }
                Queued::Rekey(r) => {
                    let _: BreakGlassRekeyed =
                        conn.post("/v1/pause/break-glass/rekeyed", r).await?;
                }
            }
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            delivered += 1;
        }
        Ok(delivered)
    }

    /// Sends the signed CryptoUpdate that re-keys the break-glass account (from [`rekey_body`]):
    /// `old` (the account's key, which pays) and `new` (the key it gets) each with their
    /// signature. Waits for the receipt, then (up to 20 s) for the mirror to show the account
    /// keyed by `new`, and only then records `new` in the break-glass file, so a pause is never
    /// refused for a key the ledger has not taken. The record to queue, and whether the mirror
    /// showed it.
    pub async fn rekey(
        &self,
        ledger: &Ledger,
        bytes: Vec<u8>,
        old: (&PublicKey, Vec<u8>),
        new: (&PublicKey, Vec<u8>),
        device: Option<String>,
    ) -> Result<(BreakGlassRekey, bool), Error> {
        ledger.check_signer(old.0)?;
        let old_key = AccountKey::of(old.0).ok_or_else(|| {
            Error::Ledger(format!(
                "a {:?} key cannot sign for Hedera",
                old.0.algorithm()
            ))
        })?;
        let new_key = AccountKey::of(new.0).ok_or_else(|| {
            Error::Ledger(format!(
                "a {:?} key cannot sign for Hedera",
                new.0.algorithm()
            ))
        })?;
        let pairs = vec![
            signature_pair(old.0, old.1.clone())?,
            signature_pair(new.0, new.1.clone())?,
        ];
        let body = pb::TransactionBody::decode(bytes.as_slice())
            .map_err(|e| Error::Ledger(e.to_string()))?;
        let shows_new = || async {
            poll_mirror(
                &ledger.mirror,
                &format!("accounts/{}", ledger.payer),
                |account| {
                    serde_json::from_value::<AccountKey>(account["key"].clone()).is_ok_and(|k| {
                        k.kind == new_key.kind && k.key.eq_ignore_ascii_case(&new_key.key)
                    })
                },
            )
            .await
        };
        let (status, rekeyed) = send(
            ledger,
            &body,
            node::transaction(bytes.clone(), pairs),
            shows_new,
            "the account re-keyed",
        )
        .await
        .map_err(|e| match e {
            Error::Ledger(why) => Error::Rekey(why),
            e => e,
        })?;
        if rekeyed {
            let mut updated = ledger.clone();
            updated.payer_key = Some(new_key);
            self.set_ledger(&updated)?;
        }
        let record = BreakGlassRekey {
            transaction_id: transaction_id(&body),
            body: B64.encode(&bytes),
            old_key_type: old_key.kind,
            old_key: old_key.key,
            old_signature: B64.encode(&old.1),
            signature: B64.encode(&new.1),
            device,
            ledger_status: status,
            mirror_rekeyed: rekeyed,
            submitted_at: Utc::now(),
        };
        Ok((record, rekeyed))
    }
}

/// A record waiting in a profile's break-glass queue for the server's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Queued {
    /// A break-glass pause (files written before re-keying existed hold only these).
    Pause(BreakGlassRecord),
    /// The break-glass account re-keyed in place.
    Rekey(BreakGlassRekey),
}

impl Queued {
    /// When it was sent to the ledger.
    pub fn submitted_at(&self) -> DateTime<Utc> {
        match self {
            Queued::Pause(r) => r.submitted_at,
            Queued::Rekey(r) => r.submitted_at,
        }
    }
}

impl From<BreakGlassRecord> for Queued {
    fn from(record: BreakGlassRecord) -> Self {
        Queued::Pause(record)
    }
}

impl From<BreakGlassRekey> for Queued {
    fn from(record: BreakGlassRekey) -> Self {
        Queued::Rekey(record)
    }
}

/// Why queued records were not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliverError {
    /// The queue could not be read.
    #[error(transparent)]
    Local(#[from] Error),
    /// The server could not be reached, or refused a record.
    #[error(transparent)]
    Server(#[from] ConnectionError),
}

/// A transaction doing `data`, paid by the responder's own account, valid from a few seconds
/// ago: the bytes the device signs, and them decoded.
fn ledger_body(
    ledger: &Ledger,
    memo: String,
    data: pb::transaction_body::Data,
) -> Result<(Vec<u8>, BodyView), Error> {
    let payer = ledger_id("payer", &ledger.payer)?;
    let node_account = ledger_id("node account", &ledger.node_account)?;
    let now = Utc::now();
    let body = pb::TransactionBody {
        transaction_id: Some(pb::TransactionId {
            transaction_valid_start: Some(pb::Timestamp {
                seconds: now.timestamp() - 5,
                nanos: i32::try_from(now.timestamp_subsec_nanos()).unwrap_or(0),
            }),
            account_id: Some(payer),
            scheduled: false,
            nonce: 0,
        }),
        node_account_id: Some(node_account),
        transaction_fee: MAX_FEE,
        transaction_valid_duration: Some(pb::Duration {
            seconds: VALID_SECS,
        }),
        memo,
        data: Some(data),
        ..Default::default()
    };
    let bytes = body.encode_to_vec();
    let view = decode_body(&bytes).map_err(|e| Error::Ledger(e.to_string()))?;
    Ok((bytes, view))
}

fn ledger_id(what: &str, id: &str) -> Result<pb::AccountId, Error> {
    parse_account(id).ok_or_else(|| Error::NotSetUp {
        profile: String::new(),
        reason: format!("{what} {id:?} is not shard.realm.num"),
    })
}

/// A TokenPause of `ledger.token`, paid by the responder's own account: the bytes the device
/// signs, and them decoded.
pub fn pause_body(ledger: &Ledger, reason: &str) -> Result<(Vec<u8>, BodyView), Error> {
    let token = ledger_id("token", &ledger.token)?;
    let reason = clean_reason(reason);
    ledger_body(
        ledger,
        format!("gatehouse break-glass pause {reason}"),
        pb::transaction_body::Data::TokenPause(pb::TokenPauseTransactionBody {
            token: Some(pb::TokenId {
                shard_num: token.shard_num,
                realm_num: token.realm_num,
                token_num: match token.account {
                    Some(pb::account_id::Account::AccountNum(n)) => n,
                    _ => 0,
                },
            }),
        }),
    )
}

/// A CryptoUpdate that keys the responder's break-glass account (`ledger.payer`) by `new`, paid
/// by the account itself (so its old key signs as payer and as the account's key; Hedera asks the
/// new key too): the bytes both keys sign, and them decoded.
pub fn rekey_body(ledger: &Ledger, new: &PublicKey) -> Result<(Vec<u8>, BodyView), Error> {
    let account = ledger_id("payer", &ledger.payer)?;
    let key = match AccountKey::of(new) {
        Some(k) if k.kind == "ED25519" => pb::key::Key::Ed25519(new.as_bytes().to_vec()),
        Some(_) => pb::key::Key::EcdsaSecp256k1(new.compressed().unwrap_or_default()),
        None => {
            return Err(Error::Ledger(format!(
                "a {:?} key cannot key a Hedera account",
                new.algorithm()
            )));
        }
    };
    ledger_body(
        ledger,
        "gatehouse break-glass account re-key".to_owned(),
        pb::transaction_body::Data::CryptoUpdateAccount(pb::CryptoUpdateTransactionBody {
            account_id_to_update: Some(account),
            key: Some(pb::Key { key: Some(key) }),
            ..Default::default()
        }),
    )
}

/// Checks on the mirror that `key` is in the pause key of `ledger.token`: the account is re-keyed
/// only to a key whose pause the ledger takes.
pub async fn check_pause_holder(ledger: &Ledger, key: &PublicKey) -> Result<(), Error> {
    let token = mirror_get(&ledger.mirror, &format!("tokens/{}", ledger.token))
        .await
        .map_err(|e| {
            Error::Ledger(format!(
                "the mirror cannot show token {} ({e}); check the mirror and try again",
                ledger.token
            ))
        })?;
    let pause_key = KeyView::from_mirror(&token["pause_key"]).map_err(Error::Ledger)?;
    let wanted = AccountKey::of(key).map(|k| k.key);
    let held = pause_key
        .as_ref()
        .is_some_and(|k| k.primitives().iter().any(|p| Some(p) == wanted.as_ref()));
    if held {
        return Ok(());
    }
    Err(Error::NotPauseKey {
        key: key.to_string(),
        token: ledger.token.clone(),
        pause_key: crate::proposals::key_text(pause_key.as_ref()),
    })
}

fn signature_pair(key: &PublicKey, signature: Vec<u8>) -> Result<pb::SignaturePair, Error> {
    let (prefix, sig) = match key.algorithm() {
        Algorithm::Ed25519 => (
            key.as_bytes().to_vec(),
            pb::signature_pair::Signature::Ed25519(signature),
        ),
        Algorithm::EcdsaSecp256k1 => (
            key.compressed().unwrap_or_default(),
            pb::signature_pair::Signature::EcdsaSecp256k1(signature),
        ),
        other => {
            return Err(Error::Ledger(format!(
                "a {other:?} key cannot sign for Hedera"
            )));
        }
    };
    Ok(pb::SignaturePair {
        pub_key_prefix: prefix,
        signature: Some(sig),
    })
}

fn transaction_id(body: &pb::TransactionBody) -> String {
    body.transaction_id
        .as_ref()
        .map(transaction_id_text)
        .unwrap_or_default()
}

/// Sends `transaction` straight to the node and waits for its receipt, then asks `seen` (the
/// mirror) whether it took effect. Once the node took it, it may execute whatever happens to the
/// answer: a receipt that does not come (or a connection lost while waiting, or while handing it
/// in) leaves the outcome unknown, so what is known is returned and the mirror decides. The
/// ledger's status (`SUCCESS`, or why the outcome is not known) and what the mirror showed;
/// `what` names the effect the mirror is asked about.
async fn send<F, Fut>(
    ledger: &Ledger,
    body: &pb::TransactionBody,
    transaction: pb::Transaction,
    seen: F,
    what: &str,
) -> Result<(String, bool), Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let connection = Node::new(&ledger.node).map_err(|e| Error::Ledger(e.to_string()))?;
    let (status, mirror_seen) = match connection.send(body, transaction).await {
        Ok(id) => match connection.outcome(id).await {
            Ok(_) => ("SUCCESS".to_owned(), None),
            Err(e @ (node::Error::NoReceipt(_) | node::Error::Transport(_))) => {
                (format!("UNKNOWN: {e}"), None)
            }
            Err(e) => return Err(Error::Ledger(e.to_string())),
        },
        Err(node::Error::Transport(e)) => {
            if !seen().await {
                return Err(Error::Ledger(format!(
                    "the ledger node cannot be reached: {e}; the mirror does not show {what}"
                )));
            }
            (
                format!("UNKNOWN: the node's answer was lost ({e})"),
                Some(true),
            )
        }
        Err(e) => return Err(Error::Ledger(e.to_string())),
    };
    let shown = match mirror_seen {
        Some(shown) => shown,
        None => seen().await,
    };
    Ok((status, shown))
}

/// Sends the signed pause to the node and waits for its receipt; then waits (up to 20 s) for the
/// mirror to show the token paused. The record to queue (its `ledger_status` is `SUCCESS`, or
/// says why the outcome is not known), and whether the mirror showed it.
pub async fn submit(
    ledger: &Ledger,
    bytes: Vec<u8>,
    key: &PublicKey,
    signature: Vec<u8>,
    device: Option<String>,
) -> Result<(BreakGlassRecord, bool), Error> {
    ledger.check_signer(key)?;
    let body =
        pb::TransactionBody::decode(bytes.as_slice()).map_err(|e| Error::Ledger(e.to_string()))?;
    let transaction =
        node::transaction(bytes.clone(), vec![signature_pair(key, signature.clone())?]);
    let paused = || async {
        poll_mirror(
            &ledger.mirror,
            &format!("tokens/{}", ledger.token),
            |token| token["pause_status"] == "PAUSED",
        )
        .await
    };
    let (status, paused) = send(ledger, &body, transaction, paused, "the token paused").await?;
    let ledger_status = if paused && status != "SUCCESS" {
        format!("{status}; the mirror shows the token PAUSED")
    } else {
        status
    };
    let record = BreakGlassRecord {
        transaction_id: transaction_id(&body),
        body: B64.encode(&bytes),
        signature: B64.encode(&signature),
        device,
        ledger_status,
        mirror_paused: paused,
        submitted_at: Utc::now(),
    };
    Ok((record, paused))
}

/// `GET {mirror}/api/v1/{path}` as JSON (10 s at most).
async fn mirror_get(mirror: &str, path: &str) -> Result<serde_json::Value, String> {
    let url = format!("{}/api/v1/{path}", mirror.trim_end_matches('/'));
    async {
        let response = http_client()
            .get(&url)
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await?;
        response.error_for_status()?.json().await
    }
    .await
    .map_err(|e| format!("{url}: {e}"))
}

/// Whether the mirror's `path` satisfies `shows` within 20 s.
async fn poll_mirror(mirror: &str, path: &str, shows: impl Fn(&serde_json::Value) -> bool) -> bool {
    let deadline: DateTime<Utc> = Utc::now() + chrono::Duration::seconds(20);
    while Utc::now() < deadline {
        if let Ok(json) = mirror_get(mirror, path).await
            && shows(&json)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    false
}

/// A client for the mirror. reqwest is built without a crypto provider of its own: the process's
/// (aws-lc-rs) is installed first.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::new()
}
