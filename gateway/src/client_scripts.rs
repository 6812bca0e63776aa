//! The edge-caches client's Lua scripts, built from the same files as the client builds them
//! (`Script::text` in src/backend/rest/commands.rs), so the gateway knows them by SHA-1: their
//! replies are flat and their errors ASCII, so they may share the multiplexed connection
//! (`shared::may_share`), and on a cluster the per-key ones run once per hash slot.

use std::sync::LazyLock;

macro_rules! lua {
    ($($file:literal),+) => {
        concat!($(include_str!(concat!("../../src/backend/rest/lua/", $file, ".lua"))),+)
    };
}

pub const SET_MANY_PX: &str = lua!("set_many_px");
pub const GET_WITH_PTTL: &str = lua!("live", "get_with_pttl");
pub const GET_MANY: &str = lua!("live", "get_many");

pub const INCR: &str = lua!("live", "incr");
pub const GET: &str = lua!("live", "get");
pub const ADD: &str = lua!("live", "stamp", "add");
pub const SET_TAGGED: &str = lua!("stamp", "set_tagged");
pub const INVALIDATE: &str = lua!("stamp", "invalidate");
/// A tag's stamp, got or made (`STAMP_GET`) or raised (`STAMP_BUMP`), as the client's scripts
/// do: what the gateway runs per stamp key for tags on a cluster (`tagged.rs`).
pub const STAMP_GET: &str = concat!(lua!("stamp"), " return stamp(KEYS[1])");
pub const STAMP_BUMP: &str = concat!(lua!("stamp"), " return stamp(KEYS[1],true)");

/// The scripts the client sends by their SHA-1 (`Script` in src/backend/rest/commands.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientScript {
    Incr,
    Get,
    GetMany,
    GetWithPttl,
    Add,
    SetTagged,
    Invalidate,
}

/// Each script the client sends by its SHA-1, with its text and SHA-1 (computed once).
static SENT_BY_SHA1: LazyLock<[(ClientScript, &str, String); 7]> = LazyLock::new(|| {
    [
        (ClientScript::Incr, INCR),
        (ClientScript::Get, GET),
        (ClientScript::GetMany, GET_MANY),
        (ClientScript::GetWithPttl, GET_WITH_PTTL),
        (ClientScript::Add, ADD),
        (ClientScript::SetTagged, SET_TAGGED),
        (ClientScript::Invalidate, INVALIDATE),
    ]
    .map(|(script, text)| (script, text, sha1(text)))
});

pub fn sha1(text: &str) -> String {
    sha1_smol::Sha1::from(text).digest().to_string()
}

/// Whether `sha1` (as sent, any case) names one of the client's scripts.
pub fn is_client_script(sha1: &[u8]) -> bool {
    SENT_BY_SHA1
        .iter()
        .any(|(_, _, known)| known.as_bytes().eq_ignore_ascii_case(sha1))
}

/// A script call as sent: EVAL or EVALSHA (or their `_RO` forms), the script (its text, or its
/// SHA-1), its keys and its arguments.
pub struct ScriptCall<'a> {
    /// As sent (`EVALSHA_RO`...), for the parts a cluster splits it into.
    pub name: &'a [u8],
    by_sha1: bool,
    script: &'a [u8],
    pub keys: Vec<&'a [u8]>,
    pub argv: Vec<&'a [u8]>,
}

impl<'a> ScriptCall<'a> {
    /// `None` for any other command, or one whose key count does not fit it.
    pub fn parse(command: &'a crate::request::Command) -> Option<ScriptCall<'a>> {
        let name = command.name();
        let by_sha1 = match name.to_ascii_uppercase().as_slice() {
            b"EVALSHA" | b"EVALSHA_RO" => true,
            b"EVAL" | b"EVAL_RO" => false,
            _ => return None,
        };
        let count: usize = std::str::from_utf8(command.get(2)?).ok()?.parse().ok()?;
        let keys = (0..count)
            .map(|i| command.get(3 + i))
            .collect::<Option<_>>()?;
        let argv = (3 + count..command.len())
            .filter_map(|i| command.get(i))
            .collect();
        Some(ScriptCall {
            name,
            by_sha1,
            script: command.get(1)?,
            keys,
            argv,
        })
    }

    /// Whether it runs `text`, whose SHA-1 is `sha1`.
    pub fn runs(&self, text: &str, sha1: &str) -> bool {
        if self.by_sha1 {
            self.script.eq_ignore_ascii_case(sha1.as_bytes())
        } else {
            self.script == text.as_bytes()
        }
    }

    /// Which of the client's scripts it runs (by its SHA-1 or its text), if any.
    pub fn client_script(&self) -> Option<ClientScript> {
        SENT_BY_SHA1
            .iter()
            .find(|(_, text, sha1)| self.runs(text, sha1))
            .map(|(script, _, _)| *script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_client_scripts_by_the_sha1s_the_client_sends() {
        // The client's own test pins these (src/backend/rest/commands.rs).
        for sha in [
            "190ad57851a9e8327d52534daeb7699b68a7eea0",
            "091323b08b42d6e54557583c497cfeaf43f7d2ff",
            "333ddf8678e399811fbdedd81486c8628c014efd",
        ] {
            assert!(is_client_script(sha.as_bytes()), "{sha}");
            assert!(is_client_script(sha.to_uppercase().as_bytes()));
        }
        assert!(!is_client_script(
            b"0000000000000000000000000000000000000000"
        ));
    }
}
