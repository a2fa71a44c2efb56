//! `gatehouse-server.toml`: where the server listens, which files hold its TLS
//! material, where its state lives, and its limits.
//!
//! Every setting has a safe default; relative paths are resolved against the
//! directory of the config file. Environment variables override the file:
//! `GATEHOUSE_LISTEN`, `GATEHOUSE_DATABASE_URL`, `GATEHOUSE_LOG_FORMAT`, `GATEHOUSE_LOG`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Name of the config file `init` writes into the data directory.
pub const FILE_NAME: &str = "gatehouse-server.toml";
/// Name of the SQLite database file in the data directory.
pub const SQLITE_FILE: &str = "gatehouse.db";
/// Where a development deployment listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7443";

/// Failure to read or make sense of the config file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("config file {path} is invalid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// The file holds a secret that belongs in the environment.
    #[error(
        "config file {path} holds a database password: remove it from [database] url and pass the \
         URL with its password in GATEHOUSE_DATABASE_URL (or the password in PGPASSWORD)"
    )]
    Secret {
        /// The file.
        path: PathBuf,
    },
    /// An environment override has a bad value.
    #[error("environment variable {name} is invalid: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// The server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The deployment's name, shown to clients and used in certificate names.
    pub deployment: String,
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory holding the deployment's files. Defaults to the config file's directory.
    #[serde(default)]
    pub data_dir: PathBuf,
    /// Where state is stored.
    #[serde(default)]
    pub database: Database,
    /// TLS material.
    #[serde(default)]
    pub tls: Tls,
    /// The audit log.
    #[serde(default)]
    pub audit: Audit,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// Logging.
    #[serde(default)]
    pub log: Log,
    /// Who approves what, and how long a proposal stays open.
    #[serde(default)]
    pub proposals: Proposals,
    /// Which ledger keys officers may enrol.
    #[serde(default)]
    pub keys: Keys,
    /// The Hedera network the ledger adapter talks to. Absent: the server has no ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Ledger>,
    /// Receivers told of every emergency pause (`[[webhooks]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::webhooks::Webhook>,
}

/// The approval policy (invariant 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Proposals {
    /// Distinct officers' approvals a proposal needs (M of N); also the threshold of the token's
    /// admin, supply and treasury keys when the token is created.
    pub threshold: u32,
    /// How long a proposal stays open, in seconds (at most 62 days: Hedera's longest schedule).
    pub deadline_secs: u64,
    /// More NFTs minted within one hour than this raises an alarm.
    pub mint_alarm_per_hour: u32,
    /// Mint requests a service (registry role `service`) may send a minute, shared by every
    /// instance (the budget lives in the database).
    pub service_requests_per_minute: u32,
}

impl Default for Proposals {
    fn default() -> Self {
        Self {
            threshold: 2,
            deadline_secs: 24 * 3600,
            mint_alarm_per_hour: 1000,
            service_requests_per_minute: 30,
        }
    }
}

/// Which key evidence the server accepts when an officer enrols a ledger key (invariant 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPolicy {
    /// Keys born on a hardware device only: a verified attestation, or PKCS#11 attributes that
    /// say so (recorded as self-reported). Software keys are refused.
    #[default]
    Production,
    /// Development and the demo: software keys and keys without evidence are accepted (and
    /// recorded as such).
    Development,
}

/// Ledger key enrolment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keys {
    /// What evidence a new key needs.
    pub policy: KeyPolicy,
    /// Extra attestation roots (PEM files, relative to the deployment) trusted besides Yubico's,
    /// e.g. the virtual PIV card's test root in development.
    pub attestation_roots: Vec<PathBuf>,
}

/// Which Hedera network the ledger adapter (`hiero-sdk`) uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Ledger {
    /// Development: a `gatehouse-ledger-sim` inside the server process, on loopback ports the OS
    /// picks, its state in `data_dir` (relative to the deployment). Its development operator key is
    /// the one the simulator wrote there.
    Simulator {
        /// The simulator's data directory.
        #[serde(default = "default_ledger_dir")]
        data_dir: PathBuf,
    },
    /// A Hedera network: testnet, mainnet, or a simulator run on its own. Only addresses differ.
    Network {
        /// Node addresses and their accounts, e.g. `{ "127.0.0.1:50211" = "0.0.3" }`.
        nodes: std::collections::BTreeMap<String, String>,
        /// Mirror node REST base URLs (optional).
        #[serde(default)]
        mirror: Vec<String>,
        /// The fee-paying operator account, e.g. `0.0.1234`.
        operator_account: String,
        /// File holding the operator's private key (hex or DER hex, mode 0600), relative to the
        /// deployment. The server pays fees with it; it never holds token keys.
        operator_key: PathBuf,
    },
}

fn default_ledger_dir() -> PathBuf {
    PathBuf::from("ledger")
}

/// Database selection.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `postgres://...` to use PostgreSQL; unset means the SQLite file in the data directory.
    pub url: Option<String>,
}

