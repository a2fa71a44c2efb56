//! `gatehouse device` against SoftHSM2 (a token in a private directory, initialised with
//! softhsm2-util) and a software key file.

use crate::{assert_failure, text};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");
pub(crate) const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

pub(crate) struct Hsm {
    dir: tempfile::TempDir,
}

impl Hsm {
    pub(crate) fn new(label: &str, pin: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("tokens")).expect("tokens dir");
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .expect("config");
        let hsm = Self { dir };
        let out = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                "so-pin-1234",
                "--pin",
                pin,
            ])
            .env("SOFTHSM2_CONF", hsm.conf())
            .output()
            .expect("softhsm2-util runs (Debian package softhsm2)");
        assert!(
            out.status.success(),
            "token initialised: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        hsm
    }

    pub(crate) fn conf(&self) -> std::path::PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    pub(crate) fn run(&self, pins: &[(&str, &str)], args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["device"])
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .env("GATEHOUSE_PKCS11_MODULE", MODULE)
            .env_remove("GATEHOUSE_DEVICE_PIN")
            .env_remove("GATEHOUSE_DEVICE_NEW_PIN")
            .envs(pins.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("gatehouse runs")
    }
}

/// The key id `keygen` printed ("generated <alg> key <id> on ...").
pub(crate) fn key_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .split_whitespace()
        .skip_while(|w| *w != "key")
        .nth(1)
        .unwrap_or_else(|| panic!("keygen names the key id: {stdout}"))
        .to_owned()
}

#[test]
fn a_pkcs11_token_lists_generates_signs_and_changes_its_pin() {
    let hsm = Hsm::new("officer-cli", "111111");
    let pin = [("GATEHOUSE_DEVICE_PIN", "111111")];

    let list = hsm.run(&[], &["list"]);
    assert!(list.status.success(), "list works: {}", text(&list));
    assert!(
        text(&list).contains("\"officer-cli\""),
        "the token is listed: {}",
        text(&list)
    );

    for algorithm in ["ed25519", "p256", "secp256k1"] {
        let keygen = hsm.run(
            &pin,
            &["keygen", "--algorithm", algorithm, "--label", algorithm],
        );
        assert!(
            keygen.status.success(),
            "{algorithm} keygen: {}",
            text(&keygen)
        );
        assert!(
            text(&keygen).contains("born on the token and cannot leave it"),
            "{algorithm}: the module's attributes are read back: {}",
            text(&keygen)
        );
        let id = key_id(&keygen);
        let signed = hsm.run(&pin, &["sign-test", "--key", &id]);
        assert!(
            signed.status.success() && text(&signed).contains("verified on this computer"),
            "{algorithm}: the device's signature verifies here: {}",
            text(&signed)
        );
    }
    let info = hsm.run(&pin, &["info"]);
    assert!(info.status.success(), "info works: {}", text(&info));
    assert_eq!(
        String::from_utf8_lossy(&info.stdout)
            .matches("\nkey ")
            .count(),
        3,
        "all three keys are listed: {}",
        text(&info)
    );

    let wrong = hsm.run(&[("GATEHOUSE_DEVICE_PIN", "999999")], &["info"]);
    assert_failure(
        &wrong,
        13,
        "PIN incorrect",
        "a wrong PIN is a device failure",
    );
    assert!(!text(&wrong).contains("999999"), "the PIN is never printed");

    let changed = hsm.run(
        &[
            ("GATEHOUSE_DEVICE_PIN", "111111"),
            ("GATEHOUSE_DEVICE_NEW_PIN", "222222"),
        ],
        &["change-pin"],
    );
    assert!(
        changed.status.success(),
        "change-pin works: {}",
        text(&changed)
    );
    assert_eq!(
        hsm.run(&pin, &["info"]).status.code(),
        Some(13),
        "the old PIN no longer opens it"
    );
    assert!(
        hsm.run(&[("GATEHOUSE_DEVICE_PIN", "222222")], &["info"])
            .status
            .success(),
        "the new one does"
    );

    let unknown = hsm.run(&pin, &["sign-test", "--key", "zz"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "a malformed key id is a usage error"
    );
}

#[test]
fn a_missing_module_and_no_backend_are_clear_errors() {
    let hsm = Hsm::new("unused", "111111");
    let missing = Command::new(BIN)
        .args(["device", "list", "--module", "/nonexistent/libpkcs11.so"])
        .env("SOFTHSM2_CONF", hsm.conf())
        .output()
        .expect("gatehouse runs");
    assert_eq!(missing.status.code(), Some(13), "{}", text(&missing));
    assert!(
        text(&missing).contains("/nonexistent/libpkcs11.so"),
        "the path is named"
    );
    let none = Command::new(BIN)
        .args(["device", "list"])
        .env_remove("GATEHOUSE_PKCS11_MODULE")
        .output()
        .expect("gatehouse runs");
    assert_eq!(
        none.status.code(),
        Some(2),
        "where to look must be said: {}",
        text(&none)
    );
}

#[test]
fn a_software_key_file_says_it_is_not_for_production() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("dev-keys.age");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(["device"])
            .args(args)
            .args(["--software", file.to_str().expect("utf-8")])
            .env("GATEHOUSE_DEVICE_PIN", "a development passphrase")
            .env_remove("GATEHOUSE_PKCS11_MODULE")
            .output()
            .expect("gatehouse runs")
    };
    let keygen = run(&["keygen", "--algorithm", "ed25519", "--label", "dev"]);
    assert!(
        keygen.status.success(),
        "keygen creates the file: {}",
        text(&keygen)
    );
    assert!(Path::new(&file).exists(), "the key file exists");
    assert!(
        text(&keygen).contains("not for production"),
        "{}",
        text(&keygen)
    );
    let id = key_id(&keygen);
    let attest = run(&["attest", "--key", &id]);
    assert!(
        attest.status.success() && text(&attest).contains("not for production"),
        "a software key has no evidence, and says so: {}",
        text(&attest)
    );
    let signed = run(&["sign-test", "--key", &id]);
    assert!(signed.status.success(), "and signs: {}", text(&signed));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let hsm = Hsm::new("piped", "111111");
    // `true` exits at once, so the listing is written into a pipe nobody reads.
    let out = Command::new("sh")
        .args(["-c", &format!("{BIN} device list | true")])
        .env("SOFTHSM2_CONF", hsm.conf())
        .env("GATEHOUSE_PKCS11_MODULE", MODULE)
        .output()
        .expect("sh runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "no panic when the reader has gone: {}",
        text(&out)
    );
}

