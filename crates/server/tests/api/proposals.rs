//! Proposals end to end over mutual TLS with the in-process ledger simulator: ledger keys, the
//! token created by a 2-of-3 quorum, mints approved with ScheduleSign, and every refusal the
//! approval rules promise. Officers' keys here are Ed25519 keys in memory; the device paths
//! (SoftHSM2, the virtual PIV card) are exercised by the CLI tests.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use gatehouse_client::Connection;
use gatehouse_protocol::Role;
use gatehouse_protocol::proposal::{
    ApprovalRequest, LedgerKey, LedgerKeyAlgorithm, LedgerKeyEnrolment, NewMint, NewToken, Payload,
    Proposal, ProposalStatus, Reject, SignedApproval,
};
use gatehouse_server::config::{KeyPolicy, Ledger};
use gatehouse_server::testing::{Backend, TestDeployment};
use hiero_sdk_proto::services as pb;
use sha2::Digest as _;

use crate::identity::connect;
use crate::on_both_backends;

on_both_backends!(
    a_quorum_creates_the_token_and_mints_and_every_refusal_holds,
    events_reach_consoles_on_every_instance,
);

pub(crate) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub(crate) async fn enrol(
    conn: &Connection,
    key: &SigningKey,
) -> Result<LedgerKey, gatehouse_client::connection::Error> {
    conn.post(
        "/v1/ledger-keys",
        &LedgerKeyEnrolment {
            algorithm: LedgerKeyAlgorithm::Ed25519,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            evidence: serde_json::json!({ "kind": "software" }),
            device: Some("test key".into()),
        },
    )
    .await
}

async fn request(
    conn: &Connection,
    id: &str,
) -> Result<ApprovalRequest, gatehouse_client::connection::Error> {
    conn.post(
        &format!("/v1/proposals/{id}/approval-request"),
        &serde_json::json!({}),
    )
    .await
}

async fn submit(
    conn: &Connection,
    id: &str,
    request: &str,
    signature: &[u8],
) -> Result<Proposal, gatehouse_client::connection::Error> {
    conn.post(
        &format!("/v1/proposals/{id}/approvals"),
        &SignedApproval {
            request: request.to_owned(),
            signature: B64.encode(signature),
            device: Some("test key".into()),
        },
    )
    .await
}

/// Asks for the body, signs it with `key`, submits it.
pub(crate) async fn approve(
    conn: &Connection,
    id: &str,
    key: &SigningKey,
) -> Result<Proposal, gatehouse_client::connection::Error> {
    let request = request(conn, id).await?;
    let body = B64.decode(&request.body).expect("base64 body");
    submit(conn, id, &request.request, &key.sign(&body).to_bytes()).await
}

/// Asserts the server refused with `code`; returns its message.
pub(crate) fn refused(
    result: Result<impl std::fmt::Debug, gatehouse_client::connection::Error>,
    code: &str,
) -> String {
    match result.expect_err("refused") {
        gatehouse_client::Error::Refused { code: got, message } => {
            assert_eq!(format!("{got:?}"), code, "{message}");
            message
        }
        other => panic!("expected a {code} refusal, got: {other}"),
    }
}

/// A deployment on the ledger simulator whose token exists: `people` registered with their roles,
/// each officer's and responder's in-memory ledger key enrolled (seed = position + 1), the token
/// proposed by the first administrator and approved by the first two officers.
pub(crate) struct World {
    pub deployment: TestDeployment,
    pub server: gatehouse_server::Running,
    pub token: String,
    pub files: std::collections::BTreeMap<String, gatehouse_server::testing::PersonFiles>,
    pub conns: std::collections::BTreeMap<String, Connection>,
    pub keys: std::collections::BTreeMap<String, SigningKey>,
}

