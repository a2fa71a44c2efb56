//! YubiKey PIV attestation: proof that a key was generated on a YubiKey (invariant 7).
//!
//! A YubiKey signs, with the attestation key in slot f9, a certificate for a key it generated in
//! another slot. The f9 certificate is issued by Yubico. Before firmware 5.7.4 it chains straight to
//! `Yubico PIV Root CA Serial 263751`. From 5.7.4 it chains through `Yubico PIV Attestation ...` and
//! `Yubico Attestation Intermediate ...` to `Yubico Attestation Root 1`; the card holds only the f9
//! certificate, so the verifier ships the intermediates.
//!
//! [`verify`] walks the chain, checking every signature and validity period, until it reaches a
//! root pinned by the SHA-256 fingerprint of its DER. The system trust store is never consulted. It
//! then requires the attested public key to be the device's key, and decodes the device facts
//! Yubico puts in extensions under 1.3.6.1.4.1.41482.3: serial, firmware, PIN and touch policy, and
//! form factor.
//!
//! Yubico's certificates do not all carry CA basic constraints (the f9 certificate is an end entity
//! that issues), so constraints are not required; the pinned root and the signatures are what count.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::*;

use crate::evidence::Attestation;

/// The longest chain accepted: key, f9, up to three vendor certificates, root.
const MAX_CHAIN: usize = 6;

const OID_FIRMWARE: &str = "1.3.6.1.4.1.41482.3.3";
const OID_SERIAL: &str = "1.3.6.1.4.1.41482.3.7";
const OID_POLICY: &str = "1.3.6.1.4.1.41482.3.8";
const OID_FORM_FACTOR: &str = "1.3.6.1.4.1.41482.3.9";

/// Why an attestation was not accepted. Every variant names what to do: none of them may be
/// overridden by the person at the console.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationError {
    /// A certificate is not DER X.509.
    #[error(
        "the {which} certificate cannot be read ({reason}): ask the device for its attestation again"
    )]
    Malformed {
        /// Which certificate.
        which: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// A signature in the chain does not verify: the certificate was altered or forged.
    #[error(
        "the signature on \"{subject}\" does not verify: the attestation was altered or forged; do not accept this key"
    )]
    BadSignature {
        /// The certificate whose signature failed.
        subject: String,
    },
    /// The chain ends without a pinned root.
    #[error(
        "the chain does not reach a trusted Yubico root (it stops at \"{issuer}\"): the device is not a genuine YubiKey or the root is not pinned"
    )]
    UntrustedRoot {
        /// The last issuer name seen.
        issuer: String,
    },
    /// A certificate in the chain is outside its validity period.
    #[error(
        "\"{subject}\" is not valid now (valid {not_before} to {not_after}): check the computer's clock"
    )]
    NotValidNow {
        /// The certificate.
        subject: String,
        /// Start of validity (RFC 2822).
        not_before: String,
        /// End of validity.
        not_after: String,
    },
    /// The attested key is not the key the device reported.
    #[error(
        "the attestation is for a different key than the one in the slot: do not accept this key; generate it again"
    )]
    KeyMismatch,
    /// Too many certificates before a root.
    #[error("the attestation chain is longer than {MAX_CHAIN} certificates")]
    ChainTooLong,
}

/// A root of trust, pinned by the SHA-256 of its DER.
#[derive(Clone)]
struct Anchor {
    der: Vec<u8>,
    fingerprint: [u8; 32],
}

/// The roots an attestation must chain to, and the vendor intermediates a card does not carry.
#[derive(Clone)]
pub struct TrustAnchors {
    roots: Vec<Anchor>,
    intermediates: Vec<Vec<u8>>,
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pins: Vec<String> = self
            .roots
            .iter()
            .map(|a| hex::encode_upper(a.fingerprint))
            .collect();
        f.debug_struct("TrustAnchors")
            .field("root_sha256", &pins)
            .field("intermediates", &self.intermediates.len())
            .finish()
    }
}

/// SHA-256 of a certificate's DER, the form roots are pinned in.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// SHA-256 of the DER of each Yubico root trusted by [`TrustAnchors::yubico`].
pub const YUBICO_ROOT_PINS: [&str; 3] = [
    // Yubico PIV Root CA Serial 263751 (the two published versions: same key, path length 0 and 1).
    "7E996A28E3055223733C9AEC897900EDA9B746E3E15D419556AC6A1179879A50",
    "63ECE914E54DD87915F34033C85AF4C0696BA1512F8ADD66CED738331207B546",
    // Yubico Attestation Root 1 (firmware 5.7.4 and later).
    "62760C6A6EF91679F454C8902B80FD009825B3F25DA90F1FBACE2EC6586CD5A8",
];

