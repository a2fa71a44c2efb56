//! `gatehouse device`: PKCS#11 tokens (SoftHSM2, a vendor HSM, Yubico's ykcs11) and software key
//! files, and verification of YubiKey attestations. YubiKey PIV over PC/SC is not built yet
//! (issue 4).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use gatehouse_keys::device::{Backend, Info, Locator};
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{Algorithm, Id, Request};
use gatehouse_keys::{Device, Error, Pin};

use crate::{Failure, secret_input};

/// Exit code for a device failure (wrong PIN, locked, not found, module missing).
pub const EXIT_DEVICE: u8 = 13;
/// Exit code for an attestation that does not verify.
pub const EXIT_ATTESTATION: u8 = 14;

#[derive(Debug, Subcommand)]
pub enum DeviceAction {
    /// List the devices a PKCS#11 module (or a software key file) offers. No PIN needed.
    List {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Show a device's keys and PIN status.
    Info {
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Generate a key on the device.
    Keygen {
        #[command(flatten)]
        device: DeviceArgs,
        /// ed25519 (Hedera keys), p256 (TLS client keys) or secp256k1 (Hedera ECDSA keys).
        #[arg(long, value_parser = parse_algorithm)]
        algorithm: Algorithm,
        /// The label stored with the key.
        #[arg(long)]
        label: String,
    },
    /// Show what the device can prove about where a key was born.
    Attest {
        #[command(flatten)]
        device: DeviceArgs,
        /// The key's id (hex, as `device info` shows it).
        #[arg(long)]
        key: String,
    },
    /// Sign a random challenge with a key and verify the signature on this computer.
    SignTest {
        #[command(flatten)]
        device: DeviceArgs,
        /// The key's id (hex, as `device info` shows it).
        #[arg(long)]
        key: String,
    },
    /// Verify a YubiKey attestation: the key certificate, the device's slot f9 certificate, and the
    /// public key the device reported, against Yubico's pinned roots (or the roots given).
    VerifyAttestation {
        /// The attestation certificate for the key (PEM or DER).
        #[arg(long)]
        key_cert: PathBuf,
        /// The device's attestation certificate from slot f9 (PEM or DER).
        #[arg(long)]
        device_cert: PathBuf,
        /// The slot's public key as the device reported it (SubjectPublicKeyInfo, PEM or DER).
        #[arg(long)]
        public_key: PathBuf,
        /// Trust these roots instead of Yubico's (PEM, any number of certificates; pinned by their
        /// SHA-256 as given). For test cards and private PKIs.
        #[arg(long)]
        root: Vec<PathBuf>,
        /// Extra intermediates to build the chain with (PEM).
        #[arg(long)]
        intermediate: Vec<PathBuf>,
    },
    /// Change the user PIN (a software key file's passphrase).
    ChangePin {
        #[command(flatten)]
        device: DeviceArgs,
    },
}

/// Where to look for devices.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// A PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so or Yubico's libykcs11.so.
    #[arg(long, env = "GATEHOUSE_PKCS11_MODULE", conflicts_with = "software")]
    module: Option<PathBuf>,
    /// A software key file (development and the demo only: not for production).
    #[arg(long)]
    software: Option<PathBuf>,
}

impl BackendArgs {
    fn backend(&self) -> Result<Backend, Failure> {
        match (&self.module, &self.software) {
            (Some(module), _) => Ok(Backend::Pkcs11 {
                module: module.clone(),
            }),
            (None, Some(file)) => Ok(Backend::Software { file: file.clone() }),
            (None, None) => Err(Failure {
                code: 2,
                message: "say where the device is".into(),
                hint: Some(
                    "pass --module PATH (or set GATEHOUSE_PKCS11_MODULE) for a PKCS#11 token, or --software FILE"
                        .into(),
                ),
            }),
        }
    }
}

/// One device, and the PIN read from GATEHOUSE_DEVICE_PIN or standard input.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// The token's serial number (when the module offers several tokens).
    #[arg(long)]
    serial: Option<String>,
    /// The token's label (when the module offers several tokens).
    #[arg(long)]
    token: Option<String>,
}

impl DeviceArgs {
    fn locator(&self) -> Result<Locator, Failure> {
        let backend = self.backend.backend()?;
        if let Backend::Software { file } = &backend {
            return Ok(Locator::Software { file: file.clone() });
        }
        let found = gatehouse_keys::enumerate(&backend).map_err(device_failure)?;
        let chosen: Vec<&Info> = found
            .iter()
            .filter(|i| self.serial.as_ref().is_none_or(|s| *s == i.serial))
            .filter(|i| self.token.as_ref().is_none_or(|l| *l == i.label))
            .collect();
        match chosen.as_slice() {
            [one] => Ok(one.locator.clone()),
            [] => Err(Failure {
                code: EXIT_DEVICE,
                message: "no matching device".into(),
                hint: Some("see `gatehouse device list`; a token must be initialised first".into()),
            }),
            _ => Err(Failure {
                code: 2,
                message: format!("{} devices match", chosen.len()),
                hint: Some(
                    "choose one with --serial or --token (see `gatehouse device list`)".into(),
                ),
            }),
        }
    }