impl World {
    pub(crate) async fn new(
        backend: Backend,
        people: &[(&str, &[Role])],
        tweak: impl FnOnce(&mut gatehouse_server::config::Config),
    ) -> Self {
        let mut deployment = TestDeployment::new(backend).await;
        deployment.config.ledger = Some(Ledger::Simulator {
            data_dir: "ledger".into(),
        });
        deployment.config.keys.policy = KeyPolicy::Development;
        tweak(&mut deployment.config);
        let mut files = std::collections::BTreeMap::new();
        for (name, roles) in people {
            files.insert((*name).to_owned(), deployment.enrol(name, roles).await);
        }
        let server = deployment.start().await;
        let conns: std::collections::BTreeMap<String, Connection> = files
            .iter()
            .map(|(name, f)| (name.clone(), connect(&deployment, server.addr, f)))
            .collect();
        let mut keys = std::collections::BTreeMap::new();
        for (i, (name, roles)) in people.iter().enumerate() {
            if roles.contains(&Role::Officer) || roles.contains(&Role::Responder) {
                let k = key(u8::try_from(i + 1).expect("a seed"));
                enrol(&conns[*name], &k).await.expect("a key is enrolled");
                keys.insert((*name).to_owned(), k);
            }
        }
        let role = |r: Role| {
            people
                .iter()
                .filter(move |(_, roles)| roles.contains(&r))
                .map(|(n, _)| (*n).to_owned())
        };
        let admin = role(Role::Admin).next().expect("an administrator");
        let creation: Proposal = conns[&admin]
            .post(
                "/v1/proposals/token-create",
                &NewToken {
                    name: "Test".into(),
                    symbol: "TST".into(),
                    max_supply: 100,
                },
            )
            .await
            .expect("the token is proposed");
        let mut created = None;
        for officer in role(Role::Officer).take(2) {
            created = Some(
                approve(&conns[&officer], &creation.id, &keys[&officer])
                    .await
                    .expect("an officer approves the token"),
            );
        }
        let token = created
            .and_then(|p| p.outcome)
            .and_then(|o| o.token)
            .expect("the token exists");
        Self {
            deployment,
            server,
            token,
            files,
            conns,
            keys,
        }
    }
}

/// A reconciler over `server`'s ledger that judges mints at once, alarming above `per_hour`.
pub(crate) fn reconciler(
    server: &gatehouse_server::Running,
    per_hour: u32,
) -> gatehouse_server::mints::Reconciler {
    gatehouse_server::mints::Reconciler::new(
        server.state.db.clone(),
        server.state.audit.clone(),
        server.state.ledger.clone().expect("a ledger"),
        per_hour,
        server.state.events.clone(),
    )
    .with_grace_secs(0)
}

/// `server`'s Hedera client.
fn hapi(server: &gatehouse_server::Running) -> gatehouse_server::ledger::hapi::Hapi {
    server
        .state
        .ledger
        .as_ref()
        .expect("a ledger")
        .hapi()
        .clone()
}

/// Submits `data` to `server`'s ledger signed by `keys` directly, around the server (what officers
/// holding keys could do); the ledger's receipt.
pub(crate) async fn around_the_server(
    server: &gatehouse_server::Running,
    data: pb::transaction_body::Data,
    keys: &[&SigningKey],
) -> Result<pb::TransactionReceipt, gatehouse_server::ledger::hapi::Error> {
    let hapi = hapi(server);
    let body = hapi.body(data, "outside");
    let bytes = prost::Message::encode_to_vec(&body);
    let pairs = keys
        .iter()
        .map(|k| {
            gatehouse_server::ledger::hapi::signature_pair(
                &gatehouse_keys::key::PublicKey::from_bytes(
                    gatehouse_keys::key::Algorithm::Ed25519,
                    k.verifying_key().as_bytes(),
                )
                .expect("a key"),
                k.sign(&bytes).to_bytes().to_vec(),
            )
            .expect("a pair")
        })
        .collect();
    hapi.execute(&body, hapi.transaction(bytes, pairs)).await
}

