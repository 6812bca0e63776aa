//! Who may do what: tokens (header and `_token`), 401 everywhere for a wrong one, the read-only
//! token, CORS, and the start-up rules (no token, no start; the token never printed).

mod common;

use common::{bearer, gateway_exit, shared, Gateway, Servers, READONLY_TOKEN, TOKEN};
use hyper::{Method, StatusCode};
use serde_json::json;

fn servers() -> std::sync::Arc<Servers> {
    shared(&[])
}

#[tokio::test]
async fn token_in_header_or_query() {
    let s = servers();
    let g = &s.gateway;
    let body = br#"["SET","a:tok:k","v"]"#;
    for headers in [
        vec![("authorization", format!("Bearer {TOKEN}"))],
        vec![("authorization", format!("bearer {TOKEN}"))],
        vec![("authorization", format!("BEARER  {TOKEN} "))],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = g.request(Method::POST, "/", &headers, body).await;
        assert_eq!(reply.result(), json!("OK"));
    }
    let path = format!("/?_token={TOKEN}");
    assert_eq!(
        g.request(Method::POST, &path, &[], body).await.result(),
        json!("OK")
    );
    let path = format!("/get/a:tok:k?_token={TOKEN}");
    assert_eq!(
        g.request(Method::GET, &path, &[], b"").await.result(),
        json!("v")
    );
    let path = format!("/pipeline?_token={TOKEN}");
    let reply = g
        .request(Method::POST, &path, &[], br#"[["GET","a:tok:k"]]"#)
        .await;
    assert_eq!(reply.json(), json!([{"result": "v"}]));
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_on_every_endpoint() {
    let s = servers();
    let g = &s.gateway;
    let wrong = [
        vec![],
        vec![("authorization", "Bearer wrong".to_string())],
        vec![("authorization", format!("Bearer {TOKEN}x"))],
        vec![(
            "authorization",
            format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        )],
        vec![("authorization", format!("Basic {TOKEN}"))],
        vec![("authorization", TOKEN.to_string())],
        vec![("authorization", "Bearer ".to_string())],
    ];
    let requests: [(Method, &str, &[u8]); 9] = [
        (Method::POST, "/", br#"["SET","a:401:k","v"]"#),
        (Method::PUT, "/", br#"["SET","a:401:k","v"]"#),
        (Method::POST, "/pipeline", br#"[["SET","a:401:k","v"]]"#),
        (Method::POST, "/multi-exec", br#"[["SET","a:401:k","v"]]"#),
        (Method::GET, "/set/a:401:k/v", b""),
        (Method::POST, "/set/a:401:k", b"v"),
        (Method::HEAD, "/get/a:401:k", b""),
        // The token is checked before the body is parsed or measured.
        (Method::POST, "/", b"not json"),
        (Method::POST, "/pipeline", &[b'x'; 2 * 1024 * 1024]),
    ];
    for headers in &wrong {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for (method, path, body) in &requests {
            let reply = g.request(method.clone(), path, &headers, body).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {headers:?}"
            );
            if method != Method::HEAD {
                assert!(reply.json()["error"].is_string());
            }
        }
    }
    for query in ["?_token=wrong", "?_token=", "?token=x"] {
        let reply = g
            .request(Method::GET, &format!("/get/a:401:k{query}"), &[], b"")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{query}");
    }
    assert_eq!(
        g.get("/exists/a:401:k").await.result(),
        json!(0),
        "nothing was written"
    );
}

#[tokio::test]
async fn the_read_only_token_reads_but_never_writes() {
    let s = servers();
    let g = &s.gateway;
    g.post(
        "/pipeline",
        r#"[["SET","a:ro:k","v"],["HSET","a:ro:h","f","1"],["RPUSH","a:ro:l","x"]]"#,
    )
    .await
    .json();
    let ro = bearer(READONLY_TOKEN);
    let ro_headers = [("authorization", ro.as_str())];
    let read = |path: &'static str, body: &'static str| {
        let headers = ro_headers;
        async move {
            g.request(Method::POST, path, &headers, body.as_bytes())
                .await
        }
    };

    assert_eq!(read("/", r#"["GET","a:ro:k"]"#).await.result(), json!("v"));
    assert_eq!(
        read("/", r#"["HGETALL","a:ro:h"]"#).await.result(),
        json!(["f", "1"])
    );
    assert_eq!(
        read("/", r#"["LRANGE","a:ro:l",0,-1]"#).await.result(),
        json!(["x"])
    );
    assert_eq!(
        read("/", r#"["mget","a:ro:k","a:ro:none"]"#).await.result(),
        json!(["v", null])
    );
    assert_eq!(
        read(
            "/",
            r#"["EVAL_RO","return redis.call('GET',KEYS[1])",1,"a:ro:k"]"#
        )
        .await
        .result(),
        json!("v")
    );
    assert_eq!(
        read(
            "/pipeline",
            r#"[["GET","a:ro:k"],["TTL","a:ro:k"],["PING"]]"#
        )
        .await
        .json(),
        json!([{"result": "v"}, {"result": -1}, {"result": "PONG"}])
    );
    assert_eq!(
        read("/multi-exec", r#"[["GET","a:ro:k"],["HGET","a:ro:h","f"]]"#)
            .await
            .json(),
        json!([{"result": "v"}, {"result": "1"}])
    );
    let path = format!("/get/a:ro:k?_token={READONLY_TOKEN}");
    assert_eq!(
        g.request(Method::GET, &path, &[], b"").await.result(),
        json!("v")
    );

    for (path, body) in [
        ("/", r#"["SET","a:ro:k","changed"]"#),
        ("/", r#"["DEL","a:ro:k"]"#),
        ("/", r#"["HSET","a:ro:h","f","2"]"#),
        ("/", r#"["INCR","a:ro:new"]"#),
        ("/", r#"["FLUSHALL"]"#),
        (
            "/",
            r#"["EVAL","return redis.call('SET','a:ro:k','changed')",0]"#,
        ),
        ("/", r#"["EVAL","return 1",0]"#),
        (
            "/",
            r#"["EVALSHA","e0e1f9fabfc9d4800c877a703b823ac0578ff8db",0]"#,
        ),
        ("/", r#"["FCALL","f",0]"#),
        ("/", r#"["SORT","a:ro:l","STORE","a:ro:new"]"#),
        (
            "/",
            r#"["EVAL_RO","return redis.call('SET','a:ro:k','changed')",0]"#,
        ),
        (
            "/pipeline",
            r#"[["GET","a:ro:k"],["SET","a:ro:k","changed"]]"#,
        ),
        ("/pipeline", r#"[["SET","a:ro:new","1"],["GET","a:ro:k"]]"#),
        ("/multi-exec", r#"[["GET","a:ro:k"],["DEL","a:ro:k"]]"#),
        ("/multi-exec", r#"[["INCR","a:ro:new"]]"#),
        ("/set/a:ro:k/changed", ""),
        ("/del/a:ro:k", ""),
    ] {
        let reply = read(path, body).await;
        let error = reply.error(StatusCode::BAD_REQUEST);
        assert!(
            error.starts_with("NOPERM") || error.contains("Write commands are not allowed"),
            "{path} {body}: {error}"
        );
    }
    let reply = g
        .request(Method::POST, "/set/a:ro:k", &ro_headers, b"changed")
        .await;
    reply.error(StatusCode::BAD_REQUEST);

    // Nothing was written.
    assert_eq!(
        g.post(
            "/pipeline",
            r#"[["GET","a:ro:k"],["HGET","a:ro:h","f"],["EXISTS","a:ro:new"]]"#
        )
        .await
        .json(),
        json!([{"result": "v"}, {"result": "1"}, {"result": 0}])
    );
}

#[tokio::test]
async fn cors_when_enabled() {
    let s = servers();
    let g = Gateway::start(&s.redis.url(), &["--allow-origin", "https://app.example"]);
    let reply = g
        .request(
            Method::OPTIONS,
            "/pipeline",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type,upstash-encoding",
                ),
            ],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    assert_eq!(header("access-control-allow-origin"), "https://app.example");
    for allowed in ["authorization", "content-type", "upstash-encoding"] {
        assert!(
            header("access-control-allow-headers").contains(allowed),
            "{allowed}"
        );
    }
    for method in ["get", "post", "put"] {
        assert!(
            header("access-control-allow-methods").contains(method),
            "{method}"
        );
    }
    // Every answer carries the origin, errors included.
    let auth = bearer(TOKEN);
    for (headers, status) in [
        (
            vec![
                ("authorization", auth.as_str()),
                ("origin", "https://app.example"),
            ],
            StatusCode::OK,
        ),
        (
            vec![("origin", "https://app.example")],
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let reply = g.request(Method::POST, "/", &headers, br#"["PING"]"#).await;
        assert_eq!(reply.status, status);
        assert_eq!(
            reply.headers["access-control-allow-origin"],
            "https://app.example"
        );
    }
    let reply = g.request(Method::DELETE, "/", &[], b"").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);

    let any = Gateway::start(&s.redis.url(), &["--allow-origin", "*"]);
    let reply = any
        .request(
            Method::OPTIONS,
            "/",
            &[("origin", "https://x.example")],
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
}

#[test]
fn no_token_is_a_start_up_error() {
    let run = gateway_exit(&["--listen", "127.0.0.1:0"], &[]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("--token"), "{}", run.stderr);
    let run = gateway_exit(&["--listen", "127.0.0.1:0"], &[("EDGE_CACHES_TOKEN", "")]);
    assert!(!run.status.success(), "an empty token is no token");
    let run = gateway_exit(&["--listen", "127.0.0.1:0", "--token", ""], &[]);
    assert!(!run.status.success());
    let run = gateway_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--token",
            "same",
            "--readonly-token",
            "same",
        ],
        &[],
    );
    assert!(!run.status.success());
    assert!(!run.stderr.contains("same"), "{}", run.stderr);
    let run = gateway_exit(
        &[
            "--listen",
            "127.0.0.1:0",
            "--token",
            "s3cret-token",
            "--redis",
            "not a url",
        ],
        &[],
    );
    assert!(!run.status.success());
    assert!(!run.stderr.contains("s3cret-token"), "{}", run.stderr);
    let run = gateway_exit(
        &["--help"],
        &[
            ("EDGE_CACHES_TOKEN", "s3cret-token"),
            ("EDGE_CACHES_READONLY_TOKEN", "s3cret-ro"),
        ],
    );
    assert!(!run.stderr.contains("s3cret"));
}

#[tokio::test]
async fn flags_come_from_the_environment_and_the_ready_line_hides_the_token() {
    let s = servers();
    let redis_url = s.redis.url();
    let g = Gateway::start_with(
        &[],
        &[
            ("EDGE_CACHES_REDIS_URL", redis_url.as_str()),
            ("EDGE_CACHES_TOKEN", "env-token-51d"),
            ("EDGE_CACHES_READONLY_TOKEN", "env-ro-token-9e2"),
            ("EDGE_CACHES_ALLOW_ORIGIN", "*"),
        ],
    );
    assert_eq!(
        g.ready_line,
        format!("edge-caches-gateway listening on 127.0.0.1:{}\n", g.port)
    );
    assert!(!g.ready_line.contains("env-token") && !g.ready_line.contains("env-ro-token"));
    let reply = g
        .request(
            Method::POST,
            "/",
            &[("authorization", "Bearer env-token-51d")],
            br#"["ECHO","env"]"#,
        )
        .await;
    assert_eq!(reply.result(), json!("env"));
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    let reply = g
        .request(
            Method::POST,
            "/",
            &[("authorization", "Bearer env-ro-token-9e2")],
            br#"["SET","a:env:k","v"]"#,
        )
        .await;
    reply.error(StatusCode::BAD_REQUEST);
    assert!(
        !s.gateway.ready_line.contains(TOKEN) && !s.gateway.ready_line.contains(READONLY_TOKEN)
    );
}
