//! `Core`: everything a cache call decides, behind synchronous methods that the JavaScript
//! `Cache` (npm/cache.js) calls.
//!
//! A method checks its arguments (a bad call gets a `TypeError` or `RangeError` and has done
//! nothing), admits the call only on a connected cache whose `signal` has not fired, and then
//! either carries the op out at once (memory, dummy: the outcome is returned) or plans it (REST:
//! the command text is returned, and `pending` says how to read its reply). A call's key comes
//! as a string that npm/cache.js has checked (runtime.js `checkString`, a `TypeError` for
//! anything else), so it crosses as text, with no call back into JavaScript to check it.
//!
//! The methods a call runs through (the planning ones and `reply`) return one value: the
//! outcome, or the error object itself, which npm/cache.js throws (an outcome is never an
//! `Error`: a text, null, a boolean, an array or undefined). A `Result` would come back through
//! a slot on the wasm stack instead, read through a `DataView` after two more calls into wasm:
//! about 0.3 µs of the 1.1 µs a REST `get` spent planning, 0.2 of its reply's 0.65.
//!
//! Nothing here awaits: the JavaScript side sends, waits and retries, and comes back with the
//! answer (`reply`, `replies`, `clearNext`). No method holds a borrow while calling into JavaScript, so a value's
//! `toJSON` that calls the cache again is harmless.

use crate::prelude::*;

use alloc::rc::Rc;
use ::core::cell::{Cell, RefCell};

