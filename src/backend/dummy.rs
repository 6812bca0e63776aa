//! The `dummy://` backend: accepts every write and stores nothing, as in the Python original.
//! Useful to switch caching off without changing the calling code.

use crate::prelude::*;

use crate::error::{Code, Error, Result};
use crate::ops::{Op, Outcome};

pub fn execute(op: Op) -> Result<Outcome> {
    Ok(match op {
        Op::Get { .. } | Op::GetOrAdd(_) => Outcome::Value(None),
        Op::GetMany { keys } => {
            // A loop: `vec![None; n]` is wasm code of its own.
            let mut values = Vec::with_capacity(keys.len());
            for _ in keys {
                values.push(None);
            }
            Outcome::Values(values)
        }
        Op::Add(_) | Op::Touch { .. } => Outcome::Bool(false),
        // Every caller holds the lock: nothing is stored for a waiter to read.
        Op::Lock { .. } => Outcome::Bool(true),
        Op::Unlock { .. } => Outcome::Done,
        Op::GetExpiring { .. } => Outcome::Json("[null,-2]".into()),
        // Tags are accepted and ignored, as everything else is.
        Op::Set(_) | Op::SetMany { .. } | Op::DeleteMany { .. } | Op::Clear { .. } | Op::Invalidate { .. } => Outcome::Done,
        Op::Incr { .. } => return Err(Error::cache(Code::Unsupported, &["the dummy backend stores nothing, so it has no value to increment"])),
    })
}
