//! Accepting connections, on hyper directly, with what a bare server does not set: a timeout on reading request headers, so a client that trickles bytes (or sends
//! nothing, or idles between keep-alive requests) cannot hold a connection forever, a bound on
//! how many connections are open at once, and a bound on how long shutdown waits for in-flight
//! requests.
//!
//! At the connection limit the gateway stops accepting: new clients wait in the listen backlog
//! until a connection closes, which idle ones do within the header timeout. Refusing them
//! instead would fail a burst of honest clients; not bounding them would let idle sockets use up
//! the file descriptors the gateway needs for its own Redis connections.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::routes::{self, App};

/// The most a connection buffers: the request line and headers must fit (else 431), and body
/// bytes are read on in pieces this large. hyper's default, some 400 KiB, let a client without a
/// token hold that much per connection while it trickles headers (300 such connections took
/// 56 MB); clients send a few hundred bytes of headers, and large values go in the body.
const MAX_BUFFER: usize = 64 * 1024;

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish (idle
/// keep-alive connections are closed) and returns, after `grace` at the latest.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    header_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |request| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(routes::handle(app, request).await) }
        });
        let connection = http1::Builder::new()
            .max_buf_size(MAX_BUFFER)
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the gateway's error.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
}

/// The metrics listener: `GET /metrics` for every connection, until the process ends.
pub async fn metrics(listener: TcpListener, app: Arc<App>, pool_size: usize, max_subscribers: usize) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let app = app.clone();
        let service = service_fn(move |request: routes::Request| {
            let answer = crate::metrics::answer(&app, request.uri().path(), pool_size, max_subscribers);
            async move { Ok::<_, Infallible>(answer) }
        });
        tokio::spawn(http1::Builder::new().max_buf_size(MAX_BUFFER).serve_connection(TokioIo::new(stream), service));
    }
}