const YUBICO_ROOTS: [&str; 3] = [
    include_str!("../roots/yubico/piv-root-263751-old.pem"),
    include_str!("../roots/yubico/piv-root-263751-new.pem"),
    include_str!("../roots/yubico/attestation-root-1.pem"),
];

const YUBICO_INTERMEDIATES: [&str; 5] = [
    include_str!("../roots/yubico/intermediate-a1.pem"),
    include_str!("../roots/yubico/intermediate-b1.pem"),
    include_str!("../roots/yubico/piv-attestation-a1.pem"),
    include_str!("../roots/yubico/piv-attestation-b1.pem"),
    include_str!("../roots/yubico/piv-attestation-b2-1.pem"),
];

/// Reads certificates or a public key as DER, from PEM (every block, in order) or from raw DER (one).
pub fn der_blocks(input: &[u8]) -> Result<Vec<Vec<u8>>, AttestationError> {
    if !input.starts_with(b"-----BEGIN") && !input.trim_ascii_start().starts_with(b"-----BEGIN") {
        return Ok(vec![input.to_vec()]);
    }
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(input) {
        let pem = pem.map_err(|e| AttestationError::Malformed {
            which: "PEM",
            reason: e.to_string(),
        })?;
        out.push(pem.contents);
    }
    if out.is_empty() {
        return Err(AttestationError::Malformed {
            which: "PEM",
            reason: "no PEM block".into(),
        });
    }
    Ok(out)
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(pem.contents)
}

impl TrustAnchors {
    /// Yubico's PIV attestation roots, pinned by [`YUBICO_ROOT_PINS`], and the intermediates of the
    /// chains from firmware 5.7.4 (the card does not carry them). See `roots/yubico/README.md`.
    pub fn yubico() -> Self {
        let roots = YUBICO_ROOTS.iter().filter_map(|p| pem_to_der(p)).collect();
        let intermediates = YUBICO_INTERMEDIATES
            .iter()
            .filter_map(|p| pem_to_der(p))
            .collect();
        Self::pinned(roots, intermediates, &YUBICO_ROOT_PINS)
    }

    /// Anchors from DER certificates: each root is pinned by its fingerprint; intermediates are
    /// candidates for building the chain, never trusted by themselves. Tests use generated ones.
    pub fn new(roots: Vec<Vec<u8>>, intermediates: Vec<Vec<u8>>) -> Self {
        let roots = roots
            .into_iter()
            .map(|der| Anchor {
                fingerprint: fingerprint(&der),
                der,
            })
            .collect();
        Self {
            roots,
            intermediates,
        }
    }

    /// Only roots whose DER hashes to one of `pins` (hex SHA-256) are kept: a bundled root file that
    /// was swapped or edited is not trusted.
    pub fn pinned(roots: Vec<Vec<u8>>, intermediates: Vec<Vec<u8>>, pins: &[&str]) -> Self {
        let mut anchors = Self::new(roots, intermediates);
        anchors.roots.retain(|a| {
            pins.iter()
                .any(|p| p.eq_ignore_ascii_case(&hex::encode(a.fingerprint)))
        });
        anchors
    }

    /// Trusts more roots, each pinned by its own fingerprint (a deployment's configured roots, e.g.
    /// the virtual PIV card's test root in development).
    pub fn add_roots(&mut self, roots: Vec<Vec<u8>>) {
        self.roots.extend(roots.into_iter().map(|der| Anchor {
            fingerprint: fingerprint(&der),
            der,
        }));
    }

    /// Adds intermediates to build chains with (never trusted by themselves).
    pub fn add_intermediates(&mut self, more: Vec<Vec<u8>>) {
        self.intermediates.extend(more);
    }

    /// The SHA-256 fingerprints of the trusted roots, hex.
    pub fn root_fingerprints(&self) -> Vec<String> {
        self.roots
            .iter()
            .map(|a| hex::encode_upper(a.fingerprint))
            .collect()
    }
}

/// PIN policy of the attested slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinPolicy {
    /// No PIN needed to use the key.
    Never,
    /// The PIN once per session.
    Once,
    /// The PIN for every use.
    Always,
    /// A value this code does not know.
    Other(u8),
}

