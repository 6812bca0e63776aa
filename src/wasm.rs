//! The wasm-bindgen boundary: JavaScript values in, the engine's types; the engine's results
//! out, JavaScript values. Nothing is decided here (`crate::engine` decides), and nothing in
//! JavaScript is called back but the clock, `Math.random`, `JSON.parse` and number text.
//!
//! npm/cache.js checks the types of what a caller passes (a `TypeError`) before calling in, so
//! the conversions below cannot fail on what it sends; the engine checks the values (a
//! `RangeError` or a `CacheError` code). A call method returns one value: its outcome, a
//! `RestRequest` to send, or a `Failure` (an error as data, which npm/cache.js turns into the
//! `TypeError`, `RangeError` or `CacheError` it describes). One value rather than a `Result`:
//! wasm-bindgen returns a `Result` through a slot on the wasm stack, read after two more calls.

use crate::prelude::*;

use js_sys::{Array, JSON};
use wasm_bindgen::prelude::*;

use crate::backend::rest;
use crate::engine::{self, Host, NamedStores, NearGiven, Options, Step};
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
        js_sys::Number::from(value).to_string_with_radix(10).ok().and_then(|s| s.as_string()).unwrap_or_default()
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

/// An error as data: npm/cache.js makes the JavaScript error it describes.
#[wasm_bindgen]
pub struct Failure {
    kind: ErrorKind,
    code: &'static str,
    message: String,
}

/// Which JavaScript error a `Failure` is.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum ErrorKind {
    Type,
    Range,
    /// A `CacheError` with `code`.
    Cache,
}

#[wasm_bindgen]
impl Failure {
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The `CacheError` code (empty for the other kinds).
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.code.to_owned()
    }
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.message.clone()
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let (kind, code) = match error.kind {
            Kind::Type => (ErrorKind::Type, ""),
            Kind::Range => (ErrorKind::Range, ""),
            Kind::Cache(code) => (ErrorKind::Cache, code.as_str()),
        };
        Failure { kind, code, message: error.message }
    }
}

/// A request for npm/transport.js to send; `Engine.read` (or `readPipeline`) takes it back with
/// the answer.
#[wasm_bindgen]
pub struct RestRequest(engine::Request);

#[wasm_bindgen]
impl RestRequest {
    /// The JSON body: one command, or for `pipeline` a list of them. (A `JsValue`, not a
    /// `String`: wasm-bindgen returns a `String` through a slot on the wasm stack and frees it
    /// with another call.)
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> JsValue {
        JsValue::from_str(&self.0.body)
    }
    /// Must not run twice: retried only when it provably never left.
    #[wasm_bindgen(getter)]
    pub fn once(&self) -> bool {
        self.0.once
    }
    /// Goes to `/pipeline`, on its own; any other request may be batched.
    #[wasm_bindgen(getter)]
    pub fn pipeline(&self) -> bool {
        self.0.pipeline()
    }
    /// Goes inside a `/pipeline` request even alone (see `engine::Request::pipelined`).
    #[wasm_bindgen(getter)]
    pub fn pipelined(&self) -> bool {
        self.0.pipelined()
    }
    /// The commands in `body`: 1, or 2 with the bus's PUBLISH.
    #[wasm_bindgen(getter)]
    pub fn commands(&self) -> u32 {
        self.0.commands() as u32
    }
    /// A near-tier read of one key: the key, which concurrent reads of it may share.
    #[wasm_bindgen(getter, js_name = sharedKey)]
    pub fn shared_key(&self) -> Option<String> {
        self.0.shared_key().map(str::to_owned)
    }
}

/// A stale value served at once, and the request that refreshes it in the background.
#[wasm_bindgen]
pub struct Refresh {
    value: JsValue,
    request: Option<RestRequest>,
}

#[wasm_bindgen]
impl Refresh {
    #[wasm_bindgen(getter)]
    pub fn value(&self) -> JsValue {
        self.value.clone()
    }
    /// The refresh request (once).
    pub fn request(&mut self) -> Option<RestRequest> {
        self.request.take()
    }
}

