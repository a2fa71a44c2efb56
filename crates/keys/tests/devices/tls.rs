//! Mutual TLS 1.3 to gatehouse-server with the client key on a device: a SoftHSM2 token and the
//! virtual PIV card, through a profile, as the console and CLI connect.

use std::process::Command;
use std::sync::Arc;

use gatehouse_client::connection::{Connection, Error as ConnectionError};
use gatehouse_client::identity::ClientIdentity;
use gatehouse_client::profile::{KeySource, Profile};
use gatehouse_keys::device::{Device, Locator, Shared};
use gatehouse_keys::key::{self, Algorithm, PublicKey};
use gatehouse_keys::tls::{self, DeviceIdentity, DeviceKey};
use gatehouse_keys::{Error, Pin, testing};
use gatehouse_protocol::{Environment, Role};
use gatehouse_server::testing::{Backend, TestDeployment};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::SignatureScheme;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::CertificateSigningRequestDer;
use rustls::pki_types::pem::PemObject as _;
use sha2::{Digest as _, Sha256};

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
    (
        "tls::handshake_with_card_key_that_asks_for_a_touch",
        handshake_with_card_key_that_asks_for_a_touch,
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
    let device = Box::new(token);
    handshake_then_device_gone(
        device,
        testing::locator(label),
        testing::USER_PIN,
        &key,
        || {
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
        },
    );
}

fn handshake_with_card_key_then_card_removed() {
    let mut card = testing::VirtualCard::insert();
    let mut device =
        gatehouse_keys::open(&card.locator(), &gatehouse_keys::Pin::new(testing::PIV_PIN))
            .expect("the virtual card opens with the factory PIN");
    let key = device
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls client"))
        .expect("keygen works on the card (slot 9a)");
    let locator = card.locator();
    handshake_then_device_gone(device, locator, testing::PIV_PIN, &key, || card.remove());
}

/// A client key in a YubiKey slot whose touch policy is "always": each new connection waits
/// for a touch, even one later than the usual connect timeout (10 s), and an untouched card is
/// a missed touch with its own error and advice, not a missing device.
fn handshake_with_card_key_that_asks_for_a_touch() {
    use gatehouse_keys::piv::{PinPolicy, Piv, Placement, TouchPolicy};
    use std::time::{Duration, Instant};
    let card = testing::VirtualCard::insert();
    let mut piv = Piv::open(card.serial, &Pin::new(testing::PIV_PIN)).expect("the card opens");
    let key = piv
        .generate_in(
            Algorithm::EcdsaP256,
            Placement {
                slot: 0x9a,
                pin: PinPolicy::Once,
                touch: TouchPolicy::Always,
            },
        )
        .expect("keygen in 9a, touch always");
    let finger = card.touch(Duration::ZERO);
    let request = tls::certificate_request(&mut piv, &key.id, "carol")
        .expect("the card signs the request once touched");
    finger
        .join()
        .expect("the finger")
        .expect("the card felt the touch");
    drop(piv);
    let request = CertificateSigningRequestDer::from_pem_slice(request.as_bytes())
        .expect("the request is PEM");

    // Multi-threaded, as the console's and the CLI's runtimes are: the signer blocks in place.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let deployment = TestDeployment::new(Backend::Sqlite).await;
        let (profile, _, server) =
            serve_carol(&deployment, &request, card.locator(), &key.id).await;
        let device_identity = Arc::new(
            gatehouse_client::device::identity(&profile, &Pin::new(testing::PIV_PIN))
                .expect("opens"),
        );
        assert!(
            device_identity.needs_touch(),
            "the identity knows each handshake waits for a touch"
        );
        let identity: Arc<dyn ClientIdentity> = device_identity;

        // Touched 11 s into the handshake: past what the server once allowed a handshake (10 s),
        // within the card's 15 s.
        let started = Instant::now();
        let finger = card.touch(Duration::from_secs(11));
        let me = Connection::new(&profile, identity.clone())
            .expect("the connection prepares")
            .whoami()
            .await
            .expect("a late touch still gets in");
        assert_eq!(me.name, "carol");
        assert!(
            started.elapsed() >= Duration::from_secs(11),
            "it waited for the touch"
        );
        finger
            .join()
            .expect("the finger")
            .expect("the card felt the touch");

        let missed = Connection::new(&profile, identity.clone())
            .expect("the connection prepares")
            .whoami()
            .await;
        let Err(error @ ConnectionError::ClientKeyNotTouched { .. }) = missed else {
            panic!("an untouched card is a missed touch, got {missed:?}");
        };
        assert!(
            error.to_string().contains("not touched in time"),
            "the failure says the touch was missed: {error}"
        );
        assert!(
            error.hint().contains("touch the YubiKey"),
            "and what to do: {}",
            error.hint()
        );
        server.shutdown().await.expect("clean shutdown");
    });
}

