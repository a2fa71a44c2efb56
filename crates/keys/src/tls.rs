//! A TLS client certificate whose key stays on a device: a rustls [`SigningKey`] over any
//! device key (P-256 or Ed25519), and the [`DeviceIdentity`] that `gatehouse-client` connects
//! with (it implements the client's `ClientIdentity` for it).
//!
//! rustls hands [`Signer::sign`] the unhashed handshake message. The device hashes it with
//! SHA-256 on the host and signs the digest (see [`crate::key::Algorithm`]), and the signer
//! DER-encodes `r || s` for `ecdsa_secp256r1_sha256`. The call blocks for one device signature,
//! which on a YubiKey slot that asks for a touch lasts until the touch (up to 15 seconds): on
//! tokio's multi-threaded runtime the signer tells tokio it blocks (`block_in_place`), so the
//! other tasks move to another worker. The client's own timeouts need no allowance for the wait:
//! TLS 1.3's client finishes the handshake in the same step as its signature. The server's
//! handshake limit does (`handshake_timeout_secs`, 30 s).
//!
//! A failed signature reaches the client as `rustls::Error::Other` holding this crate's typed
//! [`Error`] (so a missed touch, [`Error::TouchTimeout`], is told apart by its type, not its text).
//!
//! The client refuses resumption for a device identity: a resumed session skips the client
//! signature, so pulling the token would not cut access on the next connection.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};

use crate::device::{Device, Shared};
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
    needs_touch: bool,
}

impl DeviceKey {
    /// The key `id` on `device`. TLS 1.3 has schemes for P-256 and Ed25519 keys only; a
    /// secp256k1 key gives [`Error::Unsupported`].
    pub fn new(device: Shared, id: &key::Id) -> Result<Self, Error> {
        let (public_key, name, needs_touch) = {
            let mut held = device.lock();
            (
                held.public_key(id)?,
                held.to_string(),
                held.needs_touch(id)?,
            )
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
            needs_touch,
        })
    }

    /// Whether each signature waits for a touch on the device.
    pub fn needs_touch(&self) -> bool {
        self.needs_touch
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
        let signature = blocking(|| self.device.lock().sign(&self.id, message)).map_err(|e| {
            tracing::warn!(device = %self.name, key = %self.id, error = %e, "TLS client signature failed");
            // Typed, for the client to downcast (`gatehouse_client::connection`).
            rustls::Error::Other(rustls::OtherError(Arc::new(e)))
        })?;
        Ok(signature
            .to_der()
            .unwrap_or_else(|| signature.as_bytes().to_vec()))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Runs device work that may block for a while (a touch) from wherever rustls signs. On a
/// worker of tokio's multi-threaded runtime, tokio is told, so the worker's other tasks move on
/// without it; anywhere else (a current-thread runtime, a plain thread) it simply runs.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// A client identity whose key lives on a device.
#[derive(Debug)]
pub struct DeviceIdentity {
    key: Arc<CertifiedKey>,
    needs_touch: bool,
    device: Shared,
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
        let needs_touch = key.needs_touch;
        let shared = key.device.clone();
        let certified = CertifiedKey::new(chain, Arc::new(key));
        match certified.keys_match() {
            Ok(()) => Ok(Self {
                key: Arc::new(certified),
                needs_touch,
                device: shared,
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

impl DeviceIdentity {
    /// Whether each handshake waits for a touch on the device.
    pub fn needs_touch(&self) -> bool {
        self.needs_touch
    }

    /// Asks the device something harmless (its PIN status), to learn whether it is still there:
    /// [`Error::DeviceGone`] once it has been pulled. Blocks for one device round trip.
    pub fn check_present(&self) -> Result<(), Error> {
        self.device.lock().pin_status().map(drop)
    }
}

impl DeviceIdentity {
    /// The certificate chain and the device key, as rustls presents them.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }
}

/// Every certificate in a PEM file, end entity first.
pub fn read_chain(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    use rustls::pki_types::pem::PemObject as _;
    let unusable = |reason: String| Error::Certificate {
        reason: format!("{}: {reason}", path.display()),
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| unusable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(e.to_string()))?;
    if chain.is_empty() {
        return Err(unusable("holds no PEM certificate".to_owned()));
    }
    Ok(chain)
}

/// A certificate signing request (PKCS#10, PEM) for the key `id` on `device`, signed by the
/// device: the CA (`gatehouse-server registry enrol`) checks that signature, so the request
/// proves the key is held by whoever sends it. The subject is `common_name`; the CA may
/// replace it.
pub fn certificate_request(
    device: &mut dyn Device,
    id: &key::Id,
    common_name: &str,
) -> Result<String, Error> {
    let public_key = device.public_key(id)?;
    let algorithm = match public_key.algorithm() {
        Algorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Algorithm::Ed25519 => &rcgen::PKCS_ED25519,
        algorithm @ Algorithm::EcdsaSecp256k1 => {
            return Err(Error::Unsupported {
                device: device.to_string(),
                what: format!("request a TLS certificate for a {algorithm} key"),
                reason: "TLS 1.3 has no secp256k1 signature scheme; generate a P-256 key for the client certificate".to_owned(),
            });
        }
    };
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let signer = RequestSigner {
        device: std::cell::RefCell::new(device),
        id,
        public_key: &public_key,
        algorithm,
        failure: std::cell::RefCell::new(None),
    };
    let request = params.serialize_request(&signer);
    if let Some(error) = signer.failure.into_inner() {
        return Err(error);
    }
    request
        .and_then(|r| r.pem())
        .map_err(|e| Error::Certificate {
            reason: format!("the certificate signing request could not be built: {e}"),
        })
}

/// rcgen's view of a device key while it signs one request. The device's own error is kept,
/// since rcgen's error type cannot carry it.
struct RequestSigner<'a, 'd> {
    device: std::cell::RefCell<&'a mut (dyn Device + 'd)>,
    id: &'a key::Id,
    public_key: &'a PublicKey,
    algorithm: &'static rcgen::SignatureAlgorithm,
    failure: std::cell::RefCell<Option<Error>>,
}

impl rcgen::PublicKeyData for RequestSigner<'_, '_> {
    fn der_bytes(&self) -> &[u8] {
        self.public_key.as_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

impl rcgen::SigningKey for RequestSigner<'_, '_> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match self.device.borrow_mut().sign(self.id, message) {
            Ok(signature) => Ok(signature
                .to_der()
                .unwrap_or_else(|| signature.as_bytes().to_vec())),
            Err(e) => {
                *self.failure.borrow_mut() = Some(e);
                Err(rcgen::Error::RemoteKeyError)
            }
        }
    }
}
