//! Every transparency-dev/merkle proof vector (testdata/rfc6962, see its SOURCE.md) must give its
//! expected verdict.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gatehouse_audit::Hash;
use gatehouse_audit::proof::{verify_consistency, verify_inclusion};
use serde_json::Value;

/// Cases our typed API answers differently on purpose, with the reason.
const DELIBERATE_DIVERGENCES: &[(&str, &str)] = &[(
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
    "its two 'roots' are the 12-byte string \"don't care 2\"; Go compares byte slices and accepts \
     equal garbage, our Hash holds exactly 32 bytes so the case is refused when parsed. The rule it \
     tests (equal sizes, equal roots, empty proof) is checked with real hashes below.",
)];

/// This crate's directory, read when the test runs: a compile-time `env!` would keep the path of
/// whichever checkout first built the binary, and cargo reuses builds across checkouts that share
/// a target directory (CI's clone and a developer's).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

fn vector_files(kind: &str) -> Vec<PathBuf> {
    let root = manifest_dir().join("testdata/rfc6962").join(kind);
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("readable directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A hash field as it arrives on the wire: refused unless it is exactly 32 bytes.
fn hash(value: &Value) -> Option<Hash> {
    let bytes = BASE64.decode(value.as_str()?).ok()?;
    Hash::try_from(bytes.as_slice()).ok()
}

fn proof(value: &Value) -> Option<Vec<Hash>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

struct Tally {
    cases: usize,
    happy: usize,
    refused_when_parsed: usize,
    refused_by_verifier: usize,
    divergent: Vec<String>,
}

fn run(kind: &str, verdict: impl Fn(&Value) -> Result<(), String>) -> Tally {
    let mut tally = Tally {
        cases: 0,
        happy: 0,
        refused_when_parsed: 0,
        refused_by_verifier: 0,
        divergent: Vec::new(),
    };
    let base = manifest_dir().join("testdata/rfc6962");
    for path in vector_files(kind) {
        let name = path
            .strip_prefix(&base)
            .expect("under testdata")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable vector");
        let case: Value = serde_json::from_str(&text).expect("vector is JSON");
        let want_err = case["wantErr"].as_bool().expect("every vector has wantErr");
        tally.cases += 1;
        let outcome = verdict(&case);
        match &outcome {
            Ok(()) => tally.happy += 1,
            Err(why) if why == "parse" => tally.refused_when_parsed += 1,
            Err(_) => tally.refused_by_verifier += 1,
        }
        if outcome.is_err() != want_err {
            tally.divergent.push(name);
        }
    }
    tally
}

fn check_divergences(kind: &str, tally: &Tally) {
    let expected: Vec<&str> = DELIBERATE_DIVERGENCES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.starts_with(kind))
        .collect();
    assert_eq!(
        tally.divergent, expected,
        "{kind}: every vector must give its expected verdict except the documented divergences"
    );
}

#[test]
fn inclusion_vectors() {
    let tally = run("inclusion", |case| {
        let (Some(index), Some(size)) = (case["leafIdx"].as_u64(), case["treeSize"].as_u64())
        else {
            return Err("parse".to_owned());
        };
        let (Some(leaf), Some(root), Some(path)) = (
            hash(&case["leafHash"]),
            hash(&case["root"]),
            proof(&case["proof"]),
        ) else {
            return Err("parse".to_owned());
        };
        verify_inclusion(index, size, &leaf, &path, &root).map_err(|e| e.to_string())
    });
    assert_eq!(
        tally.cases, 98,
        "all 98 inclusion vectors must be found and run"
    );
    assert_eq!(
        tally.happy, 6,
        "the 5 happy paths and the single-entry match verify"
    );
    assert_eq!(
        tally.refused_by_verifier + tally.refused_when_parsed,
        92,
        "every modified case is refused"
    );
    assert!(
        tally.refused_by_verifier >= 60,
        "most refusals must come from the verifier, not from parsing (got {})",
        tally.refused_by_verifier
    );
    check_divergences("inclusion", &tally);
}

#[test]
fn consistency_vectors() {
    let tally = run("consistency", |case| {
        let (Some(size1), Some(size2)) = (case["size1"].as_u64(), case["size2"].as_u64()) else {
            return Err("parse".to_owned());
        };
        let (Some(root1), Some(root2), Some(path)) = (
            hash(&case["root1"]),
            hash(&case["root2"]),
            proof(&case["proof"]),
        ) else {
            return Err("parse".to_owned());
        };
        verify_consistency(size1, size2, &root1, &root2, &path).map_err(|e| e.to_string())
    });
    assert_eq!(
        tally.cases, 98,
        "all 98 consistency vectors must be found and run"
    );
    assert_eq!(tally.happy, 5, "the 5 happy paths verify");
    assert_eq!(
        tally.refused_by_verifier + tally.refused_when_parsed,
        93,
        "every modified case is refused (plus the one deliberate divergence)"
    );
    assert!(
        tally.refused_by_verifier >= 60,
        "most refusals must come from the verifier, not from parsing (got {})",
        tally.refused_by_verifier
    );
    check_divergences("consistency", &tally);
}

#[test]
fn the_divergent_rule_holds_with_real_hashes() {
    let root = Hash::leaf(b"don't care 2");
    assert_eq!(
        verify_consistency(1, 1, &root, &root, &[]),
        Ok(()),
        "equal sizes with equal roots and an empty proof are consistent"
    );
    assert!(
        verify_consistency(1, 1, &root, &Hash::leaf(b"other"), &[]).is_err(),
        "equal sizes with different roots are not"
    );
}
