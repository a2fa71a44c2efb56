//! Shared by the SDK-driven tests: a simulator in a temporary directory (virtual clock on) and a
//! `hiero-sdk` client for it, operated by the development genesis operator.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use gatehouse_ledger_sim::{Config, Simulator};
use hiero::{AccountId, Client, PrivateKey, Status, TransactionId, TransactionResponse};
pub use hiero_sdk as hiero;

pub struct Net {
    pub sim: Simulator,
    pub client: Client,
    pub operator: AccountId,
    pub operator_key: PrivateKey,
    pub dir: tempfile::TempDir,
}

pub async fn start_in(dir: tempfile::TempDir) -> Net {
    // The workspace builds reqwest without a default TLS provider; the SDK and these tests build
    // reqwest clients, so one must be installed (a second install in the same process is a no-op).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut config = Config::ephemeral(dir.path());
    config.virtual_clock = true;
    let sim = Simulator::start(config).await.unwrap();
    let key_hex = std::fs::read_to_string(sim.operator_key_file.as_ref().unwrap()).unwrap();
    let operator_key =
        PrivateKey::from_bytes_ed25519(&hex::decode(key_hex.trim()).unwrap()).unwrap();
    let operator: AccountId = sim.operator_account.parse().unwrap();
    let client = client_for(&sim, operator, operator_key.clone());
    Net {
        sim,
        client,
        operator,
        operator_key,
        dir,
    }
}

pub async fn start() -> Net {
    start_in(tempfile::tempdir().unwrap()).await
}

pub fn client_for(sim: &Simulator, operator: AccountId, key: PrivateKey) -> Client {
    let client = Client::for_network(HashMap::from([(
        sim.grpc_addr.to_string(),
        AccountId::new(0, 0, 3),
    )]))
    .unwrap();
    client.set_operator(operator, key);
    client
}

impl Net {
    /// A transaction id valid now by the simulator's clock (which tests may have moved forward).
    pub fn txid(&self) -> TransactionId {
        let now = self.sim.ledger.clock.now() - 1_000_000_000;
        TransactionId {
            account_id: self.operator,
            valid_start: time::OffsetDateTime::from_unix_timestamp_nanos(now).unwrap(),
            nonce: None,
            scheduled: false,
        }
    }

    /// The receipt of a submitted transaction, without turning a failure into an error.
    pub async fn receipt(&self, response: &TransactionResponse) -> hiero::TransactionReceipt {
        response
            .get_receipt_query()
            .validate_status(false)
            .execute(&self.client)
            .await
            .unwrap()
    }

    /// The receipt status of a submitted transaction.
    pub async fn status(&self, response: &TransactionResponse) -> Status {
        self.receipt(response).await.status
    }

    pub async fn advance(&self, secs: u64) {
        self.sim
            .advance_clock(Duration::from_secs(secs))
            .await
            .unwrap();
    }

    pub async fn mirror(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", self.sim.mirror_url());
        let response = reqwest::get(&url).await.unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn mirror_status(&self, path: &str) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.sim.mirror_url());
        let response = reqwest::get(&url).await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}

/// The status a failed precheck reports.
pub fn precheck_status(err: hiero::Error) -> Status {
    match err {
        hiero::Error::TransactionPreCheckStatus { status, .. }
        | hiero::Error::QueryPreCheckStatus { status, .. } => status,
        other => panic!("expected a precheck failure, got {other:?}"),
    }
}

pub fn keys(n: usize) -> Vec<PrivateKey> {
    (0..n).map(|_| PrivateKey::generate_ed25519()).collect()
}

pub fn threshold(t: u32, keys: &[PrivateKey]) -> hiero::KeyList {
    hiero::KeyList {
        keys: keys.iter().map(|k| k.public_key().into()).collect(),
        threshold: Some(t),
    }
}

/// Freezes `$tx` for `$net`'s client, adds each key's signature, submits it and gives its receipt (a
/// failed transaction is a status in it, not an error). A macro rather than a function because the
/// SDK does not export the trait that bounds `freeze_with` and `execute`.
#[allow(unused_macros)]
macro_rules! submit {
    ($net:expr, $tx:expr $(, $key:expr)* $(,)?) => {{
        let mut tx = $tx;
        tx.freeze_with(&$net.client).unwrap();
        $(tx.sign(($key).clone());)*
        let response = tx.execute(&$net.client).await.unwrap();
        $net.receipt(&response).await
    }};
}
