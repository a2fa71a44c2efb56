//! PINs (and software key files' passphrases), and what a device reports about the tries left.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A PIN or passphrase: wiped on drop, never printed, never serialised, never stored.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Wraps a PIN. Takes the `String` by value so no unwiped copy stays with the caller.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The PIN itself; keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    #[cfg(feature = "devices")]
    /// The PIN in the form `cryptoki` takes; that copy is wiped on drop too.
    pub(crate) fn auth(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.as_str().to_owned())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a device says about its user PIN's remaining tries.
///
/// PKCS#11 reports only flags (`CKF_USER_PIN_COUNT_LOW`, `CKF_USER_PIN_FINAL_TRY`,
/// `CKF_USER_PIN_LOCKED`), and some modules (SoftHSM2 among them) report none of them; PIV
/// reports an exact count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Status {
    /// The device raises no warning: either no wrong PIN since the last correct one, or the
    /// device does not count (PKCS#11 cannot tell these apart).
    NoWarning,
    /// A wrong PIN was entered since the last correct one; the device does not say how many
    /// tries remain (`CKF_USER_PIN_COUNT_LOW`).
    CountLow,
    /// One more wrong PIN locks the device (`CKF_USER_PIN_FINAL_TRY`).
    FinalTry,
    /// The PIN is locked (`CKF_USER_PIN_LOCKED`); an administrator must unlock it.
    Locked,
    /// The exact number of tries left, where the device reports one (PIV).
    TriesLeft(u8),
    /// No lockout exists: a software key file's passphrase can be retried forever.
    NoLockout,
}

impl Status {
    /// Reads the user-PIN flags of a PKCS#11 token.
    #[cfg(feature = "devices")]
    pub(crate) fn from_token(info: &cryptoki::slot::TokenInfo) -> Self {
        if info.user_pin_locked() {
            Status::Locked
        } else if info.user_pin_final_try() {
            Status::FinalTry
        } else if info.user_pin_count_low() {
            Status::CountLow
        } else {
            Status::NoWarning
        }
    }

    /// After a wrong PIN: what remains, and who can unlock the device.
    pub(crate) fn after_wrong_pin(self) -> String {
        const UNLOCK: &str = "an administrator's SO PIN unlocks it";
        match self {
            Status::NoWarning => format!(
                "the token does not report how many tries are left; after too many wrong tries it locks, and {UNLOCK}"
            ),
            Status::CountLow => format!(
                "the token counts wrong PINs but does not say how many tries are left; check the PIN before trying again: after too many it locks, and {UNLOCK}"
            ),
            Status::FinalTry => format!("1 try left before the token locks; {UNLOCK}"),
            Status::TriesLeft(n) => format!("{n} tries left before the token locks; {UNLOCK}"),
            Status::Locked => format!("the token is now locked; {UNLOCK}"),
            Status::NoLockout => "try again".to_owned(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::NoWarning => f.write_str("no warning from the device"),
            Status::CountLow => f.write_str("wrong PIN entered since the last correct one"),
            Status::FinalTry => f.write_str("1 try left"),
            Status::Locked => f.write_str("locked"),
            Status::TriesLeft(n) => write!(f, "{n} tries left"),
            Status::NoLockout => f.write_str("no lockout (software key)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_never_print() {
        let pin = Pin::new("123456");
        assert_eq!(
            format!("{pin:?}"),
            "[redacted]",
            "Debug of a PIN must not reveal it"
        );
        assert_eq!(
            format!("{:?}", Some(pin.clone())),
            "Some([redacted])",
            "a PIN nested in another value stays hidden"
        );
        assert_eq!(pin.expose(), "123456", "the PIN itself is still usable");
    }

    #[test]
    fn wrong_pin_advice_names_the_way_out() {
        for status in [
            Status::NoWarning,
            Status::CountLow,
            Status::FinalTry,
            Status::TriesLeft(2),
            Status::Locked,
        ] {
            assert!(
                status.after_wrong_pin().contains("SO PIN unlocks it"),
                "{status:?}: a person locked out must learn who can unlock the token"
            );
        }
        assert!(
            Status::TriesLeft(2)
                .after_wrong_pin()
                .starts_with("2 tries left"),
            "an exact count is shown as a number"
        );
        assert!(
            Status::FinalTry.after_wrong_pin().starts_with("1 try left"),
            "the final try is announced as such"
        );
    }
}
