//! Checking a config against the live server, for `…/config/validate` and `validate`.

use tributary_core::config::{ConfigError, ConfigErrors};

use crate::config::RedisSinkConfig;
use crate::conn::Connection;
use crate::error::{RedisError, auth_hint};
use crate::resp::Reply;
use crate::sink::load_script;

fn failed(field: &str, message: String) -> ConfigErrors {
    ConfigErrors(vec![ConfigError {
        field: field.into(),
        message,
    }])
}

fn from_redis(e: RedisError) -> ConfigErrors {
    let hint = match &e {
        RedisError::Auth(message) => auth_hint(message),
        RedisError::Select { .. } => "check the database index in redis.url",
        RedisError::Reply { message, .. } if message.starts_with("NOPERM") => {
            "the user in redis.url needs SCRIPT/EVALSHA (+@scripting) and access to the cache keys"
        }
        _ => "check redis.url and that Redis is running",
    };
    failed(e.field(), format!("{e}; {hint}"))
}

/// Connects with `config` (AUTH, SELECT), sends `PING`, loads the apply script (so a user
/// without scripting rights is caught now) and checks that `versions.key` is a hash or
/// absent. Each problem names the property to fix.
pub async fn check(config: &RedisSinkConfig) -> Result<(), ConfigErrors> {
    let mut conn = Connection::connect(&config.connect)
        .await
        .map_err(from_redis)?;
    match conn.command(&["PING"]).await.map_err(from_redis)? {
        Reply::Status(s) if s == "PONG" => {}
        Reply::Error(message) => return Err(from_redis(RedisError::reply("PING", message))),
        other => {
            return Err(failed(
                "redis.url",
                format!("PING answered {other}, not PONG; does redis.url name a Redis server?"),
            ));
        }
    }
    load_script(&mut conn).await.map_err(from_redis)?;
    match conn
        .command(&["TYPE", config.versions_key.as_str()])
        .await
        .map_err(from_redis)?
    {
        Reply::Status(t) if t == "hash" || t == "none" => Ok(()),
        Reply::Error(message) => Err(from_redis(RedisError::reply("TYPE", message))),
        other => Err(failed(
            "versions.key",
            format!(
                "{:?} holds a {other}, not a hash; another program uses that key: choose one only this connector writes",
                config.versions_key
            ),
        )),
    }
}