    fn open(&self, pin: &Pin) -> Result<Box<dyn Device>, Failure> {
        let locator = self.locator()?;
        gatehouse_keys::open(&locator, pin).map_err(device_failure)
    }
}

fn parse_algorithm(text: &str) -> Result<Algorithm, String> {
    match text.to_ascii_lowercase().as_str() {
        "ed25519" => Ok(Algorithm::Ed25519),
        "p256" | "p-256" | "ecdsa-p256" => Ok(Algorithm::EcdsaP256),
        "secp256k1" | "ecdsa-secp256k1" => Ok(Algorithm::EcdsaSecp256k1),
        other => Err(format!("{other:?}: use ed25519, p256 or secp256k1")),
    }
}

fn parse_id(text: &str) -> Result<Id, Failure> {
    hex::decode(text.trim())
        .map(Id::from_bytes)
        .map_err(|e| Failure {
            code: 2,
            message: format!("{text:?} is not a key id: {e}"),
            hint: Some("key ids are hex, as `gatehouse device info` shows them".into()),
        })
}

/// A device error for people: the keys crate's message already says what to do next.
fn device_failure(e: Error) -> Failure {
    Failure {
        code: EXIT_DEVICE,
        message: e.to_string(),
        hint: None,
    }
}

/// A PIN from `variable`, else a line of standard input; never echoed back, never logged.
fn pin(variable: &str, what: &str) -> Result<Pin, Failure> {
    secret_input(variable, what).map(|secret| Pin::new(secret.expose().to_owned()))
}

fn read_der(path: &std::path::Path, what: &str) -> Result<Vec<Vec<u8>>, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure {
        code: 2,
        message: format!("cannot read the {what} {}: {e}", path.display()),
        hint: None,
    })?;
    gatehouse_keys::attestation::der_blocks(&bytes).map_err(|e| Failure {
        code: EXIT_ATTESTATION,
        message: format!("{} ({what}): {e}", path.display()),
        hint: None,
    })
}

fn one(mut blocks: Vec<Vec<u8>>, path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    if blocks.len() != 1 {
        return Err(Failure {
            code: 2,
            message: format!(
                "{} holds {} PEM blocks; give exactly one",
                path.display(),
                blocks.len()
            ),
            hint: None,
        });
    }
    Ok(blocks.remove(0))
}

