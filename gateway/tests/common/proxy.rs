//! A TCP proxy between the gateway and Redis that records what the gateway sends. It answers
//! "did this request reach Redis?" exactly: any byte the gateway writes to Redis passes here,
//! connection handshakes and pool PINGs included. MONITOR would be a client of its own, and
//! Redis's INFO counters also move with the gateway's PINGs and with the INFO calls themselves.
//!
//! Plain threads, not tokio: shared servers outlive each test's runtime.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How much of what the gateway sends is kept for [`Proxy::sent`]; the count goes on past it.
const KEEP: usize = 16 * 1024 * 1024;

pub struct Proxy {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Seen {
    total: u64,
    kept: Vec<u8>,
    connections: u64,
}

impl Proxy {
    /// Listens on a free port and forwards every connection to `127.0.0.1:redis_port`.
    pub fn start(redis_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(("127.0.0.1", redis_port)) else {
                        continue;
                    };
                    seen.lock().unwrap().connections += 1;
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client2, server2) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let seen = seen.clone();
                    // Gateway to Redis, recorded.
                    std::thread::spawn(move || pump(client, server, Some(seen)));
                    // Redis to gateway.
                    std::thread::spawn(move || pump(server2, client2, None));
                }
            });
        }
        Proxy { port, seen, stop }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// How many bytes the gateway has sent towards Redis so far.
    pub fn bytes_sent(&self) -> u64 {
        self.seen.lock().unwrap().total
    }

    /// How many connections the gateway has opened to Redis so far.
    pub fn connections(&self) -> u64 {
        self.seen.lock().unwrap().connections
    }

    /// What the gateway has sent towards Redis (the first 16 MiB of it).
    pub fn sent(&self) -> Vec<u8> {
        self.seen.lock().unwrap().kept.clone()
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, seen: Option<Arc<Mutex<Seen>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(seen) = &seen {
            let mut seen = seen.lock().unwrap();
            seen.total += n as u64;
            let room = KEEP.saturating_sub(seen.kept.len()).min(n);
            seen.kept.extend_from_slice(&buf[..room]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
