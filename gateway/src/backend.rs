//! Where commands go: one Redis (a fixed address, or the primary Sentinel names) or a Redis
//! Cluster. The one place that tells them apart: each kind of request (one command, a pipeline,
//! a transaction, a subscription) has a method here, and `routes.rs` turns its outcome into HTTP.

use std::sync::Arc;

use hyper::StatusCode;

use crate::cluster::{self, Cluster};
use crate::error_answer::{fail, ErrorAnswer};
use crate::execute::{self, Connection, Transaction};
use crate::pool::{self, Conn, Pool};
use crate::reply;
use crate::request::Command;
use crate::shared::{self, Shared};
use crate::target::Target;

// One per process: the size difference between its variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// One Redis (fixed, or the primary Sentinel names): a shared connection and a pool.
    Single {
        pool: Pool,
        shared: Shared,
        target: Arc<Target>,
    },
    Cluster(Cluster),
}

impl Backend {
    /// One command's reply (a Redis error reply included).
    pub async fn single(&self, command: &Command) -> Result<redis::Value, ErrorAnswer> {
        let Some(scan) = without_type_flag(command) else {
            return self.single_plain(command).await;
        };
        let reply = self.single_plain(&scan).await?;
        self.with_types(reply).await
    }

    async fn single_plain(&self, command: &Command) -> Result<redis::Value, ErrorAnswer> {
        match self {
            Backend::Single { .. } => {
                let connection = self.connection(std::slice::from_ref(command)).await?;
                execute::single(connection, command).await.map_err(ErrorAnswer::from)
            }
            Backend::Cluster(cluster) => cluster.single(command).await.map_err(ErrorAnswer::from),
        }
    }

    /// Each command's reply or error text, in order.
    pub async fn pipeline(
        &self,
        commands: &[Command],
    ) -> Result<Vec<Result<redis::Value, String>>, ErrorAnswer> {
        if !commands.iter().any(|c| without_type_flag(c).is_some()) {
            return self.pipeline_plain(commands).await;
        }
        // The SCANs run with the rest, WITHTYPE taken off; each key's TYPE is asked after.
        let plain: Vec<Command> = commands.iter().map(|c| without_type_flag(c).unwrap_or_else(|| c.clone())).collect();
        let mut results = self.pipeline_plain(&plain).await?;
        for (result, command) in results.iter_mut().zip(commands) {
            if let (Ok(reply), true) = (&*result, without_type_flag(command).is_some()) {
                *result = match self.with_types(reply.clone()).await {
                    Ok(value) => Ok(value),
                    Err(failure) => Err(failure.message().to_owned()),
                };
            }
        }
        Ok(results)
    }

    /// Upstash's `SCAN ... WITHTYPE`: a SCAN's `[cursor, [key, ...]]` as `[cursor, [key, type,
    /// ...]]` (Redis has no such flag: each key's TYPE is asked in turn; a key gone since is
    /// `none`, as TYPE says).
    async fn with_types(&self, reply: redis::Value) -> Result<redis::Value, ErrorAnswer> {
        let redis::Value::Array(mut parts) = reply else { return Ok(reply) };
        let Some(redis::Value::Array(keys)) = parts.get(1).cloned() else { return Ok(redis::Value::Array(parts)) };
        let mut typed = Vec::with_capacity(keys.len() * 2);
        for key in keys {
            let redis::Value::BulkString(name) = &key else { return Ok(redis::Value::Array(parts)) };
            let command: Command = [&b"TYPE"[..], name].into_iter().collect();
            let kind = self.single_plain(&command).await?;
            typed.push(key);
            typed.push(kind);
        }
        parts[1] = redis::Value::Array(typed);
        Ok(redis::Value::Array(parts))
    }

    async fn pipeline_plain(
        &self,
        commands: &[Command],
    ) -> Result<Vec<Result<redis::Value, String>>, ErrorAnswer> {
        match self {
            Backend::Single { .. } => execute::pipeline(self.connection(commands).await?, commands)
                .await
                .map_err(ErrorAnswer::from),
            Backend::Cluster(cluster) => {
                let results = cluster.pipeline(commands).await;
                // A command whose node failed is not an entry a client could take for Redis's
                // error: the request fails, 503 only if none of it was sent.
                if let Some(Err(e)) = results.iter().find(|r| cluster::node_failed(r)) {
                    if !results.iter().all(unsent) {
                        return Err(fail(
                            StatusCode::BAD_GATEWAY,
                            "ERR a Redis node failed before answering some commands of this \
                             request: they may have run",
                        ));
                    }
                    return Err(ErrorAnswer::from(e.clone()));
                }
                Ok(results
                    .into_iter()
                    .map(|r| r.map_err(|e| reply::failure_text(&e)))
                    .collect())
            }
        }
    }

    /// MULTI/EXEC on a connection of its own (one Redis), or on the one master of every key.
    pub async fn transaction(&self, commands: &[Command]) -> Result<Transaction, ErrorAnswer> {
        match self {
            Backend::Single { .. } => {
                execute::transaction(self.own_connection().await?, commands).await
            }
            Backend::Cluster(cluster) => cluster.transaction(commands).await,
        }
        .map_err(ErrorAnswer::from)
    }

    /// Clients to subscribe through, in the order to try them. On a cluster a message published
    /// on any node reaches every node: any live seed will do.
    pub async fn subscribe_clients(&self) -> Result<Vec<redis::Client>, ErrorAnswer> {
        match self {
            Backend::Single { target, .. } => Ok(vec![target.client().await?]),
            Backend::Cluster(cluster) => Ok(cluster.seed_clients()),
        }
    }

    /// The shared connection when every command may go there ([`shared::may_share`]), else a
    /// pooled one.
    async fn connection(&self, commands: &[Command]) -> Result<Connection<'_>, ErrorAnswer> {
        let Backend::Single { shared, .. } = self else {
            return Err(no_single_redis());
        };
        if !commands.iter().all(shared::may_share) {
            return Ok(Connection::Own(self.own_connection().await?));
        }
        match shared.get().await {
            Ok(link) => Ok(Connection::Shared(shared, link)),
            Err(_) => Err(fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "ERR Redis is unavailable",
            )),
        }
    }

    async fn own_connection(&self) -> Result<Conn, ErrorAnswer> {
        let Backend::Single { pool, .. } = self else {
            return Err(no_single_redis());
        };
        pool.get().await.map_err(|e| {
            fail(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("ERR {}", pool::unavailable_reason(&e)),
            )
        })
    }
}

fn no_single_redis() -> ErrorAnswer {
    fail(StatusCode::INTERNAL_SERVER_ERROR, "ERR no single Redis")
}

/// A failure that happened before the command was sent.
fn unsent(result: &Result<redis::Value, redis::RedisError>) -> bool {
    result.as_ref().is_err_and(|e| {
        e.is_connection_refusal() || e.kind() == redis::ErrorKind::ClusterConnectionNotFound
    })
}

/// A `SCAN` with Upstash's `WITHTYPE` flag, as the SCAN Redis takes (the flag taken off).
fn without_type_flag(command: &Command) -> Option<Command> {
    if !command.name().eq_ignore_ascii_case(b"SCAN") {
        return None;
    }
    let flag = command.args().position(|a| a.eq_ignore_ascii_case(b"WITHTYPE"))?;
    Some(command.args().enumerate().filter(|&(i, _)| i != flag).map(|(_, a)| a).collect())
}
