//! Command-line flags, each with an environment variable, so the gateway runs the same way from a
//! shell, a container or a test harness. Limits have defaults that are safe for a public endpoint;
//! a missing token is a start-up error because an open gateway would hand the whole Redis to anyone.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// An Upstash-compatible Redis REST gateway in front of a real Redis.
#[derive(Debug, Parser)]
#[command(name = "edge-caches-gateway", version)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the ready line on stderr says which).
    #[arg(long, env = "EDGE_CACHES_LISTEN", default_value = "127.0.0.1:8079")]
    pub listen: SocketAddr,

    /// Redis to forward commands to (redis://[:password@]host:port[/db]); with --cluster, a
    /// comma-separated list of seed nodes; with --sentinel, of sentinels.
    #[arg(
        long = "redis",
        env = "EDGE_CACHES_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    pub redis_url: String,

    /// TLS (rediss:// URLs): trust the CA certificates in this PEM file instead of the
    /// platform's roots.
    #[arg(long, env = "EDGE_CACHES_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,

    /// TLS: a client certificate (PEM, with its chain) for Redis that asks for one; with --tls-key.
    #[arg(long, env = "EDGE_CACHES_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// TLS: the client certificate's private key (PEM); with --tls-cert.
    #[arg(long, env = "EDGE_CACHES_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// Redis is a Redis Cluster: --redis lists seed nodes; commands go to their slot's master.
    #[arg(long, env = "EDGE_CACHES_CLUSTER", conflicts_with = "sentinel")]
    pub cluster: bool,

    /// Redis is a primary watched by Sentinel under this master name: --redis lists sentinels.
    #[arg(long, env = "EDGE_CACHES_SENTINEL")]
    pub sentinel: Option<String>,

    /// Token that may run every command the gateway serves (required).
    #[arg(long, env = "EDGE_CACHES_TOKEN", hide_env_values = true)]
    pub token: String,

    /// Token that may run only commands that do not write.
    #[arg(long, env = "EDGE_CACHES_READONLY_TOKEN", hide_env_values = true)]
    pub readonly_token: Option<String>,

    /// Largest request body in bytes; larger ones get 413. A cache holds rendered pages and API
    /// answers of several MiB; --max-in-flight bounds the memory all requests take together.
    #[arg(long, env = "EDGE_CACHES_MAX_BODY", default_value_t = 8 * 1024 * 1024)]
    pub max_body: usize,

    /// Most commands in one /pipeline or /multi-exec request.
    #[arg(long, env = "EDGE_CACHES_MAX_PIPELINE", default_value_t = 1000)]
    pub max_pipeline: usize,

    /// Most request bytes (bodies, or paths) worked on at once; past it a request waits up to
    /// --pool-wait-ms for room, then gets 503. At least --max-body.
    #[arg(long, env = "EDGE_CACHES_MAX_IN_FLIGHT", default_value_t = 32 * 1024 * 1024)]
    pub max_in_flight: usize,

    /// Most client connections open at once; past it new ones wait to be accepted.
    #[arg(long, env = "EDGE_CACHES_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Most SUBSCRIBE/PSUBSCRIBE streams open at once (each holds a Redis connection); past it
    /// a subscribe gets 503.
    #[arg(long, env = "EDGE_CACHES_MAX_SUBSCRIBERS", default_value_t = 256)]
    pub max_subscribers: usize,

    /// Serve Prometheus metrics at GET /metrics on this address (no token: bind it where only
    /// the scraper reaches). Off when not given.
    #[arg(long, env = "EDGE_CACHES_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Enable CORS for this origin (`*` for any): answer preflight requests and add
    /// Access-Control-Allow-Origin to every response. Off when not given.
    #[arg(long, env = "EDGE_CACHES_ALLOW_ORIGIN")]
    pub allow_origin: Option<String>,

    /// Most Redis connections the gateway opens.
    #[arg(long, env = "EDGE_CACHES_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,

    /// How long a request waits for a free Redis connection before it gets 503 (milliseconds).
    #[arg(long, env = "EDGE_CACHES_POOL_WAIT_MS", default_value_t = 5000)]
    pub pool_wait_ms: u64,

    /// How long to wait for Redis to connect or to answer before the request gets 503 (milliseconds).
    #[arg(long, env = "EDGE_CACHES_REDIS_TIMEOUT_MS", default_value_t = 10_000)]
    pub redis_timeout_ms: u64,

    /// How long a client may take to send a request's headers, and again its body (milliseconds).
    #[arg(long, env = "EDGE_CACHES_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub read_timeout_ms: u64,

    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish (milliseconds).
    #[arg(
        long,
        env = "EDGE_CACHES_SHUTDOWN_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub shutdown_timeout_ms: u64,
}

