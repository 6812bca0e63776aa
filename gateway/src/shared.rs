//! The Redis connection that plain commands and pipelines share. One request per pooled
//! connection cost a Redis write and a Redis read (two system calls, each waking the other side)
//! for every request; on one shared connection the redis crate writes the commands of all
//! requests waiting at that moment in one go and reads their replies in one go, so under load a
//! request costs about one client read and one client write. Transactions keep a pooled
//! connection of their own (`pool.rs`): MULTI ... EXEC must not interleave with anyone.
//!
//! Sharing is safe because the gateway refuses every command that blocks or changes the state of
//! a connection (`commands.rs`), and because replies come back in the order the commands went
//! out, whoever sent them. What it must not share is a reply the redis crate cannot read: that
//! ends the connection it came on, and with it every request waiting there. See [`may_share`].
//!
//! The connection is made on first use, and made again when it has ended (Redis went away: the
//! redis crate's reading task sees the connection close, so the next request reconnects instead
//! of failing on it), or when a request on it failed or timed out (it may be dead without
//! knowing). Requests already on the old one finish there.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, RedisConnectionInfo, RedisError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::AbortHandle;

use crate::client_scripts;
use crate::request::Command;
use crate::target::Target;

pub struct Shared {
    target: Arc<Target>,
    /// For a rediss:// Redis: the TLS the connection's stream is made with.
    tls: crate::tls::Tls,
    config: AsyncConnectionConfig,
    /// For connecting, the Redis handshake included.
    timeout: Duration,
    current: Mutex<Option<Link>>,
    /// One connection attempt at a time; requests that arrive meanwhile wait for its outcome.
    connecting: tokio::sync::Mutex<()>,
    /// Connection attempts finished so far.
    attempts: AtomicU64,
}

/// The shared connection, as one request uses it.
#[derive(Clone)]
pub struct Link {
    pub redis: MultiplexedConnection,
    driver: Arc<Driver>,
}

/// The redis crate's task that writes and reads the connection.
struct Driver {
    ended: Arc<AtomicBool>,
    task: AbortHandle,
}

impl Drop for Driver {
    /// The last user of a connection is gone: stop its task, even if Redis never answered the
    /// last commands (or never read them).
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    pub fn new(target: Arc<Target>, config: AsyncConnectionConfig, timeout: Duration, tls: crate::tls::Tls) -> Shared {
        Shared {
            target,
            tls,
            config,
            timeout,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            attempts: AtomicU64::new(0),
        }
    }

    /// The shared connection, connecting first when there is none that is still open. A request
    /// that waited while a connection attempt failed fails with it, rather than trying again in
    /// turn (against a Redis that does not answer, each try takes the whole timeout).
    pub async fn get(&self) -> Result<Link, RedisError> {
        if let Some(link) = self.live() {
            return Ok(link);
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let _turn = self.connecting.lock().await;
        if let Some(link) = self.live() {
            return Ok(link);
        }
        if self.attempts.load(Ordering::Acquire) != seen {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "could not connect to Redis",
            )
            .into());
        }
        let result = tokio::time::timeout(self.timeout, self.connect()).await;
        self.attempts.fetch_add(1, Ordering::Release);
        let link = match result {
            Ok(link) => link?,
            Err(elapsed) => return Err(std::io::Error::from(elapsed).into()),
        };
        *self.lock() = Some(link.clone());
        Ok(link)
    }

    /// A request on `link` failed without a Redis error reply: the next request connects anew.
    pub fn discard(&self, link: &Link) {
        let mut current = self.lock();
        if current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.driver, &link.driver))
        {
            *current = None;
        }
    }

    fn live(&self) -> Option<Link> {
        self.lock()
            .as_ref()
            .filter(|link| !link.driver.ended.load(Ordering::Acquire))
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Link>> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid Option.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connects as the redis crate would, but runs the connection's task itself to see it end.
    async fn connect(&self) -> Result<Link, RedisError> {
        let client = self.target.client().await?;
        let info = client.get_connection_info();
        let settings = info.redis_settings();
        match info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                // Commands are written when they are there, not held back for Redis's ACK.
                stream.set_nodelay(true)?;
                self.link(settings, stream).await
            }
            ConnectionAddr::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await?;
                self.link(settings, stream).await
            }
            ConnectionAddr::TcpTls { host, port, .. } => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                let stream = self.tls.connect(host, stream).await?;
                self.link(settings, stream).await
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "this Redis address is not supported",
            )
            .into()),
        }
    }

    async fn link<S>(&self, info: &RedisConnectionInfo, stream: S) -> Result<Link, RedisError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (redis, driver) =
            MultiplexedConnection::new_with_config(info, stream, self.config.clone()).await?;
        let ended = Arc::new(AtomicBool::new(false));
        let flag = ended.clone();
        let task = tokio::spawn(async move {
            driver.await;
            flag.store(true, Ordering::Release);
        })
        .abort_handle();
        Ok(Link {
            redis,
            driver: Arc::new(Driver { ended, task }),
        })
    }
}

/// Whether a command may go on the shared connection: whether the redis crate can read any reply
/// to it. It cannot read an error line that is not UTF-8, which Redis writes when it quotes an
/// argument that is not ASCII ("unknown command ..., with args beginning with: ..." cuts at 128
/// bytes, so even UTF-8 arguments can end up cut in the middle of a character), nor a reply nested
/// more than 100 deep, which only scripts and functions return (they also make error replies of
/// their own). Such commands get a pooled connection of their own, as before, where a reply that
/// ends the connection fails only their request. The edge-caches client's own scripts, sent by
/// SHA-1, reply flat with ASCII errors: they share.
pub fn may_share(command: &Command) -> bool {
    let name = command.name();
    let script = [
        &b"EVAL"[..],
        b"EVALSHA",
        b"EVAL_RO",
        b"EVALSHA_RO",
        b"FCALL",
        b"FCALL_RO",
    ]
    .iter()
    .any(|s| name.eq_ignore_ascii_case(s));
    let known = || {
        (name.eq_ignore_ascii_case(b"EVALSHA") || name.eq_ignore_ascii_case(b"EVALSHA_RO"))
            && command
                .args()
                .nth(1)
                .is_some_and(client_scripts::is_client_script)
    };
    (!script || known()) && command.args().all(|arg| arg.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&[u8]]) -> Command {
        args.iter().collect()
    }

    #[test]
    fn what_may_share() {
        assert!(may_share(&cmd(&[b"GET", b"k"])));
        assert!(may_share(&cmd(&[
            b"set",
            b"k",
            b"{\"a\":[1]}",
            b"EX",
            b"10"
        ])));
        // Redis may quote a non-ASCII argument in an error, cut anywhere.
        assert!(!may_share(&cmd(&[b"SET", b"k", "\u{e9}".as_bytes()])));
        assert!(!may_share(&cmd(&[b"NOSUCHCMD", b"\xff"])));
        // The client's scripts, by SHA-1, share; the same name with another SHA-1 does not.
        let get = b"091323b08b42d6e54557583c497cfeaf43f7d2ff";
        assert!(may_share(&cmd(&[b"EVALSHA_RO", get, b"1", b"k"])));
        assert!(!may_share(&cmd(&[
            b"EVALSHA_RO",
            get,
            b"1",
            "\u{e9}".as_bytes()
        ])));
        for script in [
            "EVAL",
            "evalsha",
            "EVAL_RO",
            "EVALSHA_RO",
            "FCALL",
            "fcall_ro",
        ] {
            assert!(
                !may_share(&cmd(&[script.as_bytes(), b"x", b"0"])),
                "{script}"
            );
        }
    }
}
