//! What the gateway does, for an operator: counters and a latency histogram kept in atomics on
//! the request path (a few relaxed additions per request), served in the Prometheus text format
//! at `GET /metrics` on `--metrics-listen`, a listener of its own (no token: bind it where only
//! the scraper reaches).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header;
use hyper::http::HeaderValue;
use hyper::StatusCode;

use crate::routes::{App, Body, Response};

/// The routes a request is counted under.
#[derive(Clone, Copy)]
pub enum Route {
    /// `POST /` with one command.
    Command = 0,
    /// The command in the path (`/get/key`).
    Path,
    Pipeline,
    MultiExec,
    Subscribe,
    /// Refused before its route was known (a bad method), and CORS preflights.
    Other,
}

const ROUTES: [&str; 6] = ["command", "path", "pipeline", "multi-exec", "subscribe", "other"];

/// The statuses the gateway answers with; any other is counted as "other".
const CODES: [u16; 13] = [200, 204, 400, 401, 405, 408, 413, 431, 500, 502, 503, 504, 0];

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics {
    /// Counting at all: only with --metrics-listen (without it nothing reads the counts).
    on: bool,
    requests: [[AtomicU64; CODES.len()]; ROUTES.len()],
    /// Per bucket (and one past the last), requests whose answer took at most its bound.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    commands: AtomicU64,
    /// Requests that found every Redis turn taken (`--pool-size`) and waited, and of those the
    /// ones that waited longer than `--pool-wait-ms` (a 503).
    waited: AtomicU64,
    wait_timeouts: AtomicU64,
}

impl Metrics {
    pub fn new(on: bool) -> Metrics {
        Metrics { on, ..Metrics::default() }
    }

    /// A request answered with `status` after `elapsed`.
    pub fn request(&self, route: Route, status: StatusCode, elapsed: Duration) {
        if !self.on {
            return;
        }
        let code = CODES.iter().position(|&c| c == status.as_u16()).unwrap_or(CODES.len() - 1);
        self.requests[route as usize][code].fetch_add(1, Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_micros.fetch_add(elapsed.as_micros() as u64, Relaxed);
    }

    /// Commands sent to Redis.
    pub fn commands(&self, n: usize) {
        if !self.on {
            return;
        }
        self.commands.fetch_add(n as u64, Relaxed);
    }

    /// A request waited for a Redis turn; `got_one`: within `--pool-wait-ms`.
    pub fn waited(&self, got_one: bool) {
        if !self.on {
            return;
        }
        self.waited.fetch_add(1, Relaxed);
        if !got_one {
            self.wait_timeouts.fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus text exposition of the counters, with the gauges read from `app` now.
    pub fn render(&self, app: &App, pool_size: usize, max_subscribers: usize) -> String {
        let mut out = String::new();
        let p = "edge_caches_gateway";
        let _ = writeln!(out, "# HELP {p}_requests_total HTTP requests answered, by route and status code (0: another code).");
        let _ = writeln!(out, "# TYPE {p}_requests_total counter");
        for (r, route) in ROUTES.iter().enumerate() {
            for (c, code) in CODES.iter().enumerate() {
                let n = self.requests[r][c].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(out, "{p}_requests_total{{route=\"{route}\",code=\"{code}\"}} {n}");
                }
            }
        }
        let _ = writeln!(out, "# HELP {p}_request_duration_seconds Time from a request's arrival to its answer.");
        let _ = writeln!(out, "# TYPE {p}_request_duration_seconds histogram");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Relaxed);
            let _ = writeln!(out, "{p}_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.latency[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{p}_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{p}_request_duration_seconds_sum {}", self.latency_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{p}_request_duration_seconds_count {cumulative}");
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} counter\n{p}_{name} {value}");
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: usize| {
            let _ = writeln!(out, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} gauge\n{p}_{name} {value}");
        };
        counter(&mut out, "commands_total", "Commands sent to Redis.", self.commands.load(Relaxed));
        counter(&mut out, "redis_waits_total", "Requests that waited for a Redis connection (--pool-size all in use).", self.waited.load(Relaxed));
        counter(&mut out, "redis_wait_timeouts_total", "Requests that waited longer than --pool-wait-ms (answered 503).", self.wait_timeouts.load(Relaxed));
        gauge(&mut out, "redis_connections_in_use", "Requests holding a Redis turn now (at most --pool-size).", pool_size.saturating_sub(app.slots.available_permits()));
        gauge(&mut out, "subscribers", "Open SUBSCRIBE streams (at most --max-subscribers).", max_subscribers.saturating_sub(app.subscribers.available_permits()));
        let failures = |codes: &[u16]| -> u64 {
            let mut n = 0;
            for r in 0..ROUTES.len() {
                for (c, code) in CODES.iter().enumerate() {
                    if codes.contains(code) {
                        n += self.requests[r][c].load(Relaxed);
                    }
                }
            }
            n
        };
        let _ = writeln!(out, "# HELP {p}_failures_total Requests that failed at Redis, by kind: unavailable (503, nothing ran), lost (502) and timeout (504), which may have run.");
        let _ = writeln!(out, "# TYPE {p}_failures_total counter");
        for (kind, codes) in [("unavailable", &[503][..]), ("lost", &[502]), ("timeout", &[504])] {
            let _ = writeln!(out, "{p}_failures_total{{kind=\"{kind}\"}} {}", failures(codes));
        }
        out
    }
}

/// `GET /metrics` on the metrics listener; anything else is 404.
pub fn answer(app: &Arc<App>, path: &str, pool_size: usize, max_subscribers: usize) -> Response {
    let (status, body) = if path == "/metrics" {
        (StatusCode::OK, app.metrics.render(app, pool_size, max_subscribers))
    } else {
        (StatusCode::NOT_FOUND, "not found: the metrics are at /metrics\n".to_owned())
    };
    let mut response = Response::new(Body::Left(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}
