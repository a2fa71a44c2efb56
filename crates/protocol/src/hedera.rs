//! Hedera transaction bodies decoded for display (invariant 2: what you see is what you sign).
//!
//! The console and the CLI decode the exact bytes an officer's device will sign, and the scheduled
//! body the ledger will execute, with Hedera's own protobuf definitions, and show every field.
//! A body is refused unless it decodes *and* re-encodes to the very same bytes: protobuf decoders
//! skip fields they do not know, so a body carrying something this code cannot show (a newer
//! field, a smuggled one, a non-canonical encoding) is never displayed as if it were understood.

use chrono::{DateTime, Utc};
use hiero_sdk_proto::services as pb;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Why bytes could not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a protobuf message of the expected type.
    #[error("the bytes are not a Hedera {what}: {reason}")]
    Malformed {
        /// The message type expected.
        what: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// The bytes hold fields this version cannot show, or are not canonically encoded.
    #[error(
        "the {what} holds fields this Gatehouse cannot show (or is not canonically encoded); it will not be signed"
    )]
    NotCanonical {
        /// The message type.
        what: &'static str,
    },
    /// A required part is missing.
    #[error("the {what} has no {field}")]
    Missing {
        /// The message type.
        what: &'static str,
        /// The field.
        field: &'static str,
    },
}

/// A short, readable fingerprint of bytes for out-of-band comparison: the first 8 bytes of their
/// SHA-256 as four groups of hex, e.g. `1A2B-3C4D-5E6F-7081`.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8]
        .chunks(2)
        .map(hex_upper)
        .collect::<Vec<_>>()
        .join("-")
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A Hedera key, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum KeyView {
    /// An Ed25519 key (hex).
    Ed25519 {
        /// The 32-byte key, hex.
        key: String,
    },
    /// An ECDSA secp256k1 key (compressed, hex).
    EcdsaSecp256k1 {
        /// The 33-byte key, hex.
        key: String,
    },
    /// M of these keys.
    Threshold {
        /// M.
        threshold: u32,
        /// The keys.
        keys: Vec<KeyView>,
    },
    /// All of these keys.
    List {
        /// The keys.
        keys: Vec<KeyView>,
    },
    /// A kind this code does not show in detail (a contract id, ...).
    Other {
        /// Its protobuf name.
        name: String,
    },
}

impl KeyView {
    /// How `key` is shown.
    pub fn of(key: &pb::Key) -> Self {
        use pb::key::Key as K;
        match &key.key {
            Some(K::Ed25519(k)) => KeyView::Ed25519 { key: hex_lower(k) },
            Some(K::EcdsaSecp256k1(k)) => KeyView::EcdsaSecp256k1 { key: hex_lower(k) },
            Some(K::ThresholdKey(t)) => KeyView::Threshold {
                threshold: t.threshold,
                keys: t
                    .keys
                    .as_ref()
                    .map(|l| l.keys.iter().map(KeyView::of).collect())
                    .unwrap_or_default(),
            },
            Some(K::KeyList(l)) => KeyView::List {
                keys: l.keys.iter().map(KeyView::of).collect(),
            },
            Some(other) => KeyView::Other {
                name: format!("{other:?}")
                    .split('(')
                    .next()
                    .unwrap_or("unknown")
                    .to_owned(),
            },
            None => KeyView::Other {
                name: "empty".to_owned(),
            },
        }
    }

    /// A key as a mirror node's REST API shows it (`{"_type": "ED25519" | "ECDSA_SECP256K1" |
    /// "ProtobufEncoded", "key": hex}`); `Ok(None)` for JSON `null` (no key).
    pub fn from_mirror(json: &serde_json::Value) -> Result<Option<Self>, String> {
        use prost::Message as _;
        if json.is_null() {
            return Ok(None);
        }
        let (Some(kind), Some(key)) = (json["_type"].as_str(), json["key"].as_str()) else {
            return Err(format!("not a key: {json}"));
        };
        let bytes = hex_decode(key).ok_or_else(|| format!("a {kind} key that is not hex"))?;
        Ok(Some(match kind {
            "ED25519" => KeyView::Ed25519 {
                key: hex_lower(&bytes),
            },
            "ECDSA_SECP256K1" => KeyView::EcdsaSecp256k1 {
                key: hex_lower(&bytes),
            },
            "ProtobufEncoded" => KeyView::of(
                &pb::Key::decode(bytes.as_slice())
                    .map_err(|e| format!("a protobuf key that does not decode: {e}"))?,
            ),
            other => return Err(format!("a key of unknown type {other:?}")),
        }))
    }

