//! Test support (feature `test-support`): a private SoftHSM2 token directory per process, and
//! generated YubiKey-shaped attestation chains ([`attestation_chain`]).
//!
//! SoftHSM2 reads its configuration from `SOFTHSM2_CONF` once, at `C_Initialize`, and a process
//! initialises a module once. Setting an environment variable inside a running Rust 2024 program
//! is `unsafe` (other threads may read the environment), and this workspace forbids `unsafe`.
//! So a test or bench binary with its own `main` calls [`rerun_in_softhsm_sandbox`] first: the
//! process starts itself again with `SOFTHSM2_CONF` pointing at a fresh temporary token
//! directory, waits, passes on the exit code and removes the directory. Tests inside share
//! that one directory (and one `C_Initialize`), and keep apart by using distinct token labels.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use crate::device::Locator;
use crate::pin::Pin;
use crate::pkcs11::{Module, Selector, Token};

/// Where Debian's `softhsm2` package installs the module.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Where Debian's `ykcs11` package installs Yubico's PKCS#11 module.
pub const YKCS11_MODULE: &str = "/usr/lib/x86_64-linux-gnu/libykcs11.so.2";

/// Yubico's PKCS#11 module: `GATEHOUSE_YKCS11_MODULE` if set, else Debian's path.
pub fn ykcs11_module() -> PathBuf {
    std::env::var_os("GATEHOUSE_YKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(YKCS11_MODULE))
}

/// The SO PIN of tokens made by [`token`].
pub const SO_PIN: &str = "so-pin-1234";

/// The user PIN of tokens made by [`token`].
pub const USER_PIN: &str = "user-pin-1234";

/// Set (to the sandbox directory) in the process started inside the sandbox.
const SANDBOX: &str = "GATEHOUSE_SOFTHSM_SANDBOX";

/// The SoftHSM2 module: `GATEHOUSE_SOFTHSM_MODULE` if set, else Debian's path.
pub fn softhsm_module() -> PathBuf {
    std::env::var_os("GATEHOUSE_SOFTHSM_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SOFTHSM_MODULE))
}

/// Inside the sandbox: `None`, carry on. Outside: runs this program again, with the same
/// arguments, inside a fresh sandbox and returns its exit code for `main` to return.
pub fn rerun_in_softhsm_sandbox() -> Option<ExitCode> {
    if std::env::var_os(SANDBOX).is_some() {
        return None;
    }
    let directory = tempfile::Builder::new()
        .prefix("gatehouse-softhsm-")
        .tempdir()
        .expect("a temporary directory for SoftHSM2 tokens can be created");
    let tokens = directory.path().join("tokens");
    std::fs::create_dir(&tokens).expect("the token directory can be created");
    let config = directory.path().join("softhsm2.conf");
    std::fs::write(
        &config,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .expect("the SoftHSM2 configuration can be written");
    let program = std::env::current_exe().expect("the running program's path is known");
    let status = Command::new(program)
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &config)
        .env(SANDBOX, directory.path())
        .status()
        .expect("the program can start itself again inside the SoftHSM2 sandbox");
    Some(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The sandbox's SoftHSM2 module. Panics outside the sandbox, where it would touch the
/// machine's real token directory.
pub fn softhsm() -> Arc<Module> {
    assert!(
        std::env::var_os(SANDBOX).is_some(),
        "SoftHSM2 tests must run inside rerun_in_softhsm_sandbox(), not against the machine's tokens"
    );
    Module::load(softhsm_module()).expect("the SoftHSM2 module loads (apt-get install softhsm2)")
}

/// A fresh token labelled `label` (unique per test), opened with [`USER_PIN`].
pub fn token(label: &str) -> Token {
    let module = softhsm();
    module
        .initialise_token(label, &Pin::new(SO_PIN), &Pin::new(USER_PIN))
        .expect("SoftHSM2 initialises a token");
    module
        .open(&Selector::Label(label.to_owned()), &Pin::new(USER_PIN))
        .expect("the new token opens with its user PIN")
}

/// The locator of the token labelled `label` in the sandbox's module.
pub fn locator(label: &str) -> Locator {
    Locator::Pkcs11 {
        module: softhsm_module(),
        serial: String::new(),
        label: label.to_owned(),
    }
}

/// A generated attestation chain shaped like a YubiKey's: root, optionally one intermediate (the
/// 5.7.4 layout), the slot f9 certificate (which issues without CA constraints, as Yubico's does),
/// and a key certificate with Yubico's extensions.
#[derive(Debug)]
pub struct AttestationChain {
    /// The root (DER); trust it with `TrustAnchors::new`.
    pub root: Vec<u8>,
    /// The intermediate (DER), when asked for.
    pub intermediate: Option<Vec<u8>>,
    /// The key and f9 certificates, as a device returns them.
    pub attestation: crate::evidence::Attestation,
    /// The attested key's SubjectPublicKeyInfo (DER), as the device would report it.
    pub device_spki: Vec<u8>,
    /// PEM of root, f9 and key certificate, for tools that read files.
    pub pem: [String; 3],
}

/// Yubico's extension contents for [`attestation_chain`]: firmware (3 bytes), serial, PIN and
/// touch policy codes, form factor.
#[derive(Debug, Clone, Copy)]
pub struct DeviceFacts {
    /// Firmware major, minor, patch.
    pub firmware: [u8; 3],
    /// Serial number.
    pub serial: u32,
    /// PIN policy code (1 never, 2 once, 3 always) and touch policy code (1 never, 2 always, 3 cached).
    pub policy: [u8; 2],
    /// Form factor code.
    pub form_factor: u8,
}

/// Generates a chain under a new root named `root_name`, attesting a new P-256 key.
#[allow(clippy::missing_panics_doc)] // test support: generation failures are test failures
pub fn attestation_chain(
    root_name: &str,
    with_intermediate: bool,
    facts: DeviceFacts,
) -> AttestationChain {
    let device_key = rcgen::KeyPair::generate().expect("a P-256 key");
    attestation_chain_of(root_name, with_intermediate, facts, &device_key)
}

/// Generates a chain (no intermediate) under a new root named `root_name`, attesting a new
/// Ed25519 key, as a YubiKey 5.7 does for a ledger key; the key's 32 raw bytes come with it.
#[allow(clippy::missing_panics_doc)] // test support: generation failures are test failures
pub fn ed25519_attestation_chain(
    root_name: &str,
    facts: DeviceFacts,
) -> (AttestationChain, Vec<u8>) {
    use rcgen::PublicKeyData as _;
    let device_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("an Ed25519 key");
    let chain = attestation_chain_of(root_name, false, facts, &device_key);
    (chain, device_key.der_bytes().to_vec())
}

#[allow(clippy::missing_panics_doc)]
fn attestation_chain_of(
    root_name: &str,
    with_intermediate: bool,
    facts: DeviceFacts,
    device_key: &rcgen::KeyPair,
) -> AttestationChain {
    use rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
        PublicKeyData as _,
    };
    let named = |cn: &str, ca: bool| {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("certificate parameters");
        p.distinguished_name.push(DnType::CommonName, cn);
        if ca {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        p
    };
    let key = || KeyPair::generate().expect("a P-256 key");
    let root_key = key();
    let root_params = named(root_name, true);
    let root = root_params
        .self_signed(&root_key)
        .expect("root certificate");
    let root_issuer = Issuer::new(root_params, root_key);
    let (f9_parent, intermediate) = if with_intermediate {
        let k = key();
        let p = named("Test PIV Attestation B 1", true);
        let cert = p
            .signed_by(&k, &root_issuer)
            .expect("intermediate certificate");
        (Issuer::new(p, k), Some(cert.der().to_vec()))
    } else {
        (root_issuer, None)
    };
    let f9_key = key();
    let f9_params = named("Yubico PIV Attestation", false);
    let f9 = f9_params
        .signed_by(&f9_key, &f9_parent)
        .expect("f9 certificate");
    let f9_issuer = Issuer::new(f9_params, f9_key);
    let mut leaf = named("YubiKey PIV Attestation 9c", false);
    let serial = facts.serial.to_be_bytes();
    let oid = |last: u64| [1, 3, 6, 1, 4, 1, 41482, 3, last];
    leaf.custom_extensions = vec![
        CustomExtension::from_oid_content(&oid(3), facts.firmware.to_vec()),
        CustomExtension::from_oid_content(&oid(7), [&[0x02, 0x05, 0x00][..], &serial].concat()),
        CustomExtension::from_oid_content(&oid(8), facts.policy.to_vec()),
        CustomExtension::from_oid_content(&oid(9), vec![facts.form_factor]),
    ];
    let leaf = leaf
        .signed_by(device_key, &f9_issuer)
        .expect("key certificate");
    AttestationChain {
        root: root.der().to_vec(),
        intermediate,
        attestation: crate::evidence::Attestation {
            key_certificate: leaf.der().to_vec(),
            device_certificate: f9.der().to_vec(),
        },
        device_spki: device_key.subject_public_key_info(),
        pem: [root.pem(), f9.pem(), leaf.pem()],
    }
}

/// A virtual PIV card (`tools/virtual-piv`) in a reader of its own, for one test. Dropping it
/// (or [`VirtualCard::remove`]) pulls the card out.
#[derive(Debug)]
pub struct VirtualCard {
    child: Option<std::process::Child>,
    /// The card's serial number.
    pub serial: u32,
    /// The PC/SC reader it sits in.
    pub reader: String,
    state: tempfile::TempDir,
}

/// The factory PIN and PUK of a virtual card (and of a YubiKey).
pub const PIV_PIN: &str = "123456";
/// See [`PIV_PIN`].
pub const PIV_PUK: &str = "12345678";

/// The `gatehouse-virtual-piv` binary: `$GATEHOUSE_VIRTUAL_PIV`, else in the shared target
/// directory next to this program (where `./scripts/test` builds it: a release benchmark finds
/// the debug build).
pub fn virtual_piv_binary() -> PathBuf {
    find_virtual_piv_binary().unwrap_or_else(|| {
        panic!(
            "gatehouse-virtual-piv is not built: run `cargo build --manifest-path tools/virtual-piv/Cargo.toml` (./scripts/test does) or set GATEHOUSE_VIRTUAL_PIV"
        )
    })
}

/// Whether the virtual card can be used here: its binary is built and its readers run.
pub fn virtual_piv_available() -> bool {
    find_virtual_piv_binary().is_some() && virtual_piv_dir().join("reader.conf.d").is_dir()
}

fn find_virtual_piv_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GATEHOUSE_VIRTUAL_PIV") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    // target/debug/deps/<test>, target/debug/<bench>, target/release/deps/<bench>
    // → target/debug/gatehouse-virtual-piv
    exe.ancestors()
        .skip(1)
        .take(3)
        .flat_map(|dir| {
            [
                dir.join("gatehouse-virtual-piv"),
                dir.join("debug").join("gatehouse-virtual-piv"),
            ]
        })
        .find(|candidate| candidate.is_file())
}

/// The virtual readers' run directory: `$GATEHOUSE_VIRTUAL_PIV_DIR`, else a fixed place in the
/// temporary directory (one pcscd per machine serves every test).
pub fn virtual_piv_dir() -> PathBuf {
    std::env::var_os("GATEHOUSE_VIRTUAL_PIV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gatehouse-virtual-piv"))
}

impl VirtualCard {
    /// Starts the virtual readers if needed and inserts a fresh card, which waits for a touch as
    /// long as a YubiKey does (15 seconds).
    pub fn insert() -> Self {
        Self::insert_with_touch_timeout(crate::piv::TOUCH_TIMEOUT)
    }

    /// [`VirtualCard::insert`], with a card that waits `touch_timeout` for a touch (a test of a
    /// missed touch need not wait 15 seconds).
    #[allow(clippy::missing_panics_doc)] // test support: a card that cannot start fails the test
    pub fn insert_with_touch_timeout(touch_timeout: std::time::Duration) -> Self {
        let binary = virtual_piv_binary();
        let dir = virtual_piv_dir();
        let started = Command::new(&binary)
            .arg("start")
            .arg("--dir")
            .arg(&dir)
            .output()
            .expect("gatehouse-virtual-piv runs");
        assert!(
            started.status.success(),
            "the virtual readers start: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        let state = tempfile::Builder::new()
            .prefix("gatehouse-virtual-card-")
            .tempdir()
            .expect("a directory for the card's state");
        let mut child = Command::new(&binary)
            .arg("card")
            .arg("--dir")
            .arg(&dir)
            .arg("--state")
            .arg(state.path())
            .arg("--touch-timeout")
            .arg(touch_timeout.as_secs_f64().to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the virtual card starts");
        let stdout = child.stdout.take().expect("the card's output is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the virtual card did not become ready within 60 s (is another pcscd running?)"
                )
            });
        let rest = line
            .strip_prefix("ready serial=")
            .unwrap_or_else(|| panic!("unexpected card output: {line}"));
        let (serial, reader) = rest.split_once(" reader=").expect("serial and reader");
        let card = Self {
            child: Some(child),
            serial: serial.parse().expect("a numeric serial"),
            reader: reader.to_owned(),
            state,
        };
        // The card is ready when pcscd shows it present in its reader: pcscd marks a new card
        // present only after powering it up, a moment after the reader's first contact. This
        // watches the reader's state without connecting, so it disturbs no other card.
        let context = pcsc::Context::establish(pcsc::Scope::User).expect("pcscd answers");
        let name = std::ffi::CString::new(card.reader.clone()).expect("a reader name");
        let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match context.get_status_change(std::time::Duration::from_millis(500), &mut states) {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => panic!("watching reader {}: {e}", card.reader),
            }
            if states[0].event_state().contains(pcsc::State::PRESENT) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pcscd did not show the virtual card {} within 10 s",
                card.serial
            );
            states[0].sync_current_state();
        }
        card
    }

    /// The card's locator.
    pub fn locator(&self) -> Locator {
        Locator::Piv {
            serial: self.serial,
        }
    }

    /// The card's test attestation root (DER).
    #[allow(clippy::missing_panics_doc)] // test support
    pub fn attestation_root(&self) -> Vec<u8> {
        let pem = std::fs::read(self.state.path().join("attestation-root.pem"))
            .expect("the card wrote its attestation root");
        crate::attestation::der_blocks(&pem)
            .expect("the root is PEM")
            .remove(0)
    }

    /// From another thread: after `after`, touches the card as soon as it blinks for a touch
    /// (`gatehouse-virtual-piv touch`, which waits up to 10 seconds for the blinking). The
    /// thread answers whether the card felt the touch, or why not.
    pub fn touch(&self, after: std::time::Duration) -> std::thread::JoinHandle<Result<(), String>> {
        let mut command = Command::new(virtual_piv_binary());
        command
            .arg("touch")
            .arg("--state")
            .arg(self.state.path())
            .arg("--wait")
            .arg("10");
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let output = command.output().map_err(|e| e.to_string())?;
            if output.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
            }
        })
    }

    /// Whether the card blinks, waiting for a touch, now.
    pub fn is_blinking(&self) -> bool {
        self.state.path().join("blinking").exists()
    }

    /// Pulls the card out of its reader.
    pub fn remove(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        self.remove();
    }
}
