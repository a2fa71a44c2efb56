//! Signed checkpoints against tampering and malformed notes, and against other implementations'
//! known answers.

use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::{Checkpoint, CheckpointError, KeyError, LogKey, LogVerifier};

const ORIGIN: &str = "gatehouse.example/audit";

fn key() -> LogKey {
    LogKey::from_secret_bytes(ORIGIN, &[42; 32]).expect("valid name")
}

fn signed_note() -> String {
    let cp = Checkpoint::new(ORIGIN, 1234, Hash::leaf(b"root")).expect("valid");
    key().sign(&cp).expect("own origin").note().to_owned()
}

#[test]
fn go_sumdb_key_is_a_known_answer() {
    // golang.org/x/mod/sumdb/note's documented example key pair.
    let verifier: LogVerifier =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            .parse()
            .expect("the Go example verifier key parses");
    assert_eq!(verifier.key_id(), 0xc74f_20a3, "key id as computed by Go");
    let seed: [u8; 32] = base64_decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1..]
        .try_into()
        .expect("33 bytes: type + seed");
    let key = LogKey::from_secret_bytes("PeterNeumann", &seed).expect("valid");
    assert_eq!(
        key.key_id(),
        0xc74f_20a3,
        "the private half derives the same id"
    );
    assert_eq!(key.verifier(), verifier, "and the same public key");
    assert_eq!(
        verifier.to_string(),
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "the verifier key prints in the standard form"
    );
}

#[test]
fn c2sp_spec_example_body_parses() {
    let body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let cp = Checkpoint::from_body(body).expect("the spec's own example is a checkpoint");
    assert_eq!(cp.origin(), "example.com/behind-the-sofa", "origin line");
    assert_eq!(cp.size(), 20_852_163, "size line");
    assert_eq!(cp.to_body(), body, "formatting reproduces the spec's bytes");
}

#[test]
fn tampered_notes_are_refused() {
    let note = signed_note();
    let verifier = key().verifier();
    assert!(
        verifier.verify(&note).is_ok(),
        "the untouched note verifies"
    );
    let root = Hash::leaf(b"root").to_string();
    let other_root = Hash::leaf(b"other").to_string();
    let cases: Vec<(&str, String)> = vec![
        ("size", note.replacen("\n1234\n", "\n1235\n", 1)),
        ("root", note.replacen(&root, &other_root, 1)),
        (
            "origin",
            note.replacen("gatehouse.example/audit\n", "gatehouse.example/audiT\n", 1),
        ),
        ("extension added", note.replacen("\n\n", "\nextra\n\n", 1)),
    ];
    for (what, tampered) in cases {
        assert_ne!(tampered, note, "{what}: the replacement happened");
        assert!(
            matches!(
                verifier.verify(&tampered),
                Err(CheckpointError::BadSignature { .. })
            ),
            "changing the {what} after signing must break the signature"
        );
    }
    // Flip one bit inside the signature bytes (the base64 after the key id).
    let (head, sig) = note.trim_end().rsplit_once(' ').expect("signature line");
    let mut raw = base64_decode(sig);
    raw[10] ^= 1;
    let flipped = format!("{head} {}\n", base64_encode(&raw));
    assert!(
        matches!(
            verifier.verify(&flipped),
            Err(CheckpointError::BadSignature { .. })
        ),
        "a changed signature byte is refused"
    );
}

#[test]
fn wrong_or_unknown_keys_are_refused() {
    let note = signed_note();
    let other = LogKey::from_secret_bytes(ORIGIN, &[43; 32])
        .expect("valid")
        .verifier();
    assert!(
        matches!(
            other.verify(&note),
            Err(CheckpointError::NotSignedByLog { .. })
        ),
        "a different key under the same name does not verify it"
    );
    let renamed = note.replacen(&format!("— {ORIGIN} "), "— someone.else/log ", 1);
    assert!(
        matches!(
            key().verifier().verify(&renamed),
            Err(CheckpointError::NotSignedByLog { .. })
        ),
        "a signature under an unknown key name does not count"
    );
}

#[test]
fn cosignatures_are_kept_and_ignored() {
    let note = signed_note();
    let witness = LogKey::from_secret_bytes("witness.example", &[9; 32]).expect("valid");
    let mut parsed = signed_note::Note::from_bytes(note.as_bytes()).expect("note");
    let sig =
        signed_note::Signature::new("witness.example".to_owned(), witness.key_id(), vec![0; 64])
            .expect("valid name");
    parsed = signed_note::Note::new(parsed.text(), &[sig]).expect("same text");
    let witness_line = String::from_utf8(parsed.to_bytes()).expect("utf-8");
    let witness_line = witness_line.rsplit_once("\n\n").expect("framing").1;
    let cosigned = format!("{note}{witness_line}");
    let verified = key()
        .verifier()
        .verify(&cosigned)
        .expect("an unknown extra signature is ignored");
    assert_eq!(
        verified.note(),
        cosigned,
        "the extra signature line is kept for forwarding"
    );
}

