//! Files the person chooses: every path comes from a dialog that Rust opens
//! (`tauri-plugin-dialog` called from here), never from the webview. A command that needs a file
//! asks [`choose`] itself, or (the add-profile form, which chooses three files before it saves)
//! keeps the chosen path Rust-side in [`Chosen`] and gives the webview only a ticket and the
//! file's name to show.
//!
//! Test-only way in: in debug builds, `GATEHOUSE_E2E_DIALOG_ANSWERS` (a JSON object from a
//! dialog's purpose, as [`Purpose::key`] spells it, to the path the dialog returns; a purpose
//! missing from it cancels) answers the dialogs instead of showing them, for the WebDriver suite,
//! which cannot drive a native file chooser. Release builds ignore it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

use super::{ErrorCode, IpcError};

/// The variable that answers dialogs in debug builds (the WebDriver suite).
pub const E2E_DIALOG_ANSWERS_ENV: &str = "GATEHOUSE_E2E_DIALOG_ANSWERS";

/// What a dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// One of the add-profile form's files.
    Profile(ProfileFile),
    /// A profile file to import.
    ProfileImport,
    /// Where to write an audit export.
    AuditExport,
}

impl Purpose {
    /// How `GATEHOUSE_E2E_DIALOG_ANSWERS` names it.
    pub fn key(self) -> &'static str {
        match self {
            Purpose::Profile(ProfileFile::CaCert) => "ca-cert",
            Purpose::Profile(ProfileFile::ClientCert) => "client-cert",
            Purpose::Profile(ProfileFile::ClientKey) => "client-key",
            Purpose::ProfileImport => "profile-import",
            Purpose::AuditExport => "audit-export",
        }
    }
}

/// The files of the add-profile form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ProfileFile {
    /// The deployment's CA certificate.
    CaCert,
    /// The person's client certificate.
    ClientCert,
    /// The client certificate's private key.
    ClientKey,
}

impl ProfileFile {
    fn title(self) -> &'static str {
        match self {
            ProfileFile::CaCert => "Choose the CA certificate",
            ProfileFile::ClientCert => "Choose your client certificate",
            ProfileFile::ClientKey => "Choose your client key",
        }
    }

    fn filter(self) -> (&'static str, &'static [&'static str]) {
        match self {
            ProfileFile::CaCert | ProfileFile::ClientCert => {
                ("Certificates (PEM)", &["pem", "crt", "cer"])
            }
            ProfileFile::ClientKey => ("Private keys (PEM)", &["pem", "key"]),
        }
    }

    /// What to say when the form is saved without it.
    fn missing(self) -> &'static str {
        match self {
            ProfileFile::CaCert => "the CA certificate file was not chosen",
            ProfileFile::ClientCert => "the client certificate file was not chosen",
            ProfileFile::ClientKey => "the client key file was not chosen",
        }
    }
}

/// A dialog to show.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// What it is for.
    pub purpose: Purpose,
    /// Its title.
    pub title: &'static str,
    /// One file-type filter (name, extensions); "All files" is offered beside it.
    pub filter: (&'static str, &'static [&'static str]),
    /// A save dialog's suggested name; `None` for an open dialog.
    pub save_as: Option<String>,
}

impl Dialog {
    /// The open dialog for one of the add-profile form's files.
    pub fn profile_file(file: ProfileFile) -> Self {
        Self {
            purpose: Purpose::Profile(file),
            title: file.title(),
            filter: file.filter(),
            save_as: None,
        }
    }
}

/// Shows `dialog` (on the blocking pool: the dialog waits for the person) and returns the path
/// chosen, or `None` when the person cancelled.
pub async fn choose<R: Runtime>(
    app: &AppHandle<R>,
    dialog: Dialog,
) -> Result<Option<PathBuf>, IpcError> {
    if let Some(answer) = test_answer(&dialog) {
        return answer;
    }
    let app = app.clone();
    super::device::blocking(move || {
        let (filter_name, extensions) = dialog.filter;
        let builder = app
            .dialog()
            .file()
            .set_title(dialog.title)
            .add_filter(filter_name, extensions)
            .add_filter("All files", &["*"]);
        let picked = match dialog.save_as {
            Some(name) => builder.set_file_name(name).blocking_save_file(),
            None => builder.blocking_pick_file(),
        };
        picked
            .map(|p| {
                p.into_path().map_err(|e| {
                    IpcError::new(
                        ErrorCode::Io,
                        format!(
                            "the file chooser returned a location that is not a local file: {e}"
                        ),
                        "Choose a file on this computer's disks.",
                    )
                })
            })
            .transpose()
    })
    .await
}

/// The answer `GATEHOUSE_E2E_DIALOG_ANSWERS` gives, in debug builds only.
#[cfg(debug_assertions)]
fn test_answer(dialog: &Dialog) -> Option<Result<Option<PathBuf>, IpcError>> {
    let text = std::env::var(E2E_DIALOG_ANSWERS_ENV).ok()?;
    Some(answer_from(&text, dialog.purpose))
}

#[cfg(not(debug_assertions))]
fn test_answer(_: &Dialog) -> Option<Result<Option<PathBuf>, IpcError>> {
    None
}

#[cfg(any(debug_assertions, test))]
fn answer_from(text: &str, purpose: Purpose) -> Result<Option<PathBuf>, IpcError> {
    let answers: HashMap<String, PathBuf> = serde_json::from_str(text).map_err(|e| {
        IpcError::new(
            ErrorCode::Internal,
            format!("{E2E_DIALOG_ANSWERS_ENV} is not a JSON object of paths: {e}"),
            "Fix the test's environment (it maps a dialog's purpose to a path).",
        )
    })?;
    Ok(answers.get(purpose.key()).cloned())
}

/// What the webview gets for a chosen file: a ticket to name it by, and its name to show.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ChosenFile {
    /// Names this choice in `profile_add`; a later choice of the same file replaces it.
    pub ticket: u32,
    /// The file's name (not its folder), for the form.
    pub name: String,
}

