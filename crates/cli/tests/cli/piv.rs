//! `gatehouse device --piv` and a profile whose TLS key is on a YubiKey, against the virtual PIV
//! card and a live gatehouse-server: keygen in 9a, attest (verified against the card's root,
//! refused against Yubico's), a certificate signing request, enrolment, `profile add
//! --device-key`, whoami with the right and a wrong PIN, the PUK unblocking a blocked PIN, and
//! the card pulled.

use crate::{assert_failure, text};
use std::process::{Command, Output, Stdio};

use gatehouse_keys::testing::{PIV_PIN, PIV_PUK, VirtualCard};
use gatehouse_protocol::Role;
use gatehouse_server::testing::{Backend, TestDeployment};
use rustls::pki_types::CertificateSigningRequestDer;
use rustls::pki_types::pem::PemObject as _;

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

fn gatehouse(config_dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("GATEHOUSE_CONFIG_DIR", config_dir)
        .env_remove("GATEHOUSE_PKCS11_MODULE")
        .env_remove("GATEHOUSE_DEVICE_PIN")
        .env_remove("GATEHOUSE_PIV_MANAGEMENT_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("gatehouse runs")
}

// Two workers: the test body runs the CLI as a blocking child process while the server serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yubikey_holds_the_profiles_tls_key_from_keygen_to_removal() {
    let mut card = VirtualCard::insert();
    let serial = card.serial.to_string();
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let dir = deployment.dir.path().to_owned();
    let config = dir.join("cli-config");
    let pin = [("GATEHOUSE_DEVICE_PIN", PIV_PIN)];
    let on_card = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["--piv".to_owned(), "--serial".to_owned(), serial.clone()]);
        all
    };
    let run = |env: &[(&str, &str)], args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gatehouse(&config, env, &args)
    };

    let listed = gatehouse(&config, &[], &["device", "list", "--piv"]);
    assert!(
        listed.status.success()
            && text(&listed).contains(&serial)
            && text(&listed).contains("YubiKey 5.7.1"),
        "the card is listed with its serial and model, no PIN needed: {}",
        text(&listed)
    );

    let keygen = run(&pin, on_card(&["device", "keygen", "--algorithm", "p256"]));
    assert!(
        keygen.status.success()
            && text(&keygen).contains("in slot 9a")
            && text(&keygen).contains("PIN once, touch never"),
        "a P-256 key goes to 9a by default, PIN once, no touch: {}",
        text(&keygen)
    );
    let ed = run(
        &pin,
        on_card(&["device", "keygen", "--algorithm", "ed25519", "--slot", "9c"]),
    );
    assert!(
        ed.status.success()
            && text(&ed).contains("Ed25519")
            && text(&ed).contains("in slot 9c")
            && text(&ed).contains("PIN always, touch always"),
        "an Ed25519 key (Hedera) goes to 9c, PIN and touch every time: {}",
        text(&ed)
    );

    let root = dir.join("virtual-root.der");
    std::fs::write(&root, card.attestation_root()).expect("write the card's root");
    let attest = run(
        &pin,
        on_card(&[
            "device",
            "attest",
            "--key",
            "9a",
            "--root",
            root.to_str().expect("utf-8"),
            "--save",
            dir.to_str().expect("utf-8"),
        ]),
    );
    assert!(
        attest.status.success()
            && text(&attest).contains("VERIFIED")
            && text(&attest).contains(&format!("serial:      {serial}")),
        "the card's attestation verifies against its root and names its serial: {}",
        text(&attest)
    );
    assert!(
        dir.join("attestation-9a.pem").is_file() && dir.join("attestation-f9.pem").is_file(),
        "the certificates were saved"
    );
    let yubico = run(&pin, on_card(&["device", "attest", "--key", "9a"]));
    assert_eq!(
        yubico.status.code(),
        Some(14),
        "against Yubico's pinned roots the virtual card is refused: {}",
        text(&yubico)
    );
    assert!(text(&yubico).contains("REFUSED"), "{}", text(&yubico));

    let csr = dir.join("carol.csr");
    let made = run(
        &pin,
        on_card(&[
            "device",
            "csr",
            "--key",
            "9a",
            "--name",
            "carol",
            "--out",
            csr.to_str().expect("utf-8"),
        ]),
    );
    assert!(
        made.status.success(),
        "the card signs a certificate signing request: {}",
        text(&made)
    );
    let request = CertificateSigningRequestDer::from_pem_file(&csr).expect("a PEM request");
    let (cert, _) = deployment
        .enrol_request("carol", &[Role::Officer], request.as_ref())
        .await;
    let server = deployment.start().await;

    let url = format!("https://localhost:{}", server.addr.port());
    let added = run(
        &[],
        on_card(&[
            "profile",
            "add",
            "--name",
            "carol",
            "--server",
            &url,
            "--ca",
            deployment.ca_cert().to_str().expect("utf-8"),
            "--cert",
            cert.to_str().expect("utf-8"),
            "--device-key",
            "9A",
        ]),
    );
    assert!(
        added.status.success(),
        "a profile with the key on the card: {}",
        text(&added)
    );
    let shown = gatehouse(&config, &[], &["profile", "show", "carol"]);
    assert!(
        text(&shown).contains(&format!("device: YubiKey (PIV) serial {serial}, key 9a")),
        "the profile says where its key is: {}",
        text(&shown)
    );

    let me = gatehouse(&config, &pin, &["whoami", "--profile", "carol"]);
    assert!(
        me.status.success() && text(&me).contains("name:        carol"),
        "whoami signs the handshake on the card: {}",
        text(&me)
    );

    // Three wrong PINs: two with tries left, then blocked; the PUK unblocks with a new PIN.
    for tries in ["2", "1"] {
        let wrong = gatehouse(
            &config,
            &[("GATEHOUSE_DEVICE_PIN", "000000")],
            &["whoami", "--profile", "carol"],
        );
        assert_eq!(
            wrong.status.code(),
            Some(13),
            "a wrong PIN is a device failure: {}",
            text(&wrong)
        );
        assert!(
            text(&wrong).contains(&format!("{tries} tries left"))
                || text(&wrong).contains(&format!("{tries} try left")),
            "with the tries left ({tries}): {}",
            text(&wrong)
        );
    }
    let blocked = gatehouse(
        &config,
        &[("GATEHOUSE_DEVICE_PIN", "000000")],
        &["whoami", "--profile", "carol"],
    );
    assert!(
        text(&blocked).contains("PUK"),
        "a blocked PIN points at the PUK: {}",
        text(&blocked)
    );
    let unblocked = run(
        &[
            ("GATEHOUSE_DEVICE_PUK", PIV_PUK),
            ("GATEHOUSE_DEVICE_NEW_PIN", "246810"),
        ],
        on_card(&["device", "unblock-pin"]),
    );
    assert!(
        unblocked.status.success(),
        "the PUK unblocks the PIN: {}",
        text(&unblocked)
    );
    let again = gatehouse(
        &config,
        &[("GATEHOUSE_DEVICE_PIN", "246810")],
        &["whoami", "--profile", "carol"],
    );
    assert!(
        again.status.success(),
        "the new PIN connects: {}",
        text(&again)
    );

    card.remove();
    let gone = gatehouse(
        &config,
        &[("GATEHOUSE_DEVICE_PIN", "246810")],
        &["whoami", "--profile", "carol"],
    );
    assert_eq!(
        gone.status.code(),
        Some(13),
        "with the card pulled, connecting is a device failure: {}",
        text(&gone)
    );
    assert!(
        text(&gone).contains(&format!("YubiKey with serial {serial}")),
        "naming the missing YubiKey: {}",
        text(&gone)
    );
    server.shutdown().await.expect("clean shutdown");
}

