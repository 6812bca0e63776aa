//! Which Redis the single-node backend talks to: one fixed address, or the primary that
//! Sentinel names at the moment a connection is made. Connections are made rarely (the shared
//! one, and the pool's on demand) and made again whenever one fails, so asking the sentinels at
//! connect time is how the gateway follows a failover without a restart.

use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, RedisError};

pub enum Target {
    Fixed(Client),
    /// The sentinels' client; one question at a time (it keeps which sentinel answered last).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

impl Target {
    /// `urls[0]` in the plain mode; in Sentinel mode the sentinels, whose password and database
    /// are also used for the primary (one set of credentials, as most deployments have).
    pub fn new(urls: &[String], sentinel: Option<&str>) -> Result<Target, String> {
        let invalid = |e: RedisError| format!("invalid --redis URL ({:?})", e.kind());
        match sentinel {
            None => Ok(Target::Fixed(
                Client::open(urls[0].as_str()).map_err(invalid)?,
            )),
            Some(name) => {
                let first = Client::open(urls[0].as_str()).map_err(invalid)?;
                let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(
                    first.get_connection_info().redis_settings().clone(),
                );
                let client = SentinelClient::build(
                    urls.iter().map(String::as_str).collect(),
                    name.to_string(),
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
