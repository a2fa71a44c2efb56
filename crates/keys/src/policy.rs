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

impl Policy {
    /// Whether an attested key may be a ledger key (one that approves mints and key changes):
    /// production wants the device to ask for the PIN and a touch on every signature, where the
    /// attestation reports those policies (a device without them reports none). Development takes
    /// any.
    pub fn accept_ledger_key(&self, verified: &crate::attestation::Verified) -> Result<(), Error> {
        use crate::attestation::{PinPolicy, TouchPolicy};
        if !self.evidence_required {
            return Ok(());
        }
        let mut missing = Vec::new();
        if let Some(pin) = verified.pin_policy.filter(|p| *p != PinPolicy::Always) {
            missing.push(format!(
                "the PIN on every signature (the slot's PIN policy is {pin:?})"
            ));
        }
        if let Some(touch) = verified.touch_policy.filter(|t| *t != TouchPolicy::Always) {
            missing.push(format!(
                "a touch on every signature (the slot's touch policy is {touch:?})"
            ));
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::EvidenceRefused {
            reason: format!(
                "a ledger key must ask for {}; generate it again with --pin-policy always --touch-policy always",
                missing.join(" and ")
            ),
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

    #[test]
    fn production_ledger_keys_ask_for_pin_and_touch_every_time() {
        use crate::attestation::{PinPolicy, TouchPolicy, Verified};
        let verified = |pin, touch| Verified {
            serial: Some(1),
            firmware: Some((5, 7, 1)),
            pin_policy: pin,
            touch_policy: touch,
            form_factor: None,
            root: "test".to_owned(),
            root_sha256: String::new(),
            chain_length: 2,
        };
        let production = Policy::production();
        assert!(
            production
                .accept_ledger_key(&verified(
                    Some(PinPolicy::Always),
                    Some(TouchPolicy::Always)
                ))
                .is_ok()
        );
        assert!(
            production.accept_ledger_key(&verified(None, None)).is_ok(),
            "a device that has no such policies reports none"
        );
        for (pin, touch, needle) in [
            (PinPolicy::Once, TouchPolicy::Always, "PIN policy is Once"),
            (
                PinPolicy::Always,
                TouchPolicy::Cached,
                "touch policy is Cached",
            ),
            (
                PinPolicy::Never,
                TouchPolicy::Never,
                "PIN on every signature (the slot's PIN policy is Never) and a touch",
            ),
        ] {
            let refused = production
                .accept_ledger_key(&verified(Some(pin), Some(touch)))
                .expect_err("refused in production");
            assert!(refused.to_string().contains(needle), "{refused}");
        }
        assert!(
            Policy::development()
                .accept_ledger_key(&verified(Some(PinPolicy::Never), Some(TouchPolicy::Never)))
                .is_ok(),
            "development takes any"
        );
    }
}
