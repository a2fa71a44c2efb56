//! `gatehouse-ledger-sim`: runs the local Hedera network until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use gatehouse_ledger_sim::{Config, Simulator};

/// A local Hedera network: HAPI gRPC (node 0.0.3) and a mirror-node REST subset, state in SQLite.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where the ledger's SQLite database (and a development genesis key) live. Created if missing.
    #[arg(long, env = "GATEHOUSE_LEDGER_DIR")]
    data_dir: PathBuf,
    /// The gRPC address (the SDK's "node address" for 0.0.3).
    #[arg(long, default_value = "127.0.0.1:50211")]
    grpc: SocketAddr,
    /// The mirror REST address.
    #[arg(long, default_value = "127.0.0.1:5551")]
    mirror: SocketAddr,
    /// A genesis file (JSON: operator_account, operator_public_key, node_account), read only when the
    /// data directory holds no ledger yet. Without one, a development genesis is made.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Once both services listen, write a JSON file here naming the actual addresses (useful with
    /// port 0), the operator account and the development key file.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let args_ready = args.ready_file.clone();
    let config = Config {
        data_dir: args.data_dir,
        grpc: args.grpc,
        mirror: args.mirror,
        genesis: args.genesis,
        virtual_clock: false,
    };
    let sim = match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("gatehouse-ledger-sim: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(grpc = %sim.grpc_addr, mirror = %sim.mirror_url(), operator = %sim.operator_account, "ledger simulator running");
    match &sim.operator_key_file {
        Some(path) => {
            tracing::info!(key_file = %path.display(), "development genesis: the operator's private key (hex) is in this file")
        }
        None => tracing::info!("the operator's key is the one named in the genesis file"),
    }
    if let Some(path) = &args_ready {
        let ready = serde_json::json!({
            "grpc": sim.grpc_addr.to_string(),
            "mirror": sim.mirror_url(),
            "operator_account": sim.operator_account,
            "operator_key_file": sim.operator_key_file,
        });
        // Written whole through a rename, so a reader never sees half a file.
        let tmp = path.with_extension("tmp");
        if let Err(e) =
            std::fs::write(&tmp, ready.to_string()).and_then(|()| std::fs::rename(&tmp, path))
        {
            eprintln!(
                "gatehouse-ledger-sim: writing the ready file {}: {e}",
                path.display()
            );
            sim.shutdown().await;
            return std::process::ExitCode::FAILURE;
        }
    }
    wait_for_signal().await;
    tracing::info!("stopping");
    sim.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
