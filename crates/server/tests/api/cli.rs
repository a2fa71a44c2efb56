//! The `gatehouse-server` binary: `init` makes a complete deployment that `serve` serves.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_client::profile::ProfileStore;
use gatehouse_client::secret::SecretStore;
use gatehouse_protocol::Role;

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
        let me = gatehouse_client::open(&store, &profile)
            .expect("opens")
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