/// The officer's path with a key on `device`: a certificate signing request signed by the
/// device, a certificate from gatehouse-server's CA registered for it, a profile naming the
/// device key, and connections to a real gatehouse-server. Then `pull` takes the device away
/// and the next connection fails with an error that says so.
fn handshake_then_device_gone(
    mut device: Box<dyn Device>,
    locator: Locator,
    pin: &str,
    key: &key::Info,
    pull: impl FnOnce(),
) {
    let request = tls::certificate_request(device.as_mut(), &key.id, "carol")
        .expect("the device signs a certificate signing request");
    let request = CertificateSigningRequestDer::from_pem_slice(request.as_bytes())
        .expect("the request is PEM");
    // The profile opens the device again, as the console and CLI do.
    drop(device);

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let deployment = TestDeployment::new(Backend::Sqlite).await;
        let locator_kind = locator.kind();
        let (profile, fingerprint, server) =
            serve_carol(&deployment, &request, locator, &key.id).await;
        profile.validate().expect("a device profile is valid");

        let wrong = gatehouse_client::device::identity(&profile, &Pin::new("999999"));
        assert!(
            matches!(
                wrong,
                Err(Error::PinIncorrect { .. } | Error::PivPinIncorrect { .. })
            ),
            "a wrong PIN stops the profile before any connection, got {wrong:?}"
        );
        let device_identity = Arc::new(
            gatehouse_client::device::identity(&profile, &Pin::new(pin))
                .expect("the profile's device opens and its key matches the certificate"),
        );
        device_identity
            .check_present()
            .expect("the device is there");
        let identity: Arc<dyn ClientIdentity> = device_identity.clone();
        assert!(
            !identity.allows_resumption(),
            "a device identity refuses resumption, so every connection needs the device"
        );
        // A fresh connection (and TLS handshake) each time: the device signs every handshake.
        for attempt in ["first", "second"] {
            let me = Connection::new(&profile, identity.clone())
                .expect("the connection prepares")
                .whoami()
                .await
                .unwrap_or_else(|e| panic!("the {attempt} connection with the device key gets in: {e}"));
            assert_eq!(me.name, "carol", "the server knows the device key's certificate");
            assert_eq!(me.fingerprint, fingerprint, "the server saw the enrolled certificate");
        }

        pull();
        // A pulled card is gone; SoftHSM2, whose "pull" deletes the token under the session,
        // answers a general error, which still says the device cannot be used.
        let gone = device_identity.check_present();
        assert!(
            matches!(gone, Err(Error::DeviceGone { .. }))
                || (matches!(locator_kind, gatehouse_protocol::DeviceKind::Pkcs11) && gone.is_err()),
            "asking the pulled device finds it unusable, got {gone:?}"
        );
        let refused = Connection::new(&profile, identity.clone())
            .expect("the connection prepares")
            .whoami()
            .await;
        let Err(error @ ConnectionError::ClientKeyUnavailable { .. }) = refused else {
            panic!("once the device is gone the next connection must fail as the device's fault, got {refused:?}");
        };
        let text = error.to_string();
        assert!(
            text.contains("the client key could not sign") && text.contains("open it again with its PIN"),
            "the failure says the device is gone: {text}"
        );
        assert!(
            error.hint().contains("Connect the device"),
            "and what to do: {}",
            error.hint()
        );
        server.shutdown().await.expect("clean shutdown");
    });
}

/// Enrols carol from her device-signed `request`, starts the server, and gives her profile for
/// the key `id` on `device`, with her certificate's fingerprint and the running server.
async fn serve_carol(
    deployment: &TestDeployment,
    request: &CertificateSigningRequestDer<'_>,
    device: Locator,
    id: &key::Id,
) -> (
    Profile,
    gatehouse_protocol::Fingerprint,
    gatehouse_server::Running,
) {
    let (cert, fingerprint) = deployment
        .enrol_request("carol", &[Role::Officer], request.as_ref())
        .await;
    let server = deployment.start().await;
    let profile = Profile {
        name: "carol-device".to_owned(),
        server_url: format!("https://localhost:{}", server.addr.port()),
        environment: Environment::Development,
        ca_cert: deployment.ca_cert(),
        client_cert: cert,
        key: KeySource::Device {
            device,
            key: id.to_string(),
        },
        mirror_url: None,
    };
    (profile, fingerprint, server)
}

/// A CA that issues client certificates for any public key.
struct Pki {
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Gatehouse test CA");
        Self {
            issuer: Issuer::new(ca_params, ca_key),
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
