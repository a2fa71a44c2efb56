//! The leaf decoder on hostile bytes: it never panics, and whatever it accepts is canonical.

use std::collections::BTreeMap;

use gatehouse_audit::leaf::{
    Actor, Commitment, Details, Leaf, Outcome, OutcomeKind, Tag, Timestamp,
};

fn sample() -> Leaf {
    let mut commitments = BTreeMap::new();
    for (tag, value) in [
        ("client_ip", "198.51.100.4"),
        ("comment", "approved after call"),
    ] {
        let tag = Tag::new(tag).expect("valid tag");
        let (commitment, _) = Commitment::new(&tag, value.as_bytes(), &mut rand_core::OsRng);
        commitments.insert(tag, commitment);
    }
    Leaf {
        index: 7,
        time: Timestamp::from_unix_millis(1_700_000_000_123).expect("in range"),
        actor: Actor {
            name: "bob".to_owned(),
            cert_fingerprint: [3; 32],
        },
        action: "pause.trip".to_owned(),
        object: "token/0.0.5005".to_owned(),
        outcome: Outcome {
            kind: OutcomeKind::Success,
            code: None,
        },
        request_id: "7d1e".to_owned(),
        details: Details::new(&serde_json::json!({"reason": "drill"})).expect("object"),
        commitments,
    }
}

#[test]
fn mutated_encodings_are_rejected_or_canonical() {
    let bytes = sample().encode().expect("small");
    let mut state = 0x1234_5678_9abc_def1_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..50_000 {
        let mut mutated = bytes.clone();
        for _ in 0..=(next() % 3) {
            let at = (next() as usize) % mutated.len();
            match next() % 3 {
                0 => mutated[at] ^= 1 << (next() % 8),
                1 => {
                    mutated.remove(at);
                }
                _ => mutated.insert(at, next() as u8),
            }
        }
        if let Ok(leaf) = Leaf::decode(&mutated) {
            accepted += 1;
            assert_eq!(
                leaf.encode().expect("a decoded leaf re-encodes"),
                mutated,
                "anything the decoder accepts must be the canonical encoding of what it returns"
            );
        }
    }
    assert!(
        accepted < 50_000,
        "most mutations must be refused ({accepted} accepted)"
    );
}

#[test]
fn unsorted_or_duplicate_commitment_tags_are_refused() {
    let leaf = sample();
    let bytes = leaf.encode().expect("small");
    // The two commitments are the last 2 × (4 + tag + 32) bytes; swap them.
    let first = 4 + "client_ip".len() + 32;
    let second = 4 + "comment".len() + 32;
    let start = bytes.len() - first - second;
    let mut swapped = bytes[..start].to_vec();
    swapped.extend_from_slice(&bytes[start + first..]);
    swapped.extend_from_slice(&bytes[start..start + first]);
    assert_eq!(swapped.len(), bytes.len(), "same bytes, other order");
    assert!(
        Leaf::decode(&swapped).is_err(),
        "tags out of order are not canonical"
    );
    let mut duplicated = bytes[..start].to_vec();
    duplicated.extend_from_slice(&bytes[start..start + first]);
    duplicated.extend_from_slice(&bytes[start..start + first]);
    assert!(
        Leaf::decode(&duplicated).is_err(),
        "a tag twice is not canonical"
    );
}

#[test]
fn leaf_hash_is_the_rfc_leaf_hash_of_the_encoding() {
    let leaf = sample();
    let bytes = leaf.encode().expect("small");
    assert_eq!(
        leaf.leaf_hash().expect("small"),
        gatehouse_audit::Hash::leaf(&bytes),
        "the tree commits to exactly the canonical bytes"
    );
}
