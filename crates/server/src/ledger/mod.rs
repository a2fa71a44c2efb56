//! The ledger adapter: the server's connection to Hedera through the real SDK (`hiero-sdk`). Against
//! the development simulator, testnet or mainnet only the addresses differ.
//!
//! In development (`[ledger] mode = "simulator"`) the server starts a `gatehouse-ledger-sim` in its
//! own process on loopback ports and pays fees with the simulator's development operator key. The
//! operator is only a fee payer: token keys belong to the officers' devices (invariant 1).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

pub use gatehouse_protocol::LedgerStatus;
use hiero_sdk::{AccountBalanceQuery, AccountId, Client, PrivateKey};
use zeroize::Zeroizing;

pub mod api;
pub mod hapi;

use crate::config::{Config, Ledger};

/// How long a health check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Failure to set up the ledger adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The in-process simulator did not start.
    #[error("the development ledger simulator did not start: {0}")]
    Simulator(String),
    /// `mode = "simulator"` in a build without the simulator (a production build).
    #[error(
        "[ledger] mode = \"simulator\" needs a development build of gatehouse-server (cargo feature \"simulator\"); this build leaves the simulator out: use mode = \"network\""
    )]
    SimulatorNotBuilt,
    /// The operator key file could not be read or is not a private key.
    #[error("ledger operator key {path}: {reason} (a hex or DER-hex private key, mode 0600)")]
    OperatorKey {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A setting is malformed.
    #[error("[ledger] {0}")]
    Config(String),
}

/// The adapter: an SDK client for the configured network, and the simulator when it runs in-process.
pub struct LedgerAdapter {
    client: Client,
    hapi: hapi::Hapi,
    http: reqwest::Client,
    operator: AccountId,
    mode: &'static str,
    nodes: Vec<String>,
    mirror: Vec<String>,
    #[cfg(feature = "simulator")]
    simulator: std::sync::Mutex<Option<gatehouse_ledger_sim::Simulator>>,
}

/// Whether this build can run the development simulator in-process.
pub const SIMULATOR_BUILT: bool = cfg!(feature = "simulator");

/// Refuses simulator mode in a build without the simulator.
pub fn check_mode(ledger: &Ledger, simulator_built: bool) -> Result<(), Error> {
    match ledger {
        Ledger::Simulator { .. } if !simulator_built => Err(Error::SimulatorNotBuilt),
        _ => Ok(()),
    }
}

impl std::fmt::Debug for LedgerAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerAdapter")
            .field("mode", &self.mode)
            .field("nodes", &self.nodes)
            .field("operator", &self.operator.to_string())
            .finish_non_exhaustive()
    }
}

/// The mirror node's HTTP client: no redirects, a bounded wait; `https` mirrors are verified by the
/// platform's roots (reqwest's rustls platform verifier, with this process's provider, which
/// `LedgerAdapter::start` installs).
fn mirror_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CHECK_TIMEOUT * 2)
        .build()
        .unwrap_or_default()
}

fn read_key(path: &Path) -> Result<PrivateKey, Error> {
    let bad = |reason: String| Error::OperatorKey {
        path: path.display().to_string(),
        reason,
    };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
    let text = text.trim();
    // Raw 32-byte Ed25519 seeds (the simulator's development key) or any form the SDK parses.
    let raw = Zeroizing::new(hex::decode(text).map_err(|_| bad("not hex".into()))?);
    if raw.len() == 32 {
        PrivateKey::from_bytes_ed25519(&raw).map_err(|e| bad(e.to_string()))
    } else {
        PrivateKey::from_bytes_der(&raw).map_err(|e| bad(e.to_string()))
    }
}