    /// Every primitive key in it, hex.
    pub fn primitives(&self) -> Vec<String> {
        match self {
            KeyView::Ed25519 { key } | KeyView::EcdsaSecp256k1 { key } => vec![key.clone()],
            KeyView::Threshold { keys, .. } | KeyView::List { keys } => {
                keys.iter().flat_map(KeyView::primitives).collect()
            }
            KeyView::Other { .. } => Vec::new(),
        }
    }
}

/// One NFT's on-chain metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MetadataView {
    /// The bytes as text, when they are UTF-8 without control characters.
    pub text: Option<String>,
    /// The bytes, hex.
    pub hex: String,
    /// How many bytes.
    pub bytes: u32,
}

impl MetadataView {
    fn of(bytes: &[u8]) -> Self {
        let text = std::str::from_utf8(bytes)
            .ok()
            .filter(|t| !t.chars().any(char::is_control))
            .map(str::to_owned);
        Self {
            text,
            hex: hex_lower(bytes),
            bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }
}

/// What a scheduled transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[non_exhaustive]
// One value per decoded body, made to be shown: its size does not matter, its shape on the wire
// (serde, specta) does.
#[allow(clippy::large_enum_variant)]
pub enum ScheduledAction {
    /// Mint NFTs.
    TokenMint {
        /// The token.
        token: String,
        /// Each NFT's metadata.
        metadata: Vec<MetadataView>,
        /// A fungible amount (0 for NFTs).
        amount: u64,
    },
    /// Create a token.
    TokenCreate {
        /// Name.
        name: String,
        /// Symbol.
        symbol: String,
        /// The treasury account.
        treasury: String,
        /// `NON_FUNGIBLE_UNIQUE` or `FUNGIBLE_COMMON`.
        token_type: String,
        /// `FINITE` or `INFINITE`.
        supply_type: String,
        /// Maximum supply.
        max_supply: i64,
        /// Admin key.
        admin_key: Option<KeyView>,
        /// Supply key.
        supply_key: Option<KeyView>,
        /// Pause key.
        pause_key: Option<KeyView>,
        /// Keys the token should not have, present: named here so they are seen.
        other_keys: Vec<String>,
        /// Token memo.
        memo: String,
    },
    /// Change a token. Only the fields set change; each is shown.
    TokenUpdate {
        /// The token.
        token: String,
        /// New name.
        name: Option<String>,
        /// New symbol.
        symbol: Option<String>,
        /// New treasury account.
        treasury: Option<String>,
        /// New admin key.
        admin_key: Option<KeyView>,
        /// New supply key.
        supply_key: Option<KeyView>,
        /// New pause key.
        pause_key: Option<KeyView>,
        /// Other keys it sets, by name, so they are seen.
        other_keys: Vec<String>,
        /// New memo.
        memo: Option<String>,
        /// New token metadata.
        metadata: Option<MetadataView>,
        /// New expiry.
        expiry: Option<DateTime<Utc>>,
        /// New auto-renew account.
        auto_renew_account: Option<String>,
        /// New auto-renew period, seconds.
        auto_renew_period_secs: Option<i64>,
        /// `FULL_VALIDATION` or `NO_VALIDATION` (HIP-540: whether new keys must sign too).
        key_verification_mode: String,
    },
    /// Unpause a token (the action a resume proposal authorises; never scheduled).
    TokenUnpause {
        /// The token.
        token: String,
    },
    /// Anything else: named, and never signed by Gatehouse.
    Unsupported {
        /// The protobuf name.
        name: String,
    },
}

/// A scheduled transaction body (`SchedulableTransactionBody`), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ScheduledView {
    /// Short fingerprint of the bytes.
    pub fingerprint: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Most fee the payer agreed to, tinybars.
    pub max_fee_tinybars: u64,
    /// The memo.
    pub memo: String,
    /// What it does.
    pub action: ScheduledAction,
}

