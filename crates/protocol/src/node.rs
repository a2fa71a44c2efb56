//! One Hedera consensus node spoken to directly over gRPC (HAPI), with Hedera's own generated
//! messages and clients (`hiero-sdk-proto`): submitting a transaction whose bytes the caller
//! built and had signed, and reading its receipt. The server submits officers' approvals through
//! it; a responder's CLI submits a break-glass pause through it when the server is down.
//! (Feature `node`.)

use std::time::Duration;

use hiero_sdk_proto::services::{
    self as pb, crypto_service_client::CryptoServiceClient,
    schedule_service_client::ScheduleServiceClient, token_service_client::TokenServiceClient,
    transaction_body::Data,
};
use prost::Message as _;

pub use hiero_sdk_proto::services::ResponseCodeEnum as Code;

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

/// A connection to one consensus node.
#[derive(Debug, Clone)]
pub struct Node {
    channel: tonic::transport::Channel,
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

/// The transaction: `body_bytes` with the signature `pairs`.
pub fn transaction(body_bytes: Vec<u8>, pairs: Vec<pb::SignaturePair>) -> pb::Transaction {
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

impl Node {
    /// Talks to the node at `address` (`host:port`, plaintext gRPC as Hedera nodes serve on
    /// 50211). Nothing is dialled until the first call.
    pub fn new(address: &str) -> Result<Self, Error> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| Error::Transport(e.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .connect_lazy();
        Ok(Self { channel })
    }

    /// Submits `transaction` (whose body is `body`) and waits for its receipt; a receipt whose
    /// status is not SUCCESS is an error.
    pub async fn submit(
        &self,
        body: &pb::TransactionBody,
        transaction: pb::Transaction,
    ) -> Result<pb::TransactionReceipt, Error> {
        let id = self.send(body, transaction).await?;
        self.outcome(id).await
    }

    /// Waits for the receipt of transaction `id` that [`Node::send`] handed in; a status that is
    /// not SUCCESS is [`Error::Failed`].
    pub async fn outcome(&self, id: pb::TransactionId) -> Result<pb::TransactionReceipt, Error> {
        let receipt = self.receipt(id).await?;
        match Code::try_from(receipt.status) {
            Ok(Code::Success) => Ok(receipt),
            Ok(code) => Err(Error::Failed(code)),
            Err(_) => Err(Error::Unexpected("an unknown receipt status".into())),
        }
    }

    /// Hands `transaction` (whose body is `body`) to the node: its id once the node's precheck
    /// took it. Whether it executes is the receipt's to say ([`Node::outcome`]).
    pub async fn send(
        &self,
        body: &pb::TransactionBody,
        transaction: pb::Transaction,
    ) -> Result<pb::TransactionId, Error> {
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
            Data::CryptoUpdateAccount(_) => {
                CryptoServiceClient::new(self.channel.clone())
                    .update_account(transaction)
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
        body.transaction_id
            .clone()
            .ok_or_else(|| Error::Unexpected("a body without a transaction id".into()))
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
}
