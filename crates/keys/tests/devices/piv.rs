//! PIV through the `yubikey` crate against the virtual card (`tools/virtual-piv`), and the same
//! card through Yubico's PKCS#11 module. Tests needing a physical YubiKey are listed in
//! [`PHYSICAL`] and run only when asked for (`--ignored`) with `GATEHOUSE_TEST_YUBIKEY_SERIAL`.

use gatehouse_keys::attestation::{self, TrustAnchors};
use gatehouse_keys::device::{Backend, Device, Locator};
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_keys::pin::{self, Pin};
use gatehouse_keys::piv::{Piv, Placement};
use gatehouse_keys::pkcs11::{Module, Selector};
use gatehouse_keys::testing::{self, PIV_PIN, PIV_PUK, VirtualCard};
use gatehouse_keys::{Error, Policy};
use p256::ecdsa::signature::Verifier as _;
use yubikey::{PinPolicy, TouchPolicy};

use crate::Test;

pub const TESTS: &[Test] = &[
    (
        "piv::a_card_reset_by_another_program_is_still_there",
        a_card_reset_by_another_program_is_still_there,
    ),
    (
        "piv::generate_sign_attest_in_9c",
        generate_sign_attest_in_9c,
    ),
    (
        "piv::wrong_pin_counts_down_and_puk_unblocks",
        wrong_pin_counts_down_and_puk_unblocks,
    ),
    ("piv::management_key_change", management_key_change),
    (
        "piv::pin_change_and_what_piv_cannot_do",
        pin_change_and_what_piv_cannot_do,
    ),
    (
        "piv::removed_card_is_device_gone",
        removed_card_is_device_gone,
    ),
    ("piv::same_card_through_ykcs11", same_card_through_ykcs11),
    (
        "piv::touch_policies_and_a_missed_touch",
        touch_policies_and_a_missed_touch,
    ),
    (
        "piv::ed25519_in_9c_signs_after_a_touch_and_is_attested",
        ed25519_in_9c_signs_after_a_touch_and_is_attested,
    ),
];

/// Tests for a physical YubiKey 5.7+ (its serial in `GATEHOUSE_TEST_YUBIKEY_SERIAL`, factory
/// PIN and management key; the test generates in retired slot 95 and touches nothing else).
pub const PHYSICAL: &[Test] = &[
    (
        "piv::physical_yubikey_ed25519_attested_by_yubico",
        physical_yubikey_ed25519_attested_by_yubico,
    ),
    (
        "piv::physical_yubikey_not_touched_in_time",
        physical_yubikey_not_touched_in_time,
    ),
];

fn open(card: &VirtualCard) -> Piv {
    Piv::open(card.serial, &Pin::new(PIV_PIN)).expect("the card opens with the factory PIN")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .try_into()
        .expect("fits")
}

