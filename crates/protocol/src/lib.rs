//! Gatehouse wire types shared by the server, the client library and the console.
//!
//! This crate does no I/O. Every type here is what travels over the mutually
//! authenticated HTTPS connection between `gatehouse-server` and its clients.
#![deny(missing_docs)]

pub mod audit;
pub mod hedera;
pub mod hip412;
#[cfg(feature = "node")]
pub mod node;
pub mod pause;
pub mod policy;
pub mod proposal;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The API version this build of the protocol speaks.
///
/// A server answers every request with [`API_VERSION_HEADER`]; a client accepts
/// any server version within [`MIN_SUPPORTED_API_VERSION`]..=[`API_VERSION`].
pub const API_VERSION: u32 = 1;

/// The oldest server API version a client of this build can talk to.
pub const MIN_SUPPORTED_API_VERSION: u32 = 1;

/// Response header carrying the server's [`API_VERSION`].
pub const API_VERSION_HEADER: &str = "gatehouse-api-version";

/// Response header carrying the request id the server assigned (or echoed).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What an officer registry entry allows its holder to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Role {
    /// Approves multi-signature mints and key rotations with a device key.
    Officer,
    /// May trip the emergency pause alone.
    Responder,
    /// Reads and exports the audit trail; never changes state.
    Compliance,
    /// Manages the officer registry and deployment policy.
    Admin,
    /// A backend (the game or the app) that requests mints through the service API; it never
    /// approves, and its requests are rate limited.
    Service,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 5] = [
        Role::Officer,
        Role::Responder,
        Role::Compliance,
        Role::Admin,
        Role::Service,
    ];

    /// The lowercase name used on the wire and in the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Responder => "responder",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of officer, responder, compliance, admin")]
pub struct UnknownRole(pub String);

/// SHA-256 of a certificate's DER encoding: the key of the officer registry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Wraps an already computed SHA-256 digest.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex without separators: the registry and wire form.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Uppercase hex pairs joined by colons, as people compare fingerprints out of band.
    pub fn to_colon_hex(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Fingerprint {
    type Err = InvalidFingerprint;

    /// Accepts 64 hex digits, optionally separated by colons, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s.chars().filter(|c| *c != ':').collect();
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(InvalidFingerprint(s.to_owned()));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
                .map_err(|_| InvalidFingerprint(s.to_owned()))?;
        }
        Ok(Self(out))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Text that is not a SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a SHA-256 fingerprint (64 hex digits, colons allowed)")]
pub struct InvalidFingerprint(pub String);

/// `GET /v1/whoami`: who the server thinks the caller is.
///
/// Everything here comes from the server's officer registry, looked up by the
/// fingerprint of the client certificate presented in the TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// The person's registered name.
    pub name: String,
    /// Roles granted by the registry, sorted.
    pub roles: Vec<Role>,
    /// SHA-256 of the client certificate (lowercase hex).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "3f1c…"))]
    pub fingerprint: Fingerprint,
    /// When the client certificate stops being valid.
    pub not_after: DateTime<Utc>,
}

/// Which database the server stores its state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum DatabaseBackend {
    /// A SQLite file in the data directory (single instance).
    Sqlite,
    /// PostgreSQL shared by one or more instances.
    Postgres,
}

/// `GET /v1/status`: what the server is and how long it has been up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerStatus {
    /// `gatehouse-server` package version.
    pub version: String,
    /// The API version the server speaks (see [`API_VERSION`]).
    pub api_version: u32,
    /// The deployment's name (from `init`).
    pub deployment: String,
    /// Random id of this server process, distinct per instance and restart.
    pub instance_id: String,
    /// Where state is stored.
    pub database: DatabaseBackend,
    /// Seconds since this instance started serving.
    pub uptime_seconds: u64,
}

