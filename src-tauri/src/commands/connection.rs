//! Connection commands: connect with a profile and report who we are to the server.
//!
//! The connection a successful `connect` made stays open ([`Live`]) while the person works with
//! that profile: the commands that talk to the server afterwards (audit sync) use it, so a
//! profile whose key is on a device is not asked for its PIN again, and cannot be opened without
//! it. Connecting again, with any profile, closes it first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{SecondsFormat, Utc};
use gatehouse_protocol::{DatabaseBackend, Role};
use serde::Serialize;
use tauri::{AppHandle, State};

use gatehouse_client::profile::KeySource;

use super::IpcError;
use super::profile::{ProfileSummary, store};
use crate::Console;

/// The connection of the last successful `connect`: its profile's name, the connection, and
/// for a profile whose key is on a device, the device identity (to ask whether it is still
/// there).
#[derive(Default)]
pub struct Live(Mutex<Option<LiveConnection>>);

struct LiveConnection {
    profile: String,
    connection: Arc<gatehouse_client::Connection>,
    device: Option<Arc<gatehouse_keys::tls::DeviceIdentity>>,
    /// The task following the server's events ([`super::watch`]); it ends with the connection.
    _watcher: Watcher,
    /// Set while the server's events arrive.
    events: Arc<AtomicBool>,
}

/// Aborts the event watcher when the live connection is dropped or replaced.
struct Watcher(tauri::async_runtime::JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let profile = self.with(|live| live.map(|l| l.profile.clone()));
        f.debug_tuple("Live").field(&profile).finish()
    }
}

impl Live {
    fn with<T>(&self, f: impl FnOnce(Option<&LiveConnection>) -> T) -> T {
        f(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref())
    }

    fn set(&self, value: Option<LiveConnection>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }

    /// Closes the live connection if it is `profile`'s.
    fn close(&self, profile: &str) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().is_some_and(|l| l.profile == profile) {
            *held = None;
        }
    }

    fn get(&self, profile: &str) -> Option<Arc<gatehouse_client::Connection>> {
        self.with(|live| {
            live.filter(|l| l.profile == profile)
                .map(|l| l.connection.clone())
        })
    }

    /// Whether the server's events reach `profile`'s live connection.
    pub(crate) fn events_live(&self, profile: &str) -> bool {
        self.with(|live| {
            live.filter(|l| l.profile == profile)
                .is_some_and(|l| l.events.load(Ordering::SeqCst))
        })
    }

    fn device(&self, profile: &str) -> Option<Arc<gatehouse_keys::tls::DeviceIdentity>> {
        self.with(|live| live.filter(|l| l.profile == profile)?.device.clone())
    }
}

/// A connection to talk to the server as `profile`: the live one when the person is connected
/// with it, else a new one from the profile's key file. A profile whose key is on a device and
/// that is not connected answers `DevicePinRequired`: connecting asks for the PIN.
pub(crate) fn connection_for(
    console: &State<'_, Console>,
    profile: &str,
) -> Result<Arc<gatehouse_client::Connection>, IpcError> {
    if let Some(live) = console.live.get(profile) {
        return Ok(live);
    }
    let store = store(console)?;
    Ok(Arc::new(
        gatehouse_client::open(store, &store.get(profile)?, None)?.connection,
    ))
}

/// Who the server says we are.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Registered name.
    pub name: String,
    /// Roles from the registry.
    pub roles: Vec<Role>,
    /// Client certificate SHA-256, colon hex.
    pub fingerprint: String,
    /// Client certificate expiry, RFC 3339 UTC.
    pub not_after: String,
}

/// What the server says about itself.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// Server version.
    pub version: String,
    /// Server API version.
    pub api_version: u32,
    /// Instance id.
    pub instance_id: String,
    /// Deployment name.
    pub deployment: String,
    /// Storage backend.
    pub database: DatabaseBackend,
    /// Seconds up (saturating).
    pub uptime_seconds: u32,
}

/// A live connection as the UI shows it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The profile used.
    pub profile: ProfileSummary,
    /// Who we are.
    pub identity: Identity,
    /// The server.
    pub server: ServerInfo,
    /// When the connection was checked, RFC 3339 UTC.
    pub connected_at: String,
}

/// The Hedera network the server's ledger adapter uses, as the connection view shows it:
/// `GET /v1/ledger`'s answer with the balance as exact hbar text, because a JavaScript number
/// cannot hold every tinybar count an `i64` can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LedgerView {
    /// Whether the server has a ledger configured at all.
    pub configured: bool,
    /// `simulator` (the development network the server runs) or `network`.
    pub mode: Option<String>,
    /// gRPC node addresses.
    pub nodes: Vec<String>,
    /// Mirror node REST base URLs.
    pub mirror: Vec<String>,
    /// The fee-paying operator account.
    pub operator_account: Option<String>,
    /// Whether the network answered the server just now.
    pub reachable: bool,
    /// The operator's balance in hbar, exact, when the network answered.
    pub operator_balance_hbar: Option<String>,
    /// Why the network did not answer, when it did not.
    pub error: Option<String>,
}

