//! Everything that can go wrong with a device, worded for the person holding it.
//!
//! No variant carries a PIN, a passphrase or private key material.

use crate::pin;

/// A device operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- PINs and passphrases ---
    /// The device refused the PIN.
    #[error("PIN incorrect for {device}: {}", .status.after_wrong_pin())]
    PinIncorrect {
        /// The device, as shown to people.
        device: String,
        /// What the device reports about the tries left after this failure.
        status: pin::Status,
    },
    /// The PIN is locked after too many wrong tries.
    #[error(
        "the PIN of {device} is locked after too many wrong tries; an administrator's SO PIN unlocks it"
    )]
    PinLocked {
        /// The device.
        device: String,
    },
    /// A PIV device refused the PIN.
    #[error(
        "PIN incorrect for {device}: {tries_left} {} left before the PIN blocks; the PUK unblocks it",
        if *.tries_left == 1 { "try" } else { "tries" }
    )]
    PivPinIncorrect {
        /// The device.
        device: String,
        /// Tries left, as the device counts them.
        tries_left: u8,
    },
    /// A PIV device's PIN is blocked.
    #[error(
        "the PIN of {device} is blocked after too many wrong tries; unblock it with the PUK. If the PUK is blocked too, only a reset of the PIV application helps, and it destroys the keys"
    )]
    PivPinBlocked {
        /// The device.
        device: String,
    },
    /// A PIV device refused the PUK.
    #[error(
        "PUK incorrect for {device}: {tries_left} tries left; when none are left the PIN cannot be unblocked and only a reset (which destroys the keys) helps"
    )]
    PukIncorrect {
        /// The device.
        device: String,
        /// Tries left.
        tries_left: u8,
    },
    /// A PIV device's management key was refused or is unusable.
    #[error(
        "management key problem on {device}: {reason}; generating keys needs the device's current management key: give it (24 bytes, hex), or ask whoever set it"
    )]
    ManagementKey {
        /// The device.
        device: String,
        /// Why.
        reason: String,
    },
    /// The device refused a new PIN (length or characters).
    #[error("{device} refused the new PIN ({reason}); choose a PIN of {min} to {max} characters")]
    PinRejected {
        /// The device.
        device: String,
        /// What the device said.
        reason: String,
        /// The device's minimum PIN length.
        min: usize,
        /// The device's maximum PIN length.
        max: usize,
    },
    /// A software key file's passphrase is wrong.
    #[error(
        "the passphrase for software key file {path} is wrong; try again (nothing locks, and a forgotten passphrase cannot be recovered)"
    )]
    Passphrase {
        /// The key file.
        path: String,
    },

    // --- Finding and keeping a device ---
    /// A PKCS#11 module could not be loaded or initialised.
    #[error(
        "cannot use PKCS#11 module {path}: {reason}; check the path and that the library is built for this machine (Debian's SoftHSM2 is /usr/lib/softhsm/libsofthsm2.so)"
    )]
    Module {
        /// The module path as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// No device matched what was asked for.
    #[error("no {wanted}; {advice}")]
    DeviceNotFound {
        /// What was looked for.
        wanted: String,
        /// What to check.
        advice: String,
    },
    /// The device went away (removed, deleted, or its session was closed).
    #[error(
        "{device} is no longer available ({reason}); reconnect it and open it again with its PIN"
    )]
    DeviceGone {
        /// The device.
        device: String,
        /// What the device layer reported.
        reason: String,
    },
    /// The device is no longer logged in (logged out, or another login replaced this one).
    #[error("{device} is no longer logged in; open it again with its PIN")]
    LoggedOut {
        /// The device.
        device: String,
    },

    /// A YubiKey key whose touch policy asks for a touch was not touched before the device
    /// gave up waiting.
    #[error(
        "{device} was not touched in time: the key in slot {slot} signs only after a touch, and the YubiKey waits about 15 seconds; try again, and touch the YubiKey's contact while it blinks"
    )]
    TouchTimeout {
        /// The device.
        device: String,
        /// The slot (hex).
        slot: String,
    },

    // --- Keys ---
    /// No key with this id on the device.
    #[error("no key with id {id} on {device}; list the device's keys to see what it holds")]
    KeyNotFound {
        /// The device.
        device: String,
        /// The key id (hex).
        id: String,
    },
    /// The device (or this crate) cannot do what was asked.
    #[error("{device} cannot {what}: {reason}")]
    Unsupported {
        /// The device.
        device: String,
        /// What was asked, as a verb phrase ("generate ECDSA secp256k1 keys").
        what: String,
        /// Why, and what to use instead.
        reason: String,
    },
    /// Attestation was asked of a device that cannot attest.
    #[error("attestation not available on {device}: {reason}")]
    AttestationUnavailable {
        /// The device.
        device: String,
        /// Why, and what evidence there is instead.
        reason: String,
    },
    /// A freshly generated key is not protected as asked; it has been destroyed.
    #[error(
        "the key generated on {device} came back {detail}, so it was destroyed; this module does not keep keys on the device: use another token or HSM"
    )]
    KeyNotProtected {
        /// The device.
        device: String,
        /// Which protection is missing.
        detail: String,
    },
    /// The device returned data this crate cannot use (a public key, a signature).
    #[error("{device} returned an unusable {what}: {reason}")]
    Malformed {
        /// The device.
        device: String,
        /// What was unusable.
        what: &'static str,
        /// Why.
        reason: String,
    },

    // --- Policy ---
    /// A software key was offered where production keys are required.
    #[error(
        "{device} refused: production accepts only keys held on a hardware device (a YubiKey or a PKCS#11 token); generate the key on one and enrol it"
    )]
    SoftwareKeyRefused {
        /// The device, which says "software key: not for production".
        device: String,
    },
    /// The evidence that a key was born on its device is missing or insufficient.
    #[error(
        "key refused: {reason}; generate a new key on the device so it is born there, then offer it again"
    )]
    EvidenceRefused {
        /// What is missing.
        reason: String,
    },

    // --- Software key files ---
    /// A software key file could not be read, written or understood.
    #[error("cannot use software key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why, and what to do.
        reason: String,
    },

    // --- TLS ---
    /// The client certificate is not for the device key.
    #[error(
        "the client certificate is not for key {id} on {device}; issue a certificate for this key's public key"
    )]
    CertificateMismatch {
        /// The device.
        device: String,
        /// The key id (hex).
        id: String,
    },
    /// The client certificate chain is unusable.
    #[error("cannot use the client certificate: {reason}")]
    Certificate {
        /// Why.
        reason: String,
    },

    // --- Anything else the device reports ---
    /// Any other device failure.
    #[error(
        "{operation} failed on {device}: {reason}; if it happens again, reconnect the device and open it again"
    )]
    Device {
        /// The device.
        device: String,
        /// What was being done.
        operation: &'static str,
        /// What the device layer reported.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_pin_message_says_what_is_left_and_who_unlocks() {
        let error = Error::PinIncorrect {
            device: "token \"officer-1\"".to_owned(),
            status: pin::Status::TriesLeft(2),
        };
        assert_eq!(
            error.to_string(),
            "PIN incorrect for token \"officer-1\": 2 tries left before the token locks; an administrator's SO PIN unlocks it",
            "the message follows the project's wording for a wrong PIN"
        );
    }

    #[test]
    fn policy_refusal_names_the_software_key() {
        let error = Error::SoftwareKeyRefused {
            device: "software key: not for production (keys.age)".to_owned(),
        };
        let text = error.to_string();
        assert!(
            text.contains("software key: not for production") && text.contains("generate the key"),
            "the refusal names the software key and the way forward: {text}"
        );
    }
}