/// How a request failed, as the transport saw it.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum FetchFailure {
    /// Failed on the way: it may or may not have reached the server.
    Network,
    /// The connection was refused or the name did not resolve: it never left.
    Unsent,
    /// An answer with a 5xx status.
    Status5xx,
    Timeout,
    Aborted,
}

impl From<FetchFailure> for rest::Failure {
    fn from(failure: FetchFailure) -> rest::Failure {
        match failure {
            FetchFailure::Network => rest::Failure::Network,
            FetchFailure::Unsent => rest::Failure::Unsent,
            FetchFailure::Status5xx => rest::Failure::Status5xx,
            FetchFailure::Timeout => rest::Failure::Timeout,
            FetchFailure::Aborted => rest::Failure::Aborted,
        }
    }
}

/// `Cache.fromEnv` without the URL in the environment.
#[wasm_bindgen(js_name = unsetEnvError)]
pub fn unset_env_error() -> Failure {
    crate::error::Error::cache(crate::error::Code::Config, &["UPSTASH_REDIS_REST_URL (or KV_REST_API_URL) is not set"]).into()
}

/// The error of a call whose signal fired; `reason` is its reason's text (or empty).
#[wasm_bindgen(js_name = abortedError)]
pub fn aborted_error(reason: &str) -> Failure {
    engine::aborted_error(reason).into()
}

#[wasm_bindgen]
pub struct Engine(engine::Engine<JsHost>);

