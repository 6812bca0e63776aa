//! The bus: instances with `near: { bus: true }` tell each other what they changed, so that
//! another instance's near tier drops it in milliseconds rather than after `near.ttl`.
//!
//! Each write through such an instance carries, in the same `/pipeline` request, a PUBLISH on
//! one channel per key prefix (`{prefix}:#bus`) of what it changed; each instance listens on it
//! (npm/bus.js, over the REST protocol's `/subscribe` stream) and hands each message to
//! `Engine::bus_message`. A message is `{sender}:k["stored key",...]` (those keys) or
//! `{sender}:*` (everything: `clear()`, `invalidateTags`). The sender is a random id per
//! instance, so that an instance skips its own messages (its near tier knows its writes).

use crate::prelude::*;

use crate::backend::rest::commands::{append, command};
use crate::backend::rest::json;
#[cfg(test)]
use crate::ops::{Entry, Op};

pub struct Bus {
    channel: String,
    /// This instance's id: 16 hex digits.
    id: String,
}

impl Bus {
    pub fn new(prefix: &str, random: u64) -> Bus {
        let mut channel = String::with_capacity(prefix.len() + 5);
        channel.push_str(prefix);
        channel.push_str(":#bus");
        // The random number in hexadecimal: 16 digits.
        let mut id = String::with_capacity(16);
        for shift in (0..16).rev() {
            id.push(char::from(b"0123456789abcdef"[(random >> (4 * shift)) as usize & 15]));
        }
        Bus { channel, id }
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The PUBLISH of what an op changes (its `Op::written_keys`), if it writes.
    pub fn publish(&self, keys: Option<&[String]>) -> Option<String> {
        if keys.is_some_and(<[String]>::is_empty) {
            return None;
        }
        let mut message = String::with_capacity(self.id.len() + 2);
        message.push_str(&self.id);
        message.push(':');
        match keys {
            // The keys as a JSON array of strings: what `command` writes.
            Some(keys) => {
                let mut list = command(&[]);
                for key in keys {
                    append(&mut list, key);
                }
                message.push('k');
                message.push_str(&list);
            }
            None => message.push('*'),
        }
        Some(command(&["PUBLISH", &self.channel, &message]))
    }

    /// What a message says to drop: `Some(Some(keys))`, `Some(None)` for everything, `None`
    /// for this instance's own messages and texts that are not messages of the bus.
    pub fn read(&self, message: &str) -> Option<Option<Vec<String>>> {
        let (sender, what) = crate::text::split_once(message, b':')?;
        if sender == self.id || sender.len() != 16 {
            return None;
        }
        if what == "*" {
            return Some(None);
        }
        json::string_list(what.strip_prefix('k')?, "").map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_publish_their_keys_and_others_read_them() {
        let me = Bus::new("app", 0x0123_4567_89ab_cdef);
        let other = Bus::new("app", 7);
        assert_eq!(me.channel(), "app:#bus");
        let publish = |op: Op| me.publish(op.written_keys().as_deref());
        let set = publish(Op::Set(Entry { key: "app::k".into(), value: "1".into(), ttl_ms: None, stamps: vec![] })).unwrap();
        assert_eq!(set, r#"["PUBLISH","app:#bus","0123456789abcdef:k[\"app::k\"]"]"#);
        let message = "0123456789abcdef:k[\"app::k\",\"app::\\\"q\\\"\"]";
        assert_eq!(other.read(message), Some(Some(vec!["app::k".into(), "app::\"q\"".into()])));
        assert_eq!(me.read(message), None, "its own message");
        let clear = publish(Op::Clear { prefix: None }).unwrap();
        assert!(clear.ends_with(r#"0123456789abcdef:*"]"#), "{clear}");
        assert_eq!(other.read("0123456789abcdef:*"), Some(None));
        assert_eq!(publish(Op::Get { key: "k".into() }), None, "reads publish nothing");
        for foreign in ["", "hello", "x:*", "0123456789abcdeX:k[1]", "0123456789abcdef:k[", "0123456789abcdef:z"] {
            assert_eq!(other.read(foreign), None, "{foreign}");
        }
    }
}
