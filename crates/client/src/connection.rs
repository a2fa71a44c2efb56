//! A mutually authenticated connection to `gatehouse-server`, and the errors a
//! person can act on when it fails.
//!
//! The server certificate must chain to the profile's CA and nothing else: the
//! system trust store is never consulted. When it does not, the fingerprint of
//! the certificate the server presented is captured so a person can compare it
//! out of band. With TLS 1.3 the server's verdict on *our* certificate arrives
//! after the client considers the handshake done, so it is recognised on the
//! first read, never assumed from a completed connect.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gatehouse_protocol::{
    API_VERSION, API_VERSION_HEADER, ApiError, ErrorCode, Fingerprint, MIN_SUPPORTED_API_VERSION,
    ServerStatus, WhoAmI,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::identity::ClientIdentity;
use crate::profile::Profile;

/// Why a request to the server failed, in terms a person can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing answered at the server address.
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// What the network said.
        reason: String,
    },
    /// The server's certificate does not chain to the profile's CA (or does not name the host).
    #[error("the server's certificate is not trusted by this profile's CA: {reason}")]
    ServerNotTrusted {
        /// SHA-256 of the certificate the server presented, when one was seen.
        fingerprint: Option<Fingerprint>,
        /// What was wrong with it.
        reason: String,
    },
    /// The server refused our client certificate during the handshake.
    #[error("the server refused this client certificate ({reason})")]
    ClientCertRejected {
        /// The TLS alert or error seen.
        reason: String,
    },
    /// Our certificate is fine but not in the server's registry.
    #[error("{message}")]
    NotRegistered {
        /// The server's explanation.
        message: String,
        /// Our certificate's fingerprint, for the administrator.
        fingerprint: Fingerprint,
    },
    /// An administrator disabled our registry entry.
    #[error("{message}")]
    Disabled {
        /// The server's explanation.
        message: String,
    },
    /// Our certificate's validity has ended.
    #[error("this profile's client certificate expired at {not_after}")]
    CertificateExpired {
        /// When it ended.
        not_after: DateTime<Utc>,
    },
    /// Our certificate's validity has not begun.
    #[error("this profile's client certificate is not valid until {not_before}")]
    CertificateNotYetValid {
        /// When it begins.
        not_before: DateTime<Utc>,
    },
    /// The server speaks an API version older than this client supports.
    #[error("the server speaks API version {server}; this client needs at least {min}")]
    ServerTooOld {
        /// The server's version.
        server: u32,
        /// The oldest this client accepts.
        min: u32,
    },
    /// The server speaks an API version newer than this client knows.
    #[error("the server speaks API version {server}; this client knows up to {max}")]
    ServerTooNew {
        /// The server's version.
        server: u32,
        /// The newest this client accepts.
        max: u32,
    },
    /// The server understood the request and refused it (a role it needs, a state that moved
    /// on, a field that is wrong); the message says why and what to do.
    #[error("{message}")]
    Refused {
        /// The server's stable code (exit codes and UI branch on it).
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// The server answered with something this client does not understand.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The client key (on a device) could not sign the handshake: the device was removed,
    /// locked, or refused.
    #[error("{reason}")]
    ClientKeyUnavailable {
        /// What the device said.
        reason: String,
    },
    /// The client key's device waited for a touch (a YubiKey slot with a touch policy) and
    /// nobody touched it.
    #[error("{reason}")]
    ClientKeyNotTouched {
        /// What the device said.
        reason: String,
    },
    /// The server URL is not `https://`: Gatehouse speaks only mutual TLS.
    #[error("the server URL {url} is not https://: Gatehouse connects only over mutual TLS")]
    NotHttps {
        /// The URL.
        url: String,
    },
    /// The server answered with a redirect, which the client never follows.
    #[error(
        "the server answered with a redirect (HTTP {status}) to {location}; Gatehouse follows no redirects"
    )]
    Redirected {
        /// The HTTP status.
        status: u16,
        /// Where it pointed (empty when it did not say).
        location: String,
    },
    /// The profile's CA certificate is unusable.
    #[error("cannot use CA certificate {path}: {reason}")]
    CaCertificate {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// What the person should do next.
    pub fn hint(&self) -> &'static str {
        match self {
            Error::Unreachable { .. } => {
                "Check the server URL in the profile, that the server is running, and your network or VPN."
            }
            Error::ServerNotTrusted { .. } => {
                "Do not continue. Compare the fingerprint with your administrator's over a separate channel; if the deployment's CA changed, import the new profile."
            }
            Error::ClientCertRejected { .. } => {
                "Your certificate was not issued by this deployment's CA, or it was revoked. Check you chose the right profile, or ask an administrator for a new certificate."
            }
            Error::NotRegistered { .. } => {
                "Send your certificate fingerprint to an administrator so they can register it."
            }
            Error::Disabled { .. } => "Ask an administrator why your access was disabled.",
            Error::CertificateExpired { .. } => {
                "Ask an administrator to issue you a new client certificate, then update the profile."
            }
            Error::CertificateNotYetValid { .. } => {
                "Check this computer's date, time and time zone, or wait until the certificate becomes valid."
            }
            Error::ServerTooOld { .. } => {
                "Ask your administrator to upgrade gatehouse-server, or use an older console."
            }
            Error::ServerTooNew { .. } => "Upgrade the Gatehouse console.",
            Error::Refused { code, .. } => match code {
                ErrorCode::Forbidden => {
                    "Your roles do not allow this; ask an administrator if they should."
                }
                ErrorCode::NotFound => {
                    "Check the id; it may have been typed wrong or belong to another deployment."
                }
                ErrorCode::Conflict => {
                    "Reload to see the current state, then try again if it still applies."
                }
                ErrorCode::BadRequest | ErrorCode::PayloadTooLarge => {
                    "Correct the field the message names and send it again."
                }
                ErrorCode::Timeout => "Try again; if it keeps happening, tell your administrator.",
                ErrorCode::RateLimited => "Wait as long as the message says, then send it again.",
                ErrorCode::Paused => {
                    "The deployment is paused: nothing changes until a quorum of officers resumes it."
                }
                _ => "Quote the time and the request to your administrator.",
            },
            Error::Protocol(_) => {
                "Check that the profile points at a Gatehouse server; if it does, report this with the time it happened."
            }
            Error::CaCertificate { .. } => {
                "Choose the deployment's CA certificate (PEM) in the profile."
            }
            Error::NotHttps { .. } => {
                "Change the profile's server URL to the https:// address your administrator gave you."
            }
            Error::Redirected { .. } => {
                "Check the profile's server URL with your administrator: a Gatehouse server answers directly, never through a redirect."
            }
            Error::ClientKeyUnavailable { .. } => {
                "Connect the device that holds this profile's key (YubiKey or token) and connect again; its PIN will be asked for."
            }
            Error::ClientKeyNotTouched { .. } => {
                "Connect again, and touch the YubiKey's contact when it blinks: it waits about 15 seconds."
            }
        }
    }
}

