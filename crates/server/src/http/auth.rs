//! Who is calling: the identity check every route sits behind, the [`Caller`] and role
//! extractors handlers use, the request id the server makes for every request, and the
//! aggregation that keeps a flood of refused connections from flooding the audit log.

use std::borrow::Cow;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::{ErrorCode, Fingerprint, REQUEST_ID_HEADER, Role};

use super::AppState;
use super::error::{Error, IdentityError};
use super::serve::{ConnectionControl, RemoteAddr};
use super::tls::PeerCertificate;
use crate::audit::{self, Action, Personal};
use crate::registry::Officer;

/// The authenticated caller, set by the identity check for every handler behind it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Registry entry.
    pub officer: Officer,
    /// The certificate they connected with.
    pub certificate: PeerCertificate,
}

impl Caller {
    /// The caller as an audit actor.
    pub fn actor(&self) -> audit::Actor {
        audit::Actor {
            name: self.officer.name.clone(),
            fingerprint: self.certificate.fingerprint,
        }
    }

    /// Whether the caller holds one of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.officer.roles.iter().any(|r| roles.contains(r))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(Error::Identity(IdentityError::NoCertificate))
    }
}

/// The id this server gave the request (never the client's: a client-chosen id could forge
/// or collide with another request's trail). Also sent back in `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(String::new())))
    }
}

/// Replaces any `x-request-id` the client sent with a fresh one.
pub async fn fresh_request_id(mut request: Request) -> Request {
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    request.extensions_mut().insert(RequestId(id));
    request
}

/// A set of roles a route needs.
pub trait Roles: Send + Sync + 'static {
    /// Any of these will do.
    const ALLOWED: &'static [Role];
    /// What the route does, for the refusal ("reading personal data needs ...").
    const WHAT: &'static str;
}

/// The caller, if they hold one of `R`'s roles; a 403 that names the roles otherwise.
#[derive(Debug)]
pub struct Authorized<R: Roles>(pub Caller, pub PhantomData<R>);

impl<R: Roles, S: Send + Sync> FromRequestParts<S> for Authorized<R> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let caller = Caller::from_request_parts(parts, state).await?;
        require::<R>(&caller)?;
        Ok(Authorized(caller, PhantomData))
    }
}

/// A 403 naming `R`'s roles unless `caller` holds one.
pub fn require<R: Roles>(caller: &Caller) -> Result<(), Error> {
    if caller.has_any(R::ALLOWED) {
        return Ok(());
    }
    let names: Vec<_> = R::ALLOWED.iter().map(|r| r.as_str()).collect();
    Err(Error::Api(
        ErrorCode::Forbidden,
        format!("{} needs the {} role", R::WHAT, names.join(" or ")),
    ))
}

/// Resolves the caller from the connection's client certificate and the registry.
/// A refusal is audited (the first of a burst at once, the rest counted, see [`Refusals`]); if
/// it cannot be, the request fails with a 500 (fail closed). A refused connection is closed
/// after its answer, so a refused client cannot keep a connection slot.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, Error> {
    let certificate = request
        .extensions()
        .get::<PeerCertificate>()
        .cloned()
        .ok_or(Error::Identity(IdentityError::NoCertificate))?;
    match identify(&state, &certificate).await {
        Ok(officer) => {
            tracing::Span::current().record("caller", officer.name.as_str());
            request.extensions_mut().insert(Caller {
                officer,
                certificate,
            });
            Ok(next.run(request).await)
        }
        Err(Error::Identity(refusal)) => {
            if let Some(control) = request.extensions().get::<ConnectionControl>() {
                control.close_after_this_response();
            }
            let ip = request.extensions().get::<RemoteAddr>().map(|a| a.0.ip());
            let mut path = request.uri().path().to_owned();
            audit::cap(&mut path);
            let key = RefusalKey {
                fingerprint: certificate.fingerprint,
                ip,
                code: refusal.code_name(),
            };
            if state
                .refusals
                .note(key.clone(), refusal.actor_name(), &path, Instant::now())
                == Seen::First
            {
                let request_id = request
                    .extensions()
                    .get::<RequestId>()
                    .map(|r| r.0.clone())
                    .unwrap_or_default();
                let entry = refusal_entry(&key, refusal.actor_name(), &path, request_id, None);
                state.audit.append(entry).await?;
            }
            Err(Error::Identity(refusal))
        }
        Err(other) => Err(other),
    }
}

