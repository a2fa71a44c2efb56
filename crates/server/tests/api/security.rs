//! The security review's findings (issue 13), each with a test that failed before its fix:
//! a log that trusts its database, changes audited outside their transaction, refusal floods,
//! client-chosen request ids, plain-text extractor errors, stale and revoked certificates,
//! one key under two names, connection slots held by idle or silent clients, file modes.

use std::time::Duration;

use axum::body::Body;
use gatehouse_audit::tree::Tree;
use gatehouse_client::connection::Error as ClientError;
use gatehouse_protocol::{ApiError, ErrorCode, Role};
use gatehouse_server::audit;
use gatehouse_server::http::tls::PeerCertificate;
use gatehouse_server::pki::Validity;
use gatehouse_server::registry::{self, ChangedBy, Registry};
use gatehouse_server::store::Db;
use gatehouse_server::testing::{Backend, PersonFiles, TestDeployment};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio::io::AsyncReadExt as _;
use tower::ServiceExt as _;

use crate::audit::{entry, execute, fetch_all, fetch_one, open_log, try_open_log};
use crate::identity::connect;
use crate::on_both_backends;

on_both_backends!(
    a_rewritten_row_with_a_matching_tree_row_is_refused,
    a_forged_row_appended_with_a_matching_root_is_refused,
    a_database_rolled_back_to_an_older_signed_state_is_refused,
    a_failed_registry_change_leaves_no_success_entry,
    an_invalid_outbox_row_does_not_fail_its_batch,
    reads_of_personal_data_are_audited,
    a_replaced_certificate_is_revoked_in_the_handshake,
);

async fn reopen(deployment: &TestDeployment) -> audit::Error {
    try_open_log(deployment, &mut tokio::task::JoinSet::new())
        .await
        .expect_err("the log must refuse to open")
}

/// Five entries, each in its own batch (so a checkpoint exists at every size).
async fn five_entries(deployment: &TestDeployment) -> Vec<Vec<u8>> {
    let (log, _tasks) = open_log(deployment).await;
    for n in 0..5 {
        log.append(entry("writer", n)).await.expect("append");
    }
    let leaves: Vec<(Vec<u8>,)> =
        fetch_all(log.db(), "SELECT leaf FROM audit_entries ORDER BY idx").await;
    leaves.into_iter().map(|(l,)| l).collect()
}

fn root_of(leaves: &[Vec<u8>]) -> Vec<u8> {
    let mut tree = Tree::new();
    for leaf in leaves {
        tree.append(leaf);
    }
    tree.current_root().as_bytes().to_vec()
}

async fn set_tree(db: &Db, size: usize, root: &[u8]) {
    let sql = "UPDATE audit_tree SET size = $1, root = $2 WHERE id = 1";
    match db {
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(size as i64)
            .bind(root)
            .execute(pool)
            .await
            .map(drop),
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(size as i64)
            .bind(root)
            .execute(pool)
            .await
            .map(drop),
    }
    .expect("the attacker's update");
}

async fn write_leaf(db: &Db, sql: &str, idx: i64, leaf: &[u8]) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql)
            .bind(leaf)
            .bind(idx)
            .execute(pool)
            .await
            .map(drop),
        Db::Postgres(pool) => sqlx::query(sql)
            .bind(leaf)
            .bind(idx)
            .execute(pool)
            .await
            .map(drop),
    }
    .expect("the attacker's write");
}

async fn a_rewritten_row_with_a_matching_tree_row_is_refused(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let mut leaves = five_entries(&deployment).await;
    let mut forged = gatehouse_audit::leaf::Leaf::decode(&leaves[2]).expect("decode");
    forged.object = "nothing/to/see".into();
    leaves[2] = forged.encode().expect("encode");
    let db = Db::connect(&deployment.config.database_url())
        .await
        .expect("db");
    write_leaf(
        &db,
        "UPDATE audit_entries SET leaf = $1 WHERE idx = $2",
        2,
        &leaves[2],
    )
    .await;
    // The attacker also fixes the cached root, which the log used to trust.
    set_tree(&db, 5, &root_of(&leaves)).await;
    let err = reopen(&deployment).await;
    assert!(
        matches!(&err, audit::Error::Inconsistent(m) if m.contains("signed checkpoint")),
        "refused against the signature, not the cache: {err}"
    );
}