/// Server-sent events from [`Connection::events`].
#[derive(Debug)]
pub struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

/// Largest event frame accepted: events are a few hundred bytes.
const MAX_EVENT_FRAME: usize = 64 * 1024;

impl EventStream {
    /// The next event; `None` once the server ended the stream. Keep-alive comments are skipped.
    pub async fn next(&mut self) -> Option<Result<gatehouse_protocol::proposal::Event, Error>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&frame);
                let data: Vec<&str> = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return Some(
                    serde_json::from_str(&data.join("\n"))
                        .map_err(|e| Error::Protocol(format!("a malformed event: {e}"))),
                );
            }
            if self.buffer.len() > MAX_EVENT_FRAME {
                return Some(Err(Error::Protocol(
                    "the event stream sent an oversized event".to_owned(),
                )));
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                Ok(None) => return None,
                Err(e) => {
                    return Some(Err(Error::Protocol(format!("the event stream broke: {e}"))));
                }
            }
        }
    }
}

/// An mTLS connection pool to one server, for one profile and identity.
#[derive(Debug, Clone)]
pub struct Connection {
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    base: reqwest::Url,
    seen: Arc<Mutex<Option<Fingerprint>>>,
    identity: Arc<dyn ClientIdentity>,
}

impl Connection {
    /// Prepares a connection; nothing is sent until the first request.
    pub fn new(profile: &Profile, identity: Arc<dyn ClientIdentity>) -> Result<Self, Error> {
        let ca_error = |reason: String| Error::CaCertificate {
            path: profile.ca_cert.display().to_string(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for cert in
            CertificateDer::pem_file_iter(&profile.ca_cert).map_err(|e| ca_error(e.to_string()))?
        {
            roots
                .add(cert.map_err(|e| ca_error(e.to_string()))?)
                .map_err(|e| ca_error(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(ca_error("no CERTIFICATE block found".to_owned()));
        }
        let base = reqwest::Url::parse(&profile.server_url)
            .map_err(|e| Error::Protocol(format!("server URL {:?}: {e}", profile.server_url)))?;
        if base.scheme() != "https" {
            return Err(Error::NotHttps {
                url: profile.server_url.clone(),
            });
        }
        let (config, seen) = client_config(roots, identity.as_ref())?;
        let tls = Arc::new(config.clone());
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            // A client key that waits for a touch does not need more: TLS 1.3's client finishes
            // its side in the same step as its signature, so the wait ends the handshake.
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .no_proxy()
            // The profile's URL is the only server: no redirect is followed, no plain HTTP sent.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()
            .map_err(|e| Error::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            tls,
            base,
            seen,
            identity,
        })
    }

    /// `GET /v1/whoami`.
    pub async fn whoami(&self) -> Result<WhoAmI, Error> {
        self.get("/v1/whoami").await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<ServerStatus, Error> {
        self.get("/v1/status").await
    }

    /// `GET /v1/ledger`: the server's Hedera network and whether it answers.
    pub async fn ledger(&self) -> Result<gatehouse_protocol::LedgerStatus, Error> {
        self.get("/v1/ledger").await
    }

    /// A GET whose JSON answer is `T`, with every failure classified.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.send(reqwest::Method::GET, path, None::<&()>).await
    }

    /// A POST of `body` as JSON whose JSON answer is `T`, with every failure classified.
    pub async fn post<B: serde::Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn send<B: serde::Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, Error> {
        self.request(method, path, body, None)
            .await?
            .json::<T>()
            .await
            .map_err(|e| Error::Protocol(format!("bad response body: {e}")))
    }

    /// Sends a request and returns the successful response; every failure classified.
    async fn request<B: serde::Serialize + ?Sized>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, Error> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Error::Protocol(format!("bad path {path:?}: {e}")))?;
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Err(self.diagnose(&error).await),
        };
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Err(Error::Redirected {
                status: status.as_u16(),
                location,
            });
        }
        check_version(&response)?;
        if status.is_success() {
            return Ok(response);
        }
        let body: ApiError = response
            .json()
            .await
            .map_err(|e| Error::Protocol(format!("HTTP {status} without an error body: {e}")))?;
        Err(self.classify_api_error(body))
    }

    /// Opens the server's event stream (`GET /v1/events`): one [`gatehouse_protocol::proposal::Event`]
    /// per change, for as long as the connection lasts.
    pub async fn events(&self) -> Result<EventStream, Error> {
        let response = self
            // The stream stays open for a day at most; the caller opens a new one after.
            .request::<()>(
                reqwest::Method::GET,
                "/v1/events",
                None,
                Some(Duration::from_secs(24 * 3600)),
            )
            .await?;
        Ok(EventStream {
            response,
            buffer: Vec::new(),
        })
    }

    fn classify_api_error(&self, body: ApiError) -> Error {
        let validity = self.identity.validity();
        match body.code {
            ErrorCode::NotRegistered => Error::NotRegistered {
                message: body.message,
                fingerprint: Fingerprint::from_digest(
                    Sha256::digest(&self.identity.certified_key().cert[0]).into(),
                ),
            },
            ErrorCode::Disabled => Error::Disabled {
                message: body.message,
            },
            ErrorCode::CertificateExpired => Error::CertificateExpired {
                not_after: validity.map(|v| v.1).unwrap_or_default(),
            },
            ErrorCode::CertificateNotYetValid => Error::CertificateNotYetValid {
                not_before: validity.map(|v| v.0).unwrap_or_default(),
            },
            ErrorCode::CertificateRequired => Error::ClientCertRejected {
                reason: body.message,
            },
            code => Error::Refused {
                code,
                message: body.message,
            },
        }
    }

    /// Classifies a failed request. HTTP/2 keeps only the text of a TLS alert
    /// that arrives after the handshake, so when the error chain holds no typed
    /// cause, one probe connection over HTTP/1.1 reads the server's verdict on
    /// our certificate as a typed rustls error.
    async fn diagnose(&self, error: &reqwest::Error) -> Error {
        match self.classify(error) {
            Error::Protocol(text) => self.probe().await.unwrap_or(Error::Protocol(text)),
            classified => classified,
        }
    }

    async fn probe(&self) -> Option<Error> {
        let host = self
            .base
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = self.base.port_or_known_default()?;
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .ok()?;
        let mut config = (*self.tls).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = rustls::client::Resumption::disabled();
        let name = ServerName::try_from(host.clone()).ok()?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut tls = match connector.connect(name, stream).await {
            Ok(tls) => tls,
            Err(io) => return as_rustls(&io).map(|e| self.classify_tls(e)),
        };
        let request =
            format!("GET /v1/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tls.write_all(request.as_bytes()).await.ok()?;
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
            Ok(Err(io)) => as_rustls(&io).map(|e| self.classify_tls(e)),
            _ => None,
        }
    }

    fn classify(&self, error: &reqwest::Error) -> Error {
        let url = self.base.to_string();
        let mut source: Option<&(dyn StdError + 'static)> = Some(error);
        while let Some(current) = source {
            if let Some(tls) = as_rustls(current) {
                return self.classify_tls(tls);
            }
            if let Some(io) = current.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                if matches!(
                    io.kind(),
                    ConnectionRefused
                        | HostUnreachable
                        | NetworkUnreachable
                        | TimedOut
                        | AddrNotAvailable
                ) {
                    return Error::Unreachable {
                        url,
                        reason: io.to_string(),
                    };
                }
            }
            source = current.source();
        }
        if error.is_timeout() {
            return Error::Unreachable {
                url,
                reason: "timed out".to_owned(),
            };
        }
        if error.is_connect() {
            return Error::Unreachable {
                url,
                reason: chain(error),
            };
        }
        // The server closing the connection right after our handshake, with no
        // alert, is how some servers refuse a client certificate under TLS 1.3.
        Error::Protocol(chain(error))
    }

    fn classify_tls(&self, tls: &rustls::Error) -> Error {
        match tls {
            rustls::Error::InvalidCertificate(reason) => Error::ServerNotTrusted {
                fingerprint: *self.seen.lock().unwrap_or_else(|p| p.into_inner()),
                reason: describe_certificate_error(
                    reason,
                    self.base.host_str().unwrap_or("the server"),
                ),
            },
            rustls::Error::AlertReceived(AlertDescription::CertificateExpired) => {
                Error::CertificateExpired {
                    not_after: self.identity.validity().map(|v| v.1).unwrap_or_default(),
                }
            }
            rustls::Error::AlertReceived(alert) => Error::ClientCertRejected {
                reason: format!("TLS alert: {alert:?}"),
            },
            rustls::Error::Other(other) => signer_failure(other),
            other => Error::Protocol(format!("TLS: {other}")),
        }
    }
}

