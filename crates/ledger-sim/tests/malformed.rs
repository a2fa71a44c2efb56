//! Bad input gets an error answer, never a crash: garbage transactions, wrong encodings, undecodable
//! gRPC messages, and (property-based) random bytes and signature maps fed to ingest.
#![allow(clippy::unwrap_used)]

mod common;

use ed25519_dalek::Signer as _;
use gatehouse_ledger_sim::{Code, Config, Simulator};
use hiero_sdk_proto::services::{
    self as pb, crypto_service_client::CryptoServiceClient, transaction_body::Data,
};
use proptest::prelude::*;
use prost::Message as _;

async fn raw_client(sim: &Simulator) -> CryptoServiceClient<tonic::transport::Channel> {
    CryptoServiceClient::connect(format!("http://{}", sim.grpc_addr))
        .await
        .unwrap()
}

async fn precheck(
    client: &mut CryptoServiceClient<tonic::transport::Channel>,
    tx: pb::Transaction,
) -> Code {
    let code = client
        .crypto_transfer(tx)
        .await
        .unwrap()
        .into_inner()
        .node_transaction_precheck_code;
    Code::try_from(code).unwrap()
}

/// A message whose field 1 is a varint where `Transaction` has a message: undecodable as a Transaction.
#[derive(Clone, PartialEq, prost::Message)]
struct WrongWireType {
    #[prost(uint64, tag = "1")]
    body: u64,
}

#[tokio::test]
async fn garbage_gets_error_answers_and_the_node_keeps_serving() {
    let net = common::start().await;
    let mut client = raw_client(&net.sim).await;

    // An empty transaction, garbage where the signed transaction should be, garbage as the body.
    assert_eq!(
        precheck(&mut client, pb::Transaction::default()).await,
        Code::InvalidTransaction
    );
    let garbage = pb::Transaction {
        signed_transaction_bytes: vec![0xff; 64],
        ..Default::default()
    };
    assert_eq!(
        precheck(&mut client, garbage).await,
        Code::InvalidTransaction
    );
    let signed = pb::SignedTransaction {
        body_bytes: vec![0xff, 0x01, 0x02],
        sig_map: None,
        use_serialized_tx_message_hash_algorithm: false,
    };
    let bad_body = pb::Transaction {
        signed_transaction_bytes: signed.encode_to_vec(),
        ..Default::default()
    };
    assert_eq!(
        precheck(&mut client, bad_body).await,
        Code::InvalidTransactionBody
    );
    // A body without a transaction id.
    let no_id_body = pb::TransactionBody {
        memo: "no id".into(),
        ..Default::default()
    };
    let no_id = pb::SignedTransaction {
        body_bytes: no_id_body.encode_to_vec(),
        ..Default::default()
    };
    let tx = pb::Transaction {
        signed_transaction_bytes: no_id.encode_to_vec(),
        ..Default::default()
    };
    assert_eq!(precheck(&mut client, tx).await, Code::InvalidTransactionId);
    // Deprecated body bytes that differ from the signed ones.
    let mut mismatched = pb::Transaction {
        signed_transaction_bytes: no_id.encode_to_vec(),
        ..Default::default()
    };
    #[allow(deprecated)]
    {
        mismatched.body_bytes = vec![1, 2, 3];
    }
    assert_eq!(
        precheck(&mut client, mismatched).await,
        Code::InvalidTransaction
    );
    // A query without a query.
    let answer = client
        .crypto_get_balance(pb::Query::default())
        .await
        .unwrap()
        .into_inner();
    let Some(pb::response::Response::NetworkGetVersionInfo(refused)) = answer.response else {
        panic!("an answer with a header: {answer:?}");
    };
    assert_eq!(
        refused.header.map(|h| h.node_transaction_precheck_code),
        Some(Code::InvalidQueryHeader as i32)
    );

    // Undecodable protobuf at the gRPC layer: an error status, not a dropped connection or a crash.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", net.sim.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/proto.CryptoService/cryptoTransfer");
    let codec: tonic::codec::ProstCodec<WrongWireType, pb::TransactionResponse> =
        tonic::codec::ProstCodec::default();
    let status = grpc
        .unary(tonic::Request::new(WrongWireType { body: 7 }), path, codec)
        .await
        .unwrap_err();
    assert_ne!(status.code(), tonic::Code::Ok);

    // Still serving: a real query through the SDK.
    let balance = common::hiero::AccountBalanceQuery::new()
        .account_id(net.operator)
        .execute(&net.client)
        .await
        .unwrap();
    assert!(balance.hbars.to_tinybars() > 0);
    net.sim.shutdown().await;
}

