//! The card: `piv-authenticator` behind a shim that makes it answer like a YubiKey 5.7.
//!
//! What the shim adds or changes, and why:
//! - Transport: command chaining (CLA bit 0x10) is reassembled, and long answers are handed out
//!   in 256-byte pieces with `61xx` / GET RESPONSE, as a short-APDU host expects.
//! - Every command reaches the authenticator with the longest Le, so answers are never cut
//!   because the host left Le out (the `yubikey` crate does, for several commands).
//! - SELECT of the 5-byte PIV AID prefix (A0 00 00 03 08), which the `yubikey` crate sends.
//! - YubiKey's version (INS FD), serial (F8), metadata (F7) and attestation (F9), and the f9
//!   certificate object (GET DATA 5FFF01). The authenticator has no attestation of its own.
//!
//! - Touch: a key whose touch policy asks for one is used only after a touch (`touch.rs`), and
//!   an untouched card refuses with `6982` after the timeout, as a YubiKey does.
//!
//! - Ed25519 (YubiKey 5.7's algorithm E0), which `piv-authenticator` 0.7 does not have: the shim
//!   generates and holds those keys itself and signs with them (`ed25519-dalek`), after the
//!   authenticator has checked what a YubiKey checks: GENERATE goes to the authenticator first (as a
//!   P-256 key in the same slot, so the management key is checked and the slot's old key goes), and
//!   a signature needs the PIN verified in this session (asked of the authenticator) and the touch.
//!
//! What the shim cannot give: PIN policies are recorded and attested as asked but not enforced
//! (the authenticator asks for the PIN once per session). X25519 (E1) is refused.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use iso7816::command::{CommandBuilder, CommandView, ExpectedLen, class::Class};
use piv_authenticator::{Authenticator, Options};
use serde::{Deserialize, Serialize};

use crate::attest::{Authority, Facts};
use crate::platform::Client;
use crate::touch::Sensor;

/// YubiKey 5 NFC's answer to reset.
const ATR: &[u8] = &[
    0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59,
    0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40,
];

/// The PIV application's full AID.
const PIV_AID: &[u8] = &[
    0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
];

/// The firmware the card reports: a YubiKey 5.7 (Ed25519-capable firmware).
const FIRMWARE: [u8; 3] = [5, 7, 1];

/// PIN and PUK tries of a fresh authenticator.
const PIN_TRIES: u8 = 3;
const PUK_TRIES: u8 = 5;

// Status words.
const OK: u16 = 0x9000;
const WRONG_LENGTH: u16 = 0x6700;
const WRONG_DATA: u16 = 0x6a80;
const NOT_FOUND: u16 = 0x6a82;
const REFERENCE_NOT_FOUND: u16 = 0x6a88;
const AUTH_BLOCKED: u16 = 0x6983;
const SECURITY_STATUS_NOT_SATISFIED: u16 = 0x6982;

/// PIV algorithm ids.
const ALGORITHM_P256: u8 = 0x11;
const ALGORITHM_ED25519: u8 = 0xe0;

/// What the shim keeps across runs (in `card.json`): who the card is and what it knows about
/// the keys it generated.
#[derive(Debug, Serialize, Deserialize)]
pub struct Persistent {
    serial: u32,
    slots: BTreeMap<u8, SlotKey>,
    pin_default: bool,
    puk_default: bool,
    management_key_default: bool,
    puk_tries_left: u8,
}

/// A key the card generated: its algorithm, policies and public point; for an Ed25519 key, which
/// the shim holds itself, also its secret (in the clear: this is a test card).
#[derive(Clone, Serialize, Deserialize)]
struct SlotKey {
    algorithm: u8,
    pin_policy: u8,
    touch_policy: u8,
    #[serde(with = "hex::serde")]
    point: Vec<u8>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_hex"
    )]
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotKey")
            .field("algorithm", &self.algorithm)
            .field("pin_policy", &self.pin_policy)
            .field("touch_policy", &self.touch_policy)
            .field("point", &hex::encode(&self.point))
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `Option<Vec<u8>>` as an optional hex string.
mod optional_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(&hex::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| hex::decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Persistent {
    fn load_or_create(file: &Path) -> io::Result<Self> {
        match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self {
                serial: 10_000_000
                    + rand_core::RngCore::next_u32(&mut rand_core::OsRng) % 20_000_000,
                slots: BTreeMap::new(),
                pin_default: true,
                puk_default: true,
                management_key_default: true,
                puk_tries_left: PUK_TRIES,
            }),
            Err(e) => Err(e),
        }
    }

    /// Saves atomically: a crash leaves the old or the new state, never half of one.
    fn save(&self, file: &Path) -> io::Result<()> {
        let temporary = file.with_extension("json.new");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(temporary, file)
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }
}

