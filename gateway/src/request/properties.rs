//! Parsing against the protocol's rules written the plain way, through a JSON tree (as the
//! gateway once did): same answers for any input, and no panic.
use super::*;
#[path = "../../tests/common/damaged.rs"]
mod damaged;
use damaged::damaged;
use proptest::prelude::*;
use serde_json::Value as Json;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn reference_command(json: &Json) -> Option<Vec<Vec<u8>>> {
    let Json::Array(items) = json else {
        return None;
    };
    if matches!(items.first(), Some(Json::Bool(_))) {
        return None; // a boolean is an argument, never a name
    }
    let args = items
        .iter()
        .map(|item| match item {
            Json::String(s) => Some(s.as_bytes().to_vec()),
            Json::Bool(b) => Some(b.to_string().into_bytes()),
            Json::Number(n) => Some(
                n.as_i64()
                    .map(|i| i.to_string())
                    .or_else(|| n.as_u64().map(|u| u.to_string()))
                    .or_else(|| n.as_f64().map(|f| f.to_string()))?
                    .into_bytes(),
            ),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    let name = args.first()?;
    (!name.is_empty() && name.iter().all(u8::is_ascii_graphic)).then_some(args)
}

fn reference_commands(body: &[u8], max: usize) -> Option<Vec<Vec<Vec<u8>>>> {
    let Json::Array(items) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    if items.is_empty() || items.len() > max {
        return None;
    }
    items.iter().map(reference_command).collect()
}

fn args(command: &Command) -> Vec<Vec<u8>> {
    command.args().map(<[u8]>::to_vec).collect()
}

/// JSON values of every kind, nested a little: most are not commands.
fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_filter_map("finite", |f| {
            serde_json::Number::from_f64(f).map(Json::Number)
        }),
        any::<String>().prop_map(Json::String),
        prop::sample::select(vec!["GET", "echo", "JSON.GET", "", " ", "a b"])
            .prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..3)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Command-shaped arrays (a name, strings and numbers), now and then with one element
/// of another kind.
fn command_json() -> impl Strategy<Value = Json> {
    let arg = prop_oneof![
        8 => any::<String>().prop_map(Json::String),
        4 => any::<i64>().prop_map(Json::from),
        2 => any::<f64>().prop_filter_map("finite", |f| {
            serde_json::Number::from_f64(f).map(Json::Number)
        }),
        1 => json(),
    ];
    let name = prop_oneof![
        4 => prop::sample::select(vec!["GET", "ECHO", "set", "JSON.GET"]).prop_map(Json::from),
        1 => json(),
    ];
    (name, prop::collection::vec(arg, 0..6)).prop_map(|(name, mut args)| {
        args.insert(0, name);
        Json::Array(args)
    })
}


fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        damaged(command_json(), 1),
        damaged(json(), 1),
        damaged(prop::collection::vec(command_json(), 0..5).prop_map(Json::Array), 1),
        any::<Vec<u8>>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn one_command_as_the_rules_say(body in bodies()) {
        let reference = serde_json::from_slice(&body).ok().as_ref().and_then(reference_command);
        match parse_command(&body) {
            Ok(command) => prop_assert_eq!(Some(args(&command)), reference),
            Err(BadRequest(message)) => {
                prop_assert!(reference.is_none(), "refused a command: {}", message);
                prop_assert!(message.starts_with("ERR "));
            }
        }
    }

    #[test]
    fn commands_as_the_rules_say(body in bodies(), max in 1..4usize) {
        let reference = reference_commands(&body, max);
        match parse_commands(&body, max) {
            Ok(commands) => prop_assert_eq!(
                Some(commands.iter().map(args).collect::<Vec<_>>()),
                reference
            ),
            Err(BadRequest(message)) => {
                prop_assert!(reference.is_none(), "refused commands: {}", message);
                prop_assert!(message.starts_with("ERR "));
            }
        }
    }

    #[test]
    fn paths_never_panic_nor_forward_the_token(
        segments in prop::collection::vec(any::<String>(), 0..5),
        raw in prop::collection::vec(any::<u8>(), 0..5),
        body in prop::collection::vec(any::<u8>(), 0..3),
        params in prop::collection::vec(("[a-z%+=&_]{0,4}", "[a-z%+=&_]{0,4}"), 0..4),
        token_at in any::<prop::sample::Index>(),
    ) {
        // Segments percent-encoded byte by byte, and some raw (maybe broken) escapes.
        let mut path: String = segments
            .iter()
            .map(|s| format!("/{}", percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)))
            .collect();
        path.extend(raw.iter().map(|b| match b % 4 { 0 => "/".to_string(), 1 => "%".to_string(), _ => format!("%{b:02x}") }));
        let mut query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        query.insert(token_at.index(query.len() + 1), "_token=Secret-Token-9".to_string());
        let query = query.join("&");
        if let Ok(command) = path_command(&path, &body, Some(&query)) {
            prop_assert!(command.name().iter().all(u8::is_ascii_graphic));
            prop_assert!(!command.name().is_empty());
            for arg in command.args() {
                prop_assert!(arg != b"_token" && arg != b"Secret-Token-9");
            }
        }
    }
}
