//! Hedera's gRPC API (HAPI) spoken directly, with the SDK's own generated messages and clients
//! (`hiero-sdk-proto`), for everything officers sign.
//!
//! Why not the SDK's transaction builders here: an approval is a signature over one exact
//! `TransactionBody`, made on an officer's device minutes after the server built it, and the
//! server must submit those very bytes with the officer's signature beside the operator's. The SDK
//! builds bodies itself, regenerates transaction ids, and its add-a-signature path asserts (panics)
//! on misuse. Building the body here keeps the bytes under our control from creation to
//! submission, and the wire format is Hedera's own.

use gatehouse_protocol::node::Node;
pub use gatehouse_protocol::node::{
    Code, Error, account, account_text, parse_account, parse_entity, transaction_id_text,
};
use hiero_sdk::PrivateKey;
use hiero_sdk_proto::services::{self as pb, transaction_body::Data};
use prost::Message as _;

/// How long a transaction is valid after its start: Hedera's maximum.
pub const VALID_SECS: i64 = 180;

/// How far before "now" a transaction's valid start is placed, so a node whose clock is a little
/// behind ours does not refuse it as not yet valid.
const START_SKEW_SECS: i64 = 5;

/// Most fee the operator agrees to pay for one of these transactions (tinybars: 20 hbar).
const MAX_FEE: u64 = 2_000_000_000;

/// A connection to one consensus node, paying with the operator account.
#[derive(Clone)]
pub struct Hapi {
    connection: Node,
    address: String,
    node: pb::AccountId,
    operator: pb::AccountId,
    key: PrivateKey,
}

impl std::fmt::Debug for Hapi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hapi")
            .field("node", &self.node)
            .field("operator", &self.operator)
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The Hedera key of one device public key (Ed25519 raw, secp256k1 compressed).
pub fn primitive_key(key: &gatehouse_keys::key::PublicKey) -> Option<pb::Key> {
    use gatehouse_keys::key::Algorithm;
    let key = match key.algorithm() {
        Algorithm::Ed25519 => pb::key::Key::Ed25519(key.as_bytes().to_vec()),
        Algorithm::EcdsaSecp256k1 => pb::key::Key::EcdsaSecp256k1(key.compressed()?),
        _ => return None,
    };
    Some(pb::Key { key: Some(key) })
}

/// When the ledger stops accepting `body`: its valid start plus [`VALID_SECS`].
pub fn expires_at(body: &pb::TransactionBody) -> chrono::DateTime<chrono::Utc> {
    let start = body
        .transaction_id
        .as_ref()
        .and_then(|t| t.transaction_valid_start)
        .unwrap_or_default();
    chrono::DateTime::from_timestamp(start.seconds + VALID_SECS, 0).unwrap_or_else(chrono::Utc::now)
}

/// `ThresholdKey(threshold, keys)`.
pub fn threshold_key(threshold: u32, keys: Vec<pb::Key>) -> pb::Key {
    pb::Key {
        key: Some(pb::key::Key::ThresholdKey(pb::ThresholdKey {
            threshold,
            keys: Some(pb::KeyList { keys }),
        })),
    }
}

/// The signature pair Hedera expects for `key` signing: (full public key as prefix, signature).
pub fn signature_pair(
    key: &gatehouse_keys::key::PublicKey,
    signature: Vec<u8>,
) -> Option<pb::SignaturePair> {
    use gatehouse_keys::key::Algorithm;
    let (prefix, signature) = match key.algorithm() {
        Algorithm::Ed25519 => (
            key.as_bytes().to_vec(),
            pb::signature_pair::Signature::Ed25519(signature),
        ),
        Algorithm::EcdsaSecp256k1 => (
            key.compressed()?,
            pb::signature_pair::Signature::EcdsaSecp256k1(signature),
        ),
        _ => return None,
    };
    Some(pb::SignaturePair {
        pub_key_prefix: prefix,
        signature: Some(signature),
    })
}

impl Hapi {
    /// Talks to the node at `address` (`host:port`, plaintext gRPC as Hedera nodes serve on
    /// 50211) whose account is `node`, paying with `operator` signed by `key`.
    pub fn new(
        address: &str,
        node: pb::AccountId,
        operator: pb::AccountId,
        key: PrivateKey,
    ) -> Result<Self, Error> {
        Ok(Self {
            connection: Node::new(address)?,
            address: address.to_owned(),
            node,
            operator,
            key,
        })
    }

    /// The node transactions go to: its address (`host:port`) and account.
    pub fn node(&self) -> (&str, &pb::AccountId) {
        (&self.address, &self.node)
    }

    /// The operator (fee payer) account.
    pub fn operator(&self) -> &pb::AccountId {
        &self.operator
    }