/// `GET /v1/ledger`: the Hedera network the server's ledger adapter uses, and whether it answered a
/// balance query just now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerStatus {
    /// Whether this server has a ledger configured at all.
    pub configured: bool,
    /// `simulator` (the development network inside the server) or `network`.
    pub mode: Option<String>,
    /// gRPC node addresses.
    pub nodes: Vec<String>,
    /// Mirror node REST base URLs.
    pub mirror: Vec<String>,
    /// The fee-paying operator account.
    pub operator_account: Option<String>,
    /// Whether the network answered just now.
    pub reachable: bool,
    /// The operator's balance in tinybars, when reachable.
    pub operator_balance_tinybars: Option<i64>,
    /// Why it is unreachable, when it is.
    pub error: Option<String>,
}

impl LedgerStatus {
    /// The answer when no ledger is configured.
    pub fn not_configured() -> Self {
        Self {
            configured: false,
            mode: None,
            nodes: Vec::new(),
            mirror: Vec::new(),
            operator_account: None,
            reachable: false,
            operator_balance_tinybars: None,
            error: None,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// Stable machine-readable code a client may branch on.
    pub code: ErrorCode,
    /// What happened and what to do next, for a person.
    pub message: String,
}

/// Stable error codes in [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub enum ErrorCode {
    /// The TLS connection carried no usable client certificate.
    CertificateRequired,
    /// The client certificate's validity period has ended.
    CertificateExpired,
    /// The client certificate's validity period has not begun.
    CertificateNotYetValid,
    /// The certificate chains to the deployment CA but is not in the officer registry.
    NotRegistered,
    /// The registry entry exists but an administrator disabled it.
    Disabled,
    /// The caller's roles do not allow this request.
    Forbidden,
    /// The request was malformed.
    BadRequest,
    /// No such resource.
    NotFound,
    /// The request conflicts with the current state (a duplicate, a state that moved on).
    Conflict,
    /// The request body exceeded the server's limit.
    PayloadTooLarge,
    /// The request took longer than the server's limit.
    Timeout,
    /// The caller sent more requests than its rate allows; the message says when to try again.
    RateLimited,
    /// The deployment is paused (the emergency breaker is tripped): nothing changes until a quorum
    /// resumes it; the message says who paused, when and why.
    Paused,
    /// The server failed; details are in its log under the request id.
    Internal,
}

impl ErrorCode {
    /// HTTP status the server answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::CertificateRequired
            | ErrorCode::CertificateExpired
            | ErrorCode::CertificateNotYetValid => 401,
            ErrorCode::NotRegistered | ErrorCode::Disabled | ErrorCode::Forbidden => 403,
            ErrorCode::BadRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Timeout => 408,
            ErrorCode::RateLimited => 429,
            ErrorCode::Paused => 423,
            ErrorCode::Internal => 500,
        }
    }
}

/// Which kind of deployment a profile talks to; the console colours its banner by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Environment {
    /// A developer's or demo deployment.
    #[default]
    Development,
    /// A rehearsal deployment.
    Staging,
    /// The real thing: real keys, real tokens.
    Production,
}

impl Environment {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "development" => Ok(Environment::Development),
            "staging" => Ok(Environment::Staging),
            "production" => Ok(Environment::Production),
            other => Err(format!(
                "{other:?} is not an environment: use development, staging or production"
            )),
        }
    }
}

/// The kind of a key device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A PKCS#11 token (a smart card, an HSM partition, SoftHSM2).
    Pkcs11,
    /// An age-encrypted key file: development and the demo only.
    Software,
    /// A PIV device (YubiKey) over PC/SC.
    Piv,
}

/// Which key device: enough to find it again later. Profiles store it for a device-held TLS
/// key; `gatehouse-keys` opens it. Exhaustive on purpose: a new kind of device must be
/// considered by every match (policy, display, open).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeviceLocator {
    /// A PKCS#11 token, found by serial number, or by label when the serial is empty.
    Pkcs11 {
        /// The module path.
        module: std::path::PathBuf,
        /// The token's serial number.
        serial: String,
        /// The token's label.
        label: String,
    },
    /// A software key file.
    Software {
        /// The file.
        file: std::path::PathBuf,
    },
    /// A PIV device (YubiKey), by serial number.
    Piv {
        /// The serial number.
        serial: u32,
    },
}

