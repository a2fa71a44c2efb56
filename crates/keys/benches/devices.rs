//! Device latency: key generation, signing and attestation on SoftHSM2, the virtual PIV card
//! and the software key file; the TLS signer's extra work; and a new mutual-TLS connection to
//! gatehouse-server (handshake + one request) with the client key in a file, on SoftHSM2 and on
//! the card. Prints a table; asserts nothing about speed.
//!
//! `cargo bench -p gatehouse-keys --bench devices` (runs inside a private SoftHSM2 sandbox,
//! like the tests). The card rows need the virtual card's readers running
//! (`gatehouse-virtual-piv start`, and GATEHOUSE_VIRTUAL_PIV_DIR where they run); without them
//! the card rows are skipped, and the table says so.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatehouse_keys::Pin;
use gatehouse_keys::device::{Device, Shared};
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_keys::piv::{Piv, Placement, TouchPolicy};
use gatehouse_keys::software::KeyFile;
use gatehouse_keys::testing;
use gatehouse_keys::tls::{self, DeviceKey};
use rustls::SignatureScheme;

/// Hardware-backed key generation is cheap on SoftHSM2; software key generation re-encrypts
/// the whole file with scrypt (seconds), so it gets few samples.
const SOFTHSM_KEYGENS: usize = 50;
const SOFTWARE_KEYGENS: usize = 5;
const SOFTWARE_OPENS: usize = 3;
const SIGNATURES: usize = 2000;
/// The virtual card answers over PC/SC and a TCP socket: fewer samples.
const CARD_KEYGENS: usize = 10;
const CARD_SIGNATURES: usize = 200;
const CARD_ATTESTATIONS: usize = 20;
const CONNECTIONS: usize = 100;

fn main() -> ExitCode {
    if let Some(code) = testing::rerun_in_softhsm_sandbox() {
        return code;
    }
    // About the size of a Hedera TokenMint body.
    let message = vec![0x5a_u8; 200];
    println!(
        "{:<10} {:<16} {:<34} {:>6} {:>10} {:>10} {:>10}",
        "device", "algorithm", "operation", "n", "p50", "p99", "mean"
    );

    let card = testing::virtual_piv_available().then(testing::VirtualCard::insert);
    if let Some(card) = &card {
        bench_card(card, &message);
    } else {
        println!("(virtual PIV card rows skipped: its readers are not running)");
    }
    connections(card.as_ref());

    let mut token = testing::token("bench");
    for algorithm in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let request = key::Request::new(algorithm, "bench");
        let mut samples = measure(SOFTHSM_KEYGENS, || {
            token.generate(&request).unwrap();
        });
        report("SoftHSM2", algorithm, "keygen", &mut samples);
        let key = token.generate(&request).unwrap();
        let mut samples = measure(SIGNATURES, || {
            token.sign(&key.id, &message).unwrap();
        });
        report("SoftHSM2", algorithm, "sign (200 bytes)", &mut samples);
    }
    let key = token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls"))
        .unwrap();
    let signer = DeviceKey::new(Shared::new(Box::new(token)), &key.id).unwrap();
    let signer =
        rustls::sign::SigningKey::choose_scheme(&signer, &[SignatureScheme::ECDSA_NISTP256_SHA256])
            .unwrap();
    let mut samples = measure(SIGNATURES, || {
        signer.sign(&message).unwrap();
    });
    report(
        "SoftHSM2",
        Algorithm::EcdsaP256,
        "TLS signer (lock + sign + DER)",
        &mut samples,
    );

    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("bench.age");
    let passphrase = Pin::new("benchmark passphrase");
    let mut file = KeyFile::create(&path, &passphrase).unwrap();
    for algorithm in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let request = key::Request::new(algorithm, "bench");
        let mut samples = measure(SOFTWARE_KEYGENS, || {
            file.generate(&request).unwrap();
        });
        report(
            "software",
            algorithm,
            "keygen (+ re-encrypt, scrypt)",
            &mut samples,
        );
        let key = file.generate(&request).unwrap();
        let mut samples = measure(SIGNATURES, || {
            file.sign(&key.id, &message).unwrap();
        });
        report("software", algorithm, "sign (200 bytes)", &mut samples);
    }
    drop(file);
    let mut samples = measure(SOFTWARE_OPENS, || {
        KeyFile::open(&path, &passphrase).unwrap();
    });
    report(
        "software",
        "(whole file)",
        "open (scrypt, 12 keys)",
        &mut samples,
    );
    ExitCode::SUCCESS
}