/// Touch policy of the attested slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TouchPolicy {
    /// No touch needed.
    Never,
    /// A touch for every use.
    Always,
    /// A touch, remembered for 15 seconds.
    Cached,
    /// A value this code does not know.
    Other(u8),
}

/// What a verified attestation establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// The device's serial number.
    pub serial: Option<u32>,
    /// Firmware version (major, minor, patch).
    pub firmware: Option<(u8, u8, u8)>,
    /// PIN policy of the key's slot.
    pub pin_policy: Option<PinPolicy>,
    /// Touch policy of the key's slot.
    pub touch_policy: Option<TouchPolicy>,
    /// Form factor code (1 USB-A keychain, 2 USB-A nano, 3 USB-C keychain, 4 USB-C nano, 5 USB-C
    /// Lightning, ...), as Yubico reports it.
    pub form_factor: Option<u8>,
    /// Subject of the root the chain ends at.
    pub root: String,
    /// SHA-256 of that root, hex.
    pub root_sha256: String,
    /// Certificates in the chain, key certificate and root included.
    pub chain_length: usize,
}

fn parse<'a>(der: &'a [u8], which: &'static str) -> Result<X509Certificate<'a>, AttestationError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| AttestationError::Malformed {
        which,
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(AttestationError::Malformed {
            which,
            reason: "trailing bytes after the certificate".into(),
        });
    }
    Ok(cert)
}

fn check_time(cert: &X509Certificate<'_>, now: i64) -> Result<(), AttestationError> {
    let v = cert.validity();
    if now < v.not_before.timestamp() || now > v.not_after.timestamp() {
        return Err(AttestationError::NotValidNow {
            subject: cert.subject().to_string(),
            not_before: v.not_before.to_string(),
            not_after: v.not_after.to_string(),
        });
    }
    Ok(())
}

