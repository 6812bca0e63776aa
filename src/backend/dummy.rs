//! The `dummy://` backend: accepts every write and stores nothing, as in the Python original.
//! Useful to switch caching off without changing the calling code.

use crate::prelude::*;

use crate::backend::memory::MemoryStore;
use crate::error::{Code, Error, Result};
use crate::number::Numbers;
use crate::ops::{Op, Outcome};

/// Each op is carried out on an empty memory store, dropped after it: a store that keeps nothing
/// answers every read as missing, and `touch` as false, as the dummy backend must (and its code
/// is in the wasm already; a `lock` is always taken: every caller holds it, nothing is stored for
/// a waiter to read). Two answers differ from a store's first op.
pub fn execute(op: Op, numbers: &dyn Numbers) -> Result<Outcome> {
    match op {
        // Nothing is stored, so nothing was added.
        Op::Add(_) => Ok(Outcome::Bool(false)),
        Op::Incr { .. } => Err(Error::cache(Code::Unsupported, &["the dummy backend stores nothing, so it has no value to increment"])),
        op => MemoryStore::new(1, [0, 0]).execute(op, 0.0, numbers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::StdNumbers;
    use crate::ops::Entry;

    #[test]
    fn stores_nothing_and_answers_as_the_python_dummy() {
        let run = |op| execute(op, &StdNumbers);
        let entry = || Entry { key: "k".into(), value: "1".into(), ttl_ms: None, stamps: Vec::new() };
        assert_eq!(run(Op::Set(entry())), Ok(Outcome::Done));
        assert_eq!(run(Op::Get { key: "k".into() }), Ok(Outcome::Value(None)));
        assert_eq!(run(Op::GetOrAdd(entry())), Ok(Outcome::Value(None)));
        assert_eq!(run(Op::GetMany { keys: vec!["k".into(), "j".into()] }), Ok(Outcome::Values(vec![None, None])));
        assert_eq!(run(Op::Add(entry())), Ok(Outcome::Bool(false)));
        assert_eq!(run(Op::Touch { key: "k".into(), ttl_ms: None }), Ok(Outcome::Bool(false)));
        assert_eq!(run(Op::Lock { key: "l".into(), token: "t".into(), ttl_ms: 10 }), Ok(Outcome::Bool(true)));
        assert_eq!(run(Op::GetExpiring { key: "k".into() }), Ok(Outcome::Json("[null,-2]".into())));
        assert_eq!(run(Op::Incr { key: "k".into(), delta: 1.0 }).unwrap_err().code(), Some(Code::Unsupported));
    }
}
