//! edge-caches-gateway: the Upstash Redis REST protocol in front of a real Redis, so edge-caches
//! (and @upstash/redis) can use any Redis. See `gateway/README.md` for the flags and protocol.
//!
//! The process says one thing on stderr when it is ready to serve (tests and scripts wait for
//! that line and read the bound port from it) and never prints a token or the Redis URL: there
//! is no request log, errors name what is wrong rather than the value, and a panic (a bug) is
//! printed with the secrets blanked out.

// Layouts of the nested futures of a request (hyper, the cluster client) go past the default.
#![recursion_limit = "256"]

mod auth;
mod backend;
mod body;
mod budget;
mod client_scripts;
mod cluster;
mod commands;
mod config;
mod error_answer;
mod execute;
mod metrics;
mod pool;
mod redact;
mod reply;
mod request;
mod routes;
mod server;
mod shared;
mod slots;
mod subscribe;
mod tagged;
mod target;
mod tls;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use hyper::http::HeaderValue;

fn main() -> ExitCode {
    let args = match config::Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            let values = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned());
            let env = std::env::vars_os()
                .filter(|(k, _)| k.to_string_lossy().starts_with("EDGE_CACHES_"))
                .map(|(_, v)| v.to_string_lossy().into_owned());
            let message = e.render().to_string();
            eprint!("{}", redact::cli_error(&message, values.chain(env)));
            return ExitCode::from(2);
        }
    };
    let config = match args.into_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("edge-caches-gateway: {message}");
            return ExitCode::from(2);
        }
    };
    let mut secrets = vec![
        Some(config.token.as_str()),
        config.readonly_token.as_deref(),
    ];
    secrets.extend(config.redis_urls.iter().map(|u| Some(u.as_str())));
    redact::panics(&secrets);
    // One thread. The gateway's work per request is short (parse, one Redis round trip,
    // answer) and it shares the machine with Redis, and often with its clients: a second
    // worker mostly adds cross-thread wake-ups and work stealing (measured: docs/performance.md,
    // "The gateway's one thread").
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edge-caches-gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("edge-caches-gateway: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: config::Config) -> Result<(), String> {
    if config.tls.on {
        // rustls's one crypto provider for the process (the redis crate's TLS asks for it);
        // Err only if one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The first URL (the Redis, a seed node, a sentinel): a certificate that does not
        // verify stops the gateway here.
        tls::check(&config.tls.client(&config.redis_urls[0])?, config.redis_timeout).await?;
    }
    let backend = match &config.mode {
        config::Mode::Cluster => backend::Backend::Cluster(cluster::Cluster::new(
            &config.redis_urls,
            config.redis_timeout,
            &config.tls,
        )?),
        config::Mode::Single | config::Mode::Sentinel(_) => {
            let sentinel = match &config.mode {
                config::Mode::Sentinel(name) => Some(name.as_str()),
                _ => None,
            };
            let target = Arc::new(target::Target::new(&config.redis_urls, sentinel, &config.tls)?);
            backend::Backend::Single {
                target: target.clone(),
                shared: shared::Shared::new(
                    target.clone(),
                    pool::connection_config(config.redis_timeout),
                    config.redis_timeout,
                    config.tls.clone(),
                ),
                pool: pool::build(
                    target,
                    config.pool_size,
                    config.pool_wait,
                    config.redis_timeout,
                )?,
            }
        }
    };
    let app = Arc::new(routes::App {
        tokens: auth::Tokens::new(&config.token, config.readonly_token.as_deref()),
        backend,
        slots: tokio::sync::Semaphore::new(
            config.pool_size.min(tokio::sync::Semaphore::MAX_PERMITS),
        ),
        max_body: config.max_body,
        max_pipeline: config.max_pipeline,
        budget: budget::Budget::new(config.max_in_flight),
        pool_wait: config.pool_wait,
        read_timeout: config.read_timeout,
        allow_origin: config
            .allow_origin
            .as_deref()
            .and_then(|o| HeaderValue::from_str(o).ok()),
        sync: Default::default(),
        subscribers: Arc::new(tokio::sync::Semaphore::new(config.max_subscribers)),
        metrics: metrics::Metrics::new(config.metrics_listen.is_some()),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    // The metrics listener after the ready line, which tools wait for as the first.
    let metrics = match config.metrics_listen {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen on {address} for metrics: {e}"))?,
        ),
        None => None,
    };
    eprintln!("edge-caches-gateway listening on {bound}");
    if let Some(listener) = metrics {
        let bound = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
        eprintln!("edge-caches-gateway metrics on {bound}");
        tokio::spawn(server::metrics(listener, app.clone(), config.pool_size, config.max_subscribers));
    }

    server::run(
        listener,
        app,
        config.read_timeout,
        config.max_connections,
        shutdown_signal(),
        config.shutdown_timeout,
    )
    .await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (exit) still applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
