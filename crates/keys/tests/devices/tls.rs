//! Mutual TLS 1.3 with the client key on a SoftHSM2 token.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use gatehouse_client::identity::ClientIdentity;
use gatehouse_keys::Error;
use gatehouse_keys::device::{Device, Shared};
use gatehouse_keys::key::{self, Algorithm, PublicKey};
use gatehouse_keys::testing;
use gatehouse_keys::tls::{DeviceIdentity, DeviceKey};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SignatureScheme};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::Test;

pub const TESTS: &[Test] = &[
    (
        "tls::signer_output_verifies_with_p256",
        signer_output_verifies_with_p256,
    ),
    (
        "tls::certificate_for_another_key_is_refused",
        certificate_for_another_key_is_refused,
    ),
    (
        "tls::handshake_with_token_key_then_token_gone",
        handshake_with_token_key_then_token_gone,
    ),
    (
        "tls::handshake_with_card_key_then_card_removed",
        handshake_with_card_key_then_card_removed,
    ),
];

fn signer_output_verifies_with_p256() {
    let mut token = testing::token("tls-signer");
    let key = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls client"))
        .expect("keygen works");
    let ed25519 = token
        .generate(&key::Request::new(Algorithm::Ed25519, "tls ed25519"))
        .expect("keygen works");
    let secp256k1 = token
        .generate(&key::Request::new(Algorithm::EcdsaSecp256k1, "hedera"))
        .expect("keygen works");
    let device = Shared::new(Box::new(token));
    let signing_key = DeviceKey::new(device.clone(), &key.id).expect("a P-256 key can sign TLS");
    let refused = DeviceKey::new(device.clone(), &secp256k1.id);
    assert!(
        matches!(refused, Err(Error::Unsupported { .. })),
        "TLS 1.3 has no secp256k1 scheme, so such a key is refused up front, got {refused:?}"
    );

    let ed_key = DeviceKey::new(device, &ed25519.id).expect("an Ed25519 key can sign TLS");
    let ed_signer = rustls::sign::SigningKey::choose_scheme(&ed_key, &[SignatureScheme::ED25519])
        .expect("the Ed25519 scheme is chosen when offered");
    let ed_signature = ed_signer.sign(b"handshake").expect("the device signs");
    let public: [u8; 32] = ed25519.public_key.as_bytes().try_into().expect("32 bytes");
    ed25519_dalek::VerifyingKey::from_bytes(&public)
        .expect("a valid point")
        .verify_strict(
            b"handshake",
            &ed25519_dalek::Signature::from_slice(&ed_signature).expect("64 bytes"),
        )
        .expect("Ed25519 TLS signatures are the raw 64 bytes over the message");

    assert!(
        rustls::sign::SigningKey::choose_scheme(&signing_key, &[SignatureScheme::RSA_PSS_SHA256])
            .is_none(),
        "a P-256 key cannot offer RSA"
    );
    let signer = rustls::sign::SigningKey::choose_scheme(
        &signing_key,
        &[
            SignatureScheme::ED25519,
            SignatureScheme::ECDSA_NISTP256_SHA256,
        ],
    )
    .expect("the P-256 scheme is chosen when offered");
    assert_eq!(
        signer.scheme(),
        SignatureScheme::ECDSA_NISTP256_SHA256,
        "P-256 with SHA-256"
    );

    // What rustls passes: the unhashed TLS 1.3 CertificateVerify content.
    let message = [
        &[0x20u8; 64][..],
        b"TLS 1.3, client CertificateVerify\x00",
        &[7u8; 32],
    ]
    .concat();
    let der = signer
        .sign(&message)
        .expect("the device signs through rustls");
    let signature =
        p256::ecdsa::Signature::from_der(&der).expect("rustls gets a DER-encoded ECDSA signature");
    let verifier = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.public_key.as_bytes())
        .expect("a valid point");
    verifier
        .verify_prehash(&Sha256::digest(&message), &signature)
        .expect("p256 must accept the signature over SHA-256 of the message");
}

fn certificate_for_another_key_is_refused() {
    let mut token = testing::token("tls-mismatch");
    let ours = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "ours"))
        .expect("keygen works");
    let other = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "other"))
        .expect("keygen works");
    let pki = Pki::new();
    let certificate = pki.client_certificate(&other.public_key);
    let device = Shared::new(Box::new(token));
    let refused = DeviceIdentity::new(
        vec![certificate],
        DeviceKey::new(device, &ours.id).expect("the key exists"),
    );
    let Err(error @ Error::CertificateMismatch { .. }) = refused else {
        panic!("a certificate for another key must be refused, got {refused:?}");
    };
    assert!(
        error
            .to_string()
            .contains("issue a certificate for this key"),
        "the message says what to do: {error}"
    );
}

fn handshake_with_token_key_then_token_gone() {
    let label = "tls-handshake";
    let mut token = testing::token(label);
    let key = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls client"))
        .expect("keygen works");
    handshake_then_device_gone(Box::new(token), &key, || {
        // Pull the token: delete it from SoftHSM2's token directory, as another program would.
        let deleted = Command::new("softhsm2-util")
            .args(["--delete-token", "--token", label])
            .output()
            .expect("softhsm2-util runs");
        assert!(
            deleted.status.success(),
            "softhsm2-util deletes the token: {}",
            String::from_utf8_lossy(&deleted.stderr)
        );
    });
}

