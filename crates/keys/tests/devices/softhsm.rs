//! PKCS#11 against SoftHSM2: keys born on the token, verified by independent libraries.

use std::sync::Arc;

use gatehouse_keys::device::{Backend, Device};
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_keys::pin::{self, Pin};
use gatehouse_keys::pkcs11::{Module, Selector};
use gatehouse_keys::testing::{self, USER_PIN};
use gatehouse_keys::{Error, Policy};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha3::Digest as _;

use crate::Test;

pub const TESTS: &[Test] = &[
    (
        "softhsm::ed25519_signature_verifies_with_dalek",
        ed25519_signature_verifies_with_dalek,
    ),
    (
        "softhsm::p256_signature_verifies_with_p256",
        p256_signature_verifies_with_p256,
    ),
    (
        "softhsm::secp256k1_signature_verifies_with_k256",
        secp256k1_signature_verifies_with_k256,
    ),
    (
        "softhsm::attributes_show_the_key_was_born_on_the_token",
        attributes_show_the_key_was_born_on_the_token,
    ),
    (
        "softhsm::wrong_pin_is_a_typed_error",
        wrong_pin_is_a_typed_error,
    ),
    (
        "softhsm::pin_change_retires_the_old_pin",
        pin_change_retires_the_old_pin,
    ),
    (
        "softhsm::keys_are_listed_after_reopening",
        keys_are_listed_after_reopening,
    ),
    ("softhsm::one_context_per_module", one_context_per_module),
    (
        "softhsm::missing_tokens_and_modules_are_explained",
        missing_tokens_and_modules_are_explained,
    ),
];

const MESSAGE: &[u8] = b"TokenMint: 3 serials, supply key threshold 2-of-3";

fn ed25519_signature_verifies_with_dalek() {
    let mut token = testing::token("ed25519");
    let key = token
        .generate(&key::Request::new(Algorithm::Ed25519, "hedera officer"))
        .expect("SoftHSM2 generates Ed25519 keys");
    assert_eq!(
        key.algorithm(),
        Algorithm::Ed25519,
        "the key is what was asked for"
    );
    let signature = token.sign(&key.id, MESSAGE).expect("the token signs");

    let public: [u8; 32] = key.public_key.as_bytes().try_into().expect("32 bytes");
    let verifier = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("a valid point");
    let dalek = ed25519_dalek::Signature::from_slice(signature.as_bytes()).expect("64 bytes");
    verifier
        .verify_strict(MESSAGE, &dalek)
        .expect("ed25519-dalek must accept the token's signature over the raw message");
    assert!(
        verifier.verify_strict(b"another message", &dalek).is_err(),
        "and only over that message"
    );
}

fn p256_signature_verifies_with_p256() {
    let mut token = testing::token("p256");
    let key = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls client"))
        .expect("SoftHSM2 generates P-256 keys");
    let signature = token.sign(&key.id, MESSAGE).expect("the token signs");
    assert_eq!(signature.as_bytes().len(), 64, "CKM_ECDSA returns r || s");

    let verifier = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.public_key.as_bytes())
        .expect("the token's CKA_EC_POINT unwraps to a valid P-256 point");
    let raw = p256::ecdsa::Signature::from_slice(signature.as_bytes()).expect("r and s in range");
    p256::ecdsa::signature::Verifier::verify(&verifier, MESSAGE, &raw).expect(
        "p256 must accept the signature as ECDSA-SHA256 over the message (hashed on the host)",
    );
    let der = p256::ecdsa::Signature::from_der(&signature.to_der().expect("ECDSA has DER"))
        .expect("the DER form parses");
    assert_eq!(der, raw, "the DER form carries the same r and s");
}

