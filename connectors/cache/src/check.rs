//! Checking a config against the live server, for `…/config/validate` and `validate`.

use tributary_core::config::{ConfigError, ConfigErrors};

use crate::config::RedisSinkConfig;
use crate::conn::Connection;
use crate::error::{RedisError, auth_hint};

fn from_redis(e: RedisError) -> ConfigErrors {
    let hint = match &e {
        RedisError::Auth(message) => auth_hint(message),
        RedisError::Select { .. } => "check the database index in redis.url",
        RedisError::Tls(_) => {
            "check redis.tls.ca.location and that the URL's host is the one the server's certificate names"
        }
        RedisError::Reply { message, .. } if message.starts_with("NOPERM") => {
            "the user in redis.url needs SCRIPT/EVALSHA (+@scripting) and access to the cache keys"
        }
        _ => "check redis.url and that Redis is running",
    };
    ConfigErrors(vec![ConfigError {
        field: e.field().into(),
        message: format!("{e}; {hint}"),
    }])
}

/// Connects with `config` (AUTH, SELECT; a cluster's slots), sends `PING` and loads the
/// apply script, so a user without scripting rights is caught now. Each problem names
/// the property to fix.
pub async fn check(config: &RedisSinkConfig) -> Result<(), ConfigErrors> {
    let mut conn = Connection::connect(&config.connect)
        .await
        .map_err(from_redis)?;
    conn.query("PING", &redis::cmd("PING"))
        .await
        .map_err(from_redis)?;
    conn.load_script().await.map_err(from_redis)?;
    Ok(())
}
