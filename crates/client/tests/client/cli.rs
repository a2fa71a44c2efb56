//! The `gatehouse` binary: profiles on disk, whoami against a live server, exit codes per failure.

use std::process::Command;

use gatehouse_protocol::{Environment, ProfileFile, Role};
use gatehouse_server::pki::{Authority, Validity};
use gatehouse_server::testing::{Backend, PersonFiles, TestDeployment};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

fn gatehouse(config_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("GATEHOUSE_CONFIG_DIR", config_dir)
        .output()
        .expect("gatehouse runs")
}

fn profile_file(
    dir: &std::path::Path,
    name: &str,
    ca: std::path::PathBuf,
    person: &PersonFiles,
    port: u16,
) -> std::path::PathBuf {
    let file = ProfileFile {
        format: ProfileFile::FORMAT.to_owned(),
        name: name.to_owned(),
        server_url: format!("https://localhost:{port}"),
        environment: Environment::Staging,
        ca_cert: ca,
        client_cert: person.cert.clone(),
        client_key: person.key.clone(),
    };
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string(&file).expect("json")).expect("write");
    path
}

#[tokio::test]
async fn whoami_prints_the_identity_and_failures_have_distinct_exit_codes() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.enrol("alice", &[Role::Officer]).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    let port = server.addr.port();
    let config = deployment.dir.path().join("cli-config");
    let dir = deployment.dir.path();

    let good = profile_file(dir, "alice", deployment.ca_cert(), &alice, port);
    let out = gatehouse(
        &config,
        &["profile", "import", good.to_str().expect("utf-8")],
    );
    assert!(
        out.status.success(),
        "import works: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = gatehouse(&config, &["profile", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("staging"),
        "list shows the environment"
    );

    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        move || gatehouse(&config, &["whoami"])
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "whoami works: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("alice") && stdout.contains("officer"),
        "whoami names the person and role: {stdout}"
    );

    let other_ca = deployment.dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, Authority::generate("x").expect("CA").cert_pem()).expect("write");
    let wrong = profile_file(dir, "wrong-ca", other_ca, &alice, port);
    assert!(
        gatehouse(
            &config,
            &["profile", "import", wrong.to_str().expect("utf-8")]
        )
        .status
        .success()
    );
    let unregistered = profile_file(dir, "mallory", deployment.ca_cert(), &mallory, port);
    assert!(
        gatehouse(
            &config,
            &["profile", "import", unregistered.to_str().expect("utf-8")]
        )
        .status
        .success()
    );

    let cases = [("wrong-ca", 4, "SHA-256"), ("mallory", 6, "register")];
    for (profile, code, needle) in cases {
        let out = tokio::task::spawn_blocking({
            let config = config.clone();
            move || gatehouse(&config, &["whoami", "--profile", profile])
        })
        .await
        .expect("join");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "profile {profile} exits with its own code: {stderr}"
        );
        assert!(
            stderr.contains(needle),
            "profile {profile}: the message helps ({needle}): {stderr}"
        );
    }
    let ambiguous = gatehouse(&config, &["whoami"]);
    assert_eq!(
        ambiguous.status.code(),
        Some(10),
        "several profiles and none chosen is a profile problem"
    );
    server.shutdown().await.expect("shutdown");
}
