//! Who may call an HTTP face of the daemon (the REST API, the embedded schema registry):
//! nobody needs credentials, or HTTP basic (as Confluent's registry clients and Kafka
//! Connect tooling send it), or a bearer token. Credentials are compared in constant time.

use std::fmt;

use base64::Engine as _;

use crate::Secret;

/// The credentials an HTTP face accepts.
#[derive(Clone, PartialEq, Eq)]
pub enum HttpAuth {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAuth::None => f.write_str("None"),
            HttpAuth::Basic { username, .. } => write!(f, "Basic({username})"),
            HttpAuth::Bearer(_) => f.write_str("Bearer"),
        }
    }
}

impl HttpAuth {
    /// Whether an `Authorization` header value (empty when absent) carries these
    /// credentials.
    pub fn accepts(&self, authorization: &str) -> bool {
        match self {
            HttpAuth::None => true,
            HttpAuth::Bearer(token) => authorization
                .strip_prefix("Bearer ")
                .is_some_and(|t| same(t.trim().as_bytes(), token.expose().as_bytes())),
            HttpAuth::Basic { username, password } => {
                let expected = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                authorization
                    .strip_prefix("Basic ")
                    .is_some_and(|t| same(t.trim().as_bytes(), expected.as_bytes()))
            }
        }
    }

    /// The `WWW-Authenticate` value of a 401.
    pub fn challenge(&self, realm: &str) -> String {
        match self {
            HttpAuth::Basic { .. } => format!("Basic realm=\"{realm}\""),
            _ => format!("Bearer realm=\"{realm}\""),
        }
    }
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_must_match_exactly() {
        let bearer = HttpAuth::Bearer(Secret::new("s3cret"));
        assert!(bearer.accepts("Bearer s3cret"));
        assert!(!bearer.accepts("Bearer s3cre"));
        assert!(!bearer.accepts("s3cret"));
        assert!(!bearer.accepts(""));
        let basic = HttpAuth::Basic {
            username: "ops".into(),
            password: Secret::new("pw"),
        };
        // base64("ops:pw")
        assert!(basic.accepts("Basic b3BzOnB3"));
        assert!(!basic.accepts("Basic b3BzOnB4"));
        assert!(!basic.accepts("Bearer pw"));
        assert!(HttpAuth::None.accepts(""));
        assert_eq!(format!("{basic:?}"), "Basic(ops)");
    }
}