async fn identify(state: &AppState, certificate: &PeerCertificate) -> Result<Officer, Error> {
    let now = Utc::now();
    if now > certificate.not_after {
        return Err(Error::Identity(IdentityError::Expired(
            certificate.not_after,
        )));
    }
    if now < certificate.not_before {
        return Err(Error::Identity(IdentityError::NotYetValid(
            certificate.not_before,
        )));
    }
    let officer = crate::registry::store::officer(&state.db, &certificate.fingerprint)
        .await?
        .ok_or_else(|| {
            Error::Identity(IdentityError::NotRegistered(
                certificate.fingerprint.to_hex(),
            ))
        })?;
    if officer.disabled {
        return Err(Error::Identity(IdentityError::Disabled(officer.name)));
    }
    Ok(officer)
}

/// Refusals are counted per certificate, address and reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefusalKey {
    fingerprint: Fingerprint,
    ip: Option<IpAddr>,
    code: &'static str,
}

/// Whether a refusal opens a window (log it now) or falls in an open one (count it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first in its window: audited at once.
    First,
    /// Counted; the window's summary entry records it.
    Repeat,
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    repeats: u64,
    actor: String,
    last_path: String,
}

/// Aggregates refused identities: the first refusal per (certificate, address, reason) in a
/// window is audited at once; repeats within the window are counted and logged as one summary
/// entry when it closes. At most [`Refusals::MAX_KEYS`] windows are open; refusals beyond that
/// are counted under one overflow key, so memory stays bounded whatever a flood sends.
#[derive(Debug)]
pub struct Refusals {
    window: Duration,
    open: Mutex<HashMap<RefusalKey, Window>>,
}

impl Refusals {
    /// Most windows open at once.
    pub const MAX_KEYS: usize = 4096;

    /// Aggregation over windows of `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Notes one refusal at `now`.
    pub fn note(&self, key: RefusalKey, actor: &str, path: &str, now: Instant) -> Seen {
        if self.window.is_zero() {
            return Seen::First;
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if open.len() >= Self::MAX_KEYS && !open.contains_key(&key) {
            RefusalKey {
                fingerprint: Fingerprint::from_digest([0; 32]),
                ip: None,
                code: "overflow",
            }
        } else {
            key
        };
        match open.get_mut(&key) {
            Some(window) if now.duration_since(window.opened) < self.window => {
                window.repeats += 1;
                window.last_path = path.to_owned();
                Seen::Repeat
            }
            _ => {
                let overflow = key.code == "overflow";
                open.insert(
                    key,
                    Window {
                        opened: now,
                        repeats: u64::from(overflow),
                        actor: actor.to_owned(),
                        last_path: path.to_owned(),
                    },
                );
                // The overflow bucket is never "first": its refusals are summarised only.
                if overflow { Seen::Repeat } else { Seen::First }
            }
        }
    }

    /// Closes the windows that ended by `now` (every window when `all`) and returns summary
    /// entries for those that counted repeats.
    pub fn take_due(&self, now: Instant, all: bool) -> Vec<audit::Entry> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let due: Vec<RefusalKey> = open
            .iter()
            .filter(|(_, w)| all || now.duration_since(w.opened) >= self.window)
            .map(|(k, _)| k.clone())
            .collect();
        let window_secs = self.window.as_secs();
        due.into_iter()
            .filter_map(|key| {
                let w = open.remove(&key)?;
                (w.repeats > 0).then(|| {
                    refusal_entry(
                        &key,
                        &w.actor,
                        &w.last_path,
                        String::new(),
                        Some((w.repeats, window_secs)),
                    )
                })
            })
            .collect()
    }
}

/// An `identity.refused` entry; `summary` = (repeats, window seconds) for a window's summary.
fn refusal_entry(
    key: &RefusalKey,
    actor: &str,
    path: &str,
    request_id: String,
    summary: Option<(u64, u64)>,
) -> audit::Entry {
    let details = match summary {
        None => serde_json::json!({ "path": path }),
        Some((repeats, window)) => {
            serde_json::json!({ "path": path, "repeated": repeats, "window_seconds": window })
        }
    };
    audit::Entry {
        actor: audit::Actor {
            name: actor.to_owned(),
            fingerprint: key.fingerprint,
        },
        action: Action::IdentityRefused,
        object: format!("certificate:{}", key.fingerprint),
        outcome: OutcomeKind::Denied,
        code: Some(Cow::Borrowed(key.code)),
        request_id,
        details,
        personal: Personal(
            key.ip
                .map(|ip| vec![("client-ip".to_owned(), ip.to_string())])
                .unwrap_or_default(),
        ),
    }
}

