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
    /// EXEC ran, and its answer could not be read.
    Unreadable,
}

pub fn to_cmd(command: &Command) -> Cmd {
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

/// What the gateway says for a reply it could not read, and for the replies after it on the same
/// connection, which the redis crate drops with it (their commands were sent, and Redis, which
/// is up, ran them).
pub const UNREADABLE: &str = "ERR Redis answered with what the gateway cannot read: an error \
    that is not valid UTF-8 (it may quote an argument), or a reply nested more than 100 deep";
pub const AFTER_UNREADABLE: &str = "ERR this command ran, but its answer was lost with an earlier \
    answer of the same request that the gateway could not read";

/// Runs commands in order, not atomically: one result per command, a Redis error reply as a
/// `Value::ServerError`. Fails as a whole (503) only when the connection failed before any
/// answer could be read.
pub async fn pipeline(
    mut conn: Connection<'_>,
    commands: &[Command],
) -> Result<Vec<Result<Value, String>>, RedisError> {
    if let Connection::Shared(..) = conn {
        // Every reply is readable here (`shared::may_share`): one write, one read.
        let mut pipe = Pipeline::with_capacity(commands.len());
        for command in commands {
            pipe.add_command(to_cmd(command));
        }
        let result = conn
            .redis()
            .send_packed_commands(&pipe, 0, commands.len())
            .await;
        return Ok(conn.settle(result)?.into_iter().map(Ok).collect());
    }
    // On a connection of its own a reply may be unreadable: each command is its own request to
    // the redis crate (still written together), so the others keep their answers.
    let replies = send_each(conn.redis(), commands.iter().map(to_cmd)).await;
    if let Some(err) = replies.iter().find_map(|r| r.as_ref().err()) {
        // The connection is not used again either way; only a failure that is not an
        // unreadable answer fails the request.
        let err = err.clone();
        let unreadable = is_unreadable(Some(&err));
        conn.settle::<()>(Err(err))
            .or_else(|e| if unreadable { Ok(()) } else { Err(e) })?;
    }
    Ok(readable(replies))
}

/// Each command sent in order on `redis` without waiting for the previous answer.
async fn send_each(
    redis: &mut MultiplexedConnection,
    cmds: impl Iterator<Item = Cmd>,
) -> Vec<Result<Value, RedisError>> {
    let cmds: Vec<Cmd> = cmds.collect();
    futures_util::future::join_all(cmds.iter().map(|cmd| {
        let mut redis = redis.clone();
        async move { redis.send_packed_command(cmd).await }
    }))
    .await
}

fn is_unreadable(err: Option<&RedisError>) -> bool {
    err.is_some_and(|e| e.kind() == redis::ErrorKind::Parse)
}

/// Results as entries: the unreadable reply, and the lost ones after it, as error texts.
fn readable(replies: Vec<Result<Value, RedisError>>) -> Vec<Result<Value, String>> {
    let mut lost = false;
    replies
        .into_iter()
        .map(|reply| match reply {
            Ok(value) => Ok(value),
            Err(e) if is_unreadable(Some(&e)) => {
                lost = true;
                Err(UNREADABLE.to_string())
            }
            Err(_) if lost => Err(AFTER_UNREADABLE.to_string()),
            Err(e) => Err(crate::reply::failure_text(&e)),
        })
        .collect()
}

/// Runs commands inside MULTI ... EXEC on this request's own connection, each sent as its own
/// request (written together) so that every reply, the queueing errors included, comes back to
/// be reported, and an unreadable one loses only what follows it.
pub async fn transaction(conn: Conn, commands: &[Command]) -> Result<Transaction, RedisError> {
    let mut conn = Connection::Own(conn);
    let cmds = std::iter::once(redis::cmd("MULTI"))
        .chain(commands.iter().map(to_cmd))
        .chain(std::iter::once(redis::cmd("EXEC")));
    let replies = send_each(conn.redis(), cmds).await;
    let first_error = replies
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.as_ref().err().map(|e| (i, e.clone())));
    if let Some((i, err)) = first_error {
        let unreadable = is_unreadable(Some(&err));
        conn.settle::<()>(Err(err))
            .or_else(|e| if unreadable { Ok(()) } else { Err(e) })?;
        // Replies are MULTI's, one per command, then EXEC's.
        return Ok(if i <= commands.len() {
            // A command refused while queueing, with an error the gateway cannot read: Redis
            // discards the transaction at EXEC.
            Transaction::Discarded(format!(
                "EXECABORT Transaction discarded because of previous errors: {UNREADABLE}"
            ))
        } else {
            // EXEC ran; its answer cannot be read. Not a 5xx: the commands ran.
            Transaction::Unreadable
        });
    }
    let mut replies: Vec<Value> = replies
        .into_iter()
        .map(|r| r.unwrap_or(Value::Nil))
        .collect();
    Ok(transaction_outcome(&mut replies))
}

/// A transaction's replies (MULTI's, each queueing's, EXEC's) read as what happened.
pub fn transaction_outcome(replies: &mut Vec<Value>) -> Transaction {
    let exec = replies.pop().unwrap_or(Value::Nil);
    let queue_error = replies.drain(..).find_map(|reply| match reply {
        Value::ServerError(err) => Some(crate::reply::error_text(&err)),
        _ => None,
    });
    match (exec, queue_error) {
        (Value::Array(values), None) => Transaction::Executed(values),
        // Redis says EXECABORT; the queueing error says why.
        (_, Some(why)) => Transaction::Discarded(why),
        (Value::ServerError(err), None) => Transaction::Discarded(crate::reply::error_text(&err)),
        (_, None) => Transaction::Discarded("ERR the transaction was aborted".into()),
    }
}