impl From<gatehouse_protocol::LedgerStatus> for LedgerView {
    fn from(status: gatehouse_protocol::LedgerStatus) -> Self {
        Self {
            configured: status.configured,
            mode: status.mode,
            nodes: status.nodes,
            mirror: status.mirror,
            operator_account: status.operator_account,
            reachable: status.reachable,
            operator_balance_hbar: status
                .operator_balance_tinybars
                .map(gatehouse_client::ledger::hbar),
            error: status.error,
        }
    }
}

/// Asks the server about its Hedera network (and whether it answers), over the live connection.
#[tauri::command]
#[specta::specta]
pub async fn ledger_status(
    console: State<'_, Console>,
    profile: String,
) -> Result<LedgerView, IpcError> {
    let connection = connection_for(&console, &profile)?;
    Ok(connection.ledger().await?.into())
}

/// Asks the device that holds the live connection's key whether it is still there (the UI asks
/// every few seconds while connected). A pulled device closes the live connection, since an
/// open connection would otherwise outlive the key: the answer is then `DeviceGone`. A device
/// that is merely busy (another program's transaction) counts as present. Nothing to ask for a
/// key in a file, or when `profile` is not the live connection's.
#[tauri::command]
#[specta::specta]
pub async fn live_check(console: State<'_, Console>, profile: String) -> Result<(), IpcError> {
    let Some(device) = console.live.device(&profile) else {
        return Ok(());
    };
    let answer = super::device::blocking(move || Ok(device.check_present())).await?;
    match answer {
        Ok(()) => Ok(()),
        Err(
            e
            @ (gatehouse_keys::Error::DeviceGone { .. } | gatehouse_keys::Error::LoggedOut { .. }),
        ) => {
            console.live.close(&profile);
            tracing::warn!(profile = %profile, error = %e, "the device left: connection closed");
            Err(e.into())
        }
        Err(other) => {
            tracing::info!(profile = %profile, error = %other, "device check inconclusive; still connected");
            Ok(())
        }
    }
}

/// Closes the live connection (the person went back to the profile list): a device-held key is
/// no longer in use, and the device is closed.
#[tauri::command]
#[specta::specta]
pub fn disconnect(console: State<'_, Console>) {
    console.live.set(None);
}

/// The profile to connect with at start-up, if one was named.
#[tauri::command]
#[specta::specta]
pub fn startup_profile(console: State<'_, Console>) -> Option<String> {
    console.startup_profile.clone()
}

/// Connects with a profile: mutual TLS, then who-am-I and status. A profile whose key is on a
/// device needs the device's `pin` (asked for each time, never kept); without one the answer is
/// `DevicePinRequired`, naming the device.
#[tauri::command]
#[specta::specta]
pub async fn connect(
    app: AppHandle,
    console: State<'_, Console>,
    profile: String,
    pin: Option<String>,
) -> Result<Connection, IpcError> {
    // Whatever happens next, the last connection is over: the person is connecting anew.
    console.live.set(None);
    let store = store(&console)?;
    let profile = store.get(&profile)?;
    if let KeySource::Device { device, .. } = &profile.key {
        // The profile file names the module; the console loads only allowlisted ones.
        super::device::allowed(device)?;
    }
    // A key file, or a key on a device opened with the PIN; a device profile without a PIN is
    // `DevicePinRequired`, naming the device for the PIN dialog.
    let pin = pin.map(gatehouse_keys::Pin::new);
    let announced = super::watch::Announced::path(store.dir(), &profile.name);
    let break_glass = gatehouse_client::breakglass::BreakGlass::of(store.dir(), &profile.name);
    let (owned, store) = (profile.clone(), store.clone());
    let opened =
        super::device::blocking(move || Ok(gatehouse_client::open(&store, &owned, pin.as_ref())?))
            .await?;
    let (connection, device_identity) = (opened.connection, opened.device);
    let me = connection.whoami().await?;
    let status = connection.status().await?;
    let connection = Arc::new(connection);
    let events = Arc::new(AtomicBool::new(false));
    let watcher = Watcher(tauri::async_runtime::spawn(super::watch::watch(
        Arc::new(super::watch::AppSink::new(app)),
        super::watch::Watched {
            profile: profile.name.clone(),
            connection: connection.clone(),
            announced,
            live: events.clone(),
            break_glass,
        },
    )));
    console.live.set(Some(LiveConnection {
        profile: profile.name.clone(),
        connection,
        device: device_identity,
        _watcher: watcher,
        events,
    }));
    Ok(Connection {
        profile: ProfileSummary::from(&profile),
        identity: Identity {
            name: me.name,
            roles: me.roles,
            fingerprint: me.fingerprint.to_colon_hex(),
            not_after: me.not_after.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
        server: ServerInfo {
            version: status.version,
            api_version: status.api_version,
            instance_id: status.instance_id,
            deployment: status.deployment,
            database: status.database,
            uptime_seconds: u32::try_from(status.uptime_seconds).unwrap_or(u32::MAX),
        },
        connected_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}
