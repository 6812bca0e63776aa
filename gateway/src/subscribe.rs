//! SUBSCRIBE and PSUBSCRIBE as Upstash serves them: `POST /subscribe/<channel>...` (or
//! `/psubscribe/<pattern>...`) answers with a stream of server-sent events, one per Redis
//! message, as `data: subscribe,<channel>,<count>`, `data: message,<channel>,<payload>` and
//! `data: pmessage,<pattern>,<channel>,<payload>` (the format @upstash/redis's `Subscriber`
//! reads). Each stream has a Redis connection of its own (a subscribed connection can do
//! nothing else), at most --max-subscribers of them; it is closed when the client goes away or
//! Redis does, and the client subscribes again.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use hyper::body::{Bytes, Frame};
use redis::RedisError;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// A comment line now and then, so proxies keep an idle stream open and a client that went away
/// is noticed even when no message comes.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The body of a subscription's response: events as the forwarding task makes them.
pub struct Events {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for Events {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|event| event.map(|e| Ok(Frame::data(e))))
    }
}

/// Subscribes a connection of its own made from `client` and returns the stream of its events.
/// Fails (503) when Redis cannot be reached, handing the permit back for another try; the
/// subscription's own errors end the stream.
pub async fn open(
    client: redis::Client,
    names: Vec<Vec<u8>>,
    pattern: bool,
    permit: OwnedSemaphorePermit,
) -> Result<Events, (RedisError, OwnedSemaphorePermit)> {
    let subscribed = async {
        let mut pubsub = client.get_async_pubsub().await?;
        for name in &names {
            if pattern {
                pubsub.psubscribe(name.as_slice()).await?;
            } else {
                pubsub.subscribe(name.as_slice()).await?;
            }
        }
        Ok::<_, RedisError>(pubsub)
    };
    let mut pubsub = match subscribed.await {
        Ok(pubsub) => pubsub,
        Err(e) => return Err((e, permit)),
    };
    // A few events may wait for a slow client; past that the stream ends rather than buffer.
    let (tx, rx) = mpsc::channel(1024);
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    for (count, name) in names.iter().enumerate() {
        let _ = tx.try_send(event(&[
            kind.as_bytes(),
            name,
            (count + 1).to_string().as_bytes(),
        ]));
    }
    tokio::spawn(async move {
        let _permit = permit; // the stream's place among --max-subscribers
        let mut messages = pubsub.on_message();
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.reset();
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break }; // Redis went away
                    let channel = message.get_channel_name().as_bytes();
                    let payload = message.get_payload_bytes();
                    let line = match message.get_pattern::<Vec<u8>>() {
                        Ok(pattern) if message.from_pattern() => {
                            event(&[b"pmessage", &pattern, channel, payload])
                        }
                        _ => event(&[b"message", channel, payload]),
                    };
                    if tx.try_send(line).is_err() {
                        break; // the client went away, or reads too slowly
                    }
                }
                _ = keepalive.tick() => {
                    if tx.try_send(Bytes::from_static(b": keepalive\n\n")).is_err() {
                        break;
                    }
                }
                () = tx.closed() => break,
            }
        }
    });
    Ok(Events { rx })
}

/// One event: the fields joined by commas after `data: `. A payload with line breaks goes on
/// several `data:` lines, as server-sent events carry them.
fn event(fields: &[&[u8]]) -> Bytes {
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 1).sum::<usize>() + 8);
    out.extend_from_slice(b"data: ");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        for &b in *field {
            match b {
                b'\n' => out.extend_from_slice(b"\ndata: "),
                b'\r' => {}
                _ => out.push(b),
            }
        }
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_as_upstash_writes_them() {
        assert_eq!(
            &event(&[b"message", b"ch", b"{\"a\":1}"])[..],
            b"data: message,ch,{\"a\":1}\n\n"
        );
        assert_eq!(
            &event(&[b"message", b"ch", b"a\r\nb"])[..],
            b"data: message,ch,a\ndata: b\n\n"
        );
    }
}
