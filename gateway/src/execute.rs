//! Sending checked commands to Redis, over the shared connection or a pooled one. Replies come
//! back as raw values, server errors included, so each command of a pipeline or transaction gets
//! its own result or error; only a failure of the connection itself fails the whole request (503).

use redis::aio::MultiplexedConnection;
use redis::{Cmd, Pipeline, RedisError, Value};

use crate::pool::{self, Conn};
use crate::request::Command;
use crate::shared::{Link, Shared};

/// A request's way to Redis.
pub enum Connection<'a> {
    /// The connection plain commands and pipelines share (`shared.rs`).
    Shared(&'a Shared, Link),
    /// A pooled connection of the request's own.
    Own(Conn),
}

impl Connection<'_> {
    fn redis(&mut self) -> &mut MultiplexedConnection {
        match self {
            Connection::Shared(_, link) => &mut link.redis,
            Connection::Own(conn) => &mut conn.redis,
        }
    }

    /// Gives the connection back, unless the connection itself failed: then it is not used
    /// again, since it may be dead or hold a late reply (the shared one is replaced; requests
    /// already on it finish there).
    fn settle<T>(self, result: Result<T, RedisError>) -> Result<T, RedisError> {
        if result.is_err() {
            match self {
                Connection::Shared(shared, link) => shared.discard(&link),
                Connection::Own(conn) => pool::discard(conn),
            }
        }
        result
    }
}

/// What happened to a transaction.
pub enum Transaction {
    /// EXEC ran: one value per command (a command's runtime error is a `Value::ServerError`).
    Executed(Vec<Value>),
    /// Redis discarded the whole transaction (a command was refused while queueing): the error.
    Discarded(String),
}

fn to_cmd(command: &Command) -> Cmd {
    let mut cmd = Cmd::with_capacity(command.len(), command.data_len());
    for arg in command.args() {
        cmd.arg(arg);
    }
    cmd
}

/// Runs one command.
pub async fn single(mut conn: Connection<'_>, command: &Command) -> Result<Value, RedisError> {
    let result = conn.redis().send_packed_command(&to_cmd(command)).await;
    conn.settle(result)
}

/// Runs commands in order in one round trip, not atomically.
pub async fn pipeline(
    mut conn: Connection<'_>,
    commands: &[Command],
) -> Result<Vec<Value>, RedisError> {
    let mut pipe = Pipeline::with_capacity(commands.len());
    for command in commands {
        pipe.add_command(to_cmd(command));
    }
    let result = conn
        .redis()
        .send_packed_commands(&pipe, 0, commands.len())
        .await;
    conn.settle(result)
}

/// Runs commands inside MULTI ... EXEC, written in one go on this request's own connection.
/// MULTI and EXEC are sent as plain pipeline entries (not `Pipeline::atomic`) so that every
/// reply, the queueing errors included, comes back to be reported.
pub async fn transaction(conn: Conn, commands: &[Command]) -> Result<Transaction, RedisError> {
    let mut conn = Connection::Own(conn);
    let mut pipe = Pipeline::with_capacity(commands.len() + 2);
    pipe.add_command(redis::cmd("MULTI"));
    for command in commands {
        pipe.add_command(to_cmd(command));
    }
    pipe.add_command(redis::cmd("EXEC"));
    let result = conn
        .redis()
        .send_packed_commands(&pipe, 0, commands.len() + 2)
        .await;
    let mut replies = conn.settle(result)?;

    let exec = replies.pop().unwrap_or(Value::Nil);
    let queue_error = replies.into_iter().find_map(|reply| match reply {
        Value::ServerError(err) => Some(crate::reply::error_text(&err)),
        _ => None,
    });
    Ok(match (exec, queue_error) {
        (Value::Array(values), None) => Transaction::Executed(values),
        // Redis says EXECABORT; the queueing error says why.
        (_, Some(why)) => Transaction::Discarded(why),
        (Value::ServerError(err), None) => Transaction::Discarded(crate::reply::error_text(&err)),
        (_, None) => Transaction::Discarded("ERR the transaction was aborted".into()),
    })
}