/// What a signed transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[non_exhaustive]
pub enum Action {
    /// Add the signer's signature to a schedule.
    ScheduleSign {
        /// The schedule.
        schedule: String,
    },
    /// Pause a token: every transfer and mint of it stops until it is unpaused.
    TokenPause {
        /// The token.
        token: String,
    },
    /// Unpause a token: transfers and mints may go on.
    TokenUnpause {
        /// The token.
        token: String,
    },
    /// Set an account's key (a CryptoUpdate): a break-glass account re-keyed after a pause-key
    /// rotation. Hedera asks the old key and the new key to sign it.
    AccountKey {
        /// The account.
        account: String,
        /// Its new key; `None` when the update sets no key.
        key: Option<KeyView>,
        /// Anything else the update changes (memo, expiry, ...), named: Gatehouse signs none.
        other_changes: Vec<String>,
    },
    /// Anything else: named, and never signed by Gatehouse as an approval.
    Other {
        /// The protobuf name.
        name: String,
    },
}

/// A transaction body (`TransactionBody`), decoded: the bytes a device signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BodyView {
    /// Short fingerprint of the bytes.
    pub fingerprint: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// `payer@seconds.nanos`.
    pub transaction_id: String,
    /// The account that pays the fee.
    pub payer: String,
    /// The node it is sent to.
    pub node: String,
    /// Valid from.
    pub valid_start: DateTime<Utc>,
    /// For this many seconds.
    pub valid_duration_secs: i64,
    /// Most fee the payer agreed to, tinybars.
    pub max_fee_tinybars: u64,
    /// The memo.
    pub memo: String,
    /// What it does.
    pub action: Action,
}

fn account(id: Option<&pb::AccountId>) -> String {
    match id {
        Some(pb::AccountId {
            shard_num,
            realm_num,
            account: Some(pb::account_id::Account::AccountNum(n)),
        }) => format!("{shard_num}.{realm_num}.{n}"),
        Some(_) => "an alias account".to_owned(),
        None => "none".to_owned(),
    }
}

fn token(id: Option<&pb::TokenId>) -> String {
    id.map_or_else(
        || "none".to_owned(),
        |t| format!("{}.{}.{}", t.shard_num, t.realm_num, t.token_num),
    )
}

fn variant_name(debug: String) -> String {
    debug.split('(').next().unwrap_or("unknown").to_owned()
}

/// Decodes `bytes` as `M`, refusing anything that does not re-encode to the same bytes.
fn canonical<M: prost::Message + Default>(
    bytes: &[u8],
    what: &'static str,
) -> Result<M, DecodeError> {
    let message = M::decode(bytes).map_err(|e| DecodeError::Malformed {
        what,
        reason: e.to_string(),
    })?;
    if message.encode_to_vec() != bytes {
        return Err(DecodeError::NotCanonical { what });
    }
    Ok(message)
}

