//! The client's TLS identity: a certificate chain and a key that signs the
//! handshake. A file key now; a device-held key (PIV, PKCS#11) plugs in behind
//! the same trait by providing its own [`rustls::sign::SigningKey`].

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use crate::secret::Secret;

/// Failure to load a client identity.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The certificate file is unusable.
    #[error("cannot use client certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file is unusable.
    #[error("cannot use client key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key is encrypted and the passphrase is wrong or missing.
    #[error(
        "the passphrase for {path} is wrong or missing; re-add the profile with the right passphrase"
    )]
    Passphrase {
        /// The file.
        path: String,
    },
    /// The key does not belong to the certificate.
    #[error("the client key does not match the client certificate")]
    Mismatch,
}

/// Something that can present a client certificate in a TLS handshake.
pub trait ClientIdentity: Send + Sync + std::fmt::Debug {
    /// The certificate chain (end entity first) and its signing key.
    fn certified_key(&self) -> Arc<CertifiedKey>;

    /// Whether TLS session resumption may be used. A device-held key returns
    /// false: resumption would skip the device's signature, so pulling the
    /// device would not cut access on the next connection.
    fn allows_resumption(&self) -> bool {
        true
    }

    /// The end-entity certificate's validity period.
    fn validity(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let key = self.certified_key();
        let der = key.cert.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let v = cert.validity();
        Some((
            DateTime::from_timestamp(v.not_before.timestamp(), 0)?,
            DateTime::from_timestamp(v.not_after.timestamp(), 0)?,
        ))
    }
}

/// A certificate and key read from PEM files.
#[derive(Debug)]
pub struct FileIdentity {
    key: Arc<CertifiedKey>,
}

impl FileIdentity {
    /// Loads a PEM certificate chain and a PKCS#8 key (encrypted keys need `passphrase`).
    pub fn load(cert: &Path, key: &Path, passphrase: Option<&Secret>) -> Result<Self, Error> {
        let cert_error = |reason: String| Error::Certificate {
            path: cert.display().to_string(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| cert_error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_error(e.to_string()))?;
        if chain.is_empty() {
            return Err(cert_error("no CERTIFICATE block found".to_owned()));
        }
        let key_der = load_key(key, passphrase)?;
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let signing_key = provider
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| Error::Key {
                path: key.display().to_string(),
                reason: e.to_string(),
            })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) => Ok(Self {
                key: Arc::new(certified),
            }),
            Err(rustls::Error::InconsistentKeys(_)) => Err(Error::Mismatch),
            // Some key types cannot report their public key; rustls then cannot check.
            Err(_) => Ok(Self {
                key: Arc::new(certified),
            }),
        }
    }
}

impl ClientIdentity for FileIdentity {
    fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }
}

const ENCRYPTED_LABEL: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// Whether a PEM key file holds an encrypted PKCS#8 key.
pub fn is_encrypted_key_file(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains(ENCRYPTED_LABEL))
}

fn load_key(path: &Path, passphrase: Option<&Secret>) -> Result<PrivateKeyDer<'static>, Error> {
    let shown = path.display().to_string();
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::Key {
        path: shown.clone(),
        reason: e.to_string(),
    })?);
    if !text.contains(ENCRYPTED_LABEL) {
        return PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| Error::Key {
            path: shown,
            reason: e.to_string(),
        });
    }
    let passphrase = passphrase.ok_or_else(|| Error::Passphrase {
        path: shown.clone(),
    })?;
    let (_, document) = pkcs8::SecretDocument::from_pem(&text).map_err(|e| Error::Key {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let encrypted =
        pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes()).map_err(|e| Error::Key {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    let decrypted = encrypted
        .decrypt(passphrase.expose())
        .map_err(|_| Error::Passphrase { path: shown })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        decrypted.as_bytes().to_vec(),
    )))
}
