//! Test support: a real redis-server and the built gateway binary, each on a free port and
//! killed on drop, and a small HTTP client. Tests that can share servers get them through
//! [`shared`], which keeps one pair alive while any test of the file still holds it.
#![allow(dead_code)]

pub mod damaged;
mod proxy;

#[allow(unused_imports)]
pub use proxy::Proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::thread::JoinHandle;
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

/// A free port below the kernel's ephemeral range (32768–60999 on Linux). A port in that range
/// may be handed to any socket asking for port 0 once it is free again, such as another test's
/// gateway while a Redis is stopped to be restarted on its port (`Redis::restart`); below it,
/// ports are only taken by number.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new();
    (0u32..1000)
        .map(|i| 20_000 + (random.hash_one(i) % 12_000) as u16)
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
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
    extra: Vec<String>,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// Starts with extra redis-server arguments (`["--requirepass", "pw"]`).
    pub fn start_with(extra: &[&str]) -> Redis {
        for _ in 0..5 {
            let mut redis = Redis {
                port: free_port(),
                extra: extra.iter().map(|a| a.to_string()).collect(),
                child: None,
            };
            if redis.try_start() {
                return redis;
            }
        }
        panic!("redis-server did not start");
    }

    fn try_start(&mut self) -> bool {
        // --dir: a SAVE sent by a test writes into the temporary directory, not the source tree.
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .args(&self.extra)
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

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("redis-server runs").id()
    }

    /// Runs one command on a connection of its own, straight to Redis (not through the gateway),
    /// and returns the raw RESP reply: for what the gateway refuses (CLIENT PAUSE, CONFIG, INFO).
    pub fn command(&self, args: &[&str]) -> String {
        let mut packed = format!("*{}\r\n", args.len());
        for arg in args {
            packed.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(packed.as_bytes()).expect("send to redis");
        // One reply: read until a pause, enough for the small replies tests ask for.
        let mut reply = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).unwrap_or(0);
            reply.extend_from_slice(&buf[..n]);
            if n == 0 || resp_complete(&reply) {
                break;
            }
        }
        String::from_utf8_lossy(&reply).into_owned()
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

/// Whether `reply` holds one whole RESP value (simple types and bulk strings, and arrays of them).
fn resp_complete(reply: &[u8]) -> bool {
    fn value(buf: &[u8]) -> Option<usize> {
        let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&buf[1..line_end]).ok()?;
        let rest = line_end + 2;
        match buf.first()? {
            b'$' => {
                let len: i64 = line.parse().ok()?;
                if len < 0 {
                    return Some(rest);
                }
                let end = rest + len as usize + 2;
                (buf.len() >= end).then_some(end)
            }
            b'*' => {
                let count: i64 = line.parse().ok()?;
                let mut at = rest;
                for _ in 0..count.max(0) {
                    at += value(&buf[at..])?;
                }
                Some(at)
            }
            _ => Some(rest),
        }
    }
    value(reply).is_some()
}

/// The gateway binary on a port it picked itself, killed on drop.
pub struct Gateway {
    pub port: u16,
    pub ready_line: String,
    child: Child,
    /// Everything the gateway printed on stderr after its ready line, read as it comes.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
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
        let rest = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = {
            let rest = rest.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let _ = tx.send(line);
                // Keep reading, so the gateway never blocks on a full pipe and tests can see
                // everything it ever printed.
                let mut buf = [0u8; 4096];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    rest.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("the gateway printed no ready line");
            }
        };
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
            stderr: rest,
            stderr_reader: Some(stderr_reader),
            client,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stderr after the ready line; after [`Gateway::terminate`], all of it.
    pub fn stderr_after_ready_line(&mut self) -> String {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            if let Some(reader) = self.stderr_reader.take() {
                let _ = reader.join();
            }
        }
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// The largest resident memory the gateway process has had so far (VmHWM), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// The gateway process's resident memory now (VmRSS), in KiB.
    pub fn memory_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
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
        self.wait_for_exit()
    }

    /// Waits (up to 15 s) for the process to exit on its own, after a signal sent earlier.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
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

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
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
