//! What the benchmarks share: a client connection for one of a test deployment's people, and a
//! deployment on the ledger simulator whose token a quorum created.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_client::connection::Connection;
use gatehouse_client::identity::FileIdentity;
use gatehouse_client::profile::{KeySource, Profile};
use gatehouse_protocol::Environment;
use gatehouse_server::testing::{PersonFiles, TestDeployment};

/// A new connection (empty pool: its first request pays the handshake) as `person`.
pub fn connection(
    deployment: &TestDeployment,
    person: &PersonFiles,
    addr: SocketAddr,
) -> Connection {
    let profile = Profile {
        name: "bench".to_owned(),
        server_url: format!("https://localhost:{}", addr.port()),
        environment: Environment::Development,
        ca_cert: deployment.ca_cert(),
        client_cert: person.cert.clone(),
        key: KeySource::File {
            path: person.key.clone(),
            encrypted: false,
        },
        mirror_url: None,
    };
    let identity = Arc::new(FileIdentity::load(&person.cert, &person.key, None).expect("identity"));
    Connection::new(&profile, identity).expect("connection")
}

/// A deployment on the in-process ledger simulator: alice, bob and carol (officers and
/// responders, Ed25519 ledger keys in memory with seeds 1, 2, 3), and the token alice and bob
/// approved.
pub struct TokenWorld {
    pub deployment: TestDeployment,
    pub files: Vec<PersonFiles>,
    pub server: gatehouse_server::Running,
    pub conns: Vec<Connection>,
    pub keys: Vec<ed25519_dalek::SigningKey>,
}

/// Asks for `id`'s approval body, signs it with `key`, submits it: the proposal after, and how
/// long the submission took.
pub async fn approve(
    conn: &Connection,
    id: &str,
    key: &ed25519_dalek::SigningKey,
) -> (gatehouse_protocol::proposal::Proposal, std::time::Duration) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use ed25519_dalek::Signer as _;
    use gatehouse_protocol::proposal::{ApprovalRequest, SignedApproval};
    let request: ApprovalRequest = conn
        .post(
            &format!("/v1/proposals/{id}/approval-request"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    let signature = key.sign(&B64.decode(&request.body).unwrap()).to_bytes();
    let start = std::time::Instant::now();
    let proposal = conn
        .post(
            &format!("/v1/proposals/{id}/approvals"),
            &SignedApproval {
                request: request.request,
                signature: B64.encode(signature),
                device: None,
            },
        )
        .await
        .unwrap();
    (proposal, start.elapsed())
}

impl TokenWorld {
    /// The certificate files of alice, bob or carol.
    pub fn person(&self, name: &str) -> PersonFiles {
        let i = ["alice", "bob", "carol"]
            .iter()
            .position(|n| *n == name)
            .unwrap();
        self.files[i].clone()
    }

    pub async fn new(backend: gatehouse_server::testing::Backend) -> Self {
        use gatehouse_protocol::Role;
        use gatehouse_protocol::proposal::{
            LedgerKeyAlgorithm, LedgerKeyEnrolment, NewToken, Proposal, ProposalStatus,
        };
        use gatehouse_server::config::{KeyPolicy, Ledger};
        let mut deployment = TestDeployment::new(backend).await;
        deployment.config.ledger = Some(Ledger::Simulator {
            data_dir: "ledger".into(),
        });
        deployment.config.keys.policy = KeyPolicy::Development;
        let mut files = Vec::new();
        for name in ["alice", "bob", "carol"] {
            files.push(
                deployment
                    .enrol(name, &[Role::Officer, Role::Responder])
                    .await,
            );
        }
        let erin = deployment.enrol("erin", &[Role::Admin]).await;
        let server = deployment.start().await;
        let conns: Vec<_> = files
            .iter()
            .map(|f| connection(&deployment, f, server.addr))
            .collect();
        let keys: Vec<_> = (1..=3u8)
            .map(|s| ed25519_dalek::SigningKey::from_bytes(&[s; 32]))
            .collect();
        for (conn, key) in conns.iter().zip(&keys) {
            let _: serde_json::Value = conn
                .post(
                    "/v1/ledger-keys",
                    &LedgerKeyEnrolment {
                        algorithm: LedgerKeyAlgorithm::Ed25519,
                        public_key: hex::encode(key.verifying_key().as_bytes()),
                        evidence: serde_json::json!({ "kind": "software" }),
                        device: None,
                    },
                )
                .await
                .unwrap();
        }
        let admin = connection(&deployment, &erin, server.addr);
        let token: Proposal = admin
            .post(
                "/v1/proposals/token-create",
                &NewToken {
                    name: "Bench".into(),
                    symbol: "B".into(),
                    max_supply: 1_000_000,
                },
            )
            .await
            .unwrap();
        approve(&conns[0], &token.id, &keys[0]).await;
        let (created, _) = approve(&conns[1], &token.id, &keys[1]).await;
        assert_eq!(created.status, ProposalStatus::Executed);
        Self {
            deployment,
            files,
            server,
            conns,
            keys,
        }
    }
}

/// The `q` quantile (0..=1) of `samples` (sorted here), nearest rank.
pub fn percentile(samples: &mut [std::time::Duration], q: f64) -> std::time::Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}
