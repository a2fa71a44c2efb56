//! PIV devices (YubiKey 5) through the `yubikey` crate over PC/SC.
//!
//! A key lives in a slot, and its [`key::Id`] is the slot number (one byte: `9a`, `9c`, `82`..).
//! Generation takes the management key: the factory default is used when the device's metadata
//! says it is still the default, otherwise it must be given ([`Piv::set_management_key`]).
//! Signing verifies the PIN just before, because the signature slot's PIN policy ("always")
//! requires it; so an open device keeps the PIN, in memory that is wiped when it closes, as a
//! PKCS#11 session keeps its login.
//!
//! What only a physical YubiKey can show (touch, Ed25519 on firmware 5.7, the real Yubico
//! attestation chain) has tests behind `#[ignore]` that name the device with
//! `GATEHOUSE_TEST_YUBIKEY_SERIAL`; everything else is tested against `tools/virtual-piv`.

use std::fmt;

use yubikey::piv::{self, AlgorithmId, ManagementSlotId, SlotAlgorithmId, SlotId};
use yubikey::{MgmAlgorithmId, MgmKey, YubiKey};
pub use yubikey::{PinPolicy, TouchPolicy};
use zeroize::Zeroizing;

use crate::device::{self, Device, Locator};
use crate::error::Error;
use crate::evidence::{Attestation, Evidence};
use crate::key::{self, Algorithm, PublicKey, Signature};
use crate::pin::{self, Pin};

/// The factory management key of every YubiKey (triple DES before 5.7, AES-192 from 5.7).
const DEFAULT_MANAGEMENT_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

/// The slot f9 certificate's object id.
const ATTESTATION_OBJECT: u32 = 0x005f_ff01;

/// The slots this crate lists and can generate in: the four named PIV slots and the 20 retired
/// key-management slots.
pub const SLOTS: [u8; 24] = [
    0x9a, 0x9c, 0x9d, 0x9e, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d,
    0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
];

/// What a slot is for, as people call it.
pub fn slot_name(slot: u8) -> String {
    match slot {
        0x9a => "9a: authentication (TLS)".to_owned(),
        0x9c => "9c: digital signature".to_owned(),
        0x9d => "9d: key management".to_owned(),
        0x9e => "9e: card authentication".to_owned(),
        other => format!("{other:02x}: retired key slot"),
    }
}

/// Where a new key goes and how it is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The slot.
    pub slot: u8,
    /// PIN policy.
    pub pin: PinPolicy,
    /// Touch policy.
    pub touch: TouchPolicy,
}

impl Placement {
    /// The default for an algorithm: Ed25519 (Hedera approvals) in 9c with PIN and touch on
    /// every signature; P-256 (TLS) in 9a with the PIN once per session and no touch, since
    /// connections are made without a person at hand.
    pub fn default_for(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::EcdsaP256 => Self {
                slot: 0x9a,
                pin: PinPolicy::Once,
                touch: TouchPolicy::Never,
            },
            _ => Self {
                slot: 0x9c,
                pin: PinPolicy::Always,
                touch: TouchPolicy::Always,
            },
        }
    }
}

/// How long a YubiKey blinks for a touch before it refuses the signature.
pub const TOUCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Whether a touch policy makes the YubiKey wait for a touch before signing. "Cached" may not
/// (a touch in the last 15 seconds counts), but a caller cannot know, so it counts as asking.
fn asks_for_touch(policy: TouchPolicy) -> bool {
    matches!(policy, TouchPolicy::Always | TouchPolicy::Cached)
}

/// What a slot's metadata says about its key.
struct SlotKey {
    algorithm: Algorithm,
    public_key: PublicKey,
    /// The touch policy (absent when the metadata leaves it out).
    touch: Option<TouchPolicy>,
}

/// An open PIV device.
pub struct Piv {
    yubikey: YubiKey,
    info: device::Info,
    pin: Pin,
    management_key: Option<Zeroizing<Vec<u8>>>,
    management_authenticated: bool,
}

