//! Officers' ledger keys: the Hedera keys on their devices that the token's threshold keys are
//! made of (invariant 1). An officer enrols their own key once, with the evidence their device
//! gives that the key was born on it (invariant 7); the deployment's [`KeyPolicy`] decides what
//! evidence is enough.

pub mod api;
pub mod store;

use chrono::{DateTime, Utc};
use gatehouse_keys::attestation::TrustAnchors;
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{Algorithm, PublicKey};
use gatehouse_protocol::proposal::{LedgerKey, LedgerKeyAlgorithm, LedgerKeyEnrolment};

use crate::config::KeyPolicy;

/// How the server judged a key's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// An attestation chain to a trusted root certifies the key.
    Attested,
    /// The PKCS#11 module says the key was generated on the token and never left it; nothing
    /// signs that claim.
    SelfReported,
    /// A software key, or a device that gave no evidence (development only).
    Software,
}

impl Judged {
    /// Stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Judged::Attested => "attested",
            Judged::SelfReported => "self-reported",
            Judged::Software => "software",
        }
    }
}

/// An enrolment that was refused, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The key is not a valid key of its algorithm.
    #[error("public_key: {0}")]
    Key(String),
    /// The evidence is not the JSON of a known kind.
    #[error("evidence: {0}")]
    Evidence(String),
    /// The policy wants better evidence.
    #[error("{0}")]
    Policy(String),
}

impl Refused {
    /// The audit code.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::Key(_) => "bad-key",
            Refused::Evidence(_) => "bad-evidence",
            Refused::Policy(_) => "evidence-refused",
        }
    }
}

/// A key that passed the policy.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The key.
    pub key: PublicKey,
    /// How its origin was judged.
    pub judged: Judged,
    /// What the evidence said (device serial, firmware, policies, attributes), for the record.
    pub details: serde_json::Value,
}

fn algorithm(a: LedgerKeyAlgorithm) -> Algorithm {
    match a {
        LedgerKeyAlgorithm::Ed25519 => Algorithm::Ed25519,
        LedgerKeyAlgorithm::EcdsaSecp256k1 => Algorithm::EcdsaSecp256k1,
    }
}

/// Judges an enrolment under `policy` (attestations against `anchors`, at `now` in Unix seconds).
pub fn judge(
    request: &LedgerKeyEnrolment,
    policy: KeyPolicy,
    anchors: &TrustAnchors,
    now: i64,
) -> Result<Accepted, Refused> {
    let bytes =
        hex::decode(request.public_key.trim()).map_err(|_| Refused::Key("not hex".to_owned()))?;
    let key = PublicKey::from_bytes(algorithm(request.algorithm), &bytes)
        .map_err(|e| Refused::Key(e.to_string()))?;
    let evidence: Evidence = serde_json::from_value(request.evidence.clone()).map_err(|e| {
        Refused::Evidence(format!(
            "{e}; send {{\"kind\": \"attested\", ...}}, {{\"kind\": \"self-reported\", ...}} or {{\"kind\": \"software\"}}"
        ))
    })?;
    let keys_policy = match policy {
        KeyPolicy::Production => gatehouse_keys::Policy::production(),
        KeyPolicy::Development => gatehouse_keys::Policy::development(),
    };
    let refused = |e: gatehouse_keys::Error| Refused::Policy(e.to_string());
    let (judged, details) = match &evidence {
        Evidence::Attested(attestation) => {
            // Every policy verifies an attestation: one that does not verify is worse than none.
            let verified = keys_policy
                .accept_attested(attestation, &key.spki_der(), anchors, now)
                .map_err(refused)?;
            keys_policy.accept_ledger_key(&verified).map_err(refused)?;
            (
                Judged::Attested,
                serde_json::json!({
                    "serial": verified.serial,
                    "firmware": verified.firmware.map(|(a, b, c)| format!("{a}.{b}.{c}")),
                    "pin_policy": verified.pin_policy.map(|p| format!("{p:?}")),
                    "touch_policy": verified.touch_policy.map(|p| format!("{p:?}")),
                    "root_sha256": verified.root_sha256,
                }),
            )
        }
        Evidence::SelfReported(attributes) => {
            keys_policy.accept(&evidence).map_err(refused)?;
            let judged = if attributes.born_on_device() {
                Judged::SelfReported
            } else {
                Judged::Software
            };
            (judged, serde_json::to_value(attributes).unwrap_or_default())
        }
        Evidence::Software => {
            keys_policy.accept(&evidence).map_err(refused)?;
            (Judged::Software, serde_json::json!({}))
        }
        _ => {
            return Err(Refused::Evidence(
                "this kind of evidence is not known to this server".to_owned(),
            ));
        }
    };
    Ok(Accepted {
        key,
        judged,
        details,
    })
}

