//! Device commands: find the key devices on this computer (YubiKeys over PC/SC, PKCS#11 tokens,
//! software key files), open one with its PIN to read its keys and PIN status, generate a key on
//! it, change its PIN, and unblock a YubiKey's blocked PIN with its PUK.
//!
//! The webview names a device by the id the last scan gave it ([`Scanned`]): where a device is
//! (a PKCS#11 module's path, a key file) never comes from the webview, and only the modules on
//! the allowlist (`GATEHOUSE_PKCS11_MODULES`, `GATEHOUSE_PKCS11_MODULE`) are loaded.
//!
//! The PIN arrives with each command that needs it, is wiped when the command returns, and is
//! never kept: every call opens the device and closes it again. Device calls block (a card can
//! wait seconds for a touch), so they run on the blocking pool, never on the async workers.

use gatehouse_keys::device::{Backend, Info};
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_keys::{Device, Error as KeyError, Pin, pin};
use gatehouse_protocol::{DeviceKind, DeviceLocator};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tauri::State;

use super::{ErrorCode, IpcError};
use crate::Console;

/// Colon-separated PKCS#11 modules the Devices screen looks in, besides YubiKeys.
pub const MODULES_ENV: &str = "GATEHOUSE_PKCS11_MODULES";
/// One PKCS#11 module, as the `gatehouse` CLI takes it.
pub const MODULE_ENV: &str = "GATEHOUSE_PKCS11_MODULE";

/// A device as the Devices screen lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSummary {
    /// Names it in the device commands, until the next scan. Where it is (a module's path, a
    /// reader) stays in Rust.
    pub id: String,
    /// What kind of device.
    pub kind: DeviceKind,
    /// One line for people.
    pub title: String,
    /// Its label (a PIV device: its reader).
    pub label: String,
    /// Its manufacturer.
    pub manufacturer: String,
    /// Its model (a YubiKey: with its firmware).
    pub model: String,
    /// Its serial number.
    pub serial: String,
    /// A software key file: development only, refused in production.
    pub not_for_production: bool,
}

impl DeviceSummary {
    fn new(id: String, info: &Info) -> Self {
        Self {
            id,
            kind: info.kind(),
            title: info.to_string(),
            label: info.label.clone(),
            manufacturer: info.manufacturer.clone(),
            model: info.model.clone(),
            serial: info.serial.clone(),
            not_for_production: info.kind() == DeviceKind::Software,
        }
    }
}

/// What a scan found, and where it could not look.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceScan {
    /// The devices present.
    pub devices: Vec<DeviceSummary>,
    /// Places that could not be searched (no PC/SC service, a module missing), each with what
    /// to do.
    pub problems: Vec<IpcError>,
}

/// One key on a device.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct KeySummary {
    /// Its id (hex; a PIV slot such as `9a`).
    pub id: String,
    /// Its label (a PIV slot: what the slot is for).
    pub label: String,
    /// Ed25519, ECDSA P-256 or ECDSA secp256k1.
    pub algorithm: String,
    /// The public key, hex.
    pub public_key: String,
}

impl From<&key::Info> for KeySummary {
    fn from(k: &key::Info) -> Self {
        Self {
            id: k.id.to_string(),
            label: k.label.clone(),
            algorithm: k.algorithm().to_string(),
            public_key: hex::encode(k.public_key.as_bytes()),
        }
    }
}

/// An opened device: what it holds and how its PIN stands.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceDetails {
    /// The device.
    pub device: DeviceSummary,
    /// The PIN's state, in words.
    pub pin_status: String,
    /// Tries left before the PIN blocks, where the device counts them exactly.
    pub pin_tries_left: Option<u8>,
    /// Its keys.
    pub keys: Vec<KeySummary>,
}

/// The algorithms a new key can have.
#[derive(Debug, Clone, Copy, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum NewKeyAlgorithm {
    /// Hedera keys (approvals).
    Ed25519,
    /// TLS client keys.
    P256,
    /// Hedera ECDSA keys (PKCS#11 devices that have it).
    Secp256k1,
}

/// When a YubiKey key asks for a touch before it signs.
#[derive(Debug, Clone, Copy, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum TouchChoice {
    /// Never.
    Never,
    /// For every signature (a person at the device each time).
    Always,
    /// Once per 15 seconds.
    Cached,
}

impl From<TouchChoice> for gatehouse_keys::piv::TouchPolicy {
    fn from(choice: TouchChoice) -> Self {
        match choice {
            TouchChoice::Never => Self::Never,
            TouchChoice::Always => Self::Always,
            TouchChoice::Cached => Self::Cached,
        }
    }
}