fn handshake_with_card_key_then_card_removed() {
    let mut card = testing::VirtualCard::insert();
    let mut device =
        gatehouse_keys::open(&card.locator(), &gatehouse_keys::Pin::new(testing::PIV_PIN))
            .expect("the virtual card opens with the factory PIN");
    let key = device
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls client"))
        .expect("keygen works on the card (slot 9a)");
    handshake_then_device_gone(device, &key, || card.remove());
}

/// Two handshakes with the client key on `device`, then `pull` takes the device away and the
/// next handshake fails with an error that says so.
fn handshake_then_device_gone(device: Box<dyn Device>, key: &key::Info, pull: impl FnOnce()) {
    let pki = Pki::new();
    let certificate = pki.client_certificate(&key.public_key);
    let device = Shared::new(device);
    let identity: Arc<dyn ClientIdentity> = Arc::new(
        DeviceIdentity::new(
            vec![certificate.clone()],
            DeviceKey::new(device.clone(), &key.id).expect("the key exists"),
        )
        .expect("the certificate matches the device key"),
    );
    assert!(
        !identity.allows_resumption(),
        "a device identity refuses resumption, so every connection needs the device"
    );

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let server = tokio::spawn(serve(listener, pki.server_config(), certificate));
        let client = pki.client_config(identity.as_ref());

        let greeting = handshake(client.clone(), addr)
            .await
            .expect("the handshake completes with the client key on the device");
        assert_eq!(
            greeting, "welcome, officer",
            "the server saw the certificate of the device's key"
        );
        let again = handshake(client.clone(), addr)
            .await
            .expect("a second connection signs again");
        assert_eq!(
            again, "welcome, officer",
            "the device signs every handshake"
        );

        pull();
        let failed = handshake(client, addr).await;
        let Err(error) = failed else {
            panic!("a handshake must fail once the device is gone, got {failed:?}");
        };
        let text = error.to_string();
        assert!(
            text.contains("the client key could not sign")
                && text.contains("open it again with its PIN"),
            "the failure says the device is gone and what to do: {text}"
        );
        server.abort();
    });
    let after = device.lock().sign(&key.id, b"anything");
    assert!(
        matches!(
            after,
            Err(Error::DeviceGone { .. } | Error::LoggedOut { .. })
        ),
        "the device itself reports the loss as a typed error, got {after:?}"
    );
}

/// A CA, a server certificate for "localhost", and client certificates for any public key.
struct Pki {
    ca: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivatePkcs8KeyDer<'static>,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Gatehouse test CA");
        let ca = ca_params.self_signed(&ca_key).expect("the CA signs itself");
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("a server key");
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &issuer)
            .expect("the CA issues the server certificate");
        Self {
            ca: ca.der().clone(),
            issuer,
            server_chain: vec![server.der().clone()],
            server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        }
    }

    /// A client certificate for a device-held public key: the CA signs; the device is not
    /// involved, because only its public key goes into the certificate.
    fn client_certificate(&self, public_key: &PublicKey) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params
            .distinguished_name
            .push(DnType::CommonName, "officer");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params
            .signed_by(&DevicePublicKey(public_key), &self.issuer)
            .expect("the CA issues a certificate for the device key")
            .der()
            .clone()
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).expect("the CA is a valid root");
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("a client verifier");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                self.server_chain.clone(),
                PrivateKeyDer::Pkcs8(self.server_key.clone_key()),
            )
            .expect("the server certificate and key match");
        Arc::new(config)
    }

    /// A client configuration presenting `identity`, as `gatehouse-client` builds one.
    fn client_config(&self, identity: &dyn ClientIdentity) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).expect("the CA is a valid root");
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_root_certificates(roots)
            .with_client_cert_resolver(Arc::new(Present(identity.certified_key())));
        if !identity.allows_resumption() {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Arc::new(config)
    }
}

/// The device's public key as rcgen wants it for a certificate's subject key.
struct DevicePublicKey<'a>(&'a PublicKey);

impl rcgen::PublicKeyData for DevicePublicKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

#[derive(Debug)]
struct Present(Arc<CertifiedKey>);

impl ResolvesClientCert for Present {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Accepts connections; greets those whose client certificate is `expected`.
async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    expected: CertificateDer<'static>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    while let Ok((socket, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        let expected = expected.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(socket).await else {
                return;
            };
            let seen = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first().cloned());
            let greeting: &[u8] = if seen.as_ref() == Some(&expected) {
                b"welcome, officer"
            } else {
                b"who are you?"
            };
            let _ = tls.write_all(greeting).await;
            let _ = tls.shutdown().await;
        });
    }
}

/// One connection: handshake, then read the server's greeting to the end.
async fn handshake(config: Arc<rustls::ClientConfig>, addr: SocketAddr) -> std::io::Result<String> {
    let socket = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("a valid name");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, socket)
        .await?;
    let mut greeting = String::new();
    tls.read_to_string(&mut greeting).await?;
    Ok(greeting)
}
