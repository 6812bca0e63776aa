//! Who may do what: tokens (header and `_token`), 401 everywhere for a wrong one, the read-only
//! token, CORS, and the start-up rules (no token, no start; the token never printed).

mod common;

use std::collections::BTreeSet;

use common::{bearer, gateway_exit, shared, Gateway, Redis, Servers, READONLY_TOKEN, TOKEN};
use hyper::{Method, StatusCode};
use serde_json::{json, Value as Json};

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
async fn near_misses_and_odd_paths_are_401_too() {
    let s = servers();
    let g = &s.gateway;
    let near = [
        TOKEN.to_uppercase(),
        format!("{TOKEN}%00"),
        format!("%20{TOKEN}"),
        // Of two `_token` parameters, the first counts.
        format!("wrong&_token={TOKEN}"),
        TOKEN.replace('-', "_"),
        format!("{}x", &TOKEN[..TOKEN.len() - 1]),
        "x".repeat(10_000),
    ];
    let paths = [
        "/pipeline/",
        "/multi-exec/",
        "//",
        "/%70ipeline",
        "/get/a:401b:k/",
        "/set/a:401b:k/v",
        "/eval/return%201/0",
        "/flushall",
    ];
    for path in paths {
        for token in &near {
            for method in [Method::GET, Method::POST, Method::HEAD] {
                let uri = format!("{path}?_token={token}");
                let reply = g.request(method.clone(), &uri, &[], b"v").await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
                assert!(!reply.body.windows(8).any(|w| w == &TOKEN.as_bytes()[..8]));
            }
        }
        // A wrong header is not rescued by a right query parameter (the header is the token).
        let uri = format!("{path}?_token={TOKEN}");
        let reply = g
            .request(
                Method::POST,
                &uri,
                &[("authorization", "Bearer wrong")],
                b"v",
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
        // Of two Authorization headers, the first counts.
        let reply = g
            .request(
                Method::POST,
                path,
                &[
                    ("authorization", "Bearer wrong"),
                    ("authorization", &bearer(TOKEN)),
                ],
                b"v",
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(g.get("/exists/a:401b:k").await.result(), json!(0));
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
async fn the_read_only_token_cannot_write_through_scripts_or_functions() {
    let s = servers();
    let g = &s.gateway;
    // A function library with a function that writes and one declared not to.
    let library = "#!lua name=a_ro_lib\n\
        redis.register_function('a_ro_write', function(keys) return redis.call('SET', keys[1], 'w') end)\n\
        redis.register_function{function_name='a_ro_read', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    let load = serde_json::to_string(&json!(["FUNCTION", "LOAD", "REPLACE", library])).unwrap();
    assert_eq!(g.post("/", &load).await.result(), json!("a_ro_lib"));
    let sha = g
        .post(
            "/",
            r#"["SCRIPT","LOAD","return redis.call('SET',KEYS[1],'w')"]"#,
        )
        .await
        .result();
    let sha = sha.as_str().unwrap();
    g.post("/", r#"["SET","a:ro2:k","v"]"#).await.result();

    let ro = bearer(READONLY_TOKEN);
    let headers = [("authorization", ro.as_str())];
    // Refused by the gateway: every way to run or change code that may write.
    for body in [
        format!(r#"["EVALSHA","{sha}",1,"a:ro2:k"]"#),
        format!(r#"["evalsha","{sha}",1,"a:ro2:k"]"#),
        r#"["Eval","return redis.call('SET',KEYS[1],'w')",1,"a:ro2:k"]"#.to_string(),
        r#"["FCALL","a_ro_write",1,"a:ro2:k"]"#.to_string(),
        r#"["SCRIPT","LOAD","return 1"]"#.to_string(),
        r#"["SCRIPT","FLUSH"]"#.to_string(),
        r#"["FUNCTION","DELETE","a_ro_lib"]"#.to_string(),
        r#"["FUNCTION","FLUSH"]"#.to_string(),
        serde_json::to_string(&json!(["FUNCTION", "LOAD", "REPLACE", library])).unwrap(),
    ] {
        for (path, body) in [
            ("/", body.clone()),
            ("/pipeline", format!(r#"[["GET","a:ro2:k"],{body}]"#)),
            ("/multi-exec", format!(r#"[["GET","a:ro2:k"],{body}]"#)),
        ] {
            let reply = g
                .request(Method::POST, path, &headers, body.as_bytes())
                .await;
            let error = reply.error(StatusCode::BAD_REQUEST);
            assert!(error.starts_with("NOPERM"), "{path} {body}: {error}");
        }
    }
    let path = format!("/evalsha/{sha}/1/a:ro2:k");
    let error = g
        .request(Method::GET, &path, &headers, b"")
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(error.starts_with("NOPERM"), "{error}");
    // Passed on, and refused by Redis: the read-only variants running code that writes.
    for body in [
        format!(r#"["EVALSHA_RO","{sha}",1,"a:ro2:k"]"#),
        r#"["FCALL_RO","a_ro_write",1,"a:ro2:k"]"#.to_string(),
        r#"["EVAL_RO","return redis.pcall('DEL',KEYS[1])",1,"a:ro2:k"]"#.to_string(),
    ] {
        let reply = g
            .request(Method::POST, "/", &headers, body.as_bytes())
            .await;
        let answer = String::from_utf8_lossy(&reply.body).into_owned();
        assert!(
            reply.status == StatusCode::BAD_REQUEST
                || answer.contains("Write commands are not allowed"),
            "{body}: {answer}"
        );
    }
    // What is allowed still works.
    let reply = g
        .request(
            Method::POST,
            "/",
            &headers,
            br#"["FCALL_RO","a_ro_read",1,"a:ro2:k"]"#,
        )
        .await;
    assert_eq!(reply.result(), json!("v"));
    assert_eq!(
        g.post("/", r#"["GET","a:ro2:k"]"#).await.result(),
        json!("v")
    );
}

/// Redis's own command table says which commands may write. Every one of them, and every
/// command Redis does not flag read-only, must be refused to the read-only token: the
/// allow-list is checked against the Redis the gateway runs on, not against itself.
#[tokio::test]
async fn the_read_only_token_is_refused_every_command_redis_does_not_call_read_only() {
    let s = servers();
    let g = &s.gateway;
    let table = g.post("/", r#"["COMMAND"]"#).await.result();
    let mut commands: Vec<(String, BTreeSet<String>)> = Vec::new();
    let entry = |e: &Json| {
        let name = e[0].as_str().unwrap().to_ascii_uppercase();
        let flags = e[2]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect::<BTreeSet<_>>();
        (name, flags)
    };
    for command in table.as_array().unwrap() {
        match command[9].as_array().filter(|subs| !subs.is_empty()) {
            // A container (OBJECT, XINFO, CONFIG...) has no flags of its own: its subcommands
            // have them.
            Some(subcommands) => commands.extend(subcommands.iter().map(entry)),
            None => commands.push(entry(command)),
        }
    }
    assert!(commands.len() > 200, "{} commands", commands.len());
    // Read-only without Redis's flag: they touch no data.
    let harmless = ["PING", "ECHO", "TIME", "OBJECT|HELP", "XINFO|HELP"];
    let ro = bearer(READONLY_TOKEN);
    let mut allowed = Vec::new();
    for (name, flags) in &commands {
        // "object|encoding" is sent as OBJECT ENCODING.
        let mut args: Vec<&str> = name.split('|').collect();
        args.push("a:ro3:k");
        let body = serde_json::to_string(&args).unwrap();
        let reply = g
            .request(
                Method::POST,
                "/",
                &[("authorization", &ro)],
                body.as_bytes(),
            )
            .await;
        let refused = reply.status == StatusCode::BAD_REQUEST && {
            let error = reply.json()["error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            error.starts_with("NOPERM") || error.contains("not served")
        };
        if !refused {
            allowed.push(name.clone());
            assert!(
                flags.contains("readonly") && !flags.contains("write")
                    || harmless.contains(&name.as_str()),
                "the read-only token may run {name}, flagged {flags:?}"
            );
        }
    }
    assert!(allowed.len() > 50, "allowed: {allowed:?}");
}

/// One request of every kind the secrecy test makes, with the tokens in headers, queries and
/// paths, and commands that would show the Redis password: status and body of each answer.
async fn every_answer(g: &Gateway) -> Vec<(StatusCode, String)> {
    let (full, ro) = (bearer(TOKEN), bearer(READONLY_TOKEN));
    let near = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    let json_post = |auth: &str, body: &[u8]| {
        (
            Method::POST,
            "/".to_string(),
            vec![("authorization", auth.to_string())],
            body.to_vec(),
        )
    };
    let requests = vec![
        json_post(&full, br#"["SET","a:log:k","v"]"#),
        json_post(&full, br#"["NOSUCH"]"#),
        json_post(&full, b"not json"),
        json_post(&full, &[b'x'; 5000]),
        json_post(&ro, br#"["SET","a:log:k","v"]"#),
        json_post(&near, b"[]"),
        json_post(&full, br#"["CONFIG","GET","requirepass"]"#),
        json_post(&full, br#"["ACL","LIST"]"#),
        json_post(
            &full,
            br#"["EVAL","return redis.call('CONFIG','GET','requirepass')",0]"#,
        ),
        (
            Method::POST,
            format!("/?_token={TOKEN}"),
            vec![],
            br#"["GET","a:log:k"]"#.to_vec(),
        ),
        (
            Method::GET,
            format!("/get/{TOKEN}?_token={READONLY_TOKEN}"),
            vec![],
            vec![],
        ),
        (
            Method::POST,
            format!("/?_token={}", &TOKEN[1..]),
            vec![],
            b"[]".to_vec(),
        ),
        (Method::DELETE, format!("/?_token={TOKEN}"), vec![], vec![]),
    ];
    let mut answers = Vec::new();
    for (method, path, headers, body) in requests {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = g.request(method, &path, &headers, &body).await;
        answers.push((
            reply.status,
            String::from_utf8_lossy(&reply.body).into_owned(),
        ));
    }
    answers
}

#[tokio::test]
async fn tokens_and_the_redis_password_never_reach_stderr_or_answers() {
    const PASSWORD: &str = "redis-pass-4d1e";
    let mut redis = Redis::start_with(&["--requirepass", PASSWORD]);
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", redis.port);
    let mut g = Gateway::start(&url, &["--read-timeout-ms", "300", "--max-body", "1000"]);
    let secrets = [TOKEN, READONLY_TOKEN, PASSWORD];
    let mut replies = Vec::new();
    replies.extend(every_answer(&g).await);
    // 503s while Redis is down, and a body that never comes (408).
    redis.stop();
    replies.extend(every_answer(&g).await);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 10\r\n\r\n[").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    redis.restart();
    replies.extend(every_answer(&g).await);

    // A request already on the connection when Redis stopped may be told it may have run (502).
    let statuses: BTreeSet<u16> = replies
        .iter()
        .map(|(s, _)| s.as_u16())
        .filter(|s| *s != 502)
        .collect();
    assert_eq!(
        statuses,
        [200, 400, 401, 405, 413, 503]
            .into_iter()
            .collect::<BTreeSet<_>>(),
        "{replies:?}"
    );
    for (status, body) in &replies {
        for secret in secrets {
            assert!(
                !body.contains(secret),
                "{status} answer shows a secret: {body}"
            );
        }
    }
    assert!(g.terminate().success());
    let stderr = g.stderr_after_ready_line();
    assert_eq!(stderr, "", "the gateway printed more than its ready line");
    for secret in secrets {
        assert!(!g.ready_line.contains(secret));
    }
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
    // A token in the wrong place is not printed back in clap's error.
    for args in [
        &["--token", "s3cret-token", "s3cret-ro"][..],
        &["--token", "s3cret-token", "--max-body", "s3cret-ro"],
        &["--token", "s3cret-token", "--pool-size=s3cret-ro"],
        &[
            "--token",
            "s3cret-token",
            "--readonly-token",
            "s3cret-ro",
            "-s3cret-x",
        ],
        &["--token", &"s3cret".repeat(100)],
    ] {
        let run = gateway_exit(args, &[("EDGE_CACHES_READONLY_TOKEN", "s3cret-env")]);
        assert!(!run.status.success(), "{args:?}");
        assert!(!run.stderr.is_empty());
        assert!(!run.stderr.contains("s3cret"), "{args:?}: {}", run.stderr);
    }
    let run = gateway_exit(&["--token", "s3cret-token", "--bogus"], &[]);
    assert!(
        run.stderr.contains("'--bogus'"),
        "a mistyped flag is named: {}",
        run.stderr
    );
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
