//! Generated malformed requests over HTTP: bad JSON, the wrong nesting, arguments that are
//! not strings, numbers or booleans, too many commands, bodies over the limit, invalid UTF-8, random
//! bytes, odd paths, raw bytes that are hardly HTTP. Every answer must be a whole HTTP answer
//! with a JSON error body and the status the protocol says, and nothing of a malformed request
//! may reach Redis: a recording proxy between the gateway and Redis sees every byte the gateway
//! sends (see common/proxy.rs).
//!
//! Each test runs a fixed number of cases (under a second each); a failure prints the smallest
//! input proptest found.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::damaged::damaged;
use common::{bearer, Gateway, Proxy, Redis, TOKEN};
use hyper::{Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value as Json;

const MAX_BODY: usize = 4096;
const MAX_PIPELINE: usize = 8;

/// Command names that are harmless whatever their arguments, since well-formed generated
/// requests do reach Redis. (A damaged name can still turn into another command, GET into SET:
/// the Redis is the test's own.)
const NAMES: [&str; 5] = ["ECHO", "EXISTS", "strlen", "GET", "PING"];

struct Setup {
    gateway: Gateway,
    proxy: Proxy,
    _redis: Redis,
    runtime: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let redis = Redis::start();
    let proxy = Proxy::start(redis.port);
    let gateway = Gateway::start(
        &proxy.url(),
        &[
            "--max-body",
            &MAX_BODY.to_string(),
            "--max-pipeline",
            &MAX_PIPELINE.to_string(),
            "--read-timeout-ms",
            "2000",
        ],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Setup {
        gateway,
        proxy,
        _redis: redis,
        runtime,
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// What the gateway must do with a request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Refuse it with this status, sending nothing to Redis.
    Refused(StatusCode),
    /// Send it to Redis; the answer is 200, or 400 with Redis's error.
    Sent,
}

/// The protocol's rule for one command (README, "Protocol"): a non-empty JSON array of
/// strings and numbers whose first element, as text, is printable ASCII.
fn is_command(json: &Json) -> bool {
    let Json::Array(items) = json else {
        return false;
    };
    let name = match items.first() {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => return false,
    };
    // Booleans are arguments as Upstash takes them (their JSON text), never a name.
    items
        .iter()
        .all(|i| i.is_string() || i.is_number() || i.is_boolean())
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_graphic())
}

fn expect_body(path: &str, body: &[u8]) -> Expect {
    if body.len() > MAX_BODY {
        return Expect::Refused(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let well_formed = match serde_json::from_slice::<Json>(body) {
        Err(_) => false,
        Ok(json) if path == "/" => is_command(&json),
        Ok(Json::Array(commands)) => {
            (1..=MAX_PIPELINE).contains(&commands.len()) && commands.iter().all(is_command)
        }
        Ok(_) => false,
    };
    if well_formed {
        Expect::Sent
    } else {
        Expect::Refused(StatusCode::BAD_REQUEST)
    }
}

/// Checks an answer against `expect`, and that Redis saw nothing when it must not have.
fn check(
    proxy: &Proxy,
    sent_before: u64,
    expect: Expect,
    status: StatusCode,
    body: &[u8],
) -> Result<(), TestCaseError> {
    let json: Json = serde_json::from_slice(body).map_err(|e| {
        TestCaseError::fail(format!(
            "{status}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        ))
    })?;
    let sent = proxy.bytes_sent() - sent_before;
    match expect {
        Expect::Refused(expected) => {
            prop_assert_eq!(status, expected, "{}", json);
            prop_assert!(json["error"].is_string(), "{}", json);
            prop_assert_eq!(sent, 0, "a refused request sent {} bytes to Redis", sent);
        }
        Expect::Sent => {
            // Redis's answer: a result (an array of them for a pipeline), or Redis's error.
            let answered = match status {
                StatusCode::OK => json.is_array() || json.get("result").is_some(),
                StatusCode::BAD_REQUEST => json["error"].is_string(),
                _ => false,
            };
            prop_assert!(answered, "{} {}", status, json);
        }
    }
    Ok(())
}

/// JSON values of every kind, nested a little: mostly not commands.
fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Json::Number)),
        any::<String>().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map("[a-z]{0,3}", inner, 0..3)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// A command name: a harmless real one, or one that is no command at all (empty, with a
/// space or a byte that is not printable ASCII, or not a string).
fn name() -> impl Strategy<Value = Json> {
    prop_oneof![
        4 => prop::sample::select(NAMES.to_vec()).prop_map(Json::from),
        1 => Just(Json::from("")),
        1 => (any::<String>(), prop::sample::select(vec![" ", "\u{0}", "\u{7f}", "é", "\n"]))
            .prop_map(|(s, bad)| Json::from(format!("{s}{bad}"))),
        1 => json().prop_filter("not a string or number", |j| !j.is_string() && !j.is_number()),
    ]
}

/// Command-shaped arrays, now and then with an argument of another kind.
fn command() -> impl Strategy<Value = Json> {
    let arg = prop_oneof![
        8 => any::<String>().prop_map(Json::String),
        4 => any::<i64>().prop_map(Json::from),
        1 => json(),
    ];
    (name(), prop::collection::vec(arg, 0..5)).prop_map(|(name, mut args)| {
        args.insert(0, name);
        Json::Array(args)
    })
}


fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // One command, or a pipeline of them (up to past the limit).
        4 => damaged(command(), 5),
        4 => damaged(prop::collection::vec(command(), 0..12).prop_map(Json::Array), 5),
        2 => damaged(json(), 5),
        // Random bytes, and invalid UTF-8 inside a string.
        2 => any::<Vec<u8>>(),
        1 => prop::collection::vec(0x80..=0xffu8, 1..8).prop_map(|bad| {
            let mut body = br#"["ECHO",""#.to_vec();
            body.extend(bad);
            body.extend(br#""]"#);
            body
        }),
        // Huge arrays: thousands of commands or of arguments, near and over the body limit.
        1 => (1usize..2000, prop::sample::select(vec![r#"["PING"]"#, "null", "1", r#""a""#, "[]"]))
            .prop_map(|(n, item)| format!("[{}]", vec![item; n].join(",")).into_bytes()),
        1 => (1usize..2000).prop_map(|n| format!(r#"["ECHO"{}]"#, ",1".repeat(n)).into_bytes()),
        // Deep nesting.
        1 => (1usize..3000).prop_map(|n| "[".repeat(n).into_bytes()),
        // Over the limit, whatever is inside.
        1 => (MAX_BODY + 1..3 * MAX_BODY, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

#[test]
fn malformed_bodies_are_refused_before_redis() {
    let s = setup();
    let auth = bearer(TOKEN);
    let strategy = (
        prop::sample::select(vec!["/", "/pipeline", "/multi-exec"]),
        prop::sample::select(vec![Method::POST, Method::PUT]),
        bodies(),
    );
    // A well-formed request does reach Redis: the proxy sees it.
    let before = s.proxy.bytes_sent();
    let reply = s.runtime.block_on(s.gateway.post("/", r#"["ECHO","x"]"#));
    assert_eq!(reply.status, StatusCode::OK);
    assert!(s.proxy.bytes_sent() > before);

    let sent = Cell::new(0);
    runner(400)
        .run(&strategy, |(path, method, body)| {
            let before = s.proxy.bytes_sent();
            let reply = s.runtime.block_on(s.gateway.request(
                method,
                path,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                &body,
            ));
            let expect = expect_body(path, &body);
            sent.set(sent.get() + u32::from(expect == Expect::Sent));
            check(&s.proxy, before, expect, reply.status, &reply.body)
        })
        .unwrap();
    // The generator also makes well-formed requests (checked as such), not only malformed ones.
    assert!(sent.get() >= 3, "only {} well-formed requests", sent.get());
}

/// One path segment: percent-encoded bytes, or escapes that are broken.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<Vec<u8>>().prop_map(|bytes| {
            bytes.iter().map(|b| format!("%{b:02X}")).collect::<String>()
        }),
        2 => "[a-zA-Z0-9._~-]{0,6}",
        1 => prop::sample::select(vec!["%", "%z", "%zz", "%%", "%0", "%G0", "%c3%28"])
            .prop_map(String::from),
    ]
}

/// `segment` percent-decoded, as the gateway decodes it (broken escapes stay as they are).
fn decode(segment: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(segment).collect()
}

#[test]
fn odd_paths_are_answered_in_json_and_never_forward_the_token() {
    let s = setup();
    let auth = bearer(TOKEN);
    let first = prop_oneof![
        4 => prop::sample::select(NAMES.to_vec()).prop_map(|n| n.to_ascii_lowercase()),
        2 => segment(),
    ];
    let strategy = (
        prop::sample::select(vec![Method::GET, Method::POST]),
        first,
        prop::collection::vec(segment(), 0..4),
        prop::bool::ANY,
        prop::collection::vec(("[a-z_%+]{0,4}", "[a-zA-Z0-9%+=]{0,4}"), 0..3),
        prop::bool::ANY,
        prop::collection::vec(any::<u8>(), 0..8),
    );
    runner(300)
        .run(
            &strategy,
            |(method, first, rest, trailing_slash, params, token_in_query, body)| {
                let mut path = format!("/{first}");
                for segment in &rest {
                    path.push('/');
                    path.push_str(segment);
                }
                if trailing_slash {
                    path.push('/');
                }
                let mut query: Vec<String> =
                    params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if token_in_query {
                    query.push(format!("_token={TOKEN}"));
                }
                let uri = if query.is_empty() {
                    path.clone()
                } else {
                    format!("{path}?{}", query.join("&"))
                };
                // The endpoints that are not path style are not what this test is about.
                prop_assume!(!["/", "/pipeline", "/multi-exec"].contains(&path.as_str()));
                let name = decode(&first);
                let expect = if !name.is_empty() && name.iter().all(u8::is_ascii_graphic) {
                    Expect::Sent
                } else {
                    Expect::Refused(StatusCode::BAD_REQUEST)
                };
                let body = if method == Method::POST {
                    body
                } else {
                    Vec::new()
                };
                let before = s.proxy.bytes_sent();
                let reply = s.runtime.block_on(s.gateway.request(
                    method,
                    &uri,
                    &[("authorization", &auth)],
                    &body,
                ));
                check(&s.proxy, before, expect, reply.status, &reply.body)
            },
        )
        .unwrap();
    let sent = s.proxy.sent();
    assert!(!sent.is_empty());
    assert!(
        !sent.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token reached Redis"
    );
}

/// An HTTP answer read off a raw connection: status and body, or `None` for no answer at all
/// (the connection was closed). Fails on anything that is not one whole HTTP/1.x answer. The
/// answer to HEAD has a Content-Length and no body.
fn parse_answer(raw: &[u8], head_request: bool) -> Result<Option<(u16, Vec<u8>)>, TestCaseError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(TestCaseError::fail(format!(
            "no end of head: {:?}",
            String::from_utf8_lossy(raw)
        )));
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let body = &raw[head_end + 4..];
    let status: u16 = head
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| head.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| TestCaseError::fail(format!("no status line: {head:?}")))?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| TestCaseError::fail(format!("no content-length: {head:?}")))?;
    let expected = if head_request { 0 } else { length };
    prop_assert_eq!(body.len(), expected, "{:?}", head);
    Ok(Some((status, body.to_vec())))
}

#[test]
fn raw_garbage_without_a_token_gets_a_whole_answer_and_never_reaches_redis() {
    let s = setup();
    let methods = prop::sample::select(vec![
        "GET", "POST", "PUT", "HEAD", "DELETE", "BREW", "", "G\u{0}T",
    ]);
    let junk = prop::collection::vec(any::<u8>(), 0..64);
    let strategy = (
        methods,
        junk.clone(),
        prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "", "http/1.1"]),
        junk.clone(),
        prop::bool::ANY,
        junk,
    );
    runner(150)
        .run(
            &strategy,
            |(method, target, version, header, end_head, body)| {
                let mut request = Vec::new();
                request.extend(method.as_bytes());
                request.extend(b" /");
                request.extend(&target);
                request.push(b' ');
                request.extend(version.as_bytes());
                request.extend(b"\r\nHost: x\r\nX-Junk: ");
                request.extend(&header);
                if end_head {
                    request.extend(b"\r\n\r\n");
                }
                request.extend(&body);
                let before = s.proxy.bytes_sent();
                let mut stream = TcpStream::connect(("127.0.0.1", s.gateway.port)).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                stream.write_all(&request).unwrap();
                // No more is coming: the gateway answers what it has, or closes.
                let _ = stream.shutdown(Shutdown::Write);
                let mut raw = Vec::new();
                let _ = stream.read_to_end(&mut raw);
                // Several answers can come back when the junk holds several requests: the
                // first is checked.
                let head_request = method == "HEAD";
                if let Some((status, body)) =
                    parse_answer(first_answer(&raw, head_request), head_request)?
                {
                    prop_assert!(
                        matches!(status, 400 | 401 | 405 | 408 | 413 | 414 | 431 | 505),
                        "status {}",
                        status
                    );
                    // hyper answers requests it cannot parse with an empty 400 itself; the
                    // gateway's own answers are JSON errors.
                    if !body.is_empty() {
                        let json: Json = serde_json::from_slice(&body)
                            .map_err(|e| TestCaseError::fail(format!("{status}: not JSON: {e}")))?;
                        prop_assert!(json["error"].is_string());
                    }
                }
                prop_assert_eq!(
                    s.proxy.bytes_sent(),
                    before,
                    "an unauthenticated request reached Redis"
                );
                Ok(())
            },
        )
        .unwrap();
    // And the gateway still serves.
    let reply = s.runtime.block_on(s.gateway.post("/", r#"["PING"]"#));
    assert_eq!(reply.status, StatusCode::OK);
}

/// The first HTTP answer in `raw`: up to the end of its body, by its Content-Length.
fn first_answer(raw: &[u8], head_request: bool) -> &[u8] {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return raw;
    };
    let length = String::from_utf8_lossy(&raw[..head_end])
        .lines()
        .find_map(|l| l.strip_prefix("content-length: ").map(str::to_string))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let length = if head_request { 0 } else { length };
    &raw[..(head_end + 4 + length).min(raw.len())]
}