impl fmt::Debug for Piv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Piv")
            .field("info", &self.info)
            .field("pin", &self.pin)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Piv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.info.fmt(f)
    }
}

/// Describes every PIV device reachable through PC/SC, without a PIN.
pub fn devices() -> Result<Vec<device::Info>, Error> {
    Ok(open_all()?
        .into_iter()
        .filter_map(|(reader, opened)| {
            let yubikey = opened.ok()?;
            let info = describe(&yubikey, &reader);
            // Leave the card as it was: dropping the handle would reset it under other users.
            let _ = yubikey.disconnect(pcsc::Disposition::LeaveCard);
            Some(info)
        })
        .collect())
}

/// Opens the card in every reader, each with its reader's name; no reader at all is an empty
/// list, not a failure.
fn open_all() -> Result<Vec<(String, yubikey::Result<YubiKey>)>, Error> {
    let mut context = yubikey::reader::Context::open().map_err(no_pcsc)?;
    let readers = match context.iter() {
        Ok(readers) => readers,
        Err(yubikey::Error::PcscError {
            inner: Some(pcsc::Error::NoReadersAvailable),
        }) => return Ok(Vec::new()),
        Err(e) => return Err(no_pcsc(e)),
    };
    Ok(readers
        .map(|reader| (reader.name().into_owned(), reader.open()))
        .collect())
}

fn describe(yubikey: &YubiKey, reader: &str) -> device::Info {
    let serial = u32::from(yubikey.serial());
    device::Info {
        locator: Locator::Piv { serial },
        label: reader.to_owned(),
        manufacturer: "Yubico".to_owned(),
        model: format!("YubiKey {}", yubikey.version()),
        serial: serial.to_string(),
    }
}

/// Finds the YubiKey with this serial. A card another program is using, or has just reset,
/// can refuse a connection for a moment, so the readers are tried a few times before the
/// device counts as absent.
fn find(serial: u32) -> Result<YubiKey, Error> {
    const ROUNDS: u64 = 5;
    let mut last_error = None;
    for round in 0..ROUNDS {
        if round > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100 * round));
        }
        let mut found = None;
        for (_, opened) in open_all()? {
            match opened {
                Ok(yubikey) if found.is_none() && u32::from(yubikey.serial()) == serial => {
                    found = Some(yubikey);
                }
                Ok(other) => {
                    // Not ours: leave it as it was (dropping would reset it).
                    let _ = other.disconnect(pcsc::Disposition::LeaveCard);
                }
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(yubikey) = found {
            return Ok(yubikey);
        }
    }
    Err(Error::DeviceNotFound {
        wanted: format!("YubiKey with serial {serial}"),
        advice: match last_error {
            Some(e) => format!(
                "plug it in, or list devices to see which are present (a reader answered: {e})"
            ),
            None => "plug it in, or list devices to see which are present".to_owned(),
        },
    })
}

fn no_pcsc(e: yubikey::Error) -> Error {
    Error::DeviceNotFound {
        wanted: "PC/SC service for PIV devices".to_owned(),
        advice: format!("{e}; start pcscd (Debian: apt-get install pcscd) and plug the YubiKey in"),
    }
}

impl Piv {
    /// Opens the YubiKey with this serial number and checks `pin` (which counts a try when
    /// wrong).
    pub fn open(serial: u32, pin: &Pin) -> Result<Self, Error> {
        let mut piv = Self::connect(serial, pin)?;
        piv.verify_pin()?;
        Ok(piv)
    }

    /// The YubiKey with this serial, to be used with `pin`, which is not checked yet.
    fn connect(serial: u32, pin: &Pin) -> Result<Self, Error> {
        let yubikey = find(serial)?;
        let info = describe(&yubikey, yubikey.name());
        Ok(Self {
            yubikey,
            info,
            pin: pin.clone(),
            management_key: None,
            management_authenticated: false,
        })
    }

