//! The JSON the REST protocol needs, and no more: writing command arrays of strings, and
//! reading replies (null, booleans, numbers kept as text, strings, arrays, objects).
//!
//! Hand-written because a general JSON crate would be most of the wasm's size; the reader is
//! total (every input gives a value or `None`, never a panic) and bounds nesting so a hostile
//! or broken server cannot exhaust the stack.
//!
//! Strings are checked but kept as written (`JsonStr`): the stored values in a reply are most
//! of its bytes, and they go on to JavaScript, whose JSON.parse unescapes them many times
//! faster than this reader could (docs/performance.md).

use crate::prelude::*;

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Json {
    #[default]
    Null,
    Bool(bool),
    /// The number's text as the server wrote it (checked against the JSON grammar).
    Number(String),
    Str(JsonStr),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn field(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A JSON string as written between its quotes, escapes and all (checked to be valid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonStr(String);

impl JsonStr {
    /// The string whose text is `text`.
    pub fn from_text(text: &str) -> JsonStr {
        let mut quoted = String::with_capacity(text.len() + 2);
        write_str(&mut quoted, text);
        JsonStr(quoted.get(1..quoted.len() - 1).unwrap_or_default().to_owned())
    }

    /// As written, without the quotes.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// The text, unescaped (a lone surrogate escape becomes U+FFFD: it has no UTF-8 form).
    pub fn text(&self) -> String {
        // A byte loop rather than `contains('\\')`, whose memchr was 0.2 KB of gzipped wasm (the
        // reader walked these bytes already).
        if !self.0.bytes().any(|b| b == b'\\') {
            return self.0.clone();
        }
        let mut quoted = String::with_capacity(self.0.len() + 2);
        quoted.push('"');
        quoted.push_str(&self.0);
        quoted.push('"');
        // Checked when it was read, so this cannot fail; an empty text if it somehow did.
        Reader { bytes: quoted.as_bytes(), text: &quoted, at: 0 }.string().unwrap_or_default()
    }
}

/// Deeper nesting than any reply of ours has (SCAN is two levels inside a pipeline's three).
const MAX_DEPTH: usize = 32;

pub fn parse(text: &str) -> Option<Json> {
    let mut reader = Reader { bytes: text.as_bytes(), text, at: 0 };
    let value = reader.value(0)?;
    reader.space();
    (reader.at == reader.bytes.len()).then_some(value)
}

/// What `plain_result` accepts as the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    /// A string or null.
    Text,
    /// An array of this many strings or nulls.
    Texts(u32),
}

/// `X` of an answer written exactly `{"result":X}` (as Upstash and the gateway write them), when
/// `X` is what `want` says, checked as `parse` checks; `None` for anything else, which the
/// general reader then takes. It builds nothing: a getMany's answer is mostly stored texts, and
/// building a tree of them only to copy them out again was most of the wasm's part of the call.
pub fn plain_result(body: &str, want: Plain) -> Option<&str> {
    let result = body.strip_prefix(r#"{"result":"#)?.strip_suffix('}')?;
    let mut reader = Reader { bytes: result.as_bytes(), text: result, at: 0 };
    match want {
        Plain::Text => reader.text_or_null()?,
        Plain::Texts(n) => {
            reader.eat("[")?;
            for i in 0..n {
                if i > 0 {
                    reader.eat(",")?;
                }
                reader.text_or_null()?;
            }
            reader.eat("]")?;
        }
    }
    (reader.at == result.len()).then_some(result)
}

/// A JSON array of strings (a list of keys as `JSON.stringify` writes it), each unescaped and
/// appended to a copy of `stem`: one allocation per string and no tree in between (reading the
/// tree, then copying each text and then building its key, was most of a `getMany`'s planning).
pub fn string_list(text: &str, stem: &str) -> Option<Vec<String>> {
    let mut reader = Reader { bytes: text.as_bytes(), text, at: 0 };
    let mut items = Vec::new();
    reader.space();
    reader.eat("[")?;
    reader.space();
    if reader.peek() == Some(b']') {
        reader.at += 1;
    } else {
        loop {
            reader.space();
            if reader.peek()? != b'"' {
                return None;
            }
            // Room for the text up to its first escape: all of it, for most keys.
            let run = reader.bytes.get(reader.at + 1..)?.iter().position(|&b| b == b'"' || b == b'\\')?;
            let mut item = String::with_capacity(stem.len() + run);
            item.push_str(stem);
            reader.string_into(&mut item)?;
            items.push(item);
            reader.space();
            match reader.peek()? {
                b',' => reader.at += 1,
                b']' => {
                    reader.at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    reader.space();
    (reader.at == reader.bytes.len()).then_some(items)
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, word: &str) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.space();
        match self.peek()? {
            b'n' => self.eat("null").map(|_| Json::Null),
            b't' => self.eat("true").map(|_| Json::Bool(true)),
            b'f' => self.eat("false").map(|_| Json::Bool(false)),
            b'"' => self.raw_string().map(Json::Str),
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Some(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(Json::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                self.at += 1;
                let mut fields = Vec::new();
                self.space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Some(Json::Object(fields));
                }
                loop {
                    self.space();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    self.space();
                    self.eat(":")?;
                    fields.push((key, self.value(depth + 1)?));
                    self.space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(Json::Object(fields));
                        }
                        _ => return None,
                    }
                }
            }
            _ => self.number(),
        }
    }

    fn text_or_null(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            _ => self.eat("null"),
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
            self.at += 1;
        }
        let text = self.text.get(start..self.at)?;
        crate::number::is_json_number(text).then(|| Json::Number(text.to_owned()))
    }

    /// A string, checked (escapes, no raw control characters) but not unescaped.
    fn raw_string(&mut self) -> Option<JsonStr> {
        let start = self.at + 1;
        self.skip_string()?;
        Some(JsonStr(self.text.get(start..self.at - 1)?.to_owned()))
    }

    /// Checks the string at the opening quote and moves past its closing quote.
    fn skip_string(&mut self) -> Option<()> {
        // One byte at a time in a plain loop: stored JSON texts have an escape every few bytes,
        // so scanning for the next special byte and starting over costs more than it saves.
        let bytes = self.bytes;
        let mut at = self.at + 1; // past the opening quote
        loop {
            let b = *bytes.get(at)?;
            at += 1;
            match b {
                b'"' => {
                    self.at = at;
                    return Some(());
                }
                b'\\' => match *bytes.get(at)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 1,
                    b'u' => {
                        self.at = at + 1;
                        self.hex4()?;
                        at = self.at;
                    }
                    _ => return None,
                },
                0..=0x1f => return None, // a raw control character
                _ => {}
            }
        }
    }

    /// A string, unescaped (object keys, and `JsonStr::text`).
    fn string(&mut self) -> Option<String> {
        let mut out = String::new();
        self.string_into(&mut out)?;
        Some(out)
    }

    /// Reads a string, appending its text to `out`.
    fn string_into(&mut self, out: &mut String) -> Option<()> {
        self.at += 1; // the opening quote
        loop {
            // Copy the run up to the next quote or escape in one go (the text is valid UTF-8
            // and both delimiters are ASCII, so the slice boundaries are char boundaries). One
            // tight scan over the bytes.
            let run = self.bytes.get(self.at..)?;
            let len = run.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
            out.push_str(self.text.get(self.at..self.at + len)?);
            self.at += len + 1;
            match run.get(len)? {
                b'"' => return Some(()),
                b'\\' => {}
                _ => return None, // a raw control character
            }
            let escaped = self.peek()?;
            self.at += 1;
            let simple = match escaped {
                b'"' => "\"",
                b'\\' => "\\",
                b'/' => "/",
                b'b' => "\u{8}",
                b'f' => "\u{c}",
                b'n' => "\n",
                b'r' => "\r",
                b't' => "\t",
                b'u' => "",
                _ => return None,
            };
            if escaped != b'u' {
                out.push_str(simple);
                continue;
            }
            let unit = self.hex4()?;
            let c = if (0xD800..0xDC00).contains(&unit) && self.bytes.get(self.at) == Some(&b'\\') && self.bytes.get(self.at + 1) == Some(&b'u') {
                let save = self.at;
                self.at += 2;
                let low = self.hex4()?;
                if (0xDC00..0xE000).contains(&low) {
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                } else {
                    self.at = save;
                    None
                }
            } else {
                char::from_u32(unit)
            };
            // A lone surrogate has no UTF-8 form: it becomes U+FFFD, as a server without
            // base64 encoding does with bytes that are not UTF-8.
            out.push(c.unwrap_or('\u{FFFD}'));
        }
    }

    /// Four hex digits (a `\u` escape's). A digit at a time: `u32::from_str_radix` takes a
    /// sign too, and brings its own parser into the wasm.
    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + char::from(self.peek()?).to_digit(16)?;
            self.at += 1;
        }
        Some(value)
    }
}

