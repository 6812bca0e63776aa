//! Test support: a real redis-server and the built gateway binary, each on a free port and
//! killed on drop, and a small HTTP client. Tests that can share servers get them through
//! [`shared`], which keeps one pair alive while any test of the file still holds it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::Value as Json;

pub const TOKEN: &str = "test-full-token-3f9a";
pub const READONLY_TOKEN: &str = "test-readonly-token-77c1";
pub const GATEWAY: &str = env!("CARGO_BIN_EXE_edge-caches-gateway");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A redis-server with no persistence, killed on drop.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        for _ in 0..5 {
            let mut redis = Redis {
                port: free_port(),
                child: None,
            };
            if redis.try_start() {
                return redis;
            }
        }
        panic!("redis-server did not start");
    }

    fn try_start(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        self.child = Some(child);
        if wait_for_port(self.port, Duration::from_secs(5)) {
            return true;
        }
        self.stop();
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port (after [`Redis::stop`]).
    pub fn restart(&mut self) {
        assert!(
            self.try_start(),
            "redis-server did not restart on port {}",
            self.port
        );
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The gateway binary on a port it picked itself, killed on drop.
pub struct Gateway {
    pub port: u16,
    pub ready_line: String,
    child: Child,
    _stderr: ChildStderr,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What a failed start printed and how it exited.
pub struct StartFailure {
    pub status: ExitStatus,
    pub stderr: String,
}

/// Runs the gateway with exactly these arguments and environment additions, expecting it to
/// exit on its own (a start-up error).
pub fn gateway_exit(args: &[&str], env: &[(&str, &str)]) -> StartFailure {
    let mut command = Command::new(GATEWAY);
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    clear_gateway_env(&mut command);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("gateway binary");
    let output = child.wait_with_output().expect("gateway output");
    StartFailure {
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn clear_gateway_env(command: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("EDGE_CACHES_") {
            command.env_remove(key);
        }
    }
}

impl Gateway {
    /// Starts with both test tokens and `extra` flags.
    pub fn start(redis_url: &str, extra: &[&str]) -> Gateway {
        let mut args = vec![
            "--redis",
            redis_url,
            "--token",
            TOKEN,
            "--readonly-token",
            READONLY_TOKEN,
        ];
        args.extend_from_slice(extra);
        Gateway::start_with(&args, &[])
    }

    /// Starts with `--listen 127.0.0.1:0` plus exactly these arguments and environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let mut command = Command::new(GATEWAY);
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        clear_gateway_env(&mut command);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("gateway binary");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            reader.into_inner()
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("the gateway printed no ready line");
            }
        };
        let stderr = reader.join().expect("stderr reader");
        let port = line
            .trim_end()
            .strip_prefix("edge-caches-gateway listening on ")
            .and_then(|addr| addr.rsplit(':').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
        // No idle connections are kept: shared servers outlive each test's tokio runtime, and a
        // pooled connection would belong to the runtime that made it.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
        Gateway {
            port,
            ready_line: line,
            child,
            _stderr: stderr,
            client,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Sends a request with the full token.
    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.request(
            Method::POST,
            path,
            &[("authorization", &bearer(TOKEN))],
            body.as_bytes(),
        )
        .await
    }

    /// Sends a request with the full token and `Upstash-Encoding: base64`.
    pub async fn post64(&self, path: &str, body: &str) -> Reply {
        let headers = [
            ("authorization", bearer(TOKEN)),
            ("upstash-encoding", "base64".into()),
        ];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.request(Method::POST, path, &headers, body.as_bytes())
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[("authorization", &bearer(TOKEN))], b"")
            .await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(self.url(path));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .expect("request");
        let response = tokio::time::timeout(Duration::from_secs(20), self.client.request(request))
            .await
            .expect("the gateway answered within 20 s")
            .expect("HTTP request");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not exit on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn b64(s: impl AsRef<[u8]>) -> String {
    BASE64.encode(s)
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The `result` of a 200 answer.
    pub fn result(&self) -> Json {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        let json = self.json();
        assert!(json.get("error").is_none(), "{json}");
        json["result"].clone()
    }

    /// The `error` text of an answer, checking its status.
    pub fn error(&self, status: StatusCode) -> String {
        assert_eq!(
            self.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text: {:?}", String::from_utf8_lossy(&self.body)))
            .to_string()
    }
}

/// A redis-server and a gateway (with both tokens, CORS off) shared by the tests of one file
/// while any of them runs; each test uses its own keys.
pub struct Servers {
    pub gateway: Gateway,
    pub redis: Redis,
}

pub fn shared(extra: &[&str]) -> Arc<Servers> {
    static SHARED: Mutex<Weak<Servers>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(servers) = slot.upgrade() {
        return servers;
    }
    let redis = Redis::start();
    let gateway = Gateway::start(&redis.url(), extra);
    let servers = Arc::new(Servers { gateway, redis });
    *slot = Arc::downgrade(&servers);
    servers
}