/// The add-profile form's files, as the person chose them in Rust-side dialogs.
#[derive(Debug, Default)]
pub struct Chosen(Mutex<ChosenState>);

#[derive(Debug, Default)]
struct ChosenState {
    next: u32,
    files: HashMap<ProfileFile, (u32, PathBuf)>,
}

impl Chosen {
    /// Keeps `path` as the chosen `file` and returns the webview's ticket for it.
    pub fn keep(&self, file: ProfileFile, path: PathBuf) -> ChosenFile {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.next = state.next.wrapping_add(1);
        let ticket = state.next;
        let name = display_name(&path);
        state.files.insert(file, (ticket, path));
        ChosenFile { ticket, name }
    }

    /// The path chosen as `file` under `ticket`: a ticket that is not the latest choice of that
    /// file is refused (the form shows another file than the one Rust holds).
    pub fn path(&self, file: ProfileFile, ticket: u32) -> Result<PathBuf, IpcError> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match state.files.get(&file) {
            Some((held, path)) if *held == ticket => Ok(path.clone()),
            _ => Err(IpcError::new(
                ErrorCode::ProfileInvalid,
                file.missing(),
                "Choose the file again with its Choose… button, then save.",
            )),
        }
    }

    /// Forgets every choice (the profile was saved).
    pub fn clear(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .files
            .clear();
    }
}

/// The last part of a path, for people.
pub fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_names_only_the_latest_choice_of_its_file() {
        let chosen = Chosen::default();
        let first = chosen.keep(ProfileFile::CaCert, PathBuf::from("/deploy/pki/ca.pem"));
        assert_eq!(
            first.name, "ca.pem",
            "the webview sees the name, not the folder"
        );
        assert_eq!(
            chosen
                .path(ProfileFile::CaCert, first.ticket)
                .expect("chosen"),
            PathBuf::from("/deploy/pki/ca.pem")
        );
        let second = chosen.keep(ProfileFile::CaCert, PathBuf::from("/other/ca.pem"));
        let stale = chosen
            .path(ProfileFile::CaCert, first.ticket)
            .expect_err("a replaced choice is refused");
        assert_eq!(stale.code, ErrorCode::ProfileInvalid);
        assert!(
            stale.hint.contains("Choose the file again"),
            "{}",
            stale.hint
        );
        assert_eq!(
            chosen
                .path(ProfileFile::CaCert, second.ticket)
                .expect("latest"),
            PathBuf::from("/other/ca.pem")
        );
    }

    #[test]
    fn a_ticket_never_chosen_or_of_another_file_is_refused() {
        let chosen = Chosen::default();
        let ca = chosen.keep(ProfileFile::CaCert, PathBuf::from("/deploy/ca.pem"));
        assert!(
            chosen.path(ProfileFile::ClientKey, ca.ticket).is_err(),
            "the CA's ticket does not name a key"
        );
        assert!(
            chosen.path(ProfileFile::ClientCert, 77).is_err(),
            "nothing chosen"
        );
        chosen.clear();
        assert!(
            chosen.path(ProfileFile::CaCert, ca.ticket).is_err(),
            "a saved profile's choices are forgotten"
        );
    }

    #[test]
    fn the_test_answers_name_a_path_per_purpose_and_cancel_the_others() {
        let text = r#"{"profile-import": "/tmp/alice.json"}"#;
        assert_eq!(
            answer_from(text, Purpose::ProfileImport).expect("parsed"),
            Some(PathBuf::from("/tmp/alice.json"))
        );
        assert_eq!(
            answer_from(text, Purpose::AuditExport).expect("parsed"),
            None,
            "a purpose not answered is a cancelled dialog"
        );
        assert!(answer_from("not json", Purpose::AuditExport).is_err());
    }
}
