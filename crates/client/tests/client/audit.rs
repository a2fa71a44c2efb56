//! Reading the audit trail without trusting the server: honest syncs verify; a rewritten
//! entry, a truncated log, a new log key and an edited local cache each raise the alarm.

use gatehouse_client::audit::{Cache, Error};
use gatehouse_client::connection::Connection;
use gatehouse_protocol::Role;
use gatehouse_server::db::Db;
use gatehouse_server::pki::Validity;
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::classify::{connection, profile};

/// A server with `refusals` audited entries and a compliance reader.
async fn server_with_entries(
    refusals: usize,
) -> (TestDeployment, gatehouse_server::Running, Connection) {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
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
        .sync(&reader, |_, _| calls += 1)
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
        .sync(&reader, |_, _| {})
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
        .search(Some("refused"), 10)
        .await
        .expect("full-text search");
    assert_eq!(
        refused.len(),
        4,
        "every refusal is found by a word of its action"
    );
    assert!(refused.windows(2).all(|w| w[0].0 > w[1].0), "newest first");
    let none = cache.search(Some("erase"), 10).await.expect("search");
    assert!(none.is_empty(), "a word that is in no entry finds nothing");
    let bad = cache.search(Some("\"unbalanced"), 10).await;
    assert!(
        bad.is_err(),
        "malformed FTS syntax is an error, not an empty result"
    );
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
        .sync(&reader, |_, _| {})
        .await
        .expect_err("a rewritten entry must not verify");
    assert!(
        matches!(err, Error::EntriesMismatch { .. }),
        "named as an entry mismatch: {err}"
    );
    assert!(err.is_alarm(), "and it is an alarm");
    assert_eq!(
        cache.size().await.expect("size"),
        0,
        "nothing unverified was stored"
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
        .sync(&reader, |_, _| {})
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
        .sync(&reader, |_, _| {})
        .await
        .expect("first sync pins the key");
    server.shutdown().await.expect("shutdown");
    // An attacker with the database replaces the whole log and its key, and restarts the server.
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
    let server = deployment.start().await;
    let dave = deployment.person("dave2", Validity::days_from_now(30));
    deployment
        .register(&dave, "dave2", &[Role::Compliance])
        .await;
    let reader = connection(&profile(deployment.ca_cert(), &dave, server.addr));
    let err = cache
        .sync(&reader, |_, _| {})
        .await
        .expect_err("a changed key must not be accepted");
    assert!(
        matches!(err, Error::KeyChanged { .. }),
        "named as a key change: {err}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_edited_local_cache_fails_offline_verification() {
    let (deployment, server, reader) = server_with_entries(2).await;
    let path = deployment.dir.path().join("cache/audit.db");
    let cache = Cache::open(&path).await.expect("cache");
    cache.sync(&reader, |_, _| {}).await.expect("sync");
    server.shutdown().await.expect("shutdown");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open cache");
    sqlx::query("UPDATE entries SET leaf = X'01' WHERE idx = 0")
        .execute(&pool)
        .await
        .expect("edit");
    let err = cache
        .verify()
        .await
        .expect_err("the edit must be caught offline");
    assert!(
        matches!(err, Error::CacheTampered(_)),
        "named as local tampering: {err}"
    );
}
