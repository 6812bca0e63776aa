//! `--metrics-listen`: the Prometheus text at GET /metrics counts what the gateway answered.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{bearer, free_port, Gateway, Redis, TOKEN};
use hyper::{Method, StatusCode};

/// A plain HTTP/1.0 GET of `path` on `port`: (status line, body).
fn scrape(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the metrics listener");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_commands_and_latency() {
    let redis = Redis::start();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let gateway = Gateway::start(&redis.url(), &["--metrics-listen", &listen]);
    assert_eq!(gateway.post("/", r#"["SET","k","v"]"#).await.status, StatusCode::OK);
    assert_eq!(gateway.get("/get/k").await.status, StatusCode::OK);
    assert_eq!(gateway.post("/pipeline", r#"[["GET","k"],["GET","k"]]"#).await.status, StatusCode::OK);
    let refused = gateway.request(Method::POST, "/", &[("authorization", &bearer("wrong"))], br#"["GET","k"]"#).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let _ = TOKEN;

    let (status, metrics) = scrape(port, "/metrics");
    assert!(status.contains("200"), "{status}");
    let count = |series: &str| value(&metrics, series).unwrap_or_else(|| panic!("no {series} in\n{metrics}"));
    assert_eq!(count(r#"edge_caches_gateway_requests_total{route="command",code="200"}"#), 1.0);
    assert_eq!(count(r#"edge_caches_gateway_requests_total{route="path",code="200"}"#), 1.0);
    assert_eq!(count(r#"edge_caches_gateway_requests_total{route="pipeline",code="200"}"#), 1.0);
    assert_eq!(count(r#"edge_caches_gateway_requests_total{route="command",code="401"}"#), 1.0);
    assert_eq!(count("edge_caches_gateway_commands_total"), 4.0, "the refused request ran nothing");
    assert_eq!(count("edge_caches_gateway_request_duration_seconds_count"), 4.0);
    assert_eq!(count(r#"edge_caches_gateway_request_duration_seconds_bucket{le="+Inf"}"#), 4.0);
    assert!(count("edge_caches_gateway_request_duration_seconds_sum") > 0.0);
    assert_eq!(count("edge_caches_gateway_redis_connections_in_use"), 0.0);
    assert_eq!(count("edge_caches_gateway_subscribers"), 0.0);
    assert_eq!(count(r#"edge_caches_gateway_failures_total{kind="unavailable"}"#), 0.0);
    assert!(scrape(port, "/other").0.contains("404"));
}
