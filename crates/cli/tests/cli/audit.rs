//! The `gatehouse` binary: profiles on disk, whoami against a live server, exit codes per failure.

use std::process::Command;

use gatehouse_protocol::{Environment, ProfileFile, Role};
use gatehouse_server::pki::{Authority, Validity};
use gatehouse_server::store::Db;
use gatehouse_server::testing::{Backend, PersonFiles, TestDeployment};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

fn gatehouse(config_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    gatehouse_with(config_dir, &[], args)
}

/// `gatehouse profile import FILE` into `config_dir`; whether it succeeded.
pub(crate) fn import(config_dir: &std::path::Path, file: &std::path::Path) -> bool {
    gatehouse(
        config_dir,
        &["profile", "import", file.to_str().expect("utf-8")],
    )
    .status
    .success()
}

pub(crate) fn profile_file(
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
    assert!(import(&config, &wrong));
    let unregistered = profile_file(dir, "mallory", deployment.ca_cert(), &mallory, port);
    assert!(import(&config, &unregistered));

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

pub(crate) fn gatehouse_with(
    config_dir: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("GATEHOUSE_CONFIG_DIR", config_dir)
        .envs(env.iter().copied())
        .output()
        .expect("gatehouse runs")
}

#[tokio::test]
async fn audit_export_and_verify_bundle_with_exit_codes_for_alarms() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    // Every refusal its own entry (the default aggregates a burst into one and a summary).
    deployment.config.limits.refusal_window_secs = 0;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    let port = server.addr.port();
    let config = deployment.dir.path().join("cli-config");
    let dir = deployment.dir.path().to_owned();
    let stranger = profile_file(&dir, "mallory", deployment.ca_cert(), &mallory, port);
    let reader = profile_file(&dir, "dave", deployment.ca_cert(), &dave, port);
    for file in [&stranger, &reader] {
        assert!(import(&config, file));
    }
    let run = |env: Vec<(&'static str, &'static str)>, args: Vec<String>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            gatehouse_with(&config, &env, &args)
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    for _ in 0..3 {
        run(vec![], args(&["whoami", "--profile", "mallory"]))
            .await
            .expect("join");
    }
    let out = run(vec![], args(&["audit", "sync", "--profile", "dave"]))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "sync works: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bundle = dir.join("refusals.age");
    let bundle_arg = bundle.to_str().expect("utf-8").to_owned();
    let pass = vec![("GATEHOUSE_BUNDLE_PASSPHRASE", "a long test passphrase")];
    let export = |out: &str| {
        let mut a = args(&[
            "audit",
            "export",
            "--profile",
            "dave",
            "--action",
            "identity.refused",
            "--passphrase",
            "--output",
        ]);
        a.push(out.to_owned());
        a
    };
    let short = dir.join("short.age");
    let out = run(
        vec![("GATEHOUSE_BUNDLE_PASSPHRASE", "eleven char")],
        export(short.to_str().expect("utf-8")),
    )
    .await
    .expect("join");
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("at least 12"),
        "a passphrase under 12 characters is refused, as in the console: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!short.exists(), "and nothing is written");
    let out = run(pass.clone(), export(&bundle_arg)).await.expect("join");
    assert!(
        out.status.success(),
        "export works: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    assert_eq!(
        gatehouse_client::private::mode(&bundle).expect("mode"),
        0o600,
        "an export is readable by its owner only"
    );
    let again = run(pass.clone(), export(&bundle_arg)).await.expect("join");
    assert!(!again.status.success(), "an export never overwrites a file");

    let verify = |file: String| {
        let mut a = args(&[
            "audit",
            "verify-bundle",
            "--passphrase",
            "--profile",
            "dave",
        ]);
        a.push(file);
        a
    };
    let out = run(pass.clone(), verify(bundle_arg.clone()))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the bundle verifies: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("identity.refused").count(),
        3,
        "it lists the three refusals: {stdout}"
    );

    // Someone alters an entry inside the bundle and re-encrypts it: verify-bundle raises the alarm.
    let sealed = std::fs::read(&bundle).expect("read");
    let mut body = gatehouse_client::audit::decrypt_bundle(
        &sealed,
        gatehouse_client::audit::Opener::Passphrase("a long test passphrase".to_owned().into()),
    )
    .expect("decrypts");
    body.entries[0].index = 1;
    let forged = dir.join("forged.age");
    {
        use std::io::Write;
        let encryptor =
            age::Encryptor::with_user_passphrase("a long test passphrase".to_owned().into());
        let mut writer = encryptor
            .wrap_output(std::fs::File::create(&forged).expect("create"))
            .expect("wrap");
        writer
            .write_all(&serde_json::to_vec(&body).expect("json"))
            .expect("write");
        writer.finish().expect("finish");
    }
    let out = run(
        pass.clone(),
        verify(forged.to_str().expect("utf-8").to_owned()),
    )
    .await
    .expect("join");
    assert_eq!(
        out.status.code(),
        Some(12),
        "a forged bundle is an alarm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong = run(
        vec![("GATEHOUSE_BUNDLE_PASSPHRASE", "not the passphrase")],
        verify(bundle_arg.clone()),
    )
    .await
    .expect("join");
    assert_eq!(
        wrong.status.code(),
        Some(1),
        "a wrong passphrase is an ordinary failure, not an alarm"
    );

    let csv = dir.join("plain.csv");
    let out = run(
        vec![],
        args(&[
            "audit",
            "export",
            "--profile",
            "dave",
            "--plaintext",
            "csv",
            "--output",
            csv.to_str().expect("utf-8"),
        ]),
    )
    .await
    .expect("join");
    assert!(out.status.success(), "plain export works");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UNENCRYPTED"),
        "with a warning"
    );
    assert_eq!(
        std::fs::read_to_string(&csv).expect("csv").lines().count(),
        4,
        "header and three entries"
    );
    let unsaid = run(
        vec![],
        args(&["audit", "export", "--profile", "dave", "--output", "x.age"]),
    )
    .await
    .expect("join");
    assert_eq!(
        unsaid.status.code(),
        Some(2),
        "an export must say who may read it"
    );

    // The server's copy of entry 1 is rewritten: a reader syncing it for the first time gets the
    // alarm code, naming the entry.
    let erin = deployment.enrol("erin", &[Role::Admin]).await;
    let auditor = profile_file(&dir, "erin", deployment.ca_cert(), &erin, port);
    assert!(import(&config, &auditor));
    let Db::Sqlite(pool) = &server.state.db else {
        unreachable!("the test deployment is on SQLite")
    };
    sqlx::query("UPDATE audit_entries SET leaf = X'00' WHERE idx = 1")
        .execute(pool)
        .await
        .expect("rewrite");
    let out = run(vec![], args(&["audit", "sync", "--profile", "erin"]))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(12),
        "a rewritten entry on the server is an alarm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 1"),
        "naming the entry: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The local cache is edited: offline verification exits with the alarm code.
    let cache = config.join("audit/dave.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", cache.display()))
        .await
        .expect("cache");
    sqlx::query("UPDATE entries SET leaf = X'01' WHERE idx = 1")
        .execute(&pool)
        .await
        .expect("edit");
    pool.close().await;
    let out = run(vec![], args(&["audit", "verify", "--profile", "dave"]))
        .await
        .expect("join");
    assert_eq!(
        out.status.code(),
        Some(12),
        "a tampered cache is an alarm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 1"),
        "naming the entry"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn status_shows_the_servers_ledger() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    deployment.config.ledger = Some(gatehouse_server::config::Ledger::Simulator {
        data_dir: "ledger".into(),
    });
    let carol = deployment.enrol("carol", &[Role::Responder]).await;
    let server = deployment.start().await;
    let config = deployment.dir.path().join("cli-config");
    let file = profile_file(
        deployment.dir.path(),
        "carol",
        deployment.ca_cert(),
        &carol,
        server.addr.port(),
    );
    assert!(import(&config, &file));
    let out = tokio::task::spawn_blocking(move || gatehouse(&config, &["status"]))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ledger:      simulator at 127.0.0.1:")
            && stdout.contains("reachable; fee payer 0.0.2 holds 50000000000 hbar"),
        "{stdout}"
    );
    server.shutdown().await.expect("clean shutdown");
}