#[wasm_bindgen]
impl Engine {
    /// `version` and `ttl` are undefined, null, or (checked by npm/cache.js) a string or number
    /// and a number. `near`: the near tier on, with `near_ttl`, `near_swr` and
    /// `near_max_entries` where given.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: &str,
        key_prefix: Option<String>,
        version: JsValue,
        ttl: JsValue,
        max_entries: Option<f64>,
        token: Option<String>,
        retries: Option<f64>,
        near: bool,
        near_ttl: Option<f64>,
        near_swr: Option<f64>,
        near_max_entries: Option<f64>,
        near_bus: bool,
        grace: Option<f64>,
        events: bool,
        tagged: bool,
    ) -> Result<Engine, Failure> {
        let near = near.then_some(NearGiven { ttl: near_ttl, swr: near_swr, max_entries: near_max_entries, bus: near_bus });
        let options = Options { key_prefix, version: version_given(version), ttl: ttl_given(&ttl), max_entries, token, retries, near, grace, events, tagged };
        Ok(Engine(engine::Engine::new(url, options, JsHost, &NAMED_STORES.0)?))
    }

    /// The REST endpoint (undefined for memory and dummy).
    #[wasm_bindgen(getter)]
    pub fn endpoint(&self) -> Option<String> {
        self.0.endpoint().map(|(url, _)| url.to_owned())
    }
    #[wasm_bindgen(getter)]
    pub fn token(&self) -> Option<String> {
        self.0.endpoint().map(|(_, token)| token.to_owned())
    }
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.0.connected()
    }
    pub fn connect(&self) -> Result<(), Failure> {
        Ok(self.0.connect()?)
    }
    pub fn disconnect(&self) -> Result<(), Failure> {
        Ok(self.0.disconnect()?)
    }
    #[wasm_bindgen(getter, js_name = nearHits)]
    pub fn near_hits(&self) -> f64 {
        self.0.stats().near_hits as f64
    }
    #[wasm_bindgen(getter, js_name = nearMisses)]
    pub fn near_misses(&self) -> f64 {
        self.0.stats().near_misses as f64
    }
    #[wasm_bindgen(getter, js_name = staleServed)]
    pub fn stale_served(&self) -> f64 {
        self.0.stats().stale_served as f64
    }

    /// The channel to listen on (with `near.bus` on REST), else undefined.
    #[wasm_bindgen(getter, js_name = busChannel)]
    pub fn bus_channel(&self) -> Option<String> {
        self.0.bus_channel().map(str::to_owned)
    }
    /// A message on the bus channel: what the near tier dropped (an array of stored keys, or
    /// null for everything), or undefined when it was this instance's own or not a message.
    #[wasm_bindgen(js_name = busMessage)]
    pub fn bus_message(&self, text: &str) -> JsValue {
        match self.0.bus_message(text) {
            None => JsValue::UNDEFINED,
            Some(None) => JsValue::NULL,
            Some(Some(keys)) => keys.into_iter().map(JsValue::from).collect::<Array>().into(),
        }
    }
    /// The bus stream was down and is back: the near tier is emptied.
    #[wasm_bindgen(js_name = busReset)]
    pub fn bus_reset(&self) {
        self.0.bus_reset();
    }

    /// What reads found for each key since the last call (with `events`): `[kind, key, ...]`,
    /// kind as `engine::KeyEvent` numbers it.
    #[wasm_bindgen(js_name = takeEvents)]
    pub fn take_events(&self) -> Array {
        let array = Array::new();
        for (kind, key) in self.0.take_events() {
            array.push(&JsValue::from(kind as u32));
            array.push(&JsValue::from(key));
        }
        array
    }

    // The call methods: `aborted` is undefined, or the reason text of a signal that fired;
    // `fresh`: skip the near tier.

    pub fn get(&self, key: &str, version: JsValue, aborted: Option<String>, fresh: bool) -> JsValue {
        step(self.0.get(key, version_given(version), aborted.as_deref(), fresh))
    }
    /// `value`: its JSON text. `tags`, here and below: undefined, or the JSON text of an array
    /// of strings.
    pub fn set(&self, key: &str, value: String, ttl: JsValue, version: JsValue, tags: Option<String>, aborted: Option<String>) -> JsValue {
        step(self.0.set(key, value, ttl_given(&ttl), version_given(version), tags.as_deref(), aborted.as_deref()))
    }
    pub fn add(&self, key: &str, value: String, ttl: JsValue, version: JsValue, tags: Option<String>, aborted: Option<String>) -> JsValue {
        step(self.0.add(key, value, ttl_given(&ttl), version_given(version), tags.as_deref(), aborted.as_deref()))
    }
    #[wasm_bindgen(js_name = getOrSet)]
    #[allow(clippy::too_many_arguments)]
    pub fn get_or_set(&self, key: &str, value: String, ttl: JsValue, version: JsValue, tags: Option<String>, aborted: Option<String>, fresh: bool) -> JsValue {
        step(self.0.get_or_set(key, value, ttl_given(&ttl), version_given(version), tags.as_deref(), aborted.as_deref(), fresh))
    }
    /// The stored key, or a `Failure`.
    #[wasm_bindgen(js_name = getOrSetKey)]
    pub fn get_or_set_key(&self, key: &str, ttl: JsValue, version: JsValue, tags: Option<String>, aborted: Option<String>) -> JsValue {
        match self.0.get_or_set_key(key, ttl_given(&ttl), version_given(version), tags.as_deref(), aborted.as_deref()) {
            Ok(stored) => stored.into(),
            Err(error) => Failure::from(error).into(),
        }
    }
    #[wasm_bindgen(js_name = getStored)]
    pub fn get_stored(&self, stored_key: String, fresh: bool) -> JsValue {
        step(self.0.get_stored(stored_key, fresh))
    }
    #[wasm_bindgen(js_name = addStored)]
    pub fn add_stored(&self, stored_key: String, value: String, ttl: JsValue, tags: Option<String>) -> JsValue {
        step(self.0.add_stored(stored_key, value, ttl_given(&ttl), tags.as_deref()))
    }
    /// `keys`: the JSON text of an array of strings.
    #[wasm_bindgen(js_name = getMany)]
    pub fn get_many(&self, keys: &str, version: JsValue, aborted: Option<String>, fresh: bool) -> JsValue {
        step(self.0.get_many(keys, version_given(version), aborted.as_deref(), fresh))
    }
    /// `keys`, `values`: the JSON texts of two arrays of strings (the keys, each value's text).
    #[wasm_bindgen(js_name = setMany)]
    pub fn set_many(&self, keys: &str, values: &str, ttl: JsValue, version: JsValue, tags: Option<String>, aborted: Option<String>) -> JsValue {
        step(self.0.set_many(keys, values, ttl_given(&ttl), version_given(version), tags.as_deref(), aborted.as_deref()))
    }
    /// `tags`: the JSON text of an array of strings.
    #[wasm_bindgen(js_name = invalidateTags)]
    pub fn invalidate_tags(&self, tags: &str, aborted: Option<String>) -> JsValue {
        step(self.0.invalidate_tags(tags, aborted.as_deref()))
    }
    pub fn delete(&self, key: &str, version: JsValue, aborted: Option<String>) -> JsValue {
        step(self.0.delete(key, version_given(version), aborted.as_deref()))
    }
    #[wasm_bindgen(js_name = deleteMany)]
    pub fn delete_many(&self, keys: &str, version: JsValue, aborted: Option<String>) -> JsValue {
        step(self.0.delete_many(keys, version_given(version), aborted.as_deref()))
    }
    pub fn clear(&self, aborted: Option<String>) -> JsValue {
        step(self.0.clear(aborted.as_deref()))
    }
    pub fn touch(&self, key: &str, ttl: JsValue, version: JsValue, aborted: Option<String>) -> JsValue {
        step(self.0.touch(key, ttl_given(&ttl), version_given(version), aborted.as_deref()))
    }
    /// `delta`: undefined or a number (decr passes it negated).
    pub fn incr(&self, key: &str, delta: Option<f64>, version: JsValue, aborted: Option<String>) -> JsValue {
        step(self.0.incr(key, delta, version_given(version), aborted.as_deref()))
    }

    /// What the answer to `request` means: the outcome, the next `RestRequest`, or a `Failure`.
    pub fn read(&self, request: RestRequest, status: u16, body: &[u8]) -> JsValue {
        step(self.0.read(request.0, status, body))
    }

    /// What a `/pipeline` answer means for each of its requests: an array of what `read` gives.
    #[wasm_bindgen(js_name = readPipeline)]
    pub fn read_pipeline(&self, requests: Vec<RestRequest>, status: u16, body: &[u8]) -> Array {
        let requests: Vec<engine::Request> = requests.into_iter().map(|r| r.0).collect();
        self.0.read_pipeline(requests, status, body).into_iter().map(step).collect()
    }

    /// What a request that got no answer means for its call (`detail`: what the runtime
    /// said): a `Failure`, or what the near tier may serve when the backend failed.
    pub fn fail(&self, request: RestRequest, failure: FetchFailure, detail: &str) -> JsValue {
        step(self.0.fail(request.0, failure.into(), detail))
    }

    /// Milliseconds to wait before retry number `attempt + 1`, or undefined to give up.
    #[wasm_bindgen(js_name = retryAfter)]
    pub fn retry_after(&self, failure: FetchFailure, attempt: u32, once: bool) -> Option<u32> {
        self.0.retry_after(failure.into(), attempt, once)
    }
}