/// A CryptoTransfer body from the operator, valid now.
fn body(sim: &Simulator, nanos_offset: i64) -> pb::TransactionBody {
    let now = sim.ledger.clock.now() - 1_000_000_000 + i128::from(nanos_offset);
    let id = |n| pb::AccountId {
        shard_num: 0,
        realm_num: 0,
        account: Some(pb::account_id::Account::AccountNum(n)),
    };
    pb::TransactionBody {
        transaction_id: Some(pb::TransactionId {
            transaction_valid_start: Some(pb::Timestamp {
                seconds: (now / 1_000_000_000) as i64,
                nanos: (now % 1_000_000_000) as i32,
            }),
            account_id: Some(id(2)),
            scheduled: false,
            nonce: 0,
        }),
        node_account_id: Some(id(3)),
        transaction_fee: 100_000_000,
        transaction_valid_duration: Some(pb::Duration { seconds: 120 }),
        data: Some(Data::CryptoTransfer(pb::CryptoTransferTransactionBody {
            transfers: Some(pb::TransferList {
                account_amounts: vec![
                    pb::AccountAmount {
                        account_id: Some(id(2)),
                        amount: -1,
                        ..Default::default()
                    },
                    pb::AccountAmount {
                        account_id: Some(id(3)),
                        amount: 1,
                        ..Default::default()
                    },
                ],
            }),
            token_transfers: vec![],
        })),
        ..Default::default()
    }
}

fn wrap(body_bytes: Vec<u8>, pairs: Vec<pb::SignaturePair>) -> pb::Transaction {
    let signed = pb::SignedTransaction {
        body_bytes,
        sig_map: Some(pb::SignatureMap { sig_pair: pairs }),
        use_serialized_tx_message_hash_algorithm: false,
    };
    pb::Transaction {
        signed_transaction_bytes: signed.encode_to_vec(),
        ..Default::default()
    }
}

struct Fixture {
    _rt: tokio::runtime::Runtime,
    sim: Simulator,
    operator: ed25519_dalek::SigningKey,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sim = rt
        .block_on(Simulator::start(Config::ephemeral(dir.path())))
        .unwrap();
    let hex_key = std::fs::read_to_string(sim.operator_key_file.as_ref().unwrap()).unwrap();
    let operator = ed25519_dalek::SigningKey::from_bytes(
        &hex::decode(hex_key.trim()).unwrap().try_into().unwrap(),
    );
    Fixture {
        _rt: rt,
        sim,
        operator,
        _dir: dir,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random bytes as the signed transaction or as its body: an error code, never OK, never a panic.
    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512), as_body in any::<bool>()) {
        let f = fixture_once();
        let tx = if as_body { wrap(bytes, vec![]) } else { pb::Transaction { signed_transaction_bytes: bytes, ..Default::default() } };
        prop_assert_ne!(f.sim.ledger.submit(&tx), Code::Ok);
    }

    /// A real body with random signature pairs (random prefixes, random signatures, and the payer's
    /// real key as a prefix with a forged signature): never accepted.
    #[test]
    fn forged_signature_maps_are_refused(
        pairs in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40), proptest::collection::vec(any::<u8>(), 0..80), any::<bool>()), 0..6),
        use_payer_prefix in any::<bool>(),
        offset in 0i64..1_000_000,
    ) {
        let f = fixture_once();
        let body = body(&f.sim, offset).encode_to_vec();
        let mut sig_pairs: Vec<pb::SignaturePair> = pairs.into_iter().map(|(prefix, sig, ecdsa)| pb::SignaturePair {
            pub_key_prefix: prefix,
            signature: Some(if ecdsa { pb::signature_pair::Signature::EcdsaSecp256k1(sig) } else { pb::signature_pair::Signature::Ed25519(sig) }),
        }).collect();
        if use_payer_prefix {
            sig_pairs.push(pb::SignaturePair {
                pub_key_prefix: f.operator.verifying_key().to_bytes().to_vec(),
                signature: Some(pb::signature_pair::Signature::Ed25519(vec![7; 64])),
            });
        }
        let code = f.sim.ledger.submit(&wrap(body, sig_pairs));
        prop_assert!(matches!(code, Code::InvalidSignature | Code::KeyPrefixMismatch), "{code:?}");
    }

    /// The payer's valid signature over one body does not carry to a body with any byte changed.
    #[test]
    fn a_signature_covers_exactly_its_body(flip in 0usize..64, bit in 0u8..8, offset in 0i64..1_000_000) {
        let f = fixture_once();
        let body = body(&f.sim, offset).encode_to_vec();
        let sig = f.operator.sign(&body).to_bytes().to_vec();
        let mut altered = body.clone();
        let i = flip % altered.len();
        altered[i] ^= 1 << bit;
        let pair = pb::SignaturePair { pub_key_prefix: f.operator.verifying_key().to_bytes().to_vec(), signature: Some(pb::signature_pair::Signature::Ed25519(sig)) };
        prop_assert_ne!(f.sim.ledger.submit(&wrap(altered, vec![pair])), Code::Ok);
    }
}

/// One simulator shared by every proptest case (starting one per case would dominate the run).
fn fixture_once() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(fixture)
}

#[test]
fn a_correctly_signed_body_is_accepted_by_the_same_path() {
    // The control for the properties above: the same construction, signed properly, is accepted.
    let f = fixture_once();
    let body = body(&f.sim, 123_456_789).encode_to_vec();
    let sig = f.operator.sign(&body).to_bytes().to_vec();
    let pair = pb::SignaturePair {
        pub_key_prefix: f.operator.verifying_key().to_bytes().to_vec(),
        signature: Some(pb::signature_pair::Signature::Ed25519(sig)),
    };
    assert_eq!(
        f.sim.ledger.submit(&wrap(body.clone(), vec![pair.clone()])),
        Code::Ok
    );
    assert_eq!(
        f.sim.ledger.submit(&wrap(body, vec![pair])),
        Code::DuplicateTransaction
    );
}