/// The card.
pub struct Card<'a> {
    piv: Authenticator<Client<'a>>,
    state: Persistent,
    state_file: PathBuf,
    authority: Authority,
    touch: Sensor,
    /// Data of a chained command, so far.
    chained: Vec<u8>,
    /// Answer bytes still to be fetched with GET RESPONSE.
    pending: Vec<u8>,
    /// Called on the reader's first contact (its presence check asks for the ATR). Not on
    /// power-on: when a card is replaced between two presence checks, pcscd sees no change and
    /// does not power the new one up.
    on_contact: std::cell::Cell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl<'a> Card<'a> {
    /// A card keeping its state in `dir`, which waits `touch_timeout` for a touch.
    pub fn new(client: Client<'a>, dir: &Path, touch_timeout: Duration) -> io::Result<Self> {
        let state_file = dir.join("card.json");
        let state = Persistent::load_or_create(&state_file)?;
        state.save(&state_file)?;
        Ok(Self {
            piv: Authenticator::new(
                client,
                Options::default()
                    .label(b"Gatehouse virtual PIV")
                    .url(b"https://gatehouse.invalid/virtual-piv"),
            ),
            state,
            state_file,
            authority: Authority::load_or_create(dir)?,
            touch: Sensor::new(dir, touch_timeout),
            chained: Vec::new(),
            pending: Vec::new(),
            on_contact: std::cell::Cell::new(None),
        })
    }

    pub fn state(&self) -> &Persistent {
        &self.state
    }

    /// Runs `f` once, when the reader first talks to the card.
    pub fn on_first_contact(&mut self, f: impl FnOnce() + 'a) {
        self.on_contact.set(Some(Box::new(f)));
    }

    fn contact(&self) {
        if let Some(f) = self.on_contact.take() {
            f();
        }
    }

    fn save(&self) {
        if let Err(e) = self.state.save(&self.state_file) {
            log::error!("saving {}: {e}", self.state_file.display());
        }
    }

    fn powered(&mut self) {
        self.chained.clear();
        self.pending.clear();
        self.contact();
    }

    /// One command APDU in, one response APDU out.
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let (mut data, status) = match self.handle(apdu) {
            Ok(data) => (data, OK),
            Err(status) => (Vec::new(), status),
        };
        if status == OK && data.len() > 256 {
            self.pending = data.split_off(256);
            let status = 0x6100 | self.pending.len().min(0xff) as u16;
            data.extend(status.to_be_bytes());
            return data;
        }
        data.extend(status.to_be_bytes());
        data
    }

    fn handle(&mut self, apdu: &[u8]) -> Result<Vec<u8>, u16> {
        let view = CommandView::try_from(apdu).map_err(|_| WRONG_LENGTH)?;
        let (cla, ins, p1, p2) = (apdu[0], apdu[1], apdu[2], apdu[3]);
        if ins == 0xc0 {
            // GET RESPONSE: the next piece of a long answer.
            let n = self.pending.len().min(256);
            return Ok(self.pending.drain(..n).collect());
        }
        self.pending.clear();
        if cla & 0x10 != 0 {
            self.chained.extend_from_slice(view.data());
            return Ok(Vec::new());
        }
        let mut data = std::mem::take(&mut self.chained);
        data.extend_from_slice(view.data());
        match (ins, p1, p2) {
            (0xa4, 0x04, _) => {
                if data.len() >= 5 && PIV_AID.starts_with(&data) {
                    self.forward(cla, ins, p1, p2, PIV_AID)
                } else {
                    Err(NOT_FOUND)
                }
            }
            (0xfd, _, _) => Ok(FIRMWARE.to_vec()),
            (0xf8, _, _) => Ok(self.state.serial.to_be_bytes().to_vec()),
            (0xf9, slot, _) => self.attest(slot),
            (0xf7, _, slot) => self.metadata(slot),
            (0xcb, 0x3f, 0xff) if data == [0x5c, 0x03, 0x5f, 0xff, 0x01] => Ok(tlv(
                0x53,
                &[
                    tlv(0x70, self.authority.f9_certificate()),
                    tlv(0x71, &[0]),
                    tlv(0xfe, &[]),
                ]
                .concat(),
            )),
            (0x47, 0x00, slot) => self.generate(cla, slot, &data),
            // GENERAL AUTHENTICATE with a generated key: its touch policy first.
            (0x87, _, slot) if self.state.slots.contains_key(&slot) => {
                let key = self.state.slots[&slot].clone();
                if key.algorithm == ALGORITHM_ED25519 {
                    return self.sign_ed25519(p1, &key, &data);
                }
                if !self.touch.allow(key.touch_policy) {
                    return Err(SECURITY_STATUS_NOT_SATISFIED);
                }
                self.forward(cla, ins, p1, p2, &data)
            }
            (0xfb, _, _) => {
                let answer = self.forward(cla, ins, p1, p2, &data)?;
                self.state.slots.clear();
                self.state.pin_default = true;
                self.state.puk_default = true;
                self.state.management_key_default = true;
                self.state.puk_tries_left = PUK_TRIES;
                self.save();
                Ok(answer)
            }
            (0x24 | 0x2c, _, 0x80 | 0x81) => {
                let puk_used = p2 == 0x81 || ins == 0x2c;
                let answer = self.forward(cla, ins, p1, p2, &data);
                match answer {
                    Ok(_) => {
                        if ins == 0x24 && p2 == 0x80 {
                            self.state.pin_default = false;
                        }
                        if ins == 0x24 && p2 == 0x81 {
                            self.state.puk_default = false;
                        }
                        if ins == 0x2c {
                            self.state.pin_default = false;
                        }
                        self.state.puk_tries_left = PUK_TRIES;
                    }
                    Err(sw) if puk_used && sw & 0xfff0 == 0x63c0 => {
                        self.state.puk_tries_left = (sw & 0x0f) as u8;
                    }
                    Err(AUTH_BLOCKED) if puk_used => self.state.puk_tries_left = 0,
                    Err(_) => {}
                }
                self.save();
                answer
            }
            (0xff, 0xff, _) => {
                let answer = self.forward(cla, ins, p1, p2, &data)?;
                self.state.management_key_default = false;
                self.save();
                Ok(answer)
            }
            _ => self.forward(cla, ins, p1, p2, &data),
        }
    }

    /// Passes a whole command to the authenticator, asking for the longest answer.
    fn forward(&mut self, cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
        let class = Class::try_from(cla & !0x10).map_err(|_| 0x6e00u16)?;
        let command = CommandBuilder::new(class, ins.into(), p1, p2, data, ExpectedLen::Max)
            .serialize_to_vec();
        let view = CommandView::try_from(command.as_slice()).map_err(|_| WRONG_LENGTH)?;
        let mut reply = heapless::Vec::<u8, 7168>::new();
        match self.piv.respond(view, reply.as_mut_view()) {
            Ok(()) => Ok(reply.to_vec()),
            Err(status) => Err(u16::from(status)),
        }
    }

    fn generate(&mut self, cla: u8, slot: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
        let template = find(data, &[0xac]).ok_or(WRONG_DATA)?;
        let algorithm = *find(template, &[0x80])
            .and_then(|a| a.first())
            .ok_or(WRONG_DATA)?;
        let pin_policy = find(template, &[0xaa])
            .and_then(|p| p.first().copied())
            .filter(|&p| p != 0);
        let touch_policy = find(template, &[0xab])
            .and_then(|t| t.first().copied())
            .filter(|&t| t != 0);
        let (answer, secret) = if algorithm == ALGORITHM_ED25519 {
            // The authenticator generates a P-256 key in the slot first: it checks the management
            // key, and the slot's old key is gone, as on a YubiKey. The shim then holds the slot's
            // Ed25519 key.
            self.forward(
                cla,
                0x47,
                0x00,
                slot,
                &tlv(0xac, &tlv(0x80, &[ALGORITHM_P256])),
            )?;
            let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
            let point = tlv(0x86, key.verifying_key().as_bytes());
            let mut answer = vec![0x7f, 0x49];
            push_length(&mut answer, point.len());
            answer.extend(point);
            (answer, Some(key.to_bytes().to_vec()))
        } else {
            (self.forward(cla, 0x47, 0x00, slot, data)?, None)
        };
        let point = find(&answer, &[0x7f, 0x49])
            .and_then(|key| find(key, &[0x86]))
            .ok_or(WRONG_DATA)?
            .to_vec();
        self.state.slots.insert(
            slot,
            SlotKey {
                algorithm,
                pin_policy: pin_policy.unwrap_or(default_pin_policy(slot)),
                touch_policy: touch_policy.unwrap_or(1),
                point,
                secret,
            },
        );
        self.save();
        Ok(answer)
    }

    /// GENERAL AUTHENTICATE with an Ed25519 key the shim holds: template 7C { 82 (empty),
    /// 81 message }, answered with 7C { 82 signature }. The PIN must have been verified in this
    /// session, and the touch given if the policy asks for one.
    fn sign_ed25519(&mut self, algorithm: u8, key: &SlotKey, data: &[u8]) -> Result<Vec<u8>, u16> {
        if algorithm != ALGORITHM_ED25519 {
            return Err(WRONG_DATA);
        }
        // An empty VERIFY answers 9000 only when the PIN has been verified.
        if self.forward(0x00, 0x20, 0x00, 0x80, &[]).is_err() {
            return Err(SECURITY_STATUS_NOT_SATISFIED);
        }
        let message = find(data, &[0x7c])
            .and_then(|template| find(template, &[0x81]))
            .ok_or(WRONG_DATA)?;
        if !self.touch.allow(key.touch_policy) {
            return Err(SECURITY_STATUS_NOT_SATISFIED);
        }
        let secret: [u8; 32] = key
            .secret
            .as_deref()
            .and_then(|s| s.try_into().ok())
            .ok_or(WRONG_DATA)?;
        let signature =
            ed25519_dalek::Signer::sign(&ed25519_dalek::SigningKey::from_bytes(&secret), message);
        Ok(tlv(0x7c, &tlv(0x82, &signature.to_bytes())))
    }

    fn attest(&mut self, slot: u8) -> Result<Vec<u8>, u16> {
        let key = self.state.slots.get(&slot).ok_or(REFERENCE_NOT_FOUND)?;
        let spki = spki(key.algorithm, &key.point).ok_or(WRONG_DATA)?;
        let facts = Facts {
            firmware: FIRMWARE,
            serial: self.state.serial,
            policy: [key.pin_policy, key.touch_policy],
        };
        self.authority.certify(slot, &spki, facts).map_err(|e| {
            log::error!("attesting slot {slot:02x}: {e}");
            WRONG_DATA
        })
    }

    fn metadata(&mut self, slot: u8) -> Result<Vec<u8>, u16> {
        match slot {
            0x80 => {
                let left = self.pin_tries_left()?;
                Ok([
                    tlv(0x01, &[0xff]),
                    tlv(0x05, &[self.state.pin_default.into()]),
                    tlv(0x06, &[PIN_TRIES, left]),
                ]
                .concat())
            }
            0x81 => Ok([
                tlv(0x01, &[0xff]),
                tlv(0x05, &[self.state.puk_default.into()]),
                tlv(0x06, &[PUK_TRIES, self.state.puk_tries_left]),
            ]
            .concat()),
            // The authenticator's management key is triple DES (YubiKeys before 5.7 ship that way).
            0x9b => Ok([
                tlv(0x01, &[0x03]),
                tlv(0x02, &[0x00, 0x01]),
                tlv(0x05, &[self.state.management_key_default.into()]),
            ]
            .concat()),
            _ => {
                let key = self.state.slots.get(&slot).ok_or(REFERENCE_NOT_FOUND)?;
                Ok([
                    tlv(0x01, &[key.algorithm]),
                    tlv(0x02, &[key.pin_policy, key.touch_policy]),
                    tlv(0x03, &[0x01]),
                    tlv(0x04, &tlv(0x86, &key.point)),
                ]
                .concat())
            }
        }
    }

    /// The PIN's tries left, asked of the authenticator with an empty VERIFY (which changes
    /// nothing; a verified PIN answers 9000, and then no try has been used since).
    fn pin_tries_left(&mut self) -> Result<u8, u16> {
        match self.forward(0x00, 0x20, 0x00, 0x80, &[]) {
            Ok(_) => Ok(PIN_TRIES),
            Err(sw) if sw & 0xfff0 == 0x63c0 => Ok((sw & 0x0f) as u8),
            Err(AUTH_BLOCKED) => Ok(0),
            Err(sw) => Err(sw),
        }
    }
}

