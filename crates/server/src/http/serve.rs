//! The accept loop: TCP with TCP_NODELAY, the TLS handshake under two deadlines, HTTP/1.1 or
//! HTTP/2 by ALPN, connection limits, and graceful shutdown.
//!
//! A connection slot is precious (`max_connections` in all), so:
//! - a client must send its ClientHello within `client_hello_timeout_secs` (a few seconds);
//!   only after the server has asked for its certificate does the longer
//!   `handshake_timeout_secs` apply, the allowance for a YubiKey that waits for a touch;
//! - one address holds at most `max_connections_per_ip` connections;
//! - a connection with no request in flight for `idle_timeout_secs` is closed, and HTTP/2
//!   connections are pinged so dead peers are found;
//! - a connection whose identity was refused is closed after the refusal is sent.

use futures_util::StreamExt as _;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::LazyConfigAcceptor;
use tower::ServiceExt;

use super::tls::PeerCertificate;
use crate::config::Limits;

/// The TCP peer of a request (for logs; personal data, never put in audit leaves in clear).
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

/// Lets a handler close its connection once the current response is sent.
#[derive(Debug, Clone, Default)]
pub struct ConnectionControl {
    close: Arc<Notify>,
}

impl ConnectionControl {
    /// Closes the connection after the response in flight (no further requests are read).
    pub fn close_after_this_response(&self) {
        self.close.notify_one();
    }
}

/// Connections per address.
#[derive(Debug, Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address until dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(table: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = table.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Requests in flight on one connection, and when the last one ended.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(
            self.last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed(),
        )
    }
}

/// Whether `response` is a server-sent event stream (`text/event-stream`).
fn is_event_stream(response: &http::Response<axum::body::Body>) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Counts a request in flight until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// requests finish for up to [`Limits::shutdown_grace_secs`].
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stopping, _) = tokio::sync::watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout());
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.http2_keep_alive()))
        .keep_alive_timeout(limits.http2_keep_alive());
    let http = Arc::new(http);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set only holds live ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(address_slot) =
            PerAddress::take(&per_address, peer.ip(), limits.max_connections_per_ip)
        else {
            tracing::info!(%peer, "too many connections from this address: closed");
            drop(stream);
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let tls = tls.clone();
        let app = app.clone();
        let http = http.clone();
        let mut stop = stopping.subscribe();
        let limits = limits.clone();
        connections.spawn(async move {
            let _slots = (permit, address_slot);
            let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let start = match tokio::time::timeout(limits.client_hello_timeout(), acceptor).await {
                Ok(Ok(start)) => start,
                Ok(Err(error)) => {
                    tracing::info!(%peer, %error, "no valid ClientHello");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "no ClientHello in time: closed");
                    return;
                }
            };
            let handshake = start.into_stream(tls);
            let tls = match tokio::time::timeout(limits.handshake_timeout(), handshake).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::info!(%peer, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|der| PeerCertificate::from_der(der));
            let control = ConnectionControl::default();
            let activity = Arc::new(Activity {
                in_flight: AtomicUsize::new(0),
                last: Mutex::new(Instant::now()),
            });
            let service = {
                let control = control.clone();
                let activity = activity.clone();
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    if let Some(certificate) = &certificate {
                        request.extensions_mut().insert(certificate.clone());
                    }
                    request.extensions_mut().insert(RemoteAddr(peer));
                    request.extensions_mut().insert(control.clone());
                    let in_flight = InFlight::start(&activity);
                    let response = app.clone().oneshot(request.map(axum::body::Body::new));
                    async move {
                        let response = response.await;
                        Ok::<_, std::convert::Infallible>(match response {
                            // An event stream is in flight for as long as its body flows, so the
                            // idle check does not close a console's open stream.
                            Ok(response) if is_event_stream(&response) => response.map(|body| {
                                axum::body::Body::from_stream(body.into_data_stream().map(
                                    move |chunk| {
                                        let _held = &in_flight;
                                        chunk
                                    },
                                ))
                            }),
                            Ok(response) => {
                                drop(in_flight);
                                response
                            }
                            Err(never) => match never {},
                        })
                    }
                })
            };
            let connection = http.serve_connection_with_upgrades(TokioIo::new(tls), service);
            let connection = connection.into_owned();
            tokio::pin!(connection);
            let idle_limit = limits.idle_timeout();
            let mut check = tokio::time::interval((idle_limit / 4).max(Duration::from_millis(100)));
            let mut closing = false;
            let result = loop {
                tokio::select! {
                    result = &mut connection => break result,
                    _ = stop.changed(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    () = control.close.notified(), if !closing => {
                        closing = true;
                        tracing::info!(%peer, "identity refused: closing the connection");
                        connection.as_mut().graceful_shutdown();
                    }
                    _ = check.tick(), if !closing => {
                        if activity.idle_for().is_some_and(|idle| idle >= idle_limit) {
                            closing = true;
                            tracing::debug!(%peer, "idle: closing the connection");
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for open requests");
    stopping.send_replace(true);
    {
        let drained = async { while connections.join_next().await.is_some() {} };
        tokio::select! {
            () = drained => tracing::info!("all connections closed"),
            () = tokio::time::sleep(Duration::from_secs(limits.shutdown_grace_secs)) => {
                tracing::warn!("grace period over: closing remaining connections");
            }
        }
    }
    connections.shutdown().await;
    Ok(())
}
