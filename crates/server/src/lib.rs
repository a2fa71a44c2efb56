//! `gatehouse-server`: the Gatehouse custody backend.
//!
//! Every connection is mutual TLS 1.3 with a client certificate from the
//! deployment CA; who the caller is and what they may do comes from the officer
//! registry, keyed by the certificate's SHA-256 fingerprint (invariant 5).
//! The binary only parses arguments and calls into this library.
#![deny(missing_docs)]

pub mod audit;
pub mod audit_api;
pub mod config;
pub mod db;
pub mod demo;
pub mod deployment;
pub mod http;
pub mod ledger;
pub mod pki;
pub mod serve;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::http::{AppState, app};

/// Failure to start serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// TLS material unusable.
    #[error(transparent)]
    Tls(#[from] tls::Error),
    /// Storage unusable.
    #[error(transparent)]
    Db(#[from] db::Error),
    /// The audit log cannot be opened (missing key, inconsistent log).
    #[error(transparent)]
    Audit(#[from] audit::Error),
    /// The ledger adapter could not be set up.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A server started by [`start`].
#[derive(Debug)]
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (tests reach the database through it).
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, waits for open requests (bounded by the grace period) and returns.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some(ledger) = &self.state.ledger {
            ledger.shutdown().await;
        }
        self.state.db.close().await;
        result
    }

    /// Waits until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

/// Opens storage, loads TLS material, binds the listener and starts serving in the background.
pub async fn start(config: &config::Config) -> Result<Running, StartError> {
    let tls = tls::server_config(
        &config.resolve(&config.tls.ca_cert),
        &config.resolve(&config.tls.server_cert),
        &config.resolve(&config.tls.server_key),
    )?;
    let db = db::Db::connect(&config.database_url()).await?;
    let key = audit::load_key(
        &config.resolve(&config.audit.log_key),
        &config.audit_origin(),
    )?;
    let audit = audit::AuditLog::open(db.clone(), key).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let ledger = match &config.ledger {
        Some(l) => Some(Arc::new(ledger::LedgerAdapter::start(config, l).await?)),
        None => None,
    };
    let mut state = AppState::new(db, audit, &config.deployment, config.limits.clone());
    state.ledger = ledger;
    let state = Arc::new(state);
    let router = app(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = config.limits.clone();
    let task = tokio::spawn(async move {
        serve::serve(listener, tls, router, limits, async {
            let _ = stopped.await;
        })
        .await
    });
    tracing::info!(%addr, database = ?state.db.backend(), deployment = %config.deployment, "gatehouse-server listening");
    Ok(Running {
        addr,
        state,
        stop: Some(stop),
        task,
    })
}
