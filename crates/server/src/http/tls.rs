//! TLS for the server: TLS 1.3 only, a client certificate from the deployment CA
//! required on every connection, ALPN h2 and http/1.1.
//!
//! A client certificate that chains to the CA but expired a short while ago (or
//! becomes valid shortly: a skewed clock) completes the handshake and is then refused
//! by the HTTP layer with a 401 that says so (see [`ExpiryTolerantVerifier`]), because
//! a TLS alert cannot carry the reason a person needs. Beyond that grace, and for
//! everything else (unknown CA, bad signature, wrong key usage, a revoked
//! certificate), the handshake fails.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gatehouse_protocol::Fingerprint;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

use crate::registry::Revoked;

/// Failure to build the TLS configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot load {what} from {path}: {reason}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the material.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Builds the server's rustls configuration from PEM files. Client certificates outside their
/// validity by more than `grace` fail the handshake, as do those in `revoked`.
pub fn server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
    grace: Duration,
    revoked: Revoked,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for ca_cert in load_certs("CA certificate", ca)? {
        roots.add(ca_cert)?;
    }
    let inner =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let verifier = Arc::new(ExpiryTolerantVerifier {
        inner,
        grace,
        revoked,
    });
    let chain = load_certs("server certificate", cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::Pem {
        what: "server key",
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem_error = |reason: String| Error::Pem {
        what,
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error("no CERTIFICATE block found".to_owned()));
    }
    Ok(certs)
}

/// The client certificate a connection presented, parsed once per connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// SHA-256 of the DER: the registry key.
    pub fingerprint: Fingerprint,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

impl PeerCertificate {
    /// Parses the end-entity certificate from a completed handshake.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (not_before, not_after) = validity(der)?;
        Some(Self {
            fingerprint: Fingerprint::from_digest(Sha256::digest(der).into()),
            not_before,
            not_after,
        })
    }
}

fn validity(der: &[u8]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    Some((
        DateTime::from_timestamp(v.not_before.timestamp(), 0)?,
        DateTime::from_timestamp(v.not_after.timestamp(), 0)?,
    ))
}

/// Wraps the standard WebPKI client verifier so that a certificate whose only
/// fault is that its validity ended (or begins) within `grace` of now still
/// completes the handshake, and so that a revoked certificate never does.
///
/// The chain, signatures and key usage are verified as usual, at the last moment
/// the certificate was (or the first moment it will be) valid. The request layer
/// then refuses every request on such a connection with a reason. Beyond the
/// grace, an expired certificate is refused in the handshake: a stale credential
/// gets no further than TLS.
#[derive(Debug)]
pub struct ExpiryTolerantVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    grace: Duration,
    revoked: Revoked,
}

impl ClientCertVerifier for ExpiryTolerantVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::from_digest(Sha256::digest(end_entity.as_ref()).into());
        if self.revoked.contains(&fingerprint) {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
            )) => {
                let (not_before, not_after) = validity(end_entity).ok_or(
                    rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
                )?;
                let now_secs = now.as_secs() as i64;
                let grace = self.grace.as_secs() as i64;
                let at = if now_secs > not_after.timestamp() {
                    if now_secs - not_after.timestamp() > grace {
                        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
                    }
                    not_after.timestamp()
                } else {
                    if not_before.timestamp() - now_secs > grace {
                        return Err(rustls::Error::InvalidCertificate(
                            CertificateError::NotValidYet,
                        ));
                    }
                    not_before.timestamp()
                };
                let at = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
                self.inner.verify_client_cert(end_entity, intermediates, at)
            }
            other => other,
        }
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

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}
