//! The HTTP side of the protocol: endpoints, status codes, CORS. One handler serves every path,
//! because Upstash's path style makes the path itself the command (`/set/foo/bar`), and the
//! order of checks is part of the contract: method, then token (before the body is read), then
//! body size, then room in the in-flight budget, then parsing and the command lists, and only
//! then a Redis connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::http::request::Parts;
use hyper::http::HeaderValue;
use hyper::{header, HeaderMap, Method, StatusCode};
use serde_json::Value as Json;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::auth::{Role, Tokens};
use crate::backend::Backend;
use crate::body::{declared_length, discard_unread, read_body, too_large};
use crate::budget::Budget;
use crate::commands;
use crate::error_answer::{fail, json_response, ErrorAnswer};
use crate::execute::{self, Transaction};
use crate::metrics::{self, Metrics};
use crate::reply::{self, Encoding};
use crate::request::{self, Command};
use crate::subscribe;

/// Everything a request needs, shared by all of them.
pub struct App {
    pub tokens: Tokens,
    pub backend: Backend,
    /// One per request at Redis, --pool-size of them: on the shared connection or not, requests
    /// past that many wait up to --pool-wait-ms, then get 503, as they would for a pooled
    /// connection. (The pool has as many connections, so a request with a slot gets one.)
    pub slots: Semaphore,
    pub max_body: usize,
    pub max_pipeline: usize,
    pub budget: Budget,
    /// How long a request waits for room in the budget (as for a Redis connection).
    pub pool_wait: Duration,
    pub read_timeout: Duration,
    pub allow_origin: Option<HeaderValue>,
    /// The last `upstash-sync-token` handed out; see [`sync_token`].
    pub sync: AtomicU64,
    /// One per open SUBSCRIBE stream, --max-subscribers of them.
    pub subscribers: Arc<Semaphore>,
    pub metrics: Metrics,
}

/// A request as hyper reads it; the body is read (or drained) by the handler.
pub type Request = hyper::Request<Incoming>;
/// Every answer is small and whole when it is made, but a subscription's stream of events.
pub type Response = hyper::Response<Body>;
pub type Body = http_body_util::Either<Full<Bytes>, subscribe::Events>;

/// Headers a browser may send, for CORS preflight answers: those of @upstash/redis included.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Upstash-Encoding, Upstash-Sync-Token, \
     Upstash-Telemetry-Runtime, Upstash-Telemetry-Platform, Upstash-Telemetry-Sdk, Upstash-Telemetry-Retry";
const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, OPTIONS";

/// Answers one request; every outcome, refusals included, is a response.
pub async fn handle(app: Arc<App>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let route = route(&request);
    let mut response = serve(&app, request)
        .await
        .unwrap_or_else(ErrorAnswer::into_response);
    app.metrics.request(route, response.status(), started.elapsed());
    response.headers_mut().insert(SYNC_TOKEN, sync_token(&app));
    if let Some(origin) = &app.allow_origin {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("upstash-sync-token"),
        );
    }
    response
}

const SYNC_TOKEN: &str = "upstash-sync-token";

/// What a request is counted as in the metrics.
fn route(request: &Request) -> metrics::Route {
    match request.uri().path() {
        _ if request.method() == Method::OPTIONS => metrics::Route::Other,
        "/" | "" => metrics::Route::Command,
        "/pipeline" => metrics::Route::Pipeline,
        "/multi-exec" => metrics::Route::MultiExec,
        path if subscription(path).is_some() => metrics::Route::Subscribe,
        _ => metrics::Route::Path,
    }
}

/// Upstash's read-your-writes token, which clients send back on their next request. Every
/// command here goes to the primary of its key (no reads from replicas), so a read always sees
/// the writes answered before it and any token is honoured: it is an increasing number, so a
/// client comparing two can tell the later one.
fn sync_token(app: &App) -> HeaderValue {
    HeaderValue::from(app.sync.fetch_add(1, Ordering::Relaxed) + 1)
}

enum Endpoint<'a> {
    Command,
    Pipeline,
    MultiExec,
    Path(&'a str),
}