async fn a_quorum_creates_the_token_and_mints_and_every_refusal_holds(backend: Backend) {
    let mut deployment = TestDeployment::new(backend).await;
    deployment.config.ledger = Some(Ledger::Simulator {
        data_dir: "ledger".into(),
    });
    deployment.config.keys.policy = KeyPolicy::Development;
    let alice_files = deployment.enrol("alice", &[Role::Officer]).await;
    let bob_files = deployment.enrol("bob", &[Role::Officer]).await;
    let carol_files = deployment
        .enrol("carol", &[Role::Officer, Role::Responder])
        .await;
    let dave_files = deployment.enrol("dave", &[Role::Compliance]).await;
    let erin_files = deployment.enrol("erin", &[Role::Admin]).await;
    let server = deployment.start().await;
    let alice = connect(&deployment, server.addr, &alice_files);
    let bob = connect(&deployment, server.addr, &bob_files);
    let carol = connect(&deployment, server.addr, &carol_files);
    let dave = connect(&deployment, server.addr, &dave_files);
    let erin = connect(&deployment, server.addr, &erin_files);
    let (ka, kb, kc) = (key(1), key(2), key(3));

    // No token without enough officers' keys.
    let token = NewToken {
        name: "Gatehouse Demo".into(),
        symbol: "GATE".into(),
        max_supply: 1000,
    };
    let early: Result<Proposal, _> = erin.post("/v1/proposals/token-create", &token).await;
    let why = refused(early, "BadRequest");
    assert!(why.contains("enrol"), "says what to do: {why}");

    // Ledger keys: once per officer, one key per person, compliance cannot enrol.
    enrol(&alice, &ka).await.expect("alice enrols");
    enrol(&bob, &kb).await.expect("bob enrols");
    let carol_key = enrol(&carol, &kc).await.expect("carol enrols");
    assert_eq!(carol_key.evidence, "software");
    refused(enrol(&alice, &key(9)).await, "Conflict");
    refused(enrol(&dave, &key(8)).await, "Forbidden");
    let keys: Vec<LedgerKey> = dave
        .get("/v1/ledger-keys")
        .await
        .expect("anyone reads the keys");
    assert_eq!(keys.len(), 3);

    // Consoles follow changes over server-sent events on the same connection.
    let mut events = dave.events().await.expect("the event stream opens");
    // The token: proposed by the administrator, approved by two officers on the ledger.
    refused(
        alice
            .post::<_, Proposal>("/v1/proposals/token-create", &token)
            .await,
        "Forbidden",
    );
    let creation: Proposal = erin
        .post("/v1/proposals/token-create", &token)
        .await
        .expect("the token is proposed");
    assert_eq!(
        (creation.threshold, creation.status),
        (2, ProposalStatus::Open)
    );
    let Payload::TokenCreate {
        treasury,
        officers,
        responders,
        ..
    } = &creation.payload
    else {
        panic!("a token creation: {:?}", creation.payload)
    };
    assert_eq!(officers, &["alice", "bob", "carol"]);
    assert_eq!(responders, &["carol"]);
    let mint: Result<Proposal, _> = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                documents: Vec::new(),
                metadata: vec!["ipfs://x".into()],
            },
        )
        .await;
    refused(mint, "Conflict");
    let after_one = approve(&alice, &creation.id, &ka)
        .await
        .expect("alice approves");
    assert_eq!(
        after_one.status,
        ProposalStatus::Open,
        "one signature does not execute"
    );
    assert_eq!(after_one.approvals.len(), 1);
    let created = approve(&bob, &creation.id, &kb)
        .await
        .expect("bob approves");
    assert_eq!(created.status, ProposalStatus::Executed, "{created:?}");
    let mut seen = Vec::new();
    while !seen.contains(&"proposal.executed".to_owned()) {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
            .expect("a well-formed event");
        assert_eq!(event.proposal.as_deref(), Some(creation.id.as_str()));
        seen.push(event.kind);
    }
    assert_eq!(
        seen,
        [
            "proposal.created",
            "proposal.approved",
            "proposal.approved",
            "proposal.executed"
        ],
        "each change of the token's proposal, in order"
    );
    let token_id = created
        .outcome
        .as_ref()
        .and_then(|o| o.token.clone())
        .expect("a token id");

    // A mint: the proposer cannot approve, strangers' and forged signatures are refused.
    let metadata = vec![
        "ipfs://bafkreiaaa".to_owned(),
        "ipfs://bafkreibbb".to_owned(),
    ];
    let proposal: Proposal = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                documents: Vec::new(),
                metadata: metadata.clone(),
            },
        )
        .await
        .expect("alice proposes a mint");
    let id = proposal.id.clone();
    assert_eq!(proposal.eligible, ["alice", "bob", "carol"]);
    refused(request(&alice, &id).await, "Forbidden");
    refused(request(&dave, &id).await, "Forbidden");

    let req = request(&bob, &id).await.expect("bob gets a body");
    let body = B64.decode(&req.body).expect("base64");
    let decoded: pb::TransactionBody =
        prost::Message::decode(body.as_slice()).expect("a TransactionBody");
    let Some(pb::transaction_body::Data::ScheduleSign(sign)) = decoded.data else {
        panic!("a ScheduleSign body")
    };
    assert_eq!(
        sign.schedule_id.map(|s| format!("0.0.{}", s.schedule_num)),
        Some(proposal.schedule_id.clone()),
        "the body signs this proposal's schedule"
    );
    let other_bytes = kb.sign(b"something else").to_bytes();
    let why = refused(
        submit(&bob, &id, &req.request, &other_bytes).await,
        "BadRequest",
    );
    assert!(why.contains("does not verify"), "{why}");
    // A request is answered once: even a good signature over its body is now refused.
    let why = refused(
        submit(&bob, &id, &req.request, &kb.sign(&body).to_bytes()).await,
        "Conflict",
    );
    assert!(why.contains("no open approval request"), "{why}");
    let req = request(&bob, &id).await.expect("a new body");
    let body = B64.decode(&req.body).expect("base64");
    refused(
        submit(&bob, &id, &req.request, &kc.sign(&body).to_bytes()).await,
        "BadRequest",
    );
    let req = request(&bob, &id).await.expect("a new body");
    let body = B64.decode(&req.body).expect("base64");
    let signature = kb.sign(&body).to_bytes();
    let one = submit(&bob, &id, &req.request, &signature)
        .await
        .expect("bob approves");
    assert_eq!(one.status, ProposalStatus::Open, "1 of 2: nothing minted");
    assert_eq!(one.approvals[0].officer, "bob");
    // The same signature again is refused, and the spent set holds it for good.
    let why = refused(
        submit(&bob, &id, &req.request, &signature).await,
        "Conflict",
    );
    assert!(why.contains("approved this proposal already"), "{why}");
    let mut tx = server.state.db.begin().await.expect("a transaction");
    let again = gatehouse_server::proposals::store::spend(
        &mut tx,
        &hex::encode(sha2::Sha256::digest(signature)),
        &id,
        "bob",
    )
    .await
    .expect("the spent set answers");
    assert!(
        !again,
        "the spent set holds bob's signature: it can never count again"
    );
    drop(tx);

    // The operator (fee payer) alone cannot mint: the supply key is the officers' threshold key.
    let token_pb = {
        let num: i64 = token_id
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a token number");
        pb::TokenId {
            shard_num: 0,
            realm_num: 0,
            token_num: num,
        }
    };
    let hapi = hapi(&server);
    let alone = hapi
        .run(
            pb::transaction_body::Data::TokenMint(pb::TokenMintTransactionBody {
                token: Some(token_pb),
                amount: 0,
                metadata: vec![b"ipfs://rogue".to_vec()],
            }),
            "rogue",
        )
        .await
        .expect_err("the operator alone cannot mint");
    assert!(
        format!("{alone:?}").contains("InvalidSignature"),
        "{alone:?}"
    );

    // Carol's approval completes the threshold: the ledger mints, the serials are recorded.
    let done = approve(&carol, &id, &kc).await.expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    let outcome = done.outcome.expect("an outcome");
    assert_eq!(
        (outcome.status.as_str(), outcome.serials.as_slice()),
        ("SUCCESS", &[1, 2][..])
    );
    refused(approve(&carol, &id, &kc).await, "Conflict");
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();
    let nfts: serde_json::Value = reqwest::get(format!("{mirror}/api/v1/tokens/{token_id}/nfts"))
        .await
        .expect("the mirror answers")
        .json()
        .await
        .expect("JSON");
    let minted: Vec<String> = nfts["nfts"]
        .as_array()
        .expect("nfts")
        .iter()
        .map(|n| {
            String::from_utf8(
                B64.decode(n["metadata"].as_str().unwrap_or_default())
                    .unwrap_or_default(),
            )
            .unwrap_or_default()
        })
        .collect();
    assert_eq!(minted.len(), 2, "{nfts}");
    assert!(minted.iter().all(|m| metadata.contains(m)), "{minted:?}");
    assert_eq!(
        nfts["nfts"][0]["account_id"],
        treasury.as_str(),
        "minted into the treasury"
    );

    // Receipts last minutes: a schedule that executed while the server was not looking is found
    // on the mirror, with the same outcome.
    let engine = server.state.proposals.clone().expect("proposals");
    let minted = engine.get(&id).await.expect("the mint");
    let seen = engine
        .mirror_outcome(&minted)
        .await
        .expect("the mirror answers")
        .expect("executed");
    assert_eq!(
        (seen.status.as_str(), seen.serials.as_slice()),
        ("SUCCESS", &[1, 2][..])
    );
    let creation_seen = engine
        .mirror_outcome(&engine.get(&creation.id).await.expect("the creation"))
        .await
        .expect("the mirror answers")
        .expect("executed");
    assert_eq!(creation_seen.token.as_deref(), Some(token_id.as_str()));

    // Reconciliation: every NFT on the ledger is explained by a proposal, until two officers mint
    // outside Gatehouse with their keys; then an alarm names the serial, once.
    let reconciler = reconciler(&server, 1000);
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        0,
        "every NFT is explained"
    );
    around_the_server(
        &server,
        pb::transaction_body::Data::TokenMint(pb::TokenMintTransactionBody {
            token: Some(token_pb),
            amount: 0,
            metadata: vec![b"ipfs://outside".to_vec()],
        }),
        &[&ka, &kb],
    )
    .await
    .expect("two officers' keys mint on the ledger directly");
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        1,
        "one alarm"
    );
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        0,
        "raised once"
    );
    let alarms: Vec<gatehouse_protocol::proposal::Alarm> = dave
        .get("/v1/alarms")
        .await
        .expect("anyone reads the alarms");
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(
        (alarms[0].kind.as_str(), alarms[0].subject.clone()),
        ("unexplained-mint", format!("{token_id}/3"))
    );
    let nfts: Vec<gatehouse_protocol::proposal::Nft> =
        dave.get("/v1/nfts").await.expect("the NFTs");
    let by_serial = |n: i64| nfts.iter().find(|x| x.serial == n).expect("indexed");
    assert!(!by_serial(3).explained && by_serial(3).proposal.is_none());
    assert!(by_serial(1).explained && by_serial(1).approvers == ["bob", "carol"]);
    assert_eq!(by_serial(2).metadata, metadata[1]);
    let busy = self::reconciler(&server, 2);
    assert_eq!(
        busy.run_once().await.expect("reconciles"),
        1,
        "3 NFTs in an hour is above 2"
    );
    assert_eq!(
        busy.run_once().await.expect("reconciles"),
        0,
        "one volume alarm per hour"
    );

    // Rejections: once the threshold is out of reach, the proposal is rejected.
    let doomed: Proposal = bob
        .post(
            "/v1/proposals/mint",
            &NewMint {
                documents: Vec::new(),
                metadata: vec!["ipfs://c".into()],
            },
        )
        .await
        .expect("bob proposes");
    refused(
        bob.post::<_, Proposal>(
            &format!("/v1/proposals/{}/reject", doomed.id),
            &Reject { reason: "x".into() },
        )
        .await,
        "Forbidden",
    );
    let r: Proposal = carol
        .post(
            &format!("/v1/proposals/{}/reject", doomed.id),
            &Reject {
                reason: "wrong artwork".into(),
            },
        )
        .await
        .expect("carol rejects");
    assert_eq!(
        r.status,
        ProposalStatus::Rejected,
        "only alice is left to approve, and 2 must"
    );
    assert_eq!(r.rejections[0].reason, "wrong artwork");

    // Cancel: not by another officer; by the proposer.
    let cancellable: Proposal = carol
        .post(
            "/v1/proposals/mint",
            &NewMint {
                documents: Vec::new(),
                metadata: vec!["ipfs://d".into()],
            },
        )
        .await
        .expect("carol proposes");
    refused(
        bob.post::<_, Proposal>(
            &format!("/v1/proposals/{}/cancel", cancellable.id),
            &serde_json::json!({}),
        )
        .await,
        "Forbidden",
    );
    let cancelled: Proposal = carol
        .post(
            &format!("/v1/proposals/{}/cancel", cancellable.id),
            &serde_json::json!({}),
        )
        .await
        .expect("the proposer cancels");
    assert_eq!(cancelled.status, ProposalStatus::Cancelled);
    refused(request(&alice, &cancellable.id).await, "Conflict");
    // The ledger's schedule is deleted too: officers' keys cannot execute it around the server.
    let schedule: serde_json::Value = reqwest::get(format!(
        "{mirror}/api/v1/schedules/{}",
        cancellable.schedule_id
    ))
    .await
    .expect("the mirror answers")
    .json()
    .await
    .expect("JSON");
    assert_eq!(schedule["deleted"], true, "{schedule}");
    let schedule_num = cancellable
        .schedule_id
        .rsplit('.')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a schedule number");
    let signed = around_the_server(
        &server,
        pb::transaction_body::Data::ScheduleSign(pb::ScheduleSignTransactionBody {
            schedule_id: Some(pb::ScheduleId {
                shard_num: 0,
                realm_num: 0,
                schedule_num,
            }),
        }),
        &[&ka, &kb],
    )
    .await;
    assert!(
        format!("{signed:?}").contains("ScheduleAlreadyDeleted"),
        "a deleted schedule cannot be signed: {signed:?}"
    );

    // Past its deadline: no more approvals, and the settler marks it expired.
    let late: Proposal = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                documents: Vec::new(),
                metadata: vec!["ipfs://e".into()],
            },
        )
        .await
        .expect("alice proposes");
    let sql = format!(
        "UPDATE proposals SET deadline = created_at WHERE id = '{}'",
        late.id
    );
    crate::audit::execute(&server.state.db, &sql).await;
    let why = refused(request(&bob, &late.id).await, "Conflict");
    assert!(why.contains("deadline"), "{why}");
    let engine = server.state.proposals.as_ref().expect("proposals");
    engine.settle_open(false).await.expect("settles");
    let late = engine.get(&late.id).await.expect("the proposal");
    assert_eq!(late.status, ProposalStatus::Expired);

    // Bad input names the field.
    let why = refused(
        alice
            .post::<_, Proposal>(
                "/v1/proposals/mint",
                &NewMint {
                    documents: Vec::new(),
                    metadata: vec!["x".repeat(101)],
                },
            )
            .await,
        "BadRequest",
    );
    assert!(why.contains("metadata[0]"), "{why}");
    let why = refused(
        alice
            .post::<_, Proposal>(
                "/v1/proposals/mint",
                &NewMint {
                    documents: Vec::new(),
                    metadata: vec!["ipfs://x".into(); 11],
                },
            )
            .await,
        "BadRequest",
    );
    assert!(why.contains("at most 10"), "{why}");

    // HIP-412 documents: checked against the schema, and the CID recomputed against the URI.
    let document = r#"{"name":"Gate #9","image":"ipfs://bafkreiimage","type":"image/png"}"#;
    let uri = format!(
        "ipfs://{}",
        gatehouse_protocol::hip412::raw_cid(document.as_bytes())
    );
    let good: Proposal = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                metadata: vec![uri.clone()],
                documents: vec![Some(document.to_owned())],
            },
        )
        .await
        .expect("a document under its own CID is accepted");
    assert_eq!(good.status, ProposalStatus::Open);
    // The document travels with the proposal, byte for byte, so consoles check it themselves.
    let fetched: Proposal = alice
        .get(&format!("/v1/proposals/{}", good.id))
        .await
        .expect("the proposal reads back");
    match fetched.payload {
        Payload::Mint { documents, .. } => {
            assert_eq!(documents, vec![Some(document.to_owned())]);
        }
        other => panic!("a mint's payload: {other:?}"),
    }
    let other = format!(
        "ipfs://{}",
        gatehouse_protocol::hip412::raw_cid(b"another file")
    );
    let why = refused(
        alice
            .post::<_, Proposal>(
                "/v1/proposals/mint",
                &NewMint {
                    metadata: vec![other],
                    documents: vec![Some(document.to_owned())],
                },
            )
            .await,
        "BadRequest",
    );
    assert!(
        why.contains("documents[0]") && why.contains("not this document"),
        "{why}"
    );
    let why = refused(
        alice
            .post::<_, Proposal>(
                "/v1/proposals/mint",
                &NewMint {
                    metadata: vec![uri],
                    documents: vec![Some(r#"{"name":"no image"}"#.to_owned())],
                },
            )
            .await,
        "BadRequest",
    );
    assert!(
        why.contains("documents[0]") && why.contains("HIP-412"),
        "{why}"
    );

    // Mint while paused: the responder pauses the token on the ledger; a new mint is refused.
    around_the_server(
        &server,
        pb::transaction_body::Data::TokenPause(pb::TokenPauseTransactionBody {
            token: Some(token_pb),
        }),
        &[&kc],
    )
    .await
    .expect("carol's key pauses the token");
    let paused: Result<Proposal, _> = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                documents: Vec::new(),
                metadata: vec!["ipfs://f".into()],
            },
        )
        .await;
    let why = refused(paused, "Conflict");
    assert!(why.contains("ledger"), "{why}");

    // Everything above is in the audit log, refusals with their reasons.
    let entries: Vec<(String, String)> = crate::audit::fetch_all(
        &server.state.db,
        "SELECT action, outcome FROM audit_entries",
    )
    .await;
    for (action, outcome) in [
        ("ledger-key.enrol", "success"),
        ("proposal.create", "success"),
        ("proposal.approve", "success"),
        ("proposal.approve", "denied"),
        ("proposal.approval-request", "denied"),
        ("proposal.execute", "success"),
        ("proposal.reject", "success"),
        ("proposal.cancel", "success"),
        ("proposal.expire", "failed"),
        ("proposal.create", "failed"),
        ("ledger.unexplained-mint", "failed"),
        ("ledger.mint-volume", "failed"),
    ] {
        assert!(
            entries.iter().any(|(a, o)| a == action && o == outcome),
            "no {action} {outcome} entry in {entries:?}"
        );
    }
    server.shutdown().await.expect("clean shutdown");
}

