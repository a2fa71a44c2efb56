//! `gatehouse-server init`: a complete development deployment in one directory:
//! CA, server certificate, demo people with client certificates and registry
//! entries, importable console profiles, and the config file.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gatehouse_protocol::{Environment, Fingerprint, ProfileFile, Role};

use crate::config::{self, Config};
use crate::pki::{self, Authority, Validity};
use crate::store::{self as db, Db};

/// The people a development deployment starts with.
pub const DEMO_PEOPLE: &[(&str, &[Role])] = &[
    ("alice", &[Role::Officer]),
    ("bob", &[Role::Officer]),
    ("carol", &[Role::Officer, Role::Responder]),
    ("dave", &[Role::Compliance]),
    ("erin", &[Role::Admin]),
];

/// Failure to create a deployment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A deployment (or the remains of one) is already there.
    #[error(
        "{0} already holds a deployment; pass --force to replace it (its CA, keys and registry are deleted)"
    )]
    Exists(PathBuf),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error(transparent)]
    Pki(#[from] pki::Error),
    /// The registry could not be written.
    #[error(transparent)]
    Db(#[from] db::Error),
    /// The config could not be serialised.
    #[error("cannot write the config file: {0}")]
    Config(#[from] toml::ser::Error),
}

/// What `init` should create.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The deployment's name.
    pub deployment: String,
    /// Where the server will listen (the profiles point at it).
    pub listen: SocketAddr,
    /// Replace an existing deployment.
    pub force: bool,
    /// PostgreSQL URL to keep the registry in; the SQLite file when unset.
    pub database_url: Option<String>,
}

/// One person created by `init`.
#[derive(Debug, Clone)]
pub struct Person {
    /// Name (also the certificate's common name).
    pub name: String,
    /// Roles granted.
    pub roles: Vec<Role>,
    /// Fingerprint of their client certificate.
    pub fingerprint: Fingerprint,
    /// Their importable profile.
    pub profile: PathBuf,
}

/// What `init` created.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The config file to pass to `serve`.
    pub config_file: PathBuf,
    /// The people and their profiles.
    pub people: Vec<Person>,
}

/// Creates a development deployment in `data_dir`.
pub async fn init(data_dir: &Path, options: &InitOptions) -> Result<Deployment, Error> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    create_private_dir(data_dir).map_err(io(data_dir))?;
    let data_dir = data_dir.canonicalize().map_err(io(data_dir))?;
    // The data directory holds keys and the database: only its owner may look inside.
    std::fs::set_permissions(
        &data_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .map_err(io(&data_dir))?;
    let config_file = data_dir.join(config::FILE_NAME);
    let generated = ["pki", "people", "profiles"].map(|d| data_dir.join(d));
    let sqlite = data_dir.join(config::SQLITE_FILE);
    let exists = config_file.exists() || sqlite.exists() || generated.iter().any(|d| d.exists());
    if exists && !options.force {
        return Err(Error::Exists(data_dir));
    }
    if exists {
        for dir in &generated {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(io(dir))?;
            }
        }
        let high_water = data_dir.join(crate::config::Audit::default().high_water_mark);
        if high_water.exists() {
            std::fs::remove_file(&high_water).map_err(io(&high_water))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", sqlite.display()));
            if file.exists() {
                std::fs::remove_file(&file).map_err(io(&file))?;
            }
        }
    }
    for dir in &generated {
        create_private_dir(dir).map_err(io(dir))?;
    }

    let mut config = Config::development(&options.deployment, &data_dir, options.listen);
    config.data_dir = PathBuf::new(); // written relative: the file's directory
    // The password, if any, stays in the environment: the file gets the URL without it.
    config.database.url = options
        .database_url
        .as_deref()
        .map(config::without_password);

    let ca = Authority::generate(&options.deployment)?;
    write_file(&data_dir.join("pki/ca.pem"), ca.cert_pem(), 0o644)?;
    write_file(&data_dir.join("pki/ca.key"), ca.key_pem(), 0o600)?;
    let server = ca.issue_server(
        &["localhost", "127.0.0.1", "::1"],
        Validity::days_from_now(825),
    )?;
    write_file(&data_dir.join("pki/server.pem"), &server.cert_pem, 0o644)?;
    write_file(&data_dir.join("pki/server.key"), &server.key_pem, 0o600)?;
    write_file(
        &data_dir.join(&config.audit.log_key),
        &crate::audit::generate_key_hex(),
        0o600,
    )?;

    let mut resolved = config.clone();
    resolved.data_dir = data_dir.clone();
    resolved.database.url = options.database_url.clone();
    let db = Db::connect(&resolved.database_url()).await?;
    if options.force {
        crate::registry::store::clear(&db).await?;
    }
    let server_url = format!("https://localhost:{}", options.listen.port());
    let mut people = Vec::new();
    for (name, roles) in DEMO_PEOPLE {
        let issued = ca.issue_client(name, Validity::days_from_now(365))?;
        let cert_path = data_dir.join(format!("people/{name}.pem"));
        let key_path = data_dir.join(format!("people/{name}.key"));
        write_file(&cert_path, &issued.cert_pem, 0o644)?;
        write_file(&key_path, &issued.key_pem, 0o600)?;
        let certificate = crate::registry::Certificate::from_pem(&issued.cert_pem)
            .map_err(|e| Error::Pki(pki::Error::Request(e.to_string())))?;
        let fingerprint = certificate.fingerprint;
        crate::registry::store::insert_unaudited(&db, &certificate, name, roles).await?;
        let profile = data_dir.join(format!("profiles/{name}.json"));
        let file = ProfileFile {
            format: ProfileFile::FORMAT.to_owned(),
            name: (*name).to_owned(),
            server_url: server_url.clone(),
            environment: Environment::Development,
            ca_cert: data_dir.join("pki/ca.pem"),
            client_cert: cert_path,
            client_key: key_path,
        };
        let json = serde_json::to_string_pretty(&file)
            .unwrap_or_else(|_| unreachable!("a ProfileFile always serialises"));
        write_file(&profile, &json, 0o644)?;
        people.push(Person {
            name: (*name).to_owned(),
            roles: roles.to_vec(),
            fingerprint,
            profile,
        });
    }
    db.close().await;
    // The config file goes last: its presence marks a complete deployment.
    write_file(&config_file, &toml::to_string_pretty(&config)?, 0o644)?;
    Ok(Deployment {
        config_file,
        people,
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `contents` to `path` with `mode`, through a temporary file and a rename,
/// so a crash never leaves a half-written key or config behind.
pub fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    file.write_all(contents.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
