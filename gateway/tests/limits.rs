//! Bounded resources: clients that are slow or idle, the connection limit, the Redis pool, the
//! in-flight budget and the pipeline limit. Each test has its own servers with small limits,
//! and the time bounds leave room for a machine whose cores are busy.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Gateway, Redis, TOKEN};
use hyper::StatusCode;
use serde_json::json;
use tokio::io::AsyncReadExt;

/// Reads one HTTP answer (or up to the connection's end) from a blocking stream, within 5 s.
fn read_answer(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|n| n.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The request head of an authorized POST / whose body is `length` bytes.
fn post_head(length: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_trickled_body_gets_408_within_the_read_timeout() {
    let redis = Redis::start();
    let g = Gateway::start(&redis.url(), &["--read-timeout-ms", "500"]);

    // One byte every 50 ms: each read succeeds, the whole body would take 50 s.
    let mut stream = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    stream.write_all(post_head(1000).as_bytes()).unwrap();
    let start = Instant::now();
    let mut writer = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..1000 {
            if writer.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let answer = read_answer(&mut stream);
    let elapsed = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#"{"error":"#), "{answer}");
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_millis(1500),
        "408 after {elapsed:?}"
    );
}

#[tokio::test]
async fn trickled_headers_are_cut_off_within_the_read_timeout() {
    let redis = Redis::start();
    let g = Gateway::start(&redis.url(), &["--read-timeout-ms", "500"]);
    let mut stream = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let head = format!(
        "GET /get/k HTTP/1.1\r\nHost: x\r\nX-Pad: {}",
        "a".repeat(200)
    );
    let start = Instant::now();
    let mut closed_after = None;
    for byte in head.bytes() {
        if stream.write_all(&[byte]).is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        // Waits 50 ms; 0 bytes or a reset means the gateway closed the connection.
        match stream.read(&mut [0u8; 64]) {
            Ok(0) => {
                closed_after = Some(start.elapsed());
                break;
            }
            Ok(_) => panic!("an answer to headers that never ended"),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed_after = Some(start.elapsed());
                break;
            }
        }
    }
    let closed_after = closed_after.expect("the connection stayed open");
    assert!(
        closed_after >= Duration::from_millis(450) && closed_after < Duration::from_millis(1500),
        "closed after {closed_after:?}"
    );
}

#[tokio::test]
async fn request_heads_are_bounded_to_64_kib_of_buffer() {
    let redis = Redis::start();
    let g = Gateway::start(&redis.url(), &[]);
    // A head within the buffer is served; one past the bound the README gives is refused.
    let head = |pad: usize| format!("GET /get/k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nX-Pad: {}\r\nConnection: close\r\n\r\n", "a".repeat(pad));
    for (pad, status) in [(60 * 1024, "HTTP/1.1 200"), (120 * 1024, "HTTP/1.1 431")] {
        let mut stream = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
        stream.write_all(head(pad).as_bytes()).unwrap();
        let answer = read_answer(&mut stream);
        assert!(answer.starts_with(status), "{pad} bytes of header: {answer:.100}");
    }
    // Sent at once, a head far over the buffer is refused with 431.
    let mut stream = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    let head = format!(
        "GET /get/k HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    stream.write_all(head.as_bytes()).unwrap();
    let answer = read_answer(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.100}");
    // Trickled, the connection is closed once 64 KiB are buffered, long before the head ends.
    let mut stream = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    stream.write_all(b"GET /get/k HTTP/1.1\r\nX-Pad: ").unwrap();
    let mut written = 0;
    while written < 1024 * 1024 {
        if stream.write_all(&[b'a'; 4096]).is_err() {
            break;
        }
        written += 4096;
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(written < 256 * 1024, "{written} bytes of head accepted");
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
}

#[tokio::test]
async fn idle_connections_neither_block_requests_nor_stay_open() {
    let redis = Redis::start();
    // A read timeout long enough that a request served only after the idle connections were
    // closed is told apart from one slowed by a busy machine (CI runs these tests in parallel).
    let g = Gateway::start(&redis.url(), &["--read-timeout-ms", "2000"]);
    let opened = Instant::now();
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", g.port))
            .await
            .unwrap();
        // Some send nothing, some the start of a request.
        if i % 2 == 1 {
            use tokio::io::AsyncWriteExt;
            stream.write_all(b"POST / HTTP/1.1\r\n").await.unwrap();
        }
        idle.push(stream);
    }

    let start = Instant::now();
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
    let served = start.elapsed();
    assert!(
        served < Duration::from_millis(1500),
        "served after {served:?}: behind the idle connections?"
    );

    // Each idle connection is closed by the gateway once the read timeout has passed.
    let closes = idle.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buf)).await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => Some(opened.elapsed()),
                _ => None,
            }
        })
    });
    let mut latest = Duration::ZERO;
    for close in closes.collect::<Vec<_>>() {
        let at = close
            .await
            .unwrap()
            .expect("an idle connection stayed open");
        assert!(at >= Duration::from_millis(1900), "closed early, at {at:?}");
        latest = latest.max(at);
    }
    assert!(
        latest < Duration::from_millis(4500),
        "last closed at {latest:?}"
    );
}

