//! Profile commands: list, add, import, remove.

use std::path::PathBuf;

use gatehouse_client::profile::{KeySource, NewProfile as ClientNewProfile, Profile, ProfileStore};
use gatehouse_client::secret::Secret;
use gatehouse_protocol::Environment;
use serde::{Deserialize, Serialize};
use tauri::State;

use super::IpcError;
use crate::Console;

/// A profile as the UI lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSummary {
    /// Unique name.
    pub name: String,
    /// `https://host:port`.
    pub server_url: String,
    /// Which kind of deployment.
    pub environment: Environment,
    /// CA certificate path.
    pub ca_cert: String,
    /// Client certificate path.
    pub client_cert: String,
    /// Where the key is, for people.
    pub key_source: String,
}

impl From<&Profile> for ProfileSummary {
    fn from(p: &Profile) -> Self {
        Self {
            name: p.name.clone(),
            server_url: p.server_url.clone(),
            environment: p.environment,
            ca_cert: p.ca_cert.display().to_string(),
            client_cert: p.client_cert.display().to_string(),
            key_source: p.key.describe(),
        }
    }
}

/// What the add-profile form sends.
#[derive(Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewProfile {
    /// Unique name.
    pub name: String,
    /// `https://host:port`.
    pub server_url: String,
    /// CA certificate path.
    pub ca_cert_path: String,
    /// Client certificate path.
    pub client_cert_path: String,
    /// Client key path.
    pub client_key_path: String,
    /// The key's passphrase, if encrypted; goes to the OS keyring, never to disk.
    pub key_passphrase: Option<String>,
    /// Which kind of deployment.
    pub environment: Environment,
}

impl std::fmt::Debug for NewProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProfile")
            .field("name", &self.name)
            .field(
                "key_passphrase",
                &self.key_passphrase.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

pub(crate) fn store<'a>(console: &'a State<'_, Console>) -> Result<&'a ProfileStore, IpcError> {
    console.profiles.as_ref().map_err(Clone::clone)
}

/// Every profile on this machine.
#[tauri::command]
#[specta::specta]
pub async fn profile_list(console: State<'_, Console>) -> Result<Vec<ProfileSummary>, IpcError> {
    Ok(store(&console)?
        .list()?
        .iter()
        .map(ProfileSummary::from)
        .collect())
}

/// Adds a profile from files the person chose.
#[tauri::command]
#[specta::specta]
pub async fn profile_add(
    console: State<'_, Console>,
    profile: NewProfile,
) -> Result<ProfileSummary, IpcError> {
    let NewProfile {
        name,
        server_url,
        ca_cert_path,
        client_cert_path,
        client_key_path,
        key_passphrase,
        environment,
    } = profile;
    let new = ClientNewProfile {
        profile: Profile {
            name,
            server_url,
            environment,
            ca_cert: PathBuf::from(ca_cert_path),
            client_cert: PathBuf::from(client_cert_path),
            key: KeySource::File {
                path: PathBuf::from(client_key_path),
                encrypted: false,
            },
        },
        key_passphrase: key_passphrase.filter(|p| !p.is_empty()).map(Secret::new),
    };
    Ok(ProfileSummary::from(&store(&console)?.add(new)?))
}

/// Imports a profile file (as `gatehouse-server init` writes them).
#[tauri::command]
#[specta::specta]
pub async fn profile_import(
    console: State<'_, Console>,
    path: String,
) -> Result<ProfileSummary, IpcError> {
    Ok(ProfileSummary::from(&store(&console)?.import(
        &PathBuf::from(path),
        None,
        None,
    )?))
}

/// Removes a profile and its keyring secrets; the certificate files stay.
#[tauri::command]
#[specta::specta]
pub async fn profile_remove(console: State<'_, Console>, name: String) -> Result<(), IpcError> {
    store(&console)?.remove(&name)?;
    Ok(())
}
