//! The request body: read within the size limit and the read timeout, or, for a request the
//! gateway answers without it, drained in the background so the client can read the answer.

use hyper::body::{Body as _, Bytes, Incoming};
use hyper::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;

use crate::error_answer::{fail, ErrorAnswer};
use crate::routes::App;

/// A body the gateway refuses is still read (and dropped) up to this many times --max-body, or
/// [`DRAIN_AT_LEAST`] bytes, see [`discard`].
const DRAIN_FACTOR: usize = 4;
const DRAIN_AT_LEAST: usize = 8 * 1024 * 1024;

pub fn too_large(app: &App) -> ErrorAnswer {
    fail(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "ERR the request body is larger than this gateway's limit of {} bytes (--max-body)",
            app.max_body
        ),
    )
}

pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads the body within the read timeout and the size limit (`declared`, the Content-Length,
/// is within it). Whatever the content type says: clients send `application/json`, with or
/// without a charset, or nothing.
pub async fn read_body(app: &App, declared: Option<u64>, mut body: Incoming) -> Result<Bytes, ErrorAnswer> {
    let read = async {
        let capacity = declared.map_or(0, |n| n as usize).min(app.max_body);
        let mut buffer = Vec::with_capacity(capacity);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| {
                Some(fail(
                    StatusCode::BAD_REQUEST,
                    "ERR could not read the request body",
                ))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if buffer.len() + data.len() > app.max_body {
                return Err(None);
            }
            buffer.extend_from_slice(&data);
        }
        Ok(Bytes::from(buffer))
    };
    match tokio::time::timeout(app.read_timeout, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(Some(failure))) => Err(failure),
        Ok(Err(None)) => {
            discard(app, body);
            Err(too_large(app))
        }
        Err(_) => Err(fail(
            StatusCode::REQUEST_TIMEOUT,
            "ERR the request body was not received in time",
        )),
    }
}

/// [`discard`] for a body not read at all yet: a client waiting for `100 Continue` has sent
/// nothing, so dropping the body answers it without asking for the upload.
pub fn discard_unread(app: &App, headers: &HeaderMap, body: Incoming) {
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if !expects_continue {
        discard(app, body);
    }
}

/// Reads and drops the rest of a body the gateway answers without using (401, 405, 413), in the
/// background and within limits, so the client can read the answer: closing a connection with
/// unread data resets it, and the client may lose the answer with it. Past the limits the
/// connection is simply closed.
fn discard(app: &App, mut body: Incoming) {
    if body.is_end_stream() {
        return;
    }
    let limit = app
        .max_body
        .saturating_mul(DRAIN_FACTOR)
        .max(DRAIN_AT_LEAST);
    let timeout = app.read_timeout;
    tokio::spawn(async move {
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen = seen.saturating_add(frame.data_ref().map_or(0, |d| d.len()));
                if seen > limit {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, drain).await;
    });
}