impl From<NewKeyAlgorithm> for Algorithm {
    fn from(a: NewKeyAlgorithm) -> Self {
        match a {
            NewKeyAlgorithm::Ed25519 => Algorithm::Ed25519,
            NewKeyAlgorithm::P256 => Algorithm::EcdsaP256,
            NewKeyAlgorithm::Secp256k1 => Algorithm::EcdsaSecp256k1,
        }
    }
}

/// The PKCS#11 modules to search: `GATEHOUSE_PKCS11_MODULES` (colon-separated) and
/// `GATEHOUSE_PKCS11_MODULE`, in that order, without repeats.
pub(crate) fn modules() -> Vec<std::path::PathBuf> {
    let mut found: Vec<std::path::PathBuf> = Vec::new();
    let many = std::env::var_os(MODULES_ENV).unwrap_or_default();
    let one = std::env::var_os(MODULE_ENV).unwrap_or_default();
    for path in std::env::split_paths(&many).chain(std::env::split_paths(&one)) {
        if !path.as_os_str().is_empty() && !found.contains(&path) {
            found.push(path);
        }
    }
    found
}

/// The devices the last `device_scan` found, each under the id the webview names it by. A new
/// scan replaces them (and its ids are new, so an id from an older scan names nothing).
#[derive(Debug, Default)]
pub struct Scanned(Mutex<ScannedState>);

#[derive(Debug, Default)]
struct ScannedState {
    scan: u64,
    devices: Vec<(String, DeviceLocator)>,
}

impl Scanned {
    /// Replaces the devices with `found`, and returns them as the webview sees them.
    fn replace(&self, found: &[Info]) -> Vec<DeviceSummary> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.scan += 1;
        let scan = state.scan;
        let mut summaries = Vec::with_capacity(found.len());
        state.devices = found
            .iter()
            .enumerate()
            .map(|(n, info)| {
                let id = format!("{scan}.{n}");
                summaries.push(DeviceSummary::new(id.clone(), info));
                (id, info.locator.clone())
            })
            .collect();
        summaries
    }

    /// Where the device `id` of the last scan is; an id the last scan did not give is refused.
    pub(crate) fn locate(&self, id: &str) -> Result<DeviceLocator, IpcError> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let locator = state
            .devices
            .iter()
            .find(|(held, _)| held == id)
            .map(|(_, locator)| locator.clone())
            .ok_or_else(|| {
                IpcError::new(
                    ErrorCode::DeviceNotFound,
                    format!("no device {id:?} in the last scan"),
                    "Scan for devices again, then choose the device from the list.",
                )
            })?;
        allowed(&locator)?;
        Ok(locator)
    }
}

/// Refuses a PKCS#11 module that is not on the allowlist (`GATEHOUSE_PKCS11_MODULES`,
/// `GATEHOUSE_PKCS11_MODULE`): the console loads no other native library.
pub(crate) fn allowed(locator: &DeviceLocator) -> Result<(), IpcError> {
    allowed_in(locator, &modules())
}

