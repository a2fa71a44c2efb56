//! Hedera's gRPC API (HAPI) spoken directly, with the SDK's own generated messages and clients
//! (`hiero-sdk-proto`), for everything officers sign.
//!
//! Why not the SDK's transaction builders here: an approval is a signature over one exact
//! `TransactionBody`, made on an officer's device minutes after the server built it, and the
//! server must submit those very bytes with the officer's signature beside the operator's. The SDK
//! builds bodies itself, regenerates transaction ids, and its add-a-signature path asserts (panics)
//! on misuse. Building the body here keeps the bytes under our control from creation to
//! submission, and the wire format is Hedera's own.

use std::time::Duration;

use hiero_sdk::PrivateKey;
use hiero_sdk_proto::services::{
    self as pb, crypto_service_client::CryptoServiceClient,
    schedule_service_client::ScheduleServiceClient, token_service_client::TokenServiceClient,
    transaction_body::Data,
};
use prost::Message as _;

pub use hiero_sdk_proto::services::ResponseCodeEnum as Code;

/// How long a transaction is valid after its start: Hedera's maximum.
pub const VALID_SECS: i64 = 180;

/// How far before "now" a transaction's valid start is placed, so a node whose clock is a little
/// behind ours does not refuse it as not yet valid.
const START_SKEW_SECS: i64 = 5;

/// Most fee the operator agrees to pay for one of these transactions (tinybars: 20 hbar).
const MAX_FEE: u64 = 2_000_000_000;

/// How long to wait for a receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A ledger call that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The node could not be reached.
    #[error("the ledger node cannot be reached: {0}")]
    Transport(String),
    /// The node refused the transaction before consensus.
    #[error("the ledger refused the transaction: {0:?}")]
    Precheck(Code),
    /// Consensus reached, and the transaction failed.
    #[error("the ledger executed the transaction and it failed: {0:?}")]
    Failed(Code),
    /// No receipt in time.
    #[error("no receipt from the ledger within {0:?}; the transaction may still execute")]
    NoReceipt(Duration),
    /// The node answered something this client does not understand.
    #[error("unexpected answer from the ledger: {0}")]
    Unexpected(String),
}

