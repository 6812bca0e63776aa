//! The wasm-bindgen boundary: JavaScript values in, the engine's types; the engine's results
//! out, JavaScript values. Nothing is decided here (`crate::engine` decides), and nothing in
//! JavaScript is called back but the clock, `Math.random`, `JSON.parse`, number text and the
//! reads of the options objects.
//!
//! npm/arguments.js checks the types of what a caller passes (a `TypeError`) before calling in,
//! so the conversions below cannot fail on what it sends; the engine checks the values (a
//! `RangeError` or a `CacheError` code). The constructor's options and each call's arrive as
//! one object each, read here once into the engine's `Options` and `CallOptions`. A call method
//! returns one value: its outcome, a `RestRequest` to send, or an error report (an `EvalError`
//! made here, which npm/errors.js turns into the `TypeError`, `RangeError` or `CacheError` it
//! describes). One value rather than a `Result`: wasm-bindgen returns a `Result` through a slot
//! on the wasm stack, read after two more calls.

use crate::prelude::*;

use js_sys::{Array, JSON};
use wasm_bindgen::prelude::*;

use crate::backend::rest::replies::protocol_error;
use crate::backend::rest::FetchFailure;
use crate::engine::{self, BackendGiven, CallOptions, Host, NamedStores, NearGiven, Options, Step};
use crate::error::{Error, Kind};
use crate::keys::VersionGiven;
use crate::number::Numbers;
use crate::ops::Outcome;
use crate::ttl::TtlGiven;

/// JavaScript's clock, randomness and `Number()`/`String()`: stored numbers read and print
/// exactly as `JSON.parse` and `JSON.stringify` do, without Rust's float formatting in the wasm.
struct JsHost;

impl Numbers for JsHost {
    fn parse(&self, text: &str) -> f64 {
        js_sys::Number::parse_float(text)
    }
    fn format(&self, value: f64) -> String {
        number_text(value).as_string().unwrap_or_default()
    }
}

