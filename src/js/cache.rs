//! The `Cache` class: lifecycle, admission of calls, and the fourteen cache methods.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::{Array, Function, Map, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::args::{self, JsResult};
use super::runtime::{aborted_error, decode_value, env_value, many_result, to_js, with_signal, JsNumbers};
use super::settings::{self, Settings};
use crate::backend::dummy;
use crate::backend::memory::MemoryStore;
use crate::backend::rest::Rest;
use crate::transport::FetchTransport;
use crate::core::config::BackendUrl;
use crate::core::error::{Code, Error};
use crate::core::keys::{KeyBuilder, VersionArg};
use crate::core::ops::{Op, Outcome};
use crate::core::ttl::TtlArg;

enum Backend {
    Memory(Rc<RefCell<MemoryStore>>),
    Dummy,
    Rest(Rest<FetchTransport>),
}

thread_local! {
    /// `memory://NAME` stores, one per name in this JavaScript realm. They outlive the caches
    /// that use them, like any module-level Map would.
    static NAMED_STORES: RefCell<HashMap<String, Rc<RefCell<MemoryStore>>>> = RefCell::new(HashMap::new());
}

struct Inner {
    keys: KeyBuilder,
    default_ttl_ms: Option<u64>,
    backend: Backend,
    connected: Cell<bool>,
    in_flight: Cell<usize>,
    /// Wakers of `disconnect()` calls waiting for the calls in flight.
    idle: RefCell<Vec<Waker>>,
    /// `getOrSet` calls computing a default, by stored key: later callers share the result.
    computing: RefCell<HashMap<String, Promise>>,
}

impl Inner {
    async fn run(&self, op: Op) -> JsResult<Outcome> {
        match &self.backend {
            Backend::Memory(store) => {
                store.borrow_mut().execute(op, js_sys::Date::now(), &JsNumbers).map_err(to_js)
            }
            Backend::Dummy => dummy::execute(op).map_err(to_js),
            Backend::Rest(rest) => rest.execute(op, &JsNumbers).await.map_err(to_js),
        }
    }

    fn key(&self, key: &JsValue, version: &VersionArg) -> JsResult<String> {
        Ok(self.keys.build(&args::key(key)?, version))
    }

    fn ttl(&self, arg: TtlArg) -> Option<u64> {
        arg.resolve(self.default_ttl_ms)
    }

    fn computing(&self, key: &str) -> Option<Promise> {
        self.computing.borrow().get(key).cloned()
    }
}

/// Counts a call as in flight for as long as it lives.
struct InFlight(Rc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let left = self.0.in_flight.get() - 1;
        self.0.in_flight.set(left);
        if left == 0 {
            for waker in self.0.idle.borrow_mut().drain(..) {
                waker.wake();
            }
        }
    }
}

/// Resolves once no call is in flight.
struct Idle(Rc<Inner>);

impl Future for Idle {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.in_flight.get() == 0 {
            Poll::Ready(())
        } else {
            self.0.idle.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}

fn unexpected() -> JsValue {
    to_js(Error::cache(Code::Protocol, &["the backend gave an answer of the wrong kind"]))
}

fn value(outcome: Outcome) -> JsResult<Option<String>> {
    match outcome {
        Outcome::Value(v) => Ok(v),
        _ => Err(unexpected()),
    }
}

fn boolean(outcome: Outcome) -> JsResult<bool> {
    match outcome {
        Outcome::Bool(b) => Ok(b),
        _ => Err(unexpected()),
    }
}

fn done(outcome: Outcome) -> JsResult<JsValue> {
    match outcome {
        Outcome::Done => Ok(JsValue::UNDEFINED),
        _ => Err(unexpected()),
    }
}

#[wasm_bindgen]
pub struct Cache {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl Cache {
    /// `new Cache(url, options?)`: a bad URL or option throws here, not at the first call.
    #[wasm_bindgen(constructor)]
    pub fn new(url: JsValue, options: JsValue) -> JsResult<Cache> {
        Cache::with_settings(settings::read(&url, &options, None)?)
    }

