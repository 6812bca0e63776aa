//! The HTTP side of the protocol: endpoints, status codes, CORS. One handler serves every path,
//! because Upstash's path style makes the path itself the command (`/set/foo/bar`), and the
//! order of checks is part of the contract: method, then token (before the body is read), then
//! body size, then room in the in-flight budget, then parsing and the command lists, and only
//! then a Redis connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::http::request::Parts;
use hyper::http::HeaderValue;
use hyper::{header, HeaderMap, Method, StatusCode};
use serde_json::{json, Value as Json};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::auth::{Role, Tokens};
use crate::budget::Budget;
use crate::cluster::Cluster;
use crate::commands;
use crate::execute::{self, Connection, Transaction};
use crate::pool::{self, Conn, Pool};
use crate::reply::{self, Encoding};
use crate::request::{self, Command};
use crate::shared::{self, Shared};
use crate::subscribe;

/// Where commands go.
pub enum Backend {
    /// One Redis (fixed, or the primary Sentinel names): a shared connection and a pool.
    Single {
        pool: Pool,
        shared: Shared,
        target: Arc<crate::target::Target>,
    },
    Cluster(Cluster),
}

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

/// A body the gateway refuses is still read (and dropped) up to this many times --max-body, or
/// [`DRAIN_AT_LEAST`] bytes, see [`discard`].
const DRAIN_FACTOR: usize = 4;
const DRAIN_AT_LEAST: usize = 8 * 1024 * 1024;

/// An answer with `{"error": "..."}`.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    message: String,
}

fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

impl Failure {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &json!({ "error": self.message }));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT"),
            );
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    let bytes =
        serde_json::to_vec(body).unwrap_or_else(|_| b"{\"error\":\"ERR internal\"}".to_vec());
    let mut response = Response::new(Body::Left(Full::new(Bytes::from(bytes))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers one request; every outcome, refusals included, is a response.
pub async fn handle(app: Arc<App>, request: Request) -> Response {
    let mut response = serve(&app, request)
        .await
        .unwrap_or_else(Failure::into_response);
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

fn admit<'a>(app: &App, parts: &'a Parts) -> Result<Admitted<'a>, Failure> {
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

async fn serve(app: &App, request: Request) -> Result<Response, Failure> {
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
            let _slot = slot(app).await?;
            let results = match &app.backend {
                Backend::Single { .. } => {
                    execute::pipeline(connection(app, &commands).await?, &commands)
                        .await
                        .map_err(redis_failure)?
                }
                Backend::Cluster(cluster) => {
                    let results = cluster.pipeline(&commands).await;
                    // A command whose node failed is not an entry a client could take for
                    // Redis's error: the request fails, 503 only if none of it was sent.
                    if let Some(Err(e)) = results.iter().find(|r| crate::cluster::node_failed(r)) {
                        if !results.iter().all(unsent) {
                            return Err(fail(
                                StatusCode::BAD_GATEWAY,
                                "ERR a Redis node failed before answering some commands of this \
                                 request: they may have run",
                            ));
                        }
                        return Err(redis_failure(e.clone()));
                    }
                    results
                        .into_iter()
                        .map(|r| r.map_err(|e| reply::failure_text(&e)))
                        .collect()
                }
            };
            Ok(entries(results, encoding))
        }
        Endpoint::MultiExec => {
            let commands = request::parse_commands(&body, app.max_pipeline).map_err(bad_request)?;
            check_all(&commands, role)?;
            let _slot = slot(app).await?;
            let outcome = match &app.backend {
                Backend::Single { .. } => {
                    execute::transaction(own_connection(app).await?, &commands).await
                }
                Backend::Cluster(cluster) => cluster.transaction(&commands).await,
            };
            match outcome.map_err(redis_failure)? {
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
) -> Result<Response, Failure> {
    let commands = std::slice::from_ref(&command);
    check_all(commands, role)?;
    let _slot = slot(app).await?;
    let value = match &app.backend {
        Backend::Single { .. } => execute::single(connection(app, commands).await?, &command)
            .await
            .map_err(redis_failure)?,
        Backend::Cluster(cluster) => cluster.single(&command).await.map_err(redis_failure)?,
    };
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

/// A failure that happened before the command was sent.
fn unsent(result: &Result<redis::Value, redis::RedisError>) -> bool {
    result.as_ref().is_err_and(|e| {
        e.is_connection_refusal() || e.kind() == redis::ErrorKind::ClusterConnectionNotFound
    })
}

/// Refuses the whole request if any command is refused, before anything runs.
fn check_all(commands: &[Command], role: Role) -> Result<(), Failure> {
    for command in commands {
        commands::check(command, role)
            .map_err(|refused| fail(StatusCode::BAD_REQUEST, refused.0))?;
    }
    Ok(())
}

/// A request's turn at Redis; [`App::slots`].
async fn slot(app: &App) -> Result<SemaphorePermit<'_>, Failure> {
    if let Ok(permit) = app.slots.try_acquire() {
        return Ok(permit);
    }
    match tokio::time::timeout(app.pool_wait, app.slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        // The semaphore is never closed.
        Ok(Err(_)) | Err(_) => Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR all Redis connections are busy",
        )),
    }
}

/// The shared connection when every command may go there ([`shared::may_share`]), else a
/// pooled one.
async fn connection<'a>(app: &'a App, commands: &[Command]) -> Result<Connection<'a>, Failure> {
    let Backend::Single { shared, .. } = &app.backend else {
        return Err(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR no single Redis",
        ));
    };
    if !commands.iter().all(shared::may_share) {
        return Ok(Connection::Own(own_connection(app).await?));
    }
    match shared.get().await {
        Ok(link) => Ok(Connection::Shared(shared, link)),
        Err(_) => Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR Redis is unavailable",
        )),
    }
}