impl Host for JsHost {
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
    fn random_u64(&self) -> u64 {
        // 53 random bits.
        (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
    }
}

/// The `memory://NAME` stores of this realm.
static NAMED_STORES: OneThread<NamedStores> = OneThread(NamedStores::new());

/// A static without `thread_local!` (std): this wasm is built without the atomics feature, so
/// it runs on one thread and the value inside is never shared.
struct OneThread<T>(T);
// SAFETY: one thread (see above); a build with threads would have to revisit this.
#[cfg(not(target_feature = "atomics"))]
unsafe impl<T> Sync for OneThread<T> {}

/// An error as data: an `EvalError` (which no runtime throws any more, so a report is never
/// taken for an error thrown on the way) whose `name` says which error it describes
/// ("TypeError", "RangeError", or the `CacheError` code); npm/errors.js makes that error of it.
/// (A wasm-bindgen class with a getter per field was 0.2 KB more: four exports and a class in
/// the glue.)
fn report(error: Error) -> JsValue {
    let name = match error.kind {
        Kind::Type => "TypeError",
        Kind::Range => "RangeError",
        Kind::Cache(code) => code.as_str(),
    };
    let report = js_sys::EvalError::new(&error.message);
    AsRef::<js_sys::Error>::as_ref(&report).set_name(name);
    report.into()
}

// The getters below return a `JsValue`, read here with `as_string`/`as_f64`, rather than an
// `Option<String>` or `Option<f64>`: those come back through a slot on the wasm stack, which
// the glue writes with a DataView in a function of its own per getter.
#[wasm_bindgen]
extern "C" {
    /// `String(number)`: a number's text as `JSON.stringify` prints it. (Not js-sys's
    /// `Number.toString`, which may throw and so comes wrapped in a catch, in the glue and here.)
    #[wasm_bindgen(js_name = String)]
    fn number_text(value: f64) -> JsValue;

    /// The constructor's options as npm/arguments.js's `cacheOptions` returns them (types
    /// checked; absent ones undefined), with the URL's query and token merged in (npm/url.js):
    /// `keyPrefix`, `version`, `ttl`, `maxEntries`, `token`, `retries`, `near` (undefined, or
    /// `{ ttl, swr, maxEntries, bus }`), `grace`, `onEvent`, `tagged`.
    pub type CacheOptions;

    /// A property of an options object: data that arguments.js checked, read once. One import
    /// for the constructor's fourteen options: a getter each was 0.5 KB more in all.
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn property(object: &JsValue, name: &str) -> JsValue;

    /// A call's options as npm/arguments.js's `callOptions` returns them: undefined when the
    /// caller gave none. `given` says which of the others to read (`GIVEN_*`).
    pub type CallOptionsObject;
    #[wasm_bindgen(method, getter)]
    fn given(this: &CallOptionsObject) -> u32;
    #[wasm_bindgen(method, getter)]
    fn ttl(this: &CallOptionsObject) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn version(this: &CallOptionsObject) -> JsValue;
    /// The JSON text of the tags.
    #[wasm_bindgen(method, getter)]
    fn tags(this: &CallOptionsObject) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn fresh(this: &CallOptionsObject) -> bool;
    /// The reason text of a signal that had fired.
    #[wasm_bindgen(method, getter)]
    fn aborted(this: &CallOptionsObject) -> JsValue;
}

/// `CallOptionsObject.given`: one bit per option the caller gave (npm/arguments.js, `GIVEN`).
/// Each read is a crossing into JavaScript, so only those are read.
const GIVEN_TTL: u32 = 1;
const GIVEN_VERSION: u32 = 2;
const GIVEN_TAGS: u32 = 4;
const GIVEN_FRESH: u32 = 8;
const GIVEN_ABORTED: u32 = 16;

/// A number option, `None` when absent. (Not inlined: one call at each of six reads.)
#[inline(never)]
fn number(object: &JsValue, name: &str) -> Option<f64> {
    property(object, name).as_f64()
}

/// A boolean option: `true` only when given as true (arguments.js checked its type).
#[inline(never)]
fn flag(object: &JsValue, name: &str) -> bool {
    property(object, name).is_truthy()
}

impl From<&CacheOptions> for Options {
    fn from(o: &CacheOptions) -> Options {
        let near = property(o, "near");
        let near = (!near.is_undefined()).then(|| NearGiven {
            ttl: number(&near, "ttl"),
            swr: number(&near, "swr"),
            max_entries: number(&near, "maxEntries"),
            bus: flag(&near, "bus"),
        });
        Options {
            key_prefix: property(o, "keyPrefix").as_string(),
            version: version_given(property(o, "version")),
            ttl: ttl_given(&property(o, "ttl")),
            max_entries: number(o, "maxEntries"),
            token: property(o, "token").as_string(),
            retries: number(o, "retries"),
            near,
            grace: number(o, "grace"),
            events: !property(o, "onEvent").is_undefined(),
            tagged: flag(o, "tagged"),
        }
    }
}

/// A call's options, read once: the defaults, and what the caller gave.
fn call_options(o: Option<CallOptionsObject>) -> CallOptions {
    let mut call = CallOptions::default();
    let Some(o) = o else { return call };
    let given = o.given();
    if given & GIVEN_TTL != 0 {
        call.ttl = ttl_given(&o.ttl());
    }
    if given & GIVEN_VERSION != 0 {
        call.version = version_given(o.version());
    }
    if given & GIVEN_TAGS != 0 {
        call.tags = o.tags().as_string();
    }
    if given & GIVEN_FRESH != 0 {
        call.fresh = o.fresh();
    }
    if given & GIVEN_ABORTED != 0 {
        call.aborted = o.aborted().as_string();
    }
    call
}

/// A request for npm/transport.js to send; `Engine.read` (or `readPipeline`) takes it back with
/// the answer.
#[wasm_bindgen]
pub struct RestRequest(engine::Request);

/// `RestRequest.flags`: the route (`engine::Route`) in the two low bits, then these.
const ONCE: u32 = 1 << 2;
/// The pipeline entries the request takes (1, or 2 with the bus's PUBLISH), from this bit up.
const COMMANDS_SHIFT: u32 = 3;

#[wasm_bindgen]
impl RestRequest {
    /// The JSON body: one command, or for `pipeline` a list of them. (A `JsValue`, not a
    /// `String`: wasm-bindgen returns a `String` through a slot on the wasm stack and frees it
    /// with another call.)
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> JsValue {
        JsValue::from_str(&self.0.body)
    }
    /// Where it goes, whether it must not run twice, and how many commands it holds, in one
    /// number (one crossing instead of three): see `ONCE` and `COMMANDS_SHIFT`.
    #[wasm_bindgen(getter)]
    pub fn flags(&self) -> u32 {
        self.0.route() as u32 | if self.0.once { ONCE } else { 0 } | (self.0.commands() as u32) << COMMANDS_SHIFT
    }
    /// A near-tier read of one key: the key, which concurrent reads of it planned at the same
    /// `sharedEpoch` may share.
    #[wasm_bindgen(getter, js_name = sharedKey)]
    pub fn shared_key(&self) -> JsValue {
        optional_text(self.0.shared_key().map(|(key, _)| key))
    }
    #[wasm_bindgen(getter, js_name = sharedEpoch)]
    pub fn shared_epoch(&self) -> f64 {
        self.0.shared_key().map_or(0.0, |(_, epoch)| epoch as f64)
    }
}

/// The error of a getOrSet whose factory did not settle within its `hardTimeout`.
#[wasm_bindgen(js_name = factoryTimeoutError)]
pub fn factory_timeout_error() -> JsValue {
    report(Error::cache(crate::error::Code::Timeout, &["the getOrSet factory did not settle within its hardTimeout; a value it gives later is not stored"]))
}

/// The error of the calls in flight when the cache is freed, and of any call after it.
#[wasm_bindgen(js_name = freedError)]
pub fn freed_error() -> JsValue {
    report(engine::freed_error())
}

/// The error of a call whose signal fired; `reason` is its reason's text (or empty).
#[wasm_bindgen(js_name = abortedError)]
pub fn aborted_error(reason: &str) -> JsValue {
    report(engine::aborted_error(reason))
}

/// The engine, and the requests of the `/pipeline` request whose answer `readPipeline` reads
/// next (handed over one at a time by `pipelined`).
#[wasm_bindgen]
pub struct Engine(engine::Engine<JsHost>, core::cell::Cell<Vec<engine::Request>>);

/// The call methods take the caller's key (or list, as JSON text) and the call's options
/// object (undefined when none were given); each returns what `step` makes of the engine's
/// answer.
/// `Engine::new`'s `backend`, as npm/url.js numbers the URL's schemes; `location` is the
/// memory store's name (empty: a store of its own; unused for the others).
const MEMORY: u32 = 0;
const DUMMY: u32 = 1;

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new(backend: u32, location: String, options: &CacheOptions) -> Result<Engine, JsValue> {
        let backend = match backend {
            MEMORY if location.is_empty() => BackendGiven::Memory { name: None },
            MEMORY => BackendGiven::Memory { name: Some(location) },
            DUMMY => BackendGiven::Dummy,
            _ => BackendGiven::Rest,
        };
        engine::Engine::new(backend, options.into(), JsHost, &NAMED_STORES.0).map(|engine| Engine(engine, Default::default())).map_err(report)
    }

