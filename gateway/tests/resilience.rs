//! Behaviour under stress and failure: Redis going away and coming back, concurrent
//! transactions, slow clients, and shutdown. Each test has its own servers where it changes them.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Gateway, Redis, TOKEN};
use hyper::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn redis_down_is_503_and_the_gateway_recovers_by_itself() {
    let mut redis = Redis::start();
    let g = Gateway::start(&redis.url(), &[]);
    assert_eq!(
        g.post("/", r#"["SET","r:down:k","v"]"#).await.result(),
        json!("OK")
    );

    redis.stop();
    for (path, body) in [
        ("/", r#"["GET","r:down:k"]"#),
        ("/", r#"["GET","r:down:k"]"#),
        ("/pipeline", r#"[["GET","r:down:k"]]"#),
        ("/multi-exec", r#"[["GET","r:down:k"]]"#),
    ] {
        let start = Instant::now();
        let reply = g.post(path, body).await;
        let error = reply.error(StatusCode::SERVICE_UNAVAILABLE);
        assert!(error.contains("unavailable"), "{error}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "503 took {:?}",
            start.elapsed()
        );
    }
    // Auth still comes first, and reads need no Redis.
    let reply = g.request(Method::POST, "/", &[], br#"["PING"]"#).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    redis.restart();
    // The fresh Redis has no data; the gateway serves it without a restart.
    assert_eq!(
        g.post("/", r#"["GET","r:down:k"]"#).await.result(),
        json!(null)
    );
    assert_eq!(
        g.post(
            "/pipeline",
            r#"[["SET","r:down:k","2"],["GET","r:down:k"]]"#
        )
        .await
        .json(),
        json!([{"result": "OK"}, {"result": "2"}])
    );
    assert_eq!(
        g.post("/multi-exec", r#"[["INCR","r:down:k"]]"#)
            .await
            .json(),
        json!([{"result": 3}])
    );

    // A restart between two requests, with connections just used, costs at most one 503.
    redis.stop();
    redis.restart();
    let mut failures = 0;
    for _ in 0..5 {
        let reply = g.post("/", r#"["PING"]"#).await;
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            failures += 1;
        } else {
            assert_eq!(reply.result(), json!("PONG"));
        }
    }
    assert!(
        failures <= 1,
        "{failures} requests failed after Redis came back"
    );
}

/// Sends a signal to a process (`kill -STOP`, `kill -TERM`...).
fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test]
async fn a_redis_that_hangs_is_answered_within_the_redis_timeout() {
    let redis = Redis::start();
    let g = Gateway::start(&redis.url(), &["--redis-timeout-ms", "300"]);
    assert_eq!(
        g.post("/", r#"["SET","r:hang:k","v"]"#).await.result(),
        json!("OK")
    );

    // Stopped, Redis still accepts connections (the kernel does) but answers nothing.
    signal(redis.pid(), "STOP");
    // Sent and unanswered, a command may yet run (it does, once Redis goes on): 504, not 503.
    // That connection is then dropped, and a new one cannot be made: nothing is sent, 503.
    for (path, body, status) in [
        ("/", r#"["GET","r:hang:k"]"#, StatusCode::GATEWAY_TIMEOUT),
        (
            "/pipeline",
            r#"[["GET","r:hang:k"]]"#,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "/multi-exec",
            r#"[["GET","r:hang:k"]]"#,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "/",
            r#"["GET","r:hang:k"]"#,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        let start = Instant::now();
        let reply = g.post(path, body).await;
        let took = start.elapsed();
        signal_on_failure(&redis, || reply.error(status));
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(1),
            "{status} after {took:?}"
        );
    }
    signal(redis.pid(), "CONT");
    // Answered again without a restart: at most the first request may still fail.
    let mut failures = 0;
    for _ in 0..5 {
        let reply = g.post("/", r#"["GET","r:hang:k"]"#).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.result(), json!("v"));
        } else {
            failures += 1;
        }
    }
    assert!(failures <= 1, "{failures} failures after Redis came back");
}

/// Runs `check`, and lets a stopped Redis go on if it panics (so that the test's Redis can be
/// killed and the failure reported).
fn signal_on_failure<T>(redis: &Redis, check: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        Ok(value) => value,
        Err(panic) => {
            signal(redis.pid(), "CONT");
            std::panic::resume_unwind(panic)
        }
    }
}

/// Plain commands share one Redis connection; a reply the redis crate cannot read ends the
/// connection it came on, so the commands that can get one run on a connection of their own
/// and fail alone.
#[tokio::test]
async fn a_reply_that_ends_a_connection_fails_only_its_own_request() {
    let redis = Redis::start();
    let g = Arc::new(Gateway::start(&redis.url(), &["--pool-size", "32"]));
    assert_eq!(
        g.post("/", r#"["SET","r:share:k","v"]"#).await.result(),
        json!("OK")
    );
    let mut readers = Vec::new();
    for _ in 0..16 {
        let g = g.clone();
        readers.push(tokio::spawn(async move {
            for _ in 0..50 {
                assert_eq!(
                    g.post("/", r#"["GET","r:share:k"]"#).await.result(),
                    json!("v")
                );
            }
        }));
    }
    for _ in 0..10 {
        let nested = r#"["EVAL","local t = {} for i = 1, 200 do t = {t} end return t",0]"#;
        g.post("/", nested).await.error(StatusCode::BAD_REQUEST);
        // Redis quotes the argument, cut at 128 bytes: in the middle of a character.
        let quoted = format!(r#"["NOSUCHCOMMAND","a{}"]"#, "\u{e9}".repeat(100));
        g.post("/", &quoted).await.error(StatusCode::BAD_REQUEST);
    }
    for reader in readers {
        reader.await.expect("every GET answered");
    }
}

/// A Redis that went away while the gateway idled costs no request: the gateway saw the shared
/// connection close.
#[tokio::test]
async fn a_redis_restart_while_idle_fails_no_request() {
    let mut redis = Redis::start();
    let g = Gateway::start(&redis.url(), &[]);
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
    redis.stop();
    redis.restart();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
        assert_eq!(
            g.post("/pipeline", r#"[["PING"]]"#).await.json(),
            json!([{"result": "PONG"}])
        );
    }
}

#[tokio::test]
async fn concurrent_transactions_do_not_interfere() {
    let redis = Redis::start();
    let g = Arc::new(Gateway::start(&redis.url(), &["--pool-size", "8"]));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            let tx = g
                .post(
                    "/multi-exec",
                    r#"[["INCR","r:tx:counter"],["GET","r:tx:counter"]]"#,
                )
                .await;
            let plain = g
                .post("/", &format!(r#"["SET","r:tx:plain:{i}","{i}"]"#))
                .await;
            let incr = g.post("/", r#"["INCR","r:tx:other"]"#).await;
            let pipe = g
                .post(
                    "/pipeline",
                    &format!(r#"[["GET","r:tx:plain:{i}"],["INCR","r:tx:piped"]]"#),
                )
                .await;
            (tx, plain, incr, pipe, i)
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        let (tx, plain, incr, pipe, i) = task.await.expect("task");
        assert_eq!(tx.status, StatusCode::OK);
        let tx = tx.json();
        let n = tx[0]["result"].as_i64().expect("INCR result");
        // GET inside the same transaction sees exactly its own INCR.
        assert_eq!(tx[1]["result"], json!(n.to_string()), "{tx}");
        seen.push(n);
        assert_eq!(plain.result(), json!("OK"));
        assert!(incr.result().is_i64());
        assert_eq!(pipe.json()[0]["result"], json!(i.to_string()));
    }
    seen.sort();
    assert_eq!(seen, (1..=50).collect::<Vec<_>>());
    assert_eq!(
        g.post("/", r#"["GET","r:tx:other"]"#).await.result(),
        json!("50")
    );
    assert_eq!(
        g.post("/", r#"["GET","r:tx:piped"]"#).await.result(),
        json!("50")
    );
    // No connection was left inside a transaction: plain commands still run alone.
    assert_eq!(
        g.post("/", r#"["GET","r:tx:counter"]"#).await.result(),
        json!("50")
    );
}

#[tokio::test]
async fn slow_clients_time_out() {
    let redis = Redis::start();
    let g = Gateway::start(&redis.url(), &["--read-timeout-ms", "300"]);

    // Headers that never finish: the connection is closed.
    let mut stream = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "header timeout took {:?}",
        start.elapsed()
    );

    // A body that never finishes: 408.
    let mut stream = open_post(g.port, 100);
    stream.write_all(br#"["PI"#).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(3));

    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let redis = Redis::start();
    let mut g = Gateway::start(&redis.url(), &[]);
    let port = g.port;

    // A request whose body is still coming when SIGTERM arrives.
    let body = br#"["SET","r:term:k","done"]"#;
    let mut stream = open_post(port, body.len());
    stream.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(100));

    signal(g.pid(), "TERM");
    std::thread::sleep(Duration::from_millis(200));
    // New connections are no longer accepted...
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after SIGTERM"
    );
    // ...but the one in flight completes.
    stream.write_all(&body[5..]).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"result":"OK"}"#), "{answer}");

    let status = g.terminate();
    assert!(status.success(), "{status:?}");
    let check = Gateway::start(&redis.url(), &[]);
    assert_eq!(
        check.post("/", r#"["GET","r:term:k"]"#).await.result(),
        json!("done")
    );
}

/// A Lua script that keeps Redis busy for ARGV[1] milliseconds, then returns "slept".
const BUSY: &str = "local t = redis.call('TIME') \
    local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1]) * 1000 \
    repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop \
    return 'slept'";

/// Starts `POST /` with an EVAL of [`BUSY`] on a connection of its own; returns the stream to
/// read the answer from.
fn start_busy_request(port: u16, millis: u32) -> TcpStream {
    let body = serde_json::to_string(&json!(["EVAL", BUSY, 0, millis])).unwrap();
    let mut stream = open_post(port, body.len());
    stream.write_all(body.as_bytes()).unwrap();
    stream
}

/// A connection of its own with the head of a `POST /` sent; the caller writes the
/// `content_length` bytes of body (at once, or in parts to keep the request in flight).
fn open_post(port: u16, content_length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {content_length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

#[tokio::test]
async fn sigterm_lets_a_slow_command_finish_then_exits() {
    let redis = Redis::start();
    let mut g = Gateway::start(&redis.url(), &[]);
    let port = g.port;
    let mut stream = start_busy_request(port, 800);
    std::thread::sleep(Duration::from_millis(200));

    let signalled = Instant::now();
    signal(g.pid(), "TERM");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after SIGTERM"
    );
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let answered = signalled.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"result":"slept"}"#), "{answer}");
    // The connection was closed after the answer (read_to_string returned), and the process
    // exits right after.
    let status = g.wait_for_exit();
    let exited = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        answered >= Duration::from_millis(400),
        "answered after {answered:?}"
    );
    assert!(
        exited < answered + Duration::from_millis(500),
        "exited {:?} after the answer",
        exited - answered
    );
}

#[tokio::test]
async fn sigterm_waits_no_longer_than_the_shutdown_timeout() {
    let redis = Redis::start();
    let mut g = Gateway::start(&redis.url(), &["--shutdown-timeout-ms", "300"]);
    let mut stream = start_busy_request(g.port, 3000);
    std::thread::sleep(Duration::from_millis(200));

    let signalled = Instant::now();
    let status = g.terminate();
    let exited = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        exited >= Duration::from_millis(250) && exited < Duration::from_millis(1500),
        "exited after {exited:?}"
    );
    // The request was cut: the connection closed without an answer.
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert_eq!(answer, "");
}