/// Decodes a `SchedulableTransactionBody` (a proposal's scheduled body, or the ledger's copy).
pub fn decode_scheduled(bytes: &[u8]) -> Result<ScheduledView, DecodeError> {
    const WHAT: &str = "scheduled transaction body";
    let body: pb::SchedulableTransactionBody = canonical(bytes, WHAT)?;
    use pb::schedulable_transaction_body::Data as D;
    let action = match body.data.as_ref() {
        None => {
            return Err(DecodeError::Missing {
                what: WHAT,
                field: "transaction",
            });
        }
        Some(D::TokenMint(m)) => ScheduledAction::TokenMint {
            token: token(m.token.as_ref()),
            metadata: m.metadata.iter().map(|b| MetadataView::of(b)).collect(),
            amount: m.amount,
        },
        Some(D::TokenCreation(c)) => {
            let mut other_keys = Vec::new();
            for (name, key) in [
                ("kyc", &c.kyc_key),
                ("freeze", &c.freeze_key),
                ("wipe", &c.wipe_key),
                ("fee schedule", &c.fee_schedule_key),
                ("metadata", &c.metadata_key),
            ] {
                if key.is_some() {
                    other_keys.push(name.to_owned());
                }
            }
            ScheduledAction::TokenCreate {
                name: c.name.clone(),
                symbol: c.symbol.clone(),
                treasury: account(c.treasury.as_ref()),
                token_type: pb::TokenType::try_from(c.token_type).map_or_else(
                    |_| format!("unknown ({})", c.token_type),
                    |t| t.as_str_name().to_owned(),
                ),
                supply_type: pb::TokenSupplyType::try_from(c.supply_type).map_or_else(
                    |_| format!("unknown ({})", c.supply_type),
                    |t| t.as_str_name().to_owned(),
                ),
                max_supply: c.max_supply,
                admin_key: c.admin_key.as_ref().map(KeyView::of),
                supply_key: c.supply_key.as_ref().map(KeyView::of),
                pause_key: c.pause_key.as_ref().map(KeyView::of),
                other_keys,
                memo: c.memo.clone(),
            }
        }
        Some(D::TokenUpdate(u)) => token_update(u),
        Some(D::TokenUnpause(u)) => ScheduledAction::TokenUnpause {
            token: token(u.token.as_ref()),
        },
        Some(other) => ScheduledAction::Unsupported {
            name: variant_name(format!("{other:?}")),
        },
    };
    Ok(ScheduledView {
        fingerprint: fingerprint(bytes),
        sha256: hex_lower(&Sha256::digest(bytes)),
        max_fee_tinybars: body.transaction_fee,
        memo: body.memo,
        action,
    })
}

fn token_update(u: &pb::TokenUpdateTransactionBody) -> ScheduledAction {
    let mut other_keys = Vec::new();
    for (name, key) in [
        ("kyc", &u.kyc_key),
        ("freeze", &u.freeze_key),
        ("wipe", &u.wipe_key),
        ("fee schedule", &u.fee_schedule_key),
        ("metadata", &u.metadata_key),
    ] {
        if key.is_some() {
            other_keys.push(name.to_owned());
        }
    }
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    ScheduledAction::TokenUpdate {
        token: token(u.token.as_ref()),
        name: text(&u.name),
        symbol: text(&u.symbol),
        treasury: u.treasury.as_ref().map(|a| account(Some(a))),
        admin_key: u.admin_key.as_ref().map(KeyView::of),
        supply_key: u.supply_key.as_ref().map(KeyView::of),
        pause_key: u.pause_key.as_ref().map(KeyView::of),
        other_keys,
        memo: u.memo.clone(),
        metadata: u.metadata.as_deref().map(MetadataView::of),
        expiry: u.expiry.and_then(|t| {
            DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        }),
        auto_renew_account: u.auto_renew_account.as_ref().map(|a| account(Some(a))),
        auto_renew_period_secs: u.auto_renew_period.map(|d| d.seconds),
        key_verification_mode: pb::TokenKeyValidation::try_from(u.key_verification_mode)
            .map_or_else(
                |_| format!("unknown ({})", u.key_verification_mode),
                |m| m.as_str_name().to_owned(),
            ),
    }
}

