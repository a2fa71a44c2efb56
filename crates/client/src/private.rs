//! Files only their owner may read or write: the client's data directory and its subdirectories
//! (0700), the audit caches with their SQLite WAL and shared-memory files, and exports (0600).
//! On systems without Unix modes these create the files as usual.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Mode of the client's directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the client's cache databases and exports.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) readable by its owner only, and takes the access of
/// others away from `dir` itself if it already existed.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Creates a new file at `path` for writing, readable by its owner only; an existing file is
/// never overwritten (the error is `AlreadyExists`).
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// Writes `bytes` to `path` (owner only) through a new sibling file, synced, then renamed over
/// it: a crash leaves the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let tmp = sibling(path, ".tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = create_new_file(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Makes the SQLite database at `path` and its `-wal` and `-shm` files readable by their owner
/// only, creating the (empty) database file if it is missing. SQLite gives the WAL and
/// shared-memory files it creates later the database file's mode.
pub fn restrict_database(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    drop(options.open(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [
            path.to_owned(),
            sibling(path, "-wal"),
            sibling(path, "-shm"),
        ] {
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(FILE_MODE)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name (`audit.db` → `audit.db-wal`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The permission bits of `path` (tests and diagnostics).
#[cfg(unix)]
pub fn mode(path: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn directories_are_the_owners_alone_even_when_they_existed() {
        let root = tempfile::tempdir().expect("temp dir");
        let nested = root.path().join("config/gatehouse/audit");
        create_dir(&nested).expect("created");
        assert_eq!(mode(&nested).expect("mode"), 0o700);
        assert_eq!(
            mode(&root.path().join("config/gatehouse")).expect("mode"),
            0o700,
            "parents made on the way too"
        );
        let open = root.path().join("open");
        std::fs::create_dir(&open).expect("dir");
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        create_dir(&open).expect("existing");
        assert_eq!(mode(&open).expect("mode"), 0o700, "an open one is closed");
    }

    #[test]
    fn new_files_are_the_owners_alone_and_never_overwrite() {
        let root = tempfile::tempdir().expect("temp dir");
        let path = root.path().join("export.age");
        drop(create_new_file(&path).expect("created"));
        assert_eq!(mode(&path).expect("mode"), 0o600);
        let again = create_new_file(&path).expect_err("exists");
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_database_and_its_wal_files_are_the_owners_alone() {
        let root = tempfile::tempdir().expect("temp dir");
        let db = root.path().join("alice.db");
        std::fs::write(sibling(&db, "-wal"), b"").expect("wal");
        std::fs::set_permissions(
            sibling(&db, "-wal"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .expect("chmod");
        restrict_database(&db).expect("restricted");
        assert_eq!(mode(&db).expect("mode"), 0o600, "created 0600");
        assert_eq!(
            mode(&sibling(&db, "-wal")).expect("mode"),
            0o600,
            "an existing WAL is closed"
        );
    }
}
