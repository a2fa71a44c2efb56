//! The card's attestation: a test root, the slot f9 certificate it issues, and key certificates
//! signed by the f9 key, shaped like a YubiKey's (Yubico's extensions under
//! 1.3.6.1.4.1.41482.3). The root is generated on the card's first start and written to
//! `attestation-root.pem` in the card's directory, for tests and the demo to pin. It is a test
//! root: nothing real should ever trust it.

use std::fs;
use std::io;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    SubjectPublicKeyInfo,
};

/// The file holding the root certificate (PEM).
pub const ROOT_FILE: &str = "attestation-root.pem";

/// What a key certificate says about the device and the key.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// Firmware major, minor, patch.
    pub firmware: [u8; 3],
    /// The device's serial number.
    pub serial: u32,
    /// PIN policy (1 never, 2 once, 3 always) and touch policy (1 never, 2 always, 3 cached).
    pub policy: [u8; 2],
}

/// Form factor reported in key certificates: USB-A keychain, like a YubiKey 5 NFC.
const FORM_FACTOR_USB_A_KEYCHAIN: u8 = 0x01;

/// The card's attestation authority.
pub struct Authority {
    f9_der: Vec<u8>,
    f9: Issuer<'static, KeyPair>,
}

impl Authority {
    /// Loads the authority kept in `dir`, or makes and keeps a new one.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        let dir = dir.join("attestation");
        let f9_cert = dir.join("f9.der");
        let f9_key = dir.join("f9.key");
        if !f9_cert.exists() {
            create(&dir)?;
        }
        let f9_der = fs::read(&f9_cert)?;
        let key = KeyPair::from_pem(&fs::read_to_string(&f9_key)?).map_err(invalid)?;
        let f9 = Issuer::from_ca_cert_der(&f9_der.clone().into(), key).map_err(invalid)?;
        Ok(Self { f9_der, f9 })
    }

    /// The slot f9 certificate (DER), as GET DATA 5FFF01 returns it.
    pub fn f9_certificate(&self) -> &[u8] {
        &self.f9_der
    }

    /// A key certificate for the key in `slot` whose SubjectPublicKeyInfo is `spki`.
    pub fn certify(&self, slot: u8, spki: &[u8], facts: Facts) -> Result<Vec<u8>, String> {
        let public = SubjectPublicKeyInfo::from_der(spki).map_err(|e| e.to_string())?;
        let mut params = named(&format!("YubiKey PIV Attestation {slot:02x}"), false);
        let oid = |last: u64| [1, 3, 6, 1, 4, 1, 41482, 3, last];
        params.custom_extensions = vec![
            CustomExtension::from_oid_content(&oid(3), facts.firmware.to_vec()),
            CustomExtension::from_oid_content(&oid(7), der_integer(facts.serial)),
            CustomExtension::from_oid_content(&oid(8), facts.policy.to_vec()),
            CustomExtension::from_oid_content(&oid(9), vec![FORM_FACTOR_USB_A_KEYCHAIN]),
        ];
        let cert = params
            .signed_by(&public, &self.f9)
            .map_err(|e| e.to_string())?;
        Ok(cert.der().to_vec())
    }
}

/// Makes the root and the f9 key and certificate in `dir`. The root's private key is not kept:
/// after issuing f9 it has no further use. `f9.der` is written last: a start interrupted before
/// it starts over.
fn create(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let root_key = KeyPair::generate().map_err(invalid)?;
    let root_params = named("Gatehouse Virtual PIV Test Root (never trust)", true);
    let root = root_params.self_signed(&root_key).map_err(invalid)?;
    let root_issuer = Issuer::new(root_params, root_key);
    let f9_key = KeyPair::generate().map_err(invalid)?;
    let f9 = named("Gatehouse Virtual PIV Attestation", false)
        .signed_by(&f9_key, &root_issuer)
        .map_err(invalid)?;
    let key_file = dir.join("f9.key");
    write_private(&key_file, f9_key.serialize_pem().as_bytes())?;
    fs::write(dir.parent().unwrap_or(dir).join(ROOT_FILE), root.pem())?;
    fs::write(dir.join("f9.der"), f9.der())?;
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn named(common_name: &str, ca: bool) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    params
}

/// A DER INTEGER holding `value`, minimally encoded.
fn der_integer(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(3);
    let mut content = bytes[first..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    let mut der = vec![0x02, content.len() as u8];
    der.extend(content);
    der
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::der_integer;

    #[test]
    fn serials_are_minimal_der_integers() {
        assert_eq!(der_integer(0), [0x02, 0x01, 0x00]);
        assert_eq!(der_integer(0x7f), [0x02, 0x01, 0x7f]);
        assert_eq!(der_integer(0x80), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(
            der_integer(12_345_678),
            [0x02, 0x04, 0x00, 0xbc, 0x61, 0x4e]
        );
        assert_eq!(
            der_integer(0x0102_0304),
            [0x02, 0x04, 0x01, 0x02, 0x03, 0x04]
        );
    }
}