impl LedgerAdapter {
    /// Connects as configured; in simulator mode, starts the simulator first.
    pub async fn start(config: &Config, ledger: &Ledger) -> Result<Self, Error> {
        // reqwest (inside the SDK) needs a process-wide rustls provider; installing twice is a no-op.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        check_mode(ledger, SIMULATOR_BUILT)?;
        match ledger {
            #[cfg(not(feature = "simulator"))]
            Ledger::Simulator { .. } => Err(Error::SimulatorNotBuilt),
            #[cfg(feature = "simulator")]
            Ledger::Simulator { data_dir } => {
                let dir = config.resolve(data_dir);
                let sim = gatehouse_ledger_sim::Simulator::start(
                    gatehouse_ledger_sim::Config::ephemeral(&dir),
                )
                .await
                .map_err(|e| Error::Simulator(format!("{e:#}")))?;
                let key_file = sim.operator_key_file.clone().ok_or_else(|| {
                    Error::Config(format!(
                        "the simulator in {} was made from a genesis file, so the server has no operator key: use mode = \"network\"",
                        dir.display()
                    ))
                })?;
                let key = read_key(&key_file)?;
                let operator: AccountId = sim
                    .operator_account
                    .parse()
                    .map_err(|_| Error::Config("bad simulator operator".into()))?;
                let node = sim.grpc_addr.to_string();
                let mirror = vec![sim.mirror_url()];
                let hapi = hapi::Hapi::new(
                    &node,
                    hapi::account(3),
                    hapi::account(operator.num as i64),
                    key.clone(),
                )
                .map_err(|e| Error::Config(e.to_string()))?;
                let client =
                    Client::for_network(HashMap::from([(node.clone(), AccountId::new(0, 0, 3))]))
                        .map_err(|e| Error::Config(e.to_string()))?;
                client.set_operator(operator, key);
                tracing::info!(grpc = %node, mirror = %mirror[0], operator = %operator, "development ledger simulator started in-process");
                Ok(Self {
                    client,
                    hapi,
                    http: mirror_client(),
                    operator,
                    mode: "simulator",
                    nodes: vec![node],
                    mirror,
                    simulator: std::sync::Mutex::new(Some(sim)),
                })
            }
            Ledger::Network {
                nodes,
                mirror,
                operator_account,
                operator_key,
            } => {
                let mut network = HashMap::new();
                for (address, account) in nodes {
                    let account: AccountId = account.parse().map_err(|_| {
                        Error::Config(format!("node account {account:?} is not an account id"))
                    })?;
                    network.insert(address.clone(), account);
                }
                if network.is_empty() {
                    return Err(Error::Config(
                        "nodes is empty: name at least one node".into(),
                    ));
                }
                let operator: AccountId = operator_account.parse().map_err(|_| {
                    Error::Config(format!(
                        "operator_account {operator_account:?} is not an account id"
                    ))
                })?;
                let key = read_key(&config.resolve(operator_key))?;
                // Approvals go to one node: a signed body names exactly one node account.
                let (address, node) = network
                    .iter()
                    .min_by_key(|(address, _)| address.as_str())
                    .map(|(a, n)| (a.clone(), *n))
                    .ok_or_else(|| {
                        Error::Config("nodes is empty: name at least one node".into())
                    })?;
                let hapi = hapi::Hapi::new(
                    &address,
                    hapi::parse_account(&node.to_string())
                        .ok_or_else(|| Error::Config("bad node account".into()))?,
                    hapi::parse_account(&operator.to_string())
                        .ok_or_else(|| Error::Config("bad operator account".into()))?,
                    key.clone(),
                )
                .map_err(|e| Error::Config(e.to_string()))?;
                let client =
                    Client::for_network(network).map_err(|e| Error::Config(e.to_string()))?;
                if !mirror.is_empty() {
                    client.set_mirror_network(mirror.clone());
                }
                client.set_operator(operator, key);
                Ok(Self {
                    client,
                    hapi,
                    http: mirror_client(),
                    operator,
                    mode: "network",
                    nodes: nodes.keys().cloned().collect(),
                    mirror: mirror.clone(),
                    #[cfg(feature = "simulator")]
                    simulator: std::sync::Mutex::new(None),
                })
            }
        }
    }

    /// The in-process simulator as another instance reaches it (tests of several instances on one
    /// ledger): its node, mirror and operator as `[ledger] mode = "network"`.
    #[cfg(feature = "test-support")]
    pub fn sibling(&self) -> Option<Ledger> {
        let simulator = self.simulator.lock().ok()?;
        Some(Ledger::Network {
            nodes: self
                .nodes
                .iter()
                .map(|node| (node.clone(), "0.0.3".to_owned()))
                .collect(),
            mirror: self.mirror.clone(),
            operator_account: self.operator.to_string(),
            operator_key: simulator.as_ref()?.operator_key_file.clone()?,
        })
    }

    /// Raw HAPI access for what officers sign (see [`hapi`]).
    pub fn hapi(&self) -> &hapi::Hapi {
        &self.hapi
    }

    /// The mirror node's base URLs.
    pub fn mirror(&self) -> &[String] {
        &self.mirror
    }

    /// `GET` the mirror node's REST API at `path` (e.g. `/api/v1/schedules/0.0.5`), as JSON. `Err`
    /// says why (no mirror configured, unreachable, an HTTP error, not JSON).
    pub async fn mirror_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, String> {
        let base = self.mirror.first().ok_or("no mirror node is configured")?;
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response
            .json::<T>()
            .await
            .map_err(|e| format!("{url}: {e}"))
    }

    /// Asks the network for the operator's balance (a free query) to show it is reachable.
    pub async fn status(&self) -> LedgerStatus {
        let mut query = AccountBalanceQuery::new();
        query.account_id(self.operator);
        let (reachable, balance, error) = match query
            .execute_with_timeout(&self.client, CHECK_TIMEOUT)
            .await
        {
            Ok(b) => (true, Some(b.hbars.to_tinybars()), None),
            Err(e) => (false, None, Some(e.to_string())),
        };
        LedgerStatus {
            configured: true,
            mode: Some(self.mode.to_owned()),
            nodes: self.nodes.clone(),
            mirror: self.mirror.clone(),
            operator_account: Some(self.operator.to_string()),
            reachable,
            operator_balance_tinybars: balance,
            error,
        }
    }

    /// Stops the in-process simulator, if any.
    pub async fn shutdown(&self) {
        #[cfg(feature = "simulator")]
        let sim = self
            .simulator
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        #[cfg(feature = "simulator")]
        if let Some(sim) = sim {
            sim.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_without_the_simulator_refuses_simulator_mode() {
        let simulator = Ledger::Simulator {
            data_dir: "ledger".into(),
        };
        let err = check_mode(&simulator, false).expect_err("refused without the simulator");
        assert!(
            err.to_string().contains("mode = \"network\""),
            "says what to use: {err}"
        );
        assert!(check_mode(&simulator, true).is_ok());
        let network = Ledger::Network {
            nodes: Default::default(),
            mirror: vec![],
            operator_account: "0.0.2".into(),
            operator_key: "k".into(),
        };
        assert!(
            check_mode(&network, false).is_ok(),
            "a network needs no simulator"
        );
    }
}