/// An enrolled key, as stored.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The officer's name.
    pub officer: String,
    /// The key.
    pub key: PublicKey,
    /// How its origin was judged.
    pub judged: String,
    /// The device, as reported.
    pub device: Option<String>,
    /// When.
    pub enrolled_at: DateTime<Utc>,
}

impl Enrolled {
    /// The wire form.
    pub fn view(&self) -> LedgerKey {
        let (algorithm, public_key) = match self.key.algorithm() {
            Algorithm::EcdsaSecp256k1 => (
                LedgerKeyAlgorithm::EcdsaSecp256k1,
                hex::encode(self.key.compressed().unwrap_or_default()),
            ),
            _ => (
                LedgerKeyAlgorithm::Ed25519,
                hex::encode(self.key.as_bytes()),
            ),
        };
        LedgerKey {
            officer: self.officer.clone(),
            algorithm,
            public_key,
            evidence: self.judged.clone(),
            device: self.device.clone(),
            enrolled_at: self.enrolled_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(evidence: serde_json::Value) -> LedgerKeyEnrolment {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        LedgerKeyEnrolment {
            algorithm: LedgerKeyAlgorithm::Ed25519,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            evidence,
            device: None,
        }
    }

    fn anchors() -> TrustAnchors {
        TrustAnchors::new(Vec::new(), Vec::new())
    }

    #[test]
    fn production_refuses_software_keys_and_development_records_them() {
        let software = request(serde_json::json!({ "kind": "software" }));
        let refused = judge(&software, KeyPolicy::Production, &anchors(), 0)
            .expect_err("production refuses a software key");
        assert_eq!(refused.code(), "evidence-refused");
        let accepted = judge(&software, KeyPolicy::Development, &anchors(), 0)
            .expect("development accepts it");
        assert_eq!(accepted.judged, Judged::Software);
    }

    #[test]
    fn self_reported_attributes_count_only_when_they_say_born_on_device() {
        let born = serde_json::json!({ "kind": "self-reported", "local": true, "never_extractable": true,
            "always_sensitive": true, "sensitive": true, "extractable": false });
        let accepted = judge(&request(born), KeyPolicy::Production, &anchors(), 0)
            .expect("a token key born on the token is accepted");
        assert_eq!(accepted.judged, Judged::SelfReported);
        let imported = serde_json::json!({ "kind": "self-reported", "local": false, "never_extractable": true,
            "always_sensitive": true, "sensitive": true, "extractable": false });
        assert!(judge(&request(imported), KeyPolicy::Production, &anchors(), 0).is_err());
    }

    #[test]
    fn an_attestation_that_does_not_verify_is_refused_in_every_policy() {
        let forged = serde_json::json!({ "kind": "attested", "key_certificate": [1, 2, 3], "device_certificate": [4, 5] });
        for policy in [KeyPolicy::Production, KeyPolicy::Development] {
            let refused = judge(&request(forged.clone()), policy, &anchors(), 0)
                .expect_err("a broken attestation is refused");
            assert_eq!(refused.code(), "evidence-refused", "{policy:?}");
        }
    }

    #[test]
    fn malformed_keys_and_evidence_name_the_field() {
        let mut bad = request(serde_json::json!({ "kind": "software" }));
        bad.public_key = "zz".to_owned();
        let e = judge(&bad, KeyPolicy::Development, &anchors(), 0).expect_err("refused");
        assert!(e.to_string().starts_with("public_key:"), "{e}");
        bad.public_key = hex::encode([0u8; 31]);
        assert!(judge(&bad, KeyPolicy::Development, &anchors(), 0).is_err());
        let odd = request(serde_json::json!({ "kind": "trust-me" }));
        let e = judge(&odd, KeyPolicy::Development, &anchors(), 0).expect_err("refused");
        assert!(e.to_string().starts_with("evidence:"), "{e}");
    }
}
