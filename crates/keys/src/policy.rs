//! Which devices and which key evidence a deployment accepts.

use crate::device::{self, Kind};
use crate::error::Error;
use crate::evidence::Evidence;

/// What a deployment accepts from officers' devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    software_keys: bool,
    evidence_required: bool,
}

impl Policy {
    /// Production: hardware devices only, and a new key only with evidence that it was born on
    /// its device (invariant 7).
    pub fn production() -> Self {
        Self {
            software_keys: false,
            evidence_required: true,
        }
    }

    /// Development and the demo: software key files are allowed and no evidence is required.
    pub fn development() -> Self {
        Self {
            software_keys: true,
            evidence_required: false,
        }
    }

    /// Whether keys on `device` may be used at all.
    pub fn admit(&self, device: &device::Info) -> Result<(), Error> {
        match device.kind() {
            Kind::Software if !self.software_keys => Err(Error::SoftwareKeyRefused {
                device: device.to_string(),
            }),
            Kind::Software | Kind::Pkcs11 | Kind::Piv => Ok(()),
        }
    }

    /// Whether a new key with this evidence may be enrolled (e.g. in a rotation).
    ///
    /// Self-reported PKCS#11 attributes are accepted when they claim the key was born on the
    /// token; the caller records them as self-reported. An attestation needs the device's
    /// public key and the trust anchors to mean anything: it goes through
    /// [`Policy::accept_attested`], and is refused here.
    pub fn accept(&self, evidence: &Evidence) -> Result<(), Error> {
        if !self.evidence_required {
            return Ok(());
        }
        match evidence {
            Evidence::SelfReported(attributes) if attributes.born_on_device() => Ok(()),
            Evidence::SelfReported(attributes) => Err(Error::EvidenceRefused {
                reason: format!(
                    "the token does not report the key as generated on it and never extractable ({attributes:?})"
                ),
            }),
            Evidence::Attested(_) => Err(Error::EvidenceRefused {
                reason: "an attestation counts only once verified against the device's key and the trusted roots (Policy::accept_attested)"
                    .to_owned(),
            }),
            Evidence::Software => Err(Error::EvidenceRefused {
                reason: "a software key has no evidence of being born on a device (software key: not for production)"
                    .to_owned(),
            }),
        }
    }
}

impl Policy {
    /// Accepts a key whose attestation chains to `anchors` and certifies `device_spki` (the key
    /// the device reports), at `now` (Unix seconds). Returns what the attestation says about the
    /// device. Every policy verifies: an attestation that does not verify is worse than none.
    pub fn accept_attested(
        &self,
        attestation: &crate::evidence::Attestation,
        device_spki: &[u8],
        anchors: &crate::attestation::TrustAnchors,
        now: i64,
    ) -> Result<crate::attestation::Verified, Error> {
        crate::attestation::verify(attestation, device_spki, anchors, now).map_err(|e| {
            Error::EvidenceRefused {
                reason: format!("the attestation does not verify: {e}"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Info, Locator};
    use crate::evidence::Attributes;

    fn software() -> Info {
        Info {
            locator: Locator::Software {
                file: "keys.age".into(),
            },
            label: "software key: not for production".to_owned(),
            manufacturer: "Gatehouse".to_owned(),
            model: "software key file".to_owned(),
            serial: String::new(),
        }
    }

    #[test]
    fn production_refuses_software_and_development_allows_it() {
        let refused = Policy::production().admit(&software());
        assert!(
            matches!(refused, Err(Error::SoftwareKeyRefused { .. })),
            "production must refuse a software key file, got {refused:?}"
        );
        assert!(
            Policy::development().admit(&software()).is_ok(),
            "development and the demo run on software keys"
        );
    }

    #[test]
    fn production_wants_born_on_device_evidence() {
        let local = Attributes {
            local: Some(true),
            never_extractable: Some(true),
            always_sensitive: Some(true),
            sensitive: Some(true),
            extractable: Some(false),
        };
        let production = Policy::production();
        assert!(
            production.accept(&Evidence::SelfReported(local)).is_ok(),
            "self-reported attributes of a token-born key are accepted (and recorded as such)"
        );
        let imported = Attributes {
            local: Some(false),
            ..local
        };
        assert!(
            matches!(
                production.accept(&Evidence::SelfReported(imported)),
                Err(Error::EvidenceRefused { .. })
            ),
            "an imported key is refused"
        );
        assert!(
            production.accept(&Evidence::Software).is_err(),
            "a software key has no evidence"
        );
        assert!(
            Policy::development().accept(&Evidence::Software).is_ok(),
            "development does not ask for evidence"
        );
    }
}
