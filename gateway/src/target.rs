//! Which Redis the single-node backend talks to: one fixed address, or the primary that
//! Sentinel names at the moment a connection is made. Connections are made rarely (the shared
//! one, and the pool's on demand) and made again whenever one fails, so asking the sentinels at
//! connect time is how the gateway follows a failover without a restart.

use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, RedisError, TlsMode};

use crate::tls::Tls;

pub enum Target {
    Fixed(Client),
    /// The sentinels' client; one question at a time (it keeps which sentinel answered last).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl Target {
    /// `urls[0]` in the plain mode; in Sentinel mode the sentinels, whose password and database
    /// are also used for the primary (one set of credentials, as most deployments have). With
    /// TLS, the sentinels and the primary they name are both reached with it.
    pub fn new(urls: &[String], sentinel: Option<&str>, tls: &Tls) -> Result<Target, String> {
        let invalid = |e: RedisError| crate::tls::invalid(&e);
        match sentinel {
            None => Ok(Target::Fixed(tls.client(&urls[0])?)),
            Some(name) if tls.on => {
                let first = tls.client(&urls[0])?;
                let settings = first.get_connection_info().redis_settings().clone();
                let nodes = urls.iter().map(|url| Ok(tls.client(url)?.get_connection_info().addr().clone())).collect::<Result<Vec<_>, String>>()?;
                let mut builder = SentinelClientBuilder::new(nodes, name, SentinelServerType::Master)
                    .map_err(invalid)?
                    .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                    .set_client_to_redis_tls_mode(TlsMode::Secure)
                    .set_client_to_redis_db(settings.db());
                if let Some(username) = settings.username() {
                    builder = builder.set_client_to_sentinel_username(username).set_client_to_redis_username(username);
                }
                if let Some(password) = settings.password() {
                    builder = builder.set_client_to_sentinel_password(password).set_client_to_redis_password(password);
                }
                if let Some(certificates) = &tls.certificates {
                    builder = builder.set_client_to_sentinel_certificates(certificates.clone()).set_client_to_redis_certificates(certificates.clone());
                }
                Ok(Target::Sentinel(tokio::sync::Mutex::new(builder.build().map_err(invalid)?)))
            }
            Some(name) => {
                let first = Client::open(urls[0].as_str()).map_err(invalid)?;
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(
                    first.get_connection_info().redis_settings().clone(),
                );
                let client = SentinelClient::build(
                    urls.iter().map(String::as_str).collect(),
                    name,
                    Some(node),
                    SentinelServerType::Master,
                )
                .map_err(invalid)?;
                Ok(Target::Sentinel(tokio::sync::Mutex::new(client)))
            }
        }
    }

    /// A client for the Redis to connect to now.
    pub async fn client(&self) -> Result<Client, RedisError> {
        match self {
            Target::Fixed(client) => Ok(client.clone()),
            Target::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await,
        }
    }
}