impl std::fmt::Debug for Database {
    // A database URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.url.as_ref().map(|_| "[redacted]");
        f.debug_struct("Database").field("url", &shown).finish()
    }
}

/// Paths of the TLS material, relative to the data directory unless absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// The deployment CA: client certificates must chain to it.
    pub ca_cert: PathBuf,
    /// The server's certificate chain.
    pub server_cert: PathBuf,
    /// The server's private key (PKCS#8 PEM).
    pub server_key: PathBuf,
    /// How long after it expired (or before it becomes valid) a client certificate still
    /// completes the handshake, so its holder is told why they are refused; beyond this the
    /// handshake fails.
    pub expiry_grace_secs: u64,
    /// How often the revoked-certificate list is reread from the database (revocations made
    /// by another instance or the command line take effect within this).
    pub revocation_refresh_secs: u64,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            ca_cert: PathBuf::from("pki/ca.pem"),
            server_cert: PathBuf::from("pki/server.pem"),
            server_key: PathBuf::from("pki/server.key"),
            expiry_grace_secs: 24 * 3600,
            revocation_refresh_secs: 5,
        }
    }
}

/// The audit log's signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// Hex of the Ed25519 secret that signs checkpoints (0600), relative to the data directory.
    pub log_key: PathBuf,
    /// The largest log size this server has seen signed, kept outside the database so a
    /// database rolled back to an older state is refused. Relative to the data directory; keep
    /// it where the database's administrators cannot write.
    pub high_water_mark: PathBuf,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            log_key: PathBuf::from("pki/log.key"),
            high_water_mark: PathBuf::from("audit-high-water"),
        }
    }
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds.
    pub request_timeout_secs: u64,
    /// Longest a TLS handshake may take, in seconds. Long enough for a client whose key waits
    /// for a YubiKey touch (the YubiKey blinks for 15 s); a stalled handshake holds one of
    /// `max_connections` for at most this long.
    pub handshake_timeout_secs: u64,
    /// Longest a new connection may take to send its TLS ClientHello, in seconds. Only after
    /// it (when the server has asked for the client's certificate) does the longer
    /// `handshake_timeout_secs` apply.
    pub client_hello_timeout_secs: u64,
    /// Most connections served at once; further ones wait in the accept queue.
    pub max_connections: usize,
    /// Most connections one address may hold at once; more are closed at once.
    pub max_connections_per_ip: usize,
    /// A connection with no request in flight for this long is closed, in seconds.
    pub idle_timeout_secs: u64,
    /// How often an HTTP/2 connection is pinged, and how long the answer may take, in seconds.
    pub http2_keep_alive_secs: u64,
    /// Refused identities are audited once per (certificate, address, reason) per window of
    /// this many seconds; the repeats are counted in one summary entry when it closes. 0 logs
    /// every refusal on its own (a flood then writes one entry per request).
    pub refusal_window_secs: u64,
    /// Longest graceful shutdown waits for open requests, in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            handshake_timeout_secs: 30,
            client_hello_timeout_secs: 5,
            max_connections: 1024,
            max_connections_per_ip: 64,
            idle_timeout_secs: 300,
            http2_keep_alive_secs: 30,
            refusal_window_secs: 60,
            shutdown_grace_secs: 10,
        }
    }
}

impl Limits {
    /// [`Limits::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// [`Limits::handshake_timeout_secs`] as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    /// [`Limits::client_hello_timeout_secs`] as a duration.
    pub fn client_hello_timeout(&self) -> Duration {
        Duration::from_secs(self.client_hello_timeout_secs)
    }

    /// [`Limits::idle_timeout_secs`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }

    /// [`Limits::http2_keep_alive_secs`] as a duration.
    pub fn http2_keep_alive(&self) -> Duration {
        Duration::from_secs(self.http2_keep_alive_secs.max(1))
    }

    /// [`Limits::refusal_window_secs`] as a duration.
    pub fn refusal_window(&self) -> Duration {
        Duration::from_secs(self.refusal_window_secs)
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `gatehouse_server=debug,info`.
    pub filter: String,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not a log format: use human or json")),
        }
    }
}

/// Whether a database URL carries a password (`scheme://user:password@host/...`).
pub fn has_password(url: &str) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, rest)| rest) else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// The URL without its password, for writing into a config file.
pub fn without_password(url: &str) -> String {
    if !has_password(url) {
        return url.to_owned();
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let at = rest.find('@').unwrap_or(0);
    let user = rest[..at].split(':').next().unwrap_or_default();
    format!("{scheme}://{user}{}", &rest[at..])
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| unreachable!("DEFAULT_LISTEN is a valid address"))
}

impl Config {
    /// A development configuration for a deployment in `data_dir`.
    pub fn development(deployment: &str, data_dir: &Path, listen: SocketAddr) -> Self {
        Self {
            deployment: deployment.to_owned(),
            listen,
            data_dir: data_dir.to_owned(),
            database: Database::default(),
            tls: Tls::default(),
            audit: Audit::default(),
            limits: Limits::default(),
            log: Log::default(),
            proposals: Proposals::default(),
            keys: Keys {
                policy: KeyPolicy::Development,
                attestation_roots: Vec::new(),
            },
            ledger: Some(Ledger::Simulator {
                data_dir: default_ledger_dir(),
            }),
            webhooks: Vec::new(),
        }
    }