    /// `Cache.fromEnv(env?, options?)`: the REST endpoint named by `UPSTASH_REDIS_REST_URL` and
    /// `UPSTASH_REDIS_REST_TOKEN` (or Vercel's `KV_REST_API_URL` and `KV_REST_API_TOKEN`), read
    /// from `env` (a Workers env) or else from process.env / Deno.env.
    #[wasm_bindgen(js_name = fromEnv)]
    pub fn from_env(env: JsValue, options: JsValue) -> JsResult<Cache> {
        let read = |names: [&str; 2]| names.iter().find_map(|name| env_value(&env, name).filter(|v| !v.is_empty()));
        let url = read(["UPSTASH_REDIS_REST_URL", "KV_REST_API_URL"]).ok_or_else(|| {
            to_js(Error::cache(Code::Config, &["UPSTASH_REDIS_REST_URL (or KV_REST_API_URL) is not set"]))
        })?;
        let token = read(["UPSTASH_REDIS_REST_TOKEN", "KV_REST_API_TOKEN"]);
        Cache::with_settings(settings::read(&JsValue::from_str(&url), &options, token)?)
    }

    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.inner.connected.get()
    }

    /// Needs no round trip: the REST backend is stateless HTTP, the memory store is here.
    pub fn connect(&self) -> Promise {
        if self.inner.connected.replace(true) {
            return Promise::reject(&to_js(Error::cache(Code::AlreadyConnected, &["the cache is already connected"])));
        }
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// Stops admitting calls at once and resolves when the calls in flight have settled.
    pub fn disconnect(&self) -> Promise {
        if !self.inner.connected.replace(false) {
            return Promise::reject(&not_connected());
        }
        let idle = Idle(self.inner.clone());
        let work: Work = Box::pin(async move {
            idle.await;
            Ok(JsValue::UNDEFINED)
        });
        future_to_promise(work)
    }

    pub fn get(&self, key: JsValue, default: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::READ)?;
            let key = inner.key(&key, &options.version)?;
            Ok(async move {
                Ok(match value(inner.run(Op::Get { key }).await?)? {
                    Some(text) => decode_value(&text),
                    // `get(key)` misses with null, as the Python original's None.
                    None if default.is_undefined() => JsValue::NULL,
                    None => default,
                })
            })
        })
    }

    pub fn set(&self, key: JsValue, value: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::WRITE)?;
            let key = inner.key(&key, &options.version)?;
            let value = args::value(&value)?;
            let ttl_ms = inner.ttl(options.ttl);
            Ok(async move { done(inner.run(Op::Set { key, value, ttl_ms }).await?) })
        })
    }

    pub fn add(&self, key: JsValue, value: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::WRITE)?;
            let key = inner.key(&key, &options.version)?;
            let value = args::value(&value)?;
            let ttl_ms = inner.ttl(options.ttl);
            Ok(async move { Ok(boolean(inner.run(Op::Add { key, value, ttl_ms }).await?)?.into()) })
        })
    }

    /// A plain default is stored in one step (store-if-missing, else read what is there); a
    /// function default is computed only on a miss, once per key however many calls overlap
    /// (they share the first call's result), and then added, so a value another writer stored
    /// meanwhile wins.
    #[wasm_bindgen(js_name = getOrSet)]
    pub fn get_or_set(&self, key: JsValue, default: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::WRITE)?;
            let key = inner.key(&key, &options.version)?;
            let ttl_ms = inner.ttl(options.ttl);
            let plain = if default.is_function() { None } else { Some(args::value(&default)?) };
            Ok(async move {
                match plain {
                    Some(value) => Ok(match self::value(inner.run(Op::GetOrAdd { key, value, ttl_ms }).await?)? {
                        Some(existing) => decode_value(&existing),
                        None => default,
                    }),
                    None => get_or_compute(inner, key, default.unchecked_into(), ttl_ms).await,
                }
            })
        })
    }

    #[wasm_bindgen(js_name = getMany)]
    pub fn get_many(&self, keys: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::READ)?;
            let requested = args::key_list(&keys)?;
            let keys: Vec<String> = requested.iter().map(|(_, k)| inner.keys.build(k, &options.version)).collect();
            Ok(async move {
                let values = if keys.is_empty() {
                    Vec::new()
                } else {
                    match inner.run(Op::GetMany { keys }).await? {
                        Outcome::Values(values) => values,
                        _ => return Err(unexpected()),
                    }
                };
                // One crossing per value, and the object is built on the JavaScript side.
                let originals: Array = requested.into_iter().map(|(original, _)| original).collect();
                let texts: Array = values.iter().map(|t| t.as_deref().map_or(JsValue::NULL, JsValue::from_str)).collect();
                Ok(many_result(&originals, &texts))
            })
        })
    }

    /// `mapping` is a plain object or a `Map` of keys to values.
    #[wasm_bindgen(js_name = setMany)]
    pub fn set_many(&self, mapping: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::WRITE)?;
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
                entries.push((inner.key(&pair.get(0), &options.version)?, args::value(&pair.get(1))?));
            }
            let ttl_ms = inner.ttl(options.ttl);
            Ok(async move {
                if entries.is_empty() {
                    return Ok(JsValue::UNDEFINED);
                }
                done(inner.run(Op::SetMany { entries, ttl_ms }).await?)
            })
        })
    }

    #[wasm_bindgen(js_name = delete)]
    pub fn delete(&self, key: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::READ)?;
            let keys = vec![inner.key(&key, &options.version)?];
            Ok(async move { done(inner.run(Op::DeleteMany { keys }).await?) })
        })
    }

    #[wasm_bindgen(js_name = deleteMany)]
    pub fn delete_many(&self, keys: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::READ)?;
            let keys: Vec<String> =
                args::key_list(&keys)?.iter().map(|(_, k)| inner.keys.build(k, &options.version)).collect();
            Ok(async move {
                if keys.is_empty() {
                    return Ok(JsValue::UNDEFINED);
                }
                done(inner.run(Op::DeleteMany { keys }).await?)
            })
        })
    }

    /// With a key prefix, deletes only this cache's keys; without one, everything in the store.
    pub fn clear(&self, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            args::call_options(&options, args::SIGNAL_ONLY)?;
            let prefix = inner.keys.clear_prefix();
            Ok(async move { done(inner.run(Op::Clear { prefix }).await?) })
        })
    }

    pub fn touch(&self, key: JsValue, ttl: JsValue, options: JsValue) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::READ)?;
            let key = inner.key(&key, &options.version)?;
            let ttl_ms = inner.ttl(args::ttl(&ttl)?);
            Ok(async move { Ok(boolean(inner.run(Op::Touch { key, ttl_ms }).await?)?.into()) })
        })
    }

    pub fn incr(&self, key: JsValue, delta: JsValue, options: JsValue) -> Promise {
        self.add_number(key, delta, options, 1.0)
    }

    pub fn decr(&self, key: JsValue, delta: JsValue, options: JsValue) -> Promise {
        self.add_number(key, delta, options, -1.0)
    }
}

