//! The ledger adapter: the development simulator in-process, a separate network by address, and the
//! errors when the network is gone or the operator key is unusable.

use gatehouse_protocol::Role;
use gatehouse_server::config::Ledger;
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::identity::connect;

async fn ledger_status(
    deployment: &TestDeployment,
    server: &gatehouse_server::Running,
    person: &gatehouse_server::testing::PersonFiles,
) -> serde_json::Value {
    connect(deployment, server.addr, person)
        .get("/v1/ledger")
        .await
        .expect("/v1/ledger answers")
}

#[tokio::test]
async fn development_mode_runs_the_simulator_in_process_and_keeps_its_state() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    deployment.config.ledger = Some(Ledger::Simulator {
        data_dir: "ledger".into(),
    });
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;

    let server = deployment.start().await;
    let status = ledger_status(&deployment, &server, &dave).await;
    assert_eq!(status["configured"], true);
    assert_eq!(status["mode"], "simulator");
    assert_eq!(status["reachable"], true, "{status}");
    assert_eq!(status["operator_account"], "0.0.2");
    assert_eq!(
        status["operator_balance_tinybars"], 5_000_000_000_000_000_000_i64,
        "genesis: all 50 billion hbar"
    );
    let first_key = std::fs::read_to_string(deployment.dir.path().join("ledger/dev-operator.key"))
        .expect("the development key");
    server.shutdown().await.expect("clean shutdown");

    // Restarted: the same ledger (same operator key), and it answers again.
    let server = deployment.start().await;
    let status = ledger_status(&deployment, &server, &dave).await;
    assert_eq!(status["reachable"], true, "{status}");
    let key = std::fs::read_to_string(deployment.dir.path().join("ledger/dev-operator.key"))
        .expect("the development key");
    assert_eq!(key, first_key);
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn network_mode_reaches_a_network_by_address_and_reports_when_it_is_gone() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let ledger_dir = tempfile::tempdir().expect("a directory");
    let sim = gatehouse_ledger_sim::Simulator::start(gatehouse_ledger_sim::Config::ephemeral(
        ledger_dir.path(),
    ))
    .await
    .expect("simulator");
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    deployment.config.ledger = Some(Ledger::Network {
        nodes: [(sim.grpc_addr.to_string(), "0.0.3".to_owned())].into(),
        mirror: vec![],
        operator_account: "0.0.2".into(),
        operator_key: sim.operator_key_file.clone().expect("a development key"),
    });
    let erin = deployment.enrol("erin", &[Role::Admin]).await;
    let server = deployment.start().await;
    let status = ledger_status(&deployment, &server, &erin).await;
    assert_eq!(
        (status["mode"].as_str(), status["reachable"].as_bool()),
        (Some("network"), Some(true)),
        "{status}"
    );

    sim.shutdown().await;
    let status = ledger_status(&deployment, &server, &erin).await;
    assert_eq!(status["reachable"], false, "{status}");
    assert!(
        status["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}"
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn no_ledger_is_reported_and_a_bad_operator_key_stops_the_start() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let server = deployment.start().await;
    let status = ledger_status(&deployment, &server, &dave).await;
    assert_eq!(status["configured"], false);
    server.shutdown().await.expect("clean shutdown");

    std::fs::write(deployment.dir.path().join("operator.key"), "not a key").expect("write");
    deployment.config.ledger = Some(Ledger::Network {
        nodes: [("127.0.0.1:9".to_owned(), "0.0.3".to_owned())].into(),
        mirror: vec![],
        operator_account: "0.0.2".into(),
        operator_key: "operator.key".into(),
    });
    let error = gatehouse_server::start(&deployment.config)
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("operator.key") && error.contains("not hex"),
        "{error}"
    );
}
