//! `gatehouse-server`: the Gatehouse custody backend.
//!
//! Every connection is mutual TLS 1.3 with a client certificate from the
//! deployment CA; who the caller is and what they may do comes from the officer
//! registry, keyed by the certificate's SHA-256 fingerprint (invariant 5).
//! The binary only parses arguments and calls into this library.
#![deny(missing_docs)]

pub mod audit;
pub mod config;
pub mod deployment;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod mints;
pub mod pki;
pub mod proposals;
pub mod registry;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::http::tls;
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
    Db(#[from] store::Error),
    /// The audit log cannot be opened (missing key, inconsistent log).
    #[error(transparent)]
    Audit(#[from] audit::Error),
    /// The ledger adapter could not be set up.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// A setting cannot be used.
    #[error("{0}")]
    Config(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A server started by [`start`]. It owns every task it started: the accept loop, the audit
/// sequencer, the refusal summaries and the revocation refresher. None is detached; shutdown
/// stops and awaits them all.
#[derive(Debug)]
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (tests reach the database through it).
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    refusals: Option<tokio::task::JoinHandle<()>>,
    settler: Option<tokio::task::JoinHandle<()>>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops accepting, waits for open requests (bounded by the grace period), logs what is
    /// still queued for the audit log, and returns.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.stop.send_replace(true);
        self.state.events.close();
        let result = match self.server.take() {
            Some(server) => server
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        };
        if let Some(settler) = self.settler.take()
            && let Err(error) = settler.await
        {
            tracing::error!(%error, "the proposal settler failed");
        }
        // The last refusal summaries go through the sequencer, which closes after them.
        if let Some(refusals) = self.refusals.take()
            && let Err(error) = refusals.await
        {
            tracing::error!(%error, "the refusal summaries task failed");
        }
        self.state.audit.close();
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a background task failed");
            }
        }
        if let Some(ledger) = &self.state.ledger {
            ledger.shutdown().await;
        }
        self.state.db.close().await;
        result
    }

    /// Kills the instance as a crash would (tests): every task is aborted where it stands; nothing
    /// is drained or flushed.
    #[cfg(feature = "test-support")]
    pub fn abort(mut self) {
        self.stop.send_replace(true);
        self.state.events.close();
        let handles = [
            self.server.take().map(|t| t.abort_handle()),
            self.settler.take().map(|t| t.abort_handle()),
            self.refusals.take().map(|t| t.abort_handle()),
        ];
        for handle in handles.into_iter().flatten() {
            handle.abort();
        }
        self.tasks.abort_all();
    }

    /// Waits until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.shutdown().await
    }
}

/// Opens the deployment's audit log (checking it against its signatures and high-water mark)
/// and starts its sequencer in `tasks`.
pub async fn open_audit(
    config: &config::Config,
    db: &store::Db,
    tasks: &mut JoinSet<()>,
) -> Result<audit::AuditLog, audit::Error> {
    let key = audit::load_key(
        &config.resolve(&config.audit.log_key),
        &config.audit_origin(),
    )?;
    let high_water = audit::HighWater::at(config.resolve(&config.audit.high_water_mark));
    audit::AuditLog::open(db.clone(), key, high_water, tasks).await
}

/// How often open proposals are checked against the ledger (executions and deadlines).
const SETTLE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The token's NFTs are reconciled with the mirror every this many settle rounds (15 s).
const RECONCILE_EVERY: u32 = 3;

/// Open proposals are looked up on the mirror every this many settle rounds (a minute).
const MIRROR_EVERY: u32 = 12;

/// Settles open proposals with the ledger, and reconciles the token's NFTs with the mirror, until
/// `stop`. Settling first means a mint a proposal made is recorded before the mirror is judged.
async fn settle(
    engine: Arc<proposals::Engine>,
    reconciler: Arc<mints::Reconciler>,
    mut stop: watch::Receiver<bool>,
) {
    let mut round: u32 = 0;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(SETTLE_EVERY) => {}
        }
        // Receipts cover executions of the last minutes; the mirror, asked once a minute, the rest.
        if let Err(error) = engine.settle_open(round.is_multiple_of(MIRROR_EVERY)).await {
            tracing::warn!(%error, "settling open proposals failed; trying again shortly");
        }
        // A resume whose TokenUnpause went through closes the breaker once the mirror shows it.
        if let Err(error) = engine.close_when_unpaused().await {
            tracing::warn!(%error, "checking the ledger's unpause failed; trying again shortly");
        }
        round = round.wrapping_add(1);
        if round.is_multiple_of(RECONCILE_EVERY)
            && let Err(error) = reconciler.run_once().await
        {
            tracing::warn!(%error, "reconciling the token's NFTs with the mirror failed; trying again shortly");
        }
    }
}