impl Cache {
    fn with_settings(settings: Settings) -> JsResult<Cache> {
        let Settings { keys, default_ttl_ms, backend, max_entries, token, fetch, timeout_ms, auto_pipeline, retries } = settings;
        let backend = match backend {
            BackendUrl::Memory { name: None } => Backend::Memory(Rc::new(RefCell::new(MemoryStore::new(max_entries)))),
            BackendUrl::Memory { name: Some(name) } => Backend::Memory(NAMED_STORES.with(|stores| {
                stores
                    .borrow_mut()
                    .entry(name)
                    .or_insert_with(|| Rc::new(RefCell::new(MemoryStore::new(max_entries))))
                    .clone()
            })),
            BackendUrl::Dummy => Backend::Dummy,
            BackendUrl::Rest { endpoint, .. } => {
                let token = token.unwrap_or_default(); // settings::read demands one for REST
                Backend::Rest(Rest::new(FetchTransport::new(endpoint, &token, fetch, timeout_ms), auto_pipeline, retries))
            }
        };
        Ok(Cache {
            inner: Rc::new(Inner {
                keys,
                default_ttl_ms,
                backend,
                connected: Cell::new(false),
                in_flight: Cell::new(0),
                idle: RefCell::new(Vec::new()),
                computing: RefCell::new(HashMap::new()),
            }),
        })
    }
}

