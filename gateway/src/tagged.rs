//! Tags on a Redis Cluster: the edge-caches client's tag scripts, run by the gateway across
//! slots. A tagged entry names its tags' stamp keys inside its value (`#tags[[key, stamp]...]`
//! then the JSON text), and those keys live in other slots, so on a cluster the scripts cannot
//! run on one node: a tagged write's script is refused (CROSSSLOT), and a read meeting a tagged
//! entry fails ("non local key"). Here each becomes what it does, step by step, with the same
//! reply: reads fetch the entries, then their stamps (an invalidation between the two makes the
//! entry read as missing, as it would just after); writes get or create the stamps, then write
//! each entry (an invalidation between the two kills the entry, never revives one). Not atomic
//! across slots, as nothing on a cluster is.

use futures_util::future::join_all;
use redis::{Cmd, RedisError, Value};

use crate::client_scripts::{self, ClientScript, ScriptCall};
use crate::cluster::Cluster;
use crate::request::Command;

/// A tagged value's stamps (key, stamp) and where its text starts.
type Header = (usize, Vec<(String, String)>);

/// Which tag script `command` runs (by its SHA-1 or its text), with its keys and arguments.
pub fn identify(command: &Command) -> Option<(ClientScript, ScriptCall<'_>)> {
    let call = ScriptCall::parse(command)?;
    Some((call.client_script()?, call))
}

/// Whether a reply says a script could not run on one node: its keys span slots, or it read a
/// key (a stamp) of another slot.
pub fn needs_steps(result: &Result<Value, RedisError>) -> bool {
    let Err(e) = result else { return false };
    let text = crate::reply::failure_text(e);
    text.starts_with("CROSSSLOT") || text.contains("non local key")
}

