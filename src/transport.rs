//! The fetch transport of the REST backend: the global `fetch` (never `window.fetch`, which
//! Workers, Deno and Node do not have) or the one given in `options.fetch`.

use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::backend::rest::{Response, Transport};
use crate::core::error::{Code, Error, Result};
use crate::js::runtime::{failure, post, sleep};

pub struct FetchTransport {
    /// Scheme, host and path, without userinfo or query (so it is safe to show).
    endpoint: String,
    /// `{ Authorization, "Content-Type" }`, made once: a plain object is fine to reuse.
    headers: JsValue,
    /// A function, or undefined for the global fetch.
    fetch: JsValue,
    timeout_ms: f64,
}

impl FetchTransport {
    pub fn new(endpoint: String, token: &str, fetch: JsValue, timeout_ms: f64) -> Self {
        let headers = js_sys::Object::new();
        let mut bearer = String::from("Bearer ");
        bearer.push_str(token);
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&headers, &"Authorization".into(), &bearer.into());
        let _ = js_sys::Reflect::set(&headers, &"Content-Type".into(), &"application/json".into());
        FetchTransport { endpoint, headers: headers.into(), fetch, timeout_ms }
    }
}

impl Transport for FetchTransport {
    async fn post(&self, path: &'static str, body: &str) -> Result<Response> {
        let mut url = String::with_capacity(self.endpoint.len() + path.len());
        url.push_str(&self.endpoint);
        url.push_str(path);
        let answer = JsFuture::from(post(&self.fetch, &url, &self.headers, body, self.timeout_ms))
            .await
            .map_err(|error| {
                let info = failure(&error);
                let message = info.get(1).as_string().unwrap_or_default();
                let (code, what) = match info.get(0).as_string().as_deref() {
                    Some("TIMEOUT") => (Code::Timeout, "the request timed out: "),
                    Some("ABORTED") => (Code::Aborted, "the request was aborted: "),
                    _ => (Code::Network, "the request failed: "),
                };
                let mut error = Error::cache(code, &[what, &message]);
                error.unsent = info.get(2).as_bool().unwrap_or(false);
                error
            })?;
        let answer: Array = answer.unchecked_into();
        Ok(Response {
            status: answer.get(0).as_f64().unwrap_or(0.0) as u16,
            body: answer.get(1).as_string().unwrap_or_default(),
        })
    }

    async fn sleep(&self, ms: u32) {
        let _ = JsFuture::from(sleep(ms)).await;
    }

}
