//! Which connector properties are secrets, and how responses hide them.
//!
//! A secret's value never leaves the daemon through the API: responses show `********`.
//! A config sent back with `********` in place of a secret keeps the stored value, so a
//! client can GET a config, change one key and PUT it back.

use serde_json::{Map, Value};

/// What responses show instead of a secret.
pub const MASK: &str = "********";

use tributary_core::is_secret_key as is_secret;

/// The config with every secret value masked.
pub fn masked(config: &Map<String, Value>) -> Map<String, Value> {
    config
        .iter()
        .map(|(k, v)| {
            let shown = if is_secret(k) && !v.is_null() && v.as_str() != Some("") {
                Value::String(MASK.into())
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// Puts the stored value back wherever `incoming` carries the mask for a secret.
pub fn restore(incoming: &mut Map<String, Value>, stored: &Map<String, Value>) {
    for (k, v) in incoming.iter_mut() {
        if is_secret(k)
            && v.as_str() == Some(MASK)
            && let Some(old) = stored.get(k)
        {
            *v = old.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_restored_when_sent_back() {
        let stored = serde_json::json!({
            "database.password": "hunter2",
            "database.user": "cdc",
            "producer.override.sasl.jaas.config": "x required password=\"p\";",
            "value.converter.basic.auth.user.info": "u:p",
            "empty.password": "",
        });
        let stored = stored.as_object().unwrap();
        let shown = masked(stored);
        assert_eq!(shown["database.password"], MASK);
        assert_eq!(shown["database.user"], "cdc");
        assert_eq!(shown["producer.override.sasl.jaas.config"], MASK);
        assert_eq!(shown["value.converter.basic.auth.user.info"], MASK);
        assert_eq!(
            shown["empty.password"], "",
            "an empty password hides nothing"
        );
        let mut back = shown.clone();
        back.insert("database.user".into(), "other".into());
        restore(&mut back, stored);
        assert_eq!(back["database.password"], "hunter2");
        assert_eq!(back["database.user"], "other");
        let mut new_value = shown;
        new_value.insert("database.password".into(), "changed".into());
        restore(&mut new_value, stored);
        assert_eq!(new_value["database.password"], "changed");
    }
}
