//! The HAPI gRPC services. Every transaction RPC goes to one ingest that dispatches on the body, not
//! on the RPC (the SDK itself sends ScheduleSign through `deleteSchedule`); every query RPC goes to one
//! query answerer. Ledger work is blocking (signatures, SQLite), so it runs off the async workers.

use std::sync::Arc;

use hiero_sdk_proto::services::{
    self as pb, crypto_service_server::CryptoService, network_service_server::NetworkService,
    schedule_service_server::ScheduleService, token_service_server::TokenService,
};
use tonic::{Request, Response, Status};

use crate::ledger::Ledger;

#[derive(Debug, Clone)]
pub struct Node {
    pub ledger: Arc<Ledger>,
}

impl Node {
    async fn submit(
        &self,
        request: Request<pb::Transaction>,
    ) -> Result<Response<pb::TransactionResponse>, Status> {
        let ledger = Arc::clone(&self.ledger);
        let tx = request.into_inner();
        let code = tokio::task::spawn_blocking(move || ledger.submit(&tx))
            .await
            .map_err(|_| Status::internal("the ledger task failed; see the simulator's log"))?;
        Ok(Response::new(pb::TransactionResponse {
            node_transaction_precheck_code: code as i32,
            cost: 0,
        }))
    }

    async fn query(&self, request: Request<pb::Query>) -> Result<Response<pb::Response>, Status> {
        let ledger = Arc::clone(&self.ledger);
        let q = request.into_inner();
        let answer = tokio::task::spawn_blocking(move || crate::query::answer(&ledger, &q))
            .await
            .map_err(|_| Status::internal("the ledger task failed; see the simulator's log"))?;
        Ok(Response::new(answer))
    }
}

/// Implements a service trait: each listed transaction RPC submits, each query RPC answers.
macro_rules! service {
    ($trait:ident { tx: [$($tx:ident),* $(,)?], query: [$($q:ident),* $(,)?] $(,)? }) => {
        #[tonic::async_trait]
        impl $trait for Node {
            $(
                async fn $tx(&self, request: Request<pb::Transaction>) -> Result<Response<pb::TransactionResponse>, Status> {
                    self.submit(request).await
                }
            )*
            $(
                async fn $q(&self, request: Request<pb::Query>) -> Result<Response<pb::Response>, Status> {
                    self.query(request).await
                }
            )*
        }
    };
}

service!(CryptoService {
    tx: [
        create_account,
        update_account,
        crypto_transfer,
        crypto_delete,
        approve_allowances,
        delete_allowances,
        add_live_hash,
        delete_live_hash
    ],
    query: [
        get_live_hash,
        get_account_records,
        crypto_get_balance,
        get_account_info,
        get_transaction_receipts,
        get_tx_record_by_tx_id
    ],
});

service!(TokenService {
    tx: [
        create_token,
        update_token,
        mint_token,
        burn_token,
        delete_token,
        wipe_token_account,
        freeze_token_account,
        unfreeze_token_account,
        grant_kyc_to_token_account,
        revoke_kyc_from_token_account,
        associate_tokens,
        dissociate_tokens,
        update_token_fee_schedule,
        pause_token,
        unpause_token,
        update_nfts,
        reject_token,
        airdrop_tokens,
        cancel_airdrop,
        claim_airdrop,
    ],
    query: [get_token_info, get_token_nft_info],
});

service!(ScheduleService {
    tx: [create_schedule, sign_schedule, delete_schedule],
    query: [get_schedule_info]
});

service!(NetworkService {
    tx: [unchecked_submit],
    query: [get_version_info, get_account_details, get_execution_time]
});
