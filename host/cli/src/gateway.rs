//! `portcullis gateway`: MCP Streamable HTTP in front of MCP servers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use portcullis::reload::{PolicyHandle, PolicyWatcher};
use portcullis_gateway::{Gateway, GatewayConfig};

use crate::options::{AuditOptions, PolicyOptions};

/// How long the policy directory must be quiet after a change before it is reloaded.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

/// Arguments of `portcullis gateway`.
#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    /// The gateway's configuration (TOML): listener, TLS, authentication,
    /// servers, policies, audit. It is watched: a change that loads is put
    /// in force for new requests, one that does not is reported and the
    /// last good one stays.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// How the policies run; `--policies` and `--settings` override the
    /// configuration's `[policies]`. A policy directory is watched and
    /// reloaded on change.
    #[command(flatten)]
    policy: PolicyOptions,
    /// `--audit` overrides the configuration's `[audit]`.
    #[command(flatten)]
    audit: AuditOptions,
}

/// Serves until SIGINT or SIGTERM.
pub(crate) fn run(mut args: GatewayArgs) -> anyhow::Result<ExitCode> {
    let config = GatewayConfig::load(&args.config)?;
    args.policy.policies = args.policy.policies.or(config.policies.dir.clone());
    args.policy.settings = args.policy.settings.or(config.policies.settings.clone());
    args.audit.audit = args
        .audit
        .audit
        .or(config.audit.as_ref().map(|audit| audit.path.clone()));
    let (engine, policies) = args.policy.load()?;
    let state_quota = engine.config().get_state_quota();
    let handle = Arc::new(PolicyHandle::new(policies));
    let _watcher = args
        .policy
        .policies
        .clone()
        .map(|dir| PolicyWatcher::spawn(engine.clone(), dir, Arc::clone(&handle), RELOAD_DEBOUNCE))
        .transpose()?;
    let gateway = Arc::new(Gateway::new(
        config,
        handle,
        state_quota,
        args.audit.open()?,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the gateway's threads")?;
    let config_path = args.config;
    runtime.block_on(async move {
        let scheme = if gateway.listen().tls.is_some() {
            "https"
        } else {
            "http"
        };
        let servers = gateway.server_names();
        gateway.watch(config_path);
        gateway
            .serve(
                |address| {
                    eprintln!(
                        "portcullis: gateway on {scheme}://{address}/mcp/{{{}}}",
                        servers.join(",")
                    );
                },
                crate::serve::stop_signal(),
            )
            .await
    })?;
    Ok(ExitCode::SUCCESS)
}