/// Runs `kind` as steps (see the module's comment), with the reply its script gives.
pub async fn run(
    cluster: &Cluster,
    kind: ClientScript,
    keys: &[&[u8]],
    argv: &[&[u8]],
) -> Result<Value, RedisError> {
    match kind {
        ClientScript::Get => {
            let raw = cluster.send(true, cmd("GET", keys)).await?;
            Ok(or_nil(
                live(cluster, vec![bytes(raw)]).await?.pop().flatten(),
            ))
        }
        ClientScript::GetMany => {
            let raws = match cluster.send(true, cmd("MGET", keys)).await? {
                Value::Array(values) => values.into_iter().map(bytes).collect(),
                other => return Ok(other),
            };
            let values = live(cluster, raws).await?;
            Ok(Value::Array(values.into_iter().map(or_nil).collect()))
        }
        ClientScript::GetWithPttl => {
            let reads = join_all(keys.iter().map(|key| async move {
                let value = cluster.send(true, cmd("GET", &[*key])).await?;
                let pttl = cluster.send(true, cmd("PTTL", &[*key])).await?;
                Ok::<_, RedisError>((bytes(value), pttl))
            }))
            .await;
            let mut raws = Vec::with_capacity(keys.len());
            let mut pttls = Vec::with_capacity(keys.len());
            for read in reads {
                let (raw, pttl) = read?;
                raws.push(raw);
                pttls.push(pttl);
            }
            let values = live(cluster, raws).await?;
            let mut out = Vec::with_capacity(2 * keys.len());
            for (value, pttl) in values.into_iter().zip(pttls) {
                out.push(or_nil(value));
                out.push(pttl);
            }
            Ok(Value::Array(out))
        }
        ClientScript::Invalidate => {
            let bumps = join_all(
                keys.iter()
                    .map(|key| cluster.send(false, stamp_cmd(key, true))),
            )
            .await;
            for bump in bumps {
                bump?;
            }
            Ok(Value::Int(keys.len() as i64))
        }
        ClientScript::SetTagged => {
            let count: usize = argv
                .first()
                .and_then(|a| std::str::from_utf8(a).ok())
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            let (entries, stamps) = keys.split_at(count.min(keys.len()));
            let header = header(cluster, stamps).await?;
            let ttl = argv.get(1).copied().unwrap_or_default();
            let writes = join_all(entries.iter().enumerate().map(|(i, key)| {
                let mut value = header.clone();
                value.extend_from_slice(argv.get(2 + i).copied().unwrap_or_default());
                cluster.send(false, put(key, &value, ttl))
            }))
            .await;
            for write in writes {
                write?;
            }
            Ok(Value::Int(count as i64))
        }
        ClientScript::Add => {
            let (mode, value, ttl) = (
                argv.first().copied().unwrap_or_default(),
                argv.get(1).copied().unwrap_or_default(),
                argv.get(2).copied().unwrap_or_default(),
            );
            let get = mode == b"get";
            let raw = bytes(cluster.send(true, cmd("GET", &keys[..1])).await?);
            if let Some(existing) = live(cluster, vec![raw.clone()]).await?.pop().flatten() {
                return Ok(if get {
                    Value::BulkString(existing)
                } else {
                    Value::Nil
                });
            }
            let mut stored = header(cluster, &keys[1..]).await?;
            stored.extend_from_slice(value);
            // Stored only over what was read (missing, or dead): another writer's value wins.
            let mut swap = redis::cmd("EVAL");
            swap.arg(SWAP)
                .arg(1)
                .arg(keys[0])
                .arg(raw.as_deref().unwrap_or_default())
                .arg(u8::from(raw.is_some()))
                .arg(&stored)
                .arg(ttl);
            match cluster.send(false, swap).await? {
                Value::Int(1) => Ok(if get {
                    Value::Nil
                } else {
                    Value::BulkString(b"OK".to_vec())
                }),
                // Another writer stored it meanwhile: as if it had been there.
                _ if get => Ok(or_nil(
                    live(
                        cluster,
                        vec![bytes(cluster.send(true, cmd("GET", &keys[..1])).await?)],
                    )
                    .await?
                    .pop()
                    .flatten(),
                )),
                _ => Ok(Value::Nil),
            }
        }
        ClientScript::Incr => {
            let raw = bytes(cluster.send(true, cmd("GET", &keys[..1])).await?);
            if raw.as_deref().is_some_and(tagged) {
                if live(cluster, vec![raw]).await?.pop().flatten().is_some() {
                    let mut refuse = redis::cmd("EVAL");
                    refuse.arg("return redis.error_reply(ARGV[1])").arg(0).arg(
                        "ERR the stored value is not a JSON number (it was written with tags)",
                    );
                    return cluster.send(true, refuse).await;
                }
                // A dead entry counts as missing: gone, the script starts from 0.
                cluster.send(false, cmd("DEL", &keys[..1])).await?;
            }
            let mut incr = redis::cmd("EVAL");
            incr.arg(client_scripts::INCR).arg(1).arg(keys[0]);
            for arg in argv {
                incr.arg(*arg);
            }
            cluster.send(false, incr).await
        }
    }
}

/// SET the key to ARGV[3] (with PX ARGV[4] unless it is empty) only if it still holds what was
/// read: ARGV[1] when ARGV[2] is 1, else nothing.
const SWAP: &str = "local v=redis.call('GET',KEYS[1]) if (ARGV[2]=='1' and v~=ARGV[1]) or (ARGV[2]=='0' and v) then return 0 end if ARGV[4]=='' then redis.call('SET',KEYS[1],ARGV[3]) else redis.call('SET',KEYS[1],ARGV[3],'PX',ARGV[4]) end return 1";

fn cmd(name: &str, keys: &[&[u8]]) -> Cmd {
    let mut cmd = redis::cmd(name);
    for key in keys {
        cmd.arg(*key);
    }
    cmd
}

/// A stamp got (or made, the client's way), or with `bump` raised: the client's stamp.lua.
fn stamp_cmd(key: &[u8], bump: bool) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    let text = if bump {
        client_scripts::STAMP_BUMP
    } else {
        client_scripts::STAMP_GET
    };
    cmd.arg(text).arg(1).arg(key);
    cmd
}

fn put(key: &[u8], value: &[u8], ttl: &[u8]) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if !ttl.is_empty() {
        cmd.arg("PX").arg(ttl);
    }
    cmd
}

