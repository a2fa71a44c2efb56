//! Evidence that a key was born on its device and cannot leave it (invariant 7).
//!
//! Two kinds exist. A PIV device signs an attestation certificate for a key it generated,
//! chained to the vendor's root: that is proof. A PKCS#11 module only reports attributes about
//! the key (`CKA_LOCAL`, `CKA_NEVER_EXTRACTABLE`, ...): nothing signs them, so they are recorded
//! as self-reported. A software key has neither.

use serde::{Deserialize, Serialize};

/// What a device can show about where a key was born.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Evidence {
    /// An attestation certificate chain (PIV slot f9). Check it with
    /// [`crate::attestation::verify`].
    Attested(Attestation),
    /// Attributes a PKCS#11 module reports about the key. Nothing signs them: record them as
    /// self-reported.
    SelfReported(Attributes),
    /// A software key: generated in this process's memory and stored in a file. No evidence
    /// exists, and none can: not for production.
    Software,
}

impl Evidence {
    /// Whether the evidence, taken at its word, says the key was generated on the device and
    /// can never leave it. An attestation counts only once [`crate::attestation::verify`] accepted
    /// it, which needs the device's public key and the trust anchors; here it counts as no.
    pub fn claims_born_on_device(&self) -> bool {
        match self {
            Evidence::SelfReported(attributes) => attributes.born_on_device(),
            Evidence::Attested(_) | Evidence::Software => false,
        }
    }
}

/// The PKCS#11 attributes that speak to a private key's origin; `None` where the module did not
/// report one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attributes {
    /// `CKA_LOCAL`: generated on the token (not imported).
    pub local: Option<bool>,
    /// `CKA_NEVER_EXTRACTABLE`: `CKA_EXTRACTABLE` has always been false.
    pub never_extractable: Option<bool>,
    /// `CKA_ALWAYS_SENSITIVE`: `CKA_SENSITIVE` has always been true.
    pub always_sensitive: Option<bool>,
    /// `CKA_SENSITIVE`: the private value cannot be read in clear.
    pub sensitive: Option<bool>,
    /// `CKA_EXTRACTABLE`: the key can be wrapped out of the token.
    pub extractable: Option<bool>,
}

impl Attributes {
    /// Generated on the token, and never readable or extractable since.
    pub fn born_on_device(&self) -> bool {
        self.local == Some(true)
            && self.never_extractable == Some(true)
            && self.sensitive == Some(true)
            && self.extractable == Some(false)
    }
}

/// An attestation as a PIV device returns it (DER certificates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The certificate the device's attestation key issued for the key.
    pub key_certificate: Vec<u8>,
    /// The device's attestation certificate (slot f9), issued by the vendor.
    pub device_certificate: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn born_on_device_needs_every_attribute() {
        let good = Attributes {
            local: Some(true),
            never_extractable: Some(true),
            always_sensitive: Some(true),
            sensitive: Some(true),
            extractable: Some(false),
        };
        assert!(
            good.born_on_device(),
            "a local, sensitive, never-extractable key counts"
        );
        for weaker in [
            Attributes {
                local: Some(false),
                ..good
            },
            Attributes {
                local: None,
                ..good
            },
            Attributes {
                never_extractable: Some(false),
                ..good
            },
            Attributes {
                extractable: Some(true),
                ..good
            },
            Attributes {
                sensitive: Some(false),
                ..good
            },
        ] {
            assert!(
                !weaker.born_on_device(),
                "{weaker:?}: an imported, readable or unreported key must not count"
            );
        }
        assert!(
            !Evidence::Software.claims_born_on_device(),
            "a software key is never born on a device"
        );
    }
}
