//! Turning an HTTP request into Redis commands. Arguments stay raw bytes from here on, so a
//! binary value sent in a path-style POST body or a percent-encoded path reaches Redis unchanged.
//! Anything that is not clearly a command is rejected here with the reason, before a Redis
//! connection is taken.
//!
//! JSON bodies are read straight into [`Command`]s, never into a `serde_json::Value` tree first:
//! a 1 MiB body of `[1,1,1,...]` is half a million JSON values, and as a tree (32 bytes a value),
//! then as one allocation per argument, it took some 50 MB of memory per request. Read straight
//! into one buffer it takes 5 MB, and a value of the wrong kind stops the reading at once, so a
//! deeply nested array is never descended into.

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

use percent_encoding::percent_decode;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

/// One Redis command: its name and arguments, as sent to Redis, all in one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    bytes: Vec<u8>,
    /// Where each argument ends in `bytes`.
    ends: Vec<usize>,
}

impl Command {
    pub fn push(&mut self, arg: &[u8]) {
        self.bytes.extend_from_slice(arg);
        self.ends.push(self.bytes.len());
    }

    /// Adds an argument written by `Display` (a JSON number's decimal text).
    fn push_display(&mut self, arg: impl fmt::Display) {
        // Writing to a Vec cannot fail.
        let _ = write!(self.bytes, "{arg}");
        self.ends.push(self.bytes.len());
    }

    /// How many arguments, the name included.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }

    /// The command's name (the first argument), or nothing.
    pub fn name(&self) -> &[u8] {
        self.get(0).unwrap_or_default()
    }

    /// The name and arguments, in order.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let arg = &self.bytes[start..end];
            start = end;
            arg
        })
    }

    /// The size of all arguments together.
    pub fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

impl<A: AsRef<[u8]>> FromIterator<A> for Command {
    fn from_iter<I: IntoIterator<Item = A>>(args: I) -> Self {
        let mut command = Command::default();
        for arg in args {
            command.push(arg.as_ref());
        }
        command
    }
}

/// Why a request could not be turned into commands (answered with 400).
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

/// `["SET","foo","bar","EX",100]`: one command as a JSON array of strings and numbers.
pub fn parse_command(body: &[u8]) -> Result<Command, BadRequest> {
    let command = parse_json(body, CommandSeed)?;
    check_name(command)
}

/// `[["SET","foo","bar"],["GET","foo"]]`: the body of /pipeline and /multi-exec.
pub fn parse_commands(body: &[u8], max: usize) -> Result<Vec<Command>, BadRequest> {
    let commands = parse_json(body, CommandsSeed { max })?;
    if commands.is_empty() {
        return Err(bad("ERR no commands: the body is an empty array"));
    }
    commands.into_iter().map(check_name).collect()
}

/// `/set/foo/bar?EX=100`: the command from URL path segments (percent-decoded), then a non-empty
/// body as one more argument, then each query parameter other than `_token` as `KEY VALUE`
/// (a parameter without `=` adds only its key). A trailing slash adds no empty argument.
pub fn path_command(path: &str, body: &[u8], query: Option<&str>) -> Result<Command, BadRequest> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut command = Command::default();
    for segment in path.split('/') {
        command.push(&Cow::from(percent_decode(segment.as_bytes())));
    }
    if !body.is_empty() {
        command.push(body);
    }
    for (key, value) in query.map(query_pairs).unwrap_or_default() {
        if key == b"_token" {
            continue;
        }
        command.push(&key);
        if let Some(value) = value {
            command.push(&value);
        }
    }
    check_name(command)
}

/// Query-string pairs, form-decoded (`+` is a space, `%XX` a byte). The value is `None` when the
/// parameter has no `=`.
pub fn query_pairs(query: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    fn decode(part: &str) -> Vec<u8> {
        let spaced: Vec<u8> = part
            .bytes()
            .map(|b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_decode(&spaced).collect()
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (decode(key), Some(decode(value))),
            None => (decode(pair), None),
        })
        .collect()
}

fn parse_json<T>(
    body: &[u8],
    seed: impl for<'de> DeserializeSeed<'de, Value = T>,
) -> Result<T, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("ERR empty body: expected a JSON array"));
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    seed.deserialize(&mut reader)
        .and_then(|value| reader.end().map(|()| value))
        .map_err(|e| match e.classify() {
            // A value of the wrong kind: the message says which and where.
            serde_json::error::Category::Data => BadRequest(format!("ERR {e}")),
            _ => BadRequest(format!("ERR the body is not valid JSON: {e}")),
        })
}

const COMMAND_SHAPE: &str = "a command as a JSON array like [\"GET\",\"key\"]";

/// Reads one command: a JSON array of strings and numbers.
struct CommandSeed;

impl<'de> DeserializeSeed<'de> for CommandSeed {
    type Value = Command;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Command, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CommandSeed {
    type Value = Command;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(COMMAND_SHAPE)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
        let mut command = Command::default();
        loop {
            let index = command.len();
            if seq
                .next_element_seed(ArgSeed {
                    command: &mut command,
                    index,
                })?
                .is_none()
            {
                return Ok(command);
            }
        }
    }
}

/// Reads one argument, a JSON string, number or boolean, onto the end of `command`.
struct ArgSeed<'a> {
    command: &'a mut Command,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for ArgSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArgSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "argument {} to be a JSON string, number or boolean",
            self.index
        )
    }

    // As Upstash takes them (@upstash/redis sends them): their JSON text. Not as a name.
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        if self.index == 0 {
            return Err(E::invalid_type(de::Unexpected::Bool(b), &self));
        }
        self.command.push(if b { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.command.push(s.as_bytes());
        Ok(())
    }

    // Numbers as Redis reads numbers: integers as they are, other numbers in plain decimal
    // notation (Rust's shortest round-trip form, never an exponent: `1e3` is sent as `1000`).
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.command.push_display(n);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.command.push_display(n);
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        // serde_json only makes finite f64s.
        self.command.push_display(n);
        Ok(())
    }
}