impl DeviceLocator {
    /// The kind of device this locates.
    pub fn kind(&self) -> DeviceKind {
        match self {
            DeviceLocator::Pkcs11 { .. } => DeviceKind::Pkcs11,
            DeviceLocator::Software { .. } => DeviceKind::Software,
            DeviceLocator::Piv { .. } => DeviceKind::Piv,
        }
    }
}

impl std::fmt::Display for DeviceLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceLocator::Pkcs11 {
                module,
                serial,
                label,
            } => write!(
                f,
                "PKCS#11 token \"{label}\" (serial {serial}) via {}",
                module.display()
            ),
            DeviceLocator::Software { file } => write!(
                f,
                "software key file {} (not for production)",
                file.display()
            ),
            DeviceLocator::Piv { serial } => write!(f, "YubiKey (PIV) serial {serial}"),
        }
    }
}

/// An importable connection profile, as `gatehouse-server init` writes one per person.
///
/// Relative paths are resolved against the directory holding the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// Always [`ProfileFile::FORMAT`].
    pub format: String,
    /// Suggested profile name.
    pub name: String,
    /// `https://host:port` of the server.
    pub server_url: String,
    /// Which kind of deployment this is.
    pub environment: Environment,
    /// The deployment CA certificate (PEM) that the server's certificate must chain to.
    pub ca_cert: std::path::PathBuf,
    /// The person's client certificate (PEM).
    pub client_cert: std::path::PathBuf,
    /// The person's private key (PKCS#8 PEM, possibly encrypted).
    pub client_key: std::path::PathBuf,
}

impl ProfileFile {
    /// The format tag of this version of the file.
    pub const FORMAT: &'static str = "gatehouse-profile/1";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_round_trips_through_both_text_forms() {
        let fp = Fingerprint::from_digest([0xab; 32]);
        assert_eq!(
            fp.to_hex().parse::<Fingerprint>(),
            Ok(fp),
            "plain hex must parse back"
        );
        assert_eq!(
            fp.to_colon_hex().parse::<Fingerprint>(),
            Ok(fp),
            "colon-separated uppercase hex must parse back"
        );
        assert!(
            fp.to_colon_hex().starts_with("AB:AB:"),
            "colon form is uppercase pairs"
        );
    }

    #[test]
    fn fingerprint_rejects_wrong_length_and_non_hex() {
        assert!(
            "abcd".parse::<Fingerprint>().is_err(),
            "too short must be refused"
        );
        assert!(
            "zz".repeat(32).parse::<Fingerprint>().is_err(),
            "non-hex must be refused"
        );
        assert!(
            "a".repeat(65).parse::<Fingerprint>().is_err(),
            "odd length must be refused"
        );
    }

    #[test]
    fn roles_use_lowercase_names_everywhere() {
        for role in Role::ALL {
            assert_eq!(
                role.as_str().parse::<Role>(),
                Ok(role),
                "FromStr inverts as_str"
            );
            let json = serde_json::to_string(&role).expect("a role serialises");
            assert_eq!(
                json,
                format!("\"{}\"", role.as_str()),
                "wire form equals registry form"
            );
        }
        assert!(
            "root".parse::<Role>().is_err(),
            "unknown roles are refused, not defaulted"
        );
    }

    #[test]
    fn error_codes_map_to_distinct_client_visible_statuses() {
        assert_eq!(ErrorCode::CertificateExpired.http_status(), 401);
        assert_eq!(ErrorCode::NotRegistered.http_status(), 403);
        let json = serde_json::to_string(&ErrorCode::NotRegistered).expect("serialises");
        assert_eq!(
            json, "\"not_registered\"",
            "codes are snake_case on the wire"
        );
    }
}
