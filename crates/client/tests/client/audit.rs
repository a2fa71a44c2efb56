//! Reading the audit trail without trusting the server: honest syncs verify; a rewritten
//! entry, a truncated log, a new log key and an edited local cache each raise the alarm.

use gatehouse_client::audit::{AlarmSource, Bucket, Cache, Error, Filter, ProofStatus};
use gatehouse_client::connection::Connection;
use gatehouse_protocol::Role;
use gatehouse_server::pki::Validity;
use gatehouse_server::store::Db;
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::classify::{connection, profile};

/// A server with `refusals` audited entries and a compliance reader.
async fn server_with_entries(
    refusals: usize,
) -> (TestDeployment, gatehouse_server::Running, Connection) {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    // Every refusal its own entry (the default aggregates a burst into one and a summary).
    deployment.config.limits.refusal_window_secs = 0;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    let stranger = connection(&profile(deployment.ca_cert(), &mallory, server.addr));
    for _ in 0..refusals {
        stranger.whoami().await.expect_err("refused, and audited");
    }
    let reader = connection(&profile(deployment.ca_cert(), &dave, server.addr));
    (deployment, server, reader)
}

/// Starts the deployment's server again (after the test changed its database) with a new
/// compliance reader, so no connection or certificate is carried over from before.
async fn restart_with_reader(
    deployment: &TestDeployment,
    name: &str,
) -> (gatehouse_server::Running, Connection) {
    let server = deployment.start().await;
    let person = deployment.person(name, Validity::days_from_now(30));
    deployment
        .register(&person, name, &[Role::Compliance])
        .await;
    let reader = connection(&profile(deployment.ca_cert(), &person, server.addr));
    (server, reader)
}

fn words(text: &str) -> Filter {
    Filter {
        text: Some(text.into()),
        ..Filter::default()
    }
}

async fn execute(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .expect("the test's direct database edit");
}

