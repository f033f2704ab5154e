//! mandi-server: runs one, several or all mandi services in one process.
//!
//! `--target=all` is the embedded default (in-memory storage, no servers needed);
//! `--target=identity` runs identity on its real backends from configuration.
#![forbid(unsafe_code)]

mod modules;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use mandi_runtime::auth::TokenVerifier;
use mandi_runtime::config::{ConfigError, EXIT_BAD_CONFIG, Env};
use mandi_runtime::server::{self, ServerConfig};
use mandi_runtime::telemetry::{self, TelemetryConfig};

/// Command-line flags; each falls back to its environment variable.
#[derive(Debug, Parser)]
#[command(name = "mandi-server", version, about = "Runs mandi services")]
struct Args {
    /// `all`, or a comma list of services (identity). Default: MANDI_TARGET, else all.
    #[arg(long)]
    target: Option<String>,
    /// gRPC and grpc-web address.
    #[arg(long, env = "MANDI_LISTEN")]
    listen: Option<String>,
    /// Metrics, health and JWKS HTTP address.
    #[arg(long, env = "MANDI_ADMIN_LISTEN")]
    admin_listen: Option<String>,
    /// The gateway's public HTTP address (grpc-web, gRPC and the storefront), when it runs.
    #[arg(long, env = "MANDI_GATEWAY__LISTEN")]
    gateway_listen: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mandi-server: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<ConfigError>() {
            Some(config) => {
                eprintln!("mandi-server: bad configuration: {config}");
                ExitCode::from(EXIT_BAD_CONFIG as u8)
            }
            None => {
                eprintln!("mandi-server: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Configuration is read and checked in full before anything starts.
    let mut env = Env::load()?;
    if let Some(listen) = &args.listen {
        env.set("MANDI_LISTEN", listen);
    }
    if let Some(admin) = &args.admin_listen {
        env.set("MANDI_ADMIN_LISTEN", admin);
    }
    if let Some(gateway) = &args.gateway_listen {
        env.set("MANDI_GATEWAY__LISTEN", gateway);
    }
    let target = args
        .target
        .clone()
        .or_else(|| env.raw("MANDI_TARGET").map(str::to_owned))
        .unwrap_or_else(|| "all".to_owned());
    let selection = modules::select(&target)?;
    let server_config = ServerConfig::from_env(&env)?;
    let mut prepared = modules::prepare(&env, &selection)?;
    modules::check_dependencies(&selection, &prepared)?;
    // Spans say which service made them: `mandi-catalog` for a pod of one service.
    let service_name = match selection.targets.as_slice() {
        [one] if !selection.embedded => format!("mandi-{}", one.name()),
        _ => "mandi-server".to_owned(),
    };
    let telemetry_config = TelemetryConfig::from_env(&env, &service_name)?;
    let identity_endpoint: Option<String> = env.get("MANDI_AUTH__IDENTITY_ENDPOINT")?;
    let runs_identity = selection.targets.contains(&modules::Target::Identity);
    if identity_endpoint.is_none() && !runs_identity {
        return Err(ConfigError::Missing {
            var: "MANDI_AUTH__IDENTITY_ENDPOINT".into(),
            hint: "the identity service's URL, to fetch token signing keys".into(),
        }
        .into());
    }
    // Over TLS, this process calls identity (maybe itself) with its own certificate.
    let identity_tls = match &server_config.tls {
        Some(tls)
            if identity_endpoint
                .as_deref()
                .is_none_or(|e| e.starts_with("https://")) =>
        {
            Some(tls.client_config()?)
        }
        _ => None,
    };
    let _telemetry = telemetry::init(&telemetry_config)?;

    let grpc_listener = tokio::net::TcpListener::bind(server_config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", server_config.listen))?;
    let admin_listener = tokio::net::TcpListener::bind(server_config.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {}", server_config.admin_listen))?;
    let grpc_addr = grpc_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let gateway_listener = match prepared.iter().find_map(|p| match p {
        modules::Prepared::Gateway(config) => Some(config.listen),
        _ => None,
    }) {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for the gateway"))?,
        ),
        None => None,
    };

    // With identity in this process, keys come from ourselves, over gRPC like any caller.
    let identity_endpoint =
        identity_endpoint.unwrap_or_else(|| loopback_url(grpc_addr, server_config.tls.is_some()));
    let mut endpoint =
        tonic::transport::Endpoint::from_shared(identity_endpoint.clone()).map_err(|_| {
            ConfigError::Invalid {
                var: "MANDI_AUTH__IDENTITY_ENDPOINT".into(),
                value: identity_endpoint.clone(),
                reason: "expected a URL like http://identity:50051".into(),
            }
        })?;
    if let Some(tls) = identity_tls {
        endpoint = endpoint
            .tls_config(tls)
            .context("invalid client TLS configuration for identity")?;
    }
    let verifier = Arc::new(TokenVerifier::from_identity(endpoint));

    modules::point_at_self(
        &mut prepared,
        &loopback_url(grpc_addr, server_config.tls.is_some()),
        server_config.tls.as_ref(),
    )?;

    let gateway_config = modules::take_gateway(&mut prepared);
    let modules = modules::build(prepared).await?;
    let gateway = match gateway_config {
        Some(config) => Some(mandi_gateway::Gateway::build(config, verifier.clone()).await?),
        None => None,
    };
    let names: Vec<&str> = selection.targets.iter().map(|t| t.name()).collect();
    tracing::info!(
        targets = %names.join(","),
        embedded = selection.embedded,
        %grpc_addr,
        %admin_addr,
        "mandi-server started"
    );
    let signal = server::shutdown_signal().context("cannot listen for SIGTERM and SIGINT")?;
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    // Event consumers commit what they handled and stop as the server starts draining;
    // the gateway stops taking calls at the same moment.
    let shutdown = async move {
        signal.await;
        mandi_kafka::stop_consumers();
        let _ = stopping_tx.send(true);
    };
    let mut gateway_addr = None;
    let gateway_task = match (gateway, gateway_listener) {
        (Some(gateway), Some(listener)) => {
            gateway_addr = Some(listener.local_addr()?);
            let mut stopping = stopping_rx.clone();
            Some(tokio::spawn(gateway.serve(listener, async move {
                let _ = stopping.wait_for(|stopping| *stopping).await;
            })))
        }
        _ => None,
    };
    // One machine-readable line on stdout, for scripts and tests that start on port 0.
    match gateway_addr {
        Some(gateway) => {
            tracing::info!(%gateway, "gateway started: open http://{gateway}");
            println!("listening grpc={grpc_addr} admin={admin_addr} gateway={gateway}");
        }
        None => println!("listening grpc={grpc_addr} admin={admin_addr}"),
    }
    std::io::stdout().flush()?;

    server::serve(
        &server_config,
        modules,
        verifier,
        grpc_listener,
        admin_listener,
        shutdown,
    )
    .await?;
    if let Some(task) = gateway_task {
        task.await.context("gateway panicked")??;
    }
    Ok(())
}

fn loopback_url(addr: SocketAddr, tls: bool) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}:{}", addr.port())
}