#[tokio::test]
async fn past_the_connection_limit_new_clients_wait_for_a_free_slot() {
    let redis = Redis::start();
    let g = Gateway::start(
        &redis.url(),
        &["--max-connections", "20", "--read-timeout-ms", "700"],
    );
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(("127.0.0.1", g.port)).unwrap());
    }
    std::thread::sleep(Duration::from_millis(100));
    // The 21st waits in the listen backlog until the idle ones time out, then is served.
    let start = Instant::now();
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "served after {waited:?}"
    );
    // With slots free again, requests are served at once.
    let start = Instant::now();
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
    assert!(start.elapsed() < Duration::from_millis(500));
    drop(idle);
}

#[tokio::test]
async fn a_full_pool_makes_requests_wait_then_503() {
    let redis = Redis::start();
    // Pool of 2: one gateway gives up after 200 ms, the other waits up to 5 s.
    let quick = Arc::new(Gateway::start(
        &redis.url(),
        &["--pool-size", "2", "--pool-wait-ms", "200"],
    ));
    let patient = Arc::new(Gateway::start(
        &redis.url(),
        &["--pool-size", "2", "--pool-wait-ms", "5000"],
    ));
    // Redis holds write commands for 1 s (reads go on): two SETs each hold a pooled
    // connection for that long, and a GET can only be slow for want of a connection.
    let paused = Instant::now();
    assert_eq!(
        redis.command(&["CLIENT", "PAUSE", "1000", "WRITE"]),
        "+OK\r\n"
    );
    let mut sets = Vec::new();
    for g in [&quick, &patient] {
        for i in 0..2 {
            let g = g.clone();
            sets.push(tokio::spawn(async move {
                g.post("/", &format!(r#"["SET","l:pool:{i}","v"]"#)).await
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(150)).await;

    let (quick_get, patient_get) = tokio::join!(
        async {
            let start = Instant::now();
            (
                quick.post("/", r#"["GET","l:pool:0"]"#).await,
                start.elapsed(),
            )
        },
        async {
            let reply = patient.post("/", r#"["GET","l:pool:0"]"#).await;
            (reply, paused.elapsed())
        },
    );
    let (reply, took) = quick_get;
    let error = reply.error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(error.contains("busy"), "{error}");
    assert!(
        took >= Duration::from_millis(180) && took < Duration::from_millis(800),
        "503 after {took:?}"
    );
    let (reply, answered) = patient_get;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        answered >= Duration::from_millis(950) && answered < Duration::from_secs(3),
        "the GET was answered {answered:?} after the pause began, which lasts 1 s"
    );
    for set in sets {
        assert_eq!(set.await.unwrap().result(), json!("OK"));
    }
    // The quick gateway is fine once connections are free.
    assert_eq!(
        quick.post("/", r#"["GET","l:pool:0"]"#).await.result(),
        json!("v")
    );
}

#[tokio::test]
async fn the_in_flight_budget_makes_requests_wait_then_503() {
    let redis = Redis::start();
    let g = Gateway::start(
        &redis.url(),
        &[
            "--max-body",
            "65536",
            "--max-in-flight",
            "65536",
            "--pool-wait-ms",
            "300",
        ],
    );
    // A request that declares a 64 KiB body takes the whole budget while its body comes.
    let value = "x".repeat(65536 - r#"["ECHO",""]"#.len());
    let body = format!(r#"["ECHO","{value}"]"#);
    let mut big = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    big.write_all(post_head(body.len()).as_bytes()).unwrap();
    big.write_all(&body.as_bytes()[..100]).unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let start = Instant::now();
    let error = g
        .post("/", r#"["PING"]"#)
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(error.contains("busy"), "{error}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(1000),
        "503 after {took:?}"
    );
    g.get("/ping").await.error(StatusCode::SERVICE_UNAVAILABLE);

    // Once the big request is done, the budget is free again.
    big.write_all(&body.as_bytes()[100..]).unwrap();
    let answer = read_answer(&mut big);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&format!(r#"{{"result":"{value}"}}"#)));
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
}

#[tokio::test]
async fn the_default_pipeline_limit_is_1000_commands() {
    let redis = Redis::start();
    let g = Gateway::start(&redis.url(), &[]);
    let commands = |n: usize| format!("[{}]", vec![r#"["PING"]"#; n].join(","));
    let reply = g.post("/pipeline", &commands(1000)).await;
    assert_eq!(reply.json().as_array().map(Vec::len), Some(1000));
    for path in ["/pipeline", "/multi-exec"] {
        let error = g
            .post(path, &commands(1001))
            .await
            .error(StatusCode::BAD_REQUEST);
        assert!(error.contains("limit is 1000"), "{error}");
    }
}
