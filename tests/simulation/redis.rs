//! A model of Redis as the REST protocol serves it: strings with expiries, and the semantics of
//! every command and script the client sends (read from the same Lua files, recognised by text
//! or SHA-1). Each command that runs gets the next sequence number, and `history` records, per
//! key of interest, each change of what a read would see (a live value or nothing).

use std::collections::BTreeMap;

use edge_caches::backend::rest::commands::Script;
use edge_caches::backend::rest::json::{self, Json};

const SET_MANY_PX: &str = include_str!("../../src/backend/rest/lua/set_many_px.lua");
const SCRIPTS: [Script; 7] = [Script::Incr, Script::Get, Script::GetMany, Script::GetWithPttl, Script::Add, Script::SetTagged, Script::Invalidate];

/// A reply, as the protocol writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Nil,
    Int(i64),
    Str(String),
    Arr(Vec<Reply>),
}

impl Reply {
    pub fn write(&self, out: &mut String) {
        match self {
            Reply::Nil => out.push_str("null"),
            Reply::Int(n) => out.push_str(&n.to_string()),
            Reply::Str(s) => json::write_str(out, s),
            Reply::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
        }
    }
}

fn ok() -> Reply {
    Reply::Str("OK".into())
}

pub struct Redis {
    data: BTreeMap<String, (String, Option<f64>)>,
    loaded: Vec<&'static str>,
    /// The number of the last command that ran.
    pub seq: u64,
    /// Per watched key: (seq, what a read sees) at each change, oldest first.
    pub history: BTreeMap<String, Vec<(u64, Option<String>)>>,
    /// PUBLISHed messages not yet handed out: (channel, message).
    pub published: Vec<(String, String)>,
}

impl Redis {
    pub fn new(watched: &[String]) -> Redis {
        let history = watched.iter().map(|k| (k.clone(), vec![(0, None)])).collect();
        Redis { data: BTreeMap::new(), loaded: Vec::new(), seq: 0, history, published: Vec::new() }
    }

    pub fn flush_scripts(&mut self) {
        self.loaded.clear();
    }

    /// Runs one command at `now` (ms): its reply, or its error text.
    pub fn run(&mut self, args: &[String], now: f64) -> Result<Reply, String> {
        self.expire(now);
        let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
        // NOSCRIPT runs nothing, and takes no number.
        if name.starts_with("EVALSHA") {
            let sha = args.get(1).cloned().unwrap_or_default();
            let Some(script) = SCRIPTS.into_iter().find(|s| s.sha1() == sha && self.loaded.contains(&s.sha1())) else {
                return Err("NOSCRIPT No matching script. Please use EVAL.".into());
            };
            let reply = self.script(script, &args[2..], now);
            return self.ran(reply, now);
        }
        let reply = self.command(&name, args, now);
        self.ran(reply, now)
    }

    fn ran(&mut self, reply: Result<Reply, String>, now: f64) -> Result<Reply, String> {
        self.seq += 1;
        let keys: Vec<String> = self.history.keys().cloned().collect();
        for key in keys {
            let seen = self.live_value(&key, now);
            let history = self.history.get_mut(&key).expect("watched");
            if history.last().map(|(_, v)| v) != Some(&seen) {
                history.push((self.seq, seen));
            }
        }
        reply
    }

    fn expire(&mut self, now: f64) {
        self.data.retain(|_, (_, expiry)| expiry.is_none_or(|at| at > now));
    }

    fn get(&self, key: &str) -> Option<String> {
        self.data.get(key).map(|(v, _)| v.clone())
    }

    fn set(&mut self, key: &str, value: String, px: Option<f64>, now: f64) {
        self.data.insert(key.to_owned(), (value, px.map(|ms| now + ms)));
    }

    /// What a read sees for `key`: its value, unless it is a tagged entry one of whose tags was
    /// invalidated since (`live.lua`).
    pub fn live_value(&self, key: &str, now: f64) -> Option<String> {
        let (value, expiry) = self.data.get(key)?;
        if expiry.is_some_and(|at| at <= now) {
            return None;
        }
        self.live(value.clone())
    }

