//! The audit log: refusals are logged and provable, appends from several instances stay
//! contiguous with consistent checkpoints, and a rewritten row stops the log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::{Checkpoint, LogVerifier};
use gatehouse_audit::leaf::{Leaf, OutcomeKind};
use gatehouse_audit::proof;
use gatehouse_audit::tree::{HashSource, Tree};
use gatehouse_client::connection::Connection;
use gatehouse_protocol::{Fingerprint, Role};
use gatehouse_server::audit::{self, AuditLog};
use gatehouse_server::pki::Validity;
use gatehouse_server::store::Db;
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::identity::connect;
use crate::on_both_backends;

on_both_backends!(
    refused_stranger_is_logged_with_a_verifiable_proof,
    three_instances_append_contiguously_with_consistent_checkpoints,
    an_edited_row_stops_the_log_from_opening,
    a_refusal_that_cannot_be_audited_fails_closed,
    personal_data_is_committed_searchable_and_erasable,
    a_log_key_that_did_not_sign_the_log_is_refused_at_start,
);

/// The latest checkpoint a reader sees, verified against the verifier key the server publishes.
async fn signed_checkpoint(reader: &Connection) -> Checkpoint {
    let view: serde_json::Value = reader
        .get("/v1/audit/checkpoint")
        .await
        .expect("checkpoint");
    let verifier: LogVerifier = view["verifier"]
        .as_str()
        .expect("verifier")
        .parse()
        .expect("verifier parses");
    let note = view["note"].as_str().expect("a checkpoint exists");
    verifier
        .verify(note)
        .expect("the checkpoint is signed by the log key")
        .into_checkpoint()
}

/// Entry `index` as served, after checking its inclusion proof against `checkpoint`.
async fn proven_leaf(reader: &Connection, index: u64, checkpoint: &Checkpoint) -> Vec<u8> {
    let view: serde_json::Value = reader
        .get(&format!(
            "/v1/audit/entries/{index}?tree_size={}",
            checkpoint.size()
        ))
        .await
        .expect("entry with proof");
    let leaf = STANDARD
        .decode(view["entry"]["leaf"].as_str().expect("leaf"))
        .expect("base64");
    let path: Vec<Hash> = view["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| {
            h.as_str()
                .expect("text")
                .parse()
                .expect("a hash in its text form")
        })
        .collect();
    proof::verify_inclusion(
        index,
        checkpoint.size(),
        &Hash::leaf(&leaf),
        &path,
        &checkpoint.root(),
    )
    .expect("the entry is included in the signed tree");
    leaf
}