async fn a_forged_row_appended_with_a_matching_root_is_refused(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let mut leaves = five_entries(&deployment).await;
    let mut forged = gatehouse_audit::leaf::Leaf::decode(&leaves[4]).expect("decode");
    forged.index = 5;
    forged.object = "minted:1000000".into();
    leaves.push(forged.encode().expect("encode"));
    let db = Db::connect(&deployment.config.database_url())
        .await
        .expect("db");
    write_leaf(
        &db,
        "INSERT INTO audit_entries (leaf, idx, time, actor, action, object, outcome) \
         VALUES ($1, $2, '2026-01-01T00:00:00Z', 'writer', 'demo.test.append', 'minted', 'success')",
        5,
        &leaves[5],
    )
    .await;
    set_tree(&db, 6, &root_of(&leaves)).await;
    let err = reopen(&deployment).await;
    assert!(
        matches!(&err, audit::Error::Inconsistent(m) if m.contains("no signed checkpoint")),
        "an entry no checkpoint signed is refused: {err}"
    );
}

async fn a_database_rolled_back_to_an_older_signed_state_is_refused(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let leaves = five_entries(&deployment).await;
    let db = Db::connect(&deployment.config.database_url())
        .await
        .expect("db");
    // Back to the (genuinely signed) state at size 3: the last two entries vanish.
    for table in ["audit_search", "audit_private", "audit_entries"] {
        execute(&db, &format!("DELETE FROM {table} WHERE idx >= 3")).await;
    }
    execute(&db, "DELETE FROM audit_checkpoints WHERE size > 3").await;
    set_tree(&db, 3, &root_of(&leaves[..3])).await;
    let err = reopen(&deployment).await;
    assert!(
        matches!(&err, audit::Error::Inconsistent(m) if m.contains("rolled back")),
        "the high-water mark outside the database catches it: {err}"
    );
}

async fn a_failed_registry_change_leaves_no_success_entry(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let alice = deployment.enrol("alice", &[Role::Officer]).await;
    let (log, _tasks) = open_log(&deployment).await;
    let registry = Registry::new(log.db().clone(), log.clone());
    let by = ChangedBy::local_operator();
    // Alice's key again, in a new certificate under another name: one key, one person.
    let alice_key = std::fs::read_to_string(&alice.key).expect("key");
    let key = rcgen::KeyPair::from_pem(&alice_key).expect("alice's key");
    let request = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&key)
        .expect("a request");
    let pem = deployment
        .ca
        .issue_client_for_request("mallory", request.der(), Validity::days_from_now(30))
        .expect("the CA signs");
    let certificate = registry::Certificate::from_pem(&pem).expect("certificate");
    let err = registry
        .enrol(&by, &certificate, "mallory", &[Role::Officer], || Ok(()))
        .await
        .expect_err("a second name for one key is refused");
    assert!(err.to_string().contains("public key"), "{err}");
    // A step before commit that fails (the certificate file could not be written).
    let other = deployment.person("oscar", Validity::days_from_now(30));
    let pem = std::fs::read_to_string(&other.cert).expect("cert");
    let certificate = registry::Certificate::from_pem(&pem).expect("certificate");
    registry
        .enrol(&by, &certificate, "oscar", &[Role::Officer], || {
            Err("disk full".to_owned())
        })
        .await
        .expect_err("the failed step stops the change");
    let officers = registry::store::officers(log.db()).await.expect("officers");
    assert_eq!(officers.len(), 1, "only alice is registered: {officers:?}");
    let (entries,): (i64,) = fetch_one(
        log.db(),
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'registry.enrol'",
    )
    .await;
    let (queued,): (i64,) = fetch_one(log.db(), "SELECT COUNT(*) FROM audit_outbox").await;
    assert_eq!(
        (entries, queued),
        (0, 0),
        "no entry says a failed change succeeded"
    );
    // And a change that works is logged with it.
    let pem = std::fs::read_to_string(&deployment.person("pia", Validity::days_from_now(30)).cert)
        .expect("cert");
    let certificate = registry::Certificate::from_pem(&pem).expect("certificate");
    registry
        .enrol(&by, &certificate, "pia", &[Role::Compliance], || Ok(()))
        .await
        .expect("enrolled");
    let (entries,): (i64,) = fetch_one(
        log.db(),
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'registry.enrol'",
    )
    .await;
    assert_eq!(entries, 1, "the successful enrolment is logged");
}