fn bench_card(card: &testing::VirtualCard, message: &[u8]) {
    let mut piv = Piv::open(card.serial, &Pin::new(testing::PIV_PIN)).unwrap();
    // P-256 in 9a as TLS keys go; Ed25519 in 9c as Hedera keys go, but without the touch, which
    // would measure the person.
    let placements = [
        (
            Algorithm::EcdsaP256,
            Placement::default_for(Algorithm::EcdsaP256),
        ),
        (
            Algorithm::Ed25519,
            Placement {
                touch: TouchPolicy::Never,
                ..Placement::default_for(Algorithm::Ed25519)
            },
        ),
    ];
    for (algorithm, placement) in placements {
        let slot = format!("{:02x}", placement.slot);
        let mut samples = measure(CARD_KEYGENS, || {
            piv.generate_in(algorithm, placement).unwrap();
        });
        report(
            "card",
            algorithm,
            &format!("keygen (slot {slot})"),
            &mut samples,
        );
        let id = key::Id::from_bytes([placement.slot]);
        let mut samples = measure(CARD_SIGNATURES, || {
            piv.sign(&id, message).unwrap();
        });
        report(
            "card",
            algorithm,
            "sign (200 bytes, VERIFY + sign)",
            &mut samples,
        );
        let mut samples = measure(CARD_ATTESTATIONS, || {
            piv.attestation(&id).unwrap();
        });
        report(
            "card",
            algorithm,
            "attest (F9 + f9 certificate)",
            &mut samples,
        );
    }
}

/// A new connection each time (handshake + GET /v1/whoami) to a gatehouse-server on loopback,
/// with the client key in a file, on SoftHSM2, and on the card.
fn connections(card: Option<&testing::VirtualCard>) {
    use gatehouse_client::connection::Connection;
    use gatehouse_client::identity::{ClientIdentity, FileIdentity};
    use gatehouse_client::profile::{KeySource, Profile};
    use gatehouse_protocol::{Environment, Role};
    use gatehouse_server::testing::{Backend, TestDeployment};
    use rustls::pki_types::CertificateSigningRequestDer;
    use rustls::pki_types::pem::PemObject as _;
    use std::sync::Arc;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let deployment = runtime.block_on(TestDeployment::new(Backend::Sqlite));
    let server = runtime.block_on(deployment.start());
    let url = format!("https://localhost:{}", server.addr.port());
    let profile = |name: &str, cert: std::path::PathBuf, key: KeySource| Profile {
        name: name.to_owned(),
        server_url: url.clone(),
        environment: Environment::Development,
        ca_cert: deployment.ca_cert(),
        client_cert: cert,
        key,
        mirror_url: None,
    };
    let mut identities: Vec<(&str, Profile, Arc<dyn ClientIdentity>)> = Vec::new();

    let person = runtime.block_on(deployment.enrol("file", &[Role::Officer]));
    let file_profile = profile(
        "file",
        person.cert.clone(),
        KeySource::File {
            path: person.key.clone(),
            encrypted: false,
        },
    );
    let file = FileIdentity::load(&person.cert, &person.key, None).unwrap();
    identities.push(("file", file_profile, Arc::new(file)));

    let mut devices: Vec<(&str, Box<dyn Device>, gatehouse_keys::device::Locator, &str)> =
        Vec::new();
    let mut token = testing::token("bench-tls");
    token
        .generate(&key::Request::new(Algorithm::EcdsaP256, "tls"))
        .unwrap();
    devices.push((
        "SoftHSM2",
        Box::new(token),
        testing::locator("bench-tls"),
        testing::USER_PIN,
    ));
    if let Some(card) = card {
        let mut piv = Piv::open(card.serial, &Pin::new(testing::PIV_PIN)).unwrap();
        piv.generate_in(
            Algorithm::EcdsaP256,
            Placement::default_for(Algorithm::EcdsaP256),
        )
        .unwrap();
        devices.push(("card", Box::new(piv), card.locator(), testing::PIV_PIN));
    }
    for (name, mut device, locator, pin) in devices {
        let id = device
            .keys()
            .unwrap()
            .into_iter()
            .find(|k| k.public_key.algorithm() == Algorithm::EcdsaP256)
            .unwrap()
            .id;
        let request = tls::certificate_request(device.as_mut(), &id, name).unwrap();
        drop(device);
        let der = CertificateSigningRequestDer::from_pem_slice(request.as_bytes()).unwrap();
        let (cert, _) =
            runtime.block_on(deployment.enrol_request(name, &[Role::Officer], der.as_ref()));
        let device_profile = profile(
            name,
            cert,
            KeySource::Device {
                device: locator,
                key: id.to_string(),
            },
        );
        let identity = gatehouse_client::device::identity(&device_profile, &Pin::new(pin)).unwrap();
        identities.push((name, device_profile, Arc::new(identity)));
    }

    for (name, profile, identity) in identities {
        let mut samples = measure(CONNECTIONS, || {
            let connection = Connection::new(&profile, identity.clone()).unwrap();
            runtime.block_on(connection.whoami()).unwrap();
        });
        report(
            name,
            "P-256 client key",
            "new mTLS connection + whoami",
            &mut samples,
        );
    }
    runtime.block_on(server.shutdown()).unwrap();
}

fn measure(n: usize, mut operation: impl FnMut()) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let start = Instant::now();
            operation();
            start.elapsed()
        })
        .collect()
}

fn report(device: &str, algorithm: impl ToString, operation: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{:<10} {:<16} {:<34} {:>6} {:>10} {:>10} {:>10}",
        device,
        algorithm.to_string(),
        operation,
        samples.len(),
        format!("{:.3?}", pick(0.50)),
        format!("{:.3?}", pick(0.99)),
        format!("{mean:.3?}"),
    );
}