/// Runs a query on whichever backend the test uses.
pub(crate) async fn fetch_all<T>(db: &Db, sql: &str) -> Vec<T>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    match db {
        Db::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The audit log's `(outcome, details)` of every entry of `action` (a known action name), in order.
pub(crate) async fn entries_of(db: &Db, action: &str) -> Vec<(String, String)> {
    let rows: Vec<(String, Vec<u8>)> = fetch_all(
        db,
        &format!("SELECT outcome, leaf FROM audit_entries WHERE action = '{action}' ORDER BY idx"),
    )
    .await;
    rows.into_iter()
        .map(|(outcome, leaf)| {
            let leaf = gatehouse_audit::leaf::Leaf::decode(&leaf).expect("a canonical leaf");
            (outcome, leaf.details.as_str().to_owned())
        })
        .collect()
}

/// Runs a statement without parameters.
pub(crate) async fn execute(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The one row a query returns.
pub(crate) async fn fetch_one<T>(db: &Db, sql: &str) -> T
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    fetch_all(db, sql)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

pub(crate) fn entry(actor: &str, n: usize) -> audit::Entry {
    audit::Entry {
        actor: audit::Actor {
            name: actor.to_owned(),
            fingerprint: Fingerprint::from_digest([1; 32]),
        },
        action: audit::Action::Demo("demo.test.append".into()),
        object: format!("object:{n}"),
        outcome: OutcomeKind::Success,
        code: None,
        request_id: format!("req-{actor}-{n}"),
        details: serde_json::json!({ "n": n }),
        personal: audit::Personal(vec![("note".to_owned(), format!("free text {n}"))]),
    }
}

/// The deployment's log, with the task set its sequencer runs in (dropping it stops the log).
pub(crate) async fn open_log(deployment: &TestDeployment) -> (AuditLog, tokio::task::JoinSet<()>) {
    let mut tasks = tokio::task::JoinSet::new();
    let log = try_open_log(deployment, &mut tasks)
        .await
        .expect("the log opens");
    (log, tasks)
}

pub(crate) async fn try_open_log(
    deployment: &TestDeployment,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<AuditLog, audit::Error> {
    let db = Db::connect(&deployment.config.database_url())
        .await
        .expect("database");
    gatehouse_server::open_audit(&deployment.config, &db, tasks).await
}

async fn refused_stranger_is_logged_with_a_verifiable_proof(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    connect(&deployment, server.addr, &mallory)
        .whoami()
        .await
        .expect_err("mallory is refused");

    let reader = connect(&deployment, server.addr, &dave);
    let checkpoint = signed_checkpoint(&reader).await;
    assert_eq!(checkpoint.size(), 1, "exactly one entry: the refusal");
    let leaf = proven_leaf(&reader, 0, &checkpoint).await;
    let decoded = Leaf::decode(&leaf).expect("a canonical leaf");
    assert_eq!(
        decoded.action, "identity.refused",
        "the refusal is what was logged"
    );
    assert_eq!(decoded.outcome.kind, OutcomeKind::Denied, "as denied");
    assert_eq!(
        decoded.outcome.code.as_deref(),
        Some("not_registered"),
        "with the reason"
    );
    assert_eq!(
        decoded.actor.cert_fingerprint,
        *mallory.fingerprint.as_bytes(),
        "naming the certificate"
    );
    server.shutdown().await.expect("shutdown");
}

async fn three_instances_append_contiguously_with_consistent_checkpoints(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    // Three independent logs (own pool, own sequencer, own in-memory tree) on one database,
    // as three server processes would be.
    let logs = [
        open_log(&deployment).await,
        open_log(&deployment).await,
        open_log(&deployment).await,
    ];
    let mut tasks = Vec::new();
    for (i, (log, _)) in logs.iter().enumerate() {
        for n in 0..100 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.append(entry(&format!("instance{i}"), n)).await
            }));
        }
    }
    let mut indices = Vec::new();
    for task in tasks {
        indices.push(task.await.expect("task").expect("every append commits"));
    }
    indices.sort_unstable();
    assert_eq!(
        indices,
        (0..300).collect::<Vec<u64>>(),
        "indices are contiguous, each used once"
    );

    // Each instance serves proofs over the whole log, including what the others appended.
    for (log, _) in &logs {
        let (stored, proof) = log
            .entry(0, 300)
            .await
            .expect("proof over all three instances' entries");
        assert_eq!(
            (stored.index, proof.tree_size),
            (0, 300),
            "the instance caught up to size 300"
        );
    }

    // Every stored checkpoint extends the one before it.
    let db = logs[0].0.db();
    let rows: Vec<(i64, Vec<u8>)> =
        fetch_all(db, "SELECT idx, leaf FROM audit_entries ORDER BY idx").await;
    let mut tree = Tree::new();
    for (_, leaf) in &rows {
        tree.append(leaf);
    }
    let notes: Vec<(i64, String)> =
        fetch_all(db, "SELECT size, note FROM audit_checkpoints ORDER BY size").await;
    let verifier: LogVerifier = logs[0].0.verifier().parse().expect("verifier");
    let mut previous: Option<gatehouse_audit::checkpoint::Checkpoint> = None;
    for (size, note) in &notes {
        let checkpoint = verifier.verify(note).expect("signed").into_checkpoint();
        assert_eq!(
            checkpoint.size(),
            *size as u64,
            "the row's size is the note's size"
        );
        assert_eq!(
            checkpoint.root(),
            tree.root(checkpoint.size()).expect("root"),
            "the root matches the entries"
        );
        if let Some(old) = &previous {
            let proof = tree
                .consistency_proof(old.size(), checkpoint.size())
                .expect("proof");
            gatehouse_audit::trust::check(old, &checkpoint, &proof.path)
                .expect("each checkpoint extends the last");
        }
        previous = Some(checkpoint);
    }
    assert_eq!(
        previous.map(|c| c.size()),
        Some(300),
        "the last checkpoint covers everything"
    );
}