/// The ledger-key rules: the configured policy; Yubico's roots plus any configured ones.
fn key_rules(config: &config::Config) -> Result<http::KeyRules, StartError> {
    let mut anchors = gatehouse_keys::attestation::TrustAnchors::yubico();
    for path in &config.keys.attestation_roots {
        let path = config.resolve(path);
        let text = std::fs::read(&path).map_err(|e| {
            StartError::Config(format!(
                "[keys] attestation_roots: cannot read {}: {e}",
                path.display()
            ))
        })?;
        let roots = gatehouse_keys::attestation::der_blocks(&text).map_err(|e| {
            StartError::Config(format!("[keys] attestation_roots: {}: {e}", path.display()))
        })?;
        anchors.add_roots(roots);
    }
    Ok(http::KeyRules {
        policy: config.keys.policy,
        anchors,
    })
}

/// Opens storage, loads TLS material, binds the listener and starts serving in the background.
pub async fn start(config: &config::Config) -> Result<Running, StartError> {
    let db = store::Db::connect(&config.database_url()).await?;
    let revoked = registry::Revoked::default();
    revoked.refresh(&db).await?;
    let tls = tls::server_config(
        &config.resolve(&config.tls.ca_cert),
        &config.resolve(&config.tls.server_cert),
        &config.resolve(&config.tls.server_key),
        std::time::Duration::from_secs(config.tls.expiry_grace_secs),
        revoked.clone(),
    )?;
    let mut tasks = JoinSet::new();
    let audit = open_audit(config, &db, &mut tasks).await?;
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
    let mut state = AppState::new(db.clone(), audit, &config.deployment, config.limits.clone());
    let relay = match &db {
        store::Db::Postgres(pool) => Some((pool.clone(), state.events.relay())),
        store::Db::Sqlite(_) => None,
    };
    state.keys = key_rules(config)?;
    state.service_rate =
        proposals::service::ServiceRate::new(config.proposals.service_requests_per_minute);
    let hooks = webhooks::Sender::new(db.clone(), state.audit.clone(), &config.webhooks, |p| {
        config.resolve(p)
    })
    .map_err(|e| StartError::Config(e.to_string()))?;
    state.proposals = ledger.as_ref().map(|ledger| {
        Arc::new(
            proposals::Engine::new(
                db.clone(),
                state.audit.clone(),
                ledger.clone(),
                config.proposals.clone(),
                state.events.clone(),
            )
            .with_webhooks(hooks.names())
            .with_certificate_authority(config.resolve(&config.tls.ca_cert)),
        )
    });
    state.reconciler = ledger.as_ref().map(|ledger| {
        Arc::new(mints::Reconciler::new(
            db.clone(),
            state.audit.clone(),
            ledger.clone(),
            config.proposals.mint_alarm_per_hour,
            state.events.clone(),
        ))
    });
    state.ledger = ledger;
    let state = Arc::new(state);
    let router = app(state.clone());
    let (stop, stopped) = watch::channel(false);
    let refusals = tokio::spawn(http::auth::flush_refusals(state.clone(), stopped.clone()));
    let settler = state
        .proposals
        .clone()
        .zip(state.reconciler.clone())
        .map(|(engine, reconciler)| tokio::spawn(settle(engine, reconciler, stopped.clone())));
    if let Some((pool, outgoing)) = relay {
        tasks.spawn(http::events::relay_over_postgres(
            pool,
            state.events.clone(),
            state.audit.clone(),
            state.instance_id.clone(),
            outgoing,
            stopped.clone(),
        ));
    }
    // No receivers, no polling.
    if !hooks.names().is_empty() {
        tasks.spawn(hooks.run(stopped.clone()));
    }
    tasks.spawn(revoked.keep_fresh(
        db,
        std::time::Duration::from_secs(config.tls.revocation_refresh_secs.max(1)),
        stopped.clone(),
    ));
    let limits = config.limits.clone();
    let mut serve_stop = stopped;
    let server = tokio::spawn(async move {
        http::serve::serve(listener, tls, router, limits, async move {
            let _ = serve_stop.wait_for(|stop| *stop).await;
        })
        .await
    });
    tracing::info!(%addr, database = ?state.db.backend(), deployment = %config.deployment, "gatehouse-server listening");
    Ok(Running {
        addr,
        state,
        stop,
        server: Some(server),
        refusals: Some(refusals),
        settler,
        tasks,
    })
}
