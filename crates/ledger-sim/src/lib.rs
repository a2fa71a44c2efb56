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
//!
//! # The public surface
//!
//! Deliberately small; everything else is internal to the crate.
//!
//! - [`Config`]: where the state lives, the two addresses, an optional genesis file, and whether tests
//!   may move the clock. [`Config::ephemeral`] picks loopback ports.
//! - [`Simulator`]: [`Simulator::start`] runs both services on the current tokio runtime; the running
//!   simulator tells its addresses (`grpc_addr`, [`Simulator::mirror_url`]), its operator account and
//!   the development key file, moves its clock ([`Simulator::advance_clock`], tests only) and stops
//!   ([`Simulator::shutdown`]).
//! - [`Ledger`], reached as `Simulator::ledger`: [`Ledger::submit`] hands a transaction straight to the
//!   ledger, without gRPC, and answers its precheck [`Code`]; `Ledger::clock` is the ledger's [`Clock`].
//! - [`Code`]: Hedera's response codes (`hiero-sdk-proto`'s `ResponseCodeEnum`).
//! - [`Error`] (why start failed), [`StoreError`] (inside [`Error::Store`]) and [`ClockError`].

mod error;
mod genesis;
mod grpc;
mod handlers;
mod ids;
mod keys;
mod ledger;
mod mirror;
mod query;
mod state;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use hiero_sdk_proto::services::ResponseCodeEnum as Code;
use hiero_sdk_proto::services::{
    crypto_service_server::CryptoServiceServer, network_service_server::NetworkServiceServer,
    schedule_service_server::ScheduleServiceServer, token_service_server::TokenServiceServer,
};
use tokio::sync::watch;

pub use crate::error::Error;
pub use crate::ledger::{Clock, ClockError, Ledger};
pub use crate::store::StoreError;

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
    /// Opens (or creates) the ledger in the data directory and starts both services.
    pub async fn start(config: Config) -> Result<Self, Error> {
        let dir = config.data_dir.clone();
        let clock = Clock::new(config.virtual_clock);
        let now = clock.now();
        let genesis_file = config.genesis.clone();
        let (state, store, operator_account, key_file) =
            tokio::task::spawn_blocking(move || open_ledger(&dir, genesis_file, now))
                .await
                .map_err(|e| Error::Interrupted {
                    reason: e.to_string(),
                })??;
        let ledger = Arc::new(Ledger::new(state, store, clock));

        let (shutdown, rx) = watch::channel(false);
        let (grpc_listener, grpc_addr) = bind("gRPC API", config.grpc).await?;
        let (mirror_listener, mirror_addr) = bind("mirror REST API", config.mirror).await?;

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

/// What [`open_ledger`] gives: state, store, operator account and development key file.
type Opened = (state::State, store::Store, String, Option<PathBuf>);

/// Loads the ledger in `dir`, or creates it from the genesis file (or a development genesis) when the
/// directory holds none yet. Blocking.
fn open_ledger(
    dir: &Path,
    genesis_file: Option<PathBuf>,
    now: ids::Nanos,
) -> Result<Opened, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
        path: dir.to_owned(),
        source,
    })?;
    let store_error = |source| Error::Store {
        dir: dir.to_owned(),
        source,
    };
    let mut store = store::Store::open(dir).map_err(store_error)?;
    if store.is_empty().map_err(store_error)? {
        let (g, genesis_path, key_file) = match genesis_file {
            Some(path) => (genesis::Genesis::read(&path)?, path, None),
            None => {
                let (g, key) = genesis::development(dir)?;
                (g, dir.join(genesis::GENESIS_FILE), Some(key))
            }
        };
        let mut state = g.state(now).map_err(|reason| Error::GenesisInvalid {
            path: genesis_path,
            reason,
        })?;
        let dirty = state.take_dirty();
        store.write(&state, dirty).map_err(store_error)?;
        Ok((state, store, g.operator_account, key_file))
    } else {
        let state = store.load(now).map_err(store_error)?;
        let g = genesis::Genesis::read(&dir.join(genesis::GENESIS_FILE)).ok();
        let operator = g.map_or_else(|| "0.0.2".to_owned(), |g| g.operator_account);
        let dev_key = dir.join(genesis::DEV_KEY_FILE);
        Ok((state, store, operator, dev_key.exists().then_some(dev_key)))
    }
}

/// Listens on `addr` for `service`, and tells the address it got (the port, when `addr` asked for 0).
async fn bind(
    service: &'static str,
    addr: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), Error> {
    let bound = async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    };
    bound.await.map_err(|source| Error::Bind {
        service,
        addr,
        source,
    })
}