async fn an_edited_row_stops_the_log_from_opening(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let (log, _tasks) = open_log(&deployment).await;
    for n in 0..5 {
        log.append(entry("writer", n)).await.expect("append");
    }
    let sql = "UPDATE audit_entries SET leaf = $1 WHERE idx = 2";
    let forged = vec![0u8; 16];
    match log.db() {
        Db::Sqlite(pool) => sqlx::query(sql).bind(&forged).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).bind(&forged).execute(pool).await.map(drop),
    }
    .expect("the attacker's update");
    let err = try_open_log(&deployment, &mut tokio::task::JoinSet::new())
        .await
        .expect_err("a rewritten row must stop the log");
    assert!(
        matches!(err, audit::Error::Inconsistent(_)),
        "named as an inconsistency: {err}"
    );
    // An instance that was already running keeps the tree it verified (re-hashing the whole log
    // per batch would cost O(n)); its next checkpoint still commits to the true entry 2, so the
    // edit shows up as an inclusion failure for every reader that verifies (the console does).
}

async fn a_refusal_that_cannot_be_audited_fails_closed(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    // Make every append fail: the outbox is gone, so no entry can be recorded.
    execute(&server.state.db, "DROP TABLE audit_outbox").await;
    let err = connect(&deployment, server.addr, &mallory)
        .whoami()
        .await
        .expect_err("still refused");
    assert!(
        matches!(&err, gatehouse_client::Error::Refused { code: gatehouse_protocol::ErrorCode::Internal, message } if message.contains("audit log")),
        "the server says it could not audit, and did nothing: {err:?}"
    );
    let size: (i64,) = fetch_one(&server.state.db, "SELECT size FROM audit_tree").await;
    assert_eq!(size.0, 0, "the failed batch left no partial entry behind");
    server.shutdown().await.expect("shutdown");
}

mod processes {
    //! Real `gatehouse-server` processes sharing one database.

    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use gatehouse_client::connection::Error as ClientError;
    use gatehouse_server::pki::Validity;
    use gatehouse_server::testing::{Backend, TestDeployment};

    use crate::identity::connect;
    use crate::on_both_backends;

    const BIN: &str = env!("CARGO_BIN_EXE_gatehouse-server");

    on_both_backends!(three_processes_share_the_log_and_a_sigkill_loses_nothing_acknowledged);

    fn spawn(config: &std::path::Path, ready: &std::path::Path) -> Child {
        let _ = std::fs::remove_file(ready);
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0", "--ready-file"])
            .arg(ready)
            .env_remove("GATEHOUSE_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts")
    }

