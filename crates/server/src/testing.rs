//! Test support (feature `test-support`): a throwaway deployment with its own CA,
//! people certificates of every kind, and a server on a free loopback port, on
//! SQLite or on a fresh PostgreSQL database.
//!
//! PostgreSQL tests need `DATABASE_URL` pointing at a server where the test may
//! create databases; `./scripts/test` starts a throwaway cluster and sets it.

use std::path::PathBuf;

use gatehouse_protocol::{Fingerprint, Role};
use sqlx::Connection;

use crate::config::Config;
use crate::deployment::write_file;
use crate::pki::{Authority, Validity};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server named by `DATABASE_URL`.
    Postgres,
}

/// A person's certificate and key files.
#[derive(Debug, Clone)]
pub struct PersonFiles {
    /// Certificate PEM path.
    pub cert: PathBuf,
    /// Key PEM path.
    pub key: PathBuf,
    /// Certificate fingerprint.
    pub fingerprint: Fingerprint,
}

/// A deployment in a temporary directory.
#[derive(Debug)]
pub struct TestDeployment {
    /// The deployment's directory (deleted on drop).
    pub dir: tempfile::TempDir,
    /// Its CA.
    pub ca: Authority,
    /// Its config, listening on 127.0.0.1:0.
    pub config: Config,
    /// PostgreSQL database to drop afterwards, with the admin URL.
    postgres: Option<(String, String)>,
}

impl TestDeployment {
    /// A new deployment with a CA and a server certificate for localhost.
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = Authority::generate("test").expect("a CA");
        let server = ca
            .issue_server(
                &["localhost", "127.0.0.1", "::1"],
                Validity::days_from_now(30),
            )
            .expect("a server certificate");
        std::fs::create_dir_all(dir.path().join("pki")).expect("pki dir");
        write_file(&dir.path().join("pki/ca.pem"), ca.cert_pem(), 0o644).expect("write CA");
        // Beside its certificate, as `init` writes it: onboardings issue certificates from it.
        write_file(&dir.path().join("pki/ca.key"), ca.key_pem(), 0o600).expect("write CA key");
        write_file(&dir.path().join("pki/server.pem"), &server.cert_pem, 0o644)
            .expect("write cert");
        write_file(&dir.path().join("pki/server.key"), &server.key_pem, 0o600).expect("write key");
        let log_key = crate::audit::generate_key_hex();
        write_file(&dir.path().join("pki/log.key"), &log_key, 0o600).expect("write log key");
        let listen = "127.0.0.1:0".parse().expect("a socket address");
        let mut config = Config::development("test", dir.path(), listen);
        config.limits.shutdown_grace_secs = 2;
        // Tests that need the ledger set it; the others do not pay for a simulator.
        config.ledger = None;
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
                    panic!(
                        "PostgreSQL tests need DATABASE_URL (a server where tests may create databases); \
                         ./scripts/test starts a throwaway cluster and sets it"
                    )
                });
                let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to DATABASE_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                conn.close().await.ok();
                config.database.url = Some(pg_url(&admin, &name));
                Some((admin, name))
            }
        };
        Self {
            dir,
            ca,
            config,
            postgres,
        }
    }

    /// Issues a certificate for `name` with `validity` and writes it into the directory.
    pub fn person(&self, name: &str, validity: Validity) -> PersonFiles {
        Self::person_from(&self.ca, &self.dir, name, validity)
    }

    /// Issues a certificate from another CA (one the server does not trust).
    pub fn stranger(&self, name: &str) -> PersonFiles {
        let other = Authority::generate("elsewhere").expect("a second CA");
        Self::person_from(&other, &self.dir, name, Validity::days_from_now(30))
    }

    fn person_from(
        ca: &Authority,
        dir: &tempfile::TempDir,
        name: &str,
        validity: Validity,
    ) -> PersonFiles {
        let issued = ca
            .issue_client(name, validity)
            .expect("a client certificate");
        let cert = dir.path().join(format!("{name}.pem"));
        let key = dir.path().join(format!("{name}.key"));
        write_file(&cert, &issued.cert_pem, 0o644).expect("write cert");
        write_file(&key, &issued.key_pem, 0o600).expect("write key");
        PersonFiles {
            fingerprint: crate::registry::Certificate::from_pem(&issued.cert_pem)
                .expect("a certificate")
                .fingerprint,
            cert,
            key,
        }
    }

    /// Issues a certificate valid for 30 days and registers it under `name` with `roles`.
    pub async fn enrol(&self, name: &str, roles: &[Role]) -> PersonFiles {
        let person = self.person(name, Validity::days_from_now(30));
        self.register(&person, name, roles).await;
        person
    }

    /// Issues a certificate for the key in a certificate signing request (DER), as
    /// `registry enrol` does, writes it to `NAME.pem` and registers it under `name` with
    /// `roles`. Returns the certificate's path and fingerprint.
    pub async fn enrol_request(
        &self,
        name: &str,
        roles: &[Role],
        request_der: &[u8],
    ) -> (PathBuf, Fingerprint) {
        let pem = self
            .ca
            .issue_client_for_request(name, request_der, Validity::days_from_now(30))
            .expect("the CA issues a certificate for the request");
        let cert = self.dir.path().join(format!("{name}.pem"));
        write_file(&cert, &pem, 0o644).expect("write cert");
        let certificate = crate::registry::Certificate::from_pem(&pem).expect("a certificate");
        self.insert(&certificate, name, roles).await;
        (cert, certificate.fingerprint)
    }

    /// Registers a person in the registry.
    pub async fn register(&self, person: &PersonFiles, name: &str, roles: &[Role]) {
        let pem = std::fs::read_to_string(&person.cert).expect("read the certificate");
        let certificate = crate::registry::Certificate::from_pem(&pem).expect("a certificate");
        self.insert(&certificate, name, roles).await;
    }

    async fn insert(&self, certificate: &crate::registry::Certificate, name: &str, roles: &[Role]) {
        let db = crate::store::Db::connect(&self.config.database_url())
            .await
            .expect("open the database");
        crate::registry::store::insert_unaudited(&db, certificate, name, roles)
            .await
            .expect("register");
        db.close().await;
    }

    /// Path of the CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("pki/ca.pem")
    }

    /// Starts the server.
    pub async fn start(&self) -> crate::Running {
        crate::start(&self.config).await.expect("the server starts")
    }
}

fn pg_url(admin: &str, database: &str) -> String {
    // Replace the path (database name) of the admin URL, keeping user, host, port and query.
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

impl Drop for TestDeployment {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(&sql).execute(&mut conn).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}
