//! Device latency: key generation and signing (Ed25519, P-256) on SoftHSM2 and on the software
//! key file, plus the TLS signer's extra work. Prints a table; asserts nothing about speed.
//!
//! `cargo bench -p gatehouse-keys --bench devices` (runs inside a private SoftHSM2 sandbox,
//! like the tests).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatehouse_keys::Pin;
use gatehouse_keys::device::{Device, Shared};
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_keys::software::KeyFile;
use gatehouse_keys::testing;
use gatehouse_keys::tls::DeviceKey;
use rustls::SignatureScheme;

/// Hardware-backed key generation is cheap on SoftHSM2; software key generation re-encrypts
/// the whole file with scrypt (seconds), so it gets few samples.
const SOFTHSM_KEYGENS: usize = 50;
const SOFTWARE_KEYGENS: usize = 5;
const SOFTWARE_OPENS: usize = 3;
const SIGNATURES: usize = 2000;

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