fn allowed_in(locator: &DeviceLocator, modules: &[std::path::PathBuf]) -> Result<(), IpcError> {
    match locator {
        DeviceLocator::Pkcs11 { module, .. } if !modules.iter().any(|m| same_file(m, module)) => {
            Err(IpcError::new(
                ErrorCode::DeviceRefused,
                format!(
                    "the PKCS#11 module {} is not one the console may load",
                    module.display()
                ),
                format!(
                    "Name the module in {MODULES_ENV} (colon-separated) or {MODULE_ENV} before starting the console, if your administrator approves it."
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Whether two paths name one file. The scan reports the module the device library resolved
/// (Debian's /usr/lib/softhsm/libsofthsm2.so is a link into the multiarch directory), while the
/// allowlist holds what the administrator wrote; both are resolved before they are compared.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// Looks for devices: YubiKeys through pcscd and the tokens of each configured PKCS#11 module.
/// A place that cannot be searched is reported beside the devices, not instead of them.
#[tauri::command]
#[specta::specta]
pub async fn device_scan(console: State<'_, Console>) -> Result<DeviceScan, IpcError> {
    let (found, problems) = blocking(|| {
        let mut found = Vec::new();
        let mut problems = Vec::new();
        let backends = std::iter::once(Backend::Piv).chain(
            modules()
                .into_iter()
                .map(|module| Backend::Pkcs11 { module }),
        );
        for backend in backends {
            match gatehouse_keys::enumerate(&backend) {
                Ok(devices) => found.extend(devices),
                Err(e) => problems.push(e.into()),
            }
        }
        Ok((found, problems))
    })
    .await?;
    Ok(DeviceScan {
        devices: console.devices.replace(&found),
        problems,
    })
}

/// Opens a device with its PIN, reads its keys and PIN status, and closes it.
#[tauri::command]
#[specta::specta]
pub async fn device_open(
    console: State<'_, Console>,
    device: String,
    pin: String,
) -> Result<DeviceDetails, IpcError> {
    let pin = Pin::new(pin);
    let locator = console.devices.locate(&device)?;
    blocking(move || {
        let mut opened = gatehouse_keys::open(&locator, &pin)?;
        Ok(details(&device, opened.as_mut())?)
    })
    .await
}

/// Generates a key on a device (in its default place: a YubiKey puts P-256 in 9a, Ed25519 in
/// 9c) and returns the device as it is now. For a YubiKey, `touch` sets when the key asks for a
/// touch (by default: never for P-256, always for Ed25519); other devices ignore it.
#[tauri::command]
#[specta::specta]
pub async fn device_generate(
    console: State<'_, Console>,
    device: String,
    pin: String,
    algorithm: NewKeyAlgorithm,
    label: String,
    touch: Option<TouchChoice>,
) -> Result<DeviceDetails, IpcError> {
    let pin = Pin::new(pin);
    let locator = console.devices.locate(&device)?;
    blocking(move || {
        if let (DeviceLocator::Piv { serial }, Some(touch)) = (&locator, touch) {
            // A YubiKey key in its default slot, with the touch policy asked for.
            let algorithm = Algorithm::from(algorithm);
            let mut piv = gatehouse_keys::piv::Piv::open(*serial, &pin)?;
            let placement = gatehouse_keys::piv::Placement {
                touch: touch.into(),
                ..gatehouse_keys::piv::Placement::default_for(algorithm)
            };
            piv.generate_in(algorithm, placement)?;
            return Ok(details(&device, &mut piv)?);
        }
        let mut opened = gatehouse_keys::open(&locator, &pin)?;
        let label = if label.trim().is_empty() {
            "gatehouse".to_owned()
        } else {
            label.trim().to_owned()
        };
        opened.generate(&key::Request::new(algorithm.into(), label))?;
        Ok(details(&device, opened.as_mut())?)
    })
    .await
}

/// Changes a device's PIN (a software key file's passphrase) and returns the device as it is
/// now. A wrong current PIN counts a try, as opening does.
#[tauri::command]
#[specta::specta]
pub async fn device_change_pin(
    console: State<'_, Console>,
    device: String,
    pin: String,
    new_pin: String,
) -> Result<DeviceDetails, IpcError> {
    let (pin, new_pin) = (Pin::new(pin), Pin::new(new_pin));
    let locator = console.devices.locate(&device)?;
    blocking(move || {
        let mut opened = gatehouse_keys::open(&locator, &pin)?;
        opened.change_pin(&pin, &new_pin)?;
        Ok(details(&device, opened.as_mut())?)
    })
    .await
}

/// Unblocks a YubiKey's blocked PIN with its PUK, setting `new_pin`, and returns the device as
/// it is now. A wrong PUK counts one of the PUK's tries. Only PIV devices have a PUK.
#[tauri::command]
#[specta::specta]
pub async fn device_unblock_pin(
    console: State<'_, Console>,
    device: String,
    puk: String,
    new_pin: String,
) -> Result<DeviceDetails, IpcError> {
    let (puk, new_pin) = (Pin::new(puk), Pin::new(new_pin));
    let DeviceLocator::Piv { serial } = console.devices.locate(&device)? else {
        return Err(IpcError::new(
            ErrorCode::DeviceRefused,
            "only a YubiKey has a PUK; a token's PIN is unlocked by its administrator with the SO PIN",
            "Ask whoever administers the token to unlock the PIN (softhsm2-util or the HSM's own tools); the console cannot do it yet.",
        ));
    };
    blocking(move || {
        let mut piv = gatehouse_keys::piv::Piv::unblock(serial, &puk, &new_pin)?;
        Ok(details(&device, &mut piv)?)
    })
    .await
}

fn details(id: &str, device: &mut dyn Device) -> Result<DeviceDetails, KeyError> {
    let status = device.pin_status()?;
    let keys = device.keys()?;
    Ok(DeviceDetails {
        device: DeviceSummary::new(id.to_owned(), device.info()),
        pin_status: status.to_string(),
        pin_tries_left: match status {
            pin::Status::TriesLeft(n) => Some(n),
            _ => None,
        },
        keys: keys.iter().map(KeySummary::from).collect(),
    })
}

/// Runs device work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| {
            IpcError::new(
                ErrorCode::Internal,
                format!("the device work stopped: {e}"),
                "Try again; if it keeps happening, report it.",
            )
        })?
}

impl From<KeyError> for IpcError {
    fn from(e: KeyError) -> Self {
        let (code, hint) = match &e {
            KeyError::PinIncorrect { .. } | KeyError::PivPinIncorrect { .. } => (
                ErrorCode::DevicePinIncorrect,
                "Type the PIN again, carefully: each wrong PIN uses up a try.",
            ),
            KeyError::PinLocked { .. } | KeyError::PivPinBlocked { .. } => (
                ErrorCode::DevicePinBlocked,
                "Do not guess further. A YubiKey's PUK unblocks the PIN (`gatehouse device unblock-pin`); a token's administrator unlocks it with the SO PIN.",
            ),
            KeyError::PukIncorrect { .. } => (
                ErrorCode::DevicePinIncorrect,
                "Type the PUK again, carefully: each wrong PUK uses up one of its tries, and with none left only a reset (which destroys the keys) helps.",
            ),
            KeyError::Passphrase { .. } | KeyError::PinRejected { .. } => (
                ErrorCode::DevicePinIncorrect,
                "Check what you typed and try again.",
            ),
            KeyError::DeviceGone { .. } | KeyError::LoggedOut { .. } => (
                ErrorCode::DeviceGone,
                "Plug the device back in, then try again; its PIN will be asked for.",
            ),
            KeyError::DeviceNotFound { .. } | KeyError::Module { .. } => (
                ErrorCode::DeviceNotFound,
                "Plug the device in (or install its PKCS#11 module), then scan again.",
            ),
            KeyError::TouchTimeout { .. } => (
                ErrorCode::DeviceTouchTimeout,
                "Try again, and touch the YubiKey's gold contact while it blinks: it waits about 15 seconds.",
            ),
            KeyError::SoftwareKeyRefused { .. } => (
                ErrorCode::DeviceRefused,
                "Use a hardware device (YubiKey or HSM) for this profile.",
            ),
            KeyError::Unsupported { .. } => (
                ErrorCode::DeviceRefused,
                "Choose another algorithm or another device.",
            ),
            _ => (
                ErrorCode::Device,
                "Try again; if it keeps happening, take the device to your security team.",
            ),
        };
        let tries_left = match &e {
            KeyError::PivPinIncorrect { tries_left, .. }
            | KeyError::PukIncorrect { tries_left, .. } => Some(*tries_left),
            _ => None,
        };
        let mut error = IpcError::new(code, e.to_string(), hint);
        error.tries_left = tries_left;
        error
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn token(module: &str, serial: &str) -> Info {
        Info {
            locator: DeviceLocator::Pkcs11 {
                module: PathBuf::from(module),
                serial: serial.into(),
                label: "officer".into(),
            },
            label: "officer".into(),
            manufacturer: "SoftHSM project".into(),
            model: "SoftHSM v2".into(),
            serial: serial.into(),
        }
    }

    #[test]
    fn a_device_is_named_only_by_an_id_from_the_last_scan() {
        let scanned = Scanned::default();
        let first = scanned.replace(&[token("/usr/lib/softhsm/libsofthsm2.so", "1")]);
        let old_id = first[0].id.clone();
        let second = scanned.replace(&[token("/usr/lib/softhsm/libsofthsm2.so", "2")]);
        assert_ne!(second[0].id, old_id, "a new scan gives new ids");

        let stale = scanned
            .locate(&old_id)
            .expect_err("an id from an older scan names nothing");
        assert_eq!(stale.code, ErrorCode::DeviceNotFound);
        assert!(
            stale.hint.contains("Scan for devices again"),
            "{}",
            stale.hint
        );
        for made_up in ["", "1.0", "/tmp/evil.so", "0"] {
            assert!(scanned.locate(made_up).is_err(), "{made_up:?} is refused");
        }
    }

    #[test]
    fn a_pkcs11_module_off_the_allowlist_is_refused() {
        let allowlist = [PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")];
        let listed = token("/usr/lib/softhsm/libsofthsm2.so", "1").locator;
        assert!(allowed_in(&listed, &allowlist).is_ok());
        let unlisted = token("/tmp/evil.so", "1").locator;
        let refused = allowed_in(&unlisted, &allowlist).expect_err("not on the allowlist");
        assert_eq!(refused.code, ErrorCode::DeviceRefused);
        assert!(refused.hint.contains(MODULES_ENV), "{}", refused.hint);
        assert!(
            allowed_in(&DeviceLocator::Piv { serial: 7 }, &[]).is_ok(),
            "a YubiKey loads no module"
        );
    }

    #[test]
    fn a_module_allowed_through_a_link_is_the_module_it_names() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let real = dir.path().join("real.so");
        std::fs::write(&real, b"").expect("written");
        let link = dir.path().join("link.so");
        std::os::unix::fs::symlink(&real, &link).expect("a link");
        let found = token(real.to_str().expect("utf-8"), "1").locator;
        assert!(
            allowed_in(&found, &[link]).is_ok(),
            "listed through its link"
        );
        let other = dir.path().join("other.so");
        std::fs::write(&other, b"").expect("written");
        assert!(
            allowed_in(&found, &[other]).is_err(),
            "another file is not it"
        );
    }
}