impl vpicc::VSmartCard for Card<'_> {
    fn atr(&self) -> &[u8] {
        self.contact();
        ATR
    }

    fn power_on(&mut self) {
        self.powered();
    }

    fn reset(&mut self) {
        self.powered();
    }

    fn execute(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.contact();
        let answer = self.process(apdu);
        log::debug!(
            "{:02x} {:02x} → {:04x}",
            apdu.get(1).copied().unwrap_or(0),
            apdu.get(3).copied().unwrap_or(0),
            u16::from_be_bytes([answer[answer.len() - 2], answer[answer.len() - 1]])
        );
        answer
    }
}

/// YubiKey's default PIN policy per slot: 9c (signature) asks every time, 9e (card
/// authentication) never, the others once per session.
fn default_pin_policy(slot: u8) -> u8 {
    match slot {
        0x9c => 3,
        0x9e => 1,
        _ => 2,
    }
}

/// The SubjectPublicKeyInfo (DER) of an EC public point.
fn spki(algorithm: u8, point: &[u8]) -> Option<Vec<u8>> {
    let prefix: &[u8] = match (algorithm, point.len()) {
        // P-256: id-ecPublicKey, prime256v1.
        (0x11, 65) => &hex_literal("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
        // P-384: id-ecPublicKey, secp384r1.
        (0x14, 97) => &hex_literal("3076301006072a8648ce3d020106052b81040022036200"),
        // Ed25519 (RFC 8410).
        (ALGORITHM_ED25519, 32) => &hex_literal("302a300506032b6570032100"),
        _ => return None,
    };
    Some([prefix, point].concat())
}

fn hex_literal(s: &str) -> Vec<u8> {
    hex::decode(s).expect("a constant hex string")
}

/// A BER-TLV with a one-byte tag.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_length(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
}

