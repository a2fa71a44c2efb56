//! `gatehouse-ledger-sim`: a local Hedera network for development and tests.
//!
//! It serves Hedera's own gRPC API (HAPI, the service definitions of `hiero-sdk-proto`) and a subset of
//! the mirror node's REST API, and enforces Hedera's rules with Hedera's response codes: signatures
//! over the exact body bytes, key lists and thresholds, the time box, duplicates, size, token rules
//! (mint, HIP-540 key rotation, treasury change, pause) and scheduled transactions. State persists in
//! SQLite. The crate's README lists every known difference from real Hedera.
//!
//! Start it in-process with [`Simulator::start`] (tests, the server's development mode) or as the
//! `gatehouse-ledger-sim` binary.

pub mod genesis;
pub mod grpc;
pub mod handlers;
pub mod ids;
pub mod keys;
pub mod ledger;
pub mod mirror;
pub mod query;
pub mod state;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
pub use hiero_sdk_proto::services::ResponseCodeEnum as Code;
use hiero_sdk_proto::services::{
    crypto_service_server::CryptoServiceServer, network_service_server::NetworkServiceServer,
    schedule_service_server::ScheduleServiceServer, token_service_server::TokenServiceServer,
};
use tokio::sync::watch;

pub use crate::ledger::{Clock, ClockError, Ledger};

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub grpc: SocketAddr,
    pub mirror: SocketAddr,
    /// Used only when the data directory holds no ledger yet.
    pub genesis: Option<PathBuf>,
    /// Lets [`Simulator::advance_clock`] move time forward. Tests only; off by default.
    pub virtual_clock: bool,
}

impl Config {
    /// Both services on loopback ports the OS picks.
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            grpc: SocketAddr::from(([127, 0, 0, 1], 0)),
            mirror: SocketAddr::from(([127, 0, 0, 1], 0)),
            genesis: None,
            virtual_clock: false,
        }
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct Simulator {
    pub grpc_addr: SocketAddr,
    pub mirror_addr: SocketAddr,
    pub ledger: Arc<Ledger>,
    /// The operator account (holds all hbar at genesis).
    pub operator_account: String,
    /// Where the development genesis wrote the operator's private key, if it made one.
    pub operator_key_file: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let dir = config.data_dir.clone();
        let clock = Clock::new(config.virtual_clock);
        let now = clock.now();
        let genesis_file = config.genesis.clone();
        let (state, store, operator_account, key_file) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let store = store::Store::open(&dir)?;
                let dev_key = dir.join(genesis::DEV_KEY_FILE);
                if store.is_empty()? {
                    let (g, key_file) = match genesis_file {
                        Some(path) => (genesis::Genesis::read(&path)?, None),
                        None => {
                            let (g, path) = genesis::development(&dir)?;
                            (g, Some(path))
                        }
                    };
                    let mut store = store;
                    let mut state = g.state(now)?;
                    let dirty = state.take_dirty();
                    store.write(&state, dirty).context("writing genesis")?;
                    Ok((state, store, g.operator_account, key_file))
                } else {
                    let state = store.load(now)?;
                    let g = genesis::Genesis::read(&dir.join("genesis.json")).ok();
                    let operator = g.map_or_else(|| "0.0.2".to_owned(), |g| g.operator_account);
                    Ok((state, store, operator, dev_key.exists().then_some(dev_key)))
                }
            })
            .await??;
        let ledger = Arc::new(Ledger::new(state, store, clock));

        let (shutdown, rx) = watch::channel(false);
        let grpc_listener = tokio::net::TcpListener::bind(config.grpc)
            .await
            .with_context(|| format!("binding gRPC to {}", config.grpc))?;
        let grpc_addr = grpc_listener.local_addr()?;
        let mirror_listener = tokio::net::TcpListener::bind(config.mirror)
            .await
            .with_context(|| format!("binding the mirror REST API to {}", config.mirror))?;
        let mirror_addr = mirror_listener.local_addr()?;

        let node = grpc::Node {
            ledger: Arc::clone(&ledger),
        };
        let mut stop = rx.clone();
        let grpc_task = tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(grpc_listener);
            let result = tonic::transport::Server::builder()
                .tcp_nodelay(true)
                .add_service(CryptoServiceServer::new(node.clone()))
                .add_service(TokenServiceServer::new(node.clone()))
                .add_service(ScheduleServiceServer::new(node.clone()))
                .add_service(NetworkServiceServer::new(node))
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the gRPC server stopped");
            }
        });

        let mut stop = rx.clone();
        let app = mirror::router(Arc::clone(&ledger), config.data_dir.clone());
        let mirror_task = tokio::spawn(async move {
            let result = axum::serve(mirror_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the mirror REST server stopped");
            }
        });

        // Schedules that reach their expiry are processed even when no transaction arrives.
        let mut stop = rx;
        let ticker = Arc::clone(&ledger);
        let tick_task = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        let l = Arc::clone(&ticker);
                        let _ = tokio::task::spawn_blocking(move || l.tick()).await;
                    }
                    _ = stop.changed() => break,
                }
            }
        });

        Ok(Self {
            grpc_addr,
            mirror_addr,
            ledger,
            operator_account,
            operator_key_file: key_file,
            shutdown,
            tasks: vec![grpc_task, mirror_task, tick_task],
        })
    }

    /// Moves the ledger's clock forward and processes what expires. Refused unless the simulator was
    /// started with `virtual_clock`.
    pub async fn advance_clock(&self, by: std::time::Duration) -> Result<(), ClockError> {
        self.ledger.clock.advance(by)?;
        let l = Arc::clone(&self.ledger);
        let _ = tokio::task::spawn_blocking(move || l.tick()).await;
        Ok(())
    }

    /// The mirror REST API's base URL, e.g. `http://127.0.0.1:5551`.
    pub fn mirror_url(&self) -> String {
        format!("http://{}", self.mirror_addr)
    }

    /// Stops both servers and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