/// Verifies `attestation` for the key whose SubjectPublicKeyInfo (DER) the device reported, against
/// `anchors`, at `now` (Unix seconds).
pub fn verify(
    attestation: &Attestation,
    device_public_key_spki: &[u8],
    anchors: &TrustAnchors,
    now: i64,
) -> Result<Verified, AttestationError> {
    let leaf = parse(&attestation.key_certificate, "key")?;
    let f9 = parse(&attestation.device_certificate, "device (slot f9)")?;
    let mut pool: Vec<X509Certificate<'_>> = vec![f9];
    for der in &anchors.intermediates {
        pool.push(parse(der, "bundled intermediate")?);
    }
    let roots: Vec<(X509Certificate<'_>, &Anchor)> = anchors
        .roots
        .iter()
        .map(|a| parse(&a.der, "trusted root").map(|c| (c, a)))
        .collect::<Result<_, _>>()?;

    if leaf.public_key().raw != device_public_key_spki {
        return Err(AttestationError::KeyMismatch);
    }

    let mut current = leaf.clone();
    check_time(&current, now)?;
    for depth in 1..MAX_CHAIN {
        // A pinned root that issued the current certificate ends the chain.
        for (root, anchor) in &roots {
            if root.subject().as_raw() == current.issuer().as_raw() {
                current
                    .verify_signature(Some(root.public_key()))
                    .map_err(|_| AttestationError::BadSignature {
                        subject: current.subject().to_string(),
                    })?;
                check_time(root, now)?;
                return Ok(facts(&leaf, root, anchor, depth + 1));
            }
        }
        let issuer = pool.iter().find(|c| {
            c.subject().as_raw() == current.issuer().as_raw() && c.subject() != current.subject()
        });
        let Some(issuer) = issuer else {
            return Err(AttestationError::UntrustedRoot {
                issuer: current.issuer().to_string(),
            });
        };
        current
            .verify_signature(Some(issuer.public_key()))
            .map_err(|_| AttestationError::BadSignature {
                subject: current.subject().to_string(),
            })?;
        check_time(issuer, now)?;
        current = issuer.clone();
    }
    Err(AttestationError::ChainTooLong)
}

fn facts(
    leaf: &X509Certificate<'_>,
    root: &X509Certificate<'_>,
    anchor: &Anchor,
    chain_length: usize,
) -> Verified {
    let ext = |oid: &str| -> Option<&[u8]> {
        leaf.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
            .map(|e| e.value)
    };
    let firmware = ext(OID_FIRMWARE)
        .filter(|v| v.len() == 3)
        .map(|v| (v[0], v[1], v[2]));
    let serial = ext(OID_SERIAL).and_then(der_u32);
    let (pin_policy, touch_policy) = match ext(OID_POLICY) {
        Some([pin, touch, ..]) => (
            Some(match pin {
                1 => PinPolicy::Never,
                2 => PinPolicy::Once,
                3 => PinPolicy::Always,
                other => PinPolicy::Other(*other),
            }),
            Some(match touch {
                1 => TouchPolicy::Never,
                2 => TouchPolicy::Always,
                3 => TouchPolicy::Cached,
                other => TouchPolicy::Other(*other),
            }),
        ),
        _ => (None, None),
    };
    let form_factor = ext(OID_FORM_FACTOR).and_then(|v| v.first().copied());
    Verified {
        serial,
        firmware,
        pin_policy,
        touch_policy,
        form_factor,
        root: root.subject().to_string(),
        root_sha256: hex::encode_upper(anchor.fingerprint),
        chain_length,
    }
}

/// A DER INTEGER (as Yubico encodes the serial) that fits a u32.
fn der_u32(v: &[u8]) -> Option<u32> {
    let [0x02, len, rest @ ..] = v else {
        return None;
    };
    let body = rest.get(..usize::from(*len))?;
    if body.is_empty() || body.len() > 5 || (body.len() == 5 && body[0] != 0) {
        return None;
    }
    Some(body.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

#[cfg(all(test, feature = "test-support"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use rcgen::{KeyPair, PublicKeyData as _};

    use super::*;
    use crate::testing::{AttestationChain as Chain, DeviceFacts, attestation_chain};

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    /// Firmware 5.4.3, serial 12345678, PIN once, touch cached, USB-C keychain.
    fn chain(root_name: &str, with_intermediate: bool) -> Chain {
        attestation_chain(
            root_name,
            with_intermediate,
            DeviceFacts {
                firmware: [5, 4, 3],
                serial: 12_345_678,
                policy: [2, 3],
                form_factor: 3,
            },
        )
    }

    #[test]
    fn a_good_chain_verifies_and_yields_the_device_facts() {
        let c = chain("Test PIV Root CA", false);
        let anchors = TrustAnchors::new(vec![c.root.clone()], vec![]);
        let v = verify(&c.attestation, &c.device_spki, &anchors, NOW).unwrap();
        assert_eq!(v.serial, Some(12_345_678));
        assert_eq!(v.firmware, Some((5, 4, 3)));
        assert_eq!(
            (v.pin_policy, v.touch_policy),
            (Some(PinPolicy::Once), Some(TouchPolicy::Cached))
        );
        assert_eq!(v.form_factor, Some(3));
        assert_eq!(v.chain_length, 3);
        assert_eq!(v.root_sha256, hex::encode_upper(fingerprint(&c.root)));
        assert!(v.root.contains("Test PIV Root CA"));
    }

    #[test]
    fn the_574_chain_needs_the_shipped_intermediate() {
        let c = chain("Test Attestation Root 1", true);
        let with = TrustAnchors::new(vec![c.root.clone()], vec![c.intermediate.clone().unwrap()]);
        assert_eq!(
            verify(&c.attestation, &c.device_spki, &with, NOW)
                .unwrap()
                .chain_length,
            4
        );
        let without = TrustAnchors::new(vec![c.root.clone()], vec![]);
        assert!(matches!(
            verify(&c.attestation, &c.device_spki, &without, NOW),
            Err(AttestationError::UntrustedRoot { .. })
        ));
    }

    #[test]
    fn a_chain_to_another_root_is_untrusted() {
        let c = chain("Test PIV Root CA", false);
        // Same name, different key: the name matches but the pinned root did not sign.
        let impostor = chain("Test PIV Root CA", false);
        let anchors = TrustAnchors::new(vec![impostor.root], vec![]);
        assert!(matches!(
            verify(&c.attestation, &c.device_spki, &anchors, NOW),
            Err(AttestationError::BadSignature { .. })
        ));
        // A different name altogether.
        let other = chain("Some Other Root", false);
        let anchors = TrustAnchors::new(vec![other.root], vec![]);
        assert!(matches!(
            verify(&c.attestation, &c.device_spki, &anchors, NOW),
            Err(AttestationError::UntrustedRoot { .. })
        ));
        // A root file whose fingerprint is not pinned is dropped.
        let anchors =
            TrustAnchors::pinned(vec![c.root.clone()], vec![], &["00".repeat(32).as_str()]);
        assert!(anchors.root_fingerprints().is_empty());
        assert!(matches!(
            verify(&c.attestation, &c.device_spki, &anchors, NOW),
            Err(AttestationError::UntrustedRoot { .. })
        ));
        let pin = hex::encode(fingerprint(&c.root));
        let anchors = TrustAnchors::pinned(vec![c.root.clone()], vec![], &[pin.as_str()]);
        assert!(verify(&c.attestation, &c.device_spki, &anchors, NOW).is_ok());
    }

    #[test]
    fn a_tampered_extension_breaks_the_signature() {
        let mut c = chain("Test PIV Root CA", false);
        let anchors = TrustAnchors::new(vec![c.root.clone()], vec![]);
        let der = &mut c.attestation.key_certificate;
        // The firmware extension's value 05 04 03 becomes 05 07 04 (a firmware with Ed25519).
        let at = der.windows(3).position(|w| w == [5, 4, 3]).unwrap();
        der[at + 1] = 7;
        der[at + 2] = 4;
        // The edit landed in the extension (not elsewhere): the certificate now claims 5.7.4.
        let edited = parse(&c.attestation.key_certificate, "key").unwrap();
        let firmware = edited
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == OID_FIRMWARE)
            .unwrap();
        assert_eq!(firmware.value, [5, 7, 4]);
        assert!(matches!(
            verify(&c.attestation, &c.device_spki, &anchors, NOW),
            Err(AttestationError::BadSignature { .. })
        ));
    }

    #[test]
    fn an_attestation_for_another_key_is_refused() {
        let c = chain("Test PIV Root CA", false);
        let anchors = TrustAnchors::new(vec![c.root.clone()], vec![]);
        let other = KeyPair::generate().unwrap().subject_public_key_info();
        assert_eq!(
            verify(&c.attestation, &other, &anchors, NOW),
            Err(AttestationError::KeyMismatch)
        );
    }

    #[test]
    fn expired_and_malformed_certificates_are_refused() {
        let c = chain("Test PIV Root CA", false);
        let anchors = TrustAnchors::new(vec![c.root.clone()], vec![]);
        // rcgen's default validity ends in 4096; before 1975 nothing is valid yet.
        assert!(matches!(
            verify(&c.attestation, &c.device_spki, &anchors, 0),
            Err(AttestationError::NotValidNow { .. })
        ));
        let mut garbage = c.attestation.clone();
        garbage.device_certificate = vec![0x30, 0x03, 0x01, 0x02];
        assert!(matches!(
            verify(&garbage, &c.device_spki, &anchors, NOW),
            Err(AttestationError::Malformed { .. })
        ));
    }

    #[test]
    fn the_bundled_yubico_anchors_are_the_pinned_ones_and_chain() {
        let anchors = TrustAnchors::yubico();
        let mut pins = anchors.root_fingerprints();
        pins.sort();
        let mut expected: Vec<String> = YUBICO_ROOT_PINS.iter().map(|p| (*p).to_owned()).collect();
        expected.sort();
        assert_eq!(
            pins, expected,
            "every bundled root parses and matches its pin"
        );
        assert_eq!(anchors.intermediates.len(), 5);
        // Each bundled intermediate is signed by a bundled certificate, ending at Attestation Root 1.
        let all: Vec<Vec<u8>> = anchors
            .roots
            .iter()
            .map(|a| a.der.clone())
            .chain(anchors.intermediates.iter().cloned())
            .collect();
        let parsed: Vec<X509Certificate<'_>> =
            all.iter().map(|d| parse(d, "bundled").unwrap()).collect();
        for der in &anchors.intermediates {
            let cert = parse(der, "bundled").unwrap();
            let issuer = parsed
                .iter()
                .find(|c| c.subject() == cert.issuer())
                .unwrap();
            assert!(
                cert.verify_signature(Some(issuer.public_key())).is_ok(),
                "{}",
                cert.subject()
            );
        }
    }

    #[test]
    fn serials_decode_as_der_integers() {
        assert_eq!(der_u32(&[0x02, 0x01, 0x05]), Some(5));
        assert_eq!(
            der_u32(&[0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff]),
            Some(u32::MAX)
        );
        assert_eq!(der_u32(&[0x02, 0x05, 0x01, 0, 0, 0, 0]), None);
        assert_eq!(der_u32(&[0x04, 0x01, 0x05]), None);
        assert_eq!(der_u32(&[0x02, 0x03, 0x01]), None);
    }
}