/// The checked configuration the rest of the gateway runs on.
/// What --redis points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Single,
    Cluster,
    /// The master name.
    Sentinel(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    /// One URL in the single mode; seed nodes or sentinels otherwise.
    pub redis_urls: Vec<String>,
    /// Whether the URLs are rediss://, and the certificates the flags name.
    pub tls: crate::tls::Tls,
    pub mode: Mode,
    pub token: String,
    pub readonly_token: Option<String>,
    pub max_body: usize,
    pub max_pipeline: usize,
    pub max_in_flight: usize,
    pub max_connections: usize,
    pub max_subscribers: usize,
    pub allow_origin: Option<String>,
    pub pool_size: usize,
    pub pool_wait: Duration,
    pub redis_timeout: Duration,
    pub read_timeout: Duration,
    pub shutdown_timeout: Duration,
}

impl Args {
    /// Rejects settings that would start an open or useless gateway. Messages never echo a token.
    pub fn into_config(self) -> Result<Config, String> {
        if self.token.is_empty() {
            return Err("--token (EDGE_CACHES_TOKEN) must not be empty".into());
        }
        let too_long = |t: &str| t.len() > crate::auth::MAX_TOKEN_LEN;
        if too_long(&self.token) || self.readonly_token.as_deref().is_some_and(too_long) {
            return Err(format!(
                "--token and --readonly-token may have at most {} bytes",
                crate::auth::MAX_TOKEN_LEN
            ));
        }
        let readonly_token = match self.readonly_token {
            Some(t) if t.is_empty() => None,
            Some(t) if t == self.token => {
                return Err("--readonly-token must differ from --token".into());
            }
            other => other,
        };
        if self.max_body == 0
            || self.max_pipeline == 0
            || self.pool_size == 0
            || self.max_connections == 0
        {
            return Err(
                "--max-body, --max-pipeline, --pool-size and --max-connections must be at least 1"
                    .into(),
            );
        }
        if self.max_in_flight < self.max_body {
            return Err("--max-in-flight must be at least --max-body".into());
        }
        let mode = match (self.cluster, self.sentinel) {
            (true, _) => Mode::Cluster,
            (false, Some(name)) if name.is_empty() => {
                return Err("--sentinel needs the master's name".into())
            }
            (false, Some(name)) => Mode::Sentinel(name),
            (false, None) => Mode::Single,
        };
        let redis_urls: Vec<String> = self
            .redis_url
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if redis_urls.is_empty() {
            return Err("--redis must name at least one Redis".into());
        }
        if mode == Mode::Single && redis_urls.len() > 1 {
            return Err("--redis lists several nodes: add --cluster or --sentinel NAME".into());
        }
        let tls = crate::tls::Tls::new(
            &redis_urls,
            self.tls_ca.as_deref(),
            self.tls_cert.as_deref().zip(self.tls_key.as_deref()),
        )?;
        let allow_origin = self.allow_origin.filter(|o| !o.is_empty());
        if let Some(origin) = &allow_origin {
            if hyper::http::HeaderValue::from_str(origin).is_err() {
                return Err("--allow-origin is not a valid header value".into());
            }
        }
        let ms = Duration::from_millis;
        Ok(Config {
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            redis_urls,
            tls,
            mode,
            token: self.token,
            readonly_token,
            max_body: self.max_body,
            max_pipeline: self.max_pipeline,
            max_in_flight: self.max_in_flight,
            max_connections: self.max_connections,
            max_subscribers: self.max_subscribers.max(1),
            allow_origin,
            pool_size: self.pool_size,
            pool_wait: ms(self.pool_wait_ms.max(1)),
            redis_timeout: ms(self.redis_timeout_ms.max(1)),
            read_timeout: ms(self.read_timeout_ms.max(1)),
            shutdown_timeout: ms(self.shutdown_timeout_ms),
        })
    }
}
