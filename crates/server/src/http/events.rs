//! `GET /v1/events`: server-sent events over the same mutual TLS connection, so consoles update
//! when a proposal changes instead of polling. Events say only what changed; clients refetch.
//!
//! With several instances sharing PostgreSQL, each instance relays the events it publishes through
//! `NOTIFY gatehouse_events` and re-publishes the other instances' to its own clients
//! ([`relay_over_postgres`]), so a console sees a change wherever it was made. On SQLite there is
//! one instance.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use gatehouse_protocol::proposal::Event;
use tokio::sync::broadcast;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, Caller};

/// How many events wait for a slow client before it is told to resync.
pub const BUFFER: usize = 256;

/// How often a comment keeps the stream (and the connection) alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The PostgreSQL channel events travel on between instances.
pub const CHANNEL: &str = "gatehouse_events";

/// Where this instance publishes events.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
    closed: tokio::sync::watch::Sender<bool>,
    relay: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            closed: tokio::sync::watch::channel(false).0,
            relay: None,
        }
    }
}

/// An event as it travels between instances.
#[derive(serde::Serialize, serde::Deserialize)]
struct Relayed {
    instance: String,
    event: Event,
}

impl Events {
    /// Tells every connected client, here and (with a relay) on the other instances. Nobody
    /// listening is fine.
    pub fn publish(&self, event: Event) {
        if let Some(relay) = &self.relay {
            let _ = relay.send(event.clone());
        }
        let _ = self.sender.send(event);
    }

    /// Starts relaying this instance's events to the others: returns what [`relay_over_postgres`]
    /// sends.
    pub fn relay(&mut self) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.relay = Some(tx);
        rx
    }

    /// Ends every open stream (the server is shutting down: streams must not hold it up).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

/// Resolves once `stop` says stop (the watch guard is not held across awaits).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Relays events between instances over PostgreSQL until `stop`: sends this instance's
/// (`outgoing`) with `pg_notify`, and publishes the other instances' to this instance's clients.
/// It also tells `audit` when a sequencer (maybe another instance's) committed a batch.
pub async fn relay_over_postgres(
    pool: sqlx::PgPool,
    events: Events,
    audit: crate::audit::AuditLog,
    instance: String,
    mut outgoing: tokio::sync::mpsc::UnboundedReceiver<Event>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut listener = loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener
                .listen_all([CHANNEL, crate::audit::SEQUENCED_CHANNEL])
                .await
            {
                Ok(()) => break listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot LISTEN for other instances' events; retrying")
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot LISTEN for other instances' events; retrying")
            }
        }
        tokio::select! {
            () = stopped(&mut stop) => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            Some(event) = outgoing.recv() => {
                let payload = serde_json::to_string(&Relayed { instance: instance.clone(), event })
                    .unwrap_or_default();
                if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(%error, "an event could not be relayed to the other instances");
                }
            }
            received = listener.recv() => match received {
                Ok(notification) if notification.channel() == crate::audit::SEQUENCED_CHANNEL => {
                    audit.sequenced_elsewhere();
                }
                Ok(notification) => {
                    if let Ok(relayed) = serde_json::from_str::<Relayed>(notification.payload())
                        && relayed.instance != instance
                    {
                        let _ = events.sender.send(relayed.event);
                    }
                }
                Err(error) => {
                    // PgListener reconnects on the next recv; events missed meanwhile are covered
                    // by the consoles' polling.
                    tracing::warn!(%error, "the LISTEN connection failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            },
        }
    }
}

/// The routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(events))
}

fn sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .event(event.kind.clone())
        .json_data(event)
        .unwrap_or_else(|_| SseEvent::default().event("resync"))
}

/// A new listener's stream; a client that fell behind gets `resync`; it ends when the events
/// are closed.
fn stream(events: &Events) -> impl Stream<Item = Result<SseEvent, Infallible>> + use<> {
    let state = (events.sender.subscribe(), events.closed.subscribe());
    futures_util::stream::unfold(state, |(mut receiver, mut closed)| async move {
        let event = tokio::select! {
            _ = closed.wait_for(|closed| *closed) => return None,
            received = receiver.recv() => match received {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(_)) => Event::new("resync", None),
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        };
        Some((Ok(sse(&event)), (receiver, closed)))
    })
}

/// Server-sent events: one per change (`data` is an `Event` as JSON), a keep-alive comment every
/// 15 s.
#[utoipa::path(
    get,
    path = "/v1/events",
    responses(
        (status = 200, description = "text/event-stream of Event", content_type = "text/event-stream"),
        (status = 403, body = gatehouse_protocol::ApiError),
    )
)]
async fn events(
    State(state): State<Arc<AppState>>,
    _: Caller,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    Sse::new(stream(&state.events)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