use js_sys::{Array, Map, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::args::{self, JsResult};
use super::runtime::{aborted_error, env_value, to_js, JsNumbers};
use super::settings::{self, Settings};
use crate::backend::dummy;
use crate::backend::memory::MemoryStore;
use crate::backend::rest::commands::{plan, Expect};
use crate::backend::rest::{self, Failure, Walk};
use crate::core::config::BackendUrl;
use crate::core::error::{Code, Error};
use crate::core::ops::{Op, Outcome};

/// Where the REST backend sends, for the JavaScript side.
struct Endpoint {
    url: String,
    /// `{ Authorization, "Content-Type" }`, made once: a plain object is fine to reuse.
    headers: JsValue,
    /// A function, or undefined for the global fetch.
    fetch: JsValue,
    timeout_ms: f64,
    auto_pipeline: bool,
    retries: u32,
}

/// A memory store, shared by the caches of one `memory://NAME`.
type SharedStore = Rc<RefCell<MemoryStore>>;

enum Backend {
    Memory(SharedStore),
    Dummy,
    Rest(Endpoint),
}

/// `memory://NAME` stores, one per name in this JavaScript realm. They outlive the caches that
/// use them, like any module-level Map would. Few names: a list is enough.
static NAMED_STORES: OneThread<RefCell<Vec<(String, SharedStore)>>> = OneThread(RefCell::new(Vec::new()));

/// A memory store whose index is keyed from `Math.random()` (53 random bits per half).
fn new_store(max_entries: usize) -> MemoryStore {
    let random = || (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
    MemoryStore::new(max_entries, [random(), random()])
}

/// A static without `thread_local!` (std): this wasm is built without the atomics feature, so
/// it runs on one thread and the value inside is never shared.
struct OneThread<T>(T);
// SAFETY: one thread (see above); a build with threads would have to revisit this.
#[cfg(not(target_feature = "atomics"))]
unsafe impl<T> Sync for OneThread<T> {}

#[wasm_bindgen]
pub struct Core {
    keys: crate::core::keys::KeyBuilder,
    default_ttl_ms: Option<u64>,
    backend: Backend,
    connected: Cell<bool>,
    /// Left by the last method: 0 when the call is done (its result was returned), else what
    /// the returned command text is (an `Expect` code, or a walk step).
    pending: Cell<f64>,
    /// The ttl `getOrSetKey` resolved, in ms (-1: none), for the `addKey` that may follow.
    ttl: Cell<f64>,
}

#[wasm_bindgen]
impl Core {
    #[wasm_bindgen(constructor)]
    pub fn new(url: JsValue, options: JsValue) -> JsResult<Core> {
        Core::with_settings(settings::read(&url, &options, None)?)
    }

    /// The REST endpoint named by `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` (or
    /// Vercel's `KV_REST_API_URL` and `KV_REST_API_TOKEN`), read from `env` (a Workers env) or
    /// else from process.env / Deno.env.
    #[wasm_bindgen(js_name = fromEnv)]
    pub fn from_env(env: JsValue, options: JsValue) -> JsResult<Core> {
        let read = |names: [&str; 2]| names.iter().find_map(|name| env_value(&env, name).filter(|v| !v.is_empty()));
        let url = read(["UPSTASH_REDIS_REST_URL", "KV_REST_API_URL"]).ok_or_else(|| {
            to_js(Error::cache(Code::Config, &["UPSTASH_REDIS_REST_URL (or KV_REST_API_URL) is not set"]))
        })?;
        let token = read(["UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"]);
        Core::with_settings(settings::read(&JsValue::from_str(&url), &options, token)?)
    }

    // What the JavaScript side needs to send (undefined/false for memory and dummy).
    #[wasm_bindgen(getter)]
    pub fn rest(&self) -> bool {
        matches!(self.backend, Backend::Rest(_))
    }
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> Option<String> {
        self.endpoint().map(|e| e.url.clone())
    }
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> JsValue {
        self.endpoint().map_or(JsValue::UNDEFINED, |e| e.headers.clone())
    }
    #[wasm_bindgen(getter)]
    pub fn fetch(&self) -> JsValue {
        self.endpoint().map_or(JsValue::UNDEFINED, |e| e.fetch.clone())
    }
    #[wasm_bindgen(getter)]
    pub fn timeout(&self) -> f64 {
        self.endpoint().map_or(0.0, |e| e.timeout_ms)
    }
    #[wasm_bindgen(getter, js_name = autoPipeline)]
    pub fn auto_pipeline(&self) -> bool {
        self.endpoint().is_some_and(|e| e.auto_pipeline)
    }
    #[wasm_bindgen(getter)]
    pub fn pending(&self) -> f64 {
        self.pending.get()
    }
    #[wasm_bindgen(getter)]
    pub fn ttl(&self) -> f64 {
        self.ttl.get()
    }
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.connected.get()
    }

    /// Needs no round trip: the REST backend is stateless HTTP, the memory store is here.
    pub fn connect(&self) -> JsResult<()> {
        if self.connected.replace(true) {
            return Err(to_js(Error::cache(Code::AlreadyConnected, &["the cache is already connected"])));
        }
        Ok(())
    }

    /// Stops admitting calls (the JavaScript side then waits for the calls in flight).
    pub fn disconnect(&self) -> JsResult<()> {
        if !self.connected.replace(false) {
            return Err(not_connected());
        }
        Ok(())
    }

    // The per-call options come as arguments: npm/cache.js reads the options object (which
    // names it may have, that `signal` is an AbortSignal) and passes `ttl`, `version` and
    // `signal` on, each still to be checked here. A property read from wasm is a crossing per
    // name: reading `{ ttl }` here cost 2.4 µs of a 5 µs `set`.

    pub fn get(&self, key: &str, version: JsValue, signal: JsValue) -> JsValue {
        self.keyed(key, &version, &signal, |key| Ok(Op::Get { key }))
    }

    pub fn set(&self, key: &str, value: JsValue, ttl: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        self.write(key, &value, &ttl, &version, &signal, |key, value, ttl_ms| Op::Set { key, value, ttl_ms })
    }

    pub fn add(&self, key: &str, value: JsValue, ttl: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        self.write(key, &value, &ttl, &version, &signal, |key, value, ttl_ms| Op::Add { key, value, ttl_ms })
    }

    /// `getOrSet` with a plain default: stored in one step (store-if-missing, else read what is
    /// there).
    #[wasm_bindgen(js_name = getOrSet)]
    pub fn get_or_set(&self, key: &str, value: JsValue, ttl: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        self.write(key, &value, &ttl, &version, &signal, |key, value, ttl_ms| Op::GetOrAdd { key, value, ttl_ms })
    }

    /// `getOrSet` with a function default: admits the call and gives the stored key (and in
    /// `ttl`, the ttl) for the `getKey` / `addKey` steps the JavaScript side takes around
    /// computing the value, once per key however many calls overlap.
    #[wasm_bindgen(js_name = getOrSetKey)]
    pub fn get_or_set_key(&self, key: &str, ttl: JsValue, version: JsValue, signal: JsValue) -> JsResult<String> {
        let version = args::version(&version)?;
        let ttl = args::ttl(&ttl)?;
        let key = self.keys.build(key, &version);
        self.admit(&signal)?;
        self.ttl.set(ttl.resolve(self.default_ttl_ms).map_or(-1.0, |ms| ms as f64));
        Ok(key)
    }

    #[wasm_bindgen(js_name = getKey)]
    pub fn get_key(&self, key: String) -> JsValue {
        returned(self.run(Op::Get { key }))
    }

    /// `ttl_ms`: what `ttl` gave (-1: none).
    #[wasm_bindgen(js_name = addKey)]
    pub fn add_key(&self, key: String, value: JsValue, ttl_ms: f64) -> JsValue {
        let ttl_ms = (ttl_ms >= 0.0).then_some(ttl_ms as u64);
        returned(args::value(&value).and_then(|value| self.run(Op::Add { key, value, ttl_ms })))
    }

    /// The texts (or nulls) of `keys`, in order; the JavaScript side names them.
    #[wasm_bindgen(js_name = getMany)]
    pub fn get_many(&self, keys: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        self.listed(&keys, &version, &signal, |keys| Op::GetMany { keys })
    }

    /// `mapping` is a plain object or a `Map` of keys to values.
    #[wasm_bindgen(js_name = setMany)]
    pub fn set_many(&self, mapping: JsValue, ttl: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        let op = || {
            let version = args::version(&version)?;
            let ttl = args::ttl(&ttl)?;
            let pairs: Array = if let Some(map) = mapping.dyn_ref::<Map>() {
                Array::from(&map.entries())
            } else if mapping.is_object() && !Array::is_array(&mapping) && !mapping.is_function() {
                Object::entries(mapping.unchecked_ref())
            } else {
                return Err(to_js(Error::type_error(&["setMany takes a plain object or a Map of keys to values"])));
            };
            let mut entries = Vec::with_capacity(pairs.length() as usize);
            for pair in pairs.iter() {
                let pair: Array = pair.unchecked_into();
                let key = self.keys.build(&args::key(&pair.get(0))?, &version);
                entries.push((key, args::value(&pair.get(1))?));
            }
            Ok(Op::SetMany { entries, ttl_ms: ttl.resolve(self.default_ttl_ms) })
        };
        self.call(&signal, op())
    }

    pub fn delete(&self, key: &str, version: JsValue, signal: JsValue) -> JsValue {
        self.keyed(key, &version, &signal, |key| Ok(Op::DeleteMany { keys: vec![key] }))
    }

    #[wasm_bindgen(js_name = deleteMany)]
    pub fn delete_many(&self, keys: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        self.listed(&keys, &version, &signal, |keys| Op::DeleteMany { keys })
    }

    /// With a key prefix, deletes only this cache's keys; without one, everything in the store.
    /// Over REST with a prefix, the first step of a walk (`pending` < 0; see `clearNext`).
    pub fn clear(&self, signal: JsValue) -> JsValue {
        self.call(&signal, Ok(Op::Clear { prefix: self.keys.clear_prefix() }))
    }

    pub fn touch(&self, key: &str, ttl: JsValue, version: JsValue, signal: JsValue) -> JsValue {
        self.keyed(key, &version, &signal, |key| Ok(Op::Touch { key, ttl_ms: args::ttl(&ttl)?.resolve(self.default_ttl_ms) }))
    }

    /// `incr` and `decr` (`sign` -1): the new number's text.
    #[wasm_bindgen(js_name = incrBy)]
    pub fn incr_by(&self, key: &str, delta: JsValue, version: JsValue, signal: JsValue, sign: f64) -> JsValue {
        self.keyed(key, &version, &signal, |key| Ok(Op::Incr { key, delta: sign * args::delta(&delta)? }))
    }

    /// The outcome of a single-command request whose command had `pending` code `code`.
    pub fn reply(&self, code: f64, status: u16, body: &[u8]) -> JsValue {
        let Some(expect) = Expect::from_code(code) else { return bad_code() };
        rest::reply(expect, status, rest::body_text(body)).map_or_else(to_js, outcome)
    }

    /// The outcome of each call of a `/pipeline` request: a value, or the call's own error
    /// object (the JavaScript side rejects those); throws when the whole request failed.
    pub fn replies(&self, codes: &[f64], status: u16, body: &[u8]) -> JsResult<Array> {
        let expects = codes.iter().map(|&c| Expect::from_code(c).ok_or_else(bad_code)).collect::<JsResult<Vec<_>>>()?;
        let outcomes = rest::replies(&expects, status, rest::body_text(body)).map_err(to_js)?;
        Ok(outcomes.into_iter().map(|o| o.map_or_else(to_js, outcome)).collect())
    }

    /// The next request of a `clear()` walk, given the answer to the step `code` (a `pending`
    /// walk code); undefined when the walk is done. `pending` then says the next step's code.
    #[wasm_bindgen(js_name = clearNext)]
    pub fn clear_next(&self, code: f64, status: u16, body: &[u8]) -> JsResult<Option<String>> {
        let step = Walk::from_code(code).ok_or_else(bad_code)?;
        let prefix = self.keys.clear_prefix().unwrap_or_default();
        Ok(step.next(&prefix, status, rest::body_text(body)).map_err(to_js)?.map(|next| self.walk(next)))
    }

    /// Milliseconds to wait before retry number `attempt + 1` of a failed request, or undefined
    /// to give up. `failure`: 0 network, 1 provably unsent, 2 an HTTP 5xx, 3 timeout/abort.
    #[wasm_bindgen(js_name = retryAfter)]
    pub fn retry_after(&self, failure: u8, attempt: u32, idempotent: bool) -> Option<u32> {
        let failure = match failure {
            0 => Failure::Network,
            1 => Failure::Unsent,
            2 => Failure::Status5xx,
            _ => Failure::Final,
        };
        rest::retry_after(failure, attempt, self.endpoint().map_or(0, |e| e.retries), idempotent)
    }
}

impl Core {
    fn with_settings(settings: Settings) -> JsResult<Core> {
        let Settings { keys, default_ttl_ms, backend, max_entries, token, fetch, timeout_ms, auto_pipeline, retries } = settings;
        let backend = match backend {
            BackendUrl::Memory { name: None } => Backend::Memory(Rc::new(RefCell::new(new_store(max_entries)))),
            BackendUrl::Memory { name: Some(name) } => {
                let mut stores = NAMED_STORES.0.borrow_mut();
                let store = match stores.iter().find(|(n, _)| *n == name) {
                    Some((_, store)) => store.clone(),
                    None => {
                        let store = Rc::new(RefCell::new(new_store(max_entries)));
                        stores.push((name, store.clone()));
                        store
                    }
                };
                Backend::Memory(store)
            }
            BackendUrl::Dummy => Backend::Dummy,
            BackendUrl::Rest { endpoint, .. } => {
                let headers = Object::new();
                let mut bearer = String::from("Bearer ");
                bearer.push_str(&token.unwrap_or_default()); // settings::read demands one for REST
                // Setting a property on a fresh plain object cannot fail.
                let _ = js_sys::Reflect::set(&headers, &"Authorization".into(), &bearer.into());
                let _ = js_sys::Reflect::set(&headers, &"Content-Type".into(), &"application/json".into());
                Backend::Rest(Endpoint { url: endpoint, headers: headers.into(), fetch, timeout_ms, auto_pipeline, retries })
            }
        };
        Ok(Core {
            keys,
            default_ttl_ms,
            backend,
            connected: Cell::new(false),
            pending: Cell::new(0.0),
            ttl: Cell::new(-1.0),
        })
    }

    fn endpoint(&self) -> Option<&Endpoint> {
        match &self.backend {
            Backend::Rest(endpoint) => Some(endpoint),
            _ => None,
        }
    }

    /// `set`, `add` and `getOrSet`: a key, a value, a ttl and a version, made into `op`.
    fn write(&self, key: &str, value: &JsValue, ttl: &JsValue, version: &JsValue, signal: &JsValue, op: impl FnOnce(String, String, Option<u64>) -> Op) -> JsValue {
        let planned = || {
            let version = args::version(version)?;
            let ttl = args::ttl(ttl)?;
            Ok(op(self.keys.build(key, &version), args::value(value)?, ttl.resolve(self.default_ttl_ms)))
        };
        self.call(signal, planned())
    }

    /// `get`, `delete`, `touch` and `incr`: one key and a version, made into `op` (which checks
    /// the method's other arguments).
    fn keyed(&self, key: &str, version: &JsValue, signal: &JsValue, op: impl FnOnce(String) -> JsResult<Op>) -> JsValue {
        let planned = || {
            let version = args::version(version)?;
            op(self.keys.build(key, &version))
        };
        self.call(signal, planned())
    }

    /// `getMany` and `deleteMany`: a list of keys and a version, made into `op`.
    fn listed(&self, keys: &JsValue, version: &JsValue, signal: &JsValue, op: impl FnOnce(Vec<String>) -> Op) -> JsValue {
        let planned = || {
            let version = args::version(version)?;
            Ok(op(args::key_list(keys, &self.keys.stem(&version, 0))?))
        };
        self.call(signal, planned())
    }

    /// Admits a call whose arguments were good: argument errors come first (a bad call is a bug
    /// whatever the state), then the state, then the signal.
    fn call(&self, signal: &JsValue, op: JsResult<Op>) -> JsValue {
        returned(op.and_then(|op| {
            self.admit(signal)?;
            self.run(op)
        }))
    }

    /// `signal`: undefined, or the AbortSignal npm/cache.js checked it is.
    fn admit(&self, signal: &JsValue) -> JsResult<()> {
        if !self.connected.get() {
            return Err(not_connected());
        }
        if !signal.is_undefined() && js_sys::Reflect::get(signal, &"aborted".into()).ok().and_then(|a| a.as_bool()) == Some(true) {
            return Err(aborted_error(signal));
        }
        Ok(())
    }

    /// Carries `op` out (memory, dummy; `pending` 0) or plans its request (REST).
    fn run(&self, op: Op) -> JsResult<JsValue> {
        self.pending.set(0.0);
        let done = match &self.backend {
            Backend::Memory(store) => store.borrow_mut().execute(op, js_sys::Date::now(), &JsNumbers),
            Backend::Dummy => dummy::execute(op),
            Backend::Rest(_) => match op {
                Op::Clear { prefix: Some(prefix) } => return Ok(self.walk(Walk::start(&prefix)).into()),
                // Empty lists need no request.
                Op::GetMany { keys } if keys.is_empty() => Ok(Outcome::Values(Vec::new())),
                Op::SetMany { entries, .. } if entries.is_empty() => Ok(Outcome::Done),
                Op::DeleteMany { keys } if keys.is_empty() => Ok(Outcome::Done),
                op => {
                    self.pending.set(Expect::of(&op).code(op.idempotent()));
                    return Ok(plan(&op, &JsNumbers).into());
                }
            },
        };
        done.map(outcome).map_err(to_js)
    }

    /// A walk step's request: its kind goes to `pending`, its body to JavaScript.
    fn walk(&self, (step, body): (Walk, String)) -> String {
        self.pending.set(step.code());
        body
    }
}

/// An outcome as JavaScript gets it: undefined, a boolean, a text or null, an array of those,
/// or (REST) the JSON text of such a text or array, which JavaScript parses.
fn outcome(outcome: Outcome) -> JsValue {
    match outcome {
        Outcome::Json(json) => json.into(),
        Outcome::Done => JsValue::UNDEFINED,
        Outcome::Bool(b) => b.into(),
        Outcome::Value(text) => text.map_or(JsValue::NULL, JsValue::from),
        Outcome::Values(texts) => texts.into_iter().map(|t| t.map_or(JsValue::NULL, JsValue::from)).collect::<Array>().into(),
    }
}

/// A method's result as JavaScript takes it: one value, the error object when it failed (see
/// the top of this file).
fn returned(result: JsResult<JsValue>) -> JsValue {
    result.unwrap_or_else(|error| error)
}

fn not_connected() -> JsValue {
    to_js(Error::cache(Code::NotConnected, &["the cache is not connected: call connect() first"]))
}

fn bad_code() -> JsValue {
    to_js(Error::type_error(&["not a pending code of this cache"]))
}
