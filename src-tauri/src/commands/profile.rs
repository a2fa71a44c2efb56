//! Profile commands: list, add (with files chosen in Rust-side dialogs), import, remove.

use gatehouse_client::profile::{KeySource, NewProfile as ClientNewProfile, Profile, ProfileStore};
use gatehouse_client::secret::Secret;
use gatehouse_protocol::Environment;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};

use super::IpcError;
use super::files::{self, Chosen, ChosenFile, Dialog, ProfileFile, Purpose};
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

/// What the add-profile form sends. Its files are named by the tickets `profile_choose_file`
/// gave: the paths stay in Rust, chosen in Rust-side dialogs.
#[derive(Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewProfile {
    /// Unique name.
    pub name: String,
    /// `https://host:port`.
    pub server_url: String,
    /// The CA certificate's ticket.
    pub ca_cert: u32,
    /// The client certificate's ticket.
    pub client_cert: u32,
    /// The client key's ticket.
    pub client_key: u32,
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

impl NewProfile {
    /// The client library's profile, with the paths `chosen` holds for this form's tickets.
    fn resolve(self, chosen: &Chosen) -> Result<ClientNewProfile, IpcError> {
        let NewProfile {
            name,
            server_url,
            ca_cert,
            client_cert,
            client_key,
            key_passphrase,
            environment,
        } = self;
        Ok(ClientNewProfile {
            profile: Profile {
                name,
                server_url,
                environment,
                ca_cert: chosen.path(ProfileFile::CaCert, ca_cert)?,
                client_cert: chosen.path(ProfileFile::ClientCert, client_cert)?,
                key: KeySource::File {
                    path: chosen.path(ProfileFile::ClientKey, client_key)?,
                    encrypted: false,
                },
                mirror_url: None,
            },
            key_passphrase: key_passphrase.filter(|p| !p.is_empty()).map(Secret::new),
        })
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

/// Shows a file chooser for one of the add-profile form's files and keeps the chosen path
/// Rust-side. Returns the ticket `profile_add` names it by, and the file's name to show; `null`
/// when the person cancelled.
#[tauri::command]
#[specta::specta]
pub async fn profile_choose_file(
    app: AppHandle,
    console: State<'_, Console>,
    file: ProfileFile,
) -> Result<Option<ChosenFile>, IpcError> {
    let picked = files::choose(&app, Dialog::profile_file(file)).await?;
    Ok(picked.map(|path| console.chosen.keep(file, path)))
}

/// Adds a profile from the files the person chose (`profile_choose_file`).
#[tauri::command]
#[specta::specta]
pub async fn profile_add(
    console: State<'_, Console>,
    profile: NewProfile,
) -> Result<ProfileSummary, IpcError> {
    let new = profile.resolve(&console.chosen)?;
    let added = ProfileSummary::from(&store(&console)?.add(new)?);
    console.chosen.clear();
    Ok(added)
}

/// Shows a file chooser for a profile file (as `gatehouse-server init` writes them) and imports
/// it. `null` when the person cancelled.
#[tauri::command]
#[specta::specta]
pub async fn profile_import(
    app: AppHandle,
    console: State<'_, Console>,
) -> Result<Option<ProfileSummary>, IpcError> {
    let dialog = Dialog {
        purpose: Purpose::ProfileImport,
        title: "Import a Gatehouse profile",
        filter: ("Gatehouse profile", &["json"]),
        save_as: None,
    };
    let Some(path) = files::choose(&app, dialog).await? else {
        return Ok(None);
    };
    Ok(Some(ProfileSummary::from(
        &store(&console)?.import(&path, None, None)?,
    )))
}

/// Removes a profile and its keyring secrets; the certificate files stay.
#[tauri::command]
#[specta::specta]
pub async fn profile_remove(console: State<'_, Console>, name: String) -> Result<(), IpcError> {
    store(&console)?.remove(&name)?;
    Ok(())
}

/// Pins the mirror node `name`'s approvals are checked against (`https://host[:port]`, or
/// `http://` to this computer), as `gatehouse profile mirror` does; `None` unpins it. The officer
/// types it: it never comes from the server. Answers the URL now pinned.
#[tauri::command]
#[specta::specta]
pub async fn profile_pin_mirror(
    console: State<'_, Console>,
    name: String,
    url: Option<String>,
) -> Result<Option<String>, IpcError> {
    let url = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    Ok(store(&console)?
        .set_mirror(&name, url.as_deref())?
        .mirror_url)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn form(ca_cert: u32, client_cert: u32, client_key: u32) -> NewProfile {
        NewProfile {
            name: "alice".into(),
            server_url: "https://localhost:8443".into(),
            ca_cert,
            client_cert,
            client_key,
            key_passphrase: None,
            environment: Environment::Development,
        }
    }

    #[test]
    fn a_new_profile_takes_its_paths_from_the_rust_side_choices_only() {
        let chosen = Chosen::default();
        let ca = chosen.keep(ProfileFile::CaCert, PathBuf::from("/d/ca.pem"));
        let cert = chosen.keep(ProfileFile::ClientCert, PathBuf::from("/d/alice.pem"));
        let key = chosen.keep(ProfileFile::ClientKey, PathBuf::from("/d/alice.key"));

        let refused = form(ca.ticket, cert.ticket, ca.ticket)
            .resolve(&chosen)
            .expect_err("the CA's ticket is not a key");
        assert_eq!(refused.message, "the client key file was not chosen");

        let new = form(ca.ticket, cert.ticket, key.ticket)
            .resolve(&chosen)
            .expect("every file chosen");
        assert_eq!(new.profile.ca_cert, PathBuf::from("/d/ca.pem"));
        assert_eq!(new.profile.client_cert, PathBuf::from("/d/alice.pem"));
        assert_eq!(
            new.profile.key,
            KeySource::File {
                path: PathBuf::from("/d/alice.key"),
                encrypted: false
            }
        );
    }
}