/// Says in words what is wrong with the server's certificate.
fn describe_certificate_error(error: &rustls::CertificateError, host: &str) -> String {
    use rustls::CertificateError as E;
    match error {
        E::UnknownIssuer => "it was not issued by this profile's CA".to_owned(),
        E::BadSignature => {
            "its issuer's signature does not verify with this profile's CA (a different CA, perhaps with the same name)".to_owned()
        }
        E::NotValidForName | E::NotValidForNameContext { .. } => format!("it is not issued for {host}"),
        E::Expired | E::ExpiredContext { .. } => "it has expired".to_owned(),
        E::NotValidYet | E::NotValidYetContext { .. } => {
            "it is not valid yet (check this computer's clock)".to_owned()
        }
        E::Revoked => "it has been revoked".to_owned(),
        other => format!("it failed verification ({other:?})"),
    }
}

fn as_rustls<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    // io::Error::source() skips the error it wraps (and connectors nest io::Errors):
    // unwrap them explicitly.
    let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
    as_rustls(inner)
}

fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A failure the device signer reported (`gatehouse_keys::tls`): its typed error, downcast,
/// never read from text. A missed touch is told apart from a device that could not sign.
fn signer_failure(other: &rustls::OtherError) -> Error {
    match other.0.downcast_ref::<gatehouse_keys::Error>() {
        Some(e @ gatehouse_keys::Error::TouchTimeout { .. }) => Error::ClientKeyNotTouched {
            reason: e.to_string(),
        },
        Some(e) => Error::ClientKeyUnavailable {
            reason: format!("the client key could not sign: {e}"),
        },
        None => Error::Protocol(format!("TLS: {other}")),
    }
}