    /// Unblocks the PIN of the YubiKey with this serial with the PUK, setting it to `new_pin`,
    /// and opens the device with it. A wrong PUK counts a try ([`Error::PukIncorrect`]).
    pub fn unblock(serial: u32, puk: &Pin, new_pin: &Pin) -> Result<Self, Error> {
        let mut piv = Self::connect(serial, new_pin)?;
        piv.unblock_pin(puk, new_pin)?;
        piv.verify_pin()?;
        Ok(piv)
    }

    /// The device's firmware version.
    pub fn firmware(&self) -> [u8; 3] {
        let v = self.yubikey.version();
        [v.major, v.minor, v.patch]
    }

    /// Uses `key` (24 bytes for triple DES or AES-192, 16 or 32 for AES) as the management key
    /// for generation, instead of the factory default.
    pub fn set_management_key(&mut self, key: &[u8]) {
        self.management_key = Some(Zeroizing::new(key.to_vec()));
        self.management_authenticated = false;
    }

    /// Replaces the management key with `new` (same algorithm as the current one), after
    /// authenticating with the current one.
    pub fn change_management_key(&mut self, new: &[u8]) -> Result<(), Error> {
        self.authenticate_management()?;
        let algorithm = self.management_algorithm()?;
        let key = MgmKey::from_bytes(new, Some(algorithm)).map_err(|e| Error::ManagementKey {
            device: self.to_string(),
            reason: format!("the new key is not a {algorithm:?} key ({e})"),
        })?;
        key.set_manual(&mut self.yubikey, false)
            .map_err(|e| self.fail("setting the management key", e))?;
        self.set_management_key(new);
        Ok(())
    }

    /// Changes the PUK (the key that unblocks the PIN).
    pub fn change_puk(&mut self, old: &Pin, new: &Pin) -> Result<(), Error> {
        self.yubikey
            .change_puk(old.expose().as_bytes(), new.expose().as_bytes())
            .map_err(|e| self.puk_error(e))
    }

    /// Unblocks a blocked PIN with the PUK, setting it to `new_pin`.
    pub fn unblock_pin(&mut self, puk: &Pin, new_pin: &Pin) -> Result<(), Error> {
        self.yubikey
            .unblock_pin(puk.expose().as_bytes(), new_pin.expose().as_bytes())
            .map_err(|e| self.puk_error(e))?;
        self.pin = new_pin.clone();
        Ok(())
    }

    /// Generates a key where `placement` says.
    pub fn generate_in(
        &mut self,
        algorithm: Algorithm,
        placement: Placement,
    ) -> Result<key::Info, Error> {
        let piv_algorithm = match algorithm {
            Algorithm::EcdsaP256 => AlgorithmId::EccP256,
            Algorithm::Ed25519 => AlgorithmId::Ed25519,
            Algorithm::EcdsaSecp256k1 => {
                return Err(Error::Unsupported {
                    device: self.to_string(),
                    what: format!("generate {algorithm} keys"),
                    reason: "PIV has no secp256k1; use Ed25519 (firmware 5.7 or later) for Hedera keys, or a PKCS#11 token that has secp256k1".to_owned(),
                });
            }
        };
        if algorithm == Algorithm::Ed25519 && self.firmware() < [5, 7, 0] {
            return Err(Error::Unsupported {
                device: self.to_string(),
                what: "generate Ed25519 keys".to_owned(),
                reason: "YubiKeys do Ed25519 from firmware 5.7 on; use a newer YubiKey".to_owned(),
            });
        }
        let slot = slot_id(placement.slot)?;
        self.authenticate_management()?;
        let spki = piv::generate(
            &mut self.yubikey,
            slot,
            piv_algorithm,
            placement.pin,
            placement.touch,
        )
        .map_err(|e| match e {
            yubikey::Error::AlgorithmError | yubikey::Error::NotSupported => Error::Unsupported {
                device: self.to_string(),
                what: format!("generate {algorithm} keys"),
                reason: "the device refused the algorithm".to_owned(),
            },
            other => self.fail("generating a key", other),
        })?;
        let public_key = PublicKey::from_bytes(algorithm, spki.subject_public_key.raw_bytes())
            .map_err(|e| Error::Malformed {
                device: self.to_string(),
                what: "public key",
                reason: e.to_string(),
            })?;
        Ok(key::Info {
            id: key::Id::from_bytes([placement.slot]),
            label: slot_name(placement.slot),
            public_key,
        })
    }