/// A YubiKey-shaped attestation chain (firmware 5.7.1, serial 12345678, PIN once, touch always) in
/// files: root.pem, f9.pem, key.pem, key.spki (DER) and other.spki (another key).
fn attestation_files() -> tempfile::TempDir {
    use gatehouse_keys::testing::{DeviceFacts, attestation_chain};
    let facts = DeviceFacts {
        firmware: [5, 7, 1],
        serial: 12_345_678,
        policy: [2, 2],
        form_factor: 3,
    };
    let chain = attestation_chain("Test PIV Root CA", false, facts);
    let other = attestation_chain("Other", false, facts);
    let dir = tempfile::tempdir().expect("dir");
    for (name, contents) in ["root.pem", "f9.pem", "key.pem"].iter().zip(&chain.pem) {
        std::fs::write(dir.path().join(name), contents).expect("write");
    }
    std::fs::write(dir.path().join("key.spki"), &chain.device_spki).expect("write");
    std::fs::write(dir.path().join("other.spki"), &other.device_spki).expect("write");
    dir
}

fn verify_attestation(dir: &Path, public_key: &str, roots: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["device", "verify-attestation", "--key-cert"])
        .arg(dir.join("key.pem"))
        .arg("--device-cert")
        .arg(dir.join("f9.pem"))
        .arg("--public-key")
        .arg(dir.join(public_key));
    for r in roots {
        cmd.arg("--root").arg(dir.join(r));
    }
    cmd.output().expect("gatehouse runs")
}

#[test]
fn verify_attestation_accepts_a_good_chain_and_refuses_the_rest() {
    let files = attestation_files();
    let dir = files.path();
    let ok = verify_attestation(dir, "key.spki", &["root.pem"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for line in [
        "attestation: VERIFIED",
        "serial:      12345678",
        "firmware:    5.7.1",
        "PIN policy:  once",
        "touch:       always",
        "NOT Yubico's",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }

    // Against Yubico's pinned roots (the default), a test chain is refused.
    let yubico = verify_attestation(dir, "key.spki", &[]);
    assert_eq!(yubico.status.code(), Some(14));
    assert!(
        String::from_utf8_lossy(&yubico.stderr).contains("does not reach a trusted Yubico root")
    );
    // The attestation of another key.
    let other = verify_attestation(dir, "other.spki", &["root.pem"]);
    assert_eq!(other.status.code(), Some(14));
    assert!(String::from_utf8_lossy(&other.stderr).contains("different key"));
    // A damaged certificate file.
    std::fs::write(
        dir.join("f9.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let bad = verify_attestation(dir, "key.spki", &["root.pem"]);
    assert_eq!(bad.status.code(), Some(14));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("cannot be read"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
