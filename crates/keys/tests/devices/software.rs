//! The software key file: one file for the whole test (each open or save costs seconds of
//! scrypt), signatures checked with aws-lc-rs, which the software device does not use.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
use gatehouse_keys::device::{Backend, Device, Kind, Locator};
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_keys::pin::{self, Pin};
use gatehouse_keys::software::KeyFile;
use gatehouse_keys::{Error, Policy};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha3::Digest as _;

use crate::Test;

pub const TESTS: &[Test] = &[(
    "software::key_file_round_trip_and_policy",
    key_file_round_trip_and_policy,
)];

const MESSAGE: &[u8] = b"demo mint: 1 serial";

fn key_file_round_trip_and_policy() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("officer.age");
    let passphrase = Pin::new("correct horse battery staple");

    let mut file = KeyFile::create(&path, &passphrase).expect("a new key file is written");
    let mut generated = Vec::new();
    for algorithm in Algorithm::ALL {
        generated.push(
            file.generate(&key::Request::new(algorithm, format!("demo {algorithm}")))
                .expect("software keys of every algorithm can be generated"),
        );
    }
    let shown = file.to_string();
    assert!(
        shown.starts_with("software key: not for production"),
        "its Display says what it is: {shown}"
    );
    assert_eq!(
        file.info().label,
        "software key: not for production",
        "so does its device label"
    );
    drop(file);

    let on_disk = std::fs::read(&path).expect("the file exists");
    assert!(
        on_disk.starts_with(b"age-encryption.org/v1"),
        "the file is age-encrypted"
    );
    for key in &generated {
        assert!(
            !on_disk
                .windows(key.public_key.as_bytes().len())
                .any(|w| w == key.public_key.as_bytes()),
            "nothing of the keys is readable in the file"
        );
    }
    assert!(
        matches!(
            KeyFile::create(&path, &passphrase),
            Err(Error::KeyFile { .. })
        ),
        "an existing key file is never replaced by a new one"
    );

    let wrong = KeyFile::open(&path, &Pin::new("Tr0ub4dor&3"));
    let Err(error @ Error::Passphrase { .. }) = wrong else {
        panic!("a wrong passphrase is Error::Passphrase, got {wrong:?}");
    };
    assert!(
        error.to_string().contains("passphrase") && error.to_string().contains("wrong"),
        "the message says the passphrase is wrong: {error}"
    );

    let found = gatehouse_keys::enumerate(&Backend::Software { file: path.clone() })
        .expect("a software backend enumerates");
    assert_eq!(found.len(), 1, "the file is found");
    assert_eq!(found[0].kind(), Kind::Software, "as a software device");
    let mut device = gatehouse_keys::open(&Locator::Software { file: path.clone() }, &passphrase)
        .expect("the file reopens with its passphrase");
    let mut keys = device.keys().expect("keys can be listed");
    keys.sort_by_key(|k| Algorithm::ALL.iter().position(|a| *a == k.algorithm()));
    assert_eq!(keys, generated, "the same keys come back after reopening");

    for key in &keys {
        let signature = device.sign(&key.id, MESSAGE).expect("software keys sign");
        let public = key.public_key.as_bytes();
        match key.algorithm() {
            Algorithm::Ed25519 => UnparsedPublicKey::new(&ED25519, public)
                .verify(MESSAGE, signature.as_bytes())
                .expect("aws-lc-rs accepts the Ed25519 signature"),
            Algorithm::EcdsaP256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
                .verify(MESSAGE, signature.as_bytes())
                .expect("aws-lc-rs accepts the P-256 signature as ECDSA-SHA256 over the message"),
            Algorithm::EcdsaSecp256k1 => {
                let verifier =
                    k256::ecdsa::VerifyingKey::from_sec1_bytes(public).expect("a valid point");
                let raw = k256::ecdsa::Signature::from_slice(signature.as_bytes())
                    .expect("r and s in range");
                verifier
                    .verify_prehash(&sha3::Keccak256::digest(MESSAGE), &raw)
                    .expect("k256 accepts the signature over Keccak-256 of the message");
            }
            other => panic!("no such algorithm in this build: {other}"),
        }
    }

    let key = &keys[0];
    assert_eq!(
        device.evidence(&key.id).expect("evidence is answered"),
        Evidence::Software,
        "a software key has no evidence of birth on a device"
    );
    assert!(
        matches!(
            device.attestation(&key.id),
            Err(Error::AttestationUnavailable { .. })
        ),
        "and no attestation"
    );
    assert_eq!(
        device.pin_status().expect("status is answered"),
        pin::Status::NoLockout,
        "a passphrase never locks"
    );

    let refused = Policy::production().admit(device.info());
    let Err(error @ Error::SoftwareKeyRefused { .. }) = refused else {
        panic!("production must refuse a software key, got {refused:?}");
    };
    assert!(
        error
            .to_string()
            .contains("software key: not for production"),
        "the refusal names the software key: {error}"
    );
    assert!(
        Policy::production().accept(&Evidence::Software).is_err(),
        "production refuses a software key's (missing) evidence in a rotation too"
    );
    Policy::development()
        .admit(device.info())
        .expect("development runs on software keys");
}