    /// Reads `path`, resolves relative paths and applies environment overrides.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|source| Error::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = if config.data_dir.as_os_str().is_empty() {
            base.to_owned()
        } else {
            base.join(&config.data_dir)
        };
        if let Some(url) = &config.database.url
            && has_password(url)
        {
            return Err(Error::Secret {
                path: path.to_owned(),
            });
        }
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies overrides from an environment lookup (a function so tests need not touch the process env).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(listen) = var("GATEHOUSE_LISTEN") {
            self.listen = listen.parse().map_err(|e| Error::Env {
                name: "GATEHOUSE_LISTEN",
                reason: format!("{e}"),
            })?;
        }
        if let Some(url) = var("GATEHOUSE_DATABASE_URL").filter(|u| !u.is_empty()) {
            self.database.url = Some(url);
        }
        if let Some(format) = var("GATEHOUSE_LOG_FORMAT") {
            self.log.format = format.parse().map_err(|reason| Error::Env {
                name: "GATEHOUSE_LOG_FORMAT",
                reason,
            })?;
        }
        if let Some(filter) = var("GATEHOUSE_LOG") {
            self.log.filter = filter;
        }
        Ok(())
    }

    /// A path from the config, resolved against the data directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.data_dir.join(path)
    }

    /// The audit log's origin: names this deployment's log in every checkpoint.
    pub fn audit_origin(&self) -> String {
        format!("gatehouse.local/{}", self.deployment)
    }

    /// The database URL in effect: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.resolve(Path::new(SQLITE_FILE)).display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_safe_defaults_and_paths_resolve_against_its_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "deployment = \"test\"\n").expect("write config");
        let config = Config::load(&path).expect("a minimal config loads");
        assert_eq!(
            config.listen.to_string(),
            DEFAULT_LISTEN,
            "listen defaults to loopback"
        );
        assert_eq!(
            config.data_dir,
            dir.path(),
            "data dir defaults to the file's directory"
        );
        assert_eq!(
            config.resolve(&config.tls.server_key),
            dir.path().join("pki/server.key"),
            "TLS paths resolve inside the data dir"
        );
        assert!(
            config.database_url().starts_with("sqlite://"),
            "SQLite is the default store"
        );
        assert_eq!(
            config.limits.max_body_bytes,
            1024 * 1024,
            "1 MiB body limit by default"
        );
    }

    #[test]
    fn a_database_password_in_the_file_is_refused_and_init_strips_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "deployment = \"t\"\n[database]\nurl = \"postgres://gh:hunter2@db/gh\"\n",
        )
        .expect("write");
        let err = Config::load(&path).expect_err("a password in the file is refused");
        assert!(
            err.to_string().contains("GATEHOUSE_DATABASE_URL")
                && !err.to_string().contains("hunter2"),
            "the error says where the password goes, without repeating it: {err}"
        );
        assert_eq!(
            without_password("postgres://gh:hunter2@db:5432/gh?x=1"),
            "postgres://gh@db:5432/gh?x=1"
        );
        assert_eq!(
            without_password("postgres://gh@db/gh"),
            "postgres://gh@db/gh"
        );
        assert!(
            !has_password("postgres://db/gh?user=a:b"),
            "no userinfo, no password"
        );
    }

    #[test]
    fn unknown_keys_are_refused_so_typos_do_not_silently_fall_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "deployment = \"t\"\nlisten_adress = \"0.0.0.0:1\"\n")
            .expect("write");
        let err = Config::load(&path).expect_err("a misspelt key must be an error");
        assert!(
            err.to_string().contains("listen_adress"),
            "the error names the bad key: {err}"
        );
    }

    #[test]
    fn environment_overrides_the_file_and_bad_values_are_errors() {
        let mut config = Config::development("t", Path::new("/tmp"), default_listen());
        config
            .apply_env(|name| match name {
                "GATEHOUSE_DATABASE_URL" => Some("postgres://u:secret@db/gh".to_owned()),
                "GATEHOUSE_LOG_FORMAT" => Some("json".to_owned()),
                _ => None,
            })
            .expect("valid overrides apply");
        assert_eq!(
            config.database_url(),
            "postgres://u:secret@db/gh",
            "URL override wins"
        );
        assert_eq!(
            config.log.format,
            LogFormat::Json,
            "log format override wins"
        );
        assert!(
            !format!("{config:?}").contains("secret"),
            "Debug output must not reveal the database password"
        );
        let err = config
            .apply_env(|name| (name == "GATEHOUSE_LISTEN").then(|| "nope".to_owned()))
            .expect_err("a bad listen address is refused");
        assert!(
            err.to_string().contains("GATEHOUSE_LISTEN"),
            "error names the variable"
        );
    }
}