    fn verify_pin(&mut self) -> Result<(), Error> {
        let pin = self.pin_bytes();
        self.on_card(|yubikey| yubikey.verify_pin(&pin))
            .map_err(|e| self.pin_error(e))
    }

    /// The PIN as the card takes it, in memory wiped after use (the card call needs its own
    /// copy while `self` is borrowed for the card).
    fn pin_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.pin.expose().as_bytes().to_vec())
    }

    /// Runs `op` on the card. When the card was reset since this handle last used it (another
    /// handle closed it: PC/SC then answers "reset" until this one reconnects), reconnects and
    /// runs `op` once more. A reset clears the PIN's verification and the management key's
    /// authentication, so operations that need them verify again inside `op`.
    fn on_card<T>(
        &mut self,
        mut op: impl FnMut(&mut YubiKey) -> yubikey::Result<T>,
    ) -> yubikey::Result<T> {
        match op(&mut self.yubikey) {
            Err(yubikey::Error::PcscError {
                inner: Some(pcsc::Error::ResetCard),
            }) => {
                tracing::debug!(device = %self.info, "card reset by another handle; reconnecting");
                self.management_authenticated = false;
                self.yubikey.reconnect()?;
                op(&mut self.yubikey)
            }
            other => other,
        }
    }

    /// The management key's algorithm, from the device's metadata (firmware 5.3 on); triple
    /// DES where the device has no metadata.
    fn management_algorithm(&mut self) -> Result<MgmAlgorithmId, Error> {
        match piv::metadata(
            &mut self.yubikey,
            SlotId::Management(ManagementSlotId::Management),
        ) {
            Ok(metadata) => match metadata.algorithm {
                SlotAlgorithmId::Management(algorithm) => Ok(algorithm),
                _ => Ok(MgmAlgorithmId::ThreeDes),
            },
            Err(_) => Ok(MgmAlgorithmId::ThreeDes),
        }
    }

    fn authenticate_management(&mut self) -> Result<(), Error> {
        if self.management_authenticated {
            return Ok(());
        }
        let algorithm = self.management_algorithm()?;
        let bytes: Zeroizing<Vec<u8>> = match &self.management_key {
            Some(key) => key.clone(),
            None => Zeroizing::new(DEFAULT_MANAGEMENT_KEY.to_vec()),
        };
        let key =
            MgmKey::from_bytes(&*bytes, Some(algorithm)).map_err(|e| Error::ManagementKey {
                device: self.to_string(),
                reason: format!("not a {algorithm:?} key ({e})"),
            })?;
        self.yubikey.authenticate(&key).map_err(|e| match e {
            yubikey::Error::AuthenticationError => Error::ManagementKey {
                device: self.to_string(),
                reason: if self.management_key.is_some() {
                    "the device refused the management key given".to_owned()
                } else {
                    "the device's management key is not the factory default; give it".to_owned()
                },
            },
            other => self.fail("authenticating with the management key", other),
        })?;
        self.management_authenticated = true;
        Ok(())
    }

    /// What the device's metadata says about the key in `slot`.
    fn slot_key(&mut self, slot: u8) -> Result<SlotKey, Error> {
        let device = self.to_string();
        let id = slot_id(slot)?;
        let metadata = self
            .on_card(|yubikey| piv::metadata(yubikey, id))
            .map_err(|e| match e {
                yubikey::Error::NotFound | yubikey::Error::GenericError => Error::KeyNotFound {
                    device: device.clone(),
                    id: format!("{slot:02x}"),
                },
                other => self.fail("reading a slot's metadata", other),
            })?;
        let algorithm = match metadata.algorithm {
            SlotAlgorithmId::Asymmetric(AlgorithmId::EccP256) => Algorithm::EcdsaP256,
            SlotAlgorithmId::Asymmetric(AlgorithmId::Ed25519) => Algorithm::Ed25519,
            other => {
                return Err(Error::Unsupported {
                    device,
                    what: format!("use the key in slot {slot:02x}"),
                    reason: format!("its algorithm ({other:?}) is not one Gatehouse signs with"),
                });
            }
        };
        let spki = metadata.public.ok_or_else(|| Error::Malformed {
            device: device.clone(),
            what: "slot metadata",
            reason: "no public key".to_owned(),
        })?;
        let public_key = PublicKey::from_bytes(algorithm, spki.subject_public_key.raw_bytes())
            .map_err(|e| Error::Malformed {
                device,
                what: "public key",
                reason: e.to_string(),
            })?;
        Ok(SlotKey {
            algorithm,
            public_key,
            touch: metadata.policy.map(|(_, touch)| touch),
        })
    }

    fn pin_error(&self, e: yubikey::Error) -> Error {
        match e {
            yubikey::Error::WrongPin { tries: 0 } | yubikey::Error::PinLocked => {
                Error::PivPinBlocked {
                    device: self.to_string(),
                }
            }
            yubikey::Error::WrongPin { tries } => Error::PivPinIncorrect {
                device: self.to_string(),
                tries_left: tries,
            },
            other => self.fail("checking the PIN", other),
        }
    }

    fn puk_error(&self, e: yubikey::Error) -> Error {
        match e {
            yubikey::Error::WrongPin { tries } => Error::PukIncorrect {
                device: self.to_string(),
                tries_left: tries,
            },
            yubikey::Error::PinLocked => Error::PukIncorrect {
                device: self.to_string(),
                tries_left: 0,
            },
            other => self.fail("using the PUK", other),
        }
    }

    /// Any other failure: a card that went away is [`Error::DeviceGone`].
    fn fail(&self, operation: &'static str, e: yubikey::Error) -> Error {
        match e {
            yubikey::Error::PcscError {
                inner:
                    Some(
                        pcsc::Error::RemovedCard
                        | pcsc::Error::NoSmartcard
                        | pcsc::Error::ResetCard
                        | pcsc::Error::ReaderUnavailable
                        | pcsc::Error::UnknownReader
                        | pcsc::Error::NoService
                        | pcsc::Error::ServiceStopped
                        // What ending a transaction reports when the card left during it.
                        | pcsc::Error::NotTransacted,
                    ),
            } => Error::DeviceGone {
                device: self.to_string(),
                reason: e.to_string(),
            },
            other => Error::Device {
                device: self.to_string(),
                operation,
                reason: other.to_string(),
            },
        }
    }
}

