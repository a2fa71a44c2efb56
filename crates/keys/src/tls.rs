//! A TLS client certificate whose key stays on a device: a rustls [`SigningKey`] over any
//! device key (P-256 or Ed25519), and a [`ClientIdentity`] for `gatehouse-client`.
//!
//! rustls hands [`Signer::sign`] the unhashed handshake message. The device hashes it with
//! SHA-256 on the host and signs the digest (see [`crate::key::Algorithm`]), and the signer
//! DER-encodes `r || s` for `ecdsa_secp256r1_sha256`. The call blocks the handshake's thread for
//! one device signature.
//!
//! Resumption is refused ([`ClientIdentity::allows_resumption`] is false): a resumed session
//! skips the client signature, so pulling the token would not cut access on the next connection.

use std::sync::Arc;

use gatehouse_client::identity::ClientIdentity;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};

use crate::device::Shared;
use crate::error::Error;
use crate::key::{self, Algorithm, PublicKey};

/// A device key as rustls sees it.
#[derive(Debug)]
pub struct DeviceKey {
    device: Shared,
    id: key::Id,
    public_key: PublicKey,
    spki: Vec<u8>,
    scheme: SignatureScheme,
    name: String,
}

impl DeviceKey {
    /// The key `id` on `device`. TLS 1.3 has schemes for P-256 and Ed25519 keys only; a
    /// secp256k1 key gives [`Error::Unsupported`].
    pub fn new(device: Shared, id: &key::Id) -> Result<Self, Error> {
        let (public_key, name) = {
            let mut held = device.lock();
            (held.public_key(id)?, held.to_string())
        };
        let scheme = match public_key.algorithm() {
            Algorithm::EcdsaP256 => SignatureScheme::ECDSA_NISTP256_SHA256,
            Algorithm::Ed25519 => SignatureScheme::ED25519,
            algorithm @ Algorithm::EcdsaSecp256k1 => {
                return Err(Error::Unsupported {
                    device: name,
                    what: format!("present a {algorithm} key in TLS"),
                    reason: "TLS 1.3 has no secp256k1 signature scheme; generate a P-256 key for the client certificate".to_owned(),
                });
            }
        };
        Ok(Self {
            spki: public_key.spki_der(),
            device,
            id: id.clone(),
            public_key,
            scheme,
            name,
        })
    }

    /// The key's public key (to put in a certificate request).
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The key's id on its device.
    pub fn id(&self) -> &key::Id {
        &self.id
    }

    /// The signer for this key's one scheme, as rustls will use it.
    pub fn signer(&self) -> Box<dyn Signer> {
        Box::new(DeviceSigner {
            device: self.device.clone(),
            id: self.id.clone(),
            scheme: self.scheme,
            name: self.name.clone(),
        })
    }
}

impl SigningKey for DeviceKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered.contains(&self.scheme).then(|| self.signer())
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(self.spki.as_slice()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self.scheme {
            SignatureScheme::ED25519 => SignatureAlgorithm::ED25519,
            _ => SignatureAlgorithm::ECDSA,
        }
    }
}

/// Signs one handshake with the device, on whatever thread rustls runs.
#[derive(Debug)]
struct DeviceSigner {
    device: Shared,
    id: key::Id,
    scheme: SignatureScheme,
    name: String,
}

impl Signer for DeviceSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let signature = self
            .device
            .lock()
            .sign(&self.id, message)
            .map_err(|e| {
                tracing::warn!(device = %self.name, key = %self.id, error = %e, "TLS client signature failed");
                rustls::Error::General(format!("the client key could not sign: {e}"))
            })?;
        Ok(signature
            .to_der()
            .unwrap_or_else(|| signature.as_bytes().to_vec()))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// A client identity whose key lives on a device.
#[derive(Debug)]
pub struct DeviceIdentity {
    key: Arc<CertifiedKey>,
}

impl DeviceIdentity {
    /// The certificate `chain` (end entity first) for `key`. Refuses a certificate issued for
    /// another public key.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: DeviceKey) -> Result<Self, Error> {
        if chain.is_empty() {
            return Err(Error::Certificate {
                reason: "the chain is empty; give the end-entity certificate first".to_owned(),
            });
        }
        let (device, id) = (key.name.clone(), key.id.to_string());
        let certified = CertifiedKey::new(chain, Arc::new(key));
        match certified.keys_match() {
            Ok(()) => Ok(Self {
                key: Arc::new(certified),
            }),
            Err(rustls::Error::InconsistentKeys(_)) => {
                Err(Error::CertificateMismatch { device, id })
            }
            Err(e) => Err(Error::Certificate {
                reason: e.to_string(),
            }),
        }
    }
}

impl ClientIdentity for DeviceIdentity {
    fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }

    fn allows_resumption(&self) -> bool {
        false
    }
}
