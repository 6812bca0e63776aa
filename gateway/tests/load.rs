//! Many clients at once, on loopback: every request is answered as it should be, and the
//! gateway's memory stays bounded. Memory is the process's peak resident size (VmHWM in
//! /proc/PID/status), printed before and after (`cargo test -- --nocapture` shows it).
//!
//! The tests here run one after the other (they measure one process each, and would otherwise
//! share the two cores), each on a runtime of its own.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{bearer, Gateway, Redis, READONLY_TOKEN, TOKEN};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

static SERIAL: Mutex<()> = Mutex::new(());

/// The bound on the gateway's peak resident memory under these loads: 100 MiB, in KiB.
const PEAK_LIMIT_KIB: u64 = 100 * 1024;

fn run<F: std::future::Future>(test: F) -> F::Output {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(test)
}

/// One keep-alive connection of its own.
async fn connect(port: u16) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// Sends one request and returns its status, or `None` when the connection failed.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: Method,
    path: &str,
    token: &str,
    body: Vec<u8>,
) -> Option<StatusCode> {
    sender.ready().await.ok()?;
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("authorization", bearer(token))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.ok()?;
    let status = response.status();
    response.into_body().collect().await.ok()?;
    Some(status)
}

#[test]
fn many_clients_are_all_answered_and_memory_stays_bounded() {
    run(async {
        let redis = Redis::start();
        let g = Gateway::start(&redis.url(), &[]);
        let port = g.port;
        for _ in 0..10 {
            g.post("/", r#"["PING"]"#).await.result();
        }
        let before = g.peak_memory_kib();

        let answered = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut clients = Vec::new();
        for client in 0..256 {
            let answered = answered.clone();
            clients.push(tokio::spawn(async move {
                let mut sender = connect(port).await;
                let mut unexpected = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let key = format!("load:{client}");
                    // Every kind of request, and the refusals, in turn.
                    let (method, path, token, body, expected) = match n % 8 {
                        0 => (
                            Method::POST,
                            "/".to_string(),
                            TOKEN,
                            format!(r#"["SET","{key}","{n}"]"#),
                            StatusCode::OK,
                        ),
                        1 => (
                            Method::POST,
                            "/".to_string(),
                            TOKEN,
                            format!(r#"["GET","{key}"]"#),
                            StatusCode::OK,
                        ),
                        2 => (
                            Method::POST,
                            "/pipeline".to_string(),
                            TOKEN,
                            format!(r#"[["INCR","{key}:n"],["GET","{key}"],["PING"]]"#),
                            StatusCode::OK,
                        ),
                        3 => (
                            Method::GET,
                            format!("/get/{key}"),
                            TOKEN,
                            String::new(),
                            StatusCode::OK,
                        ),
                        4 => (
                            Method::POST,
                            "/multi-exec".to_string(),
                            TOKEN,
                            format!(r#"[["INCR","{key}:t"],["GET","{key}:t"]]"#),
                            StatusCode::OK,
                        ),
                        5 => (
                            Method::POST,
                            "/".to_string(),
                            READONLY_TOKEN,
                            format!(r#"["GET","{key}"]"#),
                            StatusCode::OK,
                        ),
                        6 => (
                            Method::POST,
                            "/".to_string(),
                            "wrong-token",
                            format!(r#"["GET","{key}"]"#),
                            StatusCode::UNAUTHORIZED,
                        ),
                        _ => (
                            Method::POST,
                            "/".to_string(),
                            TOKEN,
                            r#"["SET","k",{"a":1}]"#.to_string(),
                            StatusCode::BAD_REQUEST,
                        ),
                    };
                    let status = send(&mut sender, method, &path, token, body.into_bytes()).await;
                    if status != Some(expected) {
                        unexpected.push(format!("{path} -> {status:?}, expected {expected}"));
                        // A failed connection is replaced, so one failure is counted once.
                        sender = connect(port).await;
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                unexpected
            }));
        }
        let mut unexpected = Vec::new();
        for client in clients {
            unexpected.extend(client.await.unwrap());
        }
        let after = g.peak_memory_kib();
        let answered = answered.load(Ordering::Relaxed);
        println!(
            "256 clients, 3 s: {answered} requests; gateway peak RSS {} KiB before, {} KiB after",
            before, after
        );
        assert!(
            unexpected.is_empty(),
            "{} unexpected: {:?}",
            unexpected.len(),
            &unexpected[..unexpected.len().min(10)]
        );
        assert!(answered > 1000, "only {answered} requests in 3 s");
        assert!(after < PEAK_LIMIT_KIB, "peak RSS {after} KiB");
        // Still serving.
        assert_eq!(g.post("/", r#"["PING"]"#).await.status, StatusCode::OK);
    });
}

#[test]
fn the_in_flight_budget_bounds_memory_for_the_costliest_bodies() {
    run(async {
        let redis = Redis::start();
        // Bodies of one-digit arguments cost about 22 bytes of memory per body byte while
        // they are parsed and sent: 512 KiB takes some 11 MiB. With room for two at a time,
        // eight such requests sent together peak near 8 + 2 x 11 MiB (measured: 32); without
        // the budget, at 60 MiB or more.
        let g = Gateway::start(
            &redis.url(),
            &[
                "--max-body",
                "524288",
                "--max-in-flight",
                "1048576",
                "--pool-wait-ms",
                "20000",
            ],
        );
        let port = g.port;
        g.post("/", r#"["PING"]"#).await.result();
        let before = g.peak_memory_kib();

        let ones = (512 * 1024 - 20) / 2;
        let body = Arc::new(format!(r#"["EXISTS"{}]"#, ",1".repeat(ones)));
        assert!(body.len() <= 512 * 1024);
        let mut clients = Vec::new();
        for _ in 0..8 {
            let body = body.clone();
            clients.push(tokio::spawn(async move {
                let mut sender = connect(port).await;
                send(
                    &mut sender,
                    Method::POST,
                    "/",
                    TOKEN,
                    body.as_bytes().to_vec(),
                )
                .await
            }));
        }
        for client in clients {
            assert_eq!(client.await.unwrap(), Some(StatusCode::OK));
        }
        let after = g.peak_memory_kib();
        println!(
            "8 bodies of {ones} arguments at once: gateway peak RSS {before} KiB before, {after} KiB after"
        );
        assert!(after < 48 * 1024, "peak RSS {after} KiB");
    });
}