fn secp256k1_signature_verifies_with_k256() {
    let mut token = testing::token("secp256k1");
    // Debian's SoftHSM2 has the curve through OpenSSL; a module without it answers
    // Error::Unsupported.
    let key = token
        .generate(&key::Request::new(
            Algorithm::EcdsaSecp256k1,
            "hedera ecdsa",
        ))
        .expect("SoftHSM2 generates secp256k1 keys");
    let signature = token.sign(&key.id, MESSAGE).expect("the token signs");
    let verifier = k256::ecdsa::VerifyingKey::from_sec1_bytes(key.public_key.as_bytes())
        .expect("a valid secp256k1 point");
    let raw = k256::ecdsa::Signature::from_slice(signature.as_bytes()).expect("r and s in range");
    assert!(
        raw.normalize_s().is_none(),
        "the signature must be low-S, as Hedera requires"
    );
    let digest = sha3::Keccak256::digest(MESSAGE);
    verifier
        .verify_prehash(&digest, &raw)
        .expect("k256 must accept the signature over Keccak-256 of the message (Hedera's rule)");
}

fn attributes_show_the_key_was_born_on_the_token() {
    let mut token = testing::token("attributes");
    let key = token
        .generate(&key::Request::new(
            Algorithm::EcdsaP256,
            "rotation candidate",
        ))
        .expect("keygen works");
    let evidence = token.evidence(&key.id).expect("attributes can be read");
    let Evidence::SelfReported(attributes) = evidence.clone() else {
        panic!("a PKCS#11 key's evidence is self-reported attributes, got {evidence:?}");
    };
    assert_eq!(
        attributes.local,
        Some(true),
        "CKA_LOCAL: generated on the token"
    );
    assert_eq!(
        attributes.never_extractable,
        Some(true),
        "CKA_NEVER_EXTRACTABLE: it was never extractable"
    );
    assert_eq!(
        attributes.sensitive,
        Some(true),
        "CKA_SENSITIVE: it cannot be read"
    );
    assert_eq!(
        attributes.extractable,
        Some(false),
        "CKA_EXTRACTABLE: it cannot be wrapped out"
    );
    assert!(
        evidence.claims_born_on_device(),
        "together they claim birth on the device"
    );
    Policy::production()
        .admit(token.info())
        .expect("production admits a PKCS#11 token");
    Policy::production()
        .accept(&evidence)
        .expect("production accepts self-reported born-on-device attributes");

    let attestation = token.attestation(&key.id);
    let Err(error @ Error::AttestationUnavailable { .. }) = attestation else {
        panic!("PKCS#11 has no attestation, got {attestation:?}");
    };
    assert!(
        error
            .to_string()
            .contains("not available: self-reported attributes only"),
        "the refusal says what evidence there is instead: {error}"
    );
}

fn wrong_pin_is_a_typed_error() {
    let label = "wrong-pin";
    let mut first = testing::token(label);
    let key = first
        .generate(&key::Request::new(Algorithm::Ed25519, "k"))
        .expect("keygen works");
    let module = testing::softhsm();

    // The first handle is still logged in: PKCS#11 login state is per token and process, so
    // this also checks that a second open really verifies its PIN.
    let refused = module.open(&Selector::Label(label.to_owned()), &Pin::new("000000"));
    let Err(error) = refused else {
        panic!("a wrong PIN must not open the token");
    };
    let Error::PinIncorrect { status, .. } = &error else {
        panic!("a wrong PIN is Error::PinIncorrect, got {error:?}");
    };
    let text = error.to_string();
    assert!(
        text.starts_with("PIN incorrect") && text.contains("SO PIN unlocks it"),
        "the message says what happened and who can unlock: {text}"
    );
    assert_eq!(
        *status,
        pin::Status::CountLow,
        "SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after a wrong PIN, and the error carries it"
    );
    assert_eq!(
        first.pin_status().expect("the PIN status can be read"),
        pin::Status::CountLow,
        "the status stays readable without a login"
    );
    let after = first.sign(&key.id, MESSAGE);
    assert!(
        matches!(after, Err(Error::LoggedOut { .. })),
        "the failed login logged the token out for this process (fail closed), got {after:?}"
    );
    drop(first);
    let mut again = module
        .open(&Selector::Label(label.to_owned()), &Pin::new(USER_PIN))
        .expect("the right PIN still opens the token");
    assert_eq!(
        again.pin_status().expect("the PIN status can be read"),
        pin::Status::NoWarning,
        "a correct PIN clears the warning"
    );
}