fn check_version(response: &reqwest::Response) -> Result<(), Error> {
    let version = response
        .headers()
        .get(API_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| {
            Error::Protocol(format!(
                "the server did not send {API_VERSION_HEADER}: is this a Gatehouse server?"
            ))
        })?;
    if version < MIN_SUPPORTED_API_VERSION {
        return Err(Error::ServerTooOld {
            server: version,
            min: MIN_SUPPORTED_API_VERSION,
        });
    }
    if version > API_VERSION {
        return Err(Error::ServerTooNew {
            server: version,
            max: API_VERSION,
        });
    }
    Ok(())
}

type SeenFingerprint = Arc<Mutex<Option<Fingerprint>>>;

fn client_config(
    roots: RootCertStore,
    identity: &dyn ClientIdentity,
) -> Result<(rustls::ClientConfig, SeenFingerprint), Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::CaCertificate {
            path: "profile CA".to_owned(),
            reason: e.to_string(),
        })?;
    let seen = SeenFingerprint::default();
    let verifier = Arc::new(RecordingVerifier {
        inner,
        seen: seen.clone(),
    });
    let key = identity.certified_key();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Protocol(format!("TLS setup: {e}")))?
        .dangerous() // only to install RecordingVerifier, which delegates every decision to WebPKI
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(PresentIdentity(key)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if !identity.allows_resumption() {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok((config, seen))
}

/// Always presents the one identity the connection was made for.
#[derive(Debug)]
struct PresentIdentity(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for PresentIdentity {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Delegates to the WebPKI verifier and remembers the fingerprint of the last
/// certificate the server presented, so a refusal can show what was seen.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: SeenFingerprint,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::from_digest(Sha256::digest(end_entity).into());
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(fingerprint);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_signer(e: impl StdError + Send + Sync + 'static) -> Error {
        signer_failure(&rustls::OtherError(Arc::new(e)))
    }

    #[test]
    fn a_device_signers_typed_error_is_downcast() {
        let missed = from_signer(gatehouse_keys::Error::TouchTimeout {
            device: "YubiKey (PIV) serial 31000001".into(),
            slot: "9a".into(),
        });
        assert!(
            matches!(&missed, Error::ClientKeyNotTouched { reason } if reason.contains("31000001")),
            "a missed touch is its own failure: {missed:?}"
        );
        let gone = from_signer(gatehouse_keys::Error::DeviceGone {
            device: "token".into(),
            reason: "removed".into(),
        });
        assert!(
            matches!(&gone, Error::ClientKeyUnavailable { .. }),
            "{gone:?}"
        );
        let other = from_signer(std::io::Error::other(
            "the client key was not touched: it says so in words",
        ));
        assert!(
            matches!(&other, Error::Protocol(_)),
            "text is never taken for a device's failure: {other:?}"
        );
    }
}