async fn an_invalid_outbox_row_does_not_fail_its_batch(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let (log, _tasks) = open_log(&deployment).await;
    let sql =
        "INSERT INTO audit_outbox (entry, queued_at) VALUES ('{not json', '2026-01-01T00:00:00Z')";
    match log.db() {
        Db::Sqlite(_) => execute(log.db(), sql).await,
        Db::Postgres(_) => execute(log.db(), &sql.replace("'2026-01-01T00:00:00Z'", "now()")).await,
    }
    let index = log
        .append(entry("writer", 1))
        .await
        .expect("the valid entry is logged");
    let actions: Vec<(String,)> =
        fetch_all(log.db(), "SELECT action FROM audit_entries ORDER BY idx").await;
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["audit.invalid-entry", "demo.test.append"],
        "the bad row is logged as bad, the good one as itself"
    );
    assert_eq!(index, 1);
}

async fn reads_of_personal_data_are_audited(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    connect(&deployment, server.addr, &mallory)
        .whoami()
        .await
        .expect_err("refused, with the address as personal data");
    let reader = connect(&deployment, server.addr, &dave);
    let _: serde_json::Value = reader
        .post(
            "/v1/audit/search",
            &serde_json::json!({ "tag": "client-ip", "value": "127.0.0.1" }),
        )
        .await
        .expect("search");
    let _: serde_json::Value = reader
        .get("/v1/audit/entries/0/private")
        .await
        .expect("read");
    let rows: Vec<(String, String)> = fetch_all(
        &server.state.db,
        "SELECT action, actor FROM audit_entries WHERE action LIKE 'audit.%' ORDER BY idx",
    )
    .await;
    assert_eq!(
        rows,
        [
            ("audit.search".to_owned(), "dave".to_owned()),
            ("audit.read-private".to_owned(), "dave".to_owned())
        ],
        "each read of personal data is an entry naming the reader"
    );
    server.shutdown().await.expect("shutdown");
}

async fn a_replaced_certificate_is_revoked_in_the_handshake(backend: Backend) {
    let mut deployment = TestDeployment::new(backend).await;
    deployment.config.tls.revocation_refresh_secs = 1;
    let bob = deployment.enrol("bob", &[Role::Officer]).await;
    let server = deployment.start().await;
    let new = deployment.person("bob-new", Validity::days_from_now(30));
    let registry = Registry::new(server.state.db.clone(), server.state.audit.clone());
    let pem = std::fs::read_to_string(&new.cert).expect("cert");
    let certificate = registry::Certificate::from_pem(&pem).expect("certificate");
    registry
        .replace_certificate(&ChangedBy::local_operator(), &certificate, "bob", || Ok(()))
        .await
        .expect("replaced");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = connect(&deployment, server.addr, &bob)
        .whoami()
        .await
        .expect_err("the old certificate is revoked");
    assert!(
        matches!(err, ClientError::ClientCertRejected { .. }),
        "refused in the handshake, not by the registry: {err:?}"
    );
    let me = connect(&deployment, server.addr, &new)
        .whoami()
        .await
        .expect("the new one works");
    assert_eq!(me.name, "bob");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_certificate_expired_beyond_the_grace_fails_the_handshake() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let now = time::OffsetDateTime::now_utc();
    let old = deployment.person(
        "olga",
        Validity {
            not_before: now - Duration::from_secs(86_400 * 10),
            not_after: now - Duration::from_secs(86_400 * 2),
        },
    );
    deployment.register(&old, "olga", &[Role::Officer]).await;
    let server = deployment.start().await;
    let err = connect(&deployment, server.addr, &old)
        .whoami()
        .await
        .expect_err("refused");
    // The client reads the TLS alert (certificate_expired) and names its own expiry.
    assert!(
        matches!(err, ClientError::CertificateExpired { .. }),
        "two days past expiry: refused as expired: {err:?}"
    );
    let (entries,): (i64,) =
        fetch_one(&server.state.db, "SELECT COUNT(*) FROM audit_entries").await;
    assert_eq!(
        entries, 0,
        "the refusal came from the handshake (grace one day), not from a request the server answered"
    );
    server.shutdown().await.expect("shutdown");
}

fn peer(person: &PersonFiles) -> PeerCertificate {
    let der = CertificateDer::from_pem_file(&person.cert).expect("cert");
    PeerCertificate::from_der(&der).expect("parsed")
}

async fn call(
    app: &axum::Router,
    request: axum::http::Request<Body>,
) -> (axum::http::response::Parts, Vec<u8>) {
    let response = app.clone().oneshot(request).await.expect("a response");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    (parts, bytes.to_vec())
}

