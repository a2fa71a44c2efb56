//! `gatehouse profile`: add, import, list, show and remove connection profiles, and the choice
//! of the profile a command uses.

use std::path::PathBuf;

use clap::Subcommand;
use gatehouse_client::profile::{KeySource, NewProfile, Profile, ProfileStore};
use gatehouse_client::secret::SecretStore;
use gatehouse_protocol::Environment;

use crate::device;
use crate::exit::{Exit, Failure, failure};
use crate::read_passphrase;

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileAction {
    /// Add a profile from a certificate and a key file, or a key on a device (--device-key).
    Add {
        /// Profile name.
        #[arg(long)]
        name: String,
        /// Server URL, https://host:port.
        #[arg(long)]
        server: String,
        /// The deployment CA certificate (PEM).
        #[arg(long)]
        ca: PathBuf,
        /// Your client certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Your private key (PKCS#8 PEM, optionally encrypted).
        #[arg(
            long,
            required_unless_present = "device_key",
            conflicts_with = "device_key"
        )]
        key: Option<PathBuf>,
        /// The id of your key on a device (as `gatehouse device info` shows it; a YubiKey slot
        /// such as 9a). Name the device as for `gatehouse device`: --piv [--serial N], or
        /// --module PATH [--serial S | --token LABEL]. Its PIN is asked for at each connection.
        #[arg(long)]
        device_key: Option<String>,
        #[command(flatten)]
        device: Box<device::DeviceArgs>,
        /// development, staging or production.
        #[arg(long, default_value = "development")]
        environment: Environment,
        /// Read the key's passphrase from standard input (first line) and keep it in the OS keyring.
        #[arg(long)]
        passphrase_stdin: bool,
        /// The mirror node approvals are checked against (https://host[:port]).
        #[arg(long)]
        mirror: Option<String>,
    },
    /// Import a profile file (as written by `gatehouse-server init`).
    Import {
        /// The profile file.
        file: PathBuf,
        /// Use this name instead of the file's.
        #[arg(long)]
        name: Option<String>,
        /// Use this server URL instead of the file's.
        #[arg(long)]
        server: Option<String>,
    },
    /// Pin the mirror node this profile's approvals are checked against (the ledger's copy of
    /// what you sign is read from it, never from an address the server gives).
    Mirror {
        /// Profile name.
        name: String,
        /// The mirror node's REST base URL, https://host[:port] (http:// only on this computer).
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        url: Option<String>,
        /// Unpin it: approving then needs --mirror each time.
        #[arg(long)]
        clear: bool,
    },
    /// List profiles.
    List,
    /// Show one profile.
    Show {
        /// Profile name.
        name: String,
    },
    /// Break-glass for a responder: where `gatehouse pause --ledger-only` sends the pause when the
    /// server cannot be reached. Your account's key must be your ledger key on your device.
    BreakGlass {
        /// Profile name.
        name: String,
        /// A consensus node, host:port.
        #[arg(long)]
        node: String,
        /// That node's account.
        #[arg(long, default_value = "0.0.3")]
        node_account: String,
        /// A mirror node's REST base URL, to confirm the pause.
        #[arg(long)]
        mirror: String,
        /// Your own funded account, which pays for the pause.
        #[arg(long)]
        payer: String,
        /// The token to pause.
        #[arg(long)]
        token: String,
    },
    /// Remove a profile and its keyring secrets (the certificate files stay).
    Remove {
        /// Profile name.
        name: String,
    },
}

/// The profile a command uses: the one named, else the only one.
pub(crate) fn chosen(name: Option<String>) -> Result<(ProfileStore, Profile), Failure> {
    let store = ProfileStore::open_default(SecretStore::native())?;
    let profile =
        match name {
            Some(name) => store.get(&name)?,
            None => {
                let mut all = store.list()?;
                match all.len() {
                    1 => all.remove(0),
                    0 => return Err(Failure {
                        code: Exit::Profile,
                        message: "no profiles yet".to_owned(),
                        hint: Some(
                            "add one with `gatehouse profile add` or `gatehouse profile import`"
                                .to_owned(),
                        ),
                    }),
                    _ => {
                        return Err(Failure {
                            code: Exit::Profile,
                            message: "several profiles exist".to_owned(),
                            hint: Some(
                                "choose one with --profile NAME (see `gatehouse profile list`)"
                                    .to_owned(),
                            ),
                        });
                    }
                }
            }
        };
    Ok((store, profile))
}

/// Runs a profile subcommand.
pub(crate) async fn run(store: &ProfileStore, action: ProfileAction) -> Result<(), Failure> {
    match action {
        ProfileAction::Add {
            name,
            server,
            ca,
            cert,
            key,
            device_key,
            device,
            environment,
            passphrase_stdin,
            mirror,
        } => {
            let key_passphrase = if passphrase_stdin {
                Some(read_passphrase("key passphrase")?)
            } else {
                None
            };
            let key = match (key, device_key) {
                (Some(path), _) => KeySource::File {
                    path,
                    encrypted: false,
                },
                (None, Some(id)) => KeySource::Device {
                    device: device.locator()?,
                    key: id.to_ascii_lowercase(),
                },
                (None, None) => {
                    return Err(failure(
                        Exit::Usage,
                        "give --key FILE or --device-key ID".to_owned(),
                    ));
                }
            };
            let profile = Profile {
                name,
                server_url: server,
                environment,
                ca_cert: ca,
                client_cert: cert,
                key,
                mirror_url: mirror,
            };
            let added = store.add(NewProfile {
                profile,
                key_passphrase,
            })?;
            say!("added profile {} ({})", added.name, added.server_url);
        }
        ProfileAction::Import { file, name, server } => {
            let added = store.import(&file, name.as_deref(), server.as_deref())?;
            say!("imported profile {} ({})", added.name, added.server_url);
        }
        ProfileAction::Mirror { name, url, .. } => {
            let updated = store.set_mirror(&name, url.as_deref())?;
            match &updated.mirror_url {
                Some(url) => say!("profile {name}: approvals are checked against {url}"),
                None => say!("profile {name}: no mirror pinned"),
            }
        }
        ProfileAction::List => {
            for p in store.list()? {
                say!("{:<16} {:<12} {}", p.name, p.environment, p.server_url);
            }
        }
        ProfileAction::Show { name } => {
            let p = store.get(&name)?;
            say!("name:        {}", p.name);
            say!("server:      {}", p.server_url);
            say!("environment: {}", p.environment);
            say!("CA:          {}", p.ca_cert.display());
            say!("certificate: {}", p.client_cert.display());
            say!("key:         {}", p.key.describe());
            say!(
                "mirror:      {}",
                p.mirror_url.as_deref().unwrap_or("(none pinned)")
            );
        }
        ProfileAction::BreakGlass {
            name,
            node,
            node_account,
            mirror,
            payer,
            token,
        } => {
            let profile = store.get(&name)?;
            let ledger = gatehouse_client::breakglass::Ledger {
                node,
                node_account,
                mirror,
                payer,
                token,
                payer_key: None,
            };
            let ledger = gatehouse_client::breakglass::BreakGlass::of(store.dir(), &profile.name)
                .set_up(ledger)
                .await?;
            say!(
                "profile {name}: break-glass pauses token {} on node {} paid by {}",
                ledger.token,
                ledger.node,
                ledger.payer
            );
            if let Some(key) = &ledger.payer_key {
                say!("signed by:   the device key {key} (the account's key on the mirror)");
            }
        }
        ProfileAction::Remove { name } => {
            store.remove(&name)?;
            say!("removed profile {name}");
        }
    }
    Ok(())
}