fn slot_id(slot: u8) -> Result<SlotId, Error> {
    match SlotId::try_from(slot) {
        Ok(
            id @ (SlotId::Authentication
            | SlotId::Signature
            | SlotId::KeyManagement
            | SlotId::CardAuthentication
            | SlotId::Retired(_)),
        ) => Ok(id),
        _ => Err(Error::KeyNotFound {
            device: "a PIV device".to_owned(),
            id: format!("{slot:02x} (not a key slot: use 9a, 9c, 9d, 9e or 82 to 95)"),
        }),
    }
}

fn slot_of(id: &key::Id) -> Result<u8, Error> {
    match id.as_bytes() {
        [slot] => Ok(*slot),
        _ => Err(Error::KeyNotFound {
            device: "a PIV device".to_owned(),
            id: format!("{id} (a PIV key id is its slot, one byte such as 9c)"),
        }),
    }
}

/// Pulls the certificate (tag 70) out of a PIV certificate object.
fn certificate_in_object(object: &[u8]) -> Option<Vec<u8>> {
    let mut data = object;
    // The object may still be wrapped in its 53 template.
    if data.first() == Some(&0x53) {
        data = tlv_value(data)?.0;
    }
    while !data.is_empty() {
        let tag = data[0];
        let (value, rest) = tlv_value(data)?;
        if tag == 0x70 {
            return Some(value.to_vec());
        }
        data = rest;
    }
    None
}

