//! edge-caches-gateway: the Upstash Redis REST protocol in front of a real Redis, so edge-caches
//! (and @upstash/redis) can use any Redis. See `gateway/README.md` for the flags and protocol.
//!
//! The process says one thing on stderr when it is ready to serve (tests and scripts wait for
//! that line and read the bound port from it) and never prints a token or the Redis URL: there
//! is no request log, errors name what is wrong rather than the value, and a panic (a bug) is
//! printed with the secrets blanked out.

mod auth;
mod budget;
mod commands;
mod config;
mod execute;
mod pool;
mod redact;
mod reply;
mod request;
mod routes;
mod server;
mod shared;

use std::process::ExitCode;
use std::sync::Arc;

use hyper::http::HeaderValue;
use clap::Parser;

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
    redact::panics(&[
        Some(config.token.as_str()),
        config.readonly_token.as_deref(),
        Some(config.redis_url.as_str()),
    ]);
    // One thread. The gateway's work per request is short (parse, one Redis round trip,
    // answer) and it shares the machine with Redis, and often with its clients: a second
    // worker mostly adds cross-thread wake-ups and work stealing. Measured with wrk -c64 on two
    // cores, GET /get/key: 43,000-45,000 requests/s at 22 us of gateway CPU each, against
    // 37,000-38,000 at 27 us with a worker per core (and 29,000 at 28 us with one multi-thread
    // worker). A single-threaded runtime per core, each with its own Redis connection and
    // connections handed out by one acceptor, lost too: 52,000-61,000 at 16.5-19.5 us against
    // 60,000-77,000 at 11.5-15 us on one thread (alternating rounds on one Redis).
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
    let client = pool::client(&config.redis_url)?;
    let shared = shared::Shared::new(
        &client,
        pool::connection_config(config.redis_timeout),
        config.redis_timeout,
    );
    let pool = pool::build(
        client,
        config.pool_size,
        config.pool_wait,
        config.redis_timeout,
    )?;
    let app = Arc::new(routes::App {
        tokens: auth::Tokens::new(&config.token, config.readonly_token.as_deref()),
        pool,
        shared,
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
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    eprintln!("edge-caches-gateway listening on {bound}");

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
