//! The `gatehouse-server` binary: `init` makes a complete deployment that `serve` serves.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_client::profile::ProfileStore;
use gatehouse_client::secret::SecretStore;
use gatehouse_protocol::Role;
use rustls::pki_types::pem::PemObject as _;
use sha2::Digest as _;

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse-server");

fn init(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["init", "--data-dir"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .output()
        .expect("gatehouse-server runs")
}

#[test]
fn init_creates_private_keys_and_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("dir");
    let first = init(dir.path(), &[]);
    assert!(
        first.status.success(),
        "init succeeds: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    for key in [
        "pki/ca.key",
        "pki/server.key",
        "people/alice.key",
        "people/erin.key",
    ] {
        let mode = std::fs::metadata(dir.path().join(key))
            .expect("key exists")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "{key} must be readable by its owner only"
        );
    }
    let ca_before = std::fs::read(dir.path().join("pki/ca.pem")).expect("CA");
    let again = init(dir.path(), &[]);
    assert!(
        !again.status.success(),
        "a second init without --force must fail"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--force"),
        "and say how to proceed"
    );
    assert_eq!(
        std::fs::read(dir.path().join("pki/ca.pem")).expect("CA"),
        ca_before,
        "nothing was overwritten"
    );
    let forced = init(dir.path(), &["--force"]);
    assert!(
        forced.status.success(),
        "--force replaces it: {}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_ne!(
        std::fs::read(dir.path().join("pki/ca.pem")).expect("CA"),
        ca_before,
        "with a new CA"
    );
}

#[tokio::test]
async fn served_deployment_knows_every_demo_person_by_role() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(init(dir.path(), &[]).status.success(), "init succeeds");
    let ready = dir.path().join("ready");
    let mut server = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(dir.path().join("gatehouse-server.toml"))
        .args(["--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the server must write its ready file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let port = addr.rsplit(':').next().expect("host:port");
    let store = ProfileStore::open(dir.path().join("console"), SecretStore::mock());
    let expected = [
        ("alice", vec![Role::Officer]),
        ("carol", vec![Role::Officer, Role::Responder]),
        ("dave", vec![Role::Compliance]),
        ("erin", vec![Role::Admin]),
    ];
    for (name, roles) in expected {
        let profile = store
            .import(
                &dir.path().join(format!("profiles/{name}.json")),
                None,
                Some(&format!("https://localhost:{port}")),
            )
            .expect("the generated profile imports");
        let me = gatehouse_client::open(&store, &profile, None)
            .expect("opens")
            .connection
            .whoami()
            .await
            .expect("whoami");
        assert_eq!(
            (me.name.as_str(), me.roles),
            (name, roles),
            "{name} is registered with the demo roles"
        );
    }
    // SIGTERM: graceful shutdown, exit 0.
    let pid = server.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    // Wait off the runtime thread so the test's own client connections can close meanwhile.
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("join")
        .expect("server exits");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "idle connections do not hold shutdown for the grace period"
    );
    assert!(
        status.success(),
        "SIGTERM is a graceful, successful shutdown: {status}"
    );
}

/// A certificate signing request for a fresh P-256 key (as a device would sign one), PEM.
fn request(common_name: &str) -> (rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().expect("a key");
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let pem = params
        .serialize_request(&key)
        .expect("a request")
        .pem()
        .expect("PEM");
    (key, pem)
}

fn registry(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("registry")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("GATEHOUSE_DATABASE_URL")
        .output()
        .expect("gatehouse-server runs")
}

/// `registry enrol ARGS --csr CSR --out OUT`.
fn enrol(
    config: &std::path::Path,
    args: &[&str],
    csr: &std::path::Path,
    out: impl AsRef<std::path::Path>,
) -> std::process::Output {
    let mut all = vec!["enrol"];
    all.extend_from_slice(args);
    all.extend(["--csr", csr.to_str().expect("utf-8"), "--out"]);
    all.push(out.as_ref().to_str().expect("utf-8"));
    registry(config, &all)
}

#[test]
fn registry_enrol_issues_from_a_signed_request_and_refuses_forgeries() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(init(dir.path(), &[]).status.success(), "init works");
    let config = dir.path().join("gatehouse-server.toml");
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let (key, pem) = request("whatever the requester asks");
    let csr = dir.path().join("frank.csr");
    std::fs::write(&csr, &pem).expect("write");
    let cert = dir.path().join("frank.pem");
    let enrolled = enrol(
        &config,
        &["--name", "frank", "--role", "officer"],
        &csr,
        &cert,
    );
    assert!(
        enrolled.status.success(),
        "enrol works: {}",
        text(&enrolled)
    );
    let issued = std::fs::read(&cert).expect("the certificate was written");
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&issued).expect("PEM");
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).expect("a certificate");
    assert_eq!(
        parsed.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key).as_slice(),
        "the certificate is for the requester's key"
    );
    assert!(
        parsed.subject().to_string().contains("CN=frank"),
        "named by the CA, not by the request: {}",
        parsed.subject()
    );
    let listed = registry(&config, &["list"]);
    assert!(
        text(&listed).contains("frank") && text(&listed).contains("officer"),
        "frank is registered as an officer: {}",
        text(&listed)
    );

    // Again without --replace: refused, saying how.
    let twice = enrol(
        &config,
        &["--name", "frank", "--role", "officer"],
        &csr,
        dir.path().join("frank2.pem"),
    );
    assert!(
        !twice.status.success() && text(&twice).contains("--replace"),
        "a second enrolment says to pass --replace: {}",
        text(&twice)
    );
    // --replace with a new key: the entry keeps its roles and takes the new fingerprint.
    let (_, new_pem) = request("frank");
    std::fs::write(&csr, &new_pem).expect("write");
    let replaced = enrol(
        &config,
        &["--name", "frank", "--replace"],
        &csr,
        dir.path().join("frank2.pem"),
    );
    assert!(
        replaced.status.success(),
        "replace works: {}",
        text(&replaced)
    );
    let after = text(&registry(&config, &["list"]));
    let frank_line = after
        .lines()
        .find(|l| l.starts_with("frank"))
        .expect("frank is listed");
    let new_fingerprint = {
        let pem = std::fs::read(dir.path().join("frank2.pem")).expect("written");
        let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).expect("PEM");
        gatehouse_protocol::Fingerprint::from_digest(sha2::Sha256::digest(&der).into()).to_hex()
    };
    assert!(
        frank_line.contains("officer") && frank_line.contains(&new_fingerprint),
        "the entry keeps its role and has the new certificate: {frank_line}"
    );

    // A request whose signature does not match its key (one byte of the signature changed).
    let mut forged =
        rustls::pki_types::CertificateSigningRequestDer::from_pem_slice(new_pem.as_bytes())
            .expect("PEM")
            .as_ref()
            .to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    std::fs::write(&csr, &forged).expect("write DER");
    let refused = enrol(
        &config,
        &["--name", "grace", "--role", "compliance"],
        &csr,
        dir.path().join("grace.pem"),
    );
    assert!(
        !refused.status.success() && text(&refused).contains("signature does not verify"),
        "a forged request is refused, saying why: {}",
        text(&refused)
    );
    assert!(
        !dir.path().join("grace.pem").exists(),
        "and nothing is issued"
    );
    assert!(
        !text(&registry(&config, &["list"])).contains("grace"),
        "or registered"
    );
}