fn generate_sign_attest_in_9c() {
    let card = VirtualCard::insert();
    let listed = gatehouse_keys::enumerate(&Backend::Piv).expect("PC/SC lists devices");
    let info = listed
        .iter()
        .find(|info| info.locator == card.locator())
        .unwrap_or_else(|| panic!("the card {} is listed: {listed:?}", card.serial));
    assert_eq!(
        info.model, "YubiKey 5.7.1",
        "the card reports YubiKey 5.7 firmware"
    );
    assert_eq!(info.serial, card.serial.to_string());

    let mut piv = open(&card);
    let placement = Placement {
        slot: 0x9c,
        pin: PinPolicy::Always,
        touch: TouchPolicy::Never,
    };
    let key = piv
        .generate_in(Algorithm::EcdsaP256, placement)
        .expect("P-256 generation in 9c");
    assert_eq!(key.id.as_bytes(), [0x9c], "the key id is the slot");
    let keys = piv.keys().expect("keys list");
    assert_eq!(
        keys.iter()
            .map(|k| k.id.as_bytes().to_vec())
            .collect::<Vec<_>>(),
        [vec![0x9c]],
        "exactly the generated key is listed"
    );
    assert_eq!(keys[0].public_key, key.public_key);

    // Sign, and verify with the p256 crate (not this crate's own verifier).
    let message = b"mint 3 NFTs of 0.0.1001";
    let signature = piv.sign(&key.id, message).expect("the card signs");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.public_key.as_bytes())
        .expect("a valid point");
    let raw = p256::ecdsa::Signature::from_slice(signature.as_bytes()).expect("r || s");
    verifying
        .verify(message, &raw)
        .expect("p256 accepts the card's signature over the message");
    assert!(
        verifying.verify(b"mint 4 NFTs of 0.0.1001", &raw).is_err(),
        "and refuses it for another message"
    );

    // Attest, and verify the chain against the card's test root.
    let Evidence::Attested(attestation) = piv.evidence(&key.id).expect("evidence") else {
        panic!("a PIV key's evidence is an attestation");
    };
    let anchors = TrustAnchors::new(vec![card.attestation_root()], vec![]);
    let verified = Policy::production()
        .accept_attested(&attestation, &key.public_key.spki_der(), &anchors, now())
        .expect("the attestation verifies against the card's root");
    assert_eq!(
        verified.serial,
        Some(card.serial),
        "the attestation names the card"
    );
    assert_eq!(verified.firmware, Some((5, 7, 1)), "and its firmware");
    assert_eq!(verified.chain_length, 3, "key certificate, f9, root");
    let refused = attestation::verify(
        &attestation,
        &key.public_key.spki_der(),
        &TrustAnchors::yubico(),
        now(),
    );
    assert!(
        refused.is_err(),
        "Yubico's roots do not vouch for the test card"
    );
    let other = piv
        .generate_in(
            Algorithm::EcdsaP256,
            Placement {
                slot: 0x82,
                ..placement
            },
        )
        .expect("a second key");
    let mismatch = attestation::verify(&attestation, &other.public_key.spki_der(), &anchors, now());
    assert!(
        mismatch.is_err(),
        "an attestation for 9c does not vouch for the key in 82"
    );
    let empty = piv.attestation(&key::Id::from_bytes([0x83]));
    assert!(
        matches!(empty, Err(Error::AttestationUnavailable { .. })),
        "an empty slot has no attestation, got {empty:?}"
    );
}

fn wrong_pin_counts_down_and_puk_unblocks() {
    let card = VirtualCard::insert();
    for expected in [2u8, 1] {
        let wrong = Piv::open(card.serial, &Pin::new("000000"));
        match wrong {
            Err(Error::PivPinIncorrect { tries_left, .. }) => assert_eq!(tries_left, expected),
            other => panic!("a wrong PIN is refused with the tries left, got {other:?}"),
        }
    }
    let mut piv = open(&card);
    assert_eq!(
        piv.pin_status().expect("status"),
        pin::Status::TriesLeft(3),
        "a correct PIN restores the tries"
    );
    drop(piv);
    for _ in 0..2 {
        let _ = Piv::open(card.serial, &Pin::new("000000"));
    }
    let blocked = Piv::open(card.serial, &Pin::new("000000"));
    let Err(error @ Error::PivPinBlocked { .. }) = blocked else {
        panic!("the third wrong PIN blocks it, got {blocked:?}");
    };
    assert!(
        error.to_string().contains("PUK"),
        "the message points at the PUK: {error}"
    );
    let still = Piv::open(card.serial, &Pin::new(PIV_PIN));
    assert!(
        matches!(still, Err(Error::PivPinBlocked { .. })),
        "even the right PIN is refused while blocked, got {still:?}"
    );

    // A wrong PUK counts down too, and leaves the PIN blocked.
    let wrong_puk = Piv::unblock(card.serial, &Pin::new("87654321"), &Pin::new("246810"));
    assert!(
        matches!(wrong_puk, Err(Error::PukIncorrect { tries_left: 2, .. })),
        "a wrong PUK is refused with its tries left, got {wrong_puk:?}"
    );
    Piv::unblock(card.serial, &Pin::new(PIV_PUK), &Pin::new("246810"))
        .expect("the PUK unblocks the PIN and the device opens with the new one");
    Piv::open(card.serial, &Pin::new("246810")).expect("the new PIN works");
}

fn management_key_change() {
    let card = VirtualCard::insert();
    let new_key = [0x42u8; 24];
    let mut piv = open(&card);
    piv.change_management_key(&new_key)
        .expect("the factory key authorises its replacement");
    drop(piv);

    let mut piv = open(&card);
    let refused = piv.generate(&key::Request::new(Algorithm::EcdsaP256, "tls"));
    let Err(error @ Error::ManagementKey { .. }) = refused else {
        panic!("without the new management key generation is refused, got {refused:?}");
    };
    assert!(
        error.to_string().contains("give it"),
        "the message says to give the current key: {error}"
    );
    piv.set_management_key(&new_key);
    piv.generate(&key::Request::new(Algorithm::EcdsaP256, "tls"))
        .expect("with the new management key generation works");
}