fn pin_change_retires_the_old_pin() {
    let label = "pin-change";
    let mut token = testing::token(label);
    let key = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "k"))
        .expect("keygen works");
    let wrong = token.change_pin(&Pin::new("not-the-pin"), &Pin::new("new-pin-5678"));
    assert!(
        matches!(wrong, Err(Error::PinIncorrect { .. })),
        "changing needs the current PIN, got {wrong:?}"
    );
    token
        .change_pin(&Pin::new(USER_PIN), &Pin::new("new-pin-5678"))
        .expect("the PIN changes with the current PIN");
    drop(token);

    let module = testing::softhsm();
    let selector = Selector::Label(label.to_owned());
    let old = module.open(&selector, &Pin::new(USER_PIN));
    assert!(
        matches!(old, Err(Error::PinIncorrect { .. })),
        "the old PIN must no longer open the token, got {old:?}"
    );
    let mut reopened = module
        .open(&selector, &Pin::new("new-pin-5678"))
        .expect("the new PIN opens the token");
    reopened
        .sign(&key.id, MESSAGE)
        .expect("and the key signs again");
    reopened.log_out().expect("the token logs out");
    let after = reopened.sign(&key.id, MESSAGE);
    assert!(
        matches!(after, Err(Error::LoggedOut { .. })),
        "after logging out the key is unusable and the error says why, got {after:?}"
    );
}

fn keys_are_listed_after_reopening() {
    let label = "listing";
    let mut token = testing::token(label);
    let ed = token
        .generate(&key::Request::new(Algorithm::Ed25519, "officer hedera key"))
        .expect("keygen works");
    let ec = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "officer tls key"))
        .expect("keygen works");
    drop(token);

    let tokens = gatehouse_keys::enumerate(&Backend::Pkcs11 {
        module: testing::softhsm_module(),
    })
    .expect("the module lists its tokens");
    let info = tokens
        .iter()
        .find(|t| t.label == label)
        .expect("enumeration finds the token by label");
    assert!(
        !info.serial.is_empty(),
        "SoftHSM2 tokens have serial numbers"
    );

    let mut device = gatehouse_keys::open(&info.locator, &Pin::new(USER_PIN))
        .expect("the token opens from its enumerated locator");
    let mut keys = device.keys().expect("keys can be listed");
    keys.sort_by(|a, b| a.label.cmp(&b.label));
    assert_eq!(
        keys,
        vec![ed.clone(), ec.clone()],
        "both keys are on the token with their labels and public keys"
    );
    assert_eq!(
        device
            .public_key(&ec.id)
            .expect("the public key reads back"),
        ec.public_key,
        "reading one public key gives the same point"
    );
    let missing = device.sign(&key::Id::from_bytes(vec![1, 2, 3]), MESSAGE);
    let Err(error @ Error::KeyNotFound { .. }) = missing else {
        panic!("an unknown id is KeyNotFound, got {missing:?}");
    };
    assert!(
        error.to_string().contains("list the device's keys"),
        "the message says what to do: {error}"
    );
}

fn one_context_per_module() {
    let path = testing::softhsm_module();
    let first = Module::load(&path).expect("the module loads");
    let second = Module::load(&path).expect("and loads again");
    assert!(
        Arc::ptr_eq(&first, &second),
        "one module path gives one context (C_Initialize once per process)"
    );
    let directory = tempfile::tempdir().expect("a temporary directory");
    let link = directory.path().join("softhsm-link.so");
    std::os::unix::fs::symlink(&path, &link).expect("a symlink to the module");
    let through_link = Module::load(&link).expect("the module loads through a symlink");
    assert!(
        Arc::ptr_eq(&first, &through_link),
        "the registry is keyed by canonical path, so a symlink shares the context"
    );
}

fn missing_tokens_and_modules_are_explained() {
    let absent = gatehouse_keys::open(&testing::locator("no-such-token"), &Pin::new(USER_PIN));
    let Err(error @ Error::DeviceNotFound { .. }) = absent else {
        panic!("an absent token is DeviceNotFound, got {absent:?}");
    };
    assert!(
        error.to_string().contains("insert the token"),
        "the message says what to do: {error}"
    );
    let module = Module::load("/nonexistent/libpkcs11.so");
    let Err(error @ Error::Module { .. }) = module else {
        panic!("a missing module is Error::Module, got {module:?}");
    };
    assert!(
        error.to_string().contains("check the path"),
        "the message says what to do: {error}"
    );
}
