//! Each `Op` as one Redis command (its reply is read in `replies.rs`).
//!
//! One command per call, so every call is one HTTP request on its own and one entry of a
//! pipeline when calls are batched (`mod.rs`), where the Python original needs two requests for
//! some: `incr` is one script around `INCRBYFLOAT` (it starts a missing key at 0, keeps the
//! expiry, and prints integers without a fraction, so integers stay integers); `getOrSet` with a plain value is one
//! `SET .. NX GET` (Redis 7); `setMany` with a ttl and `touch` without one are small Lua scripts,
//! atomic like MSET, where a MULTI/EXEC transaction could not share a pipeline.

use crate::prelude::*;

use super::json::write_str;
use crate::number::Numbers;
use crate::ops::{Entry, Op};

/// `setMany` with a ttl: every key with the same expiry, in one atomic step (on a Redis Cluster
/// the gateway runs it once per hash slot: its own file, so the gateway can know it).
const SET_MANY_PX: &str = include_str!("lua/set_many_px.lua");

/// The scripts sent by their SHA-1 (EVALSHA), and in full (EVAL) only to a server that answers
/// NOSCRIPT: 40 bytes on the wire instead of hundreds. Each text is built from the files in
/// `lua/` (the gateway builds the same texts, to know them by SHA-1 on a cluster): `live.lua`
/// reads a tagged entry as missing once one of its tags was invalidated, `stamp.lua` reads or
/// bumps a tag's stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// `incr`: INCRBYFLOAT, on a stored value that is a JSON number only (INCRBYFLOAT alone
    /// takes whatever C's strtold takes: `0x10`, `.5`, `+5`), a dead entry counting as missing.
    Incr,
    /// `get`: one key, read through `live`.
    Get,
    /// `getMany`: each key through `live` (split per hash slot by the gateway on a cluster).
    GetMany,
    /// The near tier's read: each key's live value and remaining life (`PTTL`).
    GetWithPttl,
    /// `add` (`ARGV[1]` "add") and `getOrSet` ("get"): stores only when the key is missing or
    /// its entry is dead; with stamp keys after the key, a tagged entry.
    Add,
    /// `set`/`setMany` with tags: `KEYS` = entry keys then stamp keys, `ARGV` = count, ttl in
    /// ms (or ""), values.
    SetTagged,
    /// `invalidateTags`: bumps each stamp key.
    Invalidate,
}

impl Script {
    const ALL: [Script; 7] = [Script::Incr, Script::Get, Script::GetMany, Script::GetWithPttl, Script::Add, Script::SetTagged, Script::Invalidate];