fn pin_change_and_what_piv_cannot_do() {
    let card = VirtualCard::insert();
    let mut piv = open(&card);
    piv.change_pin(&Pin::new(PIV_PIN), &Pin::new("135790"))
        .expect("the PIN changes");
    drop(piv);
    assert!(
        matches!(
            Piv::open(card.serial, &Pin::new(PIV_PIN)),
            Err(Error::PivPinIncorrect { .. })
        ),
        "the old PIN no longer opens the card"
    );
    let mut piv = Piv::open(card.serial, &Pin::new("135790")).expect("the new PIN opens it");
    let secp = piv.generate(&key::Request::new(Algorithm::EcdsaSecp256k1, "hedera"));
    assert!(
        matches!(secp, Err(Error::Unsupported { .. })),
        "PIV has no secp256k1, got {secp:?}"
    );
}

/// A Hedera key: Ed25519 in 9c with PIN and touch on every signature (the default placement),
/// as on a YubiKey 5.7. The signature verifies with ed25519-dalek, and the attestation names the
/// key, the card and the policies.
fn ed25519_in_9c_signs_after_a_touch_and_is_attested() {
    use std::time::Duration;
    let card = VirtualCard::insert_with_touch_timeout(Duration::from_secs(2));
    let mut piv = open(&card);
    let key = piv
        .generate(&key::Request::new(Algorithm::Ed25519, "hedera"))
        .expect("Ed25519 generation on firmware 5.7");
    assert_eq!(key.id.as_bytes(), [0x9c], "Hedera keys go to 9c by default");
    assert_eq!(key.public_key.algorithm(), Algorithm::Ed25519);
    assert!(
        piv.needs_touch(&key.id).expect("metadata"),
        "touch on every signature"
    );
    let listed = piv.keys().expect("keys");
    assert!(
        listed.iter().any(|k| k.public_key == key.public_key),
        "the key is listed from the slot's metadata: {listed:?}"
    );

    let body = b"TransactionBody: TokenMint 0.0.1001, 3 serials";
    assert!(
        matches!(piv.sign(&key.id, body), Err(Error::TouchTimeout { .. })),
        "no touch, no signature"
    );
    let finger = card.touch(Duration::ZERO);
    let signature = piv.sign(&key.id, body).expect("signed after the touch");
    finger.join().expect("the finger").expect("felt");
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(
        key.public_key.as_bytes().try_into().expect("32 bytes"),
    )
    .expect("a valid Ed25519 key");
    let raw = ed25519_dalek::Signature::from_slice(signature.as_bytes()).expect("64 bytes");
    verifying
        .verify_strict(body, &raw)
        .expect("ed25519-dalek accepts the card's signature over the body itself");
    assert!(
        verifying.verify_strict(b"another body", &raw).is_err(),
        "and only over that body"
    );

    let attestation = piv.attestation(&key.id).expect("the card attests");
    let anchors = TrustAnchors::new(vec![card.attestation_root()], vec![]);
    let verified = Policy::production()
        .accept_attested(&attestation, &key.public_key.spki_der(), &anchors, now())
        .expect("the Ed25519 key's attestation verifies");
    assert_eq!(verified.serial, Some(card.serial));
    assert_eq!(
        verified.touch_policy,
        Some(attestation::TouchPolicy::Always),
        "the attestation says touch always"
    );

    // A P-256 key generated over it replaces it, as on a YubiKey.
    let replaced = piv
        .generate_in(
            Algorithm::EcdsaP256,
            Placement {
                slot: 0x9c,
                pin: PinPolicy::Always,
                touch: TouchPolicy::Never,
            },
        )
        .expect("P-256 over the Ed25519 key");
    let after = piv.sign(&key.id, body).expect("signs with the new key");
    assert!(
        replaced.public_key.verify(body, &after).is_ok(),
        "the slot now signs with the P-256 key"
    );
}