/// A connection to one consensus node, paying with the operator account.
#[derive(Clone)]
pub struct Hapi {
    channel: tonic::transport::Channel,
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

/// `0.0.N` for an entity number.
pub fn account(num: i64) -> pb::AccountId {
    pb::AccountId {
        shard_num: 0,
        realm_num: 0,
        account: Some(pb::account_id::Account::AccountNum(num)),
    }
}

/// Parses `shard.realm.num`.
pub fn parse_entity(text: &str) -> Option<(i64, i64, i64)> {
    let mut parts = text.split('.').map(|p| p.parse::<i64>().ok());
    let out = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(out)
}

/// Parses an account id.
pub fn parse_account(text: &str) -> Option<pb::AccountId> {
    let (shard_num, realm_num, num) = parse_entity(text)?;
    Some(pb::AccountId {
        shard_num,
        realm_num,
        account: Some(pb::account_id::Account::AccountNum(num)),
    })
}

/// `shard.realm.num` of an account.
pub fn account_text(id: &pb::AccountId) -> String {
    let num = match id.account {
        Some(pb::account_id::Account::AccountNum(n)) => n,
        _ => -1,
    };
    format!("{}.{}.{}", id.shard_num, id.realm_num, num)
}

/// `payer@seconds.nanos` (with `?scheduled` for a scheduled one), as Hedera writes transaction ids.
pub fn transaction_id_text(id: &pb::TransactionId) -> String {
    let start = id.transaction_valid_start.unwrap_or_default();
    let payer = id.account_id.as_ref().map(account_text).unwrap_or_default();
    let scheduled = if id.scheduled { "?scheduled" } else { "" };
    format!("{payer}@{}.{:09}{scheduled}", start.seconds, start.nanos)
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
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| Error::Transport(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .connect_lazy();
        Ok(Self {
            channel,
            node,
            operator,
            key,
        })
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
        let signed = pb::SignedTransaction {
            body_bytes,
            sig_map: Some(pb::SignatureMap { sig_pair: pairs }),
            use_serialized_tx_message_hash_algorithm: false,
        };
        pb::Transaction {
            signed_transaction_bytes: signed.encode_to_vec(),
            ..Default::default()
        }
    }

    /// Submits `transaction` (whose body is `body`) and waits for its receipt; a receipt whose
    /// status is not SUCCESS is an error.
    pub async fn execute(
        &self,
        body: &pb::TransactionBody,
        transaction: pb::Transaction,
    ) -> Result<pb::TransactionReceipt, Error> {
        let data = body
            .data
            .as_ref()
            .ok_or_else(|| Error::Unexpected("a body without data".into()))?;
        let response = match data {
            Data::CryptoCreateAccount(_) => {
                CryptoServiceClient::new(self.channel.clone())
                    .create_account(transaction)
                    .await
            }
            Data::ScheduleCreate(_) => {
                ScheduleServiceClient::new(self.channel.clone())
                    .create_schedule(transaction)
                    .await
            }
            Data::ScheduleSign(_) => {
                ScheduleServiceClient::new(self.channel.clone())
                    .sign_schedule(transaction)
                    .await
            }
            Data::ScheduleDelete(_) => {
                ScheduleServiceClient::new(self.channel.clone())
                    .delete_schedule(transaction)
                    .await
            }
            Data::TokenMint(_) => {
                TokenServiceClient::new(self.channel.clone())
                    .mint_token(transaction)
                    .await
            }
            Data::TokenUpdate(_) => {
                TokenServiceClient::new(self.channel.clone())
                    .update_token(transaction)
                    .await
            }
            Data::TokenPause(_) => {
                TokenServiceClient::new(self.channel.clone())
                    .pause_token(transaction)
                    .await
            }
            Data::TokenUnpause(_) => {
                TokenServiceClient::new(self.channel.clone())
                    .unpause_token(transaction)
                    .await
            }
            other => {
                return Err(Error::Unexpected(format!(
                    "this client does not submit {other:?}"
                )));
            }
        }
        .map_err(|e| Error::Transport(e.message().to_owned()))?
        .into_inner();
        let precheck = Code::try_from(response.node_transaction_precheck_code)
            .map_err(|_| Error::Unexpected("an unknown precheck code".into()))?;
        if precheck != Code::Ok {
            return Err(Error::Precheck(precheck));
        }
        let id = body
            .transaction_id
            .clone()
            .ok_or_else(|| Error::Unexpected("a body without a transaction id".into()))?;
        let receipt = self.receipt(id).await?;
        match Code::try_from(receipt.status) {
            Ok(Code::Success) => Ok(receipt),
            Ok(code) => Err(Error::Failed(code)),
            Err(_) => Err(Error::Unexpected("an unknown receipt status".into())),
        }
    }

    /// Waits for the receipt of transaction `id` (polling while the ledger does not know it yet).
    pub async fn receipt(&self, id: pb::TransactionId) -> Result<pb::TransactionReceipt, Error> {
        let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
        let mut wait = Duration::from_millis(20);
        loop {
            if let Some(receipt) = self.receipt_now(id.clone()).await? {
                return Ok(receipt);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::NoReceipt(RECEIPT_TIMEOUT));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(500));
        }
    }

    /// The receipt of transaction `id` if the ledger has reached consensus on it; `None` while it
    /// is unknown (not yet handled, or a scheduled transaction that has not executed).
    pub async fn receipt_now(
        &self,
        id: pb::TransactionId,
    ) -> Result<Option<pb::TransactionReceipt>, Error> {
        let query = pb::Query {
            query: Some(pb::query::Query::TransactionGetReceipt(
                pb::TransactionGetReceiptQuery {
                    header: Some(pb::QueryHeader::default()),
                    transaction_id: Some(id),
                    include_duplicates: false,
                    include_child_receipts: false,
                },
            )),
        };
        let response = CryptoServiceClient::new(self.channel.clone())
            .get_transaction_receipts(query)
            .await
            .map_err(|e| Error::Transport(e.message().to_owned()))?
            .into_inner();
        let Some(pb::response::Response::TransactionGetReceipt(answer)) = response.response else {
            return Err(Error::Unexpected("not a receipt".into()));
        };
        let precheck = answer
            .header
            .map(|h| h.node_transaction_precheck_code)
            .unwrap_or_default();
        match Code::try_from(precheck) {
            Ok(Code::Ok) => {}
            Ok(Code::ReceiptNotFound) => return Ok(None),
            Ok(code) => return Err(Error::Precheck(code)),
            Err(_) => return Err(Error::Unexpected("an unknown precheck code".into())),
        }
        let receipt = answer.receipt.unwrap_or_default();
        match Code::try_from(receipt.status) {
            Ok(Code::Unknown | Code::Ok) => Ok(None),
            Ok(_) => Ok(Some(receipt)),
            Err(_) => Err(Error::Unexpected("an unknown receipt status".into())),
        }
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