async fn own_connection(app: &App) -> Result<Conn, Failure> {
    let Backend::Single { pool, .. } = &app.backend else {
        return Err(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERR no single Redis",
        ));
    };
    pool.get().await.map_err(|e| {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("ERR {}", pool::unavailable_reason(&e)),
        )
    })
}

/// A Redis error reply is the caller's (400), or says the command did not run (503); a command
/// that never reached Redis is a 503 (retrying is safe); one that was sent and then got no
/// answer may have run: 504 when Redis was too slow, 502 when the connection was lost. Clients
/// read 502 and 504 as "may have run" (edge-caches does), not as "retry at will".
fn redis_failure(err: redis::RedisError) -> Failure {
    if err.kind() == redis::ErrorKind::Parse {
        // The redis crate reads error and status lines as UTF-8 only, and Redis quotes arguments
        // in some errors ("unknown command 'x', with args beginning with: ..."): a caller's bytes.
        // It also refuses replies nested more than 100 deep, which a Lua script can return.
        return fail(StatusCode::BAD_REQUEST, execute::UNREADABLE);
    }
    match err.code() {
        Some(code) if reply::did_not_run(code) => {
            fail(StatusCode::SERVICE_UNAVAILABLE, reply::failure_text(&err))
        }
        Some(_) => fail(StatusCode::BAD_REQUEST, reply::failure_text(&err)),
        None if err.is_connection_refusal()
            || err.kind() == redis::ErrorKind::ClusterConnectionNotFound =>
        {
            fail(StatusCode::SERVICE_UNAVAILABLE, "ERR Redis is unavailable")
        }
        None if err.is_timeout() => fail(
            StatusCode::GATEWAY_TIMEOUT,
            "ERR Redis did not answer in time: the command may have run",
        ),
        None => fail(
            StatusCode::BAD_GATEWAY,
            "ERR the connection to Redis ended before it answered: the command may have run",
        ),
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
async fn subscribe(app: &App, names: Vec<Vec<u8>>, pattern: bool) -> Result<Response, Failure> {
    let Ok(mut permit) = app.subscribers.clone().try_acquire_owned() else {
        return Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERR too many subscriptions are open (--max-subscribers)",
        ));
    };
    let clients = match &app.backend {
        Backend::Single { target, .. } => {
            vec![target.client().await.map_err(redis_failure)?]
        }
        Backend::Cluster(cluster) => cluster.seed_clients(),
    };
    // On a cluster a message published on any node reaches every node: any live seed will do.
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
        redis_failure,
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

fn too_large(app: &App) -> Failure {
    fail(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "ERR the request body is larger than this gateway's limit of {} bytes (--max-body)",
            app.max_body
        ),
    )
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads the body within the read timeout and the size limit (`declared`, the Content-Length,
/// is within it). Whatever the content type says: clients send `application/json`, with or
/// without a charset, or nothing.
async fn read_body(app: &App, declared: Option<u64>, mut body: Incoming) -> Result<Bytes, Failure> {
    let read = async {
        let capacity = declared.map_or(0, |n| n as usize).min(app.max_body);
        let mut buffer = Vec::with_capacity(capacity);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| {
                Some(fail(
                    StatusCode::BAD_REQUEST,
                    "ERR could not read the request body",
                ))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if buffer.len() + data.len() > app.max_body {
                return Err(None);
            }
            buffer.extend_from_slice(&data);
        }
        Ok(Bytes::from(buffer))
    };
    match tokio::time::timeout(app.read_timeout, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(Some(failure))) => Err(failure),
        Ok(Err(None)) => {
            discard(app, body);
            Err(too_large(app))
        }
        Err(_) => Err(fail(
            StatusCode::REQUEST_TIMEOUT,
            "ERR the request body was not received in time",
        )),
    }
}

/// [`discard`] for a body not read at all yet: a client waiting for `100 Continue` has sent
/// nothing, so dropping the body answers it without asking for the upload.
fn discard_unread(app: &App, headers: &HeaderMap, body: Incoming) {
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if !expects_continue {
        discard(app, body);
    }
}

/// Reads and drops the rest of a body the gateway answers without using (401, 405, 413), in the
/// background and within limits, so the client can read the answer: closing a connection with
/// unread data resets it, and the client may lose the answer with it. Past the limits the
/// connection is simply closed.
fn discard(app: &App, mut body: Incoming) {
    if body.is_end_stream() {
        return;
    }
    let limit = app
        .max_body
        .saturating_mul(DRAIN_FACTOR)
        .max(DRAIN_AT_LEAST);
    let timeout = app.read_timeout;
    tokio::spawn(async move {
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
                if seen > limit {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, drain).await;
    });
}