fn removed_card_is_device_gone() {
    let mut card = VirtualCard::insert();
    let mut piv = open(&card);
    let key = piv
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls"))
        .expect("keygen");
    card.remove();
    let gone = piv.sign(&key.id, b"after removal");
    let Err(error) = gone else {
        panic!("signing without the card must fail");
    };
    assert!(
        matches!(error, Error::DeviceGone { .. }),
        "removal is reported as the device gone: {error:?}"
    );
    assert!(error.to_string().contains("reconnect it"), "{error}");
    let reopen = Piv::open(card.serial, &Pin::new(PIV_PIN));
    assert!(
        matches!(reopen, Err(Error::DeviceNotFound { .. })),
        "a removed card cannot be opened, got {reopen:?}"
    );
}

/// Yubico's PKCS#11 module (Debian `ykcs11`) over the same card: it lists the card as a token,
/// logs in with the PIV PIN and signs with the key the yubikey crate generated.
fn same_card_through_ykcs11() {
    let card = VirtualCard::insert();
    let mut piv = open(&card);
    let key = piv
        .generate_in(
            Algorithm::EcdsaP256,
            Placement {
                slot: 0x9a,
                pin: PinPolicy::Once,
                touch: TouchPolicy::Never,
            },
        )
        .expect("keygen");
    drop(piv);

    let module = Module::load(testing::ykcs11_module()).expect("ykcs11 loads");
    let tokens = module.tokens().expect("ykcs11 lists tokens");
    let token = tokens
        .iter()
        .find(|t| t.serial == card.serial.to_string())
        .unwrap_or_else(|| panic!("ykcs11 sees the card {}: {tokens:?}", card.serial));
    let Locator::Pkcs11 { .. } = &token.locator else {
        panic!("a PKCS#11 token");
    };
    let mut session = module
        .open(&Selector::Serial(token.serial.clone()), &Pin::new(PIV_PIN))
        .expect("ykcs11 logs in with the PIV PIN");
    let keys = session.keys().expect("ykcs11 lists keys");
    let same = keys
        .iter()
        .find(|k| k.public_key == key.public_key)
        .unwrap_or_else(|| panic!("ykcs11 shows the 9a key: {keys:?}"));
    let message = b"through PKCS#11";
    let signature = session.sign(&same.id, message).expect("ykcs11 signs");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.public_key.as_bytes())
        .expect("a valid point");
    verifying
        .verify(
            message,
            &p256::ecdsa::Signature::from_slice(signature.as_bytes()).expect("r || s"),
        )
        .expect("p256 accepts ykcs11's signature with the card's key");
}

/// A slot with touch policy "always" signs only after a touch, and refuses with its own error
/// when nobody touches the card; "cached" remembers a touch; "never" asks for none.
fn touch_policies_and_a_missed_touch() {
    use std::time::{Duration, Instant};
    const WAIT: Duration = Duration::from_secs(2);
    let card = VirtualCard::insert_with_touch_timeout(WAIT);
    let mut piv = open(&card);
    let placement = |slot, touch| Placement {
        slot,
        pin: PinPolicy::Always,
        touch,
    };
    let message = b"approve mint 7";
    // First, before any touch ("cached" counts any touch of the card in the last 15 s).
    let cached = piv
        .generate_in(Algorithm::EcdsaP256, placement(0x82, TouchPolicy::Cached))
        .expect("keygen, touch cached");
    assert!(piv.needs_touch(&cached.id).expect("metadata"));
    let finger = card.touch(Duration::ZERO);
    piv.sign(&cached.id, message).expect("touched once");
    finger.join().expect("the finger").expect("felt");
    let started = Instant::now();
    piv.sign(&cached.id, message)
        .expect("a touch is remembered for 15 seconds");
    assert!(started.elapsed() < WAIT, "without waiting for another");

    let always = piv
        .generate_in(Algorithm::EcdsaP256, placement(0x9c, TouchPolicy::Always))
        .expect("keygen, touch always");
    assert!(piv.needs_touch(&always.id).expect("metadata"));

    let started = Instant::now();
    let missed = piv.sign(&always.id, message);
    let Err(error @ Error::TouchTimeout { .. }) = missed else {
        panic!("an untouched card is a missed touch, not a device failure: {missed:?}");
    };
    assert!(
        started.elapsed() >= WAIT,
        "the card waited for the touch before giving up"
    );
    let text = error.to_string();
    assert!(
        text.contains("not touched in time")
            && text.contains("slot 9c")
            && text.contains("touch the YubiKey's contact while it blinks"),
        "the message says what happened and what to do: {text}"
    );
    assert!(!card.is_blinking(), "the card stopped blinking");

    let finger = card.touch(Duration::ZERO);
    let signature = piv
        .sign(&always.id, message)
        .expect("the card signs after the touch");
    finger
        .join()
        .expect("the finger")
        .expect("the card felt the touch");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(always.public_key.as_bytes())
        .expect("a valid point");
    verifying
        .verify(
            message,
            &p256::ecdsa::Signature::from_slice(signature.as_bytes()).expect("r || s"),
        )
        .expect("the touched signature verifies");
    assert!(
        matches!(
            piv.sign(&always.id, message),
            Err(Error::TouchTimeout { .. })
        ),
        "'always' asks for a touch every time"
    );

    let never = piv
        .generate_in(Algorithm::EcdsaP256, placement(0x83, TouchPolicy::Never))
        .expect("keygen, touch never");
    assert!(!piv.needs_touch(&never.id).expect("metadata"));
    piv.sign(&never.id, message)
        .expect("no touch needed, none given");
}

