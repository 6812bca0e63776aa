//! TLS to Redis: `rediss://` URLs, verified against the platform's roots or the CA `--tls-ca`
//! names, with a client certificate (`--tls-cert`, `--tls-key`) for Redis that asks for one; on
//! rustls, the redis crate's. A rediss:// URL is only ever connected with TLS, and a certificate
//! that does not verify stops the gateway at start (`check`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redis::{Client, ClientTlsConfig, RedisError, TlsCertificates};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// The URLs are rediss://.
    pub on: bool,
    /// What the flags name, read; `None`: the platform's roots, no client certificate.
    pub certificates: Option<TlsCertificates>,
    /// With TLS, the rustls configuration of the connections the gateway makes itself (the
    /// shared one, `shared.rs`); the redis crate makes the same from `certificates`.
    pub config: Option<Arc<rustls::ClientConfig>>,
}

impl Tls {
    /// `client`: the client certificate's file and its key's. Files are read here, so that a
    /// missing one is an error at start.
    pub fn new(
        urls: &[String],
        ca: Option<&Path>,
        client: Option<(&Path, &Path)>,
    ) -> Result<Tls, String> {
        let secure = urls.iter().filter(|u| u.starts_with("rediss://")).count();
        if secure != 0 && secure != urls.len() {
            return Err(
                "--redis mixes rediss:// and redis:// URLs: TLS is for all of them or none".into(),
            );
        }
        // The redis crate's `#insecure` turns verification off: not a choice this gateway offers.
        if urls.iter().any(|u| u.contains("#insecure")) {
            return Err("--redis: #insecure (TLS without verification) is refused; --tls-ca trusts a private CA".into());
        }
        let on = secure > 0;
        if !on && (ca.is_some() || client.is_some()) {
            return Err("--tls-ca, --tls-cert and --tls-key are for rediss:// URLs".into());
        }
        // Each file read and checked for what it must hold: an empty list of roots would fail
        // every handshake later, with a vaguer message.
        let read = |path: &Path, flag: &str, holds: &[u8], what: &str| {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))?;
            if !bytes.windows(holds.len()).any(|w| w == holds) {
                return Err(format!("{flag} {} holds no PEM {what}", path.display()));
            }
            Ok(bytes)
        };
        const CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";
        let root_cert = ca
            .map(|path| read(path, "--tls-ca", CERTIFICATE, "certificate"))
            .transpose()?;
        let client_tls = match client {
            Some((cert, key)) => Some(ClientTlsConfig {
                client_cert: read(cert, "--tls-cert", CERTIFICATE, "certificate")?,
                client_key: read(key, "--tls-key", b"PRIVATE KEY-----", "private key")?,
            }),
            None => None,
        };
        let certificates =
            (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
                client_tls,
                root_cert,
            });
        let config = if on {
            Some(Arc::new(client_config(certificates.as_ref())?))
        } else {
            None
        };
        Ok(Tls {
            on,
            certificates,
            config,
        })
    }

    /// A TLS stream to `host:port` over `tcp`, verified as the redis crate verifies its own.
    pub async fn connect<S>(
        &self,
        host: &str,
        tcp: S,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<S>>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let config = self
            .config
            .clone()
            .ok_or_else(|| std::io::Error::other("TLS is not configured"))?;
        let name = ServerName::try_from(host.to_owned()).map_err(std::io::Error::other)?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
    }

    /// A client for `url`, with the certificates the flags name (checked here: a file that is
    /// not PEM is an error at start).
    pub fn client(&self, url: &str) -> Result<Client, String> {
        let client = match &self.certificates {
            Some(certificates) => Client::build_with_tls(url, certificates.clone()),
            None => Client::open(url),
        };
        client.map_err(|e| invalid(&e))
    }
}