    /// A body paid by the operator, valid from a few seconds ago for [`VALID_SECS`].
    pub fn body(&self, data: Data, memo: &str) -> pb::TransactionBody {
        let now = chrono::Utc::now();
        let start = pb::Timestamp {
            seconds: now.timestamp() - START_SKEW_SECS,
            nanos: i32::try_from(now.timestamp_subsec_nanos()).unwrap_or(0),
        };
        pb::TransactionBody {
            transaction_id: Some(pb::TransactionId {
                transaction_valid_start: Some(start),
                account_id: Some(self.operator.clone()),
                scheduled: false,
                nonce: 0,
            }),
            node_account_id: Some(self.node.clone()),
            transaction_fee: MAX_FEE,
            transaction_valid_duration: Some(pb::Duration {
                seconds: VALID_SECS,
            }),
            memo: memo.to_owned(),
            data: Some(data),
            ..Default::default()
        }
    }

    /// The operator's public key as a Hedera key.
    fn operator_key(&self) -> pb::Key {
        let public = self.key.public_key();
        let raw = public.to_bytes_raw();
        pb::Key {
            key: Some(if public.is_ed25519() {
                pb::key::Key::Ed25519(raw)
            } else {
                pb::key::Key::EcdsaSecp256k1(raw)
            }),
        }
    }

    /// The operator's signature pair over `body_bytes`.
    fn operator_pair(&self, body_bytes: &[u8]) -> pb::SignaturePair {
        let public = self.key.public_key();
        let signature = self.key.sign(body_bytes);
        let signature = if public.is_ed25519() {
            pb::signature_pair::Signature::Ed25519(signature)
        } else {
            pb::signature_pair::Signature::EcdsaSecp256k1(signature)
        };
        pb::SignaturePair {
            pub_key_prefix: public.to_bytes_raw(),
            signature: Some(signature),
        }
    }

    /// The transaction: `body_bytes` signed by the operator and by `others`.
    pub fn transaction(
        &self,
        body_bytes: Vec<u8>,
        others: Vec<pb::SignaturePair>,
    ) -> pb::Transaction {
        let mut pairs = vec![self.operator_pair(&body_bytes)];
        pairs.extend(others);
        gatehouse_protocol::node::transaction(body_bytes, pairs)
    }

    /// Submits `transaction` (whose body is `body`) and waits for its receipt; a receipt whose
    /// status is not SUCCESS is an error.
    pub async fn execute(
        &self,
        body: &pb::TransactionBody,
        transaction: pb::Transaction,
    ) -> Result<pb::TransactionReceipt, Error> {
        self.connection.submit(body, transaction).await
    }

    /// Waits for the receipt of transaction `id`.
    pub async fn receipt(&self, id: pb::TransactionId) -> Result<pb::TransactionReceipt, Error> {
        self.connection.receipt(id).await
    }

    /// The receipt of transaction `id` if the ledger has reached consensus on it.
    pub async fn receipt_now(
        &self,
        id: pb::TransactionId,
    ) -> Result<Option<pb::TransactionReceipt>, Error> {
        self.connection.receipt_now(id).await
    }

    /// Builds, signs (operator only) and executes a transaction with `data`.
    pub async fn run(&self, data: Data, memo: &str) -> Result<pb::TransactionReceipt, Error> {
        let body = self.body(data, memo);
        let transaction = self.transaction(body.encode_to_vec(), Vec::new());
        self.execute(&body, transaction).await
    }

    /// Schedules `inner` (paid by the operator), expiring at `expiration`. Returns the receipt,
    /// which names the schedule and the scheduled transaction id.
    pub async fn schedule(
        &self,
        inner: pb::SchedulableTransactionBody,
        memo: &str,
        expiration: chrono::DateTime<chrono::Utc>,
    ) -> Result<pb::TransactionReceipt, Error> {
        let data = Data::ScheduleCreate(pb::ScheduleCreateTransactionBody {
            scheduled_transaction_body: Some(inner),
            memo: memo.to_owned(),
            // The operator may delete the schedule (a cancelled proposal), nothing more: deleting
            // cannot execute anything, and the officers' keys alone satisfy the inner transaction.
            admin_key: Some(self.operator_key()),
            payer_account_id: Some(self.operator.clone()),
            expiration_time: Some(pb::Timestamp {
                seconds: expiration.timestamp(),
                nanos: 0,
            }),
            wait_for_expiry: false,
        });
        self.run(data, memo).await
    }

    /// Deletes `schedule` (its admin key is the operator's): nobody can sign or execute it any more.
    pub async fn delete_schedule(
        &self,
        schedule: pb::ScheduleId,
        memo: &str,
    ) -> Result<pb::TransactionReceipt, Error> {
        let data = Data::ScheduleDelete(pb::ScheduleDeleteTransactionBody {
            schedule_id: Some(schedule),
        });
        self.run(data, memo).await
    }

    /// The body of a ScheduleSign for `schedule`: what an officer's device signs to approve.
    pub fn schedule_sign_body(&self, schedule: pb::ScheduleId, memo: &str) -> pb::TransactionBody {
        self.body(
            Data::ScheduleSign(pb::ScheduleSignTransactionBody {
                schedule_id: Some(schedule),
            }),
            memo,
        )
    }
}