/// Decodes a `TransactionBody` (the bytes an officer's device signs).
pub fn decode_body(bytes: &[u8]) -> Result<BodyView, DecodeError> {
    const WHAT: &str = "transaction body";
    let body: pb::TransactionBody = canonical(bytes, WHAT)?;
    let id = body.transaction_id.as_ref().ok_or(DecodeError::Missing {
        what: WHAT,
        field: "transaction id",
    })?;
    let start = id.transaction_valid_start.unwrap_or_default();
    let valid_start =
        DateTime::<Utc>::from_timestamp(start.seconds, u32::try_from(start.nanos).unwrap_or(0))
            .ok_or(DecodeError::Missing {
                what: WHAT,
                field: "valid start",
            })?;
    let payer = account(id.account_id.as_ref());
    use pb::transaction_body::Data as D;
    let action = match body.data.as_ref() {
        Some(D::ScheduleSign(s)) => ScheduleSignView::of(s),
        Some(D::TokenPause(p)) => Action::TokenPause {
            token: token(p.token.as_ref()),
        },
        Some(D::TokenUnpause(p)) => Action::TokenUnpause {
            token: token(p.token.as_ref()),
        },
        Some(D::CryptoUpdateAccount(u)) => account_key(u),
        Some(other) => Action::Other {
            name: variant_name(format!("{other:?}")),
        },
        None => {
            return Err(DecodeError::Missing {
                what: WHAT,
                field: "transaction",
            });
        }
    };
    Ok(BodyView {
        fingerprint: fingerprint(bytes),
        sha256: hex_lower(&Sha256::digest(bytes)),
        transaction_id: format!("{payer}@{}.{:09}", start.seconds, start.nanos),
        payer,
        node: account(body.node_account_id.as_ref()),
        valid_start,
        valid_duration_secs: body.transaction_valid_duration.map_or(0, |d| d.seconds),
        max_fee_tinybars: body.transaction_fee,
        memo: body.memo,
        action,
    })
}

fn account_key(u: &pb::CryptoUpdateTransactionBody) -> Action {
    let mut other_changes = Vec::new();
    for (name, set) in [
        ("expiry", u.expiration_time.is_some()),
        ("auto-renew period", u.auto_renew_period.is_some()),
        (
            "receiver signature",
            u.receiver_sig_required_field.is_some(),
        ),
        ("memo", u.memo.is_some()),
        (
            "automatic token associations",
            u.max_automatic_token_associations.is_some(),
        ),
        (
            "staking",
            u.staked_id.is_some() || u.decline_reward.is_some(),
        ),
    ] {
        if set {
            other_changes.push(name.to_owned());
        }
    }
    // Whatever this list does not name (hooks, record thresholds, fields newer than this code)
    // is still shown as changed, never passed over.
    let rest = pb::CryptoUpdateTransactionBody {
        account_id_to_update: None,
        key: None,
        expiration_time: None,
        auto_renew_period: None,
        receiver_sig_required_field: None,
        memo: None,
        max_automatic_token_associations: None,
        staked_id: None,
        decline_reward: None,
        ..u.clone()
    };
    if rest != pb::CryptoUpdateTransactionBody::default() {
        other_changes.push("other fields".to_owned());
    }
    Action::AccountKey {
        account: account(u.account_id_to_update.as_ref()),
        key: u.key.as_ref().map(KeyView::of),
        other_changes,
    }
}

struct ScheduleSignView;