/// An event published on one instance reaches a console connected to another (PostgreSQL relays
/// it with NOTIFY); on SQLite, where there is one instance, it reaches that instance's consoles.
async fn events_reach_consoles_on_every_instance(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let dave_files = deployment.enrol("dave", &[Role::Compliance]).await;
    let first = deployment.start().await;
    let second = match backend {
        Backend::Postgres => Some(deployment.start().await),
        Backend::Sqlite => None,
    };
    let listening = second.as_ref().unwrap_or(&first);
    let dave = connect(&deployment, listening.addr, &dave_files);
    let mut events = dave.events().await.expect("the event stream opens");
    // The relay's LISTEN may start a moment after the server: publish until one arrives.
    let received = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            first
                .state
                .events
                .publish(gatehouse_protocol::proposal::Event::new(
                    "proposal.created",
                    Some("p-1"),
                ));
            if let Ok(Some(event)) =
                tokio::time::timeout(std::time::Duration::from_millis(300), events.next()).await
            {
                break event.expect("a well-formed event");
            }
        }
    })
    .await
    .expect("the event arrives within 10 s");
    assert_eq!(
        (received.kind.as_str(), received.proposal.as_deref()),
        ("proposal.created", Some("p-1"))
    );
    drop(events);
    if let Some(second) = second {
        second.shutdown().await.expect("clean shutdown");
    }
    first.shutdown().await.expect("clean shutdown");
}