/// undefined or null: the default; else a string or a number.
fn version_given(value: JsValue) -> VersionGiven {
    if value.is_undefined() || value.is_null() {
        VersionGiven::Default
    } else if let Some(n) = value.as_f64() {
        VersionGiven::Number(n)
    } else {
        VersionGiven::Text(value.as_string().unwrap_or_default())
    }
}

/// undefined: the default; null: never; else a number of seconds (NaN if not one, a
/// `RangeError` then).
fn ttl_given(value: &JsValue) -> TtlGiven {
    if value.is_undefined() {
        TtlGiven::Default
    } else if value.is_null() {
        TtlGiven::Never
    } else {
        TtlGiven::Seconds(value.as_f64().unwrap_or(f64::NAN))
    }
}

fn step(result: crate::error::Result<Step>) -> JsValue {
    match result {
        Ok(Step::Done(done)) => outcome(done),
        Ok(Step::Send(request)) => RestRequest(request).into(),
        Ok(Step::Refresh(done, request)) => Refresh { value: outcome(done), request: Some(RestRequest(request)) }.into(),
        Err(error) => Failure::from(error).into(),
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
        Outcome::Values(texts) => texts.into_iter().map(|t| t.map_or(JsValue::NULL, JsValue::from)).collect::<Array>().into(),
        // The REST backend's stored texts, still escaped as the answer had them: the engine's
        // JSON.parse unescapes far faster than wasm could. The reader checked the text.
        Outcome::Json(json) => JSON::parse(&json).unwrap_or_else(|_| Failure::from(crate::backend::rest::commands::protocol_error()).into()),
    }
}