/// Walks the BER-TLVs in `data`, yielding (tag bytes, value).
fn tlvs(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let tag_len = if data.first()? & 0x1f == 0x1f { 2 } else { 1 };
        let tag = data.get(..tag_len)?;
        let (len, len_len) = match *data.get(tag_len)? {
            n @ 0..=0x7f => (usize::from(n), 1),
            0x81 => (usize::from(*data.get(tag_len + 1)?), 2),
            0x82 => (
                usize::from(u16::from_be_bytes([
                    *data.get(tag_len + 1)?,
                    *data.get(tag_len + 2)?,
                ])),
                3,
            ),
            _ => return None,
        };
        let start = tag_len + len_len;
        let value = data.get(start..start + len)?;
        data = &data[start + len..];
        Some((tag, value))
    })
}

/// The value of the first TLV in `data` whose tag (one or two bytes) is `tag`.
fn find<'a>(data: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    tlvs(data).find(|(t, _)| *t == tag).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlvs_nest_and_lengths_decode() {
        let point = [4u8; 65];
        let answer = [&[0x7f, 0x49, 0x43, 0x86, 0x41][..], &point].concat();
        assert_eq!(
            find(find(&answer, &[0x7f, 0x49]).unwrap(), &[0x86]).unwrap(),
            point
        );
        let long = tlv(0x70, &[1u8; 300]);
        assert_eq!(&long[..4], [0x70, 0x82, 0x01, 0x2c]);
        assert_eq!(find(&long, &[0x70]).unwrap().len(), 300);
        // A length running past the end yields nothing rather than a short value.
        assert_eq!(find(&[0x70, 0x05, 1, 2], &[0x70]), None);
    }

    #[test]
    fn generation_template_is_read() {
        let data = [
            0xac, 0x09, 0x80, 0x01, 0x11, 0xaa, 0x01, 0x03, 0xab, 0x01, 0x02,
        ];
        let template = find(&data, &[0xac]).unwrap();
        assert_eq!(find(template, &[0x80]), Some(&[0x11][..]));
        assert_eq!(find(template, &[0xaa]), Some(&[0x03][..]));
        assert_eq!(find(template, &[0xab]), Some(&[0x02][..]));
    }

    #[test]
    fn spki_only_for_known_curves_and_sizes() {
        assert_eq!(spki(0x11, &[4; 65]).unwrap().len(), 91);
        assert_eq!(spki(0x14, &[4; 97]).unwrap().len(), 120);
        assert!(spki(0x11, &[4; 64]).is_none());
        assert_eq!(spki(0xe0, &[0; 32]).unwrap().len(), 44);
        assert!(spki(0xe0, &[0; 33]).is_none());
        assert!(spki(0xe1, &[0; 32]).is_none(), "no X25519");
    }
}