    /// Whether reads go through a near tier (REST with the `near` option).
    #[wasm_bindgen(getter, js_name = hasNearTier)]
    pub fn has_near_tier(&self) -> bool {
        self.0.has_near_tier()
    }
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.0.connected()
    }
    /// undefined, or the error report of why not.
    pub fn connect(&self) -> JsValue {
        done_or_error(self.0.connect())
    }
    pub fn disconnect(&self) -> JsValue {
        done_or_error(self.0.disconnect())
    }
    /// `[nearHits, nearMisses, staleServed]` (one getter rather than three).
    #[wasm_bindgen(getter)]
    pub fn stats(&self) -> Array {
        let stats = self.0.stats();
        array(&[(stats.near_hits as f64).into(), (stats.near_misses as f64).into(), (stats.stale_served as f64).into()])
    }

    /// The channel to listen on (with `near.bus` on REST), else undefined.
    #[wasm_bindgen(getter, js_name = busChannel)]
    pub fn bus_channel(&self) -> JsValue {
        optional_text(self.0.bus_channel())
    }
    /// A message on the bus channel: what the near tier dropped (an array of stored keys, or
    /// null for everything), or undefined when it was this instance's own or not a message.
    #[wasm_bindgen(js_name = busMessage)]
    pub fn bus_message(&self, text: &str) -> JsValue {
        match self.0.bus_message(text) {
            None => JsValue::UNDEFINED,
            Some(None) => JsValue::NULL,
            Some(Some(keys)) => {
                let array = Array::new();
                for key in &keys {
                    array.push(&JsValue::from_str(key));
                }
                array.into()
            }
        }
    }
    /// The bus stream was down and is back: the near tier is emptied.
    #[wasm_bindgen(js_name = busReset)]
    pub fn bus_reset(&self) {
        self.0.bus_reset();
    }

    /// What reads found for each key since the last call (with `onEvent`): `[kind, key, ...]`,
    /// kind as `engine::KeyEvent` numbers it.
    #[wasm_bindgen(js_name = takeEvents)]
    pub fn take_events(&self) -> Array {
        let array = Array::new();
        for (kind, key) in &self.0.take_events() {
            array.push(&JsValue::from(*kind as u32));
            array.push(&JsValue::from_str(key));
        }
        array
    }

    pub fn get(&self, key: &str, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.get(key, call_options(options)))
    }
    /// `value`: its JSON text.
    pub fn set(&self, key: &str, value: String, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.set(key, value, call_options(options)))
    }
    pub fn add(&self, key: &str, value: String, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.add(key, value, call_options(options)))
    }
    #[wasm_bindgen(js_name = getOrSet)]
    pub fn get_or_set(&self, key: &str, value: String, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.get_or_set(key, value, call_options(options)))
    }
    /// The stored key, or an error report.
    #[wasm_bindgen(js_name = getOrSetKey)]
    pub fn get_or_set_key(&self, key: &str, options: Option<CallOptionsObject>) -> JsValue {
        match self.0.get_or_set_key(key, call_options(options)) {
            Ok(stored) => stored.into(),
            Err(error) => report(error),
        }
    }
    #[wasm_bindgen(js_name = getStored)]
    pub fn get_stored(&self, stored_key: String, fresh: bool) -> JsValue {
        step(self.0.get_stored(stored_key, fresh))
    }
    #[wasm_bindgen(js_name = addStored)]
    pub fn add_stored(&self, stored_key: String, value: String, options: Option<CallOptionsObject>, in_full: bool) -> JsValue {
        step(self.0.add_stored(stored_key, value, call_options(options), in_full))
    }
    #[wasm_bindgen(js_name = setStored)]
    pub fn set_stored(&self, stored_key: String, value: String, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.set_stored(stored_key, value, call_options(options)))
    }
    /// ms (-1: never), or an error report.
    #[wasm_bindgen(js_name = entryTtlMs)]
    pub fn entry_ttl_ms(&self, options: Option<CallOptionsObject>) -> JsValue {
        match self.0.entry_ttl_ms(call_options(options)) {
            Ok(ms) => ms.into(),
            Err(error) => report(error),
        }
    }
    /// `[text or null, ms]` (ms as PTTL), for `refreshAhead` without the near tier.
    #[wasm_bindgen(js_name = getExpiring)]
    pub fn get_expiring(&self, stored_key: String) -> JsValue {
        step(self.0.get_expiring(stored_key))
    }
    /// ms the backend keeps a key the near tier has (-1: no expiry), or undefined.
    #[wasm_bindgen(js_name = remainingMs)]
    pub fn remaining_ms(&self, stored_key: &str) -> JsValue {
        self.0.remaining_ms(stored_key).map_or(JsValue::UNDEFINED, JsValue::from)
    }
    /// A stored text `softTimeout` may serve, or undefined.
    #[wasm_bindgen(js_name = staleValue)]
    pub fn stale_value(&self, stored_key: &str) -> JsValue {
        optional_text(self.0.stale_value(stored_key).as_deref())
    }
    #[wasm_bindgen(js_name = lockKey)]
    pub fn lock_key(&self, stored_key: &str) -> JsValue {
        self.0.lock_key(stored_key).into()
    }
    /// true when taken, or a request, or an error report.
    pub fn lock(&self, lock_key: String, token: String, ttl_ms: f64) -> JsValue {
        step(self.0.lock(lock_key, token, ttl_ms))
    }
    pub fn unlock(&self, lock_key: String, token: String) -> JsValue {
        step(self.0.unlock(lock_key, token))
    }
    /// `keys`: the JSON text of an array of strings.
    #[wasm_bindgen(js_name = getMany)]
    pub fn get_many(&self, keys: &str, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.get_many(keys, call_options(options)))
    }
    /// `keys`, `values`: the JSON texts of two arrays of strings (the keys, each value's text).
    #[wasm_bindgen(js_name = setMany)]
    pub fn set_many(&self, keys: &str, values: &str, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.set_many(keys, values, call_options(options)))
    }
    /// `tags`: the JSON text of an array of strings.
    #[wasm_bindgen(js_name = invalidateTags)]
    pub fn invalidate_tags(&self, tags: &str, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.invalidate_tags(tags, call_options(options)))
    }
    pub fn delete(&self, key: &str, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.delete(key, call_options(options)))
    }
    #[wasm_bindgen(js_name = deleteMany)]
    pub fn delete_many(&self, keys: &str, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.delete_many(keys, call_options(options)))
    }
    pub fn clear(&self, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.clear(call_options(options)))
    }
    /// `ttl`: the call's argument (undefined, null or a number).
    pub fn touch(&self, key: &str, ttl: JsValue, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.touch(key, ttl_given(&ttl), call_options(options)))
    }
    /// `delta`: undefined or a number (decr passes it negated).
    pub fn incr(&self, key: &str, delta: Option<f64>, options: Option<CallOptionsObject>) -> JsValue {
        step(self.0.incr(key, delta, call_options(options)))
    }

    /// What the answer to `request` means: the outcome, the next `RestRequest`, or an
    /// error report.
    pub fn read(&self, request: RestRequest, status: u16, body: &[u8]) -> JsValue {
        step(self.0.read(request.0, status, body))
    }

    /// The next request of a `/pipeline` request whose answer `readPipeline` reads, in order.
    /// One at a time, in the same turn as `readPipeline`: a `Vec<RestRequest>` argument would
    /// bring wasm-bindgen's conversion of an array of class instances, 0.8 KB of gzipped wasm.
    pub fn pipelined(&self, request: RestRequest) {
        let mut requests = self.1.take();
        requests.push(request.0);
        self.1.set(requests);
    }

    /// What a `/pipeline` answer means for each of the requests `pipelined` gave since the last
    /// call: an array of what `read` gives, in their order.
    #[wasm_bindgen(js_name = readPipeline)]
    pub fn read_pipeline(&self, status: u16, body: &[u8]) -> Array {
        let array = Array::new();
        for read in &mut self.0.read_pipeline(self.1.take(), status, body) {
            array.push(&step(core::mem::replace(read, Ok(Step::Done(Outcome::Done)))));
        }
        array
    }

    /// What a request that got no answer means for its call (`detail`: what the runtime
    /// said): an error report, or what the near tier may serve when the backend failed.
    pub fn unanswered(&self, request: RestRequest, failure: FetchFailure, detail: &str) -> JsValue {
        step(self.0.unanswered(request.0, failure, detail))
    }

    /// Milliseconds to wait before retry number `attempt + 1`, or undefined to give up.
    #[wasm_bindgen(js_name = retryAfter)]
    pub fn retry_after(&self, failure: FetchFailure, attempt: u32, once: bool) -> Option<u32> {
        self.0.retry_after(failure, attempt, once)
    }
}

