//! An answer with `{"error": "..."}` and its status, and which status a Redis failure is: a 503
//! only when nothing ran (retrying is safe), a 502 or 504 when a command was sent and its answer
//! lost (it may have run).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::http::HeaderValue;
use hyper::{header, StatusCode};
use serde_json::{json, Value as Json};

use crate::execute;
use crate::reply;
use crate::routes::{Body, Response};

#[derive(Debug)]
pub struct ErrorAnswer {
    status: StatusCode,
    message: String,
}

pub fn fail(status: StatusCode, message: impl Into<String>) -> ErrorAnswer {
    ErrorAnswer {
        status,
        message: message.into(),
    }
}

impl ErrorAnswer {
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn into_response(self) -> Response {
        let mut response = json_response(self.status, &json!({ "error": self.message }));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT"),
            );
        }
        response
    }
}

/// A Redis error reply is the caller's (400), or says the command did not run (503); a command
/// that never reached Redis is a 503 (retrying is safe); one that was sent and then got no
/// answer may have run: 504 when Redis was too slow, 502 when the connection was lost. Clients
/// read 502 and 504 as "may have run" (edge-caches does), not as "retry at will".
impl From<redis::RedisError> for ErrorAnswer {
    fn from(err: redis::RedisError) -> ErrorAnswer {
        if err.kind() == redis::ErrorKind::Parse {
            // The redis crate reads error and status lines as UTF-8 only, and Redis quotes
            // arguments in some errors ("unknown command 'x', with args beginning with: ..."): a
            // caller's bytes. It also refuses replies nested more than 100 deep, which a Lua
            // script can return.
            return fail(StatusCode::BAD_REQUEST, execute::UNREADABLE);
        }
        match err.code() {
            Some(code) if reply::did_not_run(code) => {
                fail(StatusCode::SERVICE_UNAVAILABLE, reply::failure_text(&err))
            }
            Some(_) => fail(StatusCode::BAD_REQUEST, reply::failure_text(&err)),
            None if err.is_connection_refusal()
                || err.kind() == redis::ErrorKind::ClusterConnectionNotFound =>
            {
                fail(StatusCode::SERVICE_UNAVAILABLE, "ERR Redis is unavailable")
            }
            None if err.is_timeout() => fail(
                StatusCode::GATEWAY_TIMEOUT,
                "ERR Redis did not answer in time: the command may have run",
            ),
            None => fail(
                StatusCode::BAD_GATEWAY,
                "ERR the connection to Redis ended before it answered: the command may have run",
            ),
        }
    }
}

pub fn json_response(status: StatusCode, body: &Json) -> Response {
    let bytes =
        serde_json::to_vec(body).unwrap_or_else(|_| b"{\"error\":\"ERR internal\"}".to_vec());
    let mut response = Response::new(Body::Left(Full::new(Bytes::from(bytes))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