/// `#tags[["stamp key","stamp"],...]\n` for these stamp keys (got or made), or nothing for none.
async fn header(cluster: &Cluster, stamps: &[&[u8]]) -> Result<Vec<u8>, RedisError> {
    if stamps.is_empty() {
        return Ok(Vec::new());
    }
    let got = join_all(
        stamps
            .iter()
            .map(|key| cluster.send(false, stamp_cmd(key, false))),
    )
    .await;
    let mut pairs = Vec::with_capacity(stamps.len());
    for (key, stamp) in stamps.iter().zip(got) {
        let stamp = bytes(stamp?).unwrap_or_default();
        pairs.push((
            String::from_utf8_lossy(key).into_owned(),
            String::from_utf8_lossy(&stamp).into_owned(),
        ));
    }
    let mut out = b"#tags".to_vec();
    out.extend_from_slice(serde_json::to_string(&pairs).unwrap_or_default().as_bytes());
    out.push(b'\n');
    Ok(out)
}

fn tagged(raw: &[u8]) -> bool {
    raw.starts_with(b"#tags[")
}

/// What the client's `live` makes of each raw value: an untagged one as it is, a tagged one's
/// text when every stamp it names is still what it was, else `None`. The stamps of all of them
/// are read in one MGET (split per slot by the redis crate).
async fn live(
    cluster: &Cluster,
    raws: Vec<Option<Vec<u8>>>,
) -> Result<Vec<Option<Vec<u8>>>, RedisError> {
    let headers: Vec<Option<Header>> = raws
        .iter()
        .map(|raw| raw.as_deref().filter(|r| tagged(r)).and_then(parse_header))
        .collect();
    let keys: Vec<&str> = headers
        .iter()
        .flatten()
        .flat_map(|(_, pairs)| pairs.iter().map(|(key, _)| key.as_str()))
        .collect();
    let stamps: Vec<Option<Vec<u8>>> = if keys.is_empty() {
        Vec::new()
    } else {
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        match cluster.send(true, cmd("MGET", &keys)).await? {
            Value::Array(values) => values.into_iter().map(bytes).collect(),
            _ => Vec::new(),
        }
    };
    let mut next = stamps.into_iter();
    Ok(raws
        .into_iter()
        .zip(headers)
        .map(|(raw, header)| match header {
            None => raw,
            Some((body, pairs)) => {
                let mut alive = true;
                for (_, stamp) in &pairs {
                    alive &= next.next().flatten().as_deref() == Some(stamp.as_bytes());
                }
                raw.filter(|_| alive).map(|r| r[body..].to_vec())
            }
        })
        .collect())
}

/// A tagged value's stamps and where its text starts, as `live` reads them; `None` (the value as
/// it is) without the newline, or with a header that is not the list of pairs.
fn parse_header(raw: &[u8]) -> Option<Header> {
    let end = raw.iter().skip(6).position(|&b| b == b'\n')? + 6;
    let pairs: Vec<(String, String)> = serde_json::from_slice(&raw[5..end]).ok()?;
    Some((end + 1, pairs))
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

fn or_nil(value: Option<Vec<u8>>) -> Value {
    value.map_or(Value::Nil, Value::BulkString)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_as_live_reads_them() {
        let raw = b"#tags[[\"app:#tags:a\",\"17\"],[\"app:#tags:b\",\"5\"]]\n{\"x\":1}";
        let (body, pairs) = parse_header(raw).unwrap();
        assert_eq!(&raw[body..], b"{\"x\":1}");
        assert_eq!(
            pairs,
            vec![
                ("app:#tags:a".to_owned(), "17".to_owned()),
                ("app:#tags:b".to_owned(), "5".to_owned())
            ]
        );
        assert_eq!(parse_header(b"#tags[no newline"), None);
        assert_eq!(parse_header(b"#tags[1]\nx"), None, "not pairs");
    }

    #[test]
    fn the_client_scripts_are_known_by_sha1_and_text() {
        let mut command = Command::default();
        for arg in [
            "EVALSHA",
            &client_scripts::sha1(client_scripts::SET_TAGGED),
            "2",
            "k",
            "app:#tags:t",
            "1",
            "",
            "v",
        ] {
            command.push(arg.as_bytes());
        }
        let (kind, call) = identify(&command).unwrap();
        assert_eq!(kind, ClientScript::SetTagged);
        assert_eq!(call.keys, vec![b"k".as_slice(), b"app:#tags:t"]);
        assert_eq!(call.argv.len(), 3);
        let mut other = Command::default();
        for arg in ["EVAL", "return 1", "0"] {
            other.push(arg.as_bytes());
        }
        assert!(identify(&other).is_none());
    }
}