/// What the request line and headers allow, before the body is looked at.
struct Admitted<'a> {
    endpoint: Endpoint<'a>,
    role: Role,
    has_body: bool,
}

fn admit<'a>(app: &App, parts: &'a Parts) -> Result<Admitted<'a>, ErrorAnswer> {
    let has_body = match parts.method {
        Method::POST | Method::PUT => true,
        Method::GET | Method::HEAD => false,
        _ => {
            return Err(fail(
                StatusCode::METHOD_NOT_ALLOWED,
                "ERR method not allowed",
            ))
        }
    };
    let endpoint = match parts.uri.path() {
        "/" | "" => Endpoint::Command,
        "/pipeline" => Endpoint::Pipeline,
        "/multi-exec" => Endpoint::MultiExec,
        other => Endpoint::Path(other),
    };
    if matches!(endpoint, Endpoint::Pipeline | Endpoint::MultiExec) && !has_body {
        return Err(fail(
            StatusCode::METHOD_NOT_ALLOWED,
            "ERR send commands with POST",
        ));
    }
    let role = app
        .tokens
        .authenticate(&parts.headers, parts.uri.query())
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "Unauthorized"))?;
    Ok(Admitted {
        endpoint,
        role,
        has_body,
    })
}

async fn serve(app: &App, request: Request) -> Result<Response, ErrorAnswer> {
    let (parts, body) = request.into_parts();
    if parts.method == Method::OPTIONS && app.allow_origin.is_some() {
        return Ok(preflight());
    }
    let Admitted {
        endpoint,
        role,
        has_body,
    } = match admit(app, &parts) {
        Ok(admitted) => admitted,
        Err(failure) => {
            discard_unread(app, &parts.headers, body);
            return Err(failure);
        }
    };
    let declared = declared_length(&parts.headers);
    if has_body && declared.is_some_and(|n| n > app.max_body as u64) {
        discard_unread(app, &parts.headers, body);
        return Err(too_large(app));
    }
    // What the request may hold: its path and query, and a body up to the limit when its size
    // is not declared.
    let size = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + match (has_body, declared) {
            (false, _) => 0,
            (true, Some(n)) => n as usize,
            (true, None) => app.max_body,
        };
    let Some(_reservation) = app.budget.reserve(size, app.pool_wait).await else {
        discard_unread(app, &parts.headers, body);
        return Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR the gateway is busy: too many request bytes in flight",
        ));
    };
    let encoding = encoding(&parts.headers);
    let body = if has_body {
        read_body(app, declared, body).await?
    } else {
        Bytes::new()
    };

    let query = parts.uri.query();
    let bad_request = |e: request::BadRequest| fail(StatusCode::BAD_REQUEST, e.0);
    match endpoint {
        Endpoint::Command => {
            let command = request::parse_command(&body).map_err(bad_request)?;
            run_single(app, role, command, encoding).await
        }
        Endpoint::Path(path) if subscription(path).is_some() => {
            let (pattern, names) = subscription(path).unwrap_or_default();
            subscribe(app, names, pattern).await
        }
        Endpoint::Path(path) => {
            let command = request::path_command(path, &body, query).map_err(bad_request)?;
            run_single(app, role, command, encoding).await
        }
        Endpoint::Pipeline => {
            let commands = request::parse_commands(&body, app.max_pipeline).map_err(bad_request)?;
            check_all(&commands, role)?;
            let _slot = slot(app, commands.len()).await?;
            let results = app.backend.pipeline(&commands).await?;
            Ok(entries(results, encoding))
        }
        Endpoint::MultiExec => {
            let commands = request::parse_commands(&body, app.max_pipeline).map_err(bad_request)?;
            check_all(&commands, role)?;
            let _slot = slot(app, commands.len()).await?;
            match app.backend.transaction(&commands).await? {
                Transaction::Executed(values) => {
                    Ok(entries(values.into_iter().map(Ok).collect(), encoding))
                }
                Transaction::Discarded(error) if reply::did_not_run(&error) => {
                    Err(fail(StatusCode::SERVICE_UNAVAILABLE, error))
                }
                Transaction::Discarded(error) => Err(fail(StatusCode::BAD_REQUEST, error)),
                Transaction::Unreadable => Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "ERR the transaction ran, but its answer was lost: {}",
                        execute::UNREADABLE
                    ),
                )),
            }
        }
    }
}