/// A key whose slot asks for a touch: the CLI says to touch before it signs, a missed touch is
/// its own error (exit 13) saying what to do, and a touch while the card blinks signs.
#[test]
fn sign_test_asks_for_the_touch_and_says_when_it_was_missed() {
    let card = VirtualCard::insert_with_touch_timeout(std::time::Duration::from_secs(2));
    let serial = card.serial.to_string();
    let config = tempfile::tempdir().expect("a config dir");
    let pin = [("GATEHOUSE_DEVICE_PIN", PIV_PIN)];
    let on_card = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--piv", "--serial", &serial]);
        gatehouse(config.path(), &pin, &all)
    };
    let keygen = on_card(&[
        "device",
        "keygen",
        "--algorithm",
        "p256",
        "--slot",
        "9c",
        "--touch-policy",
        "always",
    ]);
    assert!(
        keygen.status.success() && text(&keygen).contains("touch always"),
        "keygen with touch always: {}",
        text(&keygen)
    );

    let missed = on_card(&["device", "sign-test", "--key", "9c"]);
    assert_failure(
        &missed,
        13,
        "touch the YubiKey when it blinks",
        "the CLI says to touch before signing",
    );
    assert_failure(
        &missed,
        13,
        "was not touched in time",
        "and a missed touch is named as such",
    );

    let finger = card.touch(std::time::Duration::ZERO);
    let signed = on_card(&["device", "sign-test", "--key", "9c"]);
    finger
        .join()
        .expect("the finger")
        .expect("the card felt the touch");
    assert!(
        signed.status.success() && text(&signed).contains("verified on this computer"),
        "touched, the card signs: {}",
        text(&signed)
    );
}
