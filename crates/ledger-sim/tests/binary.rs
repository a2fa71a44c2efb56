//! The `gatehouse-ledger-sim` binary: a genesis file, the ready file, SIGTERM, and clear refusals.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary on ports the OS picks, with its data directory and a genesis file.
fn sim(data_dir: &std::path::Path, genesis: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse-ledger-sim"));
    cmd.args([
        "--grpc",
        "127.0.0.1:0",
        "--mirror",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(data_dir)
    .arg("--genesis")
    .arg(genesis);
    cmd
}

/// Kills the simulator if the test fails before stopping it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_for(path: &std::path::Path, child: &mut std::process::Child) -> serde_json::Value {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).unwrap();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the simulator exited before it was ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no ready file after 30 s");
}

#[test]
fn runs_from_a_genesis_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, format!(r#"{{"operator_account":"0.0.2","operator_public_key":"{public}","node_account":"0.0.3"}}"#)).unwrap();
    let ready = dir.path().join("ready.json");
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let child = sim(&dir.path().join("ledger"), &genesis)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let info = wait_for(&ready, &mut child.0);
    assert_eq!(info["operator_account"], "0.0.2");
    assert!(
        info["operator_key_file"].is_null(),
        "a genesis file names only the public key"
    );
    let mirror = info["mirror"].as_str().unwrap().to_owned();
    let account: serde_json::Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(format!("{mirror}/api/v1/accounts/0.0.2"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(account["key"]["key"], public);
    assert!(!dir.path().join("ledger/dev-operator.key").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_bad_genesis_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(
        &genesis,
        r#"{"operator_account":"0.0.2","operator_public_key":"abcd"}"#,
    )
    .unwrap();
    let out = sim(&dir.path().join("ledger"), &genesis).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("operator_public_key must be 64 hex digits"),
        "{stderr}"
    );

    std::fs::write(
        &genesis,
        r#"{"operator_account":"0.0.2","operator_public_key":"00","surprise":1}"#,
    )
    .unwrap();
    let out = sim(&dir.path().join("l2"), &genesis).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is invalid") && stderr.contains("unknown field `surprise`"),
        "{stderr}"
    );
}

#[test]
fn a_development_key_left_by_an_interrupted_first_start_is_used_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    std::fs::create_dir_all(&data).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    std::fs::write(data.join("dev-operator.key"), hex::encode(key.to_bytes())).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    rt.block_on(async {
        let sim =
            gatehouse_ledger_sim::Simulator::start(gatehouse_ledger_sim::Config::ephemeral(&data))
                .await
                .unwrap();
        let account: serde_json::Value =
            reqwest::get(format!("{}/api/v1/accounts/0.0.2", sim.mirror_url()))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(
            account["key"]["key"],
            hex::encode(key.verifying_key().to_bytes())
        );
        sim.shutdown().await;
    });
}

#[test]
fn a_failed_start_says_what_failed() {
    use gatehouse_ledger_sim::{Config, Error, Simulator};
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let err = Simulator::start(Config::ephemeral(&file))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::DataDir { path, .. } if *path == file),
            "{err}"
        );

        // The listener stays open, so the port stays taken.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = listener.local_addr().unwrap();
        let mut config = Config::ephemeral(dir.path().join("ledger"));
        config.mirror = taken;
        let err = Simulator::start(config).await.unwrap_err();
        assert!(
            matches!(&err, Error::Bind { service: "mirror REST API", addr, .. } if *addr == taken),
            "{err}"
        );
        assert!(err.to_string().contains(&taken.to_string()), "{err}");
    });
}
