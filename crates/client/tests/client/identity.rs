//! Loading client identities: plain and encrypted keys, wrong passphrases, mismatched pairs.

use gatehouse_client::identity::{ClientIdentity, Error, FileIdentity};
use gatehouse_client::secret::Secret;
use gatehouse_server::pki::{Authority, Validity};
use pkcs8::PrivateKeyInfo;
use pkcs8::der::pem::LineEnding;

fn issue(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let ca = Authority::generate("t").expect("CA");
    let issued = ca
        .issue_client("alice", Validity::days_from_now(3))
        .expect("client cert");
    let cert = dir.join("alice.pem");
    let key = dir.join("alice.key");
    std::fs::write(&cert, &issued.cert_pem).expect("write");
    std::fs::write(&key, issued.key_pem.as_str()).expect("write");
    (cert, key, issued.key_pem.to_string())
}

#[test]
fn plain_key_loads_and_reports_the_certificate_validity() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key, _) = issue(dir.path());
    let identity = FileIdentity::load(&cert, &key, None).expect("plain key loads");
    let (not_before, not_after) = identity.validity().expect("validity readable");
    assert!(
        not_before < chrono::Utc::now() && not_after > chrono::Utc::now(),
        "currently valid"
    );
    assert!(
        identity.allows_resumption(),
        "file keys may resume sessions"
    );
}

#[test]
fn encrypted_key_needs_the_right_passphrase() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key, pem) = issue(dir.path());
    let (_, doc) = pkcs8::SecretDocument::from_pem(&pem).expect("PKCS#8");
    let info = PrivateKeyInfo::try_from(doc.as_bytes()).expect("parse");
    let encrypted = info
        .encrypt(rand_core::OsRng, "open sesame")
        .expect("encrypt")
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .expect("PEM");
    std::fs::write(&key, encrypted.as_str()).expect("write");
    assert!(
        gatehouse_client::identity::is_encrypted_key_file(&key),
        "detected as encrypted"
    );
    let missing = FileIdentity::load(&cert, &key, None).expect_err("no passphrase");
    assert!(
        matches!(missing, Error::Passphrase { .. }),
        "missing passphrase is named: {missing:?}"
    );
    let wrong =
        FileIdentity::load(&cert, &key, Some(&Secret::new("nope".to_owned()))).expect_err("wrong");
    assert!(
        matches!(wrong, Error::Passphrase { .. }),
        "wrong passphrase is named: {wrong:?}"
    );
    FileIdentity::load(&cert, &key, Some(&Secret::new("open sesame".to_owned())))
        .expect("right passphrase loads");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, _, _) = issue(dir.path());
    let other = tempfile::tempdir().expect("dir");
    let (_, other_key, _) = issue(other.path());
    let err = FileIdentity::load(&cert, &other_key, None).expect_err("mismatch");
    assert!(
        matches!(err, Error::Mismatch),
        "a foreign key is refused: {err:?}"
    );
}