    pub fn text(self) -> &'static str {
        match self {
            Script::Incr => concat!(include_str!("lua/live.lua"), include_str!("lua/incr.lua")),
            Script::Get => concat!(include_str!("lua/live.lua"), include_str!("lua/get.lua")),
            Script::GetMany => concat!(include_str!("lua/live.lua"), include_str!("lua/get_many.lua")),
            Script::GetWithPttl => concat!(include_str!("lua/live.lua"), include_str!("lua/get_with_pttl.lua")),
            Script::Add => concat!(include_str!("lua/live.lua"), include_str!("lua/stamp.lua"), include_str!("lua/add.lua")),
            Script::SetTagged => concat!(include_str!("lua/stamp.lua"), include_str!("lua/set_tagged.lua")),
            Script::Invalidate => concat!(include_str!("lua/stamp.lua"), include_str!("lua/invalidate.lua")),
        }
    }

    /// The SHA-1 of `text` (a test checks each).
    pub fn sha1(self) -> &'static str {
        match self {
            Script::Incr => "190ad57851a9e8327d52534daeb7699b68a7eea0",
            Script::Get => "091323b08b42d6e54557583c497cfeaf43f7d2ff",
            Script::GetMany => "f6f6f9691e7697b7e35efa42b478cbda804beb45",
            Script::GetWithPttl => "333ddf8678e399811fbdedd81486c8628c014efd",
            Script::Add => "83581fedd08bac4bc8a0362eb04a1d423d2b9589",
            Script::SetTagged => "084c916497948da40399ecc971f05c5ce48dae2c",
            Script::Invalidate => "9fbea869fea0d5fceea014c82041f2cb8bfdfa53",
        }
    }

    /// Sent as EVALSHA_RO / EVAL_RO, which read-only tokens may send.
    fn read_only(self) -> bool {
        matches!(self, Script::Get | Script::GetMany | Script::GetWithPttl)
    }

    /// `["EVALSHA", sha1, n, keys..., args...]`, or with `full` the script itself (EVAL).
    pub fn command(self, full: bool, keys: &[String], args: &[&str]) -> String {
        let mut out = self.call(full, keys.len());
        for key in keys {
            append(&mut out, key);
        }
        for arg in args {
            append(&mut out, arg);
        }
        out
    }

    /// `["EVALSHA", sha1, key_count]` (or EVAL with the text), for the keys and arguments to
    /// be appended.
    fn call(self, full: bool, key_count: usize) -> String {
        let count = decimal(key_count as u64);
        let (sha, text) = if self.read_only() { ("EVALSHA_RO", "EVAL_RO") } else { ("EVALSHA", "EVAL") };
        command(&if full { [text, self.text(), &count] } else { [sha, self.sha1(), &count] })
    }

    /// A body that sends one of these scripts by its SHA-1, with the script in full instead:
    /// what to send again when the server answered NOSCRIPT (nothing ran). `None` for others.
    pub fn in_full(body: &str) -> Option<String> {
        let rest = body.strip_prefix(r#"["EVALSHA"#)?;
        let (read_only, rest) = match rest.strip_prefix("_RO") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let rest = rest.strip_prefix(r#"",""#)?;
        let script = Script::ALL.into_iter().find(|s| rest.starts_with(s.sha1()) && s.read_only() == read_only)?;
        let mut out = String::with_capacity(body.len() + script.text().len() + 8);
        out.push_str(if read_only { r#"["EVAL_RO","# } else { r#"["EVAL","# });
        write_str(&mut out, script.text());
        out.push_str(rest.get(41..)?);
        Some(out)
    }
}

/// `getOrSet`'s lock, freed only by the holder whose token it still is.
const UNLOCK: &str = "if redis.call('GET',KEYS[1])==ARGV[1] then return redis.call('DEL',KEYS[1]) end return 0";

/// `touch` to never expire: PERSIST answers 0 for a key that exists without an expiry, and
/// `touch` must answer whether the key exists.
const PERSIST_EXISTING: &str = "if redis.call('EXISTS',KEYS[1])==0 then return 0 end redis.call('PERSIST',KEYS[1]) return 1";

/// `["ARG", ...]`
pub fn command(args: &[&str]) -> String {
    let mut out = String::with_capacity(args.iter().map(|a| a.len() + 3).sum::<usize>() + 2);
    out.push('[');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, arg);
    }
    out.push(']');
    out
}

/// `arg` added at the end of a command made by `command`. (Appending rather than collecting
/// every argument into a list first: each such list was iterator code of its own in the wasm.)
pub fn append(command: &mut String, arg: &str) {
    command.pop(); // the closing bracket
    if command.len() > 1 {
        command.push(',');
    }
    write_str(command, arg);
    command.push(']');
}

/// `[NAME, key, ...]` (MGET, DEL).
pub fn with_keys(name: &str, keys: &[String]) -> String {
    let mut out = command(&[name]);
    for key in keys {
        append(&mut out, key);
    }
    out
}

/// `[[...], [...]]` from commands made by `command`.
pub fn batch<S: AsRef<str>>(commands: &[S]) -> String {
    let mut out = String::with_capacity(commands.iter().map(|c| c.as_ref().len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, c) in commands.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(c.as_ref());
    }
    out.push(']');
    out
}

/// Decimal text of an integer, without core::fmt (see core::error on why).
pub fn decimal(n: u64) -> String {
    let mut unit = 1;
    while n / unit >= 10 {
        unit *= 10;
    }
    let mut text = String::new();
    while unit > 0 {
        text.push((b'0' + (n / unit % 10) as u8) as char);
        unit /= 10;
    }
    text
}

/// The command for every op but `Clear` with a prefix, which walks the keyspace (`mod.rs`).
pub fn plan(op: &Op, numbers: &dyn Numbers) -> String {
    match op {
        Op::Get { key } => command(&["GET", key]),
        Op::Set(Entry { key, value, ttl_ms, stamps }) if stamps.is_empty() => match ttl_ms {
            Some(ms) => command(&["SET", key, value, "PX", &decimal(*ms)]),
            None => command(&["SET", key, value]),
        },
        Op::Set(Entry { key, value, ttl_ms, stamps }) => set_tagged(core::slice::from_ref(key), core::slice::from_ref(value), *ttl_ms, stamps),
        // Over a dead entry too, which SET NX would not.
        Op::Add(Entry { key, value, ttl_ms, stamps }) | Op::GetOrAdd(Entry { key, value, ttl_ms, stamps }) => {
            let mode = if matches!(op, Op::Add(_)) { "add" } else { "get" };
            let mut out = Script::Add.call(false, 1 + stamps.len());
            append(&mut out, key);
            for stamp in stamps {
                append(&mut out, stamp);
            }
            for arg in [mode, value, &ttl_ms.map(decimal).unwrap_or_default()] {
                append(&mut out, arg);
            }
            out
        }
        Op::GetMany { keys } => with_keys("MGET", keys),
        Op::SetMany { keys, values, ttl_ms, stamps } if !stamps.is_empty() => set_tagged(keys, values, *ttl_ms, stamps),
        Op::SetMany { keys, values, ttl_ms: None, .. } => {
            let mut out = command(&["MSET"]);
            for (key, value) in keys.iter().zip(values) {
                append(&mut out, key);
                append(&mut out, value);
            }
            out
        }
        Op::SetMany { keys, values, ttl_ms: Some(ms), .. } => {
            let mut out = command(&["EVAL", SET_MANY_PX, &decimal(keys.len() as u64)]);
            for key in keys {
                append(&mut out, key);
            }
            for value in values {
                append(&mut out, value);
            }
            append(&mut out, &decimal(*ms));
            out
        }
        Op::DeleteMany { keys } => with_keys("DEL", keys),
        Op::Clear { .. } => command(&["FLUSHDB"]),
        Op::Touch { key, ttl_ms: Some(ms) } => command(&["PEXPIRE", key, &decimal(*ms)]),
        Op::Touch { key, ttl_ms: None } => command(&["EVAL", PERSIST_EXISTING, "1", key]),
        Op::Invalidate { stamps } => Script::Invalidate.command(false, stamps, &[]),
        Op::Incr { key, delta } => Script::Incr.command(false, core::slice::from_ref(key), &[&numbers.format(*delta)]),
        Op::Lock { key, token, ttl_ms } => command(&["SET", key, token, "NX", "PX", &decimal(*ttl_ms)]),
        Op::Unlock { key, token } => command(&["EVAL", UNLOCK, "1", key, token]),
        Op::GetExpiring { key } => Script::GetWithPttl.command(false, core::slice::from_ref(key), &[]),
    }
}

/// A read as the script that checks tagged entries' stamps (`GET` -> `Script::Get`, `MGET` ->
/// `Script::GetMany`), for a cache with `tagged`, or again after a plain read met a tagged entry.
/// `None` for any other op.
pub fn plan_checked(op: &Op) -> Option<String> {
    match op {
        Op::Get { key } => Some(Script::Get.command(false, core::slice::from_ref(key), &[])),
        Op::GetMany { keys } => Some(Script::GetMany.command(false, keys, &[])),
        _ => None,
    }
}

/// The checking form of a plain read's body (`["GET",key]`, `["MGET",keys...]`), to send again.
pub fn checked_again(body: &str) -> Option<String> {
    let args = super::json::string_list(body, "")?;
    // `get(1..)` is `None` for an empty list, so `args[0]` is there (slice patterns and
    // `Vec::remove` were more wasm).
    let keys = args.get(1..)?;
    match args[0].as_str() {
        "GET" if keys.len() == 1 => Some(Script::Get.command(false, keys, &[])),
        "MGET" => Some(Script::GetMany.command(false, keys, &[])),
        _ => None,
    }
}

/// `set`/`setMany` with tags: the keys, then the stamp keys; the values after the count and ttl.
fn set_tagged(keys: &[String], values: &[String], ttl_ms: Option<u64>, stamps: &[String]) -> String {
    let mut out = Script::SetTagged.call(false, keys.len() + stamps.len());
    for key in keys {
        append(&mut out, key);
    }
    for stamp in stamps {
        append(&mut out, stamp);
    }
    append(&mut out, &decimal(keys.len() as u64));
    append(&mut out, &ttl_ms.map(decimal).unwrap_or_default());
    for value in values {
        append(&mut out, value);
    }
    out
}

/// A SCAN pattern matching keys that start with `prefix` literally.
pub fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::super::replies::tests::{decoded, s};
    use super::super::replies::script_missing;
    use super::*;
    use crate::error::Code;
    use crate::ops::Outcome;
    use crate::number::StdNumbers;

    fn planned(op: Op) -> String {
        plan(&op, &StdNumbers)
    }

    #[test]
    fn one_command_per_op() {
        assert_eq!(planned(Op::Get { key: s("::k") }), r#"["GET","::k"]"#);
        let checked = plan_checked(&Op::Get { key: s("::k") }).unwrap();
        assert_eq!(checked, r#"["EVALSHA_RO","091323b08b42d6e54557583c497cfeaf43f7d2ff","1","::k"]"#);
        assert_eq!(checked_again(r#"["GET","::k"]"#).as_deref(), Some(checked.as_str()));
        let many = Op::GetMany { keys: vec![s("a"), s("b")] };
        assert_eq!(checked_again(&planned(many.clone())), plan_checked(&many));
        assert_eq!(checked_again(r#"["SET","k","1"]"#), None);
        for not_a_read in ["[]", r#"["GET"]"#, r#"["GET","a","b"]"#, "{}"] {
            assert_eq!(checked_again(not_a_read), None, "{not_a_read}");
        }
        assert_eq!(
            planned(Op::Set(Entry { key: s("k"), value: s(r#"{"a":"b"}"#), ttl_ms: Some(1500), stamps: vec![] })),
            r#"["SET","k","{\"a\":\"b\"}","PX","1500"]"#
        );
        // add and getOrSet store over a dead entry too, which SET NX would not.
        let add = Script::Add.sha1();
        assert_eq!(planned(Op::Add(Entry { key: s("k"), value: s("1"), ttl_ms: None, stamps: vec![] })), format!(r#"["EVALSHA","{add}","1","k","add","1",""]"#));
        let goa = planned(Op::GetOrAdd(Entry { key: s("k"), value: s("1"), ttl_ms: Some(5), stamps: vec![s("p:#tags:t")] }));
        assert_eq!(goa, format!(r#"["EVALSHA","{add}","2","k","p:#tags:t","get","1","5"]"#));
        let tagged = planned(Op::SetMany { keys: vec![s("a"), s("b")], values: vec![s("1"), s("2")], ttl_ms: None, stamps: vec![s("p:#tags:t")] });
        assert_eq!(tagged, format!(r#"["EVALSHA","{}","3","a","b","p:#tags:t","2","","1","2"]"#, Script::SetTagged.sha1()));
        let invalidate = planned(Op::Invalidate { stamps: vec![s("p:#tags:t"), s("p:#tags:u")] });
        assert_eq!(invalidate, format!(r#"["EVALSHA","{}","2","p:#tags:t","p:#tags:u"]"#, Script::Invalidate.sha1()));
        let set_many = planned(Op::SetMany { keys: vec![s("a"), s("b")], values: vec![s("1"), s("2")], ttl_ms: Some(9), stamps: vec![] });
        assert!(set_many.starts_with(r#"["EVAL","#) && set_many.ends_with(r#"","2","a","b","1","2","9"]"#), "{set_many}");
        assert_eq!(planned(Op::SetMany { keys: vec![s("a")], values: vec![s("1")], ttl_ms: None, stamps: vec![] }), r#"["MSET","a","1"]"#);
        let touch = planned(Op::Touch { key: s("k"), ttl_ms: None });
        assert!(touch.starts_with(r#"["EVAL","#) && touch.ends_with(r#"","1","k"]"#), "{touch}");
        assert_eq!(planned(Op::Incr { key: s("k"), delta: -2.5 }), r#"["EVALSHA","190ad57851a9e8327d52534daeb7699b68a7eea0","1","k","-2.5"]"#);
        let eval = Script::Incr.command(true, &[s("k")], &["-2.5"]);
        assert!(eval.starts_with(r#"["EVAL","local function live"#) && eval.ends_with(r#"","1","k","-2.5"]"#), "{eval}");
        assert_eq!(planned(Op::Clear { prefix: None }), r#"["FLUSHDB"]"#);
    }

    #[test]
    fn locks_are_set_nx_with_an_expiry_freed_only_by_their_token() {
        let lock = || Op::Lock { key: s("p:#lock::k"), token: s("t1"), ttl_ms: 2500 };
        assert_eq!(planned(lock()), r#"["SET","p:#lock::k","t1","NX","PX","2500"]"#);
        assert_eq!(decoded(lock(), r#"{"result":"OK"}"#), Ok(Outcome::Bool(true)));
        assert_eq!(decoded(lock(), r#"{"result":null}"#), Ok(Outcome::Bool(false)));
        assert!(!lock().idempotent(), "a repeat would find its own lock taken");
        let unlock = Op::Unlock { key: s("p:#lock::k"), token: s("t1") };
        assert!(planned(unlock.clone()).ends_with(r#"","1","p:#lock::k","t1"]"#));
        assert_eq!(decoded(unlock, r#"{"result":0}"#), Ok(Outcome::Done));
        let expiring = || Op::GetExpiring { key: s("::k") };
        assert_eq!(decoded(expiring(), r#"{"result":["{\"a\":1}",1500]}"#), Ok(Outcome::Json(s(r#"["{\"a\":1}",1500]"#))));
        assert_eq!(decoded(expiring(), r#"{"result":[null,-2]}"#), Ok(Outcome::Json(s("[null,-2]"))));
        assert_eq!(decoded(expiring(), r#"{"result":["1"]}"#).unwrap_err().code(), Some(Code::Protocol));
        for op in [lock(), expiring()] {
            assert_eq!(op.written_keys(), Some(Vec::new()), "no near mark, nothing on the bus");
        }
    }

    // sha1_smol is a host dev-dependency; `wasm-pack test` builds these tests for wasm32 too.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn scripts_are_sent_by_their_sha1_and_in_full_after_noscript() {
        for script in Script::ALL {
            assert_eq!(sha1_smol::Sha1::from(script.text()).digest().to_string(), script.sha1(), "{script:?}");
            let by_sha = script.command(false, &[s("k")], &["1"]);
            let full = Script::in_full(&by_sha).unwrap();
            assert_eq!(full, script.command(true, &[s("k")], &["1"]), "{script:?}");
        }
        assert_eq!(Script::in_full(r#"["EVALSHA","0000000000000000000000000000000000000000","0"]"#), None, "not one of ours");
        assert_eq!(Script::in_full(r#"["GET","k"]"#), None);
        assert!(script_missing(&parse(r#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#).unwrap()));
        assert!(!script_missing(&parse(r#"{"error":"ERR the stored value is not a JSON number"}"#).unwrap()));
        assert!(!script_missing(&parse(r#"{"result":null}"#).unwrap()));
    }

    #[test]
    fn prefix_pattern_escapes_glob_characters() {
        assert_eq!(prefix_pattern("app:"), "app:*");
        assert_eq!(prefix_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
    }

    #[test]
    fn decimal_writes_every_digit() {
        for n in [0, 7, 9, 10, 99, 100, 1_000_000, 9_007_199_254_740_991, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }
}
