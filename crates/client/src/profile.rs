//! Connection profiles: which server, which CA to trust, which client identity
//! to present, and what kind of environment it is.
//!
//! Profiles live in `profiles.json` in the user's config directory
//! (`$GATEHOUSE_CONFIG_DIR` overrides it). The file holds paths and labels only;
//! any secret goes to the OS keyring (see [`crate::secret`]).

use std::path::{Path, PathBuf};

use gatehouse_protocol::{DeviceLocator, Environment, ProfileFile};
use serde::{Deserialize, Serialize};

use crate::secret::{Secret, SecretStore};

/// Environment variable that overrides the config directory.
pub const CONFIG_DIR_ENV: &str = "GATEHOUSE_CONFIG_DIR";
const FILE_NAME: &str = "profiles.json";

/// Profile failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No profile by that name.
    #[error("there is no profile named {0:?}; `gatehouse profile list` shows the ones there are")]
    NotFound(String),
    /// A profile by that name exists.
    #[error("a profile named {0:?} already exists; remove it first or choose another name")]
    Duplicate(String),
    /// A field is unacceptable.
    #[error("{0}")]
    Invalid(String),
    /// The profiles file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// read / write.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The profiles file is damaged. It is left untouched.
    #[error("{path} is damaged ({reason}); fix or move it aside — nothing was overwritten")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The keyring failed.
    #[error(transparent)]
    Secret(#[from] crate::secret::Error),
}

/// Where the client's private key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeySource {
    /// A PKCS#8 PEM file; when `encrypted`, its passphrase is in the keyring.
    File {
        /// The key file.
        path: PathBuf,
        /// Whether the key is encrypted.
        encrypted: bool,
    },
    /// A key on a device (PKCS#11 token, YubiKey PIV): it signs every handshake, so the
    /// device must be present and unlocked (its PIN is asked for, never stored) to connect.
    Device {
        /// Which device.
        device: DeviceLocator,
        /// The key's id on the device (hex, as `gatehouse device info` shows it).
        key: String,
    },
}

impl KeySource {
    /// A one-line description for people.
    pub fn describe(&self) -> String {
        match self {
            KeySource::File {
                path,
                encrypted: false,
            } => format!("file: {}", path.display()),
            KeySource::File {
                path,
                encrypted: true,
            } => {
                format!(
                    "file (encrypted, passphrase in keyring): {}",
                    path.display()
                )
            }
            KeySource::Device { device, key } => format!("device: {device}, key {key}"),
        }
    }

    /// Whether this key lives on a device, which must be present and unlocked to connect.
    pub fn is_device(&self) -> bool {
        matches!(self, KeySource::Device { .. })
    }
}

/// One connection profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Unique name.
    pub name: String,
    /// `https://host:port`.
    pub server_url: String,
    /// What kind of deployment.
    pub environment: Environment,
    /// The only CA the server's certificate may chain to.
    pub ca_cert: PathBuf,
    /// The client certificate (PEM).
    pub client_cert: PathBuf,
    /// The client key.
    pub key: KeySource,
    /// The mirror node whose copy of the ledger approvals are checked against: pinned here, by
    /// the officer, so the server cannot point the console at a mirror of its choosing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_url: Option<String>,
}

impl Profile {
    /// The keyring account holding this profile's key passphrase.
    pub fn passphrase_account(&self) -> String {
        format!("profile:{}:key-passphrase", self.name)
    }