#[tokio::test]
async fn honest_log_syncs_incrementally_and_reverifies_offline() {
    let (deployment, server, reader) = server_with_entries(3).await;
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache");
    let mut calls = 0;
    let first = cache
        .sync(&reader, |_| calls += 1)
        .await
        .expect("an honest log verifies");
    assert_eq!(
        (first.from, first.to, first.pinned_now),
        (0, 3, true),
        "three refusals, key pinned at first use"
    );
    assert!(calls >= 1, "progress is reported");
    // More activity, then an incremental sync that proves consistency with the stored checkpoint.
    let mallory = deployment.person("mallory2", Validity::days_from_now(30));
    connection(&profile(deployment.ca_cert(), &mallory, server.addr))
        .whoami()
        .await
        .expect_err("refused");
    let second = cache
        .sync(&reader, |_| {})
        .await
        .expect("the extension verifies");
    assert_eq!(
        (second.from, second.to, second.pinned_now),
        (3, 4, false),
        "only the new entry is fetched"
    );
    assert_eq!(
        cache.verify().await.expect("offline verification"),
        4,
        "the cache re-verifies offline"
    );
    let refused = cache
        .page(&words("refused"), 0, 10)
        .await
        .expect("full-text search");
    assert_eq!(
        refused.total, 4,
        "every refusal is found by a word of its action"
    );
    assert!(
        refused.rows.windows(2).all(|w| w[0].index > w[1].index),
        "newest first"
    );
    let none = cache.page(&words("erase"), 0, 10).await.expect("search");
    assert_eq!(none.total, 0, "a word that is in no entry finds nothing");
    let typed = cache
        .page(&words("\"unbalanced OR"), 0, 10)
        .await
        .expect("what a person types is never FTS5 syntax, so it cannot fail to parse");
    assert_eq!(typed.total, 0, "quotes and operators are taken literally");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_entry_rewritten_on_the_server_raises_the_alarm() {
    let (deployment, server, reader) = server_with_entries(3).await;
    execute(
        &server.state.db,
        "UPDATE audit_entries SET leaf = X'00' WHERE idx = 1",
    )
    .await;
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache");
    let err = cache
        .sync(&reader, |_| {})
        .await
        .expect_err("a rewritten entry must not verify");
    assert!(
        matches!(err, Error::EntriesMismatch { .. }),
        "named as an entry mismatch: {err}"
    );
    assert!(err.is_alarm(), "and it is an alarm");
    assert!(
        matches!(err, Error::EntriesMismatch { entry: Some(1), .. }),
        "bisection with consistency proofs names entry 1: {err}"
    );
    assert_eq!(
        cache.size().await.expect("size"),
        0,
        "nothing unverified was stored"
    );
    let alarm = cache
        .alarm()
        .await
        .expect("alarm")
        .expect("the alarm is stored");
    assert_eq!(
        (alarm.entry, alarm.source),
        (Some(1), AlarmSource::Server),
        "and names the entry until it is resolved"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_truncated_log_raises_the_alarm() {
    let (deployment, server, reader) = server_with_entries(3).await;
    // An attacker with database access removes the last entry and what hangs off it.
    for table in ["audit_search", "audit_private", "audit_entries"] {
        execute(
            &server.state.db,
            &format!("DELETE FROM {table} WHERE idx = 2"),
        )
        .await;
    }
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache");
    let err = cache
        .sync(&reader, |_| {})
        .await
        .expect_err("missing entries must not verify");
    assert!(err.is_alarm(), "a truncated log is an alarm: {err}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_new_log_key_is_an_alarm_not_a_prompt() {
    let (deployment, server, reader) = server_with_entries(1).await;
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache");
    cache
        .sync(&reader, |_| {})
        .await
        .expect("first sync pins the key");
    server.shutdown().await.expect("shutdown");
    // An attacker with the database and the server's files replaces the whole log and its key,
    // and restarts the server.
    let db = Db::connect(&deployment.config.database_url())
        .await
        .expect("database");
    for table in [
        "audit_search",
        "audit_private",
        "audit_entries",
        "audit_checkpoints",
    ] {
        execute(&db, &format!("DELETE FROM {table}")).await;
    }
    execute(
        &db,
        "UPDATE audit_tree SET size = 0, root = X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    )
    .await;
    db.close().await;
    let key = gatehouse_server::audit::generate_key_hex();
    std::fs::write(deployment.dir.path().join("pki/log.key"), key.as_str()).expect("replace key");
    // A new log starts with no high-water mark (the server keeps it outside the database).
    std::fs::remove_file(deployment.dir.path().join("audit-high-water")).expect("remove the mark");
    let (server, reader) = restart_with_reader(&deployment, "dave2").await;
    let err = cache
        .sync(&reader, |_| {})
        .await
        .expect_err("a changed key must not be accepted");
    assert!(
        matches!(err, Error::KeyChanged { .. }),
        "named as a key change: {err}"
    );
    server.shutdown().await.expect("shutdown");
}

/// A cache synced and verified from a server with `refusals` entries, the server stopped, then
/// `edit` run on the cache's database behind its back.
async fn synced_then_edited(refusals: usize, edit: &str) -> (TestDeployment, Cache) {
    let (deployment, server, reader) = server_with_entries(refusals).await;
    let path = deployment.dir.path().join("cache/audit.db");
    let cache = Cache::open(&path).await.expect("cache");
    cache.sync(&reader, |_| {}).await.expect("sync");
    server.shutdown().await.expect("shutdown");
    cache.verify().await.expect("an honest cache verifies");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open cache");
    sqlx::query(edit).execute(&pool).await.expect("edit");
    (deployment, cache)
}

#[tokio::test]
async fn an_edited_local_cache_fails_offline_verification() {
    let (_deployment, cache) =
        synced_then_edited(2, "UPDATE entries SET leaf = X'01' WHERE idx = 0").await;
    let err = cache
        .verify()
        .await
        .expect_err("the edit must be caught offline");
    assert!(
        matches!(err, Error::CacheTampered { entry: Some(0), .. }),
        "named as local tampering of entry 0: {err}"
    );
}

#[tokio::test]
async fn an_edited_column_beside_an_untouched_leaf_fails_offline_verification() {
    // What the explorer shows and filters on, changed; the leaf and its hash left alone.
    let (_deployment, cache) =
        synced_then_edited(3, "UPDATE entries SET actor = 'someone else' WHERE idx = 1").await;
    let err = cache
        .verify()
        .await
        .expect_err("the edited column must be caught offline");
    assert!(
        matches!(&err, Error::CacheTampered { entry: Some(1), reason } if reason.contains("actor")),
        "named as local tampering of entry 1's actor: {err}"
    );
    let alarm = cache.alarm().await.expect("read").expect("the alarm stays");
    assert_eq!(alarm.entry, Some(1), "the alarm names the entry");
}

#[tokio::test]
async fn an_interrupted_sync_resumes_from_what_it_fetched() {
    let (deployment, server, reader) = server_with_entries(7).await;
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache")
        .with_page_size(2);
    let first_page = tokio::sync::Notify::new();
    let interrupted = tokio::select! {
        result = cache.sync(&reader, |p| if p.fetched >= 2 { first_page.notify_one() }) => Some(result),
        () = first_page.notified() => None,
    };
    assert!(
        interrupted.is_none(),
        "the sync was stopped after its first page"
    );
    // A page being staged when the sync stopped still lands; wait for it before looking.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = cache.status().await.expect("status");
    assert_eq!(status.size, 0, "nothing unverified is shown");
    assert!(
        status.staged >= 2 && status.staged < 7,
        "at least the reported page waits in staging: {}",
        status.staged
    );
    let mut first_report = None;
    let synced = cache
        .sync(&reader, |p| {
            first_report.get_or_insert(p.fetched);
        })
        .await
        .expect("the resumed sync verifies");
    assert_eq!(
        first_report,
        Some(status.staged),
        "it resumed after the staged entries"
    );
    assert_eq!(synced.to, 7, "and finished the log");
    let status = cache.status().await.expect("status");
    assert_eq!((status.size, status.staged), (7, 0), "staging is emptied");
    assert!(status.synced_at.is_some(), "the sync time is recorded");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_explorer_reads_filters_timeline_and_proofs_from_the_cache() {
    let (deployment, server, reader) = server_with_entries(5).await;
    let path = deployment.dir.path().join("cache/audit.db");
    let cache = Cache::open(&path).await.expect("cache");
    cache.sync(&reader, |_| {}).await.expect("sync");
    server.shutdown().await.expect("shutdown");

    let facets = cache.facets().await.expect("facets");
    assert_eq!(facets.actions, ["identity.refused"], "one kind of action");
    assert_eq!(facets.outcomes, ["denied"], "all denied");
    assert!(facets.first_ms <= facets.last_ms, "a time span");

    let page = cache
        .page(&Filter::default(), 1, 2)
        .await
        .expect("a window of the table");
    assert_eq!(page.total, 5, "all entries count");
    assert_eq!(
        page.rows.iter().map(|r| r.index).collect::<Vec<_>>(),
        [3, 2],
        "offset 1 of newest-first is entry 3"
    );
    let none = Filter {
        outcome: Some("success".into()),
        ..Filter::default()
    };
    assert_eq!(
        cache.page(&none, 0, 10).await.expect("filter").total,
        0,
        "no successes"
    );
    let later = Filter {
        since_ms: facets.last_ms.map(|t| t + 1),
        ..Filter::default()
    };
    assert_eq!(
        cache.page(&later, 0, 10).await.expect("filter").total,
        0,
        "nothing after the last entry"
    );

    let bars = cache
        .timeline(&Filter::default(), Bucket::Hour)
        .await
        .expect("timeline");
    assert_eq!(
        bars.iter().map(|b| b.count).sum::<u64>(),
        5,
        "every entry is in one bar"
    );
    assert!(
        bars.iter().all(|b| b.start_ms % 3_600_000 == 0),
        "hour buckets"
    );

    let detail = cache.entry(2).await.expect("entry");
    assert!(
        matches!(detail.proof, ProofStatus::Included { tree_size: 5, .. }),
        "its inclusion proof verifies against the checkpoint: {:?}",
        detail.proof
    );
    assert_eq!(
        detail.leaf.expect("decodes").index,
        2,
        "the leaf says where it is"
    );
    assert!(
        matches!(cache.entry(99).await, Err(Error::Query(_))),
        "an entry past the cache says so"
    );

    // The row is edited on this computer (leaf and recorded hash alike): the proof fails and the
    // alarm names the entry, and stays until a verification succeeds again.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open cache");
    let (original,): (Vec<u8>,) = sqlx::query_as("SELECT leaf FROM entries WHERE idx = 2")
        .fetch_one(&pool)
        .await
        .expect("read");
    let mut edited = original.clone();
    let last = edited.len() - 1;
    edited[last] ^= 1;
    let edited_hash = gatehouse_audit::Hash::leaf(&edited);
    sqlx::query("UPDATE entries SET leaf = $1, hash = $2 WHERE idx = 2")
        .bind(&edited)
        .bind(edited_hash.as_bytes().as_slice())
        .execute(&pool)
        .await
        .expect("edit");
    let tampered = cache.entry(2).await.expect("the entry still reads");
    assert!(
        matches!(tampered.proof, ProofStatus::Failed { .. }),
        "the edited entry's proof fails"
    );
    let alarm = cache.alarm().await.expect("alarm").expect("raised");
    assert_eq!(
        (alarm.entry, alarm.source),
        (Some(2), AlarmSource::Cache),
        "the alarm names entry 2"
    );
    assert!(
        matches!(cache.verify().await, Err(Error::CacheTampered { .. })),
        "a full re-verification fails too"
    );
    assert!(
        cache.alarm().await.expect("alarm").is_some(),
        "the alarm stays"
    );
    sqlx::query("UPDATE entries SET leaf = $1, hash = $2 WHERE idx = 2")
        .bind(&original)
        .bind(gatehouse_audit::Hash::leaf(&original).as_bytes().as_slice())
        .execute(&pool)
        .await
        .expect("restore");
    assert_eq!(cache.verify().await.expect("verifies again"), 5, "restored");
    assert!(
        cache.alarm().await.expect("alarm").is_none(),
        "a successful verification resolves a cache alarm"
    );
}

#[tokio::test]
async fn a_forked_checkpoint_signed_with_the_real_key_raises_the_alarm() {
    let (deployment, server, reader) = server_with_entries(3).await;
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache");
    cache.sync(&reader, |_| {}).await.expect("honest sync");
    server.shutdown().await.expect("shutdown");
    // The operator holds the log key and rewrites entry 2, re-signing a consistent-looking log.
    let db = Db::connect(&deployment.config.database_url())
        .await
        .expect("database");
    let Db::Sqlite(pool) = &db else {
        unreachable!("the test deployment is on SQLite")
    };
    let leaves: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT leaf FROM audit_entries ORDER BY idx")
        .fetch_all(pool)
        .await
        .expect("leaves");
    let (note,): (String,) =
        sqlx::query_as("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("checkpoint");
    let origin = note.lines().next().expect("origin line").to_owned();
    let mut forged = gatehouse_audit::leaf::Leaf::decode(&leaves[2].0).expect("decode");
    forged.object = "nothing/to/see".into();
    let forged = forged.encode().expect("encode");
    let mut tree = gatehouse_audit::tree::Tree::new();
    tree.append(&leaves[0].0);
    tree.append(&leaves[1].0);
    tree.append(&forged);
    let key =
        gatehouse_server::audit::load_key(&deployment.dir.path().join("pki/log.key"), &origin)
            .expect("the real log key");
    let checkpoint =
        gatehouse_audit::checkpoint::Checkpoint::new(&origin, 3, tree.current_root()).expect("cp");
    let signed = key.sign(&checkpoint).expect("sign").to_string();
    sqlx::query("UPDATE audit_entries SET leaf = $1 WHERE idx = 2")
        .bind(&forged)
        .execute(pool)
        .await
        .expect("rewrite");
    sqlx::query("UPDATE audit_tree SET root = $1")
        .bind(tree.current_root().as_bytes().as_slice())
        .execute(pool)
        .await
        .expect("root");
    sqlx::query("UPDATE audit_checkpoints SET root = $1, note = $2 WHERE size = 3")
        .bind(tree.current_root().as_bytes().as_slice())
        .bind(&signed)
        .execute(pool)
        .await
        .expect("checkpoint");
    db.close().await;
    let (server, reader) = restart_with_reader(&deployment, "dave3").await;
    let err = cache
        .sync(&reader, |_| {})
        .await
        .expect_err("a fork must not be accepted");
    assert!(
        matches!(err, Error::Checkpoint { .. }),
        "named as a checkpoint the log did not extend: {err}"
    );
    assert!(
        cache.alarm().await.expect("alarm").is_some(),
        "the alarm is stored"
    );
    assert_eq!(
        cache.size().await.expect("size"),
        3,
        "the verified cache is kept"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_exported_bundle_verifies_offline_and_refuses_tampering() {
    use gatehouse_client::audit::{
        BundleError, Encryption, ExportFormat, Opener, decrypt_bundle, open_bundle, verify_bundle,
    };
    let (deployment, server, reader) = server_with_entries(4).await;
    let cache = Cache::open(&deployment.dir.path().join("cache/audit.db"))
        .await
        .expect("cache");
    cache.sync(&reader, |_| {}).await.expect("sync");
    server.shutdown().await.expect("shutdown");
    let pinned = cache.pinned().await.expect("pinned").expect("a key");
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = {
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    };
    let selection = Filter {
        object: Some(String::new()),
        ..Filter::default()
    };
    let mut sealed = Vec::new();
    let count = cache
        .export(
            &selection,
            "all",
            ExportFormat::Bundle(Encryption::Recipients(vec![recipient])),
            &mut sealed,
        )
        .await
        .expect("export");
    assert_eq!(count, 4, "every entry exported");
    assert!(
        sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"),
        "an armored age file"
    );
    assert!(
        !String::from_utf8_lossy(&sealed).contains("identity.refused"),
        "nothing readable without the key"
    );
    let opened = open_bundle(&sealed, Opener::Identities(secret.clone()), Some(&pinned))
        .expect("the bundle verifies against the pinned key");
    assert_eq!(
        opened.entries.iter().map(|l| l.index).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "in log order"
    );
    assert_eq!(opened.tree_size, 4, "against the synced checkpoint");
    let other_key = gatehouse_audit::checkpoint::LogKey::generate("other", &mut rand_core::OsRng)
        .expect("key")
        .verifier()
        .to_string();
    assert!(
        matches!(
            open_bundle(
                &sealed,
                Opener::Identities(secret.clone()),
                Some(&other_key)
            ),
            Err(BundleError::WrongKey { .. })
        ),
        "a reader expecting another log's key refuses it"
    );
    let stranger = age::x25519::Identity::generate();
    let stranger = {
        use age::secrecy::ExposeSecret;
        stranger.to_string().expose_secret().to_owned()
    };
    assert!(
        matches!(
            open_bundle(&sealed, Opener::Identities(stranger), None),
            Err(BundleError::Decrypt(_))
        ),
        "someone else's key cannot open it"
    );

    // Tampering with the decrypted body: an altered leaf, a dropped proof hash, a new checkpoint.
    let bundle = decrypt_bundle(&sealed, Opener::Identities(secret.clone())).expect("decrypts");
    verify_bundle(&bundle, Some(&pinned)).expect("the untouched body verifies");
    let mut altered = bundle.clone();
    let mut leaf = base64_decode(&altered.entries[1].leaf);
    let last = leaf.len() - 1;
    leaf[last] ^= 1;
    altered.entries[1].leaf = base64_encode(&leaf);
    let mut short = bundle.clone();
    short.entries[2].proof.pop();
    let mut resigned = bundle.clone();
    resigned.checkpoint = resigned.checkpoint.replacen('4', "5", 1);
    for (what, tampered) in [
        ("an altered leaf", altered),
        ("a shortened proof", short),
        ("an edited checkpoint", resigned),
    ] {
        assert!(
            matches!(verify_bundle(&tampered, None), Err(BundleError::Invalid(_))),
            "{what} is refused"
        );
    }

    // A passphrase works too, and the wrong one does not.
    let mut sealed = Vec::new();
    cache
        .export(
            &words("refused"),
            "refusals",
            ExportFormat::Bundle(Encryption::Passphrase("correct horse".to_owned().into())),
            &mut sealed,
        )
        .await
        .expect("export");
    let opened = open_bundle(
        &sealed,
        Opener::Passphrase("correct horse".to_owned().into()),
        None,
    )
    .expect("the passphrase opens it");
    assert_eq!(
        opened.selection, "refusals",
        "the selection travels with it"
    );
    assert!(
        matches!(
            open_bundle(&sealed, Opener::Passphrase("wrong".to_owned().into()), None),
            Err(BundleError::Decrypt(_))
        ),
        "a wrong passphrase is a decryption error"
    );

    // Plain CSV: a header and one line per entry.
    let mut csv = Vec::new();
    cache
        .export(&Filter::default(), "all", ExportFormat::Csv, &mut csv)
        .await
        .expect("csv");
    let csv = String::from_utf8(csv).expect("utf-8");
    assert_eq!(csv.lines().count(), 5, "header and four entries");
    assert!(csv.starts_with("index,time,actor"), "a header row");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