/// The rustls client configuration: the platform's roots or the CA file's, and the client
/// certificate when there is one; ring as the crypto provider (the process's default is not
/// installed yet when the configuration is read).
fn client_config(certificates: Option<&TlsCertificates>) -> Result<rustls::ClientConfig, String> {
    fn bad(what: &'static str) -> impl Fn(rustls::pki_types::pem::Error) -> String {
        move |e| format!("cannot set up TLS: {what} ({e})")
    }
    let mut roots = rustls::RootCertStore::empty();
    match certificates.and_then(|c| c.root_cert.as_deref()) {
        Some(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem) {
                roots
                    .add(certificate.map_err(bad("--tls-ca"))?)
                    .map_err(|e| format!("cannot set up TLS: --tls-ca ({e})"))?;
            }
        }
        None => {
            // Certificates the platform has that rustls cannot read are left out, as the redis
            // crate leaves them.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("cannot set up TLS: {e}"))?
    .with_root_certificates(roots);
    match certificates.and_then(|c| c.client_tls.as_ref()) {
        Some(ClientTlsConfig {
            client_cert,
            client_key,
        }) => {
            let chain = CertificateDer::pem_slice_iter(client_cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad("--tls-cert"))?;
            let key = PrivateKeyDer::from_pem_slice(client_key).map_err(bad("--tls-key"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("cannot set up TLS: --tls-cert and --tls-key ({e})"))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// What a bad --redis URL or TLS file says (never the URL: it may hold a password).
pub fn invalid(e: &RedisError) -> String {
    match e.kind() {
        redis::ErrorKind::Io => format!("cannot set up TLS: {e}"),
        kind => format!("invalid --redis URL ({kind:?})"),
    }
}

/// At start, with TLS: one connection to `client`'s Redis and a PING. A handshake that fails
/// (a certificate that does not verify, a client certificate refused) stops the gateway with
/// the reason; a Redis that is only unreachable does not (requests get 503 until it is back,
/// as without TLS).
pub async fn check(client: &Client, timeout: Duration) -> Result<(), String> {
    let address = client.get_connection_info().addr().to_string();
    let probe = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<()>(&mut connection).await
    };
    match tokio::time::timeout(timeout, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if handshake_failed(&e) => Err(format!("TLS to {address} failed: {e} (--tls-ca names a private CA; --tls-cert and --tls-key a client certificate)")),
        Ok(Err(e)) => {
            eprintln!("edge-caches-gateway: Redis at {address} does not answer yet ({:?}); starting anyway", e.kind());
            Ok(())
        }
        Err(_) => {
            eprintln!("edge-caches-gateway: Redis at {address} does not answer yet (timeout); starting anyway");
            Ok(())
        }
    }
}

/// Whether a connection failed in the TLS handshake, as rustls words it.
fn handshake_failed(e: &RedisError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    ["certificate", "handshake", "tls", "alert"]
        .iter()
        .any(|word| text.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|u| (*u).to_owned()).collect()
    }

    #[test]
    fn tls_is_for_every_url_or_none_and_never_unverified() {
        assert!(!Tls::new(&urls(&["redis://h:1"]), None, None).unwrap().on);
        assert!(
            Tls::new(&urls(&["rediss://h:1", "rediss://h:2"]), None, None)
                .unwrap()
                .on
        );
        assert!(
            Tls::new(&urls(&["rediss://h:1", "redis://h:2"]), None, None)
                .unwrap_err()
                .contains("mixes")
        );
        assert!(Tls::new(&urls(&["rediss://h:1/#insecure"]), None, None)
            .unwrap_err()
            .contains("refused"));
        let ca = Path::new("/nonexistent/ca.pem");
        assert!(Tls::new(&urls(&["redis://h:1"]), Some(ca), None)
            .unwrap_err()
            .contains("rediss://"));
        assert!(Tls::new(&urls(&["rediss://h:1"]), Some(ca), None)
            .unwrap_err()
            .contains("cannot read --tls-ca"));
    }

    #[test]
    fn a_file_that_is_not_pem_is_an_error_at_start() {
        let dir = std::env::temp_dir().join(format!("edge-caches-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let secure = urls(&["rediss://h:1"]);
        assert!(Tls::new(&secure, Some(&junk), None)
            .unwrap_err()
            .contains("holds no PEM certificate"));
        assert!(Tls::new(&secure, None, Some((&junk, &junk)))
            .unwrap_err()
            .contains("--tls-cert"));
        // A certificate that is broken inside its markers: rustls's parser says so.
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(Tls::new(&secure, Some(&junk), None)
            .unwrap_err()
            .contains("cannot set up TLS"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
