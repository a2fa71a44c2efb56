//! The exit codes, in one table: each kind of refusal or failure and the code the `gatehouse`
//! CLI ends with (0 is success). Scripts rely on these numbers: a code keeps its meaning.

use std::process::ExitCode;

use gatehouse_client::profile;
use gatehouse_client::{Error, OpenError};

use crate::device;

/// Why the CLI failed, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Exit {
    /// 1: any other failure.
    Other = 1,
    /// 2: usage: the command line is incomplete or contradictory (clap's own usage errors exit
    /// with 2 as well).
    Usage = 2,
    /// 3: the server is unreachable.
    Unreachable = 3,
    /// 4: the server's certificate is not trusted.
    ServerNotTrusted = 4,
    /// 5: the server rejected the client certificate.
    ClientCertRejected = 5,
    /// 6: the client certificate is not registered.
    NotRegistered = 6,
    /// 7: the person's access is disabled.
    Disabled = 7,
    /// 8: the client certificate is expired or not yet valid.
    CertificateValidity = 8,
    /// 9: the server's API version is not supported (too old or too new).
    ServerVersion = 9,
    /// 10: a profile problem: none, several to choose from, missing or invalid, its CA or
    /// identity unusable, a server URL that is not https, no pinned log key yet.
    Profile = 10,
    /// 11: the OS keyring is unavailable.
    Keyring = 11,
    /// 12: an audit verification alarm, or an exported bundle that does not verify.
    AuditAlarm = 12,
    /// 13: a device failure: wrong PIN, PIN locked, no such device or key, module not
    /// loadable, the key not touched.
    Device = 13,
    /// 14: an attestation that does not verify.
    Attestation = 14,
    /// 15: the server refused by role or separation of duties (not your role, your own
    /// proposal, not an eligible approver).
    Forbidden = 15,
    /// 16: the server refused because the state moved on (not open, past its deadline, approved
    /// already, a replayed signature, an expired approval request, the ledger refused).
    Conflict = 16,
    /// 17: the server refused the input (a field the message names).
    Invalid = 17,
    /// 18: no such proposal (or other object).
    NotFound = 18,
    /// 19: do not sign: the bytes to sign could not be decoded, or they, the server's
    /// description and the ledger's copy disagree.
    DoNotSign = 19,
    /// 20: the deployment is paused (the emergency breaker is tripped): nothing changes until a
    /// quorum resumes it.
    Paused = 20,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A failure as the person sees it: its exit code, what went wrong, and what to do.
pub(crate) struct Failure {
    pub(crate) code: Exit,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl From<profile::Error> for Failure {
    fn from(e: profile::Error) -> Self {
        let code = if matches!(e, profile::Error::Secret(_)) {
            Exit::Keyring
        } else {
            Exit::Profile
        };
        Failure {
            code,
            message: e.to_string(),
            hint: None,
        }
    }
}

impl From<gatehouse_client::audit::Error> for Failure {
    fn from(e: gatehouse_client::audit::Error) -> Self {
        match e {
            gatehouse_client::audit::Error::Connection(e) => e.into(),
            e if e.is_alarm() => Failure {
                code: Exit::AuditAlarm,
                message: e.to_string(),
                hint: Some("Stop relying on this server's audit trail and report it to your security team.".to_owned()),
            },
            e => Failure { code: Exit::Other, message: e.to_string(), hint: None },
        }
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Profile(e) => e.into(),
            OpenError::Identity(e) => Failure {
                code: Exit::Profile,
                message: e.to_string(),
                hint: None,
            },
            OpenError::Connection(e) => e.into(),
            OpenError::Device(e) => device::device_failure(e),
            other => Failure {
                code: Exit::Other,
                message: other.to_string(),
                hint: None,
            },
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Unreachable { .. } => Exit::Unreachable,
            Error::ServerNotTrusted { .. } => Exit::ServerNotTrusted,
            Error::ClientCertRejected { .. } => Exit::ClientCertRejected,
            Error::NotRegistered { .. } => Exit::NotRegistered,
            Error::Disabled { .. } => Exit::Disabled,
            Error::CertificateExpired { .. } | Error::CertificateNotYetValid { .. } => {
                Exit::CertificateValidity
            }
            Error::ServerTooOld { .. } | Error::ServerTooNew { .. } => Exit::ServerVersion,
            Error::CaCertificate { .. } | Error::NotHttps { .. } => Exit::Profile,
            Error::ClientKeyUnavailable { .. } | Error::ClientKeyNotTouched { .. } => Exit::Device,
            Error::Refused { code, .. } => match code {
                gatehouse_protocol::ErrorCode::Forbidden => Exit::Forbidden,
                gatehouse_protocol::ErrorCode::Conflict => Exit::Conflict,
                gatehouse_protocol::ErrorCode::BadRequest
                | gatehouse_protocol::ErrorCode::PayloadTooLarge => Exit::Invalid,
                gatehouse_protocol::ErrorCode::NotFound => Exit::NotFound,
                gatehouse_protocol::ErrorCode::Paused => Exit::Paused,
                _ => Exit::Other,
            },
            _ => Exit::Other,
        };
        let mut message = e.to_string();
        match &e {
            Error::ServerNotTrusted {
                fingerprint: Some(fp),
                ..
            } => {
                message.push_str(&format!(
                    "\nserver certificate SHA-256: {}",
                    fp.to_colon_hex()
                ));
            }
            Error::NotRegistered { fingerprint, .. } => {
                message.push_str(&format!(
                    "\nyour certificate SHA-256: {}",
                    fingerprint.to_colon_hex()
                ));
            }
            _ => {}
        }
        Failure {
            code,
            message,
            hint: Some(e.hint().to_owned()),
        }
    }
}