async fn run_single(
    app: &App,
    role: Role,
    command: Command,
    encoding: Encoding,
) -> Result<Response, ErrorAnswer> {
    let commands = std::slice::from_ref(&command);
    check_all(commands, role)?;
    let _slot = slot(app, 1).await?;
    let value = app.backend.single(&command).await?;
    let status = match &value {
        // A replica (a demoted primary) refused a write: it did not run.
        redis::Value::ServerError(e) if reply::did_not_run(e.code()) => {
            return Err(fail(StatusCode::SERVICE_UNAVAILABLE, reply::error_text(e)));
        }
        redis::Value::ServerError(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    Ok(json_response(status, &reply::entry(value, encoding)))
}

/// A pipeline or transaction answer: 200 with one entry per command, errors included.
fn entries(results: Vec<Result<redis::Value, String>>, encoding: Encoding) -> Response {
    let entries = results
        .into_iter()
        .map(|r| reply::result_entry(r, encoding))
        .collect();
    json_response(StatusCode::OK, &Json::Array(entries))
}

/// Refuses the whole request if any command is refused, before anything runs.
fn check_all(commands: &[Command], role: Role) -> Result<(), ErrorAnswer> {
    for command in commands {
        commands::check(command, role)
            .map_err(|refused| fail(StatusCode::BAD_REQUEST, refused.0))?;
    }
    Ok(())
}

/// A request's turn at Redis ([`App::slots`]) for its `commands`.
async fn slot(app: &App, commands: usize) -> Result<SemaphorePermit<'_>, ErrorAnswer> {
    if let Ok(permit) = app.slots.try_acquire() {
        app.metrics.commands(commands);
        return Ok(permit);
    }
    let waited = tokio::time::timeout(app.pool_wait, app.slots.acquire()).await;
    app.metrics.waited(matches!(waited, Ok(Ok(_))));
    match waited {
        Ok(Ok(permit)) => {
            app.metrics.commands(commands);
            Ok(permit)
        }
        // The semaphore is never closed.
        Ok(Err(_)) | Err(_) => Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR all Redis connections are busy",
        )),
    }
}

/// `/subscribe/<channel>...` or `/psubscribe/<pattern>...`: whether it is patterns, and the
/// names (at least one).
fn subscription(path: &str) -> Option<(bool, Vec<Vec<u8>>)> {
    let mut segments = path.trim_matches('/').split('/');
    let pattern = match segments.next()? {
        s if s.eq_ignore_ascii_case("subscribe") => false,
        s if s.eq_ignore_ascii_case("psubscribe") => true,
        _ => return None,
    };
    let names: Vec<Vec<u8>> = segments
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode(s.as_bytes()).collect())
        .collect();
    (!names.is_empty()).then_some((pattern, names))
}

/// A stream of the messages on `names` (any token may subscribe: it reads).
async fn subscribe(app: &App, names: Vec<Vec<u8>>, pattern: bool) -> Result<Response, ErrorAnswer> {
    let Ok(mut permit) = app.subscribers.clone().try_acquire_owned() else {
        return Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR too many subscriptions are open (--max-subscribers)",
        ));
    };
    let clients = app.backend.subscribe_clients().await?;
    let mut last = None;
    for client in clients {
        match subscribe::open(client, names.clone(), pattern, permit).await {
            Ok(events) => {
                let mut response = Response::new(Body::Right(events));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                return Ok(response);
            }
            Err((e, p)) => {
                last = Some(e);
                permit = p;
            }
        }
    }
    Err(last.map_or_else(
        || fail(StatusCode::SERVICE_UNAVAILABLE, "ERR Redis is unavailable"),
        ErrorAnswer::from,
    ))
}

fn encoding(headers: &HeaderMap) -> Encoding {
    match headers.get("upstash-encoding") {
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"base64") => Encoding::Base64,
        _ => Encoding::Lossy,
    }
}

fn preflight() -> Response {
    let mut response = Response::new(Body::Left(Full::default()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

