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
use gatehouse_protocol::hedera::{BodyView, decode_body};
use gatehouse_protocol::node::{self, Node, parse_account, transaction_id_text};
use gatehouse_protocol::pause::{BreakGlassRecord, Breaker, clean_reason};
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
    /// Whether `key` (a device's public key) is this key.
    pub fn is(&self, key: &PublicKey) -> bool {
        match key.algorithm() {
            Algorithm::Ed25519 => {
                self.kind == "ED25519"
                    && self.key.eq_ignore_ascii_case(&hex::encode(key.as_bytes()))
            }
            Algorithm::EcdsaSecp256k1 => {
                self.kind == "ECDSA_SECP256K1"
                    && key
                        .compressed()
                        .is_some_and(|c| self.key.eq_ignore_ascii_case(&hex::encode(c)))
            }
            _ => false,
        }
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
        let url = format!(
            "{}/api/v1/accounts/{}",
            ledger.mirror.trim_end_matches('/'),
            ledger.payer
        );
        let account: serde_json::Value = async {
            let response = http_client()
                .get(&url)
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await?;
            response.error_for_status()?.json().await
        }
        .await
        .map_err(|e| {
            self.not_set_up(format!(
                "the mirror cannot show account {} ({url}: {e}); check the mirror URL and the account",
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

    /// Keeps `record` until the server has it.
    pub fn enqueue(&self, record: &BreakGlassRecord) -> Result<PathBuf, Error> {
        let queue = self.queue();
        crate::private::create_dir(&queue).map_err(|e| io(&queue, e))?;
        let name = format!("{}.json", record.transaction_id.replace(['@', '.'], "-"));
        let file = queue.join(name);
        let json = serde_json::to_vec_pretty(record).map_err(|e| io(&file, e))?;
        crate::private::write_atomic(&file, &json).map_err(|e| io(&file, e))?;
        Ok(file)
    }

    /// The records waiting for the server, oldest first.
    pub fn pending(&self) -> Result<Vec<(PathBuf, BreakGlassRecord)>, Error> {
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
                let record: BreakGlassRecord =
                    serde_json::from_slice(&bytes).map_err(|e| io(&path, e))?;
                out.push((path, record));
            }
        }
        out.sort_by_key(|(_, r)| r.submitted_at);
        Ok(out)
    }

    /// Delivers every waiting record to the server; each one it accepted leaves the queue. The
    /// breaker after the last one, or `None` when nothing was waiting. A server that cannot be
    /// reached leaves the queue as it was.
    pub async fn deliver(&self, conn: &Connection) -> Result<Option<Breaker>, DeliverError> {
        let mut last = None;
        for (path, record) in self.pending()? {
            let breaker: Breaker = conn.post("/v1/pause/break-glass", &record).await?;
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            last = Some(breaker);
        }
        Ok(last)
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

/// A TokenPause of `ledger.token`, paid by the responder's own account, valid from a few seconds
/// ago: the bytes the device signs, and them decoded.
pub fn pause_body(ledger: &Ledger, reason: &str) -> Result<(Vec<u8>, BodyView), Error> {
    let field = |what: &str, id: &str| {
        parse_account(id).ok_or_else(|| Error::NotSetUp {
            profile: String::new(),
            reason: format!("{what} {id:?} is not shard.realm.num"),
        })
    };
    let payer = field("payer", &ledger.payer)?;
    let node_account = field("node account", &ledger.node_account)?;
    let token = field("token", &ledger.token)?;
    let now = Utc::now();
    let reason = clean_reason(reason);
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
        memo: format!("gatehouse break-glass pause {reason}"),
        data: Some(pb::transaction_body::Data::TokenPause(
            pb::TokenPauseTransactionBody {
                token: Some(pb::TokenId {
                    shard_num: token.shard_num,
                    realm_num: token.realm_num,
                    token_num: match token.account {
                        Some(pb::account_id::Account::AccountNum(n)) => n,
                        _ => 0,
                    },
                }),
            },
        )),
        ..Default::default()
    };
    let bytes = body.encode_to_vec();
    let view = decode_body(&bytes).map_err(|e| Error::Ledger(e.to_string()))?;
    Ok((bytes, view))
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
    let (prefix, sig) = match key.algorithm() {
        Algorithm::Ed25519 => (
            key.as_bytes().to_vec(),
            pb::signature_pair::Signature::Ed25519(signature.clone()),
        ),
        Algorithm::EcdsaSecp256k1 => (
            key.compressed().unwrap_or_default(),
            pb::signature_pair::Signature::EcdsaSecp256k1(signature.clone()),
        ),
        other => {
            return Err(Error::Ledger(format!(
                "a {other:?} key cannot sign for Hedera"
            )));
        }
    };
    let pair = pb::SignaturePair {
        pub_key_prefix: prefix,
        signature: Some(sig),
    };
    let transaction = node::transaction(bytes.clone(), vec![pair]);
    let connection = Node::new(&ledger.node).map_err(|e| Error::Ledger(e.to_string()))?;
    // Once the node took it, the pause may execute whatever happens to the answer: a receipt
    // that does not come (or a connection lost while waiting) leaves the outcome unknown, so it is
    // recorded (and queued) with what is known, and the mirror decides what the responder is told.
    // A connection lost while handing it in is as unknown: only the mirror can say then.
    let (status, mirror_seen) = match connection.send(&body, transaction).await {
        Ok(id) => match connection.outcome(id).await {
            Ok(_) => ("SUCCESS".to_owned(), None),
            Err(e @ (node::Error::NoReceipt(_) | node::Error::Transport(_))) => {
                (format!("UNKNOWN: {e}"), None)
            }
            Err(e) => return Err(Error::Ledger(e.to_string())),
        },
        Err(node::Error::Transport(e)) => {
            if !mirror_shows_paused(&ledger.mirror, &ledger.token).await {
                return Err(Error::Ledger(format!(
                    "the ledger node cannot be reached: {e}; the mirror does not show the token paused"
                )));
            }
            (
                format!("UNKNOWN: the node's answer was lost ({e})"),
                Some(true),
            )
        }
        Err(e) => return Err(Error::Ledger(e.to_string())),
    };
    let paused = match mirror_seen {
        Some(seen) => seen,
        None => mirror_shows_paused(&ledger.mirror, &ledger.token).await,
    };
    let ledger_status = if paused && status != "SUCCESS" {
        format!("{status}; the mirror shows the token PAUSED")
    } else {
        status
    };
    let record = BreakGlassRecord {
        transaction_id: body
            .transaction_id
            .as_ref()
            .map(transaction_id_text)
            .unwrap_or_default(),
        body: B64.encode(&bytes),
        signature: B64.encode(&signature),
        device,
        ledger_status,
        mirror_paused: paused,
        submitted_at: Utc::now(),
    };
    Ok((record, paused))
}

/// Whether the mirror at `mirror` shows `token` paused within 20 s.
async fn mirror_shows_paused(mirror: &str, token: &str) -> bool {
    let url = format!("{}/api/v1/tokens/{token}", mirror.trim_end_matches('/'));
    let client = http_client();
    let deadline: DateTime<Utc> = Utc::now() + chrono::Duration::seconds(20);
    while Utc::now() < deadline {
        if let Ok(response) = client.get(&url).send().await
            && let Ok(json) = response.json::<serde_json::Value>().await
            && json["pause_status"] == "PAUSED"
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