    async fn address(ready: &std::path::Path) -> std::net::SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(ready) {
                return text.trim().parse().expect("host:port");
            }
            assert!(
                Instant::now() < deadline,
                "the server writes its ready file"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn three_processes_share_the_log_and_a_sigkill_loses_nothing_acknowledged(
        backend: Backend,
    ) {
        let deployment = TestDeployment::new(backend).await;
        let config = deployment.dir.path().join("gatehouse-server.toml");
        std::fs::write(
            &config,
            toml::to_string(&deployment.config).expect("config serialises"),
        )
        .expect("write config");
        let mallory = deployment.person("mallory", Validity::days_from_now(30));
        let ready: Vec<_> = (0..3)
            .map(|i| deployment.dir.path().join(format!("ready{i}")))
            .collect();
        let mut children: Vec<Child> = ready.iter().map(|r| spawn(&config, r)).collect();
        let mut addrs = Vec::new();
        for r in &ready {
            addrs.push(address(r).await);
        }

        // Refusals are aggregated: the first of a window is committed before its 403 is sent,
        // the repeats are counted and committed as one summary when the window closes (or the
        // instance stops). A SIGKILL loses only the killed instance's uncommitted counts.
        let acknowledged: Vec<Arc<AtomicU64>> =
            (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let stop_at = Instant::now() + Duration::from_secs(3);
        let mut floods = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            for _ in 0..4 {
                let connection = connect(&deployment, *addr, &mallory);
                let acknowledged = acknowledged[i].clone();
                floods.push(tokio::spawn(async move {
                    while Instant::now() < stop_at {
                        match connection.whoami().await {
                            Err(ClientError::NotRegistered { .. }) => {
                                acknowledged.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(_) => break, // its server was killed
                            Ok(_) => panic!("an unregistered certificate must never get in"),
                        }
                    }
                }));
            }
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        children[0]
            .kill()
            .expect("SIGKILL in the middle of the flood");
        children[0].wait().expect("reaped");
        for flood in floods {
            flood.await.expect("flood task");
        }
        // The killed instance starts again on the same database: its log opens and verifies.
        children[0] = spawn(&config, &ready[0]);
        let again = address(&ready[0]).await;
        connect(&deployment, again, &mallory)
            .whoami()
            .await
            .expect_err("still refused after the restart");
        for child in &mut children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for mut child in children {
            tokio::task::spawn_blocking(move || child.wait())
                .await
                .expect("join")
                .expect("exit");
        }

        let counts: Vec<u64> = acknowledged
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .collect();
        assert!(
            counts.iter().all(|c| *c > 0),
            "every instance answered the flood: {counts:?}"
        );
        let (log, _tasks) = super::open_log(&deployment).await; // opening re-hashes every entry against the stored root
        let (_, proof) = log.entry(0, 1).await.expect("entry 0");
        assert_eq!(proof.tree_size, 1, "the log answers proofs after the crash");
        let leaves: Vec<(Vec<u8>,)> =
            super::fetch_all(log.db(), "SELECT leaf FROM audit_entries ORDER BY idx").await;
        let mut logged = 0u64;
        for (leaf,) in &leaves {
            let leaf = gatehouse_audit::leaf::Leaf::decode(leaf).expect("a valid leaf");
            assert_eq!(leaf.action, "identity.refused");
            let details: serde_json::Value =
                serde_json::from_str(leaf.details.as_str()).expect("details are JSON");
            logged += details["repeated"].as_u64().unwrap_or(1);
        }
        // Instances 1 and 2 stopped gracefully: all their refusals are accounted for. The killed
        // instance 0 committed at least the first of its window. +1: the refusal after the restart.
        let floor = counts[1] + counts[2] + 1;
        let ceiling = counts.iter().sum::<u64>() + 1;
        assert!(
            (floor..=ceiling).contains(&logged),
            "refusals accounted for: {logged} (between {floor} and {ceiling}) in {} entries",
            leaves.len()
        );
        assert!(
            (leaves.len() as u64) < ceiling / 10,
            "a flood is a handful of entries, not one per request: {} entries",
            leaves.len()
        );
    }
}

async fn personal_data_is_committed_searchable_and_erasable(backend: Backend) {
    use gatehouse_audit::leaf::{Salt, Tag};

    let deployment = TestDeployment::new(backend).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let erin = deployment.enrol("erin", &[Role::Admin]).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    connect(&deployment, server.addr, &mallory)
        .whoami()
        .await
        .expect_err("refused");
    let compliance = connect(&deployment, server.addr, &dave);
    let admin = connect(&deployment, server.addr, &erin);
    let ip = serde_json::json!({ "tag": "client-ip", "value": "127.0.0.1" });

    // The leaf holds a commitment to the client IP; the value is only in the database.
    let found: serde_json::Value = compliance
        .post("/v1/audit/search", &ip)
        .await
        .expect("search");
    assert_eq!(
        found["indices"],
        serde_json::json!([0]),
        "the refusal is found by its client IP"
    );
    let bytes = proven_leaf(&compliance, 0, &signed_checkpoint(&compliance).await).await;
    assert!(
        !String::from_utf8_lossy(&bytes).contains("127.0.0.1"),
        "the plaintext IP is not in the leaf"
    );
    let leaf = Leaf::decode(&bytes).expect("leaf");
    let tag = Tag::new("client-ip").expect("tag");
    let commitment = leaf
        .commitments
        .get(&tag)
        .expect("the leaf commits to the client IP");
    let private: serde_json::Value = compliance
        .get("/v1/audit/entries/0/private")
        .await
        .expect("private");
    let mut salt = [0u8; 32];
    hex::decode_to_slice(private[0]["salt"].as_str().expect("salt"), &mut salt).expect("hex");
    assert!(
        commitment.verify(&tag, &Salt::from_bytes(salt), b"127.0.0.1"),
        "salt and value open the commitment"
    );

    // Compliance may read but not erase; the refusal is itself logged.
    let erase = serde_json::json!({ "index": 0, "tag": "client-ip" });
    let denied = compliance
        .post::<_, serde_json::Value>("/v1/audit/erase", &erase)
        .await
        .expect_err("forbidden");
    assert!(
        matches!(
            denied,
            gatehouse_client::Error::Refused {
                code: gatehouse_protocol::ErrorCode::Forbidden,
                ..
            }
        ),
        "compliance is read-only: {denied}"
    );

    let erased: serde_json::Value = admin
        .post("/v1/audit/erase", &erase)
        .await
        .expect("admin erases");
    let erasure_index = erased["erasure_index"].as_u64().expect("index");
    let private: serde_json::Value = compliance
        .get("/v1/audit/entries/0/private")
        .await
        .expect("private");
    assert!(
        private[0]["value"].is_null() && private[0]["salt"].is_null(),
        "plaintext and salt are gone"
    );
    assert!(
        private[0]["erased_at"].is_string(),
        "the erasure time is kept"
    );
    let found: serde_json::Value = compliance
        .post("/v1/audit/search", &ip)
        .await
        .expect("search");
    assert_eq!(
        found["indices"],
        serde_json::json!([]),
        "the value can no longer be found"
    );

    // Proofs stay valid, and the erasure (and the refused attempt) are entries of their own.
    let checkpoint = signed_checkpoint(&compliance).await;
    proven_leaf(&compliance, 0, &checkpoint).await; // still provably in the log after erasure
    let entries: serde_json::Value = compliance
        .get("/v1/audit/entries?from=1")
        .await
        .expect("entries");
    let actions: Vec<(String, OutcomeKind)> = entries
        .as_array()
        .expect("list")
        .iter()
        .map(|e| {
            let leaf = Leaf::decode(
                &STANDARD
                    .decode(e["leaf"].as_str().expect("leaf"))
                    .expect("b64"),
            )
            .expect("leaf");
            (leaf.action, leaf.outcome.kind)
        })
        .collect();
    assert!(
        actions.contains(&("audit.erase".to_owned(), OutcomeKind::Denied)),
        "the refused erasure is logged"
    );
    assert!(
        actions.contains(&("audit.erase".to_owned(), OutcomeKind::Success)),
        "the erasure is logged"
    );
    assert!(
        erasure_index >= 1,
        "the erasure entry comes after the entry it erases"
    );
    server.shutdown().await.expect("shutdown");
}

async fn a_log_key_that_did_not_sign_the_log_is_refused_at_start(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    open_log(&deployment)
        .await
        .0
        .append(entry("writer", 0))
        .await
        .expect("append");
    let other = audit::generate_key_hex();
    std::fs::write(deployment.dir.path().join("pki/log.key"), other.as_str()).expect("replace key");
    let err = gatehouse_server::start(&deployment.config)
        .await
        .expect_err("must not start");
    assert!(
        err.to_string().contains("restore the original log key"),
        "the operator is told what to do: {err}"
    );
}