    fn live(&self, value: String) -> Option<String> {
        let Some(rest) = value.strip_prefix("#tags[") else { return Some(value) };
        let Some(n) = rest.find('\n') else { return Some(value) };
        let header = &value[5..6 + n];
        let Some(Json::Array(pairs)) = json::parse(header) else { return Some(value) };
        for pair in pairs {
            let Json::Array(pair) = pair else { return None };
            let (Some(Json::Str(stamp_key)), Some(Json::Str(stamp))) = (pair.first(), pair.get(1)) else { return None };
            if self.get(&stamp_key.text()) != Some(stamp.text()) {
                return None;
            }
        }
        Some(value[6 + n + 1..].to_owned())
    }

    fn stamp(&mut self, key: &str, bump: bool, now: f64) -> String {
        let old = self.get(key);
        if let (Some(s), false) = (&old, bump) {
            return s.clone();
        }
        let next = old.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) + 1;
        let stamp = next.max((now * 1000.0) as u64).to_string();
        self.set(key, stamp.clone(), None, now);
        stamp
    }

    fn header(&mut self, stamps: &[String], now: f64) -> String {
        let mut pairs = Vec::new();
        for key in stamps {
            let stamp = self.stamp(key, false, now);
            let mut pair = String::from("[");
            json::write_str(&mut pair, key);
            pair.push(',');
            json::write_str(&mut pair, &stamp);
            pair.push(']');
            pairs.push(pair);
        }
        format!("#tags[{}]\n", pairs.join(","))
    }

    fn put(&mut self, key: &str, value: String, px: &str, now: f64) {
        let px = if px.is_empty() { None } else { px.parse::<f64>().ok() };
        self.set(key, value, px, now);
    }

    fn pttl(&self, key: &str, now: f64) -> i64 {
        match self.data.get(key) {
            None => -2,
            Some((_, None)) => -1,
            Some((_, Some(at))) => (at - now).ceil() as i64,
        }
    }

    fn command(&mut self, name: &str, args: &[String], now: f64) -> Result<Reply, String> {
        let arg = |i: usize| args.get(i).cloned().ok_or_else(|| "ERR wrong number of arguments".to_owned());
        match name {
            "GET" => Ok(self.get(&arg(1)?).map_or(Reply::Nil, Reply::Str)),
            "SET" => {
                let px = match args.get(3).map(String::as_str) {
                    Some("PX") => Some(arg(4)?.parse::<f64>().map_err(|e| e.to_string())?),
                    _ => None,
                };
                self.set(&arg(1)?, arg(2)?, px, now);
                Ok(ok())
            }
            "MGET" => Ok(Reply::Arr(args[1..].iter().map(|k| self.get(k).map_or(Reply::Nil, Reply::Str)).collect())),
            "MSET" => {
                for pair in args[1..].chunks(2) {
                    self.set(&pair[0], pair[1].clone(), None, now);
                }
                Ok(ok())
            }
            "DEL" => Ok(Reply::Int(args[1..].iter().filter(|k| self.data.remove(k.as_str()).is_some()).count() as i64)),
            "FLUSHDB" => {
                self.data.clear();
                Ok(ok())
            }
            "SCAN" => {
                // Everything at once: "app\\:*" and the like, unescaped.
                let pattern = arg(3)?;
                let prefix = pattern.trim_end_matches('*').replace('\\', "");
                let keys = self.data.keys().filter(|k| k.starts_with(&prefix)).map(|k| Reply::Str(k.clone())).collect();
                Ok(Reply::Arr(vec![Reply::Str("0".into()), Reply::Arr(keys)]))
            }
            "PEXPIRE" => {
                let key = arg(1)?;
                let ms = arg(2)?.parse::<f64>().map_err(|e| e.to_string())?;
                Ok(Reply::Int(match self.data.get_mut(&key) {
                    Some((_, expiry)) => {
                        *expiry = Some(now + ms);
                        1
                    }
                    None => 0,
                }))
            }
            "PUBLISH" => {
                self.published.push((arg(1)?, arg(2)?));
                Ok(Reply::Int(1))
            }
            "EVAL" | "EVAL_RO" => {
                let text = arg(1)?;
                if let Some(script) = SCRIPTS.into_iter().find(|s| s.text() == text) {
                    self.loaded.push(script.sha1());
                    return self.script(script, &args[2..], now);
                }
                let count: usize = arg(2)?.parse().map_err(|_| "ERR bad key count".to_owned())?;
                let (keys, argv) = args[3..].split_at(count.min(args.len() - 3));
                if text == SET_MANY_PX {
                    let px = argv.last().cloned().unwrap_or_default();
                    for (key, value) in keys.iter().zip(argv) {
                        self.put(key, value.clone(), &px, now);
                    }
                    return Ok(Reply::Int(keys.len() as i64));
                }
                if text.starts_with("if redis.call('EXISTS'") {
                    // touch without a ttl: PERSIST an existing key.
                    return Ok(Reply::Int(match self.data.get_mut(&keys[0]) {
                        Some((_, expiry)) => {
                            *expiry = None;
                            1
                        }
                        None => 0,
                    }));
                }
                Err(format!("ERR unknown script {text}"))
            }
            other => Err(format!("ERR unknown command '{other}'")),
        }
    }

    /// `args`: the key count, the keys, the arguments.
    fn script(&mut self, script: Script, args: &[String], now: f64) -> Result<Reply, String> {
        let count: usize = args.first().and_then(|c| c.parse().ok()).ok_or("ERR bad key count")?;
        let keys: Vec<String> = args[1..1 + count].to_vec();
        let argv: Vec<String> = args[1 + count..].to_vec();
        let live = |r: &Redis, k: &str| r.get(k).and_then(|v| r.live(v)).map_or(Reply::Nil, Reply::Str);
        match script {
            Script::Get => Ok(live(self, &keys[0])),
            Script::GetMany => Ok(Reply::Arr(keys.iter().map(|k| live(self, k)).collect())),
            Script::GetWithPttl => {
                let mut out = Vec::new();
                for k in &keys {
                    out.push(live(self, k));
                    out.push(Reply::Int(self.pttl(k, now)));
                }
                Ok(Reply::Arr(out))
            }
            Script::Add => {
                let mode = argv[0].as_str();
                if let Reply::Str(v) = live(self, &keys[0]) {
                    return Ok(if mode == "get" { Reply::Str(v) } else { Reply::Nil });
                }
                let header = if keys.len() > 1 { self.header(&keys[1..], now) } else { String::new() };
                self.put(&keys[0], header + &argv[1], &argv[2], now);
                Ok(if mode == "get" { Reply::Nil } else { ok() })
            }
            Script::SetTagged => {
                let n: usize = argv[0].parse().map_err(|_| "ERR bad count")?;
                let header = self.header(&keys[n..], now);
                for i in 0..n {
                    self.put(&keys[i], header.clone() + &argv[i + 2], &argv[1], now);
                }
                Ok(Reply::Int(n as i64))
            }
            Script::Invalidate => {
                for k in &keys {
                    self.stamp(k, true, now);
                }
                Ok(Reply::Int(keys.len() as i64))
            }
            Script::Incr => {
                let raw = self.get(&keys[0]);
                let value = raw.clone().and_then(|v| self.live(v));
                if raw.is_some() && value.is_none() {
                    self.data.remove(&keys[0]);
                }
                let old = match value {
                    Some(v) if Some(&v) != raw.as_ref() => return Err("ERR the stored value is not a JSON number (it was written with tags)".into()),
                    Some(v) => v.parse::<f64>().map_err(|_| "ERR the stored value is not a JSON number".to_owned())?,
                    None => 0.0,
                };
                let delta: f64 = argv[0].parse().map_err(|_| "ERR value is not a valid float")?;
                let new = format!("{}", old + delta);
                let expiry = self.data.get(&keys[0]).and_then(|(_, e)| *e);
                self.data.insert(keys[0].clone(), (new.clone(), expiry));
                Ok(Reply::Str(new))
            }
        }
    }
}
