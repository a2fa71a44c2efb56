//! The development deployment's certificate authority: a P-256 CA that issues the
//! server certificate and the people's client certificates.
//!
//! Production deployments bring their own CA; this module exists so that `init`,
//! the demo and the tests can stand up a complete mutually authenticated system.

use std::time::Duration as StdDuration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Failure to generate or load certificate material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// rcgen refused the parameters or the key.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate signing request was refused.
    #[error("the certificate signing request is refused: {0}")]
    Request(String),
    /// The CA certificate or key file could not be used.
    #[error("the CA certificate or key is not usable: {0}")]
    LoadCa(String),
}

/// A certificate and its private key, both PEM.
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM. Wiped from memory on drop.
    pub key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// First moment of validity.
    pub not_before: OffsetDateTime,
    /// Last moment of validity.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From a minute ago (tolerating small clock skew) for `days` days.
    pub fn days_from_now(days: u32) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - StdDuration::from_secs(60),
            not_after: now + StdDuration::from_secs(u64::from(days) * 86_400),
        }
    }
}

/// A certificate authority able to issue server and client certificates.
pub struct Authority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Generates a new P-256 CA named after the deployment, valid for ten years.
    pub fn generate(deployment: &str) -> Result<Self, Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        // A short id from the key keeps two deployments with the same name apart in every view.
        let id: String = Sha256::digest(key.public_key_raw())
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        params.distinguished_name = name(&format!("Gatehouse {deployment} CA {id}"), deployment);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let validity = Validity::days_from_now(3650);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params.self_signed(&key)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
            key_pem,
        })
    }

    /// Loads an existing CA from its certificate and PKCS#8 key, both PEM.
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| Error::LoadCa(e.to_string()))?;
        let issuer =
            Issuer::from_ca_cert_pem(cert_pem, key).map_err(|e| Error::LoadCa(e.to_string()))?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            issuer,
            key_pem: Zeroizing::new(key_pem.to_owned()),
        })
    }

    /// Loads the deployment's CA from its certificate file and the key beside it (`ca.pem` and
    /// `ca.key`, as `init` writes them). A production CA keeps its key elsewhere; then this
    /// says which file is missing and that the CA signs requests itself.
    pub fn load_beside(ca_cert: &std::path::Path) -> Result<Self, Error> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path).map_err(|e| {
                Error::LoadCa(format!(
                    "cannot read {}: {e} (Gatehouse issues from the deployment's own CA, its key beside its certificate; with an external CA, have it sign the request)",
                    path.display()
                ))
            })
        };
        let key = Zeroizing::new(read(&ca_cert.with_extension("key"))?);
        Self::load(&read(ca_cert)?, &key)
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM (for writing the deployment's `ca.key`).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a TLS server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, hosts: &[&str], validity: Validity) -> Result<Issued, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names = hosts
            .iter()
            .map(|h| match h.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*h).try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.distinguished_name = name("gatehouse-server", "server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, validity)
    }

    /// Issues a TLS client certificate whose common name is the person's name.
    pub fn issue_client(&self, person: &str, validity: Validity) -> Result<Issued, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(person, "people");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, validity)
    }

    /// Issues a TLS client certificate whose common name is the person's name, for a key held
    /// elsewhere (a YubiKey, a PKCS#11 token), from the key's certificate signing request (DER).
    ///
    /// The request's signature is checked first: it proves the requester holds the private
    /// key. Only its public key is used: the name, usages and validity are this CA's choice,
    /// whatever the request asks for. Returns the certificate, PEM.
    pub fn issue_client_for_request(
        &self,
        person: &str,
        request_der: &[u8],
        validity: Validity,
    ) -> Result<String, Error> {
        let request = rcgen::CertificateSigningRequestParams::from_der(&request_der.into())
            .map_err(|e| match e {
                rcgen::Error::InvalidCertificationRequestSignature => Error::Request(
                    "its signature does not verify: it was not signed by the key it names"
                        .to_owned(),
                ),
                other => Error::Request(format!("it cannot be read ({other})")),
            })?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name(person, "people");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.use_authority_key_identifier_extension = true;
        Ok(params.signed_by(&request.public_key, &self.issuer)?.pem())
    }

    fn issue(&self, mut params: CertificateParams, validity: Validity) -> Result<Issued, Error> {
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }
}

fn name(common_name: &str, unit: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Gatehouse");
    dn.push(DnType::OrganizationalUnitName, unit);
    dn.push(DnType::CommonName, common_name);
    dn
}