/// How many bytes `write_str` writes for `text`.
pub fn str_len(text: &str) -> usize {
    text.bytes().map(|b| match b {
        b'"' | b'\\' | b'\n' => 2,
        0..=0x1f => 6,
        _ => 1,
    }).sum::<usize>() + 2
}

/// Appends `text` as a JSON string. The runs between escapes are cut at ASCII bytes, always
/// char boundaries: `get` says so without a panic path (and its formatting code) in the wasm.
pub fn write_str(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut run_start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            out.push_str(text.get(run_start..i).unwrap_or_default());
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                _ => {
                    out.push_str("\\u00");
                    out.push(HEX[usize::from(b >> 4)] as char);
                    out.push(HEX[usize::from(b & 15)] as char);
                }
            }
            run_start = i + 1;
        }
    }
    out.push_str(text.get(run_start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Json {
        Json::Str(JsonStr::from_text(text))
    }

    #[test]
    fn str_len_is_what_write_str_writes() {
        for text in ["", "abc", "a\"b\\c\nd\u{1}\u{1f}é€"] {
            let mut out = String::new();
            write_str(&mut out, text);
            assert_eq!(str_len(text), out.len(), "{text:?}");
        }
    }

    fn text(json: &str) -> String {
        match parse(json) {
            Some(Json::Str(s)) => s.text(),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn reads_key_lists_onto_a_stem() {
        assert_eq!(string_list(r#"["a","b\"c","\u00e9\n"]"#, "p::"), Some(vec!["p::a".into(), "p::b\"c".into(), "p::é\n".into()]));
        assert_eq!(string_list(" [ ] ", "p::"), Some(vec![]));
        assert_eq!(string_list(r#"["a",1]"#, ""), None);
        assert_eq!(string_list(r#"["a"]x"#, ""), None);
        assert_eq!(string_list(r#"["a""#, ""), None);
        assert_eq!(string_list(r#"["a",]"#, ""), None);
        assert_eq!(string_list("", ""), None);
    }

    #[test]
    fn reads_replies() {
        assert_eq!(parse(r#"{"result":"OK"}"#).unwrap().field("result"), Some(&s("OK")));
        assert_eq!(
            parse(r#" [ {"result": null}, {"result": 12}, {"error": "ERR x"} ] "#).unwrap(),
            Json::Array(vec![
                Json::Object(vec![("result".into(), Json::Null)]),
                Json::Object(vec![("result".into(), Json::Number("12".into()))]),
                Json::Object(vec![("error".into(), s("ERR x"))]),
            ])
        );
        assert_eq!(text(r#""a\"b\\c\/\n\u00e9\ud83d\ude00""#), "a\"b\\c/\né😀");
        assert_eq!(text(r#""\ud800x""#), "\u{FFFD}x", "a lone surrogate escape");
        // Kept as written, for JavaScript's JSON.parse.
        assert_eq!(parse(r#""a\"b""#), Some(Json::Str(JsonStr(r#"a\"b"#.into()))));
        assert_eq!(JsonStr::from_text("a\"b\n").raw(), r#"a\"b\n"#);
        assert_eq!(parse("[true,false,-1.5e3]").unwrap(), Json::Array(vec![Json::Bool(true), Json::Bool(false), Json::Number("-1.5e3".into())]));
    }

    #[test]
    fn refuses_broken_json_without_panicking() {
        let deep = "[".repeat(10_000);
        for bad in ["", "{", r#"{"result""#, r#"{"result":}"#, "[1,]", "nul", "\"abc", "\"\\u12\"", "\"\\uzzzz\"", "01", "1 2", "<html>502</html>", "\"\u{1}\"", &deep, "\"\\", "\"\\u"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn writes_strings_that_read_back() {
        for text in ["", "plain", "q\"uote", "back\\slash", "ctl\u{0}\u{1f}\n\t", "ü€😀", "{\"json\":[1]}"] {
            let mut out = String::new();
            write_str(&mut out, text);
            assert_eq!(parse(&out), Some(s(text)), "{out}");
        }
    }
}