/// undefined or null: the default; else a string or a number. (The common cases first: each
/// test is a crossing into JavaScript.)
fn version_given(value: JsValue) -> VersionGiven {
    if let Some(n) = value.as_f64() {
        VersionGiven::Number(n)
    } else if let Some(text) = value.as_string() {
        VersionGiven::Text(text)
    } else {
        VersionGiven::Default
    }
}

/// undefined: the default; null: never; else a number of seconds (NaN if not one, a
/// `RangeError` then).
fn ttl_given(value: &JsValue) -> TtlGiven {
    if let Some(seconds) = value.as_f64() {
        TtlGiven::Seconds(seconds)
    } else if value.is_undefined() {
        TtlGiven::Default
    } else if value.is_null() {
        TtlGiven::Never
    } else {
        TtlGiven::Seconds(f64::NAN)
    }
}

/// An array of these. (`Array.of` is an import per number of items: `push` is imported already.)
fn array(items: &[JsValue]) -> Array {
    items.iter().collect()
}

/// A text or undefined. (`JsValue` rather than `Option<String>`: wasm-bindgen returns those
/// through a slot on the wasm stack, with more glue in JavaScript for each method.)
fn optional_text(text: Option<&str>) -> JsValue {
    text.map_or(JsValue::UNDEFINED, JsValue::from_str)
}