fn physical_yubikey_serial() -> u32 {
    std::env::var("GATEHOUSE_TEST_YUBIKEY_SERIAL")
        .expect("set GATEHOUSE_TEST_YUBIKEY_SERIAL to the serial of a YubiKey 5.7+ to run this")
        .parse()
        .expect("a numeric serial")
}

/// A real YubiKey left untouched: the signature is refused as a missed touch after its own
/// 15-second wait. Do not touch the YubiKey while this runs.
fn physical_yubikey_not_touched_in_time() {
    let serial = physical_yubikey_serial();
    let mut piv =
        Piv::open(serial, &Pin::new(PIV_PIN)).expect("the YubiKey opens with the factory PIN");
    let key = piv
        .generate_in(
            Algorithm::EcdsaP256,
            Placement {
                slot: 0x94,
                pin: PinPolicy::Always,
                touch: TouchPolicy::Always,
            },
        )
        .expect("P-256 generation in retired slot 94");
    eprintln!("do NOT touch YubiKey {serial} for 20 seconds");
    let missed = piv.sign(&key.id, b"physical, untouched");
    assert!(
        matches!(missed, Err(Error::TouchTimeout { .. })),
        "a YubiKey nobody touches refuses as a missed touch, got {missed:?}"
    );
}

fn physical_yubikey_ed25519_attested_by_yubico() {
    let serial = physical_yubikey_serial();
    let mut piv =
        Piv::open(serial, &Pin::new(PIV_PIN)).expect("the YubiKey opens with the factory PIN");
    let key = piv
        .generate_in(
            Algorithm::Ed25519,
            Placement {
                slot: 0x95,
                pin: PinPolicy::Always,
                touch: TouchPolicy::Always,
            },
        )
        .expect("Ed25519 generation (touch the YubiKey when it blinks)");
    let signature = piv.sign(&key.id, b"physical").expect("signing (touch it)");
    key.public_key
        .verify(b"physical", &signature)
        .expect("the Ed25519 signature verifies");
    let attestation = piv.attestation(&key.id).expect("the YubiKey attests");
    let verified = attestation::verify(
        &attestation,
        &key.public_key.spki_der(),
        &TrustAnchors::yubico(),
        now(),
    )
    .expect("Yubico's pinned roots vouch for a real YubiKey");
    assert_eq!(
        verified.serial,
        Some(serial),
        "the attestation names this YubiKey"
    );
}

/// Another program (or another handle in this one) closing the card resets it, as the yubikey
/// crate and PC/SC do by default, so the PIN's verification cannot outlive its user. A handle held
/// meanwhile (a live connection's key) must reconnect, not report the card gone.
fn a_card_reset_by_another_program_is_still_there() {
    let card = VirtualCard::insert();
    let mut held = open(&card);
    let key = held
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls"))
        .expect("keygen");
    {
        let mut other = open(&card);
        other.pin_status().expect("the other handle works");
    } // dropped: the card is reset
    held.pin_status()
        .expect("the held handle reconnects after the reset");
    let signature = held
        .sign(&key.id, b"after a reset")
        .expect("and signs, with the PIN verified again");
    key.public_key
        .verify(b"after a reset", &signature)
        .expect("a good signature");
    drop(open(&card));
    held.sign(&key.id, b"again")
        .expect("a reset between PIN and signature is survived too");
}