/// Logs the summaries of closed refusal windows every `window`, until `closed` is set; then
/// logs what is still open.
pub async fn flush_refusals(state: Arc<AppState>, mut closed: tokio::sync::watch::Receiver<bool>) {
    let period = state.refusals.window();
    if period.is_zero() {
        // Every refusal is logged on its own: nothing to summarise.
        let _ = closed.wait_for(|stop| *stop).await;
        return;
    }
    loop {
        let stop = tokio::select! {
            () = tokio::time::sleep(period) => false,
            _ = closed.changed() => true,
        };
        let entries = state.refusals.take_due(Instant::now(), stop);
        if !entries.is_empty()
            && let Err(error) = state.audit.append_all(entries).await
        {
            tracing::error!(%error, "refusal summaries could not be audited");
        }
        if stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> RefusalKey {
        RefusalKey {
            fingerprint: Fingerprint::from_digest([n; 32]),
            ip: Some(IpAddr::from([192, 0, 2, n])),
            code: "not_registered",
        }
    }

    #[test]
    fn a_burst_is_one_entry_now_and_one_summary_with_its_count() {
        let refusals = Refusals::new(Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(
            refusals.note(key(1), "unidentified", "/v1/whoami", start),
            Seen::First
        );
        for i in 0..999 {
            let at = start + Duration::from_millis(i);
            assert_eq!(
                refusals.note(key(1), "unidentified", "/v1/x", at),
                Seen::Repeat
            );
        }
        assert!(
            refusals
                .take_due(start + Duration::from_secs(30), false)
                .is_empty(),
            "the window is still open"
        );
        let summaries = refusals.take_due(start + Duration::from_secs(60), false);
        assert_eq!(summaries.len(), 1, "one summary for the burst");
        assert_eq!(summaries[0].details["repeated"], 999);
        assert_eq!(
            summaries[0].personal.0[0].1, "192.0.2.1",
            "the address stays personal data"
        );
        assert_eq!(
            refusals.note(
                key(1),
                "unidentified",
                "/v1/whoami",
                start + Duration::from_secs(61)
            ),
            Seen::First,
            "a new window logs at once again"
        );
    }

    #[test]
    fn a_zero_window_logs_every_refusal() {
        let refusals = Refusals::new(Duration::ZERO);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(refusals.note(key(3), "unidentified", "/", now), Seen::First);
        }
        assert!(refusals.take_due(now, true).is_empty());
    }

    #[test]
    fn a_single_refusal_has_no_summary() {
        let refusals = Refusals::new(Duration::from_secs(60));
        let start = Instant::now();
        refusals.note(key(2), "unidentified", "/", start);
        assert!(
            refusals
                .take_due(start + Duration::from_secs(61), false)
                .is_empty()
        );
    }

    #[test]
    fn many_strangers_fill_the_table_and_then_share_one_overflow_count() {
        let refusals = Refusals::new(Duration::from_secs(60));
        let start = Instant::now();
        for n in 0..Refusals::MAX_KEYS {
            let mut k = key(0);
            k.fingerprint = Fingerprint::from_digest({
                let mut d = [0u8; 32];
                d[..8].copy_from_slice(&(n as u64 + 1).to_be_bytes());
                d
            });
            assert_eq!(refusals.note(k, "unidentified", "/", start), Seen::First);
        }
        for n in 0..100u8 {
            let mut k = key(n);
            k.code = "disabled";
            assert_eq!(
                refusals.note(k, "x", "/", start),
                Seen::Repeat,
                "beyond the table: counted only"
            );
        }
        let summaries = refusals.take_due(start, true);
        let overflow: Vec<_> = summaries
            .iter()
            .filter(|e| e.code.as_deref() == Some("overflow"))
            .collect();
        assert_eq!(overflow.len(), 1);
        assert_eq!(overflow[0].details["repeated"], 100);
    }
}
