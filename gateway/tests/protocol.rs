//! The Upstash REST protocol as clients see it: endpoints, arguments, results, encodings and
//! the 400/405/413 answers, against a real redis-server.

mod common;

use std::time::{Duration, Instant};

use common::{b64, bearer, shared, Servers, TOKEN};
use hyper::{Method, StatusCode};
use serde_json::json;

const MAX_BODY: usize = 64 * 1024;

fn servers() -> std::sync::Arc<Servers> {
    shared(&["--max-body", "65536", "--max-pipeline", "20"])
}

#[tokio::test]
async fn body_style_commands() {
    let s = servers();
    let g = &s.gateway;
    assert_eq!(
        g.post("/", r#"["SET","p:body:k","v"]"#).await.result(),
        json!("OK")
    );
    assert_eq!(
        g.post("/", r#"["GET","p:body:k"]"#).await.result(),
        json!("v")
    );
    assert_eq!(
        g.post("/", r#"["GET","p:body:missing"]"#).await.result(),
        json!(null)
    );
    assert_eq!(
        g.post("/", r#"["EXISTS","p:body:k","p:body:missing"]"#)
            .await
            .result(),
        json!(1)
    );
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
    assert_eq!(
        g.post("/", r#"["ECHO","héllo ✓"]"#).await.result(),
        json!("héllo ✓")
    );
}

#[tokio::test]
async fn json_numbers_are_sent_as_decimal_text() {
    let s = servers();
    let g = &s.gateway;
    assert_eq!(
        g.post("/", r#"["SET","p:num:k",42,"EX",100]"#)
            .await
            .result(),
        json!("OK")
    );
    assert_eq!(
        g.post("/", r#"["INCRBY","p:num:k",-2]"#).await.result(),
        json!(40)
    );
    assert_eq!(
        g.post("/", r#"["INCRBYFLOAT","p:num:k",1.5]"#)
            .await
            .result(),
        json!("41.5")
    );
    assert_eq!(
        g.post("/", r#"["INCRBYFLOAT","p:num:k",1e2]"#)
            .await
            .result(),
        json!("141.5")
    );
    let ttl = g.post("/", r#"["TTL","p:num:k"]"#).await.result();
    assert!((1..=100).contains(&ttl.as_i64().unwrap()), "{ttl}");
    assert_eq!(
        g.post("/", r#"["SET","p:num:big",18446744073709551615]"#)
            .await
            .result(),
        json!("OK")
    );
    assert_eq!(
        g.post("/", r#"["GET","p:num:big"]"#).await.result(),
        json!("18446744073709551615")
    );
}

#[tokio::test]
async fn nested_array_results() {
    let s = servers();
    let g = &s.gateway;
    g.post("/", r#"["RPUSH","p:arr:list","a","b","c"]"#)
        .await
        .result();
    assert_eq!(
        g.post("/", r#"["LRANGE","p:arr:list",0,-1]"#)
            .await
            .result(),
        json!(["a", "b", "c"])
    );
    g.post("/", r#"["HSET","p:arr:hash","f1","v1","f2","v2"]"#)
        .await
        .result();
    let mut fields: Vec<String> =
        serde_json::from_value(g.post("/", r#"["HGETALL","p:arr:hash"]"#).await.result()).unwrap();
    fields.sort();
    assert_eq!(fields, ["f1", "f2", "v1", "v2"]);
    g.post("/", r#"["ZADD","p:arr:z",1,"one",2.5,"two"]"#)
        .await
        .result();
    assert_eq!(
        g.post("/", r#"["ZRANGE","p:arr:z",0,-1,"WITHSCORES"]"#)
            .await
            .result(),
        json!(["one", "1", "two", "2.5"])
    );
    assert_eq!(
        g.post(
            "/",
            r#"["EVAL","return {1,{2,'x',{}},redis.call('GET','p:arr:none')}",0]"#
        )
        .await
        .result(),
        json!([1, [2, "x", []], null])
    );
    let scan = g
        .post("/", r#"["SCAN",0,"MATCH","p:arr:l*","COUNT",1000]"#)
        .await
        .result();
    assert_eq!(scan, json!(["0", ["p:arr:list"]]));
}

#[tokio::test]
async fn pipeline_runs_in_order_with_an_entry_per_command() {
    let s = servers();
    let g = &s.gateway;
    let reply = g
        .post(
            "/pipeline",
            r#"[["SET","p:pipe:k","1"],["INCR","p:pipe:k"],["HSET","p:pipe:k","f","v"],["GET","p:pipe:k"],["LRANGE","p:pipe:none",0,-1]]"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!([
            {"result": "OK"},
            {"result": 2},
            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
            {"result": "2"},
            {"result": []},
        ])
    );
    // Not atomic: a command Redis rejects does not stop the others.
    let reply = g
        .post("/pipeline", r#"[["GET"],["SET","p:pipe:after","x"]]"#)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json()[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR wrong number of arguments"));
    assert_eq!(
        g.post("/", r#"["GET","p:pipe:after"]"#).await.result(),
        json!("x")
    );
}

#[tokio::test]
async fn multi_exec_is_a_transaction() {
    let s = servers();
    let g = &s.gateway;
    let reply = g
        .post(
            "/multi-exec",
            r#"[["SET","p:tx:k","5"],["INCR","p:tx:k"],["LPUSH","p:tx:k","x"],["GET","p:tx:k"]]"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!([
            {"result": "OK"},
            {"result": 6},
            {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
            {"result": "6"},
        ])
    );
    // A command refused while queueing discards the whole transaction: one error, 400, nothing ran.
    let reply = g
        .post("/multi-exec", r#"[["SET","p:tx:discarded","1"],["GET"]]"#)
        .await;
    let error = reply.error(StatusCode::BAD_REQUEST);
    assert!(
        error.starts_with("ERR wrong number of arguments"),
        "{error}"
    );
    assert!(reply.json().is_object());
    assert_eq!(
        g.post("/", r#"["EXISTS","p:tx:discarded"]"#).await.result(),
        json!(0)
    );
    let reply = g
        .post(
            "/multi-exec",
            r#"[["SET","p:tx:discarded","1"],["NOSUCHCOMMAND"]]"#,
        )
        .await;
    assert!(reply
        .error(StatusCode::BAD_REQUEST)
        .starts_with("ERR unknown command"));
    assert_eq!(
        g.post("/", r#"["EXISTS","p:tx:discarded"]"#).await.result(),
        json!(0)
    );
}

#[tokio::test]
async fn path_style_commands() {
    let s = servers();
    let g = &s.gateway;
    assert_eq!(
        g.get("/set/p:path:k/hello%20world").await.result(),
        json!("OK")
    );
    assert_eq!(g.get("/get/p:path:k").await.result(), json!("hello world"));
    assert_eq!(
        g.get("/GET/p%3Apath%3Ak").await.result(),
        json!("hello world")
    );
    // Query parameters other than _token are appended as KEY VALUE.
    assert_eq!(g.get("/set/p:path:ex/v?EX=100").await.result(), json!("OK"));
    let ttl = g.get("/ttl/p:path:ex").await.result().as_i64().unwrap();
    assert!((1..=100).contains(&ttl), "{ttl}");
    // With POST the body is the last path argument, before the query parameters.
    let reply = g
        .request(
            Method::POST,
            "/set/p:path:body?EX=50&_token=ignored",
            &[("authorization", &bearer(TOKEN))],
            br#"{"json": "as a value", "n": [1, 2]}"#,
        )
        .await;
    assert_eq!(reply.result(), json!("OK"));
    assert_eq!(
        g.get("/get/p:path:body").await.result(),
        json!(r#"{"json": "as a value", "n": [1, 2]}"#)
    );
    let ttl = g.get("/ttl/p:path:body").await.result().as_i64().unwrap();
    assert!((1..=50).contains(&ttl), "{ttl}");
    // PUT works like POST; an empty body adds no argument; a trailing slash neither.
    let reply = g
        .request(
            Method::PUT,
            "/rpush/p:path:list/a/b/",
            &[("authorization", &bearer(TOKEN))],
            b"",
        )
        .await;
    assert_eq!(reply.result(), json!(2));
    assert_eq!(
        g.get("/lrange/p:path:list/0/-1").await.result(),
        json!(["a", "b"])
    );
    // HEAD answers like GET, without a body.
    let reply = g
        .request(
            Method::HEAD,
            "/get/p:path:k",
            &[("authorization", &bearer(TOKEN))],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
    // A Redis error is a 400 with its text.
    let error = g.get("/incr/p:path:k").await.error(StatusCode::BAD_REQUEST);
    assert_eq!(error, "ERR value is not an integer or out of range");
}

#[tokio::test]
async fn base64_encoding_keeps_bytes_and_leaves_ok_numbers_null_and_errors() {
    let s = servers();
    let g = &s.gateway;
    // A value that is not UTF-8, written through a path-style POST body and a percent-encoded path.
    let raw = b"\xff\x00bin\xc3";
    let reply = g
        .request(
            Method::POST,
            "/set/p:b64:raw",
            &[("authorization", &bearer(TOKEN))],
            raw,
        )
        .await;
    assert_eq!(reply.result(), json!("OK"));
    assert_eq!(
        g.post64("/", r#"["GET","p:b64:raw"]"#).await.result(),
        json!(b64(raw))
    );
    assert_eq!(
        g.post("/", r#"["GET","p:b64:raw"]"#).await.result(),
        json!("\u{fffd}\u{0}bin\u{fffd}")
    );
    g.get("/set/p:b64:pct/%FE%FFok").await.result();
    assert_eq!(
        g.post64("/", r#"["GET","p:b64:pct"]"#).await.result(),
        json!(b64(b"\xfe\xffok"))
    );
    g.post("/", r#"["SET","p:b64:sr","abc"]"#).await.result();
    g.get("/setrange/p:b64:sr/1/%80").await.result();
    assert_eq!(
        g.post64("/", r#"["GET","p:b64:sr"]"#).await.result(),
        json!(b64(b"a\x80c"))
    );

    // "OK" stays, integers and null stay, other strings (status replies too) are encoded.
    assert_eq!(
        g.post64("/", r#"["SET","p:b64:k","value"]"#).await.result(),
        json!("OK")
    );
    assert_eq!(
        g.post64("/", r#"["INCR","p:b64:n"]"#).await.result(),
        json!(1)
    );
    assert_eq!(
        g.post64("/", r#"["GET","p:b64:none"]"#).await.result(),
        json!(null)
    );
    assert_eq!(
        g.post64("/", r#"["PING"]"#).await.result(),
        json!(b64("PONG"))
    );
    assert_eq!(
        g.post64("/", r#"["TYPE","p:b64:k"]"#).await.result(),
        json!(b64("string"))
    );
    g.post("/", r#"["RPUSH","p:b64:list","x","yz"]"#)
        .await
        .result();
    assert_eq!(
        g.post64("/", r#"["LRANGE","p:b64:list",0,-1]"#)
            .await
            .result(),
        json!([b64("x"), b64("yz")])
    );
    // Errors are never encoded, in a single answer or in a pipeline.
    let error = g
        .post64("/", r#"["INCR","p:b64:k"]"#)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(error, "ERR value is not an integer or out of range");
    let reply = g
        .post64(
            "/pipeline",
            r#"[["SET","p:b64:k","v2"],["GET","p:b64:k"],["INCR","p:b64:k"],["INCR","p:b64:n"]]"#,
        )
        .await;
    assert_eq!(
        reply.json(),
        json!([
            {"result": "OK"},
            {"result": b64("v2")},
            {"error": "ERR value is not an integer or out of range"},
            {"result": 2},
        ])
    );
    let reply = g
        .post64(
            "/multi-exec",
            r#"[["SET","p:b64:k","v3"],["GET","p:b64:k"]]"#,
        )
        .await;
    assert_eq!(
        reply.json(),
        json!([{"result": "OK"}, {"result": b64("v3")}])
    );
}

#[tokio::test]
async fn any_content_type_is_accepted() {
    let s = servers();
    let g = &s.gateway;
    let auth = bearer(TOKEN);
    for content_type in [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/json;charset=UTF-8"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        let reply = g
            .request(Method::POST, "/", &headers, br#"["ECHO","ct"]"#)
            .await;
        assert_eq!(reply.result(), json!("ct"), "{content_type:?}");
        let reply = g
            .request(Method::POST, "/pipeline", &headers, br#"[["ECHO","ct"]]"#)
            .await;
        assert_eq!(reply.json(), json!([{"result": "ct"}]), "{content_type:?}");
    }
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let s = servers();
    let g = &s.gateway;
    for (path, body) in [
        ("/", ""),
        ("/", "not json"),
        ("/", r#"["GET","k""#),
        ("/", "[]"),
        ("/", r#"[""]"#),
        ("/", r#"{"command":"GET"}"#),
        ("/", r#""PING""#),
        ("/", r#"["SET","k",{"a":1}]"#),
        ("/", r#"["SET","k",["nested"]]"#),
        ("/", r#"[true,"k"]"#),
        ("/", r#"["SET","k",null]"#),
        ("/", r#"[1]"#),
        ("/", r#"["NOSUCHCOMMAND"]"#),
        ("/pipeline", "[]"),
        ("/pipeline", r#"["PING"]"#),
        ("/pipeline", r#"[["PING"],[]]"#),
        ("/pipeline", r#"[["PING"],["SET","k",null]]"#),
        ("/multi-exec", "[]"),
        ("/multi-exec", r#"[{"a":1}]"#),
    ] {
        let reply = g.post(path, body).await;
        let error = reply.error(StatusCode::BAD_REQUEST);
        assert!(!error.is_empty(), "{path} {body}");
    }
    // GET / has no command.
    g.get("/").await.error(StatusCode::BAD_REQUEST);
    // Over the command limit per request (20 here).
    let many = format!("[{}]", vec![r#"["PING"]"#; 21].join(","));
    let error = g
        .post("/pipeline", &many)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(error.contains("limit is 20"), "{error}");
    g.post("/multi-exec", &many)
        .await
        .error(StatusCode::BAD_REQUEST);
    let twenty = format!("[{}]", vec![r#"["PING"]"#; 20].join(","));
    assert_eq!(
        g.post("/pipeline", &twenty)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        20
    );
}

#[tokio::test]
async fn other_methods_are_405() {
    let s = servers();
    let g = &s.gateway;
    let auth = bearer(TOKEN);
    for method in [
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
    ] {
        let reply = g
            .request(method.clone(), "/get/k", &[("authorization", &auth)], b"")
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        if method != Method::TRACE {
            assert!(reply.json()["error"].is_string());
        }
    }
    // Pipelines and transactions need a body.
    assert_eq!(
        g.get("/pipeline").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        g.get("/multi-exec").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let s = servers();
    let g = &s.gateway;
    let value = "x".repeat(MAX_BODY);
    let body = format!(r#"["SET","p:413:k","{value}"]"#);
    let error = g
        .post("/", &body)
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error.contains("65536"), "{error}");
    g.post("/pipeline", &format!("[{body}]"))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    g.post("/multi-exec", &format!("[{body}]"))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    let reply = g
        .request(
            Method::POST,
            "/set/p:413:k",
            &[("authorization", &bearer(TOKEN))],
            value.as_bytes(),
        )
        .await;
    assert_eq!(reply.result(), json!("OK"), "exactly the limit is fine");
    let mut over = value.clone();
    over.push('y');
    let reply = g
        .request(
            Method::POST,
            "/set/p:413:k",
            &[("authorization", &bearer(TOKEN))],
            over.as_bytes(),
        )
        .await;
    reply.error(StatusCode::PAYLOAD_TOO_LARGE);
    // Far over the limit: refused from Content-Length alone.
    let huge = vec![b'z'; 5 * MAX_BODY];
    let reply = g
        .request(
            Method::POST,
            "/set/p:413:k",
            &[("authorization", &bearer(TOKEN))],
            &huge,
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        g.post("/", r#"["STRLEN","p:413:k"]"#).await.result(),
        json!(MAX_BODY)
    );
}

#[tokio::test]
async fn blocking_and_connection_state_commands_are_refused_fast() {
    let s = servers();
    let g = &s.gateway;
    let refused = [
        r#"["BLPOP","p:block:list",0]"#,
        r#"["BRPOP","p:block:list",0]"#,
        r#"["BRPOPLPUSH","p:block:list","p:block:other",0]"#,
        r#"["BLMOVE","p:block:list","p:block:other","LEFT","LEFT",0]"#,
        r#"["BLMPOP",0,1,"p:block:list","LEFT"]"#,
        r#"["BZPOPMIN","p:block:z",0]"#,
        r#"["BZPOPMAX","p:block:z",0]"#,
        r#"["BZMPOP",0,1,"p:block:z","MIN"]"#,
        r#"["XREAD","BLOCK",0,"STREAMS","p:block:s","$"]"#,
        r#"["XREADGROUP","GROUP","g","c","BLOCK",0,"STREAMS","p:block:s",">"]"#,
        r#"["WAIT",1,0]"#,
        r#"["WAITAOF",1,0,0]"#,
        r#"["SUBSCRIBE","ch"]"#,
        r#"["PSUBSCRIBE","ch*"]"#,
        r#"["SSUBSCRIBE","ch"]"#,
        r#"["UNSUBSCRIBE"]"#,
        r#"["MONITOR"]"#,
        r#"["WATCH","p:block:k"]"#,
        r#"["UNWATCH"]"#,
        r#"["MULTI"]"#,
        r#"["EXEC"]"#,
        r#"["DISCARD"]"#,
        r#"["SELECT",1]"#,
        r#"["QUIT"]"#,
        r#"["RESET"]"#,
        r#"["AUTH","x"]"#,
        r#"["HELLO",3]"#,
        r#"["CLIENT","REPLY","OFF"]"#,
        r#"["client","kill","ID","1"]"#,
        r#"["SYNC"]"#,
        r#"["PSYNC","?",-1]"#,
        r#"["REPLICAOF","127.0.0.1",1]"#,
        r#"["SLAVEOF","127.0.0.1",1]"#,
        r#"["SHUTDOWN"]"#,
        r#"["DEBUG","SLEEP",10]"#,
    ];
    for command in refused {
        let start = Instant::now();
        let error = g.post("/", command).await.error(StatusCode::BAD_REQUEST);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{command} took {:?}",
            start.elapsed()
        );
        assert!(error.contains("not served"), "{command}: {error}");
        // The next command still works.
        assert_eq!(
            g.post("/", r#"["PING"]"#).await.result(),
            json!("PONG"),
            "after {command}"
        );
    }
    assert_eq!(
        g.get("/blpop/p:block:list/0").await.status,
        StatusCode::BAD_REQUEST
    );
    // Inside a pipeline or a transaction the whole request is refused before anything runs.
    let reply = g
        .post(
            "/pipeline",
            r#"[["SET","p:block:k","1"],["BLPOP","p:block:list",0]]"#,
        )
        .await;
    reply.error(StatusCode::BAD_REQUEST);
    let reply = g
        .post("/multi-exec", r#"[["SET","p:block:k","1"],["MULTI"]]"#)
        .await;
    reply.error(StatusCode::BAD_REQUEST);
    let reply = g
        .post("/multi-exec", r#"[["SET","p:block:k","1"],["SELECT",2]]"#)
        .await;
    reply.error(StatusCode::BAD_REQUEST);
    assert_eq!(
        g.post("/", r#"["EXISTS","p:block:k"]"#).await.result(),
        json!(0)
    );
    // XREAD without BLOCK is served.
    assert_eq!(
        g.post("/", r#"["XREAD","COUNT",1,"STREAMS","p:block:s","0"]"#)
            .await
            .result(),
        json!(null)
    );
}

#[tokio::test]
async fn no_cors_headers_unless_enabled() {
    let s = servers();
    let g = &s.gateway;
    let reply = g
        .request(
            Method::POST,
            "/",
            &[
                ("authorization", &bearer(TOKEN)),
                ("origin", "https://x.example"),
            ],
            br#"["PING"]"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    let reply = g
        .request(
            Method::OPTIONS,
            "/",
            &[
                ("origin", "https://x.example"),
                ("access-control-request-method", "POST"),
            ],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn garbage_never_breaks_the_gateway() {
    let s = servers();
    let g = &s.gateway;
    let auth = bearer(TOKEN);
    let bodies: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02".to_vec(),
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec(),
        "[".repeat(10_000).into_bytes(),
        br#"["SET","k","\ud800"]"#.to_vec(),
        br#"[1e999]"#.to_vec(),
        br#"[-0, 1.7976931348623157e308, 5e-324]"#.to_vec(),
        vec![0xff; 100],
        br#"[["a"],"b"]"#.to_vec(),
    ];
    for body in &bodies {
        for path in [
            "/",
            "/pipeline",
            "/multi-exec",
            "/echo",
            "/%ff%00/%",
            "/a/%zz/%%",
        ] {
            let reply = g
                .request(Method::POST, path, &[("authorization", &auth)], body)
                .await;
            assert!(
                reply.status == StatusCode::OK || reply.status == StatusCode::BAD_REQUEST,
                "{path} {:?}: {}",
                String::from_utf8_lossy(body),
                reply.status
            );
        }
    }
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
}

#[tokio::test]
async fn a_reply_nested_deeper_than_the_redis_crate_reads_is_a_400() {
    let s = servers();
    let g = &s.gateway;
    // The redis crate refuses replies nested more than 100 deep, and a script can return one.
    for depth in [99, 101, 5000] {
        let body =
            format!(r#"["EVAL","local t = {{}} for i = 1, {depth} do t = {{t}} end return t",0]"#);
        let reply = g.post("/", &body).await;
        if depth < 100 {
            assert!(reply.result().is_array());
        } else {
            let error = reply.error(StatusCode::BAD_REQUEST);
            assert!(error.contains("nested"), "{error}");
        }
    }
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
}

/// Redis ran the commands; an answer the gateway cannot read must not make the request a 5xx,
/// which tells clients (and @upstash/redis, which retries every failure) that retrying is safe.
#[tokio::test]
async fn unreadable_answers_after_commands_ran_are_never_a_5xx() {
    let s = servers();
    let g = &s.gateway;
    // Redis quotes the argument in its error and cuts it inside a character: not UTF-8.
    let cut = format!("a{}", "é".repeat(100));
    let deep = "local t = {} for i = 1, 300 do t = {t} end return t";
    let reply = g
        .post(
            "/pipeline",
            &json!([
                ["INCR", "p:unread:n"],
                ["OBJECT", &cut],
                ["INCR", "p:unread:n"]
            ])
            .to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    let entries = reply.json();
    assert_eq!(entries[0], json!({"result": 1}));
    assert!(
        entries[1]["error"]
            .as_str()
            .unwrap()
            .contains("cannot read"),
        "{entries}"
    );
    assert!(
        entries[2]["error"].as_str().unwrap().contains("ran"),
        "{entries}"
    );
    assert_eq!(
        g.post("/", r#"["GET","p:unread:n"]"#).await.result(),
        json!("2")
    );

    let reply = g
        .post(
            "/pipeline",
            &json!([["INCR", "p:unread:n"], ["EVAL", deep, 0]]).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()[0], json!({"result": 3}));
    assert!(reply.json()[1]["error"]
        .as_str()
        .unwrap()
        .contains("nested"));

    // Refused while queueing (its error unreadable): Redis discards the transaction.
    let error = g
        .post(
            "/multi-exec",
            &json!([["INCR", "p:unread:t"], ["OBJECT", &cut]]).to_string(),
        )
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(error.starts_with("EXECABORT"), "{error}");
    assert_eq!(
        g.post("/", r#"["GET","p:unread:t"]"#).await.result(),
        json!(null)
    );
    // EXEC ran and its answer is unreadable: 400, saying it ran.
    let error = g
        .post(
            "/multi-exec",
            &json!([["INCR", "p:unread:t"], ["EVAL", deep, 0]]).to_string(),
        )
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(error.contains("ran"), "{error}");
    assert_eq!(
        g.post("/", r#"["GET","p:unread:t"]"#).await.result(),
        json!("1")
    );
    assert_eq!(g.post("/", r#"["PING"]"#).await.result(), json!("PONG"));
}

/// Upstash's `SCAN ... WITHTYPE` (Redis has no such flag): each key with its type, alone and in
/// a pipeline, with MATCH and COUNT.
#[tokio::test]
async fn scan_withtype_gives_each_key_its_type() {
    let s = servers();
    let g = &s.gateway;
    g.post("/", r#"["SET","p:wt:s","v"]"#).await.result();
    g.post("/", r#"["RPUSH","p:wt:l","a"]"#).await.result();
    g.post("/", r#"["HSET","p:wt:h","f","v"]"#).await.result();
    let typed = |reply: serde_json::Value| {
        let items = reply[1].as_array().expect("[cursor, [key, type, ...]]").clone();
        let mut pairs: Vec<(String, String)> = items.chunks(2).map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned())).collect();
        pairs.sort();
        pairs
    };
    let expected = vec![
        ("p:wt:h".to_owned(), "hash".to_owned()),
        ("p:wt:l".to_owned(), "list".to_owned()),
        ("p:wt:s".to_owned(), "string".to_owned()),
    ];
    let alone = g.post("/", r#"["SCAN","0","MATCH","p:wt:*","COUNT","1000","WITHTYPE"]"#).await.result();
    assert_eq!(alone[0], json!("0"));
    assert_eq!(typed(alone), expected);
    let piped = g.post("/pipeline", r#"[["GET","p:wt:s"],["SCAN","0","MATCH","p:wt:*","COUNT","1000","withtype"]]"#).await.json();
    assert_eq!(piped[0]["result"], json!("v"));
    assert_eq!(typed(piped[1]["result"].clone()), expected);
    let plain = g.post("/", r#"["SCAN","0","MATCH","p:wt:*","COUNT","1000"]"#).await.result();
    assert_eq!(plain[1].as_array().unwrap().len(), 3, "without the flag: keys only");
    let _ = TOKEN;
}
