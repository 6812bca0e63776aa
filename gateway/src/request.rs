//! Turning an HTTP request into Redis commands. Arguments stay raw bytes from here on, so a
//! binary value sent in a path-style POST body or a percent-encoded path reaches Redis unchanged.
//! Anything that is not clearly a command is rejected here with the reason, before a Redis
//! connection is taken.

use percent_encoding::percent_decode;
use serde_json::Value as Json;

/// One Redis command: its name and arguments, as sent to Redis.
pub type Command = Vec<Vec<u8>>;

/// Why a request could not be turned into commands (answered with 400).
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

/// `["SET","foo","bar","EX",100]`: one command as a JSON array of strings and numbers.
pub fn parse_command(body: &[u8]) -> Result<Command, BadRequest> {
    let json = parse_json(body)?;
    command_from_json(json)
}

/// `[["SET","foo","bar"],["GET","foo"]]`: the body of /pipeline and /multi-exec.
pub fn parse_commands(body: &[u8], max: usize) -> Result<Vec<Command>, BadRequest> {
    let Json::Array(items) = parse_json(body)? else {
        return Err(bad(
            "ERR the body must be a JSON array of commands, each a JSON array",
        ));
    };
    if items.is_empty() {
        return Err(bad("ERR no commands: the body is an empty array"));
    }
    if items.len() > max {
        return Err(BadRequest(format!(
            "ERR too many commands: {} in one request, the limit is {max}",
            items.len()
        )));
    }
    items.into_iter().map(command_from_json).collect()
}

/// `/set/foo/bar?EX=100`: the command from URL path segments (percent-decoded), then a non-empty
/// body as one more argument, then each query parameter other than `_token` as `KEY VALUE`
/// (a parameter without `=` adds only its key). A trailing slash adds no empty argument.
pub fn path_command(path: &str, body: &[u8], query: Option<&str>) -> Result<Command, BadRequest> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut args: Command = path
        .split('/')
        .map(|segment| percent_decode(segment.as_bytes()).collect())
        .collect();
    if !body.is_empty() {
        args.push(body.to_vec());
    }
    for (key, value) in query.map(query_pairs).unwrap_or_default() {
        if key == b"_token" {
            continue;
        }
        args.push(key);
        if let Some(value) = value {
            args.push(value);
        }
    }
    check_name(args)
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

fn parse_json(body: &[u8]) -> Result<Json, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad("ERR empty body: expected a JSON array"));
    }
    serde_json::from_slice(body)
        .map_err(|e| BadRequest(format!("ERR the body is not valid JSON: {e}")))
}

fn command_from_json(json: Json) -> Result<Command, BadRequest> {
    let Json::Array(items) = json else {
        return Err(bad(
            "ERR a command must be a JSON array like [\"GET\",\"key\"]",
        ));
    };
    let args = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Json::String(s) => Ok(s.into_bytes()),
            Json::Number(n) => Ok(number_text(&n).into_bytes()),
            other => Err(BadRequest(format!(
                "ERR argument {i} is {}: arguments must be JSON strings or numbers",
                json_kind(&other)
            ))),
        })
        .collect::<Result<Command, _>>()?;
    check_name(args)
}

fn check_name(args: Command) -> Result<Command, BadRequest> {
    match args.first() {
        None => Err(bad("ERR empty command")),
        Some(name) if name.is_empty() => Err(bad("ERR empty command")),
        Some(_) => Ok(args),
    }
}

/// A JSON number as Redis reads numbers: integers as they are, other numbers in plain decimal
/// notation (Rust's shortest round-trip form, never an exponent: `1e3` is sent as `1000`).
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        // serde_json only makes finite f64s.
        n.as_f64()
            .map(|f| f.to_string())
            .unwrap_or_else(|| n.to_string())
    }
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn bad(message: &str) -> BadRequest {
    BadRequest(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cmd: &Command) -> Vec<String> {
        cmd.iter()
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
    fn json_command_rejects() {
        for body in [
            &br#"["SET","k",{"a":1}]"#[..],
            br#"["SET","k",["x"]]"#,
            br#"["SET","k",true]"#,
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
        assert_eq!(cmd[1], vec![0xff]);
        let cmd = path_command("/set//v", b"", None).unwrap();
        assert_eq!(strings(&cmd), ["set", "", "v"]);
        assert!(path_command("//get", b"", None).is_err());
    }
}