/// undefined, or the error report of the error (for a method that has no outcome).
fn done_or_error(result: crate::error::Result<()>) -> JsValue {
    result.err().map_or(JsValue::UNDEFINED, report)
}

fn step(result: crate::error::Result<Step>) -> JsValue {
    match result {
        Ok(Step::Done(done)) => outcome(done),
        Ok(Step::Send(request)) => RestRequest(request).into(),
        // A stale value served at once, and the request that refreshes it in the background:
        // `[value, request]` (a class of its own cost 0.3 KB of wasm for two fields).
        Ok(Step::Refresh(done, request)) => array(&[outcome(done), RestRequest(request).into()]).into(),
        Err(error) => report(error),
    }
}

/// An outcome as JavaScript gets it: undefined, a boolean, a number, a stored text or null, or
/// an array of those.
fn outcome(outcome: Outcome) -> JsValue {
    match outcome {
        Outcome::Done => JsValue::UNDEFINED,
        Outcome::Bool(b) => b.into(),
        Outcome::Number(n) => n.into(),
        Outcome::Value(text) => text.map_or(JsValue::NULL, JsValue::from),
        Outcome::Values(texts) => {
            let array = Array::new();
            for text in &texts {
                array.push(&text.as_deref().map_or(JsValue::NULL, JsValue::from_str));
            }
            array.into()
        }
        // The REST backend's stored texts, still escaped as the answer had them: the engine's
        // JSON.parse unescapes far faster than wasm could. The reader checked the text.
        Outcome::Json(json) => JSON::parse(&json).unwrap_or_else(|_| report(protocol_error())),
    }
}