#[test]
fn malformed_notes_are_refused() {
    let note = signed_note();
    let verifier = key().verifier();
    let body_end = note.find("\n\n").expect("blank line") + 1;
    let (body, sigs) = (&note[..body_end], &note[body_end + 1..]);
    let cases: Vec<(&str, String)> = vec![
        ("missing blank line", format!("{body}{sigs}")),
        ("two blank lines", format!("{body}\n\n{sigs}")),
        ("no signature", body.to_owned()),
        ("no final newline", note.trim_end_matches('\n').to_owned()),
        (
            "leading zero in size",
            note.replacen("\n1234\n", "\n01234\n", 1),
        ),
        (
            "plus sign in size",
            note.replacen("\n1234\n", "\n+1234\n", 1),
        ),
        (
            "space after size",
            note.replacen("\n1234\n", "\n1234 \n", 1),
        ),
        ("space before origin", format!(" {note}")),
        ("CRLF", note.replace('\n', "\r\n")),
        (
            "tab in origin",
            note.replacen(
                "gatehouse.example/audit\n",
                "gatehouse.example/audit\t\n",
                1,
            ),
        ),
        (
            "double space in signature line",
            note.replacen("— ", "—  ", 1),
        ),
        ("hyphen instead of em dash", note.replacen('—', "-", 1)),
        (
            "bad base64 signature",
            note.replacen(&format!("— {ORIGIN} "), &format!("— {ORIGIN} !!"), 1),
        ),
        ("text after the signatures", format!("{note}trailing")),
        ("empty", String::new()),
    ];
    for (what, bad) in cases {
        assert_ne!(bad, note, "{what}: the change happened");
        let result = verifier.verify(&bad);
        assert!(result.is_err(), "{what} must be refused, got {result:?}");
    }
    for bad_body in [
        "origin\n12\nnot-base64\n",
        "origin\n12\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n\n",
        "origin\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "orig in\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ] {
        assert!(
            Checkpoint::from_body(bad_body).is_err(),
            "{bad_body:?} is not a checkpoint body"
        );
    }
    assert_eq!(
        "gatehouse.example/audit+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            .parse::<LogVerifier>(),
        Err(KeyError::KeyIdMismatch),
        "a verifier key whose id belongs to another name is refused"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("test base64")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The worked example in README.md, signed with the (public, test-only) seed 0x42 × 32.
const README_VERIFIER: &str =
    "gatehouse.example/audit+eb368ce9+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
const README_NOTE: &str = "gatehouse.example/audit
3
w2UeVBcUxT1kjsx7rsp/4sNu9PplvM4ksdcShkN95WY=

— gatehouse.example/audit 6zaM6YCUU7wE7SzQrxGPfQ7Kwu4bgFhFw1Lrd6zKOTLXzzcfwvN7kMTQkN8e3oTi6VvMZfq4B+TUcEyhDj5WBdUqCw8=
";

#[test]
fn readme_example_is_real() {
    use gatehouse_audit::tree::{HashSource, Tree};
    use gatehouse_audit::trust;

    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(README_NOTE),
        "README shows the note this test checks"
    );
    assert!(
        readme.contains(README_VERIFIER),
        "README shows the verifier key this test checks"
    );

    let mut tree = Tree::new();
    for entry in ["first", "second", "third"] {
        tree.append(entry.as_bytes());
    }
    let key = LogKey::from_secret_bytes(ORIGIN, &[0x42; 32]).expect("valid");
    let checkpoint = Checkpoint::new(ORIGIN, 3, tree.current_root()).expect("valid");
    assert_eq!(
        key.sign(&checkpoint).expect("own origin").note(),
        README_NOTE,
        "Ed25519 is deterministic: signing again gives the README's bytes"
    );
    let verifier: LogVerifier = README_VERIFIER.parse().expect("README verifier key parses");
    let trusted = Checkpoint::new(ORIGIN, 1, tree.root(1).expect("stored")).expect("valid");
    let proof: Vec<Hash> = [
        "qU3U08LG0lSMpOVg1ycnurXXlVABkfW4VXkTDdOxRgM=",
        "ZW0+j1RCOM324y1kD1G6CRSVmxTt16UtC4uZq0yKxsY=",
    ]
    .iter()
    .map(|h| h.parse().expect("base64 hash"))
    .collect();
    assert!(
        readme.contains(&proof[0].to_string()) && readme.contains(&proof[1].to_string()),
        "README shows the consistency proof"
    );
    assert_eq!(
        (proof[0], proof[1]),
        (Hash::leaf(b"second"), Hash::leaf(b"third")),
        "as the README says, the proof is the leaf hashes of second and third"
    );
    assert!(
        readme.contains(&trusted.root().to_string()) && trusted.root() == Hash::leaf(b"first"),
        "README shows the size-1 root, the leaf hash of first"
    );
    assert_eq!(
        proof,
        tree.consistency_proof(1, 3).expect("stored").path,
        "the README proof is what the tree produces"
    );
    let accepted = trust::accept(&verifier, &trusted, README_NOTE, &proof)
        .expect("the README's console flow accepts the note");
    assert_eq!(
        accepted.checkpoint(),
        &checkpoint,
        "and trusts size 3 from then on"
    );
}
