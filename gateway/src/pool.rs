//! The bounded pool of Redis connections a request holds for itself from checkout to the end of
//! its commands: for /multi-exec, so a transaction's MULTI ... EXEC never shares a connection with
//! another request, and for the few commands that may not go on the shared connection
//! (`shared.rs`). Also where the Redis client and its connection settings are made, for both.
//!
//! Why not deadpool-redis's ready-made manager: it sends UNWATCH + PING on every checkout, a
//! second Redis round trip per request. This manager pings only a connection that has sat idle
//! (which is when a Redis restart or an idle timeout may have closed it); a connection that failed
//! while in use is dropped by the request (see [`discard`]) and, because a failure usually means
//! Redis went away, every idle connection made before it is pinged before its next use too.
//! So after Redis comes back, the gateway recovers without any request failing on a dead
//! connection it could have noticed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult, Timeouts};
use deadpool::Runtime;
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};

use crate::target::Target;

/// Idle time after which a connection is pinged before it is handed out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(2);

pub type Pool = managed::Pool<Manager>;
pub type Conn = Object<Manager>;

pub struct Connection {
    pub redis: MultiplexedConnection,
    /// [`Manager::failures`] when the connection was made.
    failures_seen: u64,
}

pub struct Manager {
    target: Arc<Target>,
    config: AsyncConnectionConfig,
    /// How many in-use connections have failed so far.
    failures: AtomicU64,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        let redis = self
            .target
            .client()
            .await?
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Connection {
            redis,
            failures_seen: self.failures.load(Ordering::Relaxed),
        })
    }

    async fn recycle(&self, conn: &mut Connection, metrics: &Metrics) -> RecycleResult<RedisError> {
        let failures = self.failures.load(Ordering::Relaxed);
        if conn.failures_seen == failures && metrics.last_used() < PING_WHEN_IDLE_FOR {
            return Ok(());
        }
        let pong: String = redis::cmd("PING").query_async(&mut conn.redis).await?;
        if pong != "PONG" {
            return Err(RecycleError::message("unexpected PING reply"));
        }
        conn.failures_seen = failures;
        Ok(())
    }
}

/// How every Redis connection connects and waits for answers.
pub fn connection_config(redis_timeout: Duration) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(redis_timeout))
        .set_response_timeout(Some(redis_timeout))
}

/// Builds the pool; connections are made on demand, so a Redis that is down at start-up only
/// makes requests fail (503) until it is up.
pub fn build(
    target: Arc<Target>,
    max_size: usize,
    wait: Duration,
    redis_timeout: Duration,
) -> Result<Pool, String> {
    let manager = Manager {
        target,
        config: connection_config(redis_timeout),
        failures: AtomicU64::new(0),
    };
    managed::Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(wait),
            create: Some(redis_timeout + Duration::from_millis(100)),
            recycle: Some(redis_timeout),
        })
        .build()
        .map_err(|e| format!("cannot build the Redis pool: {e}"))
}

/// Takes a connection that failed in use out of the pool, and has every idle connection made
/// before the failure checked before its next use.
pub fn discard(conn: Conn) {
    if let Some(pool) = Object::pool(&conn) {
        pool.manager().failures.fetch_add(1, Ordering::Relaxed);
    }
    drop(Object::take(conn));
}

/// Whether getting a connection failed because Redis is unreachable or too slow (503), as
/// opposed to a bug in how the pool is set up.
pub fn unavailable_reason(err: &PoolError<RedisError>) -> &'static str {
    match err {
        PoolError::Timeout(managed::TimeoutType::Wait) => "all Redis connections are busy",
        PoolError::Timeout(_) | PoolError::Backend(_) => "Redis is unavailable",
        _ => "the Redis pool is closed",
    }
}