impl ScheduleSignView {
    fn of(s: &pb::ScheduleSignTransactionBody) -> Action {
        Action::ScheduleSign {
            schedule: s.schedule_id.as_ref().map_or_else(
                || "none".to_owned(),
                |id| format!("{}.{}.{}", id.shard_num, id.realm_num, id.schedule_num),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn keys_as_a_mirror_shows_them_are_read() {
        let ed = |b: u8| pb::Key {
            key: Some(pb::key::Key::Ed25519(vec![b; 32])),
        };
        let threshold = pb::Key {
            key: Some(pb::key::Key::ThresholdKey(pb::ThresholdKey {
                threshold: 2,
                keys: Some(pb::KeyList {
                    keys: vec![ed(1), ed(2), ed(3)],
                }),
            })),
        };
        let encoded = serde_json::json!({
            "_type": "ProtobufEncoded",
            "key": hex_lower(&threshold.encode_to_vec()),
        });
        let view = KeyView::from_mirror(&encoded)
            .expect("decodes")
            .expect("a key");
        assert_eq!(view, KeyView::of(&threshold));
        assert_eq!(view.primitives().len(), 3);
        let single = serde_json::json!({ "_type": "ED25519", "key": hex_lower(&[9; 32]) });
        assert_eq!(
            KeyView::from_mirror(&single).expect("decodes"),
            Some(KeyView::Ed25519 {
                key: hex_lower(&[9; 32])
            })
        );
        assert_eq!(KeyView::from_mirror(&serde_json::Value::Null), Ok(None));
        for bad in [
            serde_json::json!({ "_type": "RSA", "key": "00" }),
            serde_json::json!({ "_type": "ED25519", "key": "abc" }),
            serde_json::json!({ "_type": "ProtobufEncoded", "key": "ff" }),
            serde_json::json!("not a key"),
        ] {
            assert!(KeyView::from_mirror(&bad).is_err(), "{bad}");
        }
    }

    fn mint_body() -> Vec<u8> {
        pb::SchedulableTransactionBody {
            transaction_fee: 5,
            memo: "gatehouse proposal p".into(),
            data: Some(pb::schedulable_transaction_body::Data::TokenMint(
                pb::TokenMintTransactionBody {
                    token: Some(pb::TokenId {
                        shard_num: 0,
                        realm_num: 0,
                        token_num: 1002,
                    }),
                    amount: 0,
                    metadata: vec![b"ipfs://bafy".to_vec(), vec![0, 1, 2]],
                },
            )),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_mint_shows_its_token_and_every_metadata_item() {
        let view = decode_scheduled(&mint_body()).expect("decodes");
        let ScheduledAction::TokenMint {
            token, metadata, ..
        } = &view.action
        else {
            panic!("a mint: {view:?}")
        };
        assert_eq!(token, "0.0.1002");
        assert_eq!(metadata[0].text.as_deref(), Some("ipfs://bafy"));
        assert_eq!(
            (metadata[1].text.as_deref(), metadata[1].hex.as_str()),
            (None, "000102")
        );
        assert_eq!(view.fingerprint.len(), 19);
        assert_eq!(view.fingerprint, fingerprint(&mint_body()));
    }

    #[test]
    fn unknown_fields_and_garbage_are_refused_not_hidden() {
        let mut smuggled = mint_body();
        // Field 999 (varint), unknown to SchedulableTransactionBody: a decoder would skip it.
        smuggled.extend_from_slice(&[0xb8, 0x3e, 0x01]);
        assert!(matches!(
            decode_scheduled(&smuggled),
            Err(DecodeError::NotCanonical { .. })
        ));
        assert!(matches!(
            decode_scheduled(&[0xff, 0xff]),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(decode_body(&[]), Err(DecodeError::Missing { .. })));
    }

    #[test]
    fn a_schedule_sign_body_shows_payer_node_window_and_schedule() {
        let body = pb::TransactionBody {
            transaction_id: Some(pb::TransactionId {
                transaction_valid_start: Some(pb::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 7,
                }),
                account_id: Some(pb::AccountId {
                    shard_num: 0,
                    realm_num: 0,
                    account: Some(pb::account_id::Account::AccountNum(2)),
                }),
                scheduled: false,
                nonce: 0,
            }),
            node_account_id: Some(pb::AccountId {
                shard_num: 0,
                realm_num: 0,
                account: Some(pb::account_id::Account::AccountNum(3)),
            }),
            transaction_fee: 100,
            transaction_valid_duration: Some(pb::Duration { seconds: 180 }),
            memo: "gatehouse approval p".into(),
            data: Some(pb::transaction_body::Data::ScheduleSign(
                pb::ScheduleSignTransactionBody {
                    schedule_id: Some(pb::ScheduleId {
                        shard_num: 0,
                        realm_num: 0,
                        schedule_num: 1003,
                    }),
                },
            )),
            ..Default::default()
        }
        .encode_to_vec();
        let view = decode_body(&body).expect("decodes");
        assert_eq!(view.transaction_id, "0.0.2@1700000000.000000007");
        assert_eq!(
            (view.payer.as_str(), view.node.as_str()),
            ("0.0.2", "0.0.3")
        );
        assert_eq!(view.valid_duration_secs, 180);
        assert_eq!(
            view.action,
            Action::ScheduleSign {
                schedule: "0.0.1003".into()
            }
        );
    }

    #[test]
    fn a_token_update_shows_what_it_changes_and_only_that() {
        let body = pb::SchedulableTransactionBody {
            transaction_fee: 5,
            memo: "gatehouse proposal p".into(),
            data: Some(pb::schedulable_transaction_body::Data::TokenUpdate(
                pb::TokenUpdateTransactionBody {
                    token: Some(pb::TokenId {
                        shard_num: 0,
                        realm_num: 0,
                        token_num: 1002,
                    }),
                    memo: Some("gatehouse policy sha256:00".into()),
                    wipe_key: Some(pb::Key {
                        key: Some(pb::key::Key::Ed25519(vec![7; 32])),
                    }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }
        .encode_to_vec();
        let view = decode_scheduled(&body).expect("decodes");
        let ScheduledAction::TokenUpdate {
            token,
            memo,
            name,
            admin_key,
            other_keys,
            key_verification_mode,
            ..
        } = &view.action
        else {
            panic!("an update: {view:?}")
        };
        assert_eq!(token, "0.0.1002");
        assert_eq!(memo.as_deref(), Some("gatehouse policy sha256:00"));
        assert_eq!((name, admin_key), (&None, &None));
        assert_eq!(other_keys, &["wipe".to_owned()]);
        assert_eq!(key_verification_mode, "FULL_VALIDATION");
    }

    #[test]
    fn threshold_keys_show_every_member() {
        let key = |b: u8| pb::Key {
            key: Some(pb::key::Key::Ed25519(vec![b; 32])),
        };
        let t = pb::Key {
            key: Some(pb::key::Key::ThresholdKey(pb::ThresholdKey {
                threshold: 2,
                keys: Some(pb::KeyList {
                    keys: vec![key(1), key(2), key(3)],
                }),
            })),
        };
        let view = KeyView::of(&t);
        assert!(matches!(view, KeyView::Threshold { threshold: 2, .. }));
        assert_eq!(view.primitives().len(), 3);
    }

    #[test]
    fn an_account_key_update_names_the_new_key_and_everything_else_it_changes() {
        let body = |update: pb::CryptoUpdateTransactionBody| {
            pb::TransactionBody {
                transaction_id: Some(pb::TransactionId {
                    account_id: Some(pb::AccountId {
                        shard_num: 0,
                        realm_num: 0,
                        account: Some(pb::account_id::Account::AccountNum(1010)),
                    }),
                    transaction_valid_start: Some(pb::Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                data: Some(pb::transaction_body::Data::CryptoUpdateAccount(update)),
                ..Default::default()
            }
            .encode_to_vec()
        };
        let only_key = pb::CryptoUpdateTransactionBody {
            account_id_to_update: Some(pb::AccountId {
                shard_num: 0,
                realm_num: 0,
                account: Some(pb::account_id::Account::AccountNum(1010)),
            }),
            key: Some(pb::Key {
                key: Some(pb::key::Key::Ed25519(vec![9; 32])),
            }),
            ..Default::default()
        };
        let view = decode_body(&body(only_key.clone())).expect("decodes");
        assert_eq!(
            view.action,
            Action::AccountKey {
                account: "0.0.1010".into(),
                key: Some(KeyView::Ed25519 {
                    key: "09".repeat(32)
                }),
                other_changes: Vec::new(),
            }
        );
        let more = pb::CryptoUpdateTransactionBody {
            memo: Some("x".into()),
            hook_ids_to_delete: vec![1],
            ..only_key
        };
        let Action::AccountKey { other_changes, .. } =
            decode_body(&body(more)).expect("decodes").action
        else {
            panic!("an account key update")
        };
        assert_eq!(other_changes, ["memo", "other fields"]);
    }
}
