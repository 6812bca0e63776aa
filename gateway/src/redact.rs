//! Keeping secrets out of stderr when the gateway panics. A panic is a bug, and its message may
//! quote whatever the code was handling: a request's header, the Redis URL. The default hook
//! would print it as is; this one prints where the panic happened and the message with every
//! secret replaced.

use std::io::Write;

use percent_encoding::percent_decode_str;

const BLANK: &str = "[redacted]";

/// Installs the panic hook. `secrets` are the tokens and the Redis URL; the password inside the
/// URL (as written and percent-decoded) is blanked too, wherever it shows up alone.
pub fn panics(secrets: &[Option<&str>]) {
    let mut blanked: Vec<String> = Vec::new();
    for secret in secrets.iter().flatten() {
        blanked.push(secret.to_string());
        if let Some(password) = url_password(secret) {
            blanked.push(password.to_string());
            blanked.push(
                percent_decode_str(password)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    blanked.retain(|s| !s.is_empty());
    // Longest first, so that a secret containing another is blanked whole.
    blanked.sort_by_key(|s| std::cmp::Reverse(s.len()));
    blanked.dedup();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or("(no message)");
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {l}"));
        // A failed write to stderr must not panic again (that would abort).
        let _ = writeln!(
            std::io::stderr(),
            "edge-caches-gateway: internal error{location}: {}",
            redact(message, &blanked)
        );
    }));
}

/// A command-line error as clap writes it, with every quoted value blanked that came from the
/// command line or an `EDGE_CACHES_` variable. A token given in the wrong place (`--max-body
/// "$TOKEN"`, or without its flag) would otherwise be printed back: "invalid value '...'".
/// Flag names (`--bogus`) stay, so a typo is still shown.
pub fn cli_error(message: &str, values: impl Iterator<Item = String>) -> String {
    let mut quoted: Vec<String> = values
        .filter_map(|arg| match arg.strip_prefix("--") {
            Some(flag) => flag.split_once('=').map(|(_, value)| value.to_string()),
            None => Some(arg),
        })
        .filter(|v| !v.is_empty())
        .map(|v| format!("'{v}'"))
        .collect();
    quoted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    quoted.dedup();
    let mut message = message.to_string();
    for value in &quoted {
        message = message.replace(value.as_str(), "'[redacted]'");
    }
    message
}

/// `text` with every one of `secrets` (longest first) replaced.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_string();
    for secret in secrets {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), BLANK);
        }
    }
    text
}

/// The password of `redis://user:password@host/`, if `url` is a URL with one.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
    Some(password).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls() {
        assert_eq!(url_password("redis://:pw@h:6379/0"), Some("pw"));
        assert_eq!(url_password("redis://user:p%40ss@h"), Some("p%40ss"));
        assert_eq!(url_password("rediss://onlypass@h"), Some("onlypass"));
        assert_eq!(url_password("redis://h:6379"), None);
        assert_eq!(url_password("redis://h/?x=a@b"), None);
        assert_eq!(url_password("not a url"), None);
    }

    #[test]
    fn command_line_values_are_blanked_flag_names_kept() {
        let args = [
            "--token",
            "tok-123",
            "tok-456",
            "--max-body=tok-789",
            "--bogus",
            "-x",
        ];
        let message = "error: unexpected argument 'tok-456' found; 'tok-789'; '--bogus'; '-x'";
        assert_eq!(
            cli_error(message, args.iter().map(|s| s.to_string())),
            "error: unexpected argument '[redacted]' found; '[redacted]'; '--bogus'; '[redacted]'"
        );
    }

    #[test]
    fn blanks_every_secret() {
        let secrets = vec!["token-abc".to_string(), "abc".to_string()];
        assert_eq!(
            redact("Bearer token-abc, then abc and ab", &secrets),
            "Bearer [redacted], then [redacted] and ab"
        );
    }
}