fn verify_attestation(
    key_cert: &std::path::Path,
    device_cert: &std::path::Path,
    public_key: &std::path::Path,
    roots: &[PathBuf],
    intermediates: &[PathBuf],
) -> Result<(), Failure> {
    use gatehouse_keys::attestation::{self, TrustAnchors};
    let attestation = gatehouse_keys::evidence::Attestation {
        key_certificate: one(read_der(key_cert, "key certificate")?, key_cert)?,
        device_certificate: one(read_der(device_cert, "device certificate")?, device_cert)?,
    };
    let spki = one(read_der(public_key, "public key")?, public_key)?;
    let mut extra = Vec::new();
    for path in intermediates {
        extra.extend(read_der(path, "intermediate")?);
    }
    let anchors = if roots.is_empty() {
        let mut a = TrustAnchors::yubico();
        a.add_intermediates(extra);
        say!("trusting:    Yubico's PIV attestation roots (pinned by SHA-256)");
        a
    } else {
        let mut pinned = Vec::new();
        for path in roots {
            pinned.extend(read_der(path, "root")?);
        }
        say!(
            "trusting:    {} root(s) given with --root (NOT Yubico's)",
            pinned.len()
        );
        TrustAnchors::new(pinned, extra)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match attestation::verify(&attestation, &spki, &anchors, now) {
        Ok(v) => {
            say!("attestation: VERIFIED: the key was generated on this device and cannot leave it");
            say!("root:        {} (SHA-256 {})", v.root, v.root_sha256);
            say!("chain:       {} certificates", v.chain_length);
            let show = |o: Option<String>| o.unwrap_or_else(|| "not stated".to_owned());
            say!("serial:      {}", show(v.serial.map(|s| s.to_string())));
            say!(
                "firmware:    {}",
                show(v.firmware.map(|(a, b, c)| format!("{a}.{b}.{c}")))
            );
            say!(
                "PIN policy:  {}",
                show(v.pin_policy.map(|p| format!("{p:?}").to_lowercase()))
            );
            say!(
                "touch:       {}",
                show(v.touch_policy.map(|p| format!("{p:?}").to_lowercase()))
            );
            say!(
                "form factor: {}",
                show(v.form_factor.map(|f| f.to_string()))
            );
            Ok(())
        }
        Err(e) => Err(Failure {
            code: EXIT_ATTESTATION,
            message: format!("attestation REFUSED: {e}"),
            hint: None,
        }),
    }
}

pub fn run(action: DeviceAction) -> Result<(), Failure> {
    match action {
        DeviceAction::VerifyAttestation {
            key_cert,
            device_cert,
            public_key,
            root,
            intermediate,
        } => {
            verify_attestation(&key_cert, &device_cert, &public_key, &root, &intermediate)?;
        }
        DeviceAction::List { backend } => {
            let found = gatehouse_keys::enumerate(&backend.backend()?).map_err(device_failure)?;
            if found.is_empty() {
                say!(
                    "no devices (a PKCS#11 token must be initialised; a software key file must exist)"
                );
            }
            for info in found {
                say!("{info}");
            }
        }
        DeviceAction::Info { device } => {
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = device.open(&pin)?;
            say!("device:      {}", opened.info());
            let status = opened.pin_status().map_err(device_failure)?;
            say!("PIN:         {status}");
            let keys = opened.keys().map_err(device_failure)?;
            if keys.is_empty() {
                say!("keys:        none");
            }
            for key in keys {
                say!("key {}  {:<24} {}", key.id, key.label, key.public_key);
            }
        }
        DeviceAction::Keygen {
            device,
            algorithm,
            label,
        } => {
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = match (&device.backend.software, device.backend.module.is_none()) {
                // A software key file is created by its first key.
                (Some(file), true) if !file.exists() => Box::new(
                    gatehouse_keys::software::KeyFile::create(file, &pin)
                        .map_err(device_failure)?,
                ),
                _ => device.open(&pin)?,
            };
            let started = Instant::now();
            let key = opened
                .generate(&Request::new(algorithm, label))
                .map_err(device_failure)?;
            say!(
                "generated {} key {} on {}",
                key.algorithm(),
                key.id,
                opened.info()
            );
            say!("public key:  {}", key.public_key);
            say!("took:        {:.1?}", started.elapsed());
            print_evidence(&opened.evidence(&key.id).map_err(device_failure)?);
        }
        DeviceAction::Attest { device, key } => {
            let id = parse_id(&key)?;
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = device.open(&pin)?;
            match opened.attestation(&id) {
                Ok(_) => {
                    return Err(Failure {
                        code: 1,
                        message: "this device returned an attestation, but verifying attestation chains is not built yet".into(),
                        hint: Some("save the certificates and check them with `gatehouse device verify-attestation`".into()),
                    });
                }
                Err(Error::AttestationUnavailable { .. }) => {
                    print_evidence(&opened.evidence(&id).map_err(device_failure)?);
                }
                Err(e) => return Err(device_failure(e)),
            }
        }
        DeviceAction::SignTest { device, key } => {
            let id = parse_id(&key)?;
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = device.open(&pin)?;
            let public = opened.public_key(&id).map_err(device_failure)?;
            let mut challenge = b"gatehouse sign-test ".to_vec();
            challenge.extend_from_slice(&Id::random().as_bytes()[..16]);
            let started = Instant::now();
            let signature = opened.sign(&id, &challenge).map_err(device_failure)?;
            let took = started.elapsed();
            public.verify(&challenge, &signature).map_err(|e| Failure {
                code: EXIT_DEVICE,
                message: format!("the device's signature does not verify: {e}"),
                hint: Some("do not use this key; report the device".into()),
            })?;
            say!(
                "{} signature by key {} verified on this computer ({took:.1?} on the device)",
                public.algorithm(),
                id
            );
        }
        DeviceAction::ChangePin { device } => {
            let old = pin("GATEHOUSE_DEVICE_PIN", "current PIN")?;
            let new = pin("GATEHOUSE_DEVICE_NEW_PIN", "new PIN")?;
            let mut opened = device.open(&old)?;
            opened.change_pin(&old, &new).map_err(device_failure)?;
            say!("PIN changed on {}", opened.info());
        }
    }
    Ok(())
}

fn print_evidence(evidence: &Evidence) {
    match evidence {
        Evidence::SelfReported(a) => {
            let show = |v: Option<bool>| v.map_or("not reported", |b| if b { "yes" } else { "no" });
            say!("evidence (reported by the module, not signed by anyone):");
            say!(
                "  generated on the token (CKA_LOCAL):          {}",
                show(a.local)
            );
            say!(
                "  never extractable (CKA_NEVER_EXTRACTABLE):   {}",
                show(a.never_extractable)
            );
            say!(
                "  sensitive (CKA_SENSITIVE):                   {}",
                show(a.sensitive)
            );
            say!(
                "  extractable (CKA_EXTRACTABLE):               {}",
                show(a.extractable)
            );
            say!(
                "  => {}",
                if a.born_on_device() {
                    "the module says this key was born on the token and cannot leave it"
                } else {
                    "the module does NOT claim this key was born on the token and cannot leave it"
                }
            );
        }
        Evidence::Software => {
            say!("evidence: none; software key: not for production (production policy refuses it)");
        }
        Evidence::Attested(_) => {
            say!(
                "evidence: an attestation certificate chain; it proves nothing until `gatehouse device verify-attestation` accepts it"
            );
        }
        _ => say!("evidence: of a kind this version does not know"),
    }
}
