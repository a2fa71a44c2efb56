//! `gatehouse device`: YubiKeys (PIV over PC/SC), PKCS#11 tokens (SoftHSM2, a vendor HSM,
//! Yubico's ykcs11) and software key files; attestation verification; certificate signing
//! requests for a device-held TLS key.
//!
//! Secrets come from environment variables or standard input, never from the command line
//! (where `ps` shows them): `GATEHOUSE_DEVICE_PIN`, `GATEHOUSE_DEVICE_NEW_PIN`,
//! `GATEHOUSE_DEVICE_PUK`, `GATEHOUSE_DEVICE_NEW_PUK`, `GATEHOUSE_PIV_MANAGEMENT_KEY` and
//! `GATEHOUSE_PIV_NEW_MANAGEMENT_KEY` (hex).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use gatehouse_keys::attestation::{TrustAnchors, Verified};
use gatehouse_keys::device::{Backend, Info, Locator};
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{Algorithm, Id, Request};
use gatehouse_keys::piv::{PinPolicy, Piv, Placement, TouchPolicy};
use gatehouse_keys::{Device, Error, Pin};

use crate::exit::{Exit, Failure};
use crate::secret_input;

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
        /// The label stored with the key (PKCS#11 and software; a PIV key is named by its slot).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        placement: PlacementArgs,
    },
    /// Show what the device can prove about where a key was born. A YubiKey's attestation is
    /// verified here, against Yubico's pinned roots (or the roots given).
    Attest {
        #[command(flatten)]
        device: DeviceArgs,
        /// The key's id (hex, as `device info` shows it; for a YubiKey, its slot: 9a, 9c, 82...).
        #[arg(long)]
        key: String,
        /// Trust these roots instead of Yubico's (PEM; pinned by their SHA-256 as given). For
        /// test cards such as the virtual PIV card.
        #[arg(long)]
        root: Vec<PathBuf>,
        /// Write the key's and the device's attestation certificates (PEM) into this directory.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Write a certificate signing request for a device key (P-256 or Ed25519), signed by the
    /// device, for `gatehouse-server registry enrol` (or your CA).
    Csr {
        #[command(flatten)]
        device: DeviceArgs,
        /// The key's id (hex, as `device info` shows it).
        #[arg(long)]
        key: String,
        /// Your name, as the certificate should carry it.
        #[arg(long)]
        name: String,
        /// Where to write the request (PEM).
        #[arg(long)]
        out: PathBuf,
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
    /// YubiKey: change the PUK (current from GATEHOUSE_DEVICE_PUK, new from
    /// GATEHOUSE_DEVICE_NEW_PUK, else standard input).
    ChangePuk {
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// YubiKey: unblock a blocked PIN with the PUK and set a new PIN.
    UnblockPin {
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// YubiKey: replace the management key (current from GATEHOUSE_PIV_MANAGEMENT_KEY, or the
    /// factory default; new from GATEHOUSE_PIV_NEW_MANAGEMENT_KEY, hex).
    ChangeManagementKey {
        #[command(flatten)]
        device: DeviceArgs,
    },
}

/// Where a new key goes on a YubiKey, and how it is guarded. Defaults: P-256 in 9a (PIN once,
/// no touch: TLS), Ed25519 in 9c (PIN and touch on every signature: approvals).
#[derive(Debug, Clone, Args)]
pub struct PlacementArgs {
    /// YubiKey slot: 9a, 9c, 9d, 9e or a retired slot 82..95.
    #[arg(long, value_parser = parse_slot)]
    slot: Option<u8>,
    /// YubiKey PIN policy: never, once (per session) or always (every signature).
    #[arg(long, value_parser = parse_pin_policy)]
    pin_policy: Option<PinPolicy>,
    /// YubiKey touch policy: never, always or cached (15 seconds).
    #[arg(long, value_parser = parse_touch_policy)]
    touch_policy: Option<TouchPolicy>,
}

impl PlacementArgs {
    fn given(&self) -> bool {
        self.slot.is_some() || self.pin_policy.is_some() || self.touch_policy.is_some()
    }

    fn placement(&self, algorithm: Algorithm) -> Placement {
        let default = Placement::default_for(algorithm);
        Placement {
            slot: self.slot.unwrap_or(default.slot),
            pin: self.pin_policy.unwrap_or(default.pin),
            touch: self.touch_policy.unwrap_or(default.touch),
        }
    }
}

/// Where to look for devices.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// YubiKeys (PIV) through pcscd.
    #[arg(long, conflicts_with = "software")]
    piv: bool,
    /// A PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so or Yubico's libykcs11.so.
    #[arg(long, env = "GATEHOUSE_PKCS11_MODULE", conflicts_with = "software")]
    module: Option<PathBuf>,
    /// A software key file (development and the demo only: not for production).
    #[arg(long)]
    software: Option<PathBuf>,
}

impl BackendArgs {
    /// `--piv` wins over a module named in the environment.
    fn backend(&self) -> Result<Backend, Failure> {
        match (self.piv, &self.module, &self.software) {
            (true, _, _) => Ok(Backend::Piv),
            (false, Some(module), _) => Ok(Backend::Pkcs11 {
                module: module.clone(),
            }),
            (false, None, Some(file)) => Ok(Backend::Software { file: file.clone() }),
            (false, None, None) => Err(Failure {
                code: Exit::Usage,
                message: "say where the device is".into(),
                hint: Some(
                    "pass --piv for a YubiKey, --module PATH (or set GATEHOUSE_PKCS11_MODULE) for a PKCS#11 token, or --software FILE"
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
    /// The device's serial number (when there are several).
    #[arg(long)]
    serial: Option<String>,
    /// The token's label (when the module offers several tokens).
    #[arg(long)]
    token: Option<String>,
}

impl DeviceArgs {
    pub(crate) fn locator(&self) -> Result<Locator, Failure> {
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
                code: Exit::Device,
                message: "no matching device".into(),
                hint: Some("see `gatehouse device list`; a token must be initialised first".into()),
            }),
            _ => Err(Failure {
                code: Exit::Usage,
                message: format!("{} devices match", chosen.len()),
                hint: Some(
                    "choose one with --serial or --token (see `gatehouse device list`)".into(),
                ),
            }),
        }
    }

    pub(crate) fn open(&self, pin: &Pin) -> Result<Box<dyn Device>, Failure> {
        let locator = self.locator()?;
        gatehouse_keys::open(&locator, pin).map_err(device_failure)
    }

    /// The YubiKey these arguments name; anything else is refused with what to pass.
    fn piv_serial(&self, what: &str) -> Result<u32, Failure> {
        match self.locator()? {
            Locator::Piv { serial } => Ok(serial),
            other => Err(Failure {
                code: Exit::Usage,
                message: format!("{what} is for YubiKeys (PIV); {other} is not one"),
                hint: Some("pass --piv (and --serial N when several YubiKeys are present)".into()),
            }),
        }
    }

    /// The YubiKey these arguments name, opened with the PIN and, when given, the management key.
    fn open_piv(&self, what: &str) -> Result<Piv, Failure> {
        let serial = self.piv_serial(what)?;
        let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
        let mut piv = Piv::open(serial, &pin).map_err(device_failure)?;
        if let Some(key) = management_key("GATEHOUSE_PIV_MANAGEMENT_KEY")? {
            piv.set_management_key(&key);
        }
        Ok(piv)
    }
}

/// A management key (hex) from `variable`; none when the variable is unset.
fn management_key(variable: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, Failure> {
    let Ok(text) = std::env::var(variable) else {
        return Ok(None);
    };
    let text = zeroize::Zeroizing::new(text);
    hex::decode(text.trim())
        .map(|bytes| Some(zeroize::Zeroizing::new(bytes)))
        .map_err(|_| Failure {
            code: Exit::Usage,
            message: format!("{variable} is not hex"),
            hint: Some("give the management key as 48 hex digits (AES-192 or triple DES), 32 or 64 for AES-128/256".into()),
        })
}

fn parse_slot(text: &str) -> Result<u8, String> {
    u8::from_str_radix(text.trim_start_matches("0x"), 16)
        .ok()
        .filter(|slot| gatehouse_keys::piv::SLOTS.contains(slot))
        .ok_or_else(|| format!("{text:?}: use 9a, 9c, 9d, 9e or a retired slot 82..95"))
}

fn parse_pin_policy(text: &str) -> Result<PinPolicy, String> {
    match text {
        "never" => Ok(PinPolicy::Never),
        "once" => Ok(PinPolicy::Once),
        "always" => Ok(PinPolicy::Always),
        other => Err(format!("{other:?}: use never, once or always")),
    }
}

fn parse_touch_policy(text: &str) -> Result<TouchPolicy, String> {
    match text {
        "never" => Ok(TouchPolicy::Never),
        "always" => Ok(TouchPolicy::Always),
        "cached" => Ok(TouchPolicy::Cached),
        other => Err(format!("{other:?}: use never, always or cached")),
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

pub(crate) fn parse_id(text: &str) -> Result<Id, Failure> {
    hex::decode(text.trim())
        .map(Id::from_bytes)
        .map_err(|e| Failure {
            code: Exit::Usage,
            message: format!("{text:?} is not a key id: {e}"),
            hint: Some("key ids are hex, as `gatehouse device info` shows them".into()),
        })
}

/// A device error for people: the keys crate's message already says what to do next.
pub(crate) fn device_failure(e: Error) -> Failure {
    Failure {
        code: Exit::Device,
        message: e.to_string(),
        hint: None,
    }
}

/// Says, on standard error, that the device will blink for a touch before it signs with `id`
/// (a YubiKey slot whose touch policy asks for one).
pub(crate) fn ask_for_touch(
    device: &mut dyn gatehouse_keys::Device,
    id: &Id,
) -> Result<(), Failure> {
    if device.needs_touch(id).map_err(device_failure)? {
        eprintln!(
            "touch the YubiKey when it blinks: key {id} signs only after a touch (it waits about 15 seconds)"
        );
    }
    Ok(())
}

/// A PIN from `variable`, else a line of standard input; never echoed back, never logged.
pub(crate) fn pin(variable: &str, what: &str) -> Result<Pin, Failure> {
    secret_input(variable, what).map(|secret| Pin::new(secret.expose().to_owned()))
}

fn read_der(path: &std::path::Path, what: &str) -> Result<Vec<Vec<u8>>, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure {
        code: Exit::Usage,
        message: format!("cannot read the {what} {}: {e}", path.display()),
        hint: None,
    })?;
    gatehouse_keys::attestation::der_blocks(&bytes).map_err(|e| Failure {
        code: Exit::Attestation,
        message: format!("{} ({what}): {e}", path.display()),
        hint: None,
    })
}

fn one(mut blocks: Vec<Vec<u8>>, path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    if blocks.len() != 1 {
        return Err(Failure {
            code: Exit::Usage,
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
    use gatehouse_keys::attestation;
    let attestation = gatehouse_keys::evidence::Attestation {
        key_certificate: one(read_der(key_cert, "key certificate")?, key_cert)?,
        device_certificate: one(read_der(device_cert, "device certificate")?, device_cert)?,
    };
    let spki = one(read_der(public_key, "public key")?, public_key)?;
    let mut extra = Vec::new();
    for path in intermediates {
        extra.extend(read_der(path, "intermediate")?);
    }
    let anchors = anchors(roots, extra)?;
    match attestation::verify(&attestation, &spki, &anchors, now()) {
        Ok(v) => {
            print_verified(&v);
            Ok(())
        }
        Err(e) => Err(Failure {
            code: Exit::Attestation,
            message: format!("attestation REFUSED: {e}"),
            hint: None,
        }),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The trust anchors: the roots given (PEM files), else Yubico's pinned roots.
fn anchors(roots: &[PathBuf], intermediates: Vec<Vec<u8>>) -> Result<TrustAnchors, Failure> {
    if roots.is_empty() {
        let mut a = TrustAnchors::yubico();
        a.add_intermediates(intermediates);
        say!("trusting:    Yubico's PIV attestation roots (pinned by SHA-256)");
        return Ok(a);
    }
    let mut pinned = Vec::new();
    for path in roots {
        pinned.extend(read_der(path, "root")?);
    }
    say!(
        "trusting:    {} root(s) given with --root (NOT Yubico's)",
        pinned.len()
    );
    Ok(TrustAnchors::new(pinned, intermediates))
}

fn print_verified(v: &Verified) {
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
}

fn write_pem(path: &std::path::Path, label: &str, der: &[u8]) -> Result<(), Failure> {
    let text = pem::encode(&pem::Pem::new(label, der));
    std::fs::write(path, text).map_err(|e| Failure {
        code: Exit::Other,
        message: format!("cannot write {}: {e}", path.display()),
        hint: None,
    })
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
            placement,
        } => {
            if device.backend.piv {
                let mut piv = device.open_piv("keygen --piv")?;
                let placement = placement.placement(algorithm);
                let started = Instant::now();
                let key = piv
                    .generate_in(algorithm, placement)
                    .map_err(device_failure)?;
                say!(
                    "generated {} key in slot {} on {}",
                    key.algorithm(),
                    key.label,
                    piv
                );
                say!(
                    "policy:      PIN {}, touch {}",
                    format!("{:?}", placement.pin).to_lowercase(),
                    format!("{:?}", placement.touch).to_lowercase()
                );
                say!("public key:  {}", key.public_key);
                say!("took:        {:.1?}", started.elapsed());
                say!(
                    "attest it:   gatehouse device attest --piv --serial {} --key {}",
                    piv.info().serial,
                    key.id
                );
                return Ok(());
            }
            if placement.given() {
                return Err(Failure {
                    code: Exit::Usage,
                    message: "--slot, --pin-policy and --touch-policy are for YubiKeys (--piv)"
                        .into(),
                    hint: Some("a PKCS#11 token's PIN and touch rules are the token's own".into()),
                });
            }
            let label = label.ok_or_else(|| Failure {
                code: Exit::Usage,
                message: "give the new key a --label".into(),
                hint: Some(
                    "the label is how the key is found again in `gatehouse device info`".into(),
                ),
            })?;
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
        DeviceAction::Attest {
            device,
            key,
            root,
            save,
        } => {
            let id = parse_id(&key)?;
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = device.open(&pin)?;
            match opened.attestation(&id) {
                Ok(attestation) => {
                    if let Some(dir) = &save {
                        write_pem(
                            &dir.join(format!("attestation-{key}.pem")),
                            "CERTIFICATE",
                            &attestation.key_certificate,
                        )?;
                        write_pem(
                            &dir.join("attestation-f9.pem"),
                            "CERTIFICATE",
                            &attestation.device_certificate,
                        )?;
                        say!(
                            "saved:       attestation-{key}.pem and attestation-f9.pem in {}",
                            dir.display()
                        );
                    }
                    let spki = opened.public_key(&id).map_err(device_failure)?.spki_der();
                    let anchors = anchors(&root, Vec::new())?;
                    let verified = gatehouse_keys::Policy::production()
                        .accept_attested(&attestation, &spki, &anchors, now())
                        .map_err(|e| Failure {
                            code: Exit::Attestation,
                            message: format!("attestation REFUSED: {e}"),
                            hint: Some("do not enrol this key: it cannot be shown to have been born on this device".into()),
                        })?;
                    print_verified(&verified);
                    if verified
                        .serial
                        .is_some_and(|s| s.to_string() != opened.info().serial)
                    {
                        return Err(Failure {
                            code: Exit::Attestation,
                            message: format!(
                                "attestation REFUSED: it names serial {:?}, but the device answering is {}",
                                verified.serial,
                                opened.info().serial
                            ),
                            hint: Some("do not enrol this key".into()),
                        });
                    }
                }
                Err(Error::AttestationUnavailable { .. }) => {
                    print_evidence(&opened.evidence(&id).map_err(device_failure)?);
                }
                Err(e) => return Err(device_failure(e)),
            }
        }
        DeviceAction::Csr {
            device,
            key,
            name,
            out,
        } => {
            let id = parse_id(&key)?;
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = device.open(&pin)?;
            ask_for_touch(opened.as_mut(), &id)?;
            let request = gatehouse_keys::tls::certificate_request(opened.as_mut(), &id, &name)
                .map_err(device_failure)?;
            std::fs::write(&out, request).map_err(|e| Failure {
                code: Exit::Other,
                message: format!("cannot write {}: {e}", out.display()),
                hint: None,
            })?;
            say!(
                "wrote a certificate signing request for key {id} on {} to {}",
                opened.info(),
                out.display()
            );
            say!(
                "next:        gatehouse-server registry enrol --name {name} --role ... --csr {} --out {name}.pem",
                out.display()
            );
        }
        DeviceAction::SignTest { device, key } => {
            let id = parse_id(&key)?;
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut opened = device.open(&pin)?;
            let public = opened.public_key(&id).map_err(device_failure)?;
            let mut challenge = b"gatehouse sign-test ".to_vec();
            challenge.extend_from_slice(&Id::random().as_bytes()[..16]);
            ask_for_touch(opened.as_mut(), &id)?;
            let started = Instant::now();
            let signature = opened.sign(&id, &challenge).map_err(device_failure)?;
            let took = started.elapsed();
            public.verify(&challenge, &signature).map_err(|e| Failure {
                code: Exit::Device,
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
        DeviceAction::ChangePuk { device } => {
            let mut piv = device.open_piv("change-puk")?;
            let old = pin("GATEHOUSE_DEVICE_PUK", "current PUK")?;
            let new = pin("GATEHOUSE_DEVICE_NEW_PUK", "new PUK")?;
            piv.change_puk(&old, &new).map_err(device_failure)?;
            say!("PUK changed on {piv}");
        }
        DeviceAction::UnblockPin { device } => {
            let serial = device.piv_serial("unblock-pin")?;
            let puk = pin("GATEHOUSE_DEVICE_PUK", "PUK")?;
            let new = pin("GATEHOUSE_DEVICE_NEW_PIN", "new PIN")?;
            let piv = Piv::unblock(serial, &puk, &new).map_err(device_failure)?;
            say!("PIN unblocked and set on {piv}");
        }
        DeviceAction::ChangeManagementKey { device } => {
            let mut piv = device.open_piv("change-management-key")?;
            let new = management_key("GATEHOUSE_PIV_NEW_MANAGEMENT_KEY")?.ok_or_else(|| Failure {
                code: Exit::Usage,
                message: "set GATEHOUSE_PIV_NEW_MANAGEMENT_KEY to the new management key (hex)".into(),
                hint: Some("keep it somewhere safe: without it no new key can be generated on this YubiKey".into()),
            })?;
            piv.change_management_key(&new).map_err(device_failure)?;
            say!("management key changed on {piv}");
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
