//! A `get` as a typical wasm-bindgen client writes it: an `async fn` (a Promise through
//! wasm-bindgen-futures), the request built and sent with web-sys, the call's options read
//! with serde-wasm-bindgen. Same command and stored-key format as edge-caches.
#[cfg(feature = "serde")]
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    // The global fetch (Node, Deno, Workers and browsers all have one; web-sys's is Window's).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(request: &Request) -> js_sys::Promise;
}

/// Five options, as edge-caches' calls take them.
#[cfg(feature = "serde")]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CallOptions {
    ttl: Option<f64>,
    version: Option<String>,
    fresh: bool,
    tags: Option<Vec<String>>,
    wait_until: Option<()>,
}

#[wasm_bindgen]
pub struct Client {
    url: String,
    authorization: String,
}

#[wasm_bindgen]
impl Client {
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, token: String) -> Client {
        Client { url, authorization: format!("Bearer {token}") }
    }

    pub async fn get(&self, key: String, options: JsValue) -> Result<JsValue, JsValue> {
        #[cfg(feature = "serde")]
        let version = {
            let options: CallOptions = if options.is_undefined() { CallOptions::default() } else { serde_wasm_bindgen::from_value(options)? };
            let _ = (options.ttl, options.fresh, options.tags, options.wait_until);
            options.version
        };
        #[cfg(not(feature = "serde"))]
        let version = if options.is_undefined() { None } else { js_sys::Reflect::get(&options, &"version".into())?.as_string() };
        let stored = format!("::{}{}", version.as_deref().map(|v| format!("{v}:")).unwrap_or_default(), key);
        let command = js_sys::Array::of2(&"GET".into(), &stored.into());
        let body = js_sys::JSON::stringify(&command)?;
        let headers = Headers::new()?;
        headers.set("Authorization", &self.authorization)?;
        headers.set("Content-Type", "application/json")?;
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_headers(&headers);
        init.set_body(&body);
        let request = Request::new_with_str_and_init(&self.url, &init)?;
        let response: Response = JsFuture::from(fetch_with_request(&request)).await?.dyn_into()?;
        let text = JsFuture::from(response.text()?).await?;
        let answer = js_sys::JSON::parse(&text.as_string().unwrap_or_default())?;
        let result = js_sys::Reflect::get(&answer, &"result".into())?;
        match result.as_string() {
            Some(stored) => js_sys::JSON::parse(&stored),
            None => Ok(JsValue::NULL),
        }
    }
}
