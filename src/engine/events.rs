//! What reads found, for `onEvent` (noted only when a callback was given), and the counters
//! of `stats`.

use crate::prelude::*;

use super::{Engine, Host};
use crate::backend::rest::json;
use crate::ops::Outcome;

/// What a read found for one key, kept for the `onEvent` option. The numbers are what
/// JavaScript gets (npm/cache.js names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// The backend had the key.
    Hit = 0,
    Miss = 1,
    /// The near tier answered: a value, or that the key is missing.
    NearHit = 2,
    NearMiss = 3,
    /// The near tier served a value past `near.ttl` (stale-while-revalidate, or grace).
    Stale = 4,
}

/// Counters since construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub near_hits: u64,
    pub near_misses: u64,
    pub stale_served: u64,
}

impl<H: Host> Engine<H> {
    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// What reads found for each key since the last call (with the `events` option).
    pub fn take_events(&self) -> Vec<(KeyEvent, String)> {
        self.events.as_ref().map(|e| core::mem::take(&mut *e.borrow_mut())).unwrap_or_default()
    }

    pub(super) fn count(&self, change: impl FnOnce(&mut Stats)) {
        let mut stats = self.stats.get();
        change(&mut stats);
        self.stats.set(stats);
    }

    pub(super) fn note(&self, event: KeyEvent, key: &str) {
        if let Some(events) = &self.events {
            events.borrow_mut().push((event, key.to_owned()));
        }
    }

    /// Notes a read's hit or miss for each of `keys` from its outcome (the backend's answer).
    pub(super) fn note_found(&self, keys: &[String], outcome: &Outcome) {
        let Some(events) = &self.events else { return };
        let mut found = Vec::new();
        match outcome {
            Outcome::Value(value) => found.push(value.is_some()),
            Outcome::Values(values) => {
                for value in values {
                    found.push(value.is_some());
                }
            }
            Outcome::Json(text) if keys.len() == 1 && !text.starts_with('[') => found.push(text != "null"),
            Outcome::Json(text) => {
                if let Some(json::Json::Array(items)) = json::parse(text) {
                    for item in &items {
                        found.push(!matches!(item, json::Json::Null));
                    }
                }
            }
            _ => {}
        }
        let mut events = events.borrow_mut();
        for (key, &hit) in keys.iter().zip(&found) {
            events.push((if hit { KeyEvent::Hit } else { KeyEvent::Miss }, key.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::KeyEvent;

    #[test]
    fn reads_note_what_they_found_only_with_events_on() {
        let e = engine(MEMORY, Options { events: true, ..Options::default() });
        done(e.set("a", "1".into(), NONE));
        done(e.get_many(r#"["a","b"]"#, NONE));
        assert_eq!(e.take_events(), vec![(KeyEvent::Hit, "::a".to_owned()), (KeyEvent::Miss, "::b".to_owned())]);
        assert_eq!(e.take_events(), vec![], "taken once");
        let rest = rest(Options { events: true, ..Options::default() });
        let read = sent(rest.get_many(r#"["a","b"]"#, NONE));
        done(rest.read(read, 200, br#"{"result":[null,"1"]}"#));
        assert_eq!(rest.take_events(), vec![(KeyEvent::Miss, "::a".to_owned()), (KeyEvent::Hit, "::b".to_owned())]);
        let quiet = engine(MEMORY, Options::default());
        done(quiet.get("a", NONE));
        assert_eq!(quiet.take_events(), vec![]);
    }
}