/// Reads the commands of a pipeline or transaction, stopping at the first one past `max`
/// (the rest of the body is not read).
struct CommandsSeed {
    max: usize,
}

impl<'de> DeserializeSeed<'de> for CommandsSeed {
    type Value = Vec<Command>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CommandsSeed {
    type Value = Vec<Command>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of commands, each a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut commands = Vec::new();
        while let Some(command) = seq.next_element_seed(CommandSeed)? {
            if commands.len() == self.max {
                return Err(de::Error::custom(format_args!(
                    "too many commands in one request, the limit is {}",
                    self.max
                )));
            }
            commands.push(command);
        }
        Ok(commands)
    }
}

/// A command needs a name, and a name is printable ASCII: anything else is no Redis command, so
/// it is refused here rather than sent to Redis to be refused there.
fn check_name(command: Command) -> Result<Command, BadRequest> {
    let name = command.name();
    if name.is_empty() {
        return Err(bad("ERR empty command"));
    }
    if !name.iter().all(u8::is_ascii_graphic) {
        return Err(bad(
            "ERR invalid command name: a name is printable ASCII without spaces",
        ));
    }
    Ok(command)
}

fn bad(message: &str) -> BadRequest {
    BadRequest(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cmd: &Command) -> Vec<String> {
        cmd.args()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn json_command_with_numbers() {
        let cmd = parse_command(br#"["SET","k","v","EX",100]"#).unwrap();
        assert_eq!(strings(&cmd), ["SET", "k", "v", "EX", "100"]);
        let cmd = parse_command(br#"["INCRBYFLOAT","k",1.5,-2,1e3,18446744073709551615]"#).unwrap();
        assert_eq!(
            strings(&cmd),
            [
                "INCRBYFLOAT",
                "k",
                "1.5",
                "-2",
                "1000",
                "18446744073709551615"
            ]
        );
    }

    #[test]
    fn booleans_as_upstash_takes_them() {
        let cmd = parse_command(br#"["HSET","h","f",false,"g",true]"#).unwrap();
        assert_eq!(strings(&cmd), ["HSET", "h", "f", "false", "g", "true"]);
    }

    #[test]
    fn json_command_rejects() {
        for body in [
            &br#"["SET","k",{"a":1}]"#[..],
            br#"["SET","k",["x"]]"#,
            br#"["SET","k",null]"#,
            br#"[]"#,
            br#"[""]"#,
            br#"{"cmd":"GET"}"#,
            br#""GET""#,
            b"",
            b"  ",
            b"[\"GET\"",
            b"\xff\xfe",
        ] {
            assert!(
                parse_command(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn pipeline_limits() {
        assert_eq!(
            parse_commands(br#"[["PING"],["GET","a"]]"#, 2)
                .unwrap()
                .len(),
            2
        );
        assert!(parse_commands(br#"[["PING"],["GET","a"]]"#, 1).is_err());
        assert!(parse_commands(br#"[]"#, 10).is_err());
        assert!(parse_commands(br#"["PING"]"#, 10).is_err());
        assert!(parse_commands(br#"[["PING"],[]]"#, 10).is_err());
    }

    #[test]
    fn path_style() {
        let cmd = path_command("/set/foo/bar", b"", Some("EX=100&_token=t")).unwrap();
        assert_eq!(strings(&cmd), ["set", "foo", "bar", "EX", "100"]);
        let cmd = path_command("/set/foo", b"body value", Some("NX&EX=5")).unwrap();
        assert_eq!(strings(&cmd), ["set", "foo", "body value", "NX", "EX", "5"]);
        let cmd = path_command("/set/a%2Fb/x%20y+z/", b"", Some("k=a+b%26")).unwrap();
        assert_eq!(strings(&cmd), ["set", "a/b", "x y+z", "k", "a b&"]);
        let cmd = path_command("/get/%FF", b"", None).unwrap();
        assert_eq!(cmd.get(1), Some(&[0xff][..]));
        let cmd = path_command("/set//v", b"", None).unwrap();
        assert_eq!(strings(&cmd), ["set", "", "v"]);
        assert!(path_command("//get", b"", None).is_err());
        assert!(path_command("/%00get", b"", None).is_err());
        assert!(path_command("/g%20et", b"", None).is_err());
        assert!(path_command("/%C3%A9", b"", None).is_err());
    }

    #[test]
    fn names_and_messages() {
        assert_eq!(
            strings(&parse_command(br#"["JSON.GET","k","$"]"#).unwrap()),
            ["JSON.GET", "k", "$"]
        );
        for body in [
            &br#"["GE T"]"#[..],
            br#"["\u0000"]"#,
            "[\"\u{e9}\"]".as_bytes(),
        ] {
            let err = parse_command(body).unwrap_err();
            assert!(err.0.contains("invalid command name"), "{}", err.0);
        }
        let err = parse_command(br#"["SET","k",{"a":1}]"#).unwrap_err();
        assert!(err.0.contains("argument 2"), "{}", err.0);
        let err = parse_command(b"[\"GET\"").unwrap_err();
        assert!(err.0.contains("not valid JSON"), "{}", err.0);
        let err = parse_commands(br#"[["PING"],["PING"],["PING"]]"#, 2).unwrap_err();
        assert!(err.0.contains("the limit is 2"), "{}", err.0);
    }
}

#[cfg(test)]
mod properties;
