//! `gatehouse-server registry enrol`: a certificate for a key kept on a device, issued from its
//! certificate signing request by the deployment CA, and registered with its audit entry.

use std::path::Path;

use gatehouse_protocol::{Fingerprint, Role};
use rustls::pki_types::CertificateSigningRequestDer;
use rustls::pki_types::pem::PemObject as _;

use super::{Certificate, ChangedBy, Error, Registry};
use crate::config::Config;
use crate::pki::{Authority, Validity};

/// Days a certificate issued from a request is valid unless told otherwise (`registry enrol
/// --days`, and an onboarding's certificate).
pub const DEFAULT_DAYS: u32 = 365;

/// What to enrol.
#[derive(Debug, Clone)]
pub struct Enrolment<'a> {
    /// The person's name (the certificate's common name and the registry entry).
    pub name: &'a str,
    /// Roles (a new entry only; a replacement keeps the entry's roles).
    pub roles: &'a [Role],
    /// The certificate signing request (PEM or DER).
    pub csr: &'a Path,
    /// Where to write the certificate (PEM).
    pub out: &'a Path,
    /// Days the certificate is valid.
    pub days: u32,
    /// Give a registered person this certificate instead (the old one is revoked at once).
    pub replace: bool,
}

/// A failed enrolment: nothing was registered, written or logged as done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why (and what to do).
        reason: String,
    },
    /// The CA refused the request or could not be loaded.
    #[error("{0}")]
    Pki(#[from] crate::pki::Error),
    /// The registry refused the change.
    #[error(transparent)]
    Registry(#[from] Error),
}

/// Checks the request's signature (proof of possession), issues a certificate for its key only
/// (the name and usages are the CA's), and registers it (or, with `replace`, gives the entry the
/// new certificate and revokes the old one). The certificate file is written inside the
/// registry transaction: if registering or auditing fails, no file is left behind.
pub async fn from_request(
    config: &Config,
    registry: &Registry,
    by: &ChangedBy,
    request: &Enrolment<'_>,
) -> Result<Fingerprint, EnrolError> {
    let bytes = std::fs::read(request.csr).map_err(|e| EnrolError::Read {
        path: request.csr.display().to_string(),
        reason: e.to_string(),
    })?;
    let der = match CertificateSigningRequestDer::from_pem_slice(&bytes) {
        Ok(der) => der.as_ref().to_vec(),
        Err(_) => bytes,
    };
    // The development deployment keeps the CA key next to its certificate (`init` writes
    // both); a production CA issues certificates elsewhere, from the same request.
    let ca = Authority::load_beside(&config.resolve(&config.tls.ca_cert))?;
    let cert_pem =
        ca.issue_client_for_request(request.name, &der, Validity::days_from_now(request.days))?;
    let certificate = Certificate::from_pem(&cert_pem)?;
    let out = request.out.to_owned();
    let write =
        move || crate::deployment::write_file(&out, &cert_pem, 0o644).map_err(|e| e.to_string());
    if request.replace {
        registry
            .replace_certificate(by, &certificate, request.name, write)
            .await?;
    } else {
        registry
            .enrol(by, &certificate, request.name, request.roles, write)
            .await?;
    }
    Ok(certificate.fingerprint)
}