impl From<gatehouse_client::proposals::ReviewError> for Failure {
    fn from(e: gatehouse_client::proposals::ReviewError) -> Self {
        use gatehouse_client::proposals::ReviewError;
        match e {
            ReviewError::Connection(e) => e.into(),
            ReviewError::NotReady(message) => Failure {
                code: Exit::Conflict,
                message,
                hint: None,
            },
            e @ (ReviewError::Decode(_) | ReviewError::Mismatch(_)) => Failure {
                code: Exit::DoNotSign,
                message: e.to_string(),
                hint: Some("Nothing was signed. Report this proposal to your security team; compare its fingerprint with the proposer's out of band.".to_owned()),
            },
            e => Failure {
                code: Exit::DoNotSign,
                message: e.to_string(),
                hint: Some("Nothing was signed: the proposal could not be checked against the ledger. Check the --mirror address and try again.".to_owned()),
            },
        }
    }
}

impl From<gatehouse_client::breakglass::Error> for Failure {
    fn from(e: gatehouse_client::breakglass::Error) -> Self {
        use gatehouse_client::breakglass::Error;
        let (code, hint) = match &e {
            Error::NotSetUp { .. } => (
                Exit::Profile,
                "Ask your security team for the break-glass addresses (a node, a mirror, your funded account, the token), then run gatehouse profile break-glass.",
            ),
            Error::Ledger(_) => (
                Exit::Conflict,
                "Nothing was paused. Check your account's balance and the node address, or reach another responder.",
            ),
            Error::Rekey(_) => (
                Exit::Conflict,
                "The account keeps its old key unless the mirror shows otherwise. Check the account's balance and the node address, then run gatehouse rotate break-glass again.",
            ),
            Error::NotPauseKey { .. } => (
                Exit::Device,
                "Nothing was signed. Re-key to your key in the token's pause key (gatehouse rotate show lists it), or have the quorum rotate the pause key to include you first (gatehouse rotate pause).",
            ),
            Error::WrongKey { .. } => (
                Exit::Device,
                "Nothing was signed. Choose the key your break-glass account is keyed by (gatehouse device keys lists them), or set break-glass up again for this device.",
            ),
            _ => (Exit::Other, "Check the file's permissions and free space."),
        };
        Failure {
            code,
            message: e.to_string(),
            hint: Some(hint.to_owned()),
        }
    }
}

pub(crate) fn failure(code: Exit, message: String) -> Failure {
    Failure {
        code,
        message,
        hint: None,
    }
}