    /// Checks every field; paths must exist and the URL must be https.
    pub fn validate(&self) -> Result<(), Error> {
        validate_name(&self.name)?;
        let url = reqwest::Url::parse(&self.server_url).map_err(|e| {
            Error::Invalid(format!(
                "server URL {:?} is not a URL: {e}",
                self.server_url
            ))
        })?;
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(Error::Invalid(format!(
                "server URL {:?} must be https://host[:port]: Gatehouse only speaks mutual TLS",
                self.server_url
            )));
        }
        let mut files = vec![
            ("CA certificate", &self.ca_cert),
            ("client certificate", &self.client_cert),
        ];
        match &self.key {
            KeySource::File { path, .. } => files.push(("client key", path)),
            KeySource::Device { key, .. } => {
                if key.is_empty()
                    || key.len() % 2 != 0
                    || !key.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(Error::Invalid(format!(
                        "device key id {key:?} is not hex; copy it from `gatehouse device info`"
                    )));
                }
            }
        }
        if let Some(mirror) = &self.mirror_url {
            validate_mirror(mirror)?;
        }
        for (what, path) in files {
            if !path.is_file() {
                return Err(Error::Invalid(format!(
                    "{what} {} does not exist or is not a file",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// A mirror node's REST base URL: `https://host[:port]`, or `http://` to a loopback address (a
/// local simulator), without a query or credentials.
pub fn validate_mirror(url: &str) -> Result<(), Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Invalid(format!("mirror URL {url:?} is not a URL: {e}")))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme_ok = parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback);
    if !scheme_ok || host.is_empty() {
        return Err(Error::Invalid(format!(
            "mirror URL {url:?} must be https://host[:port] (http:// only for a simulator on this computer)"
        )));
    }
    if parsed.query().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::Invalid(format!(
            "mirror URL {url:?} must be a base URL, without a query or credentials"
        )));
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "profile name {name:?} must be 1-64 characters of letters, digits, '-', '_' or '.'"
        )))
    }
}

/// What a person gives to create a profile.
#[derive(Clone)]
pub struct NewProfile {
    /// The profile.
    pub profile: Profile,
    /// The key file's passphrase, if it is encrypted (goes to the keyring).
    pub key_passphrase: Option<Secret>,
}

impl std::fmt::Debug for NewProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProfile")
            .field("profile", &self.profile)
            .field(
                "key_passphrase",
                &self.key_passphrase.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    version: u32,
    profiles: Vec<Profile>,
}

/// The profiles on this machine.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
    secrets: SecretStore,
}

impl ProfileStore {
    /// The store in `$GATEHOUSE_CONFIG_DIR`, or the user's config directory.
    pub fn open_default(secrets: SecretStore) -> Result<Self, Error> {
        let dir = match std::env::var_os(CONFIG_DIR_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => dirs::config_dir()
                .ok_or_else(|| {
                    Error::Invalid(format!("no config directory found; set {CONFIG_DIR_ENV}"))
                })?
                .join("gatehouse"),
        };
        Ok(Self::open(dir, secrets))
    }

    /// The store in `dir`.
    pub fn open(dir: PathBuf, secrets: SecretStore) -> Self {
        Self { dir, secrets }
    }

    /// The directory holding the profiles file.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `profile`'s local audit cache lives: `audit/NAME.db` in this store's directory (the
    /// CLI and the console share it).
    pub fn audit_cache(&self, profile: &Profile) -> PathBuf {
        self.dir.join("audit").join(format!("{}.db", profile.name))
    }

    /// The keyring this store files secrets in.
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// Every profile, in the order they were added.
    pub fn list(&self) -> Result<Vec<Profile>, Error> {
        Ok(self.read()?.profiles)
    }