impl Cache {
    fn add_number(&self, key: JsValue, delta: JsValue, options: JsValue, sign: f64) -> Promise {
        self.call(&options, |inner| {
            let options = args::call_options(&options, args::READ)?;
            let key = inner.key(&key, &options.version)?;
            let delta = sign * args::delta(&delta)?;
            Ok(async move {
                let text = value(inner.run(Op::Incr { key, delta }).await?)?.ok_or_else(unexpected)?;
                // Only a finite number is an answer: a server that sent a 5000-digit number or
                // a word must not make incr resolve with Infinity or a string.
                let number = decode_value(&text);
                match number.as_f64() {
                    Some(n) if n.is_finite() => Ok(number),
                    _ => Err(unexpected()),
                }
            })
        })
    }

    /// Checks a call's arguments (`prepare`), admits it if the cache is connected, and runs it
    /// as a Promise, which rejects with ABORTED when the `signal` in `options` fires first.
    /// Argument errors come first: a bad call is a bug whatever the state.
    fn call<P, F>(&self, options: &JsValue, prepare: P) -> Promise
    where
        P: FnOnce(Rc<Inner>) -> JsResult<F>,
        F: Future<Output = JsResult<JsValue>> + 'static,
    {
        let work = match prepare(self.inner.clone()) {
            Ok(work) => work,
            Err(error) => return Promise::reject(&error),
        };
        let signal = match args::signal(options) {
            Ok(signal) => signal,
            Err(error) => return Promise::reject(&error),
        };
        if !self.inner.connected.get() {
            return Promise::reject(&not_connected());
        }
        if let Some(signal) = &signal {
            if js_sys::Reflect::get(signal, &"aborted".into()).ok().and_then(|a| a.as_bool()) == Some(true) {
                return Promise::reject(&aborted_error(signal));
            }
        }
        // Boxed here so that one spawn (`run_admitted`) serves every method: a generic one
        // would be compiled again for each method's future, kilobytes of wasm apiece.
        run_admitted(&self.inner, Box::pin(work), signal)
    }
}

type Work = Pin<Box<dyn Future<Output = JsResult<JsValue>>>>;

/// Runs an admitted call as a Promise, counted in flight until it settles.
fn run_admitted(inner: &Rc<Inner>, work: Work, signal: Option<JsValue>) -> Promise {
    inner.in_flight.set(inner.in_flight.get() + 1);
    let in_flight = InFlight(inner.clone());
    let promise = future_to_promise(async move {
        let result = work.await;
        drop(in_flight);
        result
    });
    match signal {
        Some(signal) => with_signal(&promise, &signal),
        None => promise,
    }
}

fn not_connected() -> JsValue {
    to_js(Error::cache(Code::NotConnected, &["the cache is not connected: call connect() first"]))
}

/// Single flight per key: the first call reads, and on a miss computes and adds; calls for the
/// same key that overlap it wait for its result instead of reading and computing themselves.
async fn get_or_compute(inner: Rc<Inner>, key: String, compute: Function, ttl_ms: Option<u64>) -> JsResult<JsValue> {
    if let Some(shared) = inner.computing(&key) {
        return JsFuture::from(shared).await;
    }
    let work: Work = Box::pin(lookup_or_compute(inner.clone(), key.clone(), compute, ttl_ms));
    let shared = future_to_promise(work);
    inner.computing.borrow_mut().insert(key, shared.clone());
    JsFuture::from(shared).await
}

async fn lookup_or_compute(inner: Rc<Inner>, key: String, compute: Function, ttl_ms: Option<u64>) -> JsResult<JsValue> {
    let result = async {
        if let Some(text) = value(inner.run(Op::Get { key: key.clone() }).await?)? {
            return Ok(decode_value(&text));
        }
        let produced = compute.call0(&JsValue::UNDEFINED)?;
        let computed = JsFuture::from(Promise::resolve(&produced)).await?;
        let text = args::value(&computed)?;
        if boolean(inner.run(Op::Add { key: key.clone(), value: text, ttl_ms }).await?)? {
            return Ok(computed);
        }
        // Another writer stored the key meanwhile: its value wins.
        Ok(match value(inner.run(Op::Get { key: key.clone() }).await?)? {
            Some(text) => decode_value(&text),
            None => computed,
        })
    }
    .await;
    inner.computing.borrow_mut().remove(&key);
    result
}
