//! Secrets that redact themselves.

use std::fmt;

/// A secret string (a password, a token). `Debug` and `Display` print `********`, and it
/// serializes as `********` too, so a secret cannot leak into logs, status or API output by
/// accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub const MASK: &'static str = "********";

    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

/// Whether a property's value is a secret: passwords, SASL and OIDC settings, registry
/// credentials, tokens and private keys. Responses show such values masked and logs never
/// print them.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.ends_with("password")
        || k.ends_with("secret")
        || k.contains("sasl.jaas.config")
        || k.contains("sasl.oauthbearer.config")
        || k.contains("basic.auth.user.info")
        || k.contains("token")
        || k.ends_with(".key")
        || k.ends_with("key.pem")
        || k.ends_with("api.key")
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Self::MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked_everywhere_but_expose() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "******** ********");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"********\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn kafka_and_registry_secrets_are_recognised() {
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl.keystore.key",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "producer.override.sasl.jaas.config",
            "database.password",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "sasl.username",
            "ssl.ca.location",
            "ssl.key.location",
            "security.protocol",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