    /// The profile called `name`.
    pub fn get(&self, name: &str) -> Result<Profile, Error> {
        self.list()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Adds profile `name` for a certificate issued to a key on a device (an onboarding's, from
    /// the device's own request): the certificate (`pem`) is written to `certificates/NAME.pem`
    /// in this store's directory, and the profile reaches `from`'s server with `from`'s CA and
    /// pinned mirror, its handshakes signed by key `key` on `device`. Refused (nothing written)
    /// when the name is taken.
    pub fn add_device_certificate(
        &self,
        from: &Profile,
        name: &str,
        pem: &str,
        device: DeviceLocator,
        key: &str,
    ) -> Result<Profile, Error> {
        validate_name(name)?;
        if self.read()?.profiles.iter().any(|p| p.name == name) {
            return Err(Error::Duplicate(name.to_owned()));
        }
        let dir = self.dir.join("certificates");
        let path = dir.join(format!("{name}.pem"));
        let io = |action, path: &Path, source| Error::Io {
            action,
            path: path.to_owned(),
            source,
        };
        crate::private::create_dir(&dir).map_err(|e| io("create", &dir, e))?;
        crate::private::write_atomic(&path, pem.as_bytes()).map_err(|e| io("write", &path, e))?;
        self.add(NewProfile {
            profile: Profile {
                name: name.to_owned(),
                server_url: from.server_url.clone(),
                environment: from.environment,
                ca_cert: from.ca_cert.clone(),
                client_cert: path,
                key: KeySource::Device {
                    device,
                    key: key.to_owned(),
                },
                mirror_url: from.mirror_url.clone(),
            },
            key_passphrase: None,
        })
    }

    /// Adds a profile after validating it; its passphrase, if any, goes to the keyring.
    pub fn add(&self, new: NewProfile) -> Result<Profile, Error> {
        let mut profile = new.profile;
        profile.ca_cert = absolute(&profile.ca_cert)?;
        profile.client_cert = absolute(&profile.client_cert)?;
        let account = profile.passphrase_account();
        match &mut profile.key {
            KeySource::File { path, encrypted } => {
                *path = absolute(path)?;
                *encrypted =
                    new.key_passphrase.is_some() || crate::identity::is_encrypted_key_file(path);
                if *encrypted
                    && new.key_passphrase.is_none()
                    && self.secrets.get(&account)?.is_none()
                {
                    return Err(Error::Invalid(format!(
                        "the key {} is encrypted: give its passphrase so it can be kept in the keyring",
                        path.display()
                    )));
                }
            }
            KeySource::Device { .. } => {
                if new.key_passphrase.is_some() {
                    return Err(Error::Invalid(
                        "a device key has no passphrase to keep: its PIN is asked for when connecting, and never stored".to_owned(),
                    ));
                }
            }
        }
        profile.validate()?;
        let mut file = self.read()?;
        if file.profiles.iter().any(|p| p.name == profile.name) {
            return Err(Error::Duplicate(profile.name));
        }
        if let Some(passphrase) = &new.key_passphrase {
            self.secrets
                .set(&profile.passphrase_account(), passphrase)?;
        }
        file.profiles.push(profile.clone());
        self.write(&file)?;
        Ok(profile)
    }

    /// Imports a profile file written by `gatehouse-server init` (or by hand).
    pub fn import(
        &self,
        path: &Path,
        name: Option<&str>,
        server_url: Option<&str>,
    ) -> Result<Profile, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let file: ProfileFile = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is not a Gatehouse profile file: {e}",
                path.display()
            ))
        })?;
        if file.format != ProfileFile::FORMAT {
            return Err(Error::Invalid(format!(
                "{} has format {:?}; this version reads {:?}",
                path.display(),
                file.format,
                ProfileFile::FORMAT
            )));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        self.add(NewProfile {
            profile: Profile {
                name: name.unwrap_or(&file.name).to_owned(),
                server_url: server_url.unwrap_or(&file.server_url).to_owned(),
                environment: file.environment,
                ca_cert: base.join(file.ca_cert),
                client_cert: base.join(file.client_cert),
                key: KeySource::File {
                    path: base.join(file.client_key),
                    encrypted: false,
                },
                mirror_url: None,
            },
            key_passphrase: None,
        })
    }

    /// Pins (or with `None`, unpins) the mirror node `name`'s approvals are checked against.
    pub fn set_mirror(&self, name: &str, mirror_url: Option<&str>) -> Result<Profile, Error> {
        if let Some(url) = mirror_url {
            validate_mirror(url)?;
        }
        let mut file = self.read()?;
        let profile = file
            .profiles
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        profile.mirror_url = mirror_url.map(|u| u.trim_end_matches('/').to_owned());
        let updated = profile.clone();
        self.write(&file)?;
        Ok(updated)
    }

    /// Removes a profile and its keyring secrets.
    pub fn remove(&self, name: &str) -> Result<Profile, Error> {
        let mut file = self.read()?;
        let index = file
            .profiles
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        let removed = file.profiles.remove(index);
        self.write(&file)?;
        self.secrets.delete(&removed.passphrase_account())?;
        Ok(removed)
    }

    /// The passphrase of a profile's encrypted key.
    pub fn key_passphrase(&self, profile: &Profile) -> Result<Option<Secret>, Error> {
        Ok(self.secrets.get(&profile.passphrase_account())?)
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    fn read(&self) -> Result<ProfilesFile, Error> {
        let path = self.path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfilesFile {
                version: 1,
                profiles: vec![],
            }),
            Err(source) => Err(Error::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Writes through a temporary file and a rename: a crash leaves the old file or the new one.
    fn write(&self, file: &ProfilesFile) -> Result<(), Error> {
        let path = self.path();
        let io = |source| Error::Io {
            action: "write",
            path: path.clone(),
            source,
        };
        crate::private::create_dir(&self.dir).map_err(io)?;
        let json = serde_json::to_vec_pretty(file)
            .unwrap_or_else(|_| unreachable!("profiles always serialise"));
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &json).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|source| Error::Io {
        action: "resolve",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &Path) -> Profile {
        for f in ["ca.pem", "me.pem", "me.key"] {
            std::fs::write(dir.join(f), "-----BEGIN X-----\n").expect("write fixture");
        }
        Profile {
            name: "ops".to_owned(),
            server_url: "https://localhost:7443".to_owned(),
            environment: Environment::Production,
            ca_cert: dir.join("ca.pem"),
            client_cert: dir.join("me.pem"),
            key: KeySource::File {
                path: dir.join("me.key"),
                encrypted: false,
            },
            mirror_url: None,
        }
    }

    #[test]
    fn a_device_key_profile_round_trips_and_refuses_a_bad_id_or_a_passphrase() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::open(dir.path().join("cfg"), SecretStore::mock());
        let mut profile = fixture(dir.path());
        profile.key = KeySource::Device {
            device: DeviceLocator::Piv { serial: 12345678 },
            key: "zz".to_owned(),
        };
        let bad = store.add(NewProfile {
            profile: profile.clone(),
            key_passphrase: None,
        });
        assert!(
            matches!(&bad, Err(Error::Invalid(m)) if m.contains("not hex")),
            "a key id that is not hex is refused, got {bad:?}"
        );
        profile.key = KeySource::Device {
            device: DeviceLocator::Piv { serial: 12345678 },
            key: "9a".to_owned(),
        };
        let with_passphrase = store.add(NewProfile {
            profile: profile.clone(),
            key_passphrase: Some(Secret::new("not needed".to_owned())),
        });
        assert!(
            matches!(&with_passphrase, Err(Error::Invalid(m)) if m.contains("never stored")),
            "a device key's PIN is never kept, got {with_passphrase:?}"
        );
        store
            .add(NewProfile {
                profile: profile.clone(),
                key_passphrase: None,
            })
            .expect("a device profile adds");
        let back = ProfileStore::open(dir.path().join("cfg"), SecretStore::mock())
            .get("ops")
            .expect("persisted");
        assert_eq!(back, profile, "the device and key id persist");
        assert_eq!(
            back.key.describe(),
            "device: YubiKey (PIV) serial 12345678, key 9a"
        );
        assert!(back.key.is_device(), "and it is a device key");
    }

    #[test]
    fn an_issued_device_certificate_becomes_a_profile_beside_the_one_it_came_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::open(dir.path().join("cfg"), SecretStore::mock());
        let mut from = fixture(dir.path());
        from.mirror_url = Some("http://127.0.0.1:5551".to_owned());
        store
            .add(NewProfile {
                profile: from.clone(),
                key_passphrase: None,
            })
            .expect("the current profile");
        let pem = "-----BEGIN CERTIFICATE-----\nissued\n-----END CERTIFICATE-----\n";
        let device = DeviceLocator::Piv { serial: 7 };
        let added = store
            .add_device_certificate(&from, "ops-device", pem, device.clone(), "9a")
            .expect("added");
        assert_eq!(added.server_url, from.server_url);
        assert_eq!(added.ca_cert, from.ca_cert);
        assert_eq!(added.mirror_url, from.mirror_url);
        assert_eq!(
            added.key,
            KeySource::Device {
                device: device.clone(),
                key: "9a".to_owned()
            }
        );
        assert_eq!(
            added.client_cert,
            dir.path().join("cfg/certificates/ops-device.pem")
        );
        assert_eq!(
            std::fs::read_to_string(&added.client_cert).expect("written"),
            pem
        );
        assert_eq!(store.get("ops-device").expect("kept"), added);
        let again = store.add_device_certificate(&from, "ops-device", "other", device, "9a");
        assert!(
            matches!(&again, Err(Error::Duplicate(n)) if n == "ops-device"),
            "{again:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&added.client_cert).expect("kept"),
            pem,
            "a refused name overwrites nothing"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_profile_directory_and_file_are_the_owners_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("cfg");
        let store = ProfileStore::open(config.clone(), SecretStore::mock());
        store
            .add(NewProfile {
                profile: fixture(dir.path()),
                key_passphrase: None,
            })
            .expect("added");
        assert_eq!(crate::private::mode(&config).expect("mode"), 0o700);
        assert_eq!(
            crate::private::mode(&config.join(FILE_NAME)).expect("mode"),
            0o600
        );
    }

    #[test]
    fn add_list_remove_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::open(dir.path().join("cfg"), SecretStore::mock());
        assert!(
            store.list().expect("empty store lists").is_empty(),
            "a new store has no profiles"
        );
        let profile = fixture(dir.path());
        store
            .add(NewProfile {
                profile: profile.clone(),
                key_passphrase: None,
            })
            .expect("valid profile adds");
        let reopened = ProfileStore::open(dir.path().join("cfg"), SecretStore::mock());
        assert_eq!(
            reopened.get("ops").expect("persisted"),
            profile,
            "profile persists unchanged"
        );
        let dup = store.add(NewProfile {
            profile,
            key_passphrase: None,
        });
        assert!(
            matches!(dup, Err(Error::Duplicate(_))),
            "same name twice is refused"
        );
        store.remove("ops").expect("removes");
        assert!(
            matches!(store.get("ops"), Err(Error::NotFound(_))),
            "removed profile is gone"
        );
    }

    #[test]
    fn invalid_profiles_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ProfileStore::open(dir.path().to_owned(), SecretStore::mock());
        let mut http = fixture(dir.path());
        http.server_url = "http://localhost:7443".to_owned();
        let err = store
            .add(NewProfile {
                profile: http,
                key_passphrase: None,
            })
            .expect_err("http refused");
        assert!(
            err.to_string().contains("https"),
            "the reason names https: {err}"
        );
        let mut missing = fixture(dir.path());
        missing.ca_cert = dir.path().join("nope.pem");
        let err = store
            .add(NewProfile {
                profile: missing,
                key_passphrase: None,
            })
            .expect_err("missing file");
        assert!(
            err.to_string().contains("nope.pem"),
            "the reason names the file: {err}"
        );
        let mut bad_name = fixture(dir.path());
        bad_name.name = "a/b".to_owned();
        assert!(
            store
                .add(NewProfile {
                    profile: bad_name,
                    key_passphrase: None
                })
                .is_err(),
            "slash refused"
        );
    }

    #[test]
    fn passphrase_goes_to_the_keyring_not_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets = SecretStore::mock();
        let store = ProfileStore::open(dir.path().join("cfg"), secrets.clone());
        let new = NewProfile {
            profile: fixture(dir.path()),
            key_passphrase: Some(Secret::new("s3cret-pass".to_owned())),
        };
        let added = store.add(new).expect("adds");
        assert!(
            matches!(
                added.key,
                KeySource::File {
                    encrypted: true,
                    ..
                }
            ),
            "marked encrypted"
        );
        let on_disk = std::fs::read_to_string(dir.path().join("cfg/profiles.json")).expect("file");
        assert!(
            !on_disk.contains("s3cret-pass"),
            "the passphrase must never reach the profiles file"
        );
        let kept = store
            .key_passphrase(&added)
            .expect("keyring")
            .expect("stored");
        assert_eq!(kept.expose(), "s3cret-pass", "the keyring holds it");
        store.remove("ops").expect("removes");
        assert!(
            secrets
                .get(&added.passphrase_account())
                .expect("keyring")
                .is_none(),
            "removal deletes the secret"
        );
    }

    #[test]
    fn a_damaged_profiles_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(FILE_NAME), "{ not json").expect("write");
        let store = ProfileStore::open(dir.path().to_owned(), SecretStore::mock());
        assert!(
            matches!(store.list(), Err(Error::Corrupt { .. })),
            "damage is an error, not an empty list"
        );
        let add = store.add(NewProfile {
            profile: fixture(dir.path()),
            key_passphrase: None,
        });
        assert!(add.is_err(), "nothing is written over a damaged file");
        let still = std::fs::read_to_string(dir.path().join(FILE_NAME)).expect("file");
        assert_eq!(still, "{ not json", "the damaged file is left as it was");
    }
}