/// The value of the TLV at the start of `data`, and what follows it.
fn tlv_value(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, header) = match *data.get(1)? {
        n @ 0..=0x7f => (usize::from(n), 2),
        0x81 => (usize::from(*data.get(2)?), 3),
        0x82 => (
            usize::from(u16::from_be_bytes([*data.get(2)?, *data.get(3)?])),
            4,
        ),
        _ => return None,
    };
    let value = data.get(header..header + len)?;
    Some((value, &data[header + len..]))
}

impl Device for Piv {
    fn info(&self) -> &device::Info {
        &self.info
    }

    fn keys(&mut self) -> Result<Vec<key::Info>, Error> {
        let mut keys = Vec::new();
        for slot in SLOTS {
            match self.slot_key(slot) {
                Ok(SlotKey { public_key, .. }) => keys.push(key::Info {
                    id: key::Id::from_bytes([slot]),
                    label: slot_name(slot),
                    public_key,
                }),
                Err(Error::KeyNotFound { .. } | Error::Unsupported { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(keys)
    }

    fn generate(&mut self, request: &key::Request) -> Result<key::Info, Error> {
        self.generate_in(request.algorithm, Placement::default_for(request.algorithm))
    }

    fn sign(&mut self, id: &key::Id, message: &[u8]) -> Result<Signature, Error> {
        let slot = slot_of(id)?;
        let SlotKey {
            algorithm, touch, ..
        } = self.slot_key(slot)?;
        let (piv_algorithm, input) = match algorithm {
            Algorithm::EcdsaP256 => (AlgorithmId::EccP256, algorithm.prepare(message)),
            _ => (AlgorithmId::Ed25519, message.to_vec()),
        };
        let id = slot_id(slot)?;
        // The signature slot's PIN policy is "always": the PIN is checked right before, in the
        // same attempt (a reset between the two would undo the check).
        let pin = self.pin_bytes();
        let raw = self
            .on_card(|yubikey| {
                yubikey.verify_pin(&pin)?;
                piv::sign_data(yubikey, &input, piv_algorithm, id)
            })
            .map_err(|e| match e {
                yubikey::Error::WrongPin { .. } | yubikey::Error::PinLocked => self.pin_error(e),
                // "Security status not satisfied" right after a good VERIFY, from a slot that
                // asks for a touch: the YubiKey blinked and nobody touched it.
                yubikey::Error::AuthenticationError if touch.is_some_and(asks_for_touch) => {
                    Error::TouchTimeout {
                        device: self.to_string(),
                        slot: format!("{slot:02x}"),
                    }
                }
                other => self.fail("signing (touch the YubiKey if it blinks)", other),
            })?;
        let bytes = match algorithm {
            Algorithm::EcdsaP256 => p256::ecdsa::Signature::from_der(&raw)
                .map_err(|e| Error::Malformed {
                    device: self.to_string(),
                    what: "signature",
                    reason: e.to_string(),
                })?
                .to_bytes()
                .to_vec(),
            _ => raw.to_vec(),
        };
        Signature::from_bytes(algorithm, &bytes).map_err(|e| Error::Malformed {
            device: self.to_string(),
            what: "signature",
            reason: e.to_string(),
        })
    }

    fn needs_touch(&mut self, id: &key::Id) -> Result<bool, Error> {
        let slot = slot_of(id)?;
        Ok(self.slot_key(slot)?.touch.is_some_and(asks_for_touch))
    }

    fn evidence(&mut self, id: &key::Id) -> Result<Evidence, Error> {
        self.attestation(id).map(Evidence::Attested)
    }

    fn attestation(&mut self, id: &key::Id) -> Result<Attestation, Error> {
        let slot = slot_of(id)?;
        let key_certificate = piv::attest(&mut self.yubikey, slot_id(slot)?).map_err(|e| match e {
            yubikey::Error::GenericError | yubikey::Error::NotSupported => {
                Error::AttestationUnavailable {
                    device: self.to_string(),
                    reason: format!(
                        "slot {slot:02x} holds no key generated on the device (imported keys cannot be attested)"
                    ),
                }
            }
            other => self.fail("attesting a key", other),
        })?;
        let object = self
            .yubikey
            .fetch_object(ATTESTATION_OBJECT)
            .map_err(|e| self.fail("reading the attestation certificate (slot f9)", e))?;
        let device_certificate =
            certificate_in_object(&object).ok_or_else(|| Error::Malformed {
                device: self.to_string(),
                what: "slot f9 certificate object",
                reason: "no certificate (tag 70) in it".to_owned(),
            })?;
        Ok(Attestation {
            key_certificate: key_certificate.to_vec(),
            device_certificate,
        })
    }

    fn pin_status(&mut self) -> Result<pin::Status, Error> {
        // Metadata (firmware 5.3 on) reports the count without touching the PIN's state.
        let tries = match self
            .on_card(|yubikey| piv::metadata(yubikey, SlotId::Management(ManagementSlotId::Pin)))
        {
            Ok(piv::SlotMetadata {
                retries: Some(retries),
                ..
            }) => retries.remaining_count,
            _ => {
                // Older firmware: asking unverifies the PIN (the applet is selected again to
                // answer), so it is verified again afterwards.
                let tries = self
                    .yubikey
                    .get_pin_retries()
                    .map_err(|e| self.fail("reading the PIN's tries left", e))?;
                if tries > 0 {
                    self.verify_pin()?;
                }
                tries
            }
        };
        Ok(if tries == 0 {
            pin::Status::Locked
        } else {
            pin::Status::TriesLeft(tries)
        })
    }

    fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<(), Error> {
        self.yubikey
            .change_pin(old.expose().as_bytes(), new.expose().as_bytes())
            .map_err(|e| self.pin_error(e))?;
        self.pin = new.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_is_found_in_its_object() {
        let object = [
            0x53, 0x09, 0x70, 0x02, 0x30, 0x00, 0x71, 0x01, 0x00, 0xfe, 0x00,
        ];
        assert_eq!(
            certificate_in_object(&object[..10]),
            None,
            "a cut object is refused"
        );
        assert_eq!(certificate_in_object(&object), Some(vec![0x30, 0x00]));
        assert_eq!(
            certificate_in_object(&object[2..]),
            Some(vec![0x30, 0x00]),
            "unwrapped too"
        );
        assert_eq!(certificate_in_object(&[0x71, 0x01, 0x00]), None);
    }

    #[test]
    fn key_ids_are_slots() {
        assert_eq!(slot_of(&key::Id::from_bytes([0x9c])).ok(), Some(0x9c));
        assert!(slot_of(&key::Id::from_bytes([0x9c, 0x00])).is_err());
        assert!(
            slot_id(0xf9).is_err(),
            "the attestation slot holds no usable key"
        );
        assert!(
            slot_id(0x9b).is_err(),
            "the management key is not a key slot"
        );
        for slot in SLOTS {
            assert!(slot_id(slot).is_ok(), "{slot:02x}");
        }
    }

    #[test]
    fn defaults_put_tls_keys_in_9a_and_hedera_keys_in_9c() {
        assert_eq!(Placement::default_for(Algorithm::EcdsaP256).slot, 0x9a);
        let signing = Placement::default_for(Algorithm::Ed25519);
        assert_eq!(signing.slot, 0x9c);
        assert_eq!(signing.pin, PinPolicy::Always);
        assert_eq!(signing.touch, TouchPolicy::Always);
    }
}