#[tokio::test]
async fn request_ids_are_the_servers_and_bad_requests_answer_the_error_shape() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let server = deployment.start().await;
    let app = gatehouse_server::app(server.state.clone());
    let with_cert = |builder: axum::http::request::Builder, body: Body| {
        let mut request = builder.body(body).expect("request");
        request.extensions_mut().insert(peer(&dave));
        request
    };
    let (parts, _) = call(
        &app,
        with_cert(
            axum::http::Request::get("/v1/whoami").header("x-request-id", "forged-id"),
            Body::empty(),
        ),
    )
    .await;
    let id = parts
        .headers
        .get("x-request-id")
        .expect("an id")
        .to_str()
        .expect("text");
    assert_ne!(id, "forged-id", "the client's id is replaced");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "the server's own: {id}");

    let (parts, body) = call(
        &app,
        with_cert(
            axum::http::Request::get("/v1/audit/entries?from=abc"),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(parts.status, 400);
    let error: ApiError = serde_json::from_slice(&body).expect("the ApiError shape, not text");
    assert_eq!(error.code, ErrorCode::BadRequest);

    let (parts, body) = call(
        &app,
        with_cert(
            axum::http::Request::post("/v1/audit/search")
                .header("content-type", "application/json"),
            Body::from("{\"tag\": 1}"),
        ),
    )
    .await;
    assert_eq!(parts.status, 400, "{}", String::from_utf8_lossy(&body));
    let error: ApiError = serde_json::from_slice(&body).expect("the ApiError shape");
    assert!(error.message.contains("request body"), "{}", error.message);

    let big = format!(
        "{{\"tag\":\"client-ip\",\"value\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (parts, body) = call(
        &app,
        with_cert(
            axum::http::Request::post("/v1/audit/search")
                .header("content-type", "application/json"),
            Body::from(big),
        ),
    )
    .await;
    assert_eq!(parts.status, 413);
    let error: ApiError = serde_json::from_slice(&body).expect("the ApiError shape");
    assert_eq!(error.code, ErrorCode::PayloadTooLarge);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_flood_of_refusals_is_one_entry_and_one_summary() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    deployment.config.limits.refusal_window_secs = 1;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    for _ in 0..30 {
        connect(&deployment, server.addr, &mallory)
            .whoami()
            .await
            .expect_err("refused");
    }
    let (first,): (i64,) = fetch_one(&server.state.db, "SELECT COUNT(*) FROM audit_entries").await;
    assert_eq!(
        first, 1,
        "the first refusal is logged at once, the rest counted"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let leaves: Vec<(Vec<u8>,)> = fetch_all(
        &server.state.db,
        "SELECT leaf FROM audit_entries ORDER BY idx",
    )
    .await;
    assert_eq!(leaves.len(), 2, "one summary when the window closed");
    let summary = gatehouse_audit::leaf::Leaf::decode(&leaves[1].0).expect("leaf");
    let details: serde_json::Value = serde_json::from_str(summary.details.as_str()).expect("json");
    assert_eq!(details["repeated"], 29, "{details}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn entries_pages_stop_at_their_byte_limit() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    five_entries(&deployment).await;
    let (log, _tasks) = open_log(&deployment).await;
    let page = log
        .entries(0, 100, 1, &audit::Filter::default())
        .await
        .expect("page");
    assert_eq!(
        page.len(),
        1,
        "one byte allowed: one entry, so paging still moves on"
    );
    let page = log
        .entries(0, 100, usize::MAX, &audit::Filter::default())
        .await
        .expect("page");
    assert_eq!(page.len(), 5);
}

/// Reads until the server closes the connection; the time it took, or None if it stayed open.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Some(started.elapsed()),
        Ok(Ok(_)) => panic!("the server sent data to a client that sent nothing"),
        Err(_) => None,
    }
}

#[tokio::test]
async fn silent_clients_and_crowds_from_one_address_do_not_hold_slots() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    deployment.config.limits.client_hello_timeout_secs = 1;
    deployment.config.limits.max_connections_per_ip = 2;
    let server = deployment.start().await;
    let mut first = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let mut second = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let closed = closed_within(&mut third, Duration::from_millis(500)).await;
    assert!(
        closed.is_some(),
        "a third connection from one address is closed at once"
    );
    let closed = closed_within(&mut first, Duration::from_secs(5)).await;
    let took = closed.expect("a client that sends no ClientHello is closed");
    assert!(
        took < Duration::from_secs(3),
        "within the ClientHello deadline (1 s), not the handshake's 30 s: {took:?}"
    );
    assert!(
        closed_within(&mut second, Duration::from_secs(3))
            .await
            .is_some()
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_database_and_its_journal_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let server = deployment.start().await;
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        let mode = std::fs::metadata(deployment.dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} is {:o}", mode & 0o777);
    }
    server.shutdown().await.expect("shutdown");
}
