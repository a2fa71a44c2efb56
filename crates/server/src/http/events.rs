//! `GET /v1/events`: server-sent events over the same mutual TLS connection, so consoles update
//! when a proposal changes instead of polling. Events say only what changed; clients refetch.
//!
//! Events are published by this instance. With several instances behind a load balancer a client
//! sees the changes made through its own instance at once and the others when it polls (the
//! console keeps polling, slower, as the fallback).

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

/// Where this instance publishes events.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            closed: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Events {
    /// Tells every connected client. Nobody listening is fine.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// Ends every open stream (the server is shutting down: streams must not hold it up).
    pub fn close(&self) {
        self.closed.send_replace(true);
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
